//! A bot's `BotWebhook` settings: parsing the `webhook` object of
//! `BotCreateRequest` / `BotUpdateRequest` (every field validated, every
//! error reported at once), storing them in `bots`, and rendering them.
//!
//! Rules (`guides/bots-setup.md`, `bots-access.md`, `permissions.md` and the
//! spec's field docs):
//! * `name` is required on create, at most 255 characters;
//! * `nickname` ends in `_bot` (latin letters, digits, `_`), unique; when
//!   absent on create one is made from the name (`tasks_bot`, `tasks_2_bot`);
//! * `outgoing_url` is an `http(s)` URL, or `""` to disable (rendered `null`);
//! * `events` are `BotEventName`s; `trigger_on` defaults to `commands`;
//!   `commands` start with `/`, latin, at most 255 characters joined by `,`;
//! * `scopes`: absent → every scope a bot may hold; each named scope must be
//!   one a bot may hold (else 400); `bot` and `all` are never assignable;
//! * `can_edit` ⊆ {`admin`, `chat_owners`}, `who_can_add` one of four;
//! * `single_chat` is set on create only (ignored on update, as the spec says).

use crate::auth::scopes::{self, Role};
use crate::platform::db::{Db, Row};
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::validate::{self, Fields};
use serde_json::{json, Map, Value as Json};

/// `maxLength` of `name` and `nickname`.
pub const NAME_MAX: usize = 255;
/// Most characters of the commands joined by `,`.
pub const COMMANDS_MAX: usize = 255;
/// Suffix of every bot nickname.
pub const NICKNAME_SUFFIX: &str = "_bot";

/// `BotEventName` of the spec.
pub const EVENT_NAMES: &[&str] = &[
    "message_new",
    "message_update",
    "message_delete",
    "reaction_new",
    "reaction_delete",
    "button_click",
    "message_link_shared",
    "chat_member_add",
    "chat_member_remove",
    "company_member_invite",
    "company_member_confirm",
    "company_member_suspend",
    "company_member_activate",
    "company_member_delete",
    "company_member_update",
    "video_call_started",
    "video_call_finished",
    "video_call_recording_ready",
];
/// `BotTriggerOn`.
pub const TRIGGERS: &[&str] = &["commands", "all_messages", "unfurl"];
/// `BotTemplateEngine`.
pub const TEMPLATE_ENGINES: &[&str] = &["liquid", "mustache"];
/// `BotCanEdit`.
pub const CAN_EDIT: &[&str] = &["admin", "chat_owners"];
/// `BotWhoCanAdd`.
pub const WHO_CAN_ADD: &[&str] = &["creator", "creator_admin", "creator_admin_user", "anyone"];

/// Settings as read from (or about to be written to) `bots`.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSettings {
    /// Outgoing webhook URL (`None`: not configured).
    pub outgoing_url: Option<String>,
    /// Subscribed events.
    pub events: Vec<String>,
    /// `commands`, `all_messages` or `unfurl`.
    pub trigger_on: String,
    /// Trigger commands (`/task`).
    pub commands: Vec<String>,
    /// The scopes of the bot's token.
    pub scopes: Vec<String>,
    /// Incoming-webhook template.
    pub template: Option<String>,
    /// `liquid` or `mustache`.
    pub template_engine: String,
    /// Verification field of incoming webhooks.
    pub challenge_key: Option<String>,
    /// Link previews in incoming-webhook messages.
    pub link_preview_enabled: bool,
    /// Drop message events authored by the bot itself.
    pub ignore_self_messages: bool,
    /// Keep the event history for polling.
    pub events_history_enabled: bool,
    /// At most one group chat or channel.
    pub single_chat: bool,
    /// Roles besides the creator that may edit the bot.
    pub can_edit: Vec<String>,
    /// Who may add the bot to chats.
    pub who_can_add: String,
    /// Domains an unfurl bot watches (extension field of the newer SDKs).
    pub unfurl_domains: Vec<String>,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            outgoing_url: None,
            events: Vec::new(),
            trigger_on: "commands".into(),
            commands: Vec::new(),
            scopes: default_scopes(),
            template: None,
            template_engine: "liquid".into(),
            challenge_key: None,
            link_preview_enabled: true,
            ignore_self_messages: false,
            events_history_enabled: false,
            single_chat: false,
            can_edit: Vec::new(),
            who_can_add: "creator".into(),
            unfurl_domains: Vec::new(),
        }
    }
}

/// Every official scope a bot may hold: the default set of a new bot's
/// token (ours, such as `broadcasts:write`, are given by name).
pub fn default_scopes() -> Vec<String> {
    scopes::allowed_for(Role::User, true)
        .into_iter()
        .filter(|s| scopes::is_official(s))
        .map(str::to_owned)
        .collect()
}

