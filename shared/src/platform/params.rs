//! Readers of path and query parameters shared by every area router: ids,
//! booleans, date-times and enums, each failing with a precise 400/404.

use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::http::Query;
use crate::platform::time::Timestamp;

/// `limit` bound (and default) of the list methods.
pub const LIST_MAX: i64 = 50;

/// Parses a positive integer path parameter; anything else is a 404 on `key`.
pub fn id_param(raw: &str, key: &str) -> Result<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::NotFound(FieldError::new(
            key,
            ErrorCode::NotFound,
            Some(raw.to_owned()),
            "Object not found",
        ))
    })
}

/// 400 `ApiError` for a bad query parameter.
pub fn bad_query(key: &str, code: ErrorCode, value: &str) -> Error {
    Error::bad_request(key, code, Some(value.to_owned()), "Invalid query parameter")
}

/// A query parameter's list of ids (`key=1,2` or repeated keys), each a
/// positive integer; anything else is a 400 naming the value.
pub fn query_ids(q: &Query, key: &str) -> Result<Vec<i64>> {
    q.list(key).iter().map(|s| positive_id(key, s)).collect()
}

/// An optional id query parameter, a positive integer; anything else is a
/// 400.
pub fn query_id(q: &Query, key: &str) -> Result<Option<i64>> {
    q.get(key).map(|s| positive_id(key, s)).transpose()
}

fn positive_id(key: &str, raw: &str) -> Result<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_query(key, ErrorCode::Invalid, raw))
}

/// Optional boolean query parameter (`true`/`false`); anything else is a 400.
pub fn query_bool(q: &Query, key: &str) -> Result<Option<bool>> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => Err(bad_query(key, ErrorCode::Invalid, other)),
    }
}

/// Optional date-time query parameter; unparsable values, the empty one
/// included, are a 400.
pub fn query_time(q: &Query, key: &str) -> Result<Option<Timestamp>> {
    match q.get(key) {
        None => Ok(None),
        Some(s) => Timestamp::parse(s)
            .map(Some)
            .ok_or_else(|| bad_query(key, ErrorCode::Invalid, s)),
    }
}

/// Optional enum query parameter: `default` when absent, 400 `inclusion` when unknown.
pub fn query_enum(
    q: &Query,
    key: &str,
    allowed: &[&'static str],
    default: &'static str,
) -> Result<&'static str> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(v) => allowed
            .iter()
            .find(|a| **a == v)
            .copied()
            .ok_or_else(|| bad_query(key, ErrorCode::Inclusion, v)),
    }
}
