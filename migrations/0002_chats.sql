-- 0002: chats (conversations, channels, personal one-to-one chats), their
-- members with chat roles, and group tags attached to chats.
-- Plain idempotent SQL, like 0001 (usable with `spin up --sqlite @...`).

CREATE TABLE IF NOT EXISTS chats (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    -- Unicode-lowercased copy of name maintained by the app (for search).
    search_name     TEXT    NOT NULL DEFAULT '',
    owner_id        INTEGER NOT NULL REFERENCES users (id),
    channel         INTEGER NOT NULL DEFAULT 0 CHECK (channel IN (0, 1)),
    public          INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    personal        INTEGER NOT NULL DEFAULT 0 CHECK (personal IN (0, 1)),
    archived        INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    -- 'min_user_id:max_user_id' of a personal chat, so each pair has one chat.
    personal_key    TEXT,
    meet_room_slug  TEXT    NOT NULL,
    last_message_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS chats_personal_key ON chats (personal_key) WHERE personal_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS chats_public ON chats (id) WHERE public = 1;
CREATE INDEX IF NOT EXISTS chats_last_message_at ON chats (last_message_at, id);

-- role: owner (the creator), admin, editor (channels), member (member/subscriber).
-- direct = 1: added explicitly (or creator); 0: present only through a group tag.
CREATE TABLE IF NOT EXISTS chat_members (
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'member')),
    direct     INTEGER NOT NULL DEFAULT 1 CHECK (direct IN (0, 1)),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chat_members_user ON chat_members (user_id, chat_id);

CREATE TABLE IF NOT EXISTS chat_group_tags (
    chat_id      INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    group_tag_id INTEGER NOT NULL REFERENCES group_tags (id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (chat_id, group_tag_id)
);
CREATE INDEX IF NOT EXISTS chat_group_tags_tag ON chat_group_tags (group_tag_id, chat_id);

INSERT OR IGNORE INTO schema_migrations (version, name, applied_at)
VALUES (2, '0002_chats', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
