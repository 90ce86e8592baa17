//! Fan-out: one recorded domain event becomes one delivery row per bot that
//! should receive it (and one history row per bot that keeps its history),
//! inside the transaction that made the change (see
//! [`crate::platform::outbox`]).
//!
//! Who receives what (`guides/webhook-events.md`, `guides/bots-setup.md`):
//! * only live bots (not deleted, not suspended) with an `outgoing_url` or
//!   `events_history_enabled`, whose `events` list names the event
//!   (`message_new`, `reaction_delete`, ...);
//! * messages, reactions and chat members: bots that are members of the chat,
//!   or of the chat a thread belongs to. A bot removed from a chat also gets
//!   that `chat_member` `remove`;
//! * `message_new` follows `trigger_on`: `all_messages` gets every message,
//!   `commands` only text whose first word is one of `commands` (`/deploy`,
//!   compared without case), `unfurl` none (unfurl bots get `link_shared`);
//! * `ignore_self_messages` drops message events about the bot's own
//!   messages; service messages (joins, leaves) are never sent;
//! * `company_member` events go to every subscribed bot, without membership;
//! * `button_click` goes to the bot that wrote the message, whatever its
//!   `ignore_self_messages` says (`guides/buttons.md`).
//!
//! The payload is built here, from the rows as the change left them, so it
//! is what happened even if the data changes before delivery; only
//! `webhook_timestamp` is added when it is sent.

use std::cell::Cell;

use serde_json::{json, Value as Json};

use crate::chats::message_rows::{self, MessageRow};
use crate::chats::threads;
use crate::messages::link_previews::{links_in, on_domain};
use crate::platform::db::{Db, DbError, Rider, Row, Value};
use crate::platform::error::Result;
use crate::platform::events;
use crate::platform::outbox::{self, RecordedEvent};
use crate::webhooks::settings::UNFURL_DOMAINS_SQL;
use crate::webhooks::{delivery, history};

thread_local! {
    /// `(request number, whether any bot is subscribed)`: one cheap read per
    /// request when no bot listens, so the write path pays almost nothing.
    static SUBSCRIBED: Cell<(u64, Option<bool>)> = const { Cell::new((0, None)) };
}

/// A bot that may receive the event.
#[derive(Debug, Clone)]
struct Candidate {
    id: i64,
    url: Option<String>,
    events: Vec<String>,
    trigger_on: String,
    commands: Vec<String>,
    ignore_self_messages: bool,
    history: bool,
}

const CANDIDATE_COLUMNS: &str = "b.user_id, b.outgoing_url, b.events_json, b.trigger_on, \
     b.commands_json, b.ignore_self_messages, b.events_history_enabled";

/// Live bots that have a URL or keep their history: `FROM ... WHERE ...`.
const LIVE_SUBSCRIBED: &str = "FROM bots b JOIN users u ON u.id = b.user_id \
     WHERE u.deleted_at IS NULL AND u.suspended = 0 \
     AND ((b.outgoing_url IS NOT NULL AND b.outgoing_url <> '') OR b.events_history_enabled = 1)";

/// Whether any bot listens: a row when one does.
fn any_subscribed_sql() -> String {
    format!("SELECT 1 {LIVE_SUBSCRIBED} LIMIT 1")
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn candidate(r: &Row) -> Result<Candidate> {
    Ok(Candidate {
        id: r.i64(0)?,
        url: r.opt_string(1)?.filter(|u| !u.is_empty()),
        events: json_list(&r.string(2)?),
        trigger_on: r.string(3)?,
        commands: json_list(&r.string(4)?),
        ignore_self_messages: r.bool(5)?,
        history: r.bool(6)?,
    })
}

/// The outbox's [`outbox::Listening`]: learns before the write lock is
/// taken whether any bot listens, so a request's events without listeners
/// cost no statement inside the transaction. A failure counts as listening
/// and is left for the fan-out itself to meet inside the transaction.
pub fn listening(db: &dyn Db) -> bool {
    any_subscribed(db).unwrap_or(true)
}

/// The key of [`listening_rider`]'s row.
const LISTENING: &str = "webhooks.listening";

/// For a request whose method may write (not `GET` or `HEAD`): whether any
/// live bot has a URL or keeps its history, read with the connection's setup
/// ([`Rider`]), so that posting a message costs no statement to learn it.
pub fn listening_rider(method: &str) -> Option<Rider> {
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        return None;
    }
    Some(Rider {
        key: LISTENING.into(),
        columns: vec![format!("({})", any_subscribed_sql())],
        joins: "",
        params: Vec::new(),
    })
}

