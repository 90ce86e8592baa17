//! Creating, updating and deleting users, with the owner protections; the
//! chats a user joins or leaves come through [`ChatMembership`].

use crate::auth::scopes::Role;
use crate::auth::Principal;
use crate::platform::audit;
use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time::{self};
use serde_json::{json, Value as Json};

use super::*;
use crate::users::{custom_properties, group_tags, ChatMembership};

/// Creates a user (`POST /users`). Requires an owner/admin principal. The
/// user joins `chat_ids` in the same transaction (checked before anything is
/// written; see [`ChatMembership::check_new_user_chats`]).
pub fn create(
    db: &dyn Db,
    actor: &Principal,
    input: UserInput,
    chats: &dyn ChatMembership,
) -> Result<Json> {
    if !actor.is_manager() {
        return Err(Error::forbidden(
            "user",
            ErrorCode::Forbidden,
            "Only the owner or an admin can create users",
        ));
    }
    let email = input
        .email
        .clone()
        .ok_or_else(|| Error::invalid("email", ErrorCode::Blank, None, "can't be blank"))?;
    let id = transaction(db, |db| -> Result<i64> {
        ensure_unique(db, "email", &email, 0)?;
        let nickname = match &input.nickname {
            Some(n) => {
                ensure_unique(db, "nickname", n, 0)?;
                n.clone()
            }
            None => generate_nickname(db, &email)?,
        };
        let props = match &input.custom_properties {
            Some(p) => custom_properties::validate_values(db, &custom_properties::USER, p)?,
            None => Vec::new(),
        };
        let chat_ids = match &input.chat_ids {
            Some(ids) => {
                chats.check_new_user_chats(db, actor, ids, input.role == Some(Role::Guest))?
            }
            None => Vec::new(),
        };
        let now = time::now().to_string();
        let flat = |v: &Option<Option<String>>| v.clone().flatten().filter(|s| !s.is_empty());
        db.execute(
            "INSERT INTO users (first_name, last_name, nickname, email, phone_number, department, title, role, \
             suspended, invite_status, inviter_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?, ?)",
            &[
                flat(&input.first_name).into(),
                flat(&input.last_name).into(),
                nickname.into(),
                email.clone().into(),
                flat(&input.phone_number).into(),
                flat(&input.department).into(),
                flat(&input.title).into(),
                input.role.unwrap_or(Role::User).as_str().into(),
                input.suspended.unwrap_or(false).into(),
                actor.user_id.into(),
                now.clone().into(),
                now.clone().into(),
            ],
        )
        .map_err(|e| map_unique(e, &input))?;
        let id = db.last_insert_rowid();
        refresh_search(db, id)?;
        if let Some(tags) = &input.list_tags {
            group_tags::set_user_tags(db, actor, id, tags, chats)?;
        }
        custom_properties::store_values(db, &custom_properties::USER, id, &props)?;
        for chat_id in &chat_ids {
            db.execute(
                "INSERT INTO user_chat_invitations (user_id, chat_id, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT DO NOTHING",
                &[id.into(), (*chat_id).into(), now.clone().into()],
            )?;
        }
        member_event(db, actor, id, "invite")?;
        chats.add_new_user(db, actor.user_id, id, &chat_ids)?;
        if input.suspended == Some(true) {
            member_event(db, actor, id, "suspend")?;
        }
        Ok(id)
    })?;
    get(db, id)
}

fn check_protections(
    actor: &Principal,
    target: &UserRow,
    role: Option<Role>,
    suspend: bool,
) -> Result<()> {
    // The owner is rendered as `admin`, so echoing `admin` back is no change.
    let role_change =
        role.is_some_and(|r| r != target.role && !(target.role == Role::Owner && r == Role::Admin));
    if target.role == Role::Owner && (role_change || suspend) {
        return Err(Error::forbidden(
            if role_change { "role" } else { "suspended" },
            ErrorCode::OwnerProtected,
            "The workspace owner cannot be demoted or suspended",
        ));
    }
    if target.id == actor.user_id && (role_change || suspend) {
        return Err(Error::forbidden(
            if role_change { "role" } else { "suspended" },
            ErrorCode::SelfUpdate,
            "You cannot change your own role or suspend yourself",
        ));
    }
    Ok(())
}

/// The audit records of a user update: `user_updated` with the attributes
/// it set (`first_name`, `role`, ...) and, for a new role,
/// `user_role_changed`.
fn audit_update(
    db: &dyn Db,
    actor: &Principal,
    target: &crate::users::UserRow,
    input: &UserInput,
    sets: &[&str],
) -> Result<()> {
    let mut attrs: Vec<&str> = sets
        .iter()
        .filter_map(|s| s.split(' ').next())
        .filter(|c| *c != "updated_at")
        .collect();
    if input.list_tags.is_some() {
        attrs.push("list_tags");
    }
    if input.custom_properties.is_some() {
        attrs.push("custom_properties");
    }
    let mut records = vec![audit::Record {
        event_key: "user_updated",
        actor_id: actor.user_id,
        entity_type: "User",
        entity_id: target.id,
        details: json!({ "changed_attrs": attrs }),
    }];
    if let Some(role) = input
        .role
        .filter(|r| *r != target.role && target.role != Role::Owner)
    {
        records.push(audit::Record {
            event_key: "user_role_changed",
            actor_id: actor.user_id,
            entity_type: "User",
            entity_id: target.id,
            details: json!({
                "new_company_role": role.api_str(),
                "previous_company_role": target.role.api_str(),
                "initiator_id": actor.user_id,
            }),
        });
    }
    audit::record(db, &records)
}

