//! Router and thin handlers of `/analytics` (the analytics component, our
//! extension): read with `analytics:read`; settings, rebuild and the
//! scheduler's run with `analytics:write`. Both scopes are held by the
//! owner's and admins' tokens only.

use crate::analytics::chats::{self, ChatFilter, Order};
use crate::analytics::period::{workspace_zone, Bucket, Period};
use crate::analytics::support::{self, SupportQuery};
use crate::analytics::{self as area, activity, zone};
use crate::auth::context::Ctx;
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::http::{Query, Response};
use crate::platform::pagination::{parse_cursor, parse_limit, Cursor, Direction};
use crate::platform::params::{id_param, query_enum, LIST_MAX};
use serde_json::json;

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let (db, req) = (c.db, c.req);
    let q = req.query();
    match (segs, req.method.as_str()) {
        (["analytics", "settings"], "GET") => {
            c.auth(Some("analytics:read"))?;
            Ok(Response::data(200, area::ready(db)?.render()))
        }
        (["analytics", "settings"], "PUT") => {
            c.auth(Some("analytics:write"))?;
            let zone = area::parse_settings(&c.body()?)?;
            let rebuilt = area::rebuild(db, Some(&zone))?;
            Ok(Response::data(200, rebuilt.settings.render()))
        }
        (["analytics", "rebuild"], "POST") => {
            c.auth(Some("analytics:write"))?;
            let r = area::rebuild(db, None)?;
            let mut data = r.settings.render();
            data["activity_rows"] = json!(r.activity_rows);
            data["membership_changes"] = json!(r.membership_changes);
            Ok(Response::data(200, data))
        }
        (["analytics", "run"], "POST") => {
            c.auth(Some("analytics:write"))?;
            Ok(Response::data(200, area::run(db)?.render()))
        }
        (["analytics", "activity"], "GET") => {
            c.auth(Some("analytics:read"))?;
            let settings = area::ready(db)?;
            let tz = workspace_zone(&q, &settings)?;
            let period = Period::parse(&q, &tz)?;
            let bucket = Bucket::parse(&q)?;
            let split = query_enum(&q, "split", &["none", "department"], "none")?;
            let mut data = activity::series(db, &tz, period, bucket, split == "department")?;
            data["time_zone"] = json!(settings.time_zone);
            Ok(Response::data(200, data))
        }
        (["analytics", "chats"], "GET") => {
            let p = c.auth(Some("analytics:read"))?;
            table(c, &q, p.user_id, None, "messages", false)
        }
        (["analytics", "chats.csv"], "GET") => {
            let p = c.auth(Some("analytics:read"))?;
            table(c, &q, p.user_id, None, "messages", true)
        }
        (["analytics", "open_chats"], "GET") => {
            let p = c.auth(Some("analytics:read"))?;
            table(c, &q, p.user_id, Some(true), "growth", false)
        }
        (["analytics", "chats", id], "GET") => {
            let p = c.auth(Some("analytics:read"))?;
            let id = id_param(id, "id")?;
            let settings = area::ready(db)?;
            let tz = workspace_zone(&q, &settings)?;
            let period = Period::parse(&q, &tz)?;
            let bucket = Bucket::parse(&q)?;
            let threads = ChatFilter::parse(&q)?.threads;
            let top = chats::parse_top(&q)?;
            let mut data = chats::one(db, p.user_id, id, period, bucket, threads, top)?;
            data["time_zone"] = json!(settings.time_zone);
            Ok(Response::data(200, data))
        }
        (["analytics", "support"], "GET") => {
            c.auth(Some("analytics:read"))?;
            let settings = area::ready(db)?;
            let tz = match q.get("time_zone") {
                Some(name) => zone::parse(name).map_err(|_| {
                    Error::bad_request(
                        "time_zone",
                        ErrorCode::Invalid,
                        Some(name.to_owned()),
                        "Unknown time zone: use an IANA name such as Europe/Moscow",
                    )
                })?,
                None => zone::parse(&settings.time_zone)?,
            };
            let sq = SupportQuery::parse(&q)?;
            let period = Period::parse(&q, &tz)?;
            Ok(Response::data(200, support::report(db, &tz, &period, &sq)?))
        }
        (["analytics", "settings"], _)
        | (["analytics", "rebuild" | "run"], _)
        | (["analytics", "activity" | "chats" | "chats.csv" | "open_chats" | "support"], _)
        | (["analytics", "chats", _], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

/// The chats table (`csv`: as a CSV document), or the open chats catalogue
/// (`public` forced to true): filtered, sorted, paginated by an offset
/// cursor (the rows are computed per request and sorted by their figures,
/// so there is no stable key to resume from).
fn table(
    c: &Ctx<'_>,
    q: &Query,
    viewer: i64,
    public: Option<bool>,
    default_sort: &'static str,
    csv: bool,
) -> Result<Response> {
    let db = c.db;
    let settings = area::ready(db)?;
    let tz = workspace_zone(q, &settings)?;
    let period = Period::parse(q, &tz)?;
    let mut filter = ChatFilter::parse(q)?;
    if public.is_some() {
        // The catalogue: the open chats people can join now.
        filter.public = public;
        filter.archived = Some(false);
    }
    let order = Order::parse(q, default_sort)?;
    let limit = parse_limit(q.get("limit"), LIST_MAX, LIST_MAX)?;
    let offset = match parse_cursor(q.get("cursor"))? {
        Some(cur) => usize::try_from(cur.id).map_err(|_| {
            Error::bad_request(
                "cursor",
                ErrorCode::Invalid,
                q.get("cursor").map(str::to_owned),
                "Invalid pagination cursor",
            )
        })?,
        None => 0,
    };
    let mut rows = chats::table(db, viewer, &period, &filter, None)?;
    order.sort(&mut rows);
    if csv {
        return Ok(Response {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/csv; charset=utf-8".into()),
                (
                    "content-disposition".into(),
                    format!(
                        "attachment; filename=\"chats-{}-{}.csv\"",
                        period.from, period.to
                    ),
                ),
            ],
            body: chats::csv(&rows)?,
        });
    }
    let total = rows.len();
    let (data, next) = chats::page(&rows, offset, usize::try_from(limit).unwrap_or(50));
    let next_page = next.map(|n| {
        Cursor {
            key: None,
            id: i64::try_from(n).unwrap_or(i64::MAX),
            dir: Direction::Next,
            end: false,
        }
        .encode()
    });
    let mut meta = json!({});
    period.render_into(&mut meta);
    meta["time_zone"] = json!(settings.time_zone);
    meta["threads"] = json!(filter.threads);
    meta["total"] = json!(total);
    meta["paginate"] = json!({"next_page": next_page});
    Ok(Response::list(data, meta))
}
