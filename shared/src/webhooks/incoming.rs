//! Incoming webhooks (`guides/incoming-webhooks.md`): every bot has a
//! secret URL, `POST {origin}/api/shared/v1/webhooks/incoming/{token}`, to
//! which an external service posts JSON; the bot then publishes a message in
//! every group chat (conversation or channel, not threads or personal chats)
//! it is a member of and may post in.
//!
//! * The text is the body's `message` field, or, when the bot has a
//!   `template`, the body rendered with its `template_engine`
//!   ([`crate::webhooks::templates`]). A template that fails posts
//!   `Ошибка в шаблоне: <why>` instead, as the guide says. An empty result
//!   posts nothing; more than [`MESSAGE_MAX_BYTES`] bytes is refused (422)
//!   and posts nothing.
//! * With a `challenge_key`, a body carrying that field is a verification
//!   request: the answer is `{"<key>": <its value>}` and nothing is posted.
//! * More than [`RATE_PER_SECOND`] requests to one URL within a second get
//!   429 with `Retry-After: 1` (`api/limits.md`).
//! * The last body received (up to [`LAST_BODY_MAX`] bytes) and its time are
//!   kept and shown in the bot's settings to whoever may edit it
//!   (`webhook.last_request_body`, `webhook.last_request_at`; extension).
//! * The token is the credential: 24 random bytes, shown only to the bot's
//!   creator (`webhook.url`) and replaced with
//!   `POST /bots/{id}/incoming_url`. Our host keeps it out of its access log
//!   (the manifest's `redact_paths`).
//!
//! The answer is our extension: `{"data": {"message_ids": [...]}}`.

use serde_json::{json, Value as Json};

use crate::auth::context::PREFIX;
use crate::auth::scopes::Role;
use crate::auth::{Credential, Principal};
use crate::chats::{self, visibility as vis};
use crate::messages::input::NewMessage;
use crate::messages::posting;
use crate::platform::db::{Db, Row};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::random;
use crate::platform::time;
use crate::webhooks::bots;
use crate::webhooks::templates::{self, Engine};

/// Largest message an incoming webhook posts, in bytes after rendering.
pub const MESSAGE_MAX_BYTES: usize = 40_000;
/// Requests one incoming URL accepts per second; more get 429.
pub const RATE_PER_SECOND: i64 = 10;
/// Largest request body kept as the last one received.
pub const LAST_BODY_MAX: usize = 64 * 1024;
/// The path of incoming URLs under the API prefix, before the token.
pub const PATH: &str = "/webhooks/incoming/";

/// A fresh incoming-URL token: 24 random bytes, hex.
pub fn new_token() -> Result<String> {
    Ok(hex::encode(random::bytes::<24>()?))
}

/// The bot's incoming URL for links built on `origin` (`https://host`).
pub fn url(origin: &str, token: &str) -> String {
    format!("{origin}{PREFIX}{PATH}{token}")
}

/// What a bot's settings show of its incoming webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingState {
    /// The secret token (`None` for a bot without one).
    pub token: Option<String>,
    /// The last body received.
    pub last_request_body: Option<String>,
    /// When it was received.
    pub last_request_at: Option<String>,
}

/// The columns [`IncomingState::from_row`] reads, of `bot_incoming` as `i`
/// (all `NULL` for a bot without a row, as a `LEFT JOIN` gives).
pub const STATE_COLUMNS: &str = "i.token, i.last_request_body, i.last_request_at";

impl IncomingState {
    /// The state in [`STATE_COLUMNS`] of `r`, from column `at` on.
    pub fn from_row(r: &Row, at: usize) -> Result<Self> {
        Ok(IncomingState {
            token: r.opt_string(at)?,
            last_request_body: r.opt_string(at + 1)?,
            last_request_at: r.opt_string(at + 2)?,
        })
    }
}

/// The bot's incoming-webhook state, in one read.
pub fn state(db: &dyn Db, bot_id: i64) -> Result<IncomingState> {
    let Some(r) = db.query_row(
        &format!("SELECT {STATE_COLUMNS} FROM bot_incoming i WHERE i.bot_id = ?"),
        &[bot_id.into()],
    )?
    else {
        return Ok(IncomingState::default());
    };
    IncomingState::from_row(&r, 0)
}

/// Gives `bot_id` a new incoming token (call inside a transaction).
pub fn set_token(db: &dyn Db, bot_id: i64, token: &str) -> Result<()> {
    db.execute(
        "INSERT INTO bot_incoming (bot_id, token) VALUES (?, ?) \
         ON CONFLICT (bot_id) DO UPDATE SET token = excluded.token",
        &[bot_id.into(), token.to_owned().into()],
    )?;
    Ok(())
}

/// 404 for a token no live bot has (the token itself is not echoed).
fn unknown_url() -> Error {
    Error::NotFound(FieldError::new(
        "token",
        ErrorCode::NotFound,
        None,
        "No bot has this incoming webhook URL",
    ))
}

