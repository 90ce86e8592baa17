//! `reactions` Spin component: converts the Spin request into the shared,
//! transport-neutral request, opens the `default` SQLite database, reads the
//! `admin_token` variable and lets `shared::reactions_api` do the rest.
//!
//! The crate is empty on native targets so that workspace-wide `cargo clippy`
//! and `cargo test` work; it is built for `wasm32-wasip2`.
#![cfg(target_arch = "wasm32")]

use shared::api_support::Config;
use shared::db::SpinDb;
use shared::http::{Request as ApiRequest, Response as ApiResponse};
use shared::reactions_api;
use shared::Error;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// Extracts the path: from the request URI, falling back to `spin-full-url`.
fn request_path(req: &Request) -> (String, String) {
    let path = req.path();
    if !path.is_empty() {
        return (path.to_owned(), req.query().to_owned());
    }
    let full = req
        .header("spin-full-url")
        .and_then(|h| h.as_str())
        .unwrap_or_default();
    let after_scheme = full.split_once("://").map_or(full, |(_, rest)| rest);
    let path_and_query = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let (p, q) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    (p.to_owned(), q.to_owned())
}

fn to_spin(resp: ApiResponse) -> Response {
    Response::builder()
        .status(resp.status)
        .headers(resp.headers)
        .body(resp.body)
        .build()
}

#[http_component]
fn handle(req: Request) -> Response {
    let (path, query) = request_path(&req);
    let api_req = ApiRequest {
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
        Ok(db) => reactions_api::handle(&db, &cfg, &api_req),
        Err(e) => ApiResponse::error(&Error::Db(e)),
    };
    to_spin(resp)
}
