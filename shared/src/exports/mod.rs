//! Chat exports (`POST /chats/exports`, `GET /chats/exports/{id}`,
//! `guides/export.md`), for the workspace owner (scopes `chat_exports:*`).
//!
//! A request is checked and stored, answered 204, and built after the
//! response in the same invocation ([`crate::platform::outbox::defer`]):
//! one folder per chat (`{name}_{id}`, the name's characters other than
//! letters, digits and `-` turned into `_`) holding one JSON file per UTC
//! day of messages, plus `chats.json` unless `skip_chats_file`, zipped
//! (deflate) and kept as a stored file of the requester. Then the
//! `webhook_url` gets `{"type": "export", "event": "ready", "export_id",
//! "created_at"}` (one attempt, 10 s). `GET /chats/exports/{id}` answers
//! 302 to a signed link valid for ten minutes
//! ([`crate::files::signed_link`]).
//!
//! What is exported (the guide's rules): every chat, archived ones
//! included; thread comments in their chat's folder with their `thread`;
//! personal chats with each message's author and time but no content and
//! no threads; no attachments and no system messages (joins, leaves).
//! Deleted messages appear with `deleted_at` and no content. The archive is
//! built in memory: an export is bounded by the component's memory (a
//! period of at most 45 days, or 366 days for at most 50 named chats, as
//! the guide allows).

pub mod routes;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;

use crate::auth::Principal;
use crate::platform::db::{transaction, Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time::{self, Timestamp, DAY_MS};
use crate::platform::validate::{self, show, Fields};
use crate::webhooks::delivery::{self, OutgoingWebhook, Transport};
use serde_json::{json, Value as Json};

/// The longest period of an export of every chat, in days.
pub const PERIOD_MAX_DAYS: i64 = 45;
/// The longest period of an export of named chats, in days.
pub const PERIOD_MAX_DAYS_NAMED: i64 = 366;
/// The most chats an export may name.
pub const CHATS_MAX: usize = 50;

/// A validated `ExportRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportInput {
    /// First day (UTC midnight).
    pub start: Timestamp,
    /// Last day (UTC midnight), included.
    pub end: Timestamp,
    /// Where to announce the archive.
    pub webhook_url: String,
    /// Only these chats (all when empty).
    pub chat_ids: Vec<i64>,
    /// No `chats.json`.
    pub skip_chats_file: bool,
}

fn date(f: &mut Fields<'_>, obj: &serde_json::Map<String, Json>, key: &str) -> Option<Timestamp> {
    match obj.get(key) {
        None | Some(Json::Null) => {
            f.fail(key, ErrorCode::Blank, None, "can't be blank");
            None
        }
        Some(Json::String(s)) if s.len() == 10 => match Timestamp::parse(s) {
            Some(t) => Some(t),
            None => {
                f.fail(
                    key,
                    ErrorCode::Invalid,
                    Some(s.clone()),
                    "must be a date YYYY-MM-DD",
                );
                None
            }
        },
        Some(other) => {
            f.fail(
                key,
                ErrorCode::Invalid,
                show(other),
                "must be a date YYYY-MM-DD",
            );
            None
        }
    }
}

