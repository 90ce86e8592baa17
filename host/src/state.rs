//! The per-request store data: WASI, wasi:http and the Spin capabilities a
//! component was granted. A fresh one is built for every request.
//!
//! This module composes the capabilities, as Spin's runtime composes its
//! factors: each capability module (`sqlite`, `key_value`, `variables`,
//! `outbound`) defines its own per-request data and a view of it, and
//! never imports this module; `app` links each view through the getters
//! here. Imports run capability modules ← `state` ← `app`/`server`.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::key_value::{KeyValueAccess, KeyValueView};
use crate::outbound::OutboundHooks;
use crate::sqlite::{SqliteAccess, SqliteView};
use crate::variables::{ComponentVariables, VariablesView};

/// Everything one guest instance can reach while it handles one request.
pub struct RequestState {
    /// Guest resources (WASI, HTTP, SQLite connections, KV stores).
    pub table: ResourceTable,
    /// WASI context: environment, stdio, preopened directories.
    pub wasi: WasiCtx,
    /// wasi:http context.
    pub http: WasiHttpCtx,
    /// Outbound HTTP policy enforcement.
    pub hooks: OutboundHooks,
    /// SQLite databases this component may open.
    pub sqlite: SqliteAccess,
    /// Key-value stores this component may open.
    pub key_value: KeyValueAccess,
    /// This component's variables.
    pub variables: Arc<ComponentVariables>,
    /// Memory limits for the instance.
    pub limits: StoreLimits,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl RequestState {
    /// The `spin:sqlite` view of this request.
    pub fn sqlite_view(&mut self) -> SqliteView<'_> {
        SqliteView {
            sqlite: &mut self.sqlite,
            table: &mut self.table,
        }
    }

    /// The key-value view of this request.
    pub fn key_value_view(&mut self) -> KeyValueView<'_> {
        KeyValueView {
            key_value: &mut self.key_value,
            table: &mut self.table,
        }
    }

    /// The variables view of this request.
    pub fn variables_view(&mut self) -> VariablesView<'_> {
        VariablesView(&self.variables)
    }
}
