//! Delivering a broadcast, and recalling one, in batches.
//!
//! A worker (the request that created or recalled the broadcast, after its
//! response; or the scheduler's `POST /broadcasts/run`) first **claims** the
//! broadcast: a random lease token and a lease of [`LEASE_S`] seconds. Each
//! **batch** is one short transaction that checks the lease, takes the next
//! [`BATCH`] recipients after the cursor that have no message yet, creates
//! the personal chats that are missing, inserts every message and records
//! each recipient's message, moves the cursor and renews the lease — all set
//! based, a handful of statements whatever the batch size. A recipient's
//! message and the record that they have it commit together, so a crash
//! (`kill -9`) loses at most an uncommitted batch, which the next worker
//! redoes: everyone gets the message exactly once. Between batches the
//! write lock is free, so the rest of the API keeps answering.
//!
//! A recall walks the broadcast's messages by id in the same way, deleting
//! them as `DELETE /messages/{id}` does (tombstone, files dropped, `message`
//! `delete` event).

use crate::chats::message_rows::{self, Insert, MessageRow, COLUMNS};
use crate::platform::db::{rows_source, transaction, Db, Value};
use crate::platform::error::{Error, Result};
use crate::platform::events;
use crate::platform::random;
use crate::platform::time::{self, Timestamp};
use serde_json::json;

use super::{broadcast_row, load, Broadcast, COLUMNS as BROADCAST_COLUMNS};

/// Recipients (or recalled messages) per batch: big enough for a 10,000
/// audience in a second, small enough that a batch holds the write lock
/// for a few tens of milliseconds.
pub const BATCH: i64 = 500;

/// How long a claim lasts without a batch: a worker that died is replaced
/// once it has run out.
pub const LEASE_S: i64 = 10;

/// What a batch found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It did its work; more may remain.
    More,
    /// Nothing remains: the broadcast is `sent` (or `recalled`).
    Done,
    /// The worker no longer holds the broadcast (cancelled, recalled, or
    /// claimed by another worker after the lease ran out).
    Lost,
}

fn lease_until(now: Timestamp) -> String {
    Timestamp(now.0 + LEASE_S * 1000).to_string()
}

/// Claims broadcast `id` for this worker when it has work and no live
/// lease: it is queued, sending or recalling, or scheduled and due. A due
/// scheduled broadcast has its audience frozen now and becomes `sending`.
/// Returns the lease token, or `None` when there is nothing to do.
pub fn claim(db: &dyn Db, id: i64) -> Result<Option<String>> {
    let token = hex::encode(random::bytes::<16>()?);
    let now = time::now();
    let stamp = now.to_string();
    transaction(db, |db| -> Result<Option<String>> {
        let Some(r) = db.query_row(
            "SELECT state, sender_id FROM broadcasts WHERE id = ? \
             AND (state IN ('queued', 'sending', 'recalling') OR (state = 'scheduled' AND scheduled_at <= ?)) \
             AND (lease_until IS NULL OR lease_until < ?)",
            &[id.into(), stamp.clone().into(), stamp.clone().into()],
        )?
        else {
            return Ok(None);
        };
        let (state, sender) = (r.string(0)?, r.i64(1)?);
        if state == "scheduled" {
            let b = load(db, id)?.ok_or_else(|| Error::not_found("id", id))?;
            let n = b.audience.freeze(db, id, sender)?;
            db.execute(
                "UPDATE broadcasts SET recipients_count = ? WHERE id = ?",
                &[n.into(), id.into()],
            )?;
        }
        db.execute(
            "UPDATE broadcasts SET lease_token = ?, lease_until = ?, \
             state = CASE WHEN state IN ('scheduled', 'queued') THEN 'sending' ELSE state END, \
             started_at = coalesce(started_at, ?) WHERE id = ?",
            &[
                token.as_str().into(),
                lease_until(now).into(),
                stamp.into(),
                id.into(),
            ],
        )?;
        Ok(Some(token.clone()))
    })
}

