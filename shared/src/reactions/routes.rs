//! Router and thin handlers of `/messages/{id}/reactions` (the reactions
//! component). Same shape as [`crate::users::routes`]; errors are rendered only by
//! [`Response::error`].

use crate::auth::context::Ctx;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::pagination::{parse_cursor, parse_limit};
use crate::platform::params::{id_param, LIST_MAX};
use crate::reactions;

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    match (segs, req.method.as_str()) {
        (["messages", id, "reactions"], "POST") => {
            let p = c.auth(Some("reactions:write"))?;
            let id = id_param(id, "id")?;
            let input = reactions::parse(&c.body()?)?;
            // The spec's 201 body is a bare `Reaction`, not `{"data": ...}`.
            Ok(Response::json(201, &reactions::add(db, &p, id, &input)?))
        }
        (["messages", id, "reactions"], "DELETE") => {
            let p = c.auth(Some("reactions:write"))?;
            let id = id_param(id, "id")?;
            let input = reactions::parse_query(q.get("code"), q.get("name"))?;
            reactions::remove(db, &p, id, &input)?;
            Ok(Response::no_content())
        }
        (["messages", id, "reactions"], "GET") => {
            let p = c.auth(Some("reactions:read"))?;
            let id = id_param(id, "id")?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = reactions::list(db, &p, id, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["messages", _, "reactions"], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}
