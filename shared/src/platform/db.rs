//! Storage abstraction: a tiny SQLite data-access trait with two backends.
//!
//! Inside the Spin component (`target_arch = "wasm32"`) the backend is
//! `spin_sdk::sqlite3::Connection`; natively it is `rusqlite`, so every domain
//! function can be unit tested against an in-memory database with plain
//! `cargo test`. Only positional `?` parameters are used, never string
//! interpolation of values.

use thiserror::Error;

/// A value bound to a statement parameter or read from a result column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// 64-bit signed integer.
    Integer(i64),
    /// 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

/// The subquery that reads a [`Value::rows`] parameter as a table whose
/// columns are named `columns` (in order), e.g. `(SELECT ... AS id, ... AS
/// status FROM json_each(?))`: set-based writes of many rows in one
/// statement. SQLite's `json_each` is the dialect-specific part, kept here.
pub fn rows_source(columns: &[&str]) -> String {
    let picks: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("json_extract(value, '$[{i}]') AS {c}"))
        .collect();
    format!("(SELECT {} FROM json_each(?))", picks.join(", "))
}

/// How many columns a plain column list (`"id, name, users.email"`, no
/// commas inside an expression) names, at compile time: a query whose
/// columns follow such a list reads them from this index on.
pub const fn column_count(list: &str) -> usize {
    let bytes = list.as_bytes();
    let (mut n, mut i) = (1, 0);
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// A scalar subquery whose value is a JSON array with one array per row of
/// `SELECT columns {from}` (`[]` when there is none), e.g. a user's tags in
/// the query that reads the user: what would otherwise be a query of its
/// own. The order of the rows is not kept; sort them after parsing. SQLite's
/// `json_group_array` is the dialect-specific part, kept here.
pub fn json_rows_sql(columns: &[&str], from: &str) -> String {
    format!(
        "(SELECT json_group_array(json_array({})) {from})",
        columns.join(", ")
    )
}

impl Value {
    /// Rows for [`rows_source`]: each row a JSON array of its column values,
    /// all in one JSON text parameter.
    pub fn rows(rows: Vec<serde_json::Value>) -> Value {
        Value::Text(crate::platform::http::json_text(&serde_json::Value::Array(
            rows,
        )))
    }

    /// A list of ids as one JSON-array text parameter (`[1,2,3]`), which the
    /// SQL reads with `json_each(?)`: one statement for any number of ids.
    pub fn id_array(ids: &[i64]) -> Value {
        let items: Vec<String> = ids.iter().map(i64::to_string).collect();
        Value::Text(format!("[{}]", items.join(",")))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Failure reported by the storage backend.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DbError {
    /// The backend could not open the database.
    #[error("cannot open database: {0}")]
    Open(String),
    /// A statement failed (syntax, constraint, I/O, busy, ...).
    #[error("sqlite error: {0}")]
    Sqlite(String),
    /// The write lock stayed taken by other connections for longer than
    /// [`LOCK_WAIT`]: answered 503 with `Retry-After`, nothing was written.
    #[error("the database stayed busy for {0} ms")]
    Busy(u64),
    /// A column held a value of an unexpected type (a programming error).
    #[error("column {index}: expected {expected}")]
    Column {
        /// Zero-based column index.
        index: usize,
        /// Expected SQL type.
        expected: &'static str,
    },
}

impl DbError {
    /// True when the failure is a UNIQUE constraint violation, which the
    /// domain maps to the `taken` validation code (a race that slipped past a
    /// pre-check).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlite(m) if m.contains("UNIQUE constraint failed"))
    }

    /// True when SQLite answered `SQLITE_BUSY`: another connection holds
    /// the lock this statement needs, and nothing was done.
    pub fn is_locked(&self) -> bool {
        matches!(self, DbError::Sqlite(m) if m.contains("database is locked"))
    }
}

/// One result row; typed getters never panic.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn get(&self, index: usize) -> &Value {
        self.0.get(index).unwrap_or(&Value::Null)
    }

    /// Non-null integer column.
    pub fn i64(&self, index: usize) -> Result<i64, DbError> {
        match self.get(index) {
            Value::Integer(v) => Ok(*v),
            _ => Err(DbError::Column {
                index,
                expected: "integer",
            }),
        }
    }

    /// Nullable integer column.
    pub fn opt_i64(&self, index: usize) -> Result<Option<i64>, DbError> {
        match self.get(index) {
            Value::Null => Ok(None),
            _ => self.i64(index).map(Some),
        }
    }

    /// Integer column interpreted as a boolean (0 = false).
    pub fn bool(&self, index: usize) -> Result<bool, DbError> {
        self.i64(index).map(|v| v != 0)
    }

    /// Non-null text column.
    pub fn string(&self, index: usize) -> Result<String, DbError> {
        match self.get(index) {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(DbError::Column {
                index,
                expected: "text",
            }),
        }
    }

    /// Nullable text column.
    pub fn opt_string(&self, index: usize) -> Result<Option<String>, DbError> {
        match self.get(index) {
            Value::Null => Ok(None),
            _ => self.string(index).map(Some),
        }
    }
}

