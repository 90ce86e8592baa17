//! `spin:sqlite/sqlite@3.0.0` on rusqlite.
//!
//! Each label maps to a database file (or, with no state directory, to a
//! fresh in-memory database per open, as in Spin). How a guest's `open`
//! becomes a SQLite connection is the [`ConnectionMode`], chosen once at load:
//!
//! - [`ConnectionMode::Pooled`] (the default): file databases keep a small
//!   pool of idle connections, each with WAL, a busy timeout and a large
//!   statement cache, so a request pays neither for an open nor for
//!   re-preparing its statements; one writer is admitted at a time
//!   ([`WriterGate`]). A guest connection holds one rusqlite connection for
//!   its lifetime, so a guest's transaction stays on one connection; an
//!   unfinished transaction is rolled back before the connection goes back
//!   to the pool.
//! - [`ConnectionMode::Spin`]: what Spin 3.3–4.x does (`crates/sqlite-inproc`):
//!   every guest `open` gets a connection of its own, opened at its first
//!   query with rusqlite's defaults (a 5 s busy timeout served by SQLite's
//!   sleeping busy handler, a 16-statement cache that dies with the
//!   connection), no pragmas of the host's, and every query runs on tokio's
//!   blocking pool. It exists to measure the app as real Spin and SpinKube
//!   run it, without the Spin CLI.
//!
//! SQLite's memory statistics ([`set_memory_statistics`]) are process-wide
//! and chosen once, before the first connection: off by default in the
//! pooled mode, on in the Spin mode as in Spin 4.0.2's bundled SQLite. With
//! them on, every allocation SQLite makes takes one process-wide mutex, and
//! requests parsing the schema on fresh connections in parallel queue on it.
//!
//! As a Spin factor does, this module defines its own per-request grant
//! ([`SqliteAccess`]) and the view the host functions run on
//! ([`SqliteView`]), and registers itself with [`add_to_linker`] given a
//! getter from the embedder's store data; it never names that store data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use bindings::spin::sqlite::sqlite::{self as wit, Error, QueryResult, RowResult, Value};

/// Host bindings of `spin:sqlite`; the guest's connections are
/// [`GuestConnection`]s.
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "spin-host:platform/sqlite",
        with: {
            "spin:sqlite/sqlite.connection": super::GuestConnection,
        },
        require_store_data_send: true,
        imports: { default: async },
    });
}

/// Largest total size of one query result handed to a guest (as in Spin).
const MAX_RESULT_BYTES: usize = 128 * 1024 * 1024;
/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per database file.
const MAX_IDLE_CONNECTIONS: usize = 16;
/// Prepared statements cached per connection. An API request runs a few
/// dozen distinct statements; rusqlite's default of 16 would re-parse most.
const STATEMENT_CACHE_CAPACITY: usize = 512;

/// SQLite refused to change its process-wide configuration: it was already
/// initialized, by a connection opened earlier in the process.
#[derive(Debug, thiserror::Error)]
#[error("SQLite's process-wide configuration can no longer change (code {0}): it is set before the first connection opens")]
pub struct AlreadyInitialized(std::os::raw::c_int);

/// Turns SQLite's memory statistics (`SQLITE_CONFIG_MEMSTATUS`) on or off
/// for the whole process.
///
/// SQLite's default, and that of Spin 4.0.2's bundled build, is on: every
/// `malloc` and `free` inside SQLite then takes one process-wide mutex to
/// keep a count nobody here reads. Real Spin opens a connection per request
/// and parses the whole schema on it, thousands of allocations; with 16
/// requests doing that on blocking threads at once, they queue on that one
/// mutex in futex waits and wakeups (`STEPS=modes scripts/bench messages`
/// prints the Spin mode with and without; README, "Storage on real
/// Spin"). Off, the mutex is not taken; a Spin built with
/// `LIBSQLITE3_FLAGS=SQLITE_DEFAULT_MEMSTATUS=0` gets the same. What it
/// gives up: `sqlite3_memory_used` and the soft heap limit, which neither
/// this host nor Spin uses.
///
/// # Safety
/// `sqlite3_config` is not thread-safe: no other thread may use SQLite
/// while it runs. Call it before the process starts threads that could.
/// After SQLite has initialized (any connection opened) it changes nothing
/// and this returns [`AlreadyInitialized`].
pub unsafe fn set_memory_statistics(enabled: bool) -> Result<(), AlreadyInitialized> {
    let flag = std::os::raw::c_int::from(enabled);
    // SAFETY: the caller guarantees no other thread uses SQLite meanwhile;
    // SQLITE_CONFIG_MEMSTATUS takes exactly one int.
    let rc = unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, flag) };
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(AlreadyInitialized(rc))
    }
}

