//! Shared core of the messenger backend: the common platform, authentication
//! and the domain of every API area, each area with its router.
//!
//! # Layout and import direction
//!
//! ```text
//! platform/   storage, migrations, HTTP types, errors, time, pagination,
//!             validation, domain events, the request context, the Spin adapter
//! auth/       bearer authentication, scopes and roles, personal access tokens
//! users/      users, statuses, group tags, custom properties, bots
//! chats/      chats, members, visibility, thread chats, system messages
//! messages/   messages, input parsing, threads, read state, search
//! reactions/  reactions
//! webhooks/   bots, outgoing webhooks, event history
//! broadcasts/, exports/, audit/, analytics/
//!             features over every area above: broadcasts, chat exports,
//!             the audit log, communication analytics
//! components  which area routers each Spin component serves
//! ```
//!
//! Imports run one way, down this list: an area uses `platform`, `auth` and
//! the areas above it in the list, never one below it. Where a lower area must
//! act on a higher one (a new user joins chats; a deleted group tag leaves
//! them), the lower area defines a trait for what it needs and the higher one
//! implements it ([`users::ChatMembership`], implemented by
//! [`chats::membership_sync::ChatMembershipSync`]); [`components`] wires them.

#![deny(missing_docs)]

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod broadcasts;
pub mod chats;
pub mod components;
pub mod exports;
pub mod files;
pub mod messages;
pub mod platform;
pub mod reactions;
#[cfg(target_arch = "wasm32")]
pub mod spin_adapter;
pub mod tasks;
pub mod users;
pub mod webhooks;

#[cfg(test)]
mod request_costs;
#[cfg(test)]
mod testutil;

pub use platform::error::{Error, Result};
