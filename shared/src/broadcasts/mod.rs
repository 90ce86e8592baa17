//! Broadcasts (our extension, `/broadcasts`): one message sent to many
//! employees, each in their personal chat with the sender, with who read
//! it, reacted, pressed which button and replied. [`routes`] is its router;
//! the area sits above every other (it posts messages, creates personal
//! chats and reads reactions and button clicks).
//!
//! * [`audience`]: whom a broadcast reaches, resolved in SQL and frozen.
//! * [`delivery`]: batches of set-based writes, resumable after a crash.
//! * [`analytics`]: the numbers of one broadcast, its recipients by state,
//!   and their CSV.
//!
//! The messages are ordinary messages: `GET /messages`, search, read
//! receipts, reactions and webhooks treat them as any other.

pub mod analytics;
pub mod audience;
pub mod delivery;
pub mod routes;
#[cfg(test)]
mod tests;

use crate::auth::Principal;
use crate::messages::input::{self, FileInput, MessageContent};
use crate::platform::db::{transaction, Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::pagination::{keyset_page, Cursor};
use crate::platform::time::{self, Timestamp};
use crate::platform::validate::{self, show, Fields};
use audience::{parse_selection, Audience};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

/// Most characters of a broadcast's text (a message read by thousands).
pub const CONTENT_MAX: usize = 20_000;
/// Most characters of an `Idempotency-Key`.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// A validated `{"broadcast": {...}}` of `POST /broadcasts`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BroadcastInput {
    /// What every recipient gets.
    pub message: MessageContent,
    /// Whether links get previews.
    pub link_preview: bool,
    /// A bot to send as (the caller when `None`).
    pub sender_id: Option<i64>,
    /// Whom it reaches.
    pub audience: Audience,
    /// When to send it (`None` = now).
    pub scheduled_at: Option<Timestamp>,
}

/// Validates the body of `POST /broadcasts`: the message as
/// `POST /messages` takes it (at most [`CONTENT_MAX`] characters of text),
/// a non-empty audience, an optional `sender_id` and a future
/// `scheduled_at`.
pub fn parse(body: &Json, bot: bool) -> Result<BroadcastInput> {
    let obj = validate::wrapper(body, "broadcast")?;
    let mut f = Fields::new(obj, "");
    let message = input::parse_content(&mut f, obj, bot);
    if message.content.chars().count() > CONTENT_MAX {
        f.fail(
            "content",
            ErrorCode::TooLong,
            None,
            &format!("is too long (at most {CONTENT_MAX} characters)"),
        );
    }
    let link_preview = f.bool("link_preview").unwrap_or(false);
    let sender_id = f.i64("sender_id");
    let include = parse_selection(&mut f, obj, "audience", true);
    let exclude = parse_selection(&mut f, obj, "exclude", false);
    if include.is_empty() && !f.has_errors() {
        f.fail(
            "audience",
            ErrorCode::Blank,
            None,
            "name at least one recipient: everyone, user_ids, group_tag_ids, departments or roles",
        );
    }
    let scheduled_at = match obj.get("scheduled_at") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => match Timestamp::parse(s) {
            Some(t) if t <= time::now() => {
                f.fail(
                    "scheduled_at",
                    ErrorCode::Invalid,
                    Some(s.clone()),
                    "must be in the future",
                );
                None
            }
            Some(t) => Some(t),
            None => {
                f.fail(
                    "scheduled_at",
                    ErrorCode::Invalid,
                    Some(s.clone()),
                    "must be an ISO 8601 date-time",
                );
                None
            }
        },
        Some(other) => {
            f.fail(
                "scheduled_at",
                ErrorCode::Invalid,
                show(other),
                "must be an ISO 8601 date-time",
            );
            None
        }
    };
    f.finish()?;
    Ok(BroadcastInput {
        message,
        link_preview,
        sender_id,
        audience: Audience { include, exclude },
        scheduled_at,
    })
}

