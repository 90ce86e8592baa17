//! SQLite's memory statistics are switched off for the whole process before
//! its first connection, and cannot be switched once SQLite has started.
//! A test binary of its own: the setting is process-wide, and this file's
//! single test is the only code in the process that touches SQLite.

use spin_host::sqlite::set_memory_statistics;

fn memory_used() -> i64 {
    // SAFETY: a plain read of SQLite's status counter.
    unsafe { rusqlite::ffi::sqlite3_memory_used() }
}

#[test]
fn memory_statistics_are_off_for_the_process_once_set_before_the_first_connection() {
    // SAFETY: the only test in this binary; no other thread uses SQLite.
    unsafe { set_memory_statistics(false) }.expect("set before any connection");

    let conn = rusqlite::Connection::open_in_memory().expect("open");
    conn.execute_batch(
        "CREATE TABLE t (a TEXT); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         INSERT INTO t SELECT printf('%0500d', i) FROM n;",
    )
    .expect("work that allocates");
    assert_eq!(
        memory_used(),
        0,
        "with the statistics off SQLite counts no allocation"
    );

    // SAFETY: as above.
    let again = unsafe { set_memory_statistics(true) };
    assert!(again.is_err(), "SQLite started: the setting is fixed");
    assert_eq!(memory_used(), 0);
}
