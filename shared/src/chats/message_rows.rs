//! The messages table's row writer and reader: inserting a message row and
//! recording its `message` event. The chats area owns it because it writes
//! system messages (joins and leaves) itself; the messages area builds every
//! user-facing operation on it.

use std::cell::RefCell;

use crate::platform::db::{rows_source, Db, Row, Value};
use crate::platform::error::Result;
use crate::platform::events::{self, Event};
use crate::platform::time;
use serde_json::{json, Value as Json};

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// Id.
    pub id: i64,
    /// Chat holding the message.
    pub chat_id: i64,
    /// Root chat (the thread's parent chat for thread comments).
    pub root_chat_id: i64,
    /// `discussion`, `thread` or `user`.
    pub entity_type: String,
    /// Chat, thread or user id.
    pub entity_id: i64,
    /// Author.
    pub user_id: i64,
    /// Text.
    pub content: String,
    /// Button rows as JSON, if any.
    pub buttons_json: Option<String>,
    /// Replied-to message.
    pub parent_message_id: Option<i64>,
    /// Bot display name override.
    pub display_name: Option<String>,
    /// Bot avatar override.
    pub display_avatar_url: Option<String>,
    /// Service message (joins, leaves).
    pub system: bool,
    /// Path of the direct link (`/chats/{chat_id}?message={id}`).
    pub url: String,
    /// Pin time.
    pub pinned_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change (creation time until edited).
    pub changed_at: String,
    /// Deletion time (tombstone).
    pub deleted_at: Option<String>,
}

/// The columns [`message_row`] reads, in order.
pub const COLUMNS: &str = "id, chat_id, root_chat_id, entity_type, entity_id, user_id, content, buttons_json, \
     parent_message_id, display_name, display_avatar_url, system, url, pinned_at, created_at, changed_at, deleted_at";

/// Reads one row selected with [`COLUMNS`].
pub fn message_row(r: &Row) -> Result<MessageRow> {
    Ok(MessageRow {
        id: r.i64(0)?,
        chat_id: r.i64(1)?,
        root_chat_id: r.i64(2)?,
        entity_type: r.string(3)?,
        entity_id: r.i64(4)?,
        user_id: r.i64(5)?,
        content: r.string(6)?,
        buttons_json: r.opt_string(7)?,
        parent_message_id: r.opt_i64(8)?,
        display_name: r.opt_string(9)?,
        display_avatar_url: r.opt_string(10)?,
        system: r.bool(11)?,
        url: r.string(12)?,
        pinned_at: r.opt_string(13)?,
        created_at: r.string(14)?,
        changed_at: r.string(15)?,
        deleted_at: r.opt_string(16)?,
    })
}

/// A message regardless of visibility (tombstones included).
pub fn load(db: &dyn Db, id: i64) -> Result<Option<MessageRow>> {
    db.query_row(
        &format!("SELECT {COLUMNS} FROM messages WHERE id = ?"),
        &[id.into()],
    )?
    .map(|r| message_row(&r))
    .transpose()
}

/// The payload of a `message` event (ids only). The `messages_new_event`
/// trigger (migration 0007) builds the same object for `new`.
pub fn message_payload(m: &MessageRow) -> Json {
    json!({
        "id": m.id,
        "chat_id": m.chat_id,
        "root_chat_id": m.root_chat_id,
        "entity_type": m.entity_type,
        "entity_id": m.entity_id,
        "user_id": m.user_id,
        "parent_message_id": m.parent_message_id,
    })
}

/// Records a `message` event other than `new`, which the database records
/// as the row is inserted (see [`announce_new`]).
pub fn message_event(db: &dyn Db, actor: i64, m: &MessageRow, event: &str) -> Result<()> {
    events::record(db, &message_event_of(actor, m, event))?;
    Ok(())
}

/// The event [`message_event`] records, for a change that records many.
pub fn message_event_of<'a>(actor: i64, m: &MessageRow, event: &'a str) -> Event<'a> {
    Event {
        kind: events::MESSAGE,
        event,
        entity_type: "Message",
        entity_id: m.id,
        actor: Some(actor),
        payload: message_payload(m),
    }
}

thread_local! {
    /// The message [`announce_new`] is fanning out, while it does.
    static ANNOUNCING: RefCell<Option<MessageRow>> = const { RefCell::new(None) };
}

