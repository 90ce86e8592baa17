//! `fermyon:spin/key-value@2.0.0` with two backends: Spin's SQLite file
//! (`spin_key_value` table, shared by labels and keyed by label, as in Spin)
//! and Redis (`type = "redis"` in the runtime config).
//!
//! As a Spin factor does, this module defines its own per-request grant
//! ([`KeyValueAccess`]) and the view the host functions run on
//! ([`KeyValueView`]), and registers itself with [`add_to_linker`] given a
//! getter from the embedder's store data; it never names that store data.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use bindings::fermyon::spin::key_value::{self as wit, Error};

/// Host bindings of `fermyon:spin/key-value`; the guest's stores are
/// [`GuestStore`]s.
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "spin-host:platform/key-value",
        with: {
            "fermyon:spin/key-value.store": super::GuestStore,
        },
        require_store_data_send: true,
    });
}

/// Why a backend operation failed; shown to the guest as `other(..)`.
#[derive(Debug, thiserror::Error)]
pub enum KeyValueError {
    /// The SQLite backend failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The Redis backend failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A lock was poisoned by a panic elsewhere.
    #[error("key-value store is unavailable")]
    Poisoned,
}

/// A key-value backend; `store` is the label the guest opened.
pub trait KeyValueBackend: Send + Sync {
    /// The value of `key`, if any.
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KeyValueError>;
    /// Sets `key`, replacing any value.
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KeyValueError>;
    /// Deletes `key`; deleting a missing key is not an error.
    fn delete(&self, store: &str, key: &str) -> Result<(), KeyValueError>;
    /// Whether `key` exists.
    fn exists(&self, store: &str, key: &str) -> Result<bool, KeyValueError>;
    /// Every key of the store.
    fn get_keys(&self, store: &str) -> Result<Vec<String>, KeyValueError>;
}

/// Spin's default backend: one SQLite file, table `spin_key_value`.
pub struct SqliteKeyValue {
    conn: Mutex<rusqlite::Connection>,
}

impl SqliteKeyValue {
    /// Opens (creating if needed) the store file, or an in-memory store.
    pub fn open(path: Option<&Path>) -> Result<Self, KeyValueError> {
        let conn = match path {
            Some(path) => {
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let conn = rusqlite::Connection::open(path)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                // In WAL mode NORMAL survives a crash of the host and
                // syncs at checkpoints rather than on every set: a set per
                // request (the app's rate-limit counters) then costs no
                // fsync. A power cut may lose the last sets.
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn
            }
            None => rusqlite::Connection::open_in_memory()?,
        };
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, KeyValueError> {
        let conn = self.conn.lock().map_err(|_| KeyValueError::Poisoned)?;
        Ok(f(&conn)?)
    }
}

impl KeyValueBackend for SqliteKeyValue {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KeyValueError> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?;
            let mut rows = stmt.query((store, key))?;
            match rows.next()? {
                Some(row) => Ok(Some(row.get(0)?)),
                None => Ok(None),
            }
        })
    }

    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KeyValueError> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute((store, key, value))
            .map(|_| ())
        })
    }

    fn delete(&self, store: &str, key: &str) -> Result<(), KeyValueError> {
        self.with(|c| {
            c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute((store, key))
                .map(|_| ())
        })
    }

    fn exists(&self, store: &str, key: &str) -> Result<bool, KeyValueError> {
        Ok(self.get(store, key)?.is_some())
    }

    fn get_keys(&self, store: &str) -> Result<Vec<String>, KeyValueError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?;
            let keys = stmt
                .query_map([store], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(keys)
        })
    }
}

/// A Redis backend; keys are used as given, as Spin's Redis store does.
pub struct RedisKeyValue {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
}

impl RedisKeyValue {
    /// Connects to `url` once to fail fast on a bad address.
    pub fn open(url: &str) -> Result<Self, KeyValueError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_connection_with_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self {
            client,
            idle: Mutex::new(vec![conn]),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, KeyValueError> {
        let pooled = self.idle.lock().map_err(|_| KeyValueError::Poisoned)?.pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.client.get_connection()?,
        };
        let result = f(&mut conn);
        if result.is_ok() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < 16 {
                    idle.push(conn);
                }
            }
        }
        Ok(result?)
    }
}

impl KeyValueBackend for RedisKeyValue {
    fn get(&self, _store: &str, key: &str) -> Result<Option<Vec<u8>>, KeyValueError> {
        self.with(|c| redis::cmd("GET").arg(key).query(c))
    }

    fn set(&self, _store: &str, key: &str, value: &[u8]) -> Result<(), KeyValueError> {
        self.with(|c| redis::cmd("SET").arg(key).arg(value).query(c))
    }

    fn delete(&self, _store: &str, key: &str) -> Result<(), KeyValueError> {
        self.with(|c| redis::cmd("DEL").arg(key).query::<i64>(c).map(|_| ()))
    }

    fn exists(&self, _store: &str, key: &str) -> Result<bool, KeyValueError> {
        self.with(|c| redis::cmd("EXISTS").arg(key).query(c))
    }

