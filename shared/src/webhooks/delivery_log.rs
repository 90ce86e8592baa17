//! Our extension over the delivery rows: a bot's recent deliveries with
//! every attempt (status code, latency, error), its dead letters, and
//! redelivery. Whoever may edit the bot may read its log and redeliver.

use std::collections::HashMap;

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

/// The attempts of each of `ids`, newest first and at most
/// [`ATTEMPTS_SHOWN`] each, in one read.
fn attempts_of(db: &dyn Db, ids: &[i64]) -> Result<HashMap<i64, Vec<Json>>> {
    let mut by_delivery: HashMap<i64, Vec<Json>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_delivery);
    }
    for a in db.query(
        "SELECT delivery_id, status, latency_ms, error, created_at FROM (\
           SELECT delivery_id, id, status, latency_ms, error, created_at, \
           row_number() OVER (PARTITION BY delivery_id ORDER BY id DESC) AS n \
           FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))\
         ) AS a WHERE n <= ? ORDER BY delivery_id, id DESC",
        &[Value::id_array(ids), ATTEMPTS_SHOWN.into()],
    )? {
        by_delivery.entry(a.i64(0)?).or_default().push(json!({
            "status": a.opt_i64(1)?,
            "latency_ms": a.i64(2)?,
            "error": a.opt_string(3)?,
            "created_at": a.string(4)?,
        }));
    }
    Ok(by_delivery)
}