/// The broadcast, sending or recalling, with its cursor, if `token` still
/// holds it; renews the lease (one statement).
fn held(db: &dyn Db, id: i64, token: &str) -> Result<Option<(Broadcast, i64)>> {
    let renewed = db.execute(
        &format!(
            "UPDATE broadcasts SET lease_until = ? WHERE id = ? AND lease_token = ? \
             AND state IN ('sending', 'recalling') RETURNING {BROADCAST_COLUMNS}, cursor_id"
        ),
        &[lease_until(time::now()).into(), id.into(), token.into()],
    )?;
    renewed
        .first()
        .map(|r| Ok((broadcast_row(r)?, r.i64(20)?)))
        .transpose()
}

/// The next batch of broadcast `id` under lease `token`: delivery while it
/// is sending, deleting its messages while it is recalled; one transaction.
pub fn batch(db: &dyn Db, id: i64, token: &str) -> Result<Step> {
    transaction(db, |db| -> Result<Step> {
        match held(db, id, token)? {
            Some((b, cursor)) if b.state == "sending" => deliver(db, &b, cursor),
            Some((b, cursor)) => recall(db, &b, cursor),
            None => Ok(Step::Lost),
        }
    })
}

fn finish(db: &dyn Db, id: i64, state: &str) -> Result<()> {
    db.execute(
        "UPDATE broadcasts SET state = ?, finished_at = ?, lease_token = NULL, lease_until = NULL WHERE id = ?",
        &[state.into(), time::now().to_string().into(), id.into()],
    )?;
    Ok(())
}

/// Delivers the batch of `b` after `cursor` (in [`batch`]'s transaction).
fn deliver(db: &dyn Db, b: &Broadcast, cursor: i64) -> Result<Step> {
    let id = b.id;
    let pending = db.query(
        "SELECT r.user_id, u.suspended = 0 AND u.deleted_at IS NULL FROM broadcast_recipients r \
         JOIN users u ON u.id = r.user_id \
         WHERE r.broadcast_id = ? AND r.user_id > ? AND r.message_id IS NULL ORDER BY r.user_id LIMIT ?",
        &[id.into(), cursor.into(), BATCH.into()],
    )?;
    let Some(last) = pending.last().map(|r| r.i64(0)).transpose()? else {
        finish(db, id, "sent")?;
        return Ok(Step::Done);
    };
    // Who was suspended or deleted since the audience was frozen is
    // passed over (and stays without a message).
    let mut live = Vec::with_capacity(pending.len());
    for r in &pending {
        if r.bool(1)? {
            live.push(r.i64(0)?);
        }
    }
    let chats = crate::chats::personal_chats_with(db, b.sender_id, &live)?;
    let since = events::last_id(db)?;
    let rows: Vec<Insert<'_>> = chats
        .iter()
        .map(|(user, chat)| Insert {
            chat_id: *chat,
            root_chat_id: *chat,
            entity_type: "user",
            entity_id: *user,
            user_id: b.sender_id,
            content: &b.content,
            buttons: b.buttons_json.clone(),
            parent_message_id: None,
            display_name: b.display_name.clone(),
            display_avatar_url: b.display_avatar_url.clone(),
            link_preview: b.link_preview,
            system: false,
        })
        .collect();
    let messages = message_rows::insert_many(db, &rows)?;
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    crate::messages::attach_files(db, &ids, &b.files)?;
    let delivered: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| json!([m.entity_id, m.chat_id, m.id]))
        .collect();
    if !delivered.is_empty() {
        // An upsert on the primary key: driven by the batch's rows, one
        // index probe each (an UPDATE ... FROM would scan the table).
        db.execute(
            &format!(
                "INSERT INTO broadcast_recipients (broadcast_id, user_id, chat_id, message_id, delivered_at) \
                 SELECT ?, user_id, chat_id, message_id, ? FROM {} AS x WHERE true \
                 ON CONFLICT (broadcast_id, user_id) DO UPDATE SET chat_id = excluded.chat_id, \
                 message_id = excluded.message_id, delivered_at = excluded.delivered_at",
                rows_source(&["user_id", "chat_id", "message_id"])
            ),
            &[
                id.into(),
                time::now().to_string().into(),
                Value::rows(delivered),
            ],
        )?;
    }
    db.execute(
        "UPDATE broadcasts SET delivered_count = delivered_count + ?, cursor_id = ? WHERE id = ?",
        &[(messages.len() as i64).into(), last.into(), id.into()],
    )?;
    message_rows::announce_new_many(db, since, &messages)?;
    Ok(Step::More)
}

