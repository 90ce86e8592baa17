//! Router and thin handlers of the webhooks component: the official bots API
//! (`/bots`, `/bot/...`), the event history for polling (`/webhooks/events`),
//! and our extensions (signing secret rotation, delivery log, redelivery,
//! the scheduler's delivery run). Same shape as [`crate::users::routes`];
//! errors are rendered only by [`Response::error`].

use crate::auth::context::Ctx;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::outbox;
use crate::platform::pagination::{parse_cursor, parse_limit};
use crate::platform::params::{id_param, LIST_MAX};
use crate::platform::time;
use crate::webhooks::{
    bots, delivery, delivery_log, history, incoming, retention, settings, views,
};

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    match (segs, req.method.as_str()) {
        (["bots"], "POST") => {
            let p = c.auth(Some("bots:write"))?;
            let body = c.body()?;
            // The spec documents a rejected bot as 400 only.
            let created = settings::parse(&settings::webhook_object(&body)?, true)
                .and_then(|input| bots::create(db, &p, &input))
                .map_err(|e| e.documented_as(&[400, 401, 402, 403]))?;
            Ok(Response::data(201, created))
        }
        (["bots"], "GET") => {
            let p = c.auth(Some("bots:read"))?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = bots::list(db, &p, q.get("query"), limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["bots", id], "GET") => {
            let p = c.auth(Some("bots:read"))?;
            Ok(Response::data(200, bots::get(db, &p, id_param(id, "id")?)?))
        }
        (["bots", id], "PUT") => {
            let p = c.auth(Some("bots:write"))?;
            let id = id_param(id, "id")?;
            let body = c.body()?;
            let input = settings::parse(&settings::webhook_object(&body)?, false)?;
            Ok(Response::data(200, bots::update(db, &p, id, &input)?))
        }
        (["bots", id], "DELETE") => {
            let p = c.auth(Some("bots:write"))?;
            bots::delete(db, &p, id_param(id, "id")?)?;
            Ok(Response::no_content())
        }
        (["bots", id, "recreate_token"], "POST") => {
            let p = c.auth(Some("bots:write"))?;
            Ok(Response::data(
                200,
                bots::recreate_token(db, &p, id_param(id, "id")?)?,
            ))
        }
        // Extension: a new signing secret for the bot's outgoing webhook.
        (["bots", id, "signing_secret"], "POST") => {
            let p = c.auth(Some("bots:write"))?;
            Ok(Response::data(
                200,
                bots::rotate_signing_secret(db, &p, id_param(id, "id")?)?,
            ))
        }
        // Extension: a new secret incoming-webhook URL.
        (["bots", id, "incoming_url"], "POST") => {
            let p = c.auth(Some("bots:write"))?;
            Ok(Response::data(
                200,
                bots::rotate_incoming_url(db, &p, id_param(id, "id")?)?,
            ))
        }
        // Extension: the bot's recent delivery attempts and dead letters.
        (["bots", id, "deliveries"], "GET") => {
            let p = c.auth(Some("bots:read"))?;
            let id = id_param(id, "id")?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let state = q.get("state");
            let (data, meta) = delivery_log::list(db, &p, id, state, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        // Extension: send a delivery again (dead or delivered).
        (["bots", id, "deliveries", delivery, "redeliver"], "POST") => {
            let p = c.auth(Some("bots:write"))?;
            let id = id_param(id, "id")?;
            let delivery = id_param(delivery, "delivery_id")?;
            let row = delivery_log::redeliver(db, &p, id, delivery)?;
            outbox::schedule(&[delivery]);
            Ok(Response::data(202, row))
        }
        (["bot", "webhook"], "PUT") => {
            let p = c.auth(Some("bot_self:webhook:write"))?;
            Ok(Response::data(
                200,
                bots::self_update_webhook(db, &p, &c.body()?)?,
            ))
        }
        (["bot", "recreate_token"], "POST") => {
            let p = c.auth(Some("bot_self:write"))?;
            Ok(Response::data(200, bots::self_recreate_token(db, &p)?))
        }
        (["webhooks", "events"], "GET") => {
            let p = c.auth(Some("webhooks:events:read"))?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = history::list(db, &p, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["webhooks", "events", id], "DELETE") => {
            let p = c.auth(Some("webhooks:events:delete"))?;
            history::delete(db, &p, id)?;
            Ok(Response::no_content())
        }
        // Forms: the bot opens a view (official) ...
        (["views", "open"], "POST") => {
            let p = c.auth(Some("views:write"))?;
            let input = views::parse_open(&c.body()?)?;
            views::open(db, &p, &input)?;
            Ok(Response {
                status: 201,
                headers: Vec::new(),
                body: Vec::new(),
            })
        }
        // ... and the user reads and submits it (extension).
        (["views"], "GET") => {
            let p = c.auth(Some("messages:read"))?;
            Ok(Response::data(200, views::list(db, &p)?.into()))
        }
        (["views", id], "GET") => {
            let p = c.auth(Some("messages:read"))?;
            Ok(Response::data(
                200,
                views::get(db, &p, id_param(id, "id")?)?,
            ))
        }
        (["views", id, "submit"], "POST") => {
            let p = c.auth(Some("messages:read"))?;
            let id = id_param(id, "id")?;
            let body = c.body()?;
            let view = views::submit(
                db,
                &p,
                id,
                &body,
                c.cfg.transport,
                c.cfg.webhook_allow_private,
            )?;
            Ok(Response::data(200, view))
        }
        // Extension: the scheduler's tick (retries due deliveries, removes
        // what is past its retention).
        (["webhooks", "deliveries", "run"], "POST") => {
            c.auth(None)?
                .require_manager("token", "Only the owner or an admin runs deliveries")?;
            // After the response: the scheduler does not wait for it.
            outbox::defer(Box::new(|db, _| {
                let now = time::now();
                let pages = retention::PAGES_PER_RUN;
                if let Err(e) = retention::expire(db, now, retention::PAGE, pages) {
                    eprintln!("webhook retention: {e}");
                }
            }));
            let due = delivery::due_ids(db, delivery::RUN_BATCH)?;
            outbox::schedule(&due);
            Ok(Response::json(
                202,
                &serde_json::json!({"data": {"queued": due.len()}}),
            ))
        }
        (path, _) if is_known(path) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

/// Routes the `incoming` component's requests: a bot's incoming webhook,
/// whose token in the path is the credential (no `Authorization`).
pub fn route_incoming(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    match (segs, c.req.method.as_str()) {
        (["webhooks", "incoming", token], "POST") => Ok(Response::json(
            200,
            &incoming::receive(c.db, token, &c.req.body, &c.req.origin())?,
        )),
        (["webhooks", "incoming", _], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

fn is_known(path: &[&str]) -> bool {
    matches!(
        path,
        ["bots"]
            | ["bots", _]
            | [
                "bots",
                _,
                "recreate_token" | "signing_secret" | "deliveries" | "incoming_url"
            ]
            | ["bots", _, "deliveries", _, "redeliver"]
            | ["bot", "webhook" | "recreate_token"]
            | ["webhooks", "events"]
            | ["webhooks", "events", _]
            | ["webhooks", "deliveries", "run"]
            | ["views", "open"]
            | ["views"]
            | ["views", _]
            | ["views", _, "submit"]
    )
}
