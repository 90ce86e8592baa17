//! Forms (`guides/forms-overview.md`, `forms-blocks.md`, `forms-handling.md`).
//!
//! A user presses a data button of a bot's message; the bot receives
//! `button_click` with a `trigger_id` and, within [`TRIGGER_TTL_MS`], opens a
//! view for that user with `POST /views/open` (official). The user reads the
//! view and submits it through our extension (`GET /views`, `GET
//! /views/{id}`, `POST /views/{id}/submit`). The submission is checked
//! against the view's blocks (required fields, lengths, the offered options,
//! date and time formats, file counts and types), then sent to the bot
//! **synchronously** as `view_submission` (`ViewSubmitWebhookPayload`,
//! signed like every webhook), and the bot's answer, within
//! [`ANSWER_TIMEOUT_MS`], decides:
//!
//! * any 2xx closes the view (200 with the closed view);
//! * 400 with `{"errors": {"<name>": "<text>"}}` keeps it open and shows the
//!   errors: 422 `ApiError` entries keyed `data.<name>` with the bot's text
//!   (at most 2,000 characters), also kept on the view for `GET`;
//! * anything else (no answer in time, another status, no webhook URL) is
//!   502: the values are kept on the view and the user submits again.
//!
//! A trigger opens one view; only the bot whose message was pressed may use
//! it, and only the user who pressed sees and submits the view (404 to
//! anyone else). `private_metadata` and `callback_id` go back to the bot and
//! are never shown to the user.

use serde_json::{json, Map, Value as Json};

use crate::auth::Principal;
use crate::platform::db::{transaction, Db};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::time::{self, Timestamp};
use crate::platform::validate::{self, Fields};
use crate::webhooks::delivery::{self, Outcome, OutgoingWebhook, Transport};

/// How long a `trigger_id` opens a view after the press.
pub const TRIGGER_TTL_MS: i64 = 3_000;
/// How long the bot has to answer a submission.
pub const ANSWER_TIMEOUT_MS: u64 = 3_000;
/// Most blocks in a view.
const BLOCKS_MAX: usize = 100;
/// Longest error text of the bot's shown per field.
const ERROR_TEXT_MAX: usize = 2_000;

/// The block types of `forms-blocks.md`.
const BLOCK_TYPES: &[&str] = &[
    "header",
    "plain_text",
    "markdown",
    "divider",
    "input",
    "select",
    "radio",
    "checkbox",
    "date",
    "time",
    "file_input",
];

/// A validated `POST /views/open` body.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenView {
    /// The press this view answers.
    pub trigger_id: String,
    /// Sent back to the bot with the submission.
    pub private_metadata: Option<String>,
    /// Sent back to the bot with the submission.
    pub callback_id: Option<String>,
    /// The view as stored: title, close and submit texts, blocks.
    pub view: Json,
}

/// Reads an option list (`select`, `radio`, `checkbox`): at most `max`
/// options of `text` (75) and `value` (150), `description` (75) where the
/// type has one, and at most one pre-selected where only one can be.
fn options(f: &mut Fields<'_>, kind: &str, max: usize) -> Vec<Json> {
    let Some(items) = f.array("options") else {
        return Vec::new();
    };
    if items.len() > max {
        f.fail(
            "options",
            ErrorCode::TooLong,
            None,
            &format!("has too many options (maximum is {max})"),
        );
        return Vec::new();
    }
    let flag = if kind == "checkbox" {
        "checked"
    } else {
        "selected"
    };
    let mut out = Vec::new();
    let mut values = std::collections::HashSet::new();
    let mut preset = 0;
    for (i, item) in items.iter().enumerate() {
        let key = f.key(&format!("options.{i}"));
        let Some(obj) = item.as_object() else {
            f.push(FieldError::new(
                key,
                ErrorCode::Invalid,
                validate::show(item),
                "must be an object",
            ));
            continue;
        };
        let mut o = Fields::new(obj, &key);
        let text = o.required_string("text", Some(75));
        let value = o.required_string("value", Some(150));
        let description = if kind == "select" {
            None
        } else {
            o.string("description", Some(75))
        };
        // The spec names the flag `checked` for checkboxes and `selected`
        // otherwise; the official SDK sends `checked` for radio options too.
        let on = o.bool(flag).or_else(|| o.bool("checked")).unwrap_or(false);
        if let Some(v) = &value {
            if !values.insert(v.clone()) {
                o.fail("value", ErrorCode::Taken, Some(v.clone()), "is repeated");
            }
        }
        preset += usize::from(on);
        let errors = o.into_errors();
        let ok = errors.is_empty();
        for e in errors {
            f.push(e);
        }
        if let (true, Some(text), Some(value)) = (ok, text, value) {
            let mut option = json!({"text": text, "value": value, flag: on});
            if let Some(d) = description {
                option["description"] = json!(d);
            }
            out.push(option);
        }
    }
    if kind != "checkbox" && preset > 1 {
        f.fail(
            "options",
            ErrorCode::Invalid,
            None,
            "only one option can be selected",
        );
    }
    out
}

