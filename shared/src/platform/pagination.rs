//! Cursor pagination exactly as `api/pagination.md` describes.
//!
//! Cursors are opaque base64url-encoded JSON keyset positions. Lists use
//! keyset queries (`WHERE id > ? ORDER BY id LIMIT n + 1`), never OFFSET, so a
//! walk stays stable under concurrent inserts and deletes. List methods
//! render `meta.paginate.{next_page, prev_page, has_next, has_prev}`; search
//! methods render `meta.total` and `meta.paginate.next_page`.

use crate::platform::db::{Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
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
/// when absent. Out of range, non-numeric or empty → 400 on `limit`.
pub fn parse_limit(raw: Option<&str>, max: i64, default: i64) -> Result<i64> {
    let Some(raw) = raw else {
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

/// Parses an optional `cursor` query parameter (an empty one is a 400).
pub fn parse_cursor(raw: Option<&str>) -> Result<Option<Cursor>> {
    raw.map(Cursor::decode).transpose()
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
    Ok(id_page_selecting(db, from_where, id_expr, "", params, limit, cur)?.0)
}

/// [`id_page`] that also returns the page's rows: the `columns` (a
/// `SELECT` list over `from_where`'s tables) of each id, in page order. A
/// list that renders from columns it can join gets its page and its rows
/// in one statement, where ids and a read per id take one plus the page
/// size.
pub fn id_page_rows(
    db: &dyn Db,
    from_where: &str,
    id_expr: &str,
    columns: &str,
    params: &[Value],
    limit: i64,
    cur: Option<&Cursor>,
) -> Result<(IdPage, Vec<Row>)> {
    id_page_selecting(
        db,
        from_where,
        id_expr,
        &format!(", {columns}"),
        params,
        limit,
        cur,
    )
}

/// The page of [`id_page`], reading `extra` (empty, or `, <columns>`) after
/// the id of each row; the rows come back without their id column.
fn id_page_selecting(
    db: &dyn Db,
    from_where: &str,
    id_expr: &str,
    extra: &str,
    params: &[Value],
    limit: i64,
    cur: Option<&Cursor>,
) -> Result<(IdPage, Vec<Row>)> {
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
    let fetch = |op: &str, order: &str, anchor: i64| -> Result<Vec<Row>> {
        let mut p = params.to_vec();
        p.push(anchor.into());
        p.push((limit + 1).into());
        Ok(db.query(
            &format!(
                "SELECT {id_expr}{extra} {from_where} AND {id_expr} {op} ? ORDER BY {id_expr} {order} LIMIT ?"
            ),
            &p,
        )?)
    };
    let lim = usize::try_from(limit).unwrap_or(0);
    let (rows, page) = match cur {
        Some(c) if c.dir == Direction::Prev => {
            let mut rows = fetch("<", "DESC", c.id)?;
            let has_prev = rows.len() > lim;
            rows.truncate(lim);
            rows.reverse();
            let ids = ids_of(&rows)?;
            let after = ids.last().copied().unwrap_or(c.id - 1);
            let first = ids.first().copied().unwrap_or(c.id);
            let page = IdPage {
                has_next: exists(">", after)?,
                has_prev,
                next_page: cursor(after, Direction::Next),
                prev_page: cursor(first, Direction::Prev),
                ids,
            };
            (rows, page)
        }
        _ => {
            let anchor = cur.map_or(0, |c| c.id);
            let mut rows = fetch(">", "ASC", anchor)?;
            let has_next = rows.len() > lim;
            rows.truncate(lim);
            let ids = ids_of(&rows)?;
            let last = ids.last().copied().unwrap_or(anchor);
            let before = ids.first().copied().unwrap_or(anchor + 1);
            let page = IdPage {
                has_next,
                has_prev: exists("<", before)?,
                next_page: cursor(last, Direction::Next),
                prev_page: cursor(before, Direction::Prev),
                ids,
            };
            (rows, page)
        }
    };
    Ok((page, without_leading(rows, 1)))
}

/// Converts a sort key read from SQL into its cursor form.
fn key_json(v: Option<&Value>) -> Json {
    match v {
        Some(Value::Integer(i)) => json!(i),
        Some(Value::Text(s)) => json!(s),
        _ => Json::Null,
    }
}

/// Converts a cursor's sort key back into a statement parameter.
fn key_value(k: Option<&Json>) -> Value {
    match k {
        Some(Json::String(s)) => Value::Text(s.clone()),
        Some(Json::Number(n)) => n.as_i64().map_or(Value::Null, Value::Integer),
        _ => Value::Null,
    }
}

/// Keyset page over `(k, id)` in either order, with list-method meta
/// (`next_page`, `prev_page`, `has_next`, `has_prev`).
///
/// `source` is a `SELECT <id> AS id, <key> AS k FROM ... WHERE ...` query
/// with `params`; `ascending` selects the sort direction of both columns.
pub fn keyset_page(
    db: &dyn Db,
    source: &str,
    params: &[Value],
    ascending: bool,
    limit: i64,
    cur: Option<&Cursor>,
) -> Result<(Vec<i64>, Json)> {
    let (rows, meta, _) =
        keyset_page_counted(db, source, params, ascending, limit, cur, Page::Ids)?;
    Ok((ids_of(&rows)?, meta))
}

/// [`keyset_page`] that returns the page's whole rows: every column of
/// `source`, in its order, instead of the ids alone. A list that renders
/// from columns `source` can join gets its page and its rows in one
/// statement, where ids and a second read by id take two.
pub fn keyset_page_rows(
    db: &dyn Db,
    source: &str,
    params: &[Value],
    ascending: bool,
    limit: i64,
    cur: Option<&Cursor>,
) -> Result<(Vec<Row>, Json)> {
    let (rows, meta, _) =
        keyset_page_counted(db, source, params, ascending, limit, cur, Page::Rows)?;
    Ok((without_leading(rows, PAGE_KEY_COLUMNS), meta))
}

/// The `meta` of search methods: `total` and `paginate.next_page` only.
pub fn search_meta(total: i64, next_page: impl Into<Json>) -> Json {
    json!({"total": total, "paginate": {"next_page": next_page.into()}})
}

/// [`keyset_page`] plus the number of rows `source` yields in all (for
/// search methods' `meta.total`). On a first page the count rides along with
/// the page in one pass (`COUNT(*) OVER ()`), so an expensive source such as
/// a full-text match is evaluated once.
pub fn keyset_page_with_total(
    db: &dyn Db,
    source: &str,
    params: &[Value],
    ascending: bool,
    limit: i64,
    cur: Option<&Cursor>,
) -> Result<(Vec<i64>, Json, i64)> {
    let (rows, meta, total) =
        keyset_page_counted(db, source, params, ascending, limit, cur, Page::IdsAndTotal)?;
    let ids = ids_of(&rows)?;
    let total = match total {
        Some(n) => n,
        None => db
            .query_row(&format!("SELECT COUNT(*) FROM ({source})"), params)?
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0),
    };
    Ok((ids, meta, total))
}

/// What a keyset page's statement selects after its `id, k`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    /// Nothing more.
    Ids,
    /// The total row count of the source (first pages only).
    IdsAndTotal,
    /// Every column of the source.
    Rows,
}

/// The columns every page row starts with: `id, k`.
const PAGE_KEY_COLUMNS: usize = 2;

/// The ids (first column) of page rows.
fn ids_of(rows: &[Row]) -> Result<Vec<i64>> {
    rows.iter().map(|r| r.i64(0).map_err(Error::from)).collect()
}

/// Page rows without their first `n` columns (the page's own: the id, and
/// a keyset page's sort key).
fn without_leading(rows: Vec<Row>, n: usize) -> Vec<Row> {
    rows.into_iter()
        .map(|mut r| Row(r.0.split_off(n.min(r.0.len()))))
        .collect()
}

/// The page's rows (`id, k`, then what `page` asks for), its meta, and (for
/// [`Page::IdsAndTotal`] on a first page) the total row count of `source`.
fn keyset_page_counted(
    db: &dyn Db,
    source: &str,
    params: &[Value],
    ascending: bool,
    limit: i64,
    cur: Option<&Cursor>,
    page: Page,
) -> Result<(Vec<Row>, Json, Option<i64>)> {
    let count = page == Page::IdsAndTotal;
    let (fwd, back, ord, rev) = if ascending {
        (">", "<", "ASC", "DESC")
    } else {
        ("<", ">", "DESC", "ASC")
    };
    let fetch = |op: Option<&str>,
                 order: &str,
                 anchor: Option<(&Value, i64)>,
                 n: i64,
                 extra: &str| {
        let mut p = params.to_vec();
        let filter = match (op, anchor) {
            (Some(op), Some((k, id))) => {
                p.push(k.clone());
                p.push(id.into());
                format!("WHERE (k, id) {op} (?, ?)")
            }
            _ => String::new(),
        };
        p.push(n.into());
        db.query(
            &format!(
                "SELECT id, k{extra} FROM ({source}) {filter} ORDER BY k {order}, id {order} LIMIT ?"
            ),
            &p,
        )
        .map_err(Error::from)
    };
    if let Some(c) = cur.filter(|c| c.end) {
        let same = c.encode();
        let meta = json!({"paginate": {
            "next_page": same, "prev_page": same, "has_next": false, "has_prev": false,
        }});
        return Ok((Vec::new(), meta, None));
    }
    let lim = usize::try_from(limit).unwrap_or(0);
    let backward = cur.is_some_and(|c| c.dir == Direction::Prev);
    let anchor = cur.map(|c| (key_value(c.key.as_ref()), c.id));
    let first_page = anchor.is_none();
    let extra = match page {
        Page::Ids => "",
        Page::IdsAndTotal if first_page => ", COUNT(*) OVER ()",
        Page::IdsAndTotal => "",
        Page::Rows => ", *",
    };
    let mut rows = match (&anchor, backward) {
        (Some((k, id)), true) => fetch(Some(back), rev, Some((k, *id)), limit + 1, extra)?,
        (Some((k, id)), false) => fetch(Some(fwd), ord, Some((k, *id)), limit + 1, extra)?,
        (None, _) => fetch(None, ord, None, limit + 1, extra)?,
    };
    let total = if count && first_page {
        Some(match rows.first() {
            Some(row) => row.i64(2)?,
            None => 0,
        })
    } else {
        None
    };
    let more = rows.len() > lim;
    rows.truncate(lim);
    if backward {
        rows.reverse();
    }
    let first = rows
        .first()
        .map(|r| (r.0.get(1).cloned().unwrap_or(Value::Null), r.i64(0)));
    let last = rows
        .last()
        .map(|r| (r.0.get(1).cloned().unwrap_or(Value::Null), r.i64(0)));
    let exists = |op: &str, pos: &(Value, i64)| -> Result<bool> {
        Ok(!fetch(Some(op), ord, Some((&pos.0, pos.1)), 1, "")?.is_empty())
    };
    let mk = |pos: Option<&(Value, i64)>, dir: Direction, end: bool| -> String {
        Cursor {
            key: pos.map(|p| key_json(Some(&p.0))).filter(|k| !k.is_null()),
            id: pos.map_or(0, |p| p.1),
            dir,
            end,
        }
        .encode()
    };
    let first = match first {
        Some((k, id)) => Some((k, id?)),
        None => None,
    };
    let last = match last {
        Some((k, id)) => Some((k, id?)),
        None => None,
    };
    let (has_next, has_prev) = match (&first, &last) {
        (Some(f), Some(l)) => {
            if backward {
                (exists(fwd, l)?, more)
            } else if first_page {
                // Nothing comes before the first page.
                (more, false)
            } else {
                (more, exists(back, f)?)
            }
        }
        _ => (false, false),
    };
    let anchor_pos = anchor.clone();
    let next_page = match &last {
        Some(l) => mk(Some(l), Direction::Next, false),
        None => mk(anchor_pos.as_ref(), Direction::Next, anchor_pos.is_none()),
    };
    let prev_page = match &first {
        Some(f) => mk(Some(f), Direction::Prev, false),
        None => mk(anchor_pos.as_ref(), Direction::Prev, anchor_pos.is_none()),
    };
    Ok((
        rows,
        json!({"paginate": {
            "next_page": next_page,
            "prev_page": prev_page,
            "has_next": has_next,
            "has_prev": has_prev,
        }}),
        total,
    ))
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

#[cfg(test)]
mod total_tests {
    use super::*;
    use crate::platform::db::NativeDb;

    #[test]
    fn totals_are_the_same_on_every_page_and_first_pages_have_no_prev() {
        let db = NativeDb::open_in_memory().expect("db");
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, even INTEGER)", &[])
            .expect("create");
        for i in 1..=25 {
            db.execute(
                "INSERT INTO t (id, even) VALUES (?, ?)",
                &[i.into(), (i % 2 == 0).into()],
            )
            .expect("insert");
        }
        let source = "SELECT id AS id, id AS k FROM t WHERE even = 1";
        let (ids, meta, total) =
            keyset_page_with_total(&db, source, &[], false, 5, None).expect("first page");
        assert_eq!(ids, vec![24, 22, 20, 18, 16]);
        assert_eq!(total, 12);
        assert_eq!(meta["paginate"]["has_prev"], json!(false));
        assert_eq!(meta["paginate"]["has_next"], json!(true));
        let next = Cursor::decode(meta["paginate"]["next_page"].as_str().expect("cursor"))
            .expect("valid cursor");
        let (ids, meta, total) =
            keyset_page_with_total(&db, source, &[], false, 5, Some(&next)).expect("second page");
        assert_eq!(ids, vec![14, 12, 10, 8, 6]);
        assert_eq!(total, 12);
        assert_eq!(meta["paginate"]["has_prev"], json!(true));
        let (ids, _, total) = keyset_page_with_total(
            &db,
            "SELECT id AS id, id AS k FROM t WHERE 0",
            &[],
            false,
            5,
            None,
        )
        .expect("empty");
        assert!(ids.is_empty());
        assert_eq!(total, 0);
    }
}
