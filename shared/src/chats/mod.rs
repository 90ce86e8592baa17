//! Chats (`/chats`, `/search/chats`): discussions, channels and personal
//! one-to-one chats. Who sees what is decided in [`crate::chats::visibility`];
//! membership changes live in [`crate::chats::members`].
//!
//! `member_ids` and `group_tag_ids` of the rendered `Chat` are always complete
//! (one aggregated query per page, whatever the chat size).

pub mod members;
pub mod membership_sync;
pub mod message_rows;
pub mod routes;
pub mod system_messages;
#[cfg(test)]
mod tests;
pub mod threads;
pub mod visibility;

use crate::auth::Principal;
use crate::chats::visibility::{self as vis, MemberRole, Membership};
use crate::platform::db::{transaction, Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::events::{self, Event};
use crate::platform::http::Query;
use crate::platform::pagination::{self, Cursor};
use crate::platform::params::{bad_query, query_bool, query_enum, query_time};
use crate::platform::time::{self, Timestamp};
use crate::platform::validate::{self, Fields};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as Json};
use std::collections::HashMap;

/// `maxLength` of a chat name.
pub const NAME_MAX: usize = 255;
/// `limit` bound (and default) of `GET /search/chats`.
pub const SEARCH_MAX: i64 = 100;

/// One stored chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Creator.
    pub owner_id: i64,
    /// Channel (only owner/admins/editors post) rather than a discussion.
    pub channel: bool,
    /// Open: visible to every employee.
    pub public: bool,
    /// Personal one-to-one chat.
    pub personal: bool,
    /// Archived.
    pub archived: bool,
    /// Video room slug (rendered in `meet_room_url`).
    pub meet_room_slug: String,
    /// Time of the last message (creation time until the first message).
    pub last_message_at: String,
    /// Creation time.
    pub created_at: String,
}

const CHAT_COLUMNS: &str =
    "id, name, owner_id, channel, public, personal, archived, meet_room_slug, last_message_at, created_at";

fn chat_row(r: &Row) -> Result<ChatRow> {
    Ok(ChatRow {
        id: r.i64(0)?,
        name: r.string(1)?,
        owner_id: r.i64(2)?,
        channel: r.bool(3)?,
        public: r.bool(4)?,
        personal: r.bool(5)?,
        archived: r.bool(6)?,
        meet_room_slug: r.string(7)?,
        last_message_at: r.string(8)?,
        created_at: r.string(9)?,
    })
}

/// Loads a chat regardless of visibility.
pub fn load(db: &dyn Db, id: i64) -> Result<Option<ChatRow>> {
    db.query_row(
        &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?"),
        &[id.into()],
    )?
    .map(|r| chat_row(&r))
    .transpose()
}

/// A user's membership in a chat, if any.
pub fn membership(db: &dyn Db, chat_id: i64, user_id: i64) -> Result<Option<Membership>> {
    let Some(r) = db.query_row(
        "SELECT role, direct FROM chat_members WHERE chat_id = ? AND user_id = ?",
        &[chat_id.into(), user_id.into()],
    )?
    else {
        return Ok(None);
    };
    let role = MemberRole::parse(&r.string(0)?).ok_or(Error::Internal("bad chat role".into()))?;
    Ok(Some(Membership {
        role,
        direct: r.bool(1)?,
    }))
}

/// The chat as seen by `p` with `p`'s membership; 404 on `id` when it does
/// not exist or `p` does not see it. A thread chat is also seen by whoever
/// sees its parent chat ([`crate::messages::threads`]).
pub fn visible(db: &dyn Db, p: &Principal, id: i64) -> Result<(ChatRow, Option<Membership>)> {
    let chat = load(db, id)?.ok_or_else(|| Error::not_found("id", id))?;
    let m = membership(db, id, p.user_id)?;
    if vis::can_see(p, &chat, m.as_ref()) || crate::chats::threads::sees_thread_chat(db, p, id)? {
        Ok((chat, m))
    } else {
        Err(Error::not_found("id", id))
    }
}

