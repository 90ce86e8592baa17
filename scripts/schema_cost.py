"""What a new SQLite connection pays for the project's schema.

Real Spin opens a connection per request, and its first statement parses
the whole schema (every CREATE in sqlite_schema). This builds a database
from migrations/ with Python's sqlite3 and times, per new connection:
opening it (a read of the header only), opening it and loading the schema,
and the same without the triggers or without the indexes; then each
table's share, alone in a database of its own.

    python3 scripts/schema_cost.py            (ROUNDS=400 connections each)

Figures depend on the SQLite Python links against (printed first); Spin's
bundled SQLite is of the same family, so read them as proportions.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("ROUNDS", "400"))
PLURAL = {"index": "indexes", "table": "tables", "trigger": "triggers"}


def per_connection(path: Path, statement: str) -> float:
    """Milliseconds to open `path` and run `statement`, averaged."""
    started = time.perf_counter()
    for _ in range(ROUNDS):
        conn = sqlite3.connect(path)
        conn.execute(statement).fetchall()
        conn.close()
    return (time.perf_counter() - started) / ROUNDS * 1000


def without(source: Path, target: Path, kind: str) -> Path:
    shutil.copy(source, target)
    conn = sqlite3.connect(target)
    for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = ? AND sql IS NOT NULL", (kind,)).fetchall():
        conn.execute(f"DROP {kind} {name}")
    conn.commit()
    conn.close()
    return target


def main():
    work = Path(tempfile.mkdtemp(prefix="schema-cost"))
    db = work / "schema.db"
    conn = sqlite3.connect(db)
    for path in sorted((ROOT / "migrations").glob("*.sql")):
        conn.executescript(path.read_text())
    conn.commit()
    counts = conn.execute("SELECT type, count(*) FROM sqlite_schema WHERE sql IS NOT NULL GROUP BY type").fetchall()
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%'").fetchall()
    conn.close()
    print(f"SQLite {sqlite3.sqlite_version}; schema: "
          + ", ".join(f"{n} {PLURAL.get(kind, kind)}" for kind, n in counts), flush=True)
    load = "SELECT 1 FROM users LIMIT 0"
    opened = per_connection(db, "PRAGMA user_version")
    full = per_connection(db, load)
    print(f"open only:                 {opened:.3f} ms")
    print(f"open + schema:             {full:.3f} ms (schema {full - opened:.3f} ms)")
    for kind in ("trigger", "index"):
        cost = per_connection(without(db, work / f"no-{kind}.db", kind), load)
        print(f"open + schema, no {PLURAL[kind]:<8} {cost:.3f} ms ({PLURAL[kind]} {full - cost:.3f} ms)")
    lone = work / "lone.db"
    sqlite3.connect(lone).execute("CREATE TABLE z (a)").connection.commit()
    empty = per_connection(lone, "SELECT 1 FROM sqlite_schema LIMIT 0")
    shares = []
    for name, sql in tables:
        lone.unlink()
        conn = sqlite3.connect(lone)
        try:
            conn.execute(sql)
        except sqlite3.Error:
            continue  # FTS5 shadow tables come with their virtual table
        conn.commit()
        conn.close()
        shares.append((per_connection(lone, "SELECT 1 FROM sqlite_schema LIMIT 0") - empty, name))
    shares.sort(reverse=True)
    print(f"tables alone, together:    {sum(s for s, _ in shares):.3f} ms; the largest:")
    for share, name in shares[:10]:
        print(f"  {name:<28} {share * 1000:5.1f} µs")


if __name__ == "__main__":
    main()
