//! Per-token rate limits (`api/limits.md`) end to end: the release host
//! with a limit of 5 requests per second; a burst with one token gets 429
//! with `Retry-After` and the official error shape, another token is not
//! held back, and the next second the first one is served again.

use std::time::Duration;

use e2e_tests::api::{app, call, start_app};
use e2e_tests::setup::{api_error, issue_token};

const ADMIN: &str = "limits-e2e-admin-token";

#[test]
fn a_burst_past_the_limit_gets_429_with_retry_after_and_the_next_second_passes() {
    let host = start_app(app(ADMIN).env("SPIN_VARIABLE_RATE_LIMIT", "5"));
    // The admin token issues a token for the owner; then it is limited too.
    let (_, token) = issue_token(&host, ADMIN, 1, None);
    // Start at the beginning of a second, so the burst falls in one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    std::thread::sleep(Duration::from_millis(1000 - u64::from(now.subsec_millis())));
    let replies: Vec<_> = (0..12)
        .map(|_| call(&host, &token, "GET", "/profile", None))
        .collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let limited: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok + limited.len(), 12);
    assert!((1..=5).contains(&ok), "{ok} served");
    assert!(!limited.is_empty(), "no 429 in a burst of 12");
    let body = api_error(limited[0], 429);
    assert_eq!(body["errors"][0]["code"], "rate_limit");
    assert_eq!(body["errors"][0]["key"], "token");
    assert_eq!(limited[0].header("retry-after"), Some("1"));
    // Another token has its own count.
    let (_, other) = issue_token(&host, ADMIN, 1, None);
    assert_eq!(call(&host, &other, "GET", "/profile", None).status, 200);
    // After Retry-After, the first token is served again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(call(&host, &token, "GET", "/profile", None).status, 200);
}
