//! Native unit tests of the messages area: posting rules (channels,
//! archived chats, threads), mentions, events, lists and cursors,
//! tombstones, pins, cross-thread visibility, reactions at their exact
//! limits, read state, full-text search (Cyrillic) and system messages.

use crate::auth::context::Config;
use crate::auth::scopes::{self, Role};
use crate::auth::{Credential, Principal};
use crate::chats::members::{self, AddMembers};
use crate::chats::{self, ChatInput};
use crate::messages::input::{self, MessageUpdate, NewMessage};
use crate::messages::search;
use crate::messages::{self, ListParams};
use crate::messages::{read_state, threads};
use crate::platform::db::{Db, NativeDb};
use crate::platform::http::{Query, Request};
use crate::platform::pagination::Cursor;
use crate::reactions::{self, ReactionInput};
use crate::testutil::*;
use serde_json::{json, Value as Json};

fn principal(db: &dyn Db, user_id: i64) -> Principal {
    let r = db
        .query_row(
            "SELECT role, bot FROM users WHERE id = ?",
            &[user_id.into()],
        )
        .unwrap()
        .unwrap();
    Principal {
        user_id,
        role: Role::parse(&r.string(0).unwrap()).unwrap(),
        bot: r.bool(1).unwrap(),
        scopes: scopes::all(),
        credential: Credential::AdminToken,
    }
}

fn user(db: &dyn Db, name: &str) -> (i64, Principal) {
    let id = create_user(db, &format!("{name}@example.com"), "user");
    db.execute(
        "UPDATE users SET nickname = ? WHERE id = ?",
        &[name.into(), id.into()],
    )
    .unwrap();
    (id, principal(db, id))
}

fn chat(db: &dyn Db, p: &Principal, channel: bool, public: bool, members: &[i64]) -> i64 {
    let input = ChatInput {
        name: "Chat".into(),
        channel,
        public,
        member_ids: members.to_vec(),
        ..ChatInput::default()
    };
    chats::create(db, p, &input).unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn msg(entity_type: &str, entity_id: i64, content: &str) -> NewMessage {
    NewMessage {
        entity_type: entity_type.into(),
        entity_id,
        content: content.into(),
        ..NewMessage::default()
    }
}

fn post(db: &dyn Db, p: &Principal, chat_id: i64, content: &str) -> Json {
    messages::create(
        db,
        p,
        &msg("discussion", chat_id, content),
        "https://x.test",
    )
    .unwrap()
}

fn post_err(db: &dyn Db, p: &Principal, m: &NewMessage) -> (u16, Json) {
    let e = messages::create(db, p, m, "").unwrap_err();
    (e.status(), e.body())
}

/// The ids of one page of `GET /messages`, and its meta.
fn list(db: &dyn Db, p: &Principal, chat_id: i64, q: &str) -> (Vec<i64>, Json) {
    let (data, meta) = page(db, p, chat_id, q);
    (data.iter().map(id).collect(), meta)
}

/// One page of `GET /messages` as the API answers it: data and meta.
fn page(db: &dyn Db, p: &Principal, chat_id: i64, q: &str) -> (Vec<Json>, Json) {
    let mut lp =
        messages::parse_list_params(&Query::parse(&format!("chat_id={chat_id}&{q}")), 50).unwrap();
    lp.chat_id = chat_id;
    messages::list(db, p, &lp, "https://x.test").unwrap()
}

fn id(v: &Json) -> i64 {
    v["id"].as_i64().unwrap()
}

#[test]
fn message_fields_follow_the_schema() {
    let db = test_db();
    let (a, pa) = user(&db, "alice");
    let c = chat(&db, &pa, false, false, &[]);
    let m = post(&db, &pa, c, "hello");
    assert_eq!(m["entity_type"], "discussion");
    assert_eq!(m["entity_id"], c);
    assert_eq!(m["chat_id"], c);
    assert_eq!(m["root_chat_id"], c);
    assert_eq!(m["user_id"], a);
    assert_eq!(
        m["url"],
        format!("https://x.test/chats/{c}?message={}", id(&m))
    );
    assert_eq!(m["changed_at"], m["created_at"]);
    for k in [
        "deleted_at",
        "thread",
        "forwarding",
        "buttons",
        "voice_content",
        "parent_message_id",
    ] {
        assert!(m[k].is_null(), "{k}");
    }
    assert_eq!(m["files"], json!([]));
    assert!(
        m.get("display_name").is_none(),
        "only bot messages carry display fields"
    );
    let events = crate::platform::events::for_entity(&db, "Message", id(&m)).unwrap();
    assert_eq!(events, vec![("message".to_owned(), "new".to_owned())]);
}

#[test]
fn personal_messages_by_user_id_reuse_one_chat() {
    let db = test_db();
    let (a, pa) = user(&db, "alice");
    let (b, pb) = user(&db, "bob");
    let m1 = messages::create(&db, &pa, &msg("user", b, "hi"), "").unwrap();
    let m2 = messages::create(&db, &pb, &msg("user", a, "hey"), "").unwrap();
    assert_eq!(m1["chat_id"], m2["chat_id"]);
    assert_eq!(m1["entity_type"], "user");
    assert_eq!(m1["entity_id"], b);
    assert_eq!(m2["entity_id"], a);
    let (status, _) = post_err(&db, &pa, &msg("user", 9999, "x"));
    assert_eq!(status, 404);
}

#[test]
fn channel_posting_rule() {
    let db = test_db();
    let (_, owner) = user(&db, "owner1");
    let (sub, psub) = user(&db, "sub");
    let (ed, ped) = user(&db, "ed");
    let (_, outsider) = user(&db, "out");
    let c = chat(&db, &owner, true, true, &[sub, ed]);
    members::set_role(
        &db,
        &owner,
        c,
        ed,
        crate::chats::visibility::MemberRole::Editor,
    )
    .unwrap();
    post(&db, &owner, c, "from the owner");
    post(&db, &ped, c, "from an editor");
    let (status, body) = post_err(&db, &psub, &msg("discussion", c, "subscriber"));
    assert_eq!(status, 403);
    assert_eq!(body["errors"][0]["code"], "forbidden");
    // An employee sees the open channel but is not a member: 403.
    assert_eq!(post_err(&db, &outsider, &msg("discussion", c, "x")).0, 403);
    // A closed chat is invisible to outsiders: 404.
    let closed = chat(&db, &owner, false, false, &[]);
    assert_eq!(
        post_err(&db, &outsider, &msg("discussion", closed, "x")).0,
        404
    );
    // Archived: nobody posts.
    chats::set_archived(&db, &owner, c, true).unwrap();
    assert_eq!(post_err(&db, &owner, &msg("discussion", c, "x")).0, 403);
}

#[test]
fn mentions_are_rewritten_with_nicknames() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let (b, _) = user(&db, "bob");
    let c = chat(&db, &pa, false, false, &[]);
    let m = post(&db, &pa, c, &format!("<@{b}> and @Alice and <@424242>"));
    assert_eq!(m["content"], "@bob and @Alice and <@424242>");
}

