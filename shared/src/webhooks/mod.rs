//! The webhooks area: bots and their outgoing webhooks — the official bots
//! API (`/bots`, `/bot/...`) with every `BotWebhook` setting, and the event
//! history for polling (`/webhooks/events`).
//!
//! It sits above every other area (it will read messages, chats and users
//! to build payloads) and nothing imports it but the top-level wiring.
//! Domain events reach bots through the outbox: [`fanout`] writes delivery
//! and history rows in the change's transaction, [`delivery`] sends them
//! after the response and on the scheduler's runs, [`delivery_log`] shows
//! and redelivers them, and [`retention`] removes them once they expire.

pub mod bots;
pub mod delivery;
pub mod delivery_log;
pub mod fanout;
pub mod history;
pub mod incoming;
pub mod mustache;
pub mod retention;
pub mod routes;
pub mod settings;
pub mod templates;
pub mod views;
