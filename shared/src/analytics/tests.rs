//! Native unit tests of communication analytics: every figure of every
//! report compared with a count made independently from the raw rows (a
//! plain SQL query over the UTC range of each local day, which never reads
//! the rollups nor the offsets table), in three zones with DST among them;
//! the rebuild gives the same rollups as the triggers; the SLA report on a
//! timeline computed by hand; the router's errors.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{json, Value as Json};

use crate::analytics::chats::{self, ChatFilter, Order};
use crate::analytics::period::{Bucket, Period, Span};
use crate::analytics::support::{self, SupportQuery};
use crate::analytics::{self, activity, zone};
use crate::auth::context::Config;
use crate::chats::member_input::AddMembers;
use crate::chats::ChatInput;
use crate::platform::db::{Db, NativeDb, Value};
use crate::platform::http::{Query, Request};
use crate::platform::time::Timestamp;
use crate::reactions::ReactionInput;
use crate::testutil::*;

/// A tiny deterministic generator (no dependency, same numbers every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn exec(db: &dyn Db, sql: &str, params: &[Value]) {
    db.execute(sql, params).expect("fixture");
}

fn one(db: &dyn Db, sql: &str, params: &[Value]) -> i64 {
    db.query_row(sql, params)
        .expect("query")
        .expect("row")
        .i64(0)
        .expect("i64")
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("time")
}

fn day(s: &str) -> Date {
    s.parse().expect("date")
}

/// A message written as the API writes it (its triggers run); its id.
fn put(
    db: &dyn Db,
    chat: i64,
    root: i64,
    entity_type: &str,
    user: i64,
    when: &str,
    system: bool,
) -> i64 {
    exec(
        db,
        "INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, url, \
         system, created_at, changed_at) VALUES (?, ?, ?, ?, ?, 'text', '', ?, ?, ?)",
        &[
            chat.into(),
            root.into(),
            entity_type.into(),
            chat.into(),
            user.into(),
            system.into(),
            when.into(),
            when.into(),
        ],
    );
    db.last_insert_rowid()
}

/// A chat row of the given kind (personal chats have no API to make them
/// here without a second user's consent flow).
fn chat_row(db: &dyn Db, name: &str, personal: bool, created: &str) -> i64 {
    exec(
        db,
        "INSERT INTO chats (name, owner_id, personal, meet_room_slug, last_message_at, created_at, updated_at) \
         VALUES (?, 1, ?, 'x', ?, ?, ?)",
        &[
            name.into(),
            personal.into(),
            created.into(),
            created.into(),
            created.into(),
        ],
    );
    db.last_insert_rowid()
}

/// A thread on `root_message` of `chat`: its chat's id.
fn thread(db: &dyn Db, chat: i64, root_message: i64) -> i64 {
    let t = chat_row(db, "thread", false, "2026-01-01T00:00:00.000Z");
    exec(
        db,
        "INSERT INTO threads (chat_id, message_id, message_chat_id, created_at, updated_at) \
         VALUES (?, ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        &[t.into(), root_message.into(), chat.into()],
    );
    t
}

/// The generated workspace: who and where.
struct Workspace {
    db: NativeDb,
    people: Vec<i64>,
    group: i64,
    channel: i64,
    open: i64,
}

const DEPARTMENTS: [Option<&str>; 3] = [Some("Продажи"), Some("ИТ"), None];

/// Eight people in three departments (one deleted in March), a bot, a
/// group chat, a channel, an open chat, a personal chat and a thread, and
/// 600 messages and 250 reactions from 20 January to 10 April 2026 (both
/// DST changes of New York and Europe in between), with messages on either
/// side of midnight in Moscow and New York; then 30 messages deleted and
/// 40 reactions removed. Written in the current analytics zone, so the
/// triggers keep the rollups as they would in production.
fn workspace() -> Workspace {
    workspace_in_zone("UTC")
}

