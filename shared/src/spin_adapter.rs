//! The one adapter between Spin and an API area, shared by every component:
//! it turns the Spin request into the transport-neutral [`Request`], opens
//! the `default` SQLite database, reads the `admin_token` variable, runs the
//! area's handler and turns its [`Response`] back into a Spin response.
//!
//! Each component crate is then a single `#[http_component]` function that
//! names its entry point, e.g. `serve(req, out, shared::components::chats)`.
//! After the response it runs the work the request deferred (a broadcast's
//! delivery, [`outbox::defer`]) and delivers the webhooks the request's
//! changes scheduled (see [`crate::webhooks::delivery`]).

use spin_sdk::http::{Fields, OutgoingResponse};
use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
use spin_sdk::wit::wasi::http0_2_0::types::{
    FutureIncomingResponse, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasi::io::poll::Pollable;
use wasi::io::streams::InputStream;

use crate::auth::context::{Config, Handler};
use crate::platform::db::SpinDb;
use crate::platform::http::{Request, Response};
use crate::platform::{outbox, rate_limit};
use crate::webhooks::delivery::{self, Attempt, Outcome, OutgoingWebhook, Transport};
use crate::Error;

/// The request path and query: from the request URI, falling back to Spin's
/// `spin-full-url` header (parsed as an [`http::Uri`]).
fn path_and_query(req: &spin_sdk::http::Request) -> (String, String) {
    let path = req.path();
    if !path.is_empty() {
        return (path.to_owned(), req.query().to_owned());
    }
    let full = req
        .header("spin-full-url")
        .and_then(|h| h.as_str())
        .and_then(|full| full.parse::<http::Uri>().ok());
    match full {
        Some(uri) => (
            uri.path().to_owned(),
            uri.query().unwrap_or_default().to_owned(),
        ),
        None => ("/".to_owned(), String::new()),
    }
}

/// Reads a Spin variable the component may not declare (`None` then).
fn variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name)
        .ok()
        .filter(|v| !v.is_empty())
}

/// Serves one Spin request with a component's `handler`: the response is
/// sent in full first; then, in the same invocation, the webhooks the
/// request scheduled ([`outbox::scheduled`]) are delivered.
pub async fn serve(
    req: spin_sdk::http::Request,
    out: spin_sdk::http::ResponseOutparam,
    handler: Handler,
) {
    let (path, query) = path_and_query(&req);
    let api_req = Request {
        method: req.method().to_string().to_ascii_uppercase(),
        path,
        query,
        headers: req
            .headers()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.to_owned(), v.to_owned())))
            .collect(),
        body: req.body().to_vec(),
    };
    let allow_private = variable("webhook_allow_private").is_some_and(|v| v == "true");
    let cfg = Config {
        admin_token: variable("admin_token"),
        transport: Some(&WasiTransport),
        webhook_allow_private: allow_private,
        variable: Some(variable),
    };
    let db = SpinDb::open_default(&crate::auth::context::riders(&cfg, &api_req));
    let limited = rate_limited(&api_req);
    let resp = match (&db, limited) {
        (_, Some(e)) => Response::error(&e),
        (Ok(db), None) => handler(db, &cfg, &api_req),
        (Err(e), None) => {
            eprintln!(
                "{} {}: opening the database: {e}",
                api_req.method, api_req.path
            );
            Response::error(&Error::Db(e.clone()))
        }
    };
    let headers: Vec<(String, Vec<u8>)> = resp
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(fields);
    if response.set_status_code(resp.status).is_err() {
        let _ = response.set_status_code(500);
    }
    if let Err(e) = out.set_with_body(response, resp.body).await {
        eprintln!("could not send the response: {e}");
    }
    let Ok(db) = &db else { return };
    let mut flush = |db: &dyn crate::platform::db::Db| {
        let scheduled = outbox::scheduled();
        if scheduled.is_empty() {
            return;
        }
        if let Err(e) = delivery::run(db, &scheduled, &WasiTransport, allow_private) {
            eprintln!("webhook delivery failed: {e}");
        }
    };
    for work in outbox::deferred() {
        work(db, &mut flush);
    }
    flush(db);
}

