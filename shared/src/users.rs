//! Workspace members: create, read, update, delete, list and search, with the
//! owner protections and uniqueness rules.

use crate::auth::Principal;
use crate::db::{transaction, Db, Row, Value};
use crate::error::{Error, ErrorCode, FieldError, Result};
use crate::events::{self, Event};
use crate::pagination::{self, Cursor, Direction, IdPage};
use crate::scopes::Role;
use crate::time::{self, Timestamp};
use crate::validate::{self, Fields};
use crate::{chat_members, custom_properties, group_tags, statuses};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

/// Id of the workspace owner created by the first migration.
pub const OWNER_ID: i64 = 1;
/// `maxLength` of the name-like fields in the spec.
pub const NAME_MAX: usize = 255;
/// Roles accepted by `POST /users` (`UserCreateRole`).
pub const CREATE_ROLES: &[&str] = &["admin", "user", "multi_guest", "guest"];
/// Roles accepted by `PUT /users/{id}` (`UserRoleInput`).
pub const UPDATE_ROLES: &[&str] = &["admin", "user", "multi_guest"];

/// Parsed and shape-validated body of `POST /users` or `PUT /users/{id}`.
/// Outer `Option` = field present; inner `Option` = explicit `null`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInput {
    /// First name.
    pub first_name: Option<Option<String>>,
    /// Last name.
    pub last_name: Option<Option<String>>,
    /// E-mail (required on create).
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<Option<String>>,
    /// Nickname (generated from the e-mail when absent on create).
    pub nickname: Option<String>,
    /// Department.
    pub department: Option<Option<String>>,
    /// Job title.
    pub title: Option<Option<String>>,
    /// Role.
    pub role: Option<Role>,
    /// Suspension flag.
    pub suspended: Option<bool>,
    /// Group tag names (replaces the set).
    pub list_tags: Option<Vec<String>>,
    /// Custom property values `(id, value)`.
    pub custom_properties: Option<Vec<(i64, String)>>,
    /// Chats to join (create only).
    pub chat_ids: Option<Vec<i64>>,
}

pub(crate) fn nickname_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Validates a `{"user": {...}}` body. `create` selects the create rules.
pub fn parse_input(body: &Json, create: bool) -> Result<UserInput> {
    let obj = validate::wrapper(body, "user")?;
    let mut f = Fields::new(obj, "");
    let mut input = UserInput {
        first_name: f.string("first_name", Some(NAME_MAX)),
        last_name: f.string("last_name", Some(NAME_MAX)),
        phone_number: f.string("phone_number", Some(NAME_MAX)),
        department: f.string("department", Some(NAME_MAX)),
        title: f.string("title", Some(NAME_MAX)),
        suspended: f.bool("suspended"),
        list_tags: f.string_array("list_tags", Some(group_tags::NAME_MAX)),
        ..UserInput::default()
    };
    if create || f.present("email") {
        if let Some(email) = f.required_string("email", Some(NAME_MAX)) {
            if validate::is_email(&email) {
                input.email = Some(email.to_lowercase());
            } else {
                f.fail(
                    "email",
                    ErrorCode::Invalid,
                    Some(email),
                    "is not a valid e-mail",
                );
            }
        }
    }
    if f.present("nickname") {
        if let Some(nick) = f.required_string("nickname", Some(NAME_MAX)) {
            if nickname_ok(&nick) {
                input.nickname = Some(nick);
            } else {
                f.fail(
                    "nickname",
                    ErrorCode::Invalid,
                    Some(nick),
                    "may contain only latin letters, digits, '_', '.' and '-'",
                );
            }
        }
    }
    let roles = if create { CREATE_ROLES } else { UPDATE_ROLES };
    input.role = f.enumeration("role", roles).and_then(Role::parse);
    if create {
        input.chat_ids = f.int_array("chat_ids");
    }
    if let Some(items) = f.array("custom_properties") {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("custom_properties.{i}");
            let Some(o) = item.as_object() else {
                f.fail(
                    &key,
                    ErrorCode::Invalid,
                    validate::show(item),
                    "must be an object",
                );
                continue;
            };
            let mut cf = Fields::new(o, &f.key(&key));
            let id = if cf.present("id") {
                cf.i64("id")
            } else {
                cf.fail("id", ErrorCode::Blank, None, "can't be blank");
                None
            };
            let value = match cf.string("value", Some(custom_properties::VALUE_MAX)) {
                Some(v) => Some(v.unwrap_or_default()),
                None if !cf.present("value") => {
                    cf.fail("value", ErrorCode::Blank, None, "can't be blank");
                    None
                }
                None => None,
            };
            let failed = cf.has_errors();
            if let Err(Error::Unprocessable(errs)) = cf.finish() {
                for e in errs {
                    f.push(e);
                }
            }
            if let (false, Some(id), Some(value)) = (failed, id, value) {
                out.push((id, value));
            }
        }
        input.custom_properties = Some(out);
    }
    if create && input.role == Some(Role::Guest) {
        let n = input.chat_ids.as_ref().map_or(0, Vec::len);
        if n != 1 && !f.has_errors() {
            return Err(Error::bad_request(
                "chat_ids",
                ErrorCode::Invalid,
                None,
                "A guest must be added to exactly one chat",
            ));
        }
    }
    f.finish()?;
    Ok(input)
}

