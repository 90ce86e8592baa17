//! Parsing and validation of the `user` body of `POST /users` and `PUT /users/{id}`.

use crate::auth::scopes::Role;
use crate::platform::error::{Error, ErrorCode, Result};
use crate::platform::validate::{self, Fields};
use serde_json::Value as Json;

use crate::users::{custom_properties, group_tags, NAME_MAX};

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
        first_name: f.string("first_name", Some(NAME_MAX)).map(Some),
        last_name: f.string("last_name", Some(NAME_MAX)).map(Some),
        phone_number: f.string("phone_number", Some(NAME_MAX)).map(Some),
        department: f.string("department", Some(NAME_MAX)).map(Some),
        title: f.string("title", Some(NAME_MAX)).map(Some),
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
    input.custom_properties = custom_properties::parse_values(&mut f);
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