/// A parsed `webhook` object: the settings present in the body, plus the
/// profile fields (`name`, `nickname`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsInput {
    /// `name`.
    pub name: Option<String>,
    /// `nickname`.
    pub nickname: Option<String>,
    /// `outgoing_url`: `Some(None)` disables.
    pub outgoing_url: Option<Option<String>>,
    /// `events`.
    pub events: Option<Vec<String>>,
    /// `trigger_on`.
    pub trigger_on: Option<String>,
    /// `commands`.
    pub commands: Option<Vec<String>>,
    /// `scopes`.
    pub scopes: Option<Vec<String>>,
    /// `template`: `Some(None)` clears.
    pub template: Option<Option<String>>,
    /// `template_engine`.
    pub template_engine: Option<String>,
    /// `challenge_key`: `Some(None)` clears.
    pub challenge_key: Option<Option<String>>,
    /// `link_preview_enabled`.
    pub link_preview_enabled: Option<bool>,
    /// `ignore_self_messages`.
    pub ignore_self_messages: Option<bool>,
    /// `events_history_enabled`.
    pub events_history_enabled: Option<bool>,
    /// `single_chat` (create only).
    pub single_chat: Option<bool>,
    /// `can_edit`.
    pub can_edit: Option<Vec<String>>,
    /// `who_can_add`.
    pub who_can_add: Option<String>,
    /// `unfurl_domains`.
    pub unfurl_domains: Option<Vec<String>>,
}

impl SettingsInput {
    /// The settings after applying this input to `base`.
    pub fn apply(&self, base: &BotSettings, create: bool) -> BotSettings {
        fn set<T: Clone>(slot: &mut T, given: &Option<T>) {
            if let Some(v) = given {
                slot.clone_from(v);
            }
        }
        let mut s = base.clone();
        set(&mut s.outgoing_url, &self.outgoing_url);
        set(&mut s.events, &self.events);
        set(&mut s.trigger_on, &self.trigger_on);
        set(&mut s.commands, &self.commands);
        set(&mut s.scopes, &self.scopes);
        set(&mut s.template, &self.template);
        set(&mut s.template_engine, &self.template_engine);
        set(&mut s.challenge_key, &self.challenge_key);
        set(&mut s.link_preview_enabled, &self.link_preview_enabled);
        set(&mut s.ignore_self_messages, &self.ignore_self_messages);
        set(&mut s.events_history_enabled, &self.events_history_enabled);
        if create {
            // `single_chat` is fixed once the bot exists (bots-setup.md).
            set(&mut s.single_chat, &self.single_chat);
        }
        set(&mut s.can_edit, &self.can_edit);
        set(&mut s.who_can_add, &self.who_can_add);
        set(&mut s.unfurl_domains, &self.unfurl_domains);
        s
    }
}

/// Whether `s` is a valid bot nickname: latin letters, digits and `_`,
/// ending in `_bot` with something before the suffix.
pub fn nickname_ok(s: &str) -> bool {
    s.len() > NICKNAME_SUFFIX.len()
        && s.to_ascii_lowercase().ends_with(NICKNAME_SUFFIX)
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `u` is an absolute `http`/`https` URL with a host.
pub fn url_ok(u: &str) -> bool {
    let rest = match u.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest
        }
        _ => return false,
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty() && !host.contains(char::is_whitespace) && !u.contains(char::is_whitespace)
}

/// The `webhook` object of a create or update body. A create body may also
/// carry the profile at `bot.name` / `bot.nickname`, or the settings at
/// `bot.webhook` (`guides/bots-setup.md`); both forms are accepted.
pub fn webhook_object(body: &Json) -> Result<Map<String, Json>> {
    let root = validate::object(body)?;
    if let Some(Json::Object(bot)) = root.get("bot") {
        let mut merged = match bot.get("webhook") {
            Some(Json::Object(w)) => w.clone(),
            _ => Map::new(),
        };
        for key in ["name", "nickname"] {
            if let (false, Some(v)) = (merged.contains_key(key), bot.get(key)) {
                merged.insert(key.to_owned(), v.clone());
            }
        }
        return Ok(merged);
    }
    validate::wrapper(body, "webhook").cloned()
}

