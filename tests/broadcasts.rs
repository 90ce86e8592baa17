//! Broadcasts end to end (our extension, `/api/shared/v1/broadcasts`): the
//! release `spin-host` serving the real `spin.toml`, recipients reading
//! their personal chats with their own tokens, and a `kill -9` in the
//! middle of a delivery.

use std::time::{Duration, Instant};

use e2e_tests::api::{call, expect, raw, API};
use e2e_tests::receiver::{Receiver, HOLD};
use e2e_tests::setup::{self, assert_api_error, assert_oauth_error, id_of, Workspace};
use e2e_tests::{send, Host, Reply};
use serde_json::{json, Value};

const ADMIN: &str = "broadcasts-e2e-admin-token";

/// `POST /broadcasts` as the owner with an optional `Idempotency-Key`.
fn create(host: &Host, body: &Value, key: Option<&str>) -> Reply {
    let mut req = ureq::post(&host.url(&format!("{API}/broadcasts")))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .set("Content-Type", "application/json")
        .timeout(Duration::from_secs(60));
    if let Some(k) = key {
        req = req.set("Idempotency-Key", k);
    }
    send(req, Some(body.to_string().as_bytes()))
}

/// Waits until broadcast `id` is in `state`; returns it.
fn wait_for_state(ws: &Workspace, id: i64, state: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let b = expect(&ws.owner("GET", &format!("/broadcasts/{id}"), None), 200)["data"].clone();
        if b["state"] == state {
            return b;
        }
        assert!(Instant::now() < deadline, "still {b}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` users `{prefix}{i}` in `department`, created 8 at a time; their ids.
fn users(ws: &Workspace, prefix: &str, n: usize, department: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                s.spawn(move || {
                    (0..n)
                        .filter(|i| i % 8 == w)
                        .map(|i| {
                            id_of(&setup::create_user(
                                &ws.host,
                                ws.admin,
                                json!({"email": format!("{prefix}{i}@example.com"), "first_name": "Сотрудник",
                                       "last_name": format!("№{i}"), "department": department}),
                            ))
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    ids.sort_unstable();
    ids
}

/// The only message of `token`'s personal chat `chat_id`.
fn personal_messages(ws: &Workspace, token: &str, chat_id: i64) -> Vec<Value> {
    let page = expect(
        &call(
            &ws.host,
            token,
            "GET",
            &format!("/messages?chat_id={chat_id}"),
            None,
        ),
        200,
    );
    page["data"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_admin_polls_three_departments_and_sees_who_read_and_voted() {
    let ws = Workspace::start(ADMIN);
    let sales = users(&ws, "sales", 3, "Продажи");
    let it = users(&ws, "it", 2, "ИТ");
    let hr = users(&ws, "hr", 2, "Кадры");
    let (excluded, away) = (it[1], hr[1]);
    let tag = expect(
        &ws.owner(
            "POST",
            "/group_tags",
            Some(json!({"group_tag": {"name": "Отпуск"}})),
        ),
        201,
    )["data"]["id"]
        .as_i64()
        .expect("tag id");
    expect(
        &ws.owner(
            "PUT",
            &format!("/users/{away}"),
            Some(json!({"user": {"list_tags": ["Отпуск"]}})),
        ),
        200,
    );
    let body = json!({"broadcast": {
        "content": "Корпоратив в пятницу: идёте?",
        "buttons": [[{"text": "Да", "data": "yes"}, {"text": "Нет", "data": "no"}]],
        "audience": {"departments": ["Продажи", "ИТ", "Кадры"]},
        "exclude": {"user_ids": [excluded], "group_tag_ids": [tag]},
    }});
    let first = create(&ws.host, &body, Some("poll-1"));
    let b = expect(&first, 201)["data"].clone();
    let id = id_of(&b);
    assert_eq!(b["recipients_count"], 5, "{b}");
    assert_eq!(b["content"], "Корпоратив в пятницу: идёте?");
    // A retried create returns the first broadcast; another body with the
    // same key is a conflict.
    let again = create(&ws.host, &body, Some("poll-1"));
    assert_eq!(expect(&again, 201)["data"]["id"], id);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = json!({"broadcast": {"content": "Другое", "audience": {"everyone": true}}});
    assert_api_error(
        &create(&ws.host, &other, Some("poll-1")),
        409,
        "Idempotency-Key",
        "already_exists",
    );

    let sent = wait_for_state(&ws, id, "sent", Duration::from_secs(20));
    assert_eq!(sent["delivered_count"], 5);
    let recipients = expect(
        &ws.owner("GET", &format!("/broadcasts/{id}/recipients"), None),
        200,
    );
    let rows = recipients["data"].as_array().cloned().unwrap_or_default();
    let got: Vec<i64> = rows
        .iter()
        .map(|r| r["user_id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got, vec![sales[0], sales[1], sales[2], it[0], hr[0]]);

    // Each recipient finds it in their personal chat, with the buttons.
    let mut tokens = Vec::new();
    for r in &rows {
        let user = r["user_id"].as_i64().expect("id");
        let (_, token) = setup::issue_token(&ws.host, ws.admin, user, None);
        let chat = r["chat_id"].as_i64().expect("chat");
        let messages = personal_messages(&ws, &token, chat);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["id"], r["message_id"]);
        assert_eq!(messages[0]["entity_type"], "user");
        assert_eq!(messages[0]["buttons"][0][0]["data"], "yes");
        tokens.push((
            user,
            token,
            chat,
            r["message_id"].as_i64().expect("message"),
        ));
    }
    // Two read it; one of them votes yes (twice), the other no and reacts;
    // a third votes without our read call (pressing a button is not reading).
    let (u0, t0, c0, m0) = &tokens[0];
    let (u1, t1, c1, m1) = &tokens[1];
    let (u2, t2, _, m2) = &tokens[2];
    for (t, c, m) in [(t0, c0, m0), (t1, c1, m1)] {
        expect(
            &call(
                &ws.host,
                t,
                "POST",
                &format!("/chats/{c}/read"),
                Some(json!({"message_id": m})),
            ),
            200,
        );
    }
    for (t, m, data) in [
        (t0, m0, "yes"),
        (t0, m0, "yes"),
        (t1, m1, "no"),
        (t2, m2, "no"),
    ] {
        let r = call(
            &ws.host,
            t,
            "POST",
            &format!("/messages/{m}/button_clicks"),
            Some(json!({"data": data})),
        );
        assert!(r.status < 300, "{}", r.text());
    }
    expect(
        &call(
            &ws.host,
            t1,
            "POST",
            &format!("/messages/{m1}/reactions"),
            Some(json!({"code": "🎉"})),
        ),
        201,
    );
    // read_member_ids, the official read receipt, agrees.
    let receipt = expect(
        &ws.owner("GET", &format!("/messages/{m0}/read_member_ids"), None),
        200,
    );
    assert!(
        receipt["data"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(u0))),
        "{receipt}"
    );

    let s = expect(
        &ws.owner("GET", &format!("/broadcasts/{id}/analytics"), None),
        200,
    )["data"]
        .clone();
    assert_eq!(s["recipients"], 5);
    assert_eq!(s["read"], json!({"count": 2, "percent": 40.0}));
    assert_eq!(s["unread"], json!({"count": 3, "percent": 60.0}));
    assert_eq!(s["clicked"], json!({"count": 3, "percent": 60.0}));
    assert_eq!(s["reacted"], json!({"count": 1, "percent": 20.0}));
    assert_eq!(
        s["buttons"][0],
        json!({"data": "yes", "text": "Да", "count": 1, "percent": 20.0})
    );
    assert_eq!(
        s["buttons"][1],
        json!({"data": "no", "text": "Нет", "count": 2, "percent": 40.0})
    );
    assert_eq!(
        s["reactions"],
        json!([{"code": "🎉", "count": 1, "percent": 20.0}])
    );

    let list = |state: &str| -> Vec<i64> {
        expect(
            &ws.owner(
                "GET",
                &format!("/broadcasts/{id}/recipients?state={state}"),
                None,
            ),
            200,
        )["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["user_id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(list("read"), vec![*u0, *u1]);
    assert_eq!(list("clicked:no"), vec![*u1, *u2]);
    assert_eq!(list("unread"), vec![*u2, tokens[3].0, tokens[4].0]);
    assert_api_error(
        &ws.owner(
            "GET",
            &format!("/broadcasts/{id}/recipients?state=bored"),
            None,
        ),
        400,
        "state",
        "inclusion",
    );

    // Who has not opened it, as CSV for a spreadsheet.
    let csv = ws.owner(
        "GET",
        &format!("/broadcasts/{id}/recipients.csv?state=unread"),
        None,
    );
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.body.starts_with("\u{feff}".as_bytes()));
    let text = String::from_utf8(csv.body.clone()).expect("utf-8");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("user_id,nickname,first_name,last_name,email,department,state"));
    assert!(
        lines[1].starts_with(&format!("{u2},"))
            && lines[1].contains(",Сотрудник,№")
            && lines[1].contains(",Продажи,unread,"),
        "{}",
        lines[1]
    );

    // The list shows it with its headline numbers.
    let all = expect(&ws.owner("GET", "/broadcasts", None), 200);
    assert_eq!(all["data"][0]["id"], id);
    assert_eq!(all["data"][0]["read_count"], 2);
}

#[test]
fn bad_input_gets_precise_errors_and_stores_nothing() {
    let ws = Workspace::start(ADMIN);
    let (user, user_token) = setup::user_with_token(&ws.host, ws.admin, "plain", "user");
    let post = |body: Value| ws.owner("POST", "/broadcasts", Some(body));
    assert_api_error(&post(json!({"content": "x"})), 400, "broadcast", "required");
    assert_api_error(
        &post(json!({"broadcast": {"content": "x"}})),
        422,
        "audience",
        "blank",
    );
    let unknown = assert_api_error(
        &post(json!({"broadcast": {"content": "x", "audience": {"user_ids": [user, 9001, 9002]}}})),
        422,
        "audience.user_ids",
        "not_found",
    );
    assert_eq!(
        unknown["errors"][0]["payload"],
        json!({"ids": [9001, 9002]})
    );
    assert_api_error(
        &post(
            json!({"broadcast": {"content": "я".repeat(20_001), "audience": {"everyone": true}}}),
        ),
        422,
        "content",
        "too_long",
    );
    assert_api_error(
        &post(
            json!({"broadcast": {"content": "x", "audience": {"everyone": true}, "scheduled_at": "2020-01-01T00:00:00Z"}}),
        ),
        422,
        "scheduled_at",
        "invalid",
    );
    assert_api_error(
        &post(json!({"broadcast": {"content": "x", "audience": {"roles": ["boss"]}}})),
        422,
        "audience.roles.0",
        "inclusion",
    );
    assert_api_error(
        &post(
            json!({"broadcast": {"content": "x", "sender_id": user, "audience": {"everyone": true}}}),
        ),
        422,
        "sender_id",
        "not_found",
    );
    // Only the owner, admins and bots given the scope may broadcast.
    assert_oauth_error(
        &raw(&ws.host, None, "POST", "/broadcasts", Some(b"{}")),
        401,
        "invalid_token",
    );
    assert_oauth_error(
        &call(
            &ws.host,
            &user_token,
            "POST",
            "/broadcasts",
            Some(json!({"broadcast": {}})),
        ),
        403,
        "insufficient_scope",
    );
    assert_oauth_error(
        &call(&ws.host, &user_token, "GET", "/broadcasts", None),
        403,
        "insufficient_scope",
    );
    // The extension scopes stay out of the official token info.
    let info = expect(&ws.owner("GET", "/oauth/token/info", None), 200);
    assert!(
        !info["data"]["scopes"].to_string().contains("broadcasts"),
        "{info}"
    );
    assert_api_error(
        &ws.owner("GET", "/broadcasts/77", None),
        404,
        "id",
        "not_found",
    );
    let listed = expect(&ws.owner("GET", "/broadcasts", None), 200);
    assert_eq!(listed["data"], json!([]), "nothing was stored");
}

#[test]
fn a_recall_deletes_every_message_and_a_scheduled_broadcast_waits_and_can_be_cancelled() {
    let ws = Workspace::start(ADMIN);
    let staff = users(&ws, "staff", 4, "Склад");
    let b = expect(
        &create(&ws.host, &json!({"broadcast": {"content": "Ошибочная рассылка", "audience": {"departments": ["Склад"]}}}), None),
        201,
    )["data"]
        .clone();
    let id = id_of(&b);
    wait_for_state(&ws, id, "sent", Duration::from_secs(20));
    let recalled = expect(
        &ws.owner("POST", &format!("/broadcasts/{id}/recall"), None),
        200,
    )["data"]
        .clone();
    assert_eq!(recalled["state"], "recalling");
    wait_for_state(&ws, id, "recalled", Duration::from_secs(20));
    let (_, token) = setup::issue_token(&ws.host, ws.admin, staff[0], None);
    let chat = expect(
        &ws.owner("GET", &format!("/broadcasts/{id}/recipients"), None),
        200,
    )["data"][0]["chat_id"]
        .as_i64()
        .expect("chat");
    assert!(
        personal_messages(&ws, &token, chat).is_empty(),
        "the message is gone"
    );
    let search = expect(
        &call(
            &ws.host,
            &token,
            "GET",
            "/search/messages?query=Ошибочная",
            None,
        ),
        200,
    );
    assert_eq!(search["data"], json!([]), "{search}");

    let later = expect(
        &create(
            &ws.host,
            &json!({"broadcast": {"content": "Завтра", "audience": {"departments": ["Склад"]}, "scheduled_at": "2099-01-01T09:00:00+03:00"}}),
            None,
        ),
        201,
    )["data"]
        .clone();
    assert_eq!(
        (later["state"].as_str(), later["recipients_count"].as_i64()),
        (Some("scheduled"), Some(4))
    );
    assert_eq!(later["scheduled_at"], "2099-01-01T06:00:00.000Z");
    let run = expect(&ws.owner("POST", "/broadcasts/run", None), 200);
    assert_eq!(run["data"]["broadcast_ids"], json!([]), "not due yet");
    let later_id = id_of(&later);
    assert_api_error(
        &ws.owner("POST", &format!("/broadcasts/{later_id}/recall"), None),
        422,
        "id",
        "not_applicable",
    );
    let cancelled = expect(
        &ws.owner("POST", &format!("/broadcasts/{later_id}/cancel"), None),
        200,
    )["data"]
        .clone();
    assert_eq!(cancelled["state"], "cancelled");
    assert_api_error(
        &ws.owner("POST", &format!("/broadcasts/{later_id}/cancel"), None),
        422,
        "id",
        "not_applicable",
    );
}

#[test]
fn a_kill_in_the_middle_of_a_delivery_loses_and_repeats_nothing() {
    let mut ws = Workspace::start(ADMIN);
    let n = 3_000;
    let staff = users(&ws, "crew", n, "Смена");
    // Sent as a bot whose receiver hangs: the worker sends each batch's
    // webhooks before the next batch, so it is stuck after the first one
    // and the kill lands with 500 messages stored and 2,500 not.
    let receiver = Receiver::start(&[HOLD]);
    let bot = expect(
        &ws.owner(
            "POST",
            "/bots",
            Some(json!({"webhook": {"name": "Смены", "nickname": "shifts_bot", "outgoing_url": receiver.url,
                                   "events": ["message_new"], "trigger_on": "all_messages"}})),
        ),
        201,
    )["data"]
        .clone();
    let id = id_of(
        &expect(
            &create(
                &ws.host,
                &json!({"broadcast": {"content": "Смена отменяется", "sender_id": id_of(&bot),
                                      "audience": {"departments": ["Смена"]}}}),
                None,
            ),
            201,
        )["data"],
    );
    let first = receiver.wait_for(500, Duration::from_secs(30));
    assert_eq!(
        first.len(),
        500,
        "the bot gets message_new for its first batch"
    );
    assert_eq!(first[0].json()["content"], "Смена отменяется");
    let at_kill = expect(&ws.owner("GET", &format!("/broadcasts/{id}"), None), 200)["data"]
        ["delivered_count"]
        .as_i64()
        .unwrap_or(0);
    assert!(!ws.host.kill().success());
    receiver.answer(&[200]);
    assert_eq!(at_kill, 500, "killed between batches");
    // The host's scheduler resumes it once the dead worker's lease is over.
    ws.host.restart(e2e_tests::api::app(ADMIN));
    let done = wait_for_state(&ws, id, "sent", Duration::from_secs(60));
    assert_eq!(done["delivered_count"], n as i64);
    let s = expect(
        &ws.owner("GET", &format!("/broadcasts/{id}/analytics"), None),
        200,
    )["data"]
        .clone();
    assert_eq!(s["delivered"]["count"], n as i64);
    // Exactly one message in every recipient's personal chat: the first,
    // the middle and the last recipient read theirs with their own token.
    for user in [staff[0], staff[n / 2], staff[n - 1]] {
        let (_, token) = setup::issue_token(&ws.host, ws.admin, user, None);
        let chats = expect(
            &call(&ws.host, &token, "GET", "/chats?personal=true", None),
            200,
        );
        let chat = chats["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["personal"] == json!(true))
            .map(id_of)
            .unwrap_or_else(|| panic!("no personal chat: {chats}"));
        let messages = personal_messages(&ws, &token, chat);
        assert_eq!(messages.len(), 1, "user {user}: {messages:?}");
        assert_eq!(messages[0]["content"], "Смена отменяется");
        let search = expect(
            &call(
                &ws.host,
                &token,
                "GET",
                "/search/messages?query=отменяется",
                None,
            ),
            200,
        );
        assert_eq!(
            search["meta"]["total"], 1,
            "the search index agrees: {search}"
        );
    }
    // No recipient was given a second message, nor passed over.
    let per_user = expect(
        &ws.owner(
            "GET",
            &format!("/broadcasts/{id}/recipients?state=undelivered"),
            None,
        ),
        200,
    );
    assert_eq!(per_user["data"], json!([]));
}