/// Whether any live bot has a URL or keeps its history (cached per request;
/// read with the connection's setup where [`listening_rider`] rode on it).
fn any_subscribed(db: &dyn Db) -> Result<bool, DbError> {
    let request = outbox::request_number();
    if let (n, Some(known)) = SUBSCRIBED.with(Cell::get) {
        if n == request {
            return Ok(known);
        }
    }
    let known = match db.prefetched(LISTENING) {
        Some(row) => row.0.first().is_some_and(|v| *v != Value::Null),
        None => db.query_row(&any_subscribed_sql(), &[])?.is_some(),
    };
    SUBSCRIBED.with(|s| s.set((request, Some(known))));
    Ok(known)
}

/// Live subscribed bots that are members of `chats` (or every one when
/// `chats` is `None`), plus the bots among `extra` ids.
fn candidates(db: &dyn Db, chats: Option<&[i64]>, extra: &[i64]) -> Result<Vec<Candidate>> {
    let rows = match chats {
        None => db.query(
            &format!("SELECT {CANDIDATE_COLUMNS} {LIVE_SUBSCRIBED} ORDER BY b.user_id"),
            &[],
        )?,
        Some(chats) => db.query(
            &format!(
                "SELECT {CANDIDATE_COLUMNS} {LIVE_SUBSCRIBED} AND (b.user_id IN \
                 (SELECT m.user_id FROM chat_members m WHERE m.chat_id IN (SELECT value FROM json_each(?))) \
                 OR b.user_id IN (SELECT value FROM json_each(?))) ORDER BY b.user_id"
            ),
            &[Value::id_array(chats), Value::id_array(extra)],
        )?,
    };
    rows.iter().map(candidate).collect()
}

/// The first word of a message, if it is a `/command`.
fn command_of(content: &str) -> Option<&str> {
    content
        .split_whitespace()
        .next()
        .filter(|w| w.len() > 1 && w.starts_with('/'))
}

fn wants_message(c: &Candidate, name: &str, m: &MessageRow) -> bool {
    if c.ignore_self_messages && m.user_id == c.id {
        return false;
    }
    if name != "message_new" {
        return true;
    }
    match c.trigger_on.as_str() {
        "all_messages" => true,
        "commands" => command_of(&m.content).is_some_and(|cmd| {
            c.commands.iter().any(|known| {
                let known = known.trim();
                let known = known.strip_prefix('/').unwrap_or(known);
                cmd[1..].eq_ignore_ascii_case(known)
            })
        }),
        _ => false,
    }
}

/// The `thread` of a message payload: where a thread message's thread
/// hangs (`null` outside threads).
fn thread_of(db: &dyn Db, m: &MessageRow) -> Result<Json> {
    if m.entity_type != "thread" {
        return Ok(Json::Null);
    }
    Ok(threads::by_chat(db, m.chat_id)?.map_or(
        Json::Null,
        |t| json!({"message_id": t.message_id, "message_chat_id": t.message_chat_id}),
    ))
}

/// `MessageWebhookPayload` without `webhook_timestamp`.
fn message_payload(db: &dyn Db, event: &str, m: &MessageRow) -> Result<Json> {
    let thread = thread_of(db, m)?;
    Ok(json!({
        "type": "message",
        "id": m.id,
        "event": event,
        "entity_type": m.entity_type,
        "entity_id": m.entity_id,
        "content": m.content,
        "user_id": m.user_id,
        "created_at": m.created_at,
        "changed_at": m.changed_at,
        "url": format!("{}{}", outbox::origin(), m.url),
        "chat_id": m.chat_id,
        "parent_message_id": m.parent_message_id,
        "thread": thread,
    }))
}

