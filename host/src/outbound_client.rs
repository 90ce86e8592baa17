//! The client that outbound `wasi:http` requests are sent with, once
//! [`crate::outbound`] has allowed them.
//!
//! With connection pooling (Spin's default; runtime config
//! `[outbound_http] connection_pooling`), one hyper-util client keeps idle
//! keep-alive connections per origin and serves every request of every
//! component, as Spin's outbound-HTTP factor does: a component that sends
//! one webhook per event to the same bot no longer pays a TCP (and TLS)
//! handshake each time. Without pooling, each request opens its own
//! connection with wasmtime's `default_send_request`.
//!
//! Timeouts follow the guest's `request-options`: the connect and
//! first-byte timeouts together bound the wait for the response head (a
//! pooled connection may need no connect at all), and the between-bytes
//! timeout bounds every wait for the next body frame. Without pooling the
//! same client is used with no idle connections kept.
//!
//! Blocked networks (`[outbound_networking] block_networks`, as in Spin):
//! a destination whose address, after DNS resolution, is in a blocked
//! network is refused with `destination-IP-prohibited`; `"private"` stands
//! for the loopback, private, link-local, CGNAT and unique-local ranges. The
//! check runs in the connector, on the addresses actually connected to, so
//! a public name that resolves to a private address cannot get through.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use crate::outbound_rules::BlockedNetworks;

/// How long an idle pooled connection is kept: hyper-util's default, which
/// Spin's outbound-HTTP factor leaves as it is.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// Idle connections kept per origin: no cap, as in Spin (hyper-util's
/// default). The connections a pool holds are the ones a burst opened, so
/// the peak concurrency to an origin bounds them. A cap below that peak
/// closes connections after each burst only to open them again in the
/// next: with a cap of 64, 16 clients posting into chats with 10 bots on one
/// receiver (up to 160 webhooks in flight) opened a new connection for
/// every 5th webhook (`nstat TcpActiveOpens`), and sent 418–446 messages/s
/// against 504–535/s without it (the bench's sending with 10 bots, 8 s
/// runs, the two host builds alternated three times; README, "Sending with
/// bots").
const POOL_MAX_IDLE_PER_HOST: usize = usize::MAX;
/// The timeout a guest that sets none gets (wasmtime's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// What `send` returns: the response and a future that reports I/O errors
/// after the head (always `Ok` in pooled mode: the pool drives connections).
pub type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
);

/// What the resolver fails with when every address of a name is blocked.
#[derive(Debug, thiserror::Error)]
#[error("destination IP prohibited by block_networks")]
struct Blocked;

/// DNS resolution that drops blocked addresses (an error when none is left).
#[derive(Clone)]
struct GuardedResolver {
    inner: GaiResolver,
    blocked: Arc<BlockedNetworks>,
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolving = self.inner.call(name);
        let blocked = self.blocked.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = resolving
                .await?
                .filter(|a| !blocked.blocks(a.ip()))
                .collect();
            if addrs.is_empty() {
                Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    Blocked,
                ))
            } else {
                Ok(addrs.into_iter())
            }
        })
    }
}

/// Sends allowed outbound requests; shared by every component of the app.
#[derive(Clone)]
pub struct OutboundClient {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, WasiBody>,
    blocked: Arc<BlockedNetworks>,
}

impl std::fmt::Debug for OutboundClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundClient")
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

impl OutboundClient {
    /// A client that keeps idle connections when `pooling` is set and never
    /// connects to `blocked` networks.
    pub fn new(pooling: bool, blocked: BlockedNetworks) -> Self {
        let blocked = Arc::new(blocked);
        let resolver = GuardedResolver {
            inner: GaiResolver::new(),
            blocked: blocked.clone(),
        };
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(if pooling { POOL_MAX_IDLE_PER_HOST } else { 0 })
            .build(https);
        Self { client, blocked }
    }

    /// Sends one request (its URI absolute: scheme and authority set).
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> wasmtime_wasi_http::Result<Sent> {
        // The connector resolves names; an address literal is checked here.
        let literal = request
            .uri()
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if !self.blocked.is_empty() && literal.is_some_and(|ip| self.blocked.blocks(ip)) {
            return Err(Error::DestinationIpProhibited);
        }
        let client = &self.client;
        let timeout = |pick: fn(&RequestOptions) -> Option<Duration>| {
            options.as_ref().and_then(pick).unwrap_or(DEFAULT_TIMEOUT)
        };
        let head_timeout = timeout(|o| o.connect_timeout) + timeout(|o| o.first_byte_timeout);
        let between_bytes = timeout(|o| o.between_bytes_timeout).max(Duration::from_nanos(1));
        let response = match tokio::time::timeout(head_timeout, client.request(request)).await {
            Err(_) => return Err(Error::ConnectionReadTimeout),
            Ok(Err(e)) => return Err(client_error(e)),
            Ok(Ok(response)) => response,
        };
        let response = response.map(|incoming| {
            BetweenBytes {
                incoming,
                between_bytes,
                deadline: Box::pin(tokio::time::sleep(between_bytes)),
            }
            .boxed_unsync()
        });
        Ok((
            response,
            Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
        ))
    }
}

