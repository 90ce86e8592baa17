//! The official bots API: `POST /bots`, `GET /bots`, `GET/PUT/DELETE
//! /bots/{id}`, `POST /bots/{id}/recreate_token`, and the bot's own
//! `PUT /bot/webhook` and `POST /bot/recreate_token`; plus our extension
//! `POST /bots/{id}/signing_secret` (rotate the outgoing webhook's secret).
//!
//! A bot is a user row with `bot = 1` (role `user`, confirmed) and a `bots`
//! row with its [`BotSettings`], its creator and its signing secret. It has
//! one live token, whose scopes are the settings' `scopes`.
//!
//! Who may do what (`guides/bots-setup.md`, the operations' descriptions):
//! * create: whoever holds `bots:write` (owner, admins, employees);
//! * see, list, edit, rotate the token: the creator always; admins (and the
//!   owner) when `can_edit` has `admin`; owners and admins of a chat the bot
//!   is in when `can_edit` has `chat_owners`. Anyone else gets 404, as if
//!   the bot did not exist;
//! * delete and rotate the token: the creator, or an admin when `can_edit`
//!   has `admin` (chat owners may edit but not delete: 403).
//!
//! The signing secret, which Pachka shows only in its UI, is returned to the
//! creator as the extension field `signing_secret` beside `id` and `webhook`.

use crate::auth::access_tokens;
use crate::auth::scopes;
use crate::auth::Principal;
use crate::chats::membership_sync::ChatMembershipSync;
use crate::platform::audit;
use crate::platform::db::{self, transaction, Db, Row, Value};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::outbox;
use crate::platform::pagination::{self, Cursor};
use crate::platform::random;
use crate::platform::time;
use crate::users;
use crate::webhooks::incoming;
use crate::webhooks::settings::{self, BotSettings, SettingsInput, NICKNAME_SUFFIX};
use serde_json::{json, Value as Json};

/// A live bot.
#[derive(Debug, Clone, PartialEq)]
pub struct Bot {
    /// User id of the bot.
    pub id: i64,
    /// Display name (the user's first name).
    pub name: String,
    /// Nickname.
    pub nickname: String,
    /// Who created it.
    pub creator_id: i64,
    /// Webhook settings.
    pub settings: BotSettings,
    /// HMAC-SHA256 key of its outgoing webhooks.
    pub signing_secret: String,
    /// When it was created.
    pub created_at: String,
}

/// The columns a [`Bot`] is read from, of `bots b JOIN users u`, in the
/// order [`Bot::from_row`] reads them.
fn bot_columns() -> String {
    format!(
        "u.id, u.first_name, u.nickname, b.creator_id, b.signing_secret, b.created_at, {}",
        settings::COLUMNS
    )
}

impl Bot {
    /// The bot in [`bot_columns`] of `r`, from column `at` on.
    fn from_row(r: &Row, at: usize) -> Result<Bot> {
        Ok(Bot {
            id: r.i64(at)?,
            name: r.opt_string(at + 1)?.unwrap_or_default(),
            nickname: r.string(at + 2)?,
            creator_id: r.i64(at + 3)?,
            signing_secret: r.string(at + 4)?,
            created_at: r.string(at + 5)?,
            settings: settings::from_row(r, at + 6)?,
        })
    }
}

/// Loads a live (not deleted) bot.
pub fn load(db: &dyn Db, id: i64) -> Result<Option<Bot>> {
    db.query_row(
        &format!(
            "SELECT {} FROM bots b JOIN users u ON u.id = b.user_id \
             WHERE b.user_id = ? AND u.deleted_at IS NULL",
            bot_columns()
        ),
        &[id.into()],
    )?
    .map(|r| Bot::from_row(&r, 0))
    .transpose()
}