/// 403 unless `m` is the chat's creator or admin.
pub fn require_manager(m: Option<&Membership>) -> Result<()> {
    if vis::can_manage(m) {
        Ok(())
    } else {
        Err(Error::forbidden(
            "chat",
            ErrorCode::Forbidden,
            "Only the chat's creator or an admin of the chat can do this",
        ))
    }
}

/// 403 when the chat is archived (settings and membership are frozen).
pub fn require_active(chat: &ChatRow) -> Result<()> {
    if chat.archived {
        Err(Error::forbidden(
            "chat",
            ErrorCode::Forbidden,
            "The chat is archived; unarchive it first",
        ))
    } else {
        Ok(())
    }
}

/// 422 `personal_chat` for operations that do not apply to personal chats.
pub fn require_group(chat: &ChatRow) -> Result<()> {
    if chat.personal {
        Err(Error::invalid(
            "id",
            ErrorCode::PersonalChat,
            Some(chat.id.to_string()),
            "Not applicable to a personal chat",
        ))
    } else {
        Ok(())
    }
}

fn split_ids(s: Option<String>) -> Vec<i64> {
    let mut v: Vec<i64> = s
        .unwrap_or_default()
        .split(',')
        .filter_map(|x| x.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// Renders chats (spec `Chat`) in the order of `ids`.
pub fn render_many(db: &dyn Db, ids: &[i64]) -> Result<Vec<Json>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = Value::id_array(ids);
    let mut rows: HashMap<i64, ChatRow> = HashMap::new();
    for r in db.query(
        &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id IN (SELECT value FROM json_each(?))"),
        &[list.clone()],
    )? {
        let c = chat_row(&r)?;
        rows.insert(c.id, c);
    }
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in db.query(
        "SELECT chat_id, group_concat(user_id) FROM chat_members \
         WHERE chat_id IN (SELECT value FROM json_each(?)) GROUP BY chat_id",
        &[list.clone()],
    )? {
        members.insert(r.i64(0)?, split_ids(r.opt_string(1)?));
    }
    let mut tags: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in db.query(
        "SELECT chat_id, group_concat(group_tag_id) FROM chat_group_tags \
         WHERE chat_id IN (SELECT value FROM json_each(?)) GROUP BY chat_id",
        &[list.into()],
    )? {
        tags.insert(r.i64(0)?, split_ids(r.opt_string(1)?));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(c) = rows.get(id) else { continue };
        out.push(json!({
            "id": c.id,
            "name": c.name,
            "created_at": c.created_at,
            "owner_id": c.owner_id,
            "member_ids": members.remove(id).unwrap_or_default(),
            "group_tag_ids": tags.remove(id).unwrap_or_default(),
            "channel": c.channel,
            "archived": c.archived,
            "personal": c.personal,
            "public": c.public,
            "last_message_at": c.last_message_at,
            "meet_room_url": format!("/meet/{}", c.meet_room_slug),
        }));
    }
    Ok(out)
}

fn render_one(db: &dyn Db, id: i64) -> Result<Json> {
    render_many(db, &[id])?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("id", id))
}

/// `GET /chats/{id}`: the chat if `p` sees it, else 404.
pub fn get(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    visible(db, p, id)?;
    render_one(db, id)
}

/// Parsed body of `POST /chats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatInput {
    /// Name (required, trimmed, at most [`NAME_MAX`] characters).
    pub name: String,
    /// Users to add.
    pub member_ids: Vec<i64>,
    /// Tags whose users become members.
    pub group_tag_ids: Vec<i64>,
    /// Channel rather than discussion.
    pub channel: bool,
    /// Open chat.
    pub public: bool,
}

