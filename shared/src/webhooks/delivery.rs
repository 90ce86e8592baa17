//! Signed, at-least-once delivery of outgoing webhooks.
//!
//! Delivery rows are written by the fan-out in the change's own transaction
//! (see [`crate::platform::outbox`]), in one statement, already leased to
//! that request. After the response has been sent, the same invocation reads
//! them back ([`leased`]), sends them all at once through a [`Transport`]
//! and [`finish`]es them in one short transaction; the scheduler's route
//! (`POST /webhooks/deliveries/run`) [`claim`]s rows that are due and does
//! the same. A message with bots thus costs its own transaction plus one
//! two-statement transaction for all its deliveries.
//!
//! * **Leases**: the fan-out writes rows leased for [`LEASE_MS`]; a claim
//!   sets `lease_until` on rows that are pending, due and not leased, in one
//!   `UPDATE ... RETURNING`; two workers never both hold a row while its
//!   lease holds. A worker that dies leaves its rows to the scheduler once
//!   the lease has run out.
//! * **Signature**: `Pachca-Signature` is the hex HMAC-SHA256 of the exact
//!   body sent, keyed by the bot's signing secret (`guides/webhook-handler.md`);
//!   `webhook_timestamp` is the time of that attempt, so each attempt is
//!   signed anew.
//! * **Retries** ([`retry_delay_ms`]): after a failure (a status other than
//!   2xx, a timeout, a refused connection) the next attempt waits 10 s,
//!   30 s, 1, 2, 5, 10, 20 and 40 min, then every hour, each ±20 % jitter,
//!   until [`RETRY_WINDOW_MS`] (25 h) after the event; a failure after that
//!   is final (`dead`, a dead letter that can be redelivered). Stripe retries
//!   for 3 days with growing gaps; Slack retries three times within minutes
//!   and then disables the URL. We keep Stripe's shape over one day.
//! * **Order**: one bot's deliveries claimed together are sent in event
//!   order; a delivery that fails does not hold back later ones, so after a
//!   retry a receiver may see events out of order (payloads carry ids and
//!   `created_at` for ordering).
//! * **Safety**: targets on loopback, private, link-local, CGNAT and
//!   metadata addresses are refused ([`target_allowed`]) unless the operator
//!   allows private targets.

use hmac::{Hmac, Mac};
use serde_json::Value as Json;
use sha2::Sha256;

use crate::platform::db::{rows_source, transaction, write_alone, Db, Row, Value};
use crate::platform::error::Result;
use crate::platform::outbox::{RecordedEvent, Scheduled};
use crate::platform::random;
use crate::platform::time::{self, Timestamp};
use crate::webhooks::fanout;

/// How long a claim holds a delivery: longer than a worker can take to
/// send and record it (the transport gives up after 3 × [`TIMEOUT_MS`]).
pub const LEASE_MS: i64 = 40_000;
/// Per-attempt timeout (connect, first byte, between bytes).
pub const TIMEOUT_MS: u64 = 10_000;
/// How long failed deliveries are retried, from the event on.
pub const RETRY_WINDOW_MS: i64 = 25 * 3_600_000;
/// Most deliveries one scheduler run sends.
pub const RUN_BATCH: i64 = 200;
/// Longest error text kept for an attempt.
const ERROR_MAX: usize = 500;

/// Base delays after the 1st, 2nd, ... failure; the last repeats.
const RETRY_DELAYS_S: &[i64] = &[10, 30, 60, 120, 300, 600, 1_200, 2_400, 3_600];

/// One webhook to send: where, the exact body and its signature.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingWebhook {
    /// The delivery row.
    pub delivery_id: i64,
    /// The receiving bot.
    pub bot_id: i64,
    /// The bot's `outgoing_url`.
    pub url: String,
    /// JSON body, `webhook_timestamp` included.
    pub body: String,
    /// Hex HMAC-SHA256 of `body` (the `Pachca-Signature` header); `None`
    /// for an unsigned announcement (a chat export's).
    pub signature: Option<String>,
    /// Failed attempts so far (the retry schedule's position).
    pub failures: u32,
    /// When the event happened (the retry window starts there).
    pub created: Timestamp,
    /// How long to wait for the answer ([`TIMEOUT_MS`] for deliveries; a
    /// form's submission waits 3 s).
    pub timeout_ms: u64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The receiver answered with this status.
    Status(u16),
    /// No answer: timeout, refused connection, DNS failure, refused target.
    Failed(String),
}

