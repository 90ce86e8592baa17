//! `GET /messages` of a chat or thread, and who has read a message
//! (`GET /messages/{id}/read_member_ids`).

use crate::auth::Principal;
use crate::platform::db::Db;
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::pagination::{self, Cursor};
use serde_json::{json, Value as Json};

use super::*;

/// `limit` bound (and default) of `GET /messages/{id}/read_member_ids`.
pub const READERS_MAX: i64 = 300;

/// Parameters of `GET /messages`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// The chat (or thread chat).
    pub chat_id: i64,
    /// Oldest first (default newest first).
    pub ascending: bool,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
}

/// Reads the query of `GET /messages` (`chat_id` required; bad values are 400).
pub fn parse_list_params(q: &crate::platform::http::Query, max: i64) -> Result<ListParams> {
    use crate::platform::params::{bad_query, query_enum};
    let chat_id = match q.get("chat_id").filter(|s| !s.is_empty()) {
        None => {
            return Err(Error::bad_request(
                "chat_id",
                ErrorCode::Required,
                None,
                "Parameter 'chat_id' is required",
            ))
        }
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| bad_query("chat_id", ErrorCode::Invalid, s))?,
    };
    query_enum(q, "sort", &["id"], "id")?;
    Ok(ListParams {
        chat_id,
        ascending: query_enum(q, "order", &["asc", "desc"], "desc")? == "asc",
        limit: pagination::parse_limit(q.get("limit"), max, max)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
    })
}

/// `GET /messages?chat_id=`: live messages of a chat the caller reads, newest
/// first by default. A cross-thread member gets 404 on the parent chat.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    lp: &ListParams,
    origin: &str,
) -> Result<(Vec<Json>, Json)> {
    readable_chat(db, p, lp.chat_id, "chat_id")?;
    // The page is read with what renders it, in one statement.
    let (rows, meta) = pagination::keyset_page_rows(
        db,
        &format!(
            "SELECT {}, m.id AS k {RENDER_FROM} WHERE m.chat_id = ? AND m.deleted_at IS NULL",
            render_columns()
        ),
        &[lp.chat_id.into()],
        lp.ascending,
        lp.limit,
        lp.cursor.as_ref(),
    )?;
    Ok((render_rows(db, &rows, origin)?, meta))
}

/// `GET /messages/{id}/read_member_ids`: ids of the users (other than the
/// author) whose read position in the message's chat reached it, ascending.
pub fn read_member_ids(
    db: &dyn Db,
    p: &Principal,
    id: i64,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let m = readable(db, p, id)?;
    let page = pagination::id_page(
        db,
        "FROM chat_reads r WHERE r.chat_id = ? AND r.last_read_message_id >= ? AND r.user_id <> ?",
        "r.user_id",
        &[m.chat_id.into(), m.id.into(), m.user_id.into()],
        limit,
        cursor,
    )?;
    Ok((page.ids.iter().map(|i| json!(i)).collect(), page.meta()))
}
