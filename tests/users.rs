//! The users area, end to end: the release `spin-host` serving the real
//! `spin.toml` over HTTP. Each test documents one behaviour of the public API
//! (`/api/shared/v1/...`): users, statuses, profile, group tags, custom
//! properties, search, token info and our extensions (personal access tokens,
//! bot creation).
//!
//! Expected values come from the official schemas (`User`, `UserStatus`,
//! `GroupTag`, `AccessTokenInfo`, `PaginationMeta`, `ApiError`, `OAuthError`).

use std::collections::HashSet;

use e2e_tests::api::{app, call, expect, raw, start_app, API};
use e2e_tests::setup::{self, assert_api_error, assert_oauth_error, id_of};
use e2e_tests::{send, Host, HostConfig, Reply};
use serde_json::{json, Value};

const ADMIN: &str = "users-e2e-admin-token";
fn config() -> HostConfig {
    app(ADMIN)
}

/// A fresh host with an empty database (only the owner, user 1).
fn start() -> Host {
    start_app(config())
}

/// Calls as the workspace owner (the bootstrap admin token).
fn admin(host: &Host, method: &str, path: &str, body: Option<Value>) -> Reply {
    call(host, ADMIN, method, path, body)
}

/// Creates a user with `role`; returns the rendered `User`.
fn create_user(host: &Host, email: &str, role: &str) -> Value {
    setup::create_user(host, ADMIN, json!({"email": email, "role": role}))
}

/// Issues a personal token for `user_id` (all scopes its role allows when
/// `scopes` is `None`); returns `(token id, secret)`.
fn issue_token(host: &Host, user_id: i64, scopes: Option<&[&str]>) -> (i64, String) {
    setup::issue_token(host, ADMIN, user_id, scopes)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn assert_timestamp(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    let b = s.as_bytes();
    assert!(
        s.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && s.ends_with('Z'),
        "not an ISO 8601 UTC timestamp: {s}"
    );
}

// ---------------------------------------------------------------- users

#[test]
fn post_users_creates_a_user_with_every_field_of_the_user_schema() {
    let host = start();
    let body = json!({"user": {
        "first_name": "Олег", "last_name": "Петров", "email": "Oleg.Petrov@Example.com",
        "phone_number": "+79001234567", "nickname": "oleg", "department": "Sales",
        "title": "Manager", "role": "admin"
    }});
    let user = expect(&admin(&host, "POST", "/users", Some(body)), 201)["data"].clone();
    assert!(id_of(&user) > 1);
    assert_eq!(user["first_name"], "Олег");
    assert_eq!(user["last_name"], "Петров");
    assert_eq!(user["email"], "oleg.petrov@example.com");
    assert_eq!(user["phone_number"], "+79001234567");
    assert_eq!(user["nickname"], "oleg");
    assert_eq!(user["department"], "Sales");
    assert_eq!(user["title"], "Manager");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["suspended"], false);
    assert_eq!(user["invite_status"], "sent");
    assert_eq!(user["inviter_id"], 1);
    assert_eq!(user["list_tags"], json!([]));
    assert_eq!(user["custom_properties"], json!([]));
    assert_eq!(user["user_status"], Value::Null);
    assert_eq!(user["bot"], false);
    assert_eq!(user["sso"], false);
    assert_timestamp(&user["created_at"]);
    for nullable in ["last_activity_at", "time_zone", "image_url"] {
        assert!(user.get(nullable).is_some(), "{nullable} missing");
    }
}

#[test]
fn post_users_defaults_role_to_user_and_derives_the_nickname_from_the_email() {
    let host = start();
    let user = expect(
        &admin(
            &host,
            "POST",
            "/users",
            Some(json!({"user": {"email": "anna.k@example.com"}})),
        ),
        201,
    )["data"]
        .clone();
    assert_eq!(user["role"], "user");
    assert_eq!(user["nickname"], "anna.k");
    assert_eq!(user["first_name"], Value::Null);
    // A second user with the same local part gets a distinct nickname.
    let other = create_user(&host, "anna.k@example.org", "user");
    assert_ne!(other["nickname"], "anna.k");
}

#[test]
fn post_users_with_a_taken_email_is_422_taken_regardless_of_case() {
    let host = start();
    create_user(&host, "dup@example.com", "user");
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "DUP@example.com"}})),
    );
    assert_api_error(&reply, 422, "email", "taken");
}

#[test]
fn post_users_with_a_taken_nickname_is_422_taken() {
    let host = start();
    admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "a@example.com", "nickname": "same"}})),
    );
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "b@example.com", "nickname": "same"}})),
    );
    let body = assert_api_error(&reply, 422, "nickname", "taken");
    assert_eq!(body["errors"][0]["value"], "same");
}

#[test]
fn post_users_without_an_email_is_422_blank_and_a_bad_email_is_422_invalid() {
    let host = start();
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"first_name": "X"}})),
    );
    assert_api_error(&reply, 422, "email", "blank");
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "not-an-email"}})),
    );
    let body = assert_api_error(&reply, 422, "email", "invalid");
    assert_eq!(body["errors"][0]["value"], "not-an-email");
}

#[test]
fn post_users_with_an_unknown_role_is_422_inclusion() {
    let host = start();
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "r@example.com", "role": "owner"}})),
    );
    assert_api_error(&reply, 422, "role", "inclusion");
}

#[test]
fn post_users_with_a_guest_needs_exactly_one_chat_400_on_chat_ids() {
    let host = start();
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "g@example.com", "role": "guest"}})),
    );
    assert_api_error(&reply, 400, "chat_ids", "invalid");
}

#[test]
fn post_users_with_chat_ids_makes_the_user_a_member_of_those_chats() {
    let host = start();
    let chat = |name: &str, public: bool| {
        let body = json!({"chat": {"name": name, "public": public}});
        id_of(&expect(&admin(&host, "POST", "/chats", Some(body)), 201)["data"])
    };
    let (open, closed) = (chat("Open", true), chat("Closed", false));
    let body = json!({"user": {"email": "c@example.com", "chat_ids": [open, closed]}});
    let user = id_of(&expect(&admin(&host, "POST", "/users", Some(body)), 201)["data"]);
    for id in [open, closed] {
        let got = expect(&admin(&host, "GET", &format!("/chats/{id}"), None), 200);
        assert_eq!(got["data"]["member_ids"], json!([1, user]), "chat {id}");
    }
    let members = expect(
        &admin(&host, "GET", &format!("/chats/{closed}/members"), None),
        200,
    );
    assert_eq!(members["data"][1]["id"], user);

    // An unknown chat is 422 on its item, and no user is created.
    let body = json!({"user": {"email": "d@example.com", "chat_ids": [open, 987654]}});
    let reply = admin(&host, "POST", "/users", Some(body));
    assert_api_error(&reply, 422, "chat_ids.1", "not_found");
    let body = json!({"user": {"email": "d@example.com"}});
    expect(&admin(&host, "POST", "/users", Some(body)), 201);
    let got = expect(&admin(&host, "GET", &format!("/chats/{open}"), None), 200);
    assert_eq!(got["data"]["member_ids"], json!([1, user]));
}

