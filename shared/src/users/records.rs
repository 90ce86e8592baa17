//! Reading and rendering users (`User` of the spec), the uniqueness checks,
//! the search index row and the `company_member` event.

use crate::auth::scopes::Role;
use crate::auth::Principal;
use crate::platform::db::{column_count, json_rows_sql, Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::time::{self};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

use super::*;
use crate::users::{custom_properties, statuses, NAME_MAX};

/// Qualified, so that a query joining other tables to `users` reads them
/// as they are.
const USER_COLUMNS: &str =
    "users.id, users.first_name, users.last_name, users.nickname, users.email, \
     users.phone_number, users.department, users.title, users.role, users.suspended, \
     users.invite_status, users.inviter_id, users.bot, users.sso, users.created_at, \
     users.last_activity_at, users.time_zone, users.image_url";

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
/// `AND deleted_at IS NULL`), in the order of `ids`: one statement reads
/// each user with their active status, tags and custom properties (on Spin
/// every statement is a trip to a blocking thread).
fn render(db: &dyn Db, ids: &[i64], filter: &str) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Value> = vec![time::now().to_string().into()];
    params.extend(ids.iter().map(|i| Value::Integer(*i)));
    let tags = json_rows_sql(
        &["gt.name", "gt.id"],
        "FROM group_tag_users gtu JOIN group_tags gt ON gt.id = gtu.group_tag_id \
         WHERE gtu.user_id = users.id",
    );
    let sql = format!(
        "SELECT {USER_COLUMNS}, {}, {tags}, {} FROM users \
         LEFT JOIN user_statuses ON user_statuses.user_id = users.id AND {} \
         WHERE users.id IN ({}) {filter}",
        statuses::COLUMNS,
        custom_properties::columns_sql(&custom_properties::USER, "users"),
        statuses::ACTIVE,
        placeholders(ids.len()),
    );
    let mut rows: HashMap<i64, Json> = HashMap::new();
    for r in db.query(&sql, &params)? {
        let u = user_row(r)?;
        rows.insert(u.id, render_row(&u)?);
    }
    Ok(ids.iter().filter_map(|id| rows.remove(id)).collect())
}

/// Where [`render`]'s columns after [`USER_COLUMNS`] start: the status,
/// then the tags, then the custom properties' definitions and values.
const STATUS_AT: usize = column_count(USER_COLUMNS);
const TAGS_AT: usize = STATUS_AT + column_count(statuses::COLUMNS);

fn render_row(u: &UserRow) -> Result<Json> {
    let r = &u.raw;
    let status = Row(r.0.get(STATUS_AT..TAGS_AT).unwrap_or_default().to_vec());
    let user_status = match status.opt_i64(0)? {
        Some(_) => Some(statuses::render_row(&status)?),
        None => None,
    };
    let mut tags: Vec<(String, i64)> =
        serde_json::from_str::<Vec<(String, i64)>>(&r.string(TAGS_AT)?)
            .map_err(|e| Error::Internal(format!("tags column: {e}")))?;
    // `ORDER BY name COLLATE NOCASE, id`: NOCASE folds ASCII letters only.
    tags.sort_by(|(a, x), (b, y)| {
        a.to_ascii_lowercase()
            .cmp(&b.to_ascii_lowercase())
            .then(x.cmp(y))
    });
    let custom_properties =
        custom_properties::from_columns(&r.string(TAGS_AT + 1)?, &r.string(TAGS_AT + 2)?)?;
    Ok(json!({
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
        "list_tags": tags.into_iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "custom_properties": custom_properties,
        "user_status": user_status,
        "bot": u.bot,
        "sso": r.bool(13)?,
        "created_at": r.string(14)?,
        "last_activity_at": r.opt_string(15)?,
        "time_zone": r.opt_string(16)?,
        "image_url": r.opt_string(17)?,
    }))
}

/// Renders one live user, or 404.
pub fn get(db: &dyn Db, id: i64) -> Result<Json> {
    // One query for the user and the live check (on every GET /profile).
    render(db, &[id], "AND users.deleted_at IS NULL")?
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

#[cfg(test)]
mod render_tests {
    use super::*;
    use crate::testutil::{create_user, test_db, RecordingDb};

    #[test]
    fn one_statement_renders_each_users_own_tags_status_and_properties() {
        let db = test_db();
        let a = create_user(&db, "a@example.com", "user");
        let b = create_user(&db, "b@example.com", "user");
        let run = |sql: &str, params: &[Value]| {
            db.execute(sql, params).unwrap();
        };
        let t = "2026-01-01T00:00:00.000Z";
        // Names in an order that NOCASE sorts differently from bytes.
        for (id, name) in [(1, "Zed"), (2, "alpha"), (3, "beta")] {
            run(
                "INSERT INTO group_tags (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                &[id.into(), name.into(), t.into(), t.into()],
            );
        }
        for tag in [1, 2] {
            run(
                "INSERT INTO group_tag_users (group_tag_id, user_id, created_at) VALUES (?, ?, ?)",
                &[tag.into(), a.into(), t.into()],
            );
        }
        run(
            "INSERT INTO group_tag_users (group_tag_id, user_id, created_at) VALUES (3, ?, ?)",
            &[b.into(), t.into()],
        );
        // a's status never expires; b's expired long ago.
        for (user, expires) in [(a, None), (b, Some("2000-01-01T00:00:00.000Z"))] {
            run(
                "INSERT INTO user_statuses (user_id, emoji, title, expires_at, is_away, updated_at) \
                 VALUES (?, '🌴', 'Away', ?, 1, ?)",
                &[user.into(), expires.into(), t.into()],
            );
        }
        for (id, name) in [(2, "Born"), (1, "City")] {
            run(
                "INSERT INTO custom_property_definitions (id, entity_type, name, data_type, created_at) \
                 VALUES (?, 'User', ?, 'string', ?)",
                &[id.into(), name.into(), t.into()],
            );
        }
        run(
            "INSERT INTO user_custom_property_values (user_id, property_id, value) VALUES (?, 1, 'Kazan')",
            &[b.into()],
        );

        let rec = RecordingDb::new(&db);
        let users = render_many(&rec, &[b, a]).unwrap();
        assert_eq!(rec.statements().len(), 1, "{:?}", rec.statements());
        let ids: Vec<i64> = users.iter().filter_map(|u| u["id"].as_i64()).collect();
        assert_eq!(ids, vec![b, a], "in the order asked for");
        let (ub, ua) = (&users[0], &users[1]);
        assert_eq!(ua["list_tags"], json!(["alpha", "Zed"]));
        assert_eq!(ub["list_tags"], json!(["beta"]));
        assert_eq!(ua["user_status"]["emoji"], "🌴");
        assert_eq!(ua["user_status"]["is_away"], true);
        assert!(
            ub["user_status"].is_null(),
            "expired: {}",
            ub["user_status"]
        );
        let props = |u: &Json| -> Vec<(i64, Json)> {
            u["custom_properties"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["id"].as_i64().unwrap(), p["value"].clone()))
                .collect()
        };
        assert_eq!(props(ub), vec![(1, json!("Kazan")), (2, Json::Null)]);
        assert_eq!(props(ua), vec![(1, Json::Null), (2, Json::Null)]);
        assert_eq!(ub["custom_properties"][0]["name"], "City");
    }
}
