//! The one error type of the domain and its single rendering point.
//!
//! Every failure becomes either the official `ApiError`
//! (`{"errors":[{"key","value","message","code","payload"}]}`) or the official
//! `OAuthError` (`{"error","error_description"}`); see [`Error::status`] and
//! [`Error::body`]. Storage failures become a 500 `ApiError` with code
//! `unhandled` and no internal details.

use crate::platform::db::DbError;
use serde_json::{json, Value as Json};
use thiserror::Error;

/// Validation/business error codes from the spec's `ValidationErrorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Required field is missing or empty.
    Blank,
    /// Value longer than the field's `maxLength`.
    TooLong,
    /// Value breaks the field's format rules (or has the wrong JSON type).
    Invalid,
    /// Value is not one of the allowed enum values.
    Inclusion,
    /// Value must be unique and is already used.
    Taken,
    /// Status emoji is not an emoji.
    WrongEmoji,
    /// Referenced object does not exist.
    NotFound,
    /// Required parameter was not passed.
    Required,
    /// Value not applicable in this context.
    NotApplicable,
    /// Users cannot change their own role.
    SelfUpdate,
    /// The workspace owner cannot be demoted, suspended or deleted.
    OwnerProtected,
    /// Not enough rights for the action.
    Forbidden,
    /// Malformed request parameters.
    WrongParams,
    /// The operation does not apply to a personal (one-to-one) chat.
    PersonalChat,
    /// The chat's creator cannot be removed from it.
    CannotKickOwner,
    /// A user already has the maximum number of unique reactions on a message.
    UserLimit,
    /// A message already has the maximum number of unique reactions.
    UniqueLimit,
    /// A message already has the maximum number of reactions.
    GeneralLimit,
    /// The message is deleted.
    MessageDeleted,
    /// A thread cannot be created for a message that is itself in a thread.
    ThreadMessage,
    /// Too many requests in too short a time (429, with `Retry-After`).
    RateLimit,
    /// The event id (`trigger_id`) is unknown.
    TriggerNotFound,
    /// The event id (`trigger_id`) outlived its 3 seconds.
    TriggerExpired,
    /// The object already exists.
    AlreadyExists,
    /// The value is too short.
    MinLength,
    /// The value is too long.
    MaxLength,
    /// A date range that is reversed or too large.
    InvalidDateRange,
    /// A webhook URL that is not an `http(s)` URL.
    InvalidWebhookUrl,
    /// An export's archive is not there (not ready, or failed).
    ExportFileNotFound,
    /// Internal failure.
    Unhandled,
}

impl ErrorCode {
    /// Wire name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Blank => "blank",
            ErrorCode::TooLong => "too_long",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Inclusion => "inclusion",
            ErrorCode::Taken => "taken",
            ErrorCode::WrongEmoji => "wrong_emoji",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Required => "required",
            ErrorCode::NotApplicable => "not_applicable",
            ErrorCode::SelfUpdate => "self_update",
            ErrorCode::OwnerProtected => "owner_protected",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::WrongParams => "wrong_params",
            ErrorCode::PersonalChat => "personal_chat",
            ErrorCode::CannotKickOwner => "cannot_kick_owner",
            ErrorCode::UserLimit => "user_limit",
            ErrorCode::UniqueLimit => "unique_limit",
            ErrorCode::GeneralLimit => "general_limit",
            ErrorCode::MessageDeleted => "message_deleted",
            ErrorCode::ThreadMessage => "thread_message",
            ErrorCode::RateLimit => "rate_limit",
            ErrorCode::TriggerNotFound => "trigger_not_found",
            ErrorCode::TriggerExpired => "trigger_expired",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::MinLength => "min_length",
            ErrorCode::MaxLength => "max_length",
            ErrorCode::InvalidDateRange => "invalid_date_range",
            ErrorCode::InvalidWebhookUrl => "invalid_webhook_url",
            ErrorCode::ExportFileNotFound => "export_file_not_found",
            ErrorCode::Unhandled => "unhandled",
        }
    }
}

/// One entry of an `ApiError` response.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Field (or parameter) the error refers to, e.g. `email`, `custom_properties.0.value`.
    pub key: String,
    /// Offending value, when it refers to one.
    pub value: Option<String>,
    /// Human-readable explanation.
    pub message: String,
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Extra data, e.g. `{"id": 3}` for custom property errors.
    pub payload: Option<Json>,
}

