//! Reading a chat, the caller's membership and the checks every chat
//! operation starts with; rendering `Chat` objects of the spec.

use crate::auth::Principal;
use crate::chats::threads::{self, ThreadRow};
use crate::chats::visibility::{self as vis, MemberRole, Membership};
use crate::platform::db::{Db, Rider, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

/// One stored chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Creator.
    pub owner_id: i64,
    /// Channel (only owner/admins/editors post) rather than a discussion.
    pub channel: bool,
    /// Open: visible to every employee.
    pub public: bool,
    /// Personal one-to-one chat.
    pub personal: bool,
    /// Archived.
    pub archived: bool,
    /// Video room slug (rendered in `meet_room_url`).
    pub meet_room_slug: String,
    /// Time of the last message (creation time until the first message).
    pub last_message_at: String,
    /// Creation time.
    pub created_at: String,
}

const CHAT_COLUMNS: &str =
    "id, name, owner_id, channel, public, personal, archived, meet_room_slug, last_message_at, created_at";

fn chat_row(r: &Row) -> Result<ChatRow> {
    Ok(ChatRow {
        id: r.i64(0)?,
        name: r.string(1)?,
        owner_id: r.i64(2)?,
        channel: r.bool(3)?,
        public: r.bool(4)?,
        personal: r.bool(5)?,
        archived: r.bool(6)?,
        meet_room_slug: r.string(7)?,
        last_message_at: r.string(8)?,
        created_at: r.string(9)?,
    })
}

/// Loads a chat regardless of visibility.
pub fn load(db: &dyn Db, id: i64) -> Result<Option<ChatRow>> {
    db.query_row(
        &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?"),
        &[id.into()],
    )?
    .map(|r| chat_row(&r))
    .transpose()
}

/// A user's membership in a chat, if any.
pub fn membership(db: &dyn Db, chat_id: i64, user_id: i64) -> Result<Option<Membership>> {
    db.query_row(
        "SELECT role, direct FROM chat_members WHERE chat_id = ? AND user_id = ?",
        &[chat_id.into(), user_id.into()],
    )?
    .map(|r| membership_row(&r, 0))
    .transpose()
}

/// A membership from `role, direct` at `at` in a row.
fn membership_row(r: &Row, at: usize) -> Result<Membership> {
    let role = MemberRole::parse(&r.string(at)?).ok_or(Error::Internal("bad chat role".into()))?;
    Ok(Membership {
        role,
        direct: r.bool(at + 1)?,
    })
}

/// A chat with a user's membership in it and, for a thread chat, its thread.
#[derive(Debug, Clone)]
pub struct Standing {
    /// The chat.
    pub chat: ChatRow,
    /// The user's membership in it.
    pub member: Option<Membership>,
    /// The thread whose chat this is.
    pub thread: Option<ThreadRow>,
}

/// What deciding whether a user may read or post in a chat needs, in one
/// query (three lookups otherwise, on the path of every message read and
/// sent); `None` when the chat does not exist. When the request's
/// connection opened with a [`standing_rider`] for this chat and user, its
/// row is used (once) and nothing is queried.
pub fn standing(db: &dyn Db, chat_id: i64, user_id: i64) -> Result<Option<Standing>> {
    if let Some(r) = prefetched_standing(db, chat_id, user_id) {
        return standing_from_row(&r);
    }
    match db.query_row(
        &format!(
            "SELECT {} FROM chats c \
             LEFT JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ? \
             LEFT JOIN threads t ON t.chat_id = c.id WHERE c.id = ?",
            standing_columns("c", "m", "t").join(", "),
        ),
        &[user_id.into(), chat_id.into()],
    )? {
        Some(r) => standing_from_row(&r),
        None => Ok(None),
    }
}

/// The columns [`standing_from_row`] reads, with the chat, the membership
/// and the thread under the table aliases given.
fn standing_columns(chat: &str, member: &str, thread: &str) -> Vec<String> {
    CHAT_COLUMNS
        .split(", ")
        .map(|c| format!("{chat}.{c}"))
        .chain([format!("{member}.role"), format!("{member}.direct")])
        .chain(
            threads::qualified_columns(thread)
                .split(", ")
                .map(str::to_owned),
        )
        .collect()
}

/// A [`Standing`] from its columns: the chat's, `role, direct`, then the
/// thread's; `None` when the chat's id is `NULL` (a rider that found no chat).
fn standing_from_row(r: &Row) -> Result<Option<Standing>> {
    if r.opt_i64(0)?.is_none() {
        return Ok(None);
    }
    let at = crate::platform::db::column_count(CHAT_COLUMNS);
    let member = match r.opt_string(at)? {
        Some(_) => Some(membership_row(r, at)?),
        None => None,
    };
    let thread = match r.opt_i64(at + 2)? {
        Some(_) => Some(threads::thread_row_at(r, at + 2)?),
        None => None,
    };
    Ok(Some(Standing {
        chat: chat_row(r)?,
        member,
        thread,
    }))
}

/// Whose membership a [`standing_rider`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandingUser {
    /// A user known before the request runs (the admin token's owner).
    Id(i64),
    /// The user of the personal token that [`crate::auth::token_rider`]
    /// looks up in the same statement (its table alias `t`); the rider must
    /// come after that one.
    TokenUser,
}

/// The key a [`standing_rider`] is taken back under.
fn standing_key(chat_id: i64) -> String {
    format!("standing:{chat_id}")
}

