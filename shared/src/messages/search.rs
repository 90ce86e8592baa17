//! `GET /search/messages`: full-text search over the live, non-system
//! messages the caller reads (no `query`: all of them; a query without any
//! word: none), on the SQLite FTS5 table `messages_fts`
//! (`unicode61` tokenizer: case folding for Cyrillic and Latin, diacritics
//! removed). Every word of the query must occur, each as a word prefix
//! ("футбол" finds "Футболки"). Filters: `created_from`/`created_to`,
//! `chat_ids` (the chat or the root chat of a thread comment), `user_ids`,
//! `active` (root chat not archived / archived). Sort: `created_at`
//! (default) or `relevance` (BM25), `order` desc (default) or asc.
//! Meta: `total` and `paginate.next_page`.

use crate::auth::Principal;
use crate::messages;
use crate::platform::db::{Db, Value};
use crate::platform::error::{ErrorCode, Result};
use crate::platform::http::Query;
use crate::platform::pagination::{self, Cursor};
use crate::platform::params::{bad_query, query_bool, query_enum, query_time};
use crate::platform::time::Timestamp;
use serde_json::Value as Json;

/// `limit` bound (and default) of `GET /search/messages`.
pub const SEARCH_MAX: i64 = 200;

/// Parameters of `GET /search/messages`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Text to find (`None`/blank: every readable message matches).
    pub query: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
    /// Ascending order.
    pub ascending: bool,
    /// Sort by relevance rather than creation.
    pub by_relevance: bool,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
    /// Only these chats (or threads of these chats).
    pub chat_ids: Vec<i64>,
    /// Only these authors.
    pub user_ids: Vec<i64>,
    /// Root chat active (`true`) or archived (`false`).
    pub active: Option<bool>,
}

fn int_list(q: &Query, key: &str) -> Result<Vec<i64>> {
    q.list(key)
        .iter()
        .map(|s| s.parse().map_err(|_| bad_query(key, ErrorCode::Invalid, s)))
        .collect()
}

/// Reads the query of `GET /search/messages` (bad values are 400).
pub fn parse_params(q: &Query) -> Result<SearchParams> {
    Ok(SearchParams {
        query: q.get("query").map(str::to_owned),
        limit: pagination::parse_limit(q.get("limit"), SEARCH_MAX, SEARCH_MAX)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
        ascending: query_enum(q, "order", &["asc", "desc"], "desc")? == "asc",
        by_relevance: query_enum(q, "sort", &["created_at", "relevance"], "created_at")?
            == "relevance",
        created_from: query_time(q, "created_from")?,
        created_to: query_time(q, "created_to")?,
        chat_ids: int_list(q, "chat_ids")?,
        user_ids: int_list(q, "user_ids")?,
        active: query_bool(q, "active")?,
    })
}

/// Turns free text into an FTS5 query: every word (letters, digits) as a
/// quoted prefix term, all required; ё is folded to е as in the index.
/// `None` when the text has no word.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", w.replace(['ё', 'Ё'], "е")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// Runs the search for `p`; `origin` prefixes message links.
pub fn search(
    db: &dyn Db,
    p: &Principal,
    sp: &SearchParams,
    origin: &str,
) -> Result<(Vec<Json>, Json)> {
    let mut filters = vec![
        "m.deleted_at IS NULL".to_owned(),
        "m.system = 0".to_owned(),
        messages::readable_sql(p),
    ];
    let mut params = messages::readable_params(p);
    let text = sp.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let fts = text.and_then(fts_query);
    if text.is_some() && fts.is_none() {
        // Only punctuation: no word can match.
        filters.push("0".into());
    }
    let (from, key) = match &fts {
        Some(_) => (
            "messages_fts JOIN messages m ON m.id = messages_fts.rowid",
            if sp.by_relevance {
                "CAST(round(-bm25(messages_fts) * 1000000) AS INTEGER)"
            } else {
                "m.id"
            },
        ),
        None => ("messages m", "m.id"),
    };
    let mut head: Vec<Value> = Vec::new();
    let mut match_clause = String::new();
    if let Some(q) = &fts {
        match_clause = "messages_fts MATCH ? AND ".into();
        head.push(q.clone().into());
    }
    if let Some(t) = sp.created_from {
        filters.push("m.created_at >= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(t) = sp.created_to {
        filters.push("m.created_at <= ?".into());
        params.push(t.to_string().into());
    }
    if !sp.chat_ids.is_empty() {
        filters.push(
            "(m.chat_id IN (SELECT value FROM json_each(?)) OR m.root_chat_id IN (SELECT value FROM json_each(?)))"
                .into(),
        );
        params.push(Value::id_array(&sp.chat_ids));
        params.push(Value::id_array(&sp.chat_ids));
    }
    if !sp.user_ids.is_empty() {
        filters.push("m.user_id IN (SELECT value FROM json_each(?))".into());
        params.push(Value::id_array(&sp.user_ids));
    }
    if let Some(active) = sp.active {
        filters.push(
            "EXISTS (SELECT 1 FROM chats rc WHERE rc.id = m.root_chat_id AND rc.archived = ?)"
                .into(),
        );
        params.push((!active).into());
    }
    head.extend(params);
    let source = format!(
        "SELECT m.id AS id, {key} AS k FROM {from} WHERE {match_clause}{}",
        filters.join(" AND ")
    );
    let (ids, meta, total) = pagination::keyset_page_with_total(
        db,
        &source,
        &head,
        sp.ascending,
        sp.limit,
        sp.cursor.as_ref(),
    )?;
    Ok((
        messages::render_many(db, &ids, origin)?,
        pagination::search_meta(total, meta["paginate"]["next_page"].clone()),
    ))
}
