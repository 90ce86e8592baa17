"""Communication analytics benchmarks against the release host and the real
spin.toml (run by `scripts/bench analytics`).

1. seed: a workspace of USERS people in 20 departments, CHATS shared chats
   (group chats, channels, open chats) of 20–200 members, MESSAGES messages
   and REACTIONS reactions spread over the past 365 days in working hours,
   and a support chat with 10 agents and SUPPORT_REQUESTS requests in the
   past 90 days, answered 1–120 minutes later
   but for the last 1%; written straight into the SQLite file
   while the host is stopped (the search index, audit and event triggers
   are set aside while seeding, and put back); the first report then
   finds a backlog over the intake's limit and rebuilds;
2. rebuild: POST /analytics/rebuild over all of it, and a check that every
   report answers the same after it as before; then the intake: 20,000
   messages and 5,000 reactions written into the file, folded in by one
   timed POST /analytics/run;
3. queries, one client (wrk -c1) each: the workspace series for 90 days
   in daily buckets, 12 months monthly, 90 days by department; the chats
   table for 30 days (and as CSV); the open chats catalogue; one chat's 90
   days; the support report over its requests, with and without working
   hours;
4. sending: CONNECTIONS clients posting into 16 chats for SEND_SECONDS on
   a fresh database, ROUNDS times, while the host's scheduler folds the
   messages into the rollups every 5 s (POST /analytics/run); then one
   timed run folds in the rest.

Environment: USERS (10000), CHATS (1000), MESSAGES (1000000), REACTIONS
(300000), SUPPORT_REQUESTS (10000), QUERY_SECONDS (5), SEND_SECONDS (10),
ROUNDS (2), CONNECTIONS (16), STEPS (comma-separated subset of
seed,queries,send; all by default), SQLITE_MODE (pooled or spin).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_messages import ADMIN, CONNECTIONS, Host, bench_sending, report, wrk  # noqa: E402

USERS = int(os.environ.get("USERS", "10000"))
CHATS = int(os.environ.get("CHATS", "1000"))
MESSAGES = int(os.environ.get("MESSAGES", "1000000"))
REACTIONS = int(os.environ.get("REACTIONS", "300000"))
SUPPORT_REQUESTS = int(os.environ.get("SUPPORT_REQUESTS", "10000"))
QUERY_SECONDS = int(os.environ.get("QUERY_SECONDS", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))
STEPS = set(os.environ.get("STEPS", "seed,queries,send").split(","))

# Triggers that have nothing to do with analytics and only slow the seed.
SET_ASIDE = ("messages_fts_insert", "messages_new_event", "audit_message_created",
             "messages_author_read", "broadcast_replied")


def chat_size(c: int) -> int:
    return 20 + (c * 13) % 181


def seed(db_path: Path):
    """The workspace of the module doc, as raw rows."""
    conn = sqlite3.connect(db_path)
    started = time.monotonic()
    conn.execute("PRAGMA synchronous=OFF")
    saved = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({','.join('?' * len(SET_ASIDE))})",
        SET_ASIDE).fetchall()
    for name, _ in saved:
        conn.execute(f"DROP TRIGGER {name}")
    first_user = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0]
    conn.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
           INSERT INTO users (id, first_name, last_name, nickname, email, department, role, invite_status,
                              search_text, sort_name, created_at, updated_at)
           SELECT ? + i, 'Сотрудник', '№' || i, 'person' || i, 'person' || i || '@example.com',
                  'Отдел ' || (i % 20), 'user', 'confirmed', 'person' || i, 'person' || i,
                  strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (400 - i % 400) || ' days'),
                  strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM n""",
        (USERS, first_user))
    first_chat = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM chats").fetchone()[0]
    conn.execute(
        """WITH RECURSIVE n(c) AS (SELECT 0 UNION ALL SELECT c + 1 FROM n WHERE c < ? - 1)
           INSERT INTO chats (id, name, search_name, owner_id, channel, public, meet_room_slug,
                              last_message_at, created_at, updated_at)
           SELECT ? + c, 'Чат ' || c, 'чат ' || c, 1, c % 5 = 1, c % 10 = 3, 'bench' || c,
                  strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                  strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (c % 365) || ' days'),
                  strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM n""",
        (CHATS, first_chat))
    # Chat c's members: users (c * 37 + k * 101) % USERS for k below its size.
    conn.execute("CREATE TEMP TABLE sizes (c INTEGER PRIMARY KEY, size INTEGER)")
    conn.executemany("INSERT INTO sizes VALUES (?, ?)", [(c, chat_size(c)) for c in range(CHATS)])
    conn.execute(
        """WITH RECURSIVE k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < 200)
           INSERT INTO chat_members (chat_id, user_id, role, direct, created_at)
           SELECT ? + s.c, ? + (s.c * 37 + k.k * 101) % ?, 'member', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           FROM sizes s JOIN k ON k.k < s.size WHERE true
           ON CONFLICT DO NOTHING""",
        (first_chat, first_user, USERS))
    conn.commit()
    print(f"seeded {USERS} users and {CHATS} chats in {time.monotonic() - started:.0f}s", flush=True)
    # Messages: chat by a multiplicative hash of i, author among its members,
    # a day in the past 365 and a time in working hours (UTC 05:00–18:59).
    started = time.monotonic()
    conn.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1),
           m AS (SELECT i, (i * 7919) % ? AS c FROM n)
           INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, url,
                                 created_at, changed_at)
           SELECT ? + m.c, ? + m.c, 'discussion', ? + m.c,
                  ? + (m.c * 37 + ((m.i * 31) % s.size) * 101) % ?,
                  'seeded message ' || m.i, '/chats/' || (? + m.c) || '?message=' || m.i,
                  strftime('%Y-%m-%dT', 'now', '-' || ((m.i * 2654435761) % 365) || ' days')
                    || printf('%02d:%02d:%02d.000Z', 5 + (m.i * 17) % 14, (m.i * 7) % 60, m.i % 60),
                  strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           FROM m JOIN sizes s ON s.c = m.c""",
        (MESSAGES, CHATS, first_chat, first_chat, first_chat, first_user, USERS, first_chat))
    conn.commit()
    print(f"seeded {MESSAGES} messages in {time.monotonic() - started:.0f}s", flush=True)
    started = time.monotonic()
    first_message, last_message = conn.execute("SELECT min(id), max(id) FROM messages").fetchone()
    span = last_message - first_message + 1
    conn.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
           INSERT INTO reactions (message_id, user_id, code, name, created_at)
           SELECT m.id, ? + (n.i * 53) % ?, CASE n.i % 3 WHEN 0 THEN '👍' WHEN 1 THEN '🔥' ELSE '✅' END, '',
                  strftime('%Y-%m-%dT%H:%M:%fZ', m.created_at, '+' || (n.i % 240) || ' minutes')
           FROM n JOIN messages m ON m.id = ? + (n.i * 104729) % ? WHERE true
           ON CONFLICT DO NOTHING""",
        (REACTIONS, first_user, USERS, first_message, span))
    conn.commit()
    print(f"seeded {conn.execute('SELECT count(*) FROM reactions').fetchone()[0]} reactions "
          f"in {time.monotonic() - started:.0f}s", flush=True)
    # Support: chat first_chat (its members), agents in a tag, requests
    # by members every ~13 minutes over 90 days, answered 1–120 minutes later
    # by an agent in the chat, except every tenth.
    started = time.monotonic()
    support = first_chat
    conn.execute("INSERT INTO group_tags (name, created_at, updated_at) VALUES ('Агенты', 'now', 'now')")
    tag = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
    agents = [first_user + (k * 101) % USERS for k in range(10)]
    conn.executemany("INSERT INTO group_tag_users (group_tag_id, user_id, created_at) VALUES (?, ?, 'now')",
                     [(tag, a) for a in agents])
    members = [first_user + (k * 101) % USERS for k in range(10, chat_size(0))]
    rows = []
    base = time.time() - 90 * 86400
    for i in range(SUPPORT_REQUESTS):
        at = base + i * (90 * 86400 / SUPPORT_REQUESTS)
        rows.append((members[i % len(members)], at))
        if i % 10 and i < SUPPORT_REQUESTS - SUPPORT_REQUESTS // 100:
            rows.append((agents[i % 10], at + 60 * (1 + (i * 37) % 120)))
    rows.sort(key=lambda r: r[1])
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))
    conn.executemany(
        "INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, url, "
        "created_at, changed_at) VALUES (?, ?, 'discussion', ?, ?, 'support', '', ?, ?)",
        [(support, support, support, u, stamp(t), stamp(t)) for u, t in rows])
    for name, sql in saved:
        conn.execute(sql)
    conn.commit()
    conn.close()
    print(f"seeded {SUPPORT_REQUESTS} support requests in {time.monotonic() - started:.0f}s", flush=True)
    return {"support": support, "tag": tag, "first_chat": first_chat, "first_user": first_user}