fn string_list(f: &mut Fields<'_>, k: &str, allowed: Option<&[&str]>) -> Option<Vec<String>> {
    let list = f.string_array(k, Some(NAME_MAX))?;
    let mut out: Vec<String> = Vec::new();
    for (i, v) in list.into_iter().enumerate() {
        if let Some(allowed) = allowed {
            if !allowed.contains(&v.as_str()) {
                f.fail(
                    &format!("{k}.{i}"),
                    ErrorCode::Inclusion,
                    Some(v),
                    &format!("is not included in the list: {}", allowed.join(", ")),
                );
                continue;
            }
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Some(out)
}

/// At most this many `unfurl_domains` (`guides/link-previews.md`).
pub const UNFURL_DOMAINS_MAX: usize = 5;

/// A watched domain in lower case, if `d` is one: labels of letters,
/// digits and `-` joined by dots, at least two labels, not an IP address,
/// no scheme, port or path (`guides/link-previews.md`).
pub fn unfurl_domain(d: &str) -> Option<String> {
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let numeric = labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit()));
    (labels.len() >= 2 && labels.iter().all(label_ok) && !numeric).then_some(d)
}

fn optional_text(f: &mut Fields<'_>, k: &str) -> Option<Option<String>> {
    f.string(k, None).map(|v| Some(v).filter(|s| !s.is_empty()))
}

/// Parses a `webhook` object (422 with every field error; 400 for a scope
/// a bot may not hold, as the spec says).
pub fn parse(obj: &Map<String, Json>, create: bool) -> Result<SettingsInput> {
    let mut f = Fields::new(obj, "");
    let mut input = SettingsInput {
        name: if create {
            f.required_string("name", Some(NAME_MAX))
        } else {
            match f.string("name", Some(NAME_MAX)) {
                Some(n) if !n.is_empty() => Some(n),
                Some(_) => {
                    f.fail("name", ErrorCode::Blank, None, "can't be blank");
                    None
                }
                None => None,
            }
        },
        ..SettingsInput::default()
    };
    match f.string("nickname", Some(NAME_MAX)) {
        Some(n) if nickname_ok(&n) => input.nickname = Some(n),
        Some(n) if n.is_empty() && create => {}
        Some(n) => f.fail(
            "nickname",
            ErrorCode::Invalid,
            Some(n),
            "may contain only latin letters, digits and '_' and must end with '_bot'",
        ),
        None => {}
    }
    match f.string("outgoing_url", None) {
        Some(u) if u.is_empty() => input.outgoing_url = Some(None),
        Some(u) if url_ok(&u) => input.outgoing_url = Some(Some(u)),
        Some(u) => f.fail(
            "outgoing_url",
            ErrorCode::Invalid,
            Some(u),
            "must be an http or https URL",
        ),
        None => {}
    }
    input.events = string_list(&mut f, "events", Some(EVENT_NAMES));
    input.trigger_on = f.enumeration("trigger_on", TRIGGERS).map(str::to_owned);
    if let Some(commands) = string_list(&mut f, "commands", None) {
        for (i, c) in commands.iter().enumerate() {
            let name = c.strip_prefix('/').unwrap_or_default();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
            {
                f.fail(
                    &format!("commands.{i}"),
                    ErrorCode::Invalid,
                    Some(c.clone()),
                    "must start with '/' followed by latin letters, digits, '_' or '-'",
                );
            }
        }
        if commands.join(",").chars().count() > COMMANDS_MAX {
            f.fail(
                "commands",
                ErrorCode::TooLong,
                None,
                &format!("are too long (maximum is {COMMANDS_MAX} characters joined by ',')"),
            );
        }
        input.commands = Some(commands);
    }
    let scopes = string_list(&mut f, "scopes", None);
    input.template = optional_text(&mut f, "template");
    input.template_engine = f
        .enumeration("template_engine", TEMPLATE_ENGINES)
        .map(str::to_owned);
    input.challenge_key = f
        .string("challenge_key", Some(NAME_MAX))
        .map(|v| Some(v).filter(|s| !s.is_empty()));
    input.link_preview_enabled = f.bool("link_preview_enabled");
    input.ignore_self_messages = f.bool("ignore_self_messages");
    input.events_history_enabled = f.bool("events_history_enabled");
    input.single_chat = f.bool("single_chat");
    input.can_edit = string_list(&mut f, "can_edit", Some(CAN_EDIT));
    input.who_can_add = f.enumeration("who_can_add", WHO_CAN_ADD).map(str::to_owned);
    if let Some(domains) = string_list(&mut f, "unfurl_domains", None) {
        if domains.len() > UNFURL_DOMAINS_MAX {
            f.fail(
                "unfurl_domains",
                ErrorCode::TooLong,
                None,
                &format!("at most {UNFURL_DOMAINS_MAX} domains"),
            );
        }
        let mut clean = Vec::new();
        for (i, d) in domains.iter().enumerate() {
            match unfurl_domain(d) {
                Some(d) => clean.push(d),
                None => f.fail(
                    &format!("unfurl_domains.{i}"),
                    ErrorCode::Invalid,
                    Some(d.clone()),
                    "must be a domain such as example.com (no scheme, port, path or IP address)",
                ),
            }
        }
        input.unfurl_domains = Some(clean);
    }
    f.finish()?;
    if let Some(scopes) = scopes {
        let bad: Vec<_> = scopes
            .iter()
            .enumerate()
            .filter(|(_, s)| !scopes::allowed(Role::User, true, s))
            .map(|(i, s)| {
                crate::platform::error::FieldError::new(
                    format!("scopes.{i}"),
                    ErrorCode::Invalid,
                    Some(s.clone()),
                    "is not a scope a bot may hold",
                )
            })
            .collect();
        if !bad.is_empty() {
            return Err(Error::BadRequest(bad));
        }
        input.scopes = Some(scopes);
    }
    Ok(input)
}

