//! UTC timestamps in the API's ISO 8601 format (`2024-01-04T10:31:24.000Z`).
//!
//! Stored as TEXT in exactly this format everywhere, so lexicographic order in
//! SQL equals chronological order. Implemented by hand (civil-date arithmetic)
//! to stay dependency-free on `wasm32-wasip2`, where `SystemTime` works.

use std::fmt;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

/// Current time (WASI clocks inside the component, the OS clock natively).
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let rem = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3_600_000,
            rem / 60_000 % 60,
            rem / 1000 % 60,
            rem % 1000
        )
    }
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Timestamp {
    /// Parses ISO 8601 date-times: `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]`
    /// (no offset = UTC) or a bare date `YYYY-MM-DD` (midnight UTC). Returns
    /// `None` for anything else.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if s.len() == 10 {
            return Self::from_parts(s, "00:00:00", 0);
        }
        let (date, rest) = s.split_at_checked(10)?;
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let (time, offset_min) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
            (t, 0)
        } else if let Some(pos) = rest.rfind(['+', '-']) {
            let (t, off) = rest.split_at(pos);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let off = &off[1..];
            let (hh, mm) = match off.split_once(':') {
                Some((h, m)) => (num(h)?, num(m)?),
                None if off.len() == 4 => (num(&off[..2])?, num(&off[2..])?),
                None if off.len() == 2 => (num(off)?, 0),
                None => return None,
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            (t, sign * (hh * 60 + mm))
        } else {
            // No offset (what Python's naive `datetime.isoformat()` and the
            // official SDK send): read as UTC.
            (rest, 0)
        };
        let ts = Self::from_parts(date, time, 0)?;
        Some(Timestamp(ts.0 - offset_min * 60_000))
    }

    fn from_parts(date: &str, time: &str, _z: i64) -> Option<Timestamp> {
        let mut dp = date.split('-');
        let (y, m, d) = (dp.next()?, dp.next()?, dp.next()?);
        if dp.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let (y, m, d) = (num(y)?, num(m)?, num(d)?);
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return None;
        }
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (time, None),
        };
        let mut tp = hms.split(':');
        let hh = num(tp.next()?)?;
        let mm = num(tp.next()?)?;
        let ss = match tp.next() {
            Some(s) => num(s)?,
            None => 0,
        };
        if tp.next().is_some() || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        let ms = match frac {
            Some(f) => {
                if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let digits: String = f.chars().chain("000".chars()).take(3).collect();
                num(&digits)?
            }
            None => 0,
        };
        let days = days_from_civil(y, m, d);
        Some(Timestamp(
            days * 86_400_000 + hh * 3_600_000 + mm * 60_000 + ss * 1000 + ms,
        ))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_spec() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_704_364_284_000).to_string(),
            "2024-01-04T10:31:24.000Z"
        );
        assert_eq!(
            Timestamp(951_782_400_123).to_string(),
            "2000-02-29T00:00:00.123Z"
        );
    }

    #[test]
    fn parses_offsets_and_round_trips() {
        let t = Timestamp::parse("2024-01-15T10:30:00.000+03:00").unwrap();
        assert_eq!(t.to_string(), "2024-01-15T07:30:00.000Z");
        let t = Timestamp::parse("2024-01-04T10:31:24.5Z").unwrap();
        assert_eq!(t.to_string(), "2024-01-04T10:31:24.500Z");
        assert_eq!(
            Timestamp::parse("2024-03-01").unwrap().to_string(),
            "2024-03-01T00:00:00.000Z"
        );
        for bad in [
            "",
            "yesterday",
            "2024-02-30T00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T10:00:00+25:00",
            "2024-01-01T10:00:00.Z",
            "2024-1-01T10:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
        let now = now();
        assert_eq!(Timestamp::parse(&now.to_string()), Some(now));
    }

    #[test]
    fn date_times_without_an_offset_are_utc() {
        // Python's `datetime(2024, 1, 1, 10).isoformat()`, as the SDK sends it.
        assert_eq!(
            Timestamp::parse("2024-01-01T10:00:00").unwrap().to_string(),
            "2024-01-01T10:00:00.000Z"
        );
        assert_eq!(
            Timestamp::parse("2024-01-01T10:00:00.123456")
                .unwrap()
                .to_string(),
            "2024-01-01T10:00:00.123Z"
        );
        assert_eq!(
            Timestamp::parse("2024-01-01T10:00").unwrap().to_string(),
            "2024-01-01T10:00:00.000Z"
        );
    }
}
