//! Per-chat analytics: the chats table (`GET /analytics/chats`, and as CSV),
//! one chat's series and top contributors (`GET /analytics/chats/{id}`),
//! and the open chats catalogue (`GET /analytics/open_chats`).
//!
//! A row is a shared chat: a group chat or channel, or a thread without a
//! root message (which counts as a chat of its own); threads with a root
//! message count for their root message's chat. Its figures are the sums
//! and distinct members of its `analytics_activity` rows in the period
//! (one range of that table's key per chat) and its joins and leaves in
//! `analytics_chat_days`: one query, O(chats × days × active members).
//!
//! A chat's `name` is shown only to a caller who can read the chat (an
//! open chat, or one they are a member of); the figures of the others are
//! shown without it, and `GET /analytics/chats/{id}` answers 404 for them.

use std::collections::{HashMap, HashSet};

use crate::analytics::period::{bucket_index, parse_day, Bucket, Period};
use crate::platform::db::{Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::http::Query;
use crate::platform::params::{bad_query, query_enum};
use crate::platform::report::{csv_document, percent};
use serde_json::{json, Value as Json};

/// Which chats a table lists, and whether threads count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatFilter {
    /// `Some(true)`: channels only; `Some(false)`: group chats only.
    pub channel: Option<bool>,
    /// `Some(true)`: open chats only; `Some(false)`: closed ones only.
    pub public: Option<bool>,
    /// Whether thread messages and reactions count for their chat.
    pub threads: bool,
    /// `Some(false)`: leave archived chats out (the open chats catalogue).
    pub archived: Option<bool>,
}

impl ChatFilter {
    /// Reads `chat_type` (`all`, `chat`, `channel`), `public` and `threads`
    /// (true by default); 400 on a bad value.
    pub fn parse(q: &Query) -> Result<ChatFilter> {
        let channel = match query_enum(q, "chat_type", &["all", "chat", "channel"], "all")? {
            "chat" => Some(false),
            "channel" => Some(true),
            _ => None,
        };
        // Strictly `true`/`false`, as the OpenAPI says.
        let flag = |key: &str| -> Result<Option<bool>> {
            match q.get(key) {
                None => Ok(None),
                Some("true") => Ok(Some(true)),
                Some("false") => Ok(Some(false)),
                Some(other) => Err(bad_query(key, ErrorCode::Invalid, other)),
            }
        };
        Ok(ChatFilter {
            channel,
            public: flag("public")?,
            threads: flag("threads")?.unwrap_or(true),
            archived: None,
        })
    }
}

/// One chat's figures over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatFigures {
    /// The chat.
    pub chat_id: i64,
    /// Its name, when the caller can read the chat.
    pub name: Option<String>,
    /// A channel (else a group chat).
    pub channel: bool,
    /// An open chat.
    pub public: bool,
    /// Archived.
    pub archived: bool,
    /// People in it now.
    pub members: i64,
    /// Counted messages.
    pub messages: i64,
    /// Counted reactions.
    pub reactions: i64,
    /// People who wrote or reacted in it.
    pub active_members: i64,
    /// People who joined.
    pub joins: i64,
    /// Of them, those who added themselves.
    pub self_joins: i64,
    /// People who left or were removed.
    pub leaves: i64,
    /// The chat's last message (`Chat.last_message_at`).
    pub last_message_at: String,
}

impl ChatFigures {
    fn engagement_rate(&self) -> f64 {
        percent(self.active_members, self.members)
    }

    fn growth(&self) -> i64 {
        self.joins - self.leaves
    }

    /// The API shape.
    pub fn render(&self) -> Json {
        json!({
            "chat_id": self.chat_id,
            "name": self.name,
            "chat_type": if self.channel { "channel" } else { "chat" },
            "public": self.public,
            "archived": self.archived,
            "members": self.members,
            "messages": self.messages,
            "reactions": self.reactions,
            "active_members": self.active_members,
            "engagement_rate": self.engagement_rate(),
            "joins": self.joins,
            "self_joins": self.self_joins,
            "leaves": self.leaves,
            "growth": self.growth(),
            "last_message_at": self.last_message_at,
        })
    }