/// One stored broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// Id.
    pub id: i64,
    /// Who created it.
    pub creator_id: i64,
    /// Who it is sent as (the creator or one of their bots).
    pub sender_id: i64,
    /// The text, mentions resolved.
    pub content: String,
    /// Button rows as JSON.
    pub buttons_json: Option<String>,
    /// Attached files.
    pub files: Vec<FileInput>,
    /// Bot display name override.
    pub display_name: Option<String>,
    /// Bot avatar override.
    pub display_avatar_url: Option<String>,
    /// Link previews.
    pub link_preview: bool,
    /// Whom it reaches.
    pub audience: Audience,
    /// `scheduled`, `queued`, `sending`, `sent`, `cancelled`, `recalling`, `recalled`.
    pub state: String,
    /// When it is due.
    pub scheduled_at: Option<String>,
    /// Recipients (an estimate until the audience is frozen).
    pub recipients_count: i64,
    /// Messages stored so far.
    pub delivered_count: i64,
    /// Body hash of the create request (idempotent retries).
    pub request_sha256: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// When delivery started.
    pub started_at: Option<String>,
    /// When delivery (or the recall) finished.
    pub finished_at: Option<String>,
    /// When it was cancelled.
    pub cancelled_at: Option<String>,
    /// When it was recalled.
    pub recalled_at: Option<String>,
}

const COLUMNS: &str = "id, creator_id, sender_id, content, buttons_json, files_json, display_name, \
     display_avatar_url, link_preview, audience_json, state, scheduled_at, recipients_count, delivered_count, \
     request_sha256, created_at, started_at, finished_at, cancelled_at, recalled_at";

fn file_json(f: &FileInput) -> Json {
    json!({
        "key": f.key, "name": f.name, "file_type": f.file_type, "size": f.size,
        "width": f.width, "height": f.height, "duration_ms": f.duration_ms, "waveform": f.waveform,
    })
}

fn file_from(v: &Json) -> FileInput {
    FileInput {
        key: v["key"].as_str().unwrap_or_default().to_owned(),
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        file_type: v["file_type"].as_str().unwrap_or("file").to_owned(),
        size: v["size"].as_i64().unwrap_or(0),
        width: v["width"].as_i64(),
        height: v["height"].as_i64(),
        duration_ms: v["duration_ms"].as_i64(),
        waveform: v["waveform"].as_str().map(str::to_owned),
    }
}

fn broadcast_row(r: &Row) -> Result<Broadcast> {
    let files: Json = serde_json::from_str(&r.string(5)?)
        .map_err(|e| Error::Internal(format!("bad files_json: {e}")))?;
    let audience: Json = serde_json::from_str(&r.string(9)?)
        .map_err(|e| Error::Internal(format!("bad audience_json: {e}")))?;
    Ok(Broadcast {
        id: r.i64(0)?,
        creator_id: r.i64(1)?,
        sender_id: r.i64(2)?,
        content: r.string(3)?,
        buttons_json: r.opt_string(4)?,
        files: files
            .as_array()
            .map(|a| a.iter().map(file_from).collect())
            .unwrap_or_default(),
        display_name: r.opt_string(6)?,
        display_avatar_url: r.opt_string(7)?,
        link_preview: r.bool(8)?,
        audience: Audience::from_json(&audience),
        state: r.string(10)?,
        scheduled_at: r.opt_string(11)?,
        recipients_count: r.i64(12)?,
        delivered_count: r.i64(13)?,
        request_sha256: r.opt_string(14)?,
        created_at: r.string(15)?,
        started_at: r.opt_string(16)?,
        finished_at: r.opt_string(17)?,
        cancelled_at: r.opt_string(18)?,
        recalled_at: r.opt_string(19)?,
    })
}

/// A broadcast by id, whoever made it.
pub fn load(db: &dyn Db, id: i64) -> Result<Option<Broadcast>> {
    db.query_row(
        &format!("SELECT {COLUMNS} FROM broadcasts WHERE id = ?"),
        &[id.into()],
    )?
    .map(|r| broadcast_row(&r))
    .transpose()
}