fn json_list(raw: &str) -> Result<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| Error::Internal(format!("bad stored list: {e}")))
}

/// A bot's `unfurl_domains` JSON array (`[]` without a row), in a query
/// over `bots b` (a macro so that [`COLUMNS`] can include it).
macro_rules! unfurl_domains_sql {
    () => {
        "COALESCE((SELECT x.domains_json FROM bot_unfurl x WHERE x.bot_id = b.user_id), '[]')"
    };
}

/// [`unfurl_domains_sql`] for queries of other modules.
pub const UNFURL_DOMAINS_SQL: &str = unfurl_domains_sql!();

/// Columns of `bots` read by [`from_row`], in order (alias `b`).
pub const COLUMNS: &str = concat!(
    "b.outgoing_url, b.events_json, b.trigger_on, b.commands_json, ",
    "b.scopes_json, b.template, b.template_engine, b.challenge_key, b.link_preview_enabled, ",
    "b.ignore_self_messages, b.events_history_enabled, b.single_chat, b.can_edit_json, b.who_can_add, ",
    unfurl_domains_sql!()
);

/// Reads the settings from a row whose first columns are [`COLUMNS`],
/// starting at column `at`.
pub fn from_row(r: &Row, at: usize) -> Result<BotSettings> {
    Ok(BotSettings {
        outgoing_url: r.opt_string(at)?,
        events: json_list(&r.string(at + 1)?)?,
        trigger_on: r.string(at + 2)?,
        commands: json_list(&r.string(at + 3)?)?,
        scopes: json_list(&r.string(at + 4)?)?,
        template: r.opt_string(at + 5)?,
        template_engine: r.string(at + 6)?,
        challenge_key: r.opt_string(at + 7)?,
        link_preview_enabled: r.bool(at + 8)?,
        ignore_self_messages: r.bool(at + 9)?,
        events_history_enabled: r.bool(at + 10)?,
        single_chat: r.bool(at + 11)?,
        can_edit: json_list(&r.string(at + 12)?)?,
        who_can_add: r.string(at + 13)?,
        unfurl_domains: json_list(&r.string(at + 14)?)?,
    })
}

/// Writes `s` to the bot's row (which must exist). Call inside a transaction.
pub fn store(db: &dyn Db, bot_id: i64, s: &BotSettings, now: &str) -> Result<()> {
    db.execute(
        "UPDATE bots SET outgoing_url = ?, events_json = ?, trigger_on = ?, commands_json = ?, \
         scopes_json = ?, template = ?, template_engine = ?, challenge_key = ?, link_preview_enabled = ?, \
         ignore_self_messages = ?, events_history_enabled = ?, single_chat = ?, can_edit_json = ?, \
         who_can_add = ?, updated_at = ? WHERE user_id = ?",
        &[
            s.outgoing_url.clone().into(),
            json!(s.events).to_string().into(),
            s.trigger_on.clone().into(),
            json!(s.commands).to_string().into(),
            json!(s.scopes).to_string().into(),
            s.template.clone().into(),
            s.template_engine.clone().into(),
            s.challenge_key.clone().into(),
            s.link_preview_enabled.into(),
            s.ignore_self_messages.into(),
            s.events_history_enabled.into(),
            s.single_chat.into(),
            json!(s.can_edit).to_string().into(),
            s.who_can_add.clone().into(),
            now.to_owned().into(),
            bot_id.into(),
        ],
    )?;
    db.execute(
        "INSERT INTO bot_unfurl (bot_id, domains_json) VALUES (?, ?) \
         ON CONFLICT (bot_id) DO UPDATE SET domains_json = excluded.domains_json",
        &[bot_id.into(), json!(s.unfurl_domains).to_string().into()],
    )?;
    Ok(())
}

