-- 0016: analytics rollups move off the write path.
--
-- Migration 0015, as it first landed, kept the rollups with triggers on
-- messages, reactions, the membership log and users, and with triggers on
-- analytics_activity below them (dropped here where they exist). Under real Spin every request opens a new connection, which
-- parses every trigger of the schema, and every message compiled and ran
-- that cascade while holding the write lock: sending in Spin's storage
-- mode ran 24-32 % slower with them (README). Now (shared/src/analytics/intake.rs):
-- * new messages, reactions and membership changes are read by id after
--   the watermarks of analytics_intake (ids are handed out in commit
--   order, one writer at a time);
-- * what cannot be read that way, a message deleted, a reaction removed
--   (its row is gone) and a person moved to another department, is noted
--   in analytics_journal by three one-statement triggers;
-- * the analytics requests and the scheduler's POST /analytics/run fold
--   both into the rollups in short transactions, and the cascade from
--   analytics_activity to the other rollups runs as TEMP triggers that
--   only those connections create.
DROP TRIGGER IF EXISTS analytics_message_new;
DROP TRIGGER IF EXISTS analytics_message_deleted;
DROP TRIGGER IF EXISTS analytics_reaction_new;
DROP TRIGGER IF EXISTS analytics_reaction_removed;
DROP TRIGGER IF EXISTS analytics_membership_change;
DROP TRIGGER IF EXISTS analytics_activity_new;
DROP TRIGGER IF EXISTS analytics_activity_changed;
DROP TRIGGER IF EXISTS analytics_activity_gone;
DROP TRIGGER IF EXISTS analytics_department_change;

-- The last message, reaction and membership change the rollups hold. Until
-- this migration the triggers kept them current, so they start at today's
-- last ids.
CREATE TABLE IF NOT EXISTS analytics_intake (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    messages_seen    INTEGER NOT NULL,
    reactions_seen   INTEGER NOT NULL,
    memberships_seen INTEGER NOT NULL
);
INSERT INTO analytics_intake (id, messages_seen, reactions_seen, memberships_seen)
SELECT 1, (SELECT coalesce(max(id), 0) FROM messages), (SELECT coalesce(max(id), 0) FROM reactions),
       (SELECT coalesce(max(id), 0) FROM chat_membership_changes)
WHERE true ON CONFLICT DO NOTHING;

-- Changes the watermarks cannot see: kind 'message_deleted' (message_id),
-- 'reaction_removed' (reaction_id, message_id, user_id, created_at = when
-- it was added) and 'department' (user_id). Folded in and deleted by the intake.
CREATE TABLE IF NOT EXISTS analytics_journal (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    message_id  INTEGER,
    reaction_id INTEGER,
    user_id     INTEGER,
    created_at  TEXT
);

CREATE TRIGGER IF NOT EXISTS analytics_message_deleted AFTER UPDATE OF deleted_at ON messages
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL AND NEW.system = 0 AND NEW.entity_type <> 'user'
BEGIN
  INSERT INTO analytics_journal (kind, message_id) VALUES ('message_deleted', NEW.id);
END;

CREATE TRIGGER IF NOT EXISTS analytics_reaction_removed AFTER DELETE ON reactions
BEGIN
  INSERT INTO analytics_journal (kind, reaction_id, message_id, user_id, created_at)
  VALUES ('reaction_removed', OLD.id, OLD.message_id, OLD.user_id, OLD.created_at);
END;

CREATE TRIGGER IF NOT EXISTS analytics_department_moved AFTER UPDATE OF department ON users
WHEN coalesce(OLD.department, '') <> coalesce(NEW.department, '')
BEGIN
  INSERT INTO analytics_journal (kind, user_id) VALUES ('department', NEW.id);
END;

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (16, '0016_analytics_intake', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
