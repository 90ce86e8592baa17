//! The per-request store data: WASI, wasi:http and the Spin capabilities a
//! component was granted. A fresh one is built for every request.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::key_value::KeyValueAccess;
use crate::outbound::OutboundHooks;
use crate::sqlite::SqliteAccess;
use crate::variables::ComponentVariables;

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
