//! Router of `/chats/exports` (served by the chats component).

use crate::auth::context::Ctx;
use crate::exports;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::params::id_param;

/// Routes `/chats/exports` and `/chats/exports/{id}`.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    match (segs, c.req.method.as_str()) {
        (["chats", "exports"], "POST") => {
            let p = c.auth(Some("chat_exports:write"))?;
            let input = exports::parse(&c.body()?)?;
            let id = exports::request(c.db, &p, &input)?;
            let (transport, private) = (c.cfg.transport, c.cfg.webhook_allow_private);
            crate::platform::outbox::defer(Box::new(move |db, _| {
                if let Err(e) = exports::build(db, id, transport, private) {
                    eprintln!("chat export {id}: {e}");
                }
            }));
            // The spec answers 204; the official SDKs ask for the export's
            // id with `Prefer: return=representation` and read a 202.
            let wants_id = c
                .req
                .header("prefer")
                .is_some_and(|v| v.contains("return=representation"));
            if wants_id {
                Ok(Response::data(202, serde_json::json!({ "id": id })))
            } else {
                Ok(Response::no_content())
            }
        }
        (["chats", "exports", id], "GET") => {
            let p = c.auth(Some("chat_exports:read"))?;
            let link = exports::download_link(c.db, &p, id_param(id, "id")?, &c.req.origin())?;
            Ok(Response {
                status: 302,
                headers: vec![("location".into(), link)],
                body: Vec::new(),
            })
        }
        (["chats", "exports"] | ["chats", "exports", _], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}
