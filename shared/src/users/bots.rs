//! Creating bots: our extension `POST /api/shared/v1/bots`.
//!
//! Pachka creates bots in its UI, so the official API has no route for it.
//! Rules:
//! * owner/admin only (403 `ApiError` otherwise; the route requires the
//!   `bots:write` scope, the one `PUT /bots/{id}` requires);
//! * `name` is required (422 `blank`), at most 255 characters;
//! * `nickname` is required, latin letters, digits and `_` only, ending in
//!   `_bot` (422 `invalid`) and unique among live users (422 `taken`);
//! * the bot is a user row with `bot = 1` and role `user`, and gets one API
//!   token with every scope a bot may hold (the spec's scope/role table),
//!   shown only in the creation response.

use crate::auth::access_tokens;
use crate::auth::scopes::{self, Role};
use crate::auth::Principal;
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time;
use crate::platform::validate::{self, Fields};
use crate::users::{self, NAME_MAX};
use serde_json::{json, Value as Json};

/// Suffix every bot nickname ends with.
pub const NICKNAME_SUFFIX: &str = "_bot";

/// Validated `{"bot": {"name", "nickname"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct BotInput {
    /// Display name (stored as the user's first name).
    pub name: String,
    /// Unique nickname ending in `_bot`.
    pub nickname: String,
}

/// A freshly created bot with its token (the only time the secret is visible).
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedBot {
    /// User id of the bot.
    pub id: i64,
    /// Nickname.
    pub nickname: String,
    /// Display name.
    pub name: String,
    /// The bot's API token.
    pub token: String,
    /// Creation time.
    pub created_at: String,
}

impl CreatedBot {
    /// `{"id","nickname","name","token","created_at"}`.
    pub fn to_json(&self) -> Json {
        json!({
            "id": self.id,
            "nickname": self.nickname,
            "name": self.name,
            "token": self.token,
            "created_at": self.created_at,
        })
    }
}

