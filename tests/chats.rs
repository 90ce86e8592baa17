//! The chats area, end to end: the release `spin-host` serving the real
//! `spin.toml` over HTTP. Each test documents behaviour of `/chats/...` and
//! `/search/chats`: the `Chat` shape, visibility (404 for closed chats to
//! non-members), roles, the creator's protections, tag sync, pagination and
//! bulk membership changes.

use std::time::{Duration, Instant};

use e2e_tests::api::{app, call, expect, raw, start_app};
use e2e_tests::setup::{self, create_chat, error_code, id_of};
use e2e_tests::{Host, HostConfig};
use serde_json::{json, Value};

const ADMIN: &str = "chats-e2e-admin-token";
fn config() -> HostConfig {
    app(ADMIN)
}

/// A fresh host with an empty database (only the owner, user 1).
fn start() -> Host {
    start_app(config())
}

/// Creates a user (as the owner) and returns its id.
fn user(host: &Host, name: &str, role: &str) -> i64 {
    let email = format!("{name}@example.com");
    id_of(&setup::create_user(
        host,
        ADMIN,
        json!({"email": email, "first_name": name, "role": role}),
    ))
}

/// Issues a personal token for a user, optionally with explicit scopes.
fn token(host: &Host, user_id: i64, scopes: Option<&[&str]>) -> String {
    setup::issue_token(host, ADMIN, user_id, scopes).1
}

