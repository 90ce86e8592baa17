-- 0013: chat exports (guides/export.md): one row per requested export,
-- built after the request's response into a zip kept as a stored file
-- (files/file_chunks, migration 0010). state: preparing → ready | failed.
-- Plain idempotent SQL.
CREATE TABLE IF NOT EXISTS chat_exports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    start_at        TEXT    NOT NULL,
    end_at          TEXT    NOT NULL,
    chat_ids_json   TEXT,
    skip_chats_file INTEGER NOT NULL DEFAULT 0 CHECK (skip_chats_file IN (0, 1)),
    webhook_url     TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('preparing', 'ready', 'failed')),
    file_key        TEXT,
    error           TEXT,
    webhook_status  TEXT,
    created_at      TEXT    NOT NULL,
    finished_at     TEXT
);
CREATE INDEX IF NOT EXISTS chat_exports_preparing ON chat_exports (id) WHERE state = 'preparing';

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (13, '0013_chat_exports', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
