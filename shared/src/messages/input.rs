//! Pure parsing and validation of message bodies (`POST /messages`,
//! `PUT /messages/{id}`): files, buttons (rules of `guides/buttons.md`),
//! bot-only display fields and the mention syntax of `content`.
//!
//! Nothing here touches storage, so every rule is unit tested directly.

use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::validate::{self, show, Fields};
use serde_json::Value as Json;

pub use crate::messages::buttons::*;
pub use crate::messages::mentions::*;

/// `maxLength` of `display_name` and `display_avatar_url`.
pub const DISPLAY_MAX: usize = 255;
/// `maxLength` of a voice file's `waveform`.
pub const WAVEFORM_MAX: usize = 256;
/// File types of the `FileType` enum.
pub const FILE_TYPES: &[&str] = &["file", "image", "audio", "voice"];
/// Values of `MessageEntityType`.
pub const ENTITY_TYPES: &[&str] = &["discussion", "thread", "user"];

/// One attached file as sent by the client.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInput {
    /// Storage key (`attaches/files/...`).
    pub key: String,
    /// Display name; its extension must match the key's.
    pub name: String,
    /// `file`, `image`, `audio` or `voice`.
    pub file_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Image width.
    pub width: Option<i64>,
    /// Image height.
    pub height: Option<i64>,
    /// Voice duration (required for `voice`).
    pub duration_ms: Option<i64>,
    /// Voice waveform (required for `voice`).
    pub waveform: Option<String>,
}

/// Parsed `{"message": {...}, "link_preview": bool}` of `POST /messages`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewMessage {
    /// `discussion`, `thread` or `user` (lower-cased).
    pub entity_type: String,
    /// Chat, thread or user id.
    pub entity_id: i64,
    /// Text (mentions not yet rewritten).
    pub content: String,
    /// Attached files.
    pub files: Vec<FileInput>,
    /// Button rows; `None` = no buttons.
    pub buttons: Option<Json>,
    /// Replied-to message.
    pub parent_message_id: Option<i64>,
    /// Bot-only display name override.
    pub display_name: Option<String>,
    /// Bot-only avatar override.
    pub display_avatar_url: Option<String>,
    /// Do not add mentioned users to the thread.
    pub skip_invite_mentions: bool,
    /// Show a preview of the first link.
    pub link_preview: bool,
}

/// Parsed `{"message": {...}}` of `PUT /messages/{id}`: only present fields change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageUpdate {
    /// New text.
    pub content: Option<String>,
    /// New file list (replaces the old one).
    pub files: Option<Vec<FileInput>>,
    /// New buttons: `Some(None)` removes them.
    pub buttons: Option<Option<Json>>,
    /// Bot-only display name override.
    pub display_name: Option<Option<String>>,
    /// Bot-only avatar override.
    pub display_avatar_url: Option<Option<String>>,
}

fn extension(s: &str) -> Option<String> {
    let last = s.rsplit('/').next().unwrap_or(s);
    last.rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .filter(|e| !e.is_empty())
}

