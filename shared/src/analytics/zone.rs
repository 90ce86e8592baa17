//! Time zones of analytics: IANA names read from the time-zone database
//! that `jiff` bundles (a component cannot read the host's zoneinfo), the
//! UTC offsets the rollup triggers look days up in, local dates, and
//! working time under a weekly schedule.

use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::time::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// The zone named `name` (an IANA name such as `Europe/Moscow`, or `UTC`);
/// 422 `invalid` on `time_zone` when there is none.
pub fn parse(name: &str) -> Result<TimeZone> {
    TimeZone::get(name).map_err(|_| {
        Error::invalid(
            "time_zone",
            ErrorCode::Invalid,
            Some(name.to_owned()),
            "Unknown time zone: use an IANA name such as Europe/Moscow",
        )
    })
}

/// First instant the offsets table covers with transitions; before it, the
/// offset in force then applies.
const FIRST_YEAR: i16 = 1970;
/// Transitions are listed up to this year (a zone with DST has two a year).
const LAST_YEAR: i16 = 2100;

/// The rows of `analytics_zone_offsets` for `tz`: from each `starts_at`
/// (UTC, the API's format) on, local time is UTC plus the offset in
/// seconds. The first row starts at year 0.
pub fn offsets(tz: &TimeZone) -> Result<Vec<(String, i32)>> {
    let start = Date::new(FIRST_YEAR, 1, 1)
        .and_then(|d| d.to_zoned(TimeZone::UTC))
        .map_err(|e| Error::Internal(format!("zone offsets: {e}")))?
        .timestamp();
    let end = Date::new(LAST_YEAR, 1, 1)
        .and_then(|d| d.to_zoned(TimeZone::UTC))
        .map_err(|e| Error::Internal(format!("zone offsets: {e}")))?
        .timestamp();
    let mut rows = vec![(
        "0000-01-01T00:00:00.000Z".to_owned(),
        tz.to_offset(start).seconds(),
    )];
    for t in tz.following(start) {
        if t.timestamp() >= end {
            break;
        }
        let at = Timestamp(t.timestamp().as_millisecond()).to_string();
        let offset = t.offset().seconds();
        if rows.last().map(|(_, o)| *o) != Some(offset) {
            rows.push((at, offset));
        }
    }
    Ok(rows)
}

/// The local date of `at` in `tz`.
pub fn local_date(tz: &TimeZone, at: Timestamp) -> Result<Date> {
    Ok(to_jiff(at)?.to_zoned(tz.clone()).date())
}

/// The instant local midnight of `date` starts in `tz` (the first instant
/// of the day, where DST skips midnight).
pub fn start_of(tz: &TimeZone, date: Date) -> Result<Timestamp> {
    let z = date
        .to_zoned(tz.clone())
        .map_err(|e| Error::Internal(format!("start of day: {e}")))?;
    Ok(Timestamp(z.timestamp().as_millisecond()))
}

fn to_jiff(at: Timestamp) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(at.0)
        .map_err(|e| Error::Internal(format!("timestamp out of range: {e}")))
}

/// A weekly schedule of working hours in a zone: the same hours on each
/// working weekday.
#[derive(Debug, Clone)]
pub struct WorkingHours {
    /// ISO weekdays (1 = Monday … 7 = Sunday) that are working days.
    pub days: Vec<i8>,
    /// Start of the working day, local time.
    pub start: Time,
    /// End of the working day, local time (after `start`).
    pub end: Time,
}

impl WorkingHours {
    /// Parses `hours` (`HH:MM-HH:MM`) and `days` (ISO weekdays, `1,2,3,4,5`
    /// by default); 400 on the parameter at fault.
    pub fn parse(hours: &str, days: &[String]) -> Result<WorkingHours> {
        let bad_hours = || {
            Error::bad_request(
                "working_hours",
                ErrorCode::Invalid,
                Some(hours.to_owned()),
                "working_hours must be HH:MM-HH:MM with the start before the end",
            )
        };
        let (a, b) = hours.split_once('-').ok_or_else(bad_hours)?;
        let time = |s: &str| -> Option<Time> {
            let (h, m) = s.trim().split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
        };
        let (start, end) = match (time(a), time(b)) {
            (Some(s), Some(e)) if s < e => (s, e),
            _ => return Err(bad_hours()),
        };
        let mut list = Vec::new();
        for d in days {
            match d.parse::<i8>() {
                Ok(n) if (1..=7).contains(&n) => list.push(n),
                _ => {
                    return Err(Error::bad_request(
                        "working_days",
                        ErrorCode::Invalid,
                        Some(d.clone()),
                        "working_days are ISO weekdays: 1 (Monday) to 7 (Sunday)",
                    ))
                }
            }
        }
        if list.is_empty() {
            list = vec![1, 2, 3, 4, 5];
        }
        list.sort_unstable();
        list.dedup();
        Ok(WorkingHours {
            days: list,
            start,
            end,
        })
    }

    /// Milliseconds of working time between `from` and `to` in `tz` (0 when
    /// `to` is not after `from`).
    pub fn between(&self, tz: &TimeZone, from: Timestamp, to: Timestamp) -> Result<i64> {
        if to <= from {
            return Ok(0);
        }
        let mut day = local_date(tz, from)?;
        let last = local_date(tz, to)?;
        let mut total = 0i64;
        while day <= last {
            let weekday = day.weekday().to_monday_one_offset();
            if self.days.contains(&weekday) {
                let open = at(tz, day, self.start)?;
                let close = at(tz, day, self.end)?;
                let (a, b) = (open.max(from), close.min(to));
                if b > a {
                    total += b.0 - a.0;
                }
            }
            day = day
                .tomorrow()
                .map_err(|e| Error::Internal(format!("working hours: {e}")))?;
        }
        Ok(total)
    }

    /// The API shape.
    pub fn render(&self) -> serde_json::Value {
        serde_json::json!({
            "days": self.days,
            "start": format!("{:02}:{:02}", self.start.hour(), self.start.minute()),
            "end": format!("{:02}:{:02}", self.end.hour(), self.end.minute()),
        })
    }
}

/// The instant of local `time` on `date` in `tz` (a time DST skips is
/// taken as the instant the clocks jumped to).
fn at(tz: &TimeZone, date: Date, time: Time) -> Result<Timestamp> {
    let z = date
        .to_datetime(time)
        .to_zoned(tz.clone())
        .map_err(|e| Error::Internal(format!("local time: {e}")))?;
    Ok(Timestamp(z.timestamp().as_millisecond()))
}
