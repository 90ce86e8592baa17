//! Parsing the bodies and filters of the member routes (`member_ids`,
//! `group_tag_ids`, `role`).

use crate::chats::visibility::MemberRole;
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::validate::{self, Fields};
use serde_json::{Map, Value as Json};

fn required(obj: &Map<String, Json>, key: &str) -> Result<()> {
    match obj.get(key) {
        None | Some(Json::Null) => Err(Error::bad_request(
            key,
            ErrorCode::Required,
            None,
            &format!("Parameter '{key}' is required"),
        )),
        Some(_) => Ok(()),
    }
}

/// Parsed body of `POST /chats/{id}/members`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddMembers {
    /// Users to add.
    pub member_ids: Vec<i64>,
    /// Do not announce the addition in the chat.
    pub silent: bool,
}

/// Validates `{"member_ids": [...], "silent": bool}`.
pub fn parse_add(body: &Json) -> Result<AddMembers> {
    let obj = validate::object(body)?;
    required(obj, "member_ids")?;
    let mut f = Fields::new(obj, "");
    let ids = f.int_array("member_ids");
    let silent = f.bool("silent").unwrap_or(false);
    f.finish()?;
    Ok(AddMembers {
        member_ids: ids.unwrap_or_default(),
        silent,
    })
}

/// Validates `{"group_tag_ids": [...]}`.
pub fn parse_tags(body: &Json) -> Result<Vec<i64>> {
    let obj = validate::object(body)?;
    required(obj, "group_tag_ids")?;
    let mut f = Fields::new(obj, "");
    let ids = f.int_array("group_tag_ids");
    f.finish()?;
    Ok(ids.unwrap_or_default())
}

/// Validates `{"role": "admin"|"editor"|"member"}`.
pub fn parse_role(body: &Json) -> Result<MemberRole> {
    let obj = validate::object(body)?;
    required(obj, "role")?;
    let mut f = Fields::new(obj, "");
    let role = f.enumeration("role", &["admin", "editor", "member"]);
    f.finish()?;
    role.and_then(MemberRole::parse)
        .ok_or_else(|| Error::invalid("role", ErrorCode::Blank, None, "can't be blank"))
}

/// Parses the `role` filter of the members list (`all` = `None`).
pub fn parse_role_filter(raw: Option<&str>) -> Result<Option<MemberRole>> {
    match raw.filter(|s| !s.is_empty()) {
        None | Some("all") => Ok(None),
        Some(r) => MemberRole::parse(r)
            .map(Some)
            .ok_or_else(|| crate::platform::params::bad_query("role", ErrorCode::Inclusion, r)),
    }
}
