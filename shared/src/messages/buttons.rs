//! Message buttons (`guides/buttons.md`): rows of URL and data buttons with
//! their limits, and presses of data buttons ([`click`]).

use crate::auth::Principal;
use crate::messages::access;
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::random;
use crate::platform::time;
use crate::platform::validate::{show, Fields};
use serde_json::{json, Map, Value as Json};

/// At most this many rows of buttons (`guides/buttons.md`).
pub const BUTTON_ROWS_MAX: usize = 32;

/// At most this many buttons in one message (`MessageCreateRequest.buttons`).
pub const BUTTONS_MAX: usize = 100;

/// `maxLength` of a button's `text` and `data`.
pub const BUTTON_FIELD_MAX: usize = 255;

/// Validates `buttons` (rows of `Button`): at most [`BUTTON_ROWS_MAX`] rows
/// and [`BUTTONS_MAX`] buttons, no empty row, each button with a non-blank
/// `text` and exactly one of an `http(s)` `url` or a `data` string, `text`
/// and `data` within [`BUTTON_FIELD_MAX`] characters. Returns the normalised
/// rows, or `None` for an empty list (no buttons). Errors are recorded on
/// `f` under `buttons.ROW.COL.FIELD`.
pub fn parse_buttons(f: &mut Fields<'_>, raw: &Json) -> Option<Json> {
    let Some(rows) = raw.as_array() else {
        f.fail(
            "buttons",
            ErrorCode::Invalid,
            show(raw),
            "must be an array of rows",
        );
        return None;
    };
    if rows.len() > BUTTON_ROWS_MAX {
        f.fail(
            "buttons",
            ErrorCode::TooLong,
            None,
            &format!("at most {BUTTON_ROWS_MAX} rows of buttons"),
        );
        return None;
    }
    let total: usize = rows.iter().filter_map(Json::as_array).map(Vec::len).sum();
    if total > BUTTONS_MAX {
        f.fail(
            "buttons",
            ErrorCode::TooLong,
            None,
            &format!("at most {BUTTONS_MAX} buttons per message"),
        );
        return None;
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut ok = true;
    for (r, row) in rows.iter().enumerate() {
        let rk = format!("buttons.{r}");
        let Some(items) = row.as_array().filter(|a| !a.is_empty()) else {
            f.fail(
                &rk,
                ErrorCode::Invalid,
                show(row),
                "must be a non-empty array of buttons",
            );
            ok = false;
            continue;
        };
        let mut line = Vec::with_capacity(items.len());
        for (c, item) in items.iter().enumerate() {
            let bk = format!("{rk}.{c}");
            let Some(obj) = item.as_object() else {
                f.fail(&bk, ErrorCode::Invalid, show(item), "must be an object");
                ok = false;
                continue;
            };
            match parse_button(obj, &f.key(&bk)) {
                Ok(b) => line.push(b),
                Err(Error::Unprocessable(errs)) => {
                    for e in errs {
                        f.push(e);
                    }
                    ok = false;
                }
                Err(_) => ok = false,
            }
        }
        out.push(Json::Array(line));
    }
    if !ok || out.is_empty() {
        return None;
    }
    Some(Json::Array(out))
}

fn parse_button(obj: &Map<String, Json>, prefix: &str) -> Result<Json> {
    let mut g = Fields::new(obj, prefix);
    let text = g.required_string("text", Some(BUTTON_FIELD_MAX));
    let url = g.string("url", None).filter(|s| !s.is_empty());
    let data = g
        .string("data", Some(BUTTON_FIELD_MAX))
        .filter(|s| !s.is_empty());
    if let Some(u) = &url {
        let lower = u.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
            g.fail(
                "url",
                ErrorCode::Invalid,
                Some(u.clone()),
                "must be an http(s) URL",
            );
        }
    }
    match (&url, &data) {
        (Some(_), Some(_)) => g.fail(
            "data",
            ErrorCode::Invalid,
            data.clone(),
            "a button has either url or data, not both",
        ),
        (None, None) if !g.has_errors() => g.fail(
            "url",
            ErrorCode::Blank,
            None,
            "a button needs a url or data",
        ),
        _ => {}
    }
    g.finish()?;
    let mut b = json!({"text": text});
    if let Some(u) = url {
        b["url"] = json!(u);
    }
    if let Some(d) = data {
        b["data"] = json!(d);
    }
    Ok(b)
}

/// A trigger id: 16 random bytes in the 8-4-4-4-12 hex form of the guide's
/// example.
fn new_trigger_id() -> Result<String> {
    let b = hex::encode(random::bytes::<16>()?);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &b[..8],
        &b[8..12],
        &b[12..16],
        &b[16..20],
        &b[20..]
    ))
}

/// The `data` of a press, from `{"data": "..."}`.
pub fn parse_click(body: &Json) -> Result<String> {
    let mut f = Fields::new(crate::platform::validate::object(body)?, "");
    let data = f.required_string("data", Some(BUTTON_FIELD_MAX));
    f.finish()?;
    Ok(data.unwrap_or_default())
}

/// `POST /messages/{id}/button_clicks` (extension): whoever may read the
/// message presses its data button `data`. The press is recorded (who,
/// when, which button) with a fresh trigger id, and the message's bot
/// receives `button_click` (`guides/buttons.md`) whatever its
/// `ignore_self_messages` says; the answer carries the trigger id.
/// 404 for a message the caller cannot read, 422 when no data button of the
/// message has this `data`.
pub fn click(db: &dyn Db, p: &Principal, message_id: i64, data: &str) -> Result<Json> {
    let m = access::readable(db, p, message_id)?;
    let rows: Json = m
        .buttons_json
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Json::Null);
    let pressed = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_array)
        .flatten()
        .any(|b| b["data"].as_str() == Some(data));
    if !pressed {
        return Err(Error::invalid(
            "data",
            ErrorCode::NotFound,
            Some(data.to_owned()),
            "The message has no data button with this data",
        ));
    }
    let trigger_id = new_trigger_id()?;
    let now = time::now().to_string();
    let click = json!({
        "trigger_id": trigger_id,
        "message_id": m.id,
        "data": data,
        "user_id": p.user_id,
        "chat_id": m.chat_id,
        "created_at": now,
    });
    transaction(db, |db| -> Result<()> {
        db.execute(
            "INSERT INTO button_clicks (message_id, chat_id, user_id, data, trigger_id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
            &[
                m.id.into(),
                m.chat_id.into(),
                p.user_id.into(),
                data.to_owned().into(),
                trigger_id.clone().into(),
                now.clone().into(),
            ],
        )?;
        events::record(
            db,
            &Event {
                kind: events::BUTTON,
                event: "click",
                entity_type: "Message",
                entity_id: m.id,
                actor: Some(p.user_id),
                payload: click.clone(),
            },
        )?;
        Ok(())
    })?;
    Ok(click)
}
