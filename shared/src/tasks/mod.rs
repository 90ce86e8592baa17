//! Tasks (reminders): `POST /tasks`, `GET /tasks`, `GET/PUT/DELETE
//! /tasks/{id}` as `openapi.yaml` defines them (`TaskCreateRequest`,
//! `TaskUpdateRequest`, `Task`).
//!
//! Rules, from the operations' descriptions and where they are silent our
//! choices:
//! * `kind` is required on create; `content` defaults to the kind's name
//!   (`Позвонить контакту`, `Встреча`, `Простое напоминание`, `Событие`,
//!   `Написать письмо`).
//! * Performers default to the creator; any live employee can be one
//!   (unknown or deleted ids are 404 on `performer_ids`; bots are not
//!   employees, 422).
//! * A task linked to a chat needs the caller to be a member of it (404
//!   when the chat is unseen, 403 when seen but not joined).
//! * `due_at` is ISO 8601 with an offset; a local time of `23:59:59.000`
//!   makes the task all-day, as the spec says. It is stored and shown in
//!   UTC.
//! * `priority` is 1, 2 or 3 (default 1).
//! * Who sees a task: its creator, its performers and the members of its
//!   chat (404 to anyone else). Its creator and performers may change it;
//!   only its creator deletes it (403 for a performer). `status: done`
//!   records `done_at` (now unless given); `undone` clears it.
//! * Custom properties are those of entity type `Task`
//!   (`GET /custom_properties?entity_type=Task`).
//! * Every change is recorded as a `task` event in the same transaction.

pub mod routes;
#[cfg(test)]
mod tests;

use serde_json::{json, Value as Json};

use crate::auth::Principal;
use crate::platform::db::{column_count, transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::events::{self, Event};
use crate::platform::pagination::{self, Cursor};
use crate::platform::time::{self, Timestamp};
use crate::platform::validate::{self, Fields};
use crate::users::custom_properties;

/// Event kind for tasks (`new`, `update`, `delete`).
pub const TASK: &str = "task";

/// The task kinds and their names, the default `content`.
const KINDS: &[(&str, &str)] = &[
    ("call", "Позвонить контакту"),
    ("meeting", "Встреча"),
    ("reminder", "Простое напоминание"),
    ("event", "Событие"),
    ("email", "Написать письмо"),
];

/// Longest `content` accepted.
const CONTENT_MAX: usize = 10_000;
/// Most performers of one task.
const PERFORMERS_MAX: usize = 100;

/// A validated `task` object of a create or update body; `None` fields
/// were not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskInput {
    /// `call`, `meeting`, `reminder`, `event` or `email`.
    pub kind: Option<&'static str>,
    /// The text.
    pub content: Option<String>,
    /// Due time in UTC, `Some(None)` to clear it.
    pub due_at: Option<Option<Timestamp>>,
    /// Whether the due time was given as 23:59:59.000 local time.
    pub due_all_day: bool,
    /// 1, 2 or 3.
    pub priority: Option<i64>,
    /// The performers (replacing the old ones on update).
    pub performer_ids: Option<Vec<i64>>,
    /// The linked chat (create only).
    pub chat_id: Option<i64>,
    /// All-day, given explicitly.
    pub all_day: Option<bool>,
    /// `done` or `undone` (update only).
    pub status: Option<&'static str>,
    /// When it was done (update only).
    pub done_at: Option<Timestamp>,
    /// Custom property values.
    pub custom_properties: Option<Vec<(i64, String)>>,
}

