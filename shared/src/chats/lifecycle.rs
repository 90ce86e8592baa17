//! Creating, renaming and archiving chats (`POST /chats`, `PUT /chats/{id}`,
//! archive/unarchive), with their `chat` events.

use crate::auth::Principal;
use crate::chats::visibility::{self as vis};
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::random;
use crate::platform::time::{self};
use crate::platform::validate::{self, Fields};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::*;

/// Parsed body of `POST /chats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatInput {
    /// Name (required, trimmed, at most [`NAME_MAX`] characters).
    pub name: String,
    /// Users to add.
    pub member_ids: Vec<i64>,
    /// Tags whose users become members.
    pub group_tag_ids: Vec<i64>,
    /// Channel rather than discussion.
    pub channel: bool,
    /// Open chat.
    pub public: bool,
}

/// Validates `{"chat": {...}}` of `POST /chats`.
pub fn parse_create(body: &Json) -> Result<ChatInput> {
    let obj = validate::wrapper(body, "chat")?;
    let mut f = Fields::new(obj, "");
    let name = f.required_string("name", Some(NAME_MAX));
    let member_ids = f.int_array("member_ids").unwrap_or_default();
    let group_tag_ids = f.int_array("group_tag_ids").unwrap_or_default();
    let channel = f.bool("channel").unwrap_or(false);
    let public = f.bool("public").unwrap_or(false);
    f.finish()?;
    Ok(ChatInput {
        name: name.unwrap_or_default(),
        member_ids,
        group_tag_ids,
        channel,
        public,
    })
}

/// Parsed body of `PUT /chats/{id}`: only present fields change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatUpdate {
    /// New name.
    pub name: Option<String>,
    /// New access type.
    pub public: Option<bool>,
}

/// Validates `{"chat": {...}}` of `PUT /chats/{id}`.
pub fn parse_update(body: &Json) -> Result<ChatUpdate> {
    let obj = validate::wrapper(body, "chat")?;
    let mut f = Fields::new(obj, "");
    let name = if f.present("name") {
        f.required_string("name", Some(NAME_MAX))
    } else {
        None
    };
    let public = f.bool("public");
    f.finish()?;
    Ok(ChatUpdate { name, public })
}

pub(super) fn random_slug() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random::bytes::<9>()?))
}

/// Records a `chat` event (audit facts: the actor plus `payload`).
pub fn chat_event(
    db: &dyn Db,
    actor: Option<i64>,
    chat_id: i64,
    event: &str,
    payload: Json,
) -> Result<()> {
    events::record(db, &chat_event_of(actor, chat_id, event, payload))?;
    Ok(())
}

/// The `chat` event [`chat_event`] records (`chat_id` added to `payload`),
/// for a change that records many at once.
pub fn chat_event_of(
    actor: Option<i64>,
    chat_id: i64,
    event: &str,
    mut payload: Json,
) -> Event<'_> {
    payload["chat_id"] = json!(chat_id);
    Event {
        kind: events::CHAT,
        event,
        entity_type: "Chat",
        entity_id: chat_id,
        actor,
        payload,
    }
}

pub(super) struct NewChat<'a> {
    pub(super) name: &'a str,
    pub(super) owner_id: i64,
    pub(super) channel: bool,
    pub(super) public: bool,
    pub(super) personal_key: Option<String>,
}

pub(super) fn insert_chat(db: &dyn Db, c: &NewChat<'_>) -> Result<i64> {
    let now = time::now().to_string();
    db.execute(
        "INSERT INTO chats (name, search_name, owner_id, channel, public, personal, archived, personal_key, \
         meet_room_slug, last_message_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
        &[
            c.name.into(),
            c.name.to_lowercase().into(),
            c.owner_id.into(),
            c.channel.into(),
            c.public.into(),
            c.personal_key.is_some().into(),
            c.personal_key.clone().into(),
            random_slug()?.into(),
            now.clone().into(),
            now.clone().into(),
            now.into(),
        ],
    )?;
    Ok(db.last_insert_rowid())
}

