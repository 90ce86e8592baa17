//! Serving HTTP: accepting connections, routing, preparing the guest request
//! (Spin's `spin-*` headers), running a fresh instance per request under a
//! deadline, access logging, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use crate::app::{App, LoadedComponent, RouteEntry, RouteTarget};
use crate::engine::EPOCH_TICK;
use crate::outbound::OutboundHooks;
use crate::routing::{RouteMatch, RoutePattern};
use crate::state::RequestState;

/// The response body type of every response this host sends.
type Body = HyperOutgoingBody;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
}

/// The server: the app plus the instance budget.
pub struct Server {
    app: Arc<App>,
    instances: Arc<Semaphore>,
}

/// The outcome of one request, for the access log.
struct Outcome {
    response: Response<Body>,
    component: String,
}

impl Server {
    /// A server for `app`.
    pub fn new(app: Arc<App>) -> Self {
        let permits = app.max_instances as usize;
        Self {
            app,
            instances: Arc::new(Semaphore::new(permits)),
        }
    }

    /// Serves on `listener` until `shutdown` resolves, then lets in-flight
    /// requests finish for at most `grace`.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
        grace: Duration,
    ) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            eprintln!("error: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let server = self.clone();
                    let service = hyper::service::service_fn(move |req| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.handle(req, peer).await) }
                    });
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        // Connection errors (clients going away mid-request) are
                        // not the server's errors; the access log has the requests.
                        let _ = conn.await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        eprintln!("shutting down: waiting up to {grace:?} for in-flight requests");
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            eprintln!("warning: in-flight requests did not finish within {grace:?}");
        }
    }

    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let start = Instant::now();
        let method = req.method().clone();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let outcome = self.dispatch(req, peer).await;
        log_access(
            &method,
            &redacted(&path, &self.app.redact_paths),
            outcome.response.status(),
            &outcome.component,
            start.elapsed(),
        );
        outcome.response
    }

    async fn dispatch(&self, req: Request<Incoming>, peer: SocketAddr) -> Outcome {
        let none = |response| Outcome {
            response,
            component: "-".into(),
        };
        let path = req.uri().path().to_string();
        if let Some(name) = path.strip_prefix("/.well-known/spin/") {
            return none(self.well_known(name));
        }
        let Some((pattern, entry, route_match)) = self.app.router.route(&path) else {
            return none(plain(StatusCode::NOT_FOUND, Bytes::new()));
        };
        match &entry.target {
            RouteTarget::Static(fixed) => {
                let mut response = plain(
                    StatusCode::from_u16(fixed.status).unwrap_or(StatusCode::OK),
                    fixed.body.clone(),
                );
                for (name, value) in &fixed.headers {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::try_from(name.as_str()),
                        HeaderValue::try_from(value.as_str()),
                    ) {
                        response.headers_mut().append(name, value);
                    }
                }
                Outcome {
                    response,
                    component: entry.trigger_id.clone(),
                }
            }
            RouteTarget::Component(component) => {
                let response = self
                    .run_component(component, req, peer, pattern, entry, route_match)
                    .await;
                Outcome {
                    response,
                    component: component.id.clone(),
                }
            }
        }
    }

    fn well_known(&self, name: &str) -> Response<Body> {
        match name {
            "health" => plain(StatusCode::OK, "OK"),
            "info" => {
                let mut info = serde_json::json!({ "name": self.app.name });
                if let Some(version) = &self.app.version {
                    info["version"] = serde_json::Value::String(version.clone());
                }
                let mut response = plain(StatusCode::OK, info.to_string());
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            _ => plain(StatusCode::NOT_FOUND, Bytes::new()),
        }
    }

    async fn run_component(
        &self,
        component: &Arc<LoadedComponent>,
        req: Request<Incoming>,
        peer: SocketAddr,
        pattern: &RoutePattern,
        _entry: &RouteEntry,
        route_match: RouteMatch,
    ) -> Response<Body> {
        let limit = self.app.max_body_bytes;
        let declared_length = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|n| n > limit) {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, Bytes::new());
        }
        let (mut parts, body) = req.into_parts();
        let body: Body = if declared_length.is_some() || is_bodyless(&parts) {
            body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync()
        } else {
            // Unknown length: buffer up to the limit so an oversized body is
            // refused before the guest sees any of it.
            match Limited::new(body, limit as usize).collect().await {
                Ok(collected) => full(collected.to_bytes()),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return plain(StatusCode::PAYLOAD_TOO_LARGE, Bytes::new())
                }
                Err(_) => return plain(StatusCode::BAD_REQUEST, Bytes::new()),
            }
        };

        if let Err(message) = prepare_request(&mut parts, peer, pattern, &route_match) {
            return plain(StatusCode::BAD_REQUEST, message);
        }
        let req = Request::from_parts(parts, body);

        let Ok(permit) = self.instances.clone().acquire_owned().await else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, Bytes::new());
        };
        let mut store = match self.new_store(component) {
            Ok(store) => store,
            Err(e) => {
                eprintln!(
                    "error: component {:?}: cannot prepare instance: {e:#}",
                    component.id
                );
                return plain(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new());
            }
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let resources = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .and_then(|incoming| {
                let out = store.data_mut().http().new_response_outparam(sender)?;
                Ok((incoming, out))
            });
        let (incoming, out) = match resources {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!(
                    "error: component {:?}: cannot pass the request: {e:#}",
                    component.id
                );
                return plain(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new());
            }
        };

        let pre = component.pre.clone();
        let timeout = self.app.request_timeout;
        let id = component.id.clone();
        // The guest logs its own failure (one line). It runs on this task
        // until it either finishes (most requests: no extra task) or sets the
        // response head while still running, in which case the rest of it
        // (streaming the body) moves to its own task.
        let guest = async move {
            let _permit = permit;
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, out)
                    .await
            };
            let failure = match tokio::time::timeout(timeout, run).await {
                Ok(Ok(())) => return true,
                Ok(Err(e)) => format!("{e:#}"),
                Err(_) => format!("request timed out after {timeout:?}"),
            };
            eprintln!("error: component {id:?}: {}", one_line(&failure));
            false
        };
        let mut guest = Box::pin(guest);
        let mut receiver = receiver;
        let (received, guest_finished_ok) = tokio::select! {
            biased;
            finished_ok = &mut guest => (receiver.await, Some(finished_ok)),
            received = &mut receiver => {
                tokio::spawn(guest);
                (received, None)
            }
        };

        match received {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => {
                eprintln!(
                    "error: component {:?} answered with error {code:?}",
                    component.id
                );
                plain(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new())
            }
            Err(_) => {
                if guest_finished_ok == Some(true) {
                    eprintln!(
                        "error: component {:?}: guest returned without setting a response",
                        component.id
                    );
                }
                plain(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new())
            }
        }
    }

    fn new_store(&self, component: &LoadedComponent) -> anyhow::Result<Store<RequestState>> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&component.environment)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for mount in &component.files {
            wasi.preopened_dir(&mount.host_path, &mount.guest_path, FsPerms::ReadOnly)
                .map_err(|e| anyhow::anyhow!("cannot mount {}: {e}", mount.host_path.display()))?;
        }
        let state = RequestState {
            table: wasmtime::component::ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(component.outbound.clone()),
            sqlite: component.sqlite.clone(),
            key_value: component.key_value.clone(),
            variables: component.variables.clone(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.app.max_instance_memory)
                .instances(64)
                .build(),
        };
        let mut store = Store::new(&self.app.engine, state);
        store.limiter(|state| &mut state.limits);
        let ticks = (self.app.request_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        Ok(store)
    }
}

