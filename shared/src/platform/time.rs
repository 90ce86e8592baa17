//! UTC timestamps in the API's ISO 8601 format (`2024-01-04T10:31:24.000Z`).
//!
//! Stored as TEXT in exactly this format everywhere, so lexicographic order in
//! SQL equals chronological order. Calendar arithmetic and ISO 8601 parsing
//! are the `time` crate's (its `Iso8601` parser: extended and basic forms,
//! optional seconds and fraction); this module only fixes the one output
//! format and the input rules. `time` was chosen over `jiff` for size: it
//! adds about a fifth of what `jiff` adds to each component.

use std::fmt;

use time::format_description::well_known::Iso8601;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

/// Milliseconds in a day (of UTC, which has no daylight saving).
pub const DAY_MS: i64 = 86_400_000;

/// Current time (WASI clocks inside the component, the OS clock natively).
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

/// Offsets accepted from clients stay within a day (the parser allows 25 h).
const MAX_OFFSET_HOURS: i8 = 23;

impl Timestamp {
    /// This instant as a `time` date-time in UTC, clamped to its range.
    fn to_utc(self) -> OffsetDateTime {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if self.0 < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        })
    }

    fn from_utc(t: OffsetDateTime) -> Option<Timestamp> {
        i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000))
            .ok()
            .map(Timestamp)
    }

    /// Parses ISO 8601 date-times: `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]`
    /// (`T`, `t` or a space between date and time; no offset = UTC, as
    /// Python's naive `datetime.isoformat()` and the official SDK send) or a
    /// bare date `YYYY-MM-DD` (midnight UTC). Returns `None` for anything
    /// else, including impossible dates and offsets of a day or more.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if s.len() == 10 {
            let date = Date::parse(s, &Iso8601::DEFAULT).ok()?;
            return Self::from_utc(date.midnight().assume_utc());
        }
        // The parser wants an upper-case `T` and `Z`.
        let mut text = s.to_ascii_uppercase();
        if text.as_bytes().get(10) == Some(&b' ') {
            text.replace_range(10..11, "T");
        }
        if let Ok(t) = OffsetDateTime::parse(&text, &Iso8601::DEFAULT) {
            if t.offset().whole_hours().abs() > MAX_OFFSET_HOURS {
                return None;
            }
            return Self::from_utc(t.to_offset(UtcOffset::UTC));
        }
        let local = PrimitiveDateTime::parse(&text, &Iso8601::DEFAULT).ok()?;
        Self::from_utc(local.assume_utc())
    }

    /// The instant `days` days earlier: a retention's cutoff.
    pub fn days_before(self, days: i64) -> Timestamp {
        Timestamp(self.0 - days * DAY_MS)
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.div_euclid(1000)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.to_utc();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
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
            "2024-01-01T10:00:00+24:00",
            "2023-02-29",
            "2024-01-01T10:00:00Z[Europe/Moscow]",
            "2024-01-01T10:00:00.Z",
            "2024-1-01T10:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
        for (compact, utc) in [
            ("2024-01-15T10:30:00+0300", "2024-01-15T07:30:00.000Z"),
            ("2024-01-15T10:30:00-02", "2024-01-15T12:30:00.000Z"),
            ("2024-02-29 23:59:59.999z", "2024-02-29T23:59:59.999Z"),
        ] {
            assert_eq!(Timestamp::parse(compact).unwrap().to_string(), utc);
        }
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
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
