//! Membership that follows users and group tags: a chat's tag-derived
//! members kept in line with its tags, a user's chats kept in line with
//! their tags, a new user joining the chats named at creation, a deleted
//! user leaving every chat.
//!
//! The users area sits below chats and cannot call this module; it asks for
//! these effects through [`crate::users::ChatMembership`], which
//! [`ChatMembershipSync`] implements and [`crate::components`] passes in.

use crate::auth::Principal;
use crate::chats::members::{
    ids_of, insert_direct, member_event, sync_chat, tag_payload, ROLE_ON_JOIN_SQL,
};
use crate::chats::visibility as vis;
use crate::chats::{self, chat_event};
use crate::platform::db::Db;
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::time;
use crate::users::ChatMembership;

/// The chats area's side of [`ChatMembership`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ChatMembershipSync;

impl ChatMembership for ChatMembershipSync {
    fn check_new_user_chats(
        &self,
        db: &dyn Db,
        actor: &Principal,
        chat_ids: &[i64],
        guest: bool,
    ) -> Result<Vec<i64>> {
        check_new_user_chats(db, actor, chat_ids, guest)
    }

    fn add_new_user(&self, db: &dyn Db, actor: i64, user_id: i64, chat_ids: &[i64]) -> Result<()> {
        add_new_user(db, actor, user_id, chat_ids)
    }

    fn sync_user(&self, db: &dyn Db, actor: Option<i64>, user_id: i64) -> Result<()> {
        sync_user(db, actor, user_id)
    }

    fn on_tag_deleted(&self, db: &dyn Db, actor: Option<i64>, tag_id: i64) -> Result<()> {
        on_tag_deleted(db, actor, tag_id)
    }

    fn remove_user_everywhere(&self, db: &dyn Db, actor: Option<i64>, user_id: i64) -> Result<()> {
        remove_user_everywhere(db, actor, user_id)
    }
}

/// Chat ids a user is covered in through tags (parameter: user id).
const TAG_CHATS_OF_USER: &str = "SELECT ct.chat_id FROM chat_group_tags ct \
     JOIN group_tag_users gu ON gu.group_tag_id = ct.group_tag_id WHERE gu.user_id = ?";

/// Follows a change of one user's tags into chats: joins the chats their
/// tags are attached to, leaves the chats they were in only through a tag
/// they no longer have. Call in the transaction that changed the tags.
pub fn sync_user(db: &dyn Db, actor: Option<i64>, user_id: i64) -> Result<()> {
    let joined = db.execute(
        &format!(
            "INSERT INTO chat_members (chat_id, user_id, role, direct, created_at) \
             SELECT c.id, u.id, {ROLE_ON_JOIN_SQL}, 0, ? FROM chats c, users u \
             WHERE u.id = ? AND u.deleted_at IS NULL AND c.personal = 0 AND c.id IN ({TAG_CHATS_OF_USER}) \
             AND NOT EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = c.id AND m.user_id = u.id) \
             RETURNING chat_id"
        ),
        &[time::now().to_string().into(), user_id.into(), user_id.into()],
    )?;
    for chat_id in ids_of(&joined)? {
        member_event(db, actor, chat_id, "add", &[user_id], false, "group_tag")?;
    }
    let left = db.execute(
        &format!(
            "DELETE FROM chat_members WHERE user_id = ? AND direct = 0 \
             AND chat_id NOT IN ({TAG_CHATS_OF_USER}) RETURNING chat_id"
        ),
        &[user_id.into(), user_id.into()],
    )?;
    for chat_id in ids_of(&left)? {
        member_event(db, actor, chat_id, "remove", &[user_id], false, "group_tag")?;
    }
    Ok(())
}

/// Detaches a tag that is being deleted from every chat and removes the
/// members who were there only through it. Call in the deleting transaction.
pub fn on_tag_deleted(db: &dyn Db, actor: Option<i64>, tag_id: i64) -> Result<()> {
    let chats = db.execute(
        "DELETE FROM chat_group_tags WHERE group_tag_id = ? RETURNING chat_id",
        &[tag_id.into()],
    )?;
    for chat_id in ids_of(&chats)? {
        chat_event(db, actor, chat_id, "tag_remove", tag_payload(db, tag_id)?)?;
        sync_chat(db, actor, chat_id)?;
    }
    Ok(())
}

/// Removes a deleted user from every chat (deletion ends participation;
/// `owner_id` of their chats is kept). Call in the deleting transaction.
pub fn remove_user_everywhere(db: &dyn Db, actor: Option<i64>, user_id: i64) -> Result<()> {
    let chats = db.execute(
        "DELETE FROM chat_members WHERE user_id = ? RETURNING chat_id",
        &[user_id.into()],
    )?;
    for chat_id in ids_of(&chats)? {
        member_event(
            db,
            actor,
            chat_id,
            "remove",
            &[user_id],
            true,
            "user_deleted",
        )?;
    }
    Ok(())
}

/// Validates the `chat_ids` of `POST /users` for `actor`: every chat must be
/// one the actor may add members to (unknown or invisible: `not_found`), a
/// group chat (`personal_chat`) and active (`invalid`). Errors are 422 per item
/// (`chat_ids.N`); with the guest rules (`guest`) a violation is the spec's
/// 400 on `chat_ids`. Returns the distinct chat ids in request order.
pub fn check_new_user_chats(
    db: &dyn Db,
    actor: &Principal,
    chat_ids: &[i64],
    guest: bool,
) -> Result<Vec<i64>> {
    let mut errors = Vec::new();
    let mut ok: Vec<i64> = Vec::new();
    for (i, id) in chat_ids.iter().enumerate() {
        let chat = chats::load(db, *id)?;
        let m = chats::membership(db, *id, actor.user_id)?;
        let problem = match &chat {
            Some(c) if vis::can_add_members(actor, c, m.as_ref()) => {
                if c.personal {
                    Some((ErrorCode::PersonalChat, "Not applicable to a personal chat"))
                } else if c.archived {
                    Some((ErrorCode::Invalid, "The chat is archived"))
                } else {
                    None
                }
            }
            _ => Some((ErrorCode::NotFound, "Chat not found")),
        };
        match problem {
            Some((code, message)) => {
                let key = if guest {
                    "chat_ids".to_owned()
                } else {
                    format!("chat_ids.{i}")
                };
                errors.push(FieldError::new(key, code, Some(id.to_string()), message));
            }
            None if !ok.contains(id) => ok.push(*id),
            None => {}
        }
    }
    match (errors.is_empty(), guest) {
        (true, _) => Ok(ok),
        (false, true) => Err(Error::BadRequest(errors)),
        (false, false) => Err(Error::Unprocessable(errors)),
    }
}

/// Makes a user created by `POST /users` a direct member of `chat_ids`
/// (checked by [`check_new_user_chats`]), recording an `add` event per chat.
/// Call in the creating transaction.
pub fn add_new_user(db: &dyn Db, actor: i64, user_id: i64, chat_ids: &[i64]) -> Result<()> {
    for chat_id in chat_ids {
        let added = insert_direct(db, *chat_id, &[user_id])?;
        member_event(db, Some(actor), *chat_id, "add", &added, false, "direct")?;
    }
    Ok(())
}
