//! Rendering `Message` objects of the spec: files, buttons, threads and
//! forwarded fields, for one message or a page in one query (two when some
//! message has files).

use crate::auth::Principal;
use crate::platform::db::{Db, Row, Value};
use crate::platform::error::{Error, Result};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

use super::*;

fn render_file(r: &Row, origin: &str) -> Result<(i64, Json, Option<Json>)> {
    let key = r.string(2)?;
    let file_type = r.string(4)?;
    let voice = (file_type == "voice").then(|| -> Result<Json> {
        Ok(json!({
            "duration_ms": r.opt_i64(8)?,
            "waveform": r.opt_string(9)?.unwrap_or_default(),
            "transcript": null,
        }))
    });
    let file = json!({
        "id": r.i64(1)?,
        "key": key,
        "name": r.string(3)?,
        "file_type": file_type,
        "url": format!("{origin}/{key}"),
        "width": r.opt_i64(6)?,
        "height": r.opt_i64(7)?,
    });
    Ok((r.i64(0)?, file, voice.transpose()?))
}

/// What a rendered message is read with, as a `SELECT` list over
/// [`RENDER_FROM`]: the message's [`COLUMNS`] (so [`message_row`] reads the
/// row as it is), then its author's bot flag, its thread's id and chat, and
/// whether it has files. The thread's columns are renamed so that a query
/// wrapping this one (a keyset page) sees one `id` and one `chat_id`.
pub(super) fn render_columns() -> String {
    format!(
        "{}, u.bot, t.id AS thread_id, t.chat_id AS thread_chat_id, \
         EXISTS (SELECT 1 FROM message_files f WHERE f.message_id = m.id) AS has_files",
        COLUMNS
            .split(", ")
            .map(|c| format!("m.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The tables [`render_columns`] reads, `m` being the message.
pub(super) const RENDER_FROM: &str =
    "FROM messages m JOIN users u ON u.id = m.user_id LEFT JOIN threads t ON t.message_id = m.id";

/// Index of the bot flag in a [`render_columns`] row, after the message's
/// columns; the thread's id, its chat and the files flag follow.
const BOT_COLUMN: usize = crate::platform::db::column_count(COLUMNS);

/// Renders messages (spec `Message`) in the order of `ids`; `origin` (e.g.
/// `https://chat.example.com`) prefixes the stored link paths.
pub fn render_many(db: &dyn Db, ids: &[i64], origin: &str) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_id: HashMap<i64, Row> = HashMap::new();
    for r in db.query(
        &format!(
            "SELECT {} {RENDER_FROM} WHERE m.id IN (SELECT value FROM json_each(?))",
            render_columns()
        ),
        &[Value::id_array(ids)],
    )? {
        by_id.insert(r.i64(0)?, r);
    }
    let rows: Vec<Row> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    render_rows(db, &rows, origin)
}

/// Renders [`render_columns`] rows in their order, reading the files of
/// those that have any in one more query.
pub(super) fn render_rows(db: &dyn Db, rows: &[Row], origin: &str) -> Result<Vec<Json>> {
    let mut read = Vec::with_capacity(rows.len());
    let mut with_files = Vec::new();
    for r in rows {
        let m = message_row(r)?;
        let bot = r.bool(BOT_COLUMN)?;
        let thread = match r.opt_i64(BOT_COLUMN + 1)? {
            Some(thread) => Some(json!({"id": thread, "chat_id": r.i64(BOT_COLUMN + 2)?})),
            None => None,
        };
        if r.bool(BOT_COLUMN + 3)? {
            with_files.push(m.id);
        }
        read.push((m, bot, thread));
    }
    let mut files: HashMap<i64, Vec<Json>> = HashMap::new();
    let mut voices: HashMap<i64, Json> = HashMap::new();
    if !with_files.is_empty() {
        for r in db.query(
            "SELECT message_id, id, file_key, name, file_type, size, width, height, duration_ms, waveform \
             FROM message_files WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            &[Value::id_array(&with_files)],
        )? {
            let (mid, file, voice) = render_file(&r, origin)?;
            files.entry(mid).or_default().push(file);
            if let Some(v) = voice {
                voices.entry(mid).or_insert(v);
            }
        }
    }
    Ok(read
        .into_iter()
        .map(|(m, bot, thread)| {
            let id = m.id;
            render_row(
                &m,
                bot,
                files.remove(&id).unwrap_or_default(),
                voices.remove(&id),
                thread,
                origin,
            )
        })
        .collect())
}

/// One `Message` from its row and what [`render_many`] reads beside it:
/// whether the author is a bot (bots' display fields are shown), its files,
/// voice content and thread.
pub(super) fn render_row(
    m: &MessageRow,
    bot: bool,
    files: Vec<Json>,
    voice: Option<Json>,
    thread: Option<Json>,
    origin: &str,
) -> Json {
    let buttons = m
        .buttons_json
        .as_deref()
        .and_then(|b| serde_json::from_str::<Json>(b).ok());
    let mut v = json!({
        "id": m.id,
        "entity_type": m.entity_type,
        "entity_id": m.entity_id,
        "chat_id": m.chat_id,
        "root_chat_id": m.root_chat_id,
        "content": m.content,
        "user_id": m.user_id,
        "created_at": m.created_at,
        "url": format!("{origin}{}", m.url),
        "files": files,
        "voice_content": voice,
        "buttons": buttons,
        "thread": thread,
        "forwarding": null,
        "parent_message_id": m.parent_message_id,
        "changed_at": m.changed_at,
        "deleted_at": m.deleted_at,
    });
    if bot {
        v["display_name"] = json!(m.display_name);
        v["display_avatar_url"] = json!(m.display_avatar_url);
    }
    v
}

pub(super) fn render_one(db: &dyn Db, id: i64, origin: &str) -> Result<Json> {
    render_many(db, &[id], origin)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

/// `GET /messages/{id}`: the message (tombstones included) if the caller reads it.
pub fn get(db: &dyn Db, p: &Principal, id: i64, origin: &str) -> Result<Json> {
    readable(db, p, id)?;
    render_one(db, id, origin)
}
