//! Communication analytics (our extension, `/api/shared/v1/analytics/...`):
//! how much a company communicates, where, and how fast its internal
//! support answers.
//!
//! # What is counted (also in our OpenAPI and the README)
//! * **Shared chats**: group chats and channels. Personal chats are never
//!   counted or shown. A thread's messages and reactions count for the chat
//!   of its root message (`root_chat_id`, as the API gives it), as thread
//!   activity, which `threads=false` leaves out.
//! * **Messages**: messages that are not system messages (joins, leaves)
//!   and not deleted, written by people. A message deleted later leaves
//!   every figure, on the day it was written.
//! * **Reactions**: reactions that exist, put by people on any message of a
//!   shared chat, counted on the day they were added; a removed one leaves.
//! * **People**: users who are not bots. Bots' messages and reactions
//!   (incoming webhooks, broadcasts sent by a bot) are never counted, and
//!   bots are never members. Broadcasts arrive in personal chats, so they
//!   are not counted either. A suspended or deleted person's past activity
//!   still counts: it happened.
//! * **Active member** of a period: a person who wrote a message or put a
//!   reaction in a shared chat in it. **Active chat**: a shared chat with at
//!   least one counted message in it (its threads included).
//! * **Members** of the workspace in a period: people whose account existed
//!   at some time in it (created before its end, not deleted before its
//!   start; suspension has no date, so suspended people are still
//!   members). Members of a chat: the people in it now.
//! * **Engagement rate**: active members ÷ members, in percent with one
//!   decimal.
//! * **Days** are local dates in the workspace's analytics time zone
//!   ([`settings`]); weeks start on Monday; months on the 1st.
//!
//! # How it stays fast
//! Rollups keep, per chat, member and local day, the counts behind every
//! figure (`analytics_activity`), each department's daily totals, the
//! members active in each day, week and month, and per chat and day its
//! writers and joins. They are kept off the write path: sending a message
//! costs them nothing, and [`intake`] folds new rows in by id, with a small
//! journal for deletions, removals and department moves, before every
//! analytics request and on the scheduler's `POST /analytics/run`.
//! Distinct members of a day, week or month are counted as rows are folded
//! in, which is why the day is the workspace's local day: a count of
//! distinct people cannot be re-cut into another zone's days, so changing
//! the zone rebuilds ([`rebuild`]), which recomputes everything from the
//! raw rows in one transaction.
//!
//! No endpoint shows what anyone wrote: figures, ids, dates, and a chat's
//! name only to a caller who can read the chat.

pub mod activity;
pub mod chats;
pub mod intake;
pub mod period;
pub mod routes;
pub mod support;
pub mod zone;

#[cfg(test)]
mod tests;

use crate::platform::db::{rows_source, transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time;
use serde_json::{json, Value as Json};

/// The workspace's analytics settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// IANA name of the zone whose local days the rollups count.
    pub time_zone: String,
    /// When the rollups were last built from the raw rows (`None`: never).
    pub rebuilt_at: Option<String>,
}

impl Settings {
    /// The API shape.
    pub fn render(&self) -> Json {
        json!({"time_zone": self.time_zone, "rebuilt_at": self.rebuilt_at})
    }
}

/// Reads the settings.
pub fn settings(db: &dyn Db) -> Result<Settings> {
    let r = db
        .query_row(
            "SELECT time_zone, rebuilt_at FROM analytics_settings WHERE id = 1",
            &[],
        )?
        .ok_or_else(|| Error::Internal("analytics_settings has no row".into()))?;
    Ok(Settings {
        time_zone: r.string(0)?,
        rebuilt_at: r.opt_string(1)?,
    })
}

/// The settings, with the rollups up to date: built from the raw rows first
/// if they never were (the first analytics request), then everything
/// written since folded in ([`intake::catch_up`]), so a report counts every
/// change committed before it.
pub fn ready(db: &dyn Db) -> Result<Settings> {
    Ok(up_to_date(db)?.0)
}

/// `POST /analytics/run`, the scheduler's tick: [`ready`]'s work, and what
/// it folded in.
pub fn run(db: &dyn Db) -> Result<intake::Intake> {
    Ok(up_to_date(db)?.1)
}

/// Builds the rollups if they never were, else folds in what was written
/// since; the settings after it, and what it did.
fn up_to_date(db: &dyn Db) -> Result<(Settings, intake::Intake)> {
    let s = settings(db)?;
    if s.rebuilt_at.is_none() {
        // Two first requests at once build once: the second finds it done.
        let built = rebuild_with(db, None, true)?;
        let intake = intake::Intake {
            rebuilt: true,
            ..intake::Intake::default()
        };
        return Ok((built.settings, intake));
    }
    Ok((s, intake::catch_up(db)?))
}

