//! The period and buckets of an analytics request: `from` and `to` are
//! local dates (inclusive) in the workspace's analytics zone, `bucket` is
//! `day`, `week` (Monday to Sunday) or `month`.

use crate::analytics::{zone, Settings};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::http::Query;
use crate::platform::params::query_enum;
use crate::platform::time;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::ToSpan;

/// The longest period a request may cover, in days (ten years).
pub const MAX_DAYS: i32 = 3660;
/// The most buckets a series may have.
pub const MAX_BUCKETS: usize = 400;

/// The earliest year a period may start in.
pub const MIN_YEAR: i16 = 1970;
/// The latest year a period may end in.
pub const MAX_YEAR: i16 = 2999;

/// Length of the default period, in days, ending today.
pub const DEFAULT_DAYS: i32 = 30;

/// The size of a series' buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// A local day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Bucket {
    /// Parses `bucket` (`day` by default); 400 `inclusion` otherwise.
    pub fn parse(q: &Query) -> Result<Bucket> {
        Ok(
            match query_enum(q, "bucket", &["day", "week", "month"], "day")? {
                "week" => Bucket::Week,
                "month" => Bucket::Month,
                _ => Bucket::Day,
            },
        )
    }

    /// The rollups' name of the bucket (`analytics_member_periods.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The first day of the bucket `date` is in.
    pub fn start_of(self, date: Date) -> Date {
        match self {
            Bucket::Day => date,
            Bucket::Week => {
                let back = i64::from(date.weekday().to_monday_zero_offset());
                date.checked_sub(back.days()).unwrap_or(date)
            }
            Bucket::Month => date.first_of_month(),
        }
    }

    /// The last day of the bucket `date` is in.
    pub fn end_of(self, date: Date) -> Date {
        match self {
            Bucket::Day => date,
            Bucket::Week => {
                let ahead = 6 - i64::from(date.weekday().to_monday_zero_offset());
                date.checked_add(ahead.days()).unwrap_or(date)
            }
            Bucket::Month => date.last_of_month(),
        }
    }
}

/// Local dates `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
}

/// One bucket of a series: its first and last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First day.
    pub start: Date,
    /// Last day.
    pub end: Date,
}

impl Span {
    /// `{"start", "end"}` as local dates.
    pub fn render(&self) -> serde_json::Value {
        serde_json::json!({"start": self.start.to_string(), "end": self.end.to_string()})
    }
}

fn parse_date(q: &Query, key: &str) -> Result<Option<Date>> {
    let Some(raw) = q.get(key) else {
        return Ok(None);
    };
    let bad = || {
        Error::bad_request(
            key,
            ErrorCode::Invalid,
            Some(raw.to_owned()),
            &format!("{key} must be a date, YYYY-MM-DD"),
        )
    };
    let b = raw.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let date = raw.parse::<Date>().map_err(|_| bad())?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
        return Err(Error::bad_request(
            key,
            ErrorCode::Invalid,
            Some(raw.to_owned()),
            &format!("{key} must be a date from {MIN_YEAR} to {MAX_YEAR}"),
        ));
    }
    Ok(Some(date))
}

impl Period {
    /// Reads `from` and `to` (local dates, inclusive): by default the
    /// [`DEFAULT_DAYS`] days ending today in `tz`; `from` alone runs to
    /// today, `to` alone starts [`DEFAULT_DAYS`] days before it. 400 on a
    /// malformed date, `from` after `to`, or more than [`MAX_DAYS`] days.
    pub fn parse(q: &Query, tz: &TimeZone) -> Result<Period> {
        let today = zone::local_date(tz, time::now())?;
        let to = parse_date(q, "to")?;
        let from = parse_date(q, "from")?;
        let to = to.unwrap_or(today.max(from.unwrap_or(today)));
        let from = match from {
            Some(f) => f,
            None => to
                .checked_sub(i64::from(DEFAULT_DAYS - 1).days())
                .map_err(|e| Error::Internal(format!("period: {e}")))?,
        };
        if from > to {
            return Err(Error::bad_request(
                "from",
                ErrorCode::Invalid,
                Some(from.to_string()),
                "from must not be after to",
            ));
        }
        let p = Period { from, to };
        if p.days() > MAX_DAYS {
            return Err(Error::bad_request(
                "from",
                ErrorCode::Invalid,
                Some(from.to_string()),
                &format!("a period covers at most {MAX_DAYS} days"),
            ));
        }
        Ok(p)
    }

    /// Number of days in the period.
    pub fn days(&self) -> i32 {
        let span = self.to.since(self.from).map(|s| s.get_days()).unwrap_or(0);
        span + 1
    }

    /// The period widened to whole buckets, so every bucket counts the
    /// distinct members of all of its days.
    pub fn widened(&self, bucket: Bucket) -> Period {
        Period {
            from: bucket.start_of(self.from),
            to: bucket.end_of(self.to),
        }
    }

    /// The buckets of the (widened) period, in order; 400 on `bucket` when
    /// there would be more than [`MAX_BUCKETS`].
    pub fn buckets(&self, bucket: Bucket) -> Result<Vec<Span>> {
        let mut out = Vec::new();
        let mut start = bucket.start_of(self.from);
        while start <= self.to {
            if out.len() == MAX_BUCKETS {
                return Err(Error::bad_request(
                    "bucket",
                    ErrorCode::Invalid,
                    Some(bucket.as_str().to_owned()),
                    &format!("a series has at most {MAX_BUCKETS} buckets: choose a larger bucket or a shorter period"),
                ));
            }
            let end = bucket.end_of(start);
            out.push(Span { start, end });
            start = match end.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        Ok(out)
    }

    /// Adds `from` and `to` (local dates) to the object `data`.
    pub fn render_into(&self, data: &mut serde_json::Value) {
        data["from"] = serde_json::json!(self.from.to_string());
        data["to"] = serde_json::json!(self.to.to_string());
    }
}

/// A local date as the rollups store it (`YYYY-MM-DD`); one that does not
/// parse is a fault of ours, not the client's.
pub fn parse_day(s: &str) -> Result<Date> {
    s.parse::<Date>()
        .map_err(|e| Error::Internal(format!("analytics date {s}: {e}")))
}

/// The zone of the request: the workspace's analytics zone. A `time_zone`
/// naming another one is a 400, since the rollups count the workspace
/// zone's days (`PUT /analytics/settings` changes it and rebuilds).
pub fn workspace_zone(q: &Query, settings: &Settings) -> Result<TimeZone> {
    if let Some(asked) = q.get("time_zone") {
        if asked != settings.time_zone {
            return Err(Error::bad_request(
                "time_zone",
                ErrorCode::Invalid,
                Some(asked.to_owned()),
                &format!(
                    "Analytics count local days of the workspace's zone, {}; change it with PUT /analytics/settings",
                    settings.time_zone
                ),
            ));
        }
    }
    zone::parse(&settings.time_zone)
}

/// Index of the bucket holding `day` among `spans` (sorted), if any.
pub fn bucket_index(spans: &[Span], day: Date) -> Option<usize> {
    let i = spans.partition_point(|s| s.end < day);
    spans.get(i).filter(|s| s.start <= day).map(|_| i)
}