#[test]
fn a_listed_page_renders_each_message_as_reading_it_by_id_does() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let c = chat(&db, &pa, false, false, &[]);
    let mut ids = vec![id(&post(&db, &pa, c, "plain"))];
    let file = input::FileInput {
        key: "attaches/files/1/report.pdf".into(),
        name: "report.pdf".into(),
        file_type: "file".into(),
        size: 3,
        width: None,
        height: None,
        duration_ms: None,
        waveform: None,
    };
    let with_file = NewMessage {
        files: vec![file],
        ..msg("discussion", c, "with a file")
    };
    ids.push(id(&messages::create(
        &db,
        &pa,
        &with_file,
        "https://x.test",
    )
    .unwrap()));
    let root = id(&post(&db, &pa, c, "with a thread"));
    threads::create_for_message(&db, &pa, root).unwrap();
    ids.push(root);
    let with_buttons = NewMessage {
        buttons: Some(json!([[{"text": "Yes", "data": "yes"}]])),
        ..msg("discussion", c, "with buttons")
    };
    ids.push(id(&messages::create(
        &db,
        &pa,
        &with_buttons,
        "https://x.test",
    )
    .unwrap()));
    ids.push(id(&post(&db, &pa, c, "last")));
    let by_id = |page: &[Json]| {
        let ids: Vec<i64> = page.iter().map(id).collect();
        messages::render_many(&db, &ids, "https://x.test").unwrap()
    };

    let (all, _) = page(&db, &pa, c, "order=asc");
    assert_eq!(all.iter().map(id).collect::<Vec<_>>(), ids);
    assert_eq!(all, by_id(&all));
    assert_eq!(all[1]["files"][0]["name"], "report.pdf");
    assert!(all[2]["thread"]["id"].as_i64().is_some());
    assert_eq!(all[3]["buttons"][0][0]["data"], "yes");

    // Pages of two, forward and back again by cursors, in both orders.
    for order in ["asc", "desc"] {
        let mut expected = all.clone();
        if order == "desc" {
            expected.reverse();
        }
        let (mut seen, mut meta) = page(&db, &pa, c, &format!("order={order}&limit=2"));
        assert_eq!(seen, by_id(&seen));
        while meta["paginate"]["has_next"] == true {
            let next = meta["paginate"]["next_page"].as_str().unwrap().to_owned();
            let (more, m) = page(&db, &pa, c, &format!("order={order}&limit=2&cursor={next}"));
            assert_eq!(more, by_id(&more));
            seen.extend(more);
            meta = m;
        }
        assert_eq!(seen, expected, "order {order}");
        let prev = meta["paginate"]["prev_page"].as_str().unwrap().to_owned();
        let (back, _) = page(&db, &pa, c, &format!("order={order}&limit=2&cursor={prev}"));
        // The last page holds the fifth message; the two before it come back.
        assert_eq!(
            back,
            expected[2..4],
            "order {order}, back from the last page"
        );
    }
}

#[test]
fn threads_are_listed_newest_activity_first_each_as_get_shows_it() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let c = chat(&db, &pa, false, false, &[]);
    let mut shown: Vec<Json> = (0..3)
        .map(|i| {
            let root = id(&post(&db, &pa, c, &format!("root {i}")));
            let t = threads::create_for_message(&db, &pa, root).unwrap();
            threads::get(&db, &pa, id(&t)).unwrap()
        })
        .collect();
    // Newest activity first; equal times by id, newest first.
    shown.sort_by(|a, b| (b["updated_at"].as_str(), id(b)).cmp(&(a["updated_at"].as_str(), id(a))));
    let params = |q: &str| threads::parse_list_params(&Query::parse(q), 50).unwrap();
    let (all, _) = threads::list(&db, &pa, &params("")).unwrap();
    assert_eq!(all, shown);
    let (first, meta) = threads::list(&db, &pa, &params("limit=2")).unwrap();
    assert_eq!(first, shown[..2]);
    let next = meta["paginate"]["next_page"].as_str().unwrap();
    let (rest, meta) = threads::list(&db, &pa, &params(&format!("limit=2&cursor={next}"))).unwrap();
    assert_eq!(rest, shown[2..]);
    assert_eq!(meta["paginate"]["has_next"], false);
}

