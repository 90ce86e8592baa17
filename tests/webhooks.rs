//! The webhooks area, end to end: the release `spin-host` serving the real
//! `spin.toml`, bots created through the official `POST /bots`, and real
//! HTTP receivers on loopback (the app is told it may reach them with
//! `webhook_allow_private`). Each test documents a rule of
//! `guides/webhook-events.md` and `guides/webhook-handler.md`.

use std::time::Duration;

use e2e_tests::api::{call, expect};
use e2e_tests::receiver::{Receiver, HOLD};
use e2e_tests::setup::{self, assert_api_error, create_chat, id_of, Workspace};
use serde_json::{json, Value};

const ADMIN: &str = "webhooks-e2e-admin-token";
const WAIT: Duration = Duration::from_secs(10);

/// A bot created by the owner with `webhook` settings: `(id, token, secret)`.
fn bot(ws: &Workspace, webhook: Value) -> (i64, String, String) {
    let body = json!({ "webhook": webhook });
    let created = expect(&ws.owner("POST", "/bots", Some(body)), 201);
    let data = &created["data"];
    (
        id_of(data),
        data["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        data["signing_secret"]
            .as_str()
            .expect("signing_secret")
            .to_owned(),
    )
}

/// The bot's delivery log (`query` appended), once its newest delivery
/// has an attempt recorded (the receiver may see a request a moment before
/// the host records the answer).
fn log_after_attempt(ws: &Workspace, bot_id: i64, query: &str) -> Value {
    log_once(ws, bot_id, query, |log| {
        log["data"][0]["attempts_count"].as_i64().unwrap_or(0) > 0
    })
}

/// The bot's delivery log (with `query`) once `done` holds for it, or as it
/// is after [`WAIT`].
fn log_once(ws: &Workspace, bot_id: i64, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    let path = format!("/bots/{bot_id}/deliveries{query}");
    loop {
        let log = expect(&ws.owner("GET", &path, None), 200);
        if done(&log) || std::time::Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn post(ws: &Workspace, token: &str, chat: i64, content: &str) -> Value {
    setup::post_message(&ws.host, token, chat, content)
}

#[test]
fn a_bot_in_a_chat_receives_signed_message_events_in_the_documented_shape() {
    let ws = Workspace::start(ADMIN);
    let receiver = Receiver::start(&[200]);
    let (bot_id, _, secret) = bot(
        &ws,
        // Any non-guest may add it (alice adds it below).
        json!({"name": "Deploy", "nickname": "deploy_bot", "outgoing_url": receiver.url,
               "who_can_add": "creator_admin_user",
               "events": ["message_new", "message_update", "message_delete"],
               "trigger_on": "all_messages"}),
    );
    let (alice, alice_token) = setup::user_with_token(&ws.host, ws.admin, "alice", "user");
    let chat = id_of(&create_chat(
        &ws.host,
        &alice_token,
        json!({"name": "Releases", "member_ids": [bot_id]}),
    ));
    let m = post(&ws, &alice_token, chat, "Релиз 1.2 готов");
    let got = receiver.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].signed_with(&secret), "bad signature: {:?}", got[0]);
    assert_eq!(
        got[0].headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let body = got[0].json();
    for (k, v) in [
        ("type", json!("message")),
        ("event", json!("new")),
        ("id", m["id"].clone()),
        ("entity_type", json!("discussion")),
        ("entity_id", json!(chat)),
        ("chat_id", json!(chat)),
        ("content", json!("Релиз 1.2 готов")),
        ("user_id", json!(alice)),
        ("created_at", m["created_at"].clone()),
        ("parent_message_id", Value::Null),
        ("thread", Value::Null),
        ("url", m["url"].clone()),
    ] {
        assert_eq!(body[k], v, "{k} in {body}");
    }
    let stamp = body["webhook_timestamp"]
        .as_i64()
        .expect("webhook_timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    assert!(
        (now - stamp).abs() <= 60,
        "webhook_timestamp {stamp} vs {now}"
    );

    // Edit and delete arrive as `update` and `delete`.
    let path = format!("/messages/{}", id_of(&m));
    let edit = json!({"message": {"content": "Релиз 1.3 готов"}});
    expect(&call(&ws.host, &alice_token, "PUT", &path, Some(edit)), 200);
    call(&ws.host, &alice_token, "DELETE", &path, None);
    let got = receiver.wait_for(3, WAIT);
    let events: Vec<Value> = got.iter().map(|r| r.json()["event"].clone()).collect();
    assert_eq!(events, vec![json!("new"), json!("update"), json!("delete")]);
    assert_eq!(got[1].json()["content"], "Релиз 1.3 готов");
    assert!(got.iter().all(|r| r.signed_with(&secret)));
}

#[test]
fn trigger_rules_commands_self_messages_and_membership_decide_who_receives() {
    let ws = Workspace::start(ADMIN);
    let commands = Receiver::start(&[200]);
    let outsider = Receiver::start(&[200]);
    let (cmd_bot, cmd_token, _) = bot(
        &ws,
        json!({"name": "Cmd", "nickname": "cmd_bot", "outgoing_url": commands.url,
               "who_can_add": "anyone",
               "events": ["message_new"], "trigger_on": "commands",
               "commands": ["/deploy", "/help"], "ignore_self_messages": true}),
    );
    bot(
        &ws,
        json!({"name": "Away", "nickname": "away_bot", "outgoing_url": outsider.url,
               "events": ["message_new"], "trigger_on": "all_messages"}),
    );
    let (_, alice_token) = setup::user_with_token(&ws.host, ws.admin, "alice", "user");
    let chat = id_of(&create_chat(
        &ws.host,
        &alice_token,
        json!({"name": "Ops", "member_ids": [cmd_bot]}),
    ));
    post(&ws, &alice_token, chat, "просто текст");
    post(&ws, &alice_token, chat, "/DEPLOY prod");
    post(&ws, &alice_token, chat, "/help");
    post(&ws, &alice_token, chat, "/unknown");
    post(&ws, &cmd_token, chat, "/deploy by the bot itself");
    // Each message's webhooks go out right after its response; once the two
    // expected ones are in, a short grace lets any wrongly sent one arrive.
    commands.wait_for(2, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    let contents: Vec<Value> = commands
        .received()
        .iter()
        .map(|r| r.json()["content"].clone())
        .collect();
    assert_eq!(contents, vec![json!("/DEPLOY prod"), json!("/help")]);
    assert!(
        outsider.received().is_empty(),
        "a bot outside the chat got events"
    );
}

#[test]
fn a_failed_delivery_is_retried_by_the_scheduler_run_until_it_succeeds() {
    let ws = Workspace::start(ADMIN);
    let receiver = Receiver::start(&[500]);
    let (bot_id, _, secret) = bot(
        &ws,
        json!({"name": "Flaky", "nickname": "flaky_bot", "outgoing_url": receiver.url,
               "events": ["chat_member_add", "message_new"], "trigger_on": "all_messages"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Ops", "member_ids": []}),
    ));
    let add = json!({"member_ids": [bot_id]});
    let path = format!("/chats/{chat}/members");
    expect(&ws.owner("POST", &path, Some(add)), 204);
    let first = receiver.wait_for(1, WAIT);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].json()["type"], "chat_member");
    assert_eq!(first[0].json()["user_ids"], json!([bot_id]));

    // The log shows the failure and the next attempt.
    let log = log_after_attempt(&ws, bot_id, "");
    let d = &log["data"][0];
    assert_eq!(
        (d["state"].as_str(), d["last_status"].as_i64()),
        (Some("pending"), Some(500)),
        "{log}"
    );
    assert!(d["next_attempt_at"].is_string());

    // Not due yet: a run sends nothing. After the first delay (10 s ±20 %)
    // the host's own scheduler sends it again, without any client traffic,
    // signed again; the 200 ends it.
    receiver.answer(&[200]);
    let run = expect(&ws.owner("POST", "/webhooks/deliveries/run", None), 202);
    assert_eq!(run["data"]["queued"], 0);
    let got = receiver.wait_for(2, Duration::from_secs(25));
    assert_eq!(got.len(), 2);
    assert!(got[1].signed_with(&secret));
    assert_eq!(got[0].json()["created_at"], got[1].json()["created_at"]);
    let log = log_after_attempt(&ws, bot_id, "?state=delivered");
    assert_eq!(
        log["data"][0]["attempts"].as_array().map(Vec::len),
        Some(2),
        "{log}"
    );

    // Redelivery sends a delivered event once more.
    let delivery = id_of(&log["data"][0]);
    let path = format!("/bots/{bot_id}/deliveries/{delivery}/redeliver");
    expect(&ws.owner("POST", &path, None), 202);
    assert_eq!(receiver.wait_for(3, WAIT).len(), 3);
    // Only the owner or an admin runs the scheduler's tick.
    let (_, user_token) = setup::user_with_token(&ws.host, ws.admin, "eve", "user");
    let reply = call(
        &ws.host,
        &user_token,
        "POST",
        "/webhooks/deliveries/run",
        None,
    );
    assert_api_error(&reply, 403, "token", "forbidden");
}

#[test]
fn a_bot_without_a_url_polls_its_event_history_and_deletes_what_it_handled() {
    let ws = Workspace::start(ADMIN);
    let (bot_id, bot_token, _) = bot(
        &ws,
        json!({"name": "Poll", "nickname": "poll_bot", "events_history_enabled": true,
               "who_can_add": "creator_admin_user",
               "events": ["message_new", "reaction_new"], "trigger_on": "all_messages"}),
    );
    let (_, alice_token) = setup::user_with_token(&ws.host, ws.admin, "alice", "user");
    let chat = id_of(&create_chat(
        &ws.host,
        &alice_token,
        json!({"name": "Poll", "member_ids": [bot_id]}),
    ));
    let m = post(&ws, &alice_token, chat, "Есть задача");
    let reaction = json!({"code": "👍", "name": "+1"});
    let path = format!("/messages/{}/reactions", id_of(&m));
    expect(
        &call(&ws.host, &alice_token, "POST", &path, Some(reaction)),
        201,
    );

    let page = expect(
        &call(&ws.host, &bot_token, "GET", "/webhooks/events", None),
        200,
    );
    let events = page["data"].as_array().expect("data").clone();
    // Newest first, as every official list.
    assert_eq!(events.len(), 2, "{page}");
    assert_eq!(events[1]["event_type"], "message_new");
    assert_eq!(events[1]["payload"]["content"], "Есть задача");
    assert_eq!(events[0]["event_type"], "reaction_new");
    assert_eq!(events[0]["payload"]["code"], "👍");
    assert_eq!(events[0]["payload"]["message_id"], m["id"]);
    let id = events[1]["id"].as_str().expect("string id");
    assert_eq!(id.len(), 26, "a ULID: {id}");
    assert!(page["meta"]["paginate"].is_object(), "{page}");

    let path = format!("/webhooks/events/{id}");
    expect(&call(&ws.host, &bot_token, "DELETE", &path, None), 204);
    let reply = call(&ws.host, &bot_token, "DELETE", &path, None);
    assert_api_error(&reply, 404, "id", "not_found");
    let page = expect(
        &call(&ws.host, &bot_token, "GET", "/webhooks/events", None),
        200,
    );
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    // A person's token has no history.
    let reply = call(&ws.host, &alice_token, "GET", "/webhooks/events", None);
    assert!(reply.status == 403, "{}", reply.text());
}

#[test]
fn the_bot_sets_its_own_url_and_the_owner_rotates_its_signing_secret() {
    let ws = Workspace::start(ADMIN);
    let receiver = Receiver::start(&[200]);
    let (bot_id, bot_token, old_secret) = bot(
        &ws,
        json!({"name": "Self", "nickname": "self_bot", "events": ["company_member_invite"]}),
    );
    let body = json!({"webhook": {"outgoing_url": receiver.url}});
    let reply = call(&ws.host, &bot_token, "PUT", "/bot/webhook", Some(body));
    let data = expect(&reply, 200);
    assert_eq!(
        data["data"]["webhook"]["outgoing_url"],
        receiver.url.as_str(),
        "{data}"
    );

    let rotated = expect(
        &ws.owner("POST", &format!("/bots/{bot_id}/signing_secret"), None),
        200,
    );
    let secret = rotated["data"]["signing_secret"]
        .as_str()
        .expect("signing_secret")
        .to_owned();
    assert_ne!(secret, old_secret);

    // company_member events need no chat membership.
    let user = setup::create_user(&ws.host, ws.admin, json!({"email": "new@example.com"}));
    let got = receiver.wait_for(1, WAIT);
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(
        (body["type"].as_str(), body["event"].as_str()),
        (Some("company_member"), Some("invite"))
    );
    assert_eq!(body["user_ids"], json!([id_of(&user)]));
    assert!(got[0].signed_with(&secret) && !got[0].signed_with(&old_secret));
}

#[test]
fn a_delivery_cut_off_by_a_crash_is_sent_after_the_restart() {
    let mut ws = Workspace::start(ADMIN);
    // The receiver takes the request and hangs, so the host is killed with
    // the event committed and its delivery in flight, never recorded.
    let receiver = Receiver::start(&[HOLD]);
    let (bot_id, _, secret) = bot(
        &ws,
        json!({"name": "Crash", "nickname": "crash_bot", "outgoing_url": receiver.url,
               "events": ["message_new"], "trigger_on": "all_messages"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Crash", "member_ids": [bot_id]}),
    ));
    let m = post(&ws, ws.admin, chat, "до сбоя");
    assert_eq!(receiver.wait_for(1, WAIT).len(), 1);
    assert!(!ws.host.kill().success());

    // After the restart the host's scheduler sends it again once the dead
    // worker's lease has run out (40 s), without any client traffic.
    receiver.answer(&[200]);
    ws.host.restart(e2e_tests::api::app(ADMIN));
    let got = receiver.wait_for(2, Duration::from_secs(90));
    assert_eq!(got.len(), 2, "not redelivered after the restart");
    assert_eq!(got[1].json()["id"], m["id"]);
    assert_eq!(got[1].json()["content"], "до сбоя");
    assert!(got[1].signed_with(&secret));
    let log = log_after_attempt(&ws, bot_id, "?state=delivered");
    assert_eq!(log["data"][0]["state"], "delivered", "{log}");
}

#[test]
fn concurrent_workers_never_send_a_delivery_twice() {
    let ws = Workspace::start(ADMIN);
    // Every first attempt fails, so each event is due again ~10 s later
    // and many workers race for it: the host's scheduler and 8 callers of
    // the run route at once, several times.
    let receiver = Receiver::start(&[500; 6]);
    let (bot_id, _, _) = bot(
        &ws,
        json!({"name": "Race", "nickname": "race_bot", "outgoing_url": receiver.url,
               "events": ["message_new"], "trigger_on": "all_messages"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Race", "member_ids": [bot_id]}),
    ));
    let ids: Vec<Value> = (0..6)
        .map(|i| post(&ws, ws.admin, chat, &format!("гонка {i}"))["id"].clone())
        .collect();
    assert_eq!(receiver.wait_for(6, WAIT).len(), 6);
    receiver.answer(&[200]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while receiver.received().len() < 12 && std::time::Instant::now() < deadline {
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let reply = ws.owner("POST", "/webhooks/deliveries/run", None);
                    assert_eq!(reply.status, 202);
                });
            }
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    let got = receiver.received();
    for id in &ids {
        let n = got.iter().filter(|r| &r.json()["id"] == id).count();
        assert_eq!(n, 2, "message {id}: one failed attempt and one success");
    }
}

#[test]
fn private_targets_are_refused_unless_allowed_and_redirects_are_not_followed() {
    // The real app without `webhook_allow_private`: loopback is refused.
    let config = e2e_tests::HostConfig::new("spin.toml").env("SPIN_VARIABLE_ADMIN_TOKEN", ADMIN);
    let ws = Workspace::start_with(ADMIN, config);
    let receiver = Receiver::start(&[200]);
    let (bot_id, _, _) = bot(
        &ws,
        json!({"name": "Inner", "nickname": "inner_bot", "outgoing_url": receiver.url,
               "events": ["message_new"], "trigger_on": "all_messages"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Inner", "member_ids": [bot_id]}),
    ));
    post(&ws, ws.admin, chat, "не уйдёт");
    let log = log_after_attempt(&ws, bot_id, "");
    assert!(receiver.received().is_empty(), "sent to a loopback address");
    let error = log["data"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("not allowed"), "{log}");

    // Allowed by the app, but the operator blocks private networks (Spin's
    // `block_networks`): a name resolving to loopback is refused after DNS.
    let dir = tempfile::tempdir().expect("dir");
    let runtime = dir.path().join("runtime.toml");
    std::fs::write(
        &runtime,
        "[outbound_networking]\nblock_networks = [\"private\"]\n",
    )
    .expect("runtime config");
    let runtime = runtime.to_string_lossy().into_owned();
    let config = e2e_tests::api::app(ADMIN).args(&["--runtime-config-file", &runtime]);
    let ws = Workspace::start_with(ADMIN, config);
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (bot_id, _, _) = bot(
        &ws,
        json!({"name": "Named", "nickname": "named_bot", "outgoing_url": by_name,
               "events": ["message_new"], "trigger_on": "all_messages"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Named", "member_ids": [bot_id]}),
    ));
    post(&ws, ws.admin, chat, "и так не уйдёт");
    let log = log_after_attempt(&ws, bot_id, "");
    assert!(receiver.received().is_empty(), "sent to a blocked network");
    let error = log["data"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("DestinationIpProhibited"), "{log}");

    // Allowed (as in the other tests), a redirect is a failure, not followed.
    let ws = Workspace::start(ADMIN);
    let redirect = Receiver::start(&[302]);
    let (bot_id, _, _) = bot(
        &ws,
        json!({"name": "Moved", "nickname": "moved_bot", "outgoing_url": redirect.url,
               "events": ["message_new"], "trigger_on": "all_messages"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Moved", "member_ids": [bot_id]}),
    ));
    post(&ws, ws.admin, chat, "переехал");
    assert_eq!(redirect.wait_for(1, WAIT).len(), 1);
    std::thread::sleep(Duration::from_millis(500));
    let log = log_after_attempt(&ws, bot_id, "");
    let got = redirect.received();
    assert!(
        got.iter().all(|r| r.path != "/followed"),
        "followed a redirect"
    );
    let d = &log["data"][0];
    assert_eq!(
        (d["state"].as_str(), d["last_status"].as_i64()),
        (Some("pending"), Some(302)),
        "{log}"
    );
}

#[test]
fn who_can_add_and_single_chat_decide_who_adds_a_bot_and_where() {
    let ws = Workspace::start(ADMIN);
    let (_, admin_token) = setup::user_with_token(&ws.host, ws.admin, "adele", "admin");
    let (_, user_token) = setup::user_with_token(&ws.host, ws.admin, "ulla", "user");
    let chat_of = |token: &str| {
        id_of(&create_chat(
            &ws.host,
            token,
            json!({"name": "Team", "member_ids": []}),
        ))
    };
    let add = |token: &str, chat: i64, bot: i64| {
        let path = format!("/chats/{chat}/members");
        call(
            &ws.host,
            token,
            "POST",
            &path,
            Some(json!({"member_ids": [bot]})),
        )
    };
    // `creator`: only whoever created the bot (here the owner).
    let (only_creator, _, _) = bot(&ws, json!({"name": "Mine", "nickname": "mine_bot"}));
    let admins_chat = chat_of(&admin_token);
    let reply = add(&admin_token, admins_chat, only_creator);
    assert_api_error(&reply, 403, "member_ids", "forbidden");
    // `creator_admin`: admins too, not users; also when creating a chat.
    let (for_admins, _, _) = bot(
        &ws,
        json!({"name": "Admins", "nickname": "admins_bot", "who_can_add": "creator_admin"}),
    );
    expect(&add(&admin_token, admins_chat, for_admins), 204);
    let users_chat = chat_of(&user_token);
    let reply = add(&user_token, users_chat, for_admins);
    assert_api_error(&reply, 403, "member_ids", "forbidden");
    let reply = call(
        &ws.host,
        &user_token,
        "POST",
        "/chats",
        Some(json!({"chat": {"name": "Sneaky", "member_ids": [for_admins]}})),
    );
    assert_api_error(&reply, 403, "member_ids", "forbidden");
    // `creator_admin_user`: every non-guest.
    let (for_all, _, _) = bot(
        &ws,
        json!({"name": "All", "nickname": "all_bot", "who_can_add": "creator_admin_user"}),
    );
    expect(&add(&user_token, users_chat, for_all), 204);

    // `single_chat`: one group chat only; threads do not count.
    let (single, _, _) = bot(
        &ws,
        json!({"name": "One", "nickname": "one_bot", "single_chat": true,
               "who_can_add": "anyone"}),
    );
    expect(&add(&user_token, users_chat, single), 204);
    let reply = add(&admin_token, admins_chat, single);
    assert_api_error(&reply, 422, "member_ids", "invalid");
    let m = post(&ws, &user_token, users_chat, "тред");
    let thread = expect(
        &call(
            &ws.host,
            &user_token,
            "POST",
            &format!("/messages/{}/thread", id_of(&m)),
            None,
        ),
        201,
    );
    let thread_chat = thread["data"]["chat_id"].as_i64().expect("thread chat_id");
    expect(&add(&user_token, thread_chat, single), 204);
    // Adding it again where it already is changes nothing and is allowed.
    expect(&add(&user_token, users_chat, single), 204);
}

#[test]
fn pressing_a_data_button_sends_button_click_to_the_messages_bot() {
    let ws = Workspace::start(ADMIN);
    let receiver = Receiver::start(&[200]);
    // The bot ignores its own messages' events, and still gets the clicks.
    let (bot_id, bot_token, secret) = bot(
        &ws,
        json!({"name": "Poll", "nickname": "vote_bot", "outgoing_url": receiver.url,
               "events": ["button_click"], "ignore_self_messages": true,
               "who_can_add": "anyone"}),
    );
    let (alice, alice_token) = setup::user_with_token(&ws.host, ws.admin, "alice", "user");
    let (_, eve_token) = setup::user_with_token(&ws.host, ws.admin, "eve", "user");
    let chat = id_of(&create_chat(
        &ws.host,
        &alice_token,
        json!({"name": "Vote", "member_ids": [bot_id]}),
    ));
    let body = json!({"message": {"entity_id": chat, "content": "Обедаем в 13:00?",
        "buttons": [[{"text": "Да", "data": "vote_yes"}, {"text": "Нет", "data": "vote_no"}],
                    [{"text": "Меню", "url": "https://example.com/menu"}]]}});
    let m = expect(
        &call(&ws.host, &bot_token, "POST", "/messages", Some(body)),
        201,
    )["data"]
        .clone();
    let path = format!("/messages/{}/button_clicks", id_of(&m));

    let click = json!({"data": "vote_yes"});
    let pressed = expect(
        &call(&ws.host, &alice_token, "POST", &path, Some(click)),
        201,
    )["data"]
        .clone();
    let trigger = pressed["trigger_id"]
        .as_str()
        .expect("trigger_id")
        .to_owned();
    assert_eq!(trigger.len(), 36, "{trigger}");
    let got = receiver.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].signed_with(&secret));
    let payload = got[0].json();
    let fields: Vec<&str> = payload
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "chat_id",
            "data",
            "event",
            "message_id",
            "trigger_id",
            "type",
            "user_id",
            "webhook_timestamp"
        ]
    );
    assert_eq!(payload["type"], "button");
    assert_eq!(payload["event"], "click");
    assert_eq!(payload["message_id"], m["id"]);
    assert_eq!(payload["trigger_id"], trigger.as_str());
    assert_eq!(payload["data"], "vote_yes");
    assert_eq!(payload["user_id"], alice);
    assert_eq!(payload["chat_id"], chat);

    // No such data button (a URL button has none): 422; nothing sent.
    let reply = call(
        &ws.host,
        &alice_token,
        "POST",
        &path,
        Some(json!({"data": "vote_maybe"})),
    );
    assert_api_error(&reply, 422, "data", "not_found");
    let reply = call(&ws.host, &alice_token, "POST", &path, Some(json!({})));
    assert_api_error(&reply, 422, "data", "blank");
    // Someone who cannot read the message cannot press its buttons.
    let reply = call(
        &ws.host,
        &eve_token,
        "POST",
        &path,
        Some(json!({"data": "vote_no"})),
    );
    assert_api_error(&reply, 404, "id", "not_found");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.received().len(), 1);
}

#[test]
fn an_unfurl_bot_gets_links_on_its_domains_in_chats_it_can_see_and_attaches_previews() {
    let ws = Workspace::start(ADMIN);
    let receiver = Receiver::start(&[200]);
    let (_, bot_token, secret) = bot(
        &ws,
        json!({"name": "Tracker", "nickname": "tracker_bot", "outgoing_url": receiver.url,
               "trigger_on": "unfurl", "events": ["message_link_shared", "message_new"],
               "unfurl_domains": ["Example.com", "docs.example.org"]}),
    );
    let (alice, alice_token) = setup::user_with_token(&ws.host, ws.admin, "alice", "user");
    // An open chat the bot is not in, and a closed one it cannot see.
    let open = id_of(&create_chat(
        &ws.host,
        &alice_token,
        json!({"name": "Dev", "public": true}),
    ));
    let closed = id_of(&create_chat(
        &ws.host,
        &alice_token,
        json!({"name": "Secret"}),
    ));
    post(&ws, &alice_token, closed, "https://tracker.example.com/T-0");
    let m = post(
        &ws,
        &alice_token,
        open,
        "Смотри https://tracker.example.com/T-1, https://other.org/x и [спеку](http://docs.example.org/a)",
    );
    let got = receiver.wait_for(1, WAIT);
    std::thread::sleep(Duration::from_millis(300));
    let got_all = receiver.received();
    assert_eq!(got_all.len(), 1, "{got_all:?}");
    assert!(got[0].signed_with(&secret));
    let p = got[0].json();
    assert_eq!(
        (p["type"].as_str(), p["event"].as_str()),
        (Some("message"), Some("link_shared"))
    );
    assert_eq!(p["message_id"], m["id"]);
    assert_eq!(p["chat_id"], open);
    assert_eq!(p["user_id"], alice);
    assert_eq!(p["created_at"], m["created_at"]);
    assert_eq!(
        p["links"],
        json!([
            {"url": "https://tracker.example.com/T-1", "domain": "tracker.example.com", "skip": false},
            {"url": "http://docs.example.org/a", "domain": "docs.example.org", "skip": false}
        ])
    );
    // The bot attaches a preview of a link it was sent.
    let previews = json!({"link_previews": {"https://tracker.example.com/T-1": {
        "title": "T-1: Починить вход", "description": "В работе"}}});
    let path = format!("/messages/{}/link_previews", id_of(&m));
    expect(
        &call(&ws.host, &bot_token, "POST", &path, Some(previews)),
        204,
    );

    // Domains are validated: no scheme, port, path or IP address; at most 5.
    let bad = json!({"webhook": {"name": "Bad", "nickname": "bad_bot",
        "unfurl_domains": ["https://example.com", "10.0.0.1", "example.com:8080"]}});
    let reply = ws.owner("POST", "/bots", Some(bad));
    assert_api_error(&reply, 400, "unfurl_domains.0", "invalid");
}

/// Forms (`guides/forms-*.md`): a press gives the bot a `trigger_id`; the
/// bot opens a view with it (`POST /views/open`, within 3 s); the user
/// reads and submits the view (our `/views` extension); the submission
/// reaches the bot synchronously as a signed `view_submission`, whose 400
/// with per-field errors keeps the view open and shows them, and whose 200
/// closes it.
#[test]
fn a_bot_opens_a_form_from_a_press_and_its_answer_to_the_submission_decides() {
    let ws = Workspace::start(ADMIN);
    let receiver = Receiver::start(&[200]);
    let (bot_id, bot_token, secret) = bot(
        &ws,
        json!({"name": "Time off", "nickname": "timeoff_bot", "outgoing_url": receiver.url,
               "events": ["button_click"], "who_can_add": "anyone"}),
    );
    let (alice, alice_token) = setup::user_with_token(&ws.host, ws.admin, "alice", "user");
    let (_, eve_token) = setup::user_with_token(&ws.host, ws.admin, "eve", "user");
    let chat = id_of(&create_chat(
        &ws.host,
        &alice_token,
        json!({"name": "HR", "member_ids": [bot_id]}),
    ));
    let body = json!({"message": {"entity_id": chat, "content": "Отпуск?",
        "buttons": [[{"text": "Оформить", "data": "timeoff"}]]}});
    let m = expect(
        &call(&ws.host, &bot_token, "POST", "/messages", Some(body)),
        201,
    )["data"]
        .clone();
    let press = |token: &str| -> String {
        let path = format!("/messages/{}/button_clicks", id_of(&m));
        expect(
            &call(
                &ws.host,
                token,
                "POST",
                &path,
                Some(json!({"data": "timeoff"})),
            ),
            201,
        )["data"]["trigger_id"]
            .as_str()
            .expect("trigger_id")
            .to_owned()
    };
    let view = |trigger: &str| {
        json!({"type": "modal", "trigger_id": trigger,
               "private_metadata": "{\"timeoff_id\":4378}", "callback_id": "timeoff_request_form",
               "view": {"title": "Уведомление об отпуске", "submit_text": "Отправить заявку",
                        "blocks": [
                            {"type": "plain_text", "text": "Заполните форму."},
                            {"type": "date", "name": "date_start", "label": "Начало", "required": true},
                            {"type": "date", "name": "date_end", "label": "Конец", "required": true},
                            {"type": "radio", "name": "accessibility", "label": "Доступность",
                             "options": [{"text": "Только телефон", "value": "phone_only"},
                                         {"text": "Ничего", "value": "nothing", "selected": true}]}]}})
    };

    let trigger = press(&alice_token);
    assert_eq!(
        receiver.wait_for(1, WAIT).len(),
        1,
        "the bot heard of the press"
    );
    // Only the pressed message's bot may use the trigger.
    let reply = call(
        &ws.host,
        &eve_token,
        "POST",
        "/views/open",
        Some(view(&trigger)),
    );
    assert_api_error(&reply, 422, "trigger_id", "trigger_not_found");
    let opened = call(
        &ws.host,
        &bot_token,
        "POST",
        "/views/open",
        Some(view(&trigger)),
    );
    assert_eq!(opened.status, 201, "{}", opened.text());
    let reply = call(
        &ws.host,
        &bot_token,
        "POST",
        "/views/open",
        Some(view(&trigger)),
    );
    assert_api_error(&reply, 422, "trigger_id", "already_exists");

    // The user sees the view, without what is private to the bot.
    let open_views =
        expect(&call(&ws.host, &alice_token, "GET", "/views", None), 200)["data"].clone();
    assert_eq!(open_views.as_array().map(Vec::len), Some(1), "{open_views}");
    let form = &open_views[0];
    assert_eq!(form["title"], "Уведомление об отпуске");
    assert_eq!(form["submit_text"], "Отправить заявку");
    assert_eq!(form["blocks"].as_array().map(Vec::len), Some(4));
    assert!(form.get("private_metadata").is_none());
    let id = form["id"].as_i64().expect("view id");
    assert_eq!(
        call(&ws.host, &eve_token, "GET", &format!("/views/{id}"), None).status,
        404
    );
    let submit = format!("/views/{id}/submit");

    // The bot refuses the dates: 400 with per-field errors.
    receiver.answer(&[400]);
    receiver.answer_body(
        r#"{"errors": {"date_end": "Дата окончания отпуска не может быть меньше даты начала"}}"#,
    );
    let values = json!({"data": {"date_start": "2025-07-14", "date_end": "2025-07-01",
                                 "accessibility": "phone_only"}});
    let reply = call(
        &ws.host,
        &alice_token,
        "POST",
        &submit,
        Some(values.clone()),
    );
    assert_api_error(&reply, 422, "data.date_end", "invalid");
    assert_eq!(
        reply.json()["errors"][0]["message"],
        "Дата окончания отпуска не может быть меньше даты начала"
    );
    let got = receiver.wait_for(2, WAIT);
    let submission = got.last().expect("view_submission");
    assert!(submission.signed_with(&secret));
    let payload = submission.json();
    assert_eq!(
        (payload["type"].as_str(), payload["event"].as_str()),
        (Some("view"), Some("submit"))
    );
    assert_eq!(payload["callback_id"], "timeoff_request_form");
    assert_eq!(payload["private_metadata"], "{\"timeoff_id\":4378}");
    assert_eq!(
        (payload["user_id"].as_i64(), payload["chat_id"].as_i64()),
        (Some(alice), Some(chat))
    );
    assert_eq!(payload["data"], values["data"]);
    assert!(payload["webhook_timestamp"].is_i64());
    let shown = expect(
        &call(&ws.host, &alice_token, "GET", &format!("/views/{id}"), None),
        200,
    )["data"]
        .clone();
    assert_eq!(shown["state"], "open");
    assert_eq!(
        shown["values"]["accessibility"], "phone_only",
        "the values are kept"
    );

    // A field the view requires is checked before the bot hears of it.
    let reply = call(
        &ws.host,
        &alice_token,
        "POST",
        &submit,
        Some(json!({"data": {"date_start": "2025-07-01"}})),
    );
    assert_api_error(&reply, 422, "data.date_end", "blank");
    assert_eq!(receiver.received().len(), 2);

    // Corrected: 200 closes the view.
    receiver.answer(&[200]);
    receiver.answer_body("");
    let fixed = json!({"data": {"date_start": "2025-07-01", "date_end": "2025-07-14"}});
    let closed = expect(
        &call(&ws.host, &alice_token, "POST", &submit, Some(fixed)),
        200,
    )["data"]
        .clone();
    assert_eq!(closed["state"], "closed");
    assert_eq!(
        expect(&call(&ws.host, &alice_token, "GET", "/views", None), 200)["data"],
        json!([])
    );

    // A trigger is good for 3 seconds.
    let late = press(&alice_token);
    std::thread::sleep(Duration::from_millis(3_200));
    let reply = call(
        &ws.host,
        &bot_token,
        "POST",
        "/views/open",
        Some(view(&late)),
    );
    assert_api_error(&reply, 410, "trigger_id", "trigger_expired");
}

/// Runs `sql` on the host's own SQLite file.
fn age(ws: &Workspace, sql: &str, id: i64) {
    ws.host.database().execute(sql, [id]).expect(sql);
}

#[test]
fn the_scheduler_run_removes_week_old_deliveries_and_two_week_old_history() {
    let ws = Workspace::start(ADMIN);
    let receiver = Receiver::start(&[200]);
    let (bot_id, bot_token, _) = bot(
        &ws,
        json!({"name": "Kept", "nickname": "kept_bot", "outgoing_url": receiver.url,
               "events_history_enabled": true, "events": ["message_new"],
               "trigger_on": "all_messages"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Retention", "member_ids": [bot_id]}),
    ));
    let old = id_of(&post(&ws, ws.admin, chat, "an old message"));
    let new = id_of(&post(&ws, ws.admin, chat, "a new message"));
    assert_eq!(receiver.wait_for(2, WAIT).len(), 2);
    let log = log_after_attempt(&ws, bot_id, "");
    assert_eq!(log["data"].as_array().map(Vec::len), Some(2), "{log}");

    // The first message's delivery and body are 8 days old, its history
    // entry 15: past their retention (7 and 14 days).
    let event_of =
        "(SELECT id FROM events WHERE type = 'message' AND event = 'new' AND entity_id = ?1)";
    let eight = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-8 days')";
    let fifteen = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-15 days')";
    age(
        &ws,
        &format!("UPDATE webhook_deliveries SET created_at = {eight} WHERE event_id = {event_of}"),
        old,
    );
    age(
        &ws,
        &format!("UPDATE webhook_payloads SET created_at = {eight} WHERE event_id = {event_of}"),
        old,
    );
    age(
        &ws,
        &format!("UPDATE webhook_events SET created_at = {fifteen} WHERE event_id = {event_of}"),
        old,
    );

    // The run answers at once and removes them after its answer.
    let run = expect(&ws.owner("POST", "/webhooks/deliveries/run", None), 202);
    assert_eq!(run["data"]["queued"], 0);
    let log = log_once(&ws, bot_id, "", |log| {
        log["data"].as_array().map(Vec::len) == Some(1)
    });
    assert_eq!(log["data"].as_array().map(Vec::len), Some(1), "{log}");
    // What is left is the new message's delivery, with its body.
    assert_eq!(log["data"][0]["payload"]["id"], json!(new), "{log}");
    let history = expect(
        &call(&ws.host, &bot_token, "GET", "/webhooks/events", None),
        200,
    );
    let kept: Vec<Value> = history["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["payload"]["id"].clone())
        .collect();
    assert_eq!(kept, vec![json!(new)], "{history}");
}
