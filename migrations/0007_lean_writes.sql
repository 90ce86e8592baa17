-- What follows from inserting a message is done by the database inside the
-- INSERT itself, so a message without files, thread or listening bots is
-- written by one statement, which takes and releases the write lock on its
-- own (shared/src/messages/posting.rs). For every message:
-- * its link path (`url`), which needs the id SQLite assigns;
-- * its `message`/`new` event, with the payload
--   chats::message_rows::message_payload builds for the other message events.
-- For every message but system messages:
-- * its chat's `last_message_at`;
-- * the author's read position in the chat (their own message is read).
CREATE TRIGGER IF NOT EXISTS messages_url AFTER INSERT ON messages WHEN NEW.url = ''
BEGIN
  UPDATE messages SET url = '/chats/' || NEW.chat_id || '?message=' || NEW.id WHERE id = NEW.id;
END;

CREATE TRIGGER IF NOT EXISTS messages_new_event AFTER INSERT ON messages
BEGIN
  INSERT INTO events (type, event, entity_type, entity_id, actor_user_id, payload_json, created_at)
  VALUES ('message', 'new', 'Message', NEW.id, NEW.user_id,
          json_object('id', NEW.id, 'chat_id', NEW.chat_id, 'root_chat_id', NEW.root_chat_id,
                      'entity_type', NEW.entity_type, 'entity_id', NEW.entity_id,
                      'user_id', NEW.user_id, 'parent_message_id', NEW.parent_message_id),
          NEW.created_at);
END;

CREATE TRIGGER IF NOT EXISTS messages_last_message_at AFTER INSERT ON messages WHEN NEW.system = 0
BEGIN
  UPDATE chats SET last_message_at = NEW.created_at WHERE id = NEW.chat_id;
END;

CREATE TRIGGER IF NOT EXISTS messages_author_read AFTER INSERT ON messages WHEN NEW.system = 0
BEGIN
  INSERT INTO chat_reads (chat_id, user_id, last_read_message_id, updated_at)
  VALUES (NEW.chat_id, NEW.user_id, NEW.id, NEW.created_at)
  ON CONFLICT (chat_id, user_id) DO UPDATE SET
    updated_at = CASE WHEN excluded.last_read_message_id > last_read_message_id
                      THEN excluded.updated_at ELSE updated_at END,
    last_read_message_id = max(last_read_message_id, excluded.last_read_message_id);
END;

INSERT INTO schema_migrations (version, name, applied_at)
VALUES (7, '0007_lean_writes', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT DO NOTHING;