#[test]
fn a_standing_read_with_the_setup_is_what_the_query_reads_and_costs_no_statement() {
    use crate::chats::{standing, standing_rider, StandingUser};
    use crate::platform::db::Rider;
    let db = test_db();
    let (alice, pa) = user(&db, "alice");
    let (bob, _) = user(&db, "bob");
    let c = chat(&db, &pa, false, false, &[]);
    // Ids that differ from the chat's, so no column can stand in for another.
    post(&db, &pa, c, "first");
    post(&db, &pa, c, "second");
    let root = id(&post(&db, &pa, c, "root"));
    assert_ne!(root, c);
    let thread_chat = threads::create_for_message(&db, &pa, root).unwrap()["chat_id"]
        .as_i64()
        .unwrap();
    let queried = |chat: i64, user: i64| format!("{:?}", standing(&db, chat, user).unwrap());
    // The standing of `user` in `chat`, with the connection opened with
    // `riders` and then the standing rider for `rider_user`; and the
    // statements that reading it ran.
    let read = |chat: i64, user: i64, rider_user: StandingUser, mut riders: Vec<Rider>| {
        let rec = RecordingDb::new(&db);
        riders.push(standing_rider(chat, rider_user));
        rec.read_setup_with(&riders).unwrap();
        rec.clear();
        let first = format!("{:?}", standing(&rec, chat, user).unwrap());
        let first_cost = rec.statements().len();
        // Taken once: reading it again queries.
        let again = format!("{:?}", standing(&rec, chat, user).unwrap());
        assert_eq!(rec.statements().len(), first_cost + 1);
        assert_eq!(again, first);
        (first, first_cost)
    };

    // A member, a non-member, a thread chat and a chat that does not exist,
    // for a user known beforehand (the admin token's owner).
    for (chat, user) in [(c, alice), (c, bob), (thread_chat, alice), (987_654, alice)] {
        let (got, cost) = read(chat, user, StandingUser::Id(user), vec![]);
        assert_eq!(got, queried(chat, user), "chat {chat}, user {user}");
        assert_eq!(cost, 0, "chat {chat}, user {user}");
    }
    assert!(queried(c, alice).contains("Owner"));
    assert!(queried(thread_chat, alice).contains("message_id: Some"));

    // For a personal token's user, read by the token rider in the same statement.
    let token = personal_token(&db, bob);
    let token_rider = || {
        crate::auth::token_rider(Some(ADMIN), Some(&format!("Bearer {token}")))
            .into_iter()
            .collect()
    };
    let (got, cost) = read(c, bob, StandingUser::TokenUser, token_rider());
    assert_eq!((got, cost), (queried(c, bob), 0));

    // Read for someone else, it is not used: the query runs.
    let (got, cost) = read(c, bob, StandingUser::Id(alice), vec![]);
    assert_eq!((got, cost), (queried(c, bob), 1));
    let (got, cost) = read(c, alice, StandingUser::TokenUser, token_rider());
    assert_eq!((got, cost), (queried(c, alice), 1));
}

#[test]
fn the_chat_a_request_checks_first_is_known_before_it_runs_only_where_it_is_certain() {
    use crate::messages::routes::first_checked_chat;
    let get = |q: &str| Request::new("GET", &format!("/api/shared/v1/messages{q}"));
    let post = |body: Json| Request::new("POST", "/api/shared/v1/messages").with_json(&body);
    assert_eq!(first_checked_chat(&get("?chat_id=42&limit=50")), Some(42));
    assert_eq!(first_checked_chat(&get("?chat_id=abc")), None);
    assert_eq!(first_checked_chat(&get("")), None);
    let to = |message: Json| first_checked_chat(&post(json!({ "message": message })));
    assert_eq!(to(json!({"entity_id": 7, "content": "x"})), Some(7));
    assert_eq!(
        to(json!({"entity_type": "Discussion", "entity_id": 7})),
        Some(7)
    );
    // A thread's or a user's id is not a chat id.
    assert_eq!(to(json!({"entity_type": "thread", "entity_id": 7})), None);
    assert_eq!(to(json!({"entity_type": "user", "entity_id": 7})), None);
    assert_eq!(to(json!({"entity_id": "7"})), None);
    assert_eq!(
        first_checked_chat(&Request::new("POST", "/api/shared/v1/messages")),
        None
    );
    // Other routes and methods name none.
    assert_eq!(
        first_checked_chat(&Request::new("GET", "/api/shared/v1/messages/7")),
        None
    );
    assert_eq!(
        first_checked_chat(&Request::new("DELETE", "/api/shared/v1/messages?chat_id=7")),
        None
    );
    assert_eq!(
        first_checked_chat(&Request::new("GET", "/api/shared/v1/chats?chat_id=7")),
        None
    );
}

#[test]
fn list_is_newest_first_with_cursors_and_skips_tombstones() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let c = chat(&db, &pa, false, false, &[]);
    let ids: Vec<i64> = (0..7)
        .map(|i| id(&post(&db, &pa, c, &format!("m{i}"))))
        .collect();
    let (all, _) = list(&db, &pa, c, "");
    let mut desc = ids.clone();
    desc.reverse();
    assert_eq!(all, desc);
    let (asc, _) = list(&db, &pa, c, "order=asc");
    assert_eq!(asc, ids);
    let (p1, meta) = list(&db, &pa, c, "limit=3");
    assert_eq!(p1, desc[..3]);
    assert_eq!(meta["paginate"]["has_next"], true);
    let next = meta["paginate"]["next_page"].as_str().unwrap();
    let (p2, _) = list(&db, &pa, c, &format!("limit=3&cursor={next}"));
    assert_eq!(p2, desc[3..6]);
    messages::delete(&db, &pa, ids[6]).unwrap();
    let (all, _) = list(&db, &pa, c, "");
    assert!(!all.contains(&ids[6]));
    // The tombstone still answers GET with deleted_at and no content.
    let t = messages::get(&db, &pa, ids[6], "").unwrap();
    assert!(t["deleted_at"].is_string());
    assert_eq!(t["content"], "");
    // Deleting again changes nothing, editing is refused.
    messages::delete(&db, &pa, ids[6]).unwrap();
    let upd = MessageUpdate {
        content: Some("x".into()),
        ..MessageUpdate::default()
    };
    let e = messages::update(&db, &pa, ids[6], &upd, "").unwrap_err();
    assert_eq!(e.body()["errors"][0]["code"], "message_deleted");
    let events = crate::platform::events::for_entity(&db, "Message", ids[6]).unwrap();
    assert_eq!(events.iter().filter(|e| e.1 == "delete").count(), 1);
    let missing = messages::parse_list_params(&Query::parse(""), 50).unwrap_err();
    assert_eq!(missing.status(), 400);
}

