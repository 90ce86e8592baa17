//! Request-level tests of the users area through [`crate::components::users`]
//! against in-memory SQLite: routing, auth, validation, rendering, paging.

use crate::auth::context::Config;
use crate::components::users as handle;
use crate::platform::db::NativeDb;
use crate::platform::http::{Request, Response};
use crate::testutil::ADMIN;
use serde_json::{json, Value as Json};
use std::collections::HashSet;

struct App {
    db: NativeDb,
    cfg: Config,
}

impl App {
    fn new() -> Self {
        App {
            db: NativeDb::open_in_memory().unwrap(),
            cfg: Config {
                admin_token: Some(ADMIN.into()),
                ..Config::default()
            },
        }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Json>) -> Response {
        let mut req = Request::new(method, &format!("/api/shared/v1{path}"));
        if let Some(t) = token {
            req = req.with_header("Authorization", &format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.with_json(&b);
        }
        handle(&self.db, &self.cfg, &req)
    }

    fn admin(&self, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
        let r = self.call(method, path, Some(ADMIN), body);
        (r.status, r.json_body())
    }

    fn create_user(&self, email: &str, extra: Json) -> Json {
        let mut user = json!({"email": email, "first_name": "Ivan", "last_name": "Petrov"});
        if let (Some(u), Some(e)) = (user.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                u.insert(k.clone(), v.clone());
            }
        }
        let (s, b) = self.admin("POST", "/users", Some(json!({ "user": user })));
        assert_eq!(s, 201, "{b}");
        b["data"].clone()
    }