    fn from_row(r: &Row) -> Result<ChatFigures> {
        let visible = r.bool(5)?;
        Ok(ChatFigures {
            chat_id: r.i64(0)?,
            name: if visible { Some(r.string(1)?) } else { None },
            channel: r.bool(2)?,
            public: r.bool(3)?,
            last_message_at: r.string(4)?,
            members: r.i64(6)?,
            messages: r.i64(7)?,
            reactions: r.i64(8)?,
            active_members: r.i64(9)?,
            joins: r.i64(10)?,
            self_joins: r.i64(11)?,
            leaves: r.i64(12)?,
            archived: r.bool(13)?,
        })
    }
}

/// What a table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Messages.
    Messages,
    /// Reactions.
    Reactions,
    /// Active members.
    ActiveMembers,
    /// Engagement rate.
    EngagementRate,
    /// Members now.
    Members,
    /// Joins.
    Joins,
    /// Leaves.
    Leaves,
    /// Joins minus leaves.
    Growth,
    /// The last message.
    LastMessageAt,
    /// The chat's id.
    ChatId,
}

/// Every sort key's name.
pub const SORT_KEYS: &[&str] = &[
    "messages",
    "reactions",
    "active_members",
    "engagement_rate",
    "members",
    "joins",
    "leaves",
    "growth",
    "last_message_at",
    "chat_id",
];

/// A table's order: the key, descending by default; ties by chat id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The key.
    pub key: SortKey,
    /// Largest first.
    pub descending: bool,
}

impl Order {
    /// Reads `sort` (`default` when absent) and `order` (`desc` by
    /// default, `asc`); 400 `inclusion` otherwise.
    pub fn parse(q: &Query, default: &'static str) -> Result<Order> {
        let key = match query_enum(q, "sort", SORT_KEYS, default)? {
            "reactions" => SortKey::Reactions,
            "active_members" => SortKey::ActiveMembers,
            "engagement_rate" => SortKey::EngagementRate,
            "members" => SortKey::Members,
            "joins" => SortKey::Joins,
            "leaves" => SortKey::Leaves,
            "growth" => SortKey::Growth,
            "last_message_at" => SortKey::LastMessageAt,
            "chat_id" => SortKey::ChatId,
            _ => SortKey::Messages,
        };
        let descending = query_enum(q, "order", &["desc", "asc"], "desc")? == "desc";
        Ok(Order { key, descending })
    }

    /// Sorts `rows`.
    pub fn sort(&self, rows: &mut [ChatFigures]) {
        use std::cmp::Ordering;
        let by = |a: &ChatFigures, b: &ChatFigures| -> Ordering {
            match self.key {
                SortKey::Messages => a.messages.cmp(&b.messages),
                SortKey::Reactions => a.reactions.cmp(&b.reactions),
                SortKey::ActiveMembers => a.active_members.cmp(&b.active_members),
                SortKey::EngagementRate => a.engagement_rate().total_cmp(&b.engagement_rate()),
                SortKey::Members => a.members.cmp(&b.members),
                SortKey::Joins => a.joins.cmp(&b.joins),
                SortKey::Leaves => a.leaves.cmp(&b.leaves),
                SortKey::Growth => a.growth().cmp(&b.growth()),
                SortKey::LastMessageAt => a.last_message_at.cmp(&b.last_message_at),
                SortKey::ChatId => a.chat_id.cmp(&b.chat_id),
            }
        };
        rows.sort_by(|a, b| {
            let o = by(a, b);
            let o = if self.descending { o.reverse() } else { o };
            o.then(a.chat_id.cmp(&b.chat_id))
        });
    }
}