/// Deletes the batch of recalled `b`'s messages after `cursor` (in
/// [`batch`]'s transaction).
fn recall(db: &dyn Db, b: &Broadcast, cursor: i64) -> Result<Step> {
    let id = b.id;
    let ids: Vec<i64> = db
        .query(
            "SELECT message_id FROM broadcast_recipients WHERE broadcast_id = ? AND message_id > ? \
             ORDER BY message_id LIMIT ?",
            &[id.into(), cursor.into(), BATCH.into()],
        )?
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<_, _>>()?;
    let Some(last) = ids.last().copied() else {
        finish(db, id, "recalled")?;
        return Ok(Step::Done);
    };
    let now = time::now().to_string();
    let list = Value::id_array(&ids);
    let deleted = db.execute(
        &format!(
            "UPDATE messages SET deleted_at = ?, changed_at = ?, content = '', buttons_json = NULL, \
             pinned_at = NULL, pinned_by = NULL \
             WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL RETURNING {COLUMNS}"
        ),
        &[now.clone().into(), now.into(), list.clone()],
    )?;
    db.execute(
        "DELETE FROM message_files WHERE message_id IN (SELECT value FROM json_each(?))",
        &[list],
    )?;
    let mut rows = deleted
        .iter()
        .map(message_rows::message_row)
        .collect::<Result<Vec<MessageRow>>>()?;
    rows.sort_unstable_by_key(|m| m.id);
    let list: Vec<_> = rows
        .iter()
        .map(|m| message_rows::message_event_of(b.sender_id, m, "delete"))
        .collect();
    events::record_many(db, &list)?;
    db.execute(
        "UPDATE broadcasts SET cursor_id = ? WHERE id = ?",
        &[last.into(), id.into()],
    )?;
    Ok(Step::More)
}

/// Works broadcast `id` under lease `token` until it is done or lost: the
/// batches of its delivery or of its recall, calling `flush` after each so
/// that the webhooks a batch scheduled are sent while their leases hold.
pub fn work(db: &dyn Db, id: i64, token: &str, flush: &mut dyn FnMut(&dyn Db)) -> Result<()> {
    loop {
        let step = batch(db, id, token)?;
        flush(db);
        if step != Step::More {
            return Ok(());
        }
    }
}

/// Claims and works broadcast `id` (see [`claim`], [`work`]); nothing when
/// another worker holds it or it has nothing to do.
pub fn claim_and_work(db: &dyn Db, id: i64, flush: &mut dyn FnMut(&dyn Db)) -> Result<()> {
    match claim(db, id)? {
        Some(token) => work(db, id, &token, flush),
        None => Ok(()),
    }
}

/// The broadcasts with work for a worker now: due scheduled ones, and
/// queued, sending or recalling ones whose lease ran out (their worker died)
/// or that never had one. For the scheduler's `POST /broadcasts/run`.
pub fn due(db: &dyn Db) -> Result<Vec<i64>> {
    let now = time::now().to_string();
    db.query(
        "SELECT id FROM broadcasts \
         WHERE (state IN ('queued', 'sending', 'recalling') OR (state = 'scheduled' AND scheduled_at <= ?)) \
         AND (lease_until IS NULL OR lease_until < ?) ORDER BY id",
        &[now.clone().into(), now.into()],
    )?
    .iter()
    .map(|r| r.i64(0).map_err(Error::from))
    .collect()
}

/// Asks for broadcast `id` to be worked after the response (see
/// [`crate::platform::outbox::defer`]); errors go to the operator's log.
pub fn work_after_response(id: i64) {
    crate::platform::outbox::defer(Box::new(move |db, flush| {
        if let Err(e) = claim_and_work(db, id, flush) {
            eprintln!("broadcast {id}: {e}");
        }
    }));
}
