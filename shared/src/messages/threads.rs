//! Threads (`POST /messages/{id}/thread`, `POST /threads`, `GET /threads`,
//! `GET /threads/{id}`) and cross-thread access.
//!
//! A thread is a chat of its own (a `chats` row, never public, never
//! personal) plus a `threads` row linking it to its root message, or to
//! nothing for a standalone thread. Who may read a thread chat:
//! * its own members — including people who are not in the parent chat
//!   ("cross threads": they see the thread and its root message only, never
//!   the parent chat's other messages);
//! * whoever sees the parent chat (members, and every employee for an open
//!   parent).
//!
//! Who may post in it: its members and the parent chat's members of any role
//! (a channel subscriber may comment in the channel's threads); nobody when
//! the thread or its parent chat is archived.

use crate::auth::Principal;
use crate::chats::members;
use crate::chats::threads::{
    by_chat, by_message, can_read, load, qualified_columns, render, thread_row_at, ThreadRow,
};
use crate::chats::visibility as vis;
use crate::chats::{self};
use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::http::Query;
use crate::platform::pagination::{self, Cursor};
use crate::platform::random;
use crate::platform::time::{self, Timestamp};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as Json};

fn random_slug() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random::bytes::<9>()?))
}

fn thread_name(content: Option<&str>) -> String {
    let text = content.map(str::trim).filter(|s| !s.is_empty());
    match text {
        Some(t) => t.chars().take(chats::NAME_MAX).collect(),
        None => "Thread".to_owned(),
    }
}

/// Inserts the thread chat and the thread row; `members` join silently.
/// Call inside a transaction.
fn insert_thread(
    db: &dyn Db,
    p: &Principal,
    name: &str,
    root: Option<(i64, i64)>,
    members: &[i64],
) -> Result<ThreadRow> {
    let now = time::now().to_string();
    db.execute(
        "INSERT INTO chats (name, search_name, owner_id, channel, public, personal, archived, personal_key, \
         meet_room_slug, last_message_at, created_at, updated_at) VALUES (?, ?, ?, 0, 0, 0, 0, NULL, ?, ?, ?, ?)",
        &[
            name.into(),
            name.to_lowercase().into(),
            p.user_id.into(),
            random_slug()?.into(),
            now.clone().into(),
            now.clone().into(),
            now.clone().into(),
        ],
    )?;
    let chat_id = db.last_insert_rowid();
    db.execute(
        "INSERT INTO threads (chat_id, message_id, message_chat_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        &[
            chat_id.into(),
            root.map(|r| r.0).into(),
            root.map(|r| r.1).into(),
            now.clone().into(),
            now.into(),
        ],
    )?;
    let id = db.last_insert_rowid();
    let added = members::insert_direct(db, chat_id, members)?;
    members::member_event(db, Some(p.user_id), chat_id, "add", &added, true, "thread")?;
    events::record(
        db,
        &Event {
            kind: events::THREAD,
            event: "new",
            entity_type: "Thread",
            entity_id: id,
            actor: Some(p.user_id),
            payload: json!({
                "thread_id": id,
                "chat_id": chat_id,
                "message_id": root.map(|r| r.0),
                "message_chat_id": root.map(|r| r.1),
            }),
        },
    )?;
    load(db, id)?.ok_or_else(|| Error::Internal("thread vanished".into()))
}

