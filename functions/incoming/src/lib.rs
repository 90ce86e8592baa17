//! `incoming` Spin component: bots' incoming webhooks
//! (`POST /api/shared/v1/webhooks/incoming/{token}`), served by
//! `shared::components::incoming` through the shared Spin adapter. It is a
//! component of its own because its template engines (Liquid, Mustache)
//! are most of its size; the other components stay without them.
//!
//! The crate is empty on native targets so that workspace-wide `cargo clippy`
//! and `cargo test` work; it is built for `wasm32-wasip2`.
#![cfg(target_arch = "wasm32")]

/// The component's HTTP entry point.
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::Request, out: spin_sdk::http::ResponseOutparam) {
    shared::spin_adapter::serve(req, out, shared::components::incoming).await
}
