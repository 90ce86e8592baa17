-- 0006: the domains an unfurl bot watches (`unfurl_domains`, up to 5;
-- guides/link-previews.md), one JSON array per bot.
CREATE TABLE IF NOT EXISTS bot_unfurl (
    bot_id       INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    domains_json TEXT    NOT NULL DEFAULT '[]'
);

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (6, '0006_unfurl_domains', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
