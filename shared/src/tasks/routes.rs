//! Router and thin handlers of `/tasks` (the tasks component). Same shape as
//! [`crate::users::routes`]; errors are rendered only by [`Response::error`].

use crate::auth::context::Ctx;
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::http::Query;
use crate::platform::http::Response;
use crate::platform::pagination::{parse_cursor, parse_limit};
use crate::platform::params::{bad_query, id_param, LIST_MAX};
use crate::tasks::{self, TaskFilter};

/// The list filters; 400 for a status other than `done`/`undone` or an id
/// that is not a positive integer.
fn parse_filter(q: &Query) -> Result<TaskFilter> {
    let ids = |key: &str| -> Result<Vec<i64>> {
        q.list(key)
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad_query(key, ErrorCode::Invalid, v))
            })
            .collect()
    };
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some("done") => Some("done"),
        Some("undone") => Some("undone"),
        Some(other) => return Err(bad_query("status", ErrorCode::Inclusion, other)),
    };
    let author_id = match q.get("author_id").filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad_query("author_id", ErrorCode::Invalid, v))?,
        ),
    };
    Ok(TaskFilter {
        status,
        chat_ids: ids("chat_ids")?,
        performer_ids: ids("performer_ids")?,
        author_id,
    })
}

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    match (segs, req.method.as_str()) {
        (["tasks"], "POST") => {
            let p = c.auth(Some("tasks:create"))?;
            let input = tasks::parse(&c.body()?, true)?;
            Ok(Response::data(201, tasks::create(db, &p, &input)?))
        }
        (["tasks"], "GET") => {
            let p = c.auth(Some("tasks:read"))?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let filter = parse_filter(&q)?;
            let (data, meta) = tasks::list(db, &p, &filter, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["tasks", id], "GET") => {
            let p = c.auth(Some("tasks:read"))?;
            Ok(Response::data(
                200,
                tasks::get(db, &p, id_param(id, "id")?)?,
            ))
        }
        (["tasks", id], "PUT") => {
            let p = c.auth(Some("tasks:update"))?;
            let id = id_param(id, "id")?;
            let input = tasks::parse(&c.body()?, false)?;
            Ok(Response::data(200, tasks::update(db, &p, id, &input)?))
        }
        (["tasks", id], "DELETE") => {
            let p = c.auth(Some("tasks:delete"))?;
            tasks::delete(db, &p, id_param(id, "id")?)?;
            Ok(Response::no_content())
        }
        (["tasks"] | ["tasks", _], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}
