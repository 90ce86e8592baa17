//! Shared core of the messenger backend: storage, migrations, auth, errors,
//! pagination, domain events and the domain logic of every area, plus a thin
//! transport-neutral HTTP layer so each Spin component stays a few lines.

#![deny(missing_docs)]

pub mod access_tokens;
pub mod api;
pub mod api_support;
pub mod auth;
pub mod bots;
pub mod chat_members;
pub mod chat_visibility;
pub mod chats;
pub mod chats_api;
pub mod custom_properties;
pub mod db;
pub mod error;
pub mod events;
pub mod group_tags;
pub mod http;
pub mod message_input;
pub mod message_search;
pub mod messages;
pub mod messages_api;
pub mod migrate;
pub mod pagination;
pub mod reactions;
pub mod reactions_api;
pub mod read_state;
pub mod scopes;
#[cfg(target_arch = "wasm32")]
pub mod spin_component;
pub mod statuses;
pub mod threads;
pub mod time;
pub mod users;
pub mod validate;

#[cfg(test)]
mod testutil;

pub use error::{Error, Result};

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod chats_tests;
#[cfg(test)]
mod messages_tests;
