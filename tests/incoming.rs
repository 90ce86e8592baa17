//! Incoming webhooks end to end (`guides/incoming-webhooks.md`): an external
//! caller POSTs JSON to a bot's secret URL, with no token, and the bot posts
//! the rendered text into each group chat it is in. Each test states a rule
//! of the guide.

use e2e_tests::api::{expect, raw};
use e2e_tests::setup::{self, assert_api_error, create_chat, id_of, Workspace};
use e2e_tests::Reply;
use serde_json::{json, Value};

const ADMIN: &str = "incoming-e2e-admin-token";

/// A bot created by the owner with `webhook` settings: `(id, incoming path)`,
/// the path being the API-relative part of its secret `webhook.url`.
fn bot(ws: &Workspace, webhook: Value) -> (i64, String) {
    let created = expect(
        &ws.owner("POST", "/bots", Some(json!({ "webhook": webhook }))),
        201,
    );
    let id = id_of(&created["data"]);
    let shown = expect(&ws.owner("GET", &format!("/bots/{id}"), None), 200);
    (id, path_of(&shown["data"]["webhook"]["url"]))
}

fn path_of(url: &Value) -> String {
    let url = url.as_str().expect("the creator sees webhook.url");
    let (_, path) = url.split_once("/api/shared/v1").expect("an API URL");
    path.to_owned()
}

/// What an external service does: POST JSON, no Authorization.
fn hook(ws: &Workspace, path: &str, body: &str) -> Reply {
    raw(&ws.host, None, "POST", path, Some(body.as_bytes()))
}

fn contents(ws: &Workspace, chat: i64) -> Vec<String> {
    let page = expect(
        &ws.owner("GET", &format!("/messages?chat_id={chat}"), None),
        200,
    );
    let mut texts: Vec<String> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|m| m["user_id"] != json!(1))
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.reverse();
    texts
}

#[test]
fn a_liquid_alert_appears_in_every_active_group_chat_of_the_bot() {
    let ws = Workspace::start(ADMIN);
    let (bot_id, path) = bot(
        &ws,
        json!({"name": "Grafana", "nickname": "grafana_bot", "template_engine": "liquid",
               "template": "🔥 {{ alert.name }} — {{ alert.severity | upcase }}{% if alert.url %}: {{ alert.url }}{% endif %}\n{% for t in alert.tags %}#{{ t }} {% endfor %}"}),
    );
    let chat = |name: &str, extra: Value| {
        let mut c = json!({"name": name, "member_ids": [bot_id]});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        id_of(&create_chat(&ws.host, ws.admin, c))
    };
    let ops = chat("Ops", json!({}));
    let oncall = chat("On call", json!({}));
    // A channel (bots join channels as editors, so it posts there too) and
    // an archived chat (nothing is posted there).
    let news = chat("News", json!({"channel": true}));
    let old = chat("Old", json!({}));
    expect(
        &ws.owner("PUT", &format!("/chats/{old}/archive"), None),
        204,
    );

    let alert = json!({"alert": {"name": "CPU > 90%", "severity": "critical",
                                 "tags": ["prod", "db"]}});
    let reply = hook(&ws, &path, &alert.to_string());
    let posted = expect(&reply, 200);
    assert_eq!(
        posted["data"]["message_ids"].as_array().map(Vec::len),
        Some(3),
        "{posted}"
    );
    let text = "🔥 CPU > 90% — CRITICAL\n#prod #db ";
    assert_eq!(contents(&ws, ops), vec![text]);
    assert_eq!(contents(&ws, oncall), vec![text]);
    assert_eq!(contents(&ws, news), vec![text]);
    assert!(contents(&ws, old).is_empty());
    // The messages are the bot's.
    let page = expect(
        &ws.owner("GET", &format!("/messages?chat_id={ops}"), None),
        200,
    );
    assert_eq!(page["data"][0]["user_id"], bot_id);

    // The last body received is shown in the bot's settings.
    let shown = expect(&ws.owner("GET", &format!("/bots/{bot_id}"), None), 200);
    let last: Value = serde_json::from_str(
        shown["data"]["webhook"]["last_request_body"]
            .as_str()
            .expect("kept"),
    )
    .expect("JSON");
    assert_eq!(last, alert);
    assert!(shown["data"]["webhook"]["last_request_at"].is_string());
    // The secret never reaches the access log.
    let token = path.rsplit('/').next().unwrap_or_default();
    assert!(
        !ws.host.stdout_text().contains(token),
        "token in the access log"
    );
    assert!(ws
        .host
        .stdout_text()
        .contains("/webhooks/incoming/[redacted]"));
}

