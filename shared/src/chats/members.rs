//! Chat membership (`/chats/{id}/members`, `/leave`, `/group_tags`) and the
//! group-tag sync.
//!
//! Every change is set-based SQL (ids travel as one JSON array read with
//! `json_each`), so adding 5,000 members is a handful of statements in one
//! transaction. A member row has `direct = 1` when the user was added
//! explicitly (or created the chat) and `direct = 0` when present only through
//! one of the chat's group tags: removing a tag, or a user leaving a tag,
//! removes exactly the members who have no other reason to stay.
//!
//! Each change records a `chat_member` event (`add`/`remove` with `user_ids`,
//! `silent` and the `initiator_id`, or `role_update`) in the same transaction.

use crate::auth::Principal;
use crate::chats::visibility::{self as vis, MemberRole};
use crate::chats::{self, chat_event, require_active, require_group, require_manager};
use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::pagination::{self, Cursor};
use crate::platform::time;
use serde_json::{json, Value as Json};

pub use crate::chats::member_input::*;

/// Chat role a user gets on joining (over aliases `c` = chat, `u` = user):
/// both sides of a personal chat are admins, the creator is `owner`, a
/// workspace owner/admin is `admin`, a bot in a channel is `editor`, everyone
/// else `member`.
pub const ROLE_ON_JOIN_SQL: &str = "CASE WHEN c.personal = 1 THEN 'admin' \
     WHEN u.id = c.owner_id THEN 'owner' \
     WHEN u.bot = 0 AND u.role IN ('owner', 'admin') THEN 'admin' \
     WHEN u.bot = 1 AND c.channel = 1 THEN 'editor' \
     ELSE 'member' END";

/// The ids in the first column of `rows`, ascending and without repeats.
pub fn ids_of(rows: &[crate::platform::db::Row]) -> Result<Vec<i64>> {
    let mut v = rows
        .iter()
        .map(|r| r.i64(0).map_err(Error::from))
        .collect::<Result<Vec<i64>>>()?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// 422 `not_found` on `key` naming the first of `ids` with no row in
/// `table` (`x`) meeting `condition`, with `message`.
pub fn ensure_exist(
    db: &dyn Db,
    key: &str,
    ids: &[i64],
    table: &str,
    condition: &str,
    message: &str,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    if let Some(r) = db.query_row(
        &format!(
            "SELECT j.value FROM json_each(?) j WHERE NOT EXISTS \
             (SELECT 1 FROM {table} x WHERE x.id = j.value AND {condition}) LIMIT 1"
        ),
        &[Value::id_array(ids)],
    )? {
        let id = r.i64(0)?;
        return Err(Error::invalid(
            key,
            ErrorCode::NotFound,
            Some(id.to_string()),
            message,
        ));
    }
    Ok(())
}

/// 422 `not_found` on `key` unless every id is a live user.
pub fn ensure_users_exist(db: &dyn Db, key: &str, ids: &[i64]) -> Result<()> {
    ensure_exist(
        db,
        key,
        ids,
        "users",
        "x.deleted_at IS NULL",
        "User not found",
    )
}

/// 422 `not_found` on `key` unless every id is an existing group tag.
pub fn ensure_tags_exist_on(db: &dyn Db, key: &str, ids: &[i64]) -> Result<()> {
    ensure_exist(db, key, ids, "group_tags", "1 = 1", "Group tag not found")
}

/// 422 `not_found` on `group_tag_ids` unless every id is an existing tag.
pub fn ensure_tags_exist(db: &dyn Db, ids: &[i64]) -> Result<()> {
    ensure_tags_exist_on(db, "group_tag_ids", ids)
}

/// Adds `ids` (live users) as direct members; tag-only members become
/// direct. Returns the users who were not members before, ascending. Call
/// inside a transaction.
pub fn insert_direct(db: &dyn Db, chat_id: i64, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = Value::id_array(ids);
    db.execute(
        "UPDATE chat_members SET direct = 1 WHERE chat_id = ? AND direct = 0 \
         AND user_id IN (SELECT value FROM json_each(?))",
        &[chat_id.into(), list.clone()],
    )?;
    let rows = db.execute(
        &format!(
            "INSERT INTO chat_members (chat_id, user_id, role, direct, created_at) \
             SELECT c.id, u.id, {ROLE_ON_JOIN_SQL}, 1, ? FROM chats c, users u \
             WHERE c.id = ? AND u.id IN (SELECT value FROM json_each(?)) AND u.deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = c.id AND m.user_id = u.id) \
             RETURNING user_id"
        ),
        &[time::now().to_string().into(), chat_id.into(), list],
    )?;
    ids_of(&rows)
}

/// Records a `chat_member` `add`/`remove` event (nothing when `user_ids` is
/// empty) and, unless `silent`, posts the system message announcing it.
pub fn member_event(
    db: &dyn Db,
    actor: Option<i64>,
    chat_id: i64,
    event: &str,
    user_ids: &[i64],
    silent: bool,
    reason: &str,
) -> Result<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let thread_id = crate::chats::threads::by_chat(db, chat_id)?.map(|t| t.id);
    events::record(
        db,
        &member_event_of(actor, chat_id, thread_id, event, user_ids, silent, reason),
    )?;
    record_history(db, actor, chat_id, event, user_ids)?;
    crate::chats::system_messages::on_member_change(db, actor, chat_id, event, user_ids, silent)
}