/// How guest connections map to SQLite connections (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConnectionMode {
    /// Pooled connections with WAL, a statement cache and a writer gate.
    #[default]
    Pooled,
    /// A fresh connection per guest `open`, as Spin's `sqlite-inproc`.
    Spin,
}

impl std::str::FromStr for ConnectionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pooled" => Ok(Self::Pooled),
            "spin" => Ok(Self::Spin),
            other => Err(format!(
                "unknown SQLite connection mode {other:?} (expected \"pooled\" or \"spin\")"
            )),
        }
    }
}

/// Where one labelled database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A file on disk, created on first use.
    File(PathBuf),
    /// A fresh, private in-memory database for every open.
    InMemory,
}

/// One labelled database and its idle connections.
pub struct Database {
    location: DatabaseLocation,
    mode: ConnectionMode,
    idle: Mutex<Vec<rusqlite::Connection>>,
    writer: WriterGate,
}

/// Lets one guest write at a time. SQLite allows one writer anyway; a second
/// one would sleep in SQLite's busy handler (1 ms, 2 ms, 5 ms, ...) on a
/// worker thread, while waiting here wakes it the moment the writer is done.
/// The wait is bounded by the busy timeout, after which SQLite decides.
#[derive(Default)]
struct WriterGate {
    taken: Mutex<bool>,
    released: Condvar,
}

impl WriterGate {
    /// Takes the gate, or gives up after `timeout` (returns whether taken).
    fn enter(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let Ok(mut taken) = self.taken.lock() else {
            return false;
        };
        while *taken {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            taken = match self.released.wait_timeout(taken, left) {
                Ok((guard, _)) => guard,
                Err(_) => return false,
            };
        }
        *taken = true;
        true
    }

    fn leave(&self) {
        if let Ok(mut taken) = self.taken.lock() {
            *taken = false;
            self.released.notify_one();
        }
    }
}

/// Whether a statement starts a write: a transaction or a data change.
fn starts_write(statement: &str) -> bool {
    let head: String = statement
        .trim_start()
        .chars()
        .take(7)
        .collect::<String>()
        .to_ascii_uppercase();
    ["BEGIN", "INSERT", "UPDATE", "DELETE", "REPLACE"]
        .iter()
        .any(|w| head.starts_with(w))
}

impl Database {
    /// A database at `location` whose guest connections follow `mode`;
    /// nothing is opened until first use.
    pub fn with_mode(location: DatabaseLocation, mode: ConnectionMode) -> Self {
        Self {
            location,
            mode,
            idle: Mutex::new(Vec::new()),
            writer: WriterGate::default(),
        }
    }

    /// Opens a new connection configured for concurrent use.
    pub fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = match &self.location {
            DatabaseLocation::InMemory => rusqlite::Connection::open_in_memory()?,
            DatabaseLocation::File(path) => open_file(path)?,
        };
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        Ok(conn)
    }

    fn checkout(&self) -> rusqlite::Result<rusqlite::Connection> {
        if let Ok(mut idle) = self.idle.lock() {
            if let Some(conn) = idle.pop() {
                return Ok(conn);
            }
        }
        self.connect()
    }

    fn checkin(&self, conn: rusqlite::Connection) {
        if self.location == DatabaseLocation::InMemory {
            return;
        }
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_CONNECTIONS {
                idle.push(conn);
            }
        }
    }
}

