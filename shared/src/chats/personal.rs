//! Personal (one-to-one) chats: found or created on the first message.

use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, Result};
use serde_json::json;

use super::*;

fn display_name(db: &dyn Db, user_id: i64) -> Result<String> {
    let r = db
        .query_row(
            "SELECT trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), nickname \
             FROM users WHERE id = ? AND deleted_at IS NULL",
            &[user_id.into()],
        )?
        .ok_or_else(|| Error::not_found("user_id", user_id))?;
    let full = r.string(0)?;
    Ok(if full.is_empty() { r.string(1)? } else { full })
}

/// The personal (one-to-one) chat of users `a` and `b`, created on first use
/// with both as chat admins (`a == b` gives a chat with oneself). For the
/// messages area; runs in its own transaction unless `in_tx` says the caller
/// already holds one. 404 on `user_id` when either user does not exist.
pub fn find_or_create_personal_chat(db: &dyn Db, a: i64, b: i64, in_tx: bool) -> Result<i64> {
    let key = format!("{}:{}", a.min(b), a.max(b));
    if let Some(id) = find_personal(db, &key)? {
        return Ok(id);
    }
    let created = if in_tx {
        create_personal(db, a, b, &key)
    } else {
        transaction(db, |db| create_personal(db, a, b, &key))
    };
    match created {
        // A concurrent request created the same pair's chat first.
        Err(Error::Db(e)) if e.is_unique_violation() => {
            find_personal(db, &key)?.ok_or(Error::Db(e))
        }
        other => other,
    }
}

fn find_personal(db: &dyn Db, key: &str) -> Result<Option<i64>> {
    db.query_row("SELECT id FROM chats WHERE personal_key = ?", &[key.into()])?
        .map(|r| r.i64(0).map_err(Error::from))
        .transpose()
}

fn create_personal(db: &dyn Db, a: i64, b: i64, key: &str) -> Result<i64> {
    if let Some(id) = find_personal(db, key)? {
        return Ok(id);
    }
    let (na, nb) = (display_name(db, a)?, display_name(db, b)?);
    let name: String = if a == b { na } else { format!("{na}, {nb}") }
        .chars()
        .take(NAME_MAX)
        .collect();
    let id = insert_chat(
        db,
        &NewChat {
            name: &name,
            owner_id: a,
            channel: false,
            public: false,
            personal_key: Some(key.to_owned()),
        },
    )?;
    chat_event(db, Some(a), id, "create", json!({"personal": true}))?;
    members::insert_direct(db, id, &[a, b])?;
    let other: Vec<i64> = if a == b { vec![] } else { vec![b] };
    members::member_event(db, Some(a), id, "add", &other, true, "personal")?;
    Ok(id)
}