    /// A chat created by the owner (who is its only member).
    fn chat(&self, name: &str, public: bool) -> i64 {
        crate::platform::migrate::migrate(&self.db).unwrap();
        let input = crate::chats::ChatInput {
            name: name.into(),
            public,
            ..Default::default()
        };
        crate::chats::create(&self.db, &crate::testutil::owner_principal(), &input).unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    fn token_for(&self, user_id: i64, scopes: Option<Vec<&str>>) -> String {
        let mut t = json!({"user_id": user_id, "name": "t"});
        if let Some(s) = scopes {
            t["scopes"] = json!(s);
        }
        let (s, b) = self.admin("POST", "/access_tokens", Some(json!({ "access_token": t })));
        assert_eq!(s, 201, "{b}");
        b["data"]["token"].as_str().unwrap().to_owned()
    }
}

fn first_error(b: &Json) -> (String, String) {
    (
        b["errors"][0]["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        b["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn create_user_renders_the_spec_user_and_records_an_event() {
    let app = App::new();
    let (c5, c6) = (app.chat("Five", true), app.chat("Six", false));
    let u = app.create_user(
        "Oleg@Example.com",
        json!({"nickname": "oleg", "department": "Product", "title": "CIO", "role": "admin",
               "list_tags": ["Design", "Product"], "chat_ids": [c5, c6], "phone_number": "+79001234567"}),
    );
    for key in [
        "id",
        "first_name",
        "last_name",
        "nickname",
        "email",
        "phone_number",
        "department",
        "title",
        "role",
        "suspended",
        "invite_status",
        "inviter_id",
        "list_tags",
        "custom_properties",
        "user_status",
        "bot",
        "sso",
        "created_at",
        "last_activity_at",
        "time_zone",
        "image_url",
    ] {
        assert!(u.get(key).is_some(), "missing {key} in {u}");
    }
    assert_eq!(u["email"], "oleg@example.com");
    assert_eq!(u["role"], "admin");
    assert_eq!(u["invite_status"], "sent");
    assert_eq!(u["inviter_id"], 1);
    assert_eq!(u["list_tags"], json!(["Design", "Product"]));
    assert!(u["user_status"].is_null());
    let created = u["created_at"].as_str().unwrap();
    assert!(
        crate::platform::time::Timestamp::parse(created).is_some()
            && created.ends_with('Z')
            && created.len() == 24
    );
    let id = u["id"].as_i64().unwrap();
    let ev = crate::platform::events::for_entity(&app.db, "User", id).unwrap();
    assert_eq!(ev, vec![("company_member".to_owned(), "invite".to_owned())]);
    let chats = crate::platform::db::Db::query(
        &app.db,
        "SELECT chat_id FROM user_chat_invitations WHERE user_id = ? ORDER BY chat_id",
        &[id.into()],
    )
    .unwrap();
    assert_eq!(chats.len(), 2);
    // Nickname generated from the e-mail when absent, unique.
    let a = app.create_user("anna@example.com", json!({}));
    assert_eq!(a["nickname"], "anna");
    let b = app.create_user("anna@other.org", json!({}));
    assert_eq!(b["nickname"], "anna1");
}

#[test]
fn create_user_with_chat_ids_joins_those_chats_in_the_same_transaction() {
    use crate::chats::members::member_ids;
    let app = App::new();
    let open = app.chat("Open", true);
    let closed = app.chat("Closed", false);
    let u = app.create_user("j@example.com", json!({"chat_ids": [open, closed, open]}))["id"]
        .as_i64()
        .unwrap();
    assert_eq!(member_ids(&app.db, open).unwrap(), vec![1, u]);
    assert_eq!(member_ids(&app.db, closed).unwrap(), vec![1, u]);
    let role = crate::chats::membership(&app.db, open, u).unwrap().unwrap();
    assert_eq!((role.role.as_str(), role.direct), ("member", true));
    let ev = crate::platform::events::for_entity(&app.db, "Chat", open).unwrap();
    assert!(
        ev.contains(&("chat_member".to_owned(), "add".to_owned())),
        "{ev:?}"
    );
    // An admin joins as a chat admin.
    let a = app.create_user(
        "adm@example.com",
        json!({"role": "admin", "chat_ids": [open]}),
    )["id"]
        .as_i64()
        .unwrap();
    let role = crate::chats::membership(&app.db, open, a).unwrap().unwrap();
    assert_eq!(role.role.as_str(), "admin");

    // Unknown, invisible (a closed chat of someone else), personal and
    // archived chats: 422 per item, and nothing is created.
    let other = app.create_user("o@example.com", json!({}))["id"]
        .as_i64()
        .unwrap();
    let other_p = crate::auth::Principal {
        user_id: other,
        role: crate::auth::scopes::Role::User,
        ..crate::testutil::owner_principal()
    };
    let hidden = crate::chats::create(
        &app.db,
        &other_p,
        &crate::chats::ChatInput {
            name: "Hidden".into(),
            ..Default::default()
        },
    )
    .unwrap()["id"]
        .as_i64()
        .unwrap();
    let personal = crate::chats::find_or_create_personal_chat(&app.db, 1, other, false).unwrap();
    let archived = app.chat("Archived", true);
    crate::chats::set_archived(&app.db, &crate::testutil::owner_principal(), archived, true)
        .unwrap();
    let (s, b) = app.admin(
        "POST",
        "/users",
        Some(json!({"user": {"email": "x@example.com",
                              "chat_ids": [open, 987654, hidden, personal, archived]}})),
    );
    assert_eq!(s, 422, "{b}");
    let errs: Vec<(String, String, String)> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = |k: &str, c: &str, v: i64| (k.to_owned(), c.to_owned(), v.to_string());
    assert_eq!(
        errs,
        vec![
            want("chat_ids.1", "not_found", 987654),
            want("chat_ids.2", "not_found", hidden),
            want("chat_ids.3", "personal_chat", personal),
            want("chat_ids.4", "invalid", archived),
        ]
    );
    let n = crate::platform::db::Db::query(
        &app.db,
        "SELECT id FROM users WHERE email = 'x@example.com'",
        &[],
    )
    .unwrap();
    assert!(n.is_empty(), "rolled back");
    assert_eq!(member_ids(&app.db, open).unwrap(), vec![1, u, a]);

    // A guest: a chat that breaks the guest rules is the spec's 400 on chat_ids.
    let (s, b) = app.admin(
        "POST",
        "/users",
        Some(json!({"user": {"email": "g@example.com", "role": "guest", "chat_ids": [archived]}})),
    );
    assert_eq!(
        (s, first_error(&b)),
        (400, ("chat_ids".into(), "invalid".into()))
    );
    let g = app.create_user(
        "g@example.com",
        json!({"role": "guest", "chat_ids": [closed]}),
    )["id"]
        .as_i64()
        .unwrap();
    assert_eq!(member_ids(&app.db, closed).unwrap(), vec![1, u, g]);
}

#[test]
fn uniqueness_is_taken_case_insensitively() {
    let app = App::new();
    app.create_user("a@example.com", json!({"nickname": "ann"}));
    let (s, b) = app.admin(
        "POST",
        "/users",
        Some(json!({"user": {"email": "A@EXAMPLE.com"}})),
    );
    assert_eq!(
        (s, first_error(&b)),
        (422, ("email".into(), "taken".into()))
    );
    let (s, b) = app.admin(
        "POST",
        "/users",
        Some(json!({"user": {"email": "b@example.com", "nickname": "ANN"}})),
    );
    assert_eq!(
        (s, first_error(&b)),
        (422, ("nickname".into(), "taken".into()))
    );
    let other = app.create_user("c@example.com", json!({}));
    let path = format!("/users/{}", other["id"]);
    let (s, b) = app.admin(
        "PUT",
        &path,
        Some(json!({"user": {"email": "a@example.com"}})),
    );
    assert_eq!(
        (s, first_error(&b)),
        (422, ("email".into(), "taken".into()))
    );
    // Deleting frees the e-mail.
    let (s, _) = app.admin("DELETE", "/users/2", None);
    assert_eq!(s, 204);
    let (s, _) = app.admin(
        "POST",
        "/users",
        Some(json!({"user": {"email": "a@example.com"}})),
    );
    assert_eq!(s, 201);
}

#[test]
fn bad_input_is_400_or_422_never_500() {
    let app = App::new();
    let raw = |body: &str| {
        let mut req = Request::new("POST", "/api/shared/v1/users")
            .with_header("Authorization", &format!("Bearer {ADMIN}"));
        req.body = body.as_bytes().to_vec();
        let r = handle(&app.db, &app.cfg, &req);
        (r.status, r.json_body())
    };
    assert_eq!(raw("{not json").0, 400);
    assert_eq!(raw("[]").0, 400);
    assert_eq!(raw("").0, 400);
    let (s, b) = raw(r#"{"nope": 1}"#);
    assert_eq!(
        (s, first_error(&b)),
        (400, ("user".into(), "required".into()))
    );
    let cases = [
        (json!({"first_name": "x"}), "email", "blank"),
        (json!({"email": "not-an-email"}), "email", "invalid"),
        (json!({"email": 5}), "email", "invalid"),
        (
            json!({"email": "a@b.co", "role": "owner"}),
            "role",
            "inclusion",
        ),
        (
            json!({"email": "a@b.co", "role": "boss"}),
            "role",
            "inclusion",
        ),
        (
            json!({"email": "a@b.co", "first_name": "x".repeat(256)}),
            "first_name",
            "too_long",
        ),
        (
            json!({"email": "a@b.co", "suspended": "yes"}),
            "suspended",
            "invalid",
        ),
        (
            json!({"email": "a@b.co", "nickname": "bad nick"}),
            "nickname",
            "invalid",
        ),
        (
            json!({"email": "a@b.co", "list_tags": ["ok", ""]}),
            "list_tags.1",
            "blank",
        ),
        (
            json!({"email": "a@b.co", "chat_ids": ["x"]}),
            "chat_ids.0",
            "invalid",
        ),
        (
            json!({"email": "a@b.co", "custom_properties": [{"id": 99, "value": "x"}]}),
            "custom_properties.0.id",
            "not_found",
        ),
        (
            json!({"email": "a@b.co", "custom_properties": [{"value": "x"}]}),
            "custom_properties.0.id",
            "blank",
        ),
    ];
    for (user, key, code) in cases {
        let (s, b) = app.admin("POST", "/users", Some(json!({ "user": user })));
        assert_eq!(s, 422, "{user} -> {b}");
        assert_eq!(first_error(&b), (key.to_owned(), code.to_owned()), "{user}");
    }
    // Guests need exactly one chat.
    let (s, b) = app.admin(
        "POST",
        "/users",
        Some(json!({"user": {"email": "g@b.co", "role": "guest"}})),
    );
    assert_eq!((s, first_error(&b).0), (400, "chat_ids".into()));
    // Bad paths/params.
    assert_eq!(app.admin("GET", "/users/abc", None).0, 404);
    assert_eq!(app.admin("GET", "/users/999", None).0, 404);
    assert_eq!(app.admin("GET", "/users?limit=51", None).0, 400);
    assert_eq!(app.admin("GET", "/users?cursor=garbage", None).0, 400);
    assert_eq!(app.admin("PATCH", "/users", None).0, 405);
    assert_eq!(app.admin("GET", "/nothing", None).0, 404);
}

#[test]
fn owner_protection_and_self_update() {
    let app = App::new();
    for body in [
        json!({"user": {"role": "user"}}),
        json!({"user": {"suspended": true}}),
    ] {
        let (s, b) = app.admin("PUT", "/users/1", Some(body));
        assert_eq!(s, 403);
        assert_eq!(first_error(&b).1, "owner_protected");
    }
    let (s, b) = app.admin("DELETE", "/users/1", None);
    assert_eq!((s, first_error(&b).1.as_str()), (403, "owner_protected"));
    // Echoing the owner's rendered role back is not a change.
    let (s, b) = app.admin("PUT", "/users/1", Some(json!({"user": {"role": "admin"}})));
    assert_eq!((s, b["data"]["role"].as_str()), (200, Some("admin")));
    let owner_role =
        crate::platform::db::Db::query_row(&app.db, "SELECT role FROM users WHERE id = 1", &[])
            .unwrap()
            .unwrap();
    assert_eq!(owner_role.string(0).unwrap(), "owner");
    // The owner may still edit their own profile fields.
    let (s, b) = app.admin(
        "PUT",
        "/users/1",
        Some(json!({"user": {"first_name": "Boss"}})),
    );
    assert_eq!((s, b["data"]["first_name"].as_str()), (200, Some("Boss")));

    let admin = app.create_user("adm@example.com", json!({"role": "admin"}));
    let aid = admin["id"].as_i64().unwrap();
    let tok = app.token_for(aid, None);
    let r = app.call(
        "PUT",
        &format!("/users/{aid}"),
        Some(&tok),
        Some(json!({"user": {"role": "user"}})),
    );
    assert_eq!(
        (r.status, first_error(&r.json_body()).1),
        (403, "self_update".into())
    );
    let r = app.call(
        "PUT",
        "/users/1",
        Some(&tok),
        Some(json!({"user": {"role": "user"}})),
    );
    assert_eq!(
        (r.status, first_error(&r.json_body()).1),
        (403, "owner_protected".into())
    );
    let r = app.call("DELETE", &format!("/users/{aid}"), Some(&tok), None);
    assert_eq!(
        (r.status, first_error(&r.json_body()).1),
        (403, "self_update".into())
    );
    // An admin can demote and suspend another user; events follow.
    let u = app.create_user("u@example.com", json!({}));
    let uid = u["id"].as_i64().unwrap();
    let r = app.call(
        "PUT",
        &format!("/users/{uid}"),
        Some(&tok),
        Some(json!({"user": {"suspended": true, "role": "multi_guest"}})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json_body()["data"]["suspended"], true);
    assert_eq!(r.json_body()["data"]["role"], "multi_guest");
    let ev = crate::platform::events::for_entity(&app.db, "User", uid).unwrap();
    let names: Vec<&str> = ev.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(names, vec!["invite", "update", "suspend"]);
}

#[test]
fn auth_errors_and_scopes_over_http() {
    let app = App::new();
    let r = app.call("GET", "/users", None, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json_body()["error"], "invalid_token");
    assert_eq!(app.call("GET", "/users", Some("wrong"), None).status, 401);
    let u = app.create_user("u@example.com", json!({}));
    let uid = u["id"].as_i64().unwrap();
    let tok = app.token_for(uid, Some(vec!["profile:read"]));
    let r = app.call("GET", "/profile", Some(&tok), None);
    assert_eq!(
        (r.status, r.json_body()["data"]["id"].as_i64()),
        (200, Some(uid))
    );
    let r = app.call("GET", "/users", Some(&tok), None);
    assert_eq!(
        (r.status, r.json_body()["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    // A regular user's full token still lacks manager scopes.
    let full = app.token_for(uid, None);
    let r = app.call(
        "POST",
        "/users",
        Some(&full),
        Some(json!({"user": {"email": "x@y.zz"}})),
    );
    assert_eq!(
        (r.status, r.json_body()["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    // Token info masks the token and lists effective scopes.
    let r = app.call("GET", "/oauth/token/info", Some(&tok), None);
    let info = r.json_body()["data"].clone();
    assert_eq!(info["scopes"], json!(["profile:read"]));
    assert_eq!(info["user_id"].as_i64(), Some(uid));
    assert!(!info["token"].as_str().unwrap().contains(&tok));
    // Suspension kills the token at once.
    app.admin(
        "PUT",
        &format!("/users/{uid}"),
        Some(json!({"user": {"suspended": true}})),
    );
    assert_eq!(app.call("GET", "/profile", Some(&tok), None).status, 401);
}

#[test]
fn access_token_extension_rules() {
    let app = App::new();
    let u = app.create_user("u@example.com", json!({}));
    let uid = u["id"].as_i64().unwrap();
    let other = app.create_user("o@example.com", json!({}))["id"]
        .as_i64()
        .unwrap();
    // Role may not hold users:create -> 422.
    let (s, b) = app.admin(
        "POST",
        "/access_tokens",
        Some(json!({"access_token": {"user_id": uid, "scopes": ["users:create"]}})),
    );
    assert_eq!(
        (s, first_error(&b)),
        (422, ("scopes.0".into(), "not_applicable".into()))
    );
    let (s, b) = app.admin(
        "POST",
        "/access_tokens",
        Some(json!({"access_token": {"user_id": uid, "scopes": ["bogus"]}})),
    );
    assert_eq!(
        (s, first_error(&b)),
        (422, ("scopes.0".into(), "inclusion".into()))
    );
    let tok = app.token_for(uid, None);
    // A user cannot issue for someone else, nor escalate beyond its own scopes.
    let r = app.call(
        "POST",
        "/access_tokens",
        Some(&tok),
        Some(json!({"access_token": {"user_id": other}})),
    );
    assert_eq!(r.status, 403);
    let narrow = app.token_for(uid, Some(vec!["profile:read"]));
    let r = app.call(
        "POST",
        "/access_tokens",
        Some(&narrow),
        Some(json!({"access_token": {"scopes": ["users:read"]}})),
    );
    assert_eq!(r.status, 403);
    let r = app.call(
        "POST",
        "/access_tokens",
        Some(&narrow),
        Some(json!({"access_token": {}})),
    );
    assert_eq!(
        (r.status, r.json_body()["data"]["scopes"].clone()),
        (201, json!(["profile:read"]))
    );
    // Listing shows no secrets.
    let r = app.call("GET", "/access_tokens", Some(&tok), None);
    let list = r.json_body()["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 3);
    assert!(list
        .iter()
        .all(|t| !t["token"].as_str().unwrap().contains(&tok[..20])));
    assert_eq!(
        app.call(
            "GET",
            &format!("/access_tokens?user_id={other}"),
            Some(&tok),
            None
        )
        .status,
        403
    );
    // Revoke: others' tokens are invisible; own revoke works at once.
    let id = list[0]["id"].as_i64().unwrap();
    let other_tok = app.token_for(other, None);
    assert_eq!(
        app.call(
            "DELETE",
            &format!("/access_tokens/{id}"),
            Some(&other_tok),
            None
        )
        .status,
        404
    );
    assert_eq!(
        app.call("DELETE", &format!("/access_tokens/{id}"), Some(&tok), None)
            .status,
        204
    );
    assert_eq!(app.call("GET", "/profile", Some(&tok), None).status, 401);
    // Guests cannot own tokens.
    let chat = app.chat("Guests", false);
    let g = app.create_user(
        "g@example.com",
        json!({"role": "guest", "chat_ids": [chat]}),
    )["id"]
        .as_i64()
        .unwrap();
    let (s, _) = app.admin(
        "POST",
        "/access_tokens",
        Some(json!({"access_token": {"user_id": g}})),
    );
    assert_eq!(s, 403);
}

fn walk(app: &App, first: &str) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut url = first.to_owned();
    let mut pages = 0;
    loop {
        let (s, b) = app.admin("GET", &url, None);
        assert_eq!(s, 200, "{b}");
        pages += 1;
        for u in b["data"].as_array().unwrap() {
            seen.push(u["id"].as_i64().unwrap());
        }
        let p = &b["meta"]["paginate"];
        assert!(p["next_page"].is_string() && p["prev_page"].is_string());
        if pages == 1 {
            assert_eq!(p["has_prev"], false);
        }
        if pages == 2 {
            // Inserts between pages must neither be lost nor duplicated.
            for i in 0..3 {
                app.create_user(&format!("late{i}@example.com"), json!({}));
            }
        }
        if p["has_next"] == false {
            return (seen, pages);
        }
        url = format!(
            "/users?limit=25&cursor={}",
            p["next_page"].as_str().unwrap()
        );
    }
}

#[test]
fn pagination_over_120_users_with_concurrent_inserts() {
    let app = App::new();
    for i in 0..119 {
        app.create_user(&format!("user{i}@example.com"), json!({}));
    }
    let (seen, pages) = walk(&app, "/users?limit=25");
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates");
    assert_eq!(seen.len(), 123, "owner + 119 + 3 late inserts");
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(pages, 5);
    // Going back from the last page with prev_page returns the previous 25.
    let (_, b) = app.admin("GET", "/users?limit=25", None);
    let next = b["meta"]["paginate"]["next_page"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, b2) = app.admin("GET", &format!("/users?limit=25&cursor={next}"), None);
    let prev = b2["meta"]["paginate"]["prev_page"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, back) = app.admin("GET", &format!("/users?limit=25&cursor={prev}"), None);
    assert_eq!(back["data"], b["data"]);
    assert_eq!(back["meta"]["paginate"]["has_prev"], false);
    assert_eq!(back["meta"]["paginate"]["has_next"], true);
    // Empty list end: the cursor stays valid for polling.
    let last = seen.last().copied().unwrap();
    let c = crate::platform::pagination::Cursor {
        key: None,
        id: last,
        dir: crate::platform::pagination::Direction::Next,
        end: false,
    }
    .encode();
    let (_, e) = app.admin("GET", &format!("/users?limit=25&cursor={c}"), None);
    assert_eq!(e["data"], json!([]));
    assert_eq!(e["meta"]["paginate"]["has_next"], false);
    assert_eq!(e["meta"]["paginate"]["has_prev"], true);
    app.create_user("new@example.com", json!({}));
    let (_, n) = app.admin(
        "GET",
        &format!(
            "/users?limit=25&cursor={}",
            e["meta"]["paginate"]["next_page"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(n["data"].as_array().unwrap().len(), 1);
}

#[test]
fn search_users_filters_sorts_and_pages() {
    let app = App::new();
    app.create_user("olga@example.com", json!({"first_name": "Olga", "last_name": "Zaytseva", "department": "Sales", "role": "admin"}));
    app.create_user(
        "oleg@example.com",
        json!({"first_name": "Oleg", "last_name": "Petrov", "title": "CTO"}),
    );
    app.create_user(
        "boris@example.com",
        json!({"first_name": "Boris", "last_name": "Olegov"}),
    );
    for i in 0..5 {
        app.create_user(
            &format!("x{i}@example.com"),
            json!({"first_name": "Xavier"}),
        );
    }
    let (s, b) = app.admin(
        "GET",
        "/search/users?query=oleg&sort=alphabetical&order=asc",
        None,
    );
    assert_eq!(s, 200);
    let names: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Boris", "Oleg"]);
    assert_eq!(b["meta"]["total"], 2);
    assert!(b["meta"]["paginate"]["next_page"].is_string());
    assert!(b["meta"]["paginate"].get("has_next").is_none());
    // Score: exact nickname > prefix > substring.
    let (_, b) = app.admin("GET", "/search/users?query=oleg", None);
    assert_eq!(b["data"][0]["nickname"], "oleg");
    // Role filter (owner is shown and filtered as admin).
    let (_, b) = app.admin("GET", "/search/users?company_roles=admin", None);
    assert_eq!(b["meta"]["total"], 2);
    let (s, _) = app.admin("GET", "/search/users?company_roles=boss", None);
    assert_eq!(s, 400);
    let (s, _) = app.admin("GET", "/search/users?created_from=yesterday", None);
    assert_eq!(s, 400);
    let (_, b) = app.admin(
        "GET",
        "/search/users?created_from=2999-01-01T00:00:00Z",
        None,
    );
    assert_eq!(b["meta"]["total"], 0);
    // Paging through a search keeps everything exactly once.
    let mut seen = Vec::new();
    let mut url = "/search/users?query=xavier&limit=2&sort=creation".to_owned();
    loop {
        let (s, b) = app.admin("GET", &url, None);
        assert_eq!(s, 200);
        let data = b["data"].as_array().unwrap();
        if data.is_empty() {
            break;
        }
        seen.extend(data.iter().map(|u| u["id"].as_i64().unwrap()));
        url = format!(
            "/search/users?query=xavier&limit=2&sort=creation&cursor={}",
            b["meta"]["paginate"]["next_page"].as_str().unwrap()
        );
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    // Unicode case folding (SQLite's lower() is ASCII-only).
    app.create_user(
        "kir@example.com",
        json!({"first_name": "Олег", "last_name": "Кириллов"}),
    );
    let (_, b) = app.admin("GET", "/search/users?query=%D0%BE%D0%BB%D0%B5%D0%B3", None);
    assert_eq!(b["meta"]["total"], 1, "{b}");
    let (_, b) = app.admin(
        "GET",
        "/search/users?query=%D0%BE%D0%BB%D0%B5%D0%B3%20%D0%BA%D0%B8%D1%80",
        None,
    );
    assert_eq!(b["data"][0]["last_name"], "Кириллов");
    // /users?query= uses the search meta.
    let (_, b) = app.admin("GET", "/users?query=olga", None);
    assert_eq!(b["meta"]["total"], 1);
    assert_eq!(app.admin("GET", "/search/users?limit=201", None).0, 400);
}

#[test]
fn group_tags_crud_members_and_validation() {
    let app = App::new();
    let (s, b) = app.admin(
        "POST",
        "/group_tags",
        Some(json!({"group_tag": {"name": "Design"}})),
    );
    assert_eq!(s, 201);
    let tid = b["data"]["id"].as_i64().unwrap();
    assert_eq!(b["data"]["users_count"], 0);
    let (s, b) = app.admin(
        "POST",
        "/group_tags",
        Some(json!({"group_tag": {"name": "design"}})),
    );
    assert_eq!((s, first_error(&b)), (422, ("name".into(), "taken".into())));
    let (s, b) = app.admin(
        "POST",
        "/group_tags",
        Some(json!({"group_tag": {"name": ""}})),
    );
    assert_eq!((s, first_error(&b)), (422, ("name".into(), "blank".into())));
    let (s, b) = app.admin(
        "POST",
        "/group_tags",
        Some(json!({"group_tag": {"name": "x".repeat(256)}})),
    );
    assert_eq!(
        (s, first_error(&b)),
        (422, ("name".into(), "too_long".into()))
    );
    let u = app.create_user("u@example.com", json!({"list_tags": ["Design", "New"]}));
    let (_, b) = app.admin("GET", &format!("/group_tags/{tid}"), None);
    assert_eq!(b["data"]["users_count"], 1);
    let (_, b) = app.admin("GET", &format!("/group_tags/{tid}/users?limit=10"), None);
    assert_eq!(b["data"][0]["id"], u["id"]);
    assert_eq!(b["meta"]["paginate"]["has_next"], false);
    let (_, b) = app.admin("GET", "/group_tags?names[]=new", None);
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    let (s, b) = app.admin(
        "PUT",
        &format!("/group_tags/{tid}"),
        Some(json!({"group_tag": {"name": "Design 2"}})),
    );
    assert_eq!((s, b["data"]["name"].as_str()), (200, Some("Design 2")));
    let (_, b) = app.admin("GET", &format!("/users/{}", u["id"]), None);
    assert_eq!(b["data"]["list_tags"], json!(["Design 2", "New"]));
    assert_eq!(
        app.admin("DELETE", &format!("/group_tags/{tid}"), None).0,
        204
    );
    assert_eq!(app.admin("GET", &format!("/group_tags/{tid}"), None).0, 404);
    // Regular users may read but not write tags.
    let tok = app.token_for(u["id"].as_i64().unwrap(), None);
    assert_eq!(app.call("GET", "/group_tags", Some(&tok), None).status, 200);
    let r = app.call(
        "POST",
        "/group_tags",
        Some(&tok),
        Some(json!({"group_tag": {"name": "z"}})),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn statuses_profile_and_user() {
    let app = App::new();
    let (s, b) = app.admin("GET", "/profile/status", None);
    assert_eq!((s, b["data"].is_null()), (200, true));
    let body = json!({"status": {"emoji": "🎮", "title": "Playing", "is_away": true, "away_message": "brb", "expires_at": "2999-01-01T00:00:00.000+03:00"}});
    let (s, b) = app.admin("PUT", "/profile/status", Some(body));
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["away_message"]["text"], "brb");
    assert_eq!(b["data"]["expires_at"], "2998-12-31T21:00:00.000Z");
    let (_, b) = app.admin("GET", "/users/1", None);
    assert_eq!(b["data"]["user_status"]["emoji"], "🎮");
    for (status, key, code) in [
        (
            json!({"emoji": "abc", "title": "t"}),
            "emoji",
            "wrong_emoji",
        ),
        (
            json!({"emoji": "🎮", "title": "x".repeat(51)}),
            "title",
            "too_long",
        ),
        (json!({"emoji": "🎮"}), "title", "blank"),
        (
            json!({"emoji": "🎮", "title": "t", "expires_at": "2000-01-01T00:00:00Z"}),
            "expires_at",
            "invalid",
        ),
        (
            json!({"emoji": "🎮", "title": "t", "expires_at": "soon"}),
            "expires_at",
            "invalid",
        ),
        (
            json!({"emoji": "🎮", "title": "t", "expires_at": ""}),
            "expires_at",
            "invalid",
        ),
    ] {
        let (s, b) = app.admin("PUT", "/profile/status", Some(json!({ "status": status })));
        assert_eq!(
            (s, first_error(&b)),
            (422, (key.to_owned(), code.to_owned()))
        );
    }
    assert_eq!(app.admin("DELETE", "/profile/status", None).0, 204);
    let (_, b) = app.admin("GET", "/users/1/status", None);
    assert!(b["data"].is_null());
    let u = app.create_user("u@example.com", json!({}));
    let path = format!("/users/{}/status", u["id"]);
    let (s, _) = app.admin(
        "PUT",
        &path,
        Some(json!({"status": {"emoji": "🌴", "title": "Vacation"}})),
    );
    assert_eq!(s, 200);
    let tok = app.token_for(u["id"].as_i64().unwrap(), None);
    let r = app.call("GET", &path, Some(&tok), None);
    assert_eq!(r.json_body()["data"]["title"], "Vacation");
    let r = app.call(
        "PUT",
        "/users/1/status",
        Some(&tok),
        Some(json!({"status": {"emoji": "🌴", "title": "x"}})),
    );
    assert_eq!(r.status, 403);
    assert_eq!(app.admin("GET", "/users/999/status", None).0, 404);
}

#[test]
fn custom_properties_definitions_and_values() {
    let app = App::new();
    let (s, b) = app.admin("GET", "/custom_properties", None);
    assert_eq!((s, first_error(&b).0.as_str()), (400, "entity_type"));
    let (s, b) = app.admin("POST", "/custom_properties", Some(json!({"custom_property": {"entity_type": "User", "name": "City", "data_type": "string"}})));
    assert_eq!(s, 201, "{b}");
    let city = b["data"]["id"].as_i64().unwrap();
    let (_, b) = app.admin("POST", "/custom_properties", Some(json!({"custom_property": {"entity_type": "User", "name": "Born", "data_type": "date"}})));
    let born = b["data"]["id"].as_i64().unwrap();
    let (s, b) = app.admin("POST", "/custom_properties", Some(json!({"custom_property": {"entity_type": "Order", "name": "x", "data_type": "string"}})));
    assert_eq!((s, first_error(&b).1.as_str()), (422, "inclusion"));
    let (s, b) = app.admin("GET", "/custom_properties?entity_type=User", None);
    assert_eq!((s, b["data"].as_array().unwrap().len()), (200, 2));
    let u = app.create_user(
        "u@example.com",
        json!({"custom_properties": [{"id": city, "value": "Kazan"}]}),
    );
    assert_eq!(u["custom_properties"][0]["value"], "Kazan");
    assert!(u["custom_properties"][1]["value"].is_null());
    let path = format!("/users/{}", u["id"]);
    let (s, b) = app.admin(
        "PUT",
        &path,
        Some(json!({"user": {"custom_properties": [{"id": born, "value": "tomorrow"}]}})),
    );
    assert_eq!((s, first_error(&b).1.as_str()), (422, "invalid"));
    assert_eq!(b["errors"][0]["payload"]["id"], born);
    let (s, b) = app.admin(
        "PUT",
        &path,
        Some(json!({"user": {"custom_properties": [{"id": born, "value": "1990-05-01"}]}})),
    );
    assert_eq!(s, 200);
    assert_eq!(b["data"]["custom_properties"][0]["value"], "Kazan");
    assert_eq!(b["data"]["custom_properties"][1]["value"], "1990-05-01");
    let (_, b) = app.admin("GET", "/custom_properties?entity_type=Task", None);
    assert_eq!(b["data"], json!([]));
}

#[test]
fn openapi_document_is_served_and_valid_json() {
    let app = App::new();
    let r = app.call("GET", "/openapi.json", None, None);
    assert_eq!(r.status, 200);
    let doc = r.json_body();
    assert!(doc["paths"]["/access_tokens"]["post"].is_object());
    assert!(doc["paths"]["/custom_properties"]["post"].is_object());
    assert!(doc["paths"]["/bots/{id}/deliveries"]["get"].is_object());
    assert!(
        doc["paths"].get("/bots").is_none(),
        "POST /bots is official"
    );
}
