-- 0010: uploaded files (api/file-uploads.md). The upload form is signed with
-- a secret of this server, made on first use; a file's bytes are stored in
-- chunks of the same database (no runtime configuration to add on Spin, and
-- a download reads a chunk at a time).
CREATE TABLE IF NOT EXISTS upload_secrets (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS files (
    file_key     TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    created_at   TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS file_chunks (
    file_key TEXT    NOT NULL REFERENCES files (file_key) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    data     BLOB    NOT NULL,
    PRIMARY KEY (file_key, seq)
);

-- Who may download a file: whoever reads a message it is attached to.
CREATE INDEX IF NOT EXISTS message_files_key ON message_files (file_key);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (10, '0010_files', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
