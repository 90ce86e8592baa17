//! Native unit tests of the broadcasts area: the body rules, who an
//! audience reaches, delivery in batches that survives a lost worker,
//! idempotent creates, the analytics' definitions, the recipient filters
//! and CSV, cancel and recall.

use serde_json::{json, Value as Json};

use crate::auth::Principal;
use crate::broadcasts::analytics::{self, RecipientFilter};
use crate::broadcasts::delivery::{self, Step};
use crate::broadcasts::{self, Broadcast, Created};
use crate::platform::db::Db;
use crate::reactions::ReactionInput;
use crate::testutil::*;

fn errors(body: Json) -> Vec<(String, String)> {
    error_items(&broadcasts::parse(&json!({ "broadcast": body }), false).expect_err("invalid"))
}

fn send(db: &dyn Db, p: &Principal, body: Json) -> Broadcast {
    let input = broadcasts::parse(&json!({ "broadcast": body }), p.bot).expect("valid");
    match broadcasts::create(db, p, &input, None).expect("create") {
        Created::New(b) => b,
        Created::Replayed(_) => panic!("not a retry"),
    }
}

/// Works a broadcast to the end, as the request's after-response work does.
fn work(db: &dyn Db, id: i64) {
    delivery::claim_and_work(db, id, &mut |_| {}).expect("work");
}

fn ids(db: &dyn Db, sql: &str, id: i64) -> Vec<i64> {
    db.query(sql, &[id.into()])
        .expect("query")
        .iter()
        .map(|r| r.i64(0).expect("id"))
        .collect()
}

/// `column` (`chat_id` or `message_id`) of `user`'s row in broadcast `id`.
fn recipient(db: &dyn Db, id: i64, user: i64, column: &str) -> i64 {
    ids(
        db,
        &format!(
            "SELECT {column} FROM broadcast_recipients WHERE broadcast_id = ? AND user_id = {user}"
        ),
        id,
    )[0]
}

fn set(db: &dyn Db, sql: &str) {
    db.execute(sql, &[]).expect("fixture");
}

#[test]
fn a_body_follows_the_documented_rules() {
    assert_eq!(
        errors(json!({"content": "Hi"})),
        vec![("audience".into(), "blank".into())]
    );
    let found = errors(json!({
        "content": "x".repeat(broadcasts::CONTENT_MAX + 1),
        "audience": {"roles": ["boss"], "user_ids": ["a"]},
        "exclude": {"everyone": true},
        "scheduled_at": "2020-01-01T00:00:00Z",
    }));
    for (key, code) in [
        ("content", "too_long"),
        ("audience.roles.0", "inclusion"),
        ("audience.user_ids.0", "invalid"),
        ("exclude.everyone", "not_applicable"),
        ("scheduled_at", "invalid"),
    ] {
        assert!(
            found.contains(&(key.into(), code.into())),
            "{key} {code} in {found:?}"
        );
    }
    assert_eq!(
        errors(json!({"audience": {"everyone": true}})),
        vec![("content".into(), "blank".into())]
    );
    let ok = broadcasts::parse(
        &json!({"broadcast": {"content": " Привет ", "audience": {"everyone": true},
                "scheduled_at": "2099-01-01T10:00:00+03:00"}}),
        false,
    )
    .expect("valid");
    assert_eq!(ok.message.content, "Привет");
    assert_eq!(
        ok.scheduled_at.map(|t| t.to_string()).as_deref(),
        Some("2099-01-01T07:00:00.000Z")
    );
}

