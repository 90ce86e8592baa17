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
//! Triggers (migration 0015) keep per chat, member and local day the counts
//! behind every figure, in the transaction of the message, reaction or
//! membership change, and from them per-chat days and workspace periods.
//! A query reads O(buckets × chats) rows. Distinct members of a day, week
//! or month are counted at write time, which is why the day is the
//! workspace's local day: a count of distinct people cannot be re-cut into
//! another zone's days, so changing the zone rebuilds ([`rebuild`]), which
//! recomputes everything from the raw rows in one transaction.
//!
//! No endpoint shows what anyone wrote: figures, ids, dates, and a chat's
//! name only to a caller who can read the chat.

pub mod activity;
pub mod chats;
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

/// The settings, with the rollups built from the raw rows first if they
/// never were (the first analytics request after the migration, which
/// keeps rollups only from then on).
pub fn ready(db: &dyn Db) -> Result<Settings> {
    let s = settings(db)?;
    if s.rebuilt_at.is_some() {
        return Ok(s);
    }
    rebuild(db, None)?;
    settings(db)
}

/// The SQL expression of the local date (`YYYY-MM-DD`) of the UTC
/// timestamp `column` in the analytics zone: the same expression as the
/// triggers of migration 0015.
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

/// Recomputes every rollup from the raw rows (messages, reactions, the
/// membership log), in the zone `time_zone` (the current one if `None`), in
/// one transaction: readers see the old numbers or the new ones.
pub fn rebuild(db: &dyn Db, time_zone: Option<&str>) -> Result<Rebuilt> {
    let zone_rows = match time_zone {
        Some(name) => Some((name.to_owned(), zone::offsets(&zone::parse(name)?)?)),
        None => None,
    };
    let message_day = local_day_sql("m.created_at");
    let reaction_day = local_day_sql("r.created_at");
    let change_day = local_day_sql("x.created_at");
    transaction(db, |db| -> Result<Rebuilt> {
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
        // Emptying fires no trigger that counts (see migration 0015).
        for table in [
            "analytics_activity",
            "analytics_member_periods",
            "analytics_chat_days",
            "analytics_periods",
        ] {
            db.execute(&format!("DELETE FROM {table}"), &[])?;
        }
        // The base facts; their triggers fill the chats' days, the members'
        // periods and the workspace's periods.
        db.execute(
            &format!(
                "INSERT INTO analytics_activity \
                 (chat_id, day, user_id, messages, thread_messages, reactions, thread_reactions) \
                 SELECT chat_id, day, user_id, sum(messages), sum(thread_messages), sum(reactions), sum(thread_reactions) \
                 FROM ( \
                   SELECT m.root_chat_id AS chat_id, {message_day} AS day, m.user_id AS user_id, \
                          m.entity_type = 'discussion' AS messages, m.entity_type = 'thread' AS thread_messages, \
                          0 AS reactions, 0 AS thread_reactions \
                   FROM messages m JOIN users u ON u.id = m.user_id AND u.bot = 0 \
                   JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
                   WHERE m.system = 0 AND m.deleted_at IS NULL AND m.entity_type <> 'user' \
                   UNION ALL \
                   SELECT m.root_chat_id, {reaction_day}, r.user_id, 0, 0, \
                          m.entity_type = 'discussion', m.entity_type = 'thread' \
                   FROM reactions r JOIN messages m ON m.id = r.message_id \
                   JOIN users u ON u.id = r.user_id AND u.bot = 0 \
                   JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
                   WHERE m.entity_type <> 'user' \
                 ) GROUP BY chat_id, day, user_id"
            ),
            &[],
        )?;
        let activity_rows = i64::try_from(db.changes()).unwrap_or(i64::MAX);
        db.execute(
            &format!(
                "INSERT INTO analytics_chat_days (chat_id, day, joins, self_joins, leaves) \
                 SELECT x.chat_id, {change_day}, sum(x.change = 'join'), \
                        sum(x.change = 'join' AND x.self_initiated = 1), sum(x.change = 'leave') \
                 FROM analytics_membership_changes x WHERE true \
                 GROUP BY x.chat_id, {change_day} \
                 ON CONFLICT (chat_id, day) DO UPDATE SET \
                   joins = excluded.joins, self_joins = excluded.self_joins, leaves = excluded.leaves"
            ),
            &[],
        )?;
        let membership_changes = db
            .query_row("SELECT count(*) FROM analytics_membership_changes", &[])?
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
