-- 0005: incoming webhooks (a secret URL per bot, the last JSON it got and
-- its rate window) and data-button clicks.

-- One row per bot: its incoming-webhook token (the secret part of its URL),
-- the last request body received and when, and the one-second rate window.
CREATE TABLE IF NOT EXISTS bot_incoming (
    bot_id            INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token             TEXT    NOT NULL UNIQUE,
    last_request_body TEXT,
    last_request_at   TEXT,
    window_second     INTEGER NOT NULL DEFAULT 0,
    window_count      INTEGER NOT NULL DEFAULT 0
);

-- Bots created before this migration get a token too.
INSERT INTO bot_incoming (bot_id, token)
SELECT user_id, lower(hex(randomblob(24))) FROM bots WHERE true
ON CONFLICT DO NOTHING;

-- Every press of a data button: who, when, which button (its data), and the
-- trigger id handed to the message's bot (valid for a few seconds, for
-- POST /views/open).
CREATE TABLE IF NOT EXISTS button_clicks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    chat_id    INTEGER NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    data       TEXT    NOT NULL,
    trigger_id TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS button_clicks_message ON button_clicks (message_id, data);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (5, '0005_interactive_bots', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