/// Fans out the `message`/`new` event the insert of `m` recorded, to the
/// bots that listen. Call in the insert's transaction: the event is then
/// the newest row of `events`. The fan-out gets `m` as inserted
/// ([`load_announced`]) instead of reading it back under the write lock.
pub fn announce_new(db: &dyn Db, m: &MessageRow) -> Result<()> {
    let id = db
        .query_row(
            "SELECT id FROM events WHERE id = (SELECT max(id) FROM events) \
             AND type = 'message' AND event = 'new' AND entity_id = ?",
            &[m.id.into()],
        )?
        .ok_or_else(|| crate::Error::Internal("the new message's event is missing".into()))?
        .i64(0)?;
    ANNOUNCING.with(|a| *a.borrow_mut() = Some(m.clone()));
    let fanned_out = events::fan_out_recorded(db, id, &message_event_of(m.user_id, m, "new"));
    ANNOUNCING.with(|a| a.borrow_mut().take());
    fanned_out
}

/// [`load`], except for the message [`announce_new`] is fanning out, which
/// it returns as inserted (in the same transaction, nothing has changed it).
pub fn load_announced(db: &dyn Db, id: i64) -> Result<Option<MessageRow>> {
    let announced = ANNOUNCING.with(|a| a.borrow().as_ref().filter(|m| m.id == id).cloned());
    match announced {
        Some(m) => Ok(Some(m)),
        None => load(db, id),
    }
}

/// Stored fields of a message about to be inserted.
pub struct Insert<'a> {
    /// Chat the message is posted in.
    pub chat_id: i64,
    /// The chat at the root of a thread chain (the chat itself otherwise).
    pub root_chat_id: i64,
    /// `discussion`, `thread` or `user` (personal chat).
    pub entity_type: &'a str,
    /// Id of the entity (`entity_type`).
    pub entity_id: i64,
    /// Author.
    pub user_id: i64,
    /// Text, mentions already resolved.
    pub content: &'a str,
    /// Buttons as stored JSON.
    pub buttons: Option<String>,
    /// The message replied to.
    pub parent_message_id: Option<i64>,
    /// Display name a bot posts under.
    pub display_name: Option<String>,
    /// Display avatar a bot posts with.
    pub display_avatar_url: Option<String>,
    /// Whether links get previews.
    pub link_preview: bool,
    /// Whether this is a system message.
    pub system: bool,
}

/// The link path of a message (`/chats/{chat}?message={id}`), as the
/// `messages_url` trigger stores it when the row is inserted.
pub fn message_url(chat_id: i64, id: i64) -> String {
    format!("/chats/{chat_id}?message={id}")
}

/// Inserts a message row and returns it as stored, in one statement: the
/// database fills in its `url` and, for a message that is not a system
/// message, its chat's `last_message_at` (migration 0007's triggers). Call
/// inside a transaction.
pub fn insert(db: &dyn Db, m: &Insert<'_>) -> Result<MessageRow> {
    let now = time::now().to_string();
    let row = db
        .query_row(
            &format!(
                "INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, buttons_json, \
                 parent_message_id, display_name, display_avatar_url, link_preview, system, url, created_at, changed_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?) RETURNING {COLUMNS}"
            ),
            &[
                m.chat_id.into(),
                m.root_chat_id.into(),
                m.entity_type.into(),
                m.entity_id.into(),
                m.user_id.into(),
                m.content.into(),
                m.buttons.clone().into(),
                m.parent_message_id.into(),
                m.display_name.clone().into(),
                m.display_avatar_url.clone().into(),
                m.link_preview.into(),
                m.system.into(),
                now.clone().into(),
                now.into(),
            ],
        )?
        .ok_or_else(|| crate::Error::Internal("INSERT returned no row".into()))?;
    let mut stored = message_row(&row)?;
    // RETURNING shows the row before AFTER triggers ran.
    stored.url = message_url(stored.chat_id, stored.id);
    Ok(stored)
}

