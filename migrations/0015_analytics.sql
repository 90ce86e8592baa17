-- 0015: communication analytics (our extension, shared/src/analytics).
--
-- Rollups kept by triggers in the same transaction as the change they
-- count, so the analytics routes read O(buckets x chats) rows, never the
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
-- member who wrote or reacted there that day. Every other rollup follows
-- from its changes, through the triggers on analytics_activity (none
-- deeper: real Spin parses the schema and compiles a statement's triggers
-- on every request, so they are kept few and short). The
-- rebuild (POST /analytics/rebuild, shared/src/analytics/mod.rs) sets
-- those triggers aside inside its transaction and computes every table
-- from the raw rows with set-based queries of its own, so it checks the
-- triggers' arithmetic rather than repeating it.

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

-- Messages: written, deleted.
CREATE TRIGGER IF NOT EXISTS analytics_message_new AFTER INSERT ON messages
WHEN NEW.system = 0 AND NEW.deleted_at IS NULL AND NEW.entity_type <> 'user'
BEGIN
  INSERT INTO analytics_activity (chat_id, day, user_id, messages, thread_messages)
  SELECT NEW.root_chat_id,
         date(NEW.created_at, (SELECT o.offset_seconds FROM analytics_zone_offsets o
                               WHERE o.starts_at <= NEW.created_at ORDER BY o.starts_at DESC LIMIT 1) || ' seconds'),
         NEW.user_id, NEW.entity_type = 'discussion', NEW.entity_type = 'thread'
  WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND u.bot = 0)
    AND EXISTS (SELECT 1 FROM chats c WHERE c.id = NEW.root_chat_id AND c.personal = 0)
  ON CONFLICT (chat_id, day, user_id) DO UPDATE SET
    messages = messages + excluded.messages,
    thread_messages = thread_messages + excluded.thread_messages;
END;

CREATE TRIGGER IF NOT EXISTS analytics_message_deleted AFTER UPDATE OF deleted_at ON messages
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL AND NEW.system = 0 AND NEW.entity_type <> 'user'
BEGIN
  UPDATE analytics_activity SET
    messages = messages - (NEW.entity_type = 'discussion'),
    thread_messages = thread_messages - (NEW.entity_type = 'thread')
  WHERE chat_id = NEW.root_chat_id AND user_id = NEW.user_id
    AND day = date(NEW.created_at, (SELECT o.offset_seconds FROM analytics_zone_offsets o
                                    WHERE o.starts_at <= NEW.created_at ORDER BY o.starts_at DESC LIMIT 1) || ' seconds');
  DELETE FROM analytics_activity
  WHERE chat_id = NEW.root_chat_id AND user_id = NEW.user_id
    AND day = date(NEW.created_at, (SELECT o.offset_seconds FROM analytics_zone_offsets o
                                    WHERE o.starts_at <= NEW.created_at ORDER BY o.starts_at DESC LIMIT 1) || ' seconds')
    AND messages = 0 AND thread_messages = 0 AND reactions = 0 AND thread_reactions = 0;
END;

-- Reactions: added, removed (counted on the day they were added).
CREATE TRIGGER IF NOT EXISTS analytics_reaction_new AFTER INSERT ON reactions
BEGIN
  INSERT INTO analytics_activity (chat_id, day, user_id, reactions, thread_reactions)
  SELECT m.root_chat_id,
         date(NEW.created_at, (SELECT o.offset_seconds FROM analytics_zone_offsets o
                               WHERE o.starts_at <= NEW.created_at ORDER BY o.starts_at DESC LIMIT 1) || ' seconds'),
         NEW.user_id, m.entity_type = 'discussion', m.entity_type = 'thread'
  FROM messages m
  WHERE m.id = NEW.message_id AND m.entity_type <> 'user'
    AND EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND u.bot = 0)
    AND EXISTS (SELECT 1 FROM chats c WHERE c.id = m.root_chat_id AND c.personal = 0)
  ON CONFLICT (chat_id, day, user_id) DO UPDATE SET
    reactions = reactions + excluded.reactions,
    thread_reactions = thread_reactions + excluded.thread_reactions;
END;

CREATE TRIGGER IF NOT EXISTS analytics_reaction_removed AFTER DELETE ON reactions
BEGIN
  UPDATE analytics_activity SET
    reactions = reactions - (SELECT m.entity_type = 'discussion' FROM messages m WHERE m.id = OLD.message_id),
    thread_reactions = thread_reactions - (SELECT m.entity_type = 'thread' FROM messages m WHERE m.id = OLD.message_id)
  WHERE chat_id = (SELECT m.root_chat_id FROM messages m WHERE m.id = OLD.message_id AND m.entity_type <> 'user')
    AND user_id = OLD.user_id
    AND day = date(OLD.created_at, (SELECT o.offset_seconds FROM analytics_zone_offsets o
                                    WHERE o.starts_at <= OLD.created_at ORDER BY o.starts_at DESC LIMIT 1) || ' seconds');
  DELETE FROM analytics_activity
  WHERE chat_id = (SELECT m.root_chat_id FROM messages m WHERE m.id = OLD.message_id)
    AND user_id = OLD.user_id
    AND day = date(OLD.created_at, (SELECT o.offset_seconds FROM analytics_zone_offsets o
                                    WHERE o.starts_at <= OLD.created_at ORDER BY o.starts_at DESC LIMIT 1) || ' seconds')
    AND messages = 0 AND thread_messages = 0 AND reactions = 0 AND thread_reactions = 0;
