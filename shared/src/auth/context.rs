//! The request context every area router works in: the per-request
//! configuration, authentication with the operation's scope, the JSON body,
//! and [`serve`], the one place errors become `ApiError`/`OAuthError`
//! responses.

use crate::auth::{self, Principal};
use crate::platform::db::{Db, Rider};
use crate::platform::error::{Error, Result};
use crate::platform::http::{Request, Response};
use crate::platform::{migrate, validate};
use serde_json::Value as Json;

/// Mount point of the public API.
pub const PREFIX: &str = "/api/shared/v1";

/// Per-request configuration supplied by the component.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Value of the `admin_token` Spin variable (`None` = not configured).
    pub admin_token: Option<String>,
    /// How a request sends HTTP while it runs (a form's submission to its
    /// bot); `None` where nothing can be sent, as in the native unit tests.
    pub transport: Option<&'static dyn crate::webhooks::delivery::Transport>,
    /// The `webhook_allow_private` variable: webhooks may reach loopback
    /// and private addresses.
    pub webhook_allow_private: bool,
    /// Reads any other variable when a route needs it (`None` in native
    /// tests): settings only a few routes use, such as
    /// `audit_retention_days` and `max_file_bytes`, cost no host call on
    /// every other request.
    pub variable: Option<fn(&str) -> Option<String>>,
}

impl Config {
    /// A variable that must be a positive integer; `None` when it is unset,
    /// unreadable or not positive, so the caller's default applies.
    pub fn positive(&self, name: &str) -> Option<i64> {
        self.variable
            .and_then(|read| read(name))
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| *n > 0)
    }
}

/// One request being routed: the database, the configuration and the request.
pub struct Ctx<'a> {
    /// Storage.
    pub db: &'a dyn Db,
    /// Component configuration.
    pub cfg: &'a Config,
    /// The request.
    pub req: &'a Request,
}

impl Ctx<'_> {
    /// Authenticates the bearer token and checks `scope`.
    pub fn auth(&self, scope: Option<&'static str>) -> Result<Principal> {
        let p = auth::authenticate(
            self.db,
            self.cfg.admin_token.as_deref(),
            self.req.header("authorization"),
        )?;
        if let Some(s) = scope {
            p.require(s)?;
        }
        Ok(p)
    }

    /// The body parsed as JSON (400 when malformed).
    pub fn body(&self) -> Result<Json> {
        validate::parse_json(&self.req.body)
    }
}

/// The reads that ride on the setup read of the connection a request opens
/// ([`Rider`]): its token's lookup; for a request that may write, whether
/// any bot listens ([`crate::webhooks::fanout::listening_rider`]); and for
/// a request whose first check is the caller's standing in a chat it names
/// (`GET`/`POST /messages`), that standing
/// ([`crate::chats::standing_rider`]), for the token's user or the admin
/// token's owner. The standing rider comes last: it may read the token
/// rider's user.
pub fn riders(cfg: &Config, req: &Request) -> Vec<Rider> {
    let authorization = req.header("authorization");
    let token = crate::auth::token_rider(cfg.admin_token.as_deref(), authorization);
    let listening = crate::webhooks::fanout::listening_rider(&req.method);
    let user = if token.is_some() {
        Some(crate::chats::StandingUser::TokenUser)
    } else {
        crate::auth::is_admin_token(cfg.admin_token.as_deref(), authorization)
            .then_some(crate::chats::StandingUser::Id(crate::auth::OWNER_ID))
    };
    let standing = user.and_then(|user| {
        crate::messages::routes::first_checked_chat(req)
            .map(|chat| crate::chats::standing_rider(chat, user))
    });
    token.into_iter().chain(listening).chain(standing).collect()
}

/// A component's entry point: one request against the database
/// (see `crate::components`).
pub type Handler = fn(&dyn Db, &Config, &Request) -> Response;

/// An area's router: the request context and the path segments after
/// `/api/shared/v1`.
pub type Router = fn(&Ctx<'_>, &[&str]) -> Result<Response>;

/// Runs one request through an area's `router` (the path segments after
/// [`PREFIX`]); see [`respond`].
pub fn serve(db: &dyn Db, cfg: &Config, req: &Request, router: Router) -> Response {
    respond(db, cfg, req, |ctx| {
        let rest = req.path.strip_prefix(PREFIX).ok_or(Error::RouteNotFound)?;
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        router(ctx, &segs)
    })
}

/// Runs one request: the schema brought up to date first (no statement
/// when it already is), then `handler`, whose error is rendered here, the
/// one place errors become `ApiError`/`OAuthError` responses. Paths outside
/// [`PREFIX`] (a file's own address) come through here too.
pub fn respond(
    db: &dyn Db,
    cfg: &Config,
    req: &Request,
    handler: impl FnOnce(&Ctx<'_>) -> Result<Response>,
) -> Response {
    let ctx = Ctx { db, cfg, req };
    migrate::migrate(db)
        .map_err(Error::from)
        .and_then(|_| handler(&ctx))
        .unwrap_or_else(|e| {
            if e.status() >= 500 {
                // The answer says only "internal error"; the operator's log
                // says which.
                eprintln!("{} {}: {e}", req.method, req.path);
            }
            Response::error(&e)
        })
}