impl Outcome {
    /// Whether the receiver answered 2xx.
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(s))
    }
}

/// An attempt with how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Its result.
    pub outcome: Outcome,
    /// Milliseconds from sending to the answer (or the failure).
    pub latency_ms: i64,
    /// The first bytes of the answer's body (up to the transport's limit),
    /// which a form's submission reads for its per-field errors.
    pub body: Vec<u8>,
}

/// Sends webhooks, all at once; the component's adapter implements it over
/// `wasi:http`. Returns one [`Attempt`] per webhook, in order.
pub trait Transport: std::fmt::Debug {
    /// Sends every webhook and waits for every answer.
    fn send_all(&self, hooks: &[OutgoingWebhook]) -> Vec<Attempt>;
}

/// Hex HMAC-SHA256 of `body` keyed by `secret`.
pub fn sign(secret: &str, body: &str) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Whether `url` may be sent to: `http`/`https` only, and unless
/// `allow_private`, not a loopback, private, link-local, CGNAT, multicast,
/// unspecified or metadata address, nor `localhost`. Names are checked as
/// written; a name that resolves to a private address is the operator's to
/// block at the network (Spin's `block_networks`).
pub fn target_allowed(url: &str, allow_private: bool) -> std::result::Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("only http and https URLs are allowed".into()),
    }
    let host = uri.host().ok_or("the URL has no host")?;
    if allow_private {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") || lower == "metadata.google.internal"
    {
        return Err(format!("{host} is a local address"));
    }
    let private = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => private_v4(ip),
        Ok(std::net::IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || ip.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
        Err(_) => false,
    };
    if private {
        Err(format!("{host} is a private or local address"))
    } else {
        Ok(())
    }
}

fn private_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || (a == 100 && (64..128).contains(&b))
        || a == 0
}

/// The delay before the attempt after `failures` failures, with `jitter` in
/// `[-1, 1]` scaling it by ±20 %.
pub fn retry_delay_ms(failures: u32, jitter: f64) -> i64 {
    let index = usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX);
    let base = RETRY_DELAYS_S
        .get(index)
        .or(RETRY_DELAYS_S.last())
        .copied()
        .unwrap_or(60)
        * 1000;
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    (base as f64 * factor) as i64
}

fn jitter() -> f64 {
    // Without a random source the schedule is simply not jittered.
    random::bytes::<2>().map_or(0.0, |b| {
        f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 2.0 - 1.0
    })
}

/// Writes one pending delivery per `(bot, url)` target (the fan-out calls
/// it in the change's transaction), leased for [`LEASE_MS`] to the current
/// request, which sends them after its response; returns the ids written (a
/// bot that already has this event gets none). The body is stored once per
/// event and type, in `webhook_payloads`; when the event already has one
/// (`message_link_shared` writes each bot's own links), these rows carry
/// their body themselves.
pub fn insert_all(
    db: &dyn Db,
    rec: &RecordedEvent<'_>,
    name: &str,
    targets: &[(i64, &str)],
    payload: &Json,
) -> Result<Vec<i64>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let at = rec.at.to_string();
    let lease = Timestamp(time::now().0 + LEASE_MS).to_string();
    let rows: Vec<Json> = targets
        .iter()
        .map(|(bot, url)| serde_json::json!([bot, url]))
        .collect();
    let body = crate::platform::http::json_text(payload);
    let shared = !db
        .execute(
            "INSERT INTO webhook_payloads (event_id, event_type, body, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING RETURNING event_id",
            &[
                rec.id.into(),
                name.to_owned().into(),
                body.clone().into(),
                at.clone().into(),
            ],
        )?
        .is_empty();
    let own_body = if shared { Value::Null } else { body.into() };
    let sql = format!(
        "INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, body, next_attempt_at, lease_until, created_at) \
         SELECT t.bot_id, ?, ?, t.url, ?, ?, ?, ? FROM {} AS t WHERE true \
         ON CONFLICT DO NOTHING RETURNING id",
        rows_source(&["bot_id", "url"])
    );
    db.execute(
        &sql,
        &[
            rec.id.into(),
            name.to_owned().into(),
            own_body,
            at.clone().into(),
            lease.into(),
            at.into(),
            Value::rows(rows),
        ],
    )?
    .iter()
    .map(|r| r.i64(0).map_err(Into::into))
    .collect()
}