/// Whether `p` chat-owns (owner or admin role in) a chat the bot is in.
fn owns_a_chat_of(db: &dyn Db, p: &Principal, bot_id: i64) -> Result<bool> {
    Ok(db
        .query_row(
            "SELECT 1 FROM chat_members b JOIN chat_members m ON m.chat_id = b.chat_id \
             WHERE b.user_id = ? AND m.user_id = ? AND m.role IN ('owner', 'admin') LIMIT 1",
            &[bot_id.into(), p.user_id.into()],
        )?
        .is_some())
}

/// Whether `p` may see and edit `bot`.
pub fn can_edit(db: &dyn Db, p: &Principal, bot: &Bot) -> Result<bool> {
    if p.bot {
        return Ok(false);
    }
    let roles = &bot.settings.can_edit;
    Ok(bot.creator_id == p.user_id
        || (p.is_manager() && roles.iter().any(|r| r == "admin"))
        || (roles.iter().any(|r| r == "chat_owners") && owns_a_chat_of(db, p, bot.id)?))
}

/// Whether `p` may delete `bot` or rotate its token.
fn can_administer(p: &Principal, bot: &Bot) -> bool {
    !p.bot
        && (bot.creator_id == p.user_id
            || (p.is_manager() && bot.settings.can_edit.iter().any(|r| r == "admin")))
}

/// The bot `id` if `p` may delete it, rotate its token or its secret (the
/// `action`, for the message): 404 if `p` may not even edit it, 403 if `p`
/// may edit but not administer it.
fn administrable(db: &dyn Db, p: &Principal, id: i64, action: &str) -> Result<Bot> {
    let bot = editable(db, p, id)?;
    if can_administer(p, &bot) {
        Ok(bot)
    } else {
        Err(Error::forbidden(
            "id",
            ErrorCode::Forbidden,
            &format!("Only the bot's creator or an admin it allows can {action}"),
        ))
    }
}

/// The bot `id` if `p` may edit it; 404 otherwise.
pub(crate) fn editable(db: &dyn Db, p: &Principal, id: i64) -> Result<Bot> {
    match load(db, id)? {
        Some(bot) if can_edit(db, p, &bot)? => Ok(bot),
        _ => Err(Error::not_found("id", id)),
    }
}

/// `BotResponse`, with the extension field `signing_secret` for the creator.
///
/// Besides the spec's `id` and `webhook`, it carries the bot fields that
/// the official SDKs (pachca-sdk 1.6) require of a bot (`name`,
/// `nickname`, `created_at`, `creator_id`, `avatar_url`,
/// `authorized_users_count`, `oauth_client_enabled` and `permissions`, the
/// caller's rights on it): added fields, documented in our OpenAPI; no
/// official field changes. This server has no OAuth clients, so none is
/// authorized or enabled.
///
/// Incoming webhook (extension, as the newer SDKs name it): the creator
/// sees `webhook.url`, the bot's secret incoming URL; whoever sees the bot
/// sees `webhook.last_request_body` and `webhook.last_request_at`.
fn render(db: &dyn Db, p: &Principal, bot: &Bot) -> Result<Json> {
    Ok(render_with(p, bot, &incoming::state(db, bot.id)?))
}

/// [`render`] with the bot's incoming-webhook state already read.
fn render_with(p: &Principal, bot: &Bot, incoming: &incoming::IncomingState) -> Json {
    let administer = can_administer(p, bot);
    let mut out = json!({
        "id": bot.id,
        "name": bot.name,
        "nickname": bot.nickname,
        "created_at": bot.created_at,
        "creator_id": bot.creator_id,
        "avatar_url": null,
        "authorized_users_count": 0,
        "oauth_client_enabled": false,
        "permissions": {
            "update_oauth_client": false,
            "recreate_token": administer,
            "destroy": administer,
        },
        "webhook": settings::render(&bot.name, &bot.nickname, &bot.settings),
    });
    out["webhook"]["last_request_body"] = json!(incoming.last_request_body);
    out["webhook"]["last_request_at"] = json!(incoming.last_request_at);
    if bot.creator_id == p.user_id {
        out["signing_secret"] = json!(bot.signing_secret);
        if let Some(token) = &incoming.token {
            out["webhook"]["url"] = json!(incoming::url(&outbox::origin(), token));
        }
    }
    out
}