#[test]
fn edit_by_author_delete_by_author_or_moderator() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let (b, pb) = user(&db, "bob");
    let (c2, pc) = user(&db, "carol");
    let c = chat(&db, &pa, false, false, &[b, c2]);
    let m = id(&post(&db, &pb, c, "bob's"));
    let upd = MessageUpdate {
        content: Some("edited <@1>".into()),
        buttons: Some(Some(json!([[{"text": "t", "data": "d"}]]))),
        ..MessageUpdate::default()
    };
    assert_eq!(
        messages::update(&db, &pa, m, &upd, "")
            .unwrap_err()
            .status(),
        403
    );
    let v = messages::update(&db, &pb, m, &upd, "").unwrap();
    assert_eq!(v["content"], "edited @owner");
    assert_eq!(v["buttons"][0][0]["data"], "d");
    let clear = MessageUpdate {
        buttons: Some(None),
        ..MessageUpdate::default()
    };
    assert!(messages::update(&db, &pb, m, &clear, "").unwrap()["buttons"].is_null());
    // carol (member) cannot delete bob's message; alice (creator) can.
    assert_eq!(messages::delete(&db, &pc, m).unwrap_err().status(), 403);
    messages::delete(&db, &pa, m).unwrap();
    let events: Vec<String> = crate::platform::events::for_entity(&db, "Message", m)
        .unwrap()
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(events, vec!["new", "update", "update", "delete"]);
}

#[test]
fn pins_for_members_only() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let (_, pout) = user(&db, "out");
    let c = chat(&db, &pa, false, true, &[]);
    let m = id(&post(&db, &pa, c, "pin me"));
    assert_eq!(
        messages::set_pinned(&db, &pout, m, true)
            .unwrap_err()
            .status(),
        403
    );
    messages::set_pinned(&db, &pa, m, true).unwrap();
    messages::set_pinned(&db, &pa, m, true).unwrap();
    messages::set_pinned(&db, &pa, m, false).unwrap();
    let ev = crate::platform::events::for_entity(&db, "Message", m).unwrap();
    assert_eq!(ev.iter().filter(|e| e.1 == "pin").count(), 1);
    messages::delete(&db, &pa, m).unwrap();
    let e = messages::set_pinned(&db, &pa, m, true).unwrap_err();
    assert_eq!(e.body()["errors"][0]["code"], "message_deleted");
}

struct CrossThread {
    db: NativeDb,
    owner: Principal,
    outsider: Principal,
    outsider_id: i64,
    chat: i64,
    root: i64,
    other: i64,
    thread: Json,
}

fn cross_thread() -> CrossThread {
    let db = test_db();
    let (_, owner) = user(&db, "alice");
    let (outsider_id, outsider) = user(&db, "guestly");
    let c = chat(&db, &owner, false, false, &[]);
    let root = id(&post(&db, &owner, c, "root message"));
    let other = id(&post(&db, &owner, c, "secret parent history"));
    let thread = threads::create_for_message(&db, &owner, root).unwrap();
    let t_chat = thread["chat_id"].as_i64().unwrap();
    members::add(
        &db,
        &owner,
        t_chat,
        &AddMembers {
            member_ids: vec![outsider_id],
            silent: true,
        },
    )
    .unwrap();
    CrossThread {
        db,
        owner,
        outsider,
        outsider_id,
        chat: c,
        root,
        other,
        thread,
    }
}

#[test]
fn cross_thread_member_sees_thread_and_root_only() {
    let w = cross_thread();
    let db = &w.db;
    let t_chat = w.thread["chat_id"].as_i64().unwrap();
    let t_id = w.thread["id"].as_i64().unwrap();
    assert_eq!(w.thread["message_id"], w.root);
    assert_eq!(w.thread["message_chat_id"], w.chat);
    // Idempotent.
    assert_eq!(
        threads::create_for_message(db, &w.owner, w.root).unwrap(),
        w.thread
    );
    // The outsider comments in the thread, by thread id.
    let c = messages::create(db, &w.outsider, &msg("thread", t_id, "from outside"), "").unwrap();
    assert_eq!(c["entity_type"], "thread");
    assert_eq!(c["entity_id"], t_id);
    assert_eq!(c["chat_id"], t_chat);
    assert_eq!(c["root_chat_id"], w.chat);
    assert!(c["thread"].is_null());
    let (ids, _) = list(db, &w.outsider, t_chat, "");
    assert_eq!(ids, vec![id(&c)]);
    // Root message: yes, with its thread; the parent chat's other messages and list: 404.
    let root = messages::get(db, &w.outsider, w.root, "").unwrap();
    assert_eq!(root["thread"]["chat_id"], t_chat);
    assert_eq!(
        messages::get(db, &w.outsider, w.other, "")
            .unwrap_err()
            .status(),
        404
    );
    let lp = ListParams {
        chat_id: w.chat,
        ascending: false,
        limit: 50,
        cursor: None,
    };
    assert_eq!(
        messages::list(db, &w.outsider, &lp, "")
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        chats::get(db, &w.outsider, w.chat).unwrap_err().status(),
        404
    );
    assert!(chats::get(db, &w.outsider, t_chat).is_ok());
    // Threads list and get.
    assert_eq!(threads::get(db, &w.outsider, t_id).unwrap()["id"], t_id);
    let lp = threads::parse_list_params(&Query::parse(""), 50).unwrap();
    let (list, _) = threads::list(db, &w.outsider, &lp).unwrap();
    assert_eq!(list.len(), 1);
    // Search finds the root and the thread comment, never the parent history.
    let sp = search::parse_params(&Query::parse("")).unwrap();
    let (found, meta) = search::search(db, &w.outsider, &sp, "").unwrap();
    let found: Vec<i64> = found.iter().map(id).collect();
    assert_eq!(found, vec![id(&c), w.root]);
    assert_eq!(meta["total"], 2);
    // Reacting to the root works; to the parent history it is 404.
    let r = ReactionInput {
        code: "👍".into(),
        name: None,
    };
    reactions::add(db, &w.outsider, w.root, &r).unwrap();
    assert_eq!(
        reactions::add(db, &w.outsider, w.other, &r)
            .unwrap_err()
            .status(),
        404
    );
    // A parent member reads the thread without being in it.
    let _ = w.outsider_id;
}