/// Updates a user (`PUT /users/{id}`): only the fields present change.
pub fn update(
    db: &dyn Db,
    actor: &Principal,
    id: i64,
    input: UserInput,
    chats: &dyn ChatMembership,
) -> Result<Json> {
    if !actor.is_manager() {
        return Err(Error::forbidden(
            "user",
            ErrorCode::Forbidden,
            "Only the owner or an admin can edit users",
        ));
    }
    transaction(db, |db| -> Result<()> {
        let target = load(db, id, "id")?;
        check_protections(actor, &target, input.role, input.suspended == Some(true))?;
        let mut sets: Vec<&str> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        let mut set = |col: &'static str, v: Value| {
            sets.push(col);
            params.push(v);
        };
        let nullable = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        if let Some(v) = &input.first_name {
            set("first_name = ?", nullable(v).into());
        }
        if let Some(v) = &input.last_name {
            set("last_name = ?", nullable(v).into());
        }
        if let Some(v) = &input.phone_number {
            set("phone_number = ?", nullable(v).into());
        }
        if let Some(v) = &input.department {
            set("department = ?", nullable(v).into());
        }
        if let Some(v) = &input.title {
            set("title = ?", nullable(v).into());
        }
        if let Some(email) = &input.email {
            ensure_unique(db, "email", email, id)?;
            set("email = ?", email.clone().into());
        }
        if let Some(nick) = &input.nickname {
            ensure_unique(db, "nickname", nick, id)?;
            set("nickname = ?", nick.clone().into());
        }
        if let Some(role) = input.role.filter(|_| target.role != Role::Owner) {
            set("role = ?", role.as_str().into());
        }
        if let Some(s) = input.suspended {
            set("suspended = ?", s.into());
        }
        let props = match &input.custom_properties {
            Some(p) => custom_properties::validate_values(db, &custom_properties::USER, p)?,
            None => Vec::new(),
        };
        set("updated_at = ?", time::now().to_string().into());
        params.push(id.into());
        db.execute(
            &format!("UPDATE users SET {} WHERE id = ?", sets.join(", ")),
            &params,
        )
        .map_err(|e| map_unique(e, &input))?;
        refresh_search(db, id)?;
        if let Some(tags) = &input.list_tags {
            group_tags::set_user_tags(db, actor, id, tags, chats)?;
        }
        custom_properties::store_values(db, &custom_properties::USER, id, &props)?;
        member_event(db, actor, id, "update")?;
        audit_update(db, actor, &target, &input, &sets)?;
        match input.suspended {
            Some(true) if !target.suspended => member_event(db, actor, id, "suspend")?,
            Some(false) if target.suspended => member_event(db, actor, id, "activate")?,
            _ => {}
        }
        Ok(())
    })?;
    get(db, id)
}

/// Deletes a user (`DELETE /users/{id}`): soft delete that frees the e-mail
/// and nickname, revokes tokens and drops tag memberships and status.
pub fn delete(db: &dyn Db, actor: &Principal, id: i64, chats: &dyn ChatMembership) -> Result<()> {
    if !actor.is_manager() {
        return Err(Error::forbidden(
            "user",
            ErrorCode::Forbidden,
            "Only the owner or an admin can delete users",
        ));
    }
    transaction(db, |db| -> Result<()> {
        let target = load(db, id, "id")?;
        if target.role == Role::Owner {
            return Err(Error::forbidden(
                "id",
                ErrorCode::OwnerProtected,
                "The workspace owner cannot be deleted",
            ));
        }
        if target.id == actor.user_id {
            return Err(Error::forbidden(
                "id",
                ErrorCode::SelfUpdate,
                "You cannot delete yourself",
            ));
        }
        remove_member(db, actor, id, chats)
    })
}

/// The deletion itself, for people and bots alike, in the caller's
/// transaction: soft delete (freeing the e-mail and nickname), tokens
/// revoked, tag memberships, chats and status dropped, `delete` recorded.
pub fn remove_member(
    db: &dyn Db,
    actor: &Principal,
    id: i64,
    chats: &dyn ChatMembership,
) -> Result<()> {
    let now = time::now().to_string();
    db.execute(
        "UPDATE users SET deleted_at = ?, updated_at = ? WHERE id = ?",
        &[now.clone().into(), now.clone().into(), id.into()],
    )?;
    db.execute(
        "UPDATE access_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        &[now.into(), id.into()],
    )?;
    db.execute(
        "DELETE FROM group_tag_users WHERE user_id = ?",
        &[id.into()],
    )?;
    chats.remove_user_everywhere(db, Some(actor.user_id), id)?;
    db.execute("DELETE FROM user_statuses WHERE user_id = ?", &[id.into()])?;
    member_event(db, actor, id, "delete")
}
