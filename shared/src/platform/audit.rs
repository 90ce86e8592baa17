//! The audit log's records (`guides/audit-events.md`): who did what, to
//! which object, from which address and client, written in the transaction
//! of the action itself. The `audit` area lists them (`GET /audit_events`).
//!
//! Most records follow from a domain event ([`for_event`], called by
//! [`crate::platform::events::record`] and `record_many`): a chat renamed,
//! a member joining, a message deleted. Actions with no domain event of
//! their own (a role change, a tag given to a user, a search, reading the
//! log) are recorded by their area with [`record`]. A new message is
//! recorded by the database itself as the row is inserted (migration
//! 0012), since its insert is one statement; that record carries no address
//! or client (see the README).
//!
//! The address is the request's peer (`spin-client-addr`), and the client
//! its `User-Agent` cut to 255 characters; both are kept per request in
//! [`set_source`], as the outbox keeps its origin.

use std::cell::RefCell;

use crate::platform::db::{rows_source, Db, Value};
use crate::platform::error::Result;
use crate::platform::events::Event;
use crate::platform::{random, time};
use serde_json::{json, Value as Json};

/// Most characters of a recorded user agent (the guide's limit).
pub const USER_AGENT_MAX: usize = 255;

/// Days a record is kept unless the operator says otherwise (the guide's
/// 90 days).
pub const RETENTION_DAYS: i64 = 90;

/// Where the current request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The peer's IP address.
    pub ip_address: Option<String>,
    /// The client's `User-Agent`, cut to [`USER_AGENT_MAX`] characters.
    pub user_agent: Option<String>,
}

impl Source {
    /// From the `spin-client-addr` (`IP:port`, `[v6]:port`) and
    /// `user-agent` header values.
    pub fn from_headers(peer: Option<&str>, user_agent: Option<&str>) -> Source {
        let ip = peer.and_then(|p| {
            p.parse::<std::net::SocketAddr>()
                .map(|a| a.ip().to_string())
                .ok()
                .or_else(|| p.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string()))
        });
        Source {
            ip_address: ip,
            user_agent: user_agent
                .filter(|u| !u.is_empty())
                .map(|u| u.chars().take(USER_AGENT_MAX).collect()),
        }
    }
}

thread_local! {
    static SOURCE: RefCell<Source> = RefCell::new(Source::default());
}

/// Records where the current request came from (a request starts with it).
pub fn set_source(source: Source) {
    SOURCE.with(|s| *s.borrow_mut() = source);
}

/// One audit record about to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// A value of the spec's `AuditEventKey`.
    pub event_key: &'static str,
    /// Who did it.
    pub actor_id: i64,
    /// What it concerns: `User`, `Chat`, `Message`, ...
    pub entity_type: &'static str,
    /// Its id.
    pub entity_id: i64,
    /// The key's details (`{}` when it has none).
    pub details: Json,
}

/// Writes `records` (one statement), with the current request's source.
/// Call in the action's transaction.
pub fn record(db: &dyn Db, records: &[Record]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let source = SOURCE.with(|s| s.borrow().clone());
    let now = time::now().to_string();
    let mut rows = Vec::with_capacity(records.len());
    for (n, r) in records.iter().enumerate() {
        rows.push(json!([
            n,
            random::uuid()?,
            r.event_key,
            r.actor_id,
            r.entity_type,
            r.entity_id,
            r.details.to_string(),
            source.ip_address,
            source.user_agent,
            now
        ]));
    }
    let src = rows_source(&[
        "n",
        "uuid",
        "event_key",
        "actor_id",
        "entity_type",
        "entity_id",
        "details",
        "ip",
        "ua",
        "at",
    ]);
    db.execute(
        &format!(
            "INSERT INTO audit_events (uuid, event_key, actor_id, actor_type, entity_type, entity_id, details_json, \
             ip_address, user_agent, created_at) \
             SELECT uuid, event_key, actor_id, 'User', entity_type, entity_id, details, ip, ua, at FROM {src} ORDER BY n"
        ),
        &[Value::rows(rows)],
    )?;
    Ok(())
}

fn one(
    key: &'static str,
    actor: i64,
    entity_type: &'static str,
    id: i64,
    details: Json,
) -> Vec<Record> {
    vec![Record {
        event_key: key,
        actor_id: actor,
        entity_type,
        entity_id: id,
        details,
    }]
}

fn text_of(db: &dyn Db, sql: &str, id: i64) -> Result<Option<String>> {
    Ok(db
        .query_row(sql, &[id.into()])?
        .map(|r| r.opt_string(0))
        .transpose()?
        .flatten())
}

fn ids(v: &Json) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Json::as_i64).collect())
        .unwrap_or_default()
}

