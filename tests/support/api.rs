//! Helpers for end-to-end tests of the app's API areas: a host serving the
//! real `spin.toml` (reusing compiled components between hosts, so each test
//! starts fast), and JSON calls to `/api/shared/v1/...`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::{send, Host, HostConfig, Reply};

/// Mount point of the public API.
pub const API: &str = "/api/shared/v1";

/// The real app, with `admin_token` set to `admin`; outgoing webhooks may
/// reach loopback receivers (`webhook_allow_private`), and the per-token
/// rate limit is out of the way, as tests need.
pub fn app(admin: &str) -> HostConfig {
    HostConfig::new("spin.toml")
        .env("SPIN_VARIABLE_ADMIN_TOKEN", admin)
        .env("SPIN_VARIABLE_WEBHOOK_ALLOW_PRIVATE", "true")
        // Tests burst far past a client's limit with one token; the limit
        // itself is tested with its own host.
        .env("SPIN_VARIABLE_RATE_LIMIT", "1000000")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create cache dir");
    for entry in std::fs::read_dir(from).expect("read cache dir") {
        let entry = entry.expect("cache entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy cache file");
    }
}

/// The compiled-component cache of a first host, shared by later hosts.
fn warm_cache(config: &HostConfig) -> &'static PathBuf {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let host = Host::start(config.clone());
        let keep = tempfile::Builder::new()
            .prefix("e2e-cache")
            .tempdir()
            .expect("cache dir")
            .keep();
        copy_dir(&host.state.path().join("cache"), &keep);
        keep
    })
}

/// A fresh host with an empty database (only the owner, user 1).
pub fn start_app(config: HostConfig) -> Host {
    let state = tempfile::tempdir().expect("state dir");
    copy_dir(warm_cache(&config), &state.path().join("cache"));
    Host::start_in(config, state)
}

/// Sends `body` bytes as `method {API}{path}` with an optional bearer token.
pub fn raw(
    host: &Host,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Reply {
    let mut req =
        ureq::request(method, &host.url(&format!("{API}{path}"))).timeout(Duration::from_secs(60));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.set("Content-Type", "application/json");
    }
    send(req, body)
}

/// Sends an optional JSON body with a bearer token.
pub fn call(host: &Host, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let bytes = body.map(|b| b.to_string().into_bytes());
    raw(host, Some(token), method, path, bytes.as_deref())
}

/// Calls as the official SDK's transport does (`pachca.utils.RetryTransport`):
/// a 503, which this server answers when the write lock stayed busy and
/// nothing was written, is sent again after its `Retry-After`, at most 3
/// times. For tests of what concurrent callers end up storing, where a
/// burst larger than the machine can serve within the lock wait is normal.
/// Returns the last reply and how many times it was retried.
pub fn call_retrying(
    host: &Host,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (Reply, u32) {
    let mut retries = 0;
    loop {
        let reply = call(host, token, method, path, body.clone());
        if reply.status != 503 || retries == 3 {
            return (reply, retries);
        }
        let after = reply
            .header("retry-after")
            .and_then(|s| s.parse::<u64>().ok())
            .expect("a 503 carries Retry-After in seconds");
        std::thread::sleep(std::time::Duration::from_secs(after));
        retries += 1;
    }
}

/// Asserts the status and returns the JSON body (`Null` for a 204, which
/// must have no body).
pub fn expect(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "body: {}", reply.text());
    if status == 204 {
        assert!(reply.body.is_empty(), "204 with a body: {}", reply.text());
        return Value::Null;
    }
    reply.json()
}
