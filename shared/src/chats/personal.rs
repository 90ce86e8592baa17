//! Personal (one-to-one) chats: found or created on the first message.

use std::collections::HashMap;

use crate::platform::db::{rows_source, transaction, Db, Value};
use crate::platform::error::{Error, Result};
use crate::platform::{events, time};
use serde_json::{json, Value as Json};

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

/// The personal chats of `sender` with each of `users`, created in one
/// pass where missing, as [`find_or_create_personal_chat`] creates one
/// (same name, members, roles and events): a broadcast's batch. Call inside
/// the caller's transaction. Returns `(user, chat)` for every live user of
/// `users` (`sender` itself is left out), in no particular order.
pub fn personal_chats_with(db: &dyn Db, sender: i64, users: &[i64]) -> Result<Vec<(i64, i64)>> {
    let key_of = |u: i64| format!("{}:{}", sender.min(u), sender.max(u));
    let live = db.query(
        "SELECT id, trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), nickname \
         FROM users WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL AND id <> ?",
        &[Value::id_array(users), sender.into()],
    )?;
    let keys: Vec<String> = live
        .iter()
        .map(|r| r.i64(0).map(key_of))
        .collect::<Result<_, _>>()?;
    let mut chats: HashMap<String, i64> = HashMap::new();
    for r in db.query(
        "SELECT personal_key, id FROM chats WHERE personal_key IN (SELECT value FROM json_each(?))",
        &[Value::Text(Json::from(keys).to_string())],
    )? {
        chats.insert(r.string(0)?, r.i64(1)?);
    }
    let sender_name = display_name(db, sender)?;
    let now = time::now().to_string();
    let mut missing = Vec::new();
    let mut rows = Vec::new();
    for (n, r) in live.iter().enumerate() {
        let user = r.i64(0)?;
        let key = key_of(user);
        if chats.contains_key(&key) {
            continue;
        }
        let full = r.string(1)?;
        let name = if full.is_empty() { r.string(2)? } else { full };
        let name: String = format!("{sender_name}, {name}")
            .chars()
            .take(NAME_MAX)
            .collect();
        rows.push(json!([
            n,
            name.to_lowercase(),
            name,
            key,
            lifecycle::random_slug()?,
            now
        ]));
        missing.push(user);
    }
    if !rows.is_empty() {
        let source = rows_source(&["n", "search_name", "name", "personal_key", "slug", "at"]);
        let created = db.execute(
            &format!(
                "INSERT INTO chats (name, search_name, owner_id, channel, public, personal, archived, personal_key, \
                 meet_room_slug, last_message_at, created_at, updated_at) \
                 SELECT name, search_name, ?, 0, 0, 1, 0, personal_key, slug, at, at, at FROM {source} ORDER BY n \
                 RETURNING personal_key, id"
            ),
            &[sender.into(), Value::rows(rows)],
        )?;
        let mut members = Vec::new();
        let mut events = Vec::new();
        for r in &created {
            let (key, chat) = (r.string(0)?, r.i64(1)?);
            chats.insert(key, chat);
        }
        for user in &missing {
            let chat = chats
                .get(&key_of(*user))
                .copied()
                .ok_or_else(|| Error::Internal("a personal chat just created is missing".into()))?;
            members.push(json!([chat, sender]));
            members.push(json!([chat, user]));
            events.push(lifecycle::chat_event_of(
                Some(sender),
                chat,
                "create",
                json!({"personal": true}),
            ));
            events.push(members::member_event_of(
                Some(sender),
                chat,
                None,
                "add",
                &[*user],
                true,
                "personal",
            ));
        }
        db.execute(
            &format!(
                "INSERT INTO chat_members (chat_id, user_id, role, direct, created_at) \
                 SELECT chat_id, user_id, 'admin', 1, ? FROM {}",
                rows_source(&["chat_id", "user_id"])
            ),
            &[now.into(), Value::rows(members)],
        )?;
        events::record_many(db, &events)?;
    }
    live.iter()
        .map(|r| {
            let user = r.i64(0)?;
            let chat = chats
                .get(&key_of(user))
                .copied()
                .ok_or_else(|| Error::Internal("a personal chat is missing".into()))?;
            Ok((user, chat))
        })
        .collect()
}
