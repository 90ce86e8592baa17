//! Messages (`/messages`, `/messages/{id}`, `/messages/{id}/pin`,
//! `/messages/{id}/read_member_ids`, `/messages/{id}/link_previews`) and
//! the system messages announcing joins and leaves.
//!
//! Access, on top of [`crate::chat_visibility`] and [`crate::threads`]:
//! * **read** a message: whoever reads its chat (a thread chat is read by its
//!   members and by whoever sees the parent chat), plus the members of a
//!   thread attached to it (the root message of a cross thread);
//! * **post**: [`vis::can_post`] in ordinary chats (channels: owner, admins
//!   and editors only), thread rules of [`crate::threads`] in thread chats;
//! * **edit**: the author only; **delete**: the author, or the chat's owner,
//!   admins and editors (both sides of a personal chat are admins);
//! * **pin**: any member of the message's chat; nothing changes in an
//!   archived chat except reading and reactions.
//!
//! Deleting keeps a tombstone: the row stays with `deleted_at`, its text and
//! files are erased, lists skip it and `GET /messages/{id}` still shows it.
//! Every change records a `message` event in its transaction.

use crate::auth::Principal;
use crate::chat_members;
use crate::chat_visibility::{self as vis, MemberRole, Membership};
use crate::chats::{self, ChatRow};
use crate::db::{transaction, Db, Row, Value};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{self, Event};
use crate::message_input::{self, FileInput, Mention, MessageUpdate, NewMessage};
use crate::pagination::{self, Cursor};
use crate::threads::{self, ThreadRow};
use crate::time;
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

/// `limit` bound (and default) of `GET /messages/{id}/read_member_ids`.
pub const READERS_MAX: i64 = 300;

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// Id.
    pub id: i64,
    /// Chat holding the message.
    pub chat_id: i64,
    /// Root chat (the thread's parent chat for thread comments).
    pub root_chat_id: i64,
    /// `discussion`, `thread` or `user`.
    pub entity_type: String,
    /// Chat, thread or user id.
    pub entity_id: i64,
    /// Author.
    pub user_id: i64,
    /// Text.
    pub content: String,
    /// Button rows as JSON, if any.
    pub buttons_json: Option<String>,
    /// Replied-to message.
    pub parent_message_id: Option<i64>,
    /// Bot display name override.
    pub display_name: Option<String>,
    /// Bot avatar override.
    pub display_avatar_url: Option<String>,
    /// Service message (joins, leaves).
    pub system: bool,
    /// Path of the direct link (`/chats/{chat_id}?message={id}`).
    pub url: String,
    /// Pin time.
    pub pinned_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change (creation time until edited).
    pub changed_at: String,
    /// Deletion time (tombstone).
    pub deleted_at: Option<String>,
}

const COLUMNS: &str = "id, chat_id, root_chat_id, entity_type, entity_id, user_id, content, buttons_json, \
     parent_message_id, display_name, display_avatar_url, system, url, pinned_at, created_at, changed_at, deleted_at";

fn message_row(r: &Row) -> Result<MessageRow> {
    Ok(MessageRow {
        id: r.i64(0)?,
        chat_id: r.i64(1)?,
        root_chat_id: r.i64(2)?,
        entity_type: r.string(3)?,
        entity_id: r.i64(4)?,
        user_id: r.i64(5)?,
        content: r.string(6)?,
        buttons_json: r.opt_string(7)?,
        parent_message_id: r.opt_i64(8)?,
        display_name: r.opt_string(9)?,
        display_avatar_url: r.opt_string(10)?,
        system: r.bool(11)?,
        url: r.string(12)?,
        pinned_at: r.opt_string(13)?,
        created_at: r.string(14)?,
        changed_at: r.string(15)?,
        deleted_at: r.opt_string(16)?,
    })
}

