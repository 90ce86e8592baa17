//! `POST /messages/{id}/link_previews`: previews a bot attaches to the links
//! of a message.

use crate::auth::Principal;
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time;
use serde_json::{Map, Value as Json};

use super::*;

/// Validates `{"link_previews": {URL: LinkPreview}}`: a non-empty map whose
/// values have string `title` and `description`, an optional `image_url`
/// and an optional `image` with `key` and `name`.
pub fn parse_link_previews(body: &Json) -> Result<Map<String, Json>> {
    let map = crate::platform::validate::wrapper(body, "link_previews")?;
    let mut f = crate::platform::validate::Fields::new(map, "link_previews");
    if map.is_empty() {
        f.push(crate::platform::error::FieldError::new(
            "link_previews",
            ErrorCode::Blank,
            None,
            "can't be blank",
        ));
    }
    for (url, preview) in map {
        let Some(obj) = preview.as_object() else {
            f.fail(url, ErrorCode::Invalid, None, "must be an object");
            continue;
        };
        let mut g = crate::platform::validate::Fields::new(obj, &f.key(url));
        g.required_string("title", None);
        g.required_string("description", None);
        g.string("image_url", None);
        match obj.get("image") {
            None | Some(Json::Null) => {}
            Some(Json::Object(img)) => {
                let mut h = crate::platform::validate::Fields::new(img, &g.key("image"));
                h.required_string("key", None);
                h.required_string("name", None);
                h.i64("size");
                if let Err(Error::Unprocessable(errs)) = h.finish() {
                    for e in errs {
                        g.push(e);
                    }
                }
            }
            Some(other) => g.fail(
                "image",
                ErrorCode::Invalid,
                crate::platform::validate::show(other),
                "must be an object",
            ),
        }
        if let Err(Error::Unprocessable(errs)) = g.finish() {
            for e in errs {
                f.push(e);
            }
        }
    }
    f.finish()?;
    Ok(map.clone())
}

/// The lower-case host of a URL (`None` when it has none).
pub fn link_host(url: &str) -> Option<String> {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_ascii_lowercase))
        .filter(|h| !h.is_empty())
}

/// The links of a text: `http(s)://` up to white space or a closing
/// bracket or quote, without trailing punctuation, with their lower-case
/// host; each URL once, in order.
pub fn links_in(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("http") {
        let tail = &rest[at..];
        let is_link = tail.starts_with("http://") || tail.starts_with("https://");
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ']' | '>' | '<' | '"' | '\''))
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if is_link {
            if let Some(host) = link_host(url) {
                if !out.iter().any(|(u, _)| u == url) {
                    out.push((url.to_owned(), host));
                }
            }
        }
        rest = &tail[end.max(4)..];
    }
    out
}

/// Whether `host` is `domain` or one of its subdomains (an unfurl bot's
/// domain rule, `guides/link-previews.md`).
pub fn on_domain(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|h| h.ends_with('.'))
}

/// The domains an unfurl bot watches (empty for other bots). The setting is
/// the webhooks area's (`bot_unfurl`); it is read here because the rule
/// belongs to attaching previews.
fn unfurl_domains(db: &dyn Db, bot_id: i64) -> Result<Vec<String>> {
    let Some(r) = db.query_row(
        "SELECT domains_json FROM bot_unfurl WHERE bot_id = ?",
        &[bot_id.into()],
    )?
    else {
        return Ok(Vec::new());
    };
    Ok(serde_json::from_str(&r.string(0)?).unwrap_or_default())
}

/// `POST /messages/{id}/link_previews`: bot tokens only (403 otherwise);
/// a bot with `unfurl_domains` may preview links on them in any chat, any
/// other bot only in messages it reads (404 otherwise). Every URL must be
/// on the bot's domains, if it has any, and occur in the message's text
/// (`guides/link-previews.md`), else nothing is stored (422).
pub fn add_link_previews(
    db: &dyn Db,
    p: &Principal,
    id: i64,
    previews: &Map<String, Json>,
) -> Result<()> {
    if !p.bot {
        return Err(Error::forbidden(
            "id",
            ErrorCode::Forbidden,
            "Only bots can unfurl links",
        ));
    }
    // Reads and checks before the write lock; inside it, only the writes.
    let m = load(db, id)?.ok_or_else(|| Error::not_found("id", id))?;
    let domains = unfurl_domains(db, p.user_id)?;
    // An unfurl bot watches its domains in every chat
    // (`guides/link-previews.md`); any other bot only the messages it
    // reads, and nothing tells it that any other message exists.
    let reads = match readable(db, p, id) {
        Ok(_) => true,
        Err(Error::NotFound(_)) => false,
        Err(e) => return Err(e),
    };
    if !reads && domains.is_empty() {
        return Err(Error::not_found("id", id));
    }
    if m.deleted_at.is_some() {
        return Err(message_deleted(id));
    }
    for url in previews.keys() {
        let host = link_host(url).unwrap_or_default();
        let watched = domains.iter().any(|d| on_domain(&host, d));
        if !domains.is_empty() && !watched {
            return Err(Error::invalid(
                &format!("link_previews.{url}"),
                ErrorCode::Invalid,
                Some(url.clone()),
                "The URL's domain is not one of the bot's unfurl_domains",
            ));
        }
        if !m.content.contains(url.as_str()) {
            return Err(Error::invalid(
                &format!("link_previews.{url}"),
                ErrorCode::NotFound,
                Some(url.clone()),
                "The URL does not occur in the message",
            ));
        }
    }
    transaction(db, |db| -> Result<()> {
        let now = time::now().to_string();
        for (url, preview) in previews {
            db.execute(
                "INSERT INTO message_link_previews (message_id, url, preview_json, bot_id, created_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id, url) DO UPDATE SET \
                 preview_json = excluded.preview_json, bot_id = excluded.bot_id, created_at = excluded.created_at",
                &[
                    id.into(),
                    url.as_str().into(),
                    preview.to_string().into(),
                    p.user_id.into(),
                    now.clone().into(),
                ],
            )?;
        }
        message_event(db, p.user_id, &m, "link_previews")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_their_domains_are_found_in_text() {
        let text = "See https://tracker.example.com/T-1, [spec](http://docs.example.org/a?b=1) \
                    and <https://tracker.example.com/T-1> or httpx://no http:/no";
        assert_eq!(
            links_in(text),
            vec![
                (
                    "https://tracker.example.com/T-1".to_owned(),
                    "tracker.example.com".to_owned()
                ),
                (
                    "http://docs.example.org/a?b=1".to_owned(),
                    "docs.example.org".to_owned()
                ),
            ]
        );
        assert!(on_domain("tracker.example.com", "example.com"));
        assert!(on_domain("example.com", "example.com"));
        assert!(!on_domain("badexample.com", "example.com"));
    }
}
