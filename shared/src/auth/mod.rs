//! Authentication (`Authorization: Bearer <token>` → [`Principal`]) and
//! scope checks; [`scopes`] (the catalogue and what each role may hold),
//! [`access_tokens`] (personal tokens) and [`context`] (the request context
//! every router uses).
//!
//! Imports only `crate::platform`; every area imports this.
//!
//! Two kinds of credentials exist:
//! * the bootstrap `admin_token` Spin variable, which acts as the workspace
//!   owner (user 1) with every scope the owner may hold (not a bot's
//!   `bot_self:*`);
//! * personal access tokens (see [`crate::auth::access_tokens`]), stored only as a
//!   SHA-256 hash. The effective scopes of a token are its granted scopes
//!   intersected with what the user's *current* role may hold, so a demoted
//!   user loses manager scopes at once.

pub mod access_tokens;
pub mod context;
pub mod scopes;

use crate::auth::scopes::Role;
use crate::platform::db::{Db, Rider, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time::{self, Timestamp};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Id of the workspace owner created by the first migration.
pub const OWNER_ID: i64 = 1;

/// Which credential authenticated the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// The bootstrap `admin_token` variable.
    AdminToken,
    /// A personal access token row.
    Personal {
        /// `access_tokens.id`.
        id: i64,
        /// Display form (first 8 and last 4 characters).
        hint: String,
        /// Token name.
        name: Option<String>,
        /// Scopes granted at issue time.
        granted: Vec<String>,
        /// Issue time.
        created_at: String,
        /// Last use before this request.
        last_used_at: Option<String>,
    },
    /// A bot's secret incoming-webhook URL: the bot posts what an external
    /// service sent (see [`crate::webhooks::incoming`]); no bearer token.
    IncomingWebhook,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// Acting user's id (bots are users with `bot = 1`).
    pub user_id: i64,
    /// Acting user's workspace role.
    pub role: Role,
    /// Whether the acting user is a bot.
    pub bot: bool,
    /// Effective scopes.
    pub scopes: Vec<&'static str>,
    /// The credential used.
    pub credential: Credential,
}

impl Principal {
    /// Fails with 403 `insufficient_scope` unless the principal holds `scope`.
    pub fn require(&self, scope: &'static str) -> Result<()> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(Error::InsufficientScope(scope))
        }
    }

    /// Whether the principal is an owner or admin (and not a bot).
    pub fn is_manager(&self) -> bool {
        !self.bot && self.role.is_manager()
    }

    /// Whether the principal may manage other users' access tokens: an
    /// owner or admin whose token holds `users:update`, so that a narrow
    /// token given to an integration cannot list or revoke anyone else's.
    pub fn manages_tokens(&self) -> bool {
        self.is_manager() && self.scopes.contains(&"users:update")
    }

    /// Fails with a 403 `ApiError` (`forbidden` on `key`, with `message`)
    /// unless the principal is an owner or admin.
    pub fn require_manager(&self, key: &str, message: &str) -> Result<()> {
        if self.is_manager() {
            Ok(())
        } else {
            Err(Error::forbidden(key, ErrorCode::Forbidden, message))
        }
    }
}

/// Lowercase hex SHA-256 of a token, the only form stored.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time string equality (compares SHA-256 digests, so lengths leak nothing).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let da = Sha256::digest(a.as_bytes());
    let db = Sha256::digest(b.as_bytes());
    da.as_slice().ct_eq(db.as_slice()).into()
}

/// Extracts the token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(Error::Unauthorized("Access token is missing"))?;
    let (scheme, token) = header.split_once(' ').ok_or(Error::Unauthorized(
        "Authorization header must be 'Bearer <token>'",
    ))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Error::Unauthorized(
            "Authorization header must be 'Bearer <token>'",
        ));
    }
    Ok(token)
}

/// How often `last_used_at` is refreshed (ms), to avoid a write per request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// What [`authenticate`] reads about a token and its user.
const TOKEN_COLUMNS: &[&str] = &[
    "t.id",
    "t.token_sha256",
    "t.token_hint",
    "t.name",
    "t.scopes",
    "t.created_at",
    "t.last_used_at",
    "t.revoked_at",
    "u.id",
    "u.role",
    "u.bot",
    "u.suspended",
    "u.deleted_at",
];

/// The token lookup of a request that carries a personal token, to be read
/// along with the connection's setup when it opens (see [`Rider`]): every
/// such request then authenticates without a statement of its own. `None`
/// for the admin token and for a missing or malformed header, which need no
/// lookup.
pub fn token_rider(admin_token: Option<&str>, authorization: Option<&str>) -> Option<Rider> {
    let token = bearer(authorization).ok()?;
    if is_admin(admin_token, token) {
        return None;
    }
    let hash = hash_token(token);
    Some(Rider {
        key: hash.clone(),
        columns: TOKEN_COLUMNS.iter().map(|c| c.to_string()).collect(),
        joins:
            "LEFT JOIN access_tokens t ON t.token_sha256 = ? LEFT JOIN users u ON u.id = t.user_id",
        params: vec![hash.into()],
    })
}

