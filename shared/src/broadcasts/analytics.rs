//! The numbers of one broadcast, its recipients by state, and their CSV.
//!
//! Definitions (also in our OpenAPI):
//! * **recipients**: the frozen audience; **delivered**: those whose
//!   message is stored (someone suspended or deleted before their batch is
//!   passed over).
//! * **read**: the recipient's read position in the personal chat reached
//!   the broadcast's message (`read_member_ids` says the same); `read_at`
//!   is when it first did. **unread**: delivered and not read.
//! * **reacted**: the recipient put at least one reaction on it;
//!   **clicked**: pressed at least one of its data buttons (a poll's vote;
//!   every button a recipient pressed counts for them once).
//! * **replied**: the recipient wrote in the personal chat after it.
//! * Percentages are of the delivered messages (delivered itself: of the
//!   recipients), with one decimal; time to read is `read_at` minus the
//!   delivery time, p50 and p90 by nearest rank, in seconds.
//!
//! Read and reply times are kept by triggers as they happen (migration
//! 0011), so the numbers read only the broadcast's own rows plus an index
//! probe per message for reactions and clicks.

use std::collections::{BTreeMap, HashMap};

use crate::platform::db::{Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::pagination::{id_page, Cursor};
use crate::platform::report::{csv_document, percent, percentile};
use crate::platform::time::Timestamp;
use serde_json::{json, Value as Json};

use super::Broadcast;

/// Which recipients a list or CSV shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientFilter {
    /// Everyone in the audience.
    All,
    /// No message (yet, or passed over).
    Undelivered,
    /// Delivered, not read.
    Unread,
    /// Read.
    Read,
    /// Reacted.
    Reacted,
    /// Pressed any data button (`None`) or the one with this `data`.
    Clicked(Option<String>),
    /// Wrote back.
    Replied,
}

impl RecipientFilter {
    /// Parses `state`: `unread`, `read`, `reacted`, `clicked`,
    /// `clicked:<data>`, `replied`, `undelivered`, or nothing for all. 400
    /// `inclusion` otherwise.
    pub fn parse(raw: Option<&str>) -> Result<RecipientFilter> {
        Ok(match raw.unwrap_or("") {
            "" | "all" => RecipientFilter::All,
            "undelivered" => RecipientFilter::Undelivered,
            "unread" => RecipientFilter::Unread,
            "read" => RecipientFilter::Read,
            "reacted" => RecipientFilter::Reacted,
            "clicked" => RecipientFilter::Clicked(None),
            "replied" => RecipientFilter::Replied,
            other => match other.strip_prefix("clicked:") {
                Some(data) if !data.is_empty() => RecipientFilter::Clicked(Some(data.to_owned())),
                _ => {
                    return Err(Error::bad_request(
                        "state",
                        ErrorCode::Inclusion,
                        Some(other.to_owned()),
                        "state must be one of all, undelivered, unread, read, reacted, clicked, clicked:<data>, replied",
                    ))
                }
            },
        })
    }

    /// The condition on `r` (a `broadcast_recipients` row) and its parameters.
    fn condition(&self) -> (&'static str, Vec<Value>) {
        match self {
            RecipientFilter::All => ("1 = 1", Vec::new()),
            RecipientFilter::Undelivered => ("r.message_id IS NULL", Vec::new()),
            RecipientFilter::Unread => ("r.message_id IS NOT NULL AND r.read_at IS NULL", Vec::new()),
            RecipientFilter::Read => ("r.read_at IS NOT NULL", Vec::new()),
            RecipientFilter::Reacted => (
                "EXISTS (SELECT 1 FROM reactions x WHERE x.message_id = r.message_id AND x.user_id = r.user_id)",
                Vec::new(),
            ),
            RecipientFilter::Clicked(None) => (
                "EXISTS (SELECT 1 FROM button_clicks c WHERE c.message_id = r.message_id AND c.user_id = r.user_id)",
                Vec::new(),
            ),
            RecipientFilter::Clicked(Some(data)) => (
                "EXISTS (SELECT 1 FROM button_clicks c WHERE c.message_id = r.message_id \
                 AND c.user_id = r.user_id AND c.data = ?)",
                vec![data.as_str().into()],
            ),
            RecipientFilter::Replied => ("r.replied_at IS NOT NULL", Vec::new()),
        }
    }
}

fn count_and_percent(count: i64, of: i64) -> Json {
    json!({"count": count, "percent": percent(count, of)})
}

fn one_i64(db: &dyn Db, sql: &str, id: i64) -> Result<i64> {
    Ok(db
        .query_row(sql, &[id.into()])?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0))
}