/// [`workspace`] written with the analytics zone `name` in force.
fn workspace_in_zone(name: &str) -> Workspace {
    let db = test_db();
    set_zone(&db, name);
    let mut people = Vec::new();
    for i in 0..8 {
        let id = create_user(&db, &format!("p{i}@example.com"), "user");
        exec(
            &db,
            "UPDATE users SET department = ?, created_at = ? WHERE id = ?",
            &[
                DEPARTMENTS[i % 3].into(),
                format!("2026-0{}-1{}T10:00:00.000Z", 1 + i % 3, i).into(),
                id.into(),
            ],
        );
        people.push(id);
    }
    let bot = create_user(&db, "bot@example.com", "user");
    exec(&db, "UPDATE users SET bot = 1 WHERE id = ?", &[bot.into()]);
    let group = create_chat(&db, "Группа", &people[..5]);
    let channel = crate::chats::create(
        &db,
        &owner_principal(),
        &ChatInput {
            name: "Канал".into(),
            channel: true,
            member_ids: people.clone(),
            ..ChatInput::default()
        },
    )
    .expect("channel")["id"]
        .as_i64()
        .expect("id");
    let open = crate::chats::create(
        &db,
        &owner_principal(),
        &ChatInput {
            name: "Открытый".into(),
            public: true,
            member_ids: vec![people[0], bot],
            ..ChatInput::default()
        },
    )
    .expect("open")["id"]
        .as_i64()
        .expect("id");
    exec(
        &db,
        "UPDATE chats SET created_at = '2026-02-03T22:30:00.000Z' WHERE id = ?",
        &[open.into()],
    );
    exec(
        &db,
        "UPDATE users SET deleted_at = '2026-03-15T12:00:00.000Z' WHERE id = ?",
        &[people[7].into()],
    );
    let personal = chat_row(&db, "", true, "2026-01-01T00:00:00.000Z");
    let root = put(
        &db,
        group,
        group,
        "discussion",
        people[0],
        "2026-01-20T08:00:00.000Z",
        false,
    );
    let thread_chat = thread(&db, group, root);

    let mut rng = Lcg(7);
    let mut written = vec![root];
    let authors: Vec<i64> = people.iter().copied().chain([bot, 1]).collect();
    for n in 0..600 {
        // Folded in now and then, as the scheduler would, so that some rows
        // are deleted or removed after they were counted and some before.
        if n % 97 == 0 {
            fold(&db);
        }
        let d = day("2026-01-20")
            .checked_add(jiff::Span::new().days(i64::try_from(rng.next(80)).unwrap_or(0)))
            .expect("day");
        // Every fifth message sits a minute from midnight in Moscow or New York.
        let (h, m) = match n % 5 {
            0 => [(20, 59), (21, 0), (4, 59), (5, 0)][usize::try_from(rng.next(4)).unwrap_or(0)],
            _ => (rng.next(24), rng.next(60)),
        };
        let when = format!("{d}T{h:02}:{m:02}:00.000Z");
        let user = authors[usize::try_from(rng.next(10)).unwrap_or(0)];
        let (chat, root_chat, kind) = match rng.next(10) {
            0..=3 => (group, group, "discussion"),
            4 | 5 => (channel, channel, "discussion"),
            6 => (open, open, "discussion"),
            7 => (personal, personal, "user"),
            _ => (thread_chat, group, "thread"),
        };
        written.push(put(
            &db,
            chat,
            root_chat,
            kind,
            user,
            &when,
            rng.next(20) == 0,
        ));
    }
    for n in 0..250 {
        if n == 125 {
            fold(&db);
        }
        let message = written[usize::try_from(rng.next(600)).unwrap_or(0)];
        let user = authors[usize::try_from(rng.next(10)).unwrap_or(0)];
        let when: String = db
            .query_row(
                "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '+' || ? || ' minutes') FROM messages WHERE id = ?",
                &[i64::try_from(rng.next(600)).unwrap_or(0).into(), message.into()],
            )
            .expect("time")
            .expect("row")
            .string(0)
            .expect("text");
        let code = ["👍", "🔥", "✅"][n % 3];
        let _ = db.execute(
            "INSERT INTO reactions (message_id, user_id, code, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
            &[message.into(), user.into(), code.into(), when.into()],
        );
    }
    for n in 0..30 {
        if n == 15 {
            remove_reactions(&db, 20);
            fold(&db);
        }
        if n % 10 == 3 {
            // Written and deleted between two folds: never counted (on the
            // day of a counted message by the same person, in the same
            // chat, which it must not take away).
            let gone = put(
                &db,
                group,
                group,
                "discussion",
                people[0],
                "2026-01-20T09:00:00.000Z",
                false,
            );
            exec(
                &db,
                "UPDATE messages SET deleted_at = changed_at WHERE id = ?",
                &[gone.into()],
            );
        }
        let message = written[usize::try_from(rng.next(600)).unwrap_or(0)];
        exec(
            &db,
            "UPDATE messages SET deleted_at = changed_at WHERE id = ? AND deleted_at IS NULL",
            &[message.into()],
        );
    }
    remove_reactions(&db, 20);
    fold(&db);
    Workspace {
        db,
        people,
        group,
        channel,
        open,
    }
}

/// Removes `n` reactions, chosen by a fixed scramble of their ids.
fn remove_reactions(db: &dyn Db, n: i64) {
    exec(
        db,
        "DELETE FROM reactions WHERE id IN (SELECT id FROM reactions ORDER BY (id * 7919) % 251 LIMIT ?)",
        &[n.into()],
    );
}

/// The counted messages and reactions of `[from, until)` (UTC), from the
/// raw rows: `(messages, reactions, active members, active chats)`.
fn raw_activity(db: &dyn Db, from: Timestamp, until: Timestamp, chat: Option<i64>) -> [i64; 4] {
    let chat_cond = if chat.is_some() {
        "AND m.root_chat_id = ?3"
    } else {
        "AND ?3 IS NULL"
    };
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
    let params = [
        from.to_string().into(),
        until.to_string().into(),
        chat.into(),
    ];
    [
        one(db, &format!("SELECT count(*) {counted}"), &params),
        one(db, &format!("SELECT count(*) {reacted}"), &params),
        one(
            db,
            &format!(
                "SELECT count(*) FROM (SELECT m.user_id {counted} UNION SELECT r.user_id {reacted})"
            ),
            &params,
        ),
        one(
            db,
            &format!("SELECT count(DISTINCT m.root_chat_id) {counted}"),
            &params,
        ),
    ]
}

/// The UTC range of a bucket's local days in `tz`.
fn utc_range(tz: &TimeZone, span: &Span) -> (Timestamp, Timestamp) {
    (
        zone::start_of(tz, span.start).expect("start"),
        zone::start_of(tz, span.end.tomorrow().expect("next")).expect("end"),
    )
}

/// People whose account existed in the bucket, from the raw rows.
fn raw_members(db: &dyn Db, from: Timestamp, until: Timestamp, department: Option<&str>) -> i64 {
    one(
        db,
        "SELECT count(*) FROM users WHERE bot = 0 AND created_at < ? \
         AND (deleted_at IS NULL OR deleted_at >= ?) AND department IS ?",
        &[
            until.to_string().into(),
            from.to_string().into(),
            department.into(),
        ],
    )
}

