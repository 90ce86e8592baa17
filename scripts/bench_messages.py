"""Messaging benchmarks against the release host and the real spin.toml.

Run by `scripts/bench messages` (which builds everything and installs wrk):

1. sending: CONNECTIONS clients post into 16 chats for SEND_SECONDS with wrk;
2. reading: GET /messages?chat_id=&limit=50 in a chat of MESSAGES messages,
   seeded straight into the SQLite file while the host is stopped;
3. search: GET /search/messages over the same MESSAGES messages;
4. reactions: REACTORS users react to one message at once; every reaction
   must be recorded and one more must be refused with `general_limit`.

5. sending with bots: the same sending with BOTS subscribed bots in every
   chat (all_messages, a local receiver each), and how many webhooks
   arrived by the end, against the same chats and bots without webhooks;
   then the floor the receivers set: wrk posting webhooks to the receiver
   alone, and the sending rate no server could beat with those round trips
   on the same cores;
6. 100 bots: one chat with 100 subscribed bots, 100 receivers; latency from
   each POST's response to each receipt;
7. outage (only with STEPS naming it): a receiver down for OUTAGE_SECONDS
   (120) while messages keep coming; how long after it is back every event
   has arrived, and whether every attempt was signed correctly.
   retention (only with STEPS naming it): EXPIRED (500000) finished
   deliveries 8 days old in the file; how fast the scheduler's runs remove
   them while CONNECTIONS clients send.
8. modes: the request path in each of the host's SQLite modes side by side
   (`--sqlite-mode pooled`, ours, and `spin`, which opens a connection per
   request as real Spin does), and `spin` again with SQLite's memory
   statistics off (`--sqlite-memory-statistics off`: what a Spin built with
   `LIBSQLITE3_FLAGS=SQLITE_DEFAULT_MEMSTATUS=0` does): sending with CONNECTIONS clients and with
   one (again with another connection holding the file open, which spares
   each request's connection the WAL checkpoint and clean-up SQLite runs
   when the last connection to a file closes), reading 50 messages,
   GET /profile with a personal token, and the health route, which touches
   no storage.

Prints one line per measurement. Environment: SEND_SECONDS (30),
READ_SECONDS (10), MESSAGES (1000000), REACTORS (1000), CONNECTIONS (16),
BOTS (10; 0 skips step 5), OUTAGE_SECONDS (120), EXPIRED (500000), STEPS
(comma-separated subset of send,reactions,bots,bots100,outage,retention,
read,modes; all but outage and retention by default), SQLITE_MODE (the mode of
steps 1-7: pooled, the default, or spin) and SPIN_HOST_SQLITE_MEMORY_STATISTICS
(on or off; the host's default is off when pooled, on in the Spin mode).
Reads and searches are measured with one connection (latency) and with
CONNECTIONS (throughput; latency then includes queueing).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "bench-admin-token"
SEND_SECONDS = int(os.environ.get("SEND_SECONDS", "30"))
READ_SECONDS = int(os.environ.get("READ_SECONDS", "10"))
MESSAGES = int(os.environ.get("MESSAGES", "1000000"))
REACTORS = int(os.environ.get("REACTORS", "1000"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
BOTS = int(os.environ.get("BOTS", "10"))
OUTAGE_SECONDS = int(os.environ.get("OUTAGE_SECONDS", "120"))
EXPIRED = int(os.environ.get("EXPIRED", "500000"))
STEPS = set(os.environ.get("STEPS", "send,reactions,bots,bots100,read,modes").split(","))
SQLITE_MODE = os.environ.get("SQLITE_MODE", "pooled")
# A synthetic vocabulary of 2,000 Cyrillic and Latin words: each seeded
# message carries four of them, so a word occurs in ~0.2% of messages, as
# ordinary words do; "incident" is put in every tenth message to show the
# cost of a very common word.
SYLLABLES_RU = ["ка", "ро", "ми", "ст", "ло", "не", "ва", "ту", "за", "пе"]
SYLLABLES_EN = ["ba", "ko", "ri", "st", "lo", "ne", "va", "tu", "za", "pe"]
VOCABULARY = [a + b + c for syl in (SYLLABLES_RU, SYLLABLES_EN)
              for a in syl for b in syl for c in syl]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Host:
    """The release host serving spin.toml on a free port."""

    def __init__(self, state: str, sqlite_mode: str = SQLITE_MODE,
                 memory_statistics: str | None = None):
        self.state = state
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, SPIN_VARIABLE_ADMIN_TOKEN=ADMIN,
                   SPIN_VARIABLE_WEBHOOK_ALLOW_PRIVATE="true",
                   # Counted (its cost is in the figures) but never reached.
                   SPIN_VARIABLE_RATE_LIMIT="1000000",
                   SPIN_HOST_SQLITE_MODE=sqlite_mode)
        if memory_statistics is not None:
            env["SPIN_HOST_SQLITE_MEMORY_STATISTICS"] = memory_statistics
        self.proc = subprocess.Popen(
            [str(ROOT / "target/release/spin-host"), "up", "--from", str(ROOT / "spin.toml"),
             "--listen", f"127.0.0.1:{self.port}", "--state-dir", state],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/.well-known/spin/health", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    sys.exit("host did not start")
                time.sleep(0.05)

    def call(self, method: str, path: str, body=None, token: str = ADMIN):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}/api/shared/v1{path}", data=data, method=method)
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def wrk(url: str, seconds: int, script: str | None = None, connections: int = CONNECTIONS) -> dict:
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    run = subprocess.run(args + [url], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"wrk failed: {run.stdout}{run.stderr}")
    out = run.stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name: str, r: dict):
    print(f"{name:<46} {r['rps']:>9.0f}/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:7.2f} ms"
          f"  non-2xx {r['non2xx']} {r['socket_errors']}", flush=True)


def bench_sending(host: Host, work: Path, members: list[int] | None = None, label: str = "",
                  connections: int = CONNECTIONS):
    chats = []
    for i in range(16):
        chat = {"name": f"bench {label}{i}", "member_ids": members or []}
        status, body = host.call("POST", "/chats", {"chat": chat})
        assert status == 201, body
        chats.append(body["data"]["id"])
    script = work / "send.lua"
    script.write_text(
        "local chats = {" + ",".join(map(str, chats)) + "}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  local chat = chats[(n % #chats) + 1]\n"
        "  local body = '{\"message\":{\"entity_type\":\"discussion\",\"entity_id\":' .. chat ..\n"
        "    ',\"content\":\"load message ' .. n .. '\"}}'\n"
        f"  return wrk.format('POST', '/api/shared/v1/messages', {{['Authorization']='Bearer {ADMIN}',"
        " ['Content-Type']='application/json'}, body)\n"
        "end\n"
    )
    before = cpu_seconds(host.proc.pid)
    r = wrk(host.base, SEND_SECONDS, str(script), connections)
    spent = cpu_seconds(host.proc.pid) - before
    report(f"send: {connections} clients into 16 chats{label}, {SEND_SECONDS}s", r)
    if r["rps"]:
        # Steadier than the rate on a shared machine: what each message cost
        # the host's CPU (all its threads, user and system time).
        print(f"  host CPU: {spent / (r['rps'] * SEND_SECONDS) * 1000:.2f} ms per message", flush=True)
    r["chats"] = chats
    return r


class Receivers:
    """`webhook-receiver`: real keep-alive HTTP receivers in a Rust process
    of their own, so the receiving side costs little of the shared CPU."""

    def __init__(self, count: int, ports: list[int] | None = None):
        binary = ROOT / "target" / "release" / "webhook-receiver"
        self.proc = subprocess.Popen([str(binary), str(count), *map(str, ports or [])],
                                     stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.urls: list[str] = info["urls"]
        self.control: str = info["control"]

    def ports(self) -> list[int]:
        return [int(u.split(":")[2].split("/")[0]) for u in self.urls]

    def get(self, path: str):
        with urllib.request.urlopen(self.control + path, timeout=60) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def create_bots(host: Host, count: int, urls: list[str] | None, tag: str) -> list[dict]:
    bots = []
    for i in range(count):
        webhook = {"name": f"Bench {tag} {i}",
                   "nickname": f"bench{tag}{i}_{random.randrange(10**6)}_bot",
                   "events": ["message_new"], "trigger_on": "all_messages"}
        if urls:
            webhook["outgoing_url"] = urls[i % len(urls)]
        status, body = host.call("POST", "/bots", {"webhook": webhook})
        assert status == 201, body
        bots.append(body["data"])
    return bots


def bench_sending_with_bots(host: Host, work: Path):
    """Sending while BOTS bots in every chat receive each message, against
    the same chats and bots without webhooks."""
    receivers = Receivers(1)
    try:
        bots = [b["id"] for b in create_bots(host, BOTS, None, "s")]
        base = bench_sending(host, work, bots, f" with {BOTS} bots, no webhooks")
        for bot in bots:
            status, body = host.call("PUT", f"/bots/{bot}",
                                     {"webhook": {"outgoing_url": receivers.urls[0]}})
            assert status == 200, body
        r = bench_sending(host, work, bots, f" with {BOTS} bots")
        print(f"  with webhooks: {r['rps'] / base['rps']:.0%} of the rate without", flush=True)
        sent = round(r["rps"] * SEND_SECONDS)
        time.sleep(3)
        got = receivers.get("/stats")["received"]
        print(f"  webhooks received: {got} (about {sent * BOTS} expected from {sent} messages"
              f" x {BOTS} bots)", flush=True)
    finally:
        receivers.stop()
    receiving_floor(work, base["rps"])


def receiving_floor(work: Path, base_rps: float):
    """What the webhooks' HTTP traffic alone costs this machine: wrk, a
    leaner sender than any server, posts a message-sized webhook to the same
    receiver as fast as it can. Every message with BOTS bots costs at least
    BOTS of those round trips on top of the message itself, which bounds the
    rate any server can send at with bots while receivers share the cores."""
    receivers = Receivers(1)
    try:
        script = work / "webhook.lua"
        body = json.dumps({"type": "message", "event": "new", "content": "x" * 300})
        script.write_text(
            "wrk.method = 'POST'\n"
            f"wrk.body = {json.dumps(body)}\n"
            "wrk.headers['Content-Type'] = 'application/json'\n"
            "wrk.headers['Pachca-Signature'] = string.rep('a', 64)\n"
        )
        r = wrk(receivers.urls[0], 5, str(script), CONNECTIONS)
        report("webhooks alone: wrk -> receiver", r)
        per_message = 1 / base_rps + BOTS / r["rps"]
        print(f"  floor: with {BOTS} bots no server sends above {1 / per_message:.0f} messages/s here "
              f"({1 / per_message / base_rps:.0%} of the rate without bots)", flush=True)
    finally:
        receivers.stop()


def bench_hundred_bots(host: Host):
    """One chat with 100 subscribed bots, each with a receiver of its own:
    every message reaches all 100; latency from the POST being sent to each
    receipt, an upper bound of the time from its response (receivers and
    host share this machine's clock)."""
    receivers = Receivers(100)
    try:
        bots = create_bots(host, 100, receivers.urls, "h")
        status, body = host.call("POST", "/chats", {"chat": {
            "name": "hundred bots", "member_ids": [b["id"] for b in bots]}})
        assert status == 201, body
        chat = body["data"]["id"]
        answered: dict[int, float] = {}
        messages = 20
        for i in range(messages):
            sent = time.time() * 1000
            status, body = host.call("POST", "/messages", {"message": {
                "entity_type": "discussion", "entity_id": chat, "content": f"fan-out {i}"}})
            answered[body["data"]["id"]] = sent
            assert status == 201, body
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stats = receivers.get("/stats")
            if stats["received"] >= messages * 100:
                break
            time.sleep(0.5)
        lat = sorted(at - answered[mid] for _, mid, at in stats["receipts"] if mid in answered)
        per_message = {m: sum(1 for _, mid, _ in stats["receipts"] if mid == m) for m in answered}
        complete = sum(1 for n in per_message.values() if n == 100)
        q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")
        print(f"100 bots, {messages} messages one by one: {complete}/{messages} reached all 100 "
              f"({stats['received']} webhooks); POST sent -> receipt p50 {q(0.5):.0f} ms "
              f"p99 {q(0.99):.0f} ms max {lat[-1] if lat else 0:.0f} ms", flush=True)
    finally:
        receivers.stop()


def bench_outage(host: Host):
    """A receiver down for OUTAGE_SECONDS while messages keep coming: once it
    is back, every event arrives (retries, no client traffic), each attempt
    signed with the bot's secret."""
    import hashlib
    import hmac
    receivers = Receivers(1)
    port = receivers.ports()[0]
    try:
        bot = create_bots(host, 1, receivers.urls, "o")[0]
        secret = bot["signing_secret"]
        status, body = host.call("POST", "/chats", {"chat": {"name": "outage",
                                                              "member_ids": [bot["id"]]}})
        assert status == 201, body
        chat = body["data"]["id"]

        def post(i: int) -> int:
            status, body = host.call("POST", "/messages", {"message": {
                "entity_type": "discussion", "entity_id": chat, "content": f"outage {i}"}})
            assert status == 201, body
            return body["data"]["id"]

        ids = [post(0)]
        time.sleep(1)
        receivers.stop()
        started = time.monotonic()
        i = 1
        while time.monotonic() - started < OUTAGE_SECONDS:
            ids.append(post(i))
            i += 1
            time.sleep(OUTAGE_SECONDS / 20)
        receivers = Receivers(1, [port])
        back = time.monotonic()
        got: set = set()
        while time.monotonic() - back < 900:
            stats = receivers.get("/stats")
            got = {mid for _, mid, _ in stats["receipts"]}
            if set(ids[1:]) <= got:
                break
            time.sleep(2)
        waited = time.monotonic() - back
        bodies = receivers.get("/bodies")
        bad = sum(1 for _, b, sig in bodies
                  if hmac.new(secret.encode(), b.encode(), hashlib.sha256).hexdigest() != sig)
        missing = len(set(ids[1:]) - got)
        print(f"receiver down {OUTAGE_SECONDS}s during {len(ids) - 1} messages: {missing} missing "
              f"{waited:.0f}s after it came back; {len(bodies)} attempts received, {bad} badly signed",
              flush=True)
    finally:
        receivers.stop()


def seed(db_path: Path, chat_id: int, owner: int, count: int):
    """Inserts `count` messages into one chat (FTS triggers index them)."""
    conn = sqlite3.connect(db_path)
    started = time.monotonic()
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TEMP TABLE vocabulary (k INTEGER PRIMARY KEY, word TEXT)")
    conn.executemany("INSERT INTO vocabulary VALUES (?, ?)", enumerate(VOCABULARY))
    n = len(VOCABULARY)
    word = "(SELECT word FROM vocabulary WHERE k = ({expr}) % " + str(n) + ")"
    content = " || ' ' || ".join(
        [f"'seeded message ' || i"]
        + [word.format(expr=e) for e in ("i", "i * 7 + 3", "i * 13 + 5", "i / 3 + 11")]
        + ["CASE WHEN i % 10 = 0 THEN 'incident' ELSE '' END"]
    )
    conn.execute(
        f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
        INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content,
                              url, created_at, changed_at)
        SELECT ?, ?, 'discussion', ?, ?, {content},
               '/chats/' || ? || '?message=' || i,
               strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM n
        """,
        (count, chat_id, chat_id, chat_id, owner, chat_id),
    )
    conn.commit()
    conn.close()
    print(f"seeded {count} messages in {time.monotonic() - started:.0f}s", flush=True)


def bench_retention(state: str, work: Path):
    """EXPIRED delivery rows of 10 bots, 8 days old, one in ten with an
    attempt row, and their events' bodies, written straight into the file
    as the server stores them, plus a tenth as many from now; how long one
    scheduler's run takes to remove the expired ones after its answer (in
    transactions of 1,000 rows), while CONNECTIONS clients send."""
    host = Host(state)
    bots = [b["id"] for b in create_bots(host, 10, None, "r")]
    host.stop()
    conn = sqlite3.connect(Path(state) / "sqlite_db.db")
    conn.execute("PRAGMA synchronous=OFF")
    for age, count in (("-8 days", EXPIRED), ("+0 days", EXPIRED // 10)):
        at = f"strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '{age}')"
        base = conn.execute("SELECT COALESCE(MAX(event_id), 0) + 1 FROM webhook_payloads").fetchone()[0]
        events = f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count} - 1)"
        conn.execute(
            f"""{events}
            INSERT INTO webhook_payloads (event_id, event_type, body, created_at)
            SELECT {base} + i / 10, 'message_new', '{{"type":"message","content":"' || i || '"}}', {at}
            FROM n WHERE i % 10 = 0""")
        conn.execute(
            f"""{events}
            INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, state, attempts,
                last_status, latency_ms, next_attempt_at, created_at, finished_at)
            SELECT json_extract(?, '$[' || (i % 10) || ']'), {base} + i / 10, 'message_new',
                   'http://127.0.0.1:9/hook', 'delivered', 1, 200, 3, {at}, {at}, {at}
            FROM n""",
            (json.dumps(bots),))
    conn.execute(
        "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, created_at) "
        "SELECT id, bot_id, 500, 3, created_at FROM webhook_deliveries WHERE id % 10 = 0"
    )
    conn.commit()
    conn.close()
    host = Host(state)
    db = sqlite3.connect(f"file:{Path(state) / 'sqlite_db.db'}?mode=ro", uri=True)

    def left() -> tuple[int, int]:
        return db.execute("SELECT (SELECT COUNT(*) FROM webhook_deliveries), "
                          "(SELECT COUNT(*) FROM webhook_payloads)").fetchone()

    try:
        before = left()
        with ThreadPoolExecutor(1) as pool:
            sending = pool.submit(bench_sending, host, work, None, " while expiring")
            time.sleep(1)
            started = time.monotonic()
            status, body = host.call("POST", "/webhooks/deliveries/run")
            assert status == 202, body
            # One run removes them all, after its answer (the host's own
            # scheduler may start another meanwhile).
            while left()[1] > before[1] - EXPIRED // 10 and time.monotonic() - started < 120:
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            r = sending.result()
        deliveries, payloads = (b - a for b, a in zip(before, left()))
        print(f"retention: {deliveries} of {EXPIRED} expired deliveries and {payloads} bodies removed "
              f"in {elapsed:.1f}s ({(deliveries + payloads) / elapsed:.0f} rows/s) while sending at "
              f"{r['rps']:.0f}/s", flush=True)
    finally:
        db.close()
        host.stop()


def bench_reading(state: str, work: Path):
    host = Host(state)
    status, body = host.call("POST", "/chats", {"chat": {"name": "million"}})
    assert status == 201, body
    chat = body["data"]["id"]
    host.stop()
    seed(Path(state) / "sqlite_db.db", chat, 1, MESSAGES)
    host = Host(state)
    try:
        status, body = host.call("GET", f"/messages?chat_id={chat}&limit=50")
        assert status == 200 and len(body["data"]) == 50, body
        script = work / "read.lua"
        script.write_text(f"wrk.headers['Authorization'] = 'Bearer {ADMIN}'\n")
        for connections in (1, CONNECTIONS):
            r = wrk(f"{host.base}/api/shared/v1/messages?chat_id={chat}&limit=50", READ_SECONDS,
                    str(script), connections)
            report(f"read: 50 newest of {MESSAGES} messages, c={connections}", r)
        words = random.Random(7).sample(VOCABULARY, 200)
        search = work / "search.lua"
        search.write_text(
            f"wrk.headers['Authorization'] = 'Bearer {ADMIN}'\n"
            "local words = {" + ",".join(f"'{urllib.parse.quote(w)}'" for w in words) + "}\n"
            "local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            "  local q = words[(n % #words) + 1]\n"
            "  if n % 2 == 0 then q = q .. '%20' .. words[((n * 7) % #words) + 1] end\n"
            "  return wrk.format('GET', '/api/shared/v1/search/messages?limit=20&query=' .. q)\n"
            "end\n"
        )
        status, body = host.call("GET", "/search/messages?limit=20&query=" + urllib.parse.quote(words[0]))
        assert status == 200 and body["data"], body
        for connections in (1, CONNECTIONS):
            r = wrk(host.base, READ_SECONDS, str(search), connections)
            report(f"search: 1-2 words over {MESSAGES} messages, c={connections}", r)
        common = work / "common.lua"
        common.write_text(f"wrk.headers['Authorization'] = 'Bearer {ADMIN}'\n")
        r = wrk(f"{host.base}/api/shared/v1/search/messages?limit=20&query=incident", READ_SECONDS,
                str(common), 1)
        report(f"search: a word in 10% of {MESSAGES} messages, c=1", r)
    finally:
        host.stop()


def bench_reactions(host: Host):
    status, body = host.call("POST", "/chats", {"chat": {"name": "poll", "public": True}})
    assert status == 201, body
    chat = body["data"]["id"]
    status, body = host.call("POST", "/messages",
                             {"message": {"entity_type": "discussion", "entity_id": chat,
                                          "content": "Poll: react!"}})
    assert status == 201, body
    message = body["data"]["id"]

    def new_user(i: int) -> str:
        status, body = host.call("POST", "/users", {"user": {
            "email": f"reactor{i}@bench.example", "first_name": f"R{i}"}})
        assert status == 201, body
        uid = body["data"]["id"]
        status, body = host.call("POST", "/access_tokens",
                                 {"access_token": {"user_id": uid, "name": "bench"}})
        assert status == 201, body
        return body["data"]["token"]

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(new_user, range(REACTORS + 1)))
    emoji = ["👍", "👎", "🔥", "🎉", "😂", "❤️", "🚀", "👀", "✅", "❌"]

    def react(i: int) -> int:
        status, _ = host.call("POST", f"/messages/{message}/reactions",
                              {"code": emoji[i % len(emoji)]}, token=tokens[i])
        return status

    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        statuses = list(pool.map(react, range(REACTORS)))
    elapsed = time.monotonic() - started
    ok = sum(1 for s in statuses if s in (200, 201, 204))
    recorded, cursor = 0, None
    while True:
        path = f"/messages/{message}/reactions?limit=50" + (f"&cursor={cursor}" if cursor else "")
        status, body = host.call("GET", path)
        assert status == 200, body
        recorded += len(body["data"])
        cursor = body["meta"]["paginate"].get("next_page")
        if not cursor or not body["data"]:
            break
    extra, body = host.call("POST", f"/messages/{message}/reactions", {"code": "🌟"},
                            token=tokens[REACTORS])
    codes = [e.get("code") for e in (body or {}).get("errors", [])]
    print(f"reactions: {REACTORS} users at once in {elapsed:.2f}s ({REACTORS / elapsed:.0f}/s): "
          f"{ok} accepted, {recorded} recorded; one more -> {extra} {codes}", flush=True)
    if ok != REACTORS or recorded != REACTORS:
        sys.exit("reactions were lost")


def bench_modes(work: Path):
    """The same requests in each SQLite mode of the host, side by side."""
    rows: dict[str, dict[str, dict]] = {}
    columns = {
        "pooled": ("pooled (ours)", "pooled", None),
        "spin": ("spin (as real Spin)", "spin", None),
        "spin-nostat": ("spin, no SQLite mem. stats", "spin", "off"),
    }
    for mode, (_, sqlite_mode, memory_statistics) in columns.items():
        print(f"-- sqlite mode {mode}", flush=True)
        host = Host(str(work / f"state-{mode}"), sqlite_mode, memory_statistics)
        try:
            results = {}
            sent = bench_sending(host, work, label=f" ({mode})")
            results[f"POST /messages, c={CONNECTIONS}"] = sent
            results["POST /messages, c=1"] = bench_sending(host, work, label=f" ({mode}, 1)",
                                                          connections=1)
            # With one client, each request's connection is the file's only
            # one, and SQLite checkpoints and deletes the WAL when the last
            # connection closes: the same, with another connection open.
            held = sqlite3.connect(Path(host.state) / "sqlite_db.db")
            held.execute("SELECT count(*) FROM sqlite_schema").fetchall()
            results["POST /messages, c=1, file held"] = bench_sending(
                host, work, label=f" ({mode}, 1, another connection open)", connections=1)
            held.close()
            status, body = host.call("POST", "/access_tokens",
                                     {"access_token": {"user_id": 1, "name": "bench"}})
            assert status == 201, body
            token = body["data"]["token"]
            auth = work / "auth.lua"
            auth.write_text(f"wrk.headers['Authorization'] = 'Bearer {token}'\n")
            listing = f"{host.base}/api/shared/v1/messages?chat_id={sent['chats'][0]}&limit=50"
            for connections in (1, CONNECTIONS):
                r = wrk(listing, READ_SECONDS, str(auth), connections)
                report(f"read 50 ({mode}), c={connections}", r)
                results[f"GET /messages?limit=50, c={connections}"] = r
            r = wrk(f"{host.base}/api/shared/v1/profile", READ_SECONDS, str(auth), 1)
            report(f"profile ({mode}), c=1", r)
            results["GET /profile, c=1"] = r
            r = wrk(f"{host.base}/.well-known/spin/health", READ_SECONDS, None, 1)
            report(f"health ({mode}), c=1", r)
            results["health, c=1"] = r
        finally:
            host.stop()
        for name, r in results.items():
            rows.setdefault(name, {})[mode] = r
    print(f"\n{'request':<32}" + "".join(f" {title:>30}" for title, _, _ in columns.values()))
    for name, by_mode in rows.items():
        cells = [f"{r['rps']:>7.0f}/s p50 {r['p50']:6.2f} p99 {r['p99']:7.2f}"
                 for r in (by_mode[mode] for mode in columns)]
        print(f"{name:<32}" + "".join(f" {cell:>30}" for cell in cells), flush=True)


def main():
    work = Path(tempfile.mkdtemp(prefix="bench-messages"))
    state = str(work / "state")
    print(f"messages bench: {os.cpu_count()} cores, wrk -t2 -c{CONNECTIONS} (wrk and host share the machine)")
    host = Host(state)
    try:
        if "send" in STEPS:
            bench_sending(host, work)
        if "reactions" in STEPS:
            bench_reactions(host)
        if BOTS and "bots" in STEPS:
            bench_sending_with_bots(host, work)
        if "bots100" in STEPS:
            bench_hundred_bots(host)
        if "outage" in STEPS:
            bench_outage(host)
    finally:
        host.stop()
    if "read" in STEPS:
        bench_reading(str(work / "state-read"), work)
    if "retention" in STEPS:
        bench_retention(str(work / "state-retention"), work)
    if "modes" in STEPS:
        bench_modes(work)


if __name__ == "__main__":
    main()