#[test]
fn the_audience_is_a_union_minus_exclusions_and_never_bots_suspended_deleted_or_the_sender() {
    let db = test_db();
    let sales1 = create_user(&db, "s1@x.io", "user");
    let sales2 = create_user(&db, "s2@x.io", "user");
    let tagged = create_user(&db, "t@x.io", "user");
    let admin = create_user(&db, "a@x.io", "admin");
    let guest = create_user(&db, "g@x.io", "user");
    set(
        &db,
        &format!("UPDATE users SET role = 'guest' WHERE id = {guest}"),
    );
    let suspended = create_user(&db, "z@x.io", "user");
    let deleted = create_user(&db, "d@x.io", "user");
    let excluded = create_user(&db, "e@x.io", "user");
    set(
        &db,
        &format!("UPDATE users SET department = 'Продажи' WHERE id IN ({sales1}, {sales2}, {suspended}, {deleted}, {excluded})"),
    );
    set(
        &db,
        &format!("UPDATE users SET suspended = 1 WHERE id = {suspended}"),
    );
    set(
        &db,
        &format!("UPDATE users SET deleted_at = '2026-01-01T00:00:00.000Z' WHERE id = {deleted}"),
    );
    set(
        &db,
        "INSERT INTO group_tags (id, name, created_at, updated_at) VALUES (7, 'ops', '', '')",
    );
    set(
        &db,
        &format!("INSERT INTO group_tag_users (group_tag_id, user_id, created_at) VALUES (7, {tagged}, ''), (7, 1, '')"),
    );
    set(
        &db,
        "INSERT INTO users (nickname, role, bot, created_at, updated_at) VALUES ('b_bot', 'user', 1, '', '')",
    );
    let b = send(
        &db,
        &owner_principal(),
        json!({"content": "Отчёт", "audience": {"departments": ["Продажи"], "group_tag_ids": [7], "roles": ["admin"]},
               "exclude": {"user_ids": [excluded]}}),
    );
    let mut got = ids(
        &db,
        "SELECT user_id FROM broadcast_recipients WHERE broadcast_id = ? ORDER BY user_id",
        b.id,
    );
    got.sort_unstable();
    // The owner (id 1) sends, so is left out although tagged and an admin.
    assert_eq!(got, vec![sales1, sales2, tagged, admin]);
    assert_eq!(b.recipients_count, 4);
    assert_eq!(b.state, "queued");
    let everyone = send(
        &db,
        &owner_principal(),
        json!({"content": "Все", "audience": {"everyone": true}}),
    );
    assert_eq!(
        everyone.recipients_count, 6,
        "everyone but bots, suspended, deleted and the sender"
    );

    // Unknown ids are all reported; nothing is stored.
    let input = broadcasts::parse(
        &json!({"broadcast": {"content": "x", "audience": {"user_ids": [sales1, 9001, 9002], "group_tag_ids": [99]}}}),
        false,
    )
    .expect("valid");
    let before = ids(&db, "SELECT count(*) FROM broadcasts WHERE ? = 0", 0);
    let e = broadcasts::create(&db, &owner_principal(), &input, None).expect_err("unknown ids");
    assert_eq!(e.status(), 422);
    let body = e.body();
    assert_eq!(body["errors"][0]["key"], "audience.user_ids");
    assert_eq!(body["errors"][0]["code"], "not_found");
    assert_eq!(body["errors"][0]["payload"]["ids"], json!([9001, 9002]));
    assert_eq!(body["errors"][1]["key"], "audience.group_tag_ids");
    assert_eq!(
        ids(&db, "SELECT count(*) FROM broadcasts WHERE ? = 0", 0),
        before
    );

    // An audience of nobody eligible is refused.
    let input = broadcasts::parse(
        &json!({"broadcast": {"content": "x", "audience": {"user_ids": [suspended]}}}),
        false,
    )
    .expect("valid");
    let e = broadcasts::create(&db, &owner_principal(), &input, None).expect_err("nobody");
    assert_eq!(
        (e.status(), e.body()["errors"][0]["key"].clone()),
        (422, json!("audience"))
    );
}

/// `n` users in one statement (a big audience without the per-user API).
fn many_users(db: &dyn Db, n: i64) -> Vec<i64> {
    set(
        db,
        &format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO users (first_name, last_name, nickname, role, invite_status, department, created_at, updated_at) \
             SELECT 'Сотрудник', 'Номер' || i, 'emp' || i, 'user', 'confirmed', 'Склад', '', '' FROM k"
        ),
    );
    ids(
        db,
        "SELECT id FROM users WHERE department = 'Склад' AND ? = 0 ORDER BY id",
        0,
    )
}

