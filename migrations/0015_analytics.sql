-- 0015: communication analytics (our extension, shared/src/analytics).
--
-- Rollups, so the analytics routes read O(buckets x chats) rows, never the
-- messages. Every figure is defined in shared/openapi/extensions.json and
-- the README ("Communication analytics"); in short:
-- * counted: messages that are not system messages and not deleted, and
--   reactions, by people (not bots), in shared chats (group chats and
--   channels, with their threads; never personal chats);
-- * a thread's messages and reactions count for the chat of its root
--   message (messages.root_chat_id), flagged as thread activity;
-- * days are local dates in the workspace's analytics time zone
--   (analytics_settings), whose UTC offsets analytics_zone_offsets lists
--   (written by the app from the time-zone database when the zone is set).
--
-- analytics_activity is the base fact: one row per chat, local day and
-- member who wrote or reacted there that day; every other rollup follows
-- from its changes. Migration 0016 and shared/src/analytics/intake.rs say
-- how rows reach them, off the write path. (As it first landed, this file
-- also created triggers that kept the rollups at write time; 0016 drops
-- them from databases that have them.) The rebuild (POST
-- /analytics/rebuild, shared/src/analytics/mod.rs) computes every table
-- from the raw rows with set-based queries of its own.

CREATE TABLE IF NOT EXISTS analytics_settings (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    time_zone  TEXT NOT NULL,
    -- NULL until the rollups have been built from the raw rows (the first
    -- analytics request builds them).
    rebuilt_at TEXT
);
INSERT INTO analytics_settings (id, time_zone) VALUES (1, 'UTC') ON CONFLICT DO NOTHING;

-- From starts_at (UTC, the API's format) on, local time = UTC + offset_seconds.
CREATE TABLE IF NOT EXISTS analytics_zone_offsets (
    starts_at      TEXT    PRIMARY KEY,
    offset_seconds INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO analytics_zone_offsets (starts_at, offset_seconds)
VALUES ('0000-01-01T00:00:00.000Z', 0) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS analytics_activity (
    chat_id          INTEGER NOT NULL,
    day              TEXT    NOT NULL,
    user_id          INTEGER NOT NULL,
    messages         INTEGER NOT NULL DEFAULT 0,
    thread_messages  INTEGER NOT NULL DEFAULT 0,
    reactions        INTEGER NOT NULL DEFAULT 0,
    thread_reactions INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, day, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS analytics_activity_day ON analytics_activity (day, chat_id, user_id);
-- A person's days, for moving them to their new department.
CREATE INDEX IF NOT EXISTS analytics_activity_user ON analytics_activity (user_id, day);

-- Per chat and local day: how many members wrote there (a chat with one
-- is active that day), and the membership changes of
-- chat_membership_changes. Message and reaction sums are read from
-- analytics_activity (one range of its key per chat), so a message writes
-- no row here unless it is its author's first there that day.
CREATE TABLE IF NOT EXISTS analytics_chat_days (
    chat_id         INTEGER NOT NULL,
    day             TEXT    NOT NULL,
    message_authors INTEGER NOT NULL DEFAULT 0,
    joins           INTEGER NOT NULL DEFAULT 0,
    self_joins      INTEGER NOT NULL DEFAULT 0,
    leaves          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, day)
) WITHOUT ROWID;
-- The active chats of a range of days.
CREATE INDEX IF NOT EXISTS analytics_chat_days_active
    ON analytics_chat_days (day, chat_id) WHERE message_authors > 0;

-- Who was active in each day, week (starting Monday) and month, in which
-- department (the one they have now; '' for none), with the number of
-- analytics_activity rows behind it (deleted at 0): a period's active
-- members are its rows.
CREATE TABLE IF NOT EXISTS analytics_member_periods (
    kind       TEXT    NOT NULL CHECK (kind IN ('day', 'week', 'month')),
    start      TEXT    NOT NULL,
    user_id    INTEGER NOT NULL,
    department TEXT    NOT NULL,
    facts      INTEGER NOT NULL,
    PRIMARY KEY (kind, start, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS analytics_member_periods_user ON analytics_member_periods (user_id);

-- How many members of each department (the one they have now; '' for
-- none) were active in each day, week and month: the rows of
-- analytics_member_periods, counted as they come and go.
CREATE TABLE IF NOT EXISTS analytics_period_members (
    kind       TEXT    NOT NULL CHECK (kind IN ('day', 'week', 'month')),
    start      TEXT    NOT NULL,
    department TEXT    NOT NULL,
    members    INTEGER NOT NULL,
    PRIMARY KEY (kind, start, department)
) WITHOUT ROWID;

-- Which chats had a member who wrote in each week and month, with the
-- number of such days (deleted at 0).
CREATE TABLE IF NOT EXISTS analytics_chat_periods (
    kind    TEXT    NOT NULL CHECK (kind IN ('week', 'month')),
    start   TEXT    NOT NULL,
    chat_id INTEGER NOT NULL,
    days    INTEGER NOT NULL,
    PRIMARY KEY (kind, start, chat_id)
) WITHOUT ROWID;

-- Messages and reactions of every day per department: the one counter
-- besides analytics_activity that every message updates.
CREATE TABLE IF NOT EXISTS analytics_department_days (
    day        TEXT    NOT NULL,
    department TEXT    NOT NULL,
    messages   INTEGER NOT NULL DEFAULT 0,
    reactions  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, department)
) WITHOUT ROWID;

-- The history of people joining and leaving shared chats, written by the
-- chats area with every membership change (shared/src/chats/members.rs,
-- member_event), which knows who made it: a join is self-initiated when
-- the person added themselves. It is raw data, kept like the messages;
-- the rows before this migration come from the chat_member events.
CREATE TABLE IF NOT EXISTS chat_membership_changes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id        INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    change         TEXT    NOT NULL CHECK (change IN ('join', 'leave')),
    self_initiated INTEGER NOT NULL CHECK (self_initiated IN (0, 1)),
    created_at     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_membership_changes_chat
    ON chat_membership_changes (chat_id, created_at);

INSERT INTO chat_membership_changes (chat_id, user_id, change, self_initiated, created_at)
SELECT e.entity_id, j.value, CASE e.event WHEN 'add' THEN 'join' ELSE 'leave' END,
       coalesce(j.value = e.actor_user_id, 0), e.created_at
FROM events e, json_each(e.payload_json, '$.user_ids') j
WHERE e.type = 'chat_member' AND e.event IN ('add', 'remove')
  AND EXISTS (SELECT 1 FROM chats c WHERE c.id = e.entity_id AND c.personal = 0)
  AND EXISTS (SELECT 1 FROM users u WHERE u.id = j.value AND u.bot = 0)
  AND NOT EXISTS (SELECT 1 FROM chat_membership_changes);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (15, '0015_analytics', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
