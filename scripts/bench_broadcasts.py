"""Broadcast benchmarks against the release host and the real spin.toml.

Run by `scripts/bench broadcasts` (which builds everything and installs wrk):

1. 10k: a poll to SMALL (10,000) employees of one department: the time
   from the POST to the last message stored (the client's view, polling
   GET /broadcasts/{id} every 10 ms, and the server's, finished_at minus
   created_at);
2. analytics of that broadcast after a realistic response (half of them
   read it, a fifth react, a third vote), written straight into SQLite
   while the host serves (the triggers keep read times as the API does):
   GET /broadcasts/{id}/analytics, a page of 50 unread recipients and of
   50 voters for one option, and the CSV of everyone, each with wrk and
   one connection;
3. 100k: a broadcast to LARGE (100,000) employees while CONNECTIONS
   clients read GET /messages?limit=50 in a chat of 10,000 messages: the
   delivery time, and the readers' throughput and p99 during it, against
   the same readers with nothing being sent.

Employees are seeded straight into the SQLite file while the host is
stopped. Environment: SMALL (10000), LARGE (100000), CONNECTIONS (16),
SQLITE_MODE (pooled, the default, or spin).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_messages import ADMIN, CONNECTIONS, Host, report, wrk  # noqa: E402

SMALL = int(os.environ.get("SMALL", "10000"))
LARGE = int(os.environ.get("LARGE", "100000"))


def seed_users(db: Path, department: str, count: int):
    conn = sqlite3.connect(db)
    conn.execute(
        """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
        INSERT INTO users (first_name, last_name, nickname, email, role, invite_status, department,
                           search_text, sort_name, created_at, updated_at)
        SELECT 'Сотрудник', 'Номер ' || i, ? || i, ? || i || '@example.com', 'user', 'confirmed', ?,
               '', '', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM n
        """,
        (count, f"{department.lower()}", f"{department.lower()}", department),
    )
    conn.commit()
    conn.close()


def seed_messages(db: Path, chat_id: int, count: int):
    conn = sqlite3.connect(db)
    conn.execute(
        """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
        INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, url,
                              created_at, changed_at)
        SELECT ?, ?, 'discussion', ?, 1, 'message ' || i, '/chats/' || ? || '?message=' || i,
               strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM n
        """,
        (count, chat_id, chat_id, chat_id, chat_id),
    )
    conn.commit()
    conn.close()


def send_and_wait(host: Host, body: dict) -> tuple[int, float, dict]:
    started = time.monotonic()
    status, created = host.call("POST", "/broadcasts", body)
    assert status == 201, created
    bid = created["data"]["id"]
    while True:
        status, got = host.call("GET", f"/broadcasts/{bid}")
        if got["data"]["state"] == "sent":
            return bid, time.monotonic() - started, got["data"]
        time.sleep(0.01)


def server_seconds(b: dict) -> float:
    from datetime import datetime

    parse = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    return (parse(b["finished_at"]) - parse(b["created_at"])).total_seconds()


def respond(db: Path, bid: int):
    """Half read, a fifth react, a third vote yes or no (by user id)."""
    conn = sqlite3.connect(db, timeout=30)
    conn.execute(
        """
        INSERT INTO chat_reads (chat_id, user_id, last_read_message_id, updated_at)
        SELECT chat_id, user_id, message_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM broadcast_recipients WHERE broadcast_id = ? AND user_id % 2 = 0
        ON CONFLICT (chat_id, user_id) DO UPDATE SET
          last_read_message_id = excluded.last_read_message_id, updated_at = excluded.updated_at
        """,
        (bid,),
    )
    conn.execute(
        """
        INSERT INTO reactions (message_id, user_id, code, name, created_at)
        SELECT message_id, user_id, CASE WHEN user_id % 10 = 0 THEN '👍' ELSE '🎉' END, '',
               strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM broadcast_recipients WHERE broadcast_id = ? AND user_id % 5 = 0
        """,
        (bid,),
    )
    conn.execute(
        """
        INSERT INTO button_clicks (message_id, chat_id, user_id, data, trigger_id, created_at)
        SELECT message_id, chat_id, user_id, CASE WHEN user_id % 2 = 0 THEN 'yes' ELSE 'no' END,
               'bench-' || message_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM broadcast_recipients WHERE broadcast_id = ? AND user_id % 3 = 0
        """,
        (bid,),
    )
    conn.commit()
    conn.close()


def main():
    work = Path(tempfile.mkdtemp(prefix="bench-broadcasts"))
    state = work / "state"
    db = state / "sqlite_db.db"
    print(f"broadcasts bench: {os.cpu_count()} cores, SQLite mode {os.environ.get('SQLITE_MODE', 'pooled')}")
    host = Host(str(state))
    status, chat = host.call("POST", "/chats", {"chat": {"name": "reading"}})
    assert status == 201, chat
    chat_id = chat["data"]["id"]
    host.stop()
    seed_users(db, "Small", SMALL)
    seed_users(db, "Large", LARGE)
    seed_messages(db, chat_id, 10_000)
    host = Host(str(state))
    auth = work / "auth.lua"
    auth.write_text(f"wrk.headers['Authorization'] = 'Bearer {ADMIN}'\n")
    try:
        poll = {"broadcast": {
            "content": "Корпоратив в пятницу: идёте?",
            "buttons": [[{"text": "Да", "data": "yes"}, {"text": "Нет", "data": "no"}]],
            "audience": {"departments": ["Small"]},
        }}
        bid, seconds, b = send_and_wait(host, poll)
        assert b["delivered_count"] == SMALL, b
        print(f"10k: {SMALL} recipients, POST to the last message stored: {seconds * 1000:.0f} ms "
              f"(server: {server_seconds(b) * 1000:.0f} ms)", flush=True)

        respond(db, bid)
        status, stats = host.call("GET", f"/broadcasts/{bid}/analytics")
        assert stats["data"]["read"]["count"] == SMALL // 2, stats
        base = f"{host.base}/api/shared/v1/broadcasts/{bid}"
        report("analytics of the 10k broadcast, c=1", wrk(f"{base}/analytics", 5, str(auth), 1))
        report("50 unread recipients, c=1", wrk(f"{base}/recipients?state=unread&limit=50", 5, str(auth), 1))
        report("50 who voted yes, c=1", wrk(f"{base}/recipients?state=clicked:yes&limit=50", 5, str(auth), 1))
        report("CSV of all 10k recipients, c=1", wrk(f"{base}/recipients.csv", 5, str(auth), 1))

        read_url = f"{host.base}/api/shared/v1/messages?chat_id={chat_id}&limit=50"
        report(f"GET /messages?limit=50, nothing sent, c={CONNECTIONS}", wrk(read_url, 5, str(auth)))
        result: dict = {}

        def large():
            result["send"] = send_and_wait(host, {"broadcast": {
                "content": "Важное объявление для всех", "audience": {"departments": ["Large"]}}})

        sender = threading.Thread(target=large)
        sender.start()
        time.sleep(0.2)
        during = wrk(read_url, 8, str(auth))
        sender.join()
        bid, seconds, b = result["send"]
        assert b["delivered_count"] == LARGE, b
        print(f"100k: {LARGE} recipients delivered in {seconds:.1f} s "
              f"(server: {server_seconds(b):.1f} s)", flush=True)
        report(f"GET /messages?limit=50 while delivering, c={CONNECTIONS}", during)
    finally:
        host.stop()


if __name__ == "__main__":
    main()
