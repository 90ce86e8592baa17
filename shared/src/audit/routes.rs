//! Router of `/audit_events` (served by the users component). Same shape
//! as the other areas' routers.

use crate::audit::{self, AuditFilter};
use crate::auth::context::Ctx;
use crate::platform::audit::RETENTION_DAYS;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::pagination::{parse_cursor, parse_limit};

/// Most records a page holds (the spec's `limit` maximum).
const PAGE_MAX: i64 = 50;

/// Routes `/audit_events`.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let q = c.req.query();
    match (segs, c.req.method.as_str()) {
        (["audit_events"], "GET") => {
            let p = c.auth(Some("audit_events:read"))?;
            let filter = AuditFilter::parse(&q)?;
            let limit = parse_limit(q.get("limit"), PAGE_MAX, PAGE_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let days = c
                .cfg
                .positive("audit_retention_days")
                .unwrap_or(RETENTION_DAYS);
            let (data, meta) = audit::list(c.db, &p, &filter, limit, cursor.as_ref(), days)?;
            Ok(Response::list(data, meta))
        }
        (["audit_events"], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}
