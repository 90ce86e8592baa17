//! The tasks area end to end: the release `spin-host` serving the real
//! `spin.toml` (`/api/shared/v1/tasks...`), statuses and error shapes as the
//! spec lists them for `TaskOperations_*`.

use e2e_tests::api::{app, call, expect, start_app};
use e2e_tests::setup::{self, assert_api_error, id_of};
use serde_json::json;

const ADMIN: &str = "tasks-e2e-admin-token";

#[test]
fn tasks_answer_with_the_documented_statuses_and_error_shapes() {
    let host = start_app(app(ADMIN));
    let admin = |method: &str, path: &str, body: Option<serde_json::Value>| {
        call(&host, ADMIN, method, path, body)
    };
    // 400: not wrapped in `task`; 422: the rules of the body.
    assert_eq!(
        admin("POST", "/tasks", Some(json!({"kind": "call"}))).status,
        400
    );
    assert_api_error(
        &admin("POST", "/tasks", Some(json!({"task": {}}))),
        422,
        "kind",
        "blank",
    );
    assert_api_error(
        &admin(
            "POST",
            "/tasks",
            Some(json!({"task": {"kind": "call", "priority": 5}})),
        ),
        422,
        "priority",
        "inclusion",
    );
    assert_api_error(
        &admin(
            "POST",
            "/tasks",
            Some(json!({"task": {"kind": "call", "performer_ids": [9999]}})),
        ),
        404,
        "performer_ids",
        "not_found",
    );
    let created = expect(
        &admin(
            "POST",
            "/tasks",
            Some(json!({"task": {"kind": "email", "due_at": "2026-12-10T23:59:59.000+05:00"}})),
        ),
        201,
    )["data"]
        .clone();
    assert_eq!(created["content"], "Написать письмо");
    assert_eq!(
        (&created["all_day"], &created["due_at"]),
        (&json!(true), &json!("2026-12-10T18:59:59.000Z"))
    );
    for field in [
        "id",
        "kind",
        "content",
        "due_at",
        "priority",
        "user_id",
        "chat_id",
        "status",
        "created_at",
        "performer_ids",
        "all_day",
        "custom_properties",
    ] {
        assert!(
            created.get(field).is_some(),
            "{field} missing from {created}"
        );
    }
    let id = id_of(&created);
    let path = format!("/tasks/{id}");
    assert_eq!(expect(&admin("GET", &path, None), 200)["data"]["id"], id);
    assert_api_error(
        &admin("PUT", &path, Some(json!({"task": {"status": "closed"}}))),
        422,
        "status",
        "inclusion",
    );
    assert_eq!(
        expect(
            &admin("PUT", &path, Some(json!({"task": {"status": "done"}}))),
            200
        )["data"]["status"],
        "done"
    );
    assert_eq!(admin("PATCH", &path, None).status, 405);
    assert_eq!(admin("GET", "/tasks?status=finished", None).status, 400);
    assert_eq!(admin("GET", "/tasks?limit=0", None).status, 400);

    // Someone else's task is not there for them; a token without the scope is refused.
    let (_, token) = setup::user_with_token(&host, ADMIN, "other", "user");
    assert_api_error(
        &call(&host, &token, "GET", &path, None),
        404,
        "id",
        "not_found",
    );
    assert_eq!(
        expect(&call(&host, &token, "GET", "/tasks", None), 200)["data"],
        json!([])
    );
    let (_, reader) = setup::issue_token(&host, ADMIN, 1, Some(&["tasks:read"]));
    setup::assert_oauth_error(
        &call(&host, &reader, "DELETE", &path, None),
        403,
        "insufficient_scope",
    );

    assert_eq!(admin("DELETE", &path, None).status, 204);
    assert_api_error(&admin("GET", &path, None), 404, "id", "not_found");
}
