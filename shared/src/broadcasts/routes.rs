//! Router and thin handlers of `/broadcasts` (the broadcasts component, our
//! extension). Same shape as [`crate::tasks::routes`]; errors are rendered
//! only by [`Response::error`].

use crate::auth::context::Ctx;
use crate::broadcasts::analytics::{self, RecipientFilter};
use crate::broadcasts::{self, delivery, Created};
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::pagination::{parse_cursor, parse_limit};
use crate::platform::params::{id_param, LIST_MAX};
use serde_json::json;

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    match (segs, req.method.as_str()) {
        (["broadcasts"], "POST") => {
            let p = c.auth(Some("broadcasts:write"))?;
            let key = broadcasts::parse_idempotency_key(req.header("idempotency-key"))?;
            let body = c.body()?;
            let input = broadcasts::parse(&body, p.bot)?;
            let hash = broadcasts::request_hash(&body);
            let idempotency = key.as_deref().map(|k| (k, hash.as_str()));
            let (b, replayed) = match broadcasts::create(db, &p, &input, idempotency)? {
                Created::New(b) => (b, false),
                Created::Replayed(b) => (b, true),
            };
            if b.state != "scheduled" {
                delivery::work_after_response(b.id);
            }
            let mut r = Response::data(201, broadcasts::render_one(db, &b)?);
            if replayed {
                r.headers
                    .push(("idempotent-replayed".into(), "true".into()));
            }
            Ok(r)
        }
        (["broadcasts"], "GET") => {
            let p = c.auth(Some("broadcasts:read"))?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = broadcasts::list(db, &p, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        // The scheduler's tick: due scheduled broadcasts, and those whose
        // worker died, are worked after the response.
        (["broadcasts", "run"], "POST") => {
            c.auth(None)?
                .require_manager("token", "Only the owner or an admin runs broadcasts")?;
            let due = delivery::due(db)?;
            for id in &due {
                delivery::work_after_response(*id);
            }
            Ok(Response::data(200, json!({ "broadcast_ids": due })))
        }
        (["broadcasts", id], "GET") => {
            let p = c.auth(Some("broadcasts:read"))?;
            let b = broadcasts::visible(db, &p, id_param(id, "id")?)?;
            Ok(Response::data(200, broadcasts::render_one(db, &b)?))
        }
        (["broadcasts", id, "analytics"], "GET") => {
            let p = c.auth(Some("broadcasts:read"))?;
            let b = broadcasts::visible(db, &p, id_param(id, "id")?)?;
            Ok(Response::data(200, analytics::stats(db, &b)?))
        }
        (["broadcasts", id, "recipients"], "GET") => {
            let p = c.auth(Some("broadcasts:read"))?;
            let b = broadcasts::visible(db, &p, id_param(id, "id")?)?;
            let filter = RecipientFilter::parse(q.get("state"))?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = analytics::recipients(db, &b, &filter, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["broadcasts", id, "recipients.csv"], "GET") => {
            let p = c.auth(Some("broadcasts:read"))?;
            let b = broadcasts::visible(db, &p, id_param(id, "id")?)?;
            let filter = RecipientFilter::parse(q.get("state"))?;
            Ok(Response {
                status: 200,
                headers: vec![
                    ("content-type".into(), "text/csv; charset=utf-8".into()),
                    (
                        "content-disposition".into(),
                        format!("attachment; filename=\"broadcast-{}-recipients.csv\"", b.id),
                    ),
                ],
                body: analytics::csv(db, &b, &filter)?,
            })
        }
        (["broadcasts", id, "cancel"], "POST") => {
            let p = c.auth(Some("broadcasts:write"))?;
            let b = broadcasts::cancel(db, &p, id_param(id, "id")?)?;
            Ok(Response::data(200, broadcasts::render_one(db, &b)?))
        }
        (["broadcasts", id, "recall"], "POST") => {
            let p = c.auth(Some("broadcasts:write"))?;
            let b = broadcasts::recall(db, &p, id_param(id, "id")?)?;
            if b.state == "recalling" {
                delivery::work_after_response(b.id);
            }
            Ok(Response::data(200, broadcasts::render_one(db, &b)?))
        }
        (["broadcasts"] | ["broadcasts", _], _)
        | (
            ["broadcasts", _, "analytics" | "recipients" | "recipients.csv" | "cancel" | "recall"],
            _,
        ) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}