def timed(host: Host, path: str) -> dict:
    """wrk -c1 on `path` for QUERY_SECONDS, after one checked call."""
    req = urllib.request.Request(f"{host.base}/api/shared/v1{path}",
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 200, (path, resp.status)
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f"wrk.headers['Authorization'] = 'Bearer {ADMIN}'\n")
    return wrk(f"{host.base}/api/shared/v1{path}", QUERY_SECONDS, str(script), 1)


def bench_queries(state: str, ids: dict):
    host = Host(state)
    try:
        started = time.monotonic()
        status, body = host.call("GET", "/analytics/settings")
        assert status == 200, body
        print(f"first analytics request (the seed is a backlog over the intake's limit: it rebuilds) "
              f"{(time.monotonic() - started) * 1000:.0f} ms", flush=True)
        # A restart closes every connection, which checkpoints the rebuild's
        # write-ahead log into the file: reports then read the rollups from
        # the file, as they do once the next writes have checkpointed it.
        host.stop()
        host = Host(state)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        ago = lambda days: time.strftime("%Y-%m-%d", time.gmtime(time.time() - days * 86400))
        queries = [
            ("workspace, 90 days daily", f"/analytics/activity?from={ago(89)}&to={today}"),
            ("workspace, 12 months monthly", f"/analytics/activity?from={ago(364)}&to={today}&bucket=month"),
            ("workspace, 13 weeks weekly", f"/analytics/activity?from={ago(90)}&to={today}&bucket=week"),
            ("workspace, 90 days by department", f"/analytics/activity?from={ago(89)}&to={today}&split=department"),
            ("chats table, 30 days", f"/analytics/chats?from={ago(29)}&to={today}"),
            ("chats table, 30 days, CSV", f"/analytics/chats.csv?from={ago(29)}&to={today}"),
            ("open chats, 30 days by growth", f"/analytics/open_chats?from={ago(29)}&to={today}"),
            ("one open chat, 90 days daily", f"/analytics/chats/{ids['first_chat'] + 3}?from={ago(89)}&to={today}"),
        ]
        sla = f"/analytics/support?chat_ids={ids['support']}&agent_group_tag_id={ids['tag']}&from={ago(91)}&to={today}"
        status, body = host.call("GET", sla)
        assert status == 200, body
        print(f"support report: {body['data']['requests']} requests, {body['data']['answered']} answered", flush=True)
        queries += [
            ("support SLA, calendar time", sla),
            ("support SLA, working hours", sla + "&working_hours=09:00-18:00&time_zone=Europe%2FMoscow"),
        ]
        results = {}
        for name, path in queries:
            r = timed(host, path)
            report(f"analytics: {name}", r)
            results[name] = r
        # The rebuild, and the same answers after it.
        before = {p: host.call("GET", p)[1] for _, p in queries if ".csv" not in p}
        started = time.monotonic()
        status, body = host.call("POST", "/analytics/rebuild")
        assert status == 200, body
        print(f"rebuild: {body['data']['activity_rows']} activity rows in "
              f"{time.monotonic() - started:.1f}s", flush=True)
        for path, answer in before.items():
            again = host.call("GET", path)[1]
            if "support" not in path:
                assert again == answer, f"{path} differs after the rebuild"
        print("rebuild: every report answers as before", flush=True)
        # The intake: a burst written while no report ran, folded in at once.
        host.stop()
        conn = sqlite3.connect(Path(state) / "sqlite_db.db")
        burst = write_burst(conn, ids, 20_000, 5_000)
        conn.close()
        host = Host(state)
        timed_run(host, f" of {burst}")
    finally:
        host.stop()