const USER_COLUMNS: &str = "id, first_name, last_name, nickname, email, phone_number, department, title, \
     role, suspended, invite_status, inviter_id, bot, sso, created_at, last_activity_at, time_zone, image_url";

/// Core row of a user (without tags, properties and status).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Role.
    pub role: Role,
    /// Bot flag.
    pub bot: bool,
    /// Suspension flag.
    pub suspended: bool,
    raw: Row,
}

fn user_row(r: Row) -> Result<UserRow> {
    Ok(UserRow {
        id: r.i64(0)?,
        role: Role::parse(&r.string(8)?).ok_or(Error::Internal("bad role".into()))?,
        suspended: r.bool(9)?,
        bot: r.bool(12)?,
        raw: r,
    })
}

/// Loads a live (not deleted) user, or 404 on `key`.
pub fn load(db: &dyn Db, id: i64, key: &str) -> Result<UserRow> {
    let row = db
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"),
            &[id.into()],
        )?
        .ok_or_else(|| Error::not_found(key, id))?;
    user_row(row)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Renders users (spec `User`) in the order of `ids`, batching the related lookups.
pub fn render_many(db: &dyn Db, ids: &[i64]) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<Value> = ids.iter().map(|i| Value::Integer(*i)).collect();
    let ph = placeholders(ids.len());
    let mut rows: HashMap<i64, UserRow> = HashMap::new();
    for r in db.query(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id IN ({ph})"),
        &params,
    )? {
        let u = user_row(r)?;
        rows.insert(u.id, u);
    }
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for r in db.query(
        &format!(
            "SELECT gtu.user_id, gt.name FROM group_tag_users gtu JOIN group_tags gt ON gt.id = gtu.group_tag_id \
             WHERE gtu.user_id IN ({ph}) ORDER BY gt.name COLLATE NOCASE, gt.id"
        ),
        &params,
    )? {
        tags.entry(r.i64(0)?).or_default().push(r.string(1)?);
    }
    let mut props = custom_properties::user_values(db, ids)?;
    let mut stats = statuses::load_many(db, ids)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(u) = rows.get(id) else { continue };
        let r = &u.raw;
        out.push(json!({
            "id": u.id,
            "first_name": r.opt_string(1)?,
            "last_name": r.opt_string(2)?,
            "nickname": r.string(3)?,
            "email": r.opt_string(4)?,
            "phone_number": r.opt_string(5)?,
            "department": r.opt_string(6)?,
            "title": r.opt_string(7)?,
            "role": u.role.api_str(),
            "suspended": u.suspended,
            "invite_status": r.string(10)?,
            "inviter_id": r.opt_i64(11)?,
            "list_tags": tags.remove(id).unwrap_or_default(),
            "custom_properties": props.remove(id).unwrap_or_default(),
            "user_status": stats.remove(id),
            "bot": u.bot,
            "sso": r.bool(13)?,
            "created_at": r.string(14)?,
            "last_activity_at": r.opt_string(15)?,
            "time_zone": r.opt_string(16)?,
            "image_url": r.opt_string(17)?,
        }));
    }
    Ok(out)
}