fn is_bodyless(parts: &http::request::Parts) -> bool {
    !parts.headers.contains_key(http::header::TRANSFER_ENCODING)
        && matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
        )
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rewrites the request the way Spin hands it to a guest: absolute URI,
/// `spin-*` headers appended. Unlike Spin, `spin-*` headers sent by the
/// client are removed first, so a client cannot spoof them.
fn prepare_request(
    parts: &mut http::request::Parts,
    peer: SocketAddr,
    pattern: &RoutePattern,
    route_match: &RouteMatch,
) -> Result<(), &'static str> {
    let spoofed: Vec<HeaderName> = parts
        .headers
        .keys()
        .filter(|name| name.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for name in spoofed {
        parts.headers.remove(&name);
    }
    if parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| {
            h.split(':')
                .next()
                .unwrap_or("")
                .ends_with(".spin.internal")
        })
    {
        parts.headers.remove(HOST);
    }
    let authority = match (parts.headers.get(HOST), parts.uri.authority()) {
        (Some(host), Some(authority)) => {
            if host.as_bytes() != authority.as_str().as_bytes() {
                return Err("Host header and request URI disagree");
            }
            authority.to_string()
        }
        (Some(host), None) => host
            .to_str()
            .map_err(|_| "invalid Host header")?
            .to_string(),
        (None, Some(authority)) => authority.to_string(),
        (None, None) => return Err("no 'Host' header present"),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let full_url = format!("http://{authority}{path_and_query}");
    parts.uri = full_url.parse().map_err(|_| "invalid request URI")?;

    let mut add = |name: &str, value: &str| -> Result<(), &'static str> {
        let name = HeaderName::try_from(name).map_err(|_| "invalid route parameter name")?;
        let value = HeaderValue::try_from(value).map_err(|_| "invalid header value")?;
        parts.headers.append(name, value);
        Ok(())
    };
    add("spin-full-url", &full_url)?;
    add("spin-path-info", &route_match.path_info)?;
    add("spin-matched-route", pattern.based())?;
    add("spin-base-path", "/")?;
    add("spin-raw-component-route", pattern.raw())?;
    add("spin-component-route", pattern.component_route())?;
    add("spin-client-addr", &peer.to_string())?;
    for (name, value) in &route_match.params {
        let header = format!(
            "spin-path-match-{}",
            name.to_ascii_lowercase().replace('_', "-")
        );
        add(&header, value)?;
    }
    Ok(())
}

/// `path` with whatever follows a matching prefix replaced by `[redacted]`.
fn redacted(path: &str, prefixes: &[String]) -> String {
    for prefix in prefixes {
        if let Some(rest) = path.strip_prefix(prefix.as_str()) {
            if !rest.is_empty() {
                return format!("{prefix}[redacted]");
            }
        }
    }
    path.to_owned()
}

fn log_access(method: &Method, path: &str, status: StatusCode, component: &str, elapsed: Duration) {
    use std::io::Write;
    let line = format!(
        "{} {method} {path} {} {component} {:.3}ms\n",
        crate::clock::utc_now(),
        status.as_u16(),
        elapsed.as_secs_f64() * 1000.0
    );
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// Binds `addr` (with SO_REUSEADDR so restarts do not wait on TIME_WAIT).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_paths_are_redacted_in_the_access_log() {
        let prefixes = vec!["/api/shared/v1/webhooks/incoming/".to_owned()];
        assert_eq!(
            redacted("/api/shared/v1/webhooks/incoming/abc123?x=1", &prefixes),
            "/api/shared/v1/webhooks/incoming/[redacted]"
        );
        assert_eq!(
            redacted("/api/shared/v1/users/1", &prefixes),
            "/api/shared/v1/users/1"
        );
    }
}