/// A message regardless of visibility (tombstones included).
pub fn load(db: &dyn Db, id: i64) -> Result<Option<MessageRow>> {
    db.query_row(
        &format!("SELECT {COLUMNS} FROM messages WHERE id = ?"),
        &[id.into()],
    )?
    .map(|r| message_row(&r))
    .transpose()
}

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
    let Some(chat) = chats::load(db, chat_id)? else {
        return Ok(None);
    };
    let member = chats::membership(db, chat_id, p.user_id)?;
    let thread = threads::by_chat(db, chat_id)?;
    let parent = match &thread {
        Some(t) => threads::parent(db, p, t)?,
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
    if let Some(t) = threads::by_message(db, id)? {
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

fn id_list(ids: &[i64]) -> Result<Value> {
    serde_json::to_string(ids)
        .map(Value::Text)
        .map_err(|e| Error::Internal(e.to_string()))
}

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
    let list = id_list(ids)?;
    let mut rows: HashMap<i64, (MessageRow, bool)> = HashMap::new();
    for r in db.query(
        &format!(
            "SELECT {}, u.bot FROM messages m JOIN users u ON u.id = m.user_id \
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
        rows.insert(m.id, (m, bot));
    }
    let mut files: HashMap<i64, Vec<Json>> = HashMap::new();
    let mut voices: HashMap<i64, Json> = HashMap::new();
    for r in db.query(
        "SELECT message_id, id, file_key, name, file_type, size, width, height, duration_ms, waveform \
         FROM message_files WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        std::slice::from_ref(&list),
    )? {
        let (mid, file, voice) = render_file(&r, origin)?;
        files.entry(mid).or_default().push(file);
        if let Some(v) = voice {
            voices.entry(mid).or_insert(v);
        }
    }
    let mut thread_of: HashMap<i64, Json> = HashMap::new();
    for r in db.query(
        "SELECT message_id, id, chat_id FROM threads WHERE message_id IN (SELECT value FROM json_each(?))",
        &[list],
    )? {
        thread_of.insert(r.i64(0)?, json!({"id": r.i64(1)?, "chat_id": r.i64(2)?}));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((m, bot)) = rows.get(id) else {
            continue;
        };
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
            "files": files.remove(id).unwrap_or_default(),
            "voice_content": voices.remove(id),
            "buttons": buttons,
            "thread": thread_of.remove(id),
            "forwarding": null,
            "parent_message_id": m.parent_message_id,
            "changed_at": m.changed_at,
            "deleted_at": m.deleted_at,
        });
        if *bot {
            v["display_name"] = json!(m.display_name);
            v["display_avatar_url"] = json!(m.display_avatar_url);
        }
        out.push(v);
    }
    Ok(out)
}

fn render_one(db: &dyn Db, id: i64, origin: &str) -> Result<Json> {
    render_many(db, &[id], origin)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

/// Records a `message` event.
fn message_event(db: &dyn Db, actor: i64, m: &MessageRow, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::MESSAGE,
            event,
            entity_type: "Message",
            entity_id: m.id,
            actor: Some(actor),
            payload: json!({
                "id": m.id,
                "chat_id": m.chat_id,
                "root_chat_id": m.root_chat_id,
                "entity_type": m.entity_type,
                "entity_id": m.entity_id,
                "user_id": m.user_id,
                "parent_message_id": m.parent_message_id,
            }),
        },
    )?;
    Ok(())
}

/// Resolves mentions: `<@id>` becomes `@nickname`; returns the new text and
/// the live users mentioned either way.
fn resolve_mentions(db: &dyn Db, content: &str) -> Result<(String, Vec<i64>)> {
    let mentions = message_input::find_mentions(content);
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
    let text = message_input::rewrite_mentions(content, &|id| by_id.get(&id).cloned());
    Ok((text, ids))
}