#[test]
fn get_users_lists_users_by_id_with_pagination_meta() {
    let host = start();
    let ids: Vec<i64> = (0..3)
        .map(|i| id_of(&create_user(&host, &format!("l{i}@example.com"), "user")))
        .collect();
    let page = expect(&admin(&host, "GET", "/users?limit=2", None), 200);
    let got: Vec<i64> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(got, vec![1, ids[0]]);
    let paginate = &page["meta"]["paginate"];
    assert_eq!(paginate["has_next"], true);
    assert_eq!(paginate["has_prev"], false);
    let next = paginate["next_page"].as_str().expect("next_page");
    let page2 = expect(
        &admin(&host, "GET", &format!("/users?limit=2&cursor={next}"), None),
        200,
    );
    let got: Vec<i64> = page2["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(got, vec![ids[1], ids[2]]);
    assert_eq!(page2["meta"]["paginate"]["has_next"], false);
    assert_eq!(page2["meta"]["paginate"]["has_prev"], true);
}

#[test]
fn get_users_rejects_a_bad_limit_or_cursor_with_400() {
    let host = start();
    for limit in ["0", "51", "abc"] {
        let reply = admin(&host, "GET", &format!("/users?limit={limit}"), None);
        assert_api_error(&reply, 400, "limit", "invalid");
    }
    let reply = admin(&host, "GET", "/users?cursor=%%%garbage", None);
    assert_api_error(&reply, 400, "cursor", "invalid");
}

#[test]
fn get_users_with_query_filters_by_name() {
    let host = start();
    admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "q1@example.com", "first_name": "Zebulon"}})),
    );
    create_user(&host, "q2@example.com", "user");
    let page = expect(&admin(&host, "GET", "/users?query=zebul", None), 200);
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["first_name"], "Zebulon");
}

#[test]
fn get_user_by_id_returns_the_user() {
    let host = start();
    let created = create_user(&host, "one@example.com", "multi_guest");
    let got = expect(
        &admin(&host, "GET", &format!("/users/{}", id_of(&created)), None),
        200,
    )["data"]
        .clone();
    assert_eq!(got, created);
    assert_eq!(got["role"], "multi_guest");
}

#[test]
fn get_user_that_does_not_exist_is_404_not_found() {
    let host = start();
    let body = assert_api_error(
        &admin(&host, "GET", "/users/999", None),
        404,
        "id",
        "not_found",
    );
    assert_eq!(body["errors"][0]["value"], "999");
    assert_api_error(
        &admin(&host, "GET", "/users/abc", None),
        404,
        "id",
        "not_found",
    );
}