/// `POST /messages/{id}/thread`: the message's thread, created on first use
/// (idempotent). 404 for a deleted or invisible message, 400 `thread_message`
/// for a message that is itself in a thread, 403 for a non-member or an
/// archived chat.
pub fn create_for_message(db: &dyn Db, p: &Principal, message_id: i64) -> Result<Json> {
    let t = transaction(db, |db| -> Result<ThreadRow> {
        let m = crate::messages::readable(db, p, message_id)?;
        if m.deleted_at.is_some() {
            return Err(Error::not_found("id", message_id));
        }
        if let Some(t) = by_message(db, message_id)? {
            return Ok(t);
        }
        if by_chat(db, m.chat_id)?.is_some() {
            return Err(Error::bad_request(
                "id",
                ErrorCode::ThreadMessage,
                Some(message_id.to_string()),
                "Cannot create a thread for a message that is already in a thread",
            ));
        }
        let chat = chats::load(db, m.chat_id)?.ok_or_else(|| Error::not_found("id", message_id))?;
        let member = chats::membership(db, m.chat_id, p.user_id)?;
        if member.is_none() {
            return Err(Error::forbidden(
                "chat",
                ErrorCode::Forbidden,
                "Only members of the chat can create threads",
            ));
        }
        chats::require_active(&chat)?;
        let mut members = vec![p.user_id];
        if m.user_id != p.user_id && !m.system {
            members.push(m.user_id);
        }
        insert_thread(
            db,
            p,
            &thread_name(Some(&m.content)),
            Some((message_id, m.chat_id)),
            &members,
        )
    })?;
    Ok(render(&t))
}

/// `POST /threads`: a standalone thread whose only member is its creator.
pub fn create_standalone(db: &dyn Db, p: &Principal) -> Result<Json> {
    if vis::viewer_kind(p) == vis::ViewerKind::Guest {
        return Err(Error::forbidden(
            "thread",
            ErrorCode::Forbidden,
            "Guests cannot create threads",
        ));
    }
    let t = transaction(db, |db| {
        insert_thread(db, p, &thread_name(None), None, &[p.user_id])
    })?;
    Ok(render(&t))
}

/// `GET /threads/{id}`: 404 unless `p` may read the thread.
pub fn get(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    let t = load(db, id)?.ok_or_else(|| Error::not_found("id", id))?;
    if !can_read(db, p, &t)? {
        return Err(Error::not_found("id", id));
    }
    Ok(render(&t))
}

/// Parameters of `GET /threads`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// `updated_at >=`.
    pub after: Option<Timestamp>,
    /// `updated_at <=`.
    pub before: Option<Timestamp>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
}

/// Reads the query of `GET /threads`.
pub fn parse_list_params(q: &Query, max: i64) -> Result<ListParams> {
    Ok(ListParams {
        after: crate::platform::params::query_time(q, "last_message_at_after")?,
        before: crate::platform::params::query_time(q, "last_message_at_before")?,
        limit: pagination::parse_limit(q.get("limit"), max, max)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
    })
}

/// `GET /threads`: threads whose chat `p` is a member of, or whose parent
/// chat `p` is a member of (open chats `p` is not in do not count), newest
/// activity first.
pub fn list(db: &dyn Db, p: &Principal, lp: &ListParams) -> Result<(Vec<Json>, Json)> {
    let mut filters = vec![
        "(EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = t.chat_id AND m.user_id = ?) \
          OR EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = t.message_chat_id AND m.user_id = ?))"
            .to_owned(),
    ];
    let mut params: Vec<Value> = vec![p.user_id.into(), p.user_id.into()];
    if let Some(a) = lp.after {
        filters.push("t.updated_at >= ?".into());
        params.push(a.to_string().into());
    }
    if let Some(b) = lp.before {
        filters.push("t.updated_at <= ?".into());
        params.push(b.to_string().into());
    }
    // The page is read with the threads' columns, in one statement.
    let source = format!(
        "SELECT {}, t.updated_at AS k FROM threads t WHERE {}",
        qualified_columns("t"),
        filters.join(" AND ")
    );
    let (rows, meta) =
        pagination::keyset_page_rows(db, &source, &params, false, lp.limit, lp.cursor.as_ref())?;
    let out = rows
        .iter()
        .map(|r| thread_row_at(r, 0).map(|t| render(&t)))
        .collect::<Result<Vec<_>>>()?;
    Ok((out, meta))
}
