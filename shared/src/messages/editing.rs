//! Changing a posted message: edit, delete (keeping a tombstone) and pin.

use crate::auth::Principal;
use crate::messages::input::MessageUpdate;
use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time;
use serde_json::Value as Json;

use super::*;

pub(super) fn message_deleted(id: i64) -> Error {
    Error::invalid(
        "id",
        ErrorCode::MessageDeleted,
        Some(id.to_string()),
        "The message is deleted",
    )
}

/// `PUT /messages/{id}`: the author edits text, files, buttons and (bots)
/// display fields. 403 for anyone else or in an archived chat, 422
/// `message_deleted` for a tombstone.
pub fn update(
    db: &dyn Db,
    p: &Principal,
    id: i64,
    upd: &MessageUpdate,
    origin: &str,
) -> Result<Json> {
    transaction(db, |db| -> Result<()> {
        let m = readable(db, p, id)?;
        if m.user_id != p.user_id || m.system {
            return Err(Error::forbidden(
                "id",
                ErrorCode::Forbidden,
                "Only the author can edit a message",
            ));
        }
        if m.deleted_at.is_some() {
            return Err(message_deleted(id));
        }
        if chat_access(db, p, m.chat_id)?.is_some_and(|a| a.archived()) {
            return Err(forbid("The chat is archived"));
        }
        let mut sets: Vec<&str> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(c) = &upd.content {
            let (text, _) = resolve_mentions(db, c)?;
            sets.push("content = ?");
            params.push(text.into());
        }
        if let Some(b) = &upd.buttons {
            sets.push("buttons_json = ?");
            params.push(b.as_ref().map(Json::to_string).into());
        }
        if let Some(n) = &upd.display_name {
            sets.push("display_name = ?");
            params.push(n.clone().into());
        }
        if let Some(a) = &upd.display_avatar_url {
            sets.push("display_avatar_url = ?");
            params.push(a.clone().into());
        }
        if let Some(files) = &upd.files {
            db.execute(
                "DELETE FROM message_files WHERE message_id = ?",
                &[id.into()],
            )?;
            insert_files(db, id, files)?;
        }
        let blank_text = match &upd.content {
            Some(c) => c.trim().is_empty(),
            None => m.content.trim().is_empty(),
        };
        let no_files = db
            .query_row(
                "SELECT 1 FROM message_files WHERE message_id = ? LIMIT 1",
                &[id.into()],
            )?
            .is_none();
        if blank_text && no_files {
            return Err(Error::invalid(
                "content",
                ErrorCode::Blank,
                None,
                "can't be blank",
            ));
        }
        sets.push("changed_at = ?");
        params.push(time::now().to_string().into());
        params.push(id.into());
        db.execute(
            &format!("UPDATE messages SET {} WHERE id = ?", sets.join(", ")),
            &params,
        )?;
        message_event(db, p.user_id, &m, "update")
    })?;
    render_one(db, id, origin)
}

/// `DELETE /messages/{id}`: the author, or the chat's owner/admins/editors.
/// Leaves a tombstone; deleting a tombstone again changes nothing.
pub fn delete(db: &dyn Db, p: &Principal, id: i64) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let m = readable(db, p, id)?;
        if m.deleted_at.is_some() {
            return Ok(());
        }
        let a = chat_access(db, p, m.chat_id)?.ok_or_else(|| Error::not_found("id", id))?;
        if m.user_id != p.user_id && !a.moderates() {
            return Err(Error::forbidden(
                "id",
                ErrorCode::Forbidden,
                "Only the author, admins and editors of the chat can delete this message",
            ));
        }
        if a.archived() {
            return Err(forbid("The chat is archived"));
        }
        let now = time::now().to_string();
        db.execute(
            "UPDATE messages SET deleted_at = ?, changed_at = ?, content = '', buttons_json = NULL, \
             pinned_at = NULL, pinned_by = NULL WHERE id = ?",
            &[now.clone().into(), now.into(), id.into()],
        )?;
        db.execute(
            "DELETE FROM message_files WHERE message_id = ?",
            &[id.into()],
        )?;
        message_event(db, p.user_id, &m, "delete")
    })
}

/// `POST/DELETE /messages/{id}/pin`: any member of the message's chat
/// (idempotent). 422 `message_deleted` for a tombstone, 403 for
/// non-members and archived chats.
pub fn set_pinned(db: &dyn Db, p: &Principal, id: i64, pinned: bool) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let m = readable(db, p, id)?;
        if m.deleted_at.is_some() {
            return Err(message_deleted(id));
        }
        let a = chat_access(db, p, m.chat_id)?.ok_or_else(|| Error::not_found("id", id))?;
        if !a.participates() {
            return Err(forbid("Only members of the chat can pin messages"));
        }
        if a.archived() {
            return Err(forbid("The chat is archived"));
        }
        if m.pinned_at.is_some() == pinned {
            return Ok(());
        }
        let now = time::now().to_string();
        db.execute(
            "UPDATE messages SET pinned_at = ?, pinned_by = ? WHERE id = ?",
            &[
                pinned.then_some(now).into(),
                pinned.then_some(p.user_id).into(),
                id.into(),
            ],
        )?;
        message_event(db, p.user_id, &m, if pinned { "pin" } else { "unpin" })
    })
}
