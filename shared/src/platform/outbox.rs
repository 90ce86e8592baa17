//! The transactional outbox's hand-off between the areas that change state
//! and the webhooks area that delivers the change.
//!
//! [`crate::platform::events::record`] runs inside the transaction of every
//! change; it calls the [`Fanout`] installed here (the webhooks area's), which
//! writes one delivery row per subscribed bot in that same transaction, so a
//! rolled-back change leaves no delivery and a committed one cannot lose it.
//! The fan-out leases the rows it writes to the current request, and their
//! ids are kept for it ([`scheduled`]); after the response has been sent,
//! the component's adapter sends them without another write. Rows that a
//! request only asks to have sent ([`schedule`]: retries, redeliveries) are
//! claimed first. A rolled-back transaction forgets what it leased
//! ([`rolled_back`]), since its rows never existed.
//!
//! The hook is a function pointer because `platform` sits below every area
//! and must not name the webhooks area (imports run one way); the top-level
//! wiring in [`crate::components`] installs it. Per-request state is
//! thread-local: a Spin component serves one request per instance, and the
//! native tests run one request per thread at a time.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

use crate::platform::db::Db;
use crate::platform::error::Result;
use crate::platform::events::Event;
use crate::platform::time::Timestamp;

/// An event just appended to `events`, as the fan-out sees it.
#[derive(Debug, Clone)]
pub struct RecordedEvent<'a> {
    /// Its id in `events`.
    pub id: i64,
    /// What was recorded.
    pub event: &'a Event<'a>,
    /// When it was recorded.
    pub at: Timestamp,
}

/// Turns one recorded event into delivery rows (in the caller's
/// transaction), leased to the current request, and returns their ids.
pub type Fanout = fn(&dyn Db, &RecordedEvent<'_>) -> Result<Vec<i64>>;

/// Whether any bot listens at all, read before a transaction takes the
/// write lock (the fan-out needs it inside, and caches it for the request),
/// so the lock is not held for it. `true` when it cannot tell (as during
/// the migrations, before the tables exist): the fan-out then reads inside.
pub type Listening = fn(&dyn Db) -> bool;

static FANOUT: OnceLock<(Fanout, Listening)> = OnceLock::new();

/// The deliveries a request asks to have sent after its response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scheduled {
    /// Written and leased by this request's fan-out: ready to send.
    pub leased: Vec<i64>,
    /// Existing rows to claim before sending (retries, redeliveries).
    pub unclaimed: Vec<i64>,
}

impl Scheduled {
    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.leased.is_empty() && self.unclaimed.is_empty()
    }
}

/// Work a request asks to run after its response has been sent, in the
/// same invocation (a broadcast's delivery): it gets the database and a
/// `flush` that sends the webhooks scheduled so far, to call between its
/// steps so that no lease runs out while it works.
pub type Deferred = Box<dyn FnOnce(&dyn Db, &mut dyn FnMut(&dyn Db))>;

thread_local! {
    static DEFERRED: RefCell<Vec<Deferred>> = RefCell::new(Vec::new());
    static SCHEDULED: RefCell<Scheduled> = RefCell::new(Scheduled::default());
    static ORIGIN: RefCell<String> = const { RefCell::new(String::new()) };
    static REQUEST: Cell<u64> = const { Cell::new(0) };
}

/// Installs the fan-out and its [`Listening`] (first call wins; later
/// calls are ignored).
pub fn install(fanout: Fanout, listening: Listening) {
    let _ = FANOUT.set((fanout, listening));
}

/// Whether the installed fan-out may write anything for this request's
/// events (`false` when none is installed). Called by
/// [`crate::platform::db::transaction`] before `BEGIN IMMEDIATE`; a change
/// that only writes when nobody listens may skip the transaction.
pub fn listening(db: &dyn Db) -> bool {
    FANOUT.get().is_some_and(|(_, listening)| listening(db))
}

/// Starts a request: forgets what an earlier request scheduled and records
/// the public origin (`https://host`) that payload links are built with.
pub fn begin_request(origin: &str) {
    SCHEDULED.with(|s| *s.borrow_mut() = Scheduled::default());
    DEFERRED.with(|d| d.borrow_mut().clear());
    ORIGIN.with(|o| origin.clone_into(&mut o.borrow_mut()));
    REQUEST.with(|r| r.set(r.get().wrapping_add(1)));
}

/// A number that changes with every [`begin_request`], for caches that must
/// not outlive one request.
pub fn request_number() -> u64 {
    REQUEST.with(Cell::get)
}

/// The public origin of the current request (empty outside a request).
pub fn origin() -> String {
    ORIGIN.with(|o| o.borrow().clone())
}

/// Runs the installed fan-out for an event just recorded (nothing when none
/// is installed, as in the lower areas' own unit tests).
pub fn fan_out(db: &dyn Db, event: &RecordedEvent<'_>) -> Result<()> {
    if let Some((fanout, _)) = FANOUT.get() {
        let ids = fanout(db, event)?;
        SCHEDULED.with(|s| s.borrow_mut().leased.extend_from_slice(&ids));
    }
    Ok(())
}

/// Asks for existing deliveries to be claimed and sent after the response.
pub fn schedule(ids: &[i64]) {
    if !ids.is_empty() {
        SCHEDULED.with(|s| s.borrow_mut().unclaimed.extend_from_slice(ids));
    }
}

/// How many leased deliveries the request holds: taken by
/// [`crate::platform::db::transaction`] at `BEGIN` for [`rolled_back`].
pub fn mark() -> usize {
    SCHEDULED.with(|s| s.borrow().leased.len())
}

/// Forgets the deliveries leased since `mark`: their transaction rolled
/// back, so the rows do not exist (and their ids may be reused).
pub fn rolled_back(mark: usize) {
    SCHEDULED.with(|s| s.borrow_mut().leased.truncate(mark));
}

/// Asks for `work` to run after the response (see [`Deferred`]).
pub fn defer(work: Deferred) {
    DEFERRED.with(|d| d.borrow_mut().push(work));
}

/// Takes the work deferred by the current request, in the order asked.
pub fn deferred() -> Vec<Deferred> {
    DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

/// Takes the deliveries scheduled by the current request.
pub fn scheduled() -> Scheduled {
    SCHEDULED.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_forgets_the_leases_taken_since_its_begin() {
        begin_request("https://chat.example");
        SCHEDULED.with(|s| s.borrow_mut().leased.push(1));
        let mark = mark();
        SCHEDULED.with(|s| s.borrow_mut().leased.extend([2, 3]));
        rolled_back(mark);
        schedule(&[9]);
        assert_eq!(
            scheduled(),
            Scheduled {
                leased: vec![1],
                unclaimed: vec![9]
            }
        );
        assert!(scheduled().is_empty());
    }
}