/// A new signing secret: 32 random bytes, hex.
fn new_secret() -> Result<String> {
    Ok(hex::encode(random::bytes::<32>()?))
}

/// The catalogue entries of `names` (all validated already).
fn token_scopes(names: &[String]) -> Vec<&'static str> {
    names.iter().filter_map(|s| scopes::lookup(s)).collect()
}

/// Revokes the bot's live tokens and issues a new one with its scopes.
/// Call inside a transaction; returns the token.
fn reissue_token(db: &dyn Db, actor: &Principal, bot: &Bot, now: &str) -> Result<String> {
    db.execute(
        "UPDATE access_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        &[now.to_owned().into(), bot.id.into()],
    )?;
    let token = access_tokens::generate()?;
    access_tokens::store(
        db,
        actor,
        bot.id,
        Some(&bot.name),
        &token_scopes(&bot.settings.scopes),
        &token,
        now,
    )?;
    Ok(token)
}

/// A free nickname made from the bot's name: its latin words joined by `_`
/// (`Tasks Helper` → `tasks_helper_bot`), `bot_bot` when it has none, with
/// `_2`, `_3`... before the suffix when taken.
fn generate_nickname(db: &dyn Db, name: &str) -> Result<String> {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut base = if words.is_empty() {
        "bot".to_owned()
    } else {
        words.join("_")
    };
    if let Some(stripped) = base.strip_suffix(NICKNAME_SUFFIX) {
        base = stripped.to_owned();
    }
    base.truncate(200);
    for n in 1..1000 {
        let candidate = if n == 1 {
            format!("{base}{NICKNAME_SUFFIX}")
        } else {
            format!("{base}_{n}{NICKNAME_SUFFIX}")
        };
        let taken = db
            .query_row(
                "SELECT 1 FROM users WHERE nickname = ? COLLATE NOCASE AND deleted_at IS NULL",
                &[candidate.clone().into()],
            )?
            .is_some();
        if !taken {
            return Ok(candidate);
        }
    }
    Err(Error::invalid(
        "nickname",
        ErrorCode::Taken,
        None,
        "has already been taken",
    ))
}

fn taken(nickname: &str) -> Error {
    Error::invalid(
        "nickname",
        ErrorCode::Taken,
        Some(nickname.to_owned()),
        "has already been taken",
    )
}

/// `POST /bots`: creates the bot user, its settings and its token;
/// answers `BotCreateResponse` (plus `signing_secret`).
pub fn create(db: &dyn Db, actor: &Principal, input: &SettingsInput) -> Result<Json> {
    if actor.bot {
        return Err(Error::forbidden(
            "bot",
            ErrorCode::Forbidden,
            "Bots cannot create bots",
        ));
    }
    let name = input.name.clone().unwrap_or_default();
    let settings = input.apply(&BotSettings::default(), true);
    let secret = new_secret()?;
    let incoming_token = incoming::new_token()?;
    let now = time::now().to_string();
    let (id, token) = transaction(db, |db| -> Result<(i64, String)> {
        let nickname = match &input.nickname {
            Some(n) => {
                users::ensure_unique(db, "nickname", n, 0)?;
                n.clone()
            }
            None => generate_nickname(db, &name)?,
        };
        db.execute(
            "INSERT INTO users (first_name, nickname, role, bot, invite_status, inviter_id, created_at, updated_at) \
             VALUES (?, ?, 'user', 1, 'confirmed', ?, ?, ?)",
            &[
                name.clone().into(),
                nickname.clone().into(),
                actor.user_id.into(),
                now.clone().into(),
                now.clone().into(),
            ],
        )
        .map_err(|e| {
            if e.is_unique_violation() {
                taken(&nickname)
            } else {
                Error::Db(e)
            }
        })?;
        let id = db.last_insert_rowid();
        db.execute(
            "INSERT INTO bots (user_id, creator_id, signing_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            &[
                id.into(),
                actor.user_id.into(),
                secret.clone().into(),
                now.clone().into(),
                now.clone().into(),
            ],
        )?;
        settings::store(db, id, &settings, &now)?;
        incoming::set_token(db, id, &incoming_token)?;
        users::refresh_search(db, id)?;
        users::member_event(db, actor, id, "invite")?;
        let bot = Bot {
            id,
            name: name.clone(),
            nickname,
            creator_id: actor.user_id,
            settings: settings.clone(),
            signing_secret: secret.clone(),
            created_at: now.clone(),
        };
        let token = reissue_token(db, actor, &bot, &now)?;
        Ok((id, token))
    })?;
    let bot = load(db, id)?.ok_or_else(|| Error::Internal("bot vanished".into()))?;
    let mut out = render(db, actor, &bot)?;
    out["access_token"] = json!(token);
    Ok(out)
}

