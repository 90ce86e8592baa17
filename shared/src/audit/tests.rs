//! Native unit tests of the audit log: what each audited action records
//! (key, actor, entity, details, address and client), the filters, the
//! record of reading the log, and retention.

use serde_json::{json, Value as Json};

use crate::audit::{self, AuditFilter};
use crate::platform::audit::{set_source, Source};
use crate::platform::db::Db;
use crate::platform::http::Query;
use crate::testutil::*;

fn log(db: &dyn Db, query: &str) -> Vec<Json> {
    let filter = AuditFilter::parse(&Query::parse(query)).expect("filter");
    audit::list(db, &owner_principal(), &filter, 50, None, 90)
        .expect("list")
        .0
}

fn keys(entries: &[Json]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["event_key"].as_str().unwrap_or_default().to_owned())
        .filter(|k| k != "audit_events_accessed")
        .collect()
}

#[test]
fn actions_are_recorded_with_their_details_address_and_client() {
    let db = test_db();
    set_source(Source::from_headers(
        Some("10.1.2.3:5555"),
        Some(&"SDK/1.0 ".repeat(60)),
    ));
    let user = create_user(&db, "a@x.io", "user");
    let chat = create_chat(&db, "Проект", &[user]);
    crate::chats::update(
        &db,
        &owner_principal(),
        chat,
        &crate::chats::ChatUpdate {
            name: Some("Проект Альфа".into()),
            public: Some(true),
        },
    )
    .expect("rename");
    let renamed = log(&db, "event_key=chat_renamed");
    assert_eq!(renamed.len(), 1);
    let r = &renamed[0];
    assert_eq!(
        r["details"],
        json!({"old_name": "Проект", "new_name": "Проект Альфа"})
    );
    assert_eq!(
        (r["actor_id"].as_str(), r["actor_type"].as_str()),
        (Some("1"), Some("User"))
    );
    assert_eq!(
        (r["entity_type"].as_str(), r["entity_id"].clone()),
        (Some("Chat"), json!(chat.to_string()))
    );
    assert_eq!(r["ip_address"], "10.1.2.3");
    assert_eq!(
        r["user_agent"].as_str().map(|u| u.chars().count()),
        Some(255)
    );
    assert_eq!(r["id"].as_str().map(str::len), Some(36), "a UUID");
    assert_eq!(
        log(&db, "event_key=chat_permission_changed")[0]["details"],
        json!({"public_access": true})
    );
    let join = log(&db, &format!("event_key=user_chat_join&actor_id={user}"));
    assert_eq!(join.len(), 1);
    assert_eq!(join[0]["details"], json!({"inviter_id": 1}));

    // A message: created (by the database), then deleted.
    let body = json!({"message": {"entity_id": chat, "content": "привет"}});
    let input = crate::messages::input::parse_create(&body, false).expect("message");
    let m = crate::messages::create(&db, &owner_principal(), &input, "https://chat.example")
        .expect("post");
    let id = m["id"].as_i64().expect("id");
    crate::messages::delete(&db, &owner_principal(), id).expect("delete");
    let about = log(&db, &format!("entity_type=Message&entity_id={id}"));
    assert_eq!(
        keys(&about),
        vec!["message_deleted", "message_created"],
        "newest first"
    );
    assert_eq!(about[0]["ip_address"], "10.1.2.3");

    // A role change and a tag given to the user.
    let body = json!({"user": {"role": "admin", "list_tags": ["Дежурные"]}});
    let input = crate::users::parse_input(&body, false).expect("update");
    crate::users::update(
        &db,
        &owner_principal(),
        user,
        input,
        &crate::chats::membership_sync::ChatMembershipSync,
    )
    .expect("update");
    let role = log(&db, "event_key=user_role_changed");
    assert_eq!(
        role[0]["details"],
        json!({"new_company_role": "admin", "previous_company_role": "user", "initiator_id": 1})
    );
    let updated = log(&db, "event_key=user_updated");
    assert!(updated[0]["details"]["changed_attrs"]
        .as_array()
        .is_some_and(|a| a.contains(&json!("role"))));
    assert_eq!(
        keys(&log(&db, "event_key=user_added_to_tag")),
        vec!["user_added_to_tag"]
    );
    let tag = log(&db, "event_key=tag_created");
    assert_eq!(tag[0]["details"], json!({"name": "Дежурные"}));
}

#[test]
fn filters_combine_and_bad_values_are_400() {
    let db = test_db();
    set_source(Source::default());
    let a = create_user(&db, "a@x.io", "user");
    let b = create_user(&db, "b@x.io", "user");
    assert_eq!(
        keys(&log(&db, "event_key=user_created")),
        vec!["user_created", "user_created"]
    );
    assert_eq!(
        log(&db, &format!("event_key=user_created&entity_id={a}")).len(),
        1
    );
    assert_eq!(
        log(&db, &format!("entity_type=User&entity_id={b}&actor_id=1")).len(),
        1
    );
    assert!(log(&db, "start_time=2099-01-01T00:00:00Z").is_empty());
    assert_eq!(
        keys(&log(
            &db,
            "end_time=2099-01-01T00:00:00Z&event_key=user_created"
        ))
        .len(),
        2
    );
    assert!(log(&db, "event_key=user_created&actor_type=Bot").is_empty());
    for (query, key, code) in [
        ("event_key=user_sneezed", "event_key", "inclusion"),
        ("start_time=", "start_time", "invalid"),
        ("end_time=yesterday", "end_time", "invalid"),
        ("actor_id=x", "actor_id", "invalid"),
        (
            "start_time=2026-02-01&end_time=2026-01-01",
            "start_time",
            "invalid_date_range",
        ),
    ] {
        let e = AuditFilter::parse(&Query::parse(query)).expect_err(query);
        assert_eq!(e.status(), 400, "{query}");
        assert_eq!(
            (
                e.body()["errors"][0]["key"].clone(),
                e.body()["errors"][0]["code"].clone()
            ),
            (json!(key), json!(code))
        );
    }
    // Reading the log is recorded too.
    let accessed = log(&db, "event_key=audit_events_accessed");
    assert!(accessed.len() >= 2);
    assert_eq!(
        accessed[0]["ip_address"],
        Json::Null,
        "no request, no address"
    );
}

#[test]
fn records_past_the_retention_are_dropped() {
    let db = test_db();
    create_user(&db, "a@x.io", "user");
    db.execute(
        "UPDATE audit_events SET created_at = '2020-01-01T00:00:00.000Z' WHERE event_key = 'user_created'",
        &[],
    )
    .expect("age");
    assert!(log(&db, "event_key=user_created").is_empty());
    let left = db
        .query_row(
            "SELECT count(*) FROM audit_events WHERE event_key = 'user_created'",
            &[],
        )
        .expect("count")
        .map(|r| r.i64(0).expect("n"));
    assert_eq!(left, Some(0));
}