/// Reads one block into its stored form (unknown fields dropped).
fn block(f: &mut Fields<'_>) -> Option<Json> {
    let kind = f.enumeration("type", BLOCK_TYPES);
    if kind.is_none() && !f.present("type") {
        f.fail("type", ErrorCode::Blank, None, "can't be blank");
    }
    let kind = kind?;
    let mut b = json!({"type": kind});
    match kind {
        "divider" => {}
        "header" | "plain_text" | "markdown" => {
            let max = if kind == "header" { 150 } else { 12_000 };
            b["text"] = json!(f.required_string("text", Some(max))?);
        }
        _ => {
            b["name"] = json!(f.required_string("name", Some(255))?);
            b["label"] = json!(f.required_string("label", Some(150))?);
            b["required"] = json!(f.bool("required").unwrap_or(false));
            if let Some(hint) = f.string("hint", Some(2_000)) {
                b["hint"] = json!(hint);
            }
        }
    }
    match kind {
        "input" => {
            if let Some(p) = f.string("placeholder", Some(150)) {
                b["placeholder"] = json!(p);
            }
            b["multiline"] = json!(f.bool("multiline").unwrap_or(false));
            if let Some(v) = f.string("initial_value", Some(3_000)) {
                b["initial_value"] = json!(v);
            }
            let min = f.i64("min_length");
            let max = f.i64("max_length");
            if min.is_some_and(|n| !(0..=3_000).contains(&n)) {
                f.fail("min_length", ErrorCode::Invalid, None, "must be 0 to 3000");
            }
            if max.is_some_and(|n| !(1..=3_000).contains(&n)) {
                f.fail("max_length", ErrorCode::Invalid, None, "must be 1 to 3000");
            }
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    f.fail(
                        "min_length",
                        ErrorCode::Invalid,
                        Some(lo.to_string()),
                        "must not exceed max_length",
                    );
                }
            }
            b["min_length"] = json!(min);
            b["max_length"] = json!(max);
        }
        "select" => b["options"] = json!(options(f, kind, 100)),
        "radio" | "checkbox" => b["options"] = json!(options(f, kind, 10)),
        "date" => {
            if let Some(d) = f.string("initial_date", None) {
                if !is_date(&d) {
                    f.fail(
                        "initial_date",
                        ErrorCode::Invalid,
                        Some(d),
                        "must be YYYY-MM-DD",
                    );
                    return None;
                }
                b["initial_date"] = json!(d);
            }
        }
        "time" => {
            if let Some(t) = f.string("initial_time", None) {
                if !is_time(&t) {
                    f.fail("initial_time", ErrorCode::Invalid, Some(t), "must be HH:mm");
                    return None;
                }
                b["initial_time"] = json!(t);
            }
        }
        "file_input" => {
            if let Some(types) = f.string_array("filetypes", Some(20)) {
                let types: Vec<String> = types
                    .iter()
                    .map(|t| t.trim_start_matches('.').to_lowercase())
                    .collect();
                b["filetypes"] = json!(types);
            }
            let max_files = f.i64("max_files").unwrap_or(10);
            if !(1..=10).contains(&max_files) {
                f.fail(
                    "max_files",
                    ErrorCode::Invalid,
                    Some(max_files.to_string()),
                    "must be 1 to 10",
                );
            }
            b["max_files"] = json!(max_files);
        }
        _ => {}
    }
    Some(b)
}

/// `YYYY-MM-DD`, a real date.
fn is_date(s: &str) -> bool {
    s.len() == 10 && Timestamp::parse(s).is_some()
}

/// `HH:mm`, 00:00 to 23:59.
fn is_time(s: &str) -> bool {
    let Some((h, m)) = s.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
}