/// Inserts many message rows in one statement (a broadcast's batch), each
/// as [`insert`] does with its triggers, and returns them as stored, in the
/// order given. Call inside a transaction.
pub fn insert_many(db: &dyn Db, list: &[Insert<'_>]) -> Result<Vec<MessageRow>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let now = time::now().to_string();
    let rows = list
        .iter()
        .enumerate()
        .map(|(n, m)| {
            json!([
                n,
                m.chat_id,
                m.root_chat_id,
                m.entity_type,
                m.entity_id,
                m.user_id,
                m.content,
                m.buttons,
                m.parent_message_id,
                m.display_name,
                m.display_avatar_url,
                m.link_preview,
                m.system,
            ])
        })
        .collect();
    let source = rows_source(&[
        "n",
        "chat_id",
        "root_chat_id",
        "entity_type",
        "entity_id",
        "user_id",
        "content",
        "buttons_json",
        "parent_message_id",
        "display_name",
        "display_avatar_url",
        "link_preview",
        "system",
    ]);
    let stored = db.execute(
        &format!(
            "INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, buttons_json, \
             parent_message_id, display_name, display_avatar_url, link_preview, system, url, created_at, changed_at) \
             SELECT chat_id, root_chat_id, entity_type, entity_id, user_id, content, buttons_json, parent_message_id, \
             display_name, display_avatar_url, link_preview, system, '', ?, ? FROM {source} ORDER BY n \
             RETURNING {COLUMNS}"
        ),
        &[now.clone().into(), now.into(), Value::rows(rows)],
    )?;
    let mut out = stored
        .iter()
        .map(|r| {
            let mut m = message_row(r)?;
            m.url = message_url(m.chat_id, m.id);
            Ok(m)
        })
        .collect::<Result<Vec<MessageRow>>>()?;
    // The rows got ascending ids in the order given.
    out.sort_unstable_by_key(|m| m.id);
    Ok(out)
}

/// Fans out the `message`/`new` events the insert of `list` recorded (see
/// [`announce_new`]), for a change that inserted many at once; `since` is
/// [`events::last_id`] before the insert. Nothing when no bot listens.
pub fn announce_new_many(db: &dyn Db, since: i64, list: &[MessageRow]) -> Result<()> {
    if list.is_empty() || !crate::platform::outbox::listening(db) {
        return Ok(());
    }
    let ids: Vec<i64> = list.iter().map(|m| m.id).collect();
    let mut event_of = std::collections::HashMap::new();
    for r in db.query(
        "SELECT entity_id, id FROM events WHERE id > ? AND type = 'message' AND event = 'new' \
         AND entity_type = 'Message' AND entity_id IN (SELECT value FROM json_each(?))",
        &[since.into(), Value::id_array(&ids)],
    )? {
        event_of.insert(r.i64(0)?, r.i64(1)?);
    }
    for m in list {
        let id = event_of
            .get(&m.id)
            .copied()
            .ok_or_else(|| crate::Error::Internal("a new message's event is missing".into()))?;
        events::fan_out_recorded(db, id, &message_event_of(m.user_id, m, "new"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::transaction;
    use crate::testutil::*;

    #[test]
    fn the_message_being_announced_is_the_message_as_stored_and_costs_no_read() {
        let db = test_db();
        let author = create_user(&db, "author@example.com", "user");
        let chat = create_chat(&db, "General", &[author]);
        let m = transaction(&db, |db| {
            insert(
                db,
                &Insert {
                    chat_id: chat,
                    root_chat_id: chat,
                    entity_type: "discussion",
                    entity_id: chat,
                    user_id: author,
                    content: "hello",
                    buttons: Some("[]".into()),
                    parent_message_id: None,
                    display_name: Some("Shown".into()),
                    display_avatar_url: None,
                    link_preview: true,
                    system: false,
                },
            )
        })
        .expect("insert");
        // As inserted (its URL filled in as the trigger stores it) is as stored.
        assert_eq!(load(&db, m.id).expect("load"), Some(m.clone()));
        assert!(m.url.ends_with(&format!("?message={}", m.id)), "{}", m.url);

        let rec = RecordingDb::new(&db);
        ANNOUNCING.with(|a| *a.borrow_mut() = Some(m.clone()));
        assert_eq!(
            load_announced(&rec, m.id).expect("announced"),
            Some(m.clone())
        );
        assert!(rec.statements().is_empty(), "{:?}", rec.statements());
        // Any other message is read.
        assert_eq!(load_announced(&rec, m.id + 1).expect("other"), None);
        assert_eq!(rec.statements().len(), 1);
        ANNOUNCING.with(|a| a.borrow_mut().take());
        assert_eq!(load_announced(&rec, m.id).expect("after"), Some(m));
        assert_eq!(rec.statements().len(), 2);
    }
}
