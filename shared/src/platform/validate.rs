//! Typed, precise validation of JSON request bodies.
//!
//! Bodies are parsed into `serde_json::Value` and read field by field through
//! [`Fields`], which records every problem with the exact `key` and an
//! official code instead of failing on the first serde error. Malformed JSON
//! or a missing/ill-typed root wrapper is a 400; field problems are a 422.

use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use serde_json::{Map, Value as Json};

/// Parses a request body as JSON (400 `invalid` on `body` otherwise).
pub fn parse_json(body: &[u8]) -> Result<Json> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request(
            "body",
            ErrorCode::Blank,
            None,
            "Request body must be a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Error::bad_request(
            "body",
            ErrorCode::Invalid,
            None,
            &format!("Malformed JSON: {e}"),
        )
    })
}

/// The body's root object; 400 when the root is not an object.
pub fn object(root: &Json) -> Result<&Map<String, Json>> {
    root.as_object().ok_or_else(|| {
        Error::bad_request(
            "body",
            ErrorCode::Invalid,
            None,
            "Request body must be a JSON object",
        )
    })
}

/// Returns the object under the root wrapper key (e.g. `user`), 400 when the
/// root is not an object or the wrapper is missing/not an object.
pub fn wrapper<'a>(root: &'a Json, key: &str) -> Result<&'a Map<String, Json>> {
    let obj = object(root)?;
    match obj.get(key) {
        None | Some(Json::Null) => Err(Error::bad_request(
            key,
            ErrorCode::Required,
            None,
            &format!("Parameter '{key}' is required"),
        )),
        Some(Json::Object(m)) => Ok(m),
        Some(other) => Err(Error::bad_request(
            key,
            ErrorCode::Invalid,
            Some(other.to_string()),
            &format!("Parameter '{key}' must be an object"),
        )),
    }
}

