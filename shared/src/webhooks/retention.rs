//! How long webhook rows are kept, and their removal on the scheduler's
//! `POST /webhooks/deliveries/run`.
//!
//! * Finished deliveries (delivered or dead) are kept [`DELIVERY_DAYS`]
//!   days from their event, with their attempts (removed with them through
//!   `ON DELETE CASCADE`): the delivery log shows a week, and a dead letter
//!   stays redeliverable for about six days after its last retry. Pending
//!   deliveries are never removed: they are retried, or die, first. An
//!   event's body (`webhook_payloads`) goes once it is as old and no
//!   delivery uses it.
//! * A bot's event history (`GET /webhooks/events`) is kept
//!   [`history::RETENTION_DAYS`] days unless the bot deletes it.
//!
//! With 10 bots in a chat every message leaves 10 delivery rows, so a busy
//! workspace writes millions a day; without removal the file grows without
//! bound. Both tables are read from their oldest row in id order, which is
//! also time order (rows are written at their event's time): a run looks
//! at [`PAGE`] rows at a time (one row of answer per page), stops at the
//! first page that reaches inside the retention, and deletes each page's
//! expired rows by an id range in one statement of its own (the lock is
//! held only while SQLite runs it), so no request waits long for it and
//! a run scans no row inside the retention (only the expired ones and the
//! rare pending ones among them). A run removes at most
//! [`PAGES_PER_RUN`] pages per table, a million rows: in `scripts/bench
//! messages` (`STEPS=retention`) one run removed 500,000 expired
//! deliveries and their 50,000 bodies in 1.5 s while 16 clients were
//! sending, so a run keeps up with any sending rate this server reaches,
//! whether the host's scheduler calls it every 5 s or a cron line every
//! minute.

use crate::platform::db::{write_alone, Db};
use crate::platform::error::Result;
use crate::platform::time::Timestamp;
use crate::webhooks::history;

/// Days a finished delivery is kept, counted from its event.
pub const DELIVERY_DAYS: i64 = 7;
/// Rows looked at, and at most deleted, per transaction.
pub const PAGE: i64 = 1_000;
/// Pages one run goes through at most, per table.
pub const PAGES_PER_RUN: usize = 1_000;

/// What one [`expire`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expired {
    /// Finished deliveries (their attempts went with them).
    pub deliveries: usize,
    /// Event bodies no delivery uses any more.
    pub payloads: usize,
    /// Event history entries.
    pub history: usize,
}

/// One table's expiry: its key column (which grows with time), and which of
/// its expired rows may go.
struct Rule {
    table: &'static str,
    key: &'static str,
    removable: &'static str,
    days: i64,
}

const DELIVERIES: Rule = Rule {
    table: "webhook_deliveries",
    key: "id",
    removable: "state <> 'pending'",
    days: DELIVERY_DAYS,
};

const PAYLOADS: Rule = Rule {
    table: "webhook_payloads",
    key: "event_id",
    removable: "NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
         WHERE d.event_id = webhook_payloads.event_id AND d.event_type = webhook_payloads.event_type)",
    days: DELIVERY_DAYS,
};

const HISTORY: Rule = Rule {
    table: "webhook_events",
    key: "seq",
    removable: "true",
    days: history::RETENTION_DAYS,
};

/// Removes finished deliveries and event history past their retention, as
/// of `now`, going through at most `pages` pages of `page` rows per table.
pub fn expire(db: &dyn Db, now: Timestamp, page: i64, pages: usize) -> Result<Expired> {
    Ok(Expired {
        deliveries: expire_rule(db, &DELIVERIES, now, page, pages)?,
        payloads: expire_rule(db, &PAYLOADS, now, page, pages)?,
        history: expire_rule(db, &HISTORY, now, page, pages)?,
    })
}