/// A delivery ([`COLUMNS`] of `r`) with its `attempts`, newest first. A
/// delivery whose first attempt succeeded has no row in
/// `webhook_attempts` (see [`crate::webhooks::delivery::finish`]): its one
/// attempt is read from the delivery row itself.
fn render(r: &Row, mut attempts: Vec<Json>) -> Result<Json> {
    if attempts.is_empty() && r.i64(4)? > 0 {
        attempts.push(json!({
            "status": r.opt_i64(6)?,
            "latency_ms": r.opt_i64(11)?.unwrap_or(0),
            "error": r.opt_string(7)?,
            "created_at": r.opt_string(9)?.map_or_else(|| r.string(8), Ok)?,
        }));
    }
    Ok(json!({
        "id": r.i64(0)?,
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

/// Renders delivery rows in their order, with their attempts read at once.
fn render_rows(db: &dyn Db, rows: &[Row]) -> Result<Vec<Json>> {
    let ids = rows
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut attempts = attempts_of(db, &ids)?;
    rows.iter()
        .zip(&ids)
        .map(|(r, id)| render(r, attempts.remove(id).unwrap_or_default()))
        .collect()
}

const COLUMNS: &str = concat!(
    "id, event_type, url, state, attempts, next_attempt_at, last_status, \
     last_error, created_at, finished_at, ",
    crate::webhooks::delivery::body_sql!(),
    ", latency_ms"
);

fn load(db: &dyn Db, id: i64) -> Result<Option<Json>> {
    let Some(r) = db.query_row(
        &format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = ?"),
        &[id.into()],
    )?
    else {
        return Ok(None);
    };
    Ok(render_rows(db, &[r])?.pop())
}

/// `GET /bots/{id}/deliveries`: oldest first, optionally one `state`. The
/// page is read with its columns, and the attempts of all its deliveries in
/// one more statement.
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
    let (page, rows) =
        pagination::id_page_rows(db, &from_where, "id", COLUMNS, &params, limit, cursor)?;
    Ok((render_rows(db, &rows)?, page.meta()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    /// A delivery row of `bot` for event `event_id`; its body is the shared
    /// payload when `body` is `None`.
    #[allow(clippy::too_many_arguments)]
    fn delivery(
        db: &dyn Db,
        bot: i64,
        event_id: i64,
        body: Option<&str>,
        state: &str,
        attempts: i64,
        last_status: Option<i64>,
        finished_at: Option<&str>,
    ) -> i64 {
        db.execute(
            "INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, body, state, attempts, \
             next_attempt_at, last_status, latency_ms, created_at, finished_at) \
             VALUES (?, ?, 'message_new', 'https://hooks.example.com/in', ?, ?, ?, \
             '2026-12-06T10:05:00.000Z', ?, 7, '2026-12-06T10:00:00.000Z', ?)",
            &[
                bot.into(),
                event_id.into(),
                body.map(str::to_owned).into(),
                state.to_owned().into(),
                attempts.into(),
                last_status.into(),
                finished_at.map(str::to_owned).into(),
            ],
        )
        .expect("delivery");
        db.last_insert_rowid()
    }

    /// `count` failed attempts of `delivery`, the n-th answered `500 + n`.
    fn failed_attempts(db: &dyn Db, delivery: i64, bot: i64, count: i64) {
        for n in 0..count {
            db.execute(
                "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, error, created_at) \
                 VALUES (?, ?, ?, ?, 'server error', ?)",
                &[
                    delivery.into(),
                    bot.into(),
                    (500 + n).into(),
                    n.into(),
                    format!("2026-12-06T10:{n:02}:00.000Z").into(),
                ],
            )
            .expect("attempt");
        }
    }

    /// Every delivery of `bot` (in `state`), in pages of `limit`, walked
    /// forward and back ([`walk_pages`]).
    fn walk(
        db: &dyn Db,
        p: &Principal,
        bot: i64,
        state: Option<&str>,
        limit: i64,
    ) -> (Vec<Json>, Vec<Json>) {
        walk_pages(|cursor| list(db, p, bot, state, limit, cursor).expect("list"))
    }

    #[test]
    fn a_listed_page_shows_each_delivery_with_its_own_newest_attempts() {
        let db = test_db();
        let creator = user_principal(create_user(&db, "creator@example.com", "user"), false);
        let input = crate::webhooks::settings::parse(
            json!({"name": "Log", "nickname": "log_bot"})
                .as_object()
                .expect("object"),
            true,
        )
        .expect("valid");
        let bot = bots::create(&db, &creator, &input).expect("bot")["id"]
            .as_i64()
            .expect("id");
        let other_bot = create_bot(&db, "other", Some("https://hooks.example.com/other"));
        db.execute(
            "INSERT INTO webhook_payloads (event_id, event_type, body, created_at) \
             VALUES (1, 'message_new', '{\"shared\":true}', '2026-12-06T10:00:00.000Z')",
            &[],
        )
        .expect("payload");
        let pending = delivery(&db, bot, 1, None, "pending", 0, None, None);
        let first_try = delivery(
            &db,
            bot,
            2,
            Some("{\"own\":2}"),
            "delivered",
            1,
            Some(200),
            Some("2026-12-06T10:00:01.000Z"),
        );
        let dead = delivery(
            &db,
            bot,
            3,
            Some("{\"own\":3}"),
            "dead",
            25,
            Some(524),
            None,
        );
        let retried = delivery(
            &db,
            bot,
            4,
            Some("{\"own\":4}"),
            "delivered",
            3,
            Some(200),
            Some("2026-12-06T10:09:00.000Z"),
        );
        let elsewhere = delivery(&db, other_bot, 1, None, "pending", 0, None, None);
        failed_attempts(&db, dead, bot, 25);
        failed_attempts(&db, retried, bot, 2);
        failed_attempts(&db, elsewhere, other_bot, 3);

        let (all, _) = walk(&db, &creator, bot, None, 50);
        let ids: Vec<i64> = all.iter().map(|d| d["id"].as_i64().expect("id")).collect();
        assert_eq!(ids, vec![pending, first_try, dead, retried]);
        for limit in [1, 3] {
            let (forward, back) = walk(&db, &creator, bot, None, limit);
            assert_eq!(forward, all, "pages of {limit}");
            assert_eq!(back, all, "back, pages of {limit}");
        }
        for d in &all {
            let id = d["id"].as_i64().expect("id");
            assert_eq!(
                Some(d.clone()),
                load(&db, id).expect("load"),
                "delivery {id}"
            );
        }
        // Pending, never tried: no attempts; its body is the shared payload.
        assert_eq!(all[0]["attempts"], json!([]));
        assert_eq!(all[0]["payload"], json!({"shared": true}));
        assert_eq!(all[0]["next_attempt_at"], "2026-12-06T10:05:00.000Z");
        // Delivered at the first try: the one attempt is the row's own.
        assert_eq!(
            all[1]["attempts"],
            json!([{"status": 200, "latency_ms": 7, "error": null,
                    "created_at": "2026-12-06T10:00:01.000Z"}])
        );
        assert!(all[1]["next_attempt_at"].is_null());
        // Dead after 25: the 20 newest, newest first.
        let statuses: Vec<i64> = all[2]["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .map(|a| a["status"].as_i64().expect("status"))
            .collect();
        assert_eq!(statuses, (505..525).rev().collect::<Vec<_>>());
        // Retried: only its own two failures (not the other bot's three).
        let retried_attempts = all[3]["attempts"].as_array().expect("attempts");
        assert_eq!(retried_attempts.len(), 2);
        assert_eq!(
            retried_attempts[0]["created_at"],
            "2026-12-06T10:01:00.000Z"
        );
        assert_eq!(retried_attempts[1]["error"], "server error");

        let delivered = vec![all[1].clone(), all[3].clone()];
        let (forward, back) = walk(&db, &creator, bot, Some("delivered"), 1);
        assert_eq!((forward, back), (delivered.clone(), delivered));
    }
}
