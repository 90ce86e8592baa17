//! Who may read, post in and moderate a chat's messages (see the area's
//! module doc for the rules), and the SQL filter of readable messages.

use crate::auth::Principal;
use crate::chats::threads::{self as thread_chats, ThreadRow};
use crate::chats::visibility::{self as vis, MemberRole, Membership};
use crate::chats::{self, ChatRow};
use crate::platform::db::{Db, Value};
use crate::platform::error::{Error, Result};

use super::*;

/// How the caller stands towards one chat, for the messages area.
#[derive(Debug, Clone)]
pub struct ChatAccess {
    /// The chat.
    pub chat: ChatRow,
    /// The caller's membership in it.
    pub member: Option<Membership>,
    /// The thread, when the chat is a thread chat.
    pub thread: Option<ThreadRow>,
    /// The thread's parent chat and the caller's membership there.
    pub parent: Option<(ChatRow, Option<Membership>)>,
    /// Whether the caller reads the chat.
    pub readable: bool,
}

impl ChatAccess {
    /// Whether the caller may post: see the module documentation.
    pub fn can_post(&self) -> bool {
        match (&self.thread, &self.parent) {
            (None, _) => vis::can_post(&self.chat, self.member.as_ref()),
            (Some(_), parent) => {
                let parent_archived = parent.as_ref().is_some_and(|(c, _)| c.archived);
                let parent_member = parent.as_ref().is_some_and(|(_, m)| m.is_some());
                !self.chat.archived && !parent_archived && (self.member.is_some() || parent_member)
            }
        }
    }

    /// Whether the chat (or a thread's parent chat) is archived.
    pub fn archived(&self) -> bool {
        self.chat.archived || self.parent.as_ref().is_some_and(|(c, _)| c.archived)
    }

    /// Whether the caller moderates the chat: owner, admin or editor of it
    /// (or of a thread's parent chat).
    pub fn moderates(&self) -> bool {
        let strong = |m: &Option<Membership>| {
            m.is_some_and(|m| {
                matches!(
                    m.role,
                    MemberRole::Owner | MemberRole::Admin | MemberRole::Editor
                )
            })
        };
        strong(&self.member) || self.parent.as_ref().is_some_and(|(_, m)| strong(m))
    }

    /// Whether the caller takes part in the chat (member of it or, for a
    /// thread, of its parent chat).
    pub fn participates(&self) -> bool {
        self.member.is_some() || self.parent.as_ref().is_some_and(|(_, m)| m.is_some())
    }
}

/// Loads the caller's standing in a chat; `None` when the chat does not exist.
pub fn chat_access(db: &dyn Db, p: &Principal, chat_id: i64) -> Result<Option<ChatAccess>> {
    let Some(chats::Standing {
        chat,
        member,
        thread,
    }) = chats::standing(db, chat_id, p.user_id)?
    else {
        return Ok(None);
    };
    let parent = match &thread {
        Some(t) => thread_chats::parent(db, p, t)?,
        None => None,
    };
    let readable = match &thread {
        None => vis::can_see(p, &chat, member.as_ref()),
        Some(_) => {
            member.is_some()
                || parent
                    .as_ref()
                    .is_some_and(|(c, m)| vis::can_see(p, c, m.as_ref()))
        }
    };
    Ok(Some(ChatAccess {
        chat,
        member,
        thread,
        parent,
        readable,
    }))
}

/// The chat if the caller reads it, else 404 on `key`.
pub fn readable_chat(db: &dyn Db, p: &Principal, chat_id: i64, key: &str) -> Result<ChatAccess> {
    match chat_access(db, p, chat_id)? {
        Some(a) if a.readable => Ok(a),
        _ => Err(Error::not_found(key, chat_id)),
    }
}

/// The message if the caller reads it (tombstones included), else 404 on `id`.
pub fn readable(db: &dyn Db, p: &Principal, id: i64) -> Result<MessageRow> {
    let m = load(db, id)?.ok_or_else(|| Error::not_found("id", id))?;
    if chat_access(db, p, m.chat_id)?.is_some_and(|a| a.readable) {
        return Ok(m);
    }
    if let Some(t) = thread_chats::by_message(db, id)? {
        if chats::membership(db, t.chat_id, p.user_id)?.is_some() {
            return Ok(m);
        }
    }
    Err(Error::not_found("id", id))
}

/// SQL predicate over the message alias `m`: the caller (parameters: the
/// user id 3 times, see [`readable_params`]) reads it. Mirrors [`readable`].
pub fn readable_sql(p: &Principal) -> String {
    let outsider = vis::outsider_sql(p);
    format!(
        "(EXISTS (SELECT 1 FROM chat_members rm WHERE rm.chat_id = m.chat_id AND rm.user_id = ?) \
          OR EXISTS (SELECT 1 FROM chats c WHERE c.id = m.chat_id AND {outsider}) \
          OR EXISTS (SELECT 1 FROM threads t JOIN chats c ON c.id = t.message_chat_id WHERE t.chat_id = m.chat_id \
                     AND (EXISTS (SELECT 1 FROM chat_members pm WHERE pm.chat_id = c.id AND pm.user_id = ?) OR {outsider})) \
          OR EXISTS (SELECT 1 FROM threads t JOIN chat_members tm ON tm.chat_id = t.chat_id \
                     WHERE t.message_id = m.id AND tm.user_id = ?))"
    )
}

/// Parameters for [`readable_sql`].
pub fn readable_params(p: &Principal) -> Vec<Value> {
    vec![p.user_id.into(), p.user_id.into(), p.user_id.into()]
}