/// Renders a JSON value for the `value` field of an error.
pub fn show(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Field reader that accumulates validation errors.
pub struct Fields<'a> {
    obj: &'a Map<String, Json>,
    prefix: String,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Reads fields of `obj`; error keys are prefixed with `prefix` (`""` for none).
    pub fn new(obj: &'a Map<String, Json>, prefix: &str) -> Self {
        Fields {
            obj,
            prefix: prefix.to_owned(),
            errors: Vec::new(),
        }
    }

    /// Full error key of a field.
    pub fn key(&self, k: &str) -> String {
        if self.prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{}.{k}", self.prefix)
        }
    }

    /// Records an error.
    pub fn push(&mut self, e: FieldError) {
        self.errors.push(e);
    }

    /// Records an error on field `k`.
    pub fn fail(&mut self, k: &str, code: ErrorCode, value: Option<String>, message: &str) {
        let key = self.key(k);
        self.errors.push(FieldError::new(key, code, value, message));
    }

    /// Whether the field is present (even as `null`).
    pub fn present(&self, k: &str) -> bool {
        self.obj.contains_key(k)
    }

    /// Optional string: `None` when absent (or refused), else the trimmed
    /// string within `max` characters. `null` is refused like any
    /// non-string: no string of a request schema in the spec is nullable,
    /// and `""` is how a client clears one.
    pub fn string(&mut self, k: &str, max: Option<usize>) -> Option<String> {
        match self.string_or_null(k, max)? {
            Some(s) => Some(s),
            None => {
                self.fail(k, ErrorCode::Invalid, None, "must be a string");
                None
            }
        }
    }

    /// [`Fields::string`] that reads `null` as `Some(None)`.
    fn string_or_null(&mut self, k: &str, max: Option<usize>) -> Option<Option<String>> {
        match self.obj.get(k)? {
            Json::Null => Some(None),
            Json::String(s) => {
                let s = s.trim();
                if let Some(max) = max {
                    if s.chars().count() > max {
                        self.fail(
                            k,
                            ErrorCode::TooLong,
                            Some(s.to_owned()),
                            &format!("is too long (maximum is {max} characters)"),
                        );
                        return None;
                    }
                }
                Some(Some(s.to_owned()))
            }
            other => {
                let v = show(other);
                self.fail(k, ErrorCode::Invalid, v, "must be a string");
                None
            }
        }
    }

    /// Required non-blank string (missing, null or blank → `blank`).
    pub fn required_string(&mut self, k: &str, max: Option<usize>) -> Option<String> {
        let present = self.present(k);
        match self.string_or_null(k, max) {
            Some(Some(s)) if !s.is_empty() => Some(s),
            Some(_) => {
                self.fail(k, ErrorCode::Blank, None, "can't be blank");
                None
            }
            None if !present => {
                self.fail(k, ErrorCode::Blank, None, "can't be blank");
                None
            }
            None => None,
        }
    }

    /// Optional boolean; `null` is refused like any non-boolean (no
    /// boolean of the spec's request bodies is nullable).
    pub fn bool(&mut self, k: &str) -> Option<bool> {
        match self.obj.get(k)? {
            Json::Bool(b) => Some(*b),
            other => {
                let v = show(other);
                self.fail(k, ErrorCode::Invalid, v, "must be a boolean");
                None
            }
        }
    }

    /// Optional integer; `null` is refused (no integer of the spec's
    /// request bodies is nullable).
    pub fn i64(&mut self, k: &str) -> Option<i64> {
        match self.obj.get(k)? {
            Json::Number(n) if n.is_i64() => n.as_i64(),
            other => {
                let v = show(other);
                self.fail(k, ErrorCode::Invalid, v, "must be an integer");
                None
            }
        }
    }

    /// Optional enum string; unknown values → `inclusion`, `null` →
    /// `invalid` (no enum of the spec's request bodies is nullable).
    pub fn enumeration(&mut self, k: &str, allowed: &[&'static str]) -> Option<&'static str> {
        match self.obj.get(k)? {
            Json::String(s) => match allowed.iter().find(|a| **a == s.as_str()) {
                Some(a) => Some(*a),
                None => {
                    self.fail(
                        k,
                        ErrorCode::Inclusion,
                        Some(s.clone()),
                        &format!("is not included in the list: {}", allowed.join(", ")),
                    );
                    None
                }
            },
            other => {
                let v = show(other);
                self.fail(k, ErrorCode::Invalid, v, "must be a string");
                None
            }
        }
    }

    /// Optional array; `null` is refused (no array of the spec's request
    /// bodies is nullable).
    pub fn array(&mut self, k: &str) -> Option<&'a Vec<Json>> {
        match self.obj.get(k)? {
            Json::Array(a) => Some(a),
            other => {
                let v = show(other);
                self.fail(k, ErrorCode::Invalid, v, "must be an array");
                None
            }
        }
    }

    /// Optional array of non-blank strings, each within `max` characters.
    pub fn string_array(&mut self, k: &str, max: Option<usize>) -> Option<Vec<String>> {
        let items = self.array(k)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let key = format!("{k}.{i}");
            match item {
                Json::String(s) if s.trim().is_empty() => {
                    self.fail(&key, ErrorCode::Blank, None, "can't be blank");
                    ok = false;
                }
                Json::String(s) if max.is_some_and(|m| s.trim().chars().count() > m) => {
                    self.fail(&key, ErrorCode::TooLong, Some(s.clone()), "is too long");
                    ok = false;
                }
                Json::String(s) => out.push(s.trim().to_owned()),
                other => {
                    let v = show(other);
                    self.fail(&key, ErrorCode::Invalid, v, "must be a string");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// Optional array of integers.
    pub fn int_array(&mut self, k: &str) -> Option<Vec<i64>> {
        let items = self.array(k)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item.as_i64() {
                Some(n) if item.is_i64() || item.is_u64() => out.push(n),
                _ => {
                    let v = show(item);
                    self.fail(
                        &format!("{k}.{i}"),
                        ErrorCode::Invalid,
                        v,
                        "must be an integer",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// The errors recorded, to merge into an enclosing object's [`Fields`].
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// Whether any error was recorded so far.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// `Ok(())` or a 422 with every recorded error.
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Unprocessable(self.errors))
        }
    }
}

/// Minimal e-mail shape check: one `@`, non-empty local part, dotted domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn malformed_json_and_wrappers_are_400() {
        assert_eq!(parse_json(b"{").unwrap_err().status(), 400);
        assert_eq!(parse_json(b"").unwrap_err().status(), 400);
        let e = wrapper(&json!({"x": 1}), "user").unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.body()["errors"][0]["key"], "user");
        assert_eq!(e.body()["errors"][0]["code"], "required");
        assert_eq!(wrapper(&json!([1]), "user").unwrap_err().status(), 400);
        assert_eq!(
            wrapper(&json!({"user": 5}), "user").unwrap_err().status(),
            400
        );
    }

    #[test]
    fn a_null_string_is_refused_and_a_required_one_is_blank() {
        let v = json!({"title": null, "name": null, "empty": ""});
        let mut f = Fields::new(v.as_object().expect("object"), "");
        assert_eq!(f.string("title", None), None);
        assert_eq!(f.string("empty", None), Some(String::new()));
        assert_eq!(f.required_string("name", None), None);
        let e = f.finish().expect_err("two errors");
        let items = &e.body()["errors"];
        assert_eq!(
            (items[0]["key"].clone(), items[0]["code"].clone()),
            (json!("title"), json!("invalid"))
        );
        assert_eq!(
            (items[1]["key"].clone(), items[1]["code"].clone()),
            (json!("name"), json!("blank"))
        );
    }

    #[test]
    fn fields_collect_precise_errors() {
        let v = json!({"a": 5, "b": "x".repeat(256), "c": "  ", "r": "owner", "t": ["ok", 3]});
        let obj = v.as_object().unwrap();
        let mut f = Fields::new(obj, "");
        assert_eq!(f.string("a", None), None);
        assert_eq!(f.string("b", Some(255)), None);
        assert_eq!(f.required_string("c", None), None);
        assert_eq!(f.required_string("missing", None), None);
        assert_eq!(f.enumeration("r", &["admin", "user"]), None);
        assert_eq!(f.string_array("t", None), None);
        let e = f.finish().unwrap_err();
        assert_eq!(e.status(), 422);
        let codes: Vec<(String, String)> = e.body()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["key"].as_str().unwrap().to_owned(),
                    i["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                ("a".into(), "invalid".into()),
                ("b".into(), "too_long".into()),
                ("c".into(), "blank".into()),
                ("missing".into(), "blank".into()),
                ("r".into(), "inclusion".into()),
                ("t.1".into(), "invalid".into()),
            ]
        );
    }

    #[test]
    fn email_shape() {
        assert!(is_email("a@b.co"));
        for bad in ["", "a", "a@b", "@b.co", "a b@c.d", "a@@b.c", "a@.b"] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
