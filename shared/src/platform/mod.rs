//! The common ground every area stands on, free of any domain: storage (the
//! [`db::Db`] trait with its native and Spin backends), migrations,
//! transport-neutral HTTP types, errors, time, pagination, validation, domain
//! events and the path/query parameter readers.
//!
//! Nothing here imports `auth` or an API area.

pub mod audit;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod migrate;
pub mod outbox;
pub mod pagination;
pub mod params;
pub mod random;
pub mod rate_limit;
pub mod report;
pub mod time;
pub mod validate;