def write_burst(conn, ids: dict, messages: int, reactions: int) -> str:
    """`messages` new messages today in the seeded chats (by their members)
    and `reactions` reactions on them, written into the file."""
    first_chat, first_user = ids["first_chat"], ids["first_user"]
    conn.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1),
           m AS (SELECT i, (i * 7919) % ? AS c FROM n)
           INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, url,
                                 created_at, changed_at)
           SELECT ? + m.c, ? + m.c, 'discussion', ? + m.c, ? + (m.c * 37 + ((m.i * 31) % 20) * 101) % ?,
                  'burst ' || m.i, '', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           FROM m""",
        (messages, CHATS, first_chat, first_chat, first_chat, first_user, USERS))
    last = conn.execute("SELECT max(id) FROM messages").fetchone()[0]
    conn.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
           INSERT INTO reactions (message_id, user_id, code, name, created_at)
           SELECT ? - (n.i * 7) % ?, ? + (n.i * 53) % ?, '👍', '', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           FROM n WHERE true ON CONFLICT DO NOTHING""",
        (reactions, last, messages, first_user, USERS))
    conn.commit()
    return f"{messages} messages and {reactions} reactions"


def timed_run(host: Host, label: str):
    """One POST /analytics/run, timed."""
    started = time.monotonic()
    status, body = host.call("POST", "/analytics/run")
    took = (time.monotonic() - started) * 1000
    assert status == 200, body
    d = body["data"]
    print(f"intake{label}: {d['messages']} messages, {d['reactions']} reactions, {d['journal']} journal entries "
          f"in {d['steps']} steps, {took:.0f} ms{' (rebuilt)' if d['rebuilt'] else ''}", flush=True)


def bench_send(work: Path):
    """Sending on fresh databases while the scheduler folds messages in."""
    rates = []
    for round_ in range(ROUNDS):
        state = work / f"send-{round_}"
        host = Host(str(state))
        host.call("GET", "/analytics/settings")
        try:
            r = bench_sending(host, work, label=" (analytics folded in every 5 s)")
            rates.append(r["rps"])
            timed_run(host, " after sending")
        finally:
            host.stop()
    print(f"send with analytics: {sum(rates) / ROUNDS:.0f}/s", flush=True)


def main():
    work = Path(tempfile.mkdtemp(prefix="bench-analytics"))
    print(f"analytics bench: {os.cpu_count()} cores (wrk and host share the machine)", flush=True)
    state = str(work / "state")
    if "seed" in STEPS or "queries" in STEPS:
        host = Host(state)
        host.call("GET", "/analytics/settings")
        host.stop()
        ids = seed(Path(state) / "sqlite_db.db")
        if "queries" in STEPS:
            bench_queries(state, ids)
    if "send" in STEPS:
        bench_send(work)


if __name__ == "__main__":
    main()