/// Validates a `POST /views/open` body (`OpenViewRequest`): 400 for a body
/// that is not an object, 422 listing every field that breaks a rule, keyed
/// like `view.blocks.3.options.0.text`.
pub fn parse_open(body: &Json) -> Result<OpenView> {
    let obj = validate::object(body)?;
    let mut f = Fields::new(obj, "");
    if f.enumeration("type", &["modal"]).is_none() && !f.present("type") {
        f.fail("type", ErrorCode::Blank, None, "can't be blank");
    }
    let trigger_id = f.required_string("trigger_id", Some(255));
    let private_metadata = f.string("private_metadata", Some(3_000));
    let callback_id = f.string("callback_id", Some(255));
    let view = match obj.get("view") {
        Some(Json::Object(view)) => Some(view),
        Some(Json::Null) | None => {
            f.fail("view", ErrorCode::Blank, None, "can't be blank");
            None
        }
        Some(other) => {
            f.fail(
                "view",
                ErrorCode::Invalid,
                validate::show(other),
                "must be an object",
            );
            None
        }
    };
    let mut stored = None;
    if let Some(view) = view {
        let mut v = Fields::new(view, "view");
        let title = v.required_string("title", Some(24));
        let close_text = v.string("close_text", Some(24));
        let submit_text = v.string("submit_text", Some(24));
        let mut blocks = Vec::new();
        match v.array("blocks") {
            None if !v.present("blocks") || view.get("blocks").is_some_and(Json::is_null) => {
                v.fail("blocks", ErrorCode::Blank, None, "can't be blank");
            }
            None => {}
            Some(items) if items.len() > BLOCKS_MAX => v.fail(
                "blocks",
                ErrorCode::TooLong,
                None,
                &format!("has too many blocks (maximum is {BLOCKS_MAX})"),
            ),
            Some(items) => {
                let mut names = std::collections::HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let key = v.key(&format!("blocks.{i}"));
                    let Some(obj) = item.as_object() else {
                        v.push(FieldError::new(
                            key,
                            ErrorCode::Invalid,
                            validate::show(item),
                            "must be an object",
                        ));
                        continue;
                    };
                    let mut b = Fields::new(obj, &key);
                    let parsed = block(&mut b);
                    if let Some(name) = parsed.as_ref().and_then(|p| p["name"].as_str()) {
                        if !names.insert(name.to_owned()) {
                            b.fail(
                                "name",
                                ErrorCode::Taken,
                                Some(name.to_owned()),
                                "is used by another block of the view",
                            );
                        }
                    }
                    let errors = b.into_errors();
                    if errors.is_empty() {
                        blocks.extend(parsed);
                    }
                    for e in errors {
                        v.push(e);
                    }
                }
            }
        }
        let errors = v.into_errors();
        if errors.is_empty() {
            stored = title.map(|title| {
                json!({
                    "title": title,
                    "close_text": close_text.unwrap_or_else(|| "Отменить".into()),
                    "submit_text": submit_text.unwrap_or_else(|| "Отправить".into()),
                    "blocks": blocks,
                })
            });
        }
        for e in errors {
            f.push(e);
        }
    }
    f.finish()?;
    match (trigger_id, stored) {
        (Some(trigger_id), Some(view)) => Ok(OpenView {
            trigger_id,
            private_metadata,
            callback_id,
            view,
        }),
        _ => Err(Error::Internal("validated view incomplete".into())),
    }
}

fn trigger_error(code: ErrorCode, value: &str, message: &str) -> FieldError {
    FieldError::new("trigger_id", code, Some(value.to_owned()), message)
}

/// `POST /views/open`: opens `req.view` for the user whose press produced
/// `req.trigger_id`. 422 `trigger_not_found` when the trigger is unknown or
/// is not a press on one of the caller's messages, 410 `trigger_expired`
/// after [`TRIGGER_TTL_MS`], 422 `already_exists` when the trigger already
/// opened a view.
pub fn open(db: &dyn Db, p: &Principal, req: &OpenView) -> Result<()> {
    let not_found = || {
        Error::Unprocessable(vec![trigger_error(
            ErrorCode::TriggerNotFound,
            &req.trigger_id,
            "No button press has this trigger_id",
        )])
    };
    let press = db
        .query_row(
            "SELECT c.user_id, c.chat_id, c.created_at, m.user_id, \
                    EXISTS (SELECT 1 FROM views v WHERE v.trigger_id = c.trigger_id) \
             FROM button_clicks c JOIN messages m ON m.id = c.message_id WHERE c.trigger_id = ?",
            &[req.trigger_id.clone().into()],
        )?
        .ok_or_else(not_found)?;
    if press.i64(3)? != p.user_id {
        return Err(not_found());
    }
    let pressed_at = Timestamp::parse(&press.string(2)?).unwrap_or(Timestamp(0));
    let now = time::now();
    if now.0 - pressed_at.0 > TRIGGER_TTL_MS {
        return Err(Error::Gone(trigger_error(
            ErrorCode::TriggerExpired,
            &req.trigger_id,
            "The trigger_id is valid for 3 seconds after the press",
        )));
    }
    let taken = || {
        Error::Unprocessable(vec![trigger_error(
            ErrorCode::AlreadyExists,
            &req.trigger_id,
            "A view was already opened with this trigger_id",
        )])
    };
    if press.bool(4)? {
        return Err(taken());
    }
    let inserted = transaction(db, |db| {
        db.execute(
            "INSERT INTO views (trigger_id, bot_id, user_id, chat_id, callback_id, private_metadata, \
             view_json, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
            &[
                req.trigger_id.clone().into(),
                p.user_id.into(),
                press.i64(0)?.into(),
                press.opt_i64(1)?.into(),
                req.callback_id.clone().into(),
                req.private_metadata.clone().into(),
                req.view.to_string().into(),
                now.to_string().into(),
            ],
        )
        .map_err(Error::from)
    });
    match inserted {
        Err(Error::Db(e)) if e.is_unique_violation() => Err(taken()),
        other => other.map(|_| ()),
    }
}

/// One stored view.
struct ViewRow {
    id: i64,
    bot_id: i64,
    chat_id: Option<i64>,
    callback_id: Option<String>,
    private_metadata: Option<String>,
    view: Json,
    state: String,
    errors: Json,
    values: Json,
    created_at: String,
}

const VIEW_COLUMNS: &str = "id, bot_id, chat_id, callback_id, private_metadata, view_json, state, \
     errors_json, values_json, created_at";