#[test]
fn thread_rules() {
    let w = cross_thread();
    let db = &w.db;
    let t_chat = w.thread["chat_id"].as_i64().unwrap();
    let comment = id(&post(db, &w.owner, t_chat, "in thread"));
    let e = threads::create_for_message(db, &w.owner, comment).unwrap_err();
    assert_eq!(e.status(), 400);
    assert_eq!(e.body()["errors"][0]["code"], "thread_message");
    messages::delete(db, &w.owner, w.other).unwrap();
    assert_eq!(
        threads::create_for_message(db, &w.owner, w.other)
            .unwrap_err()
            .status(),
        404
    );
    // Mentions invite people into the thread unless skipped.
    let (dave, _) = user(db, "dave");
    let (erin, _) = user(db, "erin");
    let mut m = msg("discussion", t_chat, "@dave look");
    messages::create(db, &w.owner, &m, "").unwrap();
    m.content = "@erin look".into();
    m.skip_invite_mentions = true;
    messages::create(db, &w.owner, &m, "").unwrap();
    let members = members::member_ids(db, t_chat).unwrap();
    assert!(members.contains(&dave));
    assert!(!members.contains(&erin));
    // Standalone thread.
    let s = threads::create_standalone(db, &w.owner).unwrap();
    assert!(s["message_id"].is_null() && s["message_chat_id"].is_null());
    let sc = s["chat_id"].as_i64().unwrap();
    assert_eq!(members::member_ids(db, sc).unwrap(), vec![w.owner.user_id]);
    let sm = post(db, &w.owner, sc, "alone");
    assert_eq!(sm["root_chat_id"], sc);
    assert_eq!(
        threads::get(db, &w.outsider, s["id"].as_i64().unwrap())
            .unwrap_err()
            .status(),
        404
    );
}

#[test]
fn channel_subscriber_comments_in_threads() {
    let db = test_db();
    let (_, owner) = user(&db, "alice");
    let (sub, psub) = user(&db, "sub");
    let c = chat(&db, &owner, true, false, &[sub]);
    let root = id(&post(&db, &owner, c, "announcement"));
    let t = threads::create_for_message(&db, &owner, root).unwrap();
    let comment = post(&db, &psub, t["chat_id"].as_i64().unwrap(), "question");
    assert_eq!(comment["entity_type"], "thread");
}

fn react(db: &dyn Db, p: &Principal, m: i64, code: &str) -> Result<Json, (u16, String)> {
    let r = ReactionInput {
        code: code.into(),
        name: None,
    };
    reactions::add(db, p, m, &r).map_err(|e| {
        (
            e.status(),
            e.body()["errors"][0]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    })
}

#[test]
fn reaction_limits_at_exact_boundaries() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let c = chat(&db, &pa, false, true, &[]);
    let m = id(&post(&db, &pa, c, "react"));
    // 20 unique per user: the 20th passes, the 21st is user_limit; re-adding is fine.
    for i in 0..20 {
        react(&db, &pa, m, &format!("e{i}")).unwrap();
    }
    assert_eq!(
        react(&db, &pa, m, "e20").unwrap_err(),
        (422, "user_limit".to_owned())
    );
    assert_eq!(react(&db, &pa, m, "e0").unwrap()["code"], "e0");
    // 30 unique per message: another user adds 10 new codes (30 total), then a 31st fails.
    let (_, pb) = user(&db, "bob");
    for i in 20..30 {
        react(&db, &pb, m, &format!("e{i}")).unwrap();
    }
    assert_eq!(
        react(&db, &pb, m, "e30").unwrap_err(),
        (422, "unique_limit".to_owned())
    );
    // An existing code is still fine for bob.
    react(&db, &pb, m, "e0").unwrap();
    // 1000 in total.
    let total = |db: &dyn Db| {
        db.query_row(
            "SELECT COUNT(*) FROM reactions WHERE message_id = ?",
            &[m.into()],
        )
        .unwrap()
        .unwrap()
        .i64(0)
        .unwrap()
    };
    // Bulk users, each with one reaction of an existing kind, up to 999 in total.
    let bulk = 999 - total(&db);
    db.execute(
        "INSERT INTO users (nickname, role, created_at, updated_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         SELECT 'bulk' || i, 'user', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z' FROM n",
        &[bulk.into()],
    )
    .unwrap();
    db.execute(
        "INSERT INTO reactions (message_id, user_id, code, name, created_at) \
         SELECT ?, id, 'e' || (id % 30), '', '2025-01-01T00:00:00.000Z' FROM users WHERE nickname LIKE 'bulk%'",
        &[m.into()],
    )
    .unwrap();
    assert_eq!(total(&db), 999);
    let (_, pc) = user(&db, "carol");
    react(&db, &pc, m, "e1").unwrap();
    assert_eq!(total(&db), 1000);
    assert_eq!(
        react(&db, &pc, m, "e2").unwrap_err(),
        (422, "general_limit".to_owned())
    );
    // Delete by code; unknown is 404.
    reactions::remove(
        &db,
        &pc,
        m,
        &reactions::parse_query(Some("e1"), None).unwrap(),
    )
    .unwrap();
    assert_eq!(
        reactions::remove(
            &db,
            &pc,
            m,
            &reactions::parse_query(Some("e1"), None).unwrap()
        )
        .unwrap_err()
        .status(),
        404
    );
    react(&db, &pc, m, "e2").unwrap();
    let ev: Vec<String> = crate::platform::events::for_entity(&db, "Message", m)
        .unwrap()
        .into_iter()
        .filter(|e| e.0 == "reaction")
        .map(|e| e.1)
        .collect();
    assert_eq!(ev.iter().filter(|e| *e == "delete").count(), 1);
}