/// `GET /bots`: the bots `p` may edit, by id, optionally filtered by a
/// case-insensitive part of the name (`query`). The page is read with the
/// bots' columns and their incoming-webhook state, in one statement (plus
/// the one that tells whether there are more before or after it).
pub fn list(
    db: &dyn Db,
    p: &Principal,
    query: Option<&str>,
    limit: i64,
    cursor: Option<&Cursor>,
) -> Result<(Vec<Json>, Json)> {
    let mut from_where = String::from(
        "FROM bots b JOIN users u ON u.id = b.user_id \
         LEFT JOIN bot_incoming i ON i.bot_id = b.user_id WHERE u.deleted_at IS NULL \
         AND (b.creator_id = ? \
              OR (? = 1 AND EXISTS (SELECT 1 FROM json_each(b.can_edit_json) WHERE value = 'admin')) \
              OR (EXISTS (SELECT 1 FROM json_each(b.can_edit_json) WHERE value = 'chat_owners') \
                  AND EXISTS (SELECT 1 FROM chat_members x JOIN chat_members m ON m.chat_id = x.chat_id \
                              WHERE x.user_id = b.user_id AND m.user_id = ? AND m.role IN ('owner', 'admin'))))",
    );
    let mut params: Vec<Value> = vec![
        p.user_id.into(),
        (!p.bot && p.is_manager()).into(),
        p.user_id.into(),
    ];
    if p.bot {
        from_where.push_str(" AND 0 = 1");
    }
    if let Some(q) = query.map(str::trim).filter(|q| !q.is_empty()) {
        from_where.push_str(" AND instr(lower(COALESCE(u.first_name, '')), lower(?)) > 0");
        params.push(q.to_owned().into());
    }
    let columns = format!("{}, {}", incoming::STATE_COLUMNS, bot_columns());
    let state_columns = db::column_count(incoming::STATE_COLUMNS);
    let (page, rows) = pagination::id_page_rows(
        db,
        &from_where,
        "b.user_id",
        &columns,
        &params,
        limit,
        cursor,
    )?;
    let data = rows
        .iter()
        .map(|r| {
            let incoming = incoming::IncomingState::from_row(r, 0)?;
            Ok(render_with(p, &Bot::from_row(r, state_columns)?, &incoming))
        })
        .collect::<Result<_>>()?;
    Ok((data, page.meta()))
}

/// `GET /bots/{id}`.
pub fn get(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    render(db, p, &editable(db, p, id)?)
}