/// Counts a request in its URL's one-second window and keeps its body;
/// returns the bot, or 404 for an unknown token, 429 over the limit.
fn admit(db: &dyn Db, token: &str, raw: &[u8]) -> Result<i64> {
    let now = time::now();
    let second = now.0.div_euclid(1000);
    let kept: String = String::from_utf8_lossy(&raw[..raw.len().min(LAST_BODY_MAX)]).into_owned();
    let row = db.execute(
        "UPDATE bot_incoming SET window_count = CASE WHEN window_second = ? THEN window_count + 1 ELSE 1 END, \
         window_second = ?, last_request_body = ?, last_request_at = ? \
         WHERE token = ? AND bot_id IN (SELECT id FROM users WHERE deleted_at IS NULL AND suspended = 0) \
         RETURNING bot_id, window_count",
        &[
            second.into(),
            second.into(),
            kept.into(),
            now.to_string().into(),
            token.to_owned().into(),
        ],
    )?;
    let Some(r) = row.first() else {
        return Err(unknown_url());
    };
    if r.i64(1)? > RATE_PER_SECOND {
        return Err(Error::TooManyRequests {
            retry_after_s: 1,
            item: FieldError::new(
                "token",
                ErrorCode::RateLimit,
                None,
                format!("At most {RATE_PER_SECOND} requests per second to one incoming webhook"),
            ),
        });
    }
    Ok(r.i64(0)?)
}

/// The text to post for `body`, or `None` when nothing is to be posted.
fn text_for(bot: &bots::Bot, body: &Json) -> Result<Option<String>> {
    let template = bot.settings.template.as_deref().unwrap_or("");
    let text = if template.trim().is_empty() {
        match body.get("message") {
            Some(Json::String(s)) => s.clone(),
            _ => {
                return Err(Error::invalid(
                    "message",
                    ErrorCode::Blank,
                    None,
                    "Send the text in the message field, or give the bot a template",
                ))
            }
        }
    } else {
        let engine = Engine::named(&bot.settings.template_engine);
        templates::render(engine, template, body)
            .unwrap_or_else(|e| format!("Ошибка в шаблоне: {e}"))
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    if text.len() > MESSAGE_MAX_BYTES {
        return Err(Error::invalid(
            "message",
            ErrorCode::TooLong,
            None,
            &format!(
                "The message is {} bytes; at most {MESSAGE_MAX_BYTES} are posted",
                text.len()
            ),
        ));
    }
    Ok(Some(text))
}

/// The group chats `bot_id` is in and may post in, oldest first: neither
/// personal nor a thread, and allowed by the chats area's posting rule
/// ([`vis::can_post`]: active, and in channels only as owner, admin or
/// editor).
fn chats_of(db: &dyn Db, bot_id: i64) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for r in db.query(
        "SELECT c.id FROM chat_members m JOIN chats c ON c.id = m.chat_id \
         WHERE m.user_id = ? AND c.personal = 0 \
         AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id) ORDER BY c.id",
        &[bot_id.into()],
    )? {
        let id = r.i64(0)?;
        let (Some(chat), member) = (chats::load(db, id)?, chats::membership(db, id, bot_id)?)
        else {
            continue;
        };
        if vis::can_post(&chat, member.as_ref()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Handles one `POST` to an incoming URL; returns the answer's body.
pub fn receive(db: &dyn Db, token: &str, raw: &[u8], origin: &str) -> Result<Json> {
    let bot_id = admit(db, token, raw)?;
    let body: Json = serde_json::from_slice(raw).map_err(|e| {
        Error::bad_request(
            "body",
            ErrorCode::Invalid,
            None,
            &format!("The body is not JSON: {e}"),
        )
    })?;
    let bot = bots::load(db, bot_id)?.ok_or_else(unknown_url)?;
    if let Some(key) = bot
        .settings
        .challenge_key
        .as_deref()
        .filter(|k| !k.is_empty())
    {
        if let Some(value) = body.get(key) {
            return Ok(json!({ key: value }));
        }
    }
    let Some(text) = text_for(&bot, &body)? else {
        return Ok(json!({"data": {"message_ids": []}}));
    };
    let as_bot = Principal {
        user_id: bot.id,
        role: Role::User,
        bot: true,
        scopes: Vec::new(),
        credential: Credential::IncomingWebhook,
    };
    let mut ids = Vec::new();
    for chat in chats_of(db, bot.id)? {
        let input = NewMessage {
            entity_type: "discussion".into(),
            entity_id: chat,
            content: text.clone(),
            link_preview: bot.settings.link_preview_enabled,
            ..NewMessage::default()
        };
        let posted = posting::create(db, &as_bot, &input, origin)?;
        ids.push(posted["id"].clone());
    }
    Ok(json!({"data": {"message_ids": ids}}))
}