/// Result of one statement: rows in order (empty for DML).
pub type Rows = Vec<Row>;

/// Minimal data-access interface shared by the Spin and native backends.
pub trait Db {
    /// Runs ONE statement with positional parameters and returns its rows.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError>;

    /// Rowid of the most recent successful INSERT on this connection.
    fn last_insert_rowid(&self) -> i64;

    /// Rows changed by the most recent INSERT/UPDATE/DELETE.
    fn changes(&self) -> u64;

    /// Alias of [`Db::execute`] for reads, to make intent explicit.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.execute(sql, params)
    }

    /// First row of a query, if any.
    fn query_row(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.execute(sql, params)?.into_iter().next())
    }

    /// The connection's settings as read when it opened; `None` for a
    /// connection opened some other way (its settings are then unknown and
    /// left alone).
    fn setup(&self) -> Option<&Setup> {
        None
    }

    /// The row a [`Rider`] keyed `key` read along with the setup when the
    /// connection opened, taken once; `None` if there was none, it was for
    /// another key, it was taken already, or it was read on an older schema
    /// than this build's (the request migrates it, which may change what
    /// the rider read): the caller then reads for itself.
    fn prefetched(&self, _key: &str) -> Option<Row> {
        None
    }
}

/// A read that rides along with a fresh connection's setup read, so a
/// request's first lookups (its access token; whether any bot listens)
/// cost no statement of their own; on Spin every statement is a trip to a
/// blocking thread and a prepare on a new connection. The read is `SELECT
/// <setup>, <each rider's columns> FROM <setup pragmas> <each rider's
/// joins>` with the riders' `params` in order; `joins` must be `LEFT
/// JOIN`s (or empty, for columns that are scalar subqueries) so the setup
/// row comes back whether or not a rider finds anything (its columns are
/// then `NULL`). Each is taken back with [`Db::prefetched`] under its `key`.
#[derive(Debug, Clone)]
pub struct Rider {
    /// What the reader asks for it by (e.g. the token's hash).
    pub key: String,
    /// The rider's result columns.
    pub columns: Vec<String>,
    /// Its `LEFT JOIN`s onto the setup row.
    pub joins: &'static str,
    /// The joins' parameters.
    pub params: Vec<Value>,
}

/// A connection's [`Setup`] and what its [`Rider`]s read, as a backend
/// keeps them: set once when the connection opens.
#[derive(Debug, Default)]
pub struct Opened {
    setup: std::cell::OnceCell<Setup>,
    prefetched: std::cell::RefCell<Vec<(String, Row)>>,
}

impl Opened {
    /// Reads the setup of `db` (and the `riders`' rows) into this.
    pub fn read(&self, db: &dyn Db, riders: &[Rider]) -> Result<(), DbError> {
        let (setup, rows) = Setup::read(db, riders)?;
        let _ = self.setup.set(setup);
        *self.prefetched.borrow_mut() = riders.iter().map(|r| r.key.clone()).zip(rows).collect();
        Ok(())
    }

    /// The setup, once read.
    pub fn setup(&self) -> Option<&Setup> {
        self.setup.get()
    }