/// Whether an ISO 8601 time says 23:59:59.000 on its own clock.
fn is_end_of_day(raw: &str) -> bool {
    raw.get(11..19) == Some("23:59:59") && {
        let rest = &raw[19..];
        let fraction: String = rest
            .strip_prefix('.')
            .map(|r| r.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default();
        fraction.chars().all(|c| c == '0')
    }
}

/// Validates a create (`create`) or update body: 400 when it is not
/// `{"task": {...}}`, 422 listing every broken field.
pub fn parse(body: &Json, create: bool) -> Result<TaskInput> {
    let obj = validate::wrapper(body, "task")?;
    let mut f = Fields::new(obj, "");
    let kinds: Vec<&'static str> = KINDS.iter().map(|(k, _)| *k).collect();
    let mut input = TaskInput {
        kind: f.enumeration("kind", &kinds),
        ..TaskInput::default()
    };
    if create && input.kind.is_none() && !f.present("kind") {
        f.fail("kind", ErrorCode::Blank, None, "can't be blank");
    }
    input.content = f.string("content", Some(CONTENT_MAX));
    if let Some(raw) = f.string("due_at", None) {
        match Some(raw.as_str()).filter(|s| !s.is_empty()) {
            None => input.due_at = Some(None),
            Some(s) => match Timestamp::parse(s) {
                Some(t) if s.len() > 10 => {
                    input.due_at = Some(Some(t));
                    input.due_all_day = is_end_of_day(s);
                }
                _ => f.fail(
                    "due_at",
                    ErrorCode::Invalid,
                    Some(s.to_owned()),
                    "must be an ISO 8601 date and time",
                ),
            },
        }
    }
    input.priority = f.i64("priority");
    if let Some(p) = input.priority {
        if !(1..=3).contains(&p) {
            f.fail(
                "priority",
                ErrorCode::Inclusion,
                Some(p.to_string()),
                "must be 1, 2 or 3",
            );
        }
    }
    input.performer_ids = f.int_array("performer_ids");
    if input
        .performer_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > PERFORMERS_MAX)
    {
        f.fail(
            "performer_ids",
            ErrorCode::TooLong,
            None,
            &format!("has too many performers (maximum is {PERFORMERS_MAX})"),
        );
    }
    if create {
        input.chat_id = f.i64("chat_id");
    } else {
        input.status = f.enumeration("status", &["done", "undone"]);
        if let Some(raw) = f.string("done_at", None) {
            match Timestamp::parse(&raw) {
                Some(t) => input.done_at = Some(t),
                None => f.fail(
                    "done_at",
                    ErrorCode::Invalid,
                    Some(raw),
                    "must be an ISO 8601 date and time",
                ),
            }
        }
    }
    input.all_day = f.bool("all_day");
    input.custom_properties = custom_properties::parse_values(&mut f);
    f.finish()?;
    Ok(input)
}

/// One stored task.
#[derive(Debug, Clone)]
struct TaskRow {
    id: i64,
    kind: String,
    content: String,
    due_at: Option<String>,
    all_day: bool,
    priority: i64,
    user_id: i64,
    chat_id: Option<i64>,
    status: String,
    created_at: String,
}

const COLUMNS: &str =
    "id, kind, content, due_at, all_day, priority, user_id, chat_id, status, created_at";

fn task_row(r: &crate::platform::db::Row) -> Result<TaskRow> {
    Ok(TaskRow {
        id: r.i64(0)?,
        kind: r.string(1)?,
        content: r.string(2)?,
        due_at: r.opt_string(3)?,
        all_day: r.bool(4)?,
        priority: r.i64(5)?,
        user_id: r.i64(6)?,
        chat_id: r.opt_i64(7)?,
        status: r.string(8)?,
        created_at: r.string(9)?,
    })
}

/// SQL over the task alias `t`: the caller (three parameters, the user id)
/// sees it.
const VISIBLE: &str = "(t.user_id = ? \
     OR EXISTS (SELECT 1 FROM task_performers tp WHERE tp.task_id = t.id AND tp.user_id = ?) \
     OR EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = t.chat_id AND cm.user_id = ?))";

fn visible_params(p: &Principal) -> [Value; 3] {
    [p.user_id.into(), p.user_id.into(), p.user_id.into()]
}

