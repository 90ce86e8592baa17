//! Random bytes from the platform's source (WASI `random` in a component,
//! the OS natively), for tokens, secrets and ids.

use crate::platform::error::{Error, Result};

/// `N` random bytes; an error only if the platform has no random source.
pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("random source failed: {e}")))?;
    Ok(buf)
}

/// A random (version 4) UUID in its usual text form,
/// `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
pub fn uuid() -> Result<String> {
    let mut b = bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_uuid_has_the_version_4_form() {
        let u = super::uuid().expect("uuid");
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
        assert_ne!(u, super::uuid().expect("uuid"));
    }
}