/// Appends people (not bots) joining (`add`) or leaving (`remove`) a shared
/// chat to `chat_membership_changes`, the history communication analytics
/// counts joins and leaves from; a join by the person themselves is
/// self-initiated. Written here rather than by a trigger on `events`,
/// which every statement recording any event would compile.
fn record_history(
    db: &dyn Db,
    actor: Option<i64>,
    chat_id: i64,
    event: &str,
    user_ids: &[i64],
) -> Result<()> {
    let change = match event {
        "add" => "join",
        "remove" => "leave",
        _ => return Ok(()),
    };
    db.execute(
        "INSERT INTO chat_membership_changes (chat_id, user_id, change, self_initiated, created_at) \
         SELECT c.id, u.id, ?, u.id IS ?, ? FROM chats c, users u \
         WHERE c.id = ? AND c.personal = 0 AND u.bot = 0 \
           AND u.id IN (SELECT value FROM json_each(?))",
        &[
            change.into(),
            actor.into(),
            time::now().to_string().into(),
            chat_id.into(),
            Value::id_array(user_ids),
        ],
    )?;
    Ok(())
}

/// The `chat_member` event [`member_event`] records (`thread_id` is the
/// chat's thread, if it is one), for a change that records many at once.
pub fn member_event_of<'a>(
    actor: Option<i64>,
    chat_id: i64,
    thread_id: Option<i64>,
    event: &'a str,
    user_ids: &[i64],
    silent: bool,
    reason: &str,
) -> Event<'a> {
    Event {
        kind: events::CHAT_MEMBER,
        event,
        entity_type: "Chat",
        entity_id: chat_id,
        actor,
        payload: json!({
            "chat_id": chat_id,
            "thread_id": thread_id,
            "user_ids": user_ids,
            "silent": silent,
            "initiator_id": actor,
            "reason": reason,
        }),
    }
}

/// Whether `chat_id` counts for `single_chat`: a group chat or channel, not
/// a personal chat or a thread.
fn counts_as_group(db: &dyn Db, chat_id: i64) -> Result<bool> {
    Ok(db
        .query_row(
            "SELECT 1 FROM chats c WHERE c.id = ? AND c.personal = 0 \
             AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id)",
            &[chat_id.into()],
        )?
        .is_some())
}