/// A delivery's body, its own or else its event's, as a SQL expression
/// over `webhook_deliveries` (a macro, so that column lists can `concat!`
/// it).
macro_rules! body_sql {
    () => {
        "COALESCE(webhook_deliveries.body, (SELECT p.body FROM webhook_payloads p \
         WHERE p.event_id = webhook_deliveries.event_id AND p.event_type = webhook_deliveries.event_type))"
    };
}
pub(crate) use body_sql;

/// The columns [`to_send`] reads, after the delivery's own columns.
const SEND_COLUMNS: &str = concat!(
    "id, bot_id, url, ",
    body_sql!(),
    ", attempts, created_at, \
     (SELECT signing_secret FROM bots WHERE bots.user_id = webhook_deliveries.bot_id)"
);

/// One row of [`SEND_COLUMNS`], signed with `webhook_timestamp` = `now`.
fn to_send(r: &Row, now: Timestamp) -> Result<OutgoingWebhook> {
    let body = fanout::with_timestamp(&r.string(3)?, now.unix_seconds());
    let secret = r.opt_string(6)?.unwrap_or_default();
    Ok(OutgoingWebhook {
        delivery_id: r.i64(0)?,
        bot_id: r.i64(1)?,
        url: r.string(2)?,
        signature: Some(sign(&secret, &body)),
        body,
        failures: u32::try_from(r.i64(4)?).unwrap_or(u32::MAX),
        created: Timestamp::parse(&r.string(5)?).unwrap_or(now),
        timeout_ms: TIMEOUT_MS,
    })
}

/// Leases those of `ids` that are pending, due and not leased, and returns
/// them ready to send (signed, `webhook_timestamp` = `now`), in id order.
pub fn claim(db: &dyn Db, ids: &[i64], now: Timestamp) -> Result<Vec<OutgoingWebhook>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let at = now.to_string();
    let lease = Timestamp(now.0 + LEASE_MS).to_string();
    let rows = db.execute(
        &format!(
            "UPDATE webhook_deliveries SET lease_until = ? \
             WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending' AND next_attempt_at <= ? \
             AND (lease_until IS NULL OR lease_until < ?) RETURNING {SEND_COLUMNS}"
        ),
        &[lease.into(), Value::id_array(ids), at.clone().into(), at.into()],
    )?;
    let mut hooks = rows
        .iter()
        .map(|r| to_send(r, now))
        .collect::<Result<Vec<_>>>()?;
    hooks.sort_by_key(|h| h.delivery_id);
    Ok(hooks)
}

/// Those of `ids` (leased by this request's fan-out) that are still pending
/// and whose lease holds, ready to send; a read, so sending right after the
/// response costs no write before the attempts are recorded.
pub fn leased(db: &dyn Db, ids: &[i64], now: Timestamp) -> Result<Vec<OutgoingWebhook>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    db.query(
        &format!(
            "SELECT {SEND_COLUMNS} FROM webhook_deliveries \
             WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending' AND lease_until > ? ORDER BY id"
        ),
        &[Value::id_array(ids), now.to_string().into()],
    )?
    .iter()
    .map(|r| to_send(r, now))
    .collect()
}

/// Pending deliveries that are due and not leased, oldest first.
pub fn due_ids(db: &dyn Db, limit: i64) -> Result<Vec<i64>> {
    let now = time::now().to_string();
    db.query(
        "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? \
         AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?",
        &[now.clone().into(), now.into(), limit.into()],
    )?
    .iter()
    .map(|r| r.i64(0).map_err(Into::into))
    .collect()
}