/// Validates `{"chat": {...}}` of `POST /chats`.
pub fn parse_create(body: &Json) -> Result<ChatInput> {
    let obj = validate::wrapper(body, "chat")?;
    let mut f = Fields::new(obj, "");
    let name = f.required_string("name", Some(NAME_MAX));
    let member_ids = f.int_array("member_ids").unwrap_or_default();
    let group_tag_ids = f.int_array("group_tag_ids").unwrap_or_default();
    let channel = f.bool("channel").unwrap_or(false);
    let public = f.bool("public").unwrap_or(false);
    f.finish()?;
    Ok(ChatInput {
        name: name.unwrap_or_default(),
        member_ids,
        group_tag_ids,
        channel,
        public,
    })
}

/// Parsed body of `PUT /chats/{id}`: only present fields change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatUpdate {
    /// New name.
    pub name: Option<String>,
    /// New access type.
    pub public: Option<bool>,
}

/// Validates `{"chat": {...}}` of `PUT /chats/{id}`.
pub fn parse_update(body: &Json) -> Result<ChatUpdate> {
    let obj = validate::wrapper(body, "chat")?;
    let mut f = Fields::new(obj, "");
    let name = if f.present("name") {
        f.required_string("name", Some(NAME_MAX))
    } else {
        None
    };
    let public = f.bool("public");
    f.finish()?;
    Ok(ChatUpdate { name, public })
}

fn random_slug() -> Result<String> {
    let mut buf = [0u8; 9];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("random source failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Records a `chat` event (audit facts: the actor plus `payload`).
pub fn chat_event(
    db: &dyn Db,
    actor: Option<i64>,
    chat_id: i64,
    event: &str,
    mut payload: Json,
) -> Result<()> {
    payload["chat_id"] = json!(chat_id);
    events::record(
        db,
        &Event {
            kind: events::CHAT,
            event,
            entity_type: "Chat",
            entity_id: chat_id,
            actor,
            payload,
        },
    )?;
    Ok(())
}

struct NewChat<'a> {
    name: &'a str,
    owner_id: i64,
    channel: bool,
    public: bool,
    personal_key: Option<String>,
}

fn insert_chat(db: &dyn Db, c: &NewChat<'_>) -> Result<i64> {
    let now = time::now().to_string();
    db.execute(
        "INSERT INTO chats (name, search_name, owner_id, channel, public, personal, archived, personal_key, \
         meet_room_slug, last_message_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
        &[
            c.name.into(),
            c.name.to_lowercase().into(),
            c.owner_id.into(),
            c.channel.into(),
            c.public.into(),
            c.personal_key.is_some().into(),
            c.personal_key.clone().into(),
            random_slug()?.into(),
            now.clone().into(),
            now.clone().into(),
            now.into(),
        ],
    )?;
    Ok(db.last_insert_rowid())
}

/// `POST /chats`: creates a discussion or channel; the caller becomes its
/// creator (`owner`), `member_ids` and the users of `group_tag_ids` join.
pub fn create(db: &dyn Db, p: &Principal, input: &ChatInput) -> Result<Json> {
    if vis::viewer_kind(p) == vis::ViewerKind::Guest {
        return Err(Error::forbidden(
            "chat",
            ErrorCode::Forbidden,
            "Guests cannot create chats",
        ));
    }
    let id = transaction(db, |db| -> Result<i64> {
        members::ensure_users_exist(db, "member_ids", &input.member_ids)?;
        members::ensure_tags_exist(db, &input.group_tag_ids)?;
        let id = insert_chat(
            db,
            &NewChat {
                name: &input.name,
                owner_id: p.user_id,
                channel: input.channel,
                public: input.public,
                personal_key: None,
            },
        )?;
        chat_event(
            db,
            Some(p.user_id),
            id,
            "create",
            json!({"name": input.name, "channel": input.channel, "public": input.public}),
        )?;
        let mut ids = vec![p.user_id];
        ids.extend(&input.member_ids);
        let added = members::insert_direct(db, id, &ids)?;
        let others: Vec<i64> = added.into_iter().filter(|u| *u != p.user_id).collect();
        members::member_event(db, Some(p.user_id), id, "add", &others, false, "direct")?;
        members::attach_tags(db, Some(p.user_id), id, &input.group_tag_ids)?;
        Ok(id)
    })?;
    render_one(db, id)
}

/// Body of the `POST /chats` 201: the chat plus `meta.not_found_member_ids`,
/// which the official SDKs require (`CreateChatResponse`). Unknown
/// `member_ids` are refused with 422 before anything is created, so the list
/// is always empty here.
pub fn created_body(chat: Json) -> Json {
    json!({"data": chat, "meta": {"not_found_member_ids": []}})
}

/// `PUT /chats/{id}`: rename and/or change the access type (creator/admins).
pub fn update(db: &dyn Db, p: &Principal, id: i64, upd: &ChatUpdate) -> Result<Json> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = visible(db, p, id)?;
        require_manager(m.as_ref())?;
        require_group(&chat)?;
        require_active(&chat)?;
        let now = time::now().to_string();
        if let Some(name) = upd.name.as_ref().filter(|n| **n != chat.name) {
            db.execute(
                "UPDATE chats SET name = ?, search_name = ?, updated_at = ? WHERE id = ?",
                &[
                    name.into(),
                    name.to_lowercase().into(),
                    now.clone().into(),
                    id.into(),
                ],
            )?;
            chat_event(
                db,
                Some(p.user_id),
                id,
                "rename",
                json!({"old_name": chat.name, "new_name": name}),
            )?;
        }
        if let Some(public) = upd.public.filter(|v| *v != chat.public) {
            db.execute(
                "UPDATE chats SET public = ?, updated_at = ? WHERE id = ?",
                &[public.into(), now.into(), id.into()],
            )?;
            chat_event(
                db,
                Some(p.user_id),
                id,
                "permission_change",
                json!({"public_access": public, "previous_public_access": chat.public}),
            )?;
        }
        Ok(())
    })?;
    render_one(db, id)
}

