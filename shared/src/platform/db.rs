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

impl Value {
    /// Rows for [`rows_source`]: each row a JSON array of its column values,
    /// all in one JSON text parameter.
    pub fn rows(rows: Vec<serde_json::Value>) -> Value {
        Value::Text(serde_json::Value::Array(rows).to_string())
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
}

/// Pragmas applied on every connection open: they are per-connection in
/// SQLite, so they cannot live in a migration. Each is paired with the value
/// that reading it back gives once it is in effect.
pub const CONNECTION_PRAGMAS: &[(&str, i64)] = &[
    ("PRAGMA busy_timeout = 5000", 5000),
    ("PRAGMA synchronous = NORMAL", 1),
    ("PRAGMA foreign_keys = ON", 1),
];

/// Reads the current value of every pragma in [`CONNECTION_PRAGMAS`], in order.
const READ_CONNECTION_PRAGMAS: &str = "SELECT (SELECT timeout FROM pragma_busy_timeout), \
     (SELECT synchronous FROM pragma_synchronous), \
     (SELECT foreign_keys FROM pragma_foreign_keys)";

/// Applies [`CONNECTION_PRAGMAS`] that are not in effect yet. Setting a flag
/// pragma such as `foreign_keys` expires every prepared statement of the
/// connection, so a pooled connection (which already has them) is only read,
/// and keeps its statement cache.
pub fn apply_connection_pragmas(db: &dyn Db) -> Result<(), DbError> {
    let current = db.query_row(READ_CONNECTION_PRAGMAS, &[])?;
    for (i, (pragma, wanted)) in CONNECTION_PRAGMAS.iter().enumerate() {
        let in_effect = current
            .as_ref()
            .and_then(|row| row.i64(i).ok())
            .is_some_and(|v| v == *wanted);
        if !in_effect {
            db.execute(pragma, &[])?;
        }
    }
    Ok(())
}

/// Runs `f` inside a short write transaction started with `BEGIN IMMEDIATE`
/// (takes the write lock up front, so two writers never deadlock on a lock
/// upgrade). Commits on `Ok`, rolls back on `Err`.
pub fn transaction<D, T, E, F>(db: &D, f: F) -> Result<T, E>
where
    D: Db + ?Sized,
    E: From<DbError>,
    F: FnOnce(&D) -> Result<T, E>,
{
    db.execute("BEGIN IMMEDIATE", &[])?;
    let mark = crate::platform::outbox::mark();
    let rollback = |db: &D| {
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
    use super::{apply_connection_pragmas, Db, DbError, Row, Rows, Value};
    use rusqlite::types::ValueRef;

    /// `rusqlite` backend used by native tests and tools.
    pub struct NativeDb {
        conn: rusqlite::Connection,
    }

    impl NativeDb {
        /// Opens a private in-memory database with the connection pragmas set.
        pub fn open_in_memory() -> Result<Self, DbError> {
            let conn =
                rusqlite::Connection::open_in_memory().map_err(|e| DbError::Open(e.to_string()))?;
            let db = NativeDb { conn };
            apply_connection_pragmas(&db)?;
            Ok(db)
        }

        /// Opens (creating if needed) a database file with the connection pragmas set.
        pub fn open(path: &std::path::Path) -> Result<Self, DbError> {
            let conn =
                rusqlite::Connection::open(path).map_err(|e| DbError::Open(e.to_string()))?;
            let db = NativeDb { conn };
            apply_connection_pragmas(&db)?;
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

        fn last_insert_rowid(&self) -> i64 {
            self.conn.last_insert_rowid()
        }

        fn changes(&self) -> u64 {
            self.conn.changes()
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use spin::SpinDb;

#[cfg(target_arch = "wasm32")]
mod spin {
    use super::{apply_connection_pragmas, Db, DbError, Row, Rows, Value};
    use spin_sdk::sqlite3::{Connection, Error as SpinError, Value as SpinValue};

    /// Backend over the Spin `spin:sqlite/sqlite@3.0.0` host interface.
    pub struct SpinDb {
        conn: Connection,
    }

    fn map_err(e: SpinError) -> DbError {
        match e {
            SpinError::Io(m) => DbError::Sqlite(m),
            other => DbError::Sqlite(format!("{other:?}")),
        }
    }

    impl SpinDb {
        /// Opens the component's `default` database and sets the connection pragmas.
        pub fn open_default() -> Result<Self, DbError> {
            let conn = Connection::open_default().map_err(|e| DbError::Open(format!("{e:?}")))?;
            let db = SpinDb { conn };
            apply_connection_pragmas(&db)?;
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
        }

        fn last_insert_rowid(&self) -> i64 {
            self.conn.last_insert_rowid()
        }

        fn changes(&self) -> u64 {
            self.conn.changes()
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
    fn connection_pragmas_are_applied() {
        let db = NativeDb::open_in_memory().unwrap();
        let fk = db.query_row("PRAGMA foreign_keys", &[]).unwrap().unwrap();
        assert_eq!(fk.i64(0).unwrap(), 1);
        let bt = db.query_row("PRAGMA busy_timeout", &[]).unwrap().unwrap();
        assert_eq!(bt.i64(0).unwrap(), 5000);
        let row = Row(vec![Value::Text("x".into())]);
        assert!(row.i64(0).is_err() && row.i64(7).is_err());
    }

    /// Counts the statements a wrapped connection runs.
    struct Counting<'a> {
        inner: &'a NativeDb,
        statements: std::cell::RefCell<Vec<String>>,
    }

    impl Db for Counting<'_> {
        fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
            self.statements.borrow_mut().push(sql.to_owned());
            self.inner.execute(sql, params)
        }
        fn last_insert_rowid(&self) -> i64 {
            self.inner.last_insert_rowid()
        }
        fn changes(&self) -> u64 {
            self.inner.changes()
        }
    }

    #[test]
    fn pragmas_already_in_effect_are_only_read() {
        // Setting `foreign_keys` again would expire every cached statement of
        // a pooled connection, so a connection that has them is left alone.
        let db = NativeDb::open_in_memory().unwrap();
        let counting = Counting {
            inner: &db,
            statements: Default::default(),
        };
        apply_connection_pragmas(&counting).unwrap();
        assert_eq!(*counting.statements.borrow(), vec![READ_CONNECTION_PRAGMAS]);

        db.execute("PRAGMA foreign_keys = OFF", &[]).unwrap();
        counting.statements.borrow_mut().clear();
        apply_connection_pragmas(&counting).unwrap();
        assert_eq!(
            *counting.statements.borrow(),
            vec![READ_CONNECTION_PRAGMAS, "PRAGMA foreign_keys = ON"]
        );
        let fk = db.query_row("PRAGMA foreign_keys", &[]).unwrap().unwrap();
        assert_eq!(fk.i64(0).unwrap(), 1);
    }
}
