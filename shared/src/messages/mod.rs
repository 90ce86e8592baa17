//! The messages area: messages (`/messages`, `/messages/{id}`,
//! `/messages/{id}/pin`, `/messages/{id}/read_member_ids`,
//! `/messages/{id}/link_previews`), threads, read state and message search;
//! [`routes`] is its router. Imports `platform`, `auth`, `users` and `chats`
//! (rows are written through `chats::message_rows`, which system messages
//! share).
//!
//! Access, on top of [`crate::chats::visibility`] and [`crate::messages::threads`]:
//! * **read** a message: whoever reads its chat (a thread chat is read by its
//!   members and by whoever sees the parent chat), plus the members of a
//!   thread attached to it (the root message of a cross thread);
//! * **post**: [`crate::chats::visibility::can_post`] in ordinary chats (channels: owner, admins
//!   and editors only), thread rules of [`crate::messages::threads`] in thread chats;
//! * **edit**: the author only; **delete**: the author, or the chat's owner,
//!   admins and editors (both sides of a personal chat are admins);
//! * **pin**: any member of the message's chat; nothing changes in an
//!   archived chat except reading and reactions.
//!
//! Deleting keeps a tombstone: the row stays with `deleted_at`, its text and
//! files are erased, lists skip it and `GET /messages/{id}` still shows it.
//! Every change records a `message` event in its transaction.

mod access;
pub mod buttons;
mod editing;
pub mod link_previews;
mod listing;
pub mod mentions;
pub mod posting;
mod render;

pub mod input;
pub mod read_state;
pub mod routes;
pub mod search;
#[cfg(test)]
mod tests;

pub use crate::chats::message_rows::{load, MessageRow};
pub use access::*;
pub use editing::*;
pub use link_previews::*;
pub use listing::*;
pub use posting::*;
pub use read_state::advance_read;
pub use render::*;
pub mod threads;

use crate::chats::message_rows::{
    announce_new, insert, message_event, message_row, Insert, COLUMNS,
};