fn insert_files(db: &dyn Db, message_id: i64, files: &[FileInput]) -> Result<()> {
    for f in files {
        db.execute(
            "INSERT INTO message_files (message_id, file_key, name, file_type, size, width, height, duration_ms, waveform) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                message_id.into(),
                f.key.as_str().into(),
                f.name.as_str().into(),
                f.file_type.as_str().into(),
                f.size.into(),
                f.width.into(),
                f.height.into(),
                f.duration_ms.into(),
                f.waveform.clone().into(),
            ],
        )?;
    }
    Ok(())
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
            chats::find_or_create_personal_chat(db, p.user_id, uid, true)?
        }
        "thread" => {
            threads::load(db, input.entity_id)?
                .ok_or_else(|| Error::not_found("entity_id", input.entity_id))?
                .chat_id
        }
        _ => input.entity_id,
    };
    let access = readable_chat(db, p, chat_id, "entity_id")?;
    let (entity_type, entity_id, root_chat_id) = if let Some(t) = &access.thread {
        ("thread", t.id, t.message_chat_id.unwrap_or(chat_id))
    } else if access.chat.personal {
        let other = chat_members::member_ids(db, chat_id)?
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

fn forbid(message: &str) -> Error {
    Error::forbidden("chat", ErrorCode::Forbidden, message)
}

/// Stored fields of a message about to be inserted.
struct Insert<'a> {
    chat_id: i64,
    root_chat_id: i64,
    entity_type: &'a str,
    entity_id: i64,
    user_id: i64,
    content: &'a str,
    buttons: Option<String>,
    parent_message_id: Option<i64>,
    display_name: Option<String>,
    display_avatar_url: Option<String>,
    link_preview: bool,
    system: bool,
}

fn insert(db: &dyn Db, m: &Insert<'_>) -> Result<i64> {
    let now = time::now().to_string();
    db.execute(
        "INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, buttons_json, \
         parent_message_id, display_name, display_avatar_url, link_preview, system, url, created_at, changed_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
        &[
            m.chat_id.into(),
            m.root_chat_id.into(),
            m.entity_type.into(),
            m.entity_id.into(),
            m.user_id.into(),
            m.content.into(),
            m.buttons.clone().into(),
            m.parent_message_id.into(),
            m.display_name.clone().into(),
            m.display_avatar_url.clone().into(),
            m.link_preview.into(),
            m.system.into(),
            now.clone().into(),
            now.into(),
        ],
    )?;
    let id = db.last_insert_rowid();
    db.execute(
        "UPDATE messages SET url = ? WHERE id = ?",
        &[
            format!("/chats/{}?message={id}", m.chat_id).into(),
            id.into(),
        ],
    )?;
    Ok(id)
}

/// `POST /messages`: posts into a chat, a thread or a personal chat (created
/// on first use). 404 when the target is invisible, 403 when the caller may
/// not post there (channel subscribers, non-members, archived chats).
pub fn create(db: &dyn Db, p: &Principal, input: &NewMessage, origin: &str) -> Result<Json> {
    let id = transaction(db, |db| -> Result<i64> {
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
        let buttons = input.buttons.as_ref().map(Json::to_string);
        let chat_id = a.chat.id;
        let id = insert(
            db,
            &Insert {
                chat_id,
                root_chat_id: target.root_chat_id,
                entity_type: target.entity_type,
                entity_id: target.entity_id,
                user_id: p.user_id,
                content: &content,
                buttons,
                parent_message_id: input.parent_message_id,
                display_name: input.display_name.clone(),
                display_avatar_url: input.display_avatar_url.clone(),
                link_preview: input.link_preview,
                system: false,
            },
        )?;
        insert_files(db, id, &input.files)?;
        let now = time::now().to_string();
        db.execute(
            "UPDATE chats SET last_message_at = ? WHERE id = ?",
            &[now.clone().into(), chat_id.into()],
        )?;
        if let Some(t) = &a.thread {
            threads::touch(db, t.id, &now)?;
            let mut joining = vec![p.user_id];
            if !input.skip_invite_mentions {
                joining.extend(mentioned_people(db, &mentioned)?);
            }
            let added = chat_members::insert_direct(db, chat_id, &joining)?;
            chat_members::member_event(
                db,
                Some(p.user_id),
                chat_id,
                "add",
                &added,
                true,
                "mention",
            )?;
        }
        advance_read(db, chat_id, p.user_id, id)?;
        let m = load(db, id)?.ok_or_else(|| Error::Internal("message vanished".into()))?;
        message_event(db, p.user_id, &m, "new")?;
        Ok(id)
    })?;
    render_one(db, id, origin)
}