/// Every rollup table's rows, to compare the triggers' work with a rebuild
/// (leaving out the all-zero rows a day keeps after its last message was
/// deleted, which a rebuild never writes).
fn rollups(db: &dyn Db) -> BTreeMap<&'static str, Vec<String>> {
    [
        (
            "analytics_activity",
            "1 = 1",
            "chat_id, day, user_id, messages, thread_messages, reactions, thread_reactions",
        ),
        (
            "analytics_chat_days",
            "message_authors + joins + self_joins + leaves > 0",
            "chat_id, day, message_authors, joins, self_joins, leaves",
        ),
        (
            "analytics_member_periods",
            "1 = 1",
            "kind, start, user_id, facts",
        ),
        (
            "analytics_period_members",
            "members > 0",
            "kind, start, department, members",
        ),
        (
            "analytics_chat_periods",
            "1 = 1",
            "kind, start, chat_id, days",
        ),
        (
            "analytics_department_days",
            "messages + reactions > 0",
            "day, department, messages, reactions",
        ),
    ]
    .into_iter()
    .map(|(t, nonzero, columns)| {
        let rows = db
            .query(
                &format!(
                    "SELECT json_array({columns}) FROM {t} WHERE {nonzero} ORDER BY {columns}"
                ),
                &[],
            )
            .expect("dump")
            .iter()
            .map(|r| r.string(0).expect("json"))
            .collect();
        (t, rows)
    })
    .collect()
}

/// Folds what was written into the rollups, in steps of 7 ids so that a
/// few changes already take several steps.
fn fold(db: &dyn Db) {
    analytics::intake::catch_up_in_steps(db, 7).expect("fold in");
}

fn set_zone(db: &dyn Db, name: &str) {
    analytics::rebuild(db, Some(name)).expect("rebuild");
}

/// [`workspace`], then the zone set to Moscow (which rebuilds).
fn moscow_workspace() -> (Workspace, TimeZone) {
    let w = workspace();
    set_zone(&w.db, "Europe/Moscow");
    (w, TimeZone::get("Europe/Moscow").expect("zone"))
}