/// Maps a hyper-util client error to the `wasi:http` error a guest sees.
fn client_error(e: hyper_util::client::legacy::Error) -> Error {
    use std::error::Error as _;
    let mut cause = e.source();
    while let Some(c) = cause {
        let blocked = c
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .is_some_and(|inner| inner.is::<Blocked>());
        if blocked {
            return Error::DestinationIpProhibited;
        }
        cause = c.source();
    }
    if e.is_connect() {
        let refused = e
            .source()
            .and_then(|s| s.source())
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        return if refused {
            Error::ConnectionRefused
        } else {
            Error::Connect(std::io::Error::other(e.to_string()))
        };
    }
    match e.source().and_then(|s| s.downcast_ref::<hyper::Error>()) {
        Some(h) if h.is_incomplete_message() || h.is_closed() => Error::ConnectionTerminated,
        Some(h) if h.is_parse() => Error::HttpProtocolError,
        _ => Error::InternalError(Some(e.to_string())),
    }
}

/// A response body that fails when no frame arrives within the guest's
/// between-bytes timeout.
struct BetweenBytes {
    incoming: hyper::body::Incoming,
    between_bytes: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for BetweenBytes {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.between_bytes;
                self.deadline.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A keep-alive HTTP/1.1 server answering `ok`; counts its connections.
    fn server() -> (String, Arc<AtomicUsize>) {
        server_answering_together(1)
    }

    /// [`server`] that holds each answer until `together` requests are
    /// waiting for theirs, so that a burst of `together` requests needs as
    /// many connections at once.
    fn server_answering_together(together: usize) -> (String, Arc<AtomicUsize>) {
        let barrier = Arc::new(std::sync::Barrier::new(together));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut writer = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            barrier.wait();
                            let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if writer.write_all(reply.as_bytes()).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, connections)
    }

    async fn get(client: &OutboundClient, url: &str) -> (u16, Bytes) {
        let request = http::Request::get(url)
            .body(
                http_body_util::Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .expect("request");
        let (response, _io) = client.send(request, None).await.expect("sent");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.expect("body");
        (status, body.to_bytes())
    }

    #[tokio::test]
    async fn pooled_requests_reuse_one_connection() {
        let (url, connections) = server();
        let client = OutboundClient::new(true, BlockedNetworks::default());
        for _ in 0..3 {
            assert_eq!(get(&client, &url).await, (200, Bytes::from_static(b"ok")));
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_burst_keeps_every_connection_it_opened_for_the_next() {
        // As many requests in flight to one origin as 16 clients posting
        // into chats with 10 bots each send webhooks.
        const BURST: usize = 160;
        let (url, connections) = server_answering_together(BURST);
        let client = OutboundClient::new(true, BlockedNetworks::default());
        for _ in 0..2 {
            let mut burst = tokio::task::JoinSet::new();
            for _ in 0..BURST {
                let (client, url) = (client.clone(), url.clone());
                burst.spawn(async move { get(&client, &url).await.0 });
            }
            while let Some(status) = burst.join_next().await {
                assert_eq!(status.expect("joined"), 200);
            }
        }
        assert_eq!(connections.load(Ordering::SeqCst), BURST);
    }

    #[tokio::test]
    async fn without_pooling_every_request_connects() {
        let (url, connections) = server();
        let client = OutboundClient::new(false, BlockedNetworks::default());
        for _ in 0..3 {
            assert_eq!(get(&client, &url).await.0, 200);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_as_such() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let request = http::Request::get(format!("http://127.0.0.1:{port}/"))
            .body(
                http_body_util::Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .expect("request");
        let err = OutboundClient::new(true, BlockedNetworks::default())
            .send(request, None)
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, Error::ConnectionRefused), "{err:?}");
    }

    fn empty_get(url: &str) -> http::Request<WasiBody> {
        http::Request::get(url)
            .body(
                http_body_util::Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .expect("request")
    }

    #[tokio::test]
    async fn blocked_networks_are_refused_after_dns_resolution() {
        let (url, connections) = server();
        let private = BlockedNetworks::parse(&["private".to_owned()]).expect("valid");
        let client = OutboundClient::new(true, private);
        // By address, and by a name that resolves to it.
        let by_name = url.replace("127.0.0.1", "localhost");
        for target in [url.as_str(), by_name.as_str()] {
            let err = client.send(empty_get(target), None).await.err();
            assert!(
                matches!(err, Some(Error::DestinationIpProhibited)),
                "{target}: {err:?}"
            );
        }
        assert_eq!(connections.load(Ordering::SeqCst), 0);
        // Other networks stay reachable.
        let elsewhere = BlockedNetworks::parse(&["10.0.0.0/8".to_owned()]).expect("valid");
        let client = OutboundClient::new(true, elsewhere);
        assert_eq!(get(&client, &url).await.0, 200);
        assert!(BlockedNetworks::parse(&["nope".to_owned()]).is_err());
        let p = BlockedNetworks::parse(&["private".to_owned()]).expect("valid");
        assert!(p.blocks("::ffff:192.168.1.1".parse().expect("ip")));
        assert!(p.blocks("100.64.0.1".parse().expect("ip")));
        assert!(!p.blocks("8.8.8.8".parse().expect("ip")));
    }
}
