//! Schema migrations: numbered SQL files from `migrations/`, embedded at
//! compile time and applied automatically on first use.
//!
//! Each file is plain, idempotent SQL (so `spin up --sqlite @file` works too)
//! and records itself in the `schema_migrations` ledger. The migrator:
//! 1. checks the ledger without locking (fast path for every request);
//! 2. runs the file's leading `PRAGMA` statements outside any transaction
//!    (`journal_mode=WAL` cannot be changed inside one);
//! 3. takes the write lock with `BEGIN IMMEDIATE`, re-checks the ledger (another
//!    request may have migrated meanwhile), applies the rest and commits.

use crate::platform::db::{Db, DbError};

/// One embedded migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Sequence number (the file's numeric prefix).
    pub version: i64,
    /// File stem, e.g. `0001_init`.
    pub name: &'static str,
    /// Full SQL text of the file.
    pub sql: &'static str,
}

/// Every migration, in order. Add new files here.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_chats",
        sql: include_str!("../../../migrations/0002_chats.sql"),
    },
    Migration {
        version: 3,
        name: "0003_messages",
        sql: include_str!("../../../migrations/0003_messages.sql"),
    },
    Migration {
        version: 4,
        name: "0004_webhooks",
        sql: include_str!("../../../migrations/0004_webhooks.sql"),
    },
    Migration {
        version: 5,
        name: "0005_interactive_bots",
        sql: include_str!("../../../migrations/0005_interactive_bots.sql"),
    },
    Migration {
        version: 6,
        name: "0006_unfurl_domains",
        sql: include_str!("../../../migrations/0006_unfurl_domains.sql"),
    },
    Migration {
        version: 7,
        name: "0007_lean_writes",
        sql: include_str!("../../../migrations/0007_lean_writes.sql"),
    },
    Migration {
        version: 8,
        name: "0008_views",
        sql: include_str!("../../../migrations/0008_views.sql"),
    },
    Migration {
        version: 9,
        name: "0009_tasks",
        sql: include_str!("../../../migrations/0009_tasks.sql"),
    },
    Migration {
        version: 10,
        name: "0010_files",
        sql: include_str!("../../../migrations/0010_files.sql"),
    },
    Migration {
        version: 11,
        name: "0011_broadcasts",
        sql: include_str!("../../../migrations/0011_broadcasts.sql"),
    },
    Migration {
        version: 12,
        name: "0012_audit",
        sql: include_str!("../../../migrations/0012_audit.sql"),
    },
    Migration {
        version: 13,
        name: "0013_chat_exports",
        sql: include_str!("../../../migrations/0013_chat_exports.sql"),
    },
    Migration {
        version: 14,
        name: "0014_file_images",
        sql: include_str!("../../../migrations/0014_file_images.sql"),
    },
    Migration {
        version: 15,
        name: "0015_analytics",
        sql: include_str!("../../../migrations/0015_analytics.sql"),
    },
    Migration {
        version: 16,
        name: "0016_analytics_intake",
        sql: include_str!("../../../migrations/0016_analytics_intake.sql"),
    },
    Migration {
        version: 17,
        name: "0017_webhook_delivery_pages",
        sql: include_str!("../../../migrations/0017_webhook_delivery_pages.sql"),
    },
    Migration {
        version: 18,
        name: "0018_dead_schema",
        sql: include_str!("../../../migrations/0018_dead_schema.sql"),
    },
];

/// Version of the newest embedded migration.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Splits a SQL script into single statements (the Spin host executes one
/// statement per call). Understands quotes, comments and trigger bodies.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                cur.push(c);
                while let Some(d) = chars.next() {
                    cur.push(d);
                    if d == c {
                        if chars.peek() == Some(&c) {
                            if let Some(e) = chars.next() {
                                cur.push(e);
                            }
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        cur.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                cur.push(' ');
            }
            ';' => {
                let upper = cur.trim().to_ascii_uppercase();
                let in_trigger = upper.starts_with("CREATE")
                    && upper.contains(" TRIGGER ")
                    && !upper.ends_with("END");
                if in_trigger {
                    cur.push(';');
                } else {
                    let stmt = cur.trim();
                    if !stmt.is_empty() {
                        out.push(stmt.to_owned());
                    }
                    cur.clear();
                }
            }
            _ => cur.push(c),
        }
    }
    let stmt = cur.trim();
    if !stmt.is_empty() {
        out.push(stmt.to_owned());
    }
    out
}

