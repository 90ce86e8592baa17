//! The setup every API test needs, in one place: a workspace (a fresh host
//! whose owner calls with the bootstrap admin token), users with personal
//! tokens, chats and messages, and the official error shapes.
//!
//! Each step goes through the public API and asserts its documented status,
//! so a broken setup fails where it happens, not later in the test.

use serde_json::{json, Value};

use crate::api::{app, call, expect, start_app};
use crate::{Host, HostConfig, Reply};

/// A fresh workspace: a host with an empty database (only the owner, user 1)
/// and the admin token its owner calls with.
pub struct Workspace {
    /// The running host.
    pub host: Host,
    /// The bootstrap admin token (the owner's).
    pub admin: &'static str,
}

impl Workspace {
    /// Starts the real app with `admin` as its admin token.
    pub fn start(admin: &'static str) -> Self {
        Self::start_with(admin, app(admin))
    }

    /// Starts the app with a host configuration of the caller's, which must
    /// set `admin` as its admin token (see [`app`]).
    pub fn start_with(admin: &'static str, config: HostConfig) -> Self {
        Workspace {
            host: start_app(config),
            admin,
        }
    }

    /// Calls as the owner.
    pub fn owner(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        call(&self.host, self.admin, method, path, body)
    }
}

/// The `id` of a rendered object.
pub fn id_of(v: &Value) -> i64 {
    v["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id: {v}"))
}

/// `POST /users` as the owner with the fields of `user`; returns the
/// rendered `User`.
pub fn create_user(host: &Host, admin: &str, user: Value) -> Value {
    let reply = call(host, admin, "POST", "/users", Some(json!({ "user": user })));
    expect(&reply, 201)["data"].clone()
}

/// `POST /access_tokens` as the owner for `user_id`, with every scope its
/// role allows when `scopes` is `None`; returns `(token id, secret)`.
pub fn issue_token(
    host: &Host,
    admin: &str,
    user_id: i64,
    scopes: Option<&[&str]>,
) -> (i64, String) {
    let mut token = json!({"user_id": user_id, "name": "e2e"});
    if let Some(s) = scopes {
        token["scopes"] = json!(s);
    }
    let reply = call(
        host,
        admin,
        "POST",
        "/access_tokens",
        Some(json!({ "access_token": token })),
    );
    let data = expect(&reply, 201)["data"].clone();
    let secret = data["token"].as_str().expect("token secret").to_owned();
    (id_of(&data), secret)
}

/// A user `nickname` (email `nickname@example.com`) with `role` and a
/// personal token carrying every scope the role allows: `(user id, token)`.
pub fn user_with_token(host: &Host, admin: &str, nickname: &str, role: &str) -> (i64, String) {
    let user = create_user(
        host,
        admin,
        json!({"email": format!("{nickname}@example.com"), "nickname": nickname, "role": role}),
    );
    let id = id_of(&user);
    (id, issue_token(host, admin, id, None).1)
}

/// `POST /chats` with the fields of `chat`; returns the `Chat`. Also checks
/// the `meta.not_found_member_ids` the official SDKs require.
pub fn create_chat(host: &Host, token: &str, chat: Value) -> Value {
    let reply = call(host, token, "POST", "/chats", Some(json!({ "chat": chat })));
    let body = expect(&reply, 201);
    assert_eq!(body["meta"], json!({"not_found_member_ids": []}), "{body}");
    body["data"].clone()
}

/// `POST /messages` of `content` into chat `chat_id`; returns the `Message`.
pub fn post_message(host: &Host, token: &str, chat_id: i64, content: &str) -> Value {
    let body = json!({"message": {"entity_id": chat_id, "content": content}});
    expect(&call(host, token, "POST", "/messages", Some(body)), 201)["data"].clone()
}

/// Asserts an `ApiError` with `status` and returns its body, after checking
/// that its first item has every required field of `ApiErrorItem`.
pub fn api_error(reply: &Reply, status: u16) -> Value {
    let body = expect(reply, status);
    let item = &body["errors"][0];
    let obj = item
        .as_object()
        .unwrap_or_else(|| panic!("not an ApiError: {body}"));
    for field in ["key", "value", "message", "code", "payload"] {
        assert!(obj.contains_key(field), "no {field}: {body}");
    }
    assert!(item["message"].is_string(), "body: {body}");
    body
}

/// The `code` of an `ApiError`'s first item (see [`api_error`]).
pub fn error_code(reply: &Reply, status: u16) -> String {
    api_error(reply, status)["errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {}", reply.text()))
        .to_owned()
}

/// Asserts an `ApiError` whose first item has `key` and `code`.
pub fn assert_api_error(reply: &Reply, status: u16, key: &str, code: &str) -> Value {
    let body = api_error(reply, status);
    let item = &body["errors"][0];
    assert_eq!(
        (item["key"].as_str(), item["code"].as_str()),
        (Some(key), Some(code)),
        "body: {body}"
    );
    body
}

/// Asserts an `OAuthError` with `error` and its `WWW-Authenticate` challenge.
pub fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    let body = expect(reply, status);
    assert_eq!(body["error"], error, "body: {body}");
    assert!(body["error_description"].is_string(), "body: {body}");
    assert!(body.get("errors").is_none(), "body: {body}");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.contains(error), "WWW-Authenticate: {challenge:?}");
}
