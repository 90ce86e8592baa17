//! The host behind `spin-host`, one module per capability as Spin's own
//! factors are (`sqlite`, `key_value`, `outbound`, `variables`), composed by
//! `state` and `app`. A library so that its parsers (the manifest, route
//! patterns, runtime configuration) can be fuzzed on their own (`fuzz/`).

pub mod app;
pub mod clock;
pub mod engine;
pub mod ids;
pub mod key_value;
pub mod manifest;
pub mod outbound;
pub mod outbound_client;
pub mod routing;
pub mod runtime_config;
pub mod scheduler;
pub mod server;
pub mod sqlite;
pub mod state;
pub mod template;
pub mod variables;