/// The figures of every chat `filter` selects (or of `only` that chat)
/// over `period`, for the caller `viewer`, unsorted.
pub fn table(
    db: &dyn Db,
    viewer: i64,
    period: &Period,
    filter: &ChatFilter,
    only: Option<i64>,
) -> Result<Vec<ChatFigures>> {
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let (messages, reactions, active) = if filter.threads {
        (
            "a.messages + a.thread_messages",
            "a.reactions + a.thread_reactions",
            "a.user_id",
        )
    } else {
        (
            "a.messages",
            "a.reactions",
            "CASE WHEN a.messages + a.reactions > 0 THEN a.user_id END",
        )
    };
    let mut conditions = String::new();
    let mut params: Vec<Value> = vec![
        viewer.into(),
        from.as_str().into(),
        to.as_str().into(),
        from.as_str().into(),
        to.as_str().into(),
        from.as_str().into(),
        to.as_str().into(),
        from.as_str().into(),
        to.as_str().into(),
    ];
    if let Some(channel) = filter.channel {
        conditions.push_str(" AND c.channel = ?");
        params.push(channel.into());
    }
    if let Some(public) = filter.public {
        conditions.push_str(" AND c.public = ?");
        params.push(public.into());
    }
    if let Some(archived) = filter.archived {
        conditions.push_str(" AND c.archived = ?");
        params.push(archived.into());
    }
    if let Some(id) = only {
        conditions.push_str(" AND c.id = ?");
        params.push(id.into());
    }
    // Chats are the outer loop: each reads its range of the activity key
    // (chat, day), so the query visits the period's rows once, in order.
    let rows = db.query(
        &format!(
            "SELECT c.id, c.name, c.channel, c.public, c.last_message_at, \
               c.public = 1 OR EXISTS (SELECT 1 FROM chat_members v WHERE v.chat_id = c.id AND v.user_id = ?), \
               (SELECT count(*) FROM chat_members m WHERE m.chat_id = c.id) \
                 - (SELECT count(*) FROM chat_members m WHERE m.chat_id = c.id \
                    AND m.user_id IN (SELECT id FROM users WHERE bot = 1)), \
               coalesce(sum({messages}), 0), coalesce(sum({reactions}), 0), count(DISTINCT {active}), \
               (SELECT coalesce(sum(d.joins), 0) FROM analytics_chat_days d \
                WHERE d.chat_id = c.id AND d.day BETWEEN ? AND ?), \
               (SELECT coalesce(sum(d.self_joins), 0) FROM analytics_chat_days d \
                WHERE d.chat_id = c.id AND d.day BETWEEN ? AND ?), \
               (SELECT coalesce(sum(d.leaves), 0) FROM analytics_chat_days d \
                WHERE d.chat_id = c.id AND d.day BETWEEN ? AND ?), \
               c.archived \
             FROM chats c LEFT JOIN analytics_activity a ON a.chat_id = c.id AND a.day BETWEEN ? AND ? \
             WHERE c.personal = 0 \
               AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id AND t.message_id IS NOT NULL)\
               {conditions} \
             GROUP BY c.id"
        ),
        &params,
    )?;
    rows.iter().map(ChatFigures::from_row).collect()
}

/// One page of a sorted table from `offset`, and the next page's offset.
pub fn page(rows: &[ChatFigures], offset: usize, limit: usize) -> (Vec<Json>, Option<usize>) {
    let end = offset.saturating_add(limit).min(rows.len());
    let data = rows
        .get(offset.min(rows.len())..end)
        .unwrap_or_default()
        .iter()
        .map(ChatFigures::render)
        .collect();
    (data, (end < rows.len()).then_some(end))
}

/// The columns of the chats table as CSV.
const CSV_HEADER: &[&str] = &[
    "chat_id",
    "name",
    "chat_type",
    "public",
    "archived",
    "members",
    "messages",
    "reactions",
    "active_members",
    "engagement_rate",
    "joins",
    "self_joins",
    "leaves",
    "growth",
    "last_message_at",
];

/// A sorted table as CSV (see [`csv_document`]).
pub fn csv(rows: &[ChatFigures]) -> Result<Vec<u8>> {
    csv_document(
        CSV_HEADER,
        rows.iter().map(|r| {
            [
                r.chat_id.to_string(),
                r.name.clone().unwrap_or_default(),
                if r.channel { "channel" } else { "chat" }.to_owned(),
                r.public.to_string(),
                r.archived.to_string(),
                r.members.to_string(),
                r.messages.to_string(),
                r.reactions.to_string(),
                r.active_members.to_string(),
                r.engagement_rate().to_string(),
                r.joins.to_string(),
                r.self_joins.to_string(),
                r.leaves.to_string(),
                r.growth().to_string(),
                r.last_message_at.clone(),
            ]
        }),
    )
}

/// The most contributors `GET /analytics/chats/{id}` lists.
pub const TOP_MAX: i64 = 50;