#[test]
fn put_user_changes_only_the_fields_sent() {
    let host = start();
    let id = id_of(
        &admin(
            &host,
            "POST",
            "/users",
            Some(json!({"user": {"email": "p@example.com", "first_name": "A", "title": "Dev"}})),
        )
        .json()["data"],
    );
    let user = expect(
        &admin(
            &host,
            "PUT",
            &format!("/users/{id}"),
            Some(json!({"user": {"last_name": "B", "nickname": "pb", "email": "P2@example.com"}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(user["first_name"], "A");
    assert_eq!(user["title"], "Dev");
    assert_eq!(user["last_name"], "B");
    assert_eq!(user["nickname"], "pb");
    assert_eq!(user["email"], "p2@example.com");
    // No string of UserUpdateRequest is nullable: null is refused and
    // changes nothing; an empty string clears the field.
    let reply = admin(
        &host,
        "PUT",
        &format!("/users/{id}"),
        Some(json!({"user": {"title": null}})),
    );
    assert_api_error(&reply, 422, "title", "invalid");
    let user = expect(&admin(&host, "GET", &format!("/users/{id}"), None), 200)["data"].clone();
    assert_eq!(user["title"], "Dev");
    let user = expect(
        &admin(
            &host,
            "PUT",
            &format!("/users/{id}"),
            Some(json!({"user": {"title": ""}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(user["title"], Value::Null);
}

#[test]
fn put_user_changes_the_role() {
    let host = start();
    let id = id_of(&create_user(&host, "role@example.com", "user"));
    for role in ["admin", "multi_guest", "user"] {
        let user = expect(
            &admin(
                &host,
                "PUT",
                &format!("/users/{id}"),
                Some(json!({"user": {"role": role}})),
            ),
            200,
        )["data"]
            .clone();
        assert_eq!(user["role"], role);
    }
    // `guest` is not a `UserRoleInput`.
    let reply = admin(
        &host,
        "PUT",
        &format!("/users/{id}"),
        Some(json!({"user": {"role": "guest"}})),
    );
    assert_api_error(&reply, 422, "role", "inclusion");
}

#[test]
fn put_user_suspended_blocks_their_tokens_until_reactivated() {
    let host = start();
    let id = id_of(&create_user(&host, "sus@example.com", "user"));
    let (_, token) = issue_token(&host, id, None);
    assert_eq!(call(&host, &token, "GET", "/profile", None).status, 200);
    let user = expect(
        &admin(
            &host,
            "PUT",
            &format!("/users/{id}"),
            Some(json!({"user": {"suspended": true}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(user["suspended"], true);
    assert_oauth_error(
        &call(&host, &token, "GET", "/profile", None),
        401,
        "invalid_token",
    );
    admin(
        &host,
        "PUT",
        &format!("/users/{id}"),
        Some(json!({"user": {"suspended": false}})),
    );
    assert_eq!(call(&host, &token, "GET", "/profile", None).status, 200);
}

#[test]
fn put_user_list_tags_replaces_the_tags_creating_missing_ones() {
    let host = start();
    let id = id_of(&create_user(&host, "tags@example.com", "user"));
    let user = expect(
        &admin(
            &host,
            "PUT",
            &format!("/users/{id}"),
            Some(json!({"user": {"list_tags": ["Backend", "Alpha"]}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(user["list_tags"], json!(["Alpha", "Backend"]));
    let tags = expect(&admin(&host, "GET", "/group_tags", None), 200);
    let names: Vec<&str> = tags["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Backend", "Alpha"]);
    let user = expect(
        &admin(
            &host,
            "PUT",
            &format!("/users/{id}"),
            Some(json!({"user": {"list_tags": ["Alpha"]}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(user["list_tags"], json!(["Alpha"]));
}

#[test]
fn put_user_custom_properties_sets_values_of_defined_properties() {
    let host = start();
    let prop = expect(
        &admin(
            &host,
            "POST",
            "/custom_properties",
            Some(json!({"custom_property": {"entity_type": "User", "name": "Город", "data_type": "string"}})),
        ),
        201,
    )["data"]
        .clone();
    let pid = id_of(&prop);
    let id = id_of(&create_user(&host, "cp@example.com", "user"));
    let user = expect(
        &admin(
            &host,
            "PUT",
            &format!("/users/{id}"),
            Some(json!({"user": {"custom_properties": [{"id": pid, "value": "Казань"}]}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(
        user["custom_properties"],
        json!([{"id": pid, "name": "Город", "data_type": "string", "value": "Казань"}])
    );
    // An unknown property is 422 on its index, with the id in the payload.
    let reply = admin(
        &host,
        "PUT",
        &format!("/users/{id}"),
        Some(json!({"user": {"custom_properties": [{"id": 9999, "value": "x"}]}})),
    );
    let body = assert_api_error(&reply, 422, "custom_properties.0.id", "not_found");
    assert_eq!(body["errors"][0]["payload"], json!({"id": 9999}));
}

#[test]
fn put_user_with_a_taken_email_or_nickname_is_422_taken() {
    let host = start();
    admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "first@example.com", "nickname": "first"}})),
    );
    let id = id_of(&create_user(&host, "second@example.com", "user"));
    let reply = admin(
        &host,
        "PUT",
        &format!("/users/{id}"),
        Some(json!({"user": {"email": "First@example.com"}})),
    );
    assert_api_error(&reply, 422, "email", "taken");
    let reply = admin(
        &host,
        "PUT",
        &format!("/users/{id}"),
        Some(json!({"user": {"nickname": "first"}})),
    );
    assert_api_error(&reply, 422, "nickname", "taken");
}

#[test]
fn put_user_that_does_not_exist_is_404() {
    let host = start();
    let reply = admin(
        &host,
        "PUT",
        "/users/4242",
        Some(json!({"user": {"first_name": "X"}})),
    );
    assert_api_error(&reply, 404, "id", "not_found");
}

#[test]
fn the_owner_cannot_be_demoted_suspended_or_deleted_owner_protected() {
    let host = start();
    let admin_id = id_of(&create_user(&host, "adm@example.com", "admin"));
    let (_, token) = issue_token(&host, admin_id, None);
    let reply = call(
        &host,
        &token,
        "PUT",
        "/users/1",
        Some(json!({"user": {"role": "user"}})),
    );
    assert_api_error(&reply, 403, "role", "owner_protected");
    let reply = call(
        &host,
        &token,
        "PUT",
        "/users/1",
        Some(json!({"user": {"suspended": true}})),
    );
    assert_api_error(&reply, 403, "suspended", "owner_protected");
    let reply = call(&host, &token, "DELETE", "/users/1", None);
    assert_api_error(&reply, 403, "id", "owner_protected");
    // Nothing changed.
    let owner = expect(&admin(&host, "GET", "/users/1", None), 200)["data"].clone();
    assert_eq!(
        (owner["role"].clone(), owner["suspended"].clone()),
        (json!("admin"), json!(false))
    );
}

#[test]
fn the_owner_echoing_its_rendered_role_admin_is_not_a_role_change() {
    let host = start();
    let owner = expect(
        &admin(
            &host,
            "PUT",
            "/users/1",
            Some(json!({"user": {"role": "admin", "first_name": "Boss"}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(owner["first_name"], "Boss");
    assert_eq!(owner["role"], "admin");
}

#[test]
fn an_admin_cannot_change_their_own_role_or_suspend_or_delete_themselves_self_update() {
    let host = start();
    let id = id_of(&create_user(&host, "self@example.com", "admin"));
    let (_, token) = issue_token(&host, id, None);
    let path = format!("/users/{id}");
    let reply = call(
        &host,
        &token,
        "PUT",
        &path,
        Some(json!({"user": {"role": "user"}})),
    );
    assert_api_error(&reply, 403, "role", "self_update");
    let reply = call(
        &host,
        &token,
        "PUT",
        &path,
        Some(json!({"user": {"suspended": true}})),
    );
    assert_api_error(&reply, 403, "suspended", "self_update");
    assert_api_error(
        &call(&host, &token, "DELETE", &path, None),
        403,
        "id",
        "self_update",
    );
    // Other fields of oneself can be edited.
    let me = expect(
        &call(
            &host,
            &token,
            "PUT",
            &path,
            Some(json!({"user": {"title": "Lead"}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(
        (me["title"].clone(), me["role"].clone()),
        (json!("Lead"), json!("admin"))
    );
}

#[test]
fn delete_user_removes_the_user_frees_the_email_and_revokes_their_tokens() {
    let host = start();
    let id = id_of(&create_user(&host, "gone@example.com", "user"));
    let (_, token) = issue_token(&host, id, None);
    expect(&admin(&host, "DELETE", &format!("/users/{id}"), None), 204);
    assert_api_error(
        &admin(&host, "GET", &format!("/users/{id}"), None),
        404,
        "id",
        "not_found",
    );
    assert_api_error(
        &admin(&host, "DELETE", &format!("/users/{id}"), None),
        404,
        "id",
        "not_found",
    );
    assert_oauth_error(
        &call(&host, &token, "GET", "/profile", None),
        401,
        "invalid_token",
    );
    let again = create_user(&host, "gone@example.com", "user");
    assert_ne!(id_of(&again), id);
    let all = expect(&admin(&host, "GET", "/users", None), 200);
    assert!(!all["data"]
        .as_array()
        .expect("data")
        .iter()
        .any(|u| id_of(u) == id));
}

// ------------------------------------------------------------- statuses

#[test]
fn put_get_delete_users_status() {
    let host = start();
    let id = id_of(&create_user(&host, "st@example.com", "user"));
    let path = format!("/users/{id}/status");
    assert_eq!(
        expect(&admin(&host, "GET", &path, None), 200)["data"],
        Value::Null
    );
    let status = expect(
        &admin(
            &host,
            "PUT",
            &path,
            Some(json!({"status": {
                "emoji": "🏖", "title": "Отпуск", "expires_at": "2099-01-02T03:04:05.000Z",
                "is_away": true, "away_message": "Back in May"
            }})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(
        status,
        json!({"emoji": "🏖", "title": "Отпуск", "expires_at": "2099-01-02T03:04:05.000Z",
               "is_away": true, "away_message": {"text": "Back in May"}})
    );
    assert_eq!(
        expect(&admin(&host, "GET", &path, None), 200)["data"],
        status
    );
    let user = expect(&admin(&host, "GET", &format!("/users/{id}"), None), 200)["data"].clone();
    assert_eq!(user["user_status"], status);
    expect(&admin(&host, "DELETE", &path, None), 204);
    assert_eq!(
        expect(&admin(&host, "GET", &path, None), 200)["data"],
        Value::Null
    );
}

#[test]
fn put_users_status_validates_emoji_and_title() {
    let host = start();
    let id = id_of(&create_user(&host, "st2@example.com", "user"));
    let path = format!("/users/{id}/status");
    let reply = admin(
        &host,
        "PUT",
        &path,
        Some(json!({"status": {"emoji": "smile", "title": "x"}})),
    );
    assert_api_error(&reply, 422, "emoji", "wrong_emoji");
    let reply = admin(
        &host,
        "PUT",
        &path,
        Some(json!({"status": {"emoji": "🙂", "title": "x".repeat(51)}})),
    );
    assert_api_error(&reply, 422, "title", "too_long");
    let reply = admin(
        &host,
        "PUT",
        &path,
        Some(
            json!({"status": {"emoji": "🙂", "title": "x", "expires_at": "2001-01-01T00:00:00Z"}}),
        ),
    );
    assert_api_error(&reply, 422, "expires_at", "invalid");
}

#[test]
fn users_status_of_a_missing_user_is_404_on_user_id() {
    let host = start();
    assert_api_error(
        &admin(&host, "GET", "/users/777/status", None),
        404,
        "user_id",
        "not_found",
    );
    let reply = admin(
        &host,
        "PUT",
        "/users/777/status",
        Some(json!({"status": {"emoji": "🙂", "title": "x"}})),
    );
    assert_api_error(&reply, 404, "user_id", "not_found");
}

// -------------------------------------------------------------- profile

#[test]
fn get_profile_is_the_token_owner() {
    let host = start();
    let owner = expect(&admin(&host, "GET", "/profile", None), 200)["data"].clone();
    assert_eq!(owner["id"], 1);
    assert_eq!(owner["role"], "admin");
    let id = id_of(&create_user(&host, "me@example.com", "user"));
    let (_, token) = issue_token(&host, id, None);
    let me = expect(&call(&host, &token, "GET", "/profile", None), 200)["data"].clone();
    assert_eq!(
        (me["id"].as_i64(), me["email"].as_str()),
        (Some(id), Some("me@example.com"))
    );
}

#[test]
fn put_get_delete_profile_status() {
    let host = start();
    let id = id_of(&create_user(&host, "ps@example.com", "user"));
    let (_, token) = issue_token(&host, id, None);
    assert_eq!(
        expect(&call(&host, &token, "GET", "/profile/status", None), 200)["data"],
        Value::Null
    );
    let status = expect(
        &call(
            &host,
            &token,
            "PUT",
            "/profile/status",
            Some(json!({"status": {"emoji": "🚀", "title": "Shipping"}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(
        status,
        json!({"emoji": "🚀", "title": "Shipping", "expires_at": null, "is_away": false, "away_message": null})
    );
    // Visible to others as the user's status.
    assert_eq!(
        expect(
            &admin(&host, "GET", &format!("/users/{id}/status"), None),
            200
        )["data"],
        status
    );
    expect(&call(&host, &token, "DELETE", "/profile/status", None), 204);
    assert_eq!(
        expect(&call(&host, &token, "GET", "/profile/status", None), 200)["data"],
        Value::Null
    );
}

// ----------------------------------------------------------- group tags

#[test]
fn group_tags_create_read_rename_and_delete() {
    let host = start();
    let tag = expect(
        &admin(
            &host,
            "POST",
            "/group_tags",
            Some(json!({"group_tag": {"name": "Design"}})),
        ),
        201,
    )["data"]
        .clone();
    let tid = id_of(&tag);
    assert_eq!(tag, json!({"id": tid, "name": "Design", "users_count": 0}));
    assert_eq!(
        expect(
            &admin(&host, "GET", &format!("/group_tags/{tid}"), None),
            200
        )["data"],
        tag
    );
    let renamed = expect(
        &admin(
            &host,
            "PUT",
            &format!("/group_tags/{tid}"),
            Some(json!({"group_tag": {"name": "UX"}})),
        ),
        200,
    )["data"]
        .clone();
    assert_eq!(renamed, json!({"id": tid, "name": "UX", "users_count": 0}));
    expect(
        &admin(&host, "DELETE", &format!("/group_tags/{tid}"), None),
        204,
    );
    assert_api_error(
        &admin(&host, "GET", &format!("/group_tags/{tid}"), None),
        404,
        "id",
        "not_found",
    );
}

#[test]
fn group_tag_names_are_unique_422_taken_and_required_422_blank() {
    let host = start();
    admin(
        &host,
        "POST",
        "/group_tags",
        Some(json!({"group_tag": {"name": "Ops"}})),
    );
    let reply = admin(
        &host,
        "POST",
        "/group_tags",
        Some(json!({"group_tag": {"name": "ops"}})),
    );
    assert_api_error(&reply, 422, "name", "taken");
    let reply = admin(
        &host,
        "POST",
        "/group_tags",
        Some(json!({"group_tag": {"name": ""}})),
    );
    assert_api_error(&reply, 422, "name", "blank");
}

#[test]
fn get_group_tags_filters_by_names() {
    let host = start();
    for name in ["One", "Two", "Three"] {
        admin(
            &host,
            "POST",
            "/group_tags",
            Some(json!({"group_tag": {"name": name}})),
        );
    }
    let page = expect(
        &admin(&host, "GET", "/group_tags?names[]=one&names[]=Three", None),
        200,
    );
    let names: Vec<&str> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, vec!["One", "Three"]);
    assert_eq!(page["meta"]["paginate"]["has_next"], false);
}

#[test]
fn get_group_tag_users_lists_the_tagged_users_and_counts_them() {
    let host = start();
    let a = id_of(&create_user(&host, "ta@example.com", "user"));
    let b = id_of(&create_user(&host, "tb@example.com", "user"));
    create_user(&host, "tc@example.com", "user");
    for id in [a, b] {
        admin(
            &host,
            "PUT",
            &format!("/users/{id}"),
            Some(json!({"user": {"list_tags": ["Team"]}})),
        );
    }
    let tags = expect(&admin(&host, "GET", "/group_tags?names=Team", None), 200);
    let tag = tags["data"][0].clone();
    assert_eq!(tag["users_count"], 2);
    let users = expect(
        &admin(
            &host,
            "GET",
            &format!("/group_tags/{}/users", id_of(&tag)),
            None,
        ),
        200,
    );
    let ids: Vec<i64> = users["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![a, b]);
    assert_eq!(users["data"][0]["list_tags"], json!(["Team"]));
    assert_api_error(
        &admin(&host, "GET", "/group_tags/999/users", None),
        404,
        "id",
        "not_found",
    );
}

// ---------------------------------------------------- custom properties

#[test]
fn get_custom_properties_lists_definitions_of_the_entity_type() {
    let host = start();
    assert_eq!(
        expect(
            &admin(&host, "GET", "/custom_properties?entity_type=User", None),
            200
        )["data"],
        json!([])
    );
    let def = |name: &str, et: &str, dt: &str| {
        expect(
            &admin(
                &host,
                "POST",
                "/custom_properties",
                Some(
                    json!({"custom_property": {"entity_type": et, "name": name, "data_type": dt}}),
                ),
            ),
            201,
        )["data"]["id"]
            .as_i64()
            .expect("id")
    };
    let born = def("Born", "User", "date");
    let site = def("Site", "User", "link");
    def("Estimate", "Task", "number");
    assert_eq!(
        expect(
            &admin(&host, "GET", "/custom_properties?entity_type=User", None),
            200
        )["data"],
        json!([
            {"id": born, "name": "Born", "data_type": "date"},
            {"id": site, "name": "Site", "data_type": "link"},
        ])
    );
    assert_api_error(
        &admin(&host, "GET", "/custom_properties", None),
        400,
        "entity_type",
        "required",
    );
    assert_api_error(
        &admin(&host, "GET", "/custom_properties?entity_type=Chat", None),
        400,
        "entity_type",
        "inclusion",
    );
}

#[test]
fn custom_property_values_are_validated_by_data_type() {
    let host = start();
    let pid = expect(
        &admin(
            &host,
            "POST",
            "/custom_properties",
            Some(json!({"custom_property": {"entity_type": "User", "name": "Site", "data_type": "link"}})),
        ),
        201,
    )["data"]["id"]
        .as_i64()
        .expect("id");
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(
            json!({"user": {"email": "v@example.com", "custom_properties": [{"id": pid, "value": "not a link"}]}}),
        ),
    );
    let body = assert_api_error(&reply, 422, "custom_properties.0.value", "invalid");
    assert_eq!(body["errors"][0]["payload"], json!({"id": pid}));
    // Deleting the definition removes it from the list.
    expect(
        &admin(&host, "DELETE", &format!("/custom_properties/{pid}"), None),
        204,
    );
    assert_eq!(
        expect(
            &admin(&host, "GET", "/custom_properties?entity_type=User", None),
            200
        )["data"],
        json!([])
    );
}

// ------------------------------------------------------------- search

#[test]
fn search_users_matches_names_and_reports_the_total() {
    let host = start();
    for (email, first) in [
        ("s1@example.com", "Светлана"),
        ("s2@example.com", "Святослав"),
        ("s3@example.com", "Иван"),
    ] {
        admin(
            &host,
            "POST",
            "/users",
            Some(json!({"user": {"email": email, "first_name": first}})),
        );
    }
    let page = expect(
        &admin(
            &host,
            "GET",
            "/search/users?query=%D1%81%D0%B2&sort=alphabetical",
            None,
        ),
        200,
    );
    let names: Vec<&str> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|u| u["first_name"].as_str())
        .collect();
    assert_eq!(names, vec!["Светлана", "Святослав"]);
    assert_eq!(page["meta"]["total"], 2);
    assert!(page["meta"]["paginate"]["next_page"].is_string());
}

#[test]
fn search_users_filters_by_company_roles_and_pages_with_next_page() {
    let host = start();
    for i in 0..3 {
        create_user(&host, &format!("ad{i}@example.com"), "admin");
    }
    create_user(&host, "plain@example.com", "user");
    // The owner is rendered as admin and filtered as one.
    let page = expect(
        &admin(
            &host,
            "GET",
            "/search/users?company_roles[]=admin&limit=3",
            None,
        ),
        200,
    );
    assert_eq!(page["meta"]["total"], 4);
    assert_eq!(page["data"].as_array().expect("data").len(), 3);
    let next = page["meta"]["paginate"]["next_page"]
        .as_str()
        .expect("next");
    let rest = expect(
        &admin(
            &host,
            "GET",
            &format!("/search/users?company_roles[]=admin&limit=3&cursor={next}"),
            None,
        ),
        200,
    );
    assert_eq!(rest["data"].as_array().expect("data").len(), 1);
    assert!(rest["data"][0]["role"] == "admin");
}

#[test]
fn search_users_rejects_unknown_sort_order_and_roles_with_400() {
    let host = start();
    assert_api_error(
        &admin(&host, "GET", "/search/users?sort=random", None),
        400,
        "sort",
        "inclusion",
    );
    assert_api_error(
        &admin(&host, "GET", "/search/users?order=up", None),
        400,
        "order",
        "inclusion",
    );
    assert_api_error(
        &admin(&host, "GET", "/search/users?company_roles=owner", None),
        400,
        "company_roles",
        "inclusion",
    );
}

#[test]
fn search_users_reads_date_times_without_an_offset_as_utc() {
    // Python's naive `datetime.isoformat()`, as the official SDK sends it.
    let host = start();
    create_user(&host, "naive@example.com", "user");
    let page = expect(
        &admin(
            &host,
            "GET",
            "/search/users?query=naive&created_from=2000-01-01T00:00:00&created_to=2999-01-01T00:00:00.000001",
            None,
        ),
        200,
    );
    assert_eq!(page["meta"]["total"], 1);
    let page = expect(
        &admin(
            &host,
            "GET",
            "/search/users?query=naive&created_from=2999-01-01T00:00:00",
            None,
        ),
        200,
    );
    assert_eq!(page["meta"]["total"], 0);
    assert_api_error(
        &admin(
            &host,
            "GET",
            "/search/users?created_to=2024-13-01T00:00:00",
            None,
        ),
        400,
        "created_to",
        "invalid",
    );
}

// --------------------------------------------------- token info, tokens

#[test]
fn oauth_token_info_describes_the_admin_token_without_revealing_it() {
    let host = start();
    let info = expect(&admin(&host, "GET", "/oauth/token/info", None), 200)["data"].clone();
    assert_eq!(info["user_id"], 1);
    assert_ne!(info["token"], ADMIN);
    assert!(info["scopes"]
        .as_array()
        .expect("scopes")
        .contains(&json!("users:create")));
    assert_timestamp(&info["created_at"]);
}

#[test]
fn oauth_token_info_describes_a_personal_token() {
    let host = start();
    let id = id_of(&create_user(&host, "ti@example.com", "user"));
    let (tid, token) = issue_token(&host, id, Some(&["profile:read", "users:read"]));
    let info = expect(&call(&host, &token, "GET", "/oauth/token/info", None), 200)["data"].clone();
    assert_eq!(info["id"], tid);
    assert_eq!(info["user_id"], id);
    assert_eq!(info["name"], "e2e");
    assert_eq!(info["scopes"], json!(["profile:read", "users:read"]));
    let shown = info["token"].as_str().expect("token");
    assert_ne!(shown, token);
    assert!(shown.starts_with(&token[..8]) && shown.ends_with(&token[token.len() - 4..]));
    assert_eq!(info["revoked_at"], Value::Null);
}

#[test]
fn access_tokens_are_issued_used_listed_without_secret_and_revoked_at_once() {
    let host = start();
    let id = id_of(&create_user(&host, "tok@example.com", "user"));
    let issued = expect(
        &admin(
            &host,
            "POST",
            "/access_tokens",
            Some(json!({"access_token": {"user_id": id, "name": "ci", "scopes": ["users:read"]}})),
        ),
        201,
    )["data"]
        .clone();
    let tid = id_of(&issued);
    let secret = issued["token"].as_str().expect("token").to_owned();
    assert!(secret.len() >= 40);
    assert_eq!(issued["user_id"], id);
    assert_eq!(issued["name"], "ci");
    assert_eq!(issued["scopes"], json!(["users:read"]));
    assert_timestamp(&issued["created_at"]);

    // Use it.
    let users = expect(&call(&host, &secret, "GET", "/users", None), 200);
    assert!(users["data"].as_array().expect("data").len() >= 2);

    // List: the secret never comes back.
    let list = admin(&host, "GET", &format!("/access_tokens?user_id={id}"), None);
    assert!(!list.text().contains(&secret));
    let list = expect(&list, 200)["data"].clone();
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["id"], tid);
    assert_eq!(list[0]["scopes"], json!(["users:read"]));
    // The owner lists their own tokens with their own token.
    let own = expect(&call(&host, &secret, "GET", "/access_tokens", None), 200)["data"].clone();
    assert_eq!(own[0]["id"], tid);

    // Revoke: 401 at once.
    expect(
        &admin(&host, "DELETE", &format!("/access_tokens/{tid}"), None),
        204,
    );
    assert_oauth_error(
        &call(&host, &secret, "GET", "/users", None),
        401,
        "invalid_token",
    );
    assert_eq!(
        expect(
            &admin(&host, "GET", &format!("/access_tokens?user_id={id}"), None),
            200
        )["data"],
        json!([])
    );
    assert_api_error(
        &admin(&host, "DELETE", &format!("/access_tokens/{tid}"), None),
        404,
        "id",
        "not_found",
    );
}

#[test]
fn access_tokens_cannot_be_issued_for_others_by_a_user_403_forbidden() {
    let host = start();
    let me = id_of(&create_user(&host, "u1@example.com", "user"));
    let other = id_of(&create_user(&host, "u2@example.com", "user"));
    let (_, token) = issue_token(&host, me, None);
    let reply = call(
        &host,
        &token,
        "POST",
        "/access_tokens",
        Some(json!({"access_token": {"user_id": other}})),
    );
    assert_api_error(&reply, 403, "user_id", "forbidden");
    let reply = call(
        &host,
        &token,
        "GET",
        &format!("/access_tokens?user_id={other}"),
        None,
    );
    assert_api_error(&reply, 403, "user_id", "forbidden");
}

#[test]
fn access_tokens_never_grant_more_than_the_issuing_token_or_the_role_holds() {
    let host = start();
    let me = id_of(&create_user(&host, "narrow@example.com", "user"));
    let (_, token) = issue_token(&host, me, Some(&["users:read"]));
    // A user-role token cannot grant itself a scope it lacks: 403 ApiError.
    let reply = call(
        &host,
        &token,
        "POST",
        "/access_tokens",
        Some(json!({"access_token": {"scopes": ["profile:read"]}})),
    );
    let body = assert_api_error(&reply, 403, "scopes", "forbidden");
    assert_eq!(body["errors"][0]["value"], "profile:read");
    // A scope the user's role cannot hold is 422 on its index.
    let reply = admin(
        &host,
        "POST",
        "/access_tokens",
        Some(json!({"access_token": {"user_id": me, "scopes": ["users:read", "users:create"]}})),
    );
    assert_api_error(&reply, 422, "scopes.1", "not_applicable");
    let reply = admin(
        &host,
        "POST",
        "/access_tokens",
        Some(json!({"access_token": {"user_id": me, "scopes": ["no:such"]}})),
    );
    assert_api_error(&reply, 422, "scopes.0", "inclusion");
}

// ------------------------------------------------------- auth failures

#[test]
fn requests_without_a_token_are_401_invalid_token() {
    let host = start();
    for (method, path) in [
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/1"),
        ("GET", "/profile"),
        ("GET", "/group_tags"),
        ("GET", "/custom_properties?entity_type=User"),
        ("GET", "/oauth/token/info"),
        ("GET", "/search/users"),
        ("GET", "/access_tokens"),
    ] {
        let reply = raw(&host, None, method, path, None);
        assert_oauth_error(&reply, 401, "invalid_token");
    }
}

#[test]
fn requests_with_an_unknown_or_malformed_token_are_401_invalid_token() {
    let host = start();
    assert_oauth_error(
        &raw(
            &host,
            Some("definitely-not-a-token"),
            "GET",
            "/profile",
            None,
        ),
        401,
        "invalid_token",
    );
    let req = ureq::get(&host.url(&format!("{API}/profile")))
        .set("Authorization", &format!("Basic {ADMIN}"));
    assert_oauth_error(&send(req, None), 401, "invalid_token");
}

#[test]
fn a_token_lacking_the_scope_is_403_insufficient_scope() {
    let host = start();
    let id = id_of(&create_user(&host, "scope@example.com", "admin"));
    let (_, token) = issue_token(&host, id, Some(&["profile:read"]));
    assert_eq!(call(&host, &token, "GET", "/profile", None).status, 200);
    assert_oauth_error(
        &call(&host, &token, "GET", "/users", None),
        403,
        "insufficient_scope",
    );
    assert_oauth_error(
        &call(
            &host,
            &token,
            "POST",
            "/group_tags",
            Some(json!({"group_tag": {"name": "x"}})),
        ),
        403,
        "insufficient_scope",
    );
}

#[test]
fn a_user_role_token_cannot_create_users_403() {
    let host = start();
    let id = id_of(&create_user(&host, "employee@example.com", "user"));
    let (_, token) = issue_token(&host, id, None);
    let reply = call(
        &host,
        &token,
        "POST",
        "/users",
        Some(json!({"user": {"email": "new@example.com"}})),
    );
    // `users:create` is not a scope a `user` can hold, so the token never has
    // it: the spec's 403 for POST /users is an OAuthError.
    assert_oauth_error(&reply, 403, "insufficient_scope");
    assert_eq!(
        expect(
            &admin(&host, "GET", "/search/users?query=new%40example.com", None),
            200
        )["meta"]["total"],
        0
    );
}

#[test]
fn a_user_role_token_cannot_manage_other_users_statuses_or_tags() {
    let host = start();
    let id = id_of(&create_user(&host, "emp@example.com", "user"));
    let (_, token) = issue_token(&host, id, None);
    // Reading is allowed.
    assert_eq!(
        call(&host, &token, "GET", "/users/1/status", None).status,
        200
    );
    assert_eq!(call(&host, &token, "GET", "/group_tags", None).status, 200);
    // Managing is not.
    assert_oauth_error(
        &call(
            &host,
            &token,
            "PUT",
            "/users/1/status",
            Some(json!({"status": {"emoji": "🙂", "title": "x"}})),
        ),
        403,
        "insufficient_scope",
    );
    assert_oauth_error(
        &call(&host, &token, "DELETE", "/users/1", None),
        403,
        "insufficient_scope",
    );
}

// ------------------------------------------------------ malformed input

#[test]
fn malformed_json_bodies_are_400_never_500() {
    let host = start();
    let id = id_of(&create_user(&host, "mal@example.com", "user"));
    let tag = id_of(
        &expect(
            &admin(
                &host,
                "POST",
                "/group_tags",
                Some(json!({"group_tag": {"name": "T"}})),
            ),
            201,
        )["data"],
    );
    let targets = [
        ("POST", "/users".to_owned(), "user"),
        ("PUT", format!("/users/{id}"), "user"),
        ("PUT", format!("/users/{id}/status"), "status"),
        ("PUT", "/profile/status".to_owned(), "status"),
        ("POST", "/group_tags".to_owned(), "group_tag"),
        ("PUT", format!("/group_tags/{tag}"), "group_tag"),
        ("POST", "/custom_properties".to_owned(), "custom_property"),
        ("POST", "/access_tokens".to_owned(), "access_token"),
    ];
    for (method, path, wrapper) in &targets {
        let bad_bodies: [&[u8]; 4] = [
            b"{\"user\": ",
            b"not json",
            b"{\"a\":1}}",
            &[0xff, 0xfe, b'{'],
        ];
        for bad in bad_bodies {
            let reply = raw(&host, Some(ADMIN), method, path, Some(bad));
            assert_api_error(&reply, 400, "body", "invalid");
        }
        assert_api_error(
            &raw(&host, Some(ADMIN), method, path, Some(b"")),
            400,
            "body",
            "blank",
        );
        assert_api_error(
            &raw(&host, Some(ADMIN), method, path, Some(b"[1,2]")),
            400,
            "body",
            "invalid",
        );
        assert_api_error(
            &raw(&host, Some(ADMIN), method, path, Some(b"{}")),
            400,
            wrapper,
            "required",
        );
        let reply = raw(
            &host,
            Some(ADMIN),
            method,
            path,
            Some(format!("{{\"{wrapper}\": 5}}").as_bytes()),
        );
        assert_api_error(&reply, 400, wrapper, "invalid");
    }
}

#[test]
fn fields_of_the_wrong_json_type_are_422_invalid() {
    let host = start();
    let reply = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "t@example.com", "first_name": 5, "suspended": "yes"}})),
    );
    let body = expect(&reply, 422);
    let keys: HashSet<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert_eq!(keys, HashSet::from(["first_name", "suspended"]));
}

#[test]
fn unknown_paths_are_404_and_unknown_methods_405() {
    let host = start();
    assert_api_error(
        &admin(&host, "GET", "/users/1/nothing", None),
        404,
        "path",
        "not_found",
    );
    assert_api_error(
        &admin(&host, "PATCH", "/users/1", None),
        405,
        "method",
        "invalid",
    );
}

// --------------------------------------------------- pagination at scale

#[test]
fn paging_through_120_users_with_concurrent_inserts_loses_and_repeats_nobody() {
    let host = start();
    let mut original: Vec<i64> = vec![1];
    for i in 0..120 {
        original.push(id_of(&create_user(
            &host,
            &format!("page{i}@example.com"),
            "user",
        )));
    }
    let inserted: Vec<i64> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let host = &host;
                s.spawn(move || {
                    (0..25)
                        .map(|i| {
                            id_of(&create_user(host, &format!("w{w}-{i}@example.com"), "user"))
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        // Walk while the writers insert.
        let mut seen: Vec<i64> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/users?limit=7&cursor={c}"),
                None => "/users?limit=7".to_owned(),
            };
            let page = expect(&admin(&host, "GET", &path, None), 200);
            seen.extend(page["data"].as_array().expect("data").iter().map(id_of));
            let paginate = &page["meta"]["paginate"];
            if paginate["has_next"] != true {
                break;
            }
            cursor = Some(
                paginate["next_page"]
                    .as_str()
                    .expect("next_page")
                    .to_owned(),
            );
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "a user was repeated");
        assert_eq!(sorted, seen, "pages are not in id order");
        let seen_set: HashSet<i64> = seen.iter().copied().collect();
        for id in &original {
            assert!(seen_set.contains(id), "user {id} was lost");
        }
        writers
            .into_iter()
            .flat_map(|w| w.join().expect("writer"))
            .collect()
    });
    assert_eq!(inserted.len(), 50);
    // Afterwards a full walk sees everyone exactly once.
    let mut all: Vec<i64> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/users?limit=50&cursor={c}"),
            None => "/users?limit=50".to_owned(),
        };
        let page = expect(&admin(&host, "GET", &path, None), 200);
        all.extend(page["data"].as_array().expect("data").iter().map(id_of));
        if page["meta"]["paginate"]["has_next"] != true {
            break;
        }
        cursor = Some(
            page["meta"]["paginate"]["next_page"]
                .as_str()
                .expect("next")
                .to_owned(),
        );
    }
    let mut expected: Vec<i64> = original.iter().chain(inserted.iter()).copied().collect();
    expected.sort_unstable();
    assert_eq!(all, expected);
}

#[test]
fn concurrent_creates_of_the_same_email_give_one_201_and_422_taken_never_500() {
    let host = start();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let host = &host;
                s.spawn(move || {
                    (0..5)
                        .map(|i| {
                            let body = json!({"user": {"email": format!("race{i}@example.com")}});
                            admin(host, "POST", "/users", Some(body)).status
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        35,
        "{statuses:?}"
    );
    let page = expect(&admin(&host, "GET", "/search/users?query=race", None), 200);
    assert_eq!(page["meta"]["total"], 5);
}

// ------------------------------------------------------------ restarts

#[test]
fn data_and_tokens_survive_a_host_restart() {
    let mut host = start();
    let user = admin(
        &host,
        "POST",
        "/users",
        Some(json!({"user": {"email": "keep@example.com", "list_tags": ["Kept"]}})),
    );
    let user = expect(&user, 201)["data"].clone();
    let id = id_of(&user);
    let (_, token) = issue_token(&host, id, None);
    assert!(host.terminate().success());
    let state = std::mem::replace(&mut host.state, tempfile::tempdir().expect("dir"));
    drop(host);
    let host = Host::start_in(config(), state);
    let again = expect(&admin(&host, "GET", &format!("/users/{id}"), None), 200)["data"].clone();
    assert_eq!(again, user);
    let me = expect(&call(&host, &token, "GET", "/profile", None), 200)["data"].clone();
    assert_eq!(me["id"], id);
    // Ids continue after the restart.
    assert!(id_of(&create_user(&host, "after@example.com", "user")) > id);
}

// ------------------------------------------------------------ extension

#[test]
fn the_extension_openapi_document_lists_the_extension_paths() {
    let host = start();
    let reply = raw(&host, None, "GET", "/openapi.json", None);
    let doc = expect(&reply, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/access_tokens",
        "/access_tokens/{id}",
        "/custom_properties",
        "/custom_properties/{id}",
        "/bots/{id}/signing_secret",
        "/bots/{id}/incoming_url",
        "/webhooks/incoming/{token}",
        "/views",
        "/views/{id}",
        "/views/{id}/submit",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    assert!(paths["/access_tokens"].get("post").is_some());
    assert!(paths["/access_tokens/{id}"].get("delete").is_some());
}

// ------------------------------------------------------------ bots (official)

#[test]
fn bots_are_created_with_the_official_body_and_their_own_token_and_validated() {
    let host = start();
    let body =
        |name: &str, nickname: &str| json!({"webhook": {"name": name, "nickname": nickname}});
    let created = expect(
        &admin(&host, "POST", "/bots", Some(body("Helper", "helper_bot"))),
        201,
    )["data"]
        .clone();
    let id = id_of(&created);
    assert_eq!(
        (&created["webhook"]["nickname"], &created["webhook"]["name"]),
        (&json!("helper_bot"), &json!("Helper"))
    );
    let token = created["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    assert_eq!(
        created["signing_secret"].as_str().map(str::len),
        Some(64),
        "{created}"
    );

    // The bot is a user with `bot: true`, and its token acts as the bot.
    let user = expect(&admin(&host, "GET", &format!("/users/{id}"), None), 200)["data"].clone();
    assert_eq!(
        (&user["bot"], &user["role"]),
        (&json!(true), &json!("user"))
    );
    assert_timestamp(&user["created_at"]);
    let info = expect(&call(&host, &token, "GET", "/oauth/token/info", None), 200)["data"].clone();
    assert_eq!(info["user_id"], id);
    let scopes: HashSet<&str> = info["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(scopes.contains("messages:create"), "{info}");
    assert!(!scopes.contains("bots:write") && !scopes.contains("users:create"));

    // Validation: blank name, bad nickname, taken nickname, each a 400 (the
    // only client error the spec documents for POST /bots).
    let reply = admin(&host, "POST", "/bots", Some(body(" ", "x_bot")));
    assert_api_error(&reply, 400, "name", "blank");
    let reply = admin(&host, "POST", "/bots", Some(body("X", "helper")));
    assert_api_error(&reply, 400, "nickname", "invalid");
    let reply = admin(&host, "POST", "/bots", Some(body("X", "HELPER_bot")));
    assert_api_error(&reply, 400, "nickname", "taken");

    // An employee holding `bots:write` creates bots (`guides/bots-setup.md`);
    // a token without the scope gets 403 OAuthError, and so does the bot.
    let me = id_of(&create_user(&host, "botless@example.com", "user"));
    let (_, user_token) = issue_token(&host, me, Some(&["bots:write"]));
    let reply = call(
        &host,
        &user_token,
        "POST",
        "/bots",
        Some(body("Y", "y_bot")),
    );
    expect(&reply, 201);
    let (_, narrow) = issue_token(&host, me, Some(&["users:read"]));
    let reply = call(&host, &narrow, "POST", "/bots", Some(body("Z", "z_bot")));
    assert_oauth_error(&reply, 403, "insufficient_scope");
    let reply = call(&host, &token, "POST", "/bots", Some(body("Z", "z_bot")));
    assert_oauth_error(&reply, 403, "insufficient_scope");
}
