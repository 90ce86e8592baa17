//! Personal access tokens (our extension under `/api/shared/v1/access_tokens`)
//! and `GET /oauth/token/info`.
//!
//! Tokens are 256-bit random values (base64url), shown once at creation and
//! stored only as SHA-256. Rules:
//! * owner/admin may issue for any live non-bot user, list and revoke anyone's
//!   tokens, with a token holding `users:update`; others (and narrower
//!   tokens) only their own;
//! * guests and multi-guests cannot own tokens (403);
//! * requested scopes must be ones the target's role may hold (422) and ones
//!   the issuing token holds itself (403), so a token can never mint a more
//!   powerful one; omitted scopes = target role's scopes ∩ issuer's scopes.

use crate::auth::scopes::{self, Role};
use crate::auth::{hash_token, Credential, Principal};
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::events::{self, Event};
use crate::platform::random;
use crate::platform::time;
use crate::platform::validate::{self, Fields};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as Json};

/// `maxLength` of a token name.
pub const NAME_MAX: usize = 255;
/// Random bytes per token (256 bits).
const TOKEN_BYTES: usize = 32;

/// Validated `{"access_token": {"user_id", "name", "scopes"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueRequest {
    /// Owner of the new token (default: the caller).
    pub user_id: Option<i64>,
    /// Label.
    pub name: Option<String>,
    /// Requested scopes (default: everything allowed).
    pub scopes: Option<Vec<String>>,
}

/// A freshly issued token (the only time the secret is visible).
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Label.
    pub name: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<&'static str>,
    /// The secret.
    pub token: String,
    /// Creation time.
    pub created_at: String,
}

impl Issued {
    /// `{"id","user_id","name","scopes","token","created_at"}`.
    pub fn to_json(&self) -> Json {
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "scopes": self.scopes,
            "token": self.token,
            "created_at": self.created_at,
        })
    }
}

/// Generates a new random token from the OS / WASI random source.
pub fn generate() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random::bytes::<TOKEN_BYTES>()?))
}

/// Display form of a token: first 8 and last 4 characters.
pub fn mask(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < 16 {
        return "*".repeat(8);
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

/// Validates an issue request body.
pub fn parse_issue(body: &Json) -> Result<IssueRequest> {
    let obj = validate::wrapper(body, "access_token")?;
    let mut f = Fields::new(obj, "");
    let req = IssueRequest {
        user_id: f.i64("user_id"),
        name: f.string("name", Some(NAME_MAX)).filter(|s| !s.is_empty()),
        scopes: f.string_array("scopes", None),
    };
    f.finish()?;
    Ok(req)
}

/// The user a token is issued for: role and bot flag of a live user (404 on
/// `user_id` otherwise). Read here rather than through the users area, which
/// sits above authentication.
struct TokenHolder {
    role: Role,
    bot: bool,
}

fn token_holder(db: &dyn Db, user_id: i64) -> Result<TokenHolder> {
    let row = db
        .query_row(
            "SELECT role, bot FROM users WHERE id = ? AND deleted_at IS NULL",
            &[user_id.into()],
        )?
        .ok_or_else(|| Error::not_found("user_id", user_id))?;
    Ok(TokenHolder {
        role: Role::parse(&row.string(0)?).ok_or(Error::Internal("bad role".into()))?,
        bot: row.bool(1)?,
    })
}

/// Issues a token.
pub fn issue(db: &dyn Db, actor: &Principal, req: IssueRequest) -> Result<Issued> {
    let user_id = req.user_id.unwrap_or(actor.user_id);
    if user_id != actor.user_id && !actor.manages_tokens() {
        return Err(Error::forbidden(
            "user_id",
            ErrorCode::Forbidden,
            "Only the owner or an admin can issue tokens for other users",
        ));
    }
    let target = token_holder(db, user_id)?;
    if target.bot {
        return Err(Error::invalid(
            "user_id",
            ErrorCode::NotApplicable,
            Some(user_id.to_string()),
            "Bots get their tokens from the bots API",
        ));
    }
    if matches!(target.role, Role::Guest | Role::MultiGuest) {
        return Err(Error::forbidden(
            "user_id",
            ErrorCode::Forbidden,
            "Guests cannot own access tokens",
        ));
    }
    let granted: Vec<&'static str> = match &req.scopes {
        None => scopes::allowed_for(target.role, false)
            .into_iter()
            .filter(|s| actor.scopes.contains(s))
            .collect(),
        Some(list) => {
            if list.is_empty() {
                return Err(Error::invalid(
                    "scopes",
                    ErrorCode::Blank,
                    None,
                    "can't be blank",
                ));
            }
            let mut errors = Vec::new();
            let mut out: Vec<&'static str> = Vec::new();
            for (i, s) in list.iter().enumerate() {
                match scopes::lookup(s) {
                    None => errors.push(FieldError::new(
                        format!("scopes.{i}"),
                        ErrorCode::Inclusion,
                        Some(s.clone()),
                        "is not a known scope",
                    )),
                    Some(sc) if !scopes::allowed(target.role, false, sc) => {
                        errors.push(FieldError::new(
                            format!("scopes.{i}"),
                            ErrorCode::NotApplicable,
                            Some(s.clone()),
                            "is not available to the user's role",
                        ))
                    }
                    Some(sc) => {
                        if !out.contains(&sc) {
                            out.push(sc);
                        }
                    }
                }
            }
            if !errors.is_empty() {
                return Err(Error::Unprocessable(errors));
            }
            if let Some(missing) = out.iter().find(|s| !actor.scopes.contains(s)) {
                return Err(Error::Forbidden(FieldError::new(
                    "scopes",
                    ErrorCode::Forbidden,
                    Some((*missing).to_owned()),
                    "A token cannot grant a scope it does not hold itself",
                )));
            }
            out
        }
    };
    let token = generate()?;
    let created_at = time::now().to_string();
    let id = transaction(db, |db| {
        store(
            db,
            actor,
            user_id,
            req.name.as_deref(),
            &granted,
            &token,
            &created_at,
        )
    })?;
    Ok(Issued {
        id,
        user_id,
        name: req.name,
        scopes: granted,
        token,
        created_at,
    })
}

/// Stores a new token of `user_id` (only its hash and hint) and records its
/// event; call inside a transaction. Returns the row id.
pub(crate) fn store(
    db: &dyn Db,
    actor: &Principal,
    user_id: i64,
    name: Option<&str>,
    scopes: &[&'static str],
    token: &str,
    created_at: &str,
) -> Result<i64> {
    db.execute(
        "INSERT INTO access_tokens (user_id, name, token_sha256, token_hint, scopes, created_by, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            user_id.into(),
            name.map(str::to_owned).into(),
            hash_token(token).into(),
            mask(token).into(),
            json!(scopes).to_string().into(),
            actor.user_id.into(),
            created_at.to_owned().into(),
        ],
    )?;
    let id = db.last_insert_rowid();
    token_event(db, actor, id, user_id, "create")?;
    Ok(id)
}

fn token_event(db: &dyn Db, actor: &Principal, id: i64, user_id: i64, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::ACCESS_TOKEN,
            event,
            entity_type: "AccessToken",
            entity_id: id,
            actor: Some(actor.user_id),
            payload: json!({"access_token_id": id, "user_id": user_id}),
        },
    )?;
    Ok(())
}