/// The data buttons of a broadcast's message, in order: `(data, text)`.
fn data_buttons(b: &Broadcast) -> Vec<(String, String)> {
    let rows: Json = b
        .buttons_json
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Json::Null);
    rows.as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_array)
        .flatten()
        .filter_map(|button| {
            let data = button["data"].as_str()?;
            Some((
                data.to_owned(),
                button["text"].as_str().unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

/// `GET /broadcasts/{id}/analytics`: see the module doc.
pub fn stats(db: &dyn Db, b: &Broadcast) -> Result<Json> {
    let id = b.id;
    let totals = db
        .query_row(
            "SELECT count(*), count(message_id), count(read_at), count(replied_at) \
             FROM broadcast_recipients WHERE broadcast_id = ?",
            &[id.into()],
        )?
        .ok_or_else(|| Error::Internal("count returned no row".into()))?;
    let (recipients, delivered, read, replied) = (
        totals.i64(0)?,
        totals.i64(1)?,
        totals.i64(2)?,
        totals.i64(3)?,
    );
    let reacted = one_i64(
        db,
        "SELECT count(DISTINCT x.user_id) FROM broadcast_recipients r \
         JOIN reactions x ON x.message_id = r.message_id AND x.user_id = r.user_id WHERE r.broadcast_id = ?",
        id,
    )?;
    let clicked = one_i64(
        db,
        "SELECT count(DISTINCT c.user_id) FROM broadcast_recipients r \
         JOIN button_clicks c ON c.message_id = r.message_id AND c.user_id = r.user_id WHERE r.broadcast_id = ?",
        id,
    )?;
    let reactions = db
        .query(
            "SELECT x.code, count(*) FROM broadcast_recipients r \
             JOIN reactions x ON x.message_id = r.message_id AND x.user_id = r.user_id \
             WHERE r.broadcast_id = ? GROUP BY x.code ORDER BY count(*) DESC, x.code",
            &[id.into()],
        )?
        .iter()
        .map(|r| {
            let n = r.i64(1)?;
            let mut v = count_and_percent(n, delivered);
            v["code"] = json!(r.string(0)?);
            Ok(v)
        })
        .collect::<Result<Vec<Json>>>()?;
    let mut clicks: HashMap<String, i64> = HashMap::new();
    for r in db.query(
        "SELECT c.data, count(DISTINCT c.user_id) FROM broadcast_recipients r \
         JOIN button_clicks c ON c.message_id = r.message_id AND c.user_id = r.user_id \
         WHERE r.broadcast_id = ? GROUP BY c.data",
        &[id.into()],
    )? {
        clicks.insert(r.string(0)?, r.i64(1)?);
    }
    let buttons: Vec<Json> = data_buttons(b)
        .into_iter()
        .map(|(data, text)| {
            let mut v = count_and_percent(clicks.get(&data).copied().unwrap_or(0), delivered);
            v["data"] = json!(data);
            v["text"] = json!(text);
            v
        })
        .collect();
    let mut seconds = Vec::with_capacity(usize::try_from(read).unwrap_or(0));
    for r in db.query(
        "SELECT delivered_at, read_at FROM broadcast_recipients \
         WHERE broadcast_id = ? AND read_at IS NOT NULL AND delivered_at IS NOT NULL",
        &[id.into()],
    )? {
        let (Some(from), Some(to)) = (
            Timestamp::parse(&r.string(0)?),
            Timestamp::parse(&r.string(1)?),
        ) else {
            continue;
        };
        seconds.push((to.0 - from.0).max(0));
    }
    seconds.sort_unstable();
    let secs = |p| percentile(&seconds, p).map(|ms| ms as f64 / 1000.0);
    Ok(json!({
        "broadcast_id": id,
        "state": b.state,
        "recipients": recipients,
        "delivered": count_and_percent(delivered, recipients),
        "read": count_and_percent(read, delivered),
        "unread": count_and_percent(delivered - read, delivered),
        "reacted": count_and_percent(reacted, delivered),
        "clicked": count_and_percent(clicked, delivered),
        "replied": count_and_percent(replied, delivered),
        "reactions": reactions,
        "buttons": buttons,
        "time_to_read": {"p50_seconds": secs(50), "p90_seconds": secs(90)},
    }))
}

/// One recipient as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    /// User id.
    pub user_id: i64,
    /// Nickname.
    pub nickname: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Their personal chat with the sender.
    pub chat_id: Option<i64>,
    /// Their message.
    pub message_id: Option<i64>,
    /// When it was stored.
    pub delivered_at: Option<String>,
    /// When they read it.
    pub read_at: Option<String>,
    /// When they first wrote back.
    pub replied_at: Option<String>,
    /// Reactions they put on it.
    pub reactions: Vec<String>,
    /// `data` of the buttons they pressed.
    pub clicked: Vec<String>,
}

impl Recipient {
    /// `undelivered`, `unread` or `read`.
    pub fn state(&self) -> &'static str {
        match (&self.message_id, &self.read_at) {
            (None, _) => "undelivered",
            (Some(_), None) => "unread",
            (Some(_), Some(_)) => "read",
        }
    }

    /// As listed by `GET /broadcasts/{id}/recipients`.
    pub fn to_json(&self) -> Json {
        json!({
            "user_id": self.user_id,
            "nickname": self.nickname,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "department": self.department,
            "state": self.state(),
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "delivered_at": self.delivered_at,
            "read_at": self.read_at,
            "replied_at": self.replied_at,
            "reactions": self.reactions,
            "clicked": self.clicked,
        })
    }
}

fn recipient_row(r: &Row) -> Result<Recipient> {
    Ok(Recipient {
        user_id: r.i64(0)?,
        nickname: r.string(1)?,
        first_name: r.opt_string(2)?,
        last_name: r.opt_string(3)?,
        email: r.opt_string(4)?,
        department: r.opt_string(5)?,
        chat_id: r.opt_i64(6)?,
        message_id: r.opt_i64(7)?,
        delivered_at: r.opt_string(8)?,
        read_at: r.opt_string(9)?,
        replied_at: r.opt_string(10)?,
        reactions: Vec::new(),
        clicked: Vec::new(),
    })
}

/// The recipients of broadcast `id` that `cond` (SQL on `r`, with
/// `params`) selects, by user id, with their reactions and presses.
fn load_recipients(db: &dyn Db, id: i64, cond: &str, extra: Vec<Value>) -> Result<Vec<Recipient>> {
    let mut sql = format!(
        "SELECT r.user_id, u.nickname, u.first_name, u.last_name, u.email, u.department, r.chat_id, \
         r.message_id, r.delivered_at, r.read_at, r.replied_at \
         FROM broadcast_recipients r JOIN users u ON u.id = r.user_id WHERE r.broadcast_id = ? AND {cond}"
    );
    let mut params: Vec<Value> = vec![id.into()];
    params.extend(extra);
    sql.push_str(" ORDER BY r.user_id");
    let mut list = db
        .query(&sql, &params)?
        .iter()
        .map(recipient_row)
        .collect::<Result<Vec<Recipient>>>()?;
    let messages: Vec<i64> = list.iter().filter_map(|r| r.message_id).collect();
    if messages.is_empty() {
        return Ok(list);
    }
    let at: HashMap<i64, usize> = list
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.message_id.map(|m| (m, i)))
        .collect();
    let ids = Value::id_array(&messages);
    let mut attach = |sql: &str, reactions: bool| -> Result<()> {
        let mut seen: BTreeMap<(usize, String), ()> = BTreeMap::new();
        for row in db.query(sql, std::slice::from_ref(&ids))? {
            let (message, user, value) = (row.i64(0)?, row.i64(1)?, row.string(2)?);
            let Some(&i) = at.get(&message) else { continue };
            if list[i].user_id != user || seen.insert((i, value.clone()), ()).is_some() {
                continue;
            }
            if reactions {
                list[i].reactions.push(value);
            } else {
                list[i].clicked.push(value);
            }
        }
        Ok(())
    };
    attach(
        "SELECT message_id, user_id, code FROM reactions \
         WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        true,
    )?;
    attach(
        "SELECT message_id, user_id, data FROM button_clicks \
         WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        false,
    )?;
    Ok(list)
}

/// `GET /broadcasts/{id}/recipients`: one page, by user id.
pub fn recipients(
    db: &dyn Db,
    b: &Broadcast,
    filter: &RecipientFilter,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let (cond, extra) = filter.condition();
    let mut params: Vec<Value> = vec![b.id.into()];
    params.extend(extra);
    let page = id_page(
        db,
        &format!("FROM broadcast_recipients r WHERE r.broadcast_id = ? AND {cond}"),
        "r.user_id",
        &params,
        limit,
        cursor,
    )?;
    let list = load_recipients(
        db,
        b.id,
        "r.user_id IN (SELECT value FROM json_each(?))",
        vec![Value::id_array(&page.ids)],
    )?;
    Ok((list.iter().map(Recipient::to_json).collect(), page.meta()))
}

/// `GET /broadcasts/{id}/recipients.csv`: every recipient the filter
/// selects, as UTF-8 CSV with a byte-order mark (so spreadsheets open
/// Cyrillic names correctly) and a header row.
pub fn csv(db: &dyn Db, b: &Broadcast, filter: &RecipientFilter) -> Result<Vec<u8>> {
    let (cond, extra) = filter.condition();
    let list = load_recipients(db, b.id, cond, extra)?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    csv_document(
        &[
            "user_id",
            "nickname",
            "first_name",
            "last_name",
            "email",
            "department",
            "state",
            "delivered_at",
            "read_at",
            "replied_at",
            "reactions",
            "clicked",
        ],
        list.iter().map(|r| {
            [
                r.user_id.to_string(),
                r.nickname.clone(),
                text(&r.first_name),
                text(&r.last_name),
                text(&r.email),
                text(&r.department),
                r.state().to_owned(),
                text(&r.delivered_at),
                text(&r.read_at),
                text(&r.replied_at),
                r.reactions.join(" "),
                r.clicked.join(" "),
            ]
        }),
    )
}