/// Expires one table, page by page from its oldest row; returns how many
/// rows went.
fn expire_rule(db: &dyn Db, rule: &Rule, now: Timestamp, page: i64, pages: usize) -> Result<usize> {
    let cutoff = now.days_before(rule.days).to_string();
    // One row per page: its last expired key, its size, and whether it
    // reaches into the retention.
    let scan = format!(
        "SELECT MAX(CASE WHEN created_at < ? THEN {key} END), COUNT(*), \
         COALESCE(MAX(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0) \
         FROM (SELECT {key}, created_at FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT ?) AS page",
        key = rule.key,
        table = rule.table
    );
    let delete = format!(
        "DELETE FROM {table} WHERE {key} > ? AND {key} <= ? AND created_at < ? AND {removable}",
        key = rule.key,
        table = rule.table,
        removable = rule.removable
    );
    let mut after = 0_i64;
    let mut removed = 0;
    for _ in 0..pages {
        let params = [
            cutoff.clone().into(),
            cutoff.clone().into(),
            after.into(),
            page.into(),
        ];
        let Some(r) = db.query_row(&scan, &params)? else {
            break;
        };
        let (upto, rows, inside) = (r.opt_i64(0)?, r.i64(1)?, r.bool(2)?);
        if let Some(upto) = upto {
            let params = [after.into(), upto.into(), cutoff.clone().into()];
            removed += write_alone(db, |db| {
                db.execute(&delete, &params)
                    .map(|_| usize::try_from(db.changes()).unwrap_or(usize::MAX))
            })?;
            after = upto;
        }
        if inside || upto.is_none() || rows < page {
            break;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::Db;

    /// A delivery of `bot` for event `event`, `days` days old, in `state`,
    /// with its event's body and one attempt row; returns its id.
    fn delivery(db: &dyn Db, bot: i64, event: i64, days: i64, state: &str, now: Timestamp) -> i64 {
        let at = now.days_before(days).to_string();
        db.execute(
            "INSERT INTO webhook_payloads (event_id, event_type, body, created_at) \
             VALUES (?, 'message_new', '{}', ?)",
            &[event.into(), at.clone().into()],
        )
        .expect("payload");
        let id = db
            .execute(
                "INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, state, attempts, \
                 next_attempt_at, created_at) VALUES (?, ?, 'message_new', 'http://a.example/', ?, 1, ?, ?) \
                 RETURNING id",
                &[bot.into(), event.into(), state.into(), at.clone().into(), at.clone().into()],
            )
            .expect("delivery")[0]
            .i64(0)
            .expect("id");
        db.execute(
            "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, created_at) \
             VALUES (?, ?, 500, 3, ?)",
            &[id.into(), bot.into(), at.into()],
        )
        .expect("attempt");
        id
    }

    fn history(db: &dyn Db, bot: i64, event: i64, days: i64, now: Timestamp) {
        let at = now.days_before(days).to_string();
        db.execute(
            "INSERT INTO webhook_events (id, bot_id, event_id, event_type, payload, created_at) \
             VALUES (?, ?, ?, 'message_new', '{}', ?)",
            &[
                format!("h{event}").into(),
                bot.into(),
                event.into(),
                at.into(),
            ],
        )
        .expect("history");
    }

    fn ids(db: &dyn Db, sql: &str) -> Vec<i64> {
        db.query(sql, &[])
            .expect("ids")
            .iter()
            .map(|r| r.i64(0).expect("id"))
            .collect()
    }

    #[test]
    fn finished_deliveries_go_after_a_week_and_history_after_two_pending_ones_stay() {
        let db = crate::testutil::test_db();
        let now = crate::platform::time::now();
        let bot = crate::testutil::create_user(&db, "bot@bots.example", "user");
        // Oldest first, as rows are written: a pending retry of a redelivery
        // among expired rows, then rows inside the week.
        let mut expected_kept = Vec::new();
        let mut event = 0;
        for (days, state, kept) in [
            (40, "delivered", false),
            (30, "dead", false),
            (20, "pending", true),
            (9, "delivered", false),
            (8, "dead", false),
            (6, "dead", true),
            (1, "delivered", true),
            (0, "pending", true),
        ] {
            event += 1;
            let id = delivery(&db, bot, event, days, state, now);
            if kept {
                expected_kept.push(id);
            }
        }
        for (days, event) in [(30, 1), (15, 2), (13, 3), (0, 4)] {
            history(&db, bot, event, days, now);
        }
        // Pages of two rows: the expired rows span several pages, and the
        // scan stops at the first row inside the retention.
        let removed = expire(&db, now, 2, 100).expect("expire");
        assert_eq!(
            removed,
            Expired {
                deliveries: 4,
                payloads: 4,
                history: 2
            }
        );
        assert_eq!(
            ids(&db, "SELECT id FROM webhook_deliveries ORDER BY id"),
            expected_kept
        );
        // Their attempts went with them.
        assert_eq!(
            ids(
                &db,
                "SELECT delivery_id FROM webhook_attempts ORDER BY delivery_id"
            ),
            expected_kept
        );
        assert_eq!(
            ids(&db, "SELECT event_id FROM webhook_events ORDER BY seq"),
            vec![3, 4]
        );
        // The bodies of the kept deliveries stay, the pending one's too.
        assert_eq!(
            ids(
                &db,
                "SELECT event_id FROM webhook_payloads ORDER BY event_id"
            ),
            ids(&db, "SELECT event_id FROM webhook_deliveries ORDER BY id")
        );
        // Nothing more to do: a second run removes nothing.
        assert_eq!(expire(&db, now, 2, 100).expect("again"), Expired::default());
    }

    #[test]
    fn the_scheduler_run_expires_after_its_answer() {
        use crate::platform::http::Request;
        let db = crate::testutil::test_db();
        let now = crate::platform::time::now();
        let bot = crate::testutil::create_user(&db, "bot@bots.example", "user");
        delivery(&db, bot, 1, 8, "delivered", now);
        let young = delivery(&db, bot, 2, 6, "delivered", now);
        let cfg = crate::auth::context::Config {
            admin_token: Some("admin".into()),
            ..crate::auth::context::Config::default()
        };
        let req = Request::new("POST", "/api/shared/v1/webhooks/deliveries/run")
            .with_header("Authorization", "Bearer admin");
        let r = crate::components::webhooks(&db, &cfg, &req);
        assert_eq!(r.status, 202);
        assert_eq!(r.json_body()["data"]["queued"], 0);
        // The answer did not wait for the removal; the work after it does it.
        assert_eq!(ids(&db, "SELECT COUNT(*) FROM webhook_deliveries"), vec![2]);
        for work in crate::platform::outbox::deferred() {
            work(&db, &mut |_| {});
        }
        assert_eq!(ids(&db, "SELECT id FROM webhook_deliveries"), vec![young]);
    }

    #[test]
    fn a_run_stops_after_its_pages_and_the_next_one_goes_on() {
        let db = crate::testutil::test_db();
        let now = crate::platform::time::now();
        let bot = crate::testutil::create_user(&db, "bot@bots.example", "user");
        for event in 1..=7 {
            delivery(&db, bot, event, 10, "delivered", now);
        }
        let young = delivery(&db, bot, 8, 2, "delivered", now);
        // Two pages of three rows per run.
        assert_eq!(expire(&db, now, 3, 2).expect("first").deliveries, 6);
        assert_eq!(expire(&db, now, 3, 2).expect("second").deliveries, 1);
        assert_eq!(expire(&db, now, 3, 2).expect("third").deliveries, 0);
        assert_eq!(ids(&db, "SELECT id FROM webhook_deliveries"), vec![young]);
    }
}