/// Where [`render_many`]'s custom property columns follow the task's.
const PROPS_AT: usize = column_count(COLUMNS);

/// Renders tasks (spec `Task`) in the order of `ids`: the tasks with their
/// custom properties in one query, the performers in another.
fn render_many(db: &dyn Db, ids: &[i64]) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = Value::id_array(ids);
    let mut rows = std::collections::HashMap::new();
    for r in db.query(
        &format!(
            "SELECT {COLUMNS}, {} FROM tasks WHERE id IN (SELECT value FROM json_each(?))",
            custom_properties::columns_sql(&custom_properties::TASK, "tasks")
        ),
        std::slice::from_ref(&list),
    )? {
        let t = task_row(&r)?;
        let props =
            custom_properties::from_columns(&r.string(PROPS_AT)?, &r.string(PROPS_AT + 1)?)?;
        rows.insert(t.id, (t, props));
    }
    let mut performers: std::collections::HashMap<i64, Vec<i64>> = Default::default();
    for r in db.query(
        "SELECT task_id, user_id FROM task_performers \
         WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY user_id",
        &[list],
    )? {
        performers.entry(r.i64(0)?).or_default().push(r.i64(1)?);
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((t, props)) = rows.remove(id) else {
            continue;
        };
        out.push(json!({
            "id": t.id,
            "kind": t.kind,
            "content": t.content,
            "due_at": t.due_at,
            "priority": t.priority,
            "user_id": t.user_id,
            "chat_id": t.chat_id,
            "status": t.status,
            "created_at": t.created_at,
            "performer_ids": performers.remove(id).unwrap_or_default(),
            "all_day": t.all_day,
            "custom_properties": props,
        }));
    }
    Ok(out)
}

/// The task if the caller sees it, else 404.
fn visible(db: &dyn Db, p: &Principal, id: i64) -> Result<TaskRow> {
    let mut params = vec![id.into()];
    params.extend(visible_params(p));
    db.query_row(
        &format!("SELECT {COLUMNS} FROM tasks t WHERE t.id = ? AND {VISIBLE}"),
        &params,
    )?
    .map(|r| task_row(&r))
    .transpose()?
    .ok_or_else(|| Error::not_found("id", id))
}

/// Performers must be live employees (not bots): 404 for an unknown id,
/// 422 for a bot.
fn check_performers(db: &dyn Db, ids: &[i64]) -> Result<Vec<i64>> {
    let mut unique: Vec<i64> = Vec::new();
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    let rows = db.query(
        "SELECT id, bot FROM users WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL",
        &[Value::id_array(&unique)],
    )?;
    for id in &unique {
        match rows.iter().find(|r| r.i64(0).ok() == Some(*id)) {
            None => {
                return Err(Error::NotFound(FieldError::new(
                    "performer_ids",
                    ErrorCode::NotFound,
                    Some(id.to_string()),
                    "User not found",
                )))
            }
            Some(r) if r.bool(1)? => {
                return Err(Error::invalid(
                    "performer_ids",
                    ErrorCode::Invalid,
                    Some(id.to_string()),
                    "A bot cannot be a performer",
                ))
            }
            Some(_) => {}
        }
    }
    Ok(unique)
}

fn due(input: &TaskInput) -> (Option<Option<String>>, Option<bool>) {
    let due_at = input.due_at.map(|d| d.map(|t| t.to_string()));
    let all_day = input
        .all_day
        .or(input.due_at.flatten().map(|_| input.due_all_day));
    (due_at, all_day)
}

fn record(db: &dyn Db, p: &Principal, id: i64, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: TASK,
            event,
            entity_type: "Task",
            entity_id: id,
            actor: Some(p.user_id),
            payload: json!({"id": id}),
        },
    )?;
    Ok(())
}