/// `PUT /chats/{id}/archive` and `/unarchive` (creator/admins; idempotent).
pub fn set_archived(db: &dyn Db, p: &Principal, id: i64, archived: bool) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        let (chat, m) = visible(db, p, id)?;
        require_manager(m.as_ref())?;
        if chat.archived == archived {
            return Ok(());
        }
        db.execute(
            "UPDATE chats SET archived = ?, updated_at = ? WHERE id = ?",
            &[archived.into(), time::now().to_string().into(), id.into()],
        )?;
        chat_event(
            db,
            Some(p.user_id),
            id,
            if archived { "archive" } else { "unarchive" },
            json!({}),
        )
    })
}

/// `availability` of `GET /chats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Chats the caller is a member of.
    IsMember,
    /// Every open chat the caller may see, member or not.
    Public,
}

/// Parameters of `GET /chats`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// Sort by `last_message_at` (else by id).
    pub by_last_message: bool,
    /// Ascending order (default descending).
    pub ascending: bool,
    /// Which chats.
    pub availability: Availability,
    /// Include archived chats.
    pub archived: bool,
    /// Only personal (`true`) or only group (`false`) chats.
    pub personal: Option<bool>,
    /// `last_message_at >=`.
    pub after: Option<Timestamp>,
    /// `last_message_at <=`.
    pub before: Option<Timestamp>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
}

/// Reads the query of `GET /chats` (bad values are 400).
pub fn parse_list_params(q: &Query, max_limit: i64) -> Result<ListParams> {
    Ok(ListParams {
        by_last_message: query_enum(q, "sort", &["id", "last_message_at"], "id")?
            == "last_message_at",
        ascending: query_enum(q, "order", &["asc", "desc"], "desc")? == "asc",
        availability: match query_enum(q, "availability", &["is_member", "public"], "is_member")? {
            "public" => Availability::Public,
            _ => Availability::IsMember,
        },
        archived: query_bool(q, "archived")?.unwrap_or(false),
        personal: query_bool(q, "personal")?,
        after: query_time(q, "last_message_at_after")?,
        before: query_time(q, "last_message_at_before")?,
        limit: pagination::parse_limit(q.get("limit"), max_limit, max_limit)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
    })
}