impl FieldError {
    /// Builds an entry without payload.
    pub fn new(
        key: impl Into<String>,
        code: ErrorCode,
        value: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            key: key.into(),
            value,
            message: message.into(),
            code,
            payload: None,
        }
    }

    /// Attaches a payload.
    pub fn with_payload(mut self, payload: Json) -> Self {
        self.payload = Some(payload);
        self
    }

    fn to_json(&self) -> Json {
        json!({
            "key": self.key,
            "value": self.value,
            "message": self.message,
            "code": self.code.as_str(),
            "payload": self.payload,
        })
    }
}

/// Every way a request can fail.
#[derive(Debug, Error)]
pub enum Error {
    /// 401 `OAuthError` `invalid_token`: missing, unknown or revoked token, or suspended user.
    #[error("invalid token: {0}")]
    Unauthorized(&'static str),
    /// 403 `OAuthError` `insufficient_scope`: the token lacks the operation's scope.
    #[error("insufficient scope: {0} required")]
    InsufficientScope(&'static str),
    /// 400 `ApiError`: malformed request (bad JSON, bad query parameter).
    #[error("bad request: {0:?}")]
    BadRequest(Vec<FieldError>),
    /// 422 `ApiError`: well-formed but violates validation rules.
    #[error("unprocessable: {0:?}")]
    Unprocessable(Vec<FieldError>),
    /// 403 `ApiError`: role or business rule forbids the action.
    #[error("forbidden: {0:?}")]
    Forbidden(FieldError),
    /// 404 `ApiError`: the addressed object does not exist (or is invisible).
    #[error("not found: {0:?}")]
    NotFound(FieldError),
    /// 404 `ApiError`: no such route.
    #[error("no such route")]
    RouteNotFound,
    /// 409 `ApiError`: the request conflicts with an earlier one (an
    /// `Idempotency-Key` reused with another body, `api/errors.md`).
    #[error("conflict: {0:?}")]
    Conflict(FieldError),
    /// 410 `ApiError`: the resource is no longer available (an expired
    /// event id).
    #[error("gone: {0:?}")]
    Gone(FieldError),
    /// 502 `ApiError`: a bot the request depends on did not answer as it
    /// must (a form's submission).
    #[error("bad gateway: {0:?}")]
    BadGateway(FieldError),
    /// 405 `ApiError`: route exists, method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 429 `ApiError` (`rate_limit`) with `Retry-After` in seconds
    /// (`api/limits.md`).
    #[error("too many requests: retry after {retry_after_s} s")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after_s: u64,
        /// The error entry.
        item: FieldError,
    },
    /// 500 `ApiError`: storage failure; 503 with `Retry-After` when the
    /// write lock stayed taken ([`DbError::Busy`]).
    #[error(transparent)]
    Db(#[from] DbError),
    /// 500 `ApiError`: configuration or other internal failure.
    #[error("internal: {0}")]
    Internal(String),
}

/// Result alias used across the domain.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// 422 with a single entry.
    pub fn invalid(key: &str, code: ErrorCode, value: Option<String>, message: &str) -> Self {
        Error::Unprocessable(vec![FieldError::new(key, code, value, message)])
    }

    /// 400 with a single entry.
    pub fn bad_request(key: &str, code: ErrorCode, value: Option<String>, message: &str) -> Self {
        Error::BadRequest(vec![FieldError::new(key, code, value, message)])
    }

    /// 404 for an entity addressed by id.
    pub fn not_found(key: &str, id: i64) -> Self {
        Error::NotFound(FieldError::new(
            key,
            ErrorCode::NotFound,
            Some(id.to_string()),
            "Object not found",
        ))
    }

    /// 403 `ApiError` with the given code.
    pub fn forbidden(key: &str, code: ErrorCode, message: &str) -> Self {
        Error::Forbidden(FieldError::new(key, code, None, message))
    }

    /// The same error in a status the operation documents, for operations
    /// whose `openapi.yaml` entry lists fewer client errors than
    /// `api/errors.md` (`POST /messages` has no 404, `POST /bots` no 422):
    /// an object that does not exist becomes a validation error (422), and
    /// a validation error a malformed request (400), as far as `statuses`
    /// requires. Other errors are returned as they are.
    pub fn documented_as(self, statuses: &[u16]) -> Self {
        let mut e = self;
        loop {
            if statuses.contains(&e.status()) {
                return e;
            }
            e = match e {
                Error::NotFound(item) => Error::Unprocessable(vec![item]),
                Error::Unprocessable(items) => Error::BadRequest(items),
                other => return other,
            };
        }
    }

    /// HTTP status code of the rendered response.
    pub fn status(&self) -> u16 {
        match self {
            Error::Unauthorized(_) => 401,
            Error::InsufficientScope(_) | Error::Forbidden(_) => 403,
            Error::BadRequest(_) => 400,
            Error::Unprocessable(_) => 422,
            Error::NotFound(_) | Error::RouteNotFound => 404,
            Error::Conflict(_) => 409,
            Error::Gone(_) => 410,
            Error::BadGateway(_) => 502,
            Error::MethodNotAllowed => 405,
            Error::TooManyRequests { .. } => 429,
            Error::Db(DbError::Busy(_)) => 503,
            Error::Db(_) | Error::Internal(_) => 500,
        }
    }

    /// JSON body of the rendered response (`OAuthError` or `ApiError`).
    pub fn body(&self) -> Json {
        let items: Vec<FieldError> = match self {
            Error::Unauthorized(desc) => {
                return json!({"error": "invalid_token", "error_description": desc});
            }
            Error::InsufficientScope(scope) => {
                return json!({
                    "error": "insufficient_scope",
                    "error_description": format!("The access token does not have the required scope: {scope}"),
                });
            }
            Error::BadRequest(items) | Error::Unprocessable(items) => items.clone(),
            Error::Forbidden(item)
            | Error::NotFound(item)
            | Error::Conflict(item)
            | Error::Gone(item)
            | Error::BadGateway(item)
            | Error::TooManyRequests { item, .. } => vec![item.clone()],
            Error::RouteNotFound => vec![FieldError::new(
                "path",
                ErrorCode::NotFound,
                None,
                "No such API method",
            )],
            Error::MethodNotAllowed => vec![FieldError::new(
                "method",
                ErrorCode::Invalid,
                None,
                "HTTP method not allowed for this path",
            )],
            Error::Db(DbError::Busy(_)) => vec![FieldError::new(
                "server",
                ErrorCode::Unhandled,
                None,
                "The server is busy, please retry in a second",
            )],
            Error::Db(_) | Error::Internal(_) => vec![FieldError::new(
                "server",
                ErrorCode::Unhandled,
                None,
                "Internal error, please retry later",
            )],
        };
        json!({"errors": items.iter().map(FieldError::to_json).collect::<Vec<_>>()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_has_every_required_field() {
        let e = Error::invalid("email", ErrorCode::Taken, Some("a@b.c".into()), "taken");
        assert_eq!(e.status(), 422);
        let body = e.body();
        let item = &body["errors"][0];
        assert_eq!(item["key"], "email");
        assert_eq!(item["value"], "a@b.c");
        assert_eq!(item["code"], "taken");
        assert!(item["message"].is_string());
        assert!(item.get("payload").is_some_and(Json::is_null));
    }

    #[test]
    fn errors_move_to_the_statuses_an_operation_documents() {
        let missing = || Error::not_found("entity_id", 7);
        let e = missing().documented_as(&[400, 403, 422]);
        assert_eq!(e.status(), 422);
        assert_eq!(e.body()["errors"][0]["key"], "entity_id");
        assert_eq!(e.body()["errors"][0]["code"], "not_found");
        assert_eq!(missing().documented_as(&[400, 403]).status(), 400);
        assert_eq!(missing().documented_as(&[404]).status(), 404);
        let rule = Error::invalid("nickname", ErrorCode::Invalid, None, "must end in _bot");
        assert_eq!(rule.documented_as(&[400, 401, 402, 403]).status(), 400);
        let busy = Error::forbidden("chat", ErrorCode::Forbidden, "no");
        assert_eq!(busy.documented_as(&[400]).status(), 403);
    }

    #[test]
    fn oauth_errors_render_as_oauth_error() {
        let e = Error::Unauthorized("Access token is missing");
        assert_eq!(e.status(), 401);
        assert_eq!(e.body()["error"], "invalid_token");
        assert_eq!(e.body()["error_description"], "Access token is missing");
        let e = Error::InsufficientScope("users:read");
        assert_eq!(e.status(), 403);
        assert_eq!(e.body()["error"], "insufficient_scope");
        assert!(e.body().get("errors").is_none());
    }

    #[test]
    fn storage_errors_do_not_leak_details() {
        let e = Error::Db(DbError::Sqlite("no such table: secret_stuff".into()));
        assert_eq!(e.status(), 500);
        let text = e.body().to_string();
        assert!(!text.contains("secret_stuff"));
        assert!(text.contains("unhandled"));
    }
}
