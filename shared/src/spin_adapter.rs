//! The one adapter between Spin and an API area, shared by every component:
//! it turns the Spin request into the transport-neutral [`Request`], opens
//! the `default` SQLite database, reads the `admin_token` variable, runs the
//! area's handler and turns its [`Response`] back into a Spin response.
//!
//! Each component crate is then a single `#[http_component]` function that
//! names its entry point, e.g. `serve(req, shared::components::chats)`.

use crate::auth::context::{Config, Handler};
use crate::platform::db::SpinDb;
use crate::platform::http::{Request, Response};
use crate::Error;

/// The request path and query: from the request URI, falling back to Spin's
/// `spin-full-url` header (parsed as an [`http::Uri`]).
fn path_and_query(req: &spin_sdk::http::Request) -> (String, String) {
    let path = req.path();
    if !path.is_empty() {
        return (path.to_owned(), req.query().to_owned());
    }
    let full = req
        .header("spin-full-url")
        .and_then(|h| h.as_str())
        .and_then(|full| full.parse::<http::Uri>().ok());
    match full {
        Some(uri) => (
            uri.path().to_owned(),
            uri.query().unwrap_or_default().to_owned(),
        ),
        None => ("/".to_owned(), String::new()),
    }
}

/// Serves one Spin request with a component's `handler`.
pub fn serve(req: spin_sdk::http::Request, handler: Handler) -> spin_sdk::http::Response {
    let (path, query) = path_and_query(&req);
    let api_req = Request {
        method: req.method().to_string().to_ascii_uppercase(),
        path,
        query,
        headers: req
            .headers()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.to_owned(), v.to_owned())))
            .collect(),
        body: req.body().to_vec(),
    };
    let cfg = Config {
        admin_token: spin_sdk::variables::get("admin_token")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    let resp = match SpinDb::open_default() {
        Ok(db) => handler(&db, &cfg, &api_req),
        Err(e) => Response::error(&Error::Db(e)),
    };
    spin_sdk::http::Response::builder()
        .status(resp.status)
        .headers(resp.headers)
        .body(resp.body)
        .build()
}