/// Validates an `ExportRequest` (a root object, not wrapped): dates
/// `YYYY-MM-DD`, `end_at` not before `start_at` and the period within
/// [`PERIOD_MAX_DAYS`] (or [`PERIOD_MAX_DAYS_NAMED`] with `chat_ids`,
/// at most [`CHATS_MAX`] of them), `invalid_date_range` otherwise; an
/// `http(s)` `webhook_url` (`invalid_webhook_url`).
pub fn parse(body: &Json) -> Result<ExportInput> {
    let obj = validate::object(body)?;
    let mut f = Fields::new(obj, "");
    let start = date(&mut f, obj, "start_at");
    let end = date(&mut f, obj, "end_at");
    let webhook_url = f.required_string("webhook_url", Some(2048));
    if let Some(url) = &webhook_url {
        if !crate::webhooks::settings::url_ok(url) {
            f.fail(
                "webhook_url",
                ErrorCode::InvalidWebhookUrl,
                Some(url.clone()),
                "must be an http or https URL",
            );
        }
    }
    if obj.get("chat_ids").is_some_and(Json::is_null) {
        f.fail("chat_ids", ErrorCode::Invalid, None, "must be an array");
    }
    let mut chat_ids = f.int_array("chat_ids").unwrap_or_default();
    chat_ids.sort_unstable();
    chat_ids.dedup();
    if chat_ids.len() > CHATS_MAX {
        f.fail(
            "chat_ids",
            ErrorCode::TooLong,
            None,
            &format!("at most {CHATS_MAX} chats"),
        );
    }
    let skip_chats_file = f.bool("skip_chats_file").unwrap_or(false);
    if let (Some(s), Some(e)) = (start, end) {
        let max = if chat_ids.is_empty() {
            PERIOD_MAX_DAYS
        } else {
            PERIOD_MAX_DAYS_NAMED
        };
        let days = (e.0 - s.0) / DAY_MS + 1;
        if e < s || days > max {
            f.fail(
                "end_at",
                ErrorCode::InvalidDateRange,
                obj.get("end_at").and_then(show),
                &format!("the period must run forward and last at most {max} days"),
            );
        }
    }
    f.finish()?;
    Ok(ExportInput {
        start: start.unwrap_or(Timestamp(0)),
        end: end.unwrap_or(Timestamp(0)),
        webhook_url: webhook_url.unwrap_or_default(),
        chat_ids,
        skip_chats_file,
    })
}

/// `POST /chats/exports`: stores the request and has it built after the
/// response. 422 `not_found` on `chat_ids` for a chat that does not exist,
/// `already_exists` while another export is being prepared.
pub fn request(db: &dyn Db, p: &Principal, input: &ExportInput) -> Result<i64> {
    transaction(db, |db| -> Result<i64> {
        if let Some(r) = db.query_row(
            "SELECT value FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = j.value) LIMIT 1",
            &[Value::id_array(&input.chat_ids)],
        )? {
            return Err(Error::invalid(
                "chat_ids",
                ErrorCode::NotFound,
                Some(r.i64(0)?.to_string()),
                "Chat not found",
            ));
        }
        if let Some(r) = db.query_row(
            "SELECT id FROM chat_exports WHERE state = 'preparing' LIMIT 1",
            &[],
        )? {
            return Err(Error::invalid(
                "export",
                ErrorCode::AlreadyExists,
                Some(r.i64(0)?.to_string()),
                "An export is being prepared: request the next one when it is ready",
            ));
        }
        let id = db
            .query_row(
                "INSERT INTO chat_exports (user_id, start_at, end_at, chat_ids_json, skip_chats_file, webhook_url, \
                 state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'preparing', ?) RETURNING id",
                &[
                    p.user_id.into(),
                    input.start.to_string().into(),
                    input.end.to_string().into(),
                    (!input.chat_ids.is_empty())
                        .then(|| json!(input.chat_ids).to_string())
                        .into(),
                    input.skip_chats_file.into(),
                    input.webhook_url.as_str().into(),
                    time::now().to_string().into(),
                ],
            )?
            .ok_or_else(|| Error::Internal("INSERT returned no row".into()))?
            .i64(0)?;
        Ok(id)
    })
}

/// The rows of `sql` grouped by their first column (an id), each read by
/// `item`, in the query's order.
fn grouped<T>(
    db: &dyn Db,
    sql: &str,
    params: &[Value],
    item: impl Fn(&Row) -> Result<T>,
) -> Result<HashMap<i64, Vec<T>>> {
    let mut out: HashMap<i64, Vec<T>> = HashMap::new();
    for r in db.query(sql, params)? {
        out.entry(r.i64(0)?).or_default().push(item(&r)?);
    }
    Ok(out)
}