/// The spec's `BotWebhook` object.
pub fn render(name: &str, nickname: &str, s: &BotSettings) -> Json {
    json!({
        "name": name,
        "nickname": nickname,
        "outgoing_url": s.outgoing_url,
        "events": s.events,
        "trigger_on": s.trigger_on,
        "commands": s.commands,
        "scopes": s.scopes,
        "template": s.template,
        "template_engine": s.template_engine,
        "challenge_key": s.challenge_key,
        "link_preview_enabled": s.link_preview_enabled,
        "ignore_self_messages": s.ignore_self_messages,
        "events_history_enabled": s.events_history_enabled,
        "single_chat": s.single_chat,
        "can_edit": s.can_edit,
        "who_can_add": s.who_can_add,
        // Not in the spec; the official SDKs require it of a `BotWebhook`:
        // the domains an unfurl bot watches.
        "unfurl_domains": s.unfurl_domains,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(body: Json, create: bool) -> Vec<(String, ErrorCode)> {
        let obj = webhook_object(&body).expect("object");
        match parse(&obj, create) {
            Err(Error::Unprocessable(errs)) | Err(Error::BadRequest(errs)) => {
                errs.into_iter().map(|e| (e.key, e.code)).collect()
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn nickname_and_url_rules() {
        assert!(nickname_ok("tasks_bot") && nickname_ok("Tasks_Bot"));
        assert!(!nickname_ok("_bot") && !nickname_ok("tasks") && !nickname_ok("задачи_bot"));
        assert!(url_ok("https://example.com/hook") && url_ok("http://127.0.0.1:8080"));
        assert!(!url_ok("ftp://example.com") && !url_ok("https://") && !url_ok("example.com"));
        assert!(!url_ok("https://exa mple.com"));
    }

    #[test]
    fn every_field_error_is_reported_at_once() {
        let errs = errors(
            json!({"webhook": {"name": " ", "nickname": "nope", "outgoing_url": "ftp://x",
                "events": ["message_new", "nope"], "trigger_on": "never", "commands": ["task"],
                "can_edit": ["everyone"], "who_can_add": "nobody", "ignore_self_messages": "yes"}}),
            true,
        );
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "name",
                "nickname",
                "outgoing_url",
                "events.1",
                "trigger_on",
                "commands.0",
                "ignore_self_messages",
                "can_edit.0",
                "who_can_add"
            ]
        );
    }

    #[test]
    fn scopes_a_bot_may_not_hold_are_a_400() {
        let obj = webhook_object(&json!({"webhook": {"name": "A", "scopes": ["messages:create", "users:create", "all"]}}))
            .expect("object");
        let Err(Error::BadRequest(errs)) = parse(&obj, true) else {
            panic!("expected 400");
        };
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["scopes.1", "scopes.2"]);
    }

    #[test]
    fn both_body_forms_and_defaults() {
        let obj = webhook_object(&json!({"bot": {"name": "Tasks", "nickname": "tasks_bot"}}))
            .expect("object");
        let input = parse(&obj, true).expect("valid");
        assert_eq!(input.name.as_deref(), Some("Tasks"));
        let s = input.apply(&BotSettings::default(), true);
        assert_eq!(s.trigger_on, "commands");
        assert_eq!(s.template_engine, "liquid");
        assert!(s.link_preview_enabled && !s.single_chat);
        assert_eq!(s.scopes, default_scopes());
        let upd = parse(
            &webhook_object(&json!({"webhook": {"single_chat": true, "outgoing_url": ""}}))
                .expect("object"),
            false,
        )
        .expect("valid");
        let after = upd.apply(&s, false);
        assert!(!after.single_chat, "single_chat is set on create only");
        assert_eq!(after.outgoing_url, None);
        let rendered = render("Tasks", "tasks_bot", &after);
        assert_eq!(rendered["outgoing_url"], Json::Null);
        // The spec's 16 fields, and `unfurl_domains` for the SDKs.
        assert_eq!(rendered.as_object().map(|o| o.len()), Some(17));
        assert_eq!(rendered["unfurl_domains"], json!([]));
    }

    #[test]
    fn commands_are_limited_in_total_length() {
        let long: Vec<String> = (0..40).map(|i| format!("/command{i}")).collect();
        let errs = errors(json!({"webhook": {"name": "A", "commands": long}}), true);
        assert_eq!(errs, [("commands".to_owned(), ErrorCode::TooLong)]);
    }
}