/// Whether `s` is a valid bot nickname: latin letters, digits and `_`,
/// ending in `_bot` with something before the suffix.
pub fn nickname_ok(s: &str) -> bool {
    s.len() > NICKNAME_SUFFIX.len()
        && s.to_ascii_lowercase().ends_with(NICKNAME_SUFFIX)
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validates a create body (422 with every field error at once).
pub fn parse_input(body: &Json) -> Result<BotInput> {
    let obj = validate::wrapper(body, "bot")?;
    let mut f = Fields::new(obj, "");
    let name = f.required_string("name", Some(NAME_MAX));
    let mut nickname = f.required_string("nickname", Some(NAME_MAX));
    if let Some(nick) = nickname.take() {
        if nickname_ok(&nick) {
            nickname = Some(nick);
        } else {
            f.fail(
                "nickname",
                ErrorCode::Invalid,
                Some(nick),
                "may contain only latin letters, digits and '_' and must end with '_bot'",
            );
        }
    }
    f.finish()?;
    match (name, nickname) {
        (Some(name), Some(nickname)) => Ok(BotInput { name, nickname }),
        _ => Err(Error::invalid(
            "bot",
            ErrorCode::Blank,
            None,
            "can't be blank",
        )),
    }
}

/// Creates a bot user and issues its token. Owner/admin only.
pub fn create(db: &dyn Db, actor: &Principal, input: BotInput) -> Result<CreatedBot> {
    if !actor.is_manager() {
        return Err(Error::forbidden(
            "bot",
            ErrorCode::Forbidden,
            "Only the owner or an admin can create bots",
        ));
    }
    let token = access_tokens::generate()?;
    let created_at = time::now().to_string();
    let granted = scopes::allowed_for(Role::User, true);
    let id = transaction(db, |db| -> Result<i64> {
        users::ensure_unique(db, "nickname", &input.nickname, 0)?;
        db.execute(
            "INSERT INTO users (first_name, nickname, role, bot, invite_status, inviter_id, created_at, updated_at) \
             VALUES (?, ?, 'user', 1, 'confirmed', ?, ?, ?)",
            &[
                input.name.clone().into(),
                input.nickname.clone().into(),
                actor.user_id.into(),
                created_at.clone().into(),
                created_at.clone().into(),
            ],
        )
        .map_err(|e| {
            if e.is_unique_violation() {
                Error::invalid(
                    "nickname",
                    ErrorCode::Taken,
                    Some(input.nickname.clone()),
                    "has already been taken",
                )
            } else {
                Error::Db(e)
            }
        })?;
        let id = db.last_insert_rowid();
        users::refresh_search(db, id)?;
        users::member_event(db, actor, id, "invite")?;
        access_tokens::store(
            db,
            actor,
            id,
            Some(&input.name),
            &granted,
            &token,
            &created_at,
        )?;
        Ok(id)
    })?;
    Ok(CreatedBot {
        id,
        nickname: input.nickname,
        name: input.name,
        token,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{self, Credential};
    use crate::testutil::{create_user, owner_principal, test_db};

    fn body(name: &str, nickname: &str) -> Json {
        json!({"bot": {"name": name, "nickname": nickname}})
    }

    #[test]
    fn nickname_must_end_in_bot() {
        assert!(nickname_ok("helper_bot"));
        assert!(nickname_ok("Helper_Bot"));
        assert!(!nickname_ok("_bot"));
        assert!(!nickname_ok("helper"));
        assert!(!nickname_ok("help-er_bot"));
        assert!(!nickname_ok("помощник_bot"));
    }

    #[test]
    fn parse_reports_every_field() {
        let Err(Error::Unprocessable(errs)) = parse_input(&body(" ", "nope")) else {
            panic!("expected 422");
        };
        let keys: Vec<_> = errs.iter().map(|e| (e.key.as_str(), e.code)).collect();
        assert_eq!(
            keys,
            [("name", ErrorCode::Blank), ("nickname", ErrorCode::Invalid)]
        );
        assert!(parse_input(&json!({"bot": {"name": "A"}})).is_err());
        assert_eq!(
            parse_input(&body(" Helper ", "helper_bot")).ok(),
            Some(BotInput {
                name: "Helper".into(),
                nickname: "helper_bot".into()
            })
        );
    }

    #[test]
    fn creates_a_bot_user_with_a_bot_token() {
        let db = test_db();
        let bot = create(
            &db,
            &owner_principal(),
            parse_input(&body("Helper", "helper_bot")).expect("valid"),
        )
        .expect("created");
        let user = users::get(&db, bot.id).expect("user");
        assert_eq!(user["bot"], json!(true));
        assert_eq!(user["role"], json!("user"));
        assert_eq!(user["nickname"], json!("helper_bot"));
        assert_eq!(user["first_name"], json!("Helper"));
        let p =
            auth::authenticate(&db, None, Some(&format!("Bearer {}", bot.token))).expect("auth");
        assert_eq!(p.user_id, bot.id);
        assert!(p.bot && !p.is_manager());
        assert!(p.scopes.contains(&"bot_self:write"));
        assert!(p.scopes.contains(&"messages:create"));
        assert!(!p.scopes.contains(&"bots:write"));
        assert!(matches!(p.credential, Credential::Personal { .. }));

        let again = create(
            &db,
            &owner_principal(),
            parse_input(&body("Other", "HELPER_bot")).expect("valid"),
        );
        let Err(Error::Unprocessable(errs)) = again else {
            panic!("expected 422");
        };
        assert_eq!(
            (errs[0].key.as_str(), errs[0].code),
            ("nickname", ErrorCode::Taken)
        );
    }

    #[test]
    fn only_managers_create_bots() {
        let db = test_db();
        let user_id = create_user(&db, "u@example.com", "user");
        let actor = Principal {
            user_id,
            role: Role::User,
            bot: false,
            scopes: scopes::allowed_for(Role::User, false),
            credential: Credential::AdminToken,
        };
        let r = create(
            &db,
            &actor,
            parse_input(&body("X", "x_bot")).expect("valid"),
        );
        assert!(matches!(r, Err(Error::Forbidden(_))));
    }
}
