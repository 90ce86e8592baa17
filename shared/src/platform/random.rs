//! Random bytes from the platform's source (WASI `random` in a component,
//! the OS natively), for tokens, secrets and ids.

use crate::platform::error::{Error, Result};

/// `N` random bytes; an error only if the platform has no random source.
pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("random source failed: {e}")))?;
    Ok(buf)
}