/// The records a domain event stands for (none for most: pins, statuses,
/// tasks and the like are not audited). Events without an actor are never
/// audited (the guide: "actions without an actor are not logged").
pub fn for_event(db: &dyn Db, e: &Event<'_>) -> Result<Vec<Record>> {
    let Some(actor) = e.actor else {
        return Ok(Vec::new());
    };
    let p = &e.payload;
    let id = e.entity_id;
    Ok(match (e.kind, e.event) {
        ("company_member", "invite") => one("user_created", actor, "User", id, json!({})),
        ("company_member", "delete") => one("user_deleted", actor, "User", id, json!({})),
        // An update is recorded by the users area, which knows what changed.
        ("group_tag", "create" | "delete") => {
            let name = text_of(db, "SELECT name FROM group_tags WHERE id = ?", id)?;
            let key = if e.event == "create" {
                "tag_created"
            } else {
                "tag_deleted"
            };
            let name = name.or_else(|| p["name"].as_str().map(str::to_owned));
            one(key, actor, "GroupTag", id, json!({ "name": name }))
        }
        ("chat", "create") => one("chat_created", actor, "Chat", id, json!({})),
        ("chat", "rename") => one(
            "chat_renamed",
            actor,
            "Chat",
            id,
            json!({"old_name": p["old_name"], "new_name": p["new_name"]}),
        ),
        ("chat", "permission_change") => one(
            "chat_permission_changed",
            actor,
            "Chat",
            id,
            json!({"public_access": p["public_access"]}),
        ),
        ("chat", "tag_add") => one(
            "tag_added_to_chat",
            actor,
            "GroupTag",
            p["group_tag_id"].as_i64().unwrap_or_default(),
            json!({"chat_id": id, "tag_name": p["tag_name"]}),
        ),
        ("chat", "tag_remove") => one(
            "tag_removed_from_chat",
            actor,
            "GroupTag",
            p["group_tag_id"].as_i64().unwrap_or_default(),
            json!({ "chat_id": id }),
        ),
        // The member is the actor of a join or leave; who made it happen
        // is in the details.
        ("chat_member", "add") => ids(&p["user_ids"])
            .into_iter()
            .map(|user| Record {
                event_key: "user_chat_join",
                actor_id: user,
                entity_type: "Chat",
                entity_id: id,
                details: json!({ "inviter_id": actor }),
            })
            .collect(),
        ("chat_member", "remove") => ids(&p["user_ids"])
            .into_iter()
            .map(|user| Record {
                event_key: "user_chat_leave",
                actor_id: user,
                entity_type: "Chat",
                entity_id: id,
                details: json!({ "initiator_id": actor }),
            })
            .collect(),
        ("message", "update") => one("message_updated", actor, "Message", id, json!({})),
        ("message", "delete") => one("message_deleted", actor, "Message", id, json!({})),
        ("reaction", "new") => one("reaction_created", actor, "Message", id, json!({})),
        ("reaction", "delete") => one("reaction_deleted", actor, "Message", id, json!({})),
        ("thread", "new") => one("thread_created", actor, "TopicThread", id, json!({})),
        ("access_token", event @ ("create" | "update" | "delete")) => {
            let scopes = text_of(db, "SELECT scopes FROM access_tokens WHERE id = ?", id)?
                .and_then(|s| serde_json::from_str::<Json>(&s).ok())
                .unwrap_or_else(|| json!([]));
            let key = match event {
                "create" => "access_token_created",
                "update" => "access_token_updated",
                _ => "access_token_destroy",
            };
            one(key, actor, "AccessToken", id, json!({ "scopes": scopes }))
        }
        _ => Vec::new(),
    })
}

/// Deletes records older than `days` days (retention).
pub fn purge(db: &dyn Db, days: i64) -> Result<()> {
    let cutoff = time::now().days_before(days).to_string();
    db.execute(
        "DELETE FROM audit_events WHERE created_at < ?",
        &[cutoff.into()],
    )?;
    Ok(())
}

/// Records a search through the API (`search_users_api`, `search_chats_api`,
/// `search_messages_api`) once it has answered: which search, whether it
/// had a query and a cursor, its limit and its other filters. One
/// statement of its own, since a search writes nothing else.
pub fn search(
    db: &dyn Db,
    actor: i64,
    event_key: &'static str,
    search_type: &str,
    limit: i64,
    q: &crate::platform::http::Query,
) -> Result<()> {
    let present = |k: &str| q.get(k).is_some_and(|v| !v.is_empty());
    let mut filters = serde_json::Map::new();
    for (k, v) in q.pairs() {
        if !matches!(k.as_str(), "query" | "cursor" | "limit") && !v.is_empty() {
            filters.insert(k.clone(), json!(v));
        }
    }
    crate::platform::db::write_alone(db, |db| {
        record(
            db,
            &[Record {
                event_key,
                actor_id: actor,
                entity_type: "User",
                entity_id: actor,
                details: json!({
                    "search_type": search_type,
                    "query_present": present("query"),
                    "cursor_present": present("cursor"),
                    "limit": limit,
                    "filters": filters,
                }),
            }],
        )
    })
}
