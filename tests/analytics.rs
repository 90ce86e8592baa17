//! Communication analytics end to end (our extension,
//! `/api/shared/v1/analytics`): people write, react, unreact, delete, join
//! and leave through the API with their own tokens, on the release
//! `spin-host` serving the real `spin.toml`; every figure is then compared
//! with a count made independently from the raw rows of the host's own
//! SQLite file (plain SQL over the UTC range of each local day, which reads
//! no rollup). Moving two messages to either side of Moscow's midnight in
//! the file and changing the zone (a rebuild) moves them to their days.

use e2e_tests::api::{call, expect};
use e2e_tests::setup::{self, assert_api_error, assert_oauth_error, id_of, Workspace};
use e2e_tests::Host;
use serde_json::{json, Value};

const ADMIN: &str = "analytics-e2e-admin-token";

fn one(host: &Host, sql: &str, params: &[&dyn rusqlite::ToSql]) -> i64 {
    host.database()
        .query_row(sql, params, |r| r.get(0))
        .expect("count")
}

/// Counted messages, reactions and active members of `[from, until)` (UTC
/// instants), in every shared chat or in `chat`, from the raw rows.
fn raw_counts(host: &Host, from: &str, until: &str, chat: Option<i64>) -> (i64, i64, i64) {
    let chat_cond = "AND (?3 IS NULL OR m.root_chat_id = ?3)";
    let counted = format!(
        "FROM messages m JOIN users u ON u.id = m.user_id AND u.bot = 0 \
         JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
         WHERE m.system = 0 AND m.deleted_at IS NULL AND m.entity_type <> 'user' \
         AND m.created_at >= ?1 AND m.created_at < ?2 {chat_cond}"
    );
    let reacted = format!(
        "FROM reactions r JOIN messages m ON m.id = r.message_id \
         JOIN users u ON u.id = r.user_id AND u.bot = 0 \
         JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
         WHERE m.entity_type <> 'user' AND r.created_at >= ?1 AND r.created_at < ?2 {chat_cond}"
    );
    let p: [&dyn rusqlite::ToSql; 3] = [&from, &until, &chat];
    (
        one(host, &format!("SELECT count(*) {counted}"), &p),
        one(host, &format!("SELECT count(*) {reacted}"), &p),
        one(
            host,
            &format!("SELECT count(*) FROM (SELECT m.user_id {counted} UNION SELECT r.user_id {reacted})"),
            &p,
        ),
    )
}

fn get(ws: &Workspace, path: &str) -> Value {
    expect(&ws.owner("GET", path, None), 200)
}

fn today_utc(host: &Host) -> String {
    host.database()
        .query_row("SELECT date('now')", [], |r| r.get(0))
        .expect("today")
}

