//! OAuth scopes and workspace roles.
//!
//! The catalogue mirrors the spec's `OAuthScope` enum and its
//! `x-scope-roles` table (the roles column of the scopes table in
//! `api/authorization.md`): it decides which scopes a role may hold. Guests
//! and multi-guests hold none (they cannot own tokens).

/// Workspace role of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Workspace owner (exactly one, user id 1).
    Owner,
    /// Administrator.
    Admin,
    /// Regular employee.
    User,
    /// Guest with access to several chats.
    MultiGuest,
    /// Guest with access to one chat.
    Guest,
}

impl Role {
    /// Storage name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::User => "user",
            Role::MultiGuest => "multi_guest",
            Role::Guest => "guest",
        }
    }

    /// Name rendered in the API's `User.role`. The spec's `UserRole` enum has
    /// no `owner`, so the owner is shown as `admin` (clients generated from the
    /// spec would reject an unknown enum value).
    pub fn api_str(self) -> &'static str {
        match self {
            Role::Owner => "admin",
            other => other.as_str(),
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "user" => Role::User,
            "multi_guest" => Role::MultiGuest,
            "guest" => Role::Guest,
            _ => return None,
        })
    }

    /// Owner or admin: may manage users, tags and other people's tokens.
    pub fn is_manager(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// Holder kinds used in the catalogue's role lists.
const O: &str = "owner";
const A: &str = "admin";
const U: &str = "user";
const B: &str = "bot";
const ALL: &[&str] = &[O, A, U, B];
const MANAGERS: &[&str] = &[O, A];

/// Every scope with the holder kinds allowed to hold it.
pub const CATALOGUE: &[(&str, &[&str])] = &[
    ("chats:read", ALL),
    ("chats:create", ALL),
    ("chats:update", ALL),
    ("chats:archive", ALL),
    ("chats:leave", ALL),
    ("chat_members:read", ALL),
    ("chat_members:write", ALL),
    ("chat_exports:read", &[O]),
    ("chat_exports:write", &[O]),
    ("messages:read", ALL),
    ("messages:create", ALL),
    ("messages:update", ALL),
    ("messages:delete", ALL),
    ("reactions:read", ALL),
    ("reactions:write", ALL),
    ("pins:write", ALL),
    ("threads:read", ALL),
    ("threads:create", ALL),
    ("link_previews:write", ALL),
    ("users:read", ALL),
    ("users:create", MANAGERS),
    ("users:update", MANAGERS),
    ("users:delete", MANAGERS),
    ("group_tags:read", ALL),
    ("group_tags:write", MANAGERS),
    ("bots:read", &[O, A, U]),
    ("bots:write", &[O, A, U]),
    ("bot_self:webhook:write", &[B]),
    ("bot_self:write", &[B]),
    ("profile:read", ALL),
    ("profile_status:read", ALL),
    ("profile_status:write", ALL),
    ("profile_avatar:write", ALL),
    ("user_status:read", ALL),
    ("user_status:write", MANAGERS),
    ("user_avatar:write", MANAGERS),
    ("custom_properties:read", ALL),
    ("audit_events:read", &[O]),
    ("tasks:read", ALL),
    ("tasks:create", ALL),
    ("tasks:update", ALL),
    ("tasks:delete", ALL),
    ("files:read", ALL),
    ("files:write", ALL),
    ("uploads:write", ALL),
    ("views:write", ALL),
    ("webhooks:read", ALL),
    ("webhooks:write", ALL),
    ("webhooks:events:read", ALL),
    ("webhooks:events:delete", ALL),
    ("search:users", ALL),
    ("search:chats", ALL),
    ("search:messages", ALL),
    // Our extensions (not in the spec's `OAuthScope`): see [`EXTENSIONS`].
    ("broadcasts:read", &[O, A, B]),
    ("broadcasts:write", &[O, A, B]),
    ("analytics:read", MANAGERS),
    ("analytics:write", MANAGERS),
];

/// The catalogue's scopes of our own, for our extension routes. The owner's
/// and admins' tokens hold them by default; a bot only when its `scopes`
/// name them; official answers (`GET /oauth/token/info`) leave them out,
/// since clients built from the spec know only `OAuthScope`.
pub const EXTENSIONS: &[&str] = &[
    "broadcasts:read",
    "broadcasts:write",
    "analytics:read",
    "analytics:write",
];

/// Whether `scope` is one of the spec's (`OAuthScope`), not ours.
pub fn is_official(scope: &str) -> bool {
    !EXTENSIONS.contains(&scope)
}

/// Looks a scope name up in the catalogue, returning its static spelling.
pub fn lookup(name: &str) -> Option<&'static str> {
    CATALOGUE.iter().find(|(s, _)| *s == name).map(|(s, _)| *s)
}

/// Every scope name.
pub fn all() -> Vec<&'static str> {
    CATALOGUE.iter().map(|(s, _)| *s).collect()
}

fn holder(role: Role, bot: bool) -> Option<&'static str> {
    if bot {
        return Some(B);
    }
    match role {
        Role::Owner => Some(O),
        Role::Admin => Some(A),
        Role::User => Some(U),
        Role::MultiGuest | Role::Guest => None,
    }
}

/// Whether a user with `role` (or a bot) may hold `scope`.
pub fn allowed(role: Role, bot: bool, scope: &str) -> bool {
    let Some(h) = holder(role, bot) else {
        return false;
    };
    CATALOGUE
        .iter()
        .any(|(s, roles)| *s == scope && roles.contains(&h))
}

/// Every scope a user with `role` (or a bot) may hold, in catalogue order.
pub fn allowed_for(role: Role, bot: bool) -> Vec<&'static str> {
    CATALOGUE
        .iter()
        .filter(|(s, _)| allowed(role, bot, s))
        .map(|(s, _)| *s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table_matches_the_spec() {
        assert!(allowed(Role::Admin, false, "users:create"));
        assert!(!allowed(Role::User, false, "users:create"));
        assert!(!allowed(Role::Admin, false, "chat_exports:read"));
        assert!(allowed(Role::Owner, false, "audit_events:read"));
        assert!(!allowed(Role::User, true, "bots:read"));
        assert!(allowed(Role::User, true, "bot_self:write"));
        assert!(!allowed(Role::Owner, false, "bot_self:write"));
        assert!(allowed_for(Role::Guest, false).is_empty());
        assert!(!allowed(Role::User, false, "no:such"));
        assert_eq!(CATALOGUE.len(), 57);
        assert!(allowed(Role::Admin, false, "analytics:read"));
        assert!(!allowed(Role::User, false, "analytics:read"));
        assert!(!allowed(Role::User, true, "analytics:read"));
        assert!(allowed(Role::Admin, false, "broadcasts:write"));
        assert!(!allowed(Role::User, false, "broadcasts:read"));
        assert!(!is_official("broadcasts:read") && is_official("users:read"));
    }
}
