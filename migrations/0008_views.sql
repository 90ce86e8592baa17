-- 0008: forms (guides/forms-*.md). A view a bot opened with a button
-- press's trigger_id (one view per press), for the user who pressed; the
-- user's last submitted values and the bot's last per-field errors are kept
-- so the form shows them again.
CREATE TABLE IF NOT EXISTS views (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_id       TEXT    NOT NULL UNIQUE REFERENCES button_clicks (trigger_id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id          INTEGER,
    callback_id      TEXT,
    private_metadata TEXT,
    view_json        TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'open',
    errors_json      TEXT,
    values_json      TEXT,
    created_at       TEXT    NOT NULL,
    closed_at        TEXT
);
CREATE INDEX IF NOT EXISTS views_user ON views (user_id, state, id);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (8, '0008_views', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