#[test]
fn reactions_by_name_and_list_pages() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let (_, pb) = user(&db, "bob");
    let c = chat(&db, &pa, false, true, &[]);
    let m = id(&post(&db, &pa, c, "react"));
    let custom = ReactionInput {
        code: "🦜".into(),
        name: Some(":party:".into()),
    };
    reactions::add(&db, &pa, m, &custom).unwrap();
    react(&db, &pa, m, "🦜").unwrap();
    react(&db, &pb, m, "👍").unwrap();
    let (page, meta) = reactions::list(&db, &pa, m, 2, None).unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["name"], ":party:");
    assert_eq!(meta["paginate"]["has_next"], true);
    let cur = Cursor::decode(meta["paginate"]["next_page"].as_str().unwrap()).unwrap();
    let (rest, _) = reactions::list(&db, &pa, m, 2, Some(&cur)).unwrap();
    assert_eq!(rest[0]["user_id"], pb.user_id);
    reactions::remove(
        &db,
        &pa,
        m,
        &reactions::parse_query(Some("🦜"), Some(":party:")).unwrap(),
    )
    .unwrap();
    let (left, _) = reactions::list(&db, &pa, m, 50, None).unwrap();
    assert_eq!(left.len(), 2);
    assert!(reactions::parse(&json!({"code": ""})).is_err());
    assert_eq!(
        reactions::parse_query(None, None).unwrap_err().status(),
        400
    );
}