#[test]
fn the_workspace_series_matches_the_raw_rows_in_every_zone_and_bucket() {
    let w = workspace();
    let db = &w.db;
    for name in ["UTC", "Europe/Moscow", "America/New_York"] {
        set_zone(db, name);
        let tz = TimeZone::get(name).expect("zone");
        let period = Period {
            from: day("2026-01-18"),
            to: day("2026-04-12"),
        };
        for bucket in [Bucket::Day, Bucket::Week, Bucket::Month] {
            let data = activity::series(db, &tz, period, bucket, true).expect("series");
            let spans = period.widened(bucket).buckets(bucket).expect("buckets");
            let series = data["series"].as_array().expect("series");
            assert_eq!(series.len(), spans.len(), "{name} {bucket:?}");
            for (s, span) in series.iter().zip(&spans) {
                let (from, until) = utc_range(&tz, span);
                let [m, r, a, c] = raw_activity(db, from, until, None);
                let members = [Some("Продажи"), Some("ИТ"), None]
                    .iter()
                    .map(|d| raw_members(db, from, until, *d))
                    .sum::<i64>();
                let new_chats = one(
                    db,
                    "SELECT count(*) FROM chats c WHERE personal = 0 AND created_at >= ? AND created_at < ? \
                     AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id AND t.message_id IS NOT NULL)",
                    &[from.to_string().into(), until.to_string().into()],
                );
                let expected = json!({
                    "start": span.start.to_string(), "end": span.end.to_string(),
                    "messages": m, "reactions": r, "active_members": a, "active_chats": c,
                    "new_chats": new_chats, "members": members,
                    "engagement_rate": crate::platform::report::percent(a, members),
                });
                assert_eq!(s, &expected, "{name} {bucket:?}");
            }
            // Departments: the same figures for the people of each.
            for d in data["departments"].as_array().expect("departments") {
                let dept = d["department"].as_str();
                for (s, span) in d["series"].as_array().expect("series").iter().zip(&spans) {
                    let (from, until) = utc_range(&tz, span);
                    assert_eq!(s["members"], json!(raw_members(db, from, until, dept)));
                    let of_department = |sql: &str| {
                        one(
                            db,
                            &format!(
                                "SELECT count(*) FROM {sql} JOIN users a ON a.id = x.user_id AND a.bot = 0 \
                                 AND a.department IS ?3"
                            ),
                            &[from.to_string().into(), until.to_string().into(), dept.into()],
                        )
                    };
                    let messages = of_department(
                        "(SELECT m.user_id FROM messages m JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
                          WHERE m.system = 0 AND m.deleted_at IS NULL AND m.entity_type <> 'user' \
                          AND m.created_at >= ?1 AND m.created_at < ?2) x",
                    );
                    let reactions = of_department(
                        "(SELECT r.user_id FROM reactions r JOIN messages m ON m.id = r.message_id \
                          JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
                          WHERE m.entity_type <> 'user' AND r.created_at >= ?1 AND r.created_at < ?2) x",
                    );
                    assert_eq!(
                        (s["messages"].as_i64(), s["reactions"].as_i64()),
                        (Some(messages), Some(reactions)),
                        "{name} {bucket:?} {dept:?}"
                    );
                    let active = one(
                        db,
                        "SELECT count(DISTINCT a.user_id) FROM (\
                           SELECT m.user_id FROM messages m JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
                           WHERE m.system = 0 AND m.deleted_at IS NULL AND m.entity_type <> 'user' \
                             AND m.created_at >= ?1 AND m.created_at < ?2 \
                           UNION ALL SELECT r.user_id FROM reactions r JOIN messages m ON m.id = r.message_id \
                           JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
                           WHERE m.entity_type <> 'user' AND r.created_at >= ?1 AND r.created_at < ?2) a \
                         JOIN users u ON u.id = a.user_id AND u.bot = 0 WHERE u.department IS ?3",
                        &[from.to_string().into(), until.to_string().into(), dept.into()],
                    );
                    assert_eq!(
                        s["active_members"],
                        json!(active),
                        "{name} {bucket:?} {dept:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_rebuild_gives_the_rollups_the_intake_kept() {
    for name in ["UTC", "America/New_York"] {
        let w = workspace_in_zone(name);
        // Two people change department: their counts move with them. One
        // writes before the move is folded in and has a counted message
        // deleted; the other changes twice.
        for (person, department) in [
            (w.people[0], Some("ИТ")),
            (w.people[1], Some("Продажи")),
            (w.people[1], None),
        ] {
            exec(
                &w.db,
                "UPDATE users SET department = ? WHERE id = ?",
                &[department.into(), person.into()],
            );
        }
        put(
            &w.db,
            w.group,
            w.group,
            "discussion",
            w.people[0],
            "2026-02-10T12:00:00.000Z",
            false,
        );
        exec(
            &w.db,
            "UPDATE messages SET deleted_at = changed_at WHERE id = \
             (SELECT min(id) FROM messages WHERE user_id = ? AND deleted_at IS NULL AND system = 0)",
            &[w.people[0].into()],
        );
        fold(&w.db);
        let kept = rollups(&w.db);
        assert!(kept["analytics_activity"].len() > 100);
        assert!(kept["analytics_member_periods"].len() > 300);
        assert!(kept["analytics_department_days"].len() > 150);
        assert!(kept["analytics_period_members"].len() > 150);
        assert!(kept["analytics_chat_periods"].len() > 20);
        let rebuilt = analytics::rebuild(&w.db, None).expect("rebuild");
        assert_eq!(rebuilt.settings.time_zone, name);
        assert_eq!(rollups(&w.db), kept, "{name}");
    }
}

#[test]
fn midnight_in_the_zone_separates_days() {
    let db = test_db();
    set_zone(&db, "Europe/Moscow");
    let u = create_user(&db, "a@example.com", "user");
    let chat = create_chat(&db, "Чат", &[u]);
    put(
        &db,
        chat,
        chat,
        "discussion",
        u,
        "2026-06-01T20:59:59.999Z",
        false,
    );
    put(
        &db,
        chat,
        chat,
        "discussion",
        u,
        "2026-06-01T21:00:00.000Z",
        false,
    );
    fold(&db);
    let tz = TimeZone::get("Europe/Moscow").expect("zone");
    let period = Period {
        from: day("2026-06-01"),
        to: day("2026-06-02"),
    };
    let data = activity::series(&db, &tz, period, Bucket::Day, false).expect("series");
    let counts: Vec<i64> = data["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|b| b["messages"].as_i64().expect("n"))
        .collect();
    assert_eq!(counts, vec![1, 1]);
    // One week holds both: the member is counted once.
    let week = activity::series(&db, &tz, period, Bucket::Week, false).expect("series");
    assert_eq!(week["series"][0]["active_members"], json!(1));
    assert_eq!(week["series"][0]["messages"], json!(2));
    assert_eq!(week["from"], json!("2026-06-01"));
    assert_eq!(week["to"], json!("2026-06-07"));
}

#[test]
fn offsets_follow_daylight_saving_time() {
    let tz = TimeZone::get("America/New_York").expect("zone");
    let rows = zone::offsets(&tz).expect("offsets");
    assert!(rows.contains(&("2026-03-08T07:00:00.000Z".to_owned(), -4 * 3600)));
    assert!(rows.contains(&("2026-11-01T06:00:00.000Z".to_owned(), -5 * 3600)));
    let utc = zone::offsets(&TimeZone::UTC).expect("utc");
    assert_eq!(utc, vec![("0000-01-01T00:00:00.000Z".to_owned(), 0)]);
}

#[test]
fn writing_deleting_reacting_and_unreacting_through_the_api_keep_the_rollups() {
    let db = test_db();
    let a = create_user(&db, "a@example.com", "user");
    let b = create_user(&db, "b@example.com", "user");
    let chat = create_chat(&db, "Чат", &[a, b]);
    let (pa, pb) = (user_principal(a, false), user_principal(b, false));
    let post = |p: &crate::auth::Principal| {
        crate::messages::create(
            &db,
            p,
            &crate::messages::input::NewMessage {
                entity_type: "discussion".into(),
                entity_id: chat,
                content: "text".into(),
                ..Default::default()
            },
            "",
        )
        .expect("post")["id"]
            .as_i64()
            .expect("id")
    };
    let m1 = post(&pa);
    let _m2 = post(&pa);
    let thumbs = ReactionInput {
        code: "👍".into(),
        name: None,
    };
    crate::reactions::add(&db, &pb, m1, &thumbs).expect("react");
    let tz = TimeZone::UTC;
    let today = zone::local_date(&tz, crate::platform::time::now()).expect("today");
    let period = Period {
        from: today,
        to: today,
    };
    let figures = |db: &dyn Db| {
        fold(db);
        let s = activity::series(db, &tz, period, Bucket::Day, false).expect("series");
        let b = &s["series"][0];
        (
            b["messages"].as_i64().expect("m"),
            b["reactions"].as_i64().expect("r"),
            b["active_members"].as_i64().expect("a"),
        )
    };
    assert_eq!(figures(&db), (2, 1, 2));
    crate::reactions::remove(&db, &pb, m1, &thumbs).expect("unreact");
    assert_eq!(figures(&db), (2, 0, 1));
    crate::messages::delete(&db, &pa, m1).expect("delete");
    assert_eq!(figures(&db), (1, 0, 1));
    let kept = rollups(&db);
    analytics::rebuild(&db, None).expect("rebuild");
    assert_eq!(rollups(&db), kept);
}

#[test]
fn the_chats_table_matches_the_raw_rows_and_hides_names_the_caller_cannot_read() {
    let (w, tz) = moscow_workspace();
    let db = &w.db;
    let period = Period {
        from: day("2026-02-01"),
        to: day("2026-03-31"),
    };
    let span = Span {
        start: period.from,
        end: period.to,
    };
    let (from, until) = utc_range(&tz, &span);
    let all = ChatFilter {
        channel: None,
        public: None,
        threads: true,
        archived: None,
    };
    // An admin who is in no chat but the open one sees the open chat's name only.
    let admin = create_user(db, "admin@example.com", "admin");
    let mut rows = chats::table(db, admin, &period, &all, None).expect("table");
    Order {
        key: chats::SortKey::Messages,
        descending: true,
    }
    .sort(&mut rows);
    assert_eq!(
        rows.len(),
        3,
        "group, channel, open; never personal chats or threads"
    );
    for r in &rows {
        let [m, x, a, _] = raw_activity(db, from, until, Some(r.chat_id));
        assert_eq!(
            (r.messages, r.reactions, r.active_members),
            (m, x, a),
            "chat {}",
            r.chat_id
        );
        let members = one(
            db,
            "SELECT count(*) FROM chat_members m JOIN users u ON u.id = m.user_id AND u.bot = 0 WHERE m.chat_id = ?",
            &[r.chat_id.into()],
        );
        assert_eq!(r.members, members);
        assert_eq!(r.name.is_some(), r.chat_id == w.open, "chat {}", r.chat_id);
    }
    assert!(rows.windows(2).all(|p| p[0].messages >= p[1].messages));
    // Without threads, the group chat loses exactly its thread activity.
    let no_threads = ChatFilter {
        threads: false,
        ..all
    };
    let group = chats::table(db, 1, &period, &no_threads, Some(w.group)).expect("table");
    let in_chat = one(
        db,
        "SELECT count(*) FROM messages m JOIN users u ON u.id = m.user_id AND u.bot = 0 \
         WHERE m.root_chat_id = ? AND m.entity_type = 'discussion' AND m.system = 0 \
         AND m.deleted_at IS NULL AND m.created_at >= ? AND m.created_at < ?",
        &[
            w.group.into(),
            from.to_string().into(),
            until.to_string().into(),
        ],
    );
    assert_eq!(group[0].messages, in_chat);
    assert_eq!(
        group[0].name.as_deref(),
        Some("Группа"),
        "the owner is a member"
    );
    // Filters.
    let channels = ChatFilter {
        channel: Some(true),
        ..all
    };
    let ids: Vec<i64> = chats::table(db, 1, &period, &channels, None)
        .expect("table")
        .iter()
        .map(|r| r.chat_id)
        .collect();
    assert_eq!(ids, vec![w.channel]);
    // Pages: two rows, then one, then none.
    let (first, next) = chats::page(&rows, 0, 2);
    assert_eq!((first.len(), next), (2, Some(2)));
    let (rest, next) = chats::page(&rows, 2, 2);
    assert_eq!((rest.len(), next), (1, None));
    // CSV: a BOM, the header and a row per chat, names hidden likewise.
    let csv = String::from_utf8(chats::csv(&rows).expect("csv")).expect("utf8");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(csv.starts_with('\u{feff}'));
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("chat_id,name,chat_type,public,archived,members,messages"));
    assert!(!csv.contains("Группа"));
}

#[test]
fn one_chat_has_its_series_and_top_contributors() {
    let (w, tz) = moscow_workspace();
    let db = &w.db;
    let period = Period {
        from: day("2026-02-01"),
        to: day("2026-02-28"),
    };
    let data = chats::one(db, 1, w.group, period, Bucket::Week, true, 3).expect("one");
    let spans = period
        .widened(Bucket::Week)
        .buckets(Bucket::Week)
        .expect("spans");
    for (b, span) in data["series"]
        .as_array()
        .expect("series")
        .iter()
        .zip(&spans)
    {
        let (from, until) = utc_range(&tz, span);
        let [m, r, a, _] = raw_activity(db, from, until, Some(w.group));
        assert_eq!(
            (
                b["messages"].as_i64(),
                b["reactions"].as_i64(),
                b["active_members"].as_i64()
            ),
            (Some(m), Some(r), Some(a))
        );
    }
    let top = data["top_contributors"].as_array().expect("top");
    assert_eq!(top.len(), 3);
    let (from, until) = utc_range(
        &tz,
        &Span {
            start: spans[0].start,
            end: spans[spans.len() - 1].end,
        },
    );
    let first = top[0]["user_id"].as_i64().expect("id");
    let written = one(
        db,
        "SELECT count(*) FROM messages m WHERE m.root_chat_id = ? AND m.user_id = ? AND m.system = 0 \
         AND m.deleted_at IS NULL AND m.created_at >= ? AND m.created_at < ?",
        &[w.group.into(), first.into(), from.to_string().into(), until.to_string().into()],
    );
    assert_eq!(top[0]["messages"], json!(written));
    assert!(top
        .windows(2)
        .all(|p| p[0]["messages"].as_i64() >= p[1]["messages"].as_i64()));
    // A chat the caller cannot read is not found, nor is a personal chat.
    let admin = create_user(db, "admin@example.com", "admin");
    let e = chats::one(db, admin, w.group, period, Bucket::Day, true, 3).expect_err("hidden");
    assert_eq!(e.status(), 404);
}

#[test]
fn open_chats_count_joins_self_joins_and_leaves() {
    let db = test_db();
    set_zone(&db, "Europe/Moscow");
    let people: Vec<i64> = (0..4)
        .map(|i| create_user(&db, &format!("o{i}@example.com"), "user"))
        .collect();
    let open = crate::chats::create(
        &db,
        &owner_principal(),
        &ChatInput {
            name: "Бег".into(),
            public: true,
            member_ids: vec![people[0]],
            ..ChatInput::default()
        },
    )
    .expect("chat")["id"]
        .as_i64()
        .expect("id");
    // Two join by themselves, the owner adds one, one leaves.
    for p in &people[1..3] {
        crate::chats::members::add(
            &db,
            &user_principal(*p, false),
            open,
            &AddMembers {
                member_ids: vec![*p],
                silent: false,
            },
        )
        .expect("join");
    }
    crate::chats::members::add(
        &db,
        &owner_principal(),
        open,
        &AddMembers {
            member_ids: vec![people[3]],
            silent: true,
        },
    )
    .expect("add");
    crate::chats::members::leave(&db, &user_principal(people[1], false), open).expect("leave");
    fold(&db);
    let tz = TimeZone::get("Europe/Moscow").expect("zone");
    let today = zone::local_date(&tz, crate::platform::time::now()).expect("today");
    let period = Period {
        from: today,
        to: today,
    };
    let open_only = ChatFilter {
        channel: None,
        public: Some(true),
        threads: true,
        archived: Some(false),
    };
    let rows = chats::table(&db, 1, &period, &open_only, None).expect("table");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    // people[0] joined when the chat was created (an addition by the owner).
    assert_eq!((r.joins, r.self_joins, r.leaves, r.members), (4, 2, 1, 4));
    assert_eq!(r.render()["growth"], json!(3));
    let kept = rollups(&db);
    analytics::rebuild(&db, None).expect("rebuild");
    assert_eq!(rollups(&db), kept);
}

/// The SLA timeline of the module doc's example, in Moscow (UTC+3), with
/// working hours 09:00–18:00 Monday to Friday (06:00–15:00 UTC).
#[test]
fn the_support_report_follows_its_definitions() {
    let db = test_db();
    let [a1, a2, r1, r2] =
        ["a1", "a2", "r1", "r2"].map(|n| create_user(&db, &format!("{n}@example.com"), "user"));
    let bot = create_user(&db, "helper-bot@example.com", "user");
    exec(&db, "UPDATE users SET bot = 1 WHERE id = ?", &[bot.into()]);
    let tag = crate::users::group_tags::create(&db, &owner_principal(), "Поддержка").expect("tag")
        ["id"]
        .as_i64()
        .expect("id");
    for a in [a1, a2] {
        exec(
            &db,
            "INSERT INTO group_tag_users (group_tag_id, user_id, created_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')",
            &[tag.into(), a.into()],
        );
    }
    let s = create_chat(&db, "Поддержка", &[a1, a2, r1, r2, bot]);
    let m = |u: i64, when: &str| put(&db, s, s, "discussion", u, when, false);
    m(a1, "2026-03-02T06:30:00.000Z"); // an agent first: no request
    m(r1, "2026-03-02T07:00:00.000Z"); // q1
    m(a1, "2026-03-02T07:10:00.000Z"); // answers q1: 600 s
    let q2 = m(r2, "2026-03-02T08:00:00.000Z");
    m(r1, "2026-03-02T08:05:00.000Z"); // q3
    let t = thread(&db, s, q2);
    put(&db, t, s, "thread", r2, "2026-03-02T08:10:00.000Z", false); // no request: in a thread
    put(&db, t, s, "thread", a2, "2026-03-02T08:30:00.000Z", false); // answers q2: 1,800 s
    m(bot, "2026-03-02T08:40:00.000Z"); // a bot: no request
    put(
        &db,
        s,
        s,
        "discussion",
        r2,
        "2026-03-02T08:45:00.000Z",
        true,
    ); // system
    let gone = m(r2, "2026-03-02T08:50:00.000Z");
    exec(
        &db,
        "UPDATE messages SET deleted_at = changed_at WHERE id = ?",
        &[gone.into()],
    );
    m(a1, "2026-03-02T09:00:00.000Z"); // answers q3: 3,300 s
    m(r2, "2026-03-06T14:30:00.000Z"); // q4, Friday 17:30
    m(a1, "2026-03-09T06:30:00.000Z"); // Monday 09:30: 230,400 s, 3,600 working
    let q5 = m(r1, "2026-03-10T10:00:00.000Z"); // unanswered
    m(r1, "2026-03-12T10:00:00.000Z"); // after the period
    let tz = TimeZone::get("Europe/Moscow").expect("zone");
    let period = Period {
        from: day("2026-03-01"),
        to: day("2026-03-10"),
    };
    let q = |extra: &str| {
        SupportQuery::parse(&Query::parse(&format!(
            "chat_ids={s}&agent_group_tag_id={tag}&threshold_minutes=60{extra}"
        )))
        .expect("query")
    };
    let calendar = support::report(&db, &tz, &period, &q("")).expect("report");
    assert_eq!(
        (
            &calendar["requests"],
            &calendar["answered"],
            &calendar["unanswered"]
        ),
        (&json!(5), &json!(4), &json!(1))
    );
    assert_eq!(
        calendar["first_response_seconds"],
        json!({"p50": 1800, "p90": 230400, "p99": 230400})
    );
    assert_eq!(
        calendar["within_threshold"],
        json!({"threshold_minutes": 60, "count": 3, "percent": 60.0})
    );
    assert_eq!(
        calendar["agents"],
        json!([
            {"user_id": a1, "first_responses": 3, "median_first_response_seconds": 3300},
            {"user_id": a2, "first_responses": 1, "median_first_response_seconds": 1800},
        ])
    );
    let listed = calendar["unanswered_requests"].as_array().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["message_id"], json!(q5));
    assert_eq!(listed[0]["user_id"], json!(r1));
    let working =
        support::report(&db, &tz, &period, &q("&working_hours=09:00-18:00")).expect("report");
    assert_eq!(
        working["first_response_seconds"],
        json!({"p50": 1800, "p90": 3600, "p99": 3600})
    );
    assert_eq!(working["within_threshold"]["count"], json!(4));
    assert_eq!(
        working["working_hours"],
        json!({"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"})
    );
    // The same support chat named by a tag.
    let chat_tag = crate::users::group_tags::create(&db, &owner_principal(), "Чаты поддержки")
        .expect("tag")["id"]
        .as_i64()
        .expect("id");
    exec(
        &db,
        "INSERT INTO chat_group_tags (chat_id, group_tag_id, created_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')",
        &[s.into(), chat_tag.into()],
    );
    let by_tag = support::report(
        &db,
        &tz,
        &period,
        &SupportQuery::parse(&Query::parse(&format!(
            "chat_group_tag_ids={chat_tag}&agent_ids={a1},{a2}"
        )))
        .expect("query"),
    )
    .expect("report");
    assert_eq!(by_tag["requests"], json!(5));
    assert_eq!(
        by_tag["first_response_seconds"],
        calendar["first_response_seconds"]
    );
}

#[test]
fn working_time_counts_only_the_schedule() {
    let tz = TimeZone::get("Europe/Moscow").expect("zone");
    let w = zone::WorkingHours::parse("09:00-18:00", &[]).expect("hours");
    // Friday 17:30 to Monday 09:30 local: 30 + 30 minutes.
    let ms = w
        .between(
            &tz,
            at("2026-03-06T14:30:00.000Z"),
            at("2026-03-09T06:30:00.000Z"),
        )
        .expect("between");
    assert_eq!(ms, 3_600_000);
    // Saturday only: nothing.
    let weekend = w
        .between(
            &tz,
            at("2026-03-07T06:00:00.000Z"),
            at("2026-03-07T15:00:00.000Z"),
        )
        .expect("between");
    assert_eq!(weekend, 0);
    assert!(zone::WorkingHours::parse("18:00-09:00", &[]).is_err());
    assert!(zone::WorkingHours::parse("9-18", &[]).is_err());
    assert!(zone::WorkingHours::parse("09:00-18:00", &["8".to_owned()]).is_err());
}

fn call(db: &dyn Db, method: &str, path: &str, body: Option<Json>) -> (u16, Json, String) {
    let mut req = Request::new(method, &format!("/api/shared/v1{path}"))
        .with_header("Authorization", &format!("Bearer {ADMIN}"));
    if let Some(b) = body {
        req = req.with_json(&b);
    }
    let cfg = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    let r = crate::components::analytics(db, &cfg, &req);
    let text = String::from_utf8_lossy(&r.body).into_owned();
    (r.status, r.json_body(), text)
}

fn error_key(body: &Json) -> (String, String) {
    let e = &body["errors"][0];
    (
        e["key"].as_str().unwrap_or_default().to_owned(),
        e["code"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn the_router_answers_the_documented_shapes_and_errors() {
    let db = test_db();
    let (s, b, _) = call(&db, "GET", "/analytics/settings", None);
    assert_eq!(s, 200);
    assert_eq!(b["data"]["time_zone"], json!("UTC"));
    assert!(
        b["data"]["rebuilt_at"].is_string(),
        "the first request builds"
    );
    let (s, b, _) = call(
        &db,
        "PUT",
        "/analytics/settings",
        Some(json!({"settings": {"time_zone": "Asia/Kolkata"}})),
    );
    assert_eq!((s, &b["data"]["time_zone"]), (200, &json!("Asia/Kolkata")));
    let (s, b, _) = call(
        &db,
        "PUT",
        "/analytics/settings",
        Some(json!({"settings": {"time_zone": "Mars/Olympus"}})),
    );
    assert_eq!(
        (s, error_key(&b)),
        (422, ("settings.time_zone".into(), "invalid".into()))
    );
    let (s, b, _) = call(&db, "PUT", "/analytics/settings", Some(json!({})));
    assert_eq!(
        (s, error_key(&b)),
        (400, ("settings".into(), "required".into()))
    );
    for (path, key, code) in [
        ("/analytics/activity?from=2026-13-01", "from", "invalid"),
        (
            "/analytics/activity?from=2026-02-02&to=2026-02-01",
            "from",
            "invalid",
        ),
        ("/analytics/activity?bucket=year", "bucket", "inclusion"),
        (
            "/analytics/activity?from=2020-01-01&to=2026-01-01&bucket=day",
            "bucket",
            "invalid",
        ),
        ("/analytics/activity?time_zone=UTC", "time_zone", "invalid"),
        ("/analytics/activity?split=team", "split", "inclusion"),
        ("/analytics/chats?sort=size", "sort", "inclusion"),
        ("/analytics/chats?threads=maybe", "threads", "invalid"),
        ("/analytics/chats?limit=0", "limit", "invalid"),
        ("/analytics/chats?cursor=zzz", "cursor", "invalid"),
        ("/analytics/chats/1?top=99", "top", "invalid"),
        ("/analytics/support?chat_ids=x", "chat_ids", "invalid"),
        (
            "/analytics/support?chat_ids=1&agent_ids=1&working_hours=9-18",
            "working_hours",
            "invalid",
        ),
        (
            "/analytics/support?chat_ids=1&agent_ids=1&time_zone=Nowhere",
            "time_zone",
            "invalid",
        ),
    ] {
        let (s, b, _) = call(&db, "GET", path, None);
        assert_eq!(
            (s, error_key(&b)),
            (400, (key.to_owned(), code.to_owned())),
            "{path}"
        );
    }
    let (s, b, _) = call(&db, "GET", "/analytics/support?agent_ids=1", None);
    assert_eq!(
        (s, error_key(&b)),
        (422, ("chat_ids".into(), "blank".into()))
    );
    let (s, b, _) = call(
        &db,
        "GET",
        "/analytics/support?chat_ids=999&agent_ids=1",
        None,
    );
    assert_eq!(
        (s, error_key(&b)),
        (422, ("chat_ids".into(), "not_found".into()))
    );
    let (s, _, _) = call(&db, "GET", "/analytics/chats/999", None);
    assert_eq!(s, 404);
    let (s, _, _) = call(&db, "DELETE", "/analytics/chats", None);
    assert_eq!(s, 405);
    let (s, b, _) = call(&db, "GET", "/analytics/activity?bucket=month", None);
    assert_eq!(s, 200);
    assert_eq!(b["data"]["time_zone"], json!("Asia/Kolkata"));
    let (s, b, _) = call(&db, "GET", "/analytics/open_chats", None);
    assert_eq!((s, &b["meta"]["paginate"]["next_page"]), (200, &Json::Null));
    let (s, _, text) = call(&db, "GET", "/analytics/chats.csv", None);
    assert_eq!(s, 200);
    assert!(text.starts_with('\u{feff}'));
    let (s, b, _) = call(&db, "POST", "/analytics/rebuild", None);
    assert_eq!((s, &b["data"]["activity_rows"]), (200, &json!(0)));
    // The scheduler's tick: nothing to fold in, then one message.
    let (s, b, _) = call(&db, "POST", "/analytics/run", None);
    assert_eq!(
        (s, &b["data"]),
        (
            200,
            &json!({"messages": 0, "reactions": 0, "membership_changes": 0, "journal": 0,
                    "steps": 0, "rebuilt": false})
        )
    );
    let u = create_user(&db, "runner@example.com", "user");
    let chat = create_chat(&db, "Run", &[u]);
    put(
        &db,
        chat,
        chat,
        "discussion",
        u,
        "2026-06-01T10:00:00.000Z",
        false,
    );
    let (s, b, _) = call(&db, "POST", "/analytics/run", None);
    // Read: the message and the chat's system message (not counted).
    let written = one(
        &db,
        "SELECT count(*) FROM messages WHERE chat_id = ?",
        &[chat.into()],
    );
    assert_eq!(
        (s, &b["data"]["messages"], &b["data"]["steps"]),
        (200, &json!(written), &json!(1))
    );
    assert_eq!(
        one(
            &db,
            "SELECT sum(messages) FROM analytics_activity WHERE chat_id = ?",
            &[chat.into()]
        ),
        1
    );
    let (s, _, _) = call(&db, "GET", "/analytics/run", None);
    assert_eq!(s, 405);
}

#[test]
fn a_period_defaults_to_thirty_days_ending_today_and_widens_to_whole_buckets() {
    let tz = TimeZone::UTC;
    let p = Period::parse(&Query::parse(""), &tz).expect("period");
    assert_eq!(p.days(), 30);
    let p = Period {
        from: day("2026-02-04"),
        to: day("2026-03-03"),
    };
    let m = p.widened(Bucket::Month);
    assert_eq!((m.from, m.to), (day("2026-02-01"), day("2026-03-31")));
    assert_eq!(m.buckets(Bucket::Month).expect("buckets").len(), 2);
    let w = p.widened(Bucket::Week);
    assert_eq!((w.from, w.to), (day("2026-02-02"), day("2026-03-08")));
}

#[test]
fn migration_0016_drops_the_write_time_triggers_0015_first_created() {
    let db = test_db();
    // A database that applied 0015 as it first landed had these triggers.
    for (name, table) in [
        ("analytics_message_new", "messages"),
        ("analytics_reaction_new", "reactions"),
        ("analytics_membership_change", "chat_membership_changes"),
        ("analytics_activity_new", "analytics_activity"),
        ("analytics_department_change", "users"),
    ] {
        exec(
            &db,
            &format!("CREATE TRIGGER {name} AFTER INSERT ON {table} BEGIN SELECT 1; END"),
            &[],
        );
    }
    let sql = crate::platform::migrate::MIGRATIONS
        .iter()
        .find(|m| m.version == 16)
        .expect("0016")
        .sql;
    for statement in crate::platform::migrate::split_statements(sql) {
        exec(&db, &statement, &[]);
    }
    let left: Vec<String> = db
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'analytics%' ORDER BY name",
            &[],
        )
        .expect("triggers")
        .iter()
        .map(|r| r.string(0).expect("name"))
        .collect();
    assert_eq!(
        left,
        [
            "analytics_department_moved",
            "analytics_message_deleted",
            "analytics_reaction_removed"
        ]
    );
}
