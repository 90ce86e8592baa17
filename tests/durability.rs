//! Crash durability: 16 clients post messages into 16 chats through the
//! release host; the host is killed with `kill -9` in the middle; after a
//! restart on the same state every message that was answered 201 is there
//! with its content, none is duplicated or half-written, and the full-text
//! index agrees with the messages table. The same for bulk additions of
//! members: each is whole or absent after the kill.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e_tests::api::{app, expect, API};
use e2e_tests::setup::{create_chat, create_user, id_of, Workspace};
use serde_json::{json, Value};

const ADMIN: &str = "durability-e2e-admin-token";

/// POSTs `body` to the API path as the owner: the status and body of the
/// answer, or `None` once the host is gone.
fn post(base: &str, path: &str, body: &Value) -> Option<(u16, String)> {
    let reply = ureq::post(&format!("{base}{API}{path}"))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .set("Content-Type", "application/json")
        .timeout(Duration::from_secs(10))
        .send_string(&body.to_string());
    match reply {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            Some((status, r.into_string().unwrap_or_default()))
        }
        Err(_) => None,
    }
}

/// The `data.id` of an answer's body.
fn id_in(body: &str) -> i64 {
    let v: Value = serde_json::from_str(body).expect("json");
    id_of(&v["data"])
}

/// Posts into `chat` until told to stop or the host is gone; the
/// `(id, content)` of every message answered 201 (a 503, the lock stayed
/// taken, is no acknowledgement).
fn post_until_gone(base: &str, chat: i64, client: usize, stop: &AtomicBool) -> Vec<(i64, String)> {
    let mut acked = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let content = format!("durable c{client} n{n}");
        let body = json!({"message": {"entity_id": chat, "content": content}});
        match post(base, "/messages", &body) {
            Some((201, answer)) => acked.push((id_in(&answer), content)),
            Some(_) => {}
            None => break,
        }
    }
    acked
}

/// Every live message of `chat`, oldest first.
fn all_messages(ws: &Workspace, chat: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/messages?chat_id={chat}&limit=50&sort=id&order=asc");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = expect(&ws.owner("GET", &path, None), 200);
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            return out;
        }
        out.extend(data);
        cursor = page["meta"]["paginate"]["next_page"]
            .as_str()
            .map(str::to_owned);
        if cursor.is_none() {
            return out;
        }
    }
}

/// Runs `clients` threads of `work(client, base_url, stop)` against the
/// host, kills it with `kill -9` after `after`, waits for the clients to
/// notice (5 s at most, then tells them to stop) and returns what they
/// collected, in client order.
fn kill_under_load<T: Send>(
    ws: &mut Workspace,
    clients: usize,
    after: Duration,
    work: impl Fn(usize, &str, &AtomicBool) -> Vec<T> + Sync,
) -> Vec<T> {
    let base = ws.host.url("");
    let base = base.trim_end_matches('/').to_owned();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|client| {
                let (base, stop, work) = (&base, &stop, &work);
                s.spawn(move || work(client, base, stop))
            })
            .collect();
        std::thread::sleep(after);
        assert!(!ws.host.kill().success(), "killed");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && workers.iter().any(|w| !w.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    })
}

