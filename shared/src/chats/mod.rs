//! The chats area (`/chats`, `/search/chats`): discussions, channels and
//! personal one-to-one chats, their members, thread chats and system
//! messages; [`routes`] is its router. Imports `platform`, `auth` and `users`.
//! Who sees what is decided in [`crate::chats::visibility`];
//! membership changes live in [`crate::chats::members`].
//!
//! `member_ids` and `group_tag_ids` of the rendered `Chat` are always complete
//! (one aggregated query per page, whatever the chat size).

mod lifecycle;
mod listing;
mod personal;
mod records;

pub mod member_input;
pub mod members;
pub mod membership_sync;
pub mod message_rows;
pub mod routes;
pub mod system_messages;
#[cfg(test)]
mod tests;
pub mod threads;
pub mod visibility;

pub use lifecycle::*;
pub use listing::*;
pub use personal::*;
pub use records::*;

/// `maxLength` of a chat name.
pub const NAME_MAX: usize = 255;
/// `limit` bound (and default) of `GET /search/chats`.
pub const SEARCH_MAX: i64 = 100;
