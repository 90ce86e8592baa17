//! Native unit tests of the tasks area: the body rules of `TaskCreateRequest`
//! and `TaskUpdateRequest`, defaults, all-day times, who sees, changes and
//! deletes a task, custom properties of `Task`, and the list's cursors.

use serde_json::{json, Value as Json};

use crate::auth::Principal;

use crate::platform::db::Db;
use crate::tasks::{self, TaskInput};
use crate::testutil::*;

fn principal(user_id: i64) -> Principal {
    user_principal(user_id, false)
}

fn input(body: Json, create: bool) -> TaskInput {
    tasks::parse(&json!({ "task": body }), create).expect("valid")
}

fn errors(body: Json, create: bool) -> Vec<(String, String)> {
    error_items(&tasks::parse(&json!({ "task": body }), create).expect_err("invalid"))
}

#[test]
fn a_body_follows_the_task_request_schemas() {
    assert_eq!(
        errors(json!({}), true),
        vec![("kind".into(), "blank".into())]
    );
    let found = errors(
        json!({"kind": "party", "priority": 4, "due_at": "tomorrow", "performer_ids": ["x"],
               "custom_properties": [{"value": "v"}]}),
        true,
    );
    for (key, code) in [
        ("kind", "inclusion"),
        ("priority", "inclusion"),
        ("due_at", "invalid"),
        ("performer_ids.0", "invalid"),
        ("custom_properties.0.id", "blank"),
    ] {
        assert!(
            found.contains(&(key.into(), code.into())),
            "{key} {code} in {found:?}"
        );
    }
    assert_eq!(
        errors(json!({"status": "finished"}), false),
        vec![("status".into(), "inclusion".into())]
    );
    assert!(
        tasks::parse(&json!({"kind": "call"}), true).is_err(),
        "not wrapped in task"
    );
    // 23:59:59.000 on the given clock makes the task all-day; stored in UTC.
    let all_day = input(
        json!({"kind": "call", "due_at": "2020-06-05T23:59:59.000+03:00"}),
        true,
    );
    assert!(all_day.due_all_day);
    assert_eq!(
        all_day.due_at.flatten().map(|t| t.to_string()).as_deref(),
        Some("2020-06-05T20:59:59.000Z")
    );
    let timed = input(
        json!({"kind": "call", "due_at": "2020-06-05T12:00:00.000+03:00"}),
        true,
    );
    assert!(!timed.due_all_day);
}

#[test]
fn a_task_is_created_with_its_defaults_and_seen_by_whom_it_concerns() {
    let db = test_db();
    let ann = principal(create_user(&db, "ann@example.com", "user"));
    let bob = principal(create_user(&db, "bob@example.com", "user"));
    let eve = principal(create_user(&db, "eve@example.com", "user"));
    let t = tasks::create(&db, &ann, &input(json!({"kind": "meeting"}), true)).expect("create");
    assert_eq!(t["content"], "Встреча", "the kind's name by default");
    assert_eq!(
        (t["priority"].as_i64(), t["status"].as_str()),
        (Some(1), Some("undone"))
    );
    assert_eq!(
        t["performer_ids"],
        json!([ann.user_id]),
        "the creator by default"
    );
    assert_eq!(
        (t["due_at"].is_null(), t["chat_id"].is_null(), &t["all_day"]),
        (true, true, &json!(false))
    );
    let id = t["id"].as_i64().expect("id");
    assert_eq!(tasks::get(&db, &eve, id).expect_err("unseen").status(), 404);

    let shared = tasks::create(
        &db,
        &ann,
        &input(
            json!({"kind": "call", "content": "Позвонить в банк", "priority": 3,
                      "performer_ids": [bob.user_id, bob.user_id],
                      "due_at": "2026-12-04T10:00:00+03:00"}),
            true,
        ),
    )
    .expect("create");
    assert_eq!(shared["performer_ids"], json!([bob.user_id]));
    assert_eq!(shared["due_at"], "2026-12-04T07:00:00.000Z");
    let sid = shared["id"].as_i64().expect("id");
    assert_eq!(
        tasks::get(&db, &bob, sid).expect("performer sees")["content"],
        "Позвонить в банк"
    );

    // Unknown performers are 404, bots 422.
    let e = tasks::create(
        &db,
        &ann,
        &input(json!({"kind": "call", "performer_ids": [999]}), true),
    )
    .expect_err("unknown");
    assert_eq!(e.status(), 404);

    // A chat task: members see it; linking needs membership.
    let chat = create_chat(&db, "Склад", &[ann.user_id, eve.user_id]);
    let in_chat = tasks::create(
        &db,
        &ann,
        &input(json!({"kind": "reminder", "chat_id": chat}), true),
    )
    .expect("chat task");
    let cid = in_chat["id"].as_i64().expect("id");
    assert_eq!(
        tasks::get(&db, &eve, cid).expect("member sees")["chat_id"],
        chat
    );
    assert_eq!(
        tasks::create(
            &db,
            &bob,
            &input(json!({"kind": "reminder", "chat_id": chat}), true)
        )
        .expect_err("not a member")
        .status(),
        404,
        "a private chat bob does not see"
    );

    // Lists: what each sees, newest first, with cursors.
    let (page, meta) = tasks::list(&db, &ann, &Default::default(), 2, None).expect("list");
    let ids: Vec<i64> = page.iter().filter_map(|t| t["id"].as_i64()).collect();
    assert_eq!(ids, vec![cid, sid]);
    let next = meta["paginate"]["next_page"]
        .as_str()
        .expect("next page")
        .to_owned();
    let cursor = crate::platform::pagination::parse_cursor(Some(&next)).expect("cursor");
    let (rest, _) = tasks::list(&db, &ann, &Default::default(), 2, cursor.as_ref()).expect("next");
    assert_eq!(
        rest.iter()
            .filter_map(|t| t["id"].as_i64())
            .collect::<Vec<_>>(),
        vec![id]
    );
    let (bobs, _) = tasks::list(&db, &bob, &Default::default(), 50, None).expect("list");
    assert_eq!(bobs.len(), 1);
    // The SDK's filters.
    let only = |filter: tasks::TaskFilter| -> Vec<i64> {
        tasks::list(&db, &ann, &filter, 50, None)
            .expect("list")
            .0
            .iter()
            .filter_map(|t| t["id"].as_i64())
            .collect()
    };
    assert_eq!(
        only(tasks::TaskFilter {
            chat_ids: vec![chat],
            ..Default::default()
        }),
        vec![cid]
    );
    assert_eq!(
        only(tasks::TaskFilter {
            performer_ids: vec![bob.user_id],
            ..Default::default()
        }),
        vec![sid]
    );
    assert_eq!(
        only(tasks::TaskFilter {
            status: Some("done"),
            ..Default::default()
        }),
        Vec::<i64>::new()
    );
    assert_eq!(
        only(tasks::TaskFilter {
            author_id: Some(ann.user_id),
            ..Default::default()
        })
        .len(),
        3
    );
}

