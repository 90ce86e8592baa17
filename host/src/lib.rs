//! The host behind `spin-host`, one module per capability as Spin's own
//! factors are (`sqlite`, `key_value`, `outbound`, `variables`), composed by
//! `state` and `app`. A library so that its parsers (the manifest, route
//! patterns, runtime configuration) can be fuzzed on their own (`fuzz/`):
//! without the `runtime` feature it is those alone.

// Configuration: parsed and validated once at load, no runtime in it.
pub mod ids;
pub mod manifest;
pub mod outbound_rules;
pub mod routing;
pub mod runtime_config;
pub mod scheduler;
pub mod template;

// The runtime: wasmtime, the capabilities and the server.
#[cfg(feature = "runtime")]
pub mod app;
#[cfg(feature = "runtime")]
pub mod clock;
#[cfg(feature = "runtime")]
pub mod engine;
#[cfg(feature = "runtime")]
pub mod key_value;
#[cfg(feature = "runtime")]
pub mod outbound;
#[cfg(feature = "runtime")]
pub mod outbound_client;
#[cfg(feature = "runtime")]
pub mod server;
#[cfg(feature = "runtime")]
pub mod sqlite;
#[cfg(feature = "runtime")]
pub mod state;
#[cfg(feature = "runtime")]
pub mod variables;
