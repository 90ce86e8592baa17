-- 0003: messages (with tombstones), attached files, threads (a thread is a
-- chat of its own plus a row here), reactions, pins, per-user read state,
-- link previews and the FTS5 full-text index of message content.
-- Plain idempotent SQL, like 0001 and 0002 (usable with `spin up --sqlite @...`).

-- entity_type/entity_id/chat_id/root_chat_id as the `Message` schema defines
-- them: 'discussion' (entity_id = chat_id = root_chat_id), 'thread'
-- (entity_id = threads.id, chat_id = the thread's chat, root_chat_id = the
-- chat of the thread's root message, or the thread chat for a standalone
-- thread), 'user' (personal chat; entity_id = the other participant as seen
-- by the author). url is the path part of the direct link; the API prefixes
-- the request's origin. system = 1 marks service messages (joins/leaves).
CREATE TABLE IF NOT EXISTS messages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id            INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    root_chat_id       INTEGER NOT NULL,
    entity_type        TEXT    NOT NULL CHECK (entity_type IN ('discussion', 'thread', 'user')),
    entity_id          INTEGER NOT NULL,
    user_id            INTEGER NOT NULL REFERENCES users (id),
    content            TEXT    NOT NULL DEFAULT '',
    buttons_json       TEXT,
    parent_message_id  INTEGER,
    display_name       TEXT,
    display_avatar_url TEXT,
    link_preview       INTEGER NOT NULL DEFAULT 0 CHECK (link_preview IN (0, 1)),
    system             INTEGER NOT NULL DEFAULT 0 CHECK (system IN (0, 1)),
    url                TEXT    NOT NULL,
    pinned_at          TEXT,
    pinned_by          INTEGER,
    created_at         TEXT    NOT NULL,
    changed_at         TEXT    NOT NULL,
    deleted_at         TEXT
);
CREATE INDEX IF NOT EXISTS messages_chat ON messages (chat_id, id);
CREATE INDEX IF NOT EXISTS messages_root_chat ON messages (root_chat_id, id);
CREATE INDEX IF NOT EXISTS messages_user ON messages (user_id, id);

CREATE TABLE IF NOT EXISTS message_files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    file_key    TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    file_type   TEXT    NOT NULL CHECK (file_type IN ('file', 'image', 'audio', 'voice')),
    size        INTEGER NOT NULL DEFAULT 0,
    width       INTEGER,
    height      INTEGER,
    duration_ms INTEGER,
    waveform    TEXT
);
CREATE INDEX IF NOT EXISTS message_files_message ON message_files (message_id, id);

-- A thread: its own chat (chat_id) attached to a root message (message_id,
-- message_chat_id), or standalone (both NULL). updated_at = last activity.
CREATE TABLE IF NOT EXISTS threads (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id         INTEGER NOT NULL UNIQUE REFERENCES chats (id) ON DELETE CASCADE,
    message_id      INTEGER UNIQUE REFERENCES messages (id),
    message_chat_id INTEGER,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS threads_message_chat ON threads (message_chat_id, id);
CREATE INDEX IF NOT EXISTS threads_updated_at ON threads (updated_at, id);

-- One row per (message, user, emoji); name is '' when not given.
CREATE TABLE IF NOT EXISTS reactions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code       TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    UNIQUE (message_id, user_id, code, name)
);
CREATE INDEX IF NOT EXISTS reactions_message ON reactions (message_id, id);

-- Read state: everything up to last_read_message_id is read (monotonic).
CREATE TABLE IF NOT EXISTS chat_reads (
    chat_id              INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_message_id INTEGER NOT NULL,
    updated_at           TEXT    NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chat_reads_position ON chat_reads (chat_id, last_read_message_id);

-- Unfurled link previews (POST /messages/{id}/link_previews).
CREATE TABLE IF NOT EXISTS message_link_previews (
    message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    url          TEXT    NOT NULL,
    preview_json TEXT    NOT NULL,
    bot_id       INTEGER NOT NULL,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (message_id, url)
);

-- Full-text index of live, non-system message content (rowid = messages.id).
-- unicode61 folds case for Cyrillic as well as Latin and removes Latin
-- diacritics; ё/Ё are indexed as е/Е (the search query is folded the same way).
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5 (content, tokenize = 'unicode61 remove_diacritics 2');

CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages
WHEN new.deleted_at IS NULL AND new.system = 0
BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, replace(replace(new.content, 'ё', 'е'), 'Ё', 'Е'));
END;

CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF content, deleted_at ON messages
BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
    INSERT INTO messages_fts (rowid, content)
    SELECT new.id, replace(replace(new.content, 'ё', 'е'), 'Ё', 'Е') WHERE new.deleted_at IS NULL AND new.system = 0;
END;

CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
END;

INSERT OR IGNORE INTO schema_migrations (version, name, applied_at)
VALUES (3, '0003_messages', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
