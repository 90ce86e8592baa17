//! `GET /analytics/support`: how fast internal support answers.
//!
//! Definitions (also in our OpenAPI):
//! * **Support chats**: the chats named by `chat_ids` and those tagged with
//!   `chat_group_tag_ids`. **Agents**: the members of `agent_group_tag_id`
//!   and the people named by `agent_ids`.
//! * **Request**: a message written in a support chat itself (not in a
//!   thread) within the period, not deleted, not a system message, by a
//!   person who is not an agent nor a bot.
//! * **First response**: the earliest message, not deleted and not a system
//!   message, written by an agent after the request either in the
//!   request's thread or in the chat itself. An agent's message in the chat
//!   answers every request before it that has no earlier answer.
//! * **First-response time**: from the request to its first response, in
//!   seconds; with `working_hours`, only the working time between them
//!   counts (the schedule is read in `time_zone`). p50/p90/p99 by nearest
//!   rank over the answered requests.
//! * **Within threshold**: requests answered within `threshold_minutes`, as
//!   a count and a percentage of all requests (unanswered ones included).
//! * **Unanswered**: requests without a response yet; their waiting time
//!   runs to now.
//! * **Load per agent**: the requests each agent gave the first response
//!   to, and the median of those responses.
//!
//! The figures are computed from the messages of the support chats, read
//! once through the `messages_chat` index (requests in the period, agents'
//! answers after them), so nothing is kept for them at write time. No
//! message text is read or shown.

use std::collections::{BTreeMap, HashMap};

use crate::analytics::period::Period;
use crate::analytics::zone::{self, WorkingHours};
use crate::chats::members;
use crate::platform::db::{Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::http::Query;
use crate::platform::params::{query_id, query_ids};
use crate::platform::report::{percent, percentile};
use crate::platform::time::{self, Timestamp};
use jiff::tz::TimeZone;
use serde_json::{json, Value as Json};

/// The most unanswered requests a report lists (`unanswered_limit`).
pub const UNANSWERED_MAX: i64 = 1000;

/// A report's question: where, who answers, and how time is counted.
#[derive(Debug, Clone)]
pub struct SupportQuery {
    /// Support chats by id.
    pub chat_ids: Vec<i64>,
    /// Support chats by group tag.
    pub chat_group_tag_ids: Vec<i64>,
    /// The agents' group tag.
    pub agent_group_tag_id: Option<i64>,
    /// Agents by id.
    pub agent_ids: Vec<i64>,
    /// Answered within this many minutes counts as within the threshold.
    pub threshold_minutes: i64,
    /// Only working time counts, when given.
    pub working_hours: Option<WorkingHours>,
    /// How many unanswered requests to list.
    pub unanswered_limit: usize,
}

fn positive(q: &Query, key: &str, default: i64, max: i64) -> Result<i64> {
    match q.get(key) {
        None => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Error::bad_request(
                    key,
                    ErrorCode::Invalid,
                    Some(s.to_owned()),
                    &format!("{key} must be an integer between 1 and {max}"),
                )
            }),
    }
}

impl SupportQuery {
    /// Reads the query; 400 on a malformed parameter, 422 when no support
    /// chat or no agent is named.
    pub fn parse(q: &Query) -> Result<SupportQuery> {
        let chat_ids = query_ids(q, "chat_ids")?;
        let chat_group_tag_ids = query_ids(q, "chat_group_tag_ids")?;
        let agent_group_tag_id = query_id(q, "agent_group_tag_id")?;
        let agent_ids = query_ids(q, "agent_ids")?;
        let threshold_minutes = positive(q, "threshold_minutes", 60, 10_080)?;
        let working_hours = match q.get("working_hours") {
            None => {
                if let Some(d) = q.get("working_days") {
                    return Err(Error::bad_request(
                        "working_days",
                        ErrorCode::Invalid,
                        Some(d.to_owned()),
                        "working_days go with working_hours",
                    ));
                }
                None
            }
            Some(h) => Some(WorkingHours::parse(h, &q.list("working_days"))?),
        };
        let unanswered_limit = positive(q, "unanswered_limit", 100, UNANSWERED_MAX)?;
        if chat_ids.is_empty() && chat_group_tag_ids.is_empty() {
            return Err(Error::invalid(
                "chat_ids",
                ErrorCode::Blank,
                None,
                "Name the support chats: chat_ids or chat_group_tag_ids",
            ));
        }
        if agent_group_tag_id.is_none() && agent_ids.is_empty() {
            return Err(Error::invalid(
                "agent_group_tag_id",
                ErrorCode::Blank,
                None,
                "Name the agents: agent_group_tag_id or agent_ids",
            ));
        }
        Ok(SupportQuery {
            chat_ids,
            chat_group_tag_ids,
            agent_group_tag_id,
            agent_ids,
            threshold_minutes,
            working_hours,
            unanswered_limit: usize::try_from(unanswered_limit).unwrap_or(100),
        })
    }
}

