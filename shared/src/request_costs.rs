//! What the hot requests cost in SQL, on a fresh connection as every request
//! gets one on Spin: the statements `POST /messages` (also into a chat with
//! 10 subscribed bots, and the delivery of their webhooks after the
//! response), `GET /messages` (50), `GET /threads`, `GET /profile`, `GET
//! /bots`, a bot's delivery log and
//! `POST /messages/{id}/reactions` run, from the connection pragmas to the response, and
//! how many of them run while the write lock is held (between `BEGIN
//! IMMEDIATE` and `COMMIT`). On Spin every statement is a trip to a blocking
//! thread and a fresh prepare, and writers queue for the lock, so these
//! numbers are the lean request path's budget: a change that adds
//! statements to one of these paths fails here and prints the list.

use crate::auth::context::{Config, Handler};
use crate::platform::db::{Db, NativeDb};
use crate::platform::http::Request;
use crate::testutil::*;
use crate::webhooks::delivery::{self, Attempt, Outcome, OutgoingWebhook, Transport};
use serde_json::json;
use std::path::PathBuf;

/// A database file with a member, their token and a chat with 60 messages.
struct Workspace {
    dir: PathBuf,
    path: PathBuf,
    token: String,
    chat_id: i64,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn workspace(name: &str) -> Workspace {
    let dir = std::env::temp_dir().join(format!("request-costs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("db.sqlite");
    let db = NativeDb::open(&path).expect("open");
    crate::platform::migrate::migrate(&db).expect("migrate");
    let user = create_user(&db, "member@example.com", "user");
    let token = personal_token(&db, user);
    let chat = create_chat(&db, "General", &[user]);
    let mut ws = Workspace {
        dir,
        path,
        token,
        chat_id: chat,
    };
    for i in 0..60 {
        let (status, _, _) = ws.request(
            crate::components::messages,
            "POST",
            "/messages",
            Some(json!({"message": {"entity_id": chat, "content": format!("message {i}")}})),
        );
        assert_eq!(status, 201);
    }
    ws
}

impl Workspace {
    /// Runs one request on a fresh connection: its status, statements and
    /// JSON answer (`Null` when there is none).
    fn request(
        &mut self,
        handler: Handler,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, Vec<String>, serde_json::Value) {
        let conn = NativeDb::open_bare(&self.path).expect("open");
        self.request_on(&conn, handler, method, path, body)
    }

    /// [`Workspace::request`] on a given connection.
    fn request_on(
        &mut self,
        conn: &NativeDb,
        handler: Handler,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, Vec<String>, serde_json::Value) {
        let mut req = Request::new(method, &format!("/api/shared/v1{path}"))
            .with_header("authorization", &format!("Bearer {}", self.token))
            .with_header("host", "chat.test");
        if let Some(body) = body {
            req = req.with_json(&body);
        }
        let cfg = Config {
            admin_token: Some(ADMIN.into()),
            ..Config::default()
        };
        // Opened as the Spin adapter opens it: its riders read with the setup.
        let db = RecordingDb::new(conn);
        db.read_setup_with(&crate::auth::context::riders(&cfg, &req))
            .expect("setup");
        let resp = handler(&db, &cfg, &req);
        let answer = serde_json::from_slice(&resp.body).unwrap_or_default();
        (resp.status, db.statements(), answer)
    }
}

/// How many statements ran, and how many of them held the write lock:
/// every statement of a write transaction, and a write run on its own.
fn cost(statements: &[String]) -> (usize, usize) {
    let mut locked = 0;
    let mut inside = false;
    for s in statements {
        let head = s.trim_start().to_ascii_uppercase();
        if head.starts_with("BEGIN") {
            inside = true;
        }
        let write = ["INSERT", "UPDATE", "DELETE"]
            .iter()
            .any(|w| head.starts_with(w));
        if inside || write {
            locked += 1;
        }
        if head.starts_with("COMMIT") || head.starts_with("ROLLBACK") {
            inside = false;
        }
    }
    (statements.len(), locked)
}

fn assert_budget(what: &str, statements: &[String], total: usize, locked: usize) {
    let (n, l) = cost(statements);
    eprintln!("{what}: {n} statements, {l} holding the write lock");
    assert!(
        n <= total && l <= locked,
        "{what} runs {n} statements ({l} under the write lock); the budget is {total} ({locked}):\n{}",
        statements.join("\n")
    );
}

#[test]
fn posting_a_message_stays_within_its_statement_budget() {
    let mut ws = workspace("post");
    let chat = ws.chat_id;
    let (status, statements, _) = ws.request(
        crate::components::messages,
        "POST",
        "/messages",
        Some(json!({"message": {"entity_id": chat, "content": "hello"}})),
    );
    assert_eq!(status, 201);
    assert_budget("POST /messages", &statements, 4, 1);
}

#[test]
fn reading_fifty_messages_stays_within_its_statement_budget() {
    let mut ws = workspace("list");
    let chat = ws.chat_id;
    let (status, statements, _) = ws.request(
        crate::components::messages,
        "GET",
        &format!("/messages?chat_id={chat}&limit=50"),
        None,
    );
    assert_eq!(status, 200);
    assert_budget("GET /messages?limit=50", &statements, 2, 0);
}

#[test]
fn listing_threads_stays_within_its_statement_budget() {
    let mut ws = workspace("threads");
    let chat = ws.chat_id;
    let (_, _, page) = ws.request(
        crate::components::messages,
        "GET",
        &format!("/messages?chat_id={chat}&limit=5"),
        None,
    );
    for m in page["data"].as_array().expect("messages") {
        let (status, _, _) = ws.request(
            crate::components::messages,
            "POST",
            &format!("/messages/{}/thread", m["id"]),
            None,
        );
        assert_eq!(status, 201);
    }
    let (status, statements, listed) =
        ws.request(crate::components::messages, "GET", "/threads", None);
    assert_eq!(status, 200);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(5));
    assert_budget("GET /threads (5)", &statements, 2, 0);
}

#[test]
fn reading_the_profile_stays_within_its_statement_budget() {
    let mut ws = workspace("profile");
    let (status, statements, _) = ws.request(crate::components::users, "GET", "/profile", None);
    assert_eq!(status, 200);
    assert_budget("GET /profile", &statements, 2, 0);
}

#[test]
fn adding_a_reaction_stays_within_its_statement_budget() {
    let mut ws = workspace("react");
    let chat = ws.chat_id;
    let (status, _, posted) = ws.request(
        crate::components::messages,
        "POST",
        "/messages",
        Some(json!({"message": {"entity_id": chat, "content": "react to me"}})),
    );
    assert_eq!(status, 201);
    let id = posted["data"]["id"].as_i64().expect("message id");
    let (status, statements, _) = ws.request(
        crate::components::reactions,
        "POST",
        &format!("/messages/{id}/reactions"),
        Some(json!({"code": "👍"})),
    );
    assert_eq!(status, 201);
    assert_budget("POST /messages/{id}/reactions", &statements, 11, 5);
}

/// Receivers that all answer 200 at once.
#[derive(Debug)]
struct AnsweringOk;

impl Transport for AnsweringOk {
    fn send_all(&self, hooks: &[OutgoingWebhook]) -> Vec<Attempt> {
        hooks
            .iter()
            .map(|_| Attempt {
                outcome: Outcome::Status(200),
                latency_ms: 1,
                body: Vec::new(),
            })
            .collect()
    }
}

#[test]
fn posting_into_a_chat_with_ten_bots_stays_within_its_statement_budget() {
    let mut ws = workspace("bots");
    let conn = NativeDb::open(&ws.path).expect("open");
    let mut members = Vec::new();
    for i in 0..10 {
        let bot = create_bot(&conn, &format!("bot{i}"), Some("http://bot.example/hook"));
        conn.execute(
            "UPDATE bots SET events_json = '[\"message_new\"]', trigger_on = 'all_messages' \
             WHERE user_id = ?",
            &[bot.into()],
        )
        .expect("subscribe");
        members.push(bot);
    }
    let author = conn
        .query_row(
            "SELECT id FROM users WHERE email = 'member@example.com'",
            &[],
        )
        .expect("member")
        .expect("the member")
        .i64(0)
        .expect("id");
    members.push(author);
    let chat = create_chat(&conn, "With bots", &members);
    let (status, statements, answer) = ws.request_on(
        &conn,
        crate::components::messages,
        "POST",
        "/messages",
        Some(json!({"message": {"entity_id": chat, "content": "hello bots"}})),
    );
    assert_eq!(status, 201, "{answer}");
    assert_budget("POST /messages, 10 bots", &statements, 8, 7);
    // After the response, the same invocation sends the 10 webhooks and
    // records them.
    let scheduled = crate::platform::outbox::scheduled();
    assert_eq!(scheduled.leased.len(), 10);
    let db = RecordingDb::new(&conn);
    let sent = delivery::run(&db, &scheduled, &AnsweringOk, true).expect("deliver");
    assert_eq!(sent, 10);
    assert_budget("delivering its 10 webhooks", &db.statements(), 2, 1);
}

#[test]
fn listing_bots_and_a_bots_deliveries_stays_within_its_statement_budget() {
    let mut ws = workspace("bots-list");
    let mut bots = Vec::new();
    for i in 0..5 {
        let (status, _, answer) = ws.request(
            crate::components::webhooks,
            "POST",
            "/bots",
            Some(json!({"webhook": {"name": format!("Listed {i}"), "nickname": format!("listed_{i}_bot"),
                                    "outgoing_url": "https://hooks.example.com/in"}})),
        );
        assert_eq!(status, 201, "{answer}");
        bots.push(answer["data"]["id"].as_i64().expect("bot id"));
    }
    let (status, statements, answer) =
        ws.request(crate::components::webhooks, "GET", "/bots?limit=50", None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(5));
    assert_budget("GET /bots (5 bots)", &statements, 3, 0);

    let conn = NativeDb::open(&ws.path).expect("open");
    for event in 0..5 {
        conn.execute(
            "INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, body, state, attempts, \
             next_attempt_at, created_at) VALUES (?, ?, 'message_new', 'https://hooks.example.com/in', \
             '{}', 'pending', 2, '2026-12-06T10:00:00.000Z', '2026-12-06T10:00:00.000Z')",
            &[bots[0].into(), event.into()],
        )
        .expect("delivery");
        let delivery = conn.last_insert_rowid();
        for _ in 0..2 {
            conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, created_at) \
                 VALUES (?, ?, 500, 3, '2026-12-06T10:00:00.000Z')",
                &[delivery.into(), bots[0].into()],
            )
            .expect("attempt");
        }
    }
    let path = format!("/bots/{}/deliveries?limit=50", bots[0]);
    let (status, statements, answer) = ws.request(crate::components::webhooks, "GET", &path, None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(5));
    assert_budget(
        "GET /bots/{id}/deliveries (5 deliveries)",
        &statements,
        5,
        0,
    );
}
