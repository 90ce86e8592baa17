//! `spin:sqlite/sqlite@3.0.0` on rusqlite.
//!
//! Each label maps to a database file (or, with no state directory, to a
//! fresh in-memory database per open, as in Spin). File databases keep a small
//! pool of idle connections so a request does not pay for an open, with WAL
//! and a busy timeout set on every connection. A guest connection holds one
//! rusqlite connection for its lifetime, so a guest's transaction stays on one
//! connection; an unfinished transaction is rolled back before the connection
//! goes back to the pool.
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
    /// A database at `location`; nothing is opened until first use.
    pub fn new(location: DatabaseLocation) -> Self {
        Self {
            location,
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
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
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

/// The guest's `connection` resource.
pub struct GuestConnection {
    conn: Option<rusqlite::Connection>,
    database: Arc<Database>,
    last_insert_rowid: i64,
    changes: u64,
    holds_writer: bool,
}

impl GuestConnection {
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

impl Drop for GuestConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.database.checkin(conn);
        }
        if self.holds_writer {
            self.database.writer.leave();
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
    fn open(&mut self, database: String) -> Result<Resource<GuestConnection>, Error> {
        if !self.sqlite.allowed.contains(&database) {
            return Err(Error::AccessDenied);
        }
        let db = self
            .sqlite
            .databases
            .get(&database)
            .cloned()
            .ok_or(Error::NoSuchDatabase)?;
        let conn = db.checkout().map_err(io_error)?;
        let guest = GuestConnection {
            conn: Some(conn),
            database: db,
            last_insert_rowid: 0,
            changes: 0,
            holds_writer: false,
        };
        self.table
            .push(guest)
            .map_err(|_| Error::Io("too many connections opened".into()))
    }

    fn execute(
        &mut self,
        connection: Resource<GuestConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        self.table
            .get_mut(&connection)
            .map_err(|_| Error::InvalidConnection)?
            .execute(&statement, parameters)
    }

    fn last_insert_rowid(&mut self, connection: Resource<GuestConnection>) -> i64 {
        self.table
            .get(&connection)
            .map(|c| c.last_insert_rowid)
            .unwrap_or(0)
    }

    fn changes(&mut self, connection: Resource<GuestConnection>) -> u64 {
        self.table.get(&connection).map(|c| c.changes).unwrap_or(0)
    }

    fn drop(&mut self, connection: Resource<GuestConnection>) -> wasmtime::Result<()> {
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
        let db = Arc::new(Database::new(DatabaseLocation::InMemory));
        let mut guest = GuestConnection {
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
        let db = Database::new(DatabaseLocation::File(dir.join("t.db")));
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
}