/// `GET /analytics/chats/{id}`: the chat's figures over the (widened)
/// period, its series per bucket (messages, reactions, active members,
/// joins, leaves) and its `top` contributors by messages, then reactions.
/// 404 for a chat that is not a shared chat the caller can read.
pub fn one(
    db: &dyn Db,
    viewer: i64,
    chat_id: i64,
    period: Period,
    bucket: Bucket,
    threads: bool,
    top: usize,
) -> Result<Json> {
    let p = period.widened(bucket);
    let spans = p.buckets(bucket)?;
    let filter = ChatFilter {
        channel: None,
        public: None,
        threads,
        archived: None,
    };
    let chat = table(db, viewer, &p, &filter, Some(chat_id))?
        .into_iter()
        .next()
        .filter(|c| c.name.is_some())
        .ok_or_else(|| Error::not_found("id", chat_id))?;
    let (from, to) = (p.from.to_string(), p.to.to_string());
    let mut series = vec![[0i64; 4]; spans.len()];
    let days = db.query(
        "SELECT day, joins, leaves FROM analytics_chat_days WHERE chat_id = ? AND day BETWEEN ? AND ?",
        &[chat_id.into(), from.as_str().into(), to.as_str().into()],
    )?;
    for r in days {
        if let Some(i) = bucket_index(&spans, parse_day(&r.string(0)?)?) {
            series[i][2] += r.i64(1)?;
            series[i][3] += r.i64(2)?;
        }
    }
    let mut active: Vec<HashSet<i64>> = vec![HashSet::new(); spans.len()];
    let mut per_user: HashMap<i64, (i64, i64)> = HashMap::new();
    let facts = db.query(
        "SELECT day, user_id, messages, thread_messages, reactions, thread_reactions \
         FROM analytics_activity WHERE chat_id = ? AND day BETWEEN ? AND ?",
        &[chat_id.into(), from.as_str().into(), to.as_str().into()],
    )?;
    for r in facts {
        let t = i64::from(threads);
        let (m, x) = (r.i64(2)? + t * r.i64(3)?, r.i64(4)? + t * r.i64(5)?);
        if m + x == 0 {
            continue;
        }
        let user = r.i64(1)?;
        if let Some(i) = bucket_index(&spans, parse_day(&r.string(0)?)?) {
            series[i][0] += m;
            series[i][1] += x;
            active[i].insert(user);
        }
        let e = per_user.entry(user).or_default();
        e.0 += m;
        e.1 += x;
    }
    let mut ranked: Vec<(i64, i64, i64)> =
        per_user.into_iter().map(|(u, (m, x))| (u, m, x)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    ranked.truncate(top);
    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let names: HashMap<i64, Row> = db
        .query(
            "SELECT id, first_name, last_name, nickname FROM users \
             WHERE id IN (SELECT value FROM json_each(?))",
            &[Value::id_array(&ids)],
        )?
        .into_iter()
        .map(|r| Ok((r.i64(0)?, r)))
        .collect::<Result<_>>()?;
    let mut contributors = Vec::new();
    for (user, m, x) in ranked {
        let row = names.get(&user);
        let text = |i: usize| row.and_then(|r| r.opt_string(i).ok().flatten());
        contributors.push(json!({
            "user_id": user,
            "first_name": text(1),
            "last_name": text(2),
            "nickname": text(3),
            "messages": m,
            "reactions": x,
        }));
    }
    let mut data = json!({
        "bucket": bucket.as_str(),
        "threads": threads,
        "chat": chat.render(),
        "series": spans.iter().zip(&series).zip(&active).map(|((s, v), a)| {
            let mut b = s.render();
            b["messages"] = json!(v[0]);
            b["reactions"] = json!(v[1]);
            b["active_members"] = json!(a.len());
            b["joins"] = json!(v[2]);
            b["leaves"] = json!(v[3]);
            b
        }).collect::<Vec<_>>(),
        "top_contributors": contributors,
    });
    p.render_into(&mut data);
    Ok(data)
}

/// Reads `top` (10 by default, 1 to [`TOP_MAX`]); 400 otherwise.
pub fn parse_top(q: &Query) -> Result<usize> {
    let raw = q.get("top");
    let n = crate::platform::pagination::parse_limit(raw, TOP_MAX, 10).map_err(|_| {
        Error::bad_request(
            "top",
            ErrorCode::Invalid,
            raw.map(str::to_owned),
            &format!("top must be an integer between 1 and {TOP_MAX}"),
        )
    })?;
    Ok(usize::try_from(n).unwrap_or(10))
}