/// A person as the archive shows them.
fn person(r: &Row, tags: &HashMap<i64, Vec<String>>) -> Result<(i64, Json)> {
    let id = r.i64(0)?;
    Ok((
        id,
        json!({
            "id": id,
            "role": if r.bool(4)? { "bot" } else { "member" },
            "name": r.opt_string(1)?.unwrap_or_default(),
            "last_name": r.opt_string(2)?.unwrap_or_default(),
            "email": r.opt_string(3)?.unwrap_or_default(),
            "tags": tags.get(&id).cloned().unwrap_or_default(),
        }),
    ))
}

/// A folder's name: the chat's name with characters other than letters,
/// digits and `-` as `_`, then `_` and its id.
pub fn folder(name: &str, id: i64) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{clean}_{id}")
}

/// The archive of export `id`: `(file name, bytes)` in name order.
pub fn files(db: &dyn Db, id: i64) -> Result<Vec<(String, Vec<u8>)>> {
    let e = db
        .query_row(
            "SELECT start_at, end_at, chat_ids_json, skip_chats_file FROM chat_exports WHERE id = ?",
            &[id.into()],
        )?
        .ok_or_else(|| Error::not_found("id", id))?;
    let start = e.string(0)?;
    let end = Timestamp::parse(&e.string(1)?)
        .map(|t| Timestamp(t.0 + DAY_MS).to_string())
        .unwrap_or_default();
    let named: Option<Vec<i64>> = e.opt_string(2)?.and_then(|s| serde_json::from_str(&s).ok());
    let skip_chats_file = e.bool(3)?;
    let (scope, mut params): (&str, Vec<Value>) = match &named {
        Some(ids) => (
            " AND m.root_chat_id IN (SELECT value FROM json_each(?))",
            vec![Value::id_array(ids)],
        ),
        None => ("", Vec::new()),
    };
    let mut range = vec![start.clone().into(), end.clone().into()];
    range.append(&mut params);
    let messages = db.query(
        &format!(
            "SELECT m.id, m.created_at, m.deleted_at, m.content, m.user_id, m.root_chat_id, \
             (SELECT t.id FROM threads t WHERE t.message_id = m.id), th.id, th.message_id, th.message_chat_id, \
             rc.personal \
             FROM messages m JOIN chats rc ON rc.id = m.root_chat_id LEFT JOIN threads th ON th.chat_id = m.chat_id \
             AND m.chat_id <> m.root_chat_id \
             WHERE m.system = 0 AND m.created_at >= ? AND m.created_at < ?{scope} ORDER BY m.root_chat_id, m.id"
        ),
        &range,
    )?;
    let mut reactions = grouped(
        db,
        &format!(
            "SELECT x.message_id, x.user_id, x.created_at, x.code FROM reactions x JOIN messages m ON m.id = x.message_id \
             WHERE m.system = 0 AND m.created_at >= ? AND m.created_at < ?{scope} ORDER BY x.id"
        ),
        &range,
        |r| Ok(json!({"user_id": r.i64(1)?, "created_at": r.string(2)?, "code": r.string(3)?})),
    )?;
    let mut chat_ids: Vec<i64> = messages
        .iter()
        .map(|m| m.i64(5))
        .collect::<Result<_, _>>()?;
    chat_ids.extend(named.iter().flatten());
    chat_ids.sort_unstable();
    chat_ids.dedup();
    let chat_list = Value::id_array(&chat_ids);
    let chats = db.query(
        "SELECT id, name, personal, owner_id, created_at, updated_at FROM chats \
         WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        std::slice::from_ref(&chat_list),
    )?;
    let chat_tags = grouped(
        db,
        "SELECT ct.chat_id, g.name FROM chat_group_tags ct JOIN group_tags g ON g.id = ct.group_tag_id \
         WHERE ct.chat_id IN (SELECT value FROM json_each(?)) ORDER BY g.name",
        std::slice::from_ref(&chat_list),
        |r| Ok(r.string(1)?),
    )?;
    let mut user_ids: Vec<i64> = messages
        .iter()
        .map(|m| m.i64(4))
        .collect::<Result<_, _>>()?;
    for c in &chats {
        user_ids.push(c.i64(3)?);
    }
    user_ids.sort_unstable();
    user_ids.dedup();
    let user_list = Value::id_array(&user_ids);
    let user_tags = grouped(
        db,
        "SELECT gu.user_id, g.name FROM group_tag_users gu JOIN group_tags g ON g.id = gu.group_tag_id \
         WHERE gu.user_id IN (SELECT value FROM json_each(?)) ORDER BY g.name",
        std::slice::from_ref(&user_list),
        |r| Ok(r.string(1)?),
    )?;
    let mut people: HashMap<i64, Json> = HashMap::new();
    for r in db.query(
        "SELECT id, first_name, last_name, email, bot FROM users WHERE id IN (SELECT value FROM json_each(?))",
        &[user_list],
    )? {
        let (id, v) = person(&r, &user_tags)?;
        people.insert(id, v);
    }
    let mut chat_json: HashMap<i64, (String, bool, Json)> = HashMap::new();
    for c in &chats {
        let (id, name, personal, owner) = (c.i64(0)?, c.string(1)?, c.bool(2)?, c.i64(3)?);
        chat_json.insert(
            id,
            (
                folder(&name, id),
                personal,
                json!({
                    "id": id,
                    "name": name,
                    "personal": personal,
                    "owner": people.get(&owner).cloned().unwrap_or(Json::Null),
                    "tags": chat_tags.get(&id).cloned().unwrap_or_default(),
                }),
            ),
        );
    }
    let mut out: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for m in &messages {
        let (mid, chat) = (m.i64(0)?, m.i64(5)?);
        let Some((dir, personal, chat_obj)) = chat_json.get(&chat) else {
            continue;
        };
        let in_thread = m.opt_i64(7)?.is_some();
        if *personal && in_thread {
            continue;
        }
        let created = m.string(1)?;
        let deleted = m.opt_string(2)?;
        let content = if *personal || deleted.is_some() {
            String::new()
        } else {
            m.string(3)?
        };
        let thread = match m.opt_i64(7)? {
            Some(t) => json!({
                "id": t,
                "message_id": m.opt_i64(8)?,
                "message_chat_id": m.opt_i64(9)?.map(|c| c.to_string()),
            }),
            None => Json::Null,
        };
        let day = created.get(..10).unwrap_or_default();
        out.entry(format!("{dir}/{day}.json"))
            .or_default()
            .push(json!({
                "id": mid,
                "created_at": created,
                "deleted_at": deleted,
                "content": content,
                "thread_id": if *personal { None } else { m.opt_i64(6)? },
                "reactions": reactions.remove(&mid).unwrap_or_default(),
                "user": people.get(&m.i64(4)?).cloned().unwrap_or(Json::Null),
                "chat": chat_obj,
                "thread": thread,
            }));
    }
    let mut files: Vec<(String, Vec<u8>)> = out
        .into_iter()
        .map(|(name, list)| (name, Json::from(list).to_string().into_bytes()))
        .collect();
    if !skip_chats_file {
        let mut members = grouped(
            db,
            "SELECT chat_id, user_id, role FROM chat_members WHERE chat_id IN (SELECT value FROM json_each(?)) \
             ORDER BY chat_id, user_id",
            &[chat_list],
            |r| Ok(json!({"id": r.i64(1)?, "role": r.string(2)?})),
        )?;
        let list: Vec<Json> = chats
            .iter()
            .map(|c| {
                let id = c.i64(0)?;
                Ok(json!({
                    "id": id,
                    "personal": c.bool(2)?,
                    "name": c.string(1)?,
                    "owner_id": c.i64(3)?,
                    "members": members.remove(&id).unwrap_or_default(),
                    "created_at": c.string(4)?,
                    "updated_at": c.string(5)?,
                }))
            })
            .collect::<Result<_>>()?;
        files.push((
            "chats.json".into(),
            Json::from(list).to_string().into_bytes(),
        ));
    }
    Ok(files)
}