    fn get_keys(&self, _store: &str) -> Result<Vec<String>, KeyValueError> {
        self.with(|c| redis::cmd("KEYS").arg("*").query(c))
    }
}

/// Every key-value store of the app, by label.
#[derive(Default)]
pub struct KeyValueStores {
    by_label: HashMap<String, Arc<dyn KeyValueBackend>>,
}

impl KeyValueStores {
    /// Adds (or replaces) the backend of a label.
    pub fn insert(&mut self, label: &str, backend: Arc<dyn KeyValueBackend>) {
        self.by_label.insert(label.to_string(), backend);
    }

    /// Whether `label` is defined.
    pub fn contains(&self, label: &str) -> bool {
        self.by_label.contains_key(label)
    }

    /// Sets a startup value (`--key-value k=v`) in the default store.
    pub fn set_initial(&self, key: &str, value: &str) -> Result<(), String> {
        let store = self
            .by_label
            .get("default")
            .ok_or_else(|| "no default key-value store".to_string())?;
        store
            .set("default", key, value.as_bytes())
            .map_err(|e| format!("--key-value {key}: {e}"))
    }
}

/// What one request may open: the app's stores and this component's labels.
#[derive(Clone)]
pub struct KeyValueAccess {
    /// All stores of the app.
    pub stores: Arc<KeyValueStores>,
    /// Labels listed in the component's `key_value_stores`.
    pub allowed: Arc<[String]>,
}

/// The guest's `store` resource.
pub struct GuestStore {
    label: String,
    backend: Arc<dyn KeyValueBackend>,
}

fn other(e: KeyValueError) -> Error {
    Error::Other(e.to_string())
}

/// What the key-value host functions see of one request: the stores the
/// component may open and the guest's resource table ([`KeyValueHost`]).
pub struct KeyValueView<'a> {
    /// The component's stores.
    pub key_value: &'a mut KeyValueAccess,
    /// The guest's resources (open stores live here).
    pub table: &'a mut ResourceTable,
}

/// [`HasData`] marker binding `fermyon:spin/key-value` to a [`KeyValueView`].
struct KeyValueHost;

impl HasData for KeyValueHost {
    type Data<'a> = KeyValueView<'a>;
}

/// Adds `fermyon:spin/key-value` to `linker`; `view` lends each host call
/// the [`KeyValueView`] of the store data it runs on.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KeyValueView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, KeyValueHost>(linker, view)
}

impl KeyValueView<'_> {
    fn guest_store(&self, store: &Resource<GuestStore>) -> Result<&GuestStore, Error> {
        self.table
            .get(store)
            .map_err(|e| Error::Other(format!("invalid store handle: {e}")))
    }
}

impl wit::Host for KeyValueView<'_> {}

impl wit::HostStore for KeyValueView<'_> {
    fn open(&mut self, label: String) -> Result<Resource<GuestStore>, Error> {
        if !self.key_value.allowed.contains(&label) {
            return Err(Error::AccessDenied);
        }
        let backend = self
            .key_value
            .stores
            .by_label
            .get(&label)
            .cloned()
            .ok_or(Error::NoSuchStore)?;
        self.table
            .push(GuestStore { label, backend })
            .map_err(|_| Error::StoreTableFull)
    }

    fn get(&mut self, store: Resource<GuestStore>, key: String) -> Result<Option<Vec<u8>>, Error> {
        let s = self.guest_store(&store)?;
        s.backend.get(&s.label, &key).map_err(other)
    }

    fn set(
        &mut self,
        store: Resource<GuestStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        let s = self.guest_store(&store)?;
        s.backend.set(&s.label, &key, &value).map_err(other)
    }

    fn delete(&mut self, store: Resource<GuestStore>, key: String) -> Result<(), Error> {
        let s = self.guest_store(&store)?;
        s.backend.delete(&s.label, &key).map_err(other)
    }

    fn exists(&mut self, store: Resource<GuestStore>, key: String) -> Result<bool, Error> {
        let s = self.guest_store(&store)?;
        s.backend.exists(&s.label, &key).map_err(other)
    }

    fn get_keys(&mut self, store: Resource<GuestStore>) -> Result<Vec<String>, Error> {
        let s = self.guest_store(&store)?;
        s.backend.get_keys(&s.label).map_err(other)
    }

    fn drop(&mut self, store: Resource<GuestStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_backend_separates_labels() {
        let kv = SqliteKeyValue::open(None).expect("open");
        kv.set("a", "k", b"1").expect("set");
        kv.set("b", "k", b"2").expect("set");
        kv.set("a", "k", b"3").expect("overwrite");
        assert_eq!(kv.get("a", "k").expect("get"), Some(b"3".to_vec()));
        assert_eq!(kv.get("b", "k").expect("get"), Some(b"2".to_vec()));
        assert!(kv.exists("a", "k").expect("exists"));
        kv.delete("a", "k").expect("delete");
        kv.delete("a", "k").expect("delete twice");
        assert!(!kv.exists("a", "k").expect("exists"));
        assert_eq!(kv.get_keys("b").expect("keys"), vec!["k".to_string()]);
    }
}