#[test]
fn creators_and_performers_change_a_task_and_only_its_creator_deletes_it() {
    let db = test_db();
    let ann = principal(create_user(&db, "ann@example.com", "user"));
    let bob = principal(create_user(&db, "bob@example.com", "user"));
    let eve = principal(create_user(&db, "eve@example.com", "user"));
    db.execute(
        "INSERT INTO custom_property_definitions (entity_type, name, data_type, created_at) \
         VALUES ('Task', 'Склад', 'string', '2026-01-01T00:00:00.000Z')",
        &[],
    )
    .expect("definition");
    let prop = db.last_insert_rowid();
    let t = tasks::create(
        &db,
        &ann,
        &input(
            json!({"kind": "call", "performer_ids": [bob.user_id],
                      "custom_properties": [{"id": prop, "value": "Синий склад"}]}),
            true,
        ),
    )
    .expect("create");
    assert_eq!(t["custom_properties"][0]["value"], "Синий склад");
    let id = t["id"].as_i64().expect("id");

    let done =
        tasks::update(&db, &bob, id, &input(json!({"status": "done"}), false)).expect("done");
    assert_eq!(done["status"], "done");
    let done_at = db
        .query_row("SELECT done_at FROM tasks WHERE id = ?", &[id.into()])
        .expect("row")
        .expect("task");
    assert!(done_at.opt_string(0).expect("done_at").is_some());
    let moved = tasks::update(
        &db,
        &ann,
        id,
        &input(
            json!({"status": "undone", "due_at": "2026-12-31T23:59:59.000+03:00",
                      "performer_ids": [ann.user_id, bob.user_id],
                      "custom_properties": [{"id": prop, "value": ""}]}),
            false,
        ),
    )
    .expect("moved");
    assert_eq!(
        (moved["status"].as_str(), &moved["all_day"]),
        (Some("undone"), &json!(true))
    );
    assert_eq!(moved["performer_ids"], json!([ann.user_id, bob.user_id]));
    assert!(
        moved["custom_properties"][0]["value"].is_null(),
        "an empty value clears it"
    );
    let e = tasks::update(
        &db,
        &ann,
        id,
        &input(
            json!({"custom_properties": [{"id": 999, "value": "x"}]}),
            false,
        ),
    )
    .expect_err("unknown property");
    assert_eq!(e.status(), 422);

    assert_eq!(
        tasks::update(&db, &eve, id, &input(json!({"status": "done"}), false))
            .expect_err("unseen")
            .status(),
        404
    );
    assert_eq!(
        tasks::delete(&db, &bob, id)
            .expect_err("performer")
            .status(),
        403
    );
    tasks::delete(&db, &ann, id).expect("creator deletes");
    assert_eq!(tasks::get(&db, &ann, id).expect_err("gone").status(), 404);
    let recorded: Vec<(String, String)> =
        crate::platform::events::for_entity(&db, "Task", id).expect("events");
    assert_eq!(
        recorded,
        vec![
            ("task".into(), "new".into()),
            ("task".into(), "update".into()),
            ("task".into(), "update".into()),
            ("task".into(), "delete".into())
        ]
    );
}