fn view_row(r: &crate::platform::db::Row) -> Result<ViewRow> {
    let parse = |s: Option<String>| {
        s.and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Json::Null)
    };
    Ok(ViewRow {
        id: r.i64(0)?,
        bot_id: r.i64(1)?,
        chat_id: r.opt_i64(2)?,
        callback_id: r.opt_string(3)?,
        private_metadata: r.opt_string(4)?,
        view: parse(r.opt_string(5)?),
        state: r.string(6)?,
        errors: parse(r.opt_string(7)?),
        values: parse(r.opt_string(8)?),
        created_at: r.string(9)?,
    })
}

/// What the user sees of a view: never the bot's `private_metadata` or
/// `callback_id`.
fn render(v: &ViewRow) -> Json {
    json!({
        "id": v.id,
        "bot_id": v.bot_id,
        "chat_id": v.chat_id,
        "state": v.state,
        "title": v.view["title"],
        "close_text": v.view["close_text"],
        "submit_text": v.view["submit_text"],
        "blocks": v.view["blocks"],
        "errors": v.errors,
        "values": v.values,
        "created_at": v.created_at,
    })
}

fn load(db: &dyn Db, p: &Principal, id: i64) -> Result<ViewRow> {
    db.query_row(
        &format!("SELECT {VIEW_COLUMNS} FROM views WHERE id = ? AND user_id = ?"),
        &[id.into(), p.user_id.into()],
    )?
    .map(|r| view_row(&r))
    .transpose()?
    .ok_or_else(|| Error::not_found("id", id))
}

/// `GET /views/{id}` (extension): a view opened for the caller.
pub fn get(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    Ok(render(&load(db, p, id)?))
}

/// `GET /views` (extension): the caller's open views, newest first (at
/// most 50: a view lives as long as the user keeps it open).
pub fn list(db: &dyn Db, p: &Principal) -> Result<Vec<Json>> {
    db.query(
        &format!(
            "SELECT {VIEW_COLUMNS} FROM views WHERE user_id = ? AND state = 'open' \
             ORDER BY id DESC LIMIT 50"
        ),
        &[p.user_id.into()],
    )?
    .iter()
    .map(|r| view_row(r).map(|v| render(&v)))
    .collect()
}