    /// [`Db::prefetched`].
    pub fn prefetched(&self, key: &str) -> Option<Row> {
        let mut rows = self.prefetched.borrow_mut();
        let at = rows.iter().position(|(k, _)| k == key)?;
        let row = rows.swap_remove(at).1;
        let current = self
            .setup
            .get()
            .is_some_and(|s| s.schema_version() >= crate::platform::migrate::latest_version());
        current.then_some(row)
    }
}

/// What a connection's settings were when it opened, read in one statement
/// ([`Setup::read`]), and whether it has been made ready for writes.
///
/// On Spin every request opens a fresh connection, so each statement here
/// is paid on every request. A read-only request pays one: the settings and
/// the schema version (`PRAGMA user_version`, which the migrations keep) in
/// one read, which also carries the request's first lookups ([`Rider`]). A
/// request that writes pays at most two more, once, before its
/// first `BEGIN IMMEDIATE` ([`Setup::prepare_writes`]). A pooled connection
/// (our host) already has them and pays none.
#[derive(Debug)]
pub struct Setup {
    busy_timeout: i64,
    synchronous: i64,
    user_version: i64,
    writes_ready: std::cell::Cell<bool>,
}

/// The settings read by [`Setup::read`]: busy timeout, synchronous, foreign
/// keys and schema version.
const READ_SETUP: &str = concat!(setup_select!(), " ", setup_from!());

/// The columns of [`READ_SETUP`].
macro_rules! setup_select {
    () => {
        "SELECT b.timeout, s.synchronous, f.foreign_keys, v.user_version"
    };
}
use setup_select;

/// The `FROM` of [`READ_SETUP`], one row.
macro_rules! setup_from {
    () => {
        "FROM pragma_busy_timeout b, pragma_synchronous s, pragma_foreign_keys f, pragma_user_version v"
    };
}
use setup_from;

/// How many leading columns of a setup read are the setup's own.
const SETUP_COLUMNS: usize = 4;

/// `synchronous = NORMAL`: in WAL mode a commit is durable against crashes
/// of the process, and is not fsynced (SQLite's default FULL fsyncs the WAL
/// on every commit).
const SYNCHRONOUS_NORMAL: i64 = 1;

impl Setup {
    /// Reads a new connection's settings, and turns foreign keys on where
    /// SQLite was built without them on by default (setting the flag
    /// expires prepared statements, so it is only set when off).
    ///
    /// The `riders`' reads go in the same statement; each rider's columns
    /// come back as a row of its own (all `NULL` when its joins found
    /// nothing), in order. Riders that fail (a schema without their tables,
    /// before the first migration) are dropped: the setup is read alone and
    /// there are no rows.
    pub fn read(db: &dyn Db, riders: &[Rider]) -> Result<(Self, Vec<Row>), DbError> {
        if !riders.is_empty() {
            let columns: Vec<&str> = riders
                .iter()
                .flat_map(|r| r.columns.iter().map(String::as_str))
                .collect();
            let joins: Vec<&str> = riders
                .iter()
                .map(|r| r.joins)
                .filter(|j| !j.is_empty())
                .collect();
            let sql = format!(
                "{}, {} {} {}",
                setup_select!(),
                columns.join(", "),
                setup_from!(),
                joins.join(" ")
            );
            let params: Vec<Value> = riders
                .iter()
                .flat_map(|r| r.params.iter().cloned())
                .collect();
            if let Ok(Some(Row(values))) = db.query_row(&sql, &params) {
                let mut values = values.into_iter();
                let own = Row(values.by_ref().take(SETUP_COLUMNS).collect());
                let rows = riders
                    .iter()
                    .map(|r| Row(values.by_ref().take(r.columns.len()).collect()))
                    .collect();
                return Ok((Self::from_row(db, &own)?, rows));
            }
        }
        let row = db
            .query_row(READ_SETUP, &[])?
            .ok_or_else(|| DbError::Sqlite("connection settings unreadable".into()))?;
        Ok((Self::from_row(db, &row)?, Vec::new()))
    }