#[test]
fn delivery_runs_in_batches_and_a_lost_worker_is_resumed_without_duplicates() {
    let db = test_db();
    let people = many_users(&db, 1_200);
    // One of them already has a personal chat with the owner: it is reused.
    let existing =
        crate::chats::find_or_create_personal_chat(&db, 1, people[3], false).expect("chat");
    let b = send(
        &db,
        &owner_principal(),
        json!({"content": "Инвентаризация", "audience": {"departments": ["Склад"]}}),
    );
    assert_eq!(b.recipients_count, 1_200);

    let token = delivery::claim(&db, b.id)
        .expect("claim")
        .expect("work to do");
    assert_eq!(
        delivery::claim(&db, b.id).expect("claim"),
        None,
        "held by the first worker"
    );
    assert_eq!(
        delivery::batch(&db, b.id, &token).expect("batch"),
        Step::More
    );
    assert_eq!(
        broadcasts::load(&db, b.id)
            .expect("load")
            .expect("row")
            .delivered_count,
        500
    );
    // The worker dies; its lease runs out and another worker takes over.
    set(
        &db,
        "UPDATE broadcasts SET lease_until = '2000-01-01T00:00:00.000Z'",
    );
    assert_eq!(delivery::due(&db).expect("due"), vec![b.id]);
    work(&db, b.id);
    assert_eq!(
        delivery::batch(&db, b.id, &token).expect("old worker"),
        Step::Lost,
        "the first worker's lease is gone"
    );
    let done = broadcasts::load(&db, b.id).expect("load").expect("row");
    assert_eq!((done.state.as_str(), done.delivered_count), ("sent", 1_200));
    assert!(done.finished_at.is_some());
    assert!(delivery::due(&db).expect("due").is_empty());

    // Exactly one message per recipient, each in their personal chat.
    let per_chat = ids(
        &db,
        "SELECT count(*) FROM messages m JOIN broadcast_recipients r ON r.message_id = m.id \
         WHERE r.broadcast_id = ? GROUP BY m.chat_id HAVING count(*) > 1",
        b.id,
    );
    assert!(per_chat.is_empty());
    let stored = ids(
        &db,
        "SELECT count(*) FROM messages WHERE user_id = 1 AND content = 'Инвентаризация' AND ? = 0",
        0,
    );
    assert_eq!(stored, vec![1_200]);
    assert_eq!(recipient(&db, b.id, people[3], "chat_id"), existing);
    // The messages are ordinary: searchable, listed, read by their author.
    let hits = ids(
        &db,
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'инвентаризация' AND ? = 0",
        0,
    );
    assert_eq!(hits, vec![1_200]);
    let p = user_principal(people[10], false);
    let chat = recipient(&db, b.id, people[10], "chat_id");
    let lp = crate::messages::ListParams {
        chat_id: chat,
        ascending: false,
        limit: 10,
        cursor: None,
    };
    let (page, _) = crate::messages::list(&db, &p, &lp, "https://chat.example").expect("list");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["content"], "Инвентаризация");
    assert_eq!(page[0]["entity_type"], "user");
    // New personal chats were created as the API creates them, with events.
    let created = ids(
        &db,
        "SELECT count(*) FROM events WHERE type = 'chat' AND event = 'create' AND ? = 0",
        0,
    );
    assert_eq!(created, vec![1_200]);
    let members = ids(
        &db,
        "SELECT count(*) FROM chat_members WHERE chat_id = ? AND role = 'admin'",
        chat,
    );
    assert_eq!(members, vec![2]);
}

#[test]
fn a_retry_with_the_same_key_returns_the_first_broadcast_and_another_body_is_a_conflict() {
    let db = test_db();
    let u = create_user(&db, "u@x.io", "user");
    let body = json!({"broadcast": {"content": "Раз", "audience": {"user_ids": [u]}}});
    let input = broadcasts::parse(&body, false).expect("valid");
    let hash = broadcasts::request_hash(&body);
    let first = match broadcasts::create(&db, &owner_principal(), &input, Some(("k-1", &hash)))
        .expect("first")
    {
        Created::New(b) => b,
        Created::Replayed(_) => panic!("first create"),
    };
    match broadcasts::create(&db, &owner_principal(), &input, Some(("k-1", &hash))).expect("retry")
    {
        Created::Replayed(b) => assert_eq!(b.id, first.id),
        Created::New(_) => panic!("sent twice"),
    }
    let other = json!({"broadcast": {"content": "Два", "audience": {"user_ids": [u]}}});
    let e = broadcasts::create(
        &db,
        &owner_principal(),
        &broadcasts::parse(&other, false).expect("valid"),
        Some(("k-1", &broadcasts::request_hash(&other))),
    )
    .expect_err("conflict");
    assert_eq!(e.status(), 409);
    assert_eq!(e.body()["errors"][0]["key"], "Idempotency-Key");
    assert_eq!(
        ids(&db, "SELECT count(*) FROM broadcasts WHERE ? = 0", 0),
        vec![1]
    );
    // The same key is another user's own.
    let admin = create_user(&db, "a@x.io", "admin");
    let mut p = user_principal(admin, false);
    p.role = crate::auth::scopes::Role::Admin;
    assert!(matches!(
        broadcasts::create(&db, &p, &input, Some(("k-1", &hash))).expect("other creator"),
        Created::New(_)
    ));
}

