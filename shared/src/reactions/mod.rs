//! The reactions area (`POST/GET/DELETE /messages/{id}/reactions`); [`routes`]
//! is its router. Imports `platform`, `auth` and `messages`.
//!
//! A user may put any number of different reactions on a message within
//! Pachka's limits: at most [`USER_UNIQUE_MAX`] different reactions per user
//! (`user_limit`), [`MESSAGE_UNIQUE_MAX`] different reactions per message
//! (`unique_limit`) and [`MESSAGE_TOTAL_MAX`] reactions in total
//! (`general_limit`). Adding one that exists is a no-op. A reaction is
//! identified by its `code` and (for custom emoji) `name`.
//!
//! The limit checks and the insert run inside one `BEGIN IMMEDIATE`
//! transaction, so concurrent requests can never overshoot a limit.
//! Whoever reads a message may react to it, archived chats included.

pub mod routes;

use crate::auth::Principal;
use crate::messages;
use crate::platform::db::{transaction, Db, Row};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::events::{self, Event};
use crate::platform::pagination::{self, Cursor};
use crate::platform::time;
use crate::platform::validate::{self, Fields};
use serde_json::{json, Value as Json};

/// Different reactions one user may put on one message.
pub const USER_UNIQUE_MAX: i64 = 20;
/// Different reactions one message may carry.
pub const MESSAGE_UNIQUE_MAX: i64 = 30;
/// Reactions one message may carry in total.
pub const MESSAGE_TOTAL_MAX: i64 = 1000;
/// Longest accepted `code` (an emoji, possibly a ZWJ sequence) in characters.
pub const CODE_MAX: usize = 64;
/// Longest accepted `name` in characters.
pub const NAME_MAX: usize = 255;

/// A parsed `ReactionRequest` (or the query of the delete call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionInput {
    /// Emoji.
    pub code: String,
    /// Text name (custom emoji), `None` when not given.
    pub name: Option<String>,
}

fn check_code(f: &mut Fields<'_>, code: Option<&str>) {
    if let Some(c) = code {
        if c.chars().any(char::is_whitespace) || c.chars().count() > CODE_MAX {
            f.fail(
                "code",
                ErrorCode::Invalid,
                Some(c.to_owned()),
                "is not an emoji",
            );
        }
    }
}

/// Validates the body of `POST /messages/{id}/reactions`.
pub fn parse(body: &Json) -> Result<ReactionInput> {
    let obj = validate::object(body)?;
    let mut f = Fields::new(obj, "");
    let code = f.required_string("code", None);
    check_code(&mut f, code.as_deref());
    let name = f.string("name", Some(NAME_MAX)).filter(|s| !s.is_empty());
    f.finish()?;
    Ok(ReactionInput {
        code: code.unwrap_or_default(),
        name,
    })
}

/// Reads `code` (required, 400 when missing) and `name` of the delete call.
pub fn parse_query(code: Option<&str>, name: Option<&str>) -> Result<ReactionInput> {
    let code = code
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::bad_request(
                "code",
                ErrorCode::Required,
                None,
                "Parameter 'code' is required",
            )
        })?;
    Ok(ReactionInput {
        code: code.to_owned(),
        name: name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    })
}

fn render(r: &Row) -> Result<Json> {
    Ok(json!({
        "user_id": r.i64(0)?,
        "created_at": r.string(1)?,
        "code": r.string(2)?,
        "name": r.string(3)?,
    }))
}

fn count(db: &dyn Db, sql: &str, params: &[crate::platform::db::Value]) -> Result<i64> {
    Ok(db
        .query_row(sql, params)?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0))
}

fn limit_error(code: ErrorCode, message: &str) -> Error {
    Error::Unprocessable(vec![FieldError::new("code", code, None, message)])
}

