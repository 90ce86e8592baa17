//! Router and thin handlers of the messages area: `/messages/...` (except
//! reactions), `/threads/...`, `/search/messages` and our read-state
//! extension `/chats/{id}/read` and `/chats/{id}/read_state`. Same shape as
//! [`crate::users::routes`]: authenticate, check the operation's scope, parse, call
//! the domain, render; errors are rendered only by [`Response::error`].

use crate::auth::context::Ctx;
use crate::messages::{self, buttons, input, read_state, search, threads};
use crate::platform::audit;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::pagination::{parse_cursor, parse_limit};
use crate::platform::params::{id_param, LIST_MAX};

/// The chat whose standing is the first thing `req` checks, known before
/// it runs: the `chat_id` of `GET /messages`, the `entity_id` of a
/// `POST /messages` to a discussion. `None` for any other request (or one
/// too malformed to say), which then reads its standing itself.
pub fn first_checked_chat(req: &crate::platform::http::Request) -> Option<i64> {
    if req.path.strip_prefix(crate::auth::context::PREFIX) != Some("/messages") {
        return None;
    }
    match req.method.as_str() {
        "GET" => req.query().get("chat_id")?.parse().ok(),
        "POST" => {
            // Only the two fields, typed: the handler parses the whole body
            // again, so this pass builds nothing else.
            let body: PostTarget = serde_json::from_slice(&req.body).ok()?;
            let m = body.message;
            let discussion = m
                .entity_type
                .is_none_or(|t| t.eq_ignore_ascii_case("discussion"));
            discussion.then_some(m.entity_id).flatten()
        }
        _ => None,
    }
}

/// What [`first_checked_chat`] reads of a `POST /messages` body.
#[derive(serde::Deserialize)]
struct PostTarget {
    message: PostTargetMessage,
}

/// The target of the message in [`PostTarget`].
#[derive(serde::Deserialize)]
struct PostTargetMessage {
    entity_type: Option<String>,
    entity_id: Option<i64>,
}

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    let o = req.origin();
    match (segs, req.method.as_str()) {
        (["messages"], "POST") => {
            let p = c.auth(Some("messages:create"))?;
            let input = input::parse_create(&c.body()?, p.bot)?;
            // The spec documents no 404 here: a chat, user or thread that
            // does not exist (or is invisible) is a 422 `not_found`.
            let created = messages::create(db, &p, &input, &o)
                .map_err(|e| e.documented_as(&[400, 401, 402, 403, 422]))?;
            Ok(Response::data(201, created))
        }
        (["messages"], "GET") => {
            let p = c.auth(Some("messages:read"))?;
            let params = messages::parse_list_params(&q, LIST_MAX)?;
            let (data, meta) = messages::list(db, &p, &params, &o)?;
            Ok(Response::list(data, meta))
        }
        (["messages", id], "GET") => {
            let p = c.auth(Some("messages:read"))?;
            Ok(Response::data(
                200,
                messages::get(db, &p, id_param(id, "id")?, &o)?,
            ))
        }
        (["messages", id], "PUT") => {
            let p = c.auth(Some("messages:update"))?;
            let id = id_param(id, "id")?;
            let upd = input::parse_update(&c.body()?, p.bot)?;
            Ok(Response::data(200, messages::update(db, &p, id, &upd, &o)?))
        }
        (["messages", id], "DELETE") => {
            let p = c.auth(Some("messages:delete"))?;
            messages::delete(db, &p, id_param(id, "id")?)?;
            Ok(Response::no_content())
        }
        (["messages", id, "pin"], m @ ("POST" | "DELETE")) => {
            let p = c.auth(Some("pins:write"))?;
            messages::set_pinned(db, &p, id_param(id, "id")?, m == "POST")?;
            Ok(Response::no_content())
        }
        (["messages", id, "thread"], "POST") => {
            let p = c.auth(Some("threads:create"))?;
            Ok(Response::data(
                201,
                threads::create_for_message(db, &p, id_param(id, "id")?)?,
            ))
        }
        (["messages", id, "read_member_ids"], "GET") => {
            let p = c.auth(Some("messages:read"))?;
            let id = id_param(id, "id")?;
            let limit = parse_limit(q.get("limit"), messages::READERS_MAX, messages::READERS_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = messages::read_member_ids(db, &p, id, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["messages", id, "link_previews"], "POST") => {
            let p = c.auth(Some("link_previews:write"))?;
            let id = id_param(id, "id")?;
            let previews = messages::parse_link_previews(&c.body()?)?;
            messages::add_link_previews(db, &p, id, &previews)?;
            Ok(Response::no_content())
        }
        // Extension: a reader presses a data button of the message.
        (["messages", id, "button_clicks"], "POST") => {
            let p = c.auth(Some("messages:read"))?;
            let id = id_param(id, "id")?;
            let data = buttons::parse_click(&c.body()?)?;
            Ok(Response::data(201, buttons::click(db, &p, id, &data)?))
        }
        (["threads"], "POST") => {
            let p = c.auth(Some("threads:create"))?;
            Ok(Response::data(201, threads::create_standalone(db, &p)?))
        }
        (["threads"], "GET") => {
            let p = c.auth(Some("threads:read"))?;
            let params = threads::parse_list_params(&q, LIST_MAX)?;
            let (data, meta) = threads::list(db, &p, &params)?;
            Ok(Response::list(data, meta))
        }
        (["threads", id], "GET") => {
            let p = c.auth(Some("threads:read"))?;
            Ok(Response::data(
                200,
                threads::get(db, &p, id_param(id, "id")?)?,
            ))
        }
        (["search", "messages"], "GET") => {
            let p = c.auth(Some("search:messages"))?;
            let params = search::parse_params(&q)?;
            let (data, meta) = search::search(db, &p, &params, &o)?;
            audit::search(
                db,
                p.user_id,
                "search_messages_api",
                "messages",
                params.limit,
                &q,
            )?;
            Ok(Response::list(data, meta))
        }
        (["chats", id, "read"], "POST") => {
            let p = c.auth(Some("messages:read"))?;
            let id = id_param(id, "id")?;
            let message_id = read_state::parse_mark(&c.body()?)?;
            Ok(Response::data(
                200,
                read_state::mark(db, &p, id, message_id)?,
            ))
        }
        (["chats", id, "read_state"], "GET") => {
            let p = c.auth(Some("messages:read"))?;
            Ok(Response::data(
                200,
                read_state::get(db, &p, id_param(id, "id")?)?,
            ))
        }
        (path, _) if is_known(path) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

fn is_known(path: &[&str]) -> bool {
    matches!(
        path,
        ["messages"]
            | ["messages", _]
            | [
                "messages",
                _,
                "pin" | "thread" | "read_member_ids" | "link_previews" | "button_clicks"
            ]
            | ["threads"]
            | ["threads", _]
            | ["search", "messages"]
            | ["chats", _, "read" | "read_state"]
    )
}