/// Records attempts in one write (one statement when every attempt was a
/// first success, else a short transaction): delivered on a 2xx;
/// otherwise the next attempt is scheduled, or the delivery is dead once
/// past [`RETRY_WINDOW_MS`]. The delivery row keeps the last attempt's
/// status, error and latency; a row in `webhook_attempts` is written for
/// every attempt except a first one that succeeds, which is most of them
/// and which the row alone describes (migration 0017).
pub fn finish(db: &dyn Db, sent: &[(OutgoingWebhook, Attempt)], now: Timestamp) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let at = now.to_string();
    let mut attempts = Vec::with_capacity(sent.len());
    let mut updates = Vec::with_capacity(sent.len());
    for (hook, attempt) in sent {
        let (status, error) = match &attempt.outcome {
            Outcome::Status(s) => (Some(i64::from(*s)), None),
            Outcome::Failed(e) => (None, Some(e.chars().take(ERROR_MAX).collect::<String>())),
        };
        let error = error.or_else(|| {
            (!attempt.outcome.succeeded()).then(|| format!("HTTP {}", status.unwrap_or(0)))
        });
        // A first attempt that succeeds is on the delivery row alone.
        if hook.failures > 0 || !attempt.outcome.succeeded() {
            attempts.push(serde_json::json!([
                hook.delivery_id,
                hook.bot_id,
                status,
                attempt.latency_ms,
                error
            ]));
        }
        let (state, next, finished) = if attempt.outcome.succeeded() {
            ("delivered", None, Some(at.clone()))
        } else {
            let next = Timestamp(now.0 + retry_delay_ms(hook.failures.saturating_add(1), jitter()));
            if next.0 - hook.created.0 > RETRY_WINDOW_MS {
                ("dead", None, Some(at.clone()))
            } else {
                ("pending", Some(next.to_string()), None)
            }
        };
        updates.push(serde_json::json!([
            hook.delivery_id,
            state,
            status,
            error,
            attempt.latency_ms,
            next,
            finished
        ]));
    }
    let insert = format!(
        "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, error, created_at) \
         SELECT a.delivery_id, a.bot_id, a.status, a.latency_ms, a.error, ? FROM {} AS a",
        rows_source(&["delivery_id", "bot_id", "status", "latency_ms", "error"])
    );
    let update = format!(
        "UPDATE webhook_deliveries SET state = s.state, attempts = attempts + 1, last_status = s.status, \
         last_error = s.error, latency_ms = s.latency_ms, lease_until = NULL, \
         next_attempt_at = COALESCE(s.next_at, next_attempt_at), finished_at = s.finished_at \
         FROM {} AS s WHERE webhook_deliveries.id = s.id",
        rows_source(&["id", "state", "status", "error", "latency_ms", "next_at", "finished_at"])
    );
    if attempts.is_empty() {
        // Only first attempts that succeeded, the common case: the update
        // is the whole change, atomic on its own, without the two round
        // trips of `BEGIN` and `COMMIT`.
        return write_alone(db, |db| -> Result<()> {
            db.execute(&update, &[Value::rows(updates)])?;
            Ok(())
        });
    }
    transaction(db, |db| -> Result<()> {
        db.execute(&insert, &[at.into(), Value::rows(attempts)])?;
        db.execute(&update, &[Value::rows(updates)])?;
        Ok(())
    })
}

