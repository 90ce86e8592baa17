//! Our extension over the delivery rows: a bot's recent deliveries with
//! every attempt (status code, latency, error), its dead letters, and
//! redelivery. Whoever may edit the bot may read its log and redeliver.

use serde_json::{json, Value as Json};

use crate::auth::Principal;
use crate::platform::db::{transaction, Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::pagination::{self, Cursor};
use crate::platform::time;
use crate::webhooks::bots;

/// The delivery states a client may filter by.
pub const STATES: &[&str] = &["pending", "delivered", "dead"];

/// Most attempts shown per delivery.
const ATTEMPTS_SHOWN: i64 = 20;

/// A delivery with its attempts, newest first. A delivery whose first
/// attempt succeeded has no row in `webhook_attempts` (see
/// [`crate::webhooks::delivery::finish`]): its one attempt is read from the
/// delivery row itself.
fn render(db: &dyn Db, r: &Row) -> Result<Json> {
    let id = r.i64(0)?;
    let mut attempts: Vec<Json> = db
        .query(
            "SELECT status, latency_ms, error, created_at FROM webhook_attempts \
             WHERE delivery_id = ? ORDER BY id DESC LIMIT ?",
            &[id.into(), ATTEMPTS_SHOWN.into()],
        )?
        .iter()
        .map(|a| -> Result<Json> {
            Ok(json!({
                "status": a.opt_i64(0)?,
                "latency_ms": a.i64(1)?,
                "error": a.opt_string(2)?,
                "created_at": a.string(3)?,
            }))
        })
        .collect::<Result<_>>()?;
    if attempts.is_empty() && r.i64(4)? > 0 {
        attempts.push(json!({
            "status": r.opt_i64(6)?,
            "latency_ms": r.opt_i64(11)?.unwrap_or(0),
            "error": r.opt_string(7)?,
            "created_at": r.opt_string(9)?.map_or_else(|| r.string(8), Ok)?,
        }));
    }
    Ok(json!({
        "id": id,
        "event_type": r.string(1)?,
        "url": r.string(2)?,
        "state": r.string(3)?,
        "attempts_count": r.i64(4)?,
        "next_attempt_at": (r.string(3)? == "pending").then(|| r.string(5)).transpose()?,
        "last_status": r.opt_i64(6)?,
        "last_error": r.opt_string(7)?,
        "created_at": r.string(8)?,
        "finished_at": r.opt_string(9)?,
        "payload": r
            .opt_string(10)?
            .and_then(|b| serde_json::from_str::<Json>(&b).ok())
            .unwrap_or(Json::Null),
        "attempts": attempts,
    }))
}

const COLUMNS: &str = concat!(
    "id, event_type, url, state, attempts, next_attempt_at, last_status, \
     last_error, created_at, finished_at, ",
    crate::webhooks::delivery::body_sql!(),
    ", latency_ms"
);

fn load(db: &dyn Db, id: i64) -> Result<Option<Json>> {
    db.query_row(
        &format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = ?"),
        &[id.into()],
    )?
    .map(|r| render(db, &r))
    .transpose()
}

/// `GET /bots/{id}/deliveries`: oldest first, optionally one `state`.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    bot_id: i64,
    state: Option<&str>,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    bots::editable(db, p, bot_id)?;
    let mut from_where = String::from("FROM webhook_deliveries WHERE bot_id = ?");
    let mut params: Vec<Value> = vec![bot_id.into()];
    if let Some(s) = state {
        if !STATES.contains(&s) {
            return Err(Error::bad_request(
                "state",
                ErrorCode::Inclusion,
                Some(s.to_owned()),
                "must be one of pending, delivered, dead",
            ));
        }
        from_where.push_str(" AND state = ?");
        params.push(s.to_owned().into());
    }
    let page = pagination::id_page(db, &from_where, "id", &params, limit, cursor)?;
    let mut data = Vec::with_capacity(page.ids.len());
    for id in &page.ids {
        if let Some(d) = load(db, *id)? {
            data.push(d);
        }
    }
    Ok((data, page.meta()))
}

/// `POST /bots/{id}/deliveries/{delivery_id}/redeliver`: a delivered or dead
/// delivery becomes pending and due now (with the bot's current URL);
/// the caller schedules it to be sent after the response.
pub fn redeliver(db: &dyn Db, p: &Principal, bot_id: i64, delivery_id: i64) -> Result<Json> {
    let bot = bots::editable(db, p, bot_id)?;
    let url = bot.settings.outgoing_url.clone().unwrap_or_default();
    if url.is_empty() {
        return Err(Error::invalid(
            "outgoing_url",
            ErrorCode::Blank,
            None,
            "The bot has no outgoing webhook URL",
        ));
    }
    let now = time::now().to_string();
    transaction(db, |db| -> Result<()> {
        // The attempt a first success left on the row alone is written
        // down before the row is reused for the next one.
        db.execute(
            "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, error, created_at) \
             SELECT d.id, d.bot_id, d.last_status, COALESCE(d.latency_ms, 0), d.last_error, \
             COALESCE(d.finished_at, d.created_at) FROM webhook_deliveries d \
             WHERE d.id = ? AND d.bot_id = ? AND d.attempts > 0 \
             AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id)",
            &[delivery_id.into(), bot_id.into()],
        )?;
        let rows = db.execute(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, lease_until = NULL, \
             finished_at = NULL, url = ? WHERE id = ? AND bot_id = ? RETURNING id",
            &[now.clone().into(), url.clone().into(), delivery_id.into(), bot_id.into()],
        )?;
        if rows.is_empty() {
            return Err(Error::not_found("delivery_id", delivery_id));
        }
        Ok(())
    })?;
    load(db, delivery_id)?.ok_or_else(|| Error::not_found("delivery_id", delivery_id))
}
