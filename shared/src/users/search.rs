//! Listing (`GET /users`) and searching users (`GET /users?query=`,
//! `GET /search/users`).

use crate::auth::scopes::Role;
use crate::platform::db::{Db, Value};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::pagination::{self, Cursor, Direction, IdPage};
use crate::platform::time::Timestamp;
use serde_json::{json, Value as Json};

use super::*;

/// Page of users ordered by id (`GET /users` without `query`).
pub fn list(db: &dyn Db, limit: i64, cursor: Option<&Cursor>) -> Result<(Vec<Json>, Json)> {
    let page: IdPage = pagination::id_page(
        db,
        "FROM users WHERE deleted_at IS NULL",
        "id",
        &[],
        limit,
        cursor,
    )?;
    Ok((render_many(db, &page.ids)?, page.meta()))
}

/// Sort of the search methods (`SearchSortOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSort {
    /// Relevance (exact, prefix, substring matches).
    ByScore,
    /// By full name.
    Alphabetical,
    /// By creation time.
    Creation,
}

/// Parameters of `GET /search/users` (and `GET /users?query=`).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Phrase matched against names, nickname, e-mail, phone, department, title.
    pub query: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
    /// Sort.
    pub sort: SearchSort,
    /// `true` = ascending.
    pub ascending: bool,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
    /// Allowed roles (API names); empty = any.
    pub roles: Vec<Role>,
}

/// Search (`meta.total` + `meta.paginate.next_page`) with keyset paging over
/// `(sort key, id)`.
pub fn search(db: &dyn Db, p: &SearchParams) -> Result<(Vec<Json>, Json)> {
    let mut filters = vec!["deleted_at IS NULL".to_owned()];
    let mut params: Vec<Value> = Vec::new();
    let q = p
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    if let Some(q) = &q {
        filters.push("instr(search_text, ?) > 0".into());
        params.push(q.clone().into());
    }
    if !p.roles.is_empty() {
        let mut stored: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
        if p.roles.contains(&Role::Admin) {
            stored.push(Role::Owner.as_str());
        }
        filters.push(format!("role IN ({})", placeholders(stored.len())));
        params.extend(stored.into_iter().map(Value::from));
    }
    if let Some(t) = p.created_from {
        filters.push("created_at >= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(t) = p.created_to {
        filters.push("created_at <= ?".into());
        params.push(t.to_string().into());
    }
    let where_clause = filters.join(" AND ");
    let total = db
        .query_row(
            &format!("SELECT COUNT(*) FROM users WHERE {where_clause}"),
            &params,
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);

    let (key_expr, key_params): (String, Vec<Value>) = match (p.sort, &q) {
        (SearchSort::Creation, _) => ("created_at".into(), vec![]),
        (SearchSort::Alphabetical, _) => ("sort_name".into(), vec![]),
        (SearchSort::ByScore, None) => ("0".into(), vec![]),
        (SearchSort::ByScore, Some(q)) => (
            "(CASE WHEN lower(nickname) = ? OR coalesce(email, '') = ? THEN 3 \
                   WHEN instr(sort_name, ?) = 1 OR instr(lower(nickname), ?) = 1 THEN 2 ELSE 1 END)"
                .into(),
            vec![q.clone().into(), q.clone().into(), q.clone().into(), q.clone().into()],
        ),
    };
    let (cmp, order) = if p.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    let mut sql_params = key_params;
    sql_params.extend(params.iter().cloned());
    let mut outer = String::new();
    if let Some(c) = &p.cursor {
        if c.end {
            return Ok((Vec::new(), pagination::search_meta(total, c.encode())));
        }
        let key = match &c.key {
            Some(Json::String(s)) => Value::Text(s.clone()),
            Some(Json::Number(n)) => Value::Integer(n.as_i64().unwrap_or(0)),
            _ => Value::Null,
        };
        outer = format!("WHERE (k, id) {cmp} (?, ?)");
        sql_params.push(key);
        sql_params.push(c.id.into());
    }
    sql_params.push(p.limit.into());
    let rows = db.query(
        &format!(
            "SELECT id, k FROM (SELECT id, {key_expr} AS k FROM users WHERE {where_clause}) {outer} \
             ORDER BY k {order}, id {order} LIMIT ?"
        ),
        &sql_params,
    )?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut last: Option<(Json, i64)> = None;
    for r in &rows {
        let id = r.i64(0)?;
        let k = match r.0.get(1) {
            Some(Value::Integer(i)) => json!(i),
            Some(Value::Text(s)) => json!(s),
            _ => Json::Null,
        };
        ids.push(id);
        last = Some((k, id));
    }
    let next = match (last, &p.cursor) {
        (Some((k, id)), _) => Cursor {
            key: Some(k),
            id,
            dir: Direction::Next,
            end: false,
        }
        .encode(),
        (None, Some(c)) => c.encode(),
        (None, None) => Cursor {
            key: None,
            id: 0,
            dir: Direction::Next,
            end: true,
        }
        .encode(),
    };
    Ok((render_many(db, &ids)?, pagination::search_meta(total, next)))
}

/// Reads the search query parameters shared by `/search/users` and `/users?query=`.
pub fn parse_search_params(
    q: &crate::platform::http::Query,
    max_limit: i64,
    default_limit: i64,
) -> Result<SearchParams> {
    let sort = match q.get("sort") {
        None | Some("") | Some("by_score") => SearchSort::ByScore,
        Some("alphabetical") => SearchSort::Alphabetical,
        Some("creation") => SearchSort::Creation,
        Some(other) => return Err(bad_param("sort", ErrorCode::Inclusion, other)),
    };
    let ascending = match q.get("order") {
        None | Some("") => sort == SearchSort::Alphabetical,
        Some("asc") => true,
        Some("desc") => false,
        Some(other) => return Err(bad_param("order", ErrorCode::Inclusion, other)),
    };
    let date = |k: &str| -> Result<Option<Timestamp>> {
        match q.get(k) {
            None => Ok(None),
            Some(s) => Timestamp::parse(s)
                .map(Some)
                .ok_or_else(|| bad_param(k, ErrorCode::Invalid, s)),
        }
    };
    let mut roles = Vec::new();
    for r in q.list("company_roles") {
        match r.as_str() {
            "admin" | "user" | "multi_guest" | "guest" => {
                roles.extend(Role::parse(&r));
            }
            other => return Err(bad_param("company_roles", ErrorCode::Inclusion, other)),
        }
    }
    Ok(SearchParams {
        query: q.get("query").map(str::to_owned),
        limit: pagination::parse_limit(q.get("limit"), max_limit, default_limit)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
        sort,
        ascending,
        created_from: date("created_from")?,
        created_to: date("created_to")?,
        roles,
    })
}

fn bad_param(key: &str, code: ErrorCode, value: &str) -> Error {
    Error::BadRequest(vec![FieldError::new(
        key,
        code,
        Some(value.to_owned()),
        "Invalid query parameter",
    )])
}
