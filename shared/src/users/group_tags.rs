//! Group tags (`/group_tags`): named sets of users. Names are unique
//! case-insensitively; `users_count` counts live members.

use crate::auth::Principal;
use crate::platform::audit;
use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::pagination::{self, Cursor};
use crate::platform::time;
use crate::platform::validate::{self, Fields};
use crate::users::ChatMembership;
use serde_json::{json, Value as Json};

/// `maxLength` of a tag name.
pub const NAME_MAX: usize = 255;

/// Validates `{"group_tag": {"name": "..."}}` and returns the trimmed name.
pub fn parse_input(body: &Json) -> Result<String> {
    let obj = validate::wrapper(body, "group_tag")?;
    let mut f = Fields::new(obj, "");
    let name = f.required_string("name", Some(NAME_MAX));
    f.finish()?;
    name.ok_or_else(|| Error::invalid("name", ErrorCode::Blank, None, "can't be blank"))
}

fn require_manager(actor: &Principal) -> Result<()> {
    actor.require_manager("group_tag", "Only the owner or an admin can manage tags")
}

fn render(db: &dyn Db, ids: &[i64]) -> Result<Vec<Json>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = db.query_row(
            "SELECT g.id, g.name, (SELECT COUNT(*) FROM group_tag_users gu JOIN users u ON u.id = gu.user_id \
               WHERE gu.group_tag_id = g.id AND u.deleted_at IS NULL) FROM group_tags g WHERE g.id = ?",
            &[(*id).into()],
        )? {
            out.push(json!({"id": r.i64(0)?, "name": r.string(1)?, "users_count": r.i64(2)?}));
        }
    }
    Ok(out)
}

/// Renders one tag or 404.
pub fn get(db: &dyn Db, id: i64) -> Result<Json> {
    render(db, &[id])?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

fn ensure_unique(db: &dyn Db, name: &str, except: i64) -> Result<()> {
    if db
        .query_row(
            "SELECT 1 FROM group_tags WHERE name = ? COLLATE NOCASE AND id <> ?",
            &[name.into(), except.into()],
        )?
        .is_some()
    {
        return Err(Error::invalid(
            "name",
            ErrorCode::Taken,
            Some(name.to_owned()),
            "has already been taken",
        ));
    }
    Ok(())
}

fn tag_event(db: &dyn Db, actor: &Principal, id: i64, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::GROUP_TAG,
            event,
            entity_type: "GroupTag",
            entity_id: id,
            actor: Some(actor.user_id),
            payload: json!({"group_tag_id": id}),
        },
    )?;
    Ok(())
}

fn insert(db: &dyn Db, actor: &Principal, name: &str) -> Result<i64> {
    let now = time::now().to_string();
    db.execute(
        "INSERT INTO group_tags (name, created_at, updated_at) VALUES (?, ?, ?)",
        &[name.into(), now.clone().into(), now.into()],
    )
    .map_err(|e| {
        if e.is_unique_violation() {
            Error::invalid(
                "name",
                ErrorCode::Taken,
                Some(name.to_owned()),
                "has already been taken",
            )
        } else {
            e.into()
        }
    })?;
    let id = db.last_insert_rowid();
    tag_event(db, actor, id, "create")?;
    Ok(id)
}

/// Creates a tag (`POST /group_tags`).
pub fn create(db: &dyn Db, actor: &Principal, name: &str) -> Result<Json> {
    require_manager(actor)?;
    let id = transaction(db, |db| -> Result<i64> {
        ensure_unique(db, name, 0)?;
        insert(db, actor, name)
    })?;
    get(db, id)
}

/// Renames a tag (`PUT /group_tags/{id}`).
pub fn update(db: &dyn Db, actor: &Principal, id: i64, name: &str) -> Result<Json> {
    require_manager(actor)?;
    transaction(db, |db| -> Result<()> {
        get(db, id)?;
        ensure_unique(db, name, id)?;
        db.execute(
            "UPDATE group_tags SET name = ?, updated_at = ? WHERE id = ?",
            &[name.into(), time::now().to_string().into(), id.into()],
        )?;
        tag_event(db, actor, id, "update")
    })?;
    get(db, id)
}

