//! The event history of bots with `events_history_enabled`
//! (`GET /webhooks/events`, `DELETE /webhooks/events/{id}`): every event the
//! bot would receive is kept as a `WebhookEvent` (string id, `event_type`,
//! the webhook `payload`, `created_at`), listed newest first, until the bot deletes
//! it or it is older than [`RETENTION_DAYS`] days
//! ([`crate::webhooks::retention`] removes it).
//!
//! Only a bot's own token reads or deletes its history (403 for others).

use crate::auth::Principal;
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::pagination::{self, Cursor};
use crate::platform::random;
use serde_json::{json, Value as Json};

/// How long undeleted history is kept.
pub const RETENTION_DAYS: i64 = 14;

fn require_bot(p: &Principal) -> Result<()> {
    if p.bot {
        Ok(())
    } else {
        Err(Error::forbidden(
            "token",
            ErrorCode::Forbidden,
            "The event history is available only with a bot's access token",
        ))
    }
}

/// `GET /webhooks/events`: a page of the bot's history, oldest first.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    require_bot(p)?;
    // Newest first, as the official list methods are ("new records on top",
    // `api/pagination.md`): the SDKs' pollers read pages until one holds
    // nothing newer than where they started.
    let (seqs, meta) = pagination::keyset_page(
        db,
        "SELECT seq AS id, seq AS k FROM webhook_events WHERE bot_id = ?",
        &[p.user_id.into()],
        false,
        limit,
        cursor,
    )?;
    let mut data = Vec::with_capacity(seqs.len());
    for seq in &seqs {
        if let Some(r) = db.query_row(
            "SELECT id, event_type, payload, created_at FROM webhook_events WHERE seq = ?",
            &[(*seq).into()],
        )? {
            let payload: Json = serde_json::from_str(&r.string(2)?)
                .map_err(|e| Error::Internal(format!("bad stored payload: {e}")))?;
            data.push(json!({
                "id": r.string(0)?,
                "event_type": r.string(1)?,
                "payload": payload,
                "created_at": r.string(3)?,
            }));
        }
    }
    Ok((data, meta))
}

/// `DELETE /webhooks/events/{id}`: 404 for an id that is not the bot's.
pub fn delete(db: &dyn Db, p: &Principal, id: &str) -> Result<()> {
    require_bot(p)?;
    transaction(db, |db| -> Result<()> {
        let gone = db.execute(
            "DELETE FROM webhook_events WHERE id = ? AND bot_id = ? RETURNING seq",
            &[id.to_owned().into(), p.user_id.into()],
        )?;
        if gone.is_empty() {
            return Err(Error::NotFound(FieldError::new(
                "id",
                ErrorCode::NotFound,
                Some(id.to_owned()),
                "Object not found",
            )));
        }
        Ok(())
    })
}

/// Crockford's base32 alphabet, the one ULIDs are written in.
const ULID_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID (`01KAJZ2XDSS2S3DSW9EXJZ0TBV`, the spec's example shape): 48 bits
/// of milliseconds then 80 random bits, so ids sort by time. Written by hand
/// (26 characters from 128 bits) rather than adding a crate for it.
pub fn ulid(ms: i64) -> Result<String> {
    let noise = random::bytes::<10>()?;
    let mut value = u128::from(u64::try_from(ms.max(0)).unwrap_or(0) & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in noise.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    Ok((0..26)
        .map(|i| char::from(ULID_ALPHABET[((value >> (5 * (25 - i))) & 31) as usize]))
        .collect())
}

/// Keeps one event for a bot's history (the fan-out calls it in the change's
/// transaction); the payload carries `webhook_timestamp` = the event time.
pub fn insert(
    db: &dyn Db,
    bot_id: i64,
    rec: &crate::platform::outbox::RecordedEvent<'_>,
    name: &str,
    payload: &Json,
) -> Result<()> {
    let mut payload = payload.clone();
    payload["webhook_timestamp"] = json!(rec.at.unix_seconds());
    db.execute(
        "INSERT INTO webhook_events (id, bot_id, event_id, event_type, payload, created_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        &[
            ulid(rec.at.0)?.into(),
            bot_id.into(),
            rec.id.into(),
            name.to_owned().into(),
            payload.to_string().into(),
            rec.at.to_string().into(),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_are_26_crockford_characters_ordered_by_time() {
        let a = ulid(1_747_574_400_000).unwrap();
        let b = ulid(1_747_574_400_001).unwrap();
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|c| ULID_ALPHABET.contains(&c)), "{a}");
        assert!(a < b, "{a} {b}");
        assert_ne!(ulid(1).unwrap(), ulid(1).unwrap());
    }
}