#[test]
fn every_acknowledged_message_survives_a_kill_and_none_is_doubled() {
    let mut ws = Workspace::start(ADMIN);
    let chats: Vec<i64> = (0..16)
        .map(|i| {
            id_of(&create_chat(
                &ws.host,
                ADMIN,
                json!({"name": format!("durable {i}")}),
            ))
        })
        .collect();
    let acked: Vec<(i64, i64, String)> = kill_under_load(
        &mut ws,
        chats.len(),
        Duration::from_millis(1500),
        |client, base, stop| {
            let chat = chats[client];
            post_until_gone(base, chat, client, stop)
                .into_iter()
                .map(|(id, content)| (chat, id, content))
                .collect()
        },
    );
    assert!(
        acked.len() > 100,
        "only {} messages before the kill",
        acked.len()
    );

    ws.host.restart(app(ADMIN));
    let mut stored: HashMap<i64, String> = HashMap::new();
    let mut total = 0;
    for chat in &chats {
        let list = all_messages(&ws, *chat);
        total += list.len();
        let mut seen = HashSet::new();
        for m in list {
            let content = m["content"].as_str().expect("content").to_owned();
            assert!(
                seen.insert(content.clone()),
                "{content} twice in chat {chat}"
            );
            assert_eq!(m["chat_id"], *chat);
            assert!(
                m["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&format!("message={}", m["id"]))),
                "{m}"
            );
            stored.insert(id_of(&m), content);
        }
    }
    for (chat, id, content) in &acked {
        assert_eq!(
            stored.get(id),
            Some(content),
            "message {id} of chat {chat} lost"
        );
    }
    // At most the requests in flight at the kill were stored unanswered.
    assert!(
        (acked.len()..=acked.len() + 16).contains(&total),
        "{total} stored, {} answered",
        acked.len()
    );
    let search = expect(
        &ws.owner("GET", "/search/messages?query=durable&limit=1", None),
        200,
    );
    assert_eq!(
        search["meta"]["total"],
        json!(total),
        "the search index agrees"
    );
}

/// Adds `members` to a new chat after another until the host is gone; the
/// chats created, each with whether its addition was answered 204.
fn add_until_gone(base: &str, members: &[i64], stop: &AtomicBool) -> Vec<(i64, bool)> {
    let mut chats = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let chat = match post(
            base,
            "/chats",
            &json!({"chat": {"name": format!("bulk {n}")}}),
        ) {
            Some((201, answer)) => id_in(&answer),
            Some(_) => continue,
            None => break,
        };
        let added = post(
            base,
            &format!("/chats/{chat}/members"),
            &json!({"member_ids": members}),
        );
        chats.push((chat, matches!(added, Some((204, _)))));
        if added.is_none() {
            break;
        }
    }
    chats
}

/// The same for a bulk addition: 8 clients each add 500 users to one new
/// chat after another, the host is killed, and after the restart every
/// chat has all 500 or none of them, with the system message that announces
/// the addition exactly when they are there; every addition answered 204
/// is whole.
#[test]
fn a_bulk_member_addition_is_whole_or_absent_after_a_kill() {
    let mut ws = Workspace::start(ADMIN);
    let members: Vec<i64> = (0..500)
        .map(|i| {
            id_of(&create_user(
                &ws.host,
                ADMIN,
                json!({"email": format!("bulk{i}@example.com")}),
            ))
        })
        .collect();
    let chats: Vec<(i64, bool)> =
        kill_under_load(&mut ws, 8, Duration::from_millis(2000), |_, base, stop| {
            add_until_gone(base, &members, stop)
        });
    let answered = chats.iter().filter(|(_, ok)| *ok).count();
    assert!(answered >= 8, "only {answered} additions before the kill");

    ws.host.restart(app(ADMIN));
    let mut whole = 0;
    for (chat, ok) in &chats {
        let got = expect(&ws.owner("GET", &format!("/chats/{chat}"), None), 200);
        let count = got["data"]["member_ids"].as_array().map_or(0, Vec::len);
        assert!(
            count == 1 || count == 501,
            "chat {chat} has {count} members: half an addition"
        );
        if *ok {
            assert_eq!(count, 501, "the addition to chat {chat} was answered 204");
        }
        let announced = all_messages(&ws, *chat).len();
        assert_eq!(
            announced > 0,
            count == 501,
            "chat {chat}: {count} members, {announced} messages"
        );
        whole += usize::from(count == 501);
    }
    eprintln!(
        "{} chats: {answered} additions answered, {whole} whole after the restart",
        chats.len()
    );
    assert!(
        (answered..=answered + 8).contains(&whole),
        "{whole} whole, {answered} answered"
    );
}