fn reaction_event(
    db: &dyn Db,
    p: &Principal,
    m: &messages::MessageRow,
    input: &ReactionInput,
    event: &str,
    created_at: &str,
) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::REACTION,
            event,
            entity_type: "Message",
            entity_id: m.id,
            actor: Some(p.user_id),
            payload: json!({
                "chat_id": m.chat_id,
                "message_id": m.id,
                "code": input.code,
                "name": input.name.clone().unwrap_or_default(),
                "user_id": p.user_id,
                "created_at": created_at,
            }),
        },
    )?;
    Ok(())
}

/// `POST /messages/{id}/reactions`: adds the reaction (or returns the
/// existing one) as the spec's `Reaction`; 422 `user_limit`, `unique_limit`
/// or `general_limit` at the limits, 404 for invisible or deleted messages.
///
/// Access and an existing reaction are read before the write lock; inside
/// it, one `INSERT ... SELECT` checks the three limits and inserts, so the
/// lock is held for that statement, the event and `COMMIT` (on real Spin
/// each statement is a round trip that waits for a CPU under load). Only
/// when it inserts nothing are the limits read again, to say which one.
pub fn add(db: &dyn Db, p: &Principal, message_id: i64, input: &ReactionInput) -> Result<Json> {
    let name = input.name.clone().unwrap_or_default();
    let m = messages::readable(db, p, message_id)?;
    if m.deleted_at.is_some() {
        return Err(Error::not_found("id", message_id));
    }
    if let Some(existing) = find(db, p, message_id, &input.code, &name)? {
        return Ok(existing);
    }
    let now = time::now().to_string();
    // The row, then each condition's parameters in the order of the SQL.
    let params: Vec<crate::platform::db::Value> = vec![
        message_id.into(),
        p.user_id.into(),
        input.code.as_str().into(),
        name.as_str().into(),
        now.as_str().into(),
        message_id.into(),
        message_id.into(),
        p.user_id.into(),
        USER_UNIQUE_MAX.into(),
        message_id.into(),
        MESSAGE_TOTAL_MAX.into(),
        message_id.into(),
        input.code.as_str().into(),
        name.as_str().into(),
        message_id.into(),
        MESSAGE_UNIQUE_MAX.into(),
    ];
    transaction(db, |db| -> Result<Json> {
        let inserted = db.execute(
            "INSERT INTO reactions (message_id, user_id, code, name, created_at) \
             SELECT ?, ?, ?, ?, ? \
             WHERE EXISTS (SELECT 1 FROM messages WHERE id = ? AND deleted_at IS NULL) \
               AND (SELECT COUNT(*) FROM reactions WHERE message_id = ? AND user_id = ?) < ? \
               AND (SELECT COUNT(*) FROM reactions WHERE message_id = ?) < ? \
               AND (EXISTS (SELECT 1 FROM reactions WHERE message_id = ? AND code = ? AND name = ?) \
                    OR (SELECT COUNT(*) FROM (SELECT DISTINCT code, name FROM reactions \
                                              WHERE message_id = ?) u) < ?) \
             ON CONFLICT DO NOTHING \
             RETURNING id",
            &params,
        )?;
        if inserted.is_empty() {
            return match find(db, p, message_id, &input.code, &name)? {
                Some(existing) => Ok(existing),
                None => Err(refusal(db, p, message_id, &input.code, &name)?),
            };
        }
        reaction_event(db, p, &m, input, "new", &now)?;
        Ok(json!({
            "user_id": p.user_id,
            "created_at": now,
            "code": input.code,
            "name": name,
        }))
    })
}

/// The caller's reaction `code`/`name` on the message, rendered.
fn find(
    db: &dyn Db,
    p: &Principal,
    message_id: i64,
    code: &str,
    name: &str,
) -> Result<Option<Json>> {
    db.query_row(
        "SELECT user_id, created_at, code, name FROM reactions \
         WHERE message_id = ? AND user_id = ? AND code = ? AND name = ?",
        &[
            message_id.into(),
            p.user_id.into(),
            code.into(),
            name.into(),
        ],
    )?
    .map(|r| render(&r))
    .transpose()
}