/// Renders one live user, or 404.
pub fn get(db: &dyn Db, id: i64) -> Result<Json> {
    load(db, id, "id")?;
    render_many(db, &[id])?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

pub(crate) fn ensure_unique(db: &dyn Db, column: &str, value: &str, except: i64) -> Result<()> {
    let taken = db
        .query_row(
            &format!(
                "SELECT 1 FROM users WHERE {column} = ? COLLATE NOCASE AND deleted_at IS NULL AND id <> ?"
            ),
            &[value.into(), except.into()],
        )?
        .is_some();
    if taken {
        return Err(Error::invalid(
            column,
            ErrorCode::Taken,
            Some(value.to_owned()),
            "has already been taken",
        ));
    }
    Ok(())
}

fn generate_nickname(db: &dyn Db, email: &str) -> Result<String> {
    let local = email.split('@').next().unwrap_or_default();
    let mut base: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(NAME_MAX - 8)
        .collect::<String>()
        .to_lowercase();
    if base.is_empty() {
        base = "user".into();
    }
    for n in 0..1000 {
        let candidate = if n == 0 {
            base.clone()
        } else {
            format!("{base}{n}")
        };
        if ensure_unique(db, "nickname", &candidate, 0).is_ok() {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}{}", time::now().0))
}

fn map_unique(e: crate::db::DbError, input: &UserInput) -> Error {
    if e.is_unique_violation() {
        let (key, value) = if e.to_string().contains("email") {
            ("email", input.email.clone())
        } else {
            ("nickname", input.nickname.clone())
        };
        Error::invalid(key, ErrorCode::Taken, value, "has already been taken")
    } else {
        Error::Db(e)
    }
}

/// Recomputes the Unicode-lowercased `search_text` and `sort_name` of a user
/// (SQLite's `lower()` only folds ASCII, so Cyrillic names need Rust).
pub(crate) fn refresh_search(db: &dyn Db, id: i64) -> Result<()> {
    let Some(r) = db.query_row(
        "SELECT first_name, last_name, nickname, email, phone_number, department, title FROM users WHERE id = ?",
        &[id.into()],
    )?
    else {
        return Ok(());
    };
    let mut fields = Vec::with_capacity(8);
    for i in 0..7 {
        fields.push(r.opt_string(i)?.unwrap_or_default().to_lowercase());
    }
    let full_name = format!("{} {}", fields[0], fields[1]).trim().to_owned();
    let sort_name = format!("{full_name} {}", fields[2]).trim().to_owned();
    fields.push(full_name);
    db.execute(
        "UPDATE users SET search_text = ?, sort_name = ? WHERE id = ?",
        &[fields.join("\n").into(), sort_name.into(), id.into()],
    )?;
    Ok(())
}

pub(crate) fn member_event(db: &dyn Db, actor: &Principal, id: i64, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::COMPANY_MEMBER,
            event,
            entity_type: "User",
            entity_id: id,
            actor: Some(actor.user_id),
            payload: json!({"user_ids": [id]}),
        },
    )?;
    Ok(())
}

/// Creates a user (`POST /users`). Requires an owner/admin principal. The
/// user joins `chat_ids` in the same transaction (checked before anything is
/// written; see [`chat_members::check_new_user_chats`]).
pub fn create(db: &dyn Db, actor: &Principal, input: UserInput) -> Result<Json> {
    if !actor.is_manager() {
        return Err(Error::forbidden(
            "user",
            ErrorCode::Forbidden,
            "Only the owner or an admin can create users",
        ));
    }
    let email = input
        .email
        .clone()
        .ok_or_else(|| Error::invalid("email", ErrorCode::Blank, None, "can't be blank"))?;
    let id = transaction(db, |db| -> Result<i64> {
        ensure_unique(db, "email", &email, 0)?;
        let nickname = match &input.nickname {
            Some(n) => {
                ensure_unique(db, "nickname", n, 0)?;
                n.clone()
            }
            None => generate_nickname(db, &email)?,
        };
        let props = match &input.custom_properties {
            Some(p) => custom_properties::validate_user_values(db, p)?,
            None => Vec::new(),
        };
        let chat_ids = match &input.chat_ids {
            Some(ids) => {
                chat_members::check_new_user_chats(db, actor, ids, input.role == Some(Role::Guest))?
            }
            None => Vec::new(),
        };
        let now = time::now().to_string();
        let flat = |v: &Option<Option<String>>| v.clone().flatten().filter(|s| !s.is_empty());
        db.execute(
            "INSERT INTO users (first_name, last_name, nickname, email, phone_number, department, title, role, \
             suspended, invite_status, inviter_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?, ?)",
            &[
                flat(&input.first_name).into(),
                flat(&input.last_name).into(),
                nickname.into(),
                email.clone().into(),
                flat(&input.phone_number).into(),
                flat(&input.department).into(),
                flat(&input.title).into(),
                input.role.unwrap_or(Role::User).as_str().into(),
                input.suspended.unwrap_or(false).into(),
                actor.user_id.into(),
                now.clone().into(),
                now.clone().into(),
            ],
        )
        .map_err(|e| map_unique(e, &input))?;
        let id = db.last_insert_rowid();
        refresh_search(db, id)?;
        if let Some(tags) = &input.list_tags {
            group_tags::set_user_tags(db, actor, id, tags)?;
        }
        custom_properties::store_user_values(db, id, &props)?;
        for chat_id in &chat_ids {
            db.execute(
                "INSERT OR IGNORE INTO user_chat_invitations (user_id, chat_id, created_at) VALUES (?, ?, ?)",
                &[id.into(), (*chat_id).into(), now.clone().into()],
            )?;
        }
        member_event(db, actor, id, "invite")?;
        chat_members::add_new_user(db, actor.user_id, id, &chat_ids)?;
        if input.suspended == Some(true) {
            member_event(db, actor, id, "suspend")?;
        }
        Ok(id)
    })?;
    get(db, id)
}

