//! Router and thin handlers of the chats area: `/chats/...` and
//! `/search/chats`. Same shape as [`crate::users::routes`]: authenticate, check the
//! operation's scope, parse, call the domain, render; errors are rendered only
//! by [`Response::error`].

use crate::auth::context::Ctx;
use crate::chats::{self, members};
use crate::platform::audit;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::pagination::{parse_cursor, parse_limit};
use crate::platform::params::{id_param, LIST_MAX};

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    match (segs, req.method.as_str()) {
        (["chats"], "GET") => {
            let p = c.auth(Some("chats:read"))?;
            let params = chats::parse_list_params(&q, LIST_MAX)?;
            let (data, meta) = chats::list(db, &p, &params)?;
            Ok(Response::list(data, meta))
        }
        (["chats"], "POST") => {
            let p = c.auth(Some("chats:create"))?;
            let input = chats::parse_create(&c.body()?)?;
            let chat = chats::create(db, &p, &input)?;
            Ok(Response::json(201, &chats::created_body(chat)))
        }
        (["chats", id], "GET") => {
            let p = c.auth(Some("chats:read"))?;
            Ok(Response::data(
                200,
                chats::get(db, &p, id_param(id, "id")?)?,
            ))
        }
        (["chats", id], "PUT") => {
            let p = c.auth(Some("chats:update"))?;
            let id = id_param(id, "id")?;
            let upd = chats::parse_update(&c.body()?)?;
            Ok(Response::data(200, chats::update(db, &p, id, &upd)?))
        }
        (["chats", id, action @ ("archive" | "unarchive")], "PUT") => {
            let p = c.auth(Some("chats:archive"))?;
            chats::set_archived(db, &p, id_param(id, "id")?, *action == "archive")?;
            Ok(Response::no_content())
        }
        (["chats", id, "members"], "GET") => {
            let p = c.auth(Some("chat_members:read"))?;
            let id = id_param(id, "id")?;
            let role = members::parse_role_filter(q.get("role"))?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = members::list(db, &p, id, role, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["chats", id, "members"], "POST") => {
            let p = c.auth(Some("chat_members:write"))?;
            let id = id_param(id, "id")?;
            let input = members::parse_add(&c.body()?)?;
            members::add(db, &p, id, &input)?;
            Ok(Response::no_content())
        }
        (["chats", id, "members", user_id], "PUT") => {
            let p = c.auth(Some("chat_members:write"))?;
            let id = id_param(id, "id")?;
            let user_id = id_param(user_id, "user_id")?;
            let role = members::parse_role(&c.body()?)?;
            members::set_role(db, &p, id, user_id, role)?;
            Ok(Response::no_content())
        }
        (["chats", id, "members", user_id], "DELETE") => {
            let p = c.auth(Some("chat_members:write"))?;
            let id = id_param(id, "id")?;
            members::remove(db, &p, id, id_param(user_id, "user_id")?)?;
            Ok(Response::no_content())
        }
        (["chats", id, "leave"], "DELETE") => {
            let p = c.auth(Some("chats:leave"))?;
            members::leave(db, &p, id_param(id, "id")?)?;
            Ok(Response::no_content())
        }
        (["chats", id, "group_tags"], "POST") => {
            let p = c.auth(Some("chat_members:write"))?;
            let id = id_param(id, "id")?;
            let tags = members::parse_tags(&c.body()?)?;
            members::add_tags(db, &p, id, &tags)?;
            Ok(Response::no_content())
        }
        (["chats", id, "group_tags", tag_id], "DELETE") => {
            let p = c.auth(Some("chat_members:write"))?;
            let id = id_param(id, "id")?;
            members::remove_tag(db, &p, id, id_param(tag_id, "tag_id")?)?;
            Ok(Response::no_content())
        }
        (["search", "chats"], "GET") => {
            let p = c.auth(Some("search:chats"))?;
            let params = chats::parse_search_params(&q)?;
            let (data, meta) = chats::search(db, &p, &params)?;
            audit::search(db, p.user_id, "search_chats_api", "chats", params.limit, &q)?;
            Ok(Response::list(data, meta))
        }
        (path, _) if is_known(path) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

fn is_known(path: &[&str]) -> bool {
    matches!(
        path,
        ["chats"]
            | ["chats", _]
            | [
                "chats",
                _,
                "archive" | "unarchive" | "members" | "leave" | "group_tags"
            ]
            | ["chats", _, "members" | "group_tags", _]
            | ["search", "chats"]
    )
}