/// Who may see and manage a broadcast: its creator, its sender (a bot
/// acting itself), and the workspace's owner and admins.
fn may_manage(p: &Principal, b: &Broadcast) -> bool {
    p.user_id == b.creator_id || p.user_id == b.sender_id || p.is_manager()
}

/// A broadcast `p` may see; 404 otherwise.
pub fn visible(db: &dyn Db, p: &Principal, id: i64) -> Result<Broadcast> {
    load(db, id)?
        .filter(|b| may_manage(p, b))
        .ok_or_else(|| Error::not_found("id", id))
}

/// The `Broadcast` of our OpenAPI; `read_count` is how many recipients
/// have read it.
pub fn render(b: &Broadcast, read_count: i64) -> Json {
    let buttons = b
        .buttons_json
        .as_deref()
        .and_then(|s| serde_json::from_str::<Json>(s).ok());
    let mut v = json!({
        "id": b.id,
        "state": b.state,
        "creator_id": b.creator_id,
        "sender_id": b.sender_id,
        "content": b.content,
        "buttons": buttons,
        "files": b.files.iter().map(file_json).collect::<Vec<_>>(),
        "display_name": b.display_name,
        "display_avatar_url": b.display_avatar_url,
        "link_preview": b.link_preview,
        "scheduled_at": b.scheduled_at,
        "recipients_count": b.recipients_count,
        "delivered_count": b.delivered_count,
        "read_count": read_count,
        "created_at": b.created_at,
        "started_at": b.started_at,
        "finished_at": b.finished_at,
        "cancelled_at": b.cancelled_at,
        "recalled_at": b.recalled_at,
    });
    let audience = b.audience.to_json();
    v["audience"] = audience["audience"].clone();
    v["exclude"] = audience["exclude"].clone();
    v
}

/// How many recipients of each of `ids` have read it.
fn read_counts(db: &dyn Db, ids: &[i64]) -> Result<std::collections::HashMap<i64, i64>> {
    let mut out = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for r in db.query(
        "SELECT broadcast_id, count(read_at) FROM broadcast_recipients \
         WHERE broadcast_id IN (SELECT value FROM json_each(?)) GROUP BY broadcast_id",
        &[Value::id_array(ids)],
    )? {
        out.insert(r.i64(0)?, r.i64(1)?);
    }
    Ok(out)
}

/// A broadcast rendered with its read count.
pub fn render_one(db: &dyn Db, b: &Broadcast) -> Result<Json> {
    let reads = read_counts(db, &[b.id])?;
    Ok(render(b, reads.get(&b.id).copied().unwrap_or(0)))
}

/// The sender: the caller, or a bot given as `sender_id` that the caller
/// is, or may edit (`guides/bots-access.md`: its creator, or who its
/// `can_edit` names). 422 `not_found` for anything but a live bot, 403 for
/// a bot the caller may not act as.
fn sender(db: &dyn Db, p: &Principal, sender_id: Option<i64>) -> Result<i64> {
    let Some(id) = sender_id.filter(|id| *id != p.user_id) else {
        return Ok(p.user_id);
    };
    let bot = crate::webhooks::bots::load(db, id)?.ok_or_else(|| {
        Error::invalid(
            "sender_id",
            ErrorCode::NotFound,
            Some(id.to_string()),
            "No such bot",
        )
    })?;
    if !crate::webhooks::bots::can_edit(db, p, &bot)? {
        return Err(Error::forbidden(
            "sender_id",
            ErrorCode::Forbidden,
            "You may not send as this bot",
        ));
    }
    Ok(id)
}