#[test]
fn analytics_match_the_raw_rows_and_follow_the_zone() {
    let ws = Workspace::start(ADMIN);
    let host = &ws.host;
    let people: Vec<(i64, String)> = (0..5)
        .map(|i| {
            let (id, token) = setup::user_with_token(host, ADMIN, &format!("analyst{i}"), "user");
            let dept = if i % 2 == 0 { "Продажи" } else { "ИТ" };
            expect(
                &ws.owner(
                    "PUT",
                    &format!("/users/{id}"),
                    Some(json!({"user": {"department": dept}})),
                ),
                200,
            );
            (id, token)
        })
        .collect();
    let ids: Vec<i64> = people.iter().map(|p| p.0).collect();
    let group = id_of(&setup::create_chat(
        host,
        ADMIN,
        json!({"name": "Команда", "member_ids": ids[..4]}),
    ));
    let open = id_of(&setup::create_chat(
        host,
        ADMIN,
        json!({"name": "Клуб", "public": true, "member_ids": [ids[0]]}),
    ));
    // Each writes in the group chat; two react; one reaction is taken back;
    // one message is deleted; a thread gets a reply.
    let mut written = Vec::new();
    for (n, (_, token)) in people[..4].iter().enumerate() {
        for k in 0..=n {
            written.push(id_of(&setup::post_message(
                host,
                token,
                group,
                &format!("сообщение {k}"),
            )));
        }
    }
    let react = |token: &str, message: i64, method: &str| {
        let path = if method == "POST" {
            format!("/messages/{message}/reactions")
        } else {
            format!("/messages/{message}/reactions?code=%F0%9F%91%8D")
        };
        let body = (method == "POST").then(|| json!({"code": "👍"}));
        let r = call(host, token, method, &path, body);
        assert!(
            matches!(r.status, 200 | 201 | 204),
            "{} {}",
            r.status,
            r.text()
        );
    };
    react(&people[0].1, written[3], "POST");
    react(&people[1].1, written[0], "POST");
    react(&people[1].1, written[0], "DELETE");
    expect(
        &call(
            host,
            &people[3].1,
            "DELETE",
            &format!("/messages/{}", written[9]),
            None,
        ),
        204,
    );
    let thread = expect(
        &call(
            host,
            &people[0].1,
            "POST",
            &format!("/messages/{}/thread", written[0]),
            None,
        ),
        201,
    )["data"]["chat_id"]
        .as_i64()
        .expect("thread chat");
    setup::post_message(host, &people[2].1, thread, "в треде");
    // The open chat: two join by themselves, one leaves.
    for (id, token) in &people[3..5] {
        expect(
            &call(
                host,
                token,
                "POST",
                &format!("/chats/{open}/members"),
                Some(json!({"member_ids": [id]})),
            ),
            204,
        );
    }
    expect(
        &call(
            host,
            &people[4].1,
            "DELETE",
            &format!("/chats/{open}/leave"),
            None,
        ),
        204,
    );
    setup::post_message(host, &people[3].1, open, "всем привет");

    // Today (UTC), against the raw rows.
    let today = today_utc(host);
    let day = get(&ws, &format!("/analytics/activity?from={today}&to={today}"))["data"].clone();
    let (m, r, a) = raw_counts(
        host,
        &format!("{today}T00:00:00.000Z"),
        &format!("{today}T23:59:59.999Z"),
        None,
    );
    let b = &day["series"][0];
    assert_eq!(
        (
            b["messages"].as_i64(),
            b["reactions"].as_i64(),
            b["active_members"].as_i64()
        ),
        (Some(m), Some(r), Some(a)),
        "{day}"
    );
    assert_eq!(
        (m, r),
        (10 + 1 + 1 - 1, 1),
        "ten in the group less one deleted, one in the thread, one in the open chat"
    );
    assert_eq!(b["active_chats"], json!(2));
    assert_eq!(b["new_chats"], json!(2));
    assert_eq!(b["members"], json!(6), "the owner and five people");
    assert_eq!(b["engagement_rate"], json!(66.7));

    // The chats table, and the same as CSV.
    let table = get(&ws, &format!("/analytics/chats?from={today}&to={today}"));
    let rows = table["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{table}");
    for row in rows {
        let chat = row["chat_id"].as_i64().expect("id");
        let (m, r, a) = raw_counts(
            host,
            &format!("{today}T00:00:00.000Z"),
            &format!("{today}T23:59:59.999Z"),
            Some(chat),
        );
        assert_eq!(
            (
                row["messages"].as_i64(),
                row["reactions"].as_i64(),
                row["active_members"].as_i64()
            ),
            (Some(m), Some(r), Some(a)),
            "{row}"
        );
    }
    assert_eq!(rows[0]["chat_id"], json!(group), "most messages first");
    let csv = call(
        host,
        ADMIN,
        "GET",
        &format!("/analytics/chats.csv?from={today}&to={today}"),
        None,
    );
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    assert!(text.starts_with('\u{feff}'));
    // Five members: the owner (who created it) and four people.
    assert!(
        text.contains(&format!(
            "{group},Команда,chat,false,false,5,{}",
            rows[0]["messages"]
        )),
        "{text}"
    );
    let without_threads = get(
        &ws,
        &format!(
            "/analytics/chats?from={today}&to={today}&threads=false&chat_type=chat&public=false"
        ),
    );
    assert_eq!(
        without_threads["data"][0]["messages"].as_i64(),
        Some(rows[0]["messages"].as_i64().expect("n") - 1)
    );

    // The open chats catalogue.
    let open_row = get(
        &ws,
        &format!("/analytics/open_chats?from={today}&to={today}"),
    )["data"][0]
        .clone();
    assert_eq!(
        (
            &open_row["chat_id"],
            &open_row["joins"],
            &open_row["self_joins"],
            &open_row["leaves"],
            &open_row["growth"],
            &open_row["members"]
        ),
        (
            &json!(open),
            &json!(3),
            &json!(2),
            &json!(1),
            &json!(2),
            &json!(3)
        ),
        "{open_row}"
    );

    // One chat: its top contributor wrote the most.
    let one_chat = get(
        &ws,
        &format!("/analytics/chats/{group}?from={today}&to={today}&top=2"),
    )["data"]
        .clone();
    assert_eq!(
        one_chat["top_contributors"][0]["user_id"],
        json!(ids[2]),
        "{one_chat}"
    );
    assert_eq!(
        one_chat["top_contributors"].as_array().map(Vec::len),
        Some(2)
    );

    // Moscow's midnight: two messages a millisecond apart in the file, then
    // the zone changes, which rebuilds from the raw rows.
    let conn = host.database();
    conn.execute(
        "UPDATE messages SET created_at = '2026-11-30T20:59:59.999Z' WHERE id = ?",
        [written[1]],
    )
    .expect("move");
    conn.execute(
        "UPDATE messages SET created_at = '2026-11-30T21:00:00.000Z' WHERE id = ?",
        [written[2]],
    )
    .expect("move");
    drop(conn);
    let settings = expect(
        &ws.owner(
            "PUT",
            "/analytics/settings",
            Some(json!({"settings": {"time_zone": "Europe/Moscow"}})),
        ),
        200,
    );
    assert_eq!(settings["data"]["time_zone"], json!("Europe/Moscow"));
    let series =
        get(&ws, "/analytics/activity?from=2026-11-30&to=2026-12-01")["data"]["series"].clone();
    let nov30 = raw_counts(
        host,
        "2026-11-29T21:00:00.000Z",
        "2026-11-30T21:00:00.000Z",
        None,
    );
    let dec1 = raw_counts(
        host,
        "2026-11-30T21:00:00.000Z",
        "2026-12-01T21:00:00.000Z",
        None,
    );
    assert_eq!((nov30.0, dec1.0), (1, 1));
    assert_eq!(
        (
            series[0]["messages"].as_i64(),
            series[1]["messages"].as_i64()
        ),
        (Some(1), Some(1)),
        "{series}"
    );
    assert_eq!(series[0]["active_members"].as_i64(), Some(nov30.2));
    // The rebuild gives what the triggers kept.
    let before = get(&ws, &format!("/analytics/chats?from=2026-11-01&to={today}"));
    let rebuilt = expect(&ws.owner("POST", "/analytics/rebuild", None), 200);
    assert!(rebuilt["data"]["activity_rows"].as_i64() > Some(0));
    assert_eq!(
        get(&ws, &format!("/analytics/chats?from=2026-11-01&to={today}")),
        before
    );
    // Another zone than the workspace's is refused, naming it.
    assert_api_error(
        &ws.owner("GET", "/analytics/activity?time_zone=UTC", None),
        400,
        "time_zone",
        "invalid",
    );
}

