//! Thread chats as chats: the `threads` row linking a thread's own chat to
//! its root message, and who sees a thread chat through its parent chat.
//! Creating and listing threads is the messages area's
//! (`crate::messages::threads`); this is what chats need to know of them.

use crate::auth::Principal;
use crate::chats::visibility as vis;
use crate::chats::{self, ChatRow};
use crate::platform::db::{Db, Row};
use crate::platform::error::Result;
use serde_json::{json, Value as Json};

/// One stored thread.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadRow {
    /// Thread id.
    pub id: i64,
    /// The thread's own chat.
    pub chat_id: i64,
    /// Root message (`None` for a standalone thread).
    pub message_id: Option<i64>,
    /// Chat of the root message (`None` for a standalone thread).
    pub message_chat_id: Option<i64>,
    /// Last activity.
    pub updated_at: String,
}

const COLUMNS: &str = "id, chat_id, message_id, message_chat_id, updated_at";

fn thread_row(r: &Row) -> Result<ThreadRow> {
    thread_row_at(r, 0)
}

/// A thread from the columns of [`qualified_columns`] starting at `at`.
pub(crate) fn thread_row_at(r: &Row, at: usize) -> Result<ThreadRow> {
    Ok(ThreadRow {
        id: r.i64(at)?,
        chat_id: r.i64(at + 1)?,
        message_id: r.opt_i64(at + 2)?,
        message_chat_id: r.opt_i64(at + 3)?,
        updated_at: r.string(at + 4)?,
    })
}

/// A thread's columns under the table alias `alias`, for joins.
pub(crate) fn qualified_columns(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn load_where(db: &dyn Db, column: &str, v: i64) -> Result<Option<ThreadRow>> {
    db.query_row(
        &format!("SELECT {COLUMNS} FROM threads WHERE {column} = ?"),
        &[v.into()],
    )?
    .map(|r| thread_row(&r))
    .transpose()
}

/// A thread by id.
pub fn load(db: &dyn Db, id: i64) -> Result<Option<ThreadRow>> {
    load_where(db, "id", id)
}

/// The thread whose chat is `chat_id` (`None` when the chat is not a thread).
pub fn by_chat(db: &dyn Db, chat_id: i64) -> Result<Option<ThreadRow>> {
    load_where(db, "chat_id", chat_id)
}

/// The thread attached to message `message_id`, if any.
pub fn by_message(db: &dyn Db, message_id: i64) -> Result<Option<ThreadRow>> {
    load_where(db, "message_id", message_id)
}

/// Renders the `Thread` schema.
pub fn render(t: &ThreadRow) -> Json {
    json!({
        "id": t.id,
        "chat_id": t.chat_id,
        "message_id": t.message_id,
        "message_chat_id": t.message_chat_id,
        "updated_at": t.updated_at,
    })
}

/// Whether `p` sees the thread chat of `t` through its parent chat.
fn sees_parent(db: &dyn Db, p: &Principal, t: &ThreadRow) -> Result<bool> {
    let Some(parent_id) = t.message_chat_id else {
        return Ok(false);
    };
    let Some(parent) = chats::load(db, parent_id)? else {
        return Ok(false);
    };
    let m = chats::membership(db, parent_id, p.user_id)?;
    Ok(vis::can_see(p, &parent, m.as_ref()))
}

/// Whether `p` may read thread `t`: a member of its chat, or someone who sees
/// the parent chat.
pub fn can_read(db: &dyn Db, p: &Principal, t: &ThreadRow) -> Result<bool> {
    if chats::membership(db, t.chat_id, p.user_id)?.is_some() {
        return Ok(true);
    }
    sees_parent(db, p, t)
}

/// For [`chats::visible`]: whether `chat_id` is a thread chat that `p` sees
/// through the thread's parent chat (members of the thread chat are already
/// covered by the chat matrix).
pub fn sees_thread_chat(db: &dyn Db, p: &Principal, chat_id: i64) -> Result<bool> {
    match by_chat(db, chat_id)? {
        Some(t) => sees_parent(db, p, &t),
        None => Ok(false),
    }
}

/// Records activity in a thread chat (a new comment). Call inside a transaction.
pub fn touch(db: &dyn Db, thread_id: i64, at: &str) -> Result<()> {
    db.execute(
        "UPDATE threads SET updated_at = ? WHERE id = ?",
        &[at.into(), thread_id.into()],
    )?;
    Ok(())
}

/// The parent chat of a thread with the caller's membership there.
pub fn parent(
    db: &dyn Db,
    p: &Principal,
    t: &ThreadRow,
) -> Result<Option<(ChatRow, Option<vis::Membership>)>> {
    let Some(id) = t.message_chat_id else {
        return Ok(None);
    };
    let Some(chat) = chats::load(db, id)? else {
        return Ok(None);
    };
    let m = chats::membership(db, id, p.user_id)?;
    Ok(Some((chat, m)))
}