/// Active tokens of a user (the caller by default; others need owner/admin), without secrets.
pub fn list(db: &dyn Db, actor: &Principal, user_id: Option<i64>) -> Result<Vec<Json>> {
    let user_id = user_id.unwrap_or(actor.user_id);
    if user_id != actor.user_id && !actor.manages_tokens() {
        return Err(Error::forbidden(
            "user_id",
            ErrorCode::Forbidden,
            "Only the owner or an admin can list other users' tokens",
        ));
    }
    db.query(
        "SELECT id, user_id, name, scopes, token_hint, created_at, last_used_at FROM access_tokens \
         WHERE user_id = ? AND revoked_at IS NULL ORDER BY id",
        &[user_id.into()],
    )?
    .iter()
    .map(|r| {
        let scopes: Json = serde_json::from_str(&r.string(3)?).unwrap_or_else(|_| json!([]));
        Ok(json!({
            "id": r.i64(0)?,
            "user_id": r.i64(1)?,
            "name": r.opt_string(2)?,
            "scopes": scopes,
            "token": r.string(4)?,
            "created_at": r.string(5)?,
            "last_used_at": r.opt_string(6)?,
        }))
    })
    .collect()
}

/// Revokes a token at once. Own tokens, or any token for owner/admin; others → 404.
pub fn revoke(db: &dyn Db, actor: &Principal, id: i64) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let row = db
            .query_row(
                "SELECT user_id FROM access_tokens WHERE id = ? AND revoked_at IS NULL",
                &[id.into()],
            )?
            .ok_or_else(|| Error::not_found("id", id))?;
        let owner = row.i64(0)?;
        if owner != actor.user_id && !actor.manages_tokens() {
            return Err(Error::not_found("id", id));
        }
        db.execute(
            "UPDATE access_tokens SET revoked_at = ? WHERE id = ?",
            &[time::now().to_string().into(), id.into()],
        )?;
        token_event(db, actor, id, owner, "delete")
    })
}

/// `AccessTokenInfo` of the calling credential (`GET /oauth/token/info`);
/// its `scopes` are the official ones the token holds.
pub fn token_info(db: &dyn Db, p: &Principal, raw_token: &str) -> Result<Json> {
    let official: Vec<&str> = p
        .scopes
        .iter()
        .copied()
        .filter(|s| scopes::is_official(s))
        .collect();
    match &p.credential {
        Credential::AdminToken => {
            let created_at = db
                .query_row(
                    "SELECT created_at FROM users WHERE id = ?",
                    &[p.user_id.into()],
                )?
                .map(|r| r.string(0))
                .transpose()?
                .unwrap_or_else(|| time::now().to_string());
            Ok(json!({
                "id": 0,
                "token": mask(raw_token),
                "name": "admin_token",
                "user_id": p.user_id,
                "scopes": official,
                "created_at": created_at,
                "revoked_at": null,
                "expires_in": null,
                "last_used_at": null,
            }))
        }
        Credential::Personal {
            id,
            hint,
            name,
            created_at,
            last_used_at,
            ..
        } => Ok(json!({
            "id": id,
            "token": hint,
            "name": name,
            "user_id": p.user_id,
            "scopes": official,
            "created_at": created_at,
            "revoked_at": null,
            "expires_in": null,
            "last_used_at": last_used_at,
        })),
        Credential::IncomingWebhook => Err(Error::Unauthorized("Access token is invalid")),
    }
}
