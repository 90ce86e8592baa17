-- 0018: two objects nothing uses any more, dropped.
--
-- On Spin every request opens a new connection, whose first statement
-- parses every CREATE in the schema (scripts/schema_cost.py); and every
-- index is written on every insert into its table.
-- * events_undelivered, a partial index of events not yet delivered: the
--   fan-out runs inside the writing transaction (the outbox), so no query
--   reads events by delivered_at, yet every event (one per message) was
--   still added to it. The column stays: dropping a column rewrites the
--   table, and it is NULL on every row.
-- * webhook_fanout_cursor, the fan-out's position in events before the
--   outbox wrote delivery rows in the same transaction: never read since.

DROP INDEX IF EXISTS events_undelivered;
DROP TABLE IF EXISTS webhook_fanout_cursor;

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (18, '0018_dead_schema', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