/// The chats whose bot members receive events of `chat_id`: the chat and,
/// for a thread, the chat the thread belongs to.
fn audience_chats(chat_id: i64, root_chat_id: i64) -> Vec<i64> {
    if chat_id == root_chat_id {
        vec![chat_id]
    } else {
        vec![chat_id, root_chat_id]
    }
}

/// The chat a thread chat belongs to (the chat itself otherwise).
fn root_of(db: &dyn Db, chat_id: i64) -> Result<i64> {
    Ok(threads::by_chat(db, chat_id)?
        .and_then(|t| t.message_chat_id)
        .unwrap_or(chat_id))
}

fn ids(payload: &Json, key: &str) -> Vec<i64> {
    payload[key]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_i64).collect())
        .unwrap_or_default()
}

/// The webhook event name of a recorded event, e.g. `message_new`, or `None`
/// for events no bot receives.
pub fn event_name(kind: &str, event: &str) -> Option<String> {
    let known = match kind {
        events::MESSAGE => matches!(event, "new" | "update" | "delete"),
        events::REACTION => matches!(event, "new" | "delete"),
        events::CHAT_MEMBER => matches!(event, "add" | "remove"),
        events::BUTTON => event == "click",
        events::COMPANY_MEMBER => matches!(
            event,
            "invite" | "confirm" | "update" | "suspend" | "activate" | "delete"
        ),
        _ => false,
    };
    known.then(|| format!("{kind}_{event}"))
}

/// The payload of a recorded event without `webhook_timestamp`; `message`
/// is the message row of a message event.
fn payload(db: &dyn Db, rec: &RecordedEvent<'_>, message: Option<&MessageRow>) -> Result<Json> {
    let e = rec.event;
    if let Some(m) = message {
        return message_payload(db, e.event, m);
    }
    let mut p = json!({"type": e.kind, "event": e.event});
    match e.kind {
        events::REACTION => copy(
            &mut p,
            &e.payload,
            &[
                "chat_id",
                "message_id",
                "code",
                "name",
                "user_id",
                "created_at",
            ],
        ),
        events::CHAT_MEMBER => copy(&mut p, &e.payload, &["chat_id", "thread_id", "user_ids"]),
        events::BUTTON => copy(
            &mut p,
            &e.payload,
            &["message_id", "trigger_id", "data", "user_id", "chat_id"],
        ),
        _ => copy(&mut p, &e.payload, &["user_ids"]),
    }
    if matches!(e.kind, events::CHAT_MEMBER | events::COMPANY_MEMBER) {
        p["created_at"] = json!(rec.at.to_string());
    }
    Ok(p)
}

/// The [`crate::platform::outbox::Fanout`] of the webhooks area.
pub fn enqueue(db: &dyn Db, rec: &RecordedEvent<'_>) -> Result<Vec<i64>> {
    let e = rec.event;
    let Some(name) = event_name(e.kind, e.event) else {
        return Ok(Vec::new());
    };
    if !any_subscribed(db)? {
        return Ok(Vec::new());
    }
    // Message, reaction and button events are about one message: read once.
    let message = match e.kind {
        events::MESSAGE | events::REACTION | events::BUTTON => {
            match message_rows::load_announced(db, e.entity_id)? {
                Some(m) => Some(m),
                None => return Ok(Vec::new()),
            }
        }
        _ => None,
    };
    let mut ids = match &message {
        Some(m) if e.kind == events::MESSAGE && e.event == "new" => link_shared(db, rec, m)?,
        _ => Vec::new(),
    };
    ids.extend(to_receivers(db, rec, &name, message.as_ref())?);
    Ok(ids)
}