/// Zips `files` (deflate).
pub fn zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::Internal(format!("zip: {e}"));
    let mut w = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Deflated);
    for (name, data) in files {
        w.start_file(name.as_str(), options).map_err(|e| fail(&e))?;
        w.write_all(data).map_err(|e| fail(&e))?;
    }
    Ok(w.finish().map_err(|e| fail(&e))?.into_inner())
}

/// Builds export `id`, stores its archive, marks it ready (or failed, with
/// the reason) and announces it to its `webhook_url`. Runs after the
/// response; `transport` sends the announcement (none in native tests).
pub fn build(
    db: &dyn Db,
    id: i64,
    transport: Option<&dyn Transport>,
    allow_private: bool,
) -> Result<()> {
    let now = time::now();
    let row = db
        .query_row(
            "SELECT user_id, webhook_url FROM chat_exports WHERE id = ? AND state = 'preparing'",
            &[id.into()],
        )?
        .ok_or_else(|| Error::not_found("id", id))?;
    let (user, url) = (row.i64(0)?, row.string(1)?);
    let built = files(db, id).and_then(|f| zip(&f));
    let key = format!(
        "attaches/exports/{id}/{}/export-{id}.zip",
        hex::encode(crate::platform::random::bytes::<12>()?)
    );
    let stored = built.and_then(|bytes| {
        transaction(db, |db| -> Result<()> {
            crate::files::store(db, &key, user, &format!("export-{id}.zip"), "application/zip", &bytes, now)?;
            db.execute(
                "UPDATE chat_exports SET state = 'ready', file_key = ?, finished_at = ? WHERE id = ?",
                &[key.as_str().into(), time::now().to_string().into(), id.into()],
            )?;
            Ok(())
        })
    });
    if let Err(e) = stored {
        db.execute(
            "UPDATE chat_exports SET state = 'failed', error = ?, finished_at = ? WHERE id = ?",
            &[
                e.to_string().into(),
                time::now().to_string().into(),
                id.into(),
            ],
        )?;
        return Err(e);
    }
    let body = json!({
        "type": "export",
        "event": "ready",
        "export_id": id,
        "created_at": time::now().to_string(),
    })
    .to_string();
    let status = match (transport, delivery::target_allowed(&url, allow_private)) {
        (None, _) => "not sent (no transport)".to_owned(),
        (_, Err(why)) => format!("refused: {why}"),
        (Some(t), Ok(())) => {
            let hook = OutgoingWebhook {
                delivery_id: 0,
                bot_id: 0,
                url,
                body,
                signature: None,
                failures: 0,
                created: now,
                timeout_ms: delivery::TIMEOUT_MS,
            };
            match t
                .send_all(std::slice::from_ref(&hook))
                .first()
                .map(|a| &a.outcome)
            {
                Some(delivery::Outcome::Status(s)) => s.to_string(),
                Some(delivery::Outcome::Failed(why)) => format!("failed: {why}"),
                None => "failed: no attempt".into(),
            }
        }
    };
    db.execute(
        "UPDATE chat_exports SET webhook_status = ? WHERE id = ?",
        &[status.into(), id.into()],
    )?;
    Ok(())
}

/// `GET /chats/exports/{id}`: where to download the archive (a signed link
/// for ten minutes). 404 `not_found` for an unknown export or another
/// user's, `export_file_not_found` while it is prepared or if it failed.
pub fn download_link(db: &dyn Db, p: &Principal, id: i64, origin: &str) -> Result<String> {
    let row = db
        .query_row(
            "SELECT user_id, state, file_key FROM chat_exports WHERE id = ?",
            &[id.into()],
        )?
        .filter(|r| r.i64(0).is_ok_and(|u| u == p.user_id))
        .ok_or_else(|| Error::not_found("id", id))?;
    let key = row
        .opt_string(2)?
        .filter(|_| row.string(1).is_ok_and(|s| s == "ready"));
    let Some(key) = key else {
        return Err(Error::NotFound(crate::platform::error::FieldError::new(
            "id",
            ErrorCode::ExportFileNotFound,
            Some(id.to_string()),
            "The export is not ready (or failed)",
        )));
    };
    crate::files::signed_link(db, origin, &key)
}
