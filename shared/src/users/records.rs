//! Reading and rendering users (`User` of the spec), the uniqueness checks,
//! the search index row and the `company_member` event.

use crate::auth::scopes::Role;
use crate::auth::Principal;
use crate::platform::db::{Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::time::{self};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

use super::*;
use crate::users::{custom_properties, statuses, NAME_MAX};

const USER_COLUMNS: &str = "id, first_name, last_name, nickname, email, phone_number, department, title, \
     role, suspended, invite_status, inviter_id, bot, sso, created_at, last_activity_at, time_zone, image_url";

/// Core row of a user (without tags, properties and status).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Role.
    pub role: Role,
    /// Bot flag.
    pub bot: bool,
    /// Suspension flag.
    pub suspended: bool,
    raw: Row,
}

fn user_row(r: Row) -> Result<UserRow> {
    Ok(UserRow {
        id: r.i64(0)?,
        role: Role::parse(&r.string(8)?).ok_or(Error::Internal("bad role".into()))?,
        suspended: r.bool(9)?,
        bot: r.bool(12)?,
        raw: r,
    })
}

/// Loads a live (not deleted) user, or 404 on `key`.
pub fn load(db: &dyn Db, id: i64, key: &str) -> Result<UserRow> {
    let row = db
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"),
            &[id.into()],
        )?
        .ok_or_else(|| Error::not_found(key, id))?;
    user_row(row)
}

pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Renders users (spec `User`) in the order of `ids`, batching the related lookups.
pub fn render_many(db: &dyn Db, ids: &[i64]) -> Result<Vec<Json>> {
    render(db, ids, "")
}

/// Renders the users of `ids` that pass `filter` (SQL over `users`, e.g.
/// `AND deleted_at IS NULL`), in the order of `ids`.
fn render(db: &dyn Db, ids: &[i64], filter: &str) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<Value> = ids.iter().map(|i| Value::Integer(*i)).collect();
    let ph = placeholders(ids.len());
    let mut rows: HashMap<i64, UserRow> = HashMap::new();
    for r in db.query(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id IN ({ph}) {filter}"),
        &params,
    )? {
        let u = user_row(r)?;
        rows.insert(u.id, u);
    }
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for r in db.query(
        &format!(
            "SELECT gtu.user_id, gt.name FROM group_tag_users gtu JOIN group_tags gt ON gt.id = gtu.group_tag_id \
             WHERE gtu.user_id IN ({ph}) ORDER BY gt.name COLLATE NOCASE, gt.id"
        ),
        &params,
    )? {
        tags.entry(r.i64(0)?).or_default().push(r.string(1)?);
    }
    let mut props = custom_properties::values(db, &custom_properties::USER, ids)?;
    let mut stats = statuses::load_many(db, ids)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(u) = rows.get(id) else { continue };
        let r = &u.raw;
        out.push(json!({
            "id": u.id,
            "first_name": r.opt_string(1)?,
            "last_name": r.opt_string(2)?,
            "nickname": r.string(3)?,
            "email": r.opt_string(4)?,
            "phone_number": r.opt_string(5)?,
            "department": r.opt_string(6)?,
            "title": r.opt_string(7)?,
            "role": u.role.api_str(),
            "suspended": u.suspended,
            "invite_status": r.string(10)?,
            "inviter_id": r.opt_i64(11)?,
            "list_tags": tags.remove(id).unwrap_or_default(),
            "custom_properties": props.remove(id).unwrap_or_default(),
            "user_status": stats.remove(id),
            "bot": u.bot,
            "sso": r.bool(13)?,
            "created_at": r.string(14)?,
            "last_activity_at": r.opt_string(15)?,
            "time_zone": r.opt_string(16)?,
            "image_url": r.opt_string(17)?,
        }));
    }
    Ok(out)
}

/// Renders one live user, or 404.
pub fn get(db: &dyn Db, id: i64) -> Result<Json> {
    // One query for the user and the live check (on every GET /profile).
    render(db, &[id], "AND deleted_at IS NULL")?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

pub(crate) fn ensure_unique(db: &dyn Db, column: &str, value: &str, except: i64) -> Result<()> {
    let taken = db
        .query_row(
            &format!(
                "SELECT 1 FROM users WHERE {column} = ? COLLATE NOCASE AND deleted_at IS NULL AND id <> ?"
            ),
            &[value.into(), except.into()],
        )?
        .is_some();
    if taken {
        return Err(Error::invalid(
            column,
            ErrorCode::Taken,
            Some(value.to_owned()),
            "has already been taken",
        ));
    }
    Ok(())
}

pub(super) fn generate_nickname(db: &dyn Db, email: &str) -> Result<String> {
    let local = email.split('@').next().unwrap_or_default();
    let mut base: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(NAME_MAX - 8)
        .collect::<String>()
        .to_lowercase();
    if base.is_empty() {
        base = "user".into();
    }
    for n in 0..1000 {
        let candidate = if n == 0 {
            base.clone()
        } else {
            format!("{base}{n}")
        };
        if ensure_unique(db, "nickname", &candidate, 0).is_ok() {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}{}", time::now().0))
}

pub(super) fn map_unique(e: crate::platform::db::DbError, input: &UserInput) -> Error {
    if e.is_unique_violation() {
        let (key, value) = if e.to_string().contains("email") {
            ("email", input.email.clone())
        } else {
            ("nickname", input.nickname.clone())
        };
        Error::invalid(key, ErrorCode::Taken, value, "has already been taken")
    } else {
        Error::Db(e)
    }
}

/// Recomputes the Unicode-lowercased `search_text` and `sort_name` of a user
/// (SQLite's `lower()` only folds ASCII, so Cyrillic names need Rust).
pub(crate) fn refresh_search(db: &dyn Db, id: i64) -> Result<()> {
    let Some(r) = db.query_row(
        "SELECT first_name, last_name, nickname, email, phone_number, department, title FROM users WHERE id = ?",
        &[id.into()],
    )?
    else {
        return Ok(());
    };
    let mut fields = Vec::with_capacity(8);
    for i in 0..7 {
        fields.push(r.opt_string(i)?.unwrap_or_default().to_lowercase());
    }
    let full_name = format!("{} {}", fields[0], fields[1]).trim().to_owned();
    let sort_name = format!("{full_name} {}", fields[2]).trim().to_owned();
    fields.push(full_name);
    db.execute(
        "UPDATE users SET search_text = ?, sort_name = ? WHERE id = ?",
        &[fields.join("\n").into(), sort_name.into(), id.into()],
    )?;
    Ok(())
}

pub(crate) fn member_event(db: &dyn Db, actor: &Principal, id: i64, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::COMPANY_MEMBER,
            event,
            entity_type: "User",
            entity_id: id,
            actor: Some(actor.user_id),
            payload: json!({"user_ids": [id]}),
        },
    )?;
    Ok(())
}
