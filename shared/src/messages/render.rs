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

/// Renders messages (spec `Message`) in the order of `ids`; `origin` (e.g.
/// `https://chat.example.com`) prefixes the stored link paths.
pub fn render_many(db: &dyn Db, ids: &[i64], origin: &str) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = Value::id_array(ids);
    // The messages with their author's bot flag, their thread (one per
    // message) and whether they have files: the files are read only when
    // some message has any.
    let mut rows: HashMap<i64, (MessageRow, bool)> = HashMap::new();
    let mut thread_of: HashMap<i64, Json> = HashMap::new();
    let mut with_files = false;
    for r in db.query(
        &format!(
            "SELECT {}, u.bot, t.id, t.chat_id, \
                    EXISTS (SELECT 1 FROM message_files f WHERE f.message_id = m.id) \
             FROM messages m JOIN users u ON u.id = m.user_id \
             LEFT JOIN threads t ON t.message_id = m.id \
             WHERE m.id IN (SELECT value FROM json_each(?))",
            COLUMNS
                .split(", ")
                .map(|c| format!("m.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        std::slice::from_ref(&list),
    )? {
        let m = message_row(&r)?;
        let bot = r.bool(17)?;
        if let Some(thread) = r.opt_i64(18)? {
            thread_of.insert(m.id, json!({"id": thread, "chat_id": r.i64(19)?}));
        }
        with_files |= r.bool(20)?;
        rows.insert(m.id, (m, bot));
    }
    let mut files: HashMap<i64, Vec<Json>> = HashMap::new();
    let mut voices: HashMap<i64, Json> = HashMap::new();
    if with_files {
        for r in db.query(
            "SELECT message_id, id, file_key, name, file_type, size, width, height, duration_ms, waveform \
             FROM message_files WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            &[list],
        )? {
            let (mid, file, voice) = render_file(&r, origin)?;
            files.entry(mid).or_default().push(file);
            if let Some(v) = voice {
                voices.entry(mid).or_insert(v);
            }
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((m, bot)) = rows.get(id) else {
            continue;
        };
        out.push(render_row(
            m,
            *bot,
            files.remove(id).unwrap_or_default(),
            voices.remove(id),
            thread_of.remove(id),
            origin,
        ));
    }
    Ok(out)
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
