//! `GET /chats` (the caller's chats, keyset pages) and `GET /search/chats`.

use crate::auth::Principal;
use crate::chats::visibility::{self as vis};
use crate::platform::db::{Db, Value};
use crate::platform::error::{ErrorCode, Result};
use crate::platform::http::Query;
use crate::platform::pagination::{self, Cursor};
use crate::platform::params::{bad_query, query_bool, query_enum, query_time};
use crate::platform::time::Timestamp;
use serde_json::Value as Json;

use super::*;

/// `availability` of `GET /chats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Chats the caller is a member of.
    IsMember,
    /// Every open chat the caller may see, member or not.
    Public,
}

/// Parameters of `GET /chats`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// Sort by `last_message_at` (else by id).
    pub by_last_message: bool,
    /// Ascending order (default descending).
    pub ascending: bool,
    /// Which chats.
    pub availability: Availability,
    /// Include archived chats.
    pub archived: bool,
    /// Only personal (`true`) or only group (`false`) chats.
    pub personal: Option<bool>,
    /// `last_message_at >=`.
    pub after: Option<Timestamp>,
    /// `last_message_at <=`.
    pub before: Option<Timestamp>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
}

/// Reads the query of `GET /chats` (bad values are 400).
pub fn parse_list_params(q: &Query, max_limit: i64) -> Result<ListParams> {
    Ok(ListParams {
        by_last_message: query_enum(q, "sort", &["id", "last_message_at"], "id")?
            == "last_message_at",
        ascending: query_enum(q, "order", &["asc", "desc"], "desc")? == "asc",
        availability: match query_enum(q, "availability", &["is_member", "public"], "is_member")? {
            "public" => Availability::Public,
            _ => Availability::IsMember,
        },
        archived: query_bool(q, "archived")?.unwrap_or(false),
        personal: query_bool(q, "personal")?,
        after: query_time(q, "last_message_at_after")?,
        before: query_time(q, "last_message_at_before")?,
        limit: pagination::parse_limit(q.get("limit"), max_limit, max_limit)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
    })
}

const MEMBER_SQL: &str =
    "EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = c.id AND m.user_id = ?)";

/// The chat aliased `c` is not a thread chat (threads are listed by `GET /threads`).
const NOT_THREAD_SQL: &str = "NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id)";

/// `GET /chats`: a keyset page of the chats `p` may list.
pub fn list(db: &dyn Db, p: &Principal, lp: &ListParams) -> Result<(Vec<Json>, Json)> {
    let mut filters: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    match lp.availability {
        Availability::IsMember => {
            filters.push(MEMBER_SQL.into());
            params.push(p.user_id.into());
        }
        Availability::Public => filters.push(vis::outsider_sql(p).into()),
    }
    filters.push(NOT_THREAD_SQL.into());
    if !lp.archived {
        filters.push("c.archived = 0".into());
    }
    if let Some(personal) = lp.personal {
        filters.push("c.personal = ?".into());
        params.push(personal.into());
    }
    if let Some(t) = lp.after {
        filters.push("c.last_message_at >= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(t) = lp.before {
        filters.push("c.last_message_at <= ?".into());
        params.push(t.to_string().into());
    }
    let key = if lp.by_last_message {
        "c.last_message_at"
    } else {
        "c.id"
    };
    let source = format!(
        "SELECT c.id AS id, {key} AS k FROM chats c WHERE {}",
        filters.join(" AND ")
    );
    let (ids, meta) = pagination::keyset_page(
        db,
        &source,
        &params,
        lp.ascending,
        lp.limit,
        lp.cursor.as_ref(),
    )?;
    Ok((render_many(db, &ids)?, meta))
}

/// Parameters of `GET /search/chats`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Phrase matched (case-insensitively) inside chat names.
    pub query: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
    /// Ascending by creation (default descending).
    pub ascending: bool,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
    /// `true` = only active, `false` = only archived.
    pub active: Option<bool>,
    /// `chat_subtype=thread`: only thread chats (else only non-thread chats).
    pub threads_only: bool,
    /// Only personal / only group chats.
    pub personal: Option<bool>,
}

/// Reads the query of `GET /search/chats` (bad values are 400).
pub fn parse_search_params(q: &Query) -> Result<SearchParams> {
    let subtype = match q.get("chat_subtype").filter(|s| !s.is_empty()) {
        None | Some("discussion") => false,
        Some("thread") => true,
        Some(other) => return Err(bad_query("chat_subtype", ErrorCode::Inclusion, other)),
    };
    Ok(SearchParams {
        query: q.get("query").map(str::to_owned),
        limit: pagination::parse_limit(q.get("limit"), SEARCH_MAX, SEARCH_MAX)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
        ascending: query_enum(q, "order", &["asc", "desc"], "desc")? == "asc",
        created_from: query_time(q, "created_from")?,
        created_to: query_time(q, "created_to")?,
        active: query_bool(q, "active")?,
        threads_only: subtype,
        personal: query_bool(q, "personal")?,
    })
}

/// `GET /search/chats`: visible chats whose name contains the query, newest
/// first by default, with `meta.total` and `meta.paginate.next_page`.
pub fn search(db: &dyn Db, p: &Principal, sp: &SearchParams) -> Result<(Vec<Json>, Json)> {
    let mut filters = vec![format!("({MEMBER_SQL} OR {})", vis::outsider_sql(p))];
    let mut params: Vec<Value> = vec![p.user_id.into()];
    filters.push(if sp.threads_only {
        format!("NOT {NOT_THREAD_SQL}")
    } else {
        NOT_THREAD_SQL.to_owned()
    });
    if let Some(q) = sp.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        filters.push("instr(c.search_name, ?) > 0".into());
        params.push(q.to_lowercase().into());
    }
    if let Some(t) = sp.created_from {
        filters.push("c.created_at >= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(t) = sp.created_to {
        filters.push("c.created_at <= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(active) = sp.active {
        filters.push("c.archived = ?".into());
        params.push((!active).into());
    }
    if let Some(personal) = sp.personal {
        filters.push("c.personal = ?".into());
        params.push(personal.into());
    }
    let source = format!(
        "SELECT c.id AS id, c.id AS k FROM chats c WHERE {}",
        filters.join(" AND ")
    );
    let (ids, meta, total) = pagination::keyset_page_with_total(
        db,
        &source,
        &params,
        sp.ascending,
        sp.limit,
        sp.cursor.as_ref(),
    )?;
    Ok((
        render_many(db, &ids)?,
        pagination::search_meta(total, meta["paginate"]["next_page"].clone()),
    ))
}