/// Mentioned users who may be invited into a thread: people, not bots (bots
/// join threads by mention only when public, which we do not model).
fn mentioned_people(db: &dyn Db, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    db.query(
        "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?)) AND bot = 0 AND deleted_at IS NULL",
        &[id_list(ids)?],
    )?
    .iter()
    .map(|r| r.i64(0).map_err(Error::from))
    .collect()
}

/// `GET /messages/{id}`: the message (tombstones included) if the caller reads it.
pub fn get(db: &dyn Db, p: &Principal, id: i64, origin: &str) -> Result<Json> {
    readable(db, p, id)?;
    render_one(db, id, origin)
}

fn message_deleted(id: i64) -> Error {
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

/// Parameters of `GET /messages`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// The chat (or thread chat).
    pub chat_id: i64,
    /// Oldest first (default newest first).
    pub ascending: bool,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
}

/// Reads the query of `GET /messages` (`chat_id` required; bad values are 400).
pub fn parse_list_params(q: &crate::http::Query, max: i64) -> Result<ListParams> {
    use crate::api_support::{bad_query, query_enum};
    let chat_id = match q.get("chat_id").filter(|s| !s.is_empty()) {
        None => {
            return Err(Error::bad_request(
                "chat_id",
                ErrorCode::Required,
                None,
                "Parameter 'chat_id' is required",
            ))
        }
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| bad_query("chat_id", ErrorCode::Invalid, s))?,
    };
    query_enum(q, "sort", &["id"], "id")?;
    Ok(ListParams {
        chat_id,
        ascending: query_enum(q, "order", &["asc", "desc"], "desc")? == "asc",
        limit: pagination::parse_limit(q.get("limit"), max, max)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
    })
}

/// `GET /messages?chat_id=`: live messages of a chat the caller reads, newest
/// first by default. A cross-thread member gets 404 on the parent chat.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    lp: &ListParams,
    origin: &str,
) -> Result<(Vec<Json>, Json)> {
    readable_chat(db, p, lp.chat_id, "chat_id")?;
    let (ids, meta) = pagination::keyset_page(
        db,
        "SELECT id AS id, id AS k FROM messages WHERE chat_id = ? AND deleted_at IS NULL",
        &[lp.chat_id.into()],
        lp.ascending,
        lp.limit,
        lp.cursor.as_ref(),
    )?;
    Ok((render_many(db, &ids, origin)?, meta))
}

/// `GET /messages/{id}/read_member_ids`: ids of the users (other than the
/// author) whose read position in the message's chat reached it, ascending.
pub fn read_member_ids(
    db: &dyn Db,
    p: &Principal,
    id: i64,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let m = readable(db, p, id)?;
    let page = pagination::id_page(
        db,
        "FROM chat_reads r WHERE r.chat_id = ? AND r.last_read_message_id >= ? AND r.user_id <> ?",
        "r.user_id",
        &[m.chat_id.into(), m.id.into(), m.user_id.into()],
        limit,
        cursor,
    )?;
    Ok((page.ids.iter().map(|i| json!(i)).collect(), page.meta()))
}

