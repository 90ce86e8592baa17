//! Cursor pagination exactly as `api/pagination.md` describes.
//!
//! Cursors are opaque base64url-encoded JSON keyset positions. Lists use
//! keyset queries (`WHERE id > ? ORDER BY id LIMIT n + 1`), never OFFSET, so a
//! walk stays stable under concurrent inserts and deletes. List methods
//! render `meta.paginate.{next_page, prev_page, has_next, has_prev}`; search
//! methods render `meta.total` and `meta.paginate.next_page`.

use crate::db::{Db, Value};
use crate::error::{Error, ErrorCode, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as Json};

/// Walk direction encoded in a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Towards the end of the sort order (`next_page`).
    Next,
    /// Towards the start of the sort order (`prev_page`).
    Prev,
}

/// Decoded keyset position.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// Sort key of the anchor row (search sorts), `None` for id-ordered lists.
    pub key: Option<Json>,
    /// Id of the anchor row (tie breaker).
    pub id: i64,
    /// Direction to walk from the anchor.
    pub dir: Direction,
    /// Marks a position past the end: yields nothing.
    pub end: bool,
}

impl Cursor {
    /// Opaque string form.
    pub fn encode(&self) -> String {
        let mut v =
            json!({"id": self.id, "d": if self.dir == Direction::Next { "n" } else { "p" }});
        if let Some(k) = &self.key {
            v["k"] = k.clone();
        }
        if self.end {
            v["e"] = json!(true);
        }
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    /// Parses a client-supplied cursor; anything malformed is a 400 on `cursor`.
    pub fn decode(s: &str) -> Result<Cursor> {
        let bad = || {
            Error::bad_request(
                "cursor",
                ErrorCode::Invalid,
                Some(s.to_owned()),
                "Invalid pagination cursor",
            )
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| bad())?;
        let v: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let id = v.get("id").and_then(Json::as_i64).ok_or_else(bad)?;
        let dir = match v.get("d").and_then(Json::as_str) {
            Some("n") => Direction::Next,
            Some("p") => Direction::Prev,
            _ => return Err(bad()),
        };
        let key = v.get("k").cloned();
        if key
            .as_ref()
            .is_some_and(|k| !(k.is_string() || k.is_i64() || k.is_null()))
        {
            return Err(bad());
        }
        Ok(Cursor {
            key,
            id,
            dir,
            end: v.get("e").and_then(Json::as_bool).unwrap_or(false),
        })
    }
}

/// Parses the `limit` query parameter: integer within `1..=max`, `default`
/// when absent. Out of range or non-numeric → 400 on `limit`.
pub fn parse_limit(raw: Option<&str>, max: i64, default: i64) -> Result<i64> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    match raw.parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Error::bad_request(
            "limit",
            ErrorCode::Invalid,
            Some(raw.to_owned()),
            &format!("limit must be an integer between 1 and {max}"),
        )),
    }
}

/// Parses an optional `cursor` query parameter.
pub fn parse_cursor(raw: Option<&str>) -> Result<Option<Cursor>> {
    raw.filter(|s| !s.is_empty())
        .map(Cursor::decode)
        .transpose()
}

/// One page of ids plus the list-method `meta`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdPage {
    /// Ids of the page, ascending.
    pub ids: Vec<i64>,
    /// `meta.paginate` fields.
    pub next_page: String,
    /// Backward cursor.
    pub prev_page: String,
    /// More rows after this page.
    pub has_next: bool,
    /// More rows before this page.
    pub has_prev: bool,
}

impl IdPage {
    /// `{"paginate": {...}}` as the spec's `PaginationMeta`.
    pub fn meta(&self) -> Json {
        json!({"paginate": {
            "next_page": self.next_page,
            "prev_page": self.prev_page,
            "has_next": self.has_next,
            "has_prev": self.has_prev,
        }})
    }
}

fn cursor(id: i64, dir: Direction) -> String {
    Cursor {
        key: None,
        id,
        dir,
        end: false,
    }
    .encode()
}

/// Keyset page over an id-ordered (ascending) set.
///
/// `from_where` is a `FROM ... WHERE ...` clause (it must contain `WHERE`),
/// `id_expr` the id column expression, `params` the clause's parameters.
pub fn id_page(
    db: &dyn Db,
    from_where: &str,
    id_expr: &str,
    params: &[Value],
    limit: i64,
    cur: Option<&Cursor>,
) -> Result<IdPage> {
    let exists = |op: &str, anchor: i64| -> Result<bool> {
        let mut p = params.to_vec();
        p.push(anchor.into());
        Ok(db
            .query_row(
                &format!("SELECT 1 {from_where} AND {id_expr} {op} ? LIMIT 1"),
                &p,
            )?
            .is_some())
    };
    let fetch = |op: &str, order: &str, anchor: i64| -> Result<Vec<i64>> {
        let mut p = params.to_vec();
        p.push(anchor.into());
        p.push((limit + 1).into());
        db.query(
            &format!(
                "SELECT {id_expr} {from_where} AND {id_expr} {op} ? ORDER BY {id_expr} {order} LIMIT ?"
            ),
            &p,
        )?
        .iter()
        .map(|r| r.i64(0).map_err(Error::from))
        .collect()
    };
    let lim = usize::try_from(limit).unwrap_or(0);
    match cur {
        Some(c) if c.dir == Direction::Prev => {
            let mut ids = fetch("<", "DESC", c.id)?;
            let has_prev = ids.len() > lim;
            ids.truncate(lim);
            ids.reverse();
            let after = ids.last().copied().unwrap_or(c.id - 1);
            let first = ids.first().copied().unwrap_or(c.id);
            Ok(IdPage {
                has_next: exists(">", after)?,
                has_prev,
                next_page: cursor(after, Direction::Next),
                prev_page: cursor(first, Direction::Prev),
                ids,
            })
        }
        _ => {
            let anchor = cur.map_or(0, |c| c.id);
            let mut ids = fetch(">", "ASC", anchor)?;
            let has_next = ids.len() > lim;
            ids.truncate(lim);
            let last = ids.last().copied().unwrap_or(anchor);
            let before = ids.first().copied().unwrap_or(anchor + 1);
            Ok(IdPage {
                has_next,
                has_prev: exists("<", before)?,
                next_page: cursor(last, Direction::Next),
                prev_page: cursor(before, Direction::Prev),
                ids,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage_is_400() {
        let c = Cursor {
            key: Some(json!("abc")),
            id: 42,
            dir: Direction::Prev,
            end: false,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "!!!", "eyJ4IjoxfQ", "bm90IGpzb24"] {
            let e = Cursor::decode(bad).unwrap_err();
            assert_eq!(e.status(), 400);
            assert_eq!(e.body()["errors"][0]["key"], "cursor");
        }
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(parse_limit(None, 50, 50).unwrap(), 50);
        assert_eq!(parse_limit(Some("1"), 50, 50).unwrap(), 1);
        for bad in ["0", "51", "-3", "x", "1.5"] {
            assert_eq!(parse_limit(Some(bad), 50, 50).unwrap_err().status(), 400);
        }
    }
}
