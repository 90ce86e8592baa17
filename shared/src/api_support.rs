//! Request plumbing shared by every area router ([`crate::api`],
//! [`crate::chats_api`]): per-request configuration, the authenticate-and-check-scope
//! context, path id parsing and common query parameter readers.

use crate::api::PREFIX;
use crate::auth::{self, Principal};
use crate::db::Db;
use crate::error::{Error, ErrorCode, FieldError, Result};
use crate::http::{Query, Request, Response};
use crate::time::Timestamp;
use crate::{migrate, validate};
use serde_json::Value as Json;

/// `limit` bound (and default) of the list methods.
pub const LIST_MAX: i64 = 50;

/// Per-request configuration supplied by the component.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Value of the `admin_token` Spin variable (`None` = not configured).
    pub admin_token: Option<String>,
}

/// Parses a positive integer path parameter; anything else is a 404 on `key`.
pub fn id_param(raw: &str, key: &str) -> Result<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::NotFound(FieldError::new(
            key,
            ErrorCode::NotFound,
            Some(raw.to_owned()),
            "Object not found",
        ))
    })
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
    /// Migrates if needed, authenticates the bearer token and checks `scope`.
    pub fn auth(&self, scope: Option<&'static str>) -> Result<Principal> {
        migrate::migrate(self.db)?;
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

/// An area's router: the request context and the path segments after
/// `/api/shared/v1`.
pub type Router = fn(&Ctx<'_>, &[&str]) -> Result<Response>;

/// Runs one request through an area's `router` and renders any error, in
/// the one place errors become `ApiError`/`OAuthError` responses.
pub fn serve(db: &dyn Db, cfg: &Config, req: &Request, router: Router) -> Response {
    let ctx = Ctx { db, cfg, req };
    req.path
        .strip_prefix(PREFIX)
        .ok_or(Error::RouteNotFound)
        .and_then(|rest| {
            let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
            router(&ctx, &segs)
        })
        .unwrap_or_else(|e| Response::error(&e))
}

/// 400 `ApiError` for a bad query parameter.
pub fn bad_query(key: &str, code: ErrorCode, value: &str) -> Error {
    Error::bad_request(key, code, Some(value.to_owned()), "Invalid query parameter")
}

/// Optional boolean query parameter (`true`/`false`); anything else is a 400.
pub fn query_bool(q: &Query, key: &str) -> Result<Option<bool>> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => Err(bad_query(key, ErrorCode::Invalid, other)),
    }
}

/// Optional date-time query parameter; unparsable values are a 400.
pub fn query_time(q: &Query, key: &str) -> Result<Option<Timestamp>> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Timestamp::parse(s)
            .map(Some)
            .ok_or_else(|| bad_query(key, ErrorCode::Invalid, s)),
    }
}

/// Optional enum query parameter: `default` when absent, 400 `inclusion` when unknown.
pub fn query_enum(
    q: &Query,
    key: &str,
    allowed: &[&'static str],
    default: &'static str,
) -> Result<&'static str> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(v) => allowed
            .iter()
            .find(|a| **a == v)
            .copied()
            .ok_or_else(|| bad_query(key, ErrorCode::Inclusion, v)),
    }
}