fn is_pragma(stmt: &str) -> bool {
    stmt.trim_start()
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("PRAGMA"))
}

fn ledger_exists(db: &dyn Db) -> Result<bool, DbError> {
    Ok(db
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            &[],
        )?
        .is_some())
}

fn is_applied(db: &dyn Db, version: i64) -> Result<bool, DbError> {
    if !ledger_exists(db)? {
        return Ok(false);
    }
    Ok(db
        .query_row(
            "SELECT 1 FROM schema_migrations WHERE version = ?",
            &[version.into()],
        )?
        .is_some())
}

/// Whether a `PRAGMA name = value` already holds (another connection made
/// the change); only `journal_mode` is read back.
fn pragma_holds(db: &dyn Db, stmt: &str) -> bool {
    let text = stmt.trim().trim_end_matches(';');
    let Some((name, value)) = text
        .get(6..)
        .and_then(|rest| rest.split_once('='))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
    else {
        return false;
    };
    if name != "journal_mode" {
        return false;
    }
    db.query_row("PRAGMA journal_mode", &[])
        .ok()
        .flatten()
        .and_then(|r| r.string(0).ok())
        .is_some_and(|mode| mode.eq_ignore_ascii_case(&value))
}

/// Runs one of a migration's leading pragmas. SQLite cannot change the
/// journal mode while another connection holds a lock, and says so at once
/// instead of waiting in its busy handler; several instances starting
/// together on a new database meet exactly that. So a failed pragma is
/// retried for up to a second, and is no error once it holds anyway.
fn run_pragma(db: &dyn Db, stmt: &str) -> Result<(), DbError> {
    let mut attempts = 0;
    loop {
        match db.execute(stmt, &[]) {
            Ok(_) => return Ok(()),
            Err(_) if pragma_holds(db, stmt) => return Ok(()),
            Err(e) if attempts >= 100 => return Err(e),
            Err(_) => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// The schema version the database records in `PRAGMA user_version`: the
/// last migration applied, kept by [`migrate`] in the same transaction.
/// The connection's [`crate::platform::db::Setup`] has already read it, so
/// checking costs no statement on a connection that has one.
fn schema_version(db: &dyn Db) -> Result<i64, DbError> {
    if let Some(setup) = db.setup() {
        return Ok(setup.schema_version());
    }
    db.query_row("PRAGMA user_version", &[])?
        .map_or(Ok(0), |r| r.i64(0))
}

/// Brings the schema up to date. Returns how many migrations this call
/// applied (0 when already current). Safe to call on every request: when
/// `user_version` says the schema is current it runs no statement at all;
/// otherwise the ledger (`schema_migrations`) decides, and a database
/// migrated before `user_version` was kept gets it set once.
pub fn migrate(db: &dyn Db) -> Result<usize, DbError> {
    let latest = latest_version();
    if schema_version(db)? >= latest {
        return Ok(0);
    }
    let mut applied = 0;
    for m in MIGRATIONS {
        if is_applied(db, m.version)? {
            continue;
        }
        let statements = split_statements(m.sql);
        let (pragmas, body): (Vec<&String>, Vec<&String>) =
            statements.iter().partition(|s| is_pragma(s));
        for p in pragmas {
            run_pragma(db, p)?;
        }
        let did = crate::platform::db::transaction(db, |db| -> Result<bool, DbError> {
            if is_applied(db, m.version)? {
                return Ok(false);
            }
            for stmt in &body {
                db.execute(stmt, &[])?;
            }
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?) \
                 ON CONFLICT DO NOTHING",
                &[
                    m.version.into(),
                    m.name.into(),
                    crate::platform::time::now().to_string().into(),
                ],
            )?;
            db.execute(&format!("PRAGMA user_version = {}", m.version), &[])?;
            Ok(true)
        })?;
        if did {
            applied += 1;
        }
    }
    // Every migration is in the ledger now; a database migrated before the
    // version was kept learns it here, once.
    let current = db
        .query_row("PRAGMA user_version", &[])?
        .map_or(Ok(0), |r| r.i64(0))?;
    if current < latest {
        crate::platform::db::transaction(db, |db| {
            db.execute(&format!("PRAGMA user_version = {latest}"), &[])
        })?;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::NativeDb;

    #[test]
    fn splitter_handles_quotes_comments_and_triggers() {
        let sql =
            "-- c; x\nCREATE TABLE a(x TEXT DEFAULT ';');/* ; */INSERT INTO a VALUES ('it''s;');\n\
                   CREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM a; END;\nSELECT 1";
        let s = split_statements(sql);
        assert_eq!(s.len(), 4, "{s:?}");
        assert_eq!(s[0], "CREATE TABLE a(x TEXT DEFAULT ';')");
        assert_eq!(s[1], "INSERT INTO a VALUES ('it''s;')");
        assert!(s[2].ends_with("END"));
        assert_eq!(s[3], "SELECT 1");
    }

    #[test]
    fn the_dead_index_and_table_are_gone_and_events_still_record() {
        let db = NativeDb::open_in_memory().unwrap();
        migrate(&db).unwrap();
        let gone = db
            .query(
                "SELECT name FROM sqlite_schema \
                 WHERE name IN ('events_undelivered', 'webhook_fanout_cursor')",
                &[],
            )
            .unwrap();
        assert!(gone.is_empty(), "{gone:?}");
        let user = crate::testutil::create_user(&db, "e@example.com", "user");
        let chat = crate::testutil::create_chat(&db, "General", &[user]);
        assert!(crate::platform::events::for_entity(&db, "Chat", chat)
            .unwrap()
            .iter()
            .any(|(kind, event)| kind == "chat" && event == "create"),);
    }

    #[test]
    fn migrations_are_idempotent_and_create_owner() {
        let db = NativeDb::open_in_memory().unwrap();
        assert_eq!(migrate(&db).unwrap(), MIGRATIONS.len());
        assert_eq!(migrate(&db).unwrap(), 0);
        let owner = db
            .query_row("SELECT id, role FROM users WHERE id = 1", &[])
            .unwrap()
            .unwrap();
        assert_eq!(owner.string(1).unwrap(), "owner");
        let n = db
            .query_row("SELECT COUNT(*) FROM schema_migrations", &[])
            .unwrap()
            .unwrap();
        assert_eq!(n.i64(0).unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn file_applied_like_spin_sqlite_flag_is_recognised_by_ledger() {
        // `spin up --sqlite @migrations/0001_init.sql` runs the whole file on
        // every start; afterwards the migrator must see nothing to do and a
        // second raw run must not fail.
        let db = NativeDb::open_in_memory().unwrap();
        for _ in 0..2 {
            for m in MIGRATIONS {
                for stmt in split_statements(m.sql) {
                    db.execute(&stmt, &[]).unwrap();
                }
            }
        }
        assert_eq!(migrate(&db).unwrap(), 0);
        let owners = db
            .query_row("SELECT COUNT(*) FROM users", &[])
            .unwrap()
            .unwrap();
        assert_eq!(owners.i64(0).unwrap(), 1);
    }

    #[test]
    fn concurrent_first_use_on_a_file_database_migrates_once() {
        let dir = std::env::temp_dir().join(format!("mig-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("db.sqlite");
        let _ = std::fs::remove_file(&path);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let db = NativeDb::open(&path).unwrap();
                    migrate(&db).unwrap()
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, MIGRATIONS.len());
        let db = NativeDb::open(&path).unwrap();
        let mode = db.query_row("PRAGMA journal_mode", &[]).unwrap().unwrap();
        assert_eq!(mode.string(0).unwrap().to_lowercase(), "wal");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