#[test]
fn mustache_templates_plain_messages_and_the_guides_limits() {
    let ws = Workspace::start(ADMIN);
    let (mustache_bot, mustache) = bot(
        &ws,
        json!({"name": "Shop", "nickname": "shop_bot", "template_engine": "mustache",
               "template": "Заказ от {{ client }} на сумму {{ amount }} ₽ — {{ status }}\n{{#project}}Проект: {{ name }}{{/project}}"}),
    );
    let (plain_bot, plain) = bot(&ws, json!({"name": "Plain", "nickname": "plain_bot"}));
    let (broken_bot, broken) = bot(
        &ws,
        json!({"name": "Broken", "nickname": "broken_bot", "template": "{% if %}oops"}),
    );
    let (quiet_bot, quiet) = bot(
        &ws,
        json!({"name": "Quiet", "nickname": "quiet_bot",
               "template": "{% if important %}!{% endif %}"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Sales", "member_ids": [mustache_bot, plain_bot, broken_bot, quiet_bot]}),
    ));

    let order = json!({"client": "Иван Петров", "amount": 15000, "status": "оплачен",
                       "project": {"name": "Pachca"}});
    expect(&hook(&ws, &mustache, &order.to_string()), 200);
    expect(
        &hook(&ws, &plain, r#"{"message": "Сборка **зелёная**"}"#),
        200,
    );
    // A template that does not parse posts the documented error text.
    expect(&hook(&ws, &broken, "{}"), 200);
    // An empty result posts nothing.
    let none = expect(&hook(&ws, &quiet, r#"{"important": false}"#), 200);
    assert_eq!(none["data"]["message_ids"], json!([]));
    let texts = contents(&ws, chat);
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert_eq!(
        texts[0],
        "Заказ от Иван Петров на сумму 15000 ₽ — оплачен\nПроект: Pachca"
    );
    assert_eq!(texts[1], "Сборка **зелёная**");
    assert!(texts[2].starts_with("Ошибка в шаблоне: "), "{}", texts[2]);

    // Over 40,000 bytes after rendering (20,001 Cyrillic letters): refused, nothing posted.
    let long = json!({"message": "я".repeat(20_001)});
    assert_api_error(
        &hook(&ws, &plain, &long.to_string()),
        422,
        "message",
        "too_long",
    );
    // Without a template the text must be in `message`; the body must be JSON.
    assert_api_error(
        &hook(&ws, &plain, r#"{"text": "x"}"#),
        422,
        "message",
        "blank",
    );
    assert_api_error(&hook(&ws, &plain, "not json"), 400, "body", "invalid");
    assert_eq!(contents(&ws, chat).len(), 3);

    // A variable may name any JSON the service posts: a boolean, a list or
    // an object renders as text (the mustache crate used to abort here).
    let (typed_bot, typed) = bot(
        &ws,
        json!({"name": "Typed", "nickname": "typed_bot", "template_engine": "mustache",
               "template": "{{ paid }} {{{ tags }}} {{{ customer }}}{{#tags}} #{{.}}{{/tags}}{{^gift}} no gift{{/gift}}"}),
    );
    expect(
        &ws.owner(
            "POST",
            &format!("/chats/{chat}/members"),
            Some(json!({"member_ids": [typed_bot]})),
        ),
        204,
    );
    let typed_order =
        json!({"paid": true, "tags": ["vip", "new"], "customer": {"id": 7}, "gift": false});
    expect(&hook(&ws, &typed, &typed_order.to_string()), 200);
    let texts = contents(&ws, chat);
    assert_eq!(
        texts.last().map(String::as_str),
        Some(r#"true ["vip","new"] {"id":7} #vip #new no gift"#),
        "{texts:?}"
    );
}

#[test]
fn verification_rate_limit_and_a_rotated_url() {
    let ws = Workspace::start(ADMIN);
    let (bot_id, path) = bot(
        &ws,
        json!({"name": "Monday", "nickname": "monday_bot", "challenge_key": "challenge"}),
    );
    let chat = id_of(&create_chat(
        &ws.host,
        ws.admin,
        json!({"name": "Boards", "member_ids": [bot_id]}),
    ));
    // A verification request gets its field back and posts nothing.
    let answer = expect(
        &hook(
            &ws,
            &path,
            r#"{"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#,
        ),
        200,
    );
    assert_eq!(
        answer,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    assert!(contents(&ws, chat).is_empty());

    // More than 10 requests a second to one URL: 429 with Retry-After.
    let statuses: Vec<Reply> = (0..25)
        .map(|i| {
            hook(
                &ws,
                &path,
                &json!({"message": format!("burst {i}")}).to_string(),
            )
        })
        .collect();
    let limited: Vec<&Reply> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty(), "no 429 in a burst of 25");
    assert_eq!(limited[0].header("retry-after"), Some("1"));
    assert_api_error(limited[0], 429, "token", "rate_limit");
    let accepted = statuses.iter().filter(|r| r.status == 200).count();
    assert_eq!(contents(&ws, chat).len(), accepted);

    // Rotating the URL retires the old one at once.
    let rotated = expect(
        &ws.owner("POST", &format!("/bots/{bot_id}/incoming_url"), None),
        200,
    );
    let new_path = path_of(&rotated["data"]["url"]);
    assert_ne!(new_path, path);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_api_error(
        &hook(&ws, &path, r#"{"message": "old"}"#),
        404,
        "token",
        "not_found",
    );
    expect(&hook(&ws, &new_path, r#"{"message": "new"}"#), 200);
    // Only the creator sees the URL; an admin allowed to edit the bot sees
    // the last request but not the secret.
    let allow = json!({"webhook": {"can_edit": ["admin"]}});
    expect(
        &ws.owner("PUT", &format!("/bots/{bot_id}"), Some(allow)),
        200,
    );
    let (_, admin_token) = setup::user_with_token(&ws.host, ws.admin, "adam", "admin");
    let path = format!("/bots/{bot_id}");
    let seen = expect(
        &e2e_tests::api::call(&ws.host, &admin_token, "GET", &path, None),
        200,
    );
    assert!(seen["data"]["webhook"].get("url").is_none(), "{seen}");
    assert!(seen["data"].get("signing_secret").is_none(), "{seen}");
    assert!(seen["data"]["webhook"]["last_request_body"]
        .as_str()
        .is_some_and(|b| b.contains("new")));
}