/// The key-value store as [`rate_limit::Counters`]; a failed read counts as
/// none and a failed write is dropped (a limit is no reason to refuse).
struct KeyValueCounters(spin_sdk::key_value::Store);

impl rate_limit::Counters for KeyValueCounters {
    fn get(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
    }

    fn set(&self, key: &str, value: &str) {
        let _ = self.0.set(key, value.as_bytes());
    }
}

/// The 429 for a request over its token's limit (the `rate_limit`
/// variable; see [`rate_limit`]), counted in the `default` key-value
/// store. `None` for requests without a bearer token, when the limit is
/// off, or when the component has no store.
fn rate_limited(req: &Request) -> Option<Error> {
    let token = req.header("authorization").and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    })?;
    let per_second = variable("rate_limit")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(rate_limit::DEFAULT_PER_SECOND);
    if per_second == 0 {
        return None;
    }
    let store = spin_sdk::key_value::Store::open_default().ok()?;
    let second = crate::platform::time::now().unix_seconds();
    rate_limit::hit(&KeyValueCounters(store), token.trim(), second, per_second).err()
}

/// [`Transport`] over `wasi:http/outgoing-handler`: every request is started
/// at once with [`delivery::TIMEOUT_MS`] timeouts, then the adapter waits on
/// all their pollables together. Redirects are not followed (`wasi:http`
/// never does). A response body is read, without blocking the others, up to
/// [`BODY_LIMIT`] bytes and then dropped: reading a short body to its end
/// lets the host reuse the connection for the next webhook. What was read
/// is handed back (a form's submission reads the bot's errors from it).
#[derive(Debug)]
struct WasiTransport;

/// The most bytes of a receiver's answer that are read: enough for a form's
/// per-field errors.
const BODY_LIMIT: usize = 64 * 1024;

/// Where one request stands.
enum Stage {
    /// Waiting for the response head.
    Head(FutureIncomingResponse),
    /// The status is known; draining the body (fields drop in this order).
    Body {
        stream: InputStream,
        _body: IncomingBody,
        _response: IncomingResponse,
        read: Vec<u8>,
    },
}

/// A request started, with when it started.
struct InFlight {
    index: usize,
    started: std::time::Instant,
    stage: Stage,
}

impl InFlight {
    fn subscribe(&self) -> Pollable {
        match &self.stage {
            Stage::Head(response) => response.subscribe(),
            Stage::Body { stream, .. } => stream.subscribe(),
        }
    }
}

/// The body of a response whose status is known, ready to drain.
fn body_stage(response: IncomingResponse) -> Option<Stage> {
    let body = response.consume().ok()?;
    let stream = body.stream().ok()?;
    Some(Stage::Body {
        stream,
        _body: body,
        _response: response,
        read: Vec::new(),
    })
}

