-- 0004: bots' webhook settings, outgoing-webhook deliveries (outbox), their
-- attempts, and the per-bot event history for polling.

-- One row per bot user (users.bot = 1): the official `BotWebhook` settings,
-- the creator, and the signing secret of its outgoing webhook.
CREATE TABLE IF NOT EXISTS bots (
    user_id                INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    creator_id             INTEGER NOT NULL,
    outgoing_url           TEXT,
    events_json            TEXT    NOT NULL DEFAULT '[]',
    trigger_on             TEXT    NOT NULL DEFAULT 'commands'
                           CHECK (trigger_on IN ('commands', 'all_messages', 'unfurl')),
    commands_json          TEXT    NOT NULL DEFAULT '[]',
    scopes_json            TEXT    NOT NULL DEFAULT '[]',
    template               TEXT,
    template_engine        TEXT    NOT NULL DEFAULT 'liquid' CHECK (template_engine IN ('liquid', 'mustache')),
    challenge_key          TEXT,
    link_preview_enabled   INTEGER NOT NULL DEFAULT 1 CHECK (link_preview_enabled IN (0, 1)),
    ignore_self_messages   INTEGER NOT NULL DEFAULT 0 CHECK (ignore_self_messages IN (0, 1)),
    events_history_enabled INTEGER NOT NULL DEFAULT 0 CHECK (events_history_enabled IN (0, 1)),
    single_chat            INTEGER NOT NULL DEFAULT 0 CHECK (single_chat IN (0, 1)),
    can_edit_json          TEXT    NOT NULL DEFAULT '[]',
    who_can_add            TEXT    NOT NULL DEFAULT 'creator'
                           CHECK (who_can_add IN ('creator', 'creator_admin', 'creator_admin_user', 'anyone')),
    signing_secret         TEXT    NOT NULL,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL
);

-- Bots created before this migration (by our former extension) get their
-- settings row with the defaults and a fresh signing secret.
INSERT INTO bots (user_id, creator_id, scopes_json, signing_secret, created_at, updated_at)
SELECT id, COALESCE(inviter_id, 1), '[]', lower(hex(randomblob(32))), created_at, updated_at
FROM users WHERE bot = 1 AND true
ON CONFLICT DO NOTHING;

-- Which domain events have been fanned out to bots (the events table is the
-- transactional outbox; fan-out turns one event into per-bot rows below).
CREATE TABLE IF NOT EXISTS webhook_fanout_cursor (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id INTEGER NOT NULL
);
INSERT INTO webhook_fanout_cursor (id, last_event_id)
SELECT 1, COALESCE(MAX(id), 0) FROM events WHERE true
ON CONFLICT DO NOTHING;

-- One outgoing webhook to send: a bot, a rendered body, its state.
-- state: pending (due at next_attempt_at), delivered, dead (gave up).
-- lease_until: a worker holds it until then (two workers never send the
-- same delivery while the lease holds).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    lease_until     TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    finished_at     TEXT,
    UNIQUE (bot_id, event_id, event_type)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_bot ON webhook_deliveries (bot_id, id);

-- Every attempt of a delivery: status code (NULL when no response), latency, error.
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    bot_id      INTEGER NOT NULL,
    status      INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT,
    created_at  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_bot ON webhook_attempts (bot_id, id);

-- Event history of bots with events_history_enabled (GET /webhooks/events).
-- id is a sortable 26-character string (time-ordered, like a ULID).
CREATE TABLE IF NOT EXISTS webhook_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    bot_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id   INTEGER NOT NULL,
    event_type TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (bot_id, event_id, event_type)
);
CREATE INDEX IF NOT EXISTS webhook_events_bot ON webhook_events (bot_id, seq);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (4, '0004_webhooks', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
