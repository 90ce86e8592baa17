//! The audit area (`GET /audit_events`, `guides/audit-events.md`): the log
//! the platform writes with every audited action
//! ([`crate::platform::audit`]), newest first, with every documented
//! filter, for the workspace owner (scope `audit_events:read`). Reading it
//! is itself recorded (`audit_events_accessed`), and records older than the
//! retention (the `audit_retention_days` variable, 90 by default) are
//! dropped as it is read.

pub mod routes;
#[cfg(test)]
mod tests;

use crate::auth::Principal;
use crate::platform::audit;
use crate::platform::db::{transaction, Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::http::Query;
use crate::platform::pagination::{keyset_page, Cursor};
use crate::platform::params::{bad_query, query_id, query_time};
use crate::platform::time::Timestamp;
use serde_json::{json, Value as Json};

/// The spec's `AuditEventKey` values.
pub const EVENT_KEYS: &[&str] = &[
    "user_login",
    "user_logout",
    "user_2fa_fail",
    "user_2fa_success",
    "user_created",
    "user_deleted",
    "user_role_changed",
    "user_updated",
    "tag_created",
    "tag_deleted",
    "user_added_to_tag",
    "user_removed_from_tag",
    "chat_created",
    "chat_renamed",
    "chat_permission_changed",
    "user_chat_join",
    "user_chat_leave",
    "tag_added_to_chat",
    "tag_removed_from_chat",
    "message_updated",
    "message_deleted",
    "message_created",
    "reaction_created",
    "reaction_deleted",
    "thread_created",
    "access_token_created",
    "access_token_updated",
    "access_token_destroy",
    "kms_encrypt",
    "kms_decrypt",
    "audit_events_accessed",
    "dlp_violation_detected",
    "search_users_api",
    "search_chats_api",
    "search_messages_api",
    "bot_scopes_updated",
    "bot_webhook_settings_updated",
    "bot_token_recreated",
    "bot_deleted",
    "bot_oauth_client_updated",
    "oauth_authorization_granted",
    "oauth_authorization_revoked",
    "video_call_started",
    "video_call_finished",
    "video_call_recording_ready",
];

/// The filters of `GET /audit_events`, all optional and combined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// From this time, inclusive.
    pub start_time: Option<Timestamp>,
    /// Until this time, inclusive.
    pub end_time: Option<Timestamp>,
    /// One event key.
    pub event_key: Option<&'static str>,
    /// Who did it.
    pub actor_id: Option<i64>,
    /// Always `User` for what we record.
    pub actor_type: Option<String>,
    /// What it concerns.
    pub entity_id: Option<i64>,
    /// Its type.
    pub entity_type: Option<String>,
}

fn text_filter(q: &Query, key: &str) -> Result<Option<String>> {
    q.get(key)
        .map(|v| {
            if v.trim().is_empty() {
                Err(bad_query(key, ErrorCode::Invalid, v))
            } else {
                Ok(v.to_owned())
            }
        })
        .transpose()
}

impl AuditFilter {
    /// Reads the query; 400 for a value that is present but not what the
    /// parameter takes (an empty value included), `inclusion` for an
    /// unknown `event_key`, `invalid_date_range` when `start_time` is after
    /// `end_time`.
    pub fn parse(q: &Query) -> Result<AuditFilter> {
        let event_key = match q.get("event_key") {
            None => None,
            Some(k) => Some(
                *EVENT_KEYS
                    .iter()
                    .find(|e| **e == k)
                    .ok_or_else(|| bad_query("event_key", ErrorCode::Inclusion, k))?,
            ),
        };
        let f = AuditFilter {
            start_time: query_time(q, "start_time")?,
            end_time: query_time(q, "end_time")?,
            event_key,
            actor_id: query_id(q, "actor_id")?,
            actor_type: text_filter(q, "actor_type")?,
            entity_id: query_id(q, "entity_id")?,
            entity_type: text_filter(q, "entity_type")?,
        };
        if let (Some(a), Some(b)) = (f.start_time, f.end_time) {
            if a > b {
                return Err(Error::bad_request(
                    "start_time",
                    ErrorCode::InvalidDateRange,
                    q.get("start_time").map(str::to_owned),
                    "start_time must not be after end_time",
                ));
            }
        }
        Ok(f)
    }

    fn sql(&self) -> (String, Vec<Value>) {
        let mut w = vec!["1 = 1".to_owned()];
        let mut p: Vec<Value> = Vec::new();
        if let Some(t) = self.start_time {
            w.push("created_at >= ?".into());
            p.push(t.to_string().into());
        }
        if let Some(t) = self.end_time {
            w.push("created_at <= ?".into());
            p.push(t.to_string().into());
        }
        if let Some(k) = self.event_key {
            w.push("event_key = ?".into());
            p.push(k.into());
        }
        if let Some(a) = self.actor_id {
            w.push("actor_id = ?".into());
            p.push(a.into());
        }
        if let Some(t) = &self.actor_type {
            w.push("actor_type = ?".into());
            p.push(t.as_str().into());
        }
        if let Some(e) = self.entity_id {
            w.push("entity_id = ?".into());
            p.push(e.into());
        }
        if let Some(t) = &self.entity_type {
            w.push("entity_type = ?".into());
            p.push(t.as_str().into());
        }
        (w.join(" AND "), p)
    }
}

fn render(r: &Row) -> Result<Json> {
    let details: Json = serde_json::from_str(&r.string(7)?).unwrap_or_else(|_| json!({}));
    Ok(json!({
        "id": r.string(0)?,
        "created_at": r.string(1)?,
        "event_key": r.string(2)?,
        "actor_id": r.i64(3)?.to_string(),
        "actor_type": r.string(4)?,
        "entity_type": r.string(5)?,
        "entity_id": r.i64(6)?.to_string(),
        "details": details,
        "ip_address": r.opt_string(8)?,
        "user_agent": r.opt_string(9)?,
    }))
}

/// `GET /audit_events`: records the access (and drops what is past
/// `retention_days`), then one page, newest first.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    filter: &AuditFilter,
    limit: i64,
    cursor: Option<&Cursor>,
    retention_days: i64,
) -> Result<(Vec<Json>, Json)> {
    transaction(db, |db| -> Result<()> {
        audit::purge(db, retention_days)?;
        audit::record(
            db,
            &[audit::Record {
                event_key: "audit_events_accessed",
                actor_id: p.user_id,
                entity_type: "User",
                entity_id: p.user_id,
                details: json!({}),
            }],
        )
    })?;
    let (cond, params) = filter.sql();
    let (ids, meta) = keyset_page(
        db,
        &format!("SELECT id AS id, id AS k FROM audit_events WHERE {cond}"),
        &params,
        false,
        limit,
        cursor,
    )?;
    let rows = db.query(
        "SELECT uuid, created_at, event_key, actor_id, actor_type, entity_type, entity_id, details_json, \
         ip_address, user_agent FROM audit_events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id DESC",
        &[Value::id_array(&ids)],
    )?;
    let data = rows.iter().map(render).collect::<Result<Vec<Json>>>()?;
    Ok((data, meta))
}