/// Whether `authorization` carries the configured admin token (`None` or
/// empty disables it), which [`authenticate`] takes for the owner.
pub fn is_admin_token(admin_token: Option<&str>, authorization: Option<&str>) -> bool {
    bearer(authorization).is_ok_and(|token| is_admin(admin_token, token))
}

/// [`is_admin_token`] for a bearer token already read from its header.
fn is_admin(admin_token: Option<&str>, token: &str) -> bool {
    admin_token.is_some_and(|admin| !admin.is_empty() && constant_time_eq(token, admin))
}

/// The lookup [`token_rider`] made for `hash` when the connection opened:
/// `Some(None)` when it found no token with its user (the rider's joins are
/// `LEFT JOIN`s; the lookup's own query joins them inner). `None` when
/// there is none to use ([`Db::prefetched`]), so the caller reads the token
/// itself.
fn prefetched_token(db: &dyn Db, hash: &str) -> Option<Option<Row>> {
    let row = db.prefetched(hash)?;
    let found = |r: &Row| {
        [TOKEN_ID, USER_ID]
            .iter()
            .all(|&i| r.0.get(i).is_some_and(|v| *v != Value::Null))
    };
    Some(Some(row).filter(found))
}

/// Where [`TOKEN_COLUMNS`] has the token's id and its user's.
const TOKEN_ID: usize = 0;
const USER_ID: usize = 8;

/// Authenticates an `Authorization` header value.
///
/// `admin_token` is the configured bootstrap token (`None`/empty disables it).
pub fn authenticate(
    db: &dyn Db,
    admin_token: Option<&str>,
    authorization: Option<&str>,
) -> Result<Principal> {
    let token = bearer(authorization)?;
    if is_admin(admin_token, token) {
        return Ok(Principal {
            user_id: OWNER_ID,
            role: Role::Owner,
            bot: false,
            scopes: scopes::allowed_for(Role::Owner, false),
            credential: Credential::AdminToken,
        });
    }
    let hash = hash_token(token);
    let row = match prefetched_token(db, &hash) {
        Some(row) => row,
        None => db.query_row(
            &format!(
                "SELECT {} FROM access_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_sha256 = ?",
                TOKEN_COLUMNS.join(", ")
            ),
            &[hash.clone().into()],
        )?,
    }
    .ok_or(Error::Unauthorized("Access token is invalid"))?;
    if !constant_time_eq(&row.string(1)?, &hash) {
        return Err(Error::Unauthorized("Access token is invalid"));
    }
    if row.opt_string(7)?.is_some() {
        return Err(Error::Unauthorized("Access token was revoked"));
    }
    if row.opt_string(12)?.is_some() {
        return Err(Error::Unauthorized("Access token is invalid"));
    }
    if row.bool(11)? {
        return Err(Error::Unauthorized("User is suspended"));
    }
    let role = Role::parse(&row.string(9)?).ok_or(Error::Internal("bad role".into()))?;
    let bot = row.bool(10)?;
    let granted: Vec<String> = serde_json::from_str(&row.string(4)?)
        .map_err(|e| Error::Internal(format!("bad scopes json: {e}")))?;
    let effective = granted
        .iter()
        .filter_map(|s| scopes::lookup(s))
        .filter(|s| scopes::allowed(role, bot, s))
        .collect();
    let token_id = row.i64(TOKEN_ID)?;
    let last_used_at = row.opt_string(6)?;
    touch_last_used(db, token_id, last_used_at.as_deref());
    Ok(Principal {
        user_id: row.i64(USER_ID)?,
        role,
        bot,
        scopes: effective,
        credential: Credential::Personal {
            id: token_id,
            hint: row.string(2)?,
            name: row.opt_string(3)?,
            granted,
            created_at: row.string(5)?,
            last_used_at,
        },
    })
}