/// The SQL expression of the local date (`YYYY-MM-DD`) of the UTC
/// timestamp `column` in the analytics zone (the offset in force at that
/// instant, from `analytics_zone_offsets`).
pub fn local_day_sql(column: &str) -> String {
    format!(
        "date({column}, (SELECT o.offset_seconds FROM analytics_zone_offsets o \
         WHERE o.starts_at <= {column} ORDER BY o.starts_at DESC LIMIT 1) || ' seconds')"
    )
}

/// What a rebuild recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The settings after it.
    pub settings: Settings,
    /// Rows of (chat, day, member) activity.
    pub activity_rows: i64,
    /// Membership changes read.
    pub membership_changes: i64,
}

/// The tables the rollups live in, each emptied and computed again by a
/// rebuild (the offsets table and the membership log are inputs).
const ROLLUPS: &[&str] = &[
    "analytics_activity",
    "analytics_chat_days",
    "analytics_member_periods",
    "analytics_period_members",
    "analytics_chat_periods",
    "analytics_department_days",
];

/// The SQL expression of the Monday starting the week of the local date
/// `day` (the rebuild's and the intake's cascade's).
pub fn week_start_sql(day: &str) -> String {
    format!("date({day}, '-' || ((CAST(strftime('%w', {day}) AS INTEGER) + 6) % 7) || ' days')")
}

/// The SQL expression of the first day of the month of `day`.
pub fn month_start_sql(day: &str) -> String {
    format!("strftime('%Y-%m-01', {day})")
}

/// The set-based statements of a rebuild, in order, after the base facts:
/// each table from the raw rows or from the tables before it, never
/// through the intake's cascade, so a rebuild checks the intake's
/// arithmetic with queries of its own.
fn derived_tables_sql() -> Vec<String> {
    let change_day = local_day_sql("x.created_at");
    let (week, month) = (week_start_sql("day"), month_start_sql("day"));
    vec![
        format!(
            "INSERT INTO analytics_chat_days (chat_id, day, message_authors, joins, self_joins, leaves) \
             SELECT chat_id, day, sum(a), sum(j), sum(sj), sum(l) FROM ( \
               SELECT chat_id, day, messages + thread_messages > 0 AS a, 0 AS j, 0 AS sj, 0 AS l \
               FROM analytics_activity \
               UNION ALL \
               SELECT x.chat_id, {change_day}, 0, x.change = 'join', \
                      x.change = 'join' AND x.self_initiated = 1, x.change = 'leave' \
               FROM chat_membership_changes x \
             ) GROUP BY chat_id, day"
        ),
        format!(
            "INSERT INTO analytics_member_periods (kind, start, user_id, department, facts) \
             SELECT p.kind, p.start, p.user_id, coalesce(u.department, ''), p.facts FROM ( \
               SELECT 'day' AS kind, day AS start, user_id, count(*) AS facts \
               FROM analytics_activity GROUP BY day, user_id \
               UNION ALL \
               SELECT 'week', {week} AS s, user_id, count(*) FROM analytics_activity GROUP BY s, user_id \
               UNION ALL \
               SELECT 'month', {month} AS s, user_id, count(*) FROM analytics_activity GROUP BY s, user_id \
             ) p JOIN users u ON u.id = p.user_id"
        ),
        "INSERT INTO analytics_period_members (kind, start, department, members) \
         SELECT kind, start, department, count(*) FROM analytics_member_periods \
         GROUP BY kind, start, department"
            .to_owned(),
        format!(
            "INSERT INTO analytics_chat_periods (kind, start, chat_id, days) \
             SELECT 'week', {week} AS s, chat_id, count(*) FROM analytics_chat_days \
             WHERE message_authors > 0 GROUP BY s, chat_id \
             UNION ALL \
             SELECT 'month', {month} AS s, chat_id, count(*) FROM analytics_chat_days \
             WHERE message_authors > 0 GROUP BY s, chat_id"
        ),
        "INSERT INTO analytics_department_days (day, department, messages, reactions) \
         SELECT a.day, coalesce(u.department, ''), sum(a.messages + a.thread_messages), \
                sum(a.reactions + a.thread_reactions) \
         FROM analytics_activity a JOIN users u ON u.id = a.user_id \
         GROUP BY a.day, coalesce(u.department, '')"
            .to_owned(),
    ]
}

