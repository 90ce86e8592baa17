-- 0017: webhook deliveries touch as few pages per message as they can.
--
-- Measured with 10 bots in a chat (scripts/bench messages): every message
-- wrote 10 delivery rows whose two per-bot indexes, UNIQUE (bot_id,
-- event_id, event_type) and webhook_deliveries_bot, put each row's entries
-- on a different page, and recording the attempts wrote 10 more rows whose
-- index, webhook_attempts_bot, did the same; SQLite writes every page a
-- transaction touches, whole, to the write-ahead log. Now:
-- * the uniqueness of one delivery per bot and event is kept as UNIQUE
--   (event_id, event_type, bot_id), so one event's rows sit together at
--   the end of the index;
-- * a first attempt that succeeds is recorded on the delivery row alone
--   (its status, latency_ms and finished_at); webhook_attempts keeps the
--   attempts of deliveries that ever failed or were redelivered
--   (shared/src/webhooks/delivery.rs);
-- * webhook_attempts is indexed by delivery, which is how the delivery log
--   reads it (it was read by a scan); nothing read it by bot;
-- * an event's body is stored once, in webhook_payloads, instead of once
--   per bot: webhook_deliveries.body is only set where a bot's body differs
--   from its event's (message_link_shared carries each bot's own links),
--   and for the rows written before this migration.
-- SQLite cannot change a table's constraints in place, so both tables are
-- rebuilt, attempts with them: with foreign keys on, dropping the old
-- deliveries table would otherwise delete every attempt through its
-- ON DELETE CASCADE.
CREATE TABLE webhook_deliveries_next (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    body            TEXT,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    lease_until     TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    latency_ms      INTEGER,
    created_at      TEXT    NOT NULL,
    finished_at     TEXT,
    UNIQUE (event_id, event_type, bot_id)
);
INSERT INTO webhook_deliveries_next (id, bot_id, event_id, event_type, url, body, state, attempts,
    next_attempt_at, lease_until, last_status, last_error, latency_ms, created_at, finished_at)
SELECT d.id, d.bot_id, d.event_id, d.event_type, d.url, d.body, d.state, d.attempts,
    d.next_attempt_at, d.lease_until, d.last_status, d.last_error, a.latency_ms,
    d.created_at, d.finished_at
FROM webhook_deliveries d
LEFT JOIN (SELECT delivery_id, MAX(id) AS id FROM webhook_attempts GROUP BY delivery_id) l
    ON l.delivery_id = d.id
LEFT JOIN webhook_attempts a ON a.id = l.id;

CREATE TABLE webhook_attempts_next (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries_next (id) ON DELETE CASCADE,
    bot_id      INTEGER NOT NULL,
    status      INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT,
    created_at  TEXT    NOT NULL
);
INSERT INTO webhook_attempts_next (id, delivery_id, bot_id, status, latency_ms, error, created_at)
SELECT id, delivery_id, bot_id, status, latency_ms, error, created_at FROM webhook_attempts;

-- Ids keep counting from where they were, deleted rows included.
UPDATE sqlite_sequence SET seq = COALESCE(
    (SELECT s.seq FROM sqlite_sequence s WHERE s.name = 'webhook_deliveries'), seq)
WHERE name = 'webhook_deliveries_next';
UPDATE sqlite_sequence SET seq = COALESCE(
    (SELECT s.seq FROM sqlite_sequence s WHERE s.name = 'webhook_attempts'), seq)
WHERE name = 'webhook_attempts_next';

DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_next RENAME TO webhook_deliveries;
ALTER TABLE webhook_attempts_next RENAME TO webhook_attempts;

CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_bot ON webhook_deliveries (bot_id, id);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- The body of an event's webhooks (without webhook_timestamp), once per
-- event and webhook event type.
CREATE TABLE IF NOT EXISTS webhook_payloads (
    event_id   INTEGER NOT NULL,
    event_type TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (event_id, event_type)
);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (17, '0017_webhook_delivery_pages', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