fn ids(list: &Value) -> Vec<i64> {
    list["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect()
}

#[test]
fn chat_lifecycle_shape_and_errors() {
    let host = start();
    let alice = user(&host, "alice", "user");
    let bob = user(&host, "bob", "user");
    let ta = token(&host, alice, None);
    let tb = token(&host, bob, None);

    // POST /chats: 201 with the full Chat object; the caller is the creator.
    let chat = create_chat(
        &host,
        &ta,
        json!({"name": "🤿 aqua", "member_ids": [bob], "channel": false, "public": false}),
    );
    let id = chat["id"].as_i64().unwrap();
    assert_eq!(chat["name"], "🤿 aqua");
    assert_eq!(chat["owner_id"], alice);
    assert_eq!(chat["member_ids"], json!([alice, bob]));
    assert_eq!(chat["group_tag_ids"], json!([]));
    for (k, v) in [
        ("channel", false),
        ("archived", false),
        ("personal", false),
        ("public", false),
    ] {
        assert_eq!(chat[k], v, "{k}");
    }
    assert!(chat["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(chat["last_message_at"].is_string());
    assert!(chat["meet_room_url"].is_string());

    // Errors of POST /chats.
    let r = raw(&host, None, "POST", "/chats", Some(b"{}"));
    assert_eq!(expect(&r, 401)["error"], "invalid_token");
    let reader = token(&host, alice, Some(&["chats:read"]));
    let r = call(
        &host,
        &reader,
        "POST",
        "/chats",
        Some(json!({"chat": {"name": "x"}})),
    );
    assert_eq!(expect(&r, 403)["error"], "insufficient_scope");
    let r = raw(&host, Some(&ta), "POST", "/chats", Some(b"{not json"));
    assert_eq!(r.status, 400);
    assert_eq!(
        error_code(
            &call(&host, &ta, "POST", "/chats", Some(json!({"name": "x"}))),
            400
        ),
        "required"
    );
    assert_eq!(
        error_code(
            &call(
                &host,
                &ta,
                "POST",
                "/chats",
                Some(json!({"chat": {"name": " "}}))
            ),
            422
        ),
        "blank"
    );
    let long = "x".repeat(256);
    assert_eq!(
        error_code(
            &call(
                &host,
                &ta,
                "POST",
                "/chats",
                Some(json!({"chat": {"name": long}}))
            ),
            422
        ),
        "too_long"
    );
    let r = call(
        &host,
        &ta,
        "POST",
        "/chats",
        Some(json!({"chat": {"name": "x", "member_ids": [987654]}})),
    );
    assert_eq!(error_code(&r, 422), "not_found");
    let r = call(
        &host,
        &ta,
        "POST",
        "/chats",
        Some(json!({"chat": {"name": "x", "group_tag_ids": [987654]}})),
    );
    assert_eq!(error_code(&r, 422), "not_found");

    // GET /chats/{id}: members see it; a closed chat is 404 to others, even the owner.
    assert_eq!(
        expect(&call(&host, &tb, "GET", &format!("/chats/{id}"), None), 200)["data"]["id"],
        id
    );
    let carol = user(&host, "carol", "user");
    let tc = token(&host, carol, None);
    assert_eq!(
        error_code(&call(&host, &tc, "GET", &format!("/chats/{id}"), None), 404),
        "not_found"
    );
    assert_eq!(
        call(&host, ADMIN, "GET", &format!("/chats/{id}"), None).status,
        404
    );
    assert_eq!(call(&host, &ta, "GET", "/chats/999999", None).status, 404);
    assert_eq!(call(&host, &ta, "GET", "/chats/nope", None).status, 404);
    assert_eq!(
        raw(&host, None, "GET", &format!("/chats/{id}"), None).status,
        401
    );
    assert_eq!(
        call(&host, &ta, "DELETE", &format!("/chats/{id}"), None).status,
        405
    );

    // PUT /chats/{id}: the creator renames and opens it; a plain member gets 403.
    let r = call(
        &host,
        &ta,
        "PUT",
        &format!("/chats/{id}"),
        Some(json!({"chat": {"name": "Pool", "public": true}})),
    );
    let data = expect(&r, 200)["data"].clone();
    assert_eq!(
        (data["name"].clone(), data["public"].clone()),
        (json!("Pool"), json!(true))
    );
    let r = call(
        &host,
        &tb,
        "PUT",
        &format!("/chats/{id}"),
        Some(json!({"chat": {"name": "Mine"}})),
    );
    assert_eq!(error_code(&r, 403), "forbidden");
    let r = call(
        &host,
        &ta,
        "PUT",
        &format!("/chats/{id}"),
        Some(json!({"chat": {"name": ""}})),
    );
    assert_eq!(error_code(&r, 422), "blank");
    let r = call(
        &host,
        &ta,
        "PUT",
        &format!("/chats/{id}"),
        Some(json!({"chat": {"public": "yes"}})),
    );
    assert_eq!(error_code(&r, 422), "invalid");
    // Now open: carol sees it but cannot manage it.
    assert_eq!(
        call(&host, &tc, "GET", &format!("/chats/{id}"), None).status,
        200
    );
    assert_eq!(
        call(&host, &tc, "PUT", &format!("/chats/{id}/archive"), None).status,
        403
    );

    // Archive / unarchive: 204; archived chats leave the default list.
    expect(
        &call(&host, &ta, "PUT", &format!("/chats/{id}/archive"), None),
        204,
    );
    expect(
        &call(&host, &ta, "PUT", &format!("/chats/{id}/archive"), None),
        204,
    );
    assert_eq!(
        expect(&call(&host, &ta, "GET", &format!("/chats/{id}"), None), 200)["data"]["archived"],
        true
    );
    assert!(!ids(&expect(&call(&host, &ta, "GET", "/chats", None), 200)).contains(&id));
    assert!(ids(&expect(
        &call(&host, &ta, "GET", "/chats?archived=true", None),
        200
    ))
    .contains(&id));
    let r = call(
        &host,
        &ta,
        "POST",
        &format!("/chats/{id}/members"),
        Some(json!({"member_ids": [carol]})),
    );
    assert_eq!(r.status, 403);
    expect(
        &call(&host, &ta, "PUT", &format!("/chats/{id}/unarchive"), None),
        204,
    );
    assert_eq!(
        call(&host, &ta, "PUT", "/chats/999999/unarchive", None).status,
        404
    );
    let r = call(
        &host,
        &reader,
        "PUT",
        &format!("/chats/{id}/unarchive"),
        None,
    );
    assert_eq!(expect(&r, 403)["error"], "insufficient_scope");
}

#[test]
fn lists_filters_sorting_and_open_chats() {
    let host = start();
    let alice = user(&host, "alice", "user");
    let bob = user(&host, "bob", "user");
    let ta = token(&host, alice, None);
    let tb = token(&host, bob, None);
    let open = create_chat(&host, &ta, json!({"name": "Open talk", "public": true}))["id"]
        .as_i64()
        .unwrap();
    let channel = create_chat(
        &host,
        &ta,
        json!({"name": "News", "public": true, "channel": true}),
    )["id"]
        .as_i64()
        .unwrap();
    let closed = create_chat(&host, &ta, json!({"name": "Closed", "member_ids": [bob]}))["id"]
        .as_i64()
        .unwrap();

    // Default: chats I am a member of, newest id first.
    assert_eq!(
        ids(&expect(&call(&host, &ta, "GET", "/chats", None), 200)),
        vec![closed, channel, open]
    );
    assert_eq!(
        ids(&expect(
            &call(&host, &ta, "GET", "/chats?order=asc", None),
            200
        )),
        vec![open, channel, closed]
    );
    assert_eq!(
        ids(&expect(&call(&host, &tb, "GET", "/chats", None), 200)),
        vec![closed]
    );
    // availability=public: every open chat, member or not.
    assert_eq!(
        ids(&expect(
            &call(&host, &tb, "GET", "/chats?availability=public", None),
            200
        )),
        vec![channel, open]
    );
    // Join an open chat by adding oneself.
    expect(
        &call(
            &host,
            &tb,
            "POST",
            &format!("/chats/{open}/members"),
            Some(json!({"member_ids": [bob]})),
        ),
        204,
    );
    assert_eq!(
        ids(&expect(&call(&host, &tb, "GET", "/chats", None), 200)),
        vec![closed, open]
    );
    // sort=last_message_at, time window filters, personal filter.
    let r = expect(
        &call(
            &host,
            &ta,
            "GET",
            "/chats?sort=last_message_at&order=asc",
            None,
        ),
        200,
    );
    assert_eq!(ids(&r).len(), 3);
    let r = expect(
        &call(
            &host,
            &ta,
            "GET",
            "/chats?last_message_at_after=2999-01-01T00:00:00.000Z",
            None,
        ),
        200,
    );
    assert!(ids(&r).is_empty());
    let r = expect(
        &call(
            &host,
            &ta,
            "GET",
            "/chats?last_message_at_before=2999-01-01T00:00:00.000Z&personal=false",
            None,
        ),
        200,
    );
    assert_eq!(ids(&r).len(), 3);
    assert!(ids(&expect(
        &call(&host, &ta, "GET", "/chats?personal=true", None),
        200
    ))
    .is_empty());
    // Cursor pagination.
    let p1 = expect(&call(&host, &ta, "GET", "/chats?limit=2", None), 200);
    assert_eq!(ids(&p1), vec![closed, channel]);
    assert_eq!(p1["meta"]["paginate"]["has_next"], true);
    let next = p1["meta"]["paginate"]["next_page"].as_str().unwrap();
    let p2 = expect(
        &call(
            &host,
            &ta,
            "GET",
            &format!("/chats?limit=2&cursor={next}"),
            None,
        ),
        200,
    );
    assert_eq!(ids(&p2), vec![open]);
    assert_eq!(p2["meta"]["paginate"]["has_next"], false);
    assert_eq!(p2["meta"]["paginate"]["has_prev"], true);
    // Bad parameters: 400.
    for qs in [
        "sort=name",
        "order=sideways",
        "availability=all",
        "archived=perhaps",
        "limit=0",
        "limit=51",
        "cursor=%21%21",
    ] {
        assert_eq!(
            call(&host, &ta, "GET", &format!("/chats?{qs}"), None).status,
            400,
            "{qs}"
        );
    }

    // GET /search/chats: visible chats only, total + next_page.
    let r = expect(
        &call(&host, &tb, "GET", "/search/chats?query=CLOS", None),
        200,
    );
    assert_eq!(
        (ids(&r), r["meta"]["total"].clone()),
        (vec![closed], json!(1))
    );
    assert!(r["meta"]["paginate"]["next_page"].is_string());
    let carol = user(&host, "carol", "user");
    let tc = token(&host, carol, None);
    let r = expect(&call(&host, &tc, "GET", "/search/chats", None), 200);
    assert_eq!(ids(&r), vec![channel, open]);
    let r = expect(
        &call(&host, &tc, "GET", "/search/chats?limit=1&order=asc", None),
        200,
    );
    assert_eq!(ids(&r), vec![open]);
    let next = r["meta"]["paginate"]["next_page"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = expect(
        &call(
            &host,
            &tc,
            "GET",
            &format!("/search/chats?limit=1&order=asc&cursor={next}"),
            None,
        ),
        200,
    );
    assert_eq!(ids(&r), vec![channel]);
    assert!(ids(&expect(
        &call(&host, &tc, "GET", "/search/chats?active=false", None),
        200
    ))
    .is_empty());
    assert!(ids(&expect(
        &call(&host, &tc, "GET", "/search/chats?chat_subtype=thread", None),
        200
    ))
    .is_empty());
    assert_eq!(
        call(&host, &tc, "GET", "/search/chats?limit=101", None).status,
        400
    );
    let no_search = token(&host, carol, Some(&["chats:read"]));
    assert_eq!(
        expect(&call(&host, &no_search, "GET", "/search/chats", None), 403)["error"],
        "insufficient_scope"
    );
}

#[test]
fn members_roles_kick_leave_and_tags() {
    let host = start();
    let alice = user(&host, "alice", "user");
    let bob = user(&host, "bob", "user");
    let dave = user(&host, "dave", "admin");
    let ta = token(&host, alice, None);
    let tb = token(&host, bob, None);
    let td = token(&host, dave, None);
    let chat = create_chat(&host, &ta, json!({"name": "Team", "channel": true}))["id"]
        .as_i64()
        .unwrap();
    let m = |path: &str| format!("/chats/{chat}/members{path}");

    // Add: 204; body errors.
    expect(
        &call(
            &host,
            &ta,
            "POST",
            &m(""),
            Some(json!({"member_ids": [bob, dave], "silent": true})),
        ),
        204,
    );
    assert_eq!(
        error_code(&call(&host, &ta, "POST", &m(""), Some(json!({}))), 400),
        "required"
    );
    assert_eq!(
        error_code(
            &call(
                &host,
                &ta,
                "POST",
                &m(""),
                Some(json!({"member_ids": ["x"]}))
            ),
            422
        ),
        "invalid"
    );
    assert_eq!(
        error_code(
            &call(
                &host,
                &ta,
                "POST",
                &m(""),
                Some(json!({"member_ids": [424242]}))
            ),
            422
        ),
        "not_found"
    );
    assert_eq!(
        call(
            &host,
            &ta,
            "POST",
            "/chats/424242/members",
            Some(json!({"member_ids": [bob]}))
        )
        .status,
        404
    );

    // Members list with role filter (owner / admin (workspace admin on join) / member).
    let list = |t: &str, qs: &str| ids(&expect(&call(&host, t, "GET", &m(qs), None), 200));
    assert_eq!(list(&ta, ""), vec![alice, bob, dave]);
    assert_eq!(list(&ta, "?role=owner"), vec![alice]);
    assert_eq!(list(&ta, "?role=admin"), vec![dave]);
    assert_eq!(list(&ta, "?role=member"), vec![bob]);
    assert!(list(&ta, "?role=editor").is_empty());
    assert_eq!(call(&host, &ta, "GET", &m("?role=boss"), None).status, 400);

    // Roles: editor in a channel; the creator's and one's own role are protected.
    expect(
        &call(
            &host,
            &td,
            "PUT",
            &m(&format!("/{bob}")),
            Some(json!({"role": "editor"})),
        ),
        204,
    );
    assert_eq!(list(&ta, "?role=editor"), vec![bob]);
    assert_eq!(
        error_code(
            &call(
                &host,
                &td,
                "PUT",
                &m(&format!("/{alice}")),
                Some(json!({"role": "member"}))
            ),
            403
        ),
        "owner_protected"
    );
    assert_eq!(
        error_code(
            &call(
                &host,
                &td,
                "PUT",
                &m(&format!("/{dave}")),
                Some(json!({"role": "member"}))
            ),
            403
        ),
        "self_update"
    );
    assert_eq!(
        error_code(
            &call(
                &host,
                &tb,
                "PUT",
                &m(&format!("/{dave}")),
                Some(json!({"role": "member"}))
            ),
            403
        ),
        "forbidden"
    );
    assert_eq!(
        error_code(
            &call(
                &host,
                &ta,
                "PUT",
                &m(&format!("/{bob}")),
                Some(json!({"role": "owner"}))
            ),
            422
        ),
        "inclusion"
    );
    assert_eq!(
        error_code(
            &call(&host, &ta, "PUT", &m(&format!("/{bob}")), Some(json!({}))),
            400
        ),
        "required"
    );
    assert_eq!(
        call(
            &host,
            &ta,
            "PUT",
            &m("/424242"),
            Some(json!({"role": "admin"}))
        )
        .status,
        404
    );

    // Kick: the creator cannot be removed; admins remove others; members cannot.
    assert_eq!(
        error_code(
            &call(&host, &td, "DELETE", &m(&format!("/{alice}")), None),
            403
        ),
        "cannot_kick_owner"
    );
    assert_eq!(
        error_code(
            &call(&host, &tb, "DELETE", &m(&format!("/{dave}")), None),
            403
        ),
        "forbidden"
    );
    assert_eq!(call(&host, &ta, "DELETE", &m("/424242"), None).status, 404);
    expect(
        &call(&host, &td, "DELETE", &m(&format!("/{bob}")), None),
        204,
    );
    assert_eq!(list(&ta, ""), vec![alice, dave]);
    // Bob no longer sees the closed chat at all.
    assert_eq!(
        call(&host, &tb, "GET", &format!("/chats/{chat}"), None).status,
        404
    );
    assert_eq!(call(&host, &tb, "GET", &m(""), None).status, 404);
    // The workspace owner may list any chat's members but not read the chat.
    assert_eq!(list(ADMIN, ""), vec![alice, dave]);
    assert_eq!(
        call(&host, ADMIN, "GET", &format!("/chats/{chat}"), None).status,
        404
    );

    // Leave: members leave (204); non-members of a visible chat get 403.
    expect(
        &call(&host, &td, "DELETE", &format!("/chats/{chat}/leave"), None),
        204,
    );
    assert_eq!(
        call(&host, &td, "DELETE", &format!("/chats/{chat}/leave"), None).status,
        404
    );
    expect(
        &call(
            &host,
            &ta,
            "PUT",
            &format!("/chats/{chat}"),
            Some(json!({"chat": {"public": true}})),
        ),
        200,
    );
    assert_eq!(
        call(&host, &tb, "DELETE", &format!("/chats/{chat}/leave"), None).status,
        403
    );

    // Tags: attaching makes tag users members; tag changes on users follow.
    let tag = expect(
        &call(
            &host,
            ADMIN,
            "POST",
            "/group_tags",
            Some(json!({"group_tag": {"name": "ops"}})),
        ),
        201,
    )["data"]["id"]
        .as_i64()
        .unwrap();
    expect(
        &call(
            &host,
            ADMIN,
            "PUT",
            &format!("/users/{bob}"),
            Some(json!({"user": {"list_tags": ["ops"]}})),
        ),
        200,
    );
    expect(
        &call(
            &host,
            &ta,
            "POST",
            &format!("/chats/{chat}/group_tags"),
            Some(json!({"group_tag_ids": [tag]})),
        ),
        204,
    );
    let c = expect(
        &call(&host, &ta, "GET", &format!("/chats/{chat}"), None),
        200,
    )["data"]
        .clone();
    assert_eq!(c["group_tag_ids"], json!([tag]));
    assert_eq!(c["member_ids"], json!([alice, bob]));
    expect(
        &call(
            &host,
            ADMIN,
            "PUT",
            &format!("/users/{dave}"),
            Some(json!({"user": {"list_tags": ["ops"]}})),
        ),
        200,
    );
    assert_eq!(list(&ta, ""), vec![alice, bob, dave]);
    expect(
        &call(
            &host,
            ADMIN,
            "PUT",
            &format!("/users/{bob}"),
            Some(json!({"user": {"list_tags": []}})),
        ),
        200,
    );
    assert_eq!(list(&ta, ""), vec![alice, dave]);
    assert_eq!(
        error_code(
            &call(
                &host,
                &ta,
                "POST",
                &format!("/chats/{chat}/group_tags"),
                Some(json!({"group_tag_ids": [999]}))
            ),
            422
        ),
        "not_found"
    );
    assert_eq!(
        error_code(
            &call(
                &host,
                &ta,
                "POST",
                &format!("/chats/{chat}/group_tags"),
                Some(json!({}))
            ),
            400
        ),
        "required"
    );
    // Removing the tag removes members who were there only through it.
    assert_eq!(
        call(
            &host,
            &tb,
            "DELETE",
            &format!("/chats/{chat}/group_tags/{tag}"),
            None
        )
        .status,
        403
    );
    expect(
        &call(
            &host,
            &ta,
            "DELETE",
            &format!("/chats/{chat}/group_tags/{tag}"),
            None,
        ),
        204,
    );
    assert_eq!(list(&ta, ""), vec![alice]);
    assert_eq!(
        call(
            &host,
            &ta,
            "DELETE",
            &format!("/chats/{chat}/group_tags/{tag}"),
            None
        )
        .status,
        404
    );
    let no_write = token(&host, alice, Some(&["chats:read", "chat_members:read"]));
    assert_eq!(
        expect(
            &call(
                &host,
                &no_write,
                "DELETE",
                &format!("/chats/{chat}/group_tags/{tag}"),
                None
            ),
            403
        )["error"],
        "insufficient_scope"
    );
    assert_eq!(
        expect(
            &call(
                &host,
                &no_write,
                "DELETE",
                &format!("/chats/{chat}/leave"),
                None
            ),
            403
        )["error"],
        "insufficient_scope"
    );
}

#[test]
fn members_paginate_across_three_hundred() {
    let host = start();
    let alice = user(&host, "alice", "user");
    let ta = token(&host, alice, None);
    let mut want: Vec<i64> = (0..299)
        .map(|i| user(&host, &format!("m{i}"), "user"))
        .collect();
    let chat = create_chat(&host, &ta, json!({"name": "Crowd", "member_ids": want}))["id"]
        .as_i64()
        .unwrap();
    want.push(alice);
    want.sort_unstable();
    let mut got = Vec::new();
    let mut path = format!("/chats/{chat}/members?limit=50");
    let mut pages = 0;
    loop {
        let page = expect(&call(&host, &ta, "GET", &path, None), 200);
        pages += 1;
        got.extend(ids(&page));
        let meta = &page["meta"]["paginate"];
        if meta["has_next"] != true {
            break;
        }
        path = format!(
            "/chats/{chat}/members?limit=50&cursor={}",
            meta["next_page"].as_str().unwrap()
        );
    }
    assert_eq!(pages, 6);
    assert_eq!(got, want);
    // member_ids of the Chat object is complete.
    let c = expect(
        &call(&host, &ta, "GET", &format!("/chats/{chat}"), None),
        200,
    );
    assert_eq!(c["data"]["member_ids"].as_array().unwrap().len(), 300);
}

#[test]
fn five_thousand_members_are_added_in_one_request_well_under_a_second() {
    // Seed 5,000 users straight into the database at start-up (the migration
    // files are plain SQL, as `spin up --sqlite` would run them).
    let seed = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) \
                INSERT OR IGNORE INTO users (id, nickname, email, role, created_at, updated_at) \
                SELECT 1000 + n, 'bulk' || n, 'bulk' || n || '@example.com', 'user', \
                '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z' FROM s";
    let host = start_app(config().args(&[
        "--sqlite",
        "@migrations/0001_init.sql",
        "--sqlite",
        "@migrations/0002_chats.sql",
        "--sqlite",
        seed,
    ]));
    let chat = create_chat(&host, ADMIN, json!({"name": "Everyone"}))["id"]
        .as_i64()
        .unwrap();
    let ids: Vec<i64> = (1001..=6000).collect();
    let started = Instant::now();
    let r = call(
        &host,
        ADMIN,
        "POST",
        &format!("/chats/{chat}/members"),
        Some(json!({"member_ids": ids, "silent": true})),
    );
    let took = started.elapsed();
    expect(&r, 204);
    assert!(
        took < Duration::from_millis(1000),
        "5,000-member add took {took:?}"
    );
    let c = expect(
        &call(&host, ADMIN, "GET", &format!("/chats/{chat}"), None),
        200,
    );
    assert_eq!(c["data"]["member_ids"].as_array().unwrap().len(), 5001);
    // All or nothing: one unknown id refuses the whole batch.
    let other = create_chat(&host, ADMIN, json!({"name": "Other"}))["id"]
        .as_i64()
        .unwrap();
    let mut bad: Vec<i64> = (1001..=6000).collect();
    bad.push(999_999);
    let r = call(
        &host,
        ADMIN,
        "POST",
        &format!("/chats/{other}/members"),
        Some(json!({"member_ids": bad})),
    );
    assert_eq!(error_code(&r, 422), "not_found");
    let c = expect(
        &call(&host, ADMIN, "GET", &format!("/chats/{other}"), None),
        200,
    );
    assert_eq!(c["data"]["member_ids"], json!([1]));
}