/// `PUT /bots/{id}`: only the fields present change; new scopes apply to
/// the bot's current token at once.
pub fn update(db: &dyn Db, p: &Principal, id: i64, input: &SettingsInput) -> Result<Json> {
    let now = time::now().to_string();
    transaction(db, |db| -> Result<()> {
        let bot = editable(db, p, id)?;
        let s = input.apply(&bot.settings, false);
        settings::store(db, id, &s, &now)?;
        audit_settings(db, p, id, &bot.settings, &s)?;
        if input.name.is_some() || input.nickname.is_some() {
            if let Some(n) = &input.nickname {
                users::ensure_unique(db, "nickname", n, id)?;
            }
            db.execute(
                "UPDATE users SET first_name = COALESCE(?, first_name), nickname = COALESCE(?, nickname), \
                 updated_at = ? WHERE id = ?",
                &[
                    input.name.clone().into(),
                    input.nickname.clone().into(),
                    now.clone().into(),
                    id.into(),
                ],
            )
            .map_err(|e| {
                if e.is_unique_violation() {
                    taken(input.nickname.as_deref().unwrap_or_default())
                } else {
                    Error::Db(e)
                }
            })?;
            users::refresh_search(db, id)?;
            users::member_event(db, p, id, "update")?;
        }
        if input.scopes.is_some() {
            db.execute(
                "UPDATE access_tokens SET scopes = ? WHERE user_id = ? AND revoked_at IS NULL",
                &[json!(s.scopes).to_string().into(), id.into()],
            )?;
        }
        Ok(())
    })?;
    get(db, p, id)
}

/// An audit record about bot `bot_id` by `p` (`bot_deleted`,
/// `bot_token_recreated`, `bot_scopes_updated`, `bot_webhook_settings_updated`).
fn audit_bot(
    db: &dyn Db,
    p: &Principal,
    key: &'static str,
    bot_id: i64,
    details: Json,
) -> Result<()> {
    audit::record(
        db,
        &[audit::Record {
            event_key: key,
            actor_id: p.user_id,
            entity_type: "User",
            entity_id: bot_id,
            details,
        }],
    )
}