/// The bot rules of `guides/bots-setup.md` for adding `ids` to `chat_id`
/// (bots among them; people pass): `who_can_add` says who may add the bot
/// (`creator`; `creator_admin` adds the owner and admins; `creator_admin_user`
/// and `anyone` add every other non-guest, and guests never add members), and
/// a `single_chat` bot may be in one group chat or channel only (threads and
/// personal chats do not count). The settings are the webhooks area's
/// `bots` rows, read here because the rule belongs to the membership change.
pub fn admit_bots(db: &dyn Db, p: &Principal, chat_id: i64, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows = db.query(
        "SELECT b.user_id, b.creator_id, b.who_can_add, b.single_chat, \
         (SELECT MIN(m.chat_id) FROM chat_members m JOIN chats c ON c.id = m.chat_id \
          WHERE m.user_id = b.user_id AND m.chat_id <> ? AND c.personal = 0 \
          AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id)) \
         FROM bots b WHERE b.user_id IN (SELECT value FROM json_each(?)) \
         AND NOT EXISTS (SELECT 1 FROM chat_members x WHERE x.chat_id = ? AND x.user_id = b.user_id) \
         ORDER BY b.user_id",
        &[chat_id.into(), Value::id_array(ids), chat_id.into()],
    )?;
    for r in &rows {
        let (bot, creator, who) = (r.i64(0)?, r.i64(1)?, r.string(2)?);
        let allowed = p.user_id == creator
            || match who.as_str() {
                "creator_admin" => p.is_manager(),
                "creator_admin_user" | "anyone" => vis::viewer_kind(p) != vis::ViewerKind::Guest,
                _ => false,
            };
        if !allowed {
            return Err(Error::forbidden(
                "member_ids",
                ErrorCode::Forbidden,
                &format!("You may not add the bot {bot} to chats (its who_can_add is {who})"),
            ));
        }
        // Asked only for a `single_chat` bot that is in another group chat.
        if let (true, Some(other)) = (r.bool(3)?, r.opt_i64(4)?) {
            if counts_as_group(db, chat_id)? {
                return Err(Error::invalid(
                    "member_ids",
                    ErrorCode::Invalid,
                    Some(bot.to_string()),
                    &format!("The bot {bot} works in one chat only and is already in chat {other}"),
                ));
            }
        }
    }
    Ok(())
}

fn forbid(message: &str) -> Error {
    Error::forbidden("chat", ErrorCode::Forbidden, message)
}

fn personal_403(chat: &chats::ChatRow) -> Result<()> {
    if chat.personal {
        return Err(Error::forbidden(
            "id",
            ErrorCode::PersonalChat,
            "Not applicable to a personal chat",
        ));
    }
    Ok(())
}

/// `POST /chats/{id}/members`: any non-guest who sees the chat (so anyone
/// in an open chat, which is how one joins it).
pub fn add(db: &dyn Db, p: &Principal, chat_id: i64, input: &AddMembers) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        // `visible` also admits a thread chat's readers through its parent
        // chat; what remains of `can_add_members` is the guest rule.
        let (chat, _) = chats::visible(db, p, chat_id)?;
        require_group(&chat)?;
        if vis::viewer_kind(p) == vis::ViewerKind::Guest {
            return Err(forbid("Guests cannot add members"));
        }
        require_active(&chat)?;
        ensure_users_exist(db, "member_ids", &input.member_ids)?;
        admit_bots(db, p, chat_id, &input.member_ids)?;
        let added = insert_direct(db, chat_id, &input.member_ids)?;
        member_event(
            db,
            Some(p.user_id),
            chat_id,
            "add",
            &added,
            input.silent,
            "direct",
        )
    })
}

/// The membership of `user_id` in the chat (404 when absent); the creator's
/// is refused with `code` and `message`, as nobody may act on the creator.
fn non_owner_member(
    db: &dyn Db,
    chat_id: i64,
    user_id: i64,
    code: ErrorCode,
    message: &str,
) -> Result<crate::chats::visibility::Membership> {
    let target = chats::membership(db, chat_id, user_id)?
        .ok_or_else(|| Error::not_found("user_id", user_id))?;
    if target.role == MemberRole::Owner {
        return Err(Error::forbidden("user_id", code, message));
    }
    Ok(target)
}

/// `DELETE /chats/{id}/members/{user_id}`: creator/admins; the creator
/// cannot be removed (`cannot_kick_owner`).
pub fn remove(db: &dyn Db, p: &Principal, chat_id: i64, user_id: i64) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = chats::visible(db, p, chat_id)?;
        personal_403(&chat)?;
        require_manager(m.as_ref())?;
        require_active(&chat)?;
        non_owner_member(
            db,
            chat_id,
            user_id,
            ErrorCode::CannotKickOwner,
            "The chat's creator cannot be removed; they can only leave",
        )?;
        delete_member(db, p.user_id, chat_id, user_id, "kick")
    })
}

