//! Host bindings for the Spin platform interfaces in `wit/`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "spin-host:platform/host",
    with: {
        "spin:sqlite/sqlite.connection": crate::sqlite::GuestConnection,
        "fermyon:spin/key-value.store": crate::key_value::GuestStore,
    },
    require_store_data_send: true,
});
