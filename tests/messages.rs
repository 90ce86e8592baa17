//! The messages and reactions areas, end to end: the release `spin-host`
//! serving the real `spin.toml` over HTTP (`/api/shared/v1/messages...`,
//! `/threads...`, `/search/messages`, our `/chats/{id}/read` extension).
//!
//! Expected values come from the official schemas (`Message`, `Thread`,
//! `Reaction`, `PaginationMeta`, `SearchPaginationMeta`, `ApiError`).

use std::collections::HashSet;

use e2e_tests::api::{app, call, call_retrying, expect, start_app};
use e2e_tests::setup::{self, error_code, id_of};
use e2e_tests::{Host, HostConfig, Reply};
use serde_json::{json, Value};

const ADMIN: &str = "messages-e2e-admin-token";
fn config() -> HostConfig {
    app(ADMIN)
}

/// A fresh host with an empty database (only the owner, user 1).
fn start() -> Host {
    start_app(config())
}

fn admin(host: &Host, method: &str, path: &str, body: Option<Value>) -> Reply {
    call(host, ADMIN, method, path, body)
}

fn assert_api_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(error_code(reply, status), code);
}

/// A user with a personal token carrying every scope the role allows:
/// `(user id, token)`.
fn user(host: &Host, nickname: &str) -> (i64, String) {
    setup::user_with_token(host, ADMIN, nickname, "user")
}

fn new_chat(host: &Host, token: &str, channel: bool, public: bool, members: &[i64]) -> i64 {
    let chat = json!({"name": "Chat", "channel": channel, "public": public, "member_ids": members});
    id_of(&setup::create_chat(host, token, chat))
}

fn post(host: &Host, token: &str, chat_id: i64, content: &str) -> Value {
    setup::post_message(host, token, chat_id, content)
}

/// Every message id of a chat, walking `next_page` cursors.
fn all_messages(host: &Host, token: &str, chat_id: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("/messages?chat_id={chat_id}&limit=50");
    loop {
        let page = expect(&call(host, token, "GET", &path, None), 200);
        let data = page["data"].as_array().expect("data").clone();
        out.extend(data);
        if page["meta"]["paginate"]["has_next"] != true {
            return out;
        }
        let next = page["meta"]["paginate"]["next_page"]
            .as_str()
            .expect("cursor");
        path = format!("/messages?chat_id={chat_id}&limit=50&cursor={next}");
    }
}