/// Why a reaction that does not exist was not inserted: the message was
/// deleted meanwhile, or which limit it would pass, checked in the order
/// Pachka reports them.
fn refusal(db: &dyn Db, p: &Principal, message_id: i64, code: &str, name: &str) -> Result<Error> {
    let live = db
        .query_row(
            "SELECT 1 FROM messages WHERE id = ? AND deleted_at IS NULL",
            &[message_id.into()],
        )?
        .is_some();
    if !live {
        return Ok(Error::not_found("id", message_id));
    }
    let mine = count(
        db,
        "SELECT COUNT(*) FROM reactions WHERE message_id = ? AND user_id = ?",
        &[message_id.into(), p.user_id.into()],
    )?;
    if mine >= USER_UNIQUE_MAX {
        return Ok(limit_error(
            ErrorCode::UserLimit,
            "You cannot add more than 20 unique reactions to a message",
        ));
    }
    let exists_on_message = db
        .query_row(
            "SELECT 1 FROM reactions WHERE message_id = ? AND code = ? AND name = ? LIMIT 1",
            &[message_id.into(), code.into(), name.into()],
        )?
        .is_some();
    if !exists_on_message {
        let unique = count(
            db,
            "SELECT COUNT(*) FROM (SELECT DISTINCT code, name FROM reactions WHERE message_id = ?) u",
            &[message_id.into()],
        )?;
        if unique >= MESSAGE_UNIQUE_MAX {
            return Ok(limit_error(
                ErrorCode::UniqueLimit,
                "A message cannot have more than 30 unique reactions",
            ));
        }
    }
    Ok(limit_error(
        ErrorCode::GeneralLimit,
        "A message cannot have more than 1000 reactions",
    ))
}

/// `DELETE /messages/{id}/reactions?code=&name=`: removes the caller's own
/// reaction with that code (and name, when given). 404 when there is none.
pub fn remove(db: &dyn Db, p: &Principal, message_id: i64, input: &ReactionInput) -> Result<()> {
    let m = messages::readable(db, p, message_id)?;
    transaction(db, |db| -> Result<()> {
        let rows = match &input.name {
            Some(n) => db.execute(
                "DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND code = ? AND name = ? \
                 RETURNING created_at, name",
                &[
                    message_id.into(),
                    p.user_id.into(),
                    input.code.as_str().into(),
                    n.as_str().into(),
                ],
            )?,
            None => db.execute(
                "DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND code = ? RETURNING created_at, name",
                &[message_id.into(), p.user_id.into(), input.code.as_str().into()],
            )?,
        };
        if rows.is_empty() {
            return Err(Error::NotFound(FieldError::new(
                "code",
                ErrorCode::NotFound,
                Some(input.code.clone()),
                "Reaction not found",
            )));
        }
        for r in rows {
            let removed = ReactionInput {
                code: input.code.clone(),
                name: r.opt_string(1)?.filter(|n| !n.is_empty()),
            };
            reaction_event(db, p, &m, &removed, "delete", &r.string(0)?)?;
        }
        Ok(())
    })
}

/// `GET /messages/{id}/reactions`: who reacted with what, oldest first, in
/// cursor pages.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    message_id: i64,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    messages::readable(db, p, message_id)?;
    let page = pagination::id_page(
        db,
        "FROM reactions r WHERE r.message_id = ?",
        "r.id",
        &[message_id.into()],
        limit,
        cursor,
    )?;
    let list = serde_json::to_string(&page.ids).map_err(|e| Error::Internal(e.to_string()))?;
    let data = db
        .query(
            "SELECT user_id, created_at, code, name FROM reactions \
             WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            &[list.into()],
        )?
        .iter()
        .map(render)
        .collect::<Result<Vec<_>>>()?;
    Ok((data, page.meta()))
}
