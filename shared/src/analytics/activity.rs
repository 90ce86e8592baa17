//! `GET /analytics/activity`: the workspace's series — messages,
//! reactions, active members, active chats, new chats, members and the
//! engagement rate per bucket — and, with `split=department`, the same per
//! department (the department people have now).
//!
//! Every figure is read from rows kept as things happened: messages and
//! reactions of each day per department (`analytics_department_days`,
//! summed for the workspace); active members of each day, week and month
//! per department (`analytics_period_members`); active chats of each day
//! (`analytics_chat_days`, through a partial index of the active ones),
//! week and month (`analytics_chat_periods`). A series reads one row per
//! bucket and department, plus the active chats of its days.
use std::collections::{BTreeMap, HashMap};

use crate::analytics::local_day_sql;
use crate::analytics::period::{bucket_index, parse_day, Bucket, Period, Span};
use crate::analytics::zone;
use crate::platform::db::Db;
use crate::platform::error::Result;
use crate::platform::report::percent;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{json, Value as Json};

/// The figures of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Counted messages.
    pub messages: i64,
    /// Counted reactions.
    pub reactions: i64,
    /// People who wrote or reacted.
    pub active_members: i64,
    /// Chats with a counted message (workspace series only).
    pub active_chats: i64,
    /// Chats created (workspace series only).
    pub new_chats: i64,
    /// People whose account existed in the bucket.
    pub members: i64,
}

impl Figures {
    fn render(&self, span: &Span, workspace: bool) -> Json {
        let mut v = span.render();
        v["messages"] = json!(self.messages);
        v["reactions"] = json!(self.reactions);
        v["active_members"] = json!(self.active_members);
        if workspace {
            v["active_chats"] = json!(self.active_chats);
            v["new_chats"] = json!(self.new_chats);
        }
        v["members"] = json!(self.members);
        v["engagement_rate"] = json!(percent(self.active_members, self.members));
        v
    }
}

/// How many people's accounts were created and deleted on each local day,
/// per department: members of a bucket are those created by its end and
/// not deleted before its start.
#[derive(Debug, Default)]
struct Headcount {
    /// (day, count) created, ascending.
    created: Vec<(Date, i64)>,
    /// (day, count) deleted, ascending.
    deleted: Vec<(Date, i64)>,
}

impl Headcount {
    fn members(&self, span: &Span) -> i64 {
        let created: i64 = self
            .created
            .iter()
            .take_while(|(d, _)| *d <= span.end)
            .map(|(_, n)| n)
            .sum();
        let deleted: i64 = self
            .deleted
            .iter()
            .take_while(|(d, _)| *d < span.start)
            .map(|(_, n)| n)
            .sum();
        created - deleted
    }
}

/// People's headcount by department (`None`: no department).
fn headcounts(db: &dyn Db) -> Result<BTreeMap<Option<String>, Headcount>> {
    let mut out: BTreeMap<Option<String>, Headcount> = BTreeMap::new();
    for (column, deleted) in [("created_at", false), ("deleted_at", true)] {
        let day = local_day_sql(column);
        let rows = db.query(
            &format!(
                "SELECT department, {day} AS d, count(*) FROM users \
                 WHERE bot = 0 AND {column} IS NOT NULL GROUP BY department, d ORDER BY d"
            ),
            &[],
        )?;
        for r in rows {
            let department = r.opt_string(0)?.filter(|d| !d.is_empty());
            let h = out.entry(department).or_default();
            let item = (parse_day(&r.string(1)?)?, r.i64(2)?);
            if deleted {
                h.deleted.push(item);
            } else {
                h.created.push(item);
            }
        }
    }
    Ok(out)
}

/// The workspace's headcount: every department's together.
fn total_headcount(by_department: &BTreeMap<Option<String>, Headcount>) -> Headcount {
    let mut created: BTreeMap<Date, i64> = BTreeMap::new();
    let mut deleted: BTreeMap<Date, i64> = BTreeMap::new();
    for h in by_department.values() {
        for (d, n) in &h.created {
            *created.entry(*d).or_default() += n;
        }
        for (d, n) in &h.deleted {
            *deleted.entry(*d).or_default() += n;
        }
    }
    Headcount {
        created: created.into_iter().collect(),
        deleted: deleted.into_iter().collect(),
    }
}