fn check_protections(
    actor: &Principal,
    target: &UserRow,
    role: Option<Role>,
    suspend: bool,
) -> Result<()> {
    // The owner is rendered as `admin`, so echoing `admin` back is no change.
    let role_change =
        role.is_some_and(|r| r != target.role && !(target.role == Role::Owner && r == Role::Admin));
    if target.role == Role::Owner && (role_change || suspend) {
        return Err(Error::forbidden(
            if role_change { "role" } else { "suspended" },
            ErrorCode::OwnerProtected,
            "The workspace owner cannot be demoted or suspended",
        ));
    }
    if target.id == actor.user_id && (role_change || suspend) {
        return Err(Error::forbidden(
            if role_change { "role" } else { "suspended" },
            ErrorCode::SelfUpdate,
            "You cannot change your own role or suspend yourself",
        ));
    }
    Ok(())
}

/// Updates a user (`PUT /users/{id}`): only the fields present change.
pub fn update(db: &dyn Db, actor: &Principal, id: i64, input: UserInput) -> Result<Json> {
    if !actor.is_manager() {
        return Err(Error::forbidden(
            "user",
            ErrorCode::Forbidden,
            "Only the owner or an admin can edit users",
        ));
    }
    transaction(db, |db| -> Result<()> {
        let target = load(db, id, "id")?;
        check_protections(actor, &target, input.role, input.suspended == Some(true))?;
        let mut sets: Vec<&str> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        let mut set = |col: &'static str, v: Value| {
            sets.push(col);
            params.push(v);
        };
        let nullable = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        if let Some(v) = &input.first_name {
            set("first_name = ?", nullable(v).into());
        }
        if let Some(v) = &input.last_name {
            set("last_name = ?", nullable(v).into());
        }
        if let Some(v) = &input.phone_number {
            set("phone_number = ?", nullable(v).into());
        }
        if let Some(v) = &input.department {
            set("department = ?", nullable(v).into());
        }
        if let Some(v) = &input.title {
            set("title = ?", nullable(v).into());
        }
        if let Some(email) = &input.email {
            ensure_unique(db, "email", email, id)?;
            set("email = ?", email.clone().into());
        }
        if let Some(nick) = &input.nickname {
            ensure_unique(db, "nickname", nick, id)?;
            set("nickname = ?", nick.clone().into());
        }
        if let Some(role) = input.role.filter(|_| target.role != Role::Owner) {
            set("role = ?", role.as_str().into());
        }
        if let Some(s) = input.suspended {
            set("suspended = ?", s.into());
        }
        let props = match &input.custom_properties {
            Some(p) => custom_properties::validate_user_values(db, p)?,
            None => Vec::new(),
        };
        set("updated_at = ?", time::now().to_string().into());
        params.push(id.into());
        db.execute(
            &format!("UPDATE users SET {} WHERE id = ?", sets.join(", ")),
            &params,
        )
        .map_err(|e| map_unique(e, &input))?;
        refresh_search(db, id)?;
        if let Some(tags) = &input.list_tags {
            group_tags::set_user_tags(db, actor, id, tags)?;
        }
        custom_properties::store_user_values(db, id, &props)?;
        member_event(db, actor, id, "update")?;
        match input.suspended {
            Some(true) if !target.suspended => member_event(db, actor, id, "suspend")?,
            Some(false) if target.suspended => member_event(db, actor, id, "activate")?,
            _ => {}
        }
        Ok(())
    })?;
    get(db, id)
}