/// Best-effort, rate-limited update of `last_used_at` (failures ignored: it
/// must never fail an otherwise valid request).
fn touch_last_used(db: &dyn Db, token_id: i64, last_used: Option<&str>) {
    let now = time::now();
    let stale = last_used
        .and_then(Timestamp::parse)
        .is_none_or(|t| now.0 - t.0 >= LAST_USED_RESOLUTION_MS);
    if stale {
        let _ = db.execute(
            "UPDATE access_tokens SET last_used_at = ? WHERE id = ?",
            &[now.to_string().into(), token_id.into()],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::access_tokens::{self, IssueRequest};
    use crate::testutil::*;

    #[test]
    fn a_token_read_with_the_setup_authenticates_without_a_statement_of_its_own() {
        let db = test_db();
        let user = create_user(&db, "rider@example.com", "user");
        let issue = |db: &dyn Db| {
            let req = IssueRequest {
                user_id: Some(user),
                name: None,
                scopes: None,
            };
            access_tokens::issue(db, &owner_principal(), req).unwrap()
        };
        let token = issue(&db).token;
        // Used just now, so no last_used_at write follows.
        authenticate(&db, Some(ADMIN), Some(&format!("Bearer {token}"))).unwrap();
        let opened = |header: &str| {
            let rec = RecordingDb::new(&db);
            let riders: Vec<Rider> = token_rider(Some(ADMIN), Some(header)).into_iter().collect();
            rec.read_setup_with(&riders).unwrap();
            rec.clear();
            rec
        };

        let header = format!("Bearer {token}");
        let rec = opened(&header);
        let p = authenticate(&rec, Some(ADMIN), Some(&header)).unwrap();
        assert_eq!(p.user_id, user);
        assert_eq!(rec.statements(), Vec::<String>::new());

        // The columns the found check reads are the two ids.
        assert_eq!(TOKEN_COLUMNS[TOKEN_ID], "t.id");
        assert_eq!(TOKEN_COLUMNS[USER_ID], "u.id");

        // An unknown token is refused without a statement too.
        let rec = opened("Bearer not-a-token");
        let e = authenticate(&rec, Some(ADMIN), Some("Bearer not-a-token")).unwrap_err();
        assert_eq!(e.status(), 401);
        assert_eq!(rec.statements(), Vec::<String>::new());

        // The admin token and a malformed header need no rider.
        assert!(token_rider(Some(ADMIN), Some(&format!("Bearer {ADMIN}"))).is_none());
        assert!(token_rider(Some(ADMIN), Some("Basic abc")).is_none());
        assert!(token_rider(Some(ADMIN), None).is_none());

        // A revoked token read with the setup is refused as revoked.
        let second = issue(&db);
        let header = format!("Bearer {}", second.token);
        let id = second.to_json()["id"].as_i64().unwrap();
        access_tokens::revoke(&db, &owner_principal(), id).unwrap();
        let rec = opened(&header);
        let e = authenticate(&rec, Some(ADMIN), Some(&header)).unwrap_err();
        assert_eq!(
            e.to_string(),
            Error::Unauthorized("Access token was revoked").to_string()
        );
    }

    #[test]
    fn a_token_read_before_a_migration_is_read_again_after_it() {
        let dir = std::env::temp_dir().join(format!("rider-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let db = crate::platform::db::NativeDb::open(&path).unwrap();
        crate::platform::migrate::migrate(&db).unwrap();
        let user = create_user(&db, "old@example.com", "user");
        let req = IssueRequest {
            user_id: Some(user),
            name: None,
            scopes: None,
        };
        let token = access_tokens::issue(&db, &owner_principal(), req)
            .unwrap()
            .token;
        let header = format!("Bearer {token}");
        // The connection opens on a schema one version behind.
        let latest = crate::platform::migrate::latest_version();
        db.execute(&format!("PRAGMA user_version = {}", latest - 1), &[])
            .unwrap();
        let fresh = crate::platform::db::NativeDb::open_bare(&path).unwrap();
        let rec = RecordingDb::new(&fresh);
        let riders: Vec<Rider> = token_rider(Some(ADMIN), Some(&header))
            .into_iter()
            .collect();
        rec.read_setup_with(&riders).unwrap();
        db.execute(&format!("PRAGMA user_version = {latest}"), &[])
            .unwrap();
        rec.clear();
        let p = authenticate(&rec, Some(ADMIN), Some(&header)).unwrap();
        assert_eq!(p.user_id, user);
        assert!(
            rec.statements()
                .iter()
                .any(|s| s.contains("FROM access_tokens t JOIN users u")),
            "read again: {:?}",
            rec.statements()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn admin_token_is_owner_with_every_owner_scope() {
        let db = test_db();
        let p = authenticate(&db, Some(ADMIN), Some("Bearer admin-secret")).unwrap();
        assert_eq!(p.user_id, 1);
        assert_eq!(p.role, Role::Owner);
        assert_eq!(p.scopes, scopes::allowed_for(Role::Owner, false));
        assert!(p.scopes.contains(&"audit_events:read") && !p.scopes.contains(&"bot_self:write"));
        let e = authenticate(&db, Some(ADMIN), Some("Bearer admin-secreT")).unwrap_err();
        assert_eq!(e.status(), 401);
        // An unset admin token never matches an empty bearer.
        assert_eq!(
            authenticate(&db, None, Some("Bearer "))
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_401() {
        let db = test_db();
        for h in [
            None,
            Some(""),
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer nope"),
        ] {
            let e = authenticate(&db, Some(ADMIN), h).unwrap_err();
            assert_eq!(e.status(), 401, "{h:?}");
            assert_eq!(e.body()["error"], "invalid_token");
        }
    }

    #[test]
    fn personal_token_scopes_revocation_and_suspension() {
        let db = test_db();
        let owner = owner_principal();
        let uid = create_user(&db, "a@example.com", "user");
        let issued = access_tokens::issue(
            &db,
            &owner,
            IssueRequest {
                user_id: Some(uid),
                name: Some("ci".into()),
                scopes: Some(vec!["users:read".into()]),
            },
        )
        .unwrap();
        let header = format!("Bearer {}", issued.token);
        let p = authenticate(&db, Some(ADMIN), Some(&header)).unwrap();
        assert_eq!(p.user_id, uid);
        assert!(p.require("users:read").is_ok());
        let e = p.require("messages:read").unwrap_err();
        assert_eq!(e.status(), 403);
        assert_eq!(e.body()["error"], "insufficient_scope");

        // Suspended user -> 401.
        db.execute("UPDATE users SET suspended = 1 WHERE id = ?", &[uid.into()])
            .unwrap();
        assert_eq!(
            authenticate(&db, Some(ADMIN), Some(&header))
                .unwrap_err()
                .status(),
            401
        );
        db.execute("UPDATE users SET suspended = 0 WHERE id = ?", &[uid.into()])
            .unwrap();
        assert!(authenticate(&db, Some(ADMIN), Some(&header)).is_ok());

        // Revoked -> 401 immediately.
        access_tokens::revoke(&db, &owner, issued.id).unwrap();
        assert_eq!(
            authenticate(&db, Some(ADMIN), Some(&header))
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn a_narrow_admin_token_manages_only_its_users_own_tokens() {
        let db = test_db();
        let owner = owner_principal();
        let issue = |user_id: i64, scopes: &[&str]| {
            access_tokens::issue(
                &db,
                &owner,
                IssueRequest {
                    user_id: Some(user_id),
                    name: None,
                    scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
                },
            )
            .expect("issued")
        };
        let other = create_user(&db, "other@example.com", "user");
        let theirs = issue(other, &["users:read"]);
        let narrow = issue(1, &["search:users"]);
        let header = format!("Bearer {}", narrow.token);
        let p = authenticate(&db, Some(ADMIN), Some(&header)).expect("narrow");
        assert!(p.is_manager() && !p.manages_tokens());
        let e = access_tokens::revoke(&db, &p, theirs.id).expect_err("not theirs to revoke");
        assert_eq!(e.status(), 404);
        assert_eq!(
            access_tokens::list(&db, &p, Some(other))
                .expect_err("nor to list")
                .status(),
            403
        );
        assert_eq!(access_tokens::list(&db, &p, None).expect("own").len(), 1);
        // With users:update the same owner manages everyone's tokens.
        access_tokens::revoke(&db, &owner, theirs.id).expect("revoked");
    }

    #[test]
    fn tokens_are_stored_only_as_hash() {
        let db = test_db();
        let owner = owner_principal();
        let issued = access_tokens::issue(
            &db,
            &owner,
            IssueRequest {
                user_id: None,
                name: None,
                scopes: None,
            },
        )
        .unwrap();
        assert!(issued.token.len() >= 40);
        let rows = db
            .query("SELECT token_sha256, token_hint FROM access_tokens", &[])
            .unwrap();
        assert_eq!(rows.len(), 1);
        let stored = rows[0].string(0).unwrap();
        assert_eq!(stored, hash_token(&issued.token));
        assert!(!stored.contains(&issued.token));
        assert!(!rows[0].string(1).unwrap().contains(&issued.token));
    }

    #[test]
    fn demoted_user_loses_manager_scopes() {
        let db = test_db();
        let owner = owner_principal();
        let uid = create_user(&db, "adm@example.com", "admin");
        let issued = access_tokens::issue(
            &db,
            &owner,
            IssueRequest {
                user_id: Some(uid),
                name: None,
                scopes: None,
            },
        )
        .unwrap();
        let header = format!("Bearer {}", issued.token);
        let p = authenticate(&db, None, Some(&header)).unwrap();
        assert!(p.require("users:create").is_ok());
        db.execute("UPDATE users SET role = 'user' WHERE id = ?", &[uid.into()])
            .unwrap();
        let p = authenticate(&db, None, Some(&header)).unwrap();
        assert_eq!(p.require("users:create").unwrap_err().status(), 403);
        assert!(p.require("users:read").is_ok());
    }
}