/// `GET /analytics/activity`: see the module doc. `period` is widened to
/// whole buckets.
pub fn series(
    db: &dyn Db,
    tz: &TimeZone,
    period: Period,
    bucket: Bucket,
    by_department: bool,
) -> Result<Json> {
    let p = period.widened(bucket);
    let spans = p.buckets(bucket)?;
    let (from, to) = (p.from.to_string(), p.to.to_string());
    let mut figures = vec![Figures::default(); spans.len()];

    let sums = db.query(
        "SELECT day, sum(messages), sum(reactions) FROM analytics_department_days \
         WHERE day BETWEEN ? AND ? GROUP BY day",
        &[from.as_str().into(), to.as_str().into()],
    )?;
    for r in sums {
        if let Some(i) = bucket_index(&spans, parse_day(&r.string(0)?)?) {
            figures[i].messages += r.i64(1)?;
            figures[i].reactions += r.i64(2)?;
        }
    }
    let active = db.query(
        "SELECT start, sum(members) FROM analytics_period_members \
         WHERE kind = ? AND start BETWEEN ? AND ? GROUP BY start",
        &[
            bucket.as_str().into(),
            from.as_str().into(),
            to.as_str().into(),
        ],
    )?;
    for r in active {
        if let Some(i) = bucket_index(&spans, parse_day(&r.string(0)?)?) {
            figures[i].active_members = r.i64(1)?;
        }
    }
    // Active chats: a day's are its chats with a writer (a partial index
    // holds just those); a week's or month's are its rows.
    let chats = match bucket {
        Bucket::Day => db.query(
            "SELECT day, count(*) FROM analytics_chat_days \
             WHERE day BETWEEN ? AND ? AND message_authors > 0 GROUP BY day",
            &[from.as_str().into(), to.as_str().into()],
        )?,
        Bucket::Week | Bucket::Month => db.query(
            "SELECT start, count(*) FROM analytics_chat_periods \
             WHERE kind = ? AND start BETWEEN ? AND ? GROUP BY start",
            &[
                bucket.as_str().into(),
                from.as_str().into(),
                to.as_str().into(),
            ],
        )?,
    };
    for r in chats {
        if let Some(i) = bucket_index(&spans, parse_day(&r.string(0)?)?) {
            figures[i].active_chats = r.i64(1)?;
        }
    }
    let new_chats = db.query(
        &format!(
            "SELECT {} AS d, count(*) FROM chats c \
             WHERE c.personal = 0 AND c.created_at >= ? \
             AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id AND t.message_id IS NOT NULL) \
             GROUP BY d",
            local_day_sql("c.created_at")
        ),
        &[zone::start_of(tz, p.from)?.to_string().into()],
    )?;
    for r in new_chats {
        if let Some(i) = bucket_index(&spans, parse_day(&r.string(0)?)?) {
            figures[i].new_chats += r.i64(1)?;
        }
    }
    let heads = headcounts(db)?;
    let total = total_headcount(&heads);
    for (f, span) in figures.iter_mut().zip(&spans) {
        f.members = total.members(span);
    }

    let mut data = json!({
        "bucket": bucket.as_str(),
        "series": figures.iter().zip(&spans).map(|(f, s)| f.render(s, true)).collect::<Vec<_>>(),
    });
    p.render_into(&mut data);
    if by_department {
        data["departments"] = departments(db, &spans, &p, bucket, &heads)?;
    }
    Ok(data)
}

/// The per-department series of [`series`].
fn departments(
    db: &dyn Db,
    spans: &[Span],
    p: &Period,
    bucket: Bucket,
    heads: &BTreeMap<Option<String>, Headcount>,
) -> Result<Json> {
    let (from, to) = (p.from.to_string(), p.to.to_string());
    let mut figures: HashMap<Option<String>, Vec<Figures>> = heads
        .keys()
        .map(|k| (k.clone(), vec![Figures::default(); spans.len()]))
        .collect();
    let blank = vec![Figures::default(); spans.len()];
    let sums = db.query(
        "SELECT day, department, messages, reactions FROM analytics_department_days \
         WHERE day BETWEEN ? AND ?",
        &[from.as_str().into(), to.as_str().into()],
    )?;
    for r in sums {
        let Some(i) = bucket_index(spans, parse_day(&r.string(0)?)?) else {
            continue;
        };
        let name = Some(r.string(1)?).filter(|d| !d.is_empty());
        let f = &mut figures.entry(name).or_insert_with(|| blank.clone())[i];
        f.messages += r.i64(2)?;
        f.reactions += r.i64(3)?;
    }
    let active = db.query(
        "SELECT start, department, members FROM analytics_period_members \
         WHERE kind = ? AND start BETWEEN ? AND ?",
        &[
            bucket.as_str().into(),
            from.as_str().into(),
            to.as_str().into(),
        ],
    )?;
    for r in active {
        let Some(i) = bucket_index(spans, parse_day(&r.string(0)?)?) else {
            continue;
        };
        let name = Some(r.string(1)?).filter(|d| !d.is_empty());
        figures.entry(name).or_insert_with(|| blank.clone())[i].active_members = r.i64(2)?;
    }
    let mut names: Vec<Option<String>> = figures.keys().cloned().collect();
    // Named departments by name, then people without one.
    names.sort_by(|a, b| match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let none = Headcount::default();
    Ok(Json::Array(
        names
            .into_iter()
            .map(|name| {
                let h = heads.get(&name).unwrap_or(&none);
                let series: Vec<Json> = figures
                    .get(&name)
                    .unwrap_or(&blank)
                    .iter()
                    .zip(spans)
                    .map(|(f, s)| {
                        let mut f = *f;
                        f.members = h.members(s);
                        f.render(s, false)
                    })
                    .collect();
                json!({"department": name, "series": series})
            })
            .collect(),
    ))
}
