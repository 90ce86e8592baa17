-- 0001: users, group tags, statuses, custom properties, access tokens, domain events.
-- Plain idempotent SQL: applied by the app's migrator (shared::migrate) and also
-- usable with `spin up --sqlite @migrations/0001_init.sql`.

-- WAL is persistent in the database file. It cannot be switched inside a
-- transaction, so the migrator runs leading PRAGMA lines before BEGIN IMMEDIATE.
PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    first_name       TEXT,
    last_name        TEXT,
    nickname         TEXT    NOT NULL,
    email            TEXT,
    phone_number     TEXT,
    department       TEXT,
    title            TEXT,
    role             TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'user', 'multi_guest', 'guest')),
    suspended        INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),
    invite_status    TEXT    NOT NULL DEFAULT 'sent' CHECK (invite_status IN ('confirmed', 'sent')),
    inviter_id       INTEGER REFERENCES users (id),
    bot              INTEGER NOT NULL DEFAULT 0 CHECK (bot IN (0, 1)),
    sso              INTEGER NOT NULL DEFAULT 0 CHECK (sso IN (0, 1)),
    time_zone        TEXT,
    image_url        TEXT,
    last_activity_at TEXT,
    -- Unicode-lowercased copies maintained by the app (SQLite's lower() is ASCII-only).
    search_text      TEXT    NOT NULL DEFAULT '',
    sort_name        TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    deleted_at       TEXT
);

-- Uniqueness only among live (not deleted) users, case-insensitive.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_unique
    ON users (email COLLATE NOCASE) WHERE email IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS users_nickname_unique
    ON users (nickname COLLATE NOCASE) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS users_created_at ON users (created_at, id);

-- Chats requested at user creation; the chats area consumes them later.
CREATE TABLE IF NOT EXISTS user_chat_invitations (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id    INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);

CREATE TABLE IF NOT EXISTS group_tags (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS group_tags_name_unique ON group_tags (name COLLATE NOCASE);

CREATE TABLE IF NOT EXISTS group_tag_users (
    group_tag_id INTEGER NOT NULL REFERENCES group_tags (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (group_tag_id, user_id)
);
CREATE INDEX IF NOT EXISTS group_tag_users_user ON group_tag_users (user_id);

CREATE TABLE IF NOT EXISTS user_statuses (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    emoji        TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    expires_at   TEXT,
    is_away      INTEGER NOT NULL DEFAULT 0 CHECK (is_away IN (0, 1)),
    away_message TEXT,
    updated_at   TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS custom_property_definitions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_type TEXT NOT NULL CHECK (entity_type IN ('User', 'Task')),
    name        TEXT NOT NULL,
    data_type   TEXT NOT NULL CHECK (data_type IN ('string', 'number', 'date', 'link')),
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS custom_property_definitions_name_unique
    ON custom_property_definitions (entity_type, name COLLATE NOCASE) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS user_custom_property_values (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    property_id INTEGER NOT NULL REFERENCES custom_property_definitions (id) ON DELETE CASCADE,
    value       TEXT    NOT NULL,
    PRIMARY KEY (user_id, property_id)
);

-- Personal access tokens: only the SHA-256 of the secret is stored.
CREATE TABLE IF NOT EXISTS access_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT,
    token_sha256 TEXT    NOT NULL UNIQUE,
    token_hint   TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_by   INTEGER REFERENCES users (id),
    created_at   TEXT    NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX IF NOT EXISTS access_tokens_user ON access_tokens (user_id, id);

-- Domain events, written in the same transaction as the change they describe.
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    entity_type   TEXT    NOT NULL,
    entity_id     INTEGER NOT NULL,
    actor_user_id INTEGER,
    payload_json  TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    delivered_at  TEXT
);
CREATE INDEX IF NOT EXISTS events_undelivered ON events (id) WHERE delivered_at IS NULL;

-- The workspace owner always exists (id 1).
INSERT OR IGNORE INTO users (id, first_name, last_name, nickname, email, role, invite_status, search_text, sort_name,
                             created_at, updated_at)
VALUES (1, 'Owner', NULL, 'owner', NULL, 'owner', 'confirmed', 'owner' || char(10) || 'owner' || char(10) || 'owner', 'owner owner',
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

INSERT OR IGNORE INTO schema_migrations (version, name, applied_at)
VALUES (1, '0001_init', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