/// Validates `{"link_previews": {URL: LinkPreview}}`: a non-empty map whose
/// values have string `title` and `description`, an optional `image_url`
/// and an optional `image` with `key` and `name`.
pub fn parse_link_previews(body: &Json) -> Result<Map<String, Json>> {
    let map = crate::validate::wrapper(body, "link_previews")?;
    let mut f = crate::validate::Fields::new(map, "link_previews");
    if map.is_empty() {
        f.fail("", ErrorCode::Blank, None, "can't be blank");
    }
    for (url, preview) in map {
        let Some(obj) = preview.as_object() else {
            f.fail(url, ErrorCode::Invalid, None, "must be an object");
            continue;
        };
        let mut g = crate::validate::Fields::new(obj, &f.key(url));
        g.required_string("title", None);
        g.required_string("description", None);
        g.string("image_url", None);
        match obj.get("image") {
            None | Some(Json::Null) => {}
            Some(Json::Object(img)) => {
                let mut h = crate::validate::Fields::new(img, &g.key("image"));
                h.required_string("key", None);
                h.required_string("name", None);
                h.i64("size");
                if let Err(Error::Unprocessable(errs)) = h.finish() {
                    for e in errs {
                        g.push(e);
                    }
                }
            }
            Some(other) => g.fail(
                "image",
                ErrorCode::Invalid,
                crate::validate::show(other),
                "must be an object",
            ),
        }
        if let Err(Error::Unprocessable(errs)) = g.finish() {
            for e in errs {
                f.push(e);
            }
        }
    }
    f.finish()?;
    Ok(map.clone())
}

/// `POST /messages/{id}/link_previews`: bot tokens only (403 otherwise);
/// every URL must occur in the message's text, else nothing is stored (422).
pub fn add_link_previews(
    db: &dyn Db,
    p: &Principal,
    id: i64,
    previews: &Map<String, Json>,
) -> Result<()> {
    if !p.bot {
        return Err(Error::forbidden(
            "id",
            ErrorCode::Forbidden,
            "Only bots can unfurl links",
        ));
    }
    transaction(db, |db| -> Result<()> {
        let m = load(db, id)?.ok_or_else(|| Error::not_found("id", id))?;
        if m.deleted_at.is_some() {
            return Err(message_deleted(id));
        }
        for url in previews.keys() {
            if !m.content.contains(url.as_str()) {
                return Err(Error::invalid(
                    &format!("link_previews.{url}"),
                    ErrorCode::NotFound,
                    Some(url.clone()),
                    "The URL does not occur in the message",
                ));
            }
        }
        let now = time::now().to_string();
        for (url, preview) in previews {
            db.execute(
                "INSERT INTO message_link_previews (message_id, url, preview_json, bot_id, created_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id, url) DO UPDATE SET \
                 preview_json = excluded.preview_json, bot_id = excluded.bot_id, created_at = excluded.created_at",
                &[
                    id.into(),
                    url.as_str().into(),
                    preview.to_string().into(),
                    p.user_id.into(),
                    now.clone().into(),
                ],
            )?;
        }
        message_event(db, p.user_id, &m, "link_previews")
    })
}

fn nicknames(db: &dyn Db, ids: &[i64]) -> Result<Vec<String>> {
    db.query(
        "SELECT nickname FROM users WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        &[id_list(ids)?],
    )?
    .iter()
    .map(|r| r.string(0).map(|n| format!("@{n}")).map_err(Error::from))
    .collect()
}

/// Posts the system message announcing a membership change (`add` or
/// `remove` of `user_ids`, by `actor`), unless `silent`. Called by
/// [`chat_members::member_event`] inside the transaction of the change.
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
    let thread = threads::by_chat(db, chat_id)?;
    let (entity_type, entity_id, root) = match &thread {
        Some(t) => ("thread", t.id, t.message_chat_id.unwrap_or(chat_id)),
        None if chat.personal => ("user", author, chat_id),
        None => ("discussion", chat_id, chat_id),
    };
    let id = insert(
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
    let m = load(db, id)?.ok_or_else(|| Error::Internal("message vanished".into()))?;
    message_event(db, author, &m, "new")
}
