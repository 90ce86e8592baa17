//! User statuses (`/profile/status`, `/users/{user_id}/status`): emoji,
//! title, optional expiry and "away" mode. Expired statuses read as `null`.

use crate::auth::Principal;
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::time::{self, Timestamp};
use crate::platform::validate::{self, Fields};
use serde_json::{json, Value as Json};

/// `maxLength` of the status title.
pub const TITLE_MAX: usize = 50;
/// `maxLength` of the away message.
pub const AWAY_MAX: usize = 1024;
/// Longest accepted emoji sequence, in chars (ZWJ families are long).
const EMOJI_MAX_CHARS: usize = 16;

/// Validated `StatusUpdateRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusInput {
    /// Emoji.
    pub emoji: String,
    /// Title.
    pub title: String,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Away mode.
    pub is_away: bool,
    /// Away message.
    pub away_message: Option<String>,
}

/// Whether `s` looks like a single emoji (sequence): no letters, spaces or plain ASCII text.
pub fn is_emoji(s: &str) -> bool {
    let n = s.chars().count();
    n > 0
        && n <= EMOJI_MAX_CHARS
        && !s.chars().any(|c| c.is_alphabetic() || c.is_whitespace())
        && !s.is_ascii()
}

/// Validates `{"status": {...}}`.
pub fn parse_input(body: &Json) -> Result<StatusInput> {
    let obj = validate::wrapper(body, "status")?;
    let mut f = Fields::new(obj, "");
    let emoji = f.required_string("emoji", None);
    if let Some(e) = &emoji {
        if !is_emoji(e) {
            f.fail(
                "emoji",
                ErrorCode::WrongEmoji,
                Some(e.clone()),
                "must be an emoji",
            );
        }
    }
    let title = f.required_string("title", Some(TITLE_MAX));
    let expires_at = match f.string("expires_at", None) {
        Some(s) if !s.is_empty() => match Timestamp::parse(&s) {
            Some(t) if t > time::now() => Some(t),
            Some(_) => {
                f.fail(
                    "expires_at",
                    ErrorCode::Invalid,
                    Some(s),
                    "must be in the future",
                );
                None
            }
            None => {
                f.fail(
                    "expires_at",
                    ErrorCode::Invalid,
                    Some(s),
                    "must be an ISO 8601 date-time",
                );
                None
            }
        },
        // An empty date-time, or `null`, is not a date-time: no key means
        // "does not expire" (the request's `expires_at` is not nullable).
        Some(_) => {
            f.fail(
                "expires_at",
                ErrorCode::Invalid,
                Some(String::new()),
                "must be an ISO 8601 date-time",
            );
            None
        }
        _ => None,
    };
    let is_away = f.bool("is_away").unwrap_or(false);
    let away_message = f
        .string("away_message", Some(AWAY_MAX))
        .filter(|s| !s.is_empty());
    f.finish()?;
    match (emoji, title) {
        (Some(emoji), Some(title)) => Ok(StatusInput {
            emoji,
            title,
            expires_at,
            is_away,
            away_message,
        }),
        _ => Err(Error::invalid(
            "status",
            ErrorCode::Blank,
            None,
            "can't be blank",
        )),
    }
}

/// The columns [`render_row`] reads, qualified so that a query reading
/// users joins them as they are.
pub(crate) const COLUMNS: &str =
    "user_statuses.user_id, user_statuses.emoji, user_statuses.title, \
     user_statuses.expires_at, user_statuses.is_away, user_statuses.away_message";

/// A status that has not expired as of its one parameter (now).
pub(crate) const ACTIVE: &str =
    "(user_statuses.expires_at IS NULL OR user_statuses.expires_at > ?)";

/// A status as the spec's `UserStatus`, from a row of [`COLUMNS`].
pub(crate) fn render_row(r: &crate::platform::db::Row) -> Result<Json> {
    Ok(json!({
        "emoji": r.string(1)?,
        "title": r.string(2)?,
        "expires_at": r.opt_string(3)?,
        "is_away": r.bool(4)?,
        "away_message": r.opt_string(5)?.map(|t| json!({"text": t})),
    }))
}

/// Active status of a live user (`None` = no status); 404 when the user does not exist.
pub fn get(db: &dyn Db, user_id: i64) -> Result<Option<Json>> {
    crate::users::load(db, user_id, "user_id")?;
    db.query_row(
        &format!(
            "SELECT {COLUMNS} FROM user_statuses WHERE user_statuses.user_id = ? AND {ACTIVE}"
        ),
        &[user_id.into(), time::now().to_string().into()],
    )?
    .map(|r| render_row(&r))
    .transpose()
}

fn status_event(db: &dyn Db, actor: &Principal, user_id: i64, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::USER_STATUS,
            event,
            entity_type: "User",
            entity_id: user_id,
            actor: Some(actor.user_id),
            payload: json!({"user_id": user_id}),
        },
    )?;
    Ok(())
}

/// Sets a user's status. Other users' statuses need owner/admin.
pub fn set(db: &dyn Db, actor: &Principal, user_id: i64, input: &StatusInput) -> Result<Json> {
    require_self_or_manager(actor, user_id)?;
    transaction(db, |db| -> Result<()> {
        crate::users::load(db, user_id, "user_id")?;
        db.execute(
            "INSERT INTO user_statuses (user_id, emoji, title, expires_at, is_away, away_message, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET emoji = excluded.emoji, title = excluded.title, \
               expires_at = excluded.expires_at, is_away = excluded.is_away, \
               away_message = excluded.away_message, updated_at = excluded.updated_at",
            &[
                user_id.into(),
                input.emoji.clone().into(),
                input.title.clone().into(),
                input.expires_at.map(|t| t.to_string()).into(),
                input.is_away.into(),
                input.away_message.clone().into(),
                time::now().to_string().into(),
            ],
        )?;
        status_event(db, actor, user_id, "update")
    })?;
    get(db, user_id)?.ok_or_else(|| Error::Internal("status vanished".into()))
}

/// Clears a user's status (idempotent).
pub fn clear(db: &dyn Db, actor: &Principal, user_id: i64) -> Result<()> {
    require_self_or_manager(actor, user_id)?;
    transaction(db, |db| -> Result<()> {
        crate::users::load(db, user_id, "user_id")?;
        db.execute(
            "DELETE FROM user_statuses WHERE user_id = ?",
            &[user_id.into()],
        )?;
        if db.changes() > 0 {
            status_event(db, actor, user_id, "delete")?;
        }
        Ok(())
    })
}

fn require_self_or_manager(actor: &Principal, user_id: i64) -> Result<()> {
    if actor.user_id == user_id || actor.is_manager() {
        Ok(())
    } else {
        Err(Error::forbidden(
            "user_id",
            ErrorCode::Forbidden,
            "Only the owner or an admin can change other users' statuses",
        ))
    }
}