/// Sends what a request scheduled: the deliveries its fan-out leased and
/// those it asked to claim. Refuses targets that are not allowed, sends the
/// rest through `transport` and records every attempt. Returns how many
/// were sent.
pub fn run(
    db: &dyn Db,
    scheduled: &Scheduled,
    transport: &dyn Transport,
    allow_private: bool,
) -> Result<usize> {
    let now = time::now();
    let mut hooks = leased(db, &scheduled.leased, now)?;
    hooks.extend(claim(db, &scheduled.unclaimed, now)?);
    let mut allowed = Vec::new();
    let mut sent: Vec<(OutgoingWebhook, Attempt)> = Vec::new();
    for hook in hooks {
        match target_allowed(&hook.url, allow_private) {
            Ok(()) => allowed.push(hook),
            Err(why) => {
                let attempt = Attempt {
                    outcome: Outcome::Failed(format!("destination not allowed: {why}")),
                    latency_ms: 0,
                    body: Vec::new(),
                };
                sent.push((hook, attempt));
            }
        }
    }
    let attempts = transport.send_all(&allowed);
    let count = allowed.len();
    sent.extend(allowed.into_iter().zip(attempts));
    finish(db, &sent, time::now())?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::events::Event;

    /// A bot without a URL, signed with `secret`.
    fn bot(db: &dyn Db, secret: &str) -> i64 {
        crate::testutil::create_bot(db, secret, None)
    }

    /// A `message` `new` event (the tests give it their own ids).
    fn message_new() -> Event<'static> {
        Event {
            kind: "message",
            event: "new",
            entity_type: "message",
            entity_id: 1,
            actor: Some(1),
            payload: serde_json::json!({}),
        }
    }

    #[test]
    fn fanned_out_rows_are_leased_to_their_request_and_sent_without_a_claim() {
        let db = crate::testutil::test_db();
        let (a, b) = (bot(&db, "secret-a"), bot(&db, "secret-b"));
        let event = message_new();
        let rec = RecordedEvent {
            id: 42,
            event: &event,
            at: time::now(),
        };
        let payload = serde_json::json!({"type": "message", "id": 1});
        let targets = [(a, "http://a.example/hook"), (b, "http://b.example/hook")];
        let ids = insert_all(&db, &rec, "message_new", &targets, &payload).expect("insert");
        assert_eq!(ids.len(), 2);
        // The same event again writes nothing (one delivery per bot and event).
        assert!(insert_all(&db, &rec, "message_new", &targets, &payload)
            .expect("again")
            .is_empty());
        // The body is stored once for the event, not on each row.
        let stored = db
            .query(
                "SELECT (SELECT COUNT(*) FROM webhook_payloads), \
                 (SELECT COUNT(*) FROM webhook_deliveries WHERE body IS NULL)",
                &[],
            )
            .expect("stored");
        assert_eq!(
            (stored[0].i64(0).unwrap(), stored[0].i64(1).unwrap()),
            (1, 2)
        );
        // Another body for the same event (an unfurl bot's own links) stays
        // on its row, and each row is sent with its own body.
        let c = bot(&db, "secret-c");
        let own = serde_json::json!({"type": "message", "links": ["c"]});
        let c_ids = insert_all(&db, &rec, "message_new", &[(c, "http://c.example/")], &own)
            .expect("own body");
        let c_hooks = leased(&db, &c_ids, time::now()).expect("leased c");
        assert!(
            c_hooks[0].body.starts_with(r#"{"links":["c"],"#),
            "{}",
            c_hooks[0].body
        );
        db.execute(
            "DELETE FROM webhook_deliveries WHERE bot_id = ?",
            &[c.into()],
        )
        .expect("forget c");
        // The lease holds: no scheduler run and no other worker takes them.
        assert!(due_ids(&db, 10).expect("due").is_empty());
        assert!(claim(&db, &ids, time::now()).expect("claim").is_empty());
        // Their request reads them back, each signed with its bot's secret.
        let hooks = leased(&db, &ids, time::now()).expect("leased");
        assert_eq!(hooks.len(), 2);
        for (hook, secret) in hooks.iter().zip(["secret-a", "secret-b"]) {
            assert_eq!(hook.signature, Some(sign(secret, &hook.body)));
            assert!(hook.body.contains("\"webhook_timestamp\":"));
        }
        // One succeeds, one fails: delivered, and pending again with a delay.
        let now = time::now();
        let sent = vec![
            (
                hooks[0].clone(),
                Attempt {
                    outcome: Outcome::Status(204),
                    latency_ms: 3,
                    body: Vec::new(),
                },
            ),
            (
                hooks[1].clone(),
                Attempt {
                    outcome: Outcome::Status(500),
                    latency_ms: 4,
                    body: Vec::new(),
                },
            ),
        ];
        finish(&db, &sent, now).expect("finish");
        let rows = db
            .query(
                "SELECT state, attempts, last_status, last_error, lease_until, next_attempt_at > ? \
                 FROM webhook_deliveries ORDER BY id",
                &[now.to_string().into()],
            )
            .expect("rows");
        assert_eq!(rows[0].string(0).unwrap(), "delivered");
        assert_eq!(rows[0].opt_i64(2).unwrap(), Some(204));
        assert_eq!(rows[1].string(0).unwrap(), "pending");
        assert_eq!(rows[1].i64(1).unwrap(), 1);
        assert_eq!(rows[1].opt_string(3).unwrap().as_deref(), Some("HTTP 500"));
        assert!(rows.iter().all(|r| r.opt_string(4).unwrap().is_none()));
        assert!(rows[1].bool(5).unwrap(), "the retry waits");
        let attempts = db
            .query(
                "SELECT status, latency_ms FROM webhook_attempts ORDER BY id",
                &[],
            )
            .expect("attempts");
        // The first attempt that succeeded is on its row alone; the failure
        // has its attempt's row.
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].opt_i64(0).unwrap(), Some(500));
        assert_eq!(attempts[0].i64(1).unwrap(), 4);
    }

    /// Sends `ids` (claimed) and records `status` with `latency` for each.
    fn attempt(db: &dyn Db, ids: &[i64], status: u16, latency: i64) {
        let hooks = claim(db, ids, time::now()).expect("claim");
        assert_eq!(hooks.len(), ids.len());
        let sent: Vec<_> = hooks
            .into_iter()
            .map(|h| {
                let outcome = Outcome::Status(status);
                let body = Vec::new();
                (
                    h,
                    Attempt {
                        outcome,
                        latency_ms: latency,
                        body,
                    },
                )
            })
            .collect();
        finish(db, &sent, time::now()).expect("finish");
    }

    #[test]
    fn the_log_shows_a_first_success_from_its_row_and_keeps_it_across_a_redelivery() {
        use crate::webhooks::delivery_log;
        let db = crate::testutil::test_db();
        let owner = crate::testutil::owner_principal();
        let a = bot(&db, "secret-a");
        let event = message_new();
        let rec = RecordedEvent {
            id: 7,
            event: &event,
            at: time::now(),
        };
        let payload = serde_json::json!({"type": "message", "id": 1});
        let ids = insert_all(
            &db,
            &rec,
            "message_new",
            &[(a, "http://a.example/")],
            &payload,
        )
        .expect("insert");
        db.execute("UPDATE webhook_deliveries SET lease_until = NULL", &[])
            .expect("unlease");
        attempt(&db, &ids, 200, 12);
        let count = |db: &dyn Db| {
            db.query_row("SELECT COUNT(*) FROM webhook_attempts", &[])
                .expect("count")
                .map(|r| r.i64(0).expect("n"))
        };
        assert_eq!(count(&db), Some(0), "a first success writes no attempt row");
        let (log, _) = delivery_log::list(&db, &owner, a, None, 10, None).expect("log");
        assert_eq!(log[0]["state"], "delivered");
        assert_eq!(log[0]["attempts_count"], 1);
        let attempts = log[0]["attempts"].as_array().expect("attempts").clone();
        assert_eq!(attempts.len(), 1, "{log:?}");
        assert_eq!(attempts[0]["status"], 200);
        assert_eq!(attempts[0]["latency_ms"], 12);
        assert_eq!(attempts[0]["created_at"], log[0]["finished_at"]);

        // Redelivered: the first attempt is written down, then the second
        // (a failure) joins it, newest first.
        db.execute(
            "UPDATE bots SET outgoing_url = 'http://a.example/' WHERE user_id = ?",
            &[a.into()],
        )
        .expect("url");
        delivery_log::redeliver(&db, &owner, a, ids[0]).expect("redeliver");
        assert_eq!(count(&db), Some(1));
        // Redelivering twice writes the first attempt down once.
        delivery_log::redeliver(&db, &owner, a, ids[0]).expect("again");
        assert_eq!(count(&db), Some(1));
        attempt(&db, &ids, 503, 30);
        let (log, _) = delivery_log::list(&db, &owner, a, None, 10, None).expect("log");
        let shown: Vec<_> = log[0]["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .map(|a| (a["status"].as_i64(), a["latency_ms"].as_i64()))
            .collect();
        assert_eq!(shown, vec![(Some(503), Some(30)), (Some(200), Some(12))]);
        assert_eq!(log[0]["attempts_count"], 2);
        assert_eq!(log[0]["state"], "pending");
    }

    #[test]
    fn migration_0017_keeps_every_delivery_attempt_and_id() {
        use crate::platform::migrate::{split_statements, MIGRATIONS};
        let db = crate::platform::db::NativeDb::open_in_memory().expect("open");
        let apply = |upto: std::ops::RangeInclusive<i64>| {
            for m in MIGRATIONS.iter().filter(|m| upto.contains(&m.version)) {
                for statement in split_statements(m.sql) {
                    db.execute(&statement, &[]).expect(&statement);
                }
            }
        };
        apply(1..=16);
        db.execute("PRAGMA foreign_keys = ON", &[]).expect("fk");
        let a = bot(&db, "secret-a");
        let insert = "INSERT INTO webhook_deliveries (id, bot_id, event_id, event_type, url, body, state, \
             attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 'message_new', 'http://a.example/', '{}', \
             ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')";
        for (id, event, state, attempts) in [(5, 1, "delivered", 2), (9, 2, "pending", 0)] {
            let params = [
                id.into(),
                a.into(),
                event.into(),
                state.into(),
                attempts.into(),
            ];
            db.execute(insert, &params).expect("delivery");
        }
        // The highest ids were deleted: new rows must not take them again.
        db.execute(
            "INSERT INTO webhook_deliveries (id, bot_id, event_id, event_type, url, body, \
             next_attempt_at, created_at) VALUES (12, ?, 3, 'message_new', 'u', '{}', 'x', 'x')",
            &[a.into()],
        )
        .expect("doomed");
        for (delivery, status, latency) in [(5, 500, 40), (5, 200, 7), (12, 200, 1)] {
            db.execute(
                "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, created_at) \
                 VALUES (?, ?, ?, ?, 'x')",
                &[delivery.into(), a.into(), status.into(), latency.into()],
            )
            .expect("attempt");
        }
        db.execute("DELETE FROM webhook_deliveries WHERE id = 12", &[])
            .expect("delete");
        apply(17..=17);
        let rows = db
            .query(
                "SELECT id, state, attempts, latency_ms FROM webhook_deliveries WHERE body = '{}' ORDER BY id",
                &[],
            )
            .expect("rows");
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.i64(0).unwrap(),
                    r.string(1).unwrap(),
                    r.i64(2).unwrap(),
                    r.opt_i64(3).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (5, "delivered".to_owned(), 2, Some(7)),
                (9, "pending".to_owned(), 0, None)
            ]
        );
        let attempts = db
            .query(
                "SELECT delivery_id, status FROM webhook_attempts ORDER BY id",
                &[],
            )
            .expect("attempts");
        assert_eq!(attempts.len(), 2, "both attempts of delivery 5 are kept");
        // Ids go on counting after the deleted ones.
        let next = db
            .execute(
                "INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, body, next_attempt_at, created_at) \
                 VALUES (?, 4, 'message_new', 'u', '{}', 'x', 'x') RETURNING id",
                &[a.into()],
            )
            .expect("next");
        assert_eq!(next[0].i64(0).unwrap(), 13);
        // One delivery per bot and event, and attempts still go with their
        // delivery.
        assert!(db
            .execute(
                "INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, body, next_attempt_at, created_at) \
                 VALUES (?, 1, 'message_new', 'u', '{}', 'x', 'x')",
                &[a.into()],
            )
            .is_err());
        db.execute("DELETE FROM webhook_deliveries WHERE id = 5", &[])
            .expect("delete");
        let left = db
            .query_row("SELECT COUNT(*) FROM webhook_attempts", &[])
            .expect("count")
            .map(|r| r.i64(0).unwrap());
        assert_eq!(left, Some(0));
        let plan = db
            .query(
                "EXPLAIN QUERY PLAN SELECT status FROM webhook_attempts WHERE delivery_id = 5 ORDER BY id DESC",
                &[],
            )
            .expect("plan");
        let plan = format!(
            "{:?}",
            plan.iter()
                .map(|r| r.string(3).unwrap())
                .collect::<Vec<_>>()
        );
        assert!(plan.contains("webhook_attempts_delivery"), "{plan}");
    }

    #[test]
    fn the_signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn private_and_local_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://[::1]:3000/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            assert!(target_allowed(url, false).is_err(), "{url}");
            assert!(target_allowed(url, true).is_ok(), "{url}");
        }
        assert!(target_allowed("https://hooks.example.com/in", false).is_ok());
        assert!(target_allowed("http://8.8.8.8/", false).is_ok());
        assert!(target_allowed("ftp://example.com/", true).is_err());
        assert!(target_allowed("not a url", true).is_err());
    }

    #[test]
    fn retries_back_off_and_span_a_day() {
        assert_eq!(retry_delay_ms(1, 0.0), 10_000);
        assert_eq!(retry_delay_ms(2, 0.0), 30_000);
        assert_eq!(retry_delay_ms(9, 0.0), 3_600_000);
        assert_eq!(retry_delay_ms(50, 0.0), 3_600_000);
        assert_eq!(retry_delay_ms(1, 1.0), 12_000);
        assert_eq!(retry_delay_ms(1, -1.0), 8_000);
        // The shortest schedule still needs more than 24 hours to run out.
        let mut elapsed = 0;
        let mut failures = 0;
        while elapsed <= RETRY_WINDOW_MS {
            failures += 1;
            elapsed += retry_delay_ms(failures, -1.0);
        }
        assert!(elapsed > 24 * 3_600_000 && failures > 20, "{failures}");
    }
}
