//! Router and thin handlers of the users area (`/api/shared/v1/...`).
//!
//! Each handler: authenticate, check the operation's scope
//! (`x-requirements.scope` from the spec), parse/validate, call the domain
//! function, render. Errors are rendered only by [`Response::error`].

use crate::auth;
use crate::auth::access_tokens;
pub use crate::auth::context::Config;
use crate::auth::context::Ctx;
use crate::platform::audit;
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::http::Response;
use crate::platform::pagination::{parse_cursor, parse_limit};
use crate::platform::params::{id_param, LIST_MAX};
use crate::users::{self, custom_properties, group_tags, statuses, ChatMembership};
use serde_json::json;

/// Our OpenAPI document for the extension endpoints.
pub const EXTENSIONS_OPENAPI: &str = include_str!("../../openapi/extensions.json");
/// `limit` bounds of `/search/users`.
const SEARCH_MAX: i64 = 200;

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it, passing the chats area's side of
/// [`ChatMembership`].
pub fn route(c: &Ctx<'_>, segs: &[&str], chats: &dyn ChatMembership) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    let m = req.method.as_str();
    match (segs, m) {
        (["openapi.json"], "GET") => Ok(Response::json(
            200,
            &serde_json::from_str(EXTENSIONS_OPENAPI)
                .map_err(|e| Error::Internal(e.to_string()))?,
        )),

        // Users.
        (["users"], "GET") => {
            c.auth(Some("users:read"))?;
            if q.get("query").is_some_and(|s| !s.trim().is_empty()) {
                let params = users::parse_search_params(&q, LIST_MAX, LIST_MAX)?;
                let (data, meta) = users::search(db, &params)?;
                return Ok(Response::list(data, meta));
            }
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = users::list(db, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["users"], "POST") => {
            let p = c.auth(Some("users:create"))?;
            let input = users::parse_input(&c.body()?, true)?;
            Ok(Response::data(201, users::create(db, &p, input, chats)?))
        }
        (["users", id], "GET") => {
            c.auth(Some("users:read"))?;
            Ok(Response::data(200, users::get(db, id_param(id, "id")?)?))
        }
        (["users", id], "PUT") => {
            let p = c.auth(Some("users:update"))?;
            let id = id_param(id, "id")?;
            users::load(db, id, "id")?;
            let input = users::parse_input(&c.body()?, false)?;
            Ok(Response::data(
                200,
                users::update(db, &p, id, input, chats)?,
            ))
        }
        (["users", id], "DELETE") => {
            let p = c.auth(Some("users:delete"))?;
            users::delete(db, &p, id_param(id, "id")?, chats)?;
            Ok(Response::no_content())
        }
        (["users", id, "status"], "GET") => {
            c.auth(Some("user_status:read"))?;
            Ok(Response::data(
                200,
                statuses::get(db, id_param(id, "user_id")?)?.into(),
            ))
        }
        (["users", id, "status"], "PUT") => {
            let p = c.auth(Some("user_status:write"))?;
            let id = id_param(id, "user_id")?;
            users::load(db, id, "user_id")?;
            let input = statuses::parse_input(&c.body()?)?;
            Ok(Response::data(200, statuses::set(db, &p, id, &input)?))
        }
        (["users", id, "status"], "DELETE") => {
            let p = c.auth(Some("user_status:write"))?;
            statuses::clear(db, &p, id_param(id, "user_id")?)?;
            Ok(Response::no_content())
        }

        // Profile.
        (["profile"], "GET") => {
            let p = c.auth(Some("profile:read"))?;
            Ok(Response::data(200, users::get(db, p.user_id)?))
        }
        (["profile", "status"], "GET") => {
            let p = c.auth(Some("profile_status:read"))?;
            Ok(Response::data(200, statuses::get(db, p.user_id)?.into()))
        }
        (["profile", "status"], "PUT") => {
            let p = c.auth(Some("profile_status:write"))?;
            let input = statuses::parse_input(&c.body()?)?;
            Ok(Response::data(
                200,
                statuses::set(db, &p, p.user_id, &input)?,
            ))
        }
        (["profile", "status"], "DELETE") => {
            let p = c.auth(Some("profile_status:write"))?;
            statuses::clear(db, &p, p.user_id)?;
            Ok(Response::no_content())
        }

        // Group tags.
        (["group_tags"], "GET") => {
            c.auth(Some("group_tags:read"))?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = group_tags::list(db, &q.list("names"), limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }
        (["group_tags"], "POST") => {
            let p = c.auth(Some("group_tags:write"))?;
            let name = group_tags::parse_input(&c.body()?)?;
            Ok(Response::data(201, group_tags::create(db, &p, &name)?))
        }
        (["group_tags", id], "GET") => {
            c.auth(Some("group_tags:read"))?;
            Ok(Response::data(
                200,
                group_tags::get(db, id_param(id, "id")?)?,
            ))
        }
        (["group_tags", id], "PUT") => {
            let p = c.auth(Some("group_tags:write"))?;
            let id = id_param(id, "id")?;
            group_tags::get(db, id)?;
            let name = group_tags::parse_input(&c.body()?)?;
            Ok(Response::data(200, group_tags::update(db, &p, id, &name)?))
        }
        (["group_tags", id], "DELETE") => {
            let p = c.auth(Some("group_tags:write"))?;
            group_tags::delete(db, &p, id_param(id, "id")?, chats)?;
            Ok(Response::no_content())
        }
        (["group_tags", id, "users"], "GET") => {
            c.auth(Some("group_tags:read"))?;
            let id = id_param(id, "id")?;
            let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
            let cursor = parse_cursor(q.get("cursor"))?;
            let (data, meta) = group_tags::users(db, id, limit, cursor.as_ref())?;
            Ok(Response::list(data, meta))
        }

        // Custom properties (GET is the spec; POST/DELETE are our extension and,
        // lacking a write scope in the catalogue, need `users:update` + owner/admin).
        (["custom_properties"], "GET") => {
            c.auth(Some("custom_properties:read"))?;
            let et = custom_properties::parse_entity_type(q.get("entity_type"))?;
            Ok(Response::data(200, json!(custom_properties::list(db, et)?)))
        }
        (["custom_properties"], "POST") => {
            let p = c.auth(Some("users:update"))?;
            let input = custom_properties::parse_definition(&c.body()?)?;
            Ok(Response::data(
                201,
                custom_properties::define(db, &p, &input)?,
            ))
        }
        (["custom_properties", id], "DELETE") => {
            let p = c.auth(Some("users:update"))?;
            custom_properties::remove(db, &p, id_param(id, "id")?)?;
            Ok(Response::no_content())
        }

        // Token info and personal tokens (extension).
        (["oauth", "token", "info"], "GET") => {
            let p = c.auth(None)?;
            let raw = auth::bearer(req.header("authorization"))?;
            Ok(Response::data(200, access_tokens::token_info(db, &p, raw)?))
        }
        (["access_tokens"], "POST") => {
            let p = c.auth(None)?;
            let input = access_tokens::parse_issue(&c.body()?)?;
            Ok(Response::data(
                201,
                access_tokens::issue(db, &p, input)?.to_json(),
            ))
        }
        (["access_tokens"], "GET") => {
            let p = c.auth(None)?;
            let user_id = match q.get("user_id").filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(s.parse::<i64>().map_err(|_| {
                    Error::bad_request(
                        "user_id",
                        ErrorCode::Invalid,
                        Some(s.to_owned()),
                        "must be an integer",
                    )
                })?),
            };
            Ok(Response::data(
                200,
                json!(access_tokens::list(db, &p, user_id)?),
            ))
        }
        (["access_tokens", id], "DELETE") => {
            let p = c.auth(None)?;
            access_tokens::revoke(db, &p, id_param(id, "id")?)?;
            Ok(Response::no_content())
        }

        // Search.
        (["search", "users"], "GET") => {
            let p = c.auth(Some("search:users"))?;
            let params = users::parse_search_params(&q, SEARCH_MAX, SEARCH_MAX)?;
            let (data, meta) = users::search(db, &params)?;
            audit::search(db, p.user_id, "search_users_api", "users", params.limit, &q)?;
            Ok(Response::list(data, meta))
        }

        (path, _) if is_known(path) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

fn is_known(path: &[&str]) -> bool {
    matches!(
        path,
        ["openapi.json"]
            | ["users"]
            | ["users", _]
            | ["users", _, "status"]
            | ["profile"]
            | ["profile", "status"]
            | ["group_tags"]
            | ["group_tags", _]
            | ["group_tags", _, "users"]
            | ["custom_properties"]
            | ["custom_properties", _]
            | ["oauth", "token", "info"]
            | ["access_tokens"]
            | ["access_tokens", _]
            | ["search", "users"]
    )
}