/// Deletes a tag and its memberships (`DELETE /group_tags/{id}`).
pub fn delete(db: &dyn Db, actor: &Principal, id: i64, chats: &dyn ChatMembership) -> Result<()> {
    require_manager(actor)?;
    transaction(db, |db| -> Result<()> {
        get(db, id)?;
        // Recorded first, while the audit log can still read its name.
        tag_event(db, actor, id, "delete")?;
        chats.on_tag_deleted(db, Some(actor.user_id), id)?;
        db.execute(
            "DELETE FROM group_tag_users WHERE group_tag_id = ?",
            &[id.into()],
        )?;
        db.execute("DELETE FROM group_tags WHERE id = ?", &[id.into()])?;
        Ok(())
    })
}

/// Page of tags (`GET /group_tags`), optionally filtered by exact names.
pub fn list(
    db: &dyn Db,
    names: &[String],
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let (clause, params): (String, Vec<Value>) = if names.is_empty() {
        ("FROM group_tags WHERE 1 = 1".into(), vec![])
    } else {
        (
            format!(
                "FROM group_tags WHERE lower(name) IN ({})",
                vec!["lower(?)"; names.len()].join(", ")
            ),
            names.iter().map(Value::from).collect(),
        )
    };
    let page = pagination::id_page(db, &clause, "id", &params, limit, cursor)?;
    Ok((render(db, &page.ids)?, page.meta()))
}

/// Page of a tag's users (`GET /group_tags/{id}/users`).
pub fn users(
    db: &dyn Db,
    id: i64,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    get(db, id)?;
    let page = pagination::id_page(
        db,
        "FROM group_tag_users gu JOIN users u ON u.id = gu.user_id WHERE gu.group_tag_id = ? AND u.deleted_at IS NULL",
        "u.id",
        &[id.into()],
        limit,
        cursor,
    )?;
    Ok((crate::users::render_many(db, &page.ids)?, page.meta()))
}

/// Replaces a user's tags by names, creating missing tags. Call inside a transaction.
pub fn set_user_tags(
    db: &dyn Db,
    actor: &Principal,
    user_id: i64,
    names: &[String],
    chats: &dyn ChatMembership,
) -> Result<()> {
    let before: Vec<i64> = db
        .execute(
            "DELETE FROM group_tag_users WHERE user_id = ? RETURNING group_tag_id",
            &[user_id.into()],
        )?
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<_, _>>()?;
    let mut after = Vec::new();
    let now = time::now().to_string();
    for name in names {
        let existing = db
            .query_row(
                "SELECT id FROM group_tags WHERE name = ? COLLATE NOCASE",
                &[name.into()],
            )?
            .map(|r| r.i64(0))
            .transpose()?;
        let tag_id = match existing {
            Some(id) => id,
            None => insert(db, actor, name)?,
        };
        db.execute(
            "INSERT INTO group_tag_users (group_tag_id, user_id, created_at) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
            &[tag_id.into(), user_id.into(), now.clone().into()],
        )?;
        after.push(tag_id);
    }
    let change = |key: &'static str, tag: i64| audit::Record {
        event_key: key,
        actor_id: actor.user_id,
        entity_type: "User",
        entity_id: user_id,
        details: json!({ "initiator_id": actor.user_id, "group_tag_id": tag }),
    };
    let mut records: Vec<audit::Record> = after
        .iter()
        .filter(|t| !before.contains(t))
        .map(|t| change("user_added_to_tag", *t))
        .collect();
    records.extend(
        before
            .iter()
            .filter(|t| !after.contains(t))
            .map(|t| change("user_removed_from_tag", *t)),
    );
    audit::record(db, &records)?;
    // Tag membership follows into the chats the tags are attached to.
    chats.sync_user(db, Some(actor.user_id), user_id)
}