fn set_performers(db: &dyn Db, task_id: i64, ids: &[i64]) -> Result<()> {
    db.execute(
        "DELETE FROM task_performers WHERE task_id = ?",
        &[task_id.into()],
    )?;
    db.execute(
        "INSERT INTO task_performers (task_id, user_id) SELECT ?, value FROM json_each(?)",
        &[task_id.into(), Value::id_array(ids)],
    )?;
    Ok(())
}

/// `POST /tasks`.
pub fn create(db: &dyn Db, p: &Principal, input: &TaskInput) -> Result<Json> {
    let kind = input
        .kind
        .ok_or_else(|| Error::invalid("kind", ErrorCode::Blank, None, "can't be blank"))?;
    let performers = check_performers(
        db,
        input
            .performer_ids
            .as_deref()
            .filter(|ids| !ids.is_empty())
            .unwrap_or(&[p.user_id]),
    )?;
    if let Some(chat_id) = input.chat_id {
        let (_, member) = crate::chats::visible(db, p, chat_id).map_err(|e| match e {
            Error::NotFound(_) => Error::not_found("chat_id", chat_id),
            other => other,
        })?;
        if member.is_none() {
            return Err(Error::forbidden(
                "chat_id",
                ErrorCode::Forbidden,
                "Only members of the chat can link a task to it",
            ));
        }
    }
    let values = match &input.custom_properties {
        Some(v) => custom_properties::validate_values(db, &custom_properties::TASK, v)?,
        None => Vec::new(),
    };
    let content = input
        .content
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            KINDS
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, n)| (*n).to_owned())
        })
        .unwrap_or_default();
    let (due_at, all_day) = due(input);
    let now = time::now().to_string();
    let id = transaction(db, |db| -> Result<i64> {
        let id = db
            .query_row(
                "INSERT INTO tasks (kind, content, due_at, all_day, priority, user_id, chat_id, status, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'undone', ?, ?) RETURNING id",
                &[
                    kind.into(),
                    content.clone().into(),
                    due_at.clone().flatten().into(),
                    all_day.unwrap_or(false).into(),
                    input.priority.unwrap_or(1).into(),
                    p.user_id.into(),
                    input.chat_id.into(),
                    now.clone().into(),
                    now.clone().into(),
                ],
            )?
            .ok_or_else(|| Error::Internal("INSERT returned no row".into()))?
            .i64(0)?;
        set_performers(db, id, &performers)?;
        custom_properties::store_values(db, &custom_properties::TASK, id, &values)?;
        record(db, p, id, "new")?;
        Ok(id)
    })?;
    get_unchecked(db, id)
}

fn get_unchecked(db: &dyn Db, id: i64) -> Result<Json> {
    render_many(db, &[id])?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

/// `GET /tasks/{id}`.
pub fn get(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    visible(db, p, id)?;
    get_unchecked(db, id)
}

/// The filters of `GET /tasks` the official SDK sends (`status`,
/// `chat_ids[]`, `performer_ids[]`, `author_id`); empty lists filter nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskFilter {
    /// `done` or `undone`.
    pub status: Option<&'static str>,
    /// Tasks linked to any of these chats.
    pub chat_ids: Vec<i64>,
    /// Tasks with any of these performers.
    pub performer_ids: Vec<i64>,
    /// Tasks created by this user.
    pub author_id: Option<i64>,
}

/// `GET /tasks`: the tasks the caller sees that pass `filter`, newest
/// first, with cursors.
pub fn list(
    db: &dyn Db,
    p: &Principal,
    filter: &TaskFilter,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let mut sql = format!("SELECT t.id AS id, t.id AS k FROM tasks t WHERE {VISIBLE}");
    let mut params: Vec<Value> = visible_params(p).to_vec();
    if let Some(status) = filter.status {
        sql.push_str(" AND t.status = ?");
        params.push(status.into());
    }
    if !filter.chat_ids.is_empty() {
        sql.push_str(" AND t.chat_id IN (SELECT value FROM json_each(?))");
        params.push(Value::id_array(&filter.chat_ids));
    }
    if !filter.performer_ids.is_empty() {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM task_performers f WHERE f.task_id = t.id \
               AND f.user_id IN (SELECT value FROM json_each(?)))",
        );
        params.push(Value::id_array(&filter.performer_ids));
    }
    if let Some(author) = filter.author_id {
        sql.push_str(" AND t.user_id = ?");
        params.push(author.into());
    }
    let (ids, meta) = pagination::keyset_page(db, &sql, &params, false, limit, cursor)?;
    Ok((render_many(db, &ids)?, meta))
}