const MEMBER_SQL: &str =
    "EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = c.id AND m.user_id = ?)";

/// The chat aliased `c` is not a thread chat (threads are listed by `GET /threads`).
const NOT_THREAD_SQL: &str = "NOT EXISTS (SELECT 1 FROM threads t WHERE t.chat_id = c.id)";

/// `GET /chats`: a keyset page of the chats `p` may list.
pub fn list(db: &dyn Db, p: &Principal, lp: &ListParams) -> Result<(Vec<Json>, Json)> {
    let mut filters: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    match lp.availability {
        Availability::IsMember => {
            filters.push(MEMBER_SQL.into());
            params.push(p.user_id.into());
        }
        Availability::Public => filters.push(vis::outsider_sql(p).into()),
    }
    filters.push(NOT_THREAD_SQL.into());
    if !lp.archived {
        filters.push("c.archived = 0".into());
    }
    if let Some(personal) = lp.personal {
        filters.push("c.personal = ?".into());
        params.push(personal.into());
    }
    if let Some(t) = lp.after {
        filters.push("c.last_message_at >= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(t) = lp.before {
        filters.push("c.last_message_at <= ?".into());
        params.push(t.to_string().into());
    }
    let key = if lp.by_last_message {
        "c.last_message_at"
    } else {
        "c.id"
    };
    let source = format!(
        "SELECT c.id AS id, {key} AS k FROM chats c WHERE {}",
        filters.join(" AND ")
    );
    let (ids, meta) = pagination::keyset_page(
        db,
        &source,
        &params,
        lp.ascending,
        lp.limit,
        lp.cursor.as_ref(),
    )?;
    Ok((render_many(db, &ids)?, meta))
}

/// Parameters of `GET /search/chats`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Phrase matched (case-insensitively) inside chat names.
    pub query: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Position.
    pub cursor: Option<Cursor>,
    /// Ascending by creation (default descending).
    pub ascending: bool,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
    /// `true` = only active, `false` = only archived.
    pub active: Option<bool>,
    /// `chat_subtype=thread`: only thread chats (else only non-thread chats).
    pub threads_only: bool,
    /// Only personal / only group chats.
    pub personal: Option<bool>,
}

/// Reads the query of `GET /search/chats` (bad values are 400).
pub fn parse_search_params(q: &Query) -> Result<SearchParams> {
    let subtype = match q.get("chat_subtype").filter(|s| !s.is_empty()) {
        None | Some("discussion") => false,
        Some("thread") => true,
        Some(other) => return Err(bad_query("chat_subtype", ErrorCode::Inclusion, other)),
    };
    Ok(SearchParams {
        query: q.get("query").map(str::to_owned),
        limit: pagination::parse_limit(q.get("limit"), SEARCH_MAX, SEARCH_MAX)?,
        cursor: pagination::parse_cursor(q.get("cursor"))?,
        ascending: query_enum(q, "order", &["asc", "desc"], "desc")? == "asc",
        created_from: query_time(q, "created_from")?,
        created_to: query_time(q, "created_to")?,
        active: query_bool(q, "active")?,
        threads_only: subtype,
        personal: query_bool(q, "personal")?,
    })
}