fn start(hook: &OutgoingWebhook) -> Result<FutureIncomingResponse, String> {
    let uri: http::Uri = hook.url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        _ => Scheme::Http,
    };
    let authority = uri.authority().map(|a| a.as_str().to_owned());
    let path = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let mut list = vec![("content-type".to_owned(), b"application/json".to_vec())];
    if let Some(signature) = &hook.signature {
        list.push(("pachca-signature".to_owned(), signature.as_bytes().to_vec()));
    }
    list.extend([
        (
            "user-agent".to_owned(),
            b"pachka-messenger-webhooks/1".to_vec(),
        ),
        // A length rather than chunks: receivers that read `Content-Length`
        // bytes (the guide's handler among them) get the whole body.
        (
            "content-length".to_owned(),
            hook.body.len().to_string().into_bytes(),
        ),
    ]);
    let headers = Fields::from_list(&list).map_err(|e| format!("bad header: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let _ = request.set_method(&Method::Post);
    let _ = request.set_scheme(Some(&scheme));
    let _ = request.set_authority(authority.as_deref());
    let _ = request.set_path_with_query(Some(&path));
    let body = request.body().map_err(|()| "no request body".to_owned())?;
    let options = RequestOptions::new();
    let timeout = hook.timeout_ms * 1_000_000;
    let _ = options.set_connect_timeout(Some(timeout));
    let _ = options.set_first_byte_timeout(Some(timeout));
    let _ = options.set_between_bytes_timeout(Some(timeout));
    let response =
        outgoing_handler::handle(request, Some(options)).map_err(|e| format!("{e:?}"))?;
    {
        let stream = body.write().map_err(|()| "no body stream".to_owned())?;
        for chunk in hook.body.as_bytes().chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    Ok(response)
}

impl Transport for WasiTransport {
    fn send_all(&self, hooks: &[OutgoingWebhook]) -> Vec<Attempt> {
        let failed = |why: String| Attempt {
            outcome: Outcome::Failed(why),
            latency_ms: 0,
            body: Vec::new(),
        };
        let mut attempts: Vec<Attempt> = (0..hooks.len())
            .map(|_| failed("not sent".into()))
            .collect();
        let mut in_flight = Vec::new();
        for (index, hook) in hooks.iter().enumerate() {
            let started = std::time::Instant::now();
            match start(hook) {
                Ok(response) => in_flight.push(InFlight {
                    index,
                    started,
                    stage: Stage::Head(response),
                }),
                Err(why) => attempts[index] = failed(why),
            }
        }
        while !in_flight.is_empty() {
            let pollables: Vec<Pollable> = in_flight.iter().map(InFlight::subscribe).collect();
            let refs: Vec<&Pollable> = pollables.iter().collect();
            let mut ready = wasi::io::poll::poll(&refs);
            drop(pollables);
            ready.sort_unstable_by(|a, b| b.cmp(a));
            for i in ready {
                let Some(i) = usize::try_from(i).ok().filter(|i| *i < in_flight.len()) else {
                    continue;
                };
                let mut f = in_flight.swap_remove(i);
                match f.stage {
                    Stage::Head(response) => {
                        let latency_ms =
                            i64::try_from(f.started.elapsed().as_millis()).unwrap_or(i64::MAX);
                        let (outcome, next) = match response.get() {
                            Some(Ok(Ok(resp))) => {
                                (Outcome::Status(resp.status()), body_stage(resp))
                            }
                            Some(Ok(Err(code))) => (Outcome::Failed(format!("{code:?}")), None),
                            Some(Err(())) => {
                                (Outcome::Failed("response already taken".into()), None)
                            }
                            None => {
                                f.stage = Stage::Head(response);
                                in_flight.push(f);
                                continue;
                            }
                        };
                        attempts[f.index] = Attempt {
                            outcome,
                            latency_ms,
                            body: Vec::new(),
                        };
                        if let Some(next) = next {
                            f.stage = next;
                            in_flight.push(f);
                        }
                    }
                    Stage::Body {
                        ref stream,
                        ref mut read,
                        ..
                    } => {
                        // A body that trickles is given up on, so a worker's
                        // run stays well inside its lease.
                        let late = f.started.elapsed().as_millis()
                            > u128::from(3 * hooks[f.index].timeout_ms);
                        let more = !late
                            && match stream.read((BODY_LIMIT - read.len()) as u64) {
                                Ok(bytes) => {
                                    read.extend_from_slice(&bytes);
                                    read.len() < BODY_LIMIT
                                }
                                Err(_) => false,
                            };
                        if more {
                            in_flight.push(f);
                        } else {
                            attempts[f.index].body = std::mem::take(read);
                        }
                    }
                }
            }
        }
        attempts
    }
}
