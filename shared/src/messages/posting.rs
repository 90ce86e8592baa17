//! `POST /messages`: the target chat, thread or personal chat, mentions,
//! files, and the row written in one transaction.
//!
//! Everything that only reads (the target, the posting rule, the replied-to
//! message, mentions) runs before the transaction, so the write lock, which
//! every other writer queues for, covers the writes alone: on Spin, where
//! each statement is a trip to a blocking thread, this is what keeps
//! sending fast under many writers. A membership or archive change that
//! lands between the check and the insert is ordered before the check, as
//! if the message had been sent a moment earlier; a personal chat met for
//! the first time is created in its own short transaction.

use crate::auth::Principal;
use crate::chats::members;
use crate::chats::threads::{self as thread_chats};
use crate::chats::{self};
use crate::messages::input::{FileInput, Mention, NewMessage};
use crate::platform::db::{rows_source, transaction, write_alone, Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::outbox;
use crate::platform::time;
use serde_json::Value as Json;
use std::collections::HashMap;

use super::*;

/// Resolves mentions: `<@id>` becomes `@nickname`; returns the new text and
/// the live users mentioned either way.
pub fn resolve_mentions(db: &dyn Db, content: &str) -> Result<(String, Vec<i64>)> {
    let mentions = input::find_mentions(content);
    if mentions.is_empty() {
        return Ok((content.to_owned(), Vec::new()));
    }
    let mut by_id: HashMap<i64, String> = HashMap::new();
    let mut ids = Vec::new();
    for m in &mentions {
        let row = match m {
            Mention::Id(id) => db.query_row(
                "SELECT id, nickname FROM users WHERE id = ? AND deleted_at IS NULL",
                &[(*id).into()],
            )?,
            Mention::Nickname(n) => db.query_row(
                "SELECT id, nickname FROM users WHERE nickname = ? COLLATE NOCASE AND deleted_at IS NULL",
                &[n.as_str().into()],
            )?,
        };
        if let Some(r) = row {
            let id = r.i64(0)?;
            by_id.insert(id, r.string(1)?);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let text = input::rewrite_mentions(content, &|id| by_id.get(&id).cloned());
    Ok((text, ids))
}

pub(super) fn insert_files(db: &dyn Db, message_id: i64, files: &[FileInput]) -> Result<()> {
    attach_files(db, &[message_id], files)
}

/// Attaches the same `files` to each of `message_ids` (a broadcast's batch
/// shares one upload), in one statement; an uploaded image's width and
/// height are taken from its bytes when the client gave none. Call inside
/// a transaction.
pub fn attach_files(db: &dyn Db, message_ids: &[i64], files: &[FileInput]) -> Result<()> {
    if files.is_empty() || message_ids.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(message_ids.len() * files.len());
    for id in message_ids {
        for f in files {
            rows.push(serde_json::json!([
                rows.len(),
                id,
                f.key,
                f.name,
                f.file_type,
                f.size,
                f.width,
                f.height,
                f.duration_ms,
                f.waveform
            ]));
        }
    }
    let source = rows_source(&[
        "n",
        "message_id",
        "file_key",
        "name",
        "file_type",
        "size",
        "width",
        "height",
        "duration_ms",
        "waveform",
    ]);
    db.execute(
        &format!(
            "INSERT INTO message_files (message_id, file_key, name, file_type, size, width, height, duration_ms, waveform) \
             SELECT message_id, file_key, name, file_type, size, \
             coalesce(width, (SELECT i.width FROM file_images i WHERE i.file_key = x.file_key)), \
             coalesce(height, (SELECT i.height FROM file_images i WHERE i.file_key = x.file_key)), \
             duration_ms, waveform FROM {source} AS x ORDER BY n"
        ),
        &[Value::rows(rows)],
    )?;
    Ok(())
}

/// Where and as what a new message lands.
struct Target {
    access: ChatAccess,
    entity_type: &'static str,
    entity_id: i64,
    root_chat_id: i64,
}

fn resolve_target(db: &dyn Db, p: &Principal, input: &NewMessage) -> Result<Target> {
    let chat_id = match input.entity_type.as_str() {
        "user" => {
            let uid = input.entity_id;
            crate::users::load(db, uid, "entity_id")?;
            chats::find_or_create_personal_chat(db, p.user_id, uid, false)?
        }
        "thread" => {
            thread_chats::load(db, input.entity_id)?
                .ok_or_else(|| Error::not_found("entity_id", input.entity_id))?
                .chat_id
        }
        _ => input.entity_id,
    };
    let access = readable_chat(db, p, chat_id, "entity_id")?;
    let (entity_type, entity_id, root_chat_id) = if let Some(t) = &access.thread {
        ("thread", t.id, t.message_chat_id.unwrap_or(chat_id))
    } else if access.chat.personal {
        let other = members::member_ids(db, chat_id)?
            .into_iter()
            .find(|u| *u != p.user_id)
            .unwrap_or(p.user_id);
        ("user", other, chat_id)
    } else {
        ("discussion", chat_id, chat_id)
    };
    Ok(Target {
        access,
        entity_type,
        entity_id,
        root_chat_id,
    })
}

pub(super) fn forbid(message: &str) -> Error {
    Error::forbidden("chat", ErrorCode::Forbidden, message)
}

/// `POST /messages`: posts into a chat, a thread or a personal chat (created
/// on first use). `NotFound` on `entity_id` when the target does not exist
/// or is invisible (the route answers it as 422, the status the spec
/// documents), 403 when the caller may not post there (channel
/// subscribers, non-members, archived chats).
pub fn create(db: &dyn Db, p: &Principal, input: &NewMessage, origin: &str) -> Result<Json> {
    let target = resolve_target(db, p, input)?;
    let a = &target.access;
    if !a.can_post() {
        return Err(forbid(if a.archived() {
            "The chat is archived"
        } else if a.chat.channel && a.member.is_some() {
            "Only the channel's owner, admins and editors can post in it"
        } else {
            "Only members of the chat can post in it"
        }));
    }
    if let Some(pid) = input.parent_message_id {
        let ok = load(db, pid)?.is_some_and(|m| m.chat_id == a.chat.id);
        if !ok {
            return Err(Error::invalid(
                "parent_message_id",
                ErrorCode::NotFound,
                Some(pid.to_string()),
                "Message not found in this chat",
            ));
        }
    }
    let (content, mentioned) = resolve_mentions(db, &input.content)?;
    let joining = match &a.thread {
        Some(_) if !input.skip_invite_mentions => {
            let mut joining = vec![p.user_id];
            joining.extend(mentioned_people(db, &mentioned)?);
            joining
        }
        Some(_) => vec![p.user_id],
        None => Vec::new(),
    };
    let chat_id = a.chat.id;
    let row = Insert {
        chat_id,
        root_chat_id: target.root_chat_id,
        entity_type: target.entity_type,
        entity_id: target.entity_id,
        user_id: p.user_id,
        content: &content,
        buttons: input.buttons.as_ref().map(Json::to_string),
        parent_message_id: input.parent_message_id,
        display_name: input.display_name.clone(),
        display_avatar_url: input.display_avatar_url.clone(),
        link_preview: input.link_preview,
        system: false,
    };
    let alone = input.files.is_empty() && a.thread.is_none() && !outbox::listening(db);
    let m = if alone {
        // The insert is the whole change (its triggers record the event,
        // the author's read position and the chat's last message time).
        write_alone(db, |db| insert(db, &row))?
    } else {
        transaction(db, |db| -> Result<MessageRow> {
            // Who joins a thread by posting (or being mentioned) joins
            // before the message, so bots learn of it in that order.
            if let Some(t) = &a.thread {
                thread_chats::touch(db, t.id, &time::now().to_string())?;
                let added = members::insert_direct(db, chat_id, &joining)?;
                members::member_event(
                    db,
                    Some(p.user_id),
                    chat_id,
                    "add",
                    &added,
                    true,
                    "mention",
                )?;
            }
            let m = insert(db, &row)?;
            insert_files(db, m.id, &input.files)?;
            announce_new(db, &m)?;
            Ok(m)
        })?
    };
    if input.files.is_empty() {
        // A new message has no thread yet, and without files nothing about
        // it needs reading back.
        Ok(render::render_row(
            &m,
            p.bot,
            Vec::new(),
            None,
            None,
            origin,
        ))
    } else {
        render_one(db, m.id, origin)
    }
}

/// Mentioned users who may be invited into a thread: people, not bots (bots
/// join threads by mention only when public, which we do not model).
fn mentioned_people(db: &dyn Db, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    db.query(
        "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?)) AND bot = 0 AND deleted_at IS NULL",
        &[Value::id_array(ids)],
    )?
    .iter()
    .map(|r| r.i64(0).map_err(Error::from))
    .collect()
}