fn parse_file(f: &mut Fields<'_>, i: usize, item: &Json, create: bool) -> Option<FileInput> {
    let key = format!("files.{i}");
    let Some(obj) = item.as_object() else {
        f.fail(&key, ErrorCode::Invalid, show(item), "must be an object");
        return None;
    };
    let mut g = Fields::new(obj, &f.key(&key));
    let file_key = g.required_string("key", None);
    let name = g.required_string("name", None);
    let file_type = if create && !g.present("file_type") {
        g.fail("file_type", ErrorCode::Blank, None, "can't be blank");
        None
    } else {
        g.enumeration("file_type", FILE_TYPES).or(Some("file"))
    };
    let size = g.i64("size");
    if create && !g.present("size") {
        g.fail("size", ErrorCode::Blank, None, "can't be blank");
    }
    if size.is_some_and(|s| s < 0) {
        g.fail(
            "size",
            ErrorCode::Invalid,
            size.map(|s| s.to_string()),
            "must be >= 0",
        );
    }
    let width = g.i64("width");
    let height = g.i64("height");
    let duration_ms = g.i64("duration_ms");
    if duration_ms.is_some_and(|d| d < 1) {
        g.fail(
            "duration_ms",
            ErrorCode::Invalid,
            duration_ms.map(|d| d.to_string()),
            "must be >= 1",
        );
    }
    let waveform = g.string("waveform", Some(WAVEFORM_MAX));
    if file_type == Some("voice") {
        if duration_ms.is_none() && !g.present("duration_ms") {
            g.fail("duration_ms", ErrorCode::Blank, None, "required for voice");
        }
        if waveform.is_none() && !g.present("waveform") {
            g.fail("waveform", ErrorCode::Blank, None, "required for voice");
        }
    }
    if let (Some(k), Some(n)) = (&file_key, &name) {
        if extension(k) != extension(n) {
            g.fail(
                "name",
                ErrorCode::WrongParams,
                Some(n.clone()),
                "The extension of name must match the extension of key",
            );
        }
    }
    let failed = g.has_errors();
    if let Err(Error::Unprocessable(errs)) = g.finish() {
        for e in errs {
            f.push(e);
        }
    }
    if failed {
        return None;
    }
    Some(FileInput {
        key: file_key?,
        name: name?,
        file_type: file_type?.to_owned(),
        size: size.unwrap_or(0),
        width,
        height,
        duration_ms,
        waveform,
    })
}

fn parse_files(f: &mut Fields<'_>, create: bool) -> Option<Vec<FileInput>> {
    let items = f.array("files")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(file) = parse_file(f, i, item, create) {
            out.push(file);
        }
    }
    (out.len() == items.len()).then_some(out)
}

fn display_fields(
    f: &mut Fields<'_>,
    bot: bool,
) -> (Option<Option<String>>, Option<Option<String>>) {
    let name = f.string("display_name", Some(DISPLAY_MAX));
    let avatar = f.string("display_avatar_url", Some(DISPLAY_MAX));
    if !bot {
        for (k, v) in [("display_name", &name), ("display_avatar_url", &avatar)] {
            if v.is_some() {
                f.fail(
                    k,
                    ErrorCode::NotApplicable,
                    v.clone(),
                    "Only a bot's access token may set this field",
                );
            }
        }
    }
    let clean = |v: Option<String>| v.map(|s| Some(s).filter(|s| !s.is_empty()));
    (clean(name), clean(avatar))
}

/// What a new message says and carries, as `POST /messages` and a
/// broadcast take it: `content`, `files`, `buttons` and the bot-only
/// display fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageContent {
    /// Text, trimmed (mentions not yet rewritten).
    pub content: String,
    /// Attached files.
    pub files: Vec<FileInput>,
    /// Button rows; `None` = no buttons.
    pub buttons: Option<Json>,
    /// Bot-only display name override.
    pub display_name: Option<String>,
    /// Bot-only avatar override.
    pub display_avatar_url: Option<String>,
}

/// `content`: a string, or nothing when absent or `null` (a message's text
/// may be left out when it carries files); anything else is `invalid`.
fn content_field(f: &mut Fields<'_>, obj: &serde_json::Map<String, Json>) -> Option<String> {
    match obj.get("content") {
        Some(Json::String(s)) => Some(s.clone()),
        None | Some(Json::Null) => None,
        Some(other) => {
            f.fail(
                "content",
                ErrorCode::Invalid,
                show(other),
                "must be a string",
            );
            None
        }
    }
}