/// Checks submitted values against the view's blocks; returns them as
/// sent to the bot (only the fields of the view).
fn check_values(blocks: &[Json], data: &Map<String, Json>) -> Result<Json> {
    let mut errors = Vec::new();
    let mut fail = |name: &str, code: ErrorCode, value: Option<String>, message: &str| {
        errors.push(FieldError::new(
            format!("data.{name}"),
            code,
            value,
            message,
        ));
    };
    let mut out = Map::new();
    for name in data.keys() {
        if !blocks.iter().any(|b| b["name"].as_str() == Some(name)) {
            fail(name, ErrorCode::Invalid, None, "is not a field of the view");
        }
    }
    for b in blocks {
        let (Some(kind), Some(name)) = (b["type"].as_str(), b["name"].as_str()) else {
            continue;
        };
        let value = data.get(name).filter(|v| !v.is_null());
        let empty = match value {
            None => true,
            Some(Json::String(s)) => s.trim().is_empty(),
            Some(Json::Array(a)) => a.is_empty(),
            Some(_) => false,
        };
        if empty {
            if b["required"] == true {
                fail(name, ErrorCode::Blank, None, "can't be blank");
            }
            continue;
        }
        let Some(value) = value else { continue };
        let shown = validate::show(value);
        let offered = |v: &str| {
            b["options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o["value"].as_str() == Some(v)))
        };
        match (kind, value) {
            ("input", Json::String(s)) => {
                let n = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
                if b["min_length"].as_i64().is_some_and(|min| n < min) {
                    fail(name, ErrorCode::MinLength, shown, "is too short");
                } else if b["max_length"].as_i64().unwrap_or(3_000) < n {
                    fail(name, ErrorCode::MaxLength, shown, "is too long");
                }
            }
            ("select" | "radio", Json::String(s)) if !offered(s) => fail(
                name,
                ErrorCode::Inclusion,
                shown,
                "is not one of the options",
            ),
            ("checkbox", Json::Array(items))
                if !items.iter().all(|i| i.as_str().is_some_and(&offered)) =>
            {
                fail(
                    name,
                    ErrorCode::Inclusion,
                    shown,
                    "are not all among the options",
                )
            }
            ("date", Json::String(s)) if !is_date(s) => {
                fail(name, ErrorCode::Invalid, shown, "must be YYYY-MM-DD")
            }
            ("time", Json::String(s)) if !is_time(s) => {
                fail(name, ErrorCode::Invalid, shown, "must be HH:mm")
            }
            ("file_input", Json::Array(files)) => {
                let max = usize::try_from(b["max_files"].as_i64().unwrap_or(10)).unwrap_or(10);
                let types: Vec<&str> = b["filetypes"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                let well_formed = files.iter().all(|f| {
                    f["name"].as_str().is_some_and(|n| !n.is_empty())
                        && f["size"].as_i64().is_some()
                        && f["url"].as_str().is_some()
                });
                let typed = files.iter().all(|f| {
                    let ext = f["name"]
                        .as_str()
                        .and_then(|n| n.rsplit_once('.'))
                        .map(|(_, e)| e.to_lowercase())
                        .unwrap_or_default();
                    types.is_empty() || types.contains(&ext.as_str())
                });
                if !well_formed {
                    fail(
                        name,
                        ErrorCode::Invalid,
                        None,
                        "files must have name, size and url",
                    );
                } else if files.len() > max {
                    fail(
                        name,
                        ErrorCode::TooLong,
                        None,
                        &format!("at most {max} files"),
                    );
                } else if !typed {
                    fail(
                        name,
                        ErrorCode::Inclusion,
                        None,
                        "has a file of a type not accepted",
                    );
                }
            }
            ("select" | "radio" | "date" | "time", Json::String(_))
            | ("checkbox", Json::Array(_)) => {}
            ("input" | "select" | "radio" | "date" | "time", _) => {
                fail(name, ErrorCode::Invalid, shown, "must be a string")
            }
            ("checkbox" | "file_input", _) => {
                fail(name, ErrorCode::Invalid, shown, "must be an array")
            }
            _ => {}
        }
        out.insert(name.to_owned(), value.clone());
    }
    if errors.is_empty() {
        Ok(Json::Object(out))
    } else {
        Err(Error::Unprocessable(errors))
    }
}

/// The bot's per-field errors from a 400 answer (`{"errors": {...}}`),
/// each text cut to [`ERROR_TEXT_MAX`] characters; `None` when the answer
/// is not that shape.
fn bot_errors(body: &[u8]) -> Option<Map<String, Json>> {
    let answer: Json = serde_json::from_slice(body).ok()?;
    let errors = answer.get("errors")?.as_object()?;
    Some(
        errors
            .iter()
            .map(|(k, v)| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                (
                    k.clone(),
                    json!(text.chars().take(ERROR_TEXT_MAX).collect::<String>()),
                )
            })
            .collect(),
    )
}

/// `POST /views/{id}/submit` (extension): the caller submits `data` (field
/// name → value); see the module doc for what the bot's answer does.
pub fn submit(
    db: &dyn Db,
    p: &Principal,
    id: i64,
    body: &Json,
    transport: Option<&dyn Transport>,
    allow_private: bool,
) -> Result<Json> {
    let view = load(db, p, id)?;
    if view.state != "open" {
        return Err(Error::invalid(
            "id",
            ErrorCode::NotApplicable,
            Some(id.to_string()),
            "The view is closed",
        ));
    }
    let obj = validate::object(body)?;
    let data = match obj.get("data") {
        Some(Json::Object(data)) => data.clone(),
        None | Some(Json::Null) => Map::new(),
        Some(other) => {
            return Err(Error::invalid(
                "data",
                ErrorCode::Invalid,
                validate::show(other),
                "must be an object",
            ))
        }
    };
    let blocks = view.view["blocks"].as_array().cloned().unwrap_or_default();
    let values = check_values(&blocks, &data)?;
    let keep = |state: &str, errors: Option<&Json>| -> Result<()> {
        db.execute(
            "UPDATE views SET state = ?, errors_json = ?, values_json = ?, \
             closed_at = CASE WHEN ? = 'closed' THEN ? ELSE closed_at END WHERE id = ?",
            &[
                state.into(),
                errors.map(Json::to_string).into(),
                values.to_string().into(),
                state.into(),
                time::now().to_string().into(),
                view.id.into(),
            ],
        )?;
        Ok(())
    };
    let unreachable = |why: &str| -> Result<Json> {
        keep("open", None)?;
        Err(Error::BadGateway(FieldError::new(
            "view",
            ErrorCode::Unhandled,
            None,
            format!("The form was not accepted: {why}; the values are kept, submit again"),
        )))
    };
    let bot = db.query_row(
        "SELECT b.outgoing_url, b.signing_secret FROM bots b JOIN users u ON u.id = b.user_id \
         WHERE b.user_id = ? AND u.deleted_at IS NULL AND u.suspended = 0",
        &[view.bot_id.into()],
    )?;
    let Some((url, secret)) = bot
        .map(|r| Ok::<_, Error>((r.opt_string(0)?.unwrap_or_default(), r.string(1)?)))
        .transpose()?
        .filter(|(url, _)| !url.is_empty())
    else {
        return unreachable("the bot receives no webhooks");
    };
    if let Err(why) = delivery::target_allowed(&url, allow_private) {
        return unreachable(&format!("the bot's address is not allowed ({why})"));
    }
    let Some(transport) = transport else {
        return unreachable("this server cannot send webhooks");
    };
    let now = time::now();
    let payload = json!({
        "type": "view",
        "event": "submit",
        "callback_id": view.callback_id,
        "private_metadata": view.private_metadata,
        "chat_id": view.chat_id,
        "user_id": p.user_id,
        "data": values,
        "webhook_timestamp": now.unix_seconds(),
    })
    .to_string();
    let hook = OutgoingWebhook {
        delivery_id: 0,
        bot_id: view.bot_id,
        signature: Some(delivery::sign(&secret, &payload)),
        url,
        body: payload,
        failures: 0,
        created: now,
        timeout_ms: ANSWER_TIMEOUT_MS,
    };
    let attempt = transport.send_all(std::slice::from_ref(&hook)).pop();
    match attempt.map(|a| (a.outcome, a.body)) {
        Some((outcome, _)) if outcome.succeeded() => {
            keep("closed", None)?;
            get(db, p, id)
        }
        Some((Outcome::Status(400), body)) => match bot_errors(&body) {
            Some(errors) => {
                keep("open", Some(&Json::Object(errors.clone())))?;
                Err(Error::Unprocessable(
                    errors
                        .iter()
                        .map(|(name, text)| {
                            FieldError::new(
                                format!("data.{name}"),
                                ErrorCode::Invalid,
                                data.get(name).and_then(validate::show),
                                text.as_str().unwrap_or_default(),
                            )
                        })
                        .collect(),
                ))
            }
            None => unreachable("the bot answered 400 without per-field errors"),
        },
        Some((Outcome::Status(status), _)) => unreachable(&format!("the bot answered {status}")),
        Some((Outcome::Failed(why), _)) => unreachable(&format!("the bot did not answer ({why})")),
        None => unreachable("nothing was sent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::webhooks::delivery::Attempt;
    use std::sync::Mutex;

    /// A bot with a webhook URL, its message with a data button in a chat,
    /// and a press of it by a user just now: (bot, user, trigger id).
    fn pressed(db: &dyn Db) -> (i64, i64, String) {
        let bot = create_bot(db, "form-secret", Some("http://bot.example/hook"));
        let user = create_user(db, "presser@example.com", "user");
        let chat = create_chat(db, "Forms", &[bot, user]);
        db.execute(
            "INSERT INTO messages (chat_id, root_chat_id, entity_type, entity_id, user_id, content, \
             buttons_json, url, created_at, changed_at) VALUES (?, ?, 'discussion', ?, ?, 'Form?', \
             '[[{\"text\":\"Open\",\"data\":\"open\"}]]', '', '2026-01-01T00:00:00.000Z', \
             '2026-01-01T00:00:00.000Z')",
            &[chat.into(), chat.into(), chat.into(), bot.into()],
        )
        .expect("message");
        let message = db.last_insert_rowid();
        let trigger = "791a056b-006c-49dd-834b-c633fde52fe8".to_owned();
        db.execute(
            "INSERT INTO button_clicks (message_id, chat_id, user_id, data, trigger_id, created_at) \
             VALUES (?, ?, ?, 'open', ?, ?)",
            &[
                message.into(),
                chat.into(),
                user.into(),
                trigger.clone().into(),
                time::now().to_string().into(),
            ],
        )
        .expect("click");
        (bot, user, trigger)
    }

    pub(super) fn request(trigger: &str) -> Json {
        json!({
            "type": "modal",
            "trigger_id": trigger,
            "private_metadata": "{\"timeoff_id\":4378}",
            "callback_id": "timeoff_request_form",
            "view": {
                "title": "Уведомление об отпуске",
                "blocks": [
                    {"type": "header", "text": "Основная информация"},
                    {"type": "divider"},
                    {"type": "input", "name": "info", "label": "Описание", "required": true,
                     "min_length": 3, "max_length": 20},
                    {"type": "select", "name": "team", "label": "Команда",
                     "options": [{"text": "Успех", "value": "success"}, {"text": "Рост", "value": "growth"}]},
                    {"type": "checkbox", "name": "newsletters", "label": "Рассылки",
                     "options": [{"text": "Задачи", "value": "new_tasks", "checked": true},
                                 {"text": "Проекты", "value": "project_updates"}]},
                    {"type": "date", "name": "date_start", "label": "Начало", "initial_date": "2025-07-01"},
                    {"type": "time", "name": "time", "label": "Время", "initial_time": "11:00"},
                    {"type": "file_input", "name": "doc", "label": "Заявление", "filetypes": ["pdf"], "max_files": 1}
                ]
            }
        })
    }

    fn keys(e: Error) -> Vec<(String, String)> {
        e.body()["errors"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| {
                        (
                            i["key"].as_str().unwrap_or_default().to_owned(),
                            i["code"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn every_block_type_is_validated_with_its_limits() {
        let ok = parse_open(&request("t")).expect("valid");
        assert_eq!(ok.view["blocks"].as_array().map(Vec::len), Some(8));
        assert_eq!(
            ok.view["submit_text"], "Отправить",
            "the documented default"
        );
        let bad = json!({
            "type": "popup",
            "trigger_id": "t",
            "callback_id": "x".repeat(256),
            "view": {
                "title": "x".repeat(25),
                "blocks": [
                    {"type": "header", "text": "x".repeat(151)},
                    {"type": "plain_text"},
                    {"type": "markdown", "text": "x".repeat(12_001)},
                    {"type": "input", "name": "a", "label": "A", "min_length": 10, "max_length": 5},
                    {"type": "select", "name": "b", "label": "B", "options": [
                        {"text": "1", "value": "v", "selected": true},
                        {"text": "2", "value": "v", "selected": true}]},
                    {"type": "radio", "name": "c", "label": "C",
                     "options": (0..11).map(|i| json!({"text": "t", "value": i.to_string()})).collect::<Vec<_>>()},
                    {"type": "checkbox", "name": "a", "label": "D"},
                    {"type": "date", "name": "e", "label": "E", "initial_date": "2025-13-01"},
                    {"type": "time", "name": "f", "label": "F", "initial_time": "25:00"},
                    {"type": "file_input", "name": "g", "label": "G", "max_files": 11},
                    {"type": "carousel"},
                    {"type": "input", "label": "no name"}
                ]
            }
        });
        let found = keys(parse_open(&bad).expect_err("invalid"));
        for (key, code) in [
            ("type", "inclusion"),
            ("callback_id", "too_long"),
            ("view.title", "too_long"),
            ("view.blocks.0.text", "too_long"),
            ("view.blocks.1.text", "blank"),
            ("view.blocks.2.text", "too_long"),
            ("view.blocks.3.min_length", "invalid"),
            ("view.blocks.4.options.1.value", "taken"),
            ("view.blocks.4.options", "invalid"),
            ("view.blocks.5.options", "too_long"),
            ("view.blocks.6.name", "taken"),
            ("view.blocks.7.initial_date", "invalid"),
            ("view.blocks.8.initial_time", "invalid"),
            ("view.blocks.9.max_files", "invalid"),
            ("view.blocks.10.type", "inclusion"),
            ("view.blocks.11.name", "blank"),
        ] {
            assert!(
                found.contains(&(key.to_owned(), code.to_owned())),
                "{key} {code} in {found:?}"
            );
        }
        let many = json!({"type": "modal", "trigger_id": "t", "view": {"title": "T",
            "blocks": (0..101).map(|_| json!({"type": "divider"})).collect::<Vec<_>>()}});
        assert_eq!(
            keys(parse_open(&many).expect_err("101 blocks")),
            vec![("view.blocks".to_owned(), "too_long".to_owned())]
        );
        let missing = keys(parse_open(&json!({})).expect_err("empty"));
        assert!(missing.contains(&("trigger_id".into(), "blank".into())));
        assert!(missing.contains(&("view".into(), "blank".into())));
        assert!(missing.contains(&("type".into(), "blank".into())));
    }

    #[test]
    fn a_trigger_opens_one_view_for_its_bot_within_three_seconds() {
        let db = test_db();
        let (bot, user, trigger) = pressed(&db);
        let view = parse_open(&request(&trigger)).expect("valid");
        let stranger = create_user(&db, "stranger@example.com", "user");
        let e = open(&db, &user_principal(stranger, false), &view).expect_err("not its message");
        assert_eq!(
            (e.status(), keys(e)),
            (422, vec![("trigger_id".into(), "trigger_not_found".into())])
        );
        let unknown = parse_open(&request("no-such-trigger")).expect("valid");
        let e = open(&db, &user_principal(bot, true), &unknown).expect_err("unknown");
        assert_eq!(e.status(), 422);
        open(&db, &user_principal(bot, true), &view).expect("opens");
        let e = open(&db, &user_principal(bot, true), &view).expect_err("once");
        assert_eq!(
            keys(e),
            vec![("trigger_id".into(), "already_exists".into())]
        );
        let listed = list(&db, &user_principal(user, false)).expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["title"], "Уведомление об отпуске");
        assert!(
            listed[0].get("private_metadata").is_none() && listed[0].get("callback_id").is_none()
        );
        assert!(list(&db, &user_principal(stranger, false))
            .expect("list")
            .is_empty());
        let id = listed[0]["id"].as_i64().expect("id");
        assert_eq!(
            get(&db, &user_principal(stranger, false), id)
                .expect_err("hidden")
                .status(),
            404
        );

        // A press 3.5 s old no longer opens a view.
        db.execute(
            "INSERT INTO button_clicks (message_id, chat_id, user_id, data, trigger_id, created_at) \
             SELECT message_id, chat_id, user_id, data, 'late', ? FROM button_clicks LIMIT 1",
            &[Timestamp(time::now().0 - 3_500).to_string().into()],
        )
        .expect("late click");
        let e = open(
            &db,
            &user_principal(bot, true),
            &parse_open(&request("late")).expect("valid"),
        )
        .expect_err("expired");
        assert_eq!(
            (e.status(), keys(e)),
            (410, vec![("trigger_id".into(), "trigger_expired".into())])
        );
    }

    /// Answers every submission with a fixed status and body, and keeps
    /// what it was sent.
    #[derive(Debug)]
    struct Bot {
        status: Option<u16>,
        body: &'static str,
        sent: Mutex<Vec<OutgoingWebhook>>,
    }

    impl Transport for Bot {
        fn send_all(&self, hooks: &[OutgoingWebhook]) -> Vec<Attempt> {
            if let Ok(mut sent) = self.sent.lock() {
                sent.extend_from_slice(hooks);
            }
            hooks
                .iter()
                .map(|_| Attempt {
                    outcome: match self.status {
                        Some(s) => Outcome::Status(s),
                        None => Outcome::Failed("timed out".into()),
                    },
                    latency_ms: 1,
                    body: self.body.as_bytes().to_vec(),
                })
                .collect()
        }
    }

    fn bot_answering(status: Option<u16>, body: &'static str) -> Bot {
        Bot {
            status,
            body,
            sent: Mutex::new(Vec::new()),
        }
    }

    #[test]
    fn a_submission_goes_to_the_bot_whose_answer_closes_the_view_or_shows_errors() {
        let db = test_db();
        let (bot, user, trigger) = pressed(&db);
        open(
            &db,
            &user_principal(bot, true),
            &parse_open(&request(&trigger)).expect("valid"),
        )
        .expect("open");
        let me = user_principal(user, false);
        let id = list(&db, &me).expect("list")[0]["id"].as_i64().expect("id");
        let good = json!({"data": {"info": "Поеду в Сибирь", "team": "success",
            "newsletters": ["new_tasks"], "date_start": "2025-07-01", "time": "22:00",
            "doc": [{"name": "request.pdf", "size": 19153, "url": "https://x/request.pdf"}]}});

        // Checked against the blocks before the bot hears of it.
        let invalid = json!({"data": {"info": "no", "team": "other", "newsletters": ["spam"],
            "date_start": "2025-02-30", "time": "7pm", "doc": [{"name": "a.exe", "size": 1, "url": "u"}],
            "extra": 1}});
        let silent = bot_answering(Some(200), "");
        let found = keys(submit(&db, &me, id, &invalid, Some(&silent), true).expect_err("invalid"));
        for (key, code) in [
            ("data.info", "min_length"),
            ("data.team", "inclusion"),
            ("data.newsletters", "inclusion"),
            ("data.date_start", "invalid"),
            ("data.time", "invalid"),
            ("data.doc", "inclusion"),
            ("data.extra", "invalid"),
        ] {
            assert!(
                found.contains(&(key.to_owned(), code.to_owned())),
                "{key} {code} in {found:?}"
            );
        }
        let blank = keys(
            submit(&db, &me, id, &json!({"data": {}}), Some(&silent), true).expect_err("required"),
        );
        assert_eq!(blank, vec![("data.info".to_owned(), "blank".to_owned())]);
        assert!(
            silent.sent.lock().expect("sent").is_empty(),
            "nothing was sent"
        );

        // The bot shows per-field errors: the view stays open with them.
        let picky = bot_answering(
            Some(400),
            r#"{"errors": {"date_start": "Дата окончания не может быть меньше"}}"#,
        );
        let e = submit(&db, &me, id, &good, Some(&picky), true).expect_err("bot errors");
        assert_eq!(e.status(), 422);
        let body = e.body();
        assert_eq!(body["errors"][0]["key"], "data.date_start", "{body}");
        assert_eq!(
            body["errors"][0]["message"],
            "Дата окончания не может быть меньше"
        );
        let seen = get(&db, &me, id).expect("view");
        assert_eq!(
            (seen["state"].as_str(), &seen["errors"]["date_start"]),
            (Some("open"), &json!("Дата окончания не может быть меньше"))
        );
        assert_eq!(seen["values"]["team"], "success", "the values are kept");
        let sent = picky.sent.lock().expect("sent")[0].clone();
        let payload: Json = serde_json::from_str(&sent.body).expect("json");
        assert_eq!(payload["type"], "view");
        assert_eq!(payload["event"], "submit");
        assert_eq!(payload["callback_id"], "timeoff_request_form");
        assert_eq!(payload["private_metadata"], "{\"timeoff_id\":4378}");
        assert_eq!(payload["user_id"], user);
        assert!(payload["chat_id"].is_i64() && payload["webhook_timestamp"].is_i64());
        assert_eq!(payload["data"]["newsletters"], json!(["new_tasks"]));
        assert_eq!(
            sent.signature,
            Some(delivery::sign("form-secret", &sent.body))
        );
        assert_eq!(
            (sent.url.as_str(), sent.timeout_ms),
            ("http://bot.example/hook", ANSWER_TIMEOUT_MS)
        );

        // No answer in time: 502, the view stays open.
        let slow = bot_answering(None, "");
        let e = submit(&db, &me, id, &good, Some(&slow), true).expect_err("timeout");
        assert_eq!(e.status(), 502);
        assert_eq!(get(&db, &me, id).expect("view")["state"], "open");

        // 200 closes it; a closed view takes no more submissions.
        let happy = bot_answering(Some(200), "");
        let closed = submit(&db, &me, id, &good, Some(&happy), true).expect("closed");
        assert_eq!(closed["state"], "closed");
        assert!(list(&db, &me).expect("list").is_empty());
        let e = submit(&db, &me, id, &good, Some(&happy), true).expect_err("closed");
        assert_eq!(
            keys(e),
            vec![("id".to_owned(), "not_applicable".to_owned())]
        );
        let other = user_principal(create_user(&db, "other@example.com", "user"), false);
        assert_eq!(
            submit(&db, &other, id, &good, Some(&happy), true)
                .expect_err("hidden")
                .status(),
            404
        );
    }
}