/// `GET /search/chats`: visible chats whose name contains the query, newest
/// first by default, with `meta.total` and `meta.paginate.next_page`.
pub fn search(db: &dyn Db, p: &Principal, sp: &SearchParams) -> Result<(Vec<Json>, Json)> {
    let mut filters = vec![format!("({MEMBER_SQL} OR {})", vis::outsider_sql(p))];
    let mut params: Vec<Value> = vec![p.user_id.into()];
    filters.push(if sp.threads_only {
        format!("NOT {NOT_THREAD_SQL}")
    } else {
        NOT_THREAD_SQL.to_owned()
    });
    if let Some(q) = sp.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        filters.push("instr(c.search_name, ?) > 0".into());
        params.push(q.to_lowercase().into());
    }
    if let Some(t) = sp.created_from {
        filters.push("c.created_at >= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(t) = sp.created_to {
        filters.push("c.created_at <= ?".into());
        params.push(t.to_string().into());
    }
    if let Some(active) = sp.active {
        filters.push("c.archived = ?".into());
        params.push((!active).into());
    }
    if let Some(personal) = sp.personal {
        filters.push("c.personal = ?".into());
        params.push(personal.into());
    }
    let source = format!(
        "SELECT c.id AS id, c.id AS k FROM chats c WHERE {}",
        filters.join(" AND ")
    );
    let (ids, meta, total) = pagination::keyset_page_with_total(
        db,
        &source,
        &params,
        sp.ascending,
        sp.limit,
        sp.cursor.as_ref(),
    )?;
    Ok((
        render_many(db, &ids)?,
        pagination::search_meta(total, meta["paginate"]["next_page"].clone()),
    ))
}

fn display_name(db: &dyn Db, user_id: i64) -> Result<String> {
    let r = db
        .query_row(
            "SELECT trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), nickname \
             FROM users WHERE id = ? AND deleted_at IS NULL",
            &[user_id.into()],
        )?
        .ok_or_else(|| Error::not_found("user_id", user_id))?;
    let full = r.string(0)?;
    Ok(if full.is_empty() { r.string(1)? } else { full })
}

/// The personal (one-to-one) chat of users `a` and `b`, created on first use
/// with both as chat admins (`a == b` gives a chat with oneself). For the
/// messages area; runs in its own transaction unless `in_tx` says the caller
/// already holds one. 404 on `user_id` when either user does not exist.
pub fn find_or_create_personal_chat(db: &dyn Db, a: i64, b: i64, in_tx: bool) -> Result<i64> {
    let key = format!("{}:{}", a.min(b), a.max(b));
    if let Some(id) = find_personal(db, &key)? {
        return Ok(id);
    }
    let created = if in_tx {
        create_personal(db, a, b, &key)
    } else {
        transaction(db, |db| create_personal(db, a, b, &key))
    };
    match created {
        // A concurrent request created the same pair's chat first.
        Err(Error::Db(e)) if e.is_unique_violation() => {
            find_personal(db, &key)?.ok_or(Error::Db(e))
        }
        other => other,
    }
}

fn find_personal(db: &dyn Db, key: &str) -> Result<Option<i64>> {
    db.query_row("SELECT id FROM chats WHERE personal_key = ?", &[key.into()])?
        .map(|r| r.i64(0).map_err(Error::from))
        .transpose()
}

fn create_personal(db: &dyn Db, a: i64, b: i64, key: &str) -> Result<i64> {
    if let Some(id) = find_personal(db, key)? {
        return Ok(id);
    }
    let (na, nb) = (display_name(db, a)?, display_name(db, b)?);
    let name: String = if a == b { na } else { format!("{na}, {nb}") }
        .chars()
        .take(NAME_MAX)
        .collect();
    let id = insert_chat(
        db,
        &NewChat {
            name: &name,
            owner_id: a,
            channel: false,
            public: false,
            personal_key: Some(key.to_owned()),
        },
    )?;
    chat_event(db, Some(a), id, "create", json!({"personal": true}))?;
    members::insert_direct(db, id, &[a, b])?;
    let other: Vec<i64> = if a == b { vec![] } else { vec![b] };
    members::member_event(db, Some(a), id, "add", &other, true, "personal")?;
    Ok(id)
}