/// Reads a new message's content fields from `obj` into `f` (every problem
/// recorded there): text or files are required, buttons follow
/// `guides/buttons.md`, display fields are for bots only.
pub fn parse_content(
    f: &mut Fields<'_>,
    obj: &serde_json::Map<String, Json>,
    bot: bool,
) -> MessageContent {
    let content = content_field(f, obj);
    let files = parse_files(f, true).unwrap_or_default();
    let buttons = match obj.get("buttons") {
        None | Some(Json::Null) => None,
        Some(raw) => parse_buttons(f, raw),
    };
    let (display_name, display_avatar_url) = display_fields(f, bot);
    if content.as_deref().is_none_or(|c| c.trim().is_empty()) && files.is_empty() && !f.has_errors()
    {
        f.fail("content", ErrorCode::Blank, None, "can't be blank");
    }
    MessageContent {
        content: content.unwrap_or_default().trim().to_owned(),
        files,
        buttons,
        display_name: display_name.flatten(),
        display_avatar_url: display_avatar_url.flatten(),
    }
}

/// Validates the body of `POST /messages`. `bot` says whether the caller is
/// a bot (only bots may set `display_name`/`display_avatar_url`).
pub fn parse_create(body: &Json, bot: bool) -> Result<NewMessage> {
    let obj = validate::wrapper(body, "message")?;
    let entity_type = match obj.get("entity_type") {
        None | Some(Json::Null) => "discussion".to_owned(),
        Some(Json::String(s)) if ENTITY_TYPES.contains(&s.to_lowercase().as_str()) => {
            s.to_lowercase()
        }
        Some(other) => {
            return Err(Error::bad_request(
                "entity_type",
                ErrorCode::Invalid,
                show(other),
                "entity_type must be one of discussion, thread, user",
            ))
        }
    };
    let mut f = Fields::new(obj, "");
    let entity_id = f.i64("entity_id");
    if entity_id.is_none() && !f.has_errors() {
        f.fail("entity_id", ErrorCode::Blank, None, "can't be blank");
    }
    let parent_message_id = f.i64("parent_message_id");
    let skip_invite_mentions = f.bool("skip_invite_mentions").unwrap_or(false);
    let c = parse_content(&mut f, obj, bot);
    let link_preview = match body.get("link_preview") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(other) => {
            f.fail(
                "link_preview",
                ErrorCode::Invalid,
                show(other),
                "must be a boolean",
            );
            false
        }
    };
    f.finish()?;
    Ok(NewMessage {
        entity_type,
        entity_id: entity_id.unwrap_or_default(),
        content: c.content,
        files: c.files,
        buttons: c.buttons,
        parent_message_id,
        display_name: c.display_name,
        display_avatar_url: c.display_avatar_url,
        skip_invite_mentions,
        link_preview,
    })
}