#[test]
fn read_state_is_monotonic_and_feeds_read_member_ids() {
    let db = test_db();
    let (a, pa) = user(&db, "alice");
    let (b, pb) = user(&db, "bob");
    let c = chat(&db, &pa, false, false, &[b]);
    let ids: Vec<i64> = (0..4)
        .map(|i| id(&post(&db, &pa, c, &format!("m{i}"))))
        .collect();
    // Four posts plus the system message announcing bob.
    let s = read_state::get(&db, &pb, c).unwrap();
    assert_eq!(s["unread_count"], 5);
    let s = read_state::mark(&db, &pb, c, ids[2]).unwrap();
    assert_eq!(s["last_read_message_id"], ids[2]);
    assert_eq!(s["unread_count"], 1);
    let s = read_state::mark(&db, &pb, c, ids[0]).unwrap();
    assert_eq!(s["last_read_message_id"], ids[2], "never moves back");
    let s = read_state::mark(&db, &pb, c, ids[2]).unwrap();
    assert_eq!(s["unread_count"], 1);
    let readers = |m: i64| {
        messages::read_member_ids(&db, &pa, m, 300, None)
            .unwrap()
            .0
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(readers(ids[1]), vec![b]);
    assert_eq!(readers(ids[3]), Vec::<i64>::new());
    // The author's own position follows their posts (not listed as reader).
    assert_eq!(read_state::get(&db, &pa, c).unwrap()["unread_count"], 0);
    let _ = a;
    let other = chat(&db, &pa, false, false, &[]);
    let foreign = id(&post(&db, &pa, other, "x"));
    assert_eq!(
        read_state::mark(&db, &pb, c, foreign).unwrap_err().status(),
        422
    );
    assert_eq!(read_state::get(&db, &pb, other).unwrap_err().status(), 404);
}

#[test]
fn full_text_search_with_cyrillic_and_filters() {
    let db = test_db();
    let (a, pa) = user(&db, "alice");
    let (b, pb) = user(&db, "bob");
    let (_, pout) = user(&db, "out");
    let c = chat(&db, &pa, false, false, &[b]);
    let m1 = id(&post(&db, &pa, c, "Вчера мы продали 756 ФУТБОЛОК"));
    let m2 = id(&post(&db, &pb, c, "футболки закончились, Ёлка тоже"));
    let _m3 = id(&post(&db, &pa, c, "completely unrelated"));
    let q = |p: &Principal, qs: &str| -> (Vec<i64>, Json) {
        let sp = search::parse_params(&Query::parse(qs)).unwrap();
        let (data, meta) = search::search(&db, p, &sp, "").unwrap();
        (data.iter().map(id).collect(), meta)
    };
    assert_eq!(
        q(&pa, "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB").0,
        vec![m2, m1]
    );
    assert_eq!(
        q(
            &pa,
            "query=%D0%A4%D0%A3%D0%A2%D0%91%D0%9E%D0%9B%D0%9A%D0%98"
        )
        .0,
        vec![m2]
    );
    assert_eq!(
        q(&pa, "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&order=asc").0,
        vec![m1, m2]
    );
    assert_eq!(
        q(
            &pa,
            &format!("query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&user_ids={a}")
        )
        .0,
        vec![m1]
    );
    assert_eq!(
        q(&pa, "query=%D0%B5%D0%BB%D0%BA%D0%B0").0,
        vec![m2],
        "ё folds to е"
    );
    assert_eq!(
        q(
            &pa,
            &format!("query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&chat_ids={c}&active=true")
        )
        .0
        .len(),
        2
    );
    assert_eq!(
        q(
            &pa,
            "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&active=false"
        )
        .0
        .len(),
        0
    );
    let (rel, meta) = q(
        &pa,
        "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&sort=relevance&limit=1",
    );
    assert_eq!(rel.len(), 1);
    assert_eq!(meta["total"], 2);
    let next = meta["paginate"]["next_page"].as_str().unwrap().to_owned();
    let (rel2, _) = q(
        &pa,
        &format!("query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&sort=relevance&limit=1&cursor={next}"),
    );
    assert_eq!(rel2.len(), 1);
    assert_ne!(rel, rel2);
    // Outsiders find nothing in a closed chat; deleted and edited text follows.
    assert!(q(&pout, "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB")
        .0
        .is_empty());
    messages::delete(&db, &pb, m2).unwrap();
    assert_eq!(
        q(&pa, "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB").0,
        vec![m1]
    );
    let upd = MessageUpdate {
        content: Some("носки".into()),
        ..MessageUpdate::default()
    };
    messages::update(&db, &pa, m1, &upd, "").unwrap();
    assert!(q(&pa, "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB")
        .0
        .is_empty());
    assert_eq!(q(&pa, "query=%D0%9D%D0%9E%D0%A1%D0%9A%D0%98").0, vec![m1]);
    assert_eq!(
        search::fts_query("a \"b\" -c"),
        Some("\"a\"* AND \"b\"* AND \"c\"*".into())
    );
    assert_eq!(search::fts_query("  !!  "), None);
    assert!(q(&pa, "query=%21%21").0.is_empty());
    assert_eq!(
        q(&pa, "query=%20").0.len(),
        2,
        "a blank query filters nothing"
    );
}

#[test]
fn system_messages_announce_joins_and_leaves_unless_silent() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let (b, pb) = user(&db, "bob");
    let (c2, _) = user(&db, "carol");
    let c = chat(&db, &pa, false, false, &[]);
    let add = |ids: Vec<i64>, silent: bool| {
        members::add(
            &db,
            &pa,
            c,
            &AddMembers {
                member_ids: ids,
                silent,
            },
        )
        .unwrap();
    };
    add(vec![b], false);
    add(vec![c2], true);
    members::leave(&db, &pb, c).unwrap();
    let (ids, _) = list(&db, &pa, c, "order=asc");
    let texts: Vec<String> = ids
        .iter()
        .map(|m| {
            messages::get(&db, &pa, *m, "").unwrap()["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(texts, vec!["@alice added @bob", "@bob left the chat"]);
    // System messages are not searchable and cannot be edited.
    let sp = search::parse_params(&Query::parse("")).unwrap();
    assert!(search::search(&db, &pa, &sp, "").unwrap().0.is_empty());
}

#[test]
fn link_previews_for_bots_only_and_urls_from_the_text() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let (bot_id, _) = user(&db, "unfurler");
    db.execute("UPDATE users SET bot = 1 WHERE id = ?", &[bot_id.into()])
        .unwrap();
    let pbot = principal(&db, bot_id);
    let c = chat(&db, &pa, false, false, &[bot_id]);
    let m = id(&post(&db, &pa, c, "see https://site.test/a"));
    let body =
        json!({"link_previews": {"https://site.test/a": {"title": "T", "description": "D"}}});
    let previews = messages::parse_link_previews(&body).unwrap();
    // A bot without unfurl_domains previews only what it reads: elsewhere
    // the message does not exist for it, whatever its text.
    let elsewhere = chat(&db, &pa, false, false, &[]);
    let hidden = id(&post(&db, &pa, elsewhere, "see https://site.test/a"));
    let e = messages::add_link_previews(&db, &pbot, hidden, &previews).unwrap_err();
    assert_eq!(
        (e.status(), e.body()["errors"][0]["key"].clone()),
        (404, json!("id"))
    );
    assert_eq!(
        messages::add_link_previews(&db, &pa, m, &previews)
            .unwrap_err()
            .status(),
        403
    );
    messages::add_link_previews(&db, &pbot, m, &previews).unwrap();
    let bad = json!({"link_previews": {"https://other.test/": {"title": "T", "description": "D"}}});
    let bad = messages::parse_link_previews(&bad).unwrap();
    assert_eq!(
        messages::add_link_previews(&db, &pbot, m, &bad)
            .unwrap_err()
            .status(),
        422
    );
    assert!(
        messages::parse_link_previews(&json!({"link_previews": {"u": {"title": "T"}}})).is_err()
    );
    let e = messages::parse_link_previews(
        &json!({"link_previews": {"u": {"title": "T", "description": "D", "image": {"key": "k"}}}}),
    )
    .unwrap_err();
    assert_eq!(e.body()["errors"][0]["key"], "link_previews.u.image.name");
    let e = messages::parse_link_previews(&json!({"link_previews": {}})).unwrap_err();
    assert_eq!(
        (
            e.body()["errors"][0]["key"].clone(),
            e.body()["errors"][0]["code"].clone()
        ),
        (json!("link_previews"), json!("blank"))
    );
}

#[test]
fn bot_display_fields_are_rendered_for_bot_messages() {
    let db = test_db();
    let (_, pa) = user(&db, "alice");
    let (bot_id, _) = user(&db, "helper");
    db.execute("UPDATE users SET bot = 1 WHERE id = ?", &[bot_id.into()])
        .unwrap();
    let pbot = principal(&db, bot_id);
    let c = chat(&db, &pa, false, false, &[bot_id]);
    let input = input::parse_create(
        &json!({"message": {"entity_id": c, "content": "beep", "display_name": "Support"}}),
        true,
    )
    .unwrap();
    let m = messages::create(&db, &pbot, &input, "").unwrap();
    assert_eq!(m["display_name"], "Support");
    assert!(m["display_avatar_url"].is_null());
}

#[test]
fn router_serves_messages_and_reactions() {
    let db = test_db();
    let cfg = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    let call = |method: &str, path: &str, body: Option<Json>| {
        let mut r = Request::new(method, &format!("/api/shared/v1{path}"))
            .with_header("authorization", &format!("Bearer {ADMIN}"))
            .with_header("host", "chat.test");
        if let Some(b) = body {
            r = r.with_json(&b);
        }
        let resp = if path.contains("/reactions") {
            crate::components::reactions(&db, &cfg, &r)
        } else {
            crate::components::messages(&db, &cfg, &r)
        };
        (resp.status, resp.json_body())
    };
    let owner = owner_principal();
    let c = chat(&db, &owner, false, false, &[]);
    let (s, m) = call(
        "POST",
        "/messages",
        Some(json!({"message": {"entity_id": c, "content": "hi"}})),
    );
    assert_eq!(s, 201, "{m}");
    let mid = m["data"]["id"].as_i64().unwrap();
    assert!(m["data"]["url"]
        .as_str()
        .unwrap()
        .starts_with("http://chat.test/chats/"));
    let (s, r) = call(
        "POST",
        &format!("/messages/{mid}/reactions"),
        Some(json!({"code": "👍"})),
    );
    assert_eq!((s, r["code"].as_str()), (201, Some("👍")));
    let (s, l) = call("GET", &format!("/messages/{mid}/reactions"), None);
    assert_eq!((s, l["data"].as_array().unwrap().len()), (200, 1));
    let (s, _) = call(
        "DELETE",
        &format!("/messages/{mid}/reactions?code=%F0%9F%91%8D"),
        None,
    );
    assert_eq!(s, 204);
    let (s, t) = call("POST", &format!("/messages/{mid}/thread"), None);
    assert_eq!(s, 201);
    assert_eq!(t["data"]["message_id"], mid);
    let (s, _) = call(
        "POST",
        &format!("/chats/{c}/read"),
        Some(json!({"message_id": mid})),
    );
    assert_eq!(s, 200);
    let (s, rs) = call("GET", &format!("/chats/{c}/read_state"), None);
    assert_eq!(
        (s, rs["data"]["last_read_message_id"].as_i64()),
        (200, Some(mid))
    );
    assert_eq!(call("PATCH", &format!("/messages/{mid}"), None).0, 405);
    assert_eq!(call("GET", "/messages/abc", None).0, 404);
    assert_eq!(call("GET", "/nope", None).0, 404);
    let (s, e) = call(
        "POST",
        "/messages",
        Some(json!({"message": {"entity_type": "x", "entity_id": c, "content": "hi"}})),
    );
    assert_eq!((s, e["errors"][0]["code"].as_str()), (400, Some("invalid")));
}

#[test]
fn thread_chats_are_listed_by_threads_not_by_chats() {
    let w = cross_thread();
    let db = &w.db;
    let t_chat = w.thread["chat_id"].as_i64().unwrap();
    let lp = chats::parse_list_params(&Query::parse(""), 50).unwrap();
    let (listed, _) = chats::list(db, &w.owner, &lp).unwrap();
    let ids: Vec<i64> = listed.iter().map(id).collect();
    assert!(ids.contains(&w.chat) && !ids.contains(&t_chat));
    let search = |qs: &str| -> Vec<i64> {
        let sp = chats::parse_search_params(&Query::parse(qs)).unwrap();
        chats::search(db, &w.owner, &sp)
            .unwrap()
            .0
            .iter()
            .map(id)
            .collect()
    };
    assert_eq!(search("chat_subtype=thread"), vec![t_chat]);
    assert!(!search("").contains(&t_chat));
    // The outsider is a member of the thread chat only.
    assert_eq!(
        chats::search(
            db,
            &w.outsider,
            &chats::parse_search_params(&Query::parse("chat_subtype=thread")).unwrap()
        )
        .unwrap()
        .0
        .len(),
        1
    );
    let _ = w.outsider_id;
}

#[test]
fn parent_members_add_people_and_bots_to_a_thread_they_are_not_in() {
    let db = test_db();
    let (_, owner) = user(&db, "alice");
    let (bob, pbob) = user(&db, "bob");
    let (bot_id, _) = user(&db, "robot");
    db.execute("UPDATE users SET bot = 1 WHERE id = ?", &[bot_id.into()])
        .unwrap();
    let pbot = principal(&db, bot_id);
    let c = chat(&db, &owner, false, false, &[bob]);
    let root = id(&post(&db, &owner, c, "root"));
    let other = id(&post(&db, &owner, c, "history"));
    let t = threads::create_for_message(&db, &owner, root).unwrap();
    let t_chat = t["chat_id"].as_i64().unwrap();
    // bob is in the parent chat only: he lists the thread's members and adds the bot.
    let (members, _) = members::list(&db, &pbob, t_chat, None, 50, None).unwrap();
    assert_eq!(members.len(), 1);
    members::add(
        &db,
        &pbob,
        t_chat,
        &AddMembers {
            member_ids: vec![bot_id],
            silent: false,
        },
    )
    .unwrap();
    // The bot reads and writes the thread and reads the root, nothing else.
    let comment = post(&db, &pbot, t_chat, "beep");
    assert_eq!(comment["entity_type"], "thread");
    assert!(messages::get(&db, &pbot, root, "").is_ok());
    assert_eq!(
        messages::get(&db, &pbot, other, "").unwrap_err().status(),
        404
    );
    assert_eq!(chats::get(&db, &pbot, c).unwrap_err().status(), 404);
    // The thread announces the bot's arrival.
    let (ids, _) = list(&db, &owner, t_chat, "order=asc");
    let first = messages::get(&db, &owner, ids[0], "").unwrap();
    assert_eq!(first["content"], "@bob added @robot");
    assert_eq!(first["entity_type"], "thread");
    let payload = db
        .query_row(
            "SELECT payload_json FROM events WHERE type = 'chat_member' AND entity_id = ? ORDER BY id DESC LIMIT 1",
            &[t_chat.into()],
        )
        .unwrap()
        .unwrap()
        .string(0)
        .unwrap();
    let payload: Json = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["thread_id"], t["id"]);
}

#[test]
fn the_database_records_what_follows_from_a_new_message() {
    let db = test_db();
    let owner = owner_principal();
    let c = chat(&db, &owner, false, false, &[]);
    let m = post(&db, &owner, c, "hello");
    let stored = db
        .query_row(
            "SELECT m.url, m.created_at, c.last_message_at FROM messages m \
             JOIN chats c ON c.id = m.chat_id WHERE m.id = ?",
            &[id(&m).into()],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.string(0).unwrap(),
        crate::chats::message_rows::message_url(c, id(&m)),
        "the trigger and the rendered answer agree"
    );
    assert_eq!(
        m["url"].as_str().unwrap(),
        format!("https://x.test{}", stored.string(0).unwrap())
    );
    assert_eq!(stored.string(2).unwrap(), stored.string(1).unwrap());
    assert_eq!(m["created_at"].as_str().unwrap(), stored.string(1).unwrap());
    let event = db
        .query_row(
            "SELECT type, event, entity_type, actor_user_id, payload_json, created_at FROM events \
             WHERE entity_id = ? AND type = 'message'",
            &[id(&m).into()],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            event.string(0).unwrap(),
            event.string(1).unwrap(),
            event.string(2).unwrap()
        ),
        ("message".into(), "new".into(), "Message".into())
    );
    assert_eq!(event.i64(3).unwrap(), 1);
    let row = messages::load(&db, id(&m)).unwrap().unwrap();
    let payload: Json = serde_json::from_str(&event.string(4).unwrap()).unwrap();
    assert_eq!(
        payload,
        crate::chats::message_rows::message_payload(&row),
        "the trigger's payload is the one the other message events carry"
    );
    assert_eq!(event.string(5).unwrap(), stored.string(1).unwrap());
    let read = db
        .query_row(
            "SELECT last_read_message_id FROM chat_reads WHERE chat_id = ? AND user_id = 1",
            &[c.into()],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        read.i64(0).unwrap(),
        id(&m),
        "the author has read their own message"
    );
}
