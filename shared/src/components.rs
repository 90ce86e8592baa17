//! The entry point of each Spin component: which area routers it serves and
//! how the areas are wired together.
//!
//! This is the one module above every area. It passes the chats area's
//! membership sync into the users router (a lower area acting on a higher
//! one through [`crate::users::ChatMembership`]), and lets the messages
//! component answer the reactions routes as well. It also installs the
//! webhooks area's fan-out in the outbox ([`crate::platform::outbox`]), so
//! every change in any area reaches the bots that listen.

use crate::auth::context::{respond, serve, Config};
use crate::chats::membership_sync::ChatMembershipSync;
use crate::platform::db::Db;
use crate::platform::http::{Request, Response};
use crate::platform::{audit, outbox};
use crate::{
    analytics, audit as audit_area, broadcasts, chats, exports, files, messages, reactions, tasks,
    users, webhooks,
};

/// Prepares a request: the fan-out installed, the outbox emptied, the
/// public origin that webhook payload links are built with.
fn begin(req: &Request) {
    outbox::install(webhooks::fanout::enqueue, webhooks::fanout::listening);
    outbox::begin_request(&req.origin());
    audit::set_source(audit::Source::from_headers(
        req.header("spin-client-addr"),
        req.header("user-agent"),
    ));
}

/// The `users` component: users, profile, statuses, group tags, custom
/// properties, token info, personal tokens and our OpenAPI.
pub fn users(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, |c, segs| match segs {
        // Avatars are stored files: the files area keeps them.
        ["profile", "avatar"] | ["users", _, "avatar"] => files::routes::avatar_route(c, segs),
        // The audit log reads what every area records.
        ["audit_events", ..] => audit_area::routes::route(c, segs),
        _ => users::routes::route(c, segs, &ChatMembershipSync),
    })
}

/// The `chats` component: chats, members, chat group tags, chat search.
pub fn chats(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, |c, segs| match segs {
        // Exports read every area and store a file: the exports area.
        ["chats", "exports", ..] => exports::routes::route(c, segs),
        _ => chats::routes::route(c, segs),
    })
}

/// The `messages` component: messages, threads, read state, message search;
/// it also answers `/messages/{id}/reactions` should a request for them
/// reach it (Spin routes those to the reactions component).
pub fn messages(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, |c, segs| match segs {
        ["messages", _, "reactions"] => reactions::routes::route(c, segs),
        _ => messages::routes::route(c, segs),
    })
}

/// The `reactions` component: reactions on messages.
pub fn reactions(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, reactions::routes::route)
}

/// The `files` component: upload forms, uploads and downloads (a file's
/// own path, outside the API prefix, is its download).
pub fn files(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    if req.path.starts_with("/attaches/") {
        return respond(db, cfg, req, files::routes::download);
    }
    if req.path.starts_with("/avatars/") {
        return respond(db, cfg, req, files::routes::avatar);
    }
    serve(db, cfg, req, files::routes::route)
}

/// The `tasks` component: tasks (reminders).
pub fn tasks(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, tasks::routes::route)
}

/// The `broadcasts` component (our extension): broadcasts to personal
/// chats, their delivery and analytics.
pub fn broadcasts(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, broadcasts::routes::route)
}

/// The `analytics` component (our extension): communication analytics
/// over the rollups the other areas' writes keep.
pub fn analytics(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, analytics::routes::route)
}

/// The `webhooks` component: the official bots API, the event history for
/// polling, and our delivery log, redelivery and scheduler run.
pub fn webhooks(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, webhooks::routes::route)
}

/// The `incoming` component: bots' incoming webhooks (their templates).
pub fn incoming(db: &dyn Db, cfg: &Config, req: &Request) -> Response {
    begin(req);
    serve(db, cfg, req, webhooks::routes::route_incoming)
}