#[test]
fn message_lifecycle_follows_the_schema() {
    let host = start();
    let (bob, bob_token) = user(&host, "bob");
    let chat = new_chat(&host, ADMIN, false, false, &[bob]);
    let body = json!({"message": {
        "entity_id": chat, "content": "Привет, <@2>!",
        "buttons": [[{"text": "Open", "url": "https://example.com"}, {"text": "Yes", "data": "yes"}]],
        "files": [{"key": "attaches/files/1/x/report.pdf", "name": "report.pdf", "file_type": "file", "size": 10}]
    }});
    let m = expect(&admin(&host, "POST", "/messages", Some(body)), 201)["data"].clone();
    let id = id_of(&m);
    assert_eq!(m["content"], "Привет, @bob!");
    assert_eq!(m["entity_type"], "discussion");
    assert_eq!(
        (
            m["entity_id"].as_i64(),
            m["chat_id"].as_i64(),
            m["root_chat_id"].as_i64()
        ),
        (Some(chat), Some(chat), Some(chat))
    );
    assert_eq!(m["url"], host.url(&format!("/chats/{chat}?message={id}")));
    assert_eq!(m["buttons"][0][1]["data"], "yes");
    assert_eq!(m["files"][0]["name"], "report.pdf");
    assert!(m["files"][0]["id"].is_i64());
    for k in [
        "thread",
        "forwarding",
        "parent_message_id",
        "deleted_at",
        "voice_content",
    ] {
        assert!(m.get(k).is_some_and(Value::is_null), "{k}: {m}");
    }
    // Reply, edit (author only), delete by the chat's creator, tombstone.
    let reply =
        json!({"message": {"entity_id": chat, "content": "ответ", "parent_message_id": id}});
    let r = expect(
        &call(&host, &bob_token, "POST", "/messages", Some(reply)),
        201,
    )["data"]
        .clone();
    assert_eq!(r["parent_message_id"], id);
    let edit = json!({"message": {"content": "исправлено"}});
    assert_api_error(
        &admin(
            &host,
            "PUT",
            &format!("/messages/{}", id_of(&r)),
            Some(edit.clone()),
        ),
        403,
        "forbidden",
    );
    let edited = expect(
        &call(
            &host,
            &bob_token,
            "PUT",
            &format!("/messages/{}", id_of(&r)),
            Some(edit),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(edited["content"], "исправлено");
    expect(
        &admin(&host, "DELETE", &format!("/messages/{}", id_of(&r)), None),
        204,
    );
    let tomb = expect(
        &admin(&host, "GET", &format!("/messages/{}", id_of(&r)), None),
        200,
    )["data"]
        .clone();
    assert!(tomb["deleted_at"].is_string());
    let ids: Vec<i64> = all_messages(&host, ADMIN, chat).iter().map(id_of).collect();
    assert!(ids.contains(&id) && !ids.contains(&id_of(&r)));
    // Pins, validation errors, unknown ids.
    expect(
        &call(
            &host,
            &bob_token,
            "POST",
            &format!("/messages/{id}/pin"),
            None,
        ),
        204,
    );
    expect(
        &call(
            &host,
            &bob_token,
            "DELETE",
            &format!("/messages/{id}/pin"),
            None,
        ),
        204,
    );
    let bad = json!({"message": {"entity_id": chat, "content": "x", "buttons": [[{"text": "no action"}]]}});
    assert_api_error(&admin(&host, "POST", "/messages", Some(bad)), 422, "blank");
    let bad = json!({"message": {"entity_type": "chat", "entity_id": chat, "content": "x"}});
    assert_api_error(
        &admin(&host, "POST", "/messages", Some(bad)),
        400,
        "invalid",
    );
    assert_api_error(
        &admin(&host, "GET", "/messages/999999", None),
        404,
        "not_found",
    );
    // The spec documents no 404 for POST /messages: a chat, user or thread
    // that does not exist is a validation error of entity_id.
    for entity_type in ["discussion", "user", "thread"] {
        let missing =
            json!({"message": {"entity_type": entity_type, "entity_id": 999999, "content": "x"}});
        let reply = admin(&host, "POST", "/messages", Some(missing));
        assert_api_error(&reply, 422, "not_found");
        assert_eq!(reply.json()["errors"][0]["key"], "entity_id");
    }
    assert_api_error(&admin(&host, "GET", "/messages", None), 400, "required");
    // Personal message by user id.
    let dm = json!({"message": {"entity_type": "user", "entity_id": bob, "content": "лично"}});
    let dm = expect(&admin(&host, "POST", "/messages", Some(dm)), 201)["data"].clone();
    assert_eq!(
        (dm["entity_type"].as_str(), dm["entity_id"].as_i64()),
        (Some("user"), Some(bob))
    );
    let back = json!({"message": {"entity_type": "user", "entity_id": 1, "content": "ок"}});
    let back = expect(
        &call(&host, &bob_token, "POST", "/messages", Some(back)),
        201,
    )["data"]
        .clone();
    assert_eq!(back["chat_id"], dm["chat_id"]);
}

#[test]
fn only_owner_admins_and_editors_post_in_a_channel() {
    let host = start();
    let (sub, sub_token) = user(&host, "subscriber");
    let (ed, ed_token) = user(&host, "editor");
    let channel = new_chat(&host, ADMIN, true, false, &[sub, ed]);
    expect(
        &admin(
            &host,
            "PUT",
            &format!("/chats/{channel}/members/{ed}"),
            Some(json!({"role": "editor"})),
        ),
        204,
    );
    post(&host, ADMIN, channel, "from the owner");
    post(&host, &ed_token, channel, "from an editor");
    let body = json!({"message": {"entity_id": channel, "content": "from a subscriber"}});
    assert_api_error(
        &call(&host, &sub_token, "POST", "/messages", Some(body)),
        403,
        "forbidden",
    );
    // The subscriber may comment in the channel's threads.
    let root = post(&host, ADMIN, channel, "announcement");
    let thread = expect(
        &admin(
            &host,
            "POST",
            &format!("/messages/{}/thread", id_of(&root)),
            None,
        ),
        201,
    )["data"]
        .clone();
    let comment = json!({"message": {"entity_type": "thread", "entity_id": thread["id"], "content": "question"}});
    expect(
        &call(&host, &sub_token, "POST", "/messages", Some(comment)),
        201,
    );
}

#[test]
fn an_outsider_added_to_a_thread_reads_the_thread_and_its_root_only() {
    let host = start();
    let (out, out_token) = user(&host, "outsider");
    let chat = new_chat(&host, ADMIN, false, false, &[]);
    let root = post(&host, ADMIN, chat, "root message");
    let secret = post(&host, ADMIN, chat, "parent chat history");
    let t = expect(
        &admin(
            &host,
            "POST",
            &format!("/messages/{}/thread", id_of(&root)),
            None,
        ),
        201,
    )["data"]
        .clone();
    assert_eq!(
        (t["message_id"].as_i64(), t["message_chat_id"].as_i64()),
        (Some(id_of(&root)), Some(chat))
    );
    let again = expect(
        &admin(
            &host,
            "POST",
            &format!("/messages/{}/thread", id_of(&root)),
            None,
        ),
        201,
    )["data"]
        .clone();
    assert_eq!(again, t, "creating a thread is idempotent");
    let t_chat = t["chat_id"].as_i64().expect("thread chat");
    // Not yet added: nothing is visible.
    assert_api_error(
        &call(
            &host,
            &out_token,
            "GET",
            &format!("/messages?chat_id={t_chat}"),
            None,
        ),
        404,
        "not_found",
    );
    expect(
        &admin(
            &host,
            "POST",
            &format!("/chats/{t_chat}/members"),
            Some(json!({"member_ids": [out]})),
        ),
        204,
    );
    // The thread: readable and writable.
    let comment = json!({"message": {"entity_id": t_chat, "content": "hello from outside"}});
    let c = expect(
        &call(&host, &out_token, "POST", "/messages", Some(comment)),
        201,
    )["data"]
        .clone();
    assert_eq!(
        (
            c["entity_type"].as_str(),
            c["entity_id"].as_i64(),
            c["root_chat_id"].as_i64()
        ),
        (Some("thread"), t["id"].as_i64(), Some(chat))
    );
    let in_thread: Vec<i64> = all_messages(&host, &out_token, t_chat)
        .iter()
        .map(id_of)
        .collect();
    assert!(in_thread.contains(&id_of(&c)));
    expect(
        &call(
            &host,
            &out_token,
            "GET",
            &format!("/threads/{}", id_of(&t)),
            None,
        ),
        200,
    );
    // The root message: readable, with its thread.
    let r = expect(
        &call(
            &host,
            &out_token,
            "GET",
            &format!("/messages/{}", id_of(&root)),
            None,
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(r["thread"]["chat_id"], t_chat);
    // The parent chat: 404 on its messages, on its other messages and on the chat.
    assert_api_error(
        &call(
            &host,
            &out_token,
            "GET",
            &format!("/messages?chat_id={chat}"),
            None,
        ),
        404,
        "not_found",
    );
    assert_api_error(
        &call(
            &host,
            &out_token,
            "GET",
            &format!("/messages/{}", id_of(&secret)),
            None,
        ),
        404,
        "not_found",
    );
    assert_api_error(
        &call(&host, &out_token, "GET", &format!("/chats/{chat}"), None),
        404,
        "not_found",
    );
    let found = expect(
        &call(
            &host,
            &out_token,
            "GET",
            "/search/messages?query=history",
            None,
        ),
        200,
    );
    assert_eq!(found["meta"]["total"], 0);
    // A thread cannot be created on a comment (400 thread_message).
    assert_api_error(
        &admin(
            &host,
            "POST",
            &format!("/messages/{}/thread", id_of(&c)),
            None,
        ),
        400,
        "thread_message",
    );
}

#[test]
fn reaction_limits_at_their_exact_boundaries() {
    let host = start();
    let (_, bob_token) = user(&host, "bob");
    let chat = new_chat(&host, ADMIN, false, true, &[]);
    let m = id_of(&post(&host, ADMIN, chat, "react to me"));
    let react = |token: &str, code: &str| {
        call(
            &host,
            token,
            "POST",
            &format!("/messages/{m}/reactions"),
            Some(json!({"code": code})),
        )
    };
    for i in 0..20 {
        let r = expect(&react(ADMIN, &format!("e{i}")), 201);
        assert_eq!(r["code"], format!("e{i}"));
        assert_eq!(r["user_id"], 1);
    }
    assert_api_error(&react(ADMIN, "e20"), 422, "user_limit");
    expect(&react(ADMIN, "e0"), 201);
    for i in 20..30 {
        expect(&react(&bob_token, &format!("e{i}")), 201);
    }
    assert_api_error(&react(&bob_token, "e30"), 422, "unique_limit");
    expect(&react(&bob_token, "e0"), 201);
    let list = expect(
        &admin(
            &host,
            "GET",
            &format!("/messages/{m}/reactions?limit=50"),
            None,
        ),
        200,
    );
    assert_eq!(list["data"].as_array().map(Vec::len), Some(31));
    expect(
        &call(
            &host,
            &bob_token,
            "DELETE",
            &format!("/messages/{m}/reactions?code=e0"),
            None,
        ),
        204,
    );
    assert_api_error(
        &call(
            &host,
            &bob_token,
            "DELETE",
            &format!("/messages/{m}/reactions?code=e0"),
            None,
        ),
        404,
        "not_found",
    );
}

#[test]
fn two_hundred_users_reacting_concurrently_are_all_recorded_up_to_the_general_limit() {
    let host = start();
    let chat = new_chat(&host, ADMIN, false, true, &[]);
    let m = id_of(&post(&host, ADMIN, chat, "popular"));
    let users: Vec<(i64, String)> = (0..200).map(|i| user(&host, &format!("fan{i}"))).collect();
    // 200 users x 5 reactions of 30 kinds = exactly 1000 reactions, all at
    // once: more writers than a small machine serves within the lock wait in
    // Spin's storage mode, so some may be told 503 and retry as the SDK does.
    let retried = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|s| {
        for (i, (_, token)) in users.iter().enumerate() {
            let (host, retried) = (&host, &retried);
            s.spawn(move || {
                for j in 0..5 {
                    let code = format!("k{}", (i + j * 7) % 30);
                    let (r, retries) = call_retrying(
                        host,
                        token,
                        "POST",
                        &format!("/messages/{m}/reactions"),
                        Some(json!({"code": code})),
                    );
                    assert_eq!(r.status, 201, "after {retries} retries: {}", r.text());
                    retried.fetch_add(retries, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    eprintln!("reactions retried after a 503: {}", retried.into_inner());
    let mut seen = HashSet::new();
    let mut path = format!("/messages/{m}/reactions?limit=50");
    loop {
        let page = expect(&admin(&host, "GET", &path, None), 200);
        for r in page["data"].as_array().expect("data") {
            assert!(seen.insert((r["user_id"].as_i64(), r["code"].as_str().map(str::to_owned))));
        }
        if page["meta"]["paginate"]["has_next"] != true {
            break;
        }
        path = format!(
            "/messages/{m}/reactions?limit=50&cursor={}",
            page["meta"]["paginate"]["next_page"]
                .as_str()
                .expect("cursor")
        );
    }
    assert_eq!(seen.len(), 1000);
    for (uid, _) in &users {
        assert_eq!(seen.iter().filter(|(u, _)| *u == Some(*uid)).count(), 5);
    }
    // The 1001st reaction, even of an existing kind, is refused.
    let r = call(
        &host,
        ADMIN,
        "POST",
        &format!("/messages/{m}/reactions"),
        Some(json!({"code": "k0"})),
    );
    assert_api_error(&r, 422, "general_limit");
}

#[test]
fn fifty_threads_posting_concurrently_lose_and_duplicate_nothing() {
    let host = start();
    let chat = new_chat(&host, ADMIN, false, false, &[]);
    std::thread::scope(|s| {
        for t in 0..50 {
            let host = &host;
            s.spawn(move || {
                for i in 0..6 {
                    post(host, ADMIN, chat, &format!("t{t}-m{i}"));
                }
            });
        }
    });
    let all = all_messages(&host, ADMIN, chat);
    let contents: HashSet<String> = all
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    let ids: HashSet<i64> = all.iter().map(id_of).collect();
    assert_eq!(all.len(), 300);
    assert_eq!(ids.len(), 300);
    assert_eq!(contents.len(), 300);
    for t in 0..50 {
        for i in 0..6 {
            assert!(contents.contains(&format!("t{t}-m{i}")));
        }
    }
    let mut sorted: Vec<i64> = all.iter().map(id_of).collect();
    let before = sorted.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(before, sorted, "newest first");
}

#[test]
fn read_state_and_read_member_ids() {
    let host = start();
    let (bob, bob_token) = user(&host, "bob");
    let chat = new_chat(&host, ADMIN, false, false, &[bob]);
    let ids: Vec<i64> = (0..3)
        .map(|i| id_of(&post(&host, ADMIN, chat, &format!("m{i}"))))
        .collect();
    let mark = |id: i64| {
        call(
            &host,
            &bob_token,
            "POST",
            &format!("/chats/{chat}/read"),
            Some(json!({"message_id": id})),
        )
    };
    let s = expect(&mark(ids[1]), 200)["data"].clone();
    assert_eq!(s["last_read_message_id"], ids[1]);
    assert_eq!(s["unread_count"], 1);
    let s = expect(&mark(ids[0]), 200)["data"].clone();
    assert_eq!(s["last_read_message_id"], ids[1], "monotonic");
    let s = expect(
        &call(
            &host,
            &bob_token,
            "GET",
            &format!("/chats/{chat}/read_state"),
            None,
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(s["unread_count"], 1);
    let readers = expect(
        &admin(
            &host,
            "GET",
            &format!("/messages/{}/read_member_ids", ids[0]),
            None,
        ),
        200,
    );
    assert_eq!(readers["data"], json!([bob]));
    let readers = expect(
        &admin(
            &host,
            "GET",
            &format!("/messages/{}/read_member_ids", ids[2]),
            None,
        ),
        200,
    );
    assert_eq!(readers["data"], json!([]));
    assert_api_error(&mark(999_999), 422, "not_found");
}

#[test]
fn search_finds_cyrillic_text_case_insensitively_with_filters() {
    let host = start();
    let (bob, bob_token) = user(&host, "bob");
    let (_, eve_token) = user(&host, "eve");
    let chat = new_chat(&host, ADMIN, false, false, &[bob]);
    let a = id_of(&post(&host, ADMIN, chat, "Вчера мы продали 756 ФУТБОЛОК"));
    let b = id_of(&post(&host, &bob_token, chat, "футболки закончились"));
    post(&host, ADMIN, chat, "другое");
    let q = |token: &str, qs: &str| {
        expect(
            &call(&host, token, "GET", &format!("/search/messages?{qs}"), None),
            200,
        )
    };
    let r = q(ADMIN, "query=%D0%A4%D1%83%D1%82%D0%B1%D0%BE%D0%BB");
    let found: Vec<i64> = r["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(found, vec![b, a]);
    assert_eq!(r["meta"]["total"], 2);
    assert!(r["meta"]["paginate"]["next_page"].is_string());
    let r = q(
        ADMIN,
        &format!("query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&user_ids[]={bob}&order=asc"),
    );
    assert_eq!(r["data"].as_array().map(Vec::len), Some(1));
    let r = q(
        ADMIN,
        "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB&sort=relevance&limit=1",
    );
    assert_eq!(r["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        q(&eve_token, "query=%D1%84%D1%83%D1%82%D0%B1%D0%BE%D0%BB")["meta"]["total"],
        0
    );
    assert_api_error(
        &admin(&host, "GET", "/search/messages?sort=random", None),
        400,
        "inclusion",
    );
}

#[test]
fn threads_list_standalone_threads_and_system_messages() {
    let host = start();
    let (bob, bob_token) = user(&host, "bob");
    let chat = new_chat(&host, ADMIN, false, false, &[]);
    expect(
        &admin(
            &host,
            "POST",
            &format!("/chats/{chat}/members"),
            Some(json!({"member_ids": [bob]})),
        ),
        204,
    );
    let texts: Vec<String> = all_messages(&host, ADMIN, chat)
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts, vec!["@owner added @bob"]);
    let root = post(&host, ADMIN, chat, "discuss");
    let t = expect(
        &admin(
            &host,
            "POST",
            &format!("/messages/{}/thread", id_of(&root)),
            None,
        ),
        201,
    )["data"]
        .clone();
    let standalone =
        expect(&call(&host, &bob_token, "POST", "/threads", None), 201)["data"].clone();
    assert!(standalone["message_id"].is_null() && standalone["message_chat_id"].is_null());
    let list = expect(&call(&host, &bob_token, "GET", "/threads", None), 200);
    let ids: HashSet<i64> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, HashSet::from([id_of(&t), id_of(&standalone)]));
    let list = expect(&admin(&host, "GET", "/threads", None), 200);
    let ids: Vec<i64> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![id_of(&t)]);
    assert_api_error(
        &admin(
            &host,
            "GET",
            &format!("/threads/{}", id_of(&standalone)),
            None,
        ),
        404,
        "not_found",
    );
}

#[test]
fn concurrent_new_kinds_of_reaction_stop_exactly_at_the_unique_limit() {
    let host = start();
    let chat = new_chat(&host, ADMIN, false, true, &[]);
    let m = id_of(&post(&host, ADMIN, chat, "race"));
    let users: Vec<(i64, String)> = (0..40).map(|i| user(&host, &format!("racer{i}"))).collect();
    let statuses: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, (_, token))| {
                let host = &host;
                s.spawn(move || {
                    let r = call(
                        host,
                        token,
                        "POST",
                        &format!("/messages/{m}/reactions"),
                        Some(json!({"code": format!("u{i}")})),
                    );
                    let body = r.json();
                    (r.status, body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let created = statuses.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = statuses
        .iter()
        .filter(|(s, _)| *s == 422)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created, 30, "{statuses:?}");
    assert_eq!(refused.len(), 10, "{statuses:?}");
    assert!(refused
        .iter()
        .all(|b| b["errors"][0]["code"] == "unique_limit"));
    let list = expect(
        &admin(
            &host,
            "GET",
            &format!("/messages/{m}/reactions?limit=50"),
            None,
        ),
        200,
    );
    assert_eq!(list["data"].as_array().map(Vec::len), Some(30));
}

/// The write lock held elsewhere for longer than the app waits (5 s): the
/// post is answered 503 with `Retry-After` and the official error shape,
/// never 500, and nothing is written; once the lock is free, it succeeds.
#[test]
fn a_write_lock_held_too_long_is_a_503_with_retry_after_and_writes_nothing() {
    let host = start();
    let chat = new_chat(&host, ADMIN, false, false, &[]);
    let db = host.database_path();
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN IMMEDIATE')\n\
             print('locked', flush=True)\n\
             time.sleep(7)\n\
             c.execute('ROLLBACK')\n",
        )
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 holds the lock");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("read");
    assert_eq!(line.trim(), "locked");
    let started = std::time::Instant::now();
    let busy = admin(
        &host,
        "POST",
        "/messages",
        Some(json!({"message": {"entity_id": chat, "content": "while locked"}})),
    );
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
    assert_eq!(busy.header("retry-after"), Some("1"));
    let body = busy.json();
    assert_eq!(body["errors"][0]["key"], "server");
    assert_eq!(body["errors"][0]["code"], "unhandled");
    assert!(body["errors"][0]["message"].is_string());
    assert!(holder.wait().expect("holder").success());
    assert!(
        all_messages(&host, ADMIN, chat)
            .iter()
            .all(|m| m["content"] != "while locked"),
        "nothing of the refused post was written"
    );
    let ok = post(&host, ADMIN, chat, "after the lock");
    assert_eq!(ok["content"], "after the lock");
}
