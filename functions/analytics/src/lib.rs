//! `analytics` Spin component: communication analytics (our extension),
//! served by `shared::components::analytics` through the shared Spin
//! adapter.
//!
//! The crate is empty on native targets so that workspace-wide `cargo clippy`
//! and `cargo test` work; it is built for `wasm32-wasip2`.
#![cfg(target_arch = "wasm32")]

/// The component's HTTP entry point.
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::Request, out: spin_sdk::http::ResponseOutparam) {
    shared::spin_adapter::serve(req, out, shared::components::analytics).await
}