fn id_list(db: &dyn Db, sql: &str, params: &[Value]) -> Result<Vec<i64>> {
    members::ids_of(&db.query(sql, params)?)
}

/// A request and what became of it.
#[derive(Debug, Clone)]
struct Request {
    id: i64,
    chat_id: i64,
    user_id: i64,
    at: Timestamp,
    /// The first response: (message id, agent, when).
    response: Option<(i64, i64, Timestamp)>,
}

fn earlier(
    a: Option<(i64, i64, Timestamp)>,
    b: Option<(i64, i64, Timestamp)>,
) -> Option<(i64, i64, Timestamp)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if (y.2, y.0) < (x.2, x.0) { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

fn stamp(s: &str) -> Result<Timestamp> {
    Timestamp::parse(s).ok_or_else(|| Error::Internal(format!("stored time {s} unreadable")))
}

/// `GET /analytics/support`: see the module doc. `period` is read in `tz`.
pub fn report(db: &dyn Db, tz: &TimeZone, period: &Period, sq: &SupportQuery) -> Result<Json> {
    members::ensure_exist(
        db,
        "chat_ids",
        &sq.chat_ids,
        "chats",
        "x.personal = 0",
        "Chat not found",
    )?;
    members::ensure_tags_exist_on(db, "chat_group_tag_ids", &sq.chat_group_tag_ids)?;
    if let Some(tag) = sq.agent_group_tag_id {
        members::ensure_tags_exist_on(db, "agent_group_tag_id", &[tag])?;
    }
    members::ensure_users_exist(db, "agent_ids", &sq.agent_ids)?;
    let mut chats = sq.chat_ids.clone();
    chats.extend(id_list(
        db,
        "SELECT g.chat_id FROM chat_group_tags g JOIN chats c ON c.id = g.chat_id AND c.personal = 0 \
         WHERE g.group_tag_id IN (SELECT value FROM json_each(?))",
        &[Value::id_array(&sq.chat_group_tag_ids)],
    )?);
    chats.sort_unstable();
    chats.dedup();
    let mut agents = sq.agent_ids.clone();
    if let Some(tag) = sq.agent_group_tag_id {
        agents.extend(id_list(
            db,
            "SELECT user_id FROM group_tag_users WHERE group_tag_id = ?",
            &[tag.into()],
        )?);
    }
    agents.sort_unstable();
    agents.dedup();

    let from = zone::start_of(tz, period.from)?;
    let until = zone::start_of(
        tz,
        period
            .to
            .tomorrow()
            .map_err(|e| Error::Internal(format!("period end: {e}")))?,
    )?;
    let chat_list = Value::id_array(&chats);
    let agent_list = Value::id_array(&agents);
    // The requests, and every agent message in the chats after the first.
    let rows = db.query(
        "SELECT m.id, m.chat_id, m.user_id, m.created_at, \
                m.user_id IN (SELECT value FROM json_each(?)) \
         FROM messages m JOIN users u ON u.id = m.user_id \
         WHERE m.chat_id IN (SELECT value FROM json_each(?)) AND m.entity_type = 'discussion' \
           AND m.system = 0 AND m.deleted_at IS NULL AND m.created_at >= ? \
           AND (m.user_id IN (SELECT value FROM json_each(?)) OR (u.bot = 0 AND m.created_at < ?)) \
         ORDER BY m.chat_id, m.id",
        &[
            agent_list.clone(),
            chat_list,
            from.to_string().into(),
            agent_list.clone(),
            until.to_string().into(),
        ],
    )?;
    let mut requests: Vec<Request> = Vec::new();
    // Walking each chat backwards: the next agent message after each request.
    let mut next_answer: Option<(i64, i64, i64, Timestamp)> = None; // (chat, id, agent, at)
    for r in rows.iter().rev() {
        let (id, chat_id, user_id, at) = (r.i64(0)?, r.i64(1)?, r.i64(2)?, stamp(&r.string(3)?)?);
        if next_answer.is_some_and(|n| n.0 != chat_id) {
            next_answer = None;
        }
        if r.bool(4)? {
            next_answer = Some((chat_id, id, user_id, at));
            continue;
        }
        if at >= until {
            continue;
        }
        requests.push(Request {
            id,
            chat_id,
            user_id,
            at,
            response: next_answer.map(|n| (n.1, n.2, n.3)),
        });
    }
    requests.reverse();
    // Answers in the requests' threads.
    let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let thread_answers = db.query(
        "SELECT t.message_id, m.id, m.user_id, m.created_at FROM threads t \
         JOIN messages m ON m.chat_id = t.chat_id \
         WHERE t.message_id IN (SELECT value FROM json_each(?)) \
           AND m.user_id IN (SELECT value FROM json_each(?)) \
           AND m.system = 0 AND m.deleted_at IS NULL",
        &[Value::id_array(&request_ids), agent_list],
    )?;
    let mut in_thread: HashMap<i64, (i64, i64, Timestamp)> = HashMap::new();
    for r in thread_answers {
        let answer = (r.i64(1)?, r.i64(2)?, stamp(&r.string(3)?)?);
        let slot = in_thread.entry(r.i64(0)?).or_insert(answer);
        *slot = earlier(Some(*slot), Some(answer)).unwrap_or(answer);
    }
    let now = time::now();
    let elapsed = |a: Timestamp, b: Timestamp| -> Result<i64> {
        match &sq.working_hours {
            Some(w) => w.between(tz, a, b),
            None => Ok((b.0 - a.0).max(0)),
        }
    };
    let mut seconds: Vec<i64> = Vec::new();
    let mut by_agent: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut within = 0i64;
    let mut unanswered = Vec::new();
    for r in &mut requests {
        r.response = earlier(r.response, in_thread.get(&r.id).copied());
        match r.response {
            Some((_, agent, at)) => {
                let s = elapsed(r.at, at)? / 1000;
                if s <= sq.threshold_minutes * 60 {
                    within += 1;
                }
                seconds.push(s);
                by_agent.entry(agent).or_default().push(s);
            }
            None => unanswered.push(r.clone()),
        }
    }
    seconds.sort_unstable();
    let total = i64::try_from(requests.len()).unwrap_or(i64::MAX);
    let answered = i64::try_from(seconds.len()).unwrap_or(i64::MAX);
    let mut listed = Vec::new();
    for r in unanswered.iter().take(sq.unanswered_limit) {
        listed.push(json!({
            "message_id": r.id,
            "chat_id": r.chat_id,
            "user_id": r.user_id,
            "created_at": r.at.to_string(),
            "waiting_seconds": elapsed(r.at, now)? / 1000,
        }));
    }
    let agents_load: Vec<Json> = agents
        .iter()
        .map(|a| {
            let mut v = by_agent.remove(a).unwrap_or_default();
            v.sort_unstable();
            json!({
                "user_id": a,
                "first_responses": v.len(),
                "median_first_response_seconds": percentile(&v, 50),
            })
        })
        .collect();
    let mut data = json!({
        "time_zone": tz.iana_name().unwrap_or("UTC"),
        "chat_ids": chats,
        "agent_ids": agents,
        "working_hours": sq.working_hours.as_ref().map(WorkingHours::render),
        "requests": total,
        "answered": answered,
        "unanswered": total - answered,
        "first_response_seconds": {
            "p50": percentile(&seconds, 50),
            "p90": percentile(&seconds, 90),
            "p99": percentile(&seconds, 99),
        },
        "within_threshold": {
            "threshold_minutes": sq.threshold_minutes,
            "count": within,
            "percent": percent(within, total),
        },
        "agents": agents_load,
        "unanswered_requests": listed,
    });
    period.render_into(&mut data);
    Ok(data)
}