/// Recomputes every rollup from the raw rows (messages, reactions, the
/// membership log), in the zone `time_zone` (the current one if `None`), in
/// one transaction: readers see the old numbers or the new ones, writers
/// wait. The intake's cascade is dropped from the connection first, so
/// each table is computed by one set-based statement rather than row by
/// row; the intake's watermarks move to the last rows and its journal is
/// emptied, in the same transaction.
pub fn rebuild(db: &dyn Db, time_zone: Option<&str>) -> Result<Rebuilt> {
    rebuild_with(db, time_zone, false)
}

/// [`rebuild`]; with `unless_built`, nothing when the rollups have been
/// built meanwhile (read inside the transaction).
fn rebuild_with(db: &dyn Db, time_zone: Option<&str>, unless_built: bool) -> Result<Rebuilt> {
    let zone_rows = match time_zone {
        Some(name) => Some((name.to_owned(), zone::offsets(&zone::parse(name)?)?)),
        None => None,
    };
    intake::drop_cascade(db)?;
    transaction(db, |db| -> Result<Rebuilt> {
        if unless_built {
            let current = settings(db)?;
            if current.rebuilt_at.is_some() {
                return Ok(Rebuilt {
                    settings: current,
                    activity_rows: 0,
                    membership_changes: 0,
                });
            }
        }
        if let Some((name, rows)) = &zone_rows {
            db.execute("DELETE FROM analytics_zone_offsets", &[])?;
            let source = rows_source(&["starts_at", "offset_seconds"]);
            db.execute(
                &format!(
                    "INSERT INTO analytics_zone_offsets (starts_at, offset_seconds) \
                     SELECT starts_at, offset_seconds FROM {source}"
                ),
                &[Value::rows(
                    rows.iter()
                        .map(|(at, offset)| json!([at, offset]))
                        .collect(),
                )],
            )?;
            db.execute(
                "UPDATE analytics_settings SET time_zone = ? WHERE id = 1",
                &[name.as_str().into()],
            )?;
        }
        for table in ROLLUPS {
            db.execute(&format!("DELETE FROM {table}"), &[])?;
        }
        db.execute(
            &format!(
                "INSERT INTO analytics_activity \
                 (chat_id, day, user_id, messages, thread_messages, reactions, thread_reactions) {}",
                intake::summed(&intake::counted_rows(
                    "FROM messages m",
                    "m.deleted_at IS NULL",
                    "FROM reactions r JOIN messages m ON m.id = r.message_id",
                    "true",
                ))
            ),
            &[],
        )?;
        let activity_rows = i64::try_from(db.changes()).unwrap_or(i64::MAX);
        for sql in derived_tables_sql() {
            db.execute(&sql, &[])?;
        }
        db.execute("DELETE FROM analytics_journal", &[])?;
        db.execute(
            "UPDATE analytics_intake SET \
               messages_seen = (SELECT coalesce(max(id), 0) FROM messages), \
               reactions_seen = (SELECT coalesce(max(id), 0) FROM reactions), \
               memberships_seen = (SELECT coalesce(max(id), 0) FROM chat_membership_changes) \
             WHERE id = 1",
            &[],
        )?;
        let membership_changes = db
            .query_row("SELECT count(*) FROM chat_membership_changes", &[])?
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0);
        db.execute(
            "UPDATE analytics_settings SET rebuilt_at = ? WHERE id = 1",
            &[time::now().to_string().into()],
        )?;
        Ok(Rebuilt {
            settings: settings(db)?,
            activity_rows,
            membership_changes,
        })
    })
}

/// Parses `PUT /analytics/settings`'s body: `{"settings": {"time_zone":
/// "Europe/Moscow"}}`; the zone must be an IANA name.
pub fn parse_settings(body: &Json) -> Result<String> {
    let obj = crate::platform::validate::wrapper(body, "settings")?;
    let mut f = crate::platform::validate::Fields::new(obj, "settings");
    let zone = f.required_string("time_zone", Some(64));
    f.finish()?;
    let zone = zone.ok_or_else(|| Error::Internal("time_zone checked above".into()))?;
    zone::parse(&zone).map_err(|_| {
        Error::invalid(
            "settings.time_zone",
            ErrorCode::Invalid,
            Some(zone.clone()),
            "Unknown time zone: use an IANA name such as Europe/Moscow",
        )
    })?;
    Ok(zone)
}
