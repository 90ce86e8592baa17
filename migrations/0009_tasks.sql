-- 0009: tasks (reminders; TaskCreateRequest / TaskUpdateRequest). A task is
-- seen by its creator, its performers and the members of its chat.
CREATE TABLE IF NOT EXISTS tasks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('call', 'meeting', 'reminder', 'event', 'email')),
    content    TEXT    NOT NULL,
    due_at     TEXT,
    all_day    INTEGER NOT NULL DEFAULT 0,
    priority   INTEGER NOT NULL DEFAULT 1 CHECK (priority IN (1, 2, 3)),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    chat_id    INTEGER REFERENCES chats (id) ON DELETE SET NULL,
    status     TEXT    NOT NULL DEFAULT 'undone' CHECK (status IN ('done', 'undone')),
    done_at    TEXT,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_user ON tasks (user_id, id);
CREATE INDEX IF NOT EXISTS tasks_chat ON tasks (chat_id, id);

CREATE TABLE IF NOT EXISTS task_performers (
    task_id INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX IF NOT EXISTS task_performers_user ON task_performers (user_id, task_id);

CREATE TABLE IF NOT EXISTS task_custom_property_values (
    task_id     INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    property_id INTEGER NOT NULL REFERENCES custom_property_definitions (id) ON DELETE CASCADE,
    value       TEXT    NOT NULL,
    PRIMARY KEY (task_id, property_id)
);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (9, '0009_tasks', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