END;

-- Membership: the chats' days count the joins and leaves of the history.
CREATE TRIGGER IF NOT EXISTS analytics_membership_change AFTER INSERT ON chat_membership_changes
BEGIN
  INSERT INTO analytics_chat_days (chat_id, day, joins, self_joins, leaves)
  VALUES (NEW.chat_id,
          date(NEW.created_at, (SELECT o.offset_seconds FROM analytics_zone_offsets o
                                WHERE o.starts_at <= NEW.created_at ORDER BY o.starts_at DESC LIMIT 1) || ' seconds'),
          NEW.change = 'join', NEW.change = 'join' AND NEW.self_initiated = 1, NEW.change = 'leave')
  ON CONFLICT (chat_id, day) DO UPDATE SET
    joins = joins + excluded.joins,
    self_joins = self_joins + excluded.self_joins,
    leaves = leaves + excluded.leaves;
END;

-- analytics_activity -> the departments' days, the members' periods and
-- their counts, the chats' days and periods. Nothing has triggers of its
-- own below this level, so preparing a statement that writes a message
-- compiles little. A count changes before the row it counts, which the
-- statements check.
CREATE TRIGGER IF NOT EXISTS analytics_activity_new AFTER INSERT ON analytics_activity
BEGIN
  INSERT INTO analytics_department_days (day, department, messages, reactions)
  VALUES (NEW.day, (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id),
          NEW.messages + NEW.thread_messages, NEW.reactions + NEW.thread_reactions)
  ON CONFLICT (day, department) DO UPDATE SET
    messages = messages + excluded.messages, reactions = reactions + excluded.reactions;
  INSERT INTO analytics_period_members (kind, start, department, members)
  SELECT p.kind, p.start, (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id), 1 FROM (SELECT 'day' AS kind, NEW.day AS start UNION ALL SELECT 'week', date(NEW.day, '-' || ((CAST(strftime('%w', NEW.day) AS INTEGER) + 6) % 7) || ' days') UNION ALL SELECT 'month', strftime('%Y-%m-01', NEW.day)) p
  WHERE NOT EXISTS (SELECT 1 FROM analytics_member_periods m
                    WHERE m.kind = p.kind AND m.start = p.start AND m.user_id = NEW.user_id)
  ON CONFLICT (kind, start, department) DO UPDATE SET members = members + 1;
  INSERT INTO analytics_member_periods (kind, start, user_id, department, facts)
  SELECT p.kind, p.start, NEW.user_id, (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id), 1 FROM (SELECT 'day' AS kind, NEW.day AS start UNION ALL SELECT 'week', date(NEW.day, '-' || ((CAST(strftime('%w', NEW.day) AS INTEGER) + 6) % 7) || ' days') UNION ALL SELECT 'month', strftime('%Y-%m-01', NEW.day)) p WHERE true
  ON CONFLICT (kind, start, user_id) DO UPDATE SET facts = facts + 1;
  INSERT INTO analytics_chat_periods (kind, start, chat_id, days)
  SELECT p.kind, p.start, NEW.chat_id, 1 FROM (SELECT 'week' AS kind, date(NEW.day, '-' || ((CAST(strftime('%w', NEW.day) AS INTEGER) + 6) % 7) || ' days') AS start UNION ALL SELECT 'month', strftime('%Y-%m-01', NEW.day)) p
  WHERE NEW.messages + NEW.thread_messages > 0
    AND NOT EXISTS (SELECT 1 FROM analytics_chat_days d
                    WHERE d.chat_id = NEW.chat_id AND d.day = NEW.day AND d.message_authors > 0)
  ON CONFLICT (kind, start, chat_id) DO UPDATE SET days = days + 1;
  INSERT INTO analytics_chat_days (chat_id, day, message_authors)
  VALUES (NEW.chat_id, NEW.day, NEW.messages + NEW.thread_messages > 0)
  ON CONFLICT (chat_id, day) DO UPDATE SET message_authors = message_authors + excluded.message_authors;
END;