#[test]
fn the_support_report_times_first_responses_and_only_managers_read_analytics() {
    let ws = Workspace::start(ADMIN);
    let host = &ws.host;
    let (agent, agent_token) = setup::user_with_token(host, ADMIN, "agent", "user");
    let (client, client_token) = setup::user_with_token(host, ADMIN, "client", "user");
    let (_, admin_token) = setup::user_with_token(host, ADMIN, "boss", "admin");
    let tag = id_of(
        &expect(
            &ws.owner(
                "POST",
                "/group_tags",
                Some(json!({"group_tag": {"name": "Агенты"}})),
            ),
            201,
        )["data"],
    );
    expect(
        &ws.owner(
            "PUT",
            &format!("/users/{agent}"),
            Some(json!({"user": {"list_tags": ["Агенты"]}})),
        ),
        200,
    );
    let support = id_of(&setup::create_chat(
        host,
        ADMIN,
        json!({"name": "Поддержка", "member_ids": [agent, client]}),
    ));
    let q1 = id_of(&setup::post_message(
        host,
        &client_token,
        support,
        "не работает почта",
    ));
    let a1 = id_of(&setup::post_message(host, &agent_token, support, "смотрю"));
    let q2 = id_of(&setup::post_message(
        host,
        &client_token,
        support,
        "и принтер",
    ));
    let report = |extra: &str| {
        get(
            &ws,
            &format!("/analytics/support?chat_ids={support}&agent_group_tag_id={tag}{extra}"),
        )["data"]
            .clone()
    };
    let r = report("");
    assert_eq!(
        (r["requests"].as_i64(), r["answered"].as_i64()),
        (Some(2), Some(1)),
        "{r}"
    );
    let created = |id: i64| -> String {
        host.database()
            .query_row("SELECT created_at FROM messages WHERE id = ?", [id], |r| {
                r.get(0)
            })
            .expect("time")
    };
    // The first response time, from the two messages' own times.
    let seconds = one(
        host,
        "SELECT CAST((julianday(?) - julianday(?)) * 86400 AS INTEGER)",
        &[&created(a1), &created(q1)],
    );
    assert_eq!(r["first_response_seconds"]["p50"], json!(seconds));
    assert_eq!(
        r["agents"],
        json!([{"user_id": agent, "first_responses": 1, "median_first_response_seconds": seconds}])
    );
    assert_eq!(r["unanswered_requests"][0]["message_id"], json!(q2));
    // An answer in q2's thread answers it.
    let thread = expect(
        &call(
            host,
            &client_token,
            "POST",
            &format!("/messages/{q2}/thread"),
            None,
        ),
        201,
    )["data"]["chat_id"]
        .as_i64()
        .expect("thread chat");
    setup::post_message(host, &agent_token, thread, "перезагрузите");
    assert_eq!(report("")["unanswered"], json!(0));
    assert_api_error(
        &ws.owner("GET", "/analytics/support?agent_ids=1", None),
        422,
        "chat_ids",
        "blank",
    );

    // Managers only: an admin reads, an employee's token cannot hold the scope.
    assert_eq!(
        call(host, &admin_token, "GET", "/analytics/activity", None).status,
        200
    );
    assert_oauth_error(
        &call(host, &client_token, "GET", "/analytics/activity", None),
        403,
        "insufficient_scope",
    );
    // The admin is no member of the support chat: its figures, not its name.
    let rows = expect(
        &call(host, &admin_token, "GET", "/analytics/chats", None),
        200,
    )["data"]
        .clone();
    assert_eq!(rows[0]["chat_id"], json!(support));
    assert_eq!(rows[0]["name"], Value::Null);
    assert_eq!(
        call(
            host,
            &admin_token,
            "GET",
            &format!("/analytics/chats/{support}"),
            None
        )
        .status,
        404
    );
}