/// Deletes a user (`DELETE /users/{id}`): soft delete that frees the e-mail
/// and nickname, revokes tokens and drops tag memberships and status.
pub fn delete(db: &dyn Db, actor: &Principal, id: i64) -> Result<()> {
    if !actor.is_manager() {
        return Err(Error::forbidden(
            "user",
            ErrorCode::Forbidden,
            "Only the owner or an admin can delete users",
        ));
    }
    transaction(db, |db| -> Result<()> {
        let target = load(db, id, "id")?;
        if target.role == Role::Owner {
            return Err(Error::forbidden(
                "id",
                ErrorCode::OwnerProtected,
                "The workspace owner cannot be deleted",
            ));
        }
        if target.id == actor.user_id {
            return Err(Error::forbidden(
                "id",
                ErrorCode::SelfUpdate,
                "You cannot delete yourself",
            ));
        }
        let now = time::now().to_string();
        db.execute(
            "UPDATE users SET deleted_at = ?, updated_at = ? WHERE id = ?",
            &[now.clone().into(), now.clone().into(), id.into()],
        )?;
        db.execute(
            "UPDATE access_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            &[now.into(), id.into()],
        )?;
        db.execute(
            "DELETE FROM group_tag_users WHERE user_id = ?",
            &[id.into()],
        )?;
        crate::chat_members::remove_user_everywhere(db, Some(actor.user_id), id)?;
        db.execute("DELETE FROM user_statuses WHERE user_id = ?", &[id.into()])?;
        member_event(db, actor, id, "delete")
    })
}

/// Page of users ordered by id (`GET /users` without `query`).
pub fn list(db: &dyn Db, limit: i64, cursor: Option<&Cursor>) -> Result<(Vec<Json>, Json)> {
    let page: IdPage = pagination::id_page(
        db,
        "FROM users WHERE deleted_at IS NULL",
        "id",
        &[],
        limit,
        cursor,
    )?;
    Ok((render_many(db, &page.ids)?, page.meta()))
}

/// Sort of the search methods (`SearchSortOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSort {
    /// Relevance (exact, prefix, substring matches).
    ByScore,
    /// By full name.
    Alphabetical,
    /// By creation time.
    Creation,
}

/// Parameters of `GET /search/users` (and `GET /users?query=`).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Phrase matched against names, nickname, e-mail, phone, department, title.
    pub query: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
    /// Sort.
    pub sort: SearchSort,
    /// `true` = ascending.
    pub ascending: bool,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
    /// Allowed roles (API names); empty = any.
    pub roles: Vec<Role>,
}

