-- 0011: broadcasts (one message to many personal chats) and their
-- recipients, with the read and reply times kept up to date by triggers so
-- a broadcast's analytics read one table (shared/src/broadcasts).
-- Plain idempotent SQL, like the earlier files.

-- One broadcast. content/buttons_json/files_json are the message as every
-- recipient gets it (mentions already resolved). audience_json is the
-- audience as asked ({"include": {...}, "exclude": {...}}). state:
-- scheduled (waits for scheduled_at) → queued (audience frozen) → sending →
-- sent; cancelled stops a scheduled, queued or sending one; recalling →
-- recalled deletes its messages. cursor_user_id is how far delivery (or a
-- recall, by message id) has come; a worker holds lease_token until
-- lease_until, renewed with every batch, so a crashed worker's broadcast is
-- resumed by the scheduler once the lease has run out.
CREATE TABLE IF NOT EXISTS broadcasts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    creator_id         INTEGER NOT NULL REFERENCES users (id),
    sender_id          INTEGER NOT NULL REFERENCES users (id),
    content            TEXT    NOT NULL DEFAULT '',
    buttons_json       TEXT,
    files_json         TEXT    NOT NULL DEFAULT '[]',
    display_name       TEXT,
    display_avatar_url TEXT,
    link_preview       INTEGER NOT NULL DEFAULT 0 CHECK (link_preview IN (0, 1)),
    audience_json      TEXT    NOT NULL,
    idempotency_key    TEXT,
    request_sha256     TEXT,
    state              TEXT    NOT NULL CHECK (state IN ('scheduled', 'queued', 'sending', 'sent', 'cancelled', 'recalling', 'recalled')),
    scheduled_at       TEXT,
    recipients_count   INTEGER NOT NULL DEFAULT 0,
    delivered_count    INTEGER NOT NULL DEFAULT 0,
    cursor_id          INTEGER NOT NULL DEFAULT 0,
    lease_token        TEXT,
    lease_until        TEXT,
    created_at         TEXT    NOT NULL,
    started_at         TEXT,
    finished_at        TEXT,
    cancelled_at       TEXT,
    recalled_at        TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS broadcasts_idempotency
    ON broadcasts (creator_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS broadcasts_due ON broadcasts (state, scheduled_at)
    WHERE state IN ('scheduled', 'queued', 'sending', 'recalling');

-- The frozen audience: one row per recipient. chat_id and message_id are
-- set in the transaction that stores the recipient's message (so each gets
-- it once); read_at is when their read position first reached it, and
-- replied_at when they first wrote in that chat after it.
CREATE TABLE IF NOT EXISTS broadcast_recipients (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id      INTEGER,
    message_id   INTEGER,
    delivered_at TEXT,
    read_at      TEXT,
    replied_at   TEXT,
    PRIMARY KEY (broadcast_id, user_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS broadcast_recipients_message
    ON broadcast_recipients (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS broadcast_recipients_messages
    ON broadcast_recipients (broadcast_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS broadcast_recipients_unread
    ON broadcast_recipients (chat_id, user_id) WHERE read_at IS NULL AND chat_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS broadcast_recipients_unreplied
    ON broadcast_recipients (chat_id, user_id) WHERE replied_at IS NULL AND chat_id IS NOT NULL;

-- A recipient has read the broadcast once their read position in its chat
-- reaches its message (POST /chats/{id}/read, or writing in the chat).
CREATE TRIGGER IF NOT EXISTS broadcast_read_on_insert AFTER INSERT ON chat_reads
BEGIN
  UPDATE broadcast_recipients SET read_at = NEW.updated_at
  WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id AND read_at IS NULL
    AND message_id <= NEW.last_read_message_id;
END;

CREATE TRIGGER IF NOT EXISTS broadcast_read_on_update AFTER UPDATE OF last_read_message_id ON chat_reads
WHEN NEW.last_read_message_id > OLD.last_read_message_id
BEGIN
  UPDATE broadcast_recipients SET read_at = NEW.updated_at
  WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id AND read_at IS NULL
    AND message_id <= NEW.last_read_message_id;
END;

-- A reply: the recipient's first own message in the personal chat after
-- the broadcast's.
CREATE TRIGGER IF NOT EXISTS broadcast_replied AFTER INSERT ON messages
WHEN NEW.entity_type = 'user' AND NEW.system = 0
BEGIN
  UPDATE broadcast_recipients SET replied_at = NEW.created_at
  WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id AND replied_at IS NULL
    AND message_id < NEW.id;
END;

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (11, '0011_broadcasts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
