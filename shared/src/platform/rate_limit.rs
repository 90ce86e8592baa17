//! Per-token rate limits (`api/limits.md`): more than the limit of requests
//! with one token within one second get `429` with `Retry-After: 1` and the
//! official error shape (`rate_limit`).
//!
//! The counters live in the key-value store (Spin's `default` store; Redis
//! when the operator points it there, so the limit holds across instances),
//! one key per token (`rl:{hash}`, the token never stored) holding
//! `{second}:{count}`, so the store keeps one small value per token
//! rather than one per second (Spin's key-value store has no expiry). A
//! counter is read and written back, which two instances racing
//! on one token may undercount by a few: the limit is approximate, as the
//! guide says Pachka's are. The limit per second is the `rate_limit`
//! variable (100 by default; `0` turns it off); requests without a token
//! are not counted (they fail authentication anyway), nor are incoming
//! webhooks, which have their own limit per URL.

use sha2::{Digest, Sha256};

use crate::platform::error::{Error, ErrorCode, FieldError, Result};

/// Requests per second per token unless the operator says otherwise.
pub const DEFAULT_PER_SECOND: u64 = 100;

/// Where counters are kept: the key-value store in a component.
pub trait Counters {
    /// The value at `key`, if any.
    fn get(&self, key: &str) -> Option<String>;
    /// Sets `key` to `value`.
    fn set(&self, key: &str, value: &str);
}

/// The counter key of a bearer token.
pub fn key(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("rl:{}", hex::encode(&digest[..12]))
}

/// Counts one request with `token` in `second`; 429 when it is over
/// `per_second` (which `0` turns off).
pub fn hit(counters: &dyn Counters, token: &str, second: i64, per_second: u64) -> Result<()> {
    if per_second == 0 {
        return Ok(());
    }
    let k = key(token);
    let seen = counters
        .get(&k)
        .and_then(|v| {
            let (at, n) = v.split_once(':')?;
            (at.parse::<i64>().ok()? == second).then(|| n.parse::<u64>().ok())?
        })
        .unwrap_or(0);
    if seen >= per_second {
        return Err(Error::TooManyRequests {
            retry_after_s: 1,
            item: FieldError::new(
                "token",
                ErrorCode::RateLimit,
                None,
                format!("More than {per_second} requests per second with this token"),
            ),
        });
    }
    counters.set(&k, &format!("{second}:{}", seen + 1));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Memory(RefCell<HashMap<String, String>>);

    impl Counters for Memory {
        fn get(&self, key: &str) -> Option<String> {
            self.0.borrow().get(key).cloned()
        }
        fn set(&self, key: &str, value: &str) {
            self.0.borrow_mut().insert(key.to_owned(), value.to_owned());
        }
    }

    #[test]
    fn the_request_over_the_limit_in_one_second_is_429_and_the_next_second_is_new() {
        let m = Memory::default();
        for _ in 0..3 {
            hit(&m, "t", 100, 3).expect("within");
        }
        let e = hit(&m, "t", 100, 3).expect_err("over");
        assert_eq!(e.status(), 429);
        assert_eq!(e.body()["errors"][0]["code"], "rate_limit");
        hit(&m, "other", 100, 3).expect("another token counts apart");
        hit(&m, "t", 101, 3).expect("a new second");
        for _ in 0..1000 {
            hit(&m, "t", 102, 0).expect("0 turns it off");
        }
        assert!(
            !key("secret-token").contains("secret"),
            "the token is not stored"
        );
        assert_eq!(
            m.0.borrow().len(),
            2,
            "one key per token, whatever the seconds"
        );
    }
}