/// Removes one member and records the (not silent) `remove` event with
/// `reason`, in the caller's transaction.
fn delete_member(db: &dyn Db, actor: i64, chat_id: i64, user_id: i64, reason: &str) -> Result<()> {
    db.execute(
        "DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?",
        &[chat_id.into(), user_id.into()],
    )?;
    member_event(
        db,
        Some(actor),
        chat_id,
        "remove",
        &[user_id],
        false,
        reason,
    )
}

/// `DELETE /chats/{id}/leave`: the caller leaves (the creator may too).
pub fn leave(db: &dyn Db, p: &Principal, chat_id: i64) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = chats::visible(db, p, chat_id)?;
        require_group(&chat)?;
        if m.is_none() {
            return Err(forbid("You are not a member of this chat"));
        }
        delete_member(db, p.user_id, chat_id, p.user_id, "leave")
    })
}

/// `PUT /chats/{id}/members/{user_id}`: creator/admins change another
/// member's role; never the creator's or their own; `editor` only in channels.
pub fn set_role(
    db: &dyn Db,
    p: &Principal,
    chat_id: i64,
    user_id: i64,
    role: MemberRole,
) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = chats::visible(db, p, chat_id)?;
        require_group(&chat)?;
        require_manager(m.as_ref())?;
        require_active(&chat)?;
        let target = non_owner_member(
            db,
            chat_id,
            user_id,
            ErrorCode::OwnerProtected,
            "The chat creator's role cannot be changed",
        )?;
        if user_id == p.user_id {
            return Err(Error::forbidden(
                "user_id",
                ErrorCode::SelfUpdate,
                "You cannot change your own role",
            ));
        }
        if role == MemberRole::Editor && !chat.channel {
            return Err(Error::invalid(
                "role",
                ErrorCode::NotApplicable,
                Some("editor".into()),
                "The editor role exists only in channels",
            ));
        }
        if role == target.role {
            return Ok(());
        }
        db.execute(
            "UPDATE chat_members SET role = ? WHERE chat_id = ? AND user_id = ?",
            &[role.as_str().into(), chat_id.into(), user_id.into()],
        )?;
        events::record(
            db,
            &Event {
                kind: events::CHAT_MEMBER,
                event: "role_update",
                entity_type: "Chat",
                entity_id: chat_id,
                actor: Some(p.user_id),
                payload: json!({
                    "chat_id": chat_id,
                    "user_id": user_id,
                    "previous_role": target.role.as_str(),
                    "new_role": role.as_str(),
                    "initiator_id": p.user_id,
                }),
            },
        )?;
        Ok(())
    })
}

/// `POST /chats/{id}/group_tags`: same rights as adding members.
pub fn add_tags(db: &dyn Db, p: &Principal, chat_id: i64, tag_ids: &[i64]) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = chats::visible(db, p, chat_id)?;
        require_group(&chat)?;
        if !vis::can_add_members(p, &chat, m.as_ref()) {
            return Err(forbid("Guests cannot add members"));
        }
        require_active(&chat)?;
        ensure_tags_exist(db, tag_ids)?;
        attach_tags(db, Some(p.user_id), chat_id, tag_ids)
    })
}

/// `DELETE /chats/{id}/group_tags/{tag_id}`: creator/admins; members who
/// were there only through this tag leave.
pub fn remove_tag(db: &dyn Db, p: &Principal, chat_id: i64, tag_id: i64) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = chats::visible(db, p, chat_id)?;
        personal_403(&chat)?;
        require_manager(m.as_ref())?;
        require_active(&chat)?;
        db.execute(
            "DELETE FROM chat_group_tags WHERE chat_id = ? AND group_tag_id = ?",
            &[chat_id.into(), tag_id.into()],
        )?;
        if db.changes() == 0 {
            return Err(Error::not_found("tag_id", tag_id));
        }
        chat_event(
            db,
            Some(p.user_id),
            chat_id,
            "tag_remove",
            tag_payload(db, tag_id)?,
        )?;
        sync_chat(db, Some(p.user_id), chat_id)
    })
}

