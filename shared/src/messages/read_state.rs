//! Read state (our extension): `POST /chats/{id}/read` with
//! `{"message_id": N}` marks everything up to N read for the caller
//! (monotonic: an older N changes nothing), `GET /chats/{id}/read_state`
//! gives the caller's position and unread counter. Posting a message moves
//! the author's position to it. `GET /messages/{id}/read_member_ids` reads
//! the same positions.

use crate::auth::Principal;
use crate::messages;
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time;
use crate::platform::validate::{self, Fields};
use serde_json::{json, Value as Json};

/// Validates `{"message_id": N}`.
pub fn parse_mark(body: &Json) -> Result<i64> {
    let obj = validate::object(body)?;
    let mut f = Fields::new(obj, "");
    let id = f.i64("message_id");
    if id.is_none() && !f.has_errors() {
        f.fail("message_id", ErrorCode::Blank, None, "can't be blank");
    }
    f.finish()?;
    id.ok_or_else(|| Error::invalid("message_id", ErrorCode::Blank, None, "can't be blank"))
}

fn state(db: &dyn Db, chat_id: i64, user_id: i64) -> Result<Json> {
    let row = db.query_row(
        "SELECT last_read_message_id, updated_at FROM chat_reads WHERE chat_id = ? AND user_id = ?",
        &[chat_id.into(), user_id.into()],
    )?;
    let (last, at) = match row {
        Some(r) => (Some(r.i64(0)?), Some(r.string(1)?)),
        None => (None, None),
    };
    let unread = db
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE chat_id = ? AND id > ? AND deleted_at IS NULL AND user_id <> ?",
            &[chat_id.into(), last.unwrap_or(0).into(), user_id.into()],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    let last_message_id = db
        .query_row(
            "SELECT MAX(id) FROM messages WHERE chat_id = ? AND deleted_at IS NULL",
            &[chat_id.into()],
        )?
        .map(|r| r.opt_i64(0))
        .transpose()?
        .flatten();
    Ok(json!({
        "chat_id": chat_id,
        "last_read_message_id": last,
        "last_message_id": last_message_id,
        "unread_count": unread,
        "updated_at": at,
    }))
}

/// `POST /chats/{id}/read`: 404 unless the caller reads the chat, 422
/// `not_found` on `message_id` unless it is a message of that chat.
pub fn mark(db: &dyn Db, p: &Principal, chat_id: i64, message_id: i64) -> Result<Json> {
    transaction(db, |db| -> Result<()> {
        messages::readable_chat(db, p, chat_id, "id")?;
        let ok = messages::load(db, message_id)?.is_some_and(|m| m.chat_id == chat_id);
        if !ok {
            return Err(Error::invalid(
                "message_id",
                ErrorCode::NotFound,
                Some(message_id.to_string()),
                "Message not found in this chat",
            ));
        }
        messages::advance_read(db, chat_id, p.user_id, message_id)
    })?;
    state(db, chat_id, p.user_id)
}

/// `GET /chats/{id}/read_state`: the caller's position and unread counter
/// (messages of others after the position, tombstones excluded).
pub fn get(db: &dyn Db, p: &Principal, chat_id: i64) -> Result<Json> {
    messages::readable_chat(db, p, chat_id, "id")?;
    state(db, chat_id, p.user_id)
}

/// Advances `user_id`'s read position in a chat to at least `message_id`.
pub fn advance_read(db: &dyn Db, chat_id: i64, user_id: i64, message_id: i64) -> Result<()> {
    db.execute(
        "INSERT INTO chat_reads (chat_id, user_id, last_read_message_id, updated_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (chat_id, user_id) DO UPDATE SET \
           updated_at = CASE WHEN excluded.last_read_message_id > last_read_message_id THEN excluded.updated_at ELSE updated_at END, \
           last_read_message_id = max(last_read_message_id, excluded.last_read_message_id)",
        &[
            chat_id.into(),
            user_id.into(),
            message_id.into(),
            time::now().to_string().into(),
        ],
    )?;
    Ok(())
}