fn may_change(db: &dyn Db, p: &Principal, t: &TaskRow) -> Result<()> {
    if t.user_id == p.user_id {
        return Ok(());
    }
    let performer = db
        .query_row(
            "SELECT 1 FROM task_performers WHERE task_id = ? AND user_id = ?",
            &[t.id.into(), p.user_id.into()],
        )?
        .is_some();
    if performer {
        Ok(())
    } else {
        Err(Error::forbidden(
            "id",
            ErrorCode::Forbidden,
            "Only the task's creator and performers can change it",
        ))
    }
}

/// `PUT /tasks/{id}`: changes what `input` gives.
pub fn update(db: &dyn Db, p: &Principal, id: i64, input: &TaskInput) -> Result<Json> {
    let t = visible(db, p, id)?;
    may_change(db, p, &t)?;
    let performers = match &input.performer_ids {
        Some(ids) if ids.is_empty() => Some(vec![t.user_id]),
        Some(ids) => Some(check_performers(db, ids)?),
        None => None,
    };
    let values = match &input.custom_properties {
        Some(v) => custom_properties::validate_values(db, &custom_properties::TASK, v)?,
        None => Vec::new(),
    };
    let (due_at, all_day) = due(input);
    let mut sets: Vec<&str> = vec!["updated_at = ?"];
    let now = time::now();
    let mut params: Vec<Value> = vec![now.to_string().into()];
    let mut set = |column: &'static str, value: Value| {
        sets.push(column);
        params.push(value);
    };
    if let Some(kind) = input.kind {
        set("kind = ?", kind.into());
    }
    if let Some(content) = input.content.clone().filter(|c| !c.is_empty()) {
        set("content = ?", content.into());
    }
    if let Some(due_at) = due_at {
        set("due_at = ?", due_at.into());
    }
    if let Some(all_day) = all_day {
        set("all_day = ?", all_day.into());
    }
    if let Some(priority) = input.priority {
        set("priority = ?", priority.into());
    }
    match input.status {
        Some("done") => {
            set("status = ?", "done".into());
            set(
                "done_at = ?",
                input.done_at.unwrap_or(now).to_string().into(),
            );
        }
        Some(_) => {
            set("status = ?", "undone".into());
            set("done_at = ?", Value::Null);
        }
        None => {}
    }
    params.push(id.into());
    let sql = format!("UPDATE tasks SET {} WHERE id = ?", sets.join(", "));
    transaction(db, |db| -> Result<()> {
        db.execute(&sql, &params)?;
        if let Some(ids) = &performers {
            set_performers(db, id, ids)?;
        }
        custom_properties::store_values(db, &custom_properties::TASK, id, &values)?;
        record(db, p, id, "update")
    })?;
    get_unchecked(db, id)
}

/// `DELETE /tasks/{id}`: only by its creator; irreversible.
pub fn delete(db: &dyn Db, p: &Principal, id: i64) -> Result<()> {
    let t = visible(db, p, id)?;
    if t.user_id != p.user_id {
        return Err(Error::forbidden(
            "id",
            ErrorCode::Forbidden,
            "Only the task's creator can delete it",
        ));
    }
    transaction(db, |db| -> Result<()> {
        db.execute("DELETE FROM tasks WHERE id = ?", &[id.into()])?;
        record(db, p, id, "delete")
    })
}