fn open_file(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    if let Some(parent) = path.parent() {
        // A missing parent surfaces as the open error below.
        let _ = std::fs::create_dir_all(parent);
    }
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    use_wal(&conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Puts the database in WAL mode. SQLite cannot change the journal mode
/// while another connection holds a lock and says so at once, without its
/// busy handler: connections opened together on a new file meet exactly
/// that. So a refusal is retried every 10 ms for up to the busy timeout, and
/// is no error once another connection has switched the mode.
fn use_wal(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => return Ok(()),
            Err(e) => {
                let mode: Option<String> =
                    conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).ok();
                if mode.is_some_and(|m| m.eq_ignore_ascii_case("wal")) {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Every database of the app, by label.
#[derive(Default)]
pub struct Databases {
    by_label: HashMap<String, Arc<Database>>,
}

impl Databases {
    /// Adds (or replaces) a labelled database.
    pub fn insert(&mut self, label: &str, database: Database) {
        self.by_label.insert(label.to_string(), Arc::new(database));
    }

    /// Whether `label` is defined.
    pub fn contains(&self, label: &str) -> bool {
        self.by_label.contains_key(label)
    }

    /// The database for `label`.
    pub fn get(&self, label: &str) -> Option<&Arc<Database>> {
        self.by_label.get(label)
    }

    /// Runs a `--sqlite` startup statement: `@file` runs as a batch, inline
    /// text as one statement, against the `default` database or the label
    /// after `:` (for `@file:label`).
    pub fn run_startup_statement(&self, spec: &str) -> Result<(), String> {
        let (sql, label, batch) = match spec.strip_prefix('@') {
            Some(file_spec) => {
                let (file, label) = match file_spec.rsplit_once(':') {
                    Some((file, label)) if !label.contains('/') => {
                        if file.is_empty() || label.is_empty() {
                            return Err(format!("invalid --sqlite {spec:?}"));
                        }
                        (file, label)
                    }
                    _ => (file_spec, "default"),
                };
                let sql = std::fs::read_to_string(file)
                    .map_err(|e| format!("--sqlite {spec:?}: cannot read {file}: {e}"))?;
                (sql, label, true)
            }
            None => (spec.to_string(), "default", false),
        };
        let database = self
            .get(label)
            .ok_or_else(|| format!("--sqlite {spec:?}: no database labelled {label:?}"))?;
        let conn = database
            .checkout()
            .map_err(|e| format!("--sqlite {spec:?}: {e}"))?;
        let result = if batch {
            conn.execute_batch(&sql)
        } else {
            conn.prepare(&sql)
                .and_then(|mut stmt| stmt.raw_execute().map(|_| ()))
        };
        database.checkin(conn);
        result.map_err(|e| format!("--sqlite {spec:?} failed: {e}"))
    }
}

/// The guest's `connection` resource, in the database's [`ConnectionMode`].
pub enum GuestConnection {
    /// A pooled connection, held for the guest connection's lifetime.
    Pooled(PooledConnection),
    /// A connection of its own, opened at the first query (Spin's way).
    PerOpen(PerOpenConnection),
}

/// A guest connection on a pooled rusqlite connection.
pub struct PooledConnection {
    conn: Option<rusqlite::Connection>,
    database: Arc<Database>,
    last_insert_rowid: i64,
    changes: u64,
    holds_writer: bool,
}

impl PooledConnection {
    /// Runs one statement, holding the writer gate from a write's first
    /// statement until the connection is back in autocommit mode.
    fn execute(&mut self, statement: &str, parameters: Vec<Value>) -> Result<QueryResult, Error> {
        if !self.holds_writer && starts_write(statement) {
            self.holds_writer = self.database.writer.enter(BUSY_TIMEOUT);
        }
        let conn = self.conn.as_ref().ok_or(Error::InvalidConnection)?;
        let result = run(conn, statement, parameters);
        self.last_insert_rowid = conn.last_insert_rowid();
        self.changes = conn.changes();
        if self.holds_writer && conn.is_autocommit() {
            self.holds_writer = false;
            self.database.writer.leave();
        }
        result
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.database.checkin(conn);
        }
        if self.holds_writer {
            self.database.writer.leave();
        }
    }
}

/// A guest connection as Spin's `sqlite-inproc` makes it: nothing is opened
/// until the first query, then one rusqlite connection with its defaults
/// serves this guest connection only and closes with it.
pub struct PerOpenConnection {
    location: DatabaseLocation,
    conn: Arc<Mutex<Option<rusqlite::Connection>>>,
}

impl PerOpenConnection {
    fn new(location: DatabaseLocation) -> Self {
        Self {
            location,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs one statement on tokio's blocking pool, opening the connection
    /// first if this is its first query.
    async fn execute(
        &self,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        let conn = self.conn.clone();
        let location = self.location.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| io_error("connection lock poisoned"))?;
            if guard.is_none() {
                *guard = Some(open_with_defaults(&location).map_err(io_error)?);
            }
            let conn = guard.as_ref().ok_or(Error::InvalidConnection)?;
            run(conn, &statement, parameters)
        })
        .await
        .map_err(|e| io_error(format!("internal runtime error: {e}")))?
    }

    /// Reads a number off the open connection (0 before the first query).
    fn read<N: Default>(&self, f: impl Fn(&rusqlite::Connection) -> N) -> N {
        self.conn
            .lock()
            .ok()
            .and_then(|guard| guard.as_ref().map(&f))
            .unwrap_or_default()
    }
}

/// Opens a connection as Spin does: rusqlite's defaults and nothing else.
fn open_with_defaults(location: &DatabaseLocation) -> rusqlite::Result<rusqlite::Connection> {
    match location {
        DatabaseLocation::InMemory => rusqlite::Connection::open_in_memory(),
        DatabaseLocation::File(path) => {
            if let Some(parent) = path.parent() {
                // A missing parent surfaces as the open error below.
                let _ = std::fs::create_dir_all(parent);
            }
            rusqlite::Connection::open(path)
        }
    }
}

impl GuestConnection {
    /// A guest connection to `database` in its mode.
    fn open(database: Arc<Database>) -> Result<Self, Error> {
        Ok(match database.mode {
            ConnectionMode::Spin => {
                Self::PerOpen(PerOpenConnection::new(database.location.clone()))
            }
            ConnectionMode::Pooled => Self::Pooled(PooledConnection {
                conn: Some(database.checkout().map_err(io_error)?),
                database,
                last_insert_rowid: 0,
                changes: 0,
                holds_writer: false,
            }),
        })
    }

    fn last_insert_rowid(&self) -> i64 {
        match self {
            Self::Pooled(c) => c.last_insert_rowid,
            Self::PerOpen(c) => c.read(rusqlite::Connection::last_insert_rowid),
        }
    }

    fn changes(&self) -> u64 {
        match self {
            Self::Pooled(c) => c.changes,
            Self::PerOpen(c) => c.read(rusqlite::Connection::changes),
        }
    }
}

/// What one request may open: the app's databases and this component's labels.
#[derive(Clone)]
pub struct SqliteAccess {
    /// All databases of the app.
    pub databases: Arc<Databases>,
    /// Labels listed in the component's `sqlite_databases`.
    pub allowed: Arc<[String]>,
}

fn io_error(e: impl std::fmt::Display) -> Error {
    Error::Io(e.to_string())
}

fn to_sql(value: Value) -> rusqlite::types::Value {
    match value {
        Value::Integer(i) => rusqlite::types::Value::Integer(i),
        Value::Real(r) => rusqlite::types::Value::Real(r),
        Value::Text(t) => rusqlite::types::Value::Text(t),
        Value::Blob(b) => rusqlite::types::Value::Blob(b),
        Value::Null => rusqlite::types::Value::Null,
    }
}

fn from_sql(value: ValueRef<'_>) -> Result<Value, Error> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| io_error("column holds text that is not UTF-8"))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Text(t) => t.len(),
        Value::Blob(b) => b.len(),
        _ => 8,
    }
}

fn run(
    conn: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<Value>,
) -> Result<QueryResult, Error> {
    let mut stmt = conn.prepare_cached(statement).map_err(io_error)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let params: Vec<rusqlite::types::Value> = parameters.into_iter().map(to_sql).collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(io_error)?;
    let mut result_rows = Vec::new();
    let mut total = 0usize;
    while let Some(row) = rows.next().map_err(io_error)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let value = from_sql(row.get_ref(i).map_err(io_error)?)?;
            total += value_size(&value);
            values.push(value);
        }
        if total > MAX_RESULT_BYTES {
            return Err(io_error(format!(
                "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
            )));
        }
        result_rows.push(RowResult { values });
    }
    Ok(QueryResult {
        columns,
        rows: result_rows,
    })
}

