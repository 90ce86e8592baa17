-- 0014: the pixel size of uploaded images, read from their bytes when they
-- are stored, so a message's file gets its width and height even when the
-- client sends none. Plain idempotent SQL.
CREATE TABLE IF NOT EXISTS file_images (
    file_key TEXT    PRIMARY KEY REFERENCES files (file_key) ON DELETE CASCADE,
    width    INTEGER NOT NULL,
    height   INTEGER NOT NULL
);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (14, '0014_file_images', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