/// `message_link_shared` for a new message: each live unfurl bot
/// (`trigger_on = unfurl`, subscribed to it) that can see the chat (a
/// member of it or of the thread's chat, or the chat is open) gets the
/// message's links on its domains (`guides/link-previews.md`). `skip` is
/// always false: authors cannot hide a link's preview here.
fn link_shared(db: &dyn Db, rec: &RecordedEvent<'_>, m: &MessageRow) -> Result<Vec<i64>> {
    let links = links_in(&m.content);
    if m.system || links.is_empty() {
        return Ok(Vec::new());
    }
    let chats = audience_chats(m.chat_id, m.root_chat_id);
    let rows = db.query(
        &format!(
            "SELECT {CANDIDATE_COLUMNS}, {UNFURL_DOMAINS_SQL} \
             {LIVE_SUBSCRIBED} AND b.trigger_on = 'unfurl' AND (EXISTS (SELECT 1 FROM chat_members cm \
             WHERE cm.user_id = b.user_id AND cm.chat_id IN (SELECT value FROM json_each(?))) \
             OR EXISTS (SELECT 1 FROM chats c WHERE c.id = ? AND c.public = 1 AND c.personal = 0)) \
             ORDER BY b.user_id"
        ),
        &[Value::id_array(&chats), m.root_chat_id.into()],
    )?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let thread = thread_of(db, m)?;
    let name = "message_link_shared";
    let mut ids = Vec::new();
    for r in &rows {
        let c = candidate(r)?;
        if !c.events.iter().any(|n| n == name) {
            continue;
        }
        let domains = json_list(&r.string(7)?);
        let mine: Vec<Json> = links
            .iter()
            .filter_map(|(url, host)| {
                domains
                    .iter()
                    .find(|d| on_domain(host, d))
                    .map(|_| json!({"url": url, "domain": host, "skip": false}))
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        // The spec's fields, plus the message's `entity_type`, `entity_id`
        // and `thread`, which the official SDKs (pachca-sdk 1.6) require.
        let payload = json!({
            "type": "message",
            "event": "link_shared",
            "chat_id": m.chat_id,
            "message_id": m.id,
            "links": mine,
            "user_id": m.user_id,
            "created_at": m.created_at,
            "entity_type": m.entity_type,
            "entity_id": m.entity_id,
            "thread": thread,
        });
        if c.history {
            history::insert(db, c.id, rec, name, &payload)?;
        }
        if let Some(url) = &c.url {
            ids.extend(delivery::insert_all(
                db,
                rec,
                name,
                &[(c.id, url)],
                &payload,
            )?);
        }
    }
    Ok(ids)
}

/// The deliveries of an event to the bots it concerns by membership (or to
/// every bot, or to a button's message author).
/// `row` is the message of a message, reaction or button event.
fn to_receivers(
    db: &dyn Db,
    rec: &RecordedEvent<'_>,
    name: &str,
    row: Option<&MessageRow>,
) -> Result<Vec<i64>> {
    let e = rec.event;
    let name = name.to_owned();
    // Whose bot members may receive it (`None`: every bot), bots outside the
    // chat that still do (those just removed), and a message event's row.
    let (chats, removed, message) = match (e.kind, row) {
        (events::MESSAGE, Some(m)) if !m.system => (
            Some(audience_chats(m.chat_id, m.root_chat_id)),
            Vec::new(),
            Some(m),
        ),
        (events::REACTION, Some(m)) => (
            Some(audience_chats(m.chat_id, m.root_chat_id)),
            Vec::new(),
            None,
        ),
        // Only the message's author, and only if it is a bot.
        (events::BUTTON, Some(m)) => (Some(Vec::new()), vec![m.user_id], None),
        (events::MESSAGE | events::REACTION | events::BUTTON, _) => return Ok(Vec::new()),
        (events::CHAT_MEMBER, _) => {
            let chat_id = e.payload["chat_id"].as_i64().unwrap_or_default();
            let removed = if e.event == "remove" {
                ids(&e.payload, "user_ids")
            } else {
                Vec::new()
            };
            (
                Some(audience_chats(chat_id, root_of(db, chat_id)?)),
                removed,
                None,
            )
        }
        _ => (None, Vec::new(), None),
    };
    let receivers: Vec<Candidate> = candidates(db, chats.as_deref(), &removed)?
        .into_iter()
        .filter(|c| c.events.iter().any(|n| n == &name))
        .filter(|c| message.is_none_or(|m| wants_message(c, &name, m)))
        .collect();
    if receivers.is_empty() {
        return Ok(Vec::new());
    }
    let payload = payload(db, rec, message)?;
    for c in receivers.iter().filter(|c| c.history) {
        history::insert(db, c.id, rec, &name, &payload)?;
    }
    let targets: Vec<(i64, &str)> = receivers
        .iter()
        .filter_map(|c| c.url.as_deref().map(|url| (c.id, url)))
        .collect();
    delivery::insert_all(db, rec, &name, &targets, &payload)
}

fn copy(to: &mut Json, from: &Json, keys: &[&str]) {
    if let (Some(to), Some(from)) = (to.as_object_mut(), from.as_object()) {
        for k in keys {
            to.insert((*k).to_owned(), from.get(*k).cloned().unwrap_or(Json::Null));
        }
    }
}

/// Adds `webhook_timestamp` (Unix seconds) as the last field of a stored
/// payload; the result is the exact body sent and signed. The stored payload
/// is a compact JSON object written by this module, so the field is spliced
/// in before its closing brace instead of parsing the payload again for
/// every attempt (keys are written in sorted order, and
/// `webhook_timestamp` sorts after every payload key).
pub fn with_timestamp(payload: &str, unix_seconds: i64) -> String {
    let trimmed = payload.trim_end();
    match trimmed.strip_suffix('}') {
        Some(head) if trimmed.starts_with('{') => {
            let comma = if head.trim_end().ends_with('{') {
                ""
            } else {
                ","
            };
            format!("{head}{comma}\"webhook_timestamp\":{unix_seconds}}}")
        }
        _ => payload.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn whether_a_bot_listens_is_read_with_the_setup_of_a_request_that_may_write() {
        assert!(listening_rider("GET").is_none() && listening_rider("head").is_none());
        let db = crate::testutil::test_db();
        let opened = |db: &dyn Db| {
            let rec = crate::testutil::RecordingDb::new(db);
            let riders: Vec<Rider> = listening_rider("POST").into_iter().collect();
            rec.read_setup_with(&riders).unwrap();
            rec.clear();
            outbox::begin_request("test");
            let known = any_subscribed(&rec).unwrap();
            (known, rec.statements())
        };
        assert_eq!(opened(&db), (false, vec![]), "no bot: no statement");
        crate::testutil::create_bot(&db, "listener", Some("http://127.0.0.1:9/hook"));
        assert_eq!(
            opened(&db),
            (true, vec![]),
            "a bot with a URL: no statement"
        );
    }

    #[test]
    fn recorded_events_map_to_the_documented_event_names() {
        assert_eq!(event_name("message", "new").as_deref(), Some("message_new"));
        assert_eq!(
            event_name("reaction", "delete").as_deref(),
            Some("reaction_delete")
        );
        assert_eq!(
            event_name("chat_member", "add").as_deref(),
            Some("chat_member_add")
        );
        assert_eq!(
            event_name("company_member", "suspend").as_deref(),
            Some("company_member_suspend")
        );
        assert_eq!(
            event_name("button", "click").as_deref(),
            Some("button_click")
        );
        assert_eq!(event_name("message", "pin"), None);
        assert_eq!(event_name("chat_member", "role_update"), None);
        assert_eq!(event_name("group_tag", "new"), None);
    }

    #[test]
    fn a_command_is_the_first_word_when_it_starts_with_a_slash() {
        assert_eq!(command_of("/deploy prod"), Some("/deploy"));
        assert_eq!(command_of("  /help"), Some("/help"));
        assert_eq!(command_of("please /deploy"), None);
        assert_eq!(command_of("/"), None);
        assert_eq!(command_of(""), None);
    }

    #[test]
    fn webhook_timestamp_is_added_to_the_stored_payload() {
        let body = with_timestamp(r#"{"type":"message","id":5}"#, 1_747_574_400);
        let v: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(v["webhook_timestamp"], 1_747_574_400);
        assert_eq!(v["id"], 5);
        // The same bytes as serializing the payload with the field added.
        let mut map: Map<String, Json> =
            serde_json::from_str(r#"{"type":"message","id":5,"user_id":1}"#).unwrap();
        let spliced = with_timestamp(&Json::Object(map.clone()).to_string(), 7);
        map.insert("webhook_timestamp".into(), json!(7));
        assert_eq!(spliced, Json::Object(map).to_string());
        assert_eq!(with_timestamp("{}", 7), r#"{"webhook_timestamp":7}"#);
    }
}
