-- 0012: the audit log (guides/audit-events.md). Rows are written in the
-- transaction of the action (shared/src/platform/audit.rs); a new message,
-- inserted by one statement, is recorded by the trigger below. id orders
-- the log; uuid is the record's public id. Plain idempotent SQL.
CREATE TABLE IF NOT EXISTS audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT    NOT NULL,
    event_key    TEXT    NOT NULL,
    actor_id     INTEGER NOT NULL,
    actor_type   TEXT    NOT NULL DEFAULT 'User',
    entity_type  TEXT    NOT NULL,
    entity_id    INTEGER NOT NULL,
    details_json TEXT    NOT NULL DEFAULT '{}',
    ip_address   TEXT,
    user_agent   TEXT,
    created_at   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_created_at ON audit_events (created_at);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX IF NOT EXISTS audit_events_entity ON audit_events (entity_type, entity_id, id);

-- message_created, for every message but system messages (joins, leaves).
CREATE TRIGGER IF NOT EXISTS audit_message_created AFTER INSERT ON messages WHEN NEW.system = 0
BEGIN
  INSERT INTO audit_events (uuid, event_key, actor_id, entity_type, entity_id, created_at)
  VALUES (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
                || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
          'message_created', NEW.user_id, 'Message', NEW.id, NEW.created_at);
END;

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (12, '0012_audit', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