#[test]
fn analytics_count_reads_reactions_clicks_and_replies_by_their_definitions() {
    let db = test_db();
    let a = create_user(&db, "a@x.io", "user");
    let b_ = create_user(&db, "b@x.io", "user");
    let c = create_user(&db, "c@x.io", "user");
    let d = create_user(&db, "d@x.io", "user");
    set(
        &db,
        &format!("UPDATE users SET first_name = 'Анна', last_name = 'Иванова' WHERE id = {a}"),
    );
    let b = send(
        &db,
        &owner_principal(),
        json!({"content": "Идём на тимбилдинг?",
               "buttons": [[{"text": "Да", "data": "yes"}, {"text": "Нет", "data": "no"}]],
               "audience": {"user_ids": [a, b_, c, d]}}),
    );
    work(&db, b.id);
    let message_of = |u: i64| recipient(&db, b.id, u, "message_id");
    let chat_of = |u: i64| recipient(&db, b.id, u, "chat_id");
    // a reads and votes yes twice (counted once), and reacts twice.
    let pa = user_principal(a, false);
    crate::messages::read_state::mark(&db, &pa, chat_of(a), message_of(a)).expect("read");
    crate::messages::buttons::click(&db, &pa, message_of(a), "yes").expect("click");
    crate::messages::buttons::click(&db, &pa, message_of(a), "yes").expect("click");
    for code in ["👍", "🎉"] {
        crate::reactions::add(
            &db,
            &pa,
            message_of(a),
            &ReactionInput {
                code: code.into(),
                name: None,
            },
        )
        .expect("react");
    }
    // b votes no and answers in the chat (which reads it too).
    let pb = user_principal(b_, false);
    crate::messages::buttons::click(&db, &pb, message_of(b_), "no").expect("click");
    let reply = crate::messages::input::parse_create(
        &json!({"message": {"entity_type": "discussion", "entity_id": chat_of(b_), "content": "Я за"}}),
        false,
    )
    .expect("reply");
    crate::messages::create(&db, &pb, &reply, "https://chat.example").expect("post");
    // The sender's own later message is not a reply.
    let own = crate::messages::input::parse_create(
        &json!({"message": {"entity_type": "discussion", "entity_id": chat_of(c), "content": "Напоминаю"}}),
        false,
    )
    .expect("own");
    crate::messages::create(&db, &owner_principal(), &own, "https://chat.example").expect("post");

    let s = analytics::stats(
        &db,
        &broadcasts::load(&db, b.id).expect("load").expect("row"),
    )
    .expect("stats");
    assert_eq!(s["recipients"], 4);
    assert_eq!(s["delivered"], json!({"count": 4, "percent": 100.0}));
    assert_eq!(s["read"], json!({"count": 2, "percent": 50.0}));
    assert_eq!(s["unread"], json!({"count": 2, "percent": 50.0}));
    assert_eq!(s["reacted"], json!({"count": 1, "percent": 25.0}));
    assert_eq!(s["clicked"], json!({"count": 2, "percent": 50.0}));
    assert_eq!(s["replied"], json!({"count": 1, "percent": 25.0}));
    assert_eq!(
        s["buttons"],
        json!([{"data": "yes", "text": "Да", "count": 1, "percent": 25.0},
               {"data": "no", "text": "Нет", "count": 1, "percent": 25.0}])
    );
    assert_eq!(s["reactions"].as_array().map(Vec::len), Some(2));
    assert!(s["time_to_read"]["p50_seconds"]
        .as_f64()
        .is_some_and(|v| v >= 0.0));

    let b = broadcasts::load(&db, b.id).expect("load").expect("row");
    let users = |f: RecipientFilter| -> Vec<i64> {
        let (data, _) = analytics::recipients(&db, &b, &f, 50, None).expect("page");
        data.iter()
            .map(|r| r["user_id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(users(RecipientFilter::Unread), vec![c, d]);
    assert_eq!(users(RecipientFilter::Read), vec![a, b_]);
    assert_eq!(users(RecipientFilter::Reacted), vec![a]);
    assert_eq!(users(RecipientFilter::Clicked(Some("no".into()))), vec![b_]);
    assert_eq!(users(RecipientFilter::Clicked(None)), vec![a, b_]);
    assert_eq!(users(RecipientFilter::Replied), vec![b_]);
    assert_eq!(users(RecipientFilter::All), vec![a, b_, c, d]);
    // Pages follow the cursor.
    let (first, meta) =
        analytics::recipients(&db, &b, &RecipientFilter::All, 3, None).expect("page");
    assert_eq!(first.len(), 3);
    let next = crate::platform::pagination::parse_cursor(meta["paginate"]["next_page"].as_str())
        .expect("cursor");
    let (rest, _) =
        analytics::recipients(&db, &b, &RecipientFilter::All, 3, next.as_ref()).expect("page");
    assert_eq!(rest.len(), 1);
    assert_eq!(first[0]["reactions"], json!(["👍", "🎉"]));
    assert_eq!(first[0]["clicked"], json!(["yes"]));

    let csv = String::from_utf8(analytics::csv(&db, &b, &RecipientFilter::All).expect("csv"))
        .expect("utf-8");
    assert!(
        csv.starts_with('\u{feff}'),
        "a byte-order mark for spreadsheets"
    );
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "user_id,nickname,first_name,last_name,email,department,state,delivered_at,read_at,replied_at,reactions,clicked"
    );
    assert_eq!(lines.len(), 5);
    assert!(lines[1].starts_with(&format!("{a},")) && lines[1].contains("Анна,Иванова,a@x.io"));
    assert!(lines[1].contains(",read,") && lines[1].ends_with(",👍 🎉,yes"));
    let unread = String::from_utf8(analytics::csv(&db, &b, &RecipientFilter::Unread).expect("csv"))
        .expect("utf-8");
    assert_eq!(unread.lines().count(), 3);
}

#[test]
fn cancel_stops_delivery_and_recall_deletes_every_message_as_delete_does() {
    let db = test_db();
    let people = many_users(&db, 700);
    let b = send(
        &db,
        &owner_principal(),
        json!({"content": "Ошибка", "audience": {"departments": ["Склад"]}}),
    );
    let token = delivery::claim(&db, b.id).expect("claim").expect("work");
    assert_eq!(
        delivery::batch(&db, b.id, &token).expect("batch"),
        Step::More
    );
    let cancelled = broadcasts::cancel(&db, &owner_principal(), b.id).expect("cancel");
    assert_eq!(cancelled.state, "cancelled");
    assert_eq!(
        delivery::batch(&db, b.id, &token).expect("batch"),
        Step::Lost
    );
    assert_eq!(
        broadcasts::load(&db, b.id)
            .expect("load")
            .expect("row")
            .delivered_count,
        500
    );
    let e = broadcasts::cancel(&db, &owner_principal(), b.id).expect_err("twice");
    assert_eq!(e.body()["errors"][0]["code"], "not_applicable");

    let recalled = broadcasts::recall(&db, &owner_principal(), b.id).expect("recall");
    assert_eq!(recalled.state, "recalling");
    work(&db, b.id);
    let done = broadcasts::load(&db, b.id).expect("load").expect("row");
    assert_eq!(done.state, "recalled");
    let live = ids(
        &db,
        "SELECT count(*) FROM messages m JOIN broadcast_recipients r ON r.message_id = m.id \
         WHERE r.broadcast_id = ? AND m.deleted_at IS NULL",
        b.id,
    );
    assert_eq!(live, vec![0]);
    let deleted_events = ids(
        &db,
        "SELECT count(*) FROM events WHERE type = 'message' AND event = 'delete' AND ? = 0",
        0,
    );
    assert_eq!(deleted_events, vec![500]);
    let fts = ids(
        &db,
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'ошибка' AND ? = 0",
        0,
    );
    assert_eq!(fts, vec![0]);
    // Only its creator, its sender and managers see it.
    let stranger = user_principal(people[0], false);
    assert_eq!(
        broadcasts::visible(&db, &stranger, b.id)
            .expect_err("hidden")
            .status(),
        404
    );
}

#[test]
fn a_scheduled_broadcast_freezes_its_audience_when_it_is_due() {
    let db = test_db();
    let u = create_user(&db, "u@x.io", "user");
    set(
        &db,
        &format!("UPDATE users SET department = 'ИТ' WHERE id = {u}"),
    );
    let b = send(
        &db,
        &owner_principal(),
        json!({"content": "Завтра", "audience": {"departments": ["ИТ"]}, "scheduled_at": "2099-01-01T00:00:00Z"}),
    );
    assert_eq!((b.state.as_str(), b.recipients_count), ("scheduled", 1));
    assert!(delivery::due(&db).expect("due").is_empty());
    assert_eq!(
        delivery::claim(&db, b.id).expect("claim"),
        None,
        "not yet due"
    );
    // A colleague joins the department before it is due.
    let v = create_user(&db, "v@x.io", "user");
    set(
        &db,
        &format!("UPDATE users SET department = 'ИТ' WHERE id = {v}"),
    );
    set(
        &db,
        "UPDATE broadcasts SET scheduled_at = '2001-01-01T00:00:00.000Z'",
    );
    assert_eq!(delivery::due(&db).expect("due"), vec![b.id]);
    work(&db, b.id);
    let sent = broadcasts::load(&db, b.id).expect("load").expect("row");
    assert_eq!(
        (
            sent.state.as_str(),
            sent.recipients_count,
            sent.delivered_count
        ),
        ("sent", 2, 2)
    );
}