/// Search (`meta.total` + `meta.paginate.next_page`) with keyset paging over
/// `(sort key, id)`.
pub fn search(db: &dyn Db, p: &SearchParams) -> Result<(Vec<Json>, Json)> {
    let mut filters = vec!["deleted_at IS NULL".to_owned()];
    let mut params: Vec<Value> = Vec::new();
    let q = p
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    if let Some(q) = &q {
        filters.push("instr(search_text, ?) > 0".into());
        params.push(q.clone().into());
    }
    if !p.roles.is_empty() {
        let mut stored: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
        if p.roles.contains(&Role::Admin) {
            stored.push(Role::Owner.as_str());
        }
        filters.push(format!("role IN ({})", placeholders(stored.len())));
        params.extend(stored.into_iter().map(Value::from));
    }
    if let Some(t) = p.created_from {
        filters.push("created_at >= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(t) = p.created_to {
        filters.push("created_at <= ?".into());
        params.push(t.to_string().into());
    }
    let where_clause = filters.join(" AND ");
    let total = db
        .query_row(
            &format!("SELECT COUNT(*) FROM users WHERE {where_clause}"),
            &params,
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);

    let (key_expr, key_params): (String, Vec<Value>) = match (p.sort, &q) {
        (SearchSort::Creation, _) => ("created_at".into(), vec![]),
        (SearchSort::Alphabetical, _) => ("sort_name".into(), vec![]),
        (SearchSort::ByScore, None) => ("0".into(), vec![]),
        (SearchSort::ByScore, Some(q)) => (
            "(CASE WHEN lower(nickname) = ? OR coalesce(email, '') = ? THEN 3 \
                   WHEN instr(sort_name, ?) = 1 OR instr(lower(nickname), ?) = 1 THEN 2 ELSE 1 END)"
                .into(),
            vec![q.clone().into(), q.clone().into(), q.clone().into(), q.clone().into()],
        ),
    };
    let (cmp, order) = if p.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    let mut sql_params = key_params;
    sql_params.extend(params.iter().cloned());
    let mut outer = String::new();
    if let Some(c) = &p.cursor {
        if c.end {
            return Ok((Vec::new(), pagination::search_meta(total, c.encode())));
        }
        let key = match &c.key {
            Some(Json::String(s)) => Value::Text(s.clone()),
            Some(Json::Number(n)) => Value::Integer(n.as_i64().unwrap_or(0)),
            _ => Value::Null,
        };
        outer = format!("WHERE (k, id) {cmp} (?, ?)");
        sql_params.push(key);
        sql_params.push(c.id.into());
    }
    sql_params.push(p.limit.into());
    let rows = db.query(
        &format!(
            "SELECT id, k FROM (SELECT id, {key_expr} AS k FROM users WHERE {where_clause}) {outer} \
             ORDER BY k {order}, id {order} LIMIT ?"
        ),
        &sql_params,
    )?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut last: Option<(Json, i64)> = None;
    for r in &rows {
        let id = r.i64(0)?;
        let k = match r.0.get(1) {
            Some(Value::Integer(i)) => json!(i),
            Some(Value::Text(s)) => json!(s),
            _ => Json::Null,
        };
        ids.push(id);
        last = Some((k, id));
    }
    let next = match (last, &p.cursor) {
        (Some((k, id)), _) => Cursor {
            key: Some(k),
            id,
            dir: Direction::Next,
            end: false,
        }
        .encode(),
        (None, Some(c)) => c.encode(),
        (None, None) => Cursor {
            key: None,
            id: 0,
            dir: Direction::Next,
            end: true,
        }
        .encode(),
    };
    Ok((render_many(db, &ids)?, pagination::search_meta(total, next)))
}

/// Reads the search query parameters shared by `/search/users` and `/users?query=`.
pub fn parse_search_params(
    q: &crate::http::Query,
    max_limit: i64,
    default_limit: i64,
) -> Result<SearchParams> {
    let sort = match q.get("sort") {
        None | Some("") | Some("by_score") => SearchSort::ByScore,
        Some("alphabetical") => SearchSort::Alphabetical,
        Some("creation") => SearchSort::Creation,
        Some(other) => return Err(bad_param("sort", ErrorCode::Inclusion, other)),
    };
    let ascending = match q.get("order") {
        None | Some("") => sort == SearchSort::Alphabetical,
        Some("asc") => true,
        Some("desc") => false,
        Some(other) => return Err(bad_param("order", ErrorCode::Inclusion, other)),
    };
    let date = |k: &str| -> Result<Option<Timestamp>> {
        match q.get(k).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => Timestamp::parse(s)
                .map(Some)
                .ok_or_else(|| bad_param(k, ErrorCode::Invalid, s)),
        }
    };
    let mut roles = Vec::new();
    for r in q.list("company_roles") {
        match r.as_str() {
            "admin" | "user" | "multi_guest" | "guest" => {
                roles.extend(Role::parse(&r));
            }
            other => return Err(bad_param("company_roles", ErrorCode::Inclusion, other)),
        }
    }
    Ok(SearchParams {
        query: q.get("query").map(str::to_owned),
        limit: pagination::parse_limit(q.get("limit"), max_limit, default_limit)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
        sort,
        ascending,
        created_from: date("created_from")?,
        created_to: date("created_to")?,
        roles,
    })
}

fn bad_param(key: &str, code: ErrorCode, value: &str) -> Error {
    Error::BadRequest(vec![FieldError::new(
        key,
        code,
        Some(value.to_owned()),
        "Invalid query parameter",
    )])
}
