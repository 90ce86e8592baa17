//! Signed, at-least-once delivery of outgoing webhooks.
//!
//! A delivery row is written by the fan-out in the change's own transaction
//! (see [`crate::platform::outbox`]). After the response has been sent, the
//! same invocation [`claim`]s the rows it wrote, sends them all at once
//! through a [`Transport`] and [`finish`]es them; the scheduler's route
//! (`POST /webhooks/deliveries/run`) does the same for rows that are due.
//!
//! * **Leases**: a claim sets `lease_until` ([`LEASE_MS`] ahead) on rows that
//!   are pending, due and not leased, in one `UPDATE ... RETURNING`; two
//!   workers never both claim a row while its lease holds.
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

use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::Result;
use crate::platform::outbox::RecordedEvent;
use crate::platform::random;
use crate::platform::time::{self, Timestamp};
use crate::webhooks::fanout;

/// How long a claim holds a delivery.
pub const LEASE_MS: i64 = 60_000;
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
    /// Hex HMAC-SHA256 of `body` (the `Pachca-Signature` header).
    pub signature: String,
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
    fn succeeded(&self) -> bool {
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
}

/// Sends webhooks, all at once; the component's adapter implements it over
/// `wasi:http`. Returns one [`Attempt`] per webhook, in order.
pub trait Transport {
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

/// Writes one pending delivery (the fan-out calls it in the change's
/// transaction); `None` when this bot already has this event.
pub fn insert(
    db: &dyn Db,
    bot_id: i64,
    rec: &RecordedEvent<'_>,
    name: &str,
    url: &str,
    payload: &Json,
) -> Result<Option<i64>> {
    let at = rec.at.to_string();
    let rows = db.execute(
        "INSERT INTO webhook_deliveries (bot_id, event_id, event_type, url, body, next_attempt_at, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        &[
            bot_id.into(),
            rec.id.into(),
            name.to_owned().into(),
            url.to_owned().into(),
            payload.to_string().into(),
            at.clone().into(),
            at.into(),
        ],
    )?;
    rows.first()
        .map(|r| r.i64(0))
        .transpose()
        .map_err(Into::into)
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
        "UPDATE webhook_deliveries SET lease_until = ? \
         WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending' AND next_attempt_at <= ? \
         AND (lease_until IS NULL OR lease_until < ?) \
         RETURNING id, bot_id, url, body, (SELECT signing_secret FROM bots WHERE bots.user_id = webhook_deliveries.bot_id)",
        &[lease.into(), Value::id_array(ids), at.clone().into(), at.into()],
    )?;
    let mut hooks = Vec::with_capacity(rows.len());
    for r in &rows {
        let body = fanout::with_timestamp(&r.string(3)?, now.unix_seconds());
        let secret = r.opt_string(4)?.unwrap_or_default();
        hooks.push(OutgoingWebhook {
            delivery_id: r.i64(0)?,
            bot_id: r.i64(1)?,
            url: r.string(2)?,
            signature: sign(&secret, &body),
            body,
        });
    }
    hooks.sort_by_key(|h| h.delivery_id);
    Ok(hooks)
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

/// Records attempts: delivered on a 2xx; otherwise the next attempt is
/// scheduled, or the delivery is dead once past [`RETRY_WINDOW_MS`].
pub fn finish(db: &dyn Db, sent: &[(OutgoingWebhook, Attempt)], now: Timestamp) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let at = now.to_string();
    transaction(db, |db| -> Result<()> {
        for (hook, attempt) in sent {
            let (status, error) = match &attempt.outcome {
                Outcome::Status(s) => (Some(i64::from(*s)), None),
                Outcome::Failed(e) => (None, Some(e.chars().take(ERROR_MAX).collect::<String>())),
            };
            let error = error.or_else(|| {
                (!attempt.outcome.succeeded()).then(|| format!("HTTP {}", status.unwrap_or(0)))
            });
            db.execute(
                "INSERT INTO webhook_attempts (delivery_id, bot_id, status, latency_ms, error, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                &[
                    hook.delivery_id.into(),
                    hook.bot_id.into(),
                    status.into(),
                    attempt.latency_ms.into(),
                    error.clone().into(),
                    at.clone().into(),
                ],
            )?;
            if attempt.outcome.succeeded() {
                db.execute(
                    "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, \
                     last_status = ?, last_error = NULL, lease_until = NULL, finished_at = ? WHERE id = ?",
                    &[status.into(), at.clone().into(), hook.delivery_id.into()],
                )?;
                continue;
            }
            let Some(row) = db.query_row(
                "SELECT attempts, created_at FROM webhook_deliveries WHERE id = ?",
                &[hook.delivery_id.into()],
            )?
            else {
                continue;
            };
            let failures = u32::try_from(row.i64(0)? + 1).unwrap_or(u32::MAX);
            let created = Timestamp::parse(&row.string(1)?).unwrap_or(now);
            let next = Timestamp(now.0 + retry_delay_ms(failures, jitter()));
            if next.0 - created.0 > RETRY_WINDOW_MS {
                db.execute(
                    "UPDATE webhook_deliveries SET state = 'dead', attempts = attempts + 1, last_status = ?, \
                     last_error = ?, lease_until = NULL, finished_at = ? WHERE id = ?",
                    &[status.into(), error.into(), at.clone().into(), hook.delivery_id.into()],
                )?;
            } else {
                db.execute(
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?, \
                     lease_until = NULL, next_attempt_at = ? WHERE id = ?",
                    &[status.into(), error.into(), next.to_string().into(), hook.delivery_id.into()],
                )?;
            }
        }
        Ok(())
    })
}

/// Claims `ids`, refuses targets that are not allowed, sends the rest
/// through `transport` and records every attempt. Returns how many were sent.
pub fn run(
    db: &dyn Db,
    ids: &[i64],
    transport: &dyn Transport,
    allow_private: bool,
) -> Result<usize> {
    let mut allowed = Vec::new();
    let mut sent: Vec<(OutgoingWebhook, Attempt)> = Vec::new();
    for hook in claim(db, ids, time::now())? {
        match target_allowed(&hook.url, allow_private) {
            Ok(()) => allowed.push(hook),
            Err(why) => {
                let attempt = Attempt {
                    outcome: Outcome::Failed(format!("destination not allowed: {why}")),
                    latency_ms: 0,
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