/// `POST /chats`: creates a discussion or channel; the caller becomes its
/// creator (`owner`), `member_ids` and the users of `group_tag_ids` join.
pub fn create(db: &dyn Db, p: &Principal, input: &ChatInput) -> Result<Json> {
    if vis::viewer_kind(p) == vis::ViewerKind::Guest {
        return Err(Error::forbidden(
            "chat",
            ErrorCode::Forbidden,
            "Guests cannot create chats",
        ));
    }
    let id = transaction(db, |db| -> Result<i64> {
        members::ensure_users_exist(db, "member_ids", &input.member_ids)?;
        members::ensure_tags_exist(db, &input.group_tag_ids)?;
        let id = insert_chat(
            db,
            &NewChat {
                name: &input.name,
                owner_id: p.user_id,
                channel: input.channel,
                public: input.public,
                personal_key: None,
            },
        )?;
        chat_event(
            db,
            Some(p.user_id),
            id,
            "create",
            json!({"name": input.name, "channel": input.channel, "public": input.public}),
        )?;
        members::admit_bots(db, p, id, &input.member_ids)?;
        let mut ids = vec![p.user_id];
        ids.extend(&input.member_ids);
        let added = members::insert_direct(db, id, &ids)?;
        let others: Vec<i64> = added.into_iter().filter(|u| *u != p.user_id).collect();
        members::member_event(db, Some(p.user_id), id, "add", &others, false, "direct")?;
        members::attach_tags(db, Some(p.user_id), id, &input.group_tag_ids)?;
        Ok(id)
    })?;
    render_one(db, id)
}

/// Body of the `POST /chats` 201: the chat plus `meta.not_found_member_ids`,
/// which the official SDKs require (`CreateChatResponse`). Unknown
/// `member_ids` are refused with 422 before anything is created, so the list
/// is always empty here.
pub fn created_body(chat: Json) -> Json {
    json!({"data": chat, "meta": {"not_found_member_ids": []}})
}

/// `PUT /chats/{id}`: rename and/or change the access type (creator/admins).
pub fn update(db: &dyn Db, p: &Principal, id: i64, upd: &ChatUpdate) -> Result<Json> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = visible(db, p, id)?;
        require_manager(m.as_ref())?;
        require_group(&chat)?;
        require_active(&chat)?;
        let now = time::now().to_string();
        if let Some(name) = upd.name.as_ref().filter(|n| **n != chat.name) {
            db.execute(
                "UPDATE chats SET name = ?, search_name = ?, updated_at = ? WHERE id = ?",
                &[
                    name.into(),
                    name.to_lowercase().into(),
                    now.clone().into(),
                    id.into(),
                ],
            )?;
            chat_event(
                db,
                Some(p.user_id),
                id,
                "rename",
                json!({"old_name": chat.name, "new_name": name}),
            )?;
        }
        if let Some(public) = upd.public.filter(|v| *v != chat.public) {
            db.execute(
                "UPDATE chats SET public = ?, updated_at = ? WHERE id = ?",
                &[public.into(), now.into(), id.into()],
            )?;
            chat_event(
                db,
                Some(p.user_id),
                id,
                "permission_change",
                json!({"public_access": public, "previous_public_access": chat.public}),
            )?;
        }
        Ok(())
    })?;
    render_one(db, id)
}

/// `PUT /chats/{id}/archive` and `/unarchive` (creator/admins; idempotent).
pub fn set_archived(db: &dyn Db, p: &Principal, id: i64, archived: bool) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = visible(db, p, id)?;
        require_manager(m.as_ref())?;
        if chat.archived == archived {
            return Ok(());
        }
        db.execute(
            "UPDATE chats SET archived = ?, updated_at = ? WHERE id = ?",
            &[archived.into(), time::now().to_string().into(), id.into()],
        )?;
        chat_event(
            db,
            Some(p.user_id),
            id,
            if archived { "archive" } else { "unarchive" },
            json!({}),
        )
    })
}
