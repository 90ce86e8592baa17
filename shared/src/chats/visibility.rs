//! Who sees a chat and who may act in it: the visibility and permission
//! matrix of the chats area (from `guides/permissions.md` and
//! `guides/bots-access.md`).
//!
//! Visibility is decided by membership, not by the workspace role. "Sees"
//! means `GET /chats/{id}`, `GET /chats` / `GET /search/chats` results and
//! every other chat route; a chat the caller does not see is a **404** (its
//! existence is not revealed).
//!
//! | Caller (workspace role)   | Member of the chat | Open discussion, not a member | Open channel, not a member | Closed chat, not a member | Personal chat of others |
//! |---------------------------|--------------------|-------------------------------|----------------------------|---------------------------|-------------------------|
//! | Owner                     | sees               | sees                          | sees                       | 404 (members list: yes)   | 404                     |
//! | Admin                     | sees               | sees                          | sees                       | 404                       | 404                     |
//! | Employee (`user`)         | sees               | sees                          | sees                       | 404                       | 404                     |
//! | Bot                       | sees               | 404                           | sees                       | 404                       | 404                     |
//! | Multi-guest, guest        | sees               | 404                           | 404                        | 404                       | 404                     |
//!
//! Extra rules on top of visibility:
//! * **Members list** (`GET /chats/{id}/members`): whoever sees the chat, plus
//!   the workspace owner for any chat (the one documented bypass). Admins get
//!   no such bypass: they manage the workspace, not other people's chats.
//! * **Adding members** (`POST /chats/{id}/members`, `POST .../group_tags`):
//!   any non-guest who sees the chat, so in an open chat any employee (or, for
//!   open channels, bot) can add people, including themselves (joining).
//!   Guests and multi-guests cannot add anyone.
//! * **Managing** (rename, access type, archive/unarchive, kick, change chat
//!   roles, remove tags): the chat's creator (`owner`) or a chat `admin`. A
//!   workspace owner/admin who is not a chat admin gets 403 in a chat they
//!   see; they become chat admins automatically when they are added.
//! * **Posting** ([`can_post`], for the messages area): members only; in a
//!   channel only the creator, admins and editors; nobody in an archived chat.
//! * **Archived chats**: still visible and readable; settings and membership
//!   changes are refused (403) until unarchived; leaving is allowed.
//! * **Personal chats** are never open; membership operations on them are
//!   422 `personal_chat`.
//!
//! Chat roles on joining: the creator is `owner`; a workspace owner/admin
//! becomes `admin`; a bot joining a channel becomes `editor`; everyone else is
//! `member` (member/subscriber). Both sides of a personal chat are `admin`.

use crate::auth::scopes::Role;
use crate::auth::Principal;
use crate::chats::ChatRow;

/// Role of a member inside one chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    /// The chat's creator (always has admin rights, cannot be kicked or demoted).
    Owner,
    /// Chat admin.
    Admin,
    /// Editor (channels): may post in the channel.
    Editor,
    /// Member of a discussion or subscriber of a channel.
    Member,
}

impl MemberRole {
    /// Storage and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Admin => "admin",
            MemberRole::Editor => "editor",
            MemberRole::Member => "member",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<MemberRole> {
        Some(match s {
            "owner" => MemberRole::Owner,
            "admin" => MemberRole::Admin,
            "editor" => MemberRole::Editor,
            "member" => MemberRole::Member,
            _ => return None,
        })
    }

    /// Creator or admin: may manage the chat.
    pub fn manages(self) -> bool {
        matches!(self, MemberRole::Owner | MemberRole::Admin)
    }
}

/// A user's membership in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// Role in the chat.
    pub role: MemberRole,
    /// `true` when added explicitly; `false` when present only through a group tag.
    pub direct: bool,
}

/// The three kinds of caller the matrix distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerKind {
    /// Workspace owner, admin or employee.
    Employee,
    /// A bot.
    Bot,
    /// Guest or multi-guest.
    Guest,
}

/// Classifies a caller.
pub fn viewer_kind(p: &Principal) -> ViewerKind {
    if p.bot {
        ViewerKind::Bot
    } else if matches!(p.role, Role::Guest | Role::MultiGuest) {
        ViewerKind::Guest
    } else {
        ViewerKind::Employee
    }
}

/// Whether the caller sees `chat` without being a member (open chats).
pub fn sees_as_outsider(p: &Principal, chat: &ChatRow) -> bool {
    if chat.personal || !chat.public {
        return false;
    }
    match viewer_kind(p) {
        ViewerKind::Employee => true,
        ViewerKind::Bot => chat.channel,
        ViewerKind::Guest => false,
    }
}

/// SQL predicate over the chat alias `c` equivalent to [`sees_as_outsider`].
pub fn outsider_sql(p: &Principal) -> &'static str {
    match viewer_kind(p) {
        ViewerKind::Employee => "(c.public = 1 AND c.personal = 0)",
        ViewerKind::Bot => "(c.public = 1 AND c.personal = 0 AND c.channel = 1)",
        ViewerKind::Guest => "0",
    }
}

/// Whether the caller sees the chat at all.
pub fn can_see(p: &Principal, chat: &ChatRow, member: Option<&Membership>) -> bool {
    member.is_some() || sees_as_outsider(p, chat)
}

/// Whether the caller may list the chat's members (the workspace owner may for any chat).
pub fn can_list_members(p: &Principal, chat: &ChatRow, member: Option<&Membership>) -> bool {
    can_see(p, chat, member) || (p.role == Role::Owner && !p.bot)
}

/// Whether the caller may add members or tags (archive/personal checks aside).
pub fn can_add_members(p: &Principal, chat: &ChatRow, member: Option<&Membership>) -> bool {
    can_see(p, chat, member) && viewer_kind(p) != ViewerKind::Guest
}

/// Whether the caller may rename, archive, kick, change roles and remove tags.
pub fn can_manage(member: Option<&Membership>) -> bool {
    member.is_some_and(|m| m.role.manages())
}

/// Whether `member` may post a message in `chat` (for the messages area):
/// members only, never in an archived chat, and in a channel only the
/// creator, admins and editors.
pub fn can_post(chat: &ChatRow, member: Option<&Membership>) -> bool {
    let Some(m) = member else { return false };
    if chat.archived {
        return false;
    }
    !chat.channel
        || matches!(
            m.role,
            MemberRole::Owner | MemberRole::Admin | MemberRole::Editor
        )
}