/// `GET /chats/{id}/members`: users (spec `User`) by id, optionally of one
/// chat role. The workspace owner may list any chat's members.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    chat_id: i64,
    role: Option<MemberRole>,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let chat = chats::load(db, chat_id)?.ok_or_else(|| Error::not_found("id", chat_id))?;
    let m = chats::membership(db, chat_id, p.user_id)?;
    if !vis::can_list_members(p, &chat, m.as_ref())
        && !crate::chats::threads::sees_thread_chat(db, p, chat_id)?
    {
        return Err(Error::not_found("id", chat_id));
    }
    let mut clause = String::from(
        "FROM chat_members m JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? AND u.deleted_at IS NULL",
    );
    let mut params: Vec<Value> = vec![chat_id.into()];
    if let Some(r) = role {
        clause.push_str(" AND m.role = ?");
        params.push(r.as_str().into());
    }
    let page = pagination::id_page(db, &clause, "m.user_id", &params, limit, cursor)?;
    Ok((crate::users::render_many(db, &page.ids)?, page.meta()))
}

/// Member ids of a chat, ascending (complete, for tests and other areas).
pub fn member_ids(db: &dyn Db, chat_id: i64) -> Result<Vec<i64>> {
    ids_of(&db.query(
        "SELECT user_id FROM chat_members WHERE chat_id = ?",
        &[chat_id.into()],
    )?)
}

/// User ids of a chat's tag coverage (parameter: chat id).
const TAG_USERS_OF_CHAT: &str = "SELECT gu.user_id FROM chat_group_tags ct \
     JOIN group_tag_users gu ON gu.group_tag_id = ct.group_tag_id WHERE ct.chat_id = ?";

/// Brings a chat's tag-derived members in line with its tags: adds every
/// tag user who is not a member, removes tag-only members no tag covers.
/// Call inside a transaction.
pub fn sync_chat(db: &dyn Db, actor: Option<i64>, chat_id: i64) -> Result<()> {
    let added = db.execute(
        &format!(
            "INSERT INTO chat_members (chat_id, user_id, role, direct, created_at) \
             SELECT c.id, u.id, {ROLE_ON_JOIN_SQL}, 0, ? FROM chats c, users u \
             WHERE c.id = ? AND c.personal = 0 AND u.deleted_at IS NULL AND u.id IN ({TAG_USERS_OF_CHAT}) \
             AND NOT EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = c.id AND m.user_id = u.id) \
             RETURNING user_id"
        ),
        &[time::now().to_string().into(), chat_id.into(), chat_id.into()],
    )?;
    member_event(
        db,
        actor,
        chat_id,
        "add",
        &ids_of(&added)?,
        false,
        "group_tag",
    )?;
    let removed = db.execute(
        &format!(
            "DELETE FROM chat_members WHERE chat_id = ? AND direct = 0 \
             AND user_id NOT IN ({TAG_USERS_OF_CHAT}) RETURNING user_id"
        ),
        &[chat_id.into(), chat_id.into()],
    )?;
    member_event(
        db,
        actor,
        chat_id,
        "remove",
        &ids_of(&removed)?,
        false,
        "group_tag",
    )
}

/// Payload of a chat tag event: the tag id and (audit fact) its current name.
pub(super) fn tag_payload(db: &dyn Db, tag_id: i64) -> Result<Json> {
    let name = db
        .query_row("SELECT name FROM group_tags WHERE id = ?", &[tag_id.into()])?
        .map(|r| r.string(0))
        .transpose()?;
    Ok(json!({"group_tag_id": tag_id, "tag_name": name}))
}

/// Attaches tags to a chat (already validated) and syncs its members.
/// Call inside a transaction.
pub fn attach_tags(db: &dyn Db, actor: Option<i64>, chat_id: i64, tag_ids: &[i64]) -> Result<()> {
    if tag_ids.is_empty() {
        return Ok(());
    }
    let attached = db.execute(
        "INSERT INTO chat_group_tags (chat_id, group_tag_id, created_at) \
         SELECT ?, g.id, ? FROM group_tags g WHERE g.id IN (SELECT value FROM json_each(?)) \
         AND NOT EXISTS (SELECT 1 FROM chat_group_tags x WHERE x.chat_id = ? AND x.group_tag_id = g.id) \
         RETURNING group_tag_id",
        &[
            chat_id.into(),
            time::now().to_string().into(),
            Value::id_array(tag_ids),
            chat_id.into(),
        ],
    )?;
    for tag_id in ids_of(&attached)? {
        chat_event(db, actor, chat_id, "tag_add", tag_payload(db, tag_id)?)?;
    }
    sync_chat(db, actor, chat_id)
}