-- Every message and reaction: its department's day. A member's first
-- message in the chat that day, or their last one deleted: the chat's day,
-- and its week and month when the chat's day starts or stops counting.
CREATE TRIGGER IF NOT EXISTS analytics_activity_changed AFTER UPDATE ON analytics_activity
BEGIN
  UPDATE analytics_department_days SET
    messages = messages + NEW.messages + NEW.thread_messages - OLD.messages - OLD.thread_messages,
    reactions = reactions + NEW.reactions + NEW.thread_reactions - OLD.reactions - OLD.thread_reactions
  WHERE day = NEW.day AND department = (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id);
  INSERT INTO analytics_chat_periods (kind, start, chat_id, days)
  SELECT p.kind, p.start, NEW.chat_id, 1 FROM (SELECT 'week' AS kind, date(NEW.day, '-' || ((CAST(strftime('%w', NEW.day) AS INTEGER) + 6) % 7) || ' days') AS start UNION ALL SELECT 'month', strftime('%Y-%m-01', NEW.day)) p
  WHERE OLD.messages + OLD.thread_messages = 0 AND NEW.messages + NEW.thread_messages > 0
    AND NOT EXISTS (SELECT 1 FROM analytics_chat_days d
                    WHERE d.chat_id = NEW.chat_id AND d.day = NEW.day AND d.message_authors > 0)
  ON CONFLICT (kind, start, chat_id) DO UPDATE SET days = days + 1;
  UPDATE analytics_chat_days SET
    message_authors = message_authors + (NEW.messages + NEW.thread_messages > 0) - (OLD.messages + OLD.thread_messages > 0)
  WHERE (NEW.messages + NEW.thread_messages > 0) <> (OLD.messages + OLD.thread_messages > 0)
    AND chat_id = NEW.chat_id AND day = NEW.day;
  UPDATE analytics_chat_periods SET days = days - 1
  WHERE OLD.messages + OLD.thread_messages > 0 AND NEW.messages + NEW.thread_messages = 0
    AND chat_id = NEW.chat_id
    AND EXISTS (SELECT 1 FROM analytics_chat_days d
                WHERE d.chat_id = NEW.chat_id AND d.day = NEW.day AND d.message_authors = 0)
    AND ((kind = 'week' AND start = date(NEW.day, '-' || ((CAST(strftime('%w', NEW.day) AS INTEGER) + 6) % 7) || ' days')) OR (kind = 'month' AND start = strftime('%Y-%m-01', NEW.day)));
  DELETE FROM analytics_chat_periods
  WHERE OLD.messages + OLD.thread_messages > 0 AND NEW.messages + NEW.thread_messages = 0
    AND chat_id = NEW.chat_id AND days = 0;
END;

-- A row emptied by a deletion or a removed reaction: its counts already
-- left through the update above; the member may leave their periods.
CREATE TRIGGER IF NOT EXISTS analytics_activity_gone AFTER DELETE ON analytics_activity
BEGIN
  UPDATE analytics_member_periods SET facts = facts - 1
  WHERE user_id = OLD.user_id
    AND ((kind = 'day' AND start = OLD.day)
      OR (kind = 'week' AND start = date(OLD.day, '-' || ((CAST(strftime('%w', OLD.day) AS INTEGER) + 6) % 7) || ' days'))
      OR (kind = 'month' AND start = strftime('%Y-%m-01', OLD.day)));
  UPDATE analytics_period_members SET members = members - 1
  WHERE (kind, start, department) IN
        (SELECT kind, start, department FROM analytics_member_periods WHERE user_id = OLD.user_id AND facts = 0);
  DELETE FROM analytics_member_periods WHERE user_id = OLD.user_id AND facts = 0;
END;

-- A person changes department: their days and periods move with them.
CREATE TRIGGER IF NOT EXISTS analytics_department_change AFTER UPDATE OF department ON users
WHEN coalesce(OLD.department, '') <> coalesce(NEW.department, '')
BEGIN
  INSERT INTO analytics_department_days (day, department, messages, reactions)
  SELECT a.day, d.department,
         d.sign * sum(a.messages + a.thread_messages), d.sign * sum(a.reactions + a.thread_reactions)
  FROM analytics_activity a,
       (SELECT coalesce(OLD.department, '') AS department, -1 AS sign
        UNION ALL SELECT coalesce(NEW.department, ''), 1) d
  WHERE a.user_id = NEW.id
  GROUP BY a.day, d.department, d.sign
  ON CONFLICT (day, department) DO UPDATE SET
    messages = messages + excluded.messages, reactions = reactions + excluded.reactions;
  INSERT INTO analytics_period_members (kind, start, department, members)
  SELECT p.kind, p.start, d.department, d.sign
  FROM analytics_member_periods p,
       (SELECT coalesce(OLD.department, '') AS department, -1 AS sign
        UNION ALL SELECT coalesce(NEW.department, ''), 1) d
  WHERE p.user_id = NEW.id
  ON CONFLICT (kind, start, department) DO UPDATE SET members = members + excluded.members;
  UPDATE analytics_member_periods SET department = coalesce(NEW.department, '') WHERE user_id = NEW.id;
END;

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (15, '0015_analytics', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
