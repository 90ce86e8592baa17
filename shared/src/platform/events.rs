//! Domain events: every state change appends a row to `events` in the same
//! transaction, so a later webhook worker can deliver exactly what happened.
//! Names follow `guides/webhook-events.md` (e.g. `company_member` /
//! `invite|update|suspend|activate|delete`).

use crate::platform::db::{rows_source, Db, Value};
use crate::platform::error::Result;
use crate::platform::{audit, outbox};
use serde_json::Value as Json;

/// Event kind for workspace members (webhook `type`).
pub const COMPANY_MEMBER: &str = "company_member";
/// Event kind for group tags.
pub const GROUP_TAG: &str = "group_tag";
/// Event kind for user statuses.
pub const USER_STATUS: &str = "user_status";
/// Event kind for access tokens.
pub const ACCESS_TOKEN: &str = "access_token";
/// Event kind for custom property definitions.
pub const CUSTOM_PROPERTY: &str = "custom_property";

/// Event kind for chats (create, rename, permission change, archive, tags).
pub const CHAT: &str = "chat";
/// Event kind for chat membership (webhook `chat_member`: `add`/`remove`, plus role changes).
pub const CHAT_MEMBER: &str = "chat_member";

/// Event kind for messages (`new`, `update`, `delete`, plus `pin`/`unpin` and `link_previews`).
pub const MESSAGE: &str = "message";
/// Event kind for reactions (`new`, `delete`).
pub const REACTION: &str = "reaction";
/// Event kind for threads (`new`).
pub const THREAD: &str = "thread";
/// Event kind for data-button presses (`click`).
pub const BUTTON: &str = "button";

/// A domain event about to be recorded.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Webhook type, e.g. [`COMPANY_MEMBER`].
    pub kind: &'a str,
    /// Event name, e.g. `invite`.
    pub event: &'a str,
    /// Entity table name, e.g. `User`.
    pub entity_type: &'a str,
    /// Entity id.
    pub entity_id: i64,
    /// Acting user, if any.
    pub actor: Option<i64>,
    /// Event-specific payload (ids only, like the webhooks).
    pub payload: Json,
}

/// Appends an event and fans it out to the bots that receive it (see
/// [`crate::platform::outbox`]); call inside the transaction that made the
/// change.
pub fn record(db: &dyn Db, e: &Event<'_>) -> Result<i64> {
    let at = crate::platform::time::now();
    db.execute(
        "INSERT INTO events (type, event, entity_type, entity_id, actor_user_id, payload_json, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            e.kind.into(),
            e.event.into(),
            e.entity_type.into(),
            e.entity_id.into(),
            e.actor.into(),
            e.payload.to_string().into(),
            at.to_string().into(),
        ],
    )?;
    let id = db.last_insert_rowid();
    audit::record(db, &audit::for_event(db, e)?)?;
    let recorded = outbox::RecordedEvent { id, event: e, at };
    outbox::fan_out(db, &recorded)?;
    Ok(id)
}

/// Appends many events in one statement (a set-based change such as a
/// broadcast's batch) and fans each out as [`record`] does, in order.
pub fn record_many(db: &dyn Db, list: &[Event<'_>]) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let at = crate::platform::time::now();
    let stamp = at.to_string();
    let rows = list
        .iter()
        .enumerate()
        .map(|(n, e)| {
            serde_json::json!([
                n,
                e.kind,
                e.event,
                e.entity_type,
                e.entity_id,
                e.actor,
                e.payload.to_string(),
                stamp
            ])
        })
        .collect();
    let source = rows_source(&[
        "n",
        "type",
        "event",
        "entity_type",
        "entity_id",
        "actor",
        "payload",
        "created_at",
    ]);
    let inserted = db.execute(
        &format!(
            "INSERT INTO events (type, event, entity_type, entity_id, actor_user_id, payload_json, created_at) \
             SELECT type, event, entity_type, entity_id, actor, payload, created_at FROM {source} ORDER BY n \
             RETURNING id"
        ),
        &[Value::rows(rows)],
    )?;
    let mut records = Vec::new();
    for e in list {
        records.extend(audit::for_event(db, e)?);
    }
    audit::record(db, &records)?;
    if !outbox::listening(db) {
        return Ok(());
    }
    // The rows got ascending ids in `n` order.
    let mut ids = inserted
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<Vec<i64>, _>>()?;
    ids.sort_unstable();
    for (id, e) in ids.into_iter().zip(list) {
        outbox::fan_out(db, &outbox::RecordedEvent { id, event: e, at })?;
    }
    Ok(())
}

/// Fans out an event the database recorded itself (a trigger), as
/// [`record`] does for the events it appends; `id` is its row.
pub fn fan_out_recorded(db: &dyn Db, id: i64, e: &Event<'_>) -> Result<()> {
    let at = crate::platform::time::now();
    outbox::fan_out(db, &outbox::RecordedEvent { id, event: e, at })
}

/// The newest event's id (0 when there is none): taken before a set-based
/// write, it tells which events the write's triggers recorded.
pub fn last_id(db: &dyn Db) -> Result<i64> {
    Ok(db
        .query_row("SELECT coalesce(max(id), 0) FROM events", &[])?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0))
}

/// Events of one entity in insertion order as `(type, event)` (for tests and audits).
pub fn for_entity(db: &dyn Db, entity_type: &str, id: i64) -> Result<Vec<(String, String)>> {
    db.query(
        "SELECT type, event FROM events WHERE entity_type = ? AND entity_id = ? ORDER BY id",
        &[entity_type.into(), id.into()],
    )?
    .iter()
    .map(|r| Ok((r.string(0)?, r.string(1)?)))
    .collect()
}