/// Validates the body of `PUT /messages/{id}`.
pub fn parse_update(body: &Json, bot: bool) -> Result<MessageUpdate> {
    let obj = validate::wrapper(body, "message")?;
    let mut f = Fields::new(obj, "");
    let content = content_field(&mut f, obj).map(|c| c.trim().to_owned());
    let files = if f.present("files") {
        parse_files(&mut f, false)
            .or_else(|| obj.get("files").filter(|v| v.is_null()).map(|_| Vec::new()))
    } else {
        None
    };
    let buttons = match obj.get("buttons") {
        None => None,
        Some(Json::Null) => Some(None),
        Some(raw) => Some(parse_buttons(&mut f, raw)),
    };
    let (display_name, display_avatar_url) = display_fields(&mut f, bot);
    f.finish()?;
    Ok(MessageUpdate {
        content,
        files,
        buttons,
        display_name,
        display_avatar_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields_err(body: Json) -> Vec<(String, String)> {
        match parse_create(&body, false) {
            Err(e) => e.body()["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["key"].as_str().unwrap().to_owned(),
                        e["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            Ok(m) => panic!("expected an error, got {m:?}"),
        }
    }

    fn with_buttons(b: Json) -> Json {
        json!({"message": {"entity_id": 1, "content": "x", "buttons": b}})
    }

    #[test]
    fn mentions_are_found_and_rewritten() {
        let found = find_mentions("hi @alice, <@7> and mail bob@example.com; @carol. @ <@x>");
        assert_eq!(
            found,
            vec![
                Mention::Nickname("alice".into()),
                Mention::Id(7),
                Mention::Nickname("carol".into())
            ]
        );
        let nick = |id: i64| (id == 7).then(|| "seven".to_owned());
        assert_eq!(
            rewrite_mentions("<@7> meets <@8> and <@7>! <@ <@7", &nick),
            "@seven meets <@8> and @seven! <@ <@7"
        );
        assert_eq!(rewrite_mentions("Привет, <@7>", &nick), "Привет, @seven");
        assert_eq!(find_mentions("@Иван"), vec![]);
    }

    #[test]
    fn entity_type_is_case_insensitive_and_unknown_is_400() {
        let m = parse_create(
            &json!({"message": {"entity_type": "USER", "entity_id": 5, "content": "hi"}}),
            false,
        )
        .unwrap();
        assert_eq!(m.entity_type, "user");
        let e = parse_create(
            &json!({"message": {"entity_type": "chat", "entity_id": 5, "content": "hi"}}),
            false,
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.body()["errors"][0]["code"], "invalid");
        assert_eq!(
            parse_create(&json!({"message": {"entity_id": 1, "content": "x"}}), false)
                .unwrap()
                .entity_type,
            "discussion"
        );
    }

    #[test]
    fn content_and_entity_are_required() {
        assert_eq!(
            fields_err(json!({"message": {"entity_id": 1, "content": "  "}})),
            vec![("content".to_owned(), "blank".to_owned())]
        );
        assert_eq!(
            fields_err(json!({"message": {"content": "x"}})),
            vec![("entity_id".to_owned(), "blank".to_owned())]
        );
        assert_eq!(
            parse_create(&json!({"x": 1}), false).unwrap_err().status(),
            400
        );
    }

    #[test]
    fn buttons_follow_the_guide() {
        let ok = parse_create(
            &with_buttons(
                json!([[{"text": "Open", "url": "https://e.com/x"}, {"text": "Yes", "data": "y"}]]),
            ),
            false,
        )
        .unwrap();
        assert_eq!(ok.buttons.unwrap()[0][1]["data"], "y");
        assert!(parse_create(&with_buttons(json!([])), false)
            .unwrap()
            .buttons
            .is_none());
        // Exactly 32 rows pass, 33 fail.
        let row = json!([{"text": "t", "data": "d"}]);
        let rows32: Vec<Json> = (0..32).map(|_| row.clone()).collect();
        assert!(parse_create(&with_buttons(json!(rows32)), false).is_ok());
        let rows33: Vec<Json> = (0..33).map(|_| row.clone()).collect();
        assert_eq!(
            fields_err(with_buttons(json!(rows33))),
            vec![("buttons".to_owned(), "too_long".to_owned())]
        );
        // 100 buttons pass, 101 fail.
        let wide = |n: usize| {
            json!((0..n)
                .map(|_| json!({"text": "t", "data": "d"}))
                .collect::<Vec<_>>())
        };
        let hundred: Vec<Json> = (0..10).map(|_| wide(10)).collect();
        assert!(parse_create(&with_buttons(json!(hundred)), false).is_ok());
        let mut over: Vec<Json> = (0..10).map(|_| wide(10)).collect();
        over.push(wide(1));
        assert_eq!(fields_err(with_buttons(json!(over)))[0].1, "too_long");
        // text and data lengths at the boundary.
        let t255 = "я".repeat(255);
        assert!(parse_create(&with_buttons(json!([[{"text": t255, "data": "d"}]])), false).is_ok());
        let t256 = "я".repeat(256);
        assert_eq!(
            fields_err(with_buttons(json!([[{"text": t256, "data": "d"}]]))),
            vec![("buttons.0.0.text".to_owned(), "too_long".to_owned())]
        );
        assert_eq!(
            fields_err(with_buttons(
                json!([[{"text": "t", "data": "d".repeat(256)}]])
            )),
            vec![("buttons.0.0.data".to_owned(), "too_long".to_owned())]
        );
        for (b, key, code) in [
            (json!([[{"data": "d"}]]), "buttons.0.0.text", "blank"),
            (json!([[{"text": "t"}]]), "buttons.0.0.url", "blank"),
            (
                json!([[{"text": "t", "url": "ftp://x"}]]),
                "buttons.0.0.url",
                "invalid",
            ),
            (
                json!([[{"text": "t", "url": "https://x", "data": "d"}]]),
                "buttons.0.0.data",
                "invalid",
            ),
            (json!([[]]), "buttons.0", "invalid"),
            (json!([["x"]]), "buttons.0.0", "invalid"),
            (json!({"a": 1}), "buttons", "invalid"),
        ] {
            assert_eq!(
                fields_err(with_buttons(b.clone())),
                vec![(key.to_owned(), code.to_owned())],
                "{b}"
            );
        }
    }

    #[test]
    fn files_are_validated() {
        let file = |f: Json| json!({"message": {"entity_id": 1, "content": "", "files": [f]}});
        let ok = parse_create(
            &file(json!({"key": "attaches/files/1/a/logo.png", "name": "Logo.PNG", "file_type": "image", "size": 10, "width": 8, "height": 6})),
            false,
        )
        .unwrap();
        assert_eq!(ok.files[0].width, Some(8));
        assert_eq!(
            fields_err(file(
                json!({"key": "a/logo.png", "name": "logo.jpg", "file_type": "image", "size": 1})
            )),
            vec![("files.0.name".to_owned(), "wrong_params".to_owned())]
        );
        assert_eq!(
            fields_err(file(
                json!({"key": "a/v.ogg", "name": "v.ogg", "file_type": "voice", "size": 1})
            )),
            vec![
                ("files.0.duration_ms".to_owned(), "blank".to_owned()),
                ("files.0.waveform".to_owned(), "blank".to_owned())
            ]
        );
        assert_eq!(
            fields_err(file(
                json!({"key": "a/v.ogg", "name": "v.ogg", "file_type": "video", "size": 1})
            ))[0]
                .1,
            "inclusion"
        );
        assert_eq!(
            fields_err(file(
                json!({"key": "a/v.ogg", "name": "v.ogg", "file_type": "file"})
            )),
            vec![("files.0.size".to_owned(), "blank".to_owned())]
        );
    }

    #[test]
    fn display_fields_are_for_bots_only() {
        let body = json!({"message": {"entity_id": 1, "content": "x", "display_name": "Support"}});
        let e = parse_create(&body, false).unwrap_err();
        assert_eq!(e.body()["errors"][0]["code"], "not_applicable");
        assert_eq!(
            parse_create(&body, true).unwrap().display_name.as_deref(),
            Some("Support")
        );
        let long =
            json!({"message": {"entity_id": 1, "content": "x", "display_name": "n".repeat(256)}});
        assert_eq!(
            parse_create(&long, true).unwrap_err().body()["errors"][0]["code"],
            "too_long"
        );
    }

    #[test]
    fn update_reads_only_present_fields() {
        let u = parse_update(&json!({"message": {"content": "new"}}), false).unwrap();
        assert_eq!(u.content.as_deref(), Some("new"));
        assert!(u.buttons.is_none() && u.files.is_none());
        let u = parse_update(&json!({"message": {"buttons": []}}), false).unwrap();
        assert_eq!(u.buttons, Some(None));
        let u = parse_update(
            &json!({"message": {"files": [{"key": "k/a.txt", "name": "a.txt"}]}}),
            false,
        )
        .unwrap();
        assert_eq!(u.files.unwrap()[0].file_type, "file");
    }
}
