//! Transport-neutral HTTP types and helpers: the component converts the Spin
//! request into [`Request`], calls the area's router (see [`crate::components`]), and converts the
//! [`Response`] back. Keeping them plain lets the whole API be tested natively.

use crate::platform::db::DbError;
use crate::platform::error::Error;
use serde_json::{json, Value as Json};

/// An incoming request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// Upper-case method, e.g. `GET`.
    pub method: String,
    /// Raw path without query, e.g. `/api/shared/v1/users/12`.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Header pairs (names compared case-insensitively).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// Convenience constructor (used by tests).
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Request {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: query.to_owned(),
            ..Request::default()
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body (builder style).
    pub fn with_json(mut self, body: &Json) -> Self {
        self.body = body.to_string().into_bytes();
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self
    }

    /// First header with this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `scheme://host[:port]` of the request (from Spin's `spin-full-url`,
    /// else the `Host` header), prefixed to links in messages and webhook
    /// payloads; empty when unknown.
    pub fn origin(&self) -> String {
        if let Some(full) = self.header("spin-full-url") {
            if let Some((scheme, rest)) = full.split_once("://") {
                let authority = rest.split('/').next().unwrap_or_default();
                if !authority.is_empty() {
                    return format!("{scheme}://{authority}");
                }
            }
        }
        self.header("host")
            .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
            .map(|h| format!("http://{h}"))
            .unwrap_or_default()
    }

    /// Parsed query string.
    pub fn query(&self) -> Query {
        Query::parse(&self.query)
    }
}

/// An outgoing response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header pairs.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// `body` serialized straight into text; see [`json_bytes`].
pub fn json_text(body: &Json) -> String {
    serde_json::to_string(body).unwrap_or_else(|_| body.to_string())
}

/// `body` serialized straight into bytes. `Json`'s `to_string` goes
/// through `Display`, which passes every piece through a `fmt::Formatter`,
/// a cost that showed in profiles of reading 50 messages. A `Json` value
/// always serializes; the fallback is for the type's sake.
pub fn json_bytes(body: &Json) -> Vec<u8> {
    json_text(body).into_bytes()
}

impl Response {
    /// JSON response with the given status.
    pub fn json(status: u16, body: &Json) -> Self {
        Response {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: json_bytes(body),
        }
    }

    /// `{"data": ...}`.
    pub fn data(status: u16, data: Json) -> Self {
        Self::json(status, &json!({ "data": data }))
    }

    /// `{"data": [...], "meta": ...}`.
    pub fn list(data: Vec<Json>, meta: Json) -> Self {
        Self::json(200, &json!({ "data": data, "meta": meta }))
    }

    /// 204 without body.
    pub fn no_content() -> Self {
        Response {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The single place where errors become responses.
    pub fn error(e: &Error) -> Self {
        let mut r = Self::json(e.status(), &e.body());
        match e {
            Error::Unauthorized(_) => r.headers.push((
                "www-authenticate".into(),
                "Bearer error=\"invalid_token\"".into(),
            )),
            Error::InsufficientScope(_) => r.headers.push((
                "www-authenticate".into(),
                "Bearer error=\"insufficient_scope\"".into(),
            )),
            Error::TooManyRequests { retry_after_s, .. } => r
                .headers
                .push(("retry-after".into(), retry_after_s.to_string())),
            Error::Db(DbError::Busy(_)) => r.headers.push(("retry-after".into(), "1".into())),
            _ => {}
        }
        r
    }

    /// Body parsed as JSON (`Null` when empty or invalid); handy in tests.
    pub fn json_body(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }
}

/// Parsed query string; keys `a[]` are normalised to `a`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Every `(key, value)` pair, in order (`[]` dropped from keys).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Parses `a=1&b[]=x&b[]=y` as `application/x-www-form-urlencoded`
    /// (`form_urlencoded`: `+` is a space, invalid escapes stay literal,
    /// invalid UTF-8 is replaced).
    pub fn parse(qs: &str) -> Self {
        Query(
            form_urlencoded::parse(qs.as_bytes())
                .map(|(k, v)| {
                    let k = k.strip_suffix("[]").unwrap_or(&k).to_owned();
                    (k, v.into_owned())
                })
                .collect(),
        )
    }

    /// First value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All values of an array parameter: repeated keys (`a[]=x&a[]=y`) and
    /// comma-separated values (`a=x,y`, the spec's `explode: false`).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        let q = Query::parse("query=%D0%9E%D0%BB%D0%B5%D0%B3+P&company_roles[]=admin&company_roles%5B%5D=user&x=a,b&bad=%zz%");
        assert_eq!(q.get("query"), Some("Олег P"));
        assert_eq!(q.list("company_roles"), vec!["admin", "user"]);
        assert_eq!(q.list("x"), vec!["a", "b"]);
        assert_eq!(q.get("bad"), Some("%zz%"));
        assert_eq!(q.get("nope"), None);
    }
}