/// What the `spin:sqlite` host functions see of one request: the databases
/// the component may open and the guest's resource table. The per-request
/// state lends one out through the getter given to [`add_to_linker`]; this
/// module knows nothing else of it.
pub struct SqliteView<'a> {
    /// The component's databases.
    pub sqlite: &'a mut SqliteAccess,
    /// The guest's resources (open connections live here).
    pub table: &'a mut ResourceTable,
}

/// [`HasData`] marker binding `spin:sqlite` to a [`SqliteView`].
struct SqliteHost;

impl HasData for SqliteHost {
    type Data<'a> = SqliteView<'a>;
}

/// Adds `spin:sqlite/sqlite` to `linker`; `view` lends each host call the
/// [`SqliteView`] of the store data it runs on.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SqliteView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, SqliteHost>(linker, view)
}

impl wit::Host for SqliteView<'_> {}

impl wit::HostConnection for SqliteView<'_> {
    async fn open(&mut self, database: String) -> Result<Resource<GuestConnection>, Error> {
        if !self.sqlite.allowed.contains(&database) {
            return Err(Error::AccessDenied);
        }
        let db = self
            .sqlite
            .databases
            .get(&database)
            .cloned()
            .ok_or(Error::NoSuchDatabase)?;
        let guest = GuestConnection::open(db)?;
        self.table
            .push(guest)
            .map_err(|_| Error::Io("too many connections opened".into()))
    }

    async fn execute(
        &mut self,
        connection: Resource<GuestConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        match self
            .table
            .get_mut(&connection)
            .map_err(|_| Error::InvalidConnection)?
        {
            GuestConnection::Pooled(conn) => conn.execute(&statement, parameters),
            GuestConnection::PerOpen(conn) => conn.execute(statement, parameters).await,
        }
    }

    async fn last_insert_rowid(&mut self, connection: Resource<GuestConnection>) -> i64 {
        self.table
            .get(&connection)
            .map(GuestConnection::last_insert_rowid)
            .unwrap_or(0)
    }

    async fn changes(&mut self, connection: Resource<GuestConnection>) -> u64 {
        self.table
            .get(&connection)
            .map(GuestConnection::changes)
            .unwrap_or(0)
    }

    async fn drop(&mut self, connection: Resource<GuestConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let result = run(
            &conn,
            "SELECT ?, ?, ?, ?, ?",
            vec![
                Value::Integer(-7),
                Value::Real(1.5),
                Value::Text("привет".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
            ],
        )
        .expect("query");
        let values = &result.rows[0].values;
        assert!(matches!(values[0], Value::Integer(-7)));
        assert!(matches!(values[1], Value::Real(r) if r == 1.5));
        assert!(matches!(&values[2], Value::Text(t) if t == "привет"));
        assert!(matches!(&values[3], Value::Blob(b) if b == &vec![0, 255]));
        assert!(matches!(values[4], Value::Null));
    }

    #[test]
    fn several_statements_are_an_error() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        assert!(run(&conn, "SELECT 1; SELECT 2", vec![]).is_err());
        assert!(run(&conn, "SELEKT 1", vec![]).is_err());
    }

    #[test]
    fn writes_are_recognised() {
        for write in [
            "BEGIN IMMEDIATE",
            " begin",
            "INSERT INTO t",
            "update t",
            "DELETE FROM t",
            "REPLACE INTO t",
        ] {
            assert!(starts_write(write), "{write}");
        }
        for read in [
            "SELECT 1",
            "PRAGMA foreign_keys",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "COMMIT",
        ] {
            assert!(!starts_write(read), "{read}");
        }
    }

    #[test]
    fn the_writer_gate_admits_one_writer_and_times_out() {
        let gate = WriterGate::default();
        assert!(gate.enter(Duration::from_millis(10)));
        assert!(
            !gate.enter(Duration::from_millis(20)),
            "a second writer waits, then gives up"
        );
        gate.leave();
        assert!(gate.enter(Duration::from_millis(10)));
    }

    #[test]
    fn a_transaction_holds_the_gate_until_commit() {
        let db = Arc::new(Database::with_mode(
            DatabaseLocation::InMemory,
            ConnectionMode::Pooled,
        ));
        let mut guest = PooledConnection {
            conn: Some(db.connect().expect("open")),
            database: db.clone(),
            last_insert_rowid: 0,
            changes: 0,
            holds_writer: false,
        };
        guest.execute("CREATE TABLE t (x)", vec![]).expect("create");
        assert!(!guest.holds_writer);
        guest.execute("BEGIN IMMEDIATE", vec![]).expect("begin");
        guest
            .execute("INSERT INTO t VALUES (1)", vec![])
            .expect("insert");
        assert!(guest.holds_writer);
        assert!(!db.writer.enter(Duration::from_millis(5)));
        guest.execute("COMMIT", vec![]).expect("commit");
        assert!(!guest.holds_writer);
        assert!(db.writer.enter(Duration::from_millis(5)));
        db.writer.leave();
        guest.execute("BEGIN", vec![]).expect("begin again");
        drop(guest);
        assert!(
            db.writer.enter(Duration::from_millis(5)),
            "dropping the connection frees the gate"
        );
    }

    #[test]
    fn unfinished_transactions_roll_back_on_checkin() {
        let dir = std::env::temp_dir().join(format!("spin-host-sqlite-{}", std::process::id()));
        let db = Database::with_mode(
            DatabaseLocation::File(dir.join("t.db")),
            ConnectionMode::Pooled,
        );
        let conn = db.checkout().expect("open");
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS t(x); DELETE FROM t; BEGIN; INSERT INTO t VALUES (1);",
        )
        .expect("write");
        db.checkin(conn);
        let conn = db.checkout().expect("reuse");
        assert!(conn.is_autocommit());
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_spin_mode_opens_a_fresh_connection_with_rusqlites_defaults_per_open() {
        let dir = std::env::temp_dir().join(format!("spin-host-permode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Arc::new(Database::with_mode(
            DatabaseLocation::File(dir.join("t.db")),
            ConnectionMode::Spin,
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let first_value = |r: Result<QueryResult, Error>| match r {
            Ok(result) => match result.rows[0].values[0] {
                Value::Integer(i) => i,
                ref other => panic!("not an integer: {other:?}"),
            },
            Err(e) => panic!("query failed: {e:?}"),
        };
        runtime.block_on(async {
            let GuestConnection::PerOpen(a) = GuestConnection::open(db.clone()).expect("open")
            else {
                panic!("a pooled connection in the spin mode");
            };
            assert!(
                !dir.join("t.db").exists(),
                "nothing is opened before the first query"
            );
            let timeout = a.execute("PRAGMA busy_timeout".into(), vec![]).await;
            assert_eq!(first_value(timeout), 5000, "rusqlite's default");
            let sync = a.execute("PRAGMA synchronous".into(), vec![]).await;
            assert_eq!(first_value(sync), 2, "SQLite's FULL: the host sets nothing");
            a.execute("PRAGMA synchronous = OFF".into(), vec![])
                .await
                .expect("set");
            a.execute("CREATE TABLE t (x)".into(), vec![])
                .await
                .expect("create");
            a.execute("INSERT INTO t VALUES (1)".into(), vec![])
                .await
                .expect("insert");
            assert_eq!(
                (
                    a.read(rusqlite::Connection::changes),
                    a.read(rusqlite::Connection::last_insert_rowid)
                ),
                (1, 1)
            );
            drop(a);
            let GuestConnection::PerOpen(b) = GuestConnection::open(db.clone()).expect("open")
            else {
                panic!("a pooled connection in the spin mode");
            };
            let sync = b.execute("PRAGMA synchronous".into(), vec![]).await;
            assert_eq!(first_value(sync), 2, "a new open is a new connection");
            let rows = b.execute("SELECT count(*) FROM t".into(), vec![]).await;
            assert_eq!(first_value(rows), 1);
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_mode_is_named_pooled_or_spin() {
        assert_eq!("pooled".parse(), Ok(ConnectionMode::Pooled));
        assert_eq!("spin".parse(), Ok(ConnectionMode::Spin));
        assert!("fast".parse::<ConnectionMode>().is_err());
        assert_eq!(ConnectionMode::default(), ConnectionMode::Pooled);
    }

    #[test]
    fn connections_opened_together_on_a_new_file_all_end_up_in_wal() {
        let dir = std::env::temp_dir().join(format!("spin-host-wal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("t.db");
        let opened: Vec<_> = (0..16)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let conn = open_file(&path)?;
                    conn.execute_batch(
                        "CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1);",
                    )?;
                    conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
                })
            })
            .collect();
        for handle in opened {
            let mode = handle.join().expect("thread").expect("opened");
            assert_eq!(mode, "wal");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
