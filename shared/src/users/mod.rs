//! The users area: workspace members (create, read, update, delete, list and
//! search, with the owner protections and uniqueness rules), their statuses,
//! group tags and custom properties (bots live in [`crate::webhooks`]); [`routes`] is its router.
//!
//! Imports `platform` and `auth` only. What it needs from chats (membership
//! that follows users and tags) comes in through [`ChatMembership`].

mod input;
mod lifecycle;
mod records;
mod search;

pub mod custom_properties;
pub mod group_tags;
pub mod routes;
pub mod statuses;
#[cfg(test)]
mod tests;

pub use input::*;
pub use lifecycle::*;
pub use records::*;
pub use search::*;

use crate::auth::Principal;
use crate::platform::db::Db;
use crate::platform::error::Result;

pub use crate::auth::OWNER_ID;
/// `maxLength` of the name-like fields in the spec.
pub const NAME_MAX: usize = 255;

/// What the users area needs from the chats area above it: membership that
/// follows a user's creation, tags and deletion. The chats area implements
/// it (`chats::membership_sync`); [`crate::components`] passes it to
/// [`routes::route`]. Every method runs inside the caller's transaction.
pub trait ChatMembership {
    /// Validates the `chat_ids` of `POST /users` for `actor` (422 per item,
    /// or the spec's 400 with the `guest` rules) and returns them distinct,
    /// in request order. Nothing is written.
    fn check_new_user_chats(
        &self,
        db: &dyn Db,
        actor: &Principal,
        chat_ids: &[i64],
        guest: bool,
    ) -> Result<Vec<i64>>;
    /// Makes a new user a direct member of `chat_ids` (already checked).
    fn add_new_user(&self, db: &dyn Db, actor: i64, user_id: i64, chat_ids: &[i64]) -> Result<()>;
    /// Follows a change of one user's group tags into chats.
    fn sync_user(&self, db: &dyn Db, actor: Option<i64>, user_id: i64) -> Result<()>;
    /// Detaches a group tag being deleted from every chat.
    fn on_tag_deleted(&self, db: &dyn Db, actor: Option<i64>, tag_id: i64) -> Result<()>;
    /// Removes a deleted user from every chat.
    fn remove_user_everywhere(&self, db: &dyn Db, actor: Option<i64>, user_id: i64) -> Result<()>;
}
