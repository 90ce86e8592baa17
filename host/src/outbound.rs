//! Outbound HTTP: the wasi:http hook that enforces a component's
//! `allowed_outbound_hosts` ([`crate::outbound_rules`]).
//!
//! A request to a host no entry allows fails in the guest with
//! `HTTP-request-denied` and nothing is sent. Requests with no authority (a
//! path such as `/api/x`) are "self" requests: allowed by a `self`, `self.alt`
//! or `*` host entry and sent to this host's own listen address, as in Spin.

use std::sync::Arc;

use http::uri::{Authority, Scheme, Uri};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::outbound_client::{OutboundClient, Sent};
use crate::outbound_rules::well_known_port;
use crate::outbound_rules::AllowedHostsConfig;

/// Per-component outbound policy shared by all of its requests.
#[derive(Debug)]
pub struct OutboundPolicy {
    /// The component these rules belong to (for the denial warning).
    pub component: String,
    /// The allowed hosts.
    pub hosts: AllowedHostsConfig,
    /// `host:port` that self requests are sent to (the listen address).
    pub self_origin: String,
    /// The client allowed requests are sent with (shared by the app).
    pub client: OutboundClient,
}

/// What to do with one outgoing request.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Send,
    SendToSelf,
    Deny(String),
}

impl OutboundPolicy {
    fn decide(&self, uri: &Uri) -> Decision {
        let authority = uri.authority().map(Authority::as_str).unwrap_or("");
        let host = uri.host().unwrap_or("");
        // A relative URL reaches us with an empty host (wasi:http may still
        // give it a port), so "no host" is what marks a self request.
        if host.is_empty() || host == "self.alt" {
            return if self.hosts.allows_self() {
                Decision::SendToSelf
            } else {
                Decision::Deny("http://self".into())
            };
        }
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let port = uri
            .port_u16()
            .or_else(|| well_known_port(&scheme))
            .unwrap_or(0);
        if self.hosts.allows(&scheme, host, port) {
            Decision::Send
        } else {
            Decision::Deny(format!("{scheme}://{authority}"))
        }
    }
}

type SendFuture = Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<Sent>> + Send>;

/// The wasi:http hooks of one request's store: enforce the component's
/// policy, then send with the app's [`OutboundClient`].
pub struct OutboundHooks {
    policy: Arc<OutboundPolicy>,
}

impl OutboundHooks {
    /// Hooks enforcing `policy`.
    pub fn new(policy: Arc<OutboundPolicy>) -> Self {
        Self { policy }
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        drop(fut);
        match self.policy.decide(request.uri()) {
            Decision::Deny(target) => {
                eprintln!(
                    "warning: component {:?} may not send requests to {target}; add it to allowed_outbound_hosts to allow it",
                    self.policy.component
                );
                return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
            }
            Decision::SendToSelf => {
                let path = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                let uri = Uri::builder()
                    .scheme(Scheme::HTTP)
                    .authority(self.policy.self_origin.as_str())
                    .path_and_query(path)
                    .build();
                match uri {
                    Ok(uri) => *request.uri_mut() = uri,
                    Err(_) => {
                        return Box::new(async {
                            Err(wasmtime_wasi_http::Error::HttpRequestUriInvalid)
                        })
                    }
                }
                if let Ok(value) = http::HeaderValue::from_str(&self.policy.self_origin) {
                    request.headers_mut().insert(http::header::HOST, value);
                }
            }
            Decision::Send => {}
        }
        let client = self.policy.client.clone();
        Box::new(async move { client.send(request, options).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let policy = OutboundPolicy {
            component: "c".into(),
            hosts: AllowedHostsConfig::resolve(&["http://127.0.0.1:8080".to_owned()], |_| {
                Err("no vars".into())
            })
            .expect("valid"),
            self_origin: "127.0.0.1:3000".into(),
            client: OutboundClient::new(false, Default::default()),
        };
        let uri = |s: &str| s.parse::<Uri>().expect("uri");
        assert_eq!(
            policy.decide(&uri("http://127.0.0.1:8080/x")),
            Decision::Send
        );
        assert!(matches!(
            policy.decide(&uri("http://127.0.0.1:8081/x")),
            Decision::Deny(_)
        ));
        assert!(matches!(
            policy.decide(&uri("/relative")),
            Decision::Deny(_)
        ));
    }
}