/// A [`Rider`] that reads [`standing`] of `chat_id` for `user` with the
/// connection's setup, for a request whose first check is that standing
/// (`GET /messages`, `POST /messages`): on Spin that is one statement less.
pub fn standing_rider(chat_id: i64, user: StandingUser) -> Rider {
    // The standing's columns, then the user the membership is read for.
    let columns = |user: &str| {
        let mut columns = standing_columns("sc", "sm", "st");
        columns.push(user.to_owned());
        columns
    };
    match user {
        StandingUser::Id(id) => Rider {
            key: standing_key(chat_id),
            columns: columns("su.uid"),
            joins: "LEFT JOIN (SELECT ? AS uid) su ON 1 = 1 \
                    LEFT JOIN chats sc ON sc.id = ? \
                    LEFT JOIN chat_members sm ON sm.chat_id = sc.id AND sm.user_id = su.uid \
                    LEFT JOIN threads st ON st.chat_id = sc.id",
            params: vec![id.into(), chat_id.into()],
        },
        StandingUser::TokenUser => Rider {
            key: standing_key(chat_id),
            columns: columns("t.user_id"),
            joins: "LEFT JOIN chats sc ON sc.id = ? \
                    LEFT JOIN chat_members sm ON sm.chat_id = sc.id AND sm.user_id = t.user_id \
                    LEFT JOIN threads st ON st.chat_id = sc.id",
            params: vec![chat_id.into()],
        },
    }
}

/// The row a [`standing_rider`] read for `chat_id` ([`Db::prefetched`]),
/// if it was read for `user_id` (its last column).
fn prefetched_standing(db: &dyn Db, chat_id: i64, user_id: i64) -> Option<Row> {
    let row = db.prefetched(&standing_key(chat_id))?;
    (row.0.last() == Some(&Value::Integer(user_id))).then_some(row)
}

/// The chat as seen by `p` with `p`'s membership; 404 on `id` when it does
/// not exist or `p` does not see it. A thread chat is also seen by whoever
/// sees its parent chat ([`crate::messages::threads`]).
pub fn visible(db: &dyn Db, p: &Principal, id: i64) -> Result<(ChatRow, Option<Membership>)> {
    let chat = load(db, id)?.ok_or_else(|| Error::not_found("id", id))?;
    let m = membership(db, id, p.user_id)?;
    if vis::can_see(p, &chat, m.as_ref()) || crate::chats::threads::sees_thread_chat(db, p, id)? {
        Ok((chat, m))
    } else {
        Err(Error::not_found("id", id))
    }
}

/// 403 unless `m` is the chat's creator or admin.
pub fn require_manager(m: Option<&Membership>) -> Result<()> {
    if vis::can_manage(m) {
        Ok(())
    } else {
        Err(Error::forbidden(
            "chat",
            ErrorCode::Forbidden,
            "Only the chat's creator or an admin of the chat can do this",
        ))
    }
}

/// 403 when the chat is archived (settings and membership are frozen).
pub fn require_active(chat: &ChatRow) -> Result<()> {
    if chat.archived {
        Err(Error::forbidden(
            "chat",
            ErrorCode::Forbidden,
            "The chat is archived; unarchive it first",
        ))
    } else {
        Ok(())
    }
}

/// 422 `personal_chat` for operations that do not apply to personal chats.
pub fn require_group(chat: &ChatRow) -> Result<()> {
    if chat.personal {
        Err(Error::invalid(
            "id",
            ErrorCode::PersonalChat,
            Some(chat.id.to_string()),
            "Not applicable to a personal chat",
        ))
    } else {
        Ok(())
    }
}

fn split_ids(s: Option<String>) -> Vec<i64> {
    let mut v: Vec<i64> = s
        .unwrap_or_default()
        .split(',')
        .filter_map(|x| x.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// Renders chats (spec `Chat`) in the order of `ids`.
pub fn render_many(db: &dyn Db, ids: &[i64]) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = Value::id_array(ids);
    let mut rows: HashMap<i64, ChatRow> = HashMap::new();
    for r in db.query(
        &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id IN (SELECT value FROM json_each(?))"),
        std::slice::from_ref(&list),
    )? {
        let c = chat_row(&r)?;
        rows.insert(c.id, c);
    }
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in db.query(
        "SELECT chat_id, group_concat(user_id) FROM chat_members \
         WHERE chat_id IN (SELECT value FROM json_each(?)) GROUP BY chat_id",
        std::slice::from_ref(&list),
    )? {
        members.insert(r.i64(0)?, split_ids(r.opt_string(1)?));
    }
    let mut tags: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in db.query(
        "SELECT chat_id, group_concat(group_tag_id) FROM chat_group_tags \
         WHERE chat_id IN (SELECT value FROM json_each(?)) GROUP BY chat_id",
        &[list],
    )? {
        tags.insert(r.i64(0)?, split_ids(r.opt_string(1)?));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(c) = rows.get(id) else { continue };
        out.push(json!({
            "id": c.id,
            "name": c.name,
            "created_at": c.created_at,
            "owner_id": c.owner_id,
            "member_ids": members.remove(id).unwrap_or_default(),
            "group_tag_ids": tags.remove(id).unwrap_or_default(),
            "channel": c.channel,
            "archived": c.archived,
            "personal": c.personal,
            "public": c.public,
            "last_message_at": c.last_message_at,
            "meet_room_url": format!("/meet/{}", c.meet_room_slug),
        }));
    }
    Ok(out)
}

pub(super) fn render_one(db: &dyn Db, id: i64) -> Result<Json> {
    render_many(db, &[id])?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

/// `GET /chats/{id}`: the chat if `p` sees it, else 404.
pub fn get(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    visible(db, p, id)?;
    render_one(db, id)
}