/// The hash an idempotent retry is compared by: SHA-256 of the body's
/// canonical JSON (keys sorted, whitespace dropped).
pub fn request_hash(body: &Json) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// An `Idempotency-Key` header: 1–[`IDEMPOTENCY_KEY_MAX`] visible characters.
pub fn parse_idempotency_key(raw: Option<&str>) -> Result<Option<String>> {
    let Some(raw) = raw else { return Ok(None) };
    let key = raw.trim();
    if key.is_empty() || key.chars().count() > IDEMPOTENCY_KEY_MAX {
        return Err(Error::bad_request(
            "Idempotency-Key",
            ErrorCode::Invalid,
            Some(raw.to_owned()),
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

fn replay(db: &dyn Db, p: &Principal, key: &str, hash: &str) -> Result<Option<Broadcast>> {
    let Some(r) = db.query_row(
        &format!("SELECT {COLUMNS} FROM broadcasts WHERE creator_id = ? AND idempotency_key = ?"),
        &[p.user_id.into(), key.into()],
    )?
    else {
        return Ok(None);
    };
    let b = broadcast_row(&r)?;
    if b.request_sha256.as_deref() != Some(hash) {
        return Err(Error::Conflict(FieldError::new(
            "Idempotency-Key",
            ErrorCode::AlreadyExists,
            Some(key.to_owned()),
            format!(
                "This Idempotency-Key was used for broadcast {} with another body",
                b.id
            ),
        )));
    }
    Ok(Some(b))
}

/// What `POST /broadcasts` did: created one, or found the one an earlier
/// request with the same `Idempotency-Key` and body created.
#[derive(Debug)]
pub enum Created {
    /// A new broadcast (to be delivered after the response unless scheduled).
    New(Broadcast),
    /// The broadcast of an earlier identical request.
    Replayed(Broadcast),
}

/// `POST /broadcasts`: checks everything (the ids of the audience, the
/// sender, the files' keys as `POST /messages` does), resolves mentions,
/// and stores the broadcast with its audience frozen, or, when scheduled,
/// with the number it would reach now. 422 when the audience names nobody.
pub fn create(
    db: &dyn Db,
    p: &Principal,
    input: &BroadcastInput,
    idempotency: Option<(&str, &str)>,
) -> Result<Created> {
    if let Some((key, hash)) = idempotency {
        if let Some(b) = replay(db, p, key, hash)? {
            return Ok(Created::Replayed(b));
        }
    }
    let sender_id = sender(db, p, input.sender_id)?;
    input.audience.check_ids(db)?;
    let (content, _) = crate::messages::resolve_mentions(db, &input.message.content)?;
    let files = Json::from(
        input
            .message
            .files
            .iter()
            .map(file_json)
            .collect::<Vec<_>>(),
    );
    let now = time::now().to_string();
    let scheduled = input.scheduled_at.map(|t| t.to_string());
    let estimate = if scheduled.is_some() {
        input.audience.count(db, sender_id)?
    } else {
        0
    };
    let created = transaction(db, |db| -> Result<i64> {
        let id = db
            .query_row(
                "INSERT INTO broadcasts (creator_id, sender_id, content, buttons_json, files_json, display_name, \
                 display_avatar_url, link_preview, audience_json, idempotency_key, request_sha256, state, \
                 scheduled_at, recipients_count, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                &[
                    p.user_id.into(),
                    sender_id.into(),
                    content.as_str().into(),
                    input.message.buttons.as_ref().map(Json::to_string).into(),
                    files.to_string().into(),
                    input.message.display_name.clone().into(),
                    input.message.display_avatar_url.clone().into(),
                    input.link_preview.into(),
                    input.audience.to_json().to_string().into(),
                    idempotency.map(|(k, _)| k.to_owned()).into(),
                    idempotency.map(|(_, h)| h.to_owned()).into(),
                    if scheduled.is_some() { "scheduled" } else { "queued" }.into(),
                    scheduled.clone().into(),
                    estimate.into(),
                    now.into(),
                ],
            )?
            .ok_or_else(|| Error::Internal("INSERT returned no row".into()))?
            .i64(0)?;
        if scheduled.is_none() {
            let n = input.audience.freeze(db, id, sender_id)?;
            if n == 0 {
                return Err(nobody());
            }
            db.execute(
                "UPDATE broadcasts SET recipients_count = ? WHERE id = ?",
                &[n.into(), id.into()],
            )?;
        } else if estimate == 0 {
            return Err(nobody());
        }
        Ok(id)
    });
    let id = match created {
        Ok(id) => id,
        // A concurrent retry with the same key got there first.
        Err(Error::Db(e)) if e.is_unique_violation() => {
            if let Some((key, hash)) = idempotency {
                if let Some(b) = replay(db, p, key, hash)? {
                    return Ok(Created::Replayed(b));
                }
            }
            return Err(Error::Db(e));
        }
        Err(e) => return Err(e),
    };
    load(db, id)?
        .map(Created::New)
        .ok_or_else(|| Error::Internal("the new broadcast is missing".into()))
}

fn nobody() -> Error {
    Error::invalid(
        "audience",
        ErrorCode::Blank,
        None,
        "The audience has no recipients (bots, suspended and deleted users and the sender never receive a broadcast)",
    )
}

/// `GET /broadcasts`: the broadcasts `p` may manage, newest first, with
/// their headline numbers.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let (source, params): (&str, Vec<Value>) = if p.is_manager() {
        (
            "SELECT id AS id, id AS k FROM broadcasts WHERE 1 = 1",
            Vec::new(),
        )
    } else {
        (
            "SELECT id AS id, id AS k FROM broadcasts WHERE (creator_id = ? OR sender_id = ?)",
            vec![p.user_id.into(), p.user_id.into()],
        )
    };
    let (ids, meta) = keyset_page(db, source, &params, false, limit, cursor)?;
    let reads = read_counts(db, &ids)?;
    let rows = db.query(
        &format!(
            "SELECT {COLUMNS} FROM broadcasts WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id DESC"
        ),
        &[Value::id_array(&ids)],
    )?;
    let data = rows
        .iter()
        .map(|r| {
            let b = broadcast_row(r)?;
            let read = reads.get(&b.id).copied().unwrap_or(0);
            Ok(render(&b, read))
        })
        .collect::<Result<Vec<Json>>>()?;
    Ok((data, meta))
}

/// `POST /broadcasts/{id}/cancel`: a scheduled, queued or sending broadcast
/// stops; what was delivered stays. 422 `not_applicable` otherwise.
pub fn cancel(db: &dyn Db, p: &Principal, id: i64) -> Result<Broadcast> {
    visible(db, p, id)?;
    let now = time::now().to_string();
    let changed = db.execute(
        "UPDATE broadcasts SET state = 'cancelled', cancelled_at = ?, lease_token = NULL, lease_until = NULL \
         WHERE id = ? AND state IN ('scheduled', 'queued', 'sending') RETURNING id",
        &[now.into(), id.into()],
    )?;
    let b = visible(db, p, id)?;
    if changed.is_empty() {
        return Err(Error::invalid(
            "id",
            ErrorCode::NotApplicable,
            Some(id.to_string()),
            &format!("A {} broadcast cannot be cancelled", b.state),
        ));
    }
    Ok(b)
}

/// `POST /broadcasts/{id}/recall`: stops delivery and deletes every message
/// it stored, as `DELETE /messages/{id}` does (in batches, after the
/// response; state `recalling` until done, then `recalled`). Recalling a
/// recalled broadcast changes nothing; a scheduled one is cancelled instead.
pub fn recall(db: &dyn Db, p: &Principal, id: i64) -> Result<Broadcast> {
    let b = visible(db, p, id)?;
    if b.state == "scheduled" {
        return Err(Error::invalid(
            "id",
            ErrorCode::NotApplicable,
            Some(id.to_string()),
            "A scheduled broadcast has sent nothing: cancel it",
        ));
    }
    let now = time::now().to_string();
    db.execute(
        "UPDATE broadcasts SET state = 'recalling', recalled_at = ?, cursor_id = 0, lease_token = NULL, \
         lease_until = NULL WHERE id = ? AND state IN ('queued', 'sending', 'sent', 'cancelled')",
        &[now.into(), id.into()],
    )?;
    visible(db, p, id)
}