    fn from_row(db: &dyn Db, row: &Row) -> Result<Self, DbError> {
        if row.i64(2)? != 1 {
            db.execute("PRAGMA foreign_keys = ON", &[])?;
        }
        Ok(Self {
            busy_timeout: row.i64(0)?,
            synchronous: row.i64(1)?,
            user_version: row.i64(3)?,
            writes_ready: std::cell::Cell::new(false),
        })
    }

    /// The schema version the connection saw when it opened.
    pub fn schema_version(&self) -> i64 {
        self.user_version
    }

    /// Before the first write transaction: a busy timeout of
    /// [`IN_STATEMENT_WAIT_MS`] instead of rusqlite's 5 s, because
    /// [`transaction`] waits for the write lock itself past that (SQLite's
    /// own handler sleeps in steps of up to 100 ms, which is where a
    /// 1-second tail under 16 writers comes from), and `synchronous =
    /// NORMAL`.
    pub fn prepare_writes(&self, db: &dyn Db) -> Result<(), DbError> {
        if self.writes_ready.get() {
            return Ok(());
        }
        if self.busy_timeout != IN_STATEMENT_WAIT_MS {
            db.execute(
                &format!("PRAGMA busy_timeout = {IN_STATEMENT_WAIT_MS}"),
                &[],
            )?;
        }
        if self.synchronous != SYNCHRONOUS_NORMAL {
            db.execute("PRAGMA synchronous = NORMAL", &[])?;
        }
        self.writes_ready.set(true);
        Ok(())
    }
}

/// Longest a request waits for the write lock before it is answered 503.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a statement waits for the write lock inside SQLite (its busy
/// handler: 1 ms, then 2 ms) before it fails busy and [`wait_for_lock`]
/// runs it again. Waiting there costs nothing; each run again is, on Spin,
/// a trip to a blocking thread and the statement started over (its
/// compiled form stays in the connection's statement cache). Where it
/// shows: the sending p99 of `STEPS=modes scripts/bench messages` in
/// Spin's storage mode.
pub const IN_STATEMENT_WAIT_MS: i64 = 3;

/// Runs `attempt` until it does not fail on the write lock: every 0.1–0.6
/// ms (jittered, so waiters do not retry in step; the host's timer may round
/// a sleep up to its own tick) for at most [`LOCK_WAIT`], then
/// [`DbError::Busy`]; each attempt has already waited up to
/// [`IN_STATEMENT_WAIT_MS`] inside SQLite. Unlike SQLite's busy handler,
/// the wait between attempts never grows, so a writer that has waited long
/// is no less likely to get the lock next than one that just arrived.
/// `attempt` must be a statement that, failing busy, did nothing (`BEGIN
/// IMMEDIATE`, or a write in autocommit mode).
fn wait_for_lock<T>(mut attempt: impl FnMut() -> Result<T, DbError>) -> Result<T, DbError> {
    let started = std::time::Instant::now();
    loop {
        match attempt() {
            Err(e) if e.is_locked() => {
                let waited = started.elapsed();
                if waited >= LOCK_WAIT {
                    return Err(DbError::Busy(
                        u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    ));
                }
                let mut jitter = [0u8; 2];
                let _ = getrandom::fill(&mut jitter);
                let micros = 100 + u64::from(u16::from_le_bytes(jitter) % 500);
                std::thread::sleep(std::time::Duration::from_micros(micros));
            }
            other => return other,
        }
    }
}

/// Whether a connection is inside a transaction, followed from the
/// statements run on it. A statement run outside one that fails with
/// `SQLITE_BUSY` did nothing and is run again until the lock is free
/// ([`wait_for_lock`]): a `BEGIN IMMEDIATE`, a write on its own, and also a
/// read that met another connection's exclusive lock (a journal-mode
/// switch, the WAL's recovery or clean-up), since [`Setup::prepare_writes`]
/// leaves SQLite's own busy handler only [`IN_STATEMENT_WAIT_MS`]. Inside a
/// transaction the write lock is already held, and a failure is returned
/// as it is. Every backend runs its statements through one of these, so
/// the waiting lives in this one place.
#[derive(Debug, Default)]
pub struct LockWait {
    in_transaction: std::cell::Cell<bool>,
}

