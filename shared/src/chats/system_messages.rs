//! System messages: the line a chat shows when people join, leave, are
//! added or removed. Posted inside the transaction of the change; they do
//! not move the chat's `last_message_at` and are not indexed for search.

use crate::chats::threads::{self as thread_chats};
use crate::chats::{self};
use crate::platform::db::{Db, Value};
use crate::platform::error::{Error, Result};

use crate::chats::message_rows::{announce_new, insert, Insert};

fn nicknames(db: &dyn Db, ids: &[i64]) -> Result<Vec<String>> {
    db.query(
        "SELECT nickname FROM users WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        &[Value::id_array(ids)],
    )?
    .iter()
    .map(|r| r.string(0).map(|n| format!("@{n}")).map_err(Error::from))
    .collect()
}

/// Posts the system message announcing a membership change (`add` or
/// `remove` of `user_ids`, by `actor`), unless `silent`. Called by
/// [`crate::chats::members::member_event`] inside the transaction of the change.
/// System messages do not move the chat's `last_message_at`.
pub fn on_member_change(
    db: &dyn Db,
    actor: Option<i64>,
    chat_id: i64,
    event: &str,
    user_ids: &[i64],
    silent: bool,
) -> Result<()> {
    if silent || user_ids.is_empty() || !matches!(event, "add" | "remove") {
        return Ok(());
    }
    let Some(chat) = chats::load(db, chat_id)? else {
        return Ok(());
    };
    let Some(&first) = user_ids.first() else {
        return Ok(());
    };
    let author = actor.unwrap_or(first);
    let who = nicknames(db, user_ids)?.join(", ");
    let by = nicknames(db, &[author])?.join("");
    let self_only = user_ids == [author];
    let content = match (event, self_only) {
        ("add", true) => format!("{by} joined the chat"),
        ("add", false) => format!("{by} added {who}"),
        (_, true) => format!("{by} left the chat"),
        _ => format!("{by} removed {who}"),
    };
    let thread = thread_chats::by_chat(db, chat_id)?;
    let (entity_type, entity_id, root) = match &thread {
        Some(t) => ("thread", t.id, t.message_chat_id.unwrap_or(chat_id)),
        None if chat.personal => ("user", author, chat_id),
        None => ("discussion", chat_id, chat_id),
    };
    let m = insert(
        db,
        &Insert {
            chat_id,
            root_chat_id: root,
            entity_type,
            entity_id,
            user_id: author,
            content: &content,
            buttons: None,
            parent_message_id: None,
            display_name: None,
            display_avatar_url: None,
            link_preview: false,
            system: true,
        },
    )?;
    announce_new(db, &m)
}