/// The audit records of a settings change: `bot_scopes_updated` with the
/// scopes added and removed, and `bot_webhook_settings_updated` with each
/// other setting that changed (`{"previous", "new"}`).
fn audit_settings(
    db: &dyn Db,
    p: &Principal,
    id: i64,
    old: &BotSettings,
    new: &BotSettings,
) -> Result<()> {
    if old.scopes != new.scopes {
        let added: Vec<&String> = new
            .scopes
            .iter()
            .filter(|s| !old.scopes.contains(s))
            .collect();
        let removed: Vec<&String> = old
            .scopes
            .iter()
            .filter(|s| !new.scopes.contains(s))
            .collect();
        audit_bot(
            db,
            p,
            "bot_scopes_updated",
            id,
            json!({"added_scopes": added, "removed_scopes": removed}),
        )?;
    }
    let (mut before, mut after) = (settings::render("", "", old), settings::render("", "", new));
    let mut changes = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object_mut(), after.as_object_mut()) {
        for k in ["scopes", "name", "nickname"] {
            b.remove(k);
            a.remove(k);
        }
        for (k, v) in a.iter() {
            let prev = b.get(k).cloned().unwrap_or(Json::Null);
            if prev != *v {
                changes.insert(k.clone(), json!({"previous": prev, "new": v}));
            }
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    audit_bot(
        db,
        p,
        "bot_webhook_settings_updated",
        id,
        json!({ "changes": changes }),
    )
}

/// `DELETE /bots/{id}`: the token stops working, the bot leaves every chat,
/// its outgoing webhook is removed and its undelivered events dropped.
pub fn delete(db: &dyn Db, p: &Principal, id: i64) -> Result<()> {
    let now = time::now().to_string();
    transaction(db, |db| -> Result<()> {
        administrable(db, p, id, "delete it")?;
        audit_bot(
            db,
            p,
            "bot_deleted",
            id,
            json!({"bot_id": id, "actor_id": p.user_id}),
        )?;
        db.execute(
            "UPDATE bots SET outgoing_url = NULL, updated_at = ? WHERE user_id = ?",
            &[now.clone().into(), id.into()],
        )?;
        db.execute(
            "UPDATE webhook_deliveries SET state = 'dead', last_error = 'bot deleted', finished_at = ? \
             WHERE bot_id = ? AND state = 'pending'",
            &[now.clone().into(), id.into()],
        )?;
        users::remove_member(db, p, id, &ChatMembershipSync)
    })
}

/// `POST /bots/{id}/recreate_token`: `BotCreateResponse` with the new token.
pub fn recreate_token(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    let now = time::now().to_string();
    transaction(db, |db| -> Result<Json> {
        let bot = administrable(db, p, id, "rotate its token")?;
        let token = reissue_token(db, p, &bot, &now)?;
        audit_bot(
            db,
            p,
            "bot_token_recreated",
            bot.id,
            json!({"bot_id": bot.id, "actor_id": p.user_id}),
        )?;
        let mut out = render(db, p, &bot)?;
        out["access_token"] = json!(token);
        Ok(out)
    })
}

/// The bot behind a bot token (403 for anyone else).
fn own(db: &dyn Db, p: &Principal) -> Result<Bot> {
    if !p.bot {
        return Err(Error::forbidden(
            "token",
            ErrorCode::Forbidden,
            "Only a bot's own token can do this",
        ));
    }
    load(db, p.user_id)?.ok_or_else(|| Error::not_found("id", p.user_id))
}

/// `PUT /bot/webhook`: the bot sets (or, with `""`, removes) its own URL.
pub fn self_update_webhook(db: &dyn Db, p: &Principal, body: &Json) -> Result<Json> {
    let obj = crate::platform::validate::wrapper(body, "webhook")?;
    let url = match obj.get("outgoing_url") {
        Some(Json::String(u)) => u.trim().to_owned(),
        Some(other) => {
            return Err(Error::invalid(
                "outgoing_url",
                ErrorCode::Invalid,
                crate::platform::validate::show(other),
                "must be a string",
            ))
        }
        None => {
            return Err(Error::bad_request(
                "outgoing_url",
                ErrorCode::Required,
                None,
                "is required",
            ))
        }
    };
    if !url.is_empty() && !settings::url_ok(&url) {
        return Err(Error::invalid(
            "outgoing_url",
            ErrorCode::Invalid,
            Some(url),
            "must be an http or https URL",
        ));
    }
    let now = time::now().to_string();
    let bot = transaction(db, |db| -> Result<Bot> {
        let mut bot = own(db, p)?;
        bot.settings.outgoing_url = (!url.is_empty()).then(|| url.clone());
        settings::store(db, bot.id, &bot.settings, &now)?;
        Ok(bot)
    })?;
    render(db, p, &bot)
}

/// `POST /bot/recreate_token`: the bot rotates its own token; the token of
/// the request stops working at once.
pub fn self_recreate_token(db: &dyn Db, p: &Principal) -> Result<Json> {
    let now = time::now().to_string();
    transaction(db, |db| -> Result<Json> {
        let bot = own(db, p)?;
        let token = reissue_token(db, p, &bot, &now)?;
        audit_bot(
            db,
            p,
            "bot_token_recreated",
            bot.id,
            json!({"bot_id": bot.id, "actor_id": p.user_id}),
        )?;
        let mut out = render(db, p, &bot)?;
        out["access_token"] = json!(token);
        Ok(out)
    })
}

/// `POST /bots/{id}/signing_secret` (extension): a new signing secret for
/// the outgoing webhook, shown once; deliveries sent from now on use it.
pub fn rotate_signing_secret(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    let secret = new_secret()?;
    let now = time::now().to_string();
    transaction(db, |db| -> Result<()> {
        administrable(db, p, id, "rotate its secret")?;
        db.execute(
            "UPDATE bots SET signing_secret = ?, updated_at = ? WHERE user_id = ?",
            &[secret.clone().into(), now.clone().into(), id.into()],
        )?;
        Ok(())
    })?;
    Ok(json!({"id": id, "signing_secret": secret}))
}

/// `POST /bots/{id}/incoming_url` (extension): a new secret incoming URL
/// for the bot; the old one stops working at once. Whoever may rotate the
/// bot's token may do this; the answer shows the new URL once.
pub fn rotate_incoming_url(db: &dyn Db, p: &Principal, id: i64) -> Result<Json> {
    let token = incoming::new_token()?;
    transaction(db, |db| -> Result<()> {
        let bot = administrable(db, p, id, "change its incoming webhook URL")?;
        incoming::set_token(db, bot.id, &token)
    })?;
    Ok(json!({"id": id, "url": incoming::url(&outbox::origin(), &token)}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scopes::Role;
    use crate::testutil::*;

    /// Creates a bot as `creator` with the webhook settings `webhook`.
    fn new_bot(db: &dyn Db, creator: &Principal, webhook: Json) -> i64 {
        let input = settings::parse(webhook.as_object().expect("object"), true).expect("valid");
        create(db, creator, &input).expect("create")["id"]
            .as_i64()
            .expect("id")
    }

    /// Every bot `p` may list, in pages of `limit`: walked forward, then
    /// back ([`walk_pages`]).
    fn walk(db: &dyn Db, p: &Principal, limit: i64) -> (Vec<Json>, Vec<Json>) {
        walk_pages(|cursor| list(db, p, None, limit, cursor).expect("list"))
    }

    #[test]
    fn a_listed_page_renders_each_bot_as_getting_it_does() {
        let db = test_db();
        let creator_id = create_user(&db, "creator@example.com", "user");
        let admin_id = create_user(&db, "admin@example.com", "admin");
        let creator = user_principal(creator_id, false);
        let admin = Principal {
            role: Role::Admin,
            ..user_principal(admin_id, false)
        };
        let plain = new_bot(
            &db,
            &creator,
            json!({"name": "Plain", "nickname": "plain_bot"}),
        );
        let shared = new_bot(
            &db,
            &creator,
            json!({"name": "Shared", "nickname": "shared_bot", "can_edit": ["admin"],
                   "outgoing_url": "https://hooks.example.com/shared",
                   "events": ["message_new"], "trigger_on": "all_messages"}),
        );
        let by_admin = new_bot(
            &db,
            &admin,
            json!({"name": "Admin's", "nickname": "admins_bot"}),
        );
        // One bot has received an incoming webhook, one has no incoming row.
        db.execute(
            "UPDATE bot_incoming SET last_request_body = '{\"text\":\"hi\"}', \
             last_request_at = '2026-12-06T10:00:00.000Z' WHERE bot_id = ?",
            &[shared.into()],
        )
        .expect("incoming");
        db.execute("DELETE FROM bot_incoming WHERE bot_id = ?", &[plain.into()])
            .expect("no incoming");

        for (p, visible) in [
            (&creator, vec![plain, shared]),
            (&admin, vec![shared, by_admin]),
        ] {
            let expected: Vec<Json> = visible
                .iter()
                .map(|id| get(&db, p, *id).expect("get"))
                .collect();
            for limit in [1, 2, 50] {
                let (forward, back) = walk(&db, p, limit);
                assert_eq!(forward, expected, "pages of {limit} for user {}", p.user_id);
                assert_eq!(back, expected, "back, pages of {limit}");
            }
        }
        let shared_json = get(&db, &creator, shared).expect("get");
        assert_eq!(
            shared_json["webhook"]["last_request_body"],
            "{\"text\":\"hi\"}"
        );
        assert!(shared_json["webhook"]["url"].is_string(), "{shared_json}");
        assert!(shared_json["signing_secret"].is_string());
        let plain_json = get(&db, &creator, plain).expect("get");
        assert!(plain_json["webhook"]["last_request_at"].is_null());
        assert!(plain_json["webhook"].get("url").is_none(), "{plain_json}");
        let others = user_principal(create_user(&db, "other@example.com", "user"), false);
        assert!(walk(&db, &others, 2).0.is_empty());
    }
}