impl LockWait {
    /// Runs one statement (`sql`, executed by `run`).
    pub fn run(
        &self,
        sql: &str,
        run: impl FnMut() -> Result<Rows, DbError>,
    ) -> Result<Rows, DbError> {
        let result = if self.in_transaction.get() {
            let mut run = run;
            run()
        } else {
            wait_for_lock(run)
        };
        let head = sql.split_whitespace().next().unwrap_or_default();
        let is = |word: &str| head.eq_ignore_ascii_case(word);
        if is("BEGIN") && result.is_ok() {
            self.in_transaction.set(true);
        } else if ((is("COMMIT") || is("END")) && result.is_ok()) || is("ROLLBACK") {
            self.in_transaction.set(false);
        }
        result
    }
}

/// Runs one write statement on its own, in autocommit mode: SQLite takes
/// the write lock and releases it within the statement, so the lock is held
/// only while SQLite runs it, with no round trip to the component in
/// between (on Spin each round trip goes through a blocking thread, and
/// waits for a CPU under load). It waits for the lock as every statement
/// outside a transaction does ([`LockWait`]). For a change that is one
/// statement, with whatever follows from it done by triggers.
pub fn write_alone<T, E, F>(db: &dyn Db, write: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnOnce(&dyn Db) -> Result<T, E>,
{
    if let Some(setup) = db.setup() {
        setup.prepare_writes(db)?;
    }
    write(db)
}

/// Runs `f` inside a short write transaction started with `BEGIN IMMEDIATE`
/// (takes the write lock up front, so two writers never deadlock on a lock
/// upgrade; [`LockWait`] waits for it). Commits on `Ok`, rolls
/// back on `Err`. Keep reads and validation before it: everything in `f`
/// runs while every other writer waits.
pub fn transaction<T, E, F>(db: &dyn Db, f: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnOnce(&dyn Db) -> Result<T, E>,
{
    if let Some(setup) = db.setup() {
        setup.prepare_writes(db)?;
    }
    crate::platform::outbox::listening(db);
    db.execute("BEGIN IMMEDIATE", &[])?;
    let mark = crate::platform::outbox::mark();
    let rollback = |db: &dyn Db| {
        let _ = db.execute("ROLLBACK", &[]);
        crate::platform::outbox::rolled_back(mark);
    };
    match f(db) {
        Ok(value) => match db.execute("COMMIT", &[]) {
            Ok(_) => Ok(value),
            Err(e) => {
                rollback(db);
                Err(e.into())
            }
        },
        Err(e) => {
            rollback(db);
            Err(e)
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::NativeDb;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::{Db, DbError, LockWait, Opened, Row, Rows, Setup, Value};
    use rusqlite::types::ValueRef;

    /// `rusqlite` backend used by native tests and tools.
    pub struct NativeDb {
        conn: rusqlite::Connection,
        opened: Opened,
        lock_wait: LockWait,
    }

    impl NativeDb {
        /// Opens a private in-memory database and reads its [`Setup`].
        pub fn open_in_memory() -> Result<Self, DbError> {
            let conn =
                rusqlite::Connection::open_in_memory().map_err(|e| DbError::Open(e.to_string()))?;
            Self::set_up(conn)
        }

        /// Opens (creating if needed) a database file and reads its [`Setup`].
        pub fn open(path: &std::path::Path) -> Result<Self, DbError> {
            let conn =
                rusqlite::Connection::open(path).map_err(|e| DbError::Open(e.to_string()))?;
            Self::set_up(conn)
        }

        /// Opens a database file with rusqlite's defaults only and no
        /// [`Setup`], as a fresh connection on Spin starts (tests read the
        /// setup through a wrapper to count its statements).
        pub fn open_bare(path: &std::path::Path) -> Result<Self, DbError> {
            let conn =
                rusqlite::Connection::open(path).map_err(|e| DbError::Open(e.to_string()))?;
            Ok(NativeDb {
                conn,
                opened: Opened::default(),
                lock_wait: LockWait::default(),
            })
        }

        fn set_up(conn: rusqlite::Connection) -> Result<Self, DbError> {
            let db = NativeDb {
                conn,
                opened: Opened::default(),
                lock_wait: LockWait::default(),
            };
            db.opened.read(&db, &[])?;
            Ok(db)
        }
    }

    fn to_sql(v: &Value) -> rusqlite::types::Value {
        match v {
            Value::Null => rusqlite::types::Value::Null,
            Value::Integer(i) => rusqlite::types::Value::Integer(*i),
            Value::Real(f) => rusqlite::types::Value::Real(*f),
            Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
            Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
        }
    }

    impl Db for NativeDb {
        fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
            self.lock_wait.run(sql, || self.run(sql, params))
        }

        fn last_insert_rowid(&self) -> i64 {
            self.conn.last_insert_rowid()
        }

        fn changes(&self) -> u64 {
            self.conn.changes()
        }

        fn setup(&self) -> Option<&Setup> {
            self.opened.setup()
        }

        fn prefetched(&self, key: &str) -> Option<Row> {
            self.opened.prefetched(key)
        }
    }

    impl NativeDb {
        fn run(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
            let err = |e: rusqlite::Error| DbError::Sqlite(e.to_string());
            let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
            let columns = stmt.column_count();
            let mut rows = stmt
                .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
                .map_err(err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let mut values = Vec::with_capacity(columns);
                for i in 0..columns {
                    let v = match row.get_ref(i).map_err(err)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(i) => Value::Integer(i),
                        ValueRef::Real(f) => Value::Real(f),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    };
                    values.push(v);
                }
                out.push(Row(values));
            }
            Ok(out)
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use spin::SpinDb;

#[cfg(target_arch = "wasm32")]
mod spin {
    use super::{Db, DbError, LockWait, Opened, Rider, Row, Rows, Setup, Value};
    use spin_sdk::sqlite3::{Connection, Error as SpinError, Value as SpinValue};

    /// Backend over the Spin `spin:sqlite/sqlite@3.0.0` host interface.
    pub struct SpinDb {
        conn: Connection,
        opened: Opened,
        lock_wait: LockWait,
    }

    fn map_err(e: SpinError) -> DbError {
        match e {
            SpinError::Io(m) => DbError::Sqlite(m),
            other => DbError::Sqlite(format!("{other:?}")),
        }
    }

    impl SpinDb {
        /// Opens the component's `default` database and reads its [`Setup`],
        /// with the `riders`' reads in the same statement.
        pub fn open_default(riders: &[Rider]) -> Result<Self, DbError> {
            let conn = Connection::open_default().map_err(|e| DbError::Open(format!("{e:?}")))?;
            let db = SpinDb {
                conn,
                opened: Opened::default(),
                lock_wait: LockWait::default(),
            };
            db.opened.read(&db, riders)?;
            Ok(db)
        }
    }

    impl Db for SpinDb {
        fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
            let params: Vec<SpinValue> = params
                .iter()
                .map(|v| match v {
                    Value::Null => SpinValue::Null,
                    Value::Integer(i) => SpinValue::Integer(*i),
                    Value::Real(f) => SpinValue::Real(*f),
                    Value::Text(s) => SpinValue::Text(s.clone()),
                    Value::Blob(b) => SpinValue::Blob(b.clone()),
                })
                .collect();
            self.lock_wait.run(sql, || {
                let result = self.conn.execute(sql, &params).map_err(map_err)?;
                Ok(result
                    .rows
                    .into_iter()
                    .map(|r| {
                        Row(r
                            .values
                            .into_iter()
                            .map(|v| match v {
                                SpinValue::Null => Value::Null,
                                SpinValue::Integer(i) => Value::Integer(i),
                                SpinValue::Real(f) => Value::Real(f),
                                SpinValue::Text(s) => Value::Text(s),
                                SpinValue::Blob(b) => Value::Blob(b),
                            })
                            .collect())
                    })
                    .collect())
            })
        }

        fn last_insert_rowid(&self) -> i64 {
            self.conn.last_insert_rowid()
        }

        fn changes(&self) -> u64 {
            self.conn.changes()
        }

        fn setup(&self) -> Option<&Setup> {
            self.opened.setup()
        }

        fn prefetched(&self, key: &str) -> Option<Row> {
            self.opened.prefetched(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_commits_or_rolls_back_everything() {
        let db = NativeDb::open_in_memory().unwrap();
        db.execute("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)", &[])
            .unwrap();
        let r: Result<(), DbError> = transaction(&db, |db| {
            db.execute("INSERT INTO t (x) VALUES (?)", &[1.into()])?;
            db.execute("INSERT INTO t (x) VALUES (?)", &[1.into()])?;
            Ok(())
        });
        let err = r.unwrap_err();
        assert!(err.is_unique_violation(), "{err}");
        let n = db
            .query_row("SELECT COUNT(*) FROM t", &[])
            .unwrap()
            .unwrap();
        assert_eq!(n.i64(0).unwrap(), 0, "first insert must be rolled back");
        transaction(&db, |db| -> Result<(), DbError> {
            db.execute("INSERT INTO t (x) VALUES (?)", &[2.into()])?;
            assert_eq!(db.changes(), 1);
            Ok(())
        })
        .unwrap();
        let n = db
            .query_row("SELECT COUNT(*) FROM t", &[])
            .unwrap()
            .unwrap();
        assert_eq!(n.i64(0).unwrap(), 1);
    }

    #[test]
    fn a_rider_is_read_with_the_setup_in_one_statement_and_taken_once() {
        let bare = NativeDb::open_in_memory().unwrap();
        bare.execute("CREATE TABLE t (k TEXT, v INTEGER)", &[])
            .unwrap();
        bare.execute("INSERT INTO t VALUES ('a', 7)", &[]).unwrap();
        let latest = crate::platform::migrate::latest_version();
        bare.execute(&format!("PRAGMA user_version = {latest}"), &[])
            .unwrap();
        let rider = |key: &str| Rider {
            key: key.into(),
            columns: vec!["t.k".into(), "t.v".into()],
            joins: "LEFT JOIN t ON t.k = ?",
            params: vec![key.into()],
        };
        // A second rider: a scalar subquery, with no joins.
        let count = Rider {
            key: "count".into(),
            columns: vec!["(SELECT count(*) FROM t)".into()],
            joins: "",
            params: vec![],
        };

        let db = crate::testutil::RecordingDb::new(&bare);
        db.read_setup_with(&[rider("a"), count.clone()]).unwrap();
        assert_eq!(db.statements().len(), 1, "{:?}", db.statements());
        assert!(db.setup().is_some());
        assert_eq!(db.prefetched("b"), None, "another key gets nothing");
        let row = db.prefetched("a").expect("the rider's row");
        assert_eq!(row, Row(vec!["a".into(), Value::Integer(7)]));
        assert_eq!(db.prefetched("a"), None, "taken once");
        assert_eq!(db.prefetched("count"), Some(Row(vec![Value::Integer(1)])));

        // Nothing found: the setup still comes back, the row is all NULL.
        let db = crate::testutil::RecordingDb::new(&bare);
        db.read_setup_with(&[rider("zz")]).unwrap();
        assert!(db.setup().is_some());
        assert_eq!(
            db.prefetched("zz"),
            Some(Row(vec![Value::Null, Value::Null]))
        );

        // A rider over a table the schema lacks is dropped, not an error.
        let db = crate::testutil::RecordingDb::new(&bare);
        let missing = Rider {
            joins: "LEFT JOIN nowhere t ON t.k = ?",
            ..rider("a")
        };
        db.read_setup_with(&[count.clone(), missing]).unwrap();
        assert_eq!(db.statements().last().map(String::as_str), Some(READ_SETUP));
        assert!(db.setup().is_some());
        assert_eq!(db.prefetched("a"), None);
        assert_eq!(db.prefetched("count"), None);

        // Read on an older schema than this build's: the request migrates
        // it first, so the row is not handed out.
        bare.execute(&format!("PRAGMA user_version = {}", latest - 1), &[])
            .unwrap();
        let db = crate::testutil::RecordingDb::new(&bare);
        db.read_setup_with(&[rider("a")]).unwrap();
        assert_eq!(db.statements().len(), 1, "{:?}", db.statements());
        assert_eq!(db.prefetched("a"), None);
    }

    #[test]
    fn a_connection_is_read_once_and_made_ready_for_writes_once() {
        let dir = std::env::temp_dir().join(format!("db-setup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let bare = NativeDb::open_bare(&path).unwrap();
        bare.execute("PRAGMA user_version = 7", &[]).unwrap();
        let db = crate::testutil::RecordingDb::new(&bare);
        db.read_setup().unwrap();
        assert_eq!(db.statements(), vec![READ_SETUP], "one read, nothing set");
        assert_eq!(db.setup().map(Setup::schema_version), Some(7));
        let fk = db.query_row("PRAGMA foreign_keys", &[]).unwrap().unwrap();
        assert_eq!(fk.i64(0).unwrap(), 1);

        // Only the connection's own statements (not a fan-out's, which
        // another test may have installed in this process).
        let own = |db: &crate::testutil::RecordingDb<'_>| -> Vec<String> {
            db.statements()
                .into_iter()
                .filter(|s| {
                    ["PRAGMA", "BEGIN", "COMMIT", "SELECT b."]
                        .iter()
                        .any(|p| s.starts_with(p))
                })
                .collect()
        };
        db.clear();
        for _ in 0..2 {
            transaction(&db, |_| -> Result<(), DbError> { Ok(()) }).unwrap();
        }
        assert_eq!(
            own(&db),
            vec![
                "PRAGMA busy_timeout = 3",
                "PRAGMA synchronous = NORMAL",
                "BEGIN IMMEDIATE",
                "COMMIT",
                "BEGIN IMMEDIATE",
                "COMMIT"
            ],
            "writes are prepared before the first transaction only"
        );
        let sync = db.query_row("PRAGMA synchronous", &[]).unwrap().unwrap();
        assert_eq!(sync.i64(0).unwrap(), SYNCHRONOUS_NORMAL);

        // A connection that already has them (a pooled one) is only read.
        let again = crate::testutil::RecordingDb::new(&bare);
        again.read_setup().unwrap();
        transaction(&again, |_| -> Result<(), DbError> { Ok(()) }).unwrap();
        assert_eq!(own(&again), vec![READ_SETUP, "BEGIN IMMEDIATE", "COMMIT"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_writer_waits_for_the_lock_and_gets_it_when_it_is_free() {
        let dir = std::env::temp_dir().join(format!("db-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let holder = NativeDb::open(&path).unwrap();
        holder.execute("PRAGMA journal_mode = WAL", &[]).unwrap();
        holder.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
        holder.execute("BEGIN IMMEDIATE", &[]).unwrap();
        let waiter_path = path.clone();
        let waiter = std::thread::spawn(move || {
            let db = NativeDb::open(&waiter_path).unwrap();
            // It waits for the holder's commit: its row comes second.
            transaction(&db, |db| {
                db.execute("INSERT INTO t VALUES (2)", &[]).map(|_| ())
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        holder.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
        holder.execute("COMMIT", &[]).unwrap();
        waiter.join().unwrap().unwrap();
        let n = holder
            .query_row("SELECT group_concat(x) FROM t", &[])
            .unwrap()
            .unwrap();
        assert_eq!(n.string(0).unwrap(), "1,2");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn busy_is_recognised_and_answers_503() {
        let e = DbError::Sqlite("database is locked".into());
        assert!(e.is_locked());
        assert!(!DbError::Sqlite("UNIQUE constraint failed: t.x".into()).is_locked());
        let busy = crate::Error::from(DbError::Busy(5000));
        assert_eq!(busy.status(), 503);
        let resp = crate::platform::http::Response::error(&busy);
        assert!(resp
            .headers
            .iter()
            .any(|(k, v)| k == "retry-after" && v == "1"));
        assert_eq!(resp.json_body()["errors"][0]["code"], "unhandled");
        let row = Row(vec![Value::Text("x".into())]);
        assert!(row.i64(0).is_err() && row.i64(7).is_err());
    }
}
