//! The host, end to end: the release `spin-host` binary serving the fixture
//! component (tests/fixture-app) over real HTTP, with a real SQLite file, a
//! real Redis server and a real outbound HTTP server.
//!
//! Each test reads as the behaviour it documents; see
//! `../shared/reference/spin-host-contract.md` for the Spin rules behind them.

use std::time::{Duration, Instant};

use e2e_tests::{raw_request, send, start_failure, Host, HostConfig, TestServer};
use serde_json::json;

const FIXTURE: &str = "tests/fixtures/spin.toml";

fn fixture() -> HostConfig {
    HostConfig::new(FIXTURE).env("SPIN_VARIABLE_TOKEN", "s3cret")
}

fn write_manifest(dir: &tempfile::TempDir, text: &str) -> String {
    let wasm = e2e_tests::workspace().join("target/wasm32-wasip2/release/fixture_app.wasm");
    let text = text.replace("FIXTURE_WASM", &wasm.display().to_string());
    let path = dir.path().join("spin.toml");
    std::fs::write(&path, text).expect("write manifest");
    path.display().to_string()
}

#[test]
fn health_and_info_are_answered_before_routing() {
    let host = Host::start(fixture());
    let health = host.get("/.well-known/spin/health");
    assert_eq!((health.status, health.text().as_str()), (200, "OK"));
    let info = host.get("/.well-known/spin/info").json();
    assert_eq!(info, json!({"name": "host-fixture", "version": "1.2.3"}));
    // Anything else under the reserved prefix is 404, even with a `/...` route.
    let other = host.get("/.well-known/spin/other");
    assert_eq!((other.status, other.body.len()), (404, 0));
}

#[test]
fn unmatched_paths_get_404_with_an_empty_body() {
    let dir = tempfile::tempdir().expect("dir");
    let manifest = write_manifest(
        &dir,
        r#"spin_manifest_version = 2
[application]
name = "narrow"
[[trigger.http]]
route = "/root/:id"
component = "fixture"
[component.fixture]
source = "FIXTURE_WASM"
"#,
    );
    let host = Host::start(HostConfig::new(&manifest));
    for path in ["/", "/root", "/root/1/2", "/other"] {
        let reply = host.get(path);
        assert_eq!((reply.status, reply.body.len()), (404, 0), "{path}");
    }
    assert_eq!(host.get("/root/7").status, 200);
}

#[test]
fn routes_are_ranked_exact_then_param_then_wildcard() {
    let host = Host::start(fixture());
    let matched = |path: &str| {
        let reply = host.get(path).json();
        reply["headers"]["spin-matched-route"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    };
    assert_eq!(matched("/exact"), "/exact");
    assert_eq!(matched("/exact/"), "/exact");
    assert_eq!(matched("/users/42"), "/users/:user_id");
    assert_eq!(matched("/users/42/posts"), "/users/...");
    assert_eq!(matched("/users"), "/users/...");
    assert_eq!(matched("/exact/more"), "/...");
    assert_eq!(matched("/"), "/...");
}

#[test]
fn every_spin_header_is_injected_with_spin_values() {
    let host = Host::start(fixture());
    let reply = host.get("/headers/abc/x/y?q=1").json();
    let headers = &reply["headers"];
    assert_eq!(
        headers["spin-full-url"],
        json!(format!(
            "http://127.0.0.1:{}/headers/abc/x/y?q=1",
            host.port
        ))
    );
    assert_eq!(headers["spin-path-info"], json!("/x/y"));
    assert_eq!(
        headers["spin-matched-route"],
        json!("/headers/:section/...")
    );
    assert_eq!(headers["spin-base-path"], json!("/"));
    assert_eq!(
        headers["spin-raw-component-route"],
        json!("/headers/:section/...")
    );
    assert_eq!(headers["spin-component-route"], json!("/headers/:section"));
    assert_eq!(headers["spin-path-match-section"], json!("abc"));
    let client = headers["spin-client-addr"].as_str().expect("client addr");
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert_eq!(
        reply["uri"],
        json!(format!(
            "http://127.0.0.1:{}/headers/abc/x/y?q=1",
            host.port
        ))
    );

    // A param route: path info is empty; `:user_id` becomes `spin-path-match-user-id`.
    let user = host.get("/users/42").json();
    assert_eq!(user["headers"]["spin-path-match-user-id"], json!("42"));
    assert_eq!(user["headers"]["spin-path-info"], json!(""));

    // The catch-all: full path as path info, empty component route.
    let all = host.get("/root/b/").json();
    assert_eq!(all["headers"]["spin-path-info"], json!("/root/b/"));
    assert_eq!(all["headers"]["spin-component-route"], json!(""));
}

#[test]
fn spin_headers_sent_by_a_client_are_dropped() {
    let host = Host::start(fixture());
    let req = ureq::get(&host.url("/headers/x"))
        .set("spin-client-addr", "6.6.6.6:666")
        .set("spin-path-info", "/evil")
        .set("spin-anything", "forged");
    let reply = send(req, None).json();
    let headers = &reply["headers"];
    let client = headers["spin-client-addr"]
        .as_str()
        .expect("a single host value");
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert_eq!(headers["spin-path-info"], json!(""));
    assert!(headers.get("spin-anything").is_none());
}

#[test]
fn static_responses_need_no_component() {
    let host = Host::start(fixture());
    let reply = host.get("/static");
    assert_eq!(reply.status, 202);
    assert_eq!(reply.header("x-fixture"), Some("static"));
    assert_eq!(reply.text(), "fixed");
}

#[test]
fn sqlite_round_trips_every_value_type_and_persists() {
    let mut host = Host::start(fixture());
    let reply = host.get("/sqlite/roundtrip");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["columns"], json!(["i", "r", "t", "b", "n"]));
    assert_eq!(
        body["row"],
        json!([
            {"integer": i64::MIN},
            {"real": -2.5},
            {"text": "тест ✓"},
            {"blob": [0, 1, 254, 255]},
            {"null": null}
        ])
    );
    assert_eq!(body["last_insert_rowid"], json!(1));
    assert_eq!(body["changes"], json!(1));

    // The default database is a file in the state directory and survives a restart.
    assert!(host.database_path().exists());
    assert!(host.terminate().success());
    let state = std::mem::replace(&mut host.state, tempfile::tempdir().expect("dir"));
    let again = Host::start_in(fixture(), state);
    let body = again.get("/sqlite/roundtrip").json();
    assert_eq!(
        body["last_insert_rowid"],
        json!(2),
        "the first row was kept"
    );
}

#[test]
fn bad_sql_is_an_error_for_the_guest_not_a_crash() {
    let host = Host::start(fixture());
    let reply = host.get("/sqlite/bad");
    assert_eq!(reply.status, 400);
    let error = reply.json()["error"].as_str().unwrap_or("").to_string();
    assert!(
        error.contains("Io") && error.contains("syntax error"),
        "{error}"
    );
    assert_eq!(host.get("/ping").status, 200);
}

#[test]
fn stores_and_databases_not_granted_are_access_denied() {
    let host = Host::start(fixture());
    let kv = host.get("/restricted/kv/value?key=a");
    assert_eq!(kv.status, 403);
    assert!(kv.text().contains("AccessDenied"), "{}", kv.text());
    let db = host.get("/restricted/sqlite/roundtrip");
    assert_eq!(db.status, 403);
    assert!(db.text().contains("AccessDenied"), "{}", db.text());
    let other = host.get("/kv/value?key=a&store=other");
    assert!(other.text().contains("AccessDenied"), "{}", other.text());
}

fn exercise_key_value(host: &Host) {
    assert_eq!(
        host.get("/kv/exists?key=colour").json(),
        json!({"exists": false})
    );
    assert_eq!(
        host.get("/kv/value?key=colour").json(),
        json!({"value": null})
    );
    assert_eq!(
        host.request("PUT", "/kv/value?key=colour", Some(b"blue"))
            .status,
        200
    );
    assert_eq!(
        host.request("PUT", "/kv/value?key=size", Some(b"L")).status,
        200
    );
    assert_eq!(
        host.request("PUT", "/kv/value?key=colour", Some(b"red"))
            .status,
        200
    );
    assert_eq!(
        host.get("/kv/value?key=colour").json(),
        json!({"value": "red"})
    );
    assert_eq!(
        host.get("/kv/exists?key=colour").json(),
        json!({"exists": true})
    );
    assert_eq!(
        host.get("/kv/keys").json(),
        json!({"keys": ["colour", "size"]})
    );
    assert_eq!(
        host.request("DELETE", "/kv/value?key=colour", None).status,
        200
    );
    assert_eq!(
        host.request("DELETE", "/kv/value?key=colour", None).status,
        200
    );
    assert_eq!(
        host.get("/kv/exists?key=colour").json(),
        json!({"exists": false})
    );
    assert_eq!(host.get("/kv/keys").json(), json!({"keys": ["size"]}));
}

#[test]
fn key_value_on_the_default_sqlite_store() {
    let host = Host::start(fixture().args(&["--key-value", "seeded=yes"]));
    assert_eq!(
        host.get("/kv/value?key=seeded").json(),
        json!({"value": "yes"})
    );
    assert_eq!(
        host.request("DELETE", "/kv/value?key=seeded", None).status,
        200
    );
    exercise_key_value(&host);
    assert!(host.state.path().join("sqlite_key_value.db").exists());
}

struct Redis(std::process::Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Redis {
    let port = e2e_tests::free_port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Redis(child, port)
}

#[test]
fn key_value_on_redis_selected_by_runtime_config() {
    let redis = start_redis();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("runtime-config.toml");
    std::fs::write(
        &config,
        format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\n",
            redis.1
        ),
    )
    .expect("write config");
    let config = config.display().to_string();
    let host = Host::start(fixture().args(&["--runtime-config-file", &config]));
    exercise_key_value(&host);
    drop(host);
    // A second host with a fresh state directory sees the same data: it lives in Redis.
    let other = Host::start(fixture().args(&["--runtime-config-file", &config]));
    assert_eq!(
        other.get("/kv/value?key=size").json(),
        json!({"value": "L"})
    );
    assert!(!other.state.path().join("sqlite_key_value.db").exists());
}

#[test]
fn unknown_runtime_config_keys_stop_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("rc.toml");
    std::fs::write(&config, "colour = \"red\"\n").expect("write");
    let (status, stderr) =
        start_failure(fixture().args(&["--runtime-config-file", &config.display().to_string()]));
    assert!(!status.success());
    assert!(
        stderr.contains("unused runtime config key(s): colour"),
        "{stderr}"
    );
}

#[test]
fn variables_resolve_from_cli_then_environment_then_default() {
    let host = Host::start(fixture());
    assert_eq!(
        host.get("/vars/greeting").json(),
        json!({"value": "hello from the manifest"})
    );
    assert_eq!(
        host.get("/vars/secret_token").json(),
        json!({"value": "Bearer s3cret"})
    );
    let undefined = host.get("/vars/nope");
    assert_eq!(undefined.status, 404);
    assert!(
        undefined.text().contains("Undefined"),
        "{}",
        undefined.text()
    );
    drop(host);

    let env = Host::start(fixture().env("SPIN_VARIABLE_GREETING", "from env"));
    assert_eq!(
        env.get("/vars/greeting").json(),
        json!({"value": "from env"})
    );
    drop(env);

    let cli = Host::start(
        fixture()
            .env("SPIN_VARIABLE_GREETING", "from env")
            .args(&["--variable", "greeting=from cli"]),
    );
    assert_eq!(
        cli.get("/vars/greeting").json(),
        json!({"value": "from cli"})
    );
}

#[test]
fn a_missing_required_variable_is_a_clear_startup_error() {
    let (status, stderr) = start_failure(HostConfig::new(FIXTURE));
    assert!(!status.success());
    assert!(
        stderr.contains("required variable") && stderr.contains("token"),
        "{stderr}"
    );
}

#[test]
fn component_environment_is_passed_to_the_guest() {
    let host = Host::start(fixture());
    assert_eq!(host.get("/env").json(), json!({"FIXTURE_ENV": "yes"}));
}

#[test]
fn outbound_requests_follow_allowed_outbound_hosts() {
    let allowed = TestServer::start("hello from outside");
    let forbidden = TestServer::start("must never be reached");
    let host =
        Host::start(fixture().args(&["--variable", &format!("outbound_port={}", allowed.port)]));

    let ok = host.get(&format!(
        "/outbound?url=http://127.0.0.1:{}/data",
        allowed.port
    ));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.json(),
        json!({"status": 200, "body": "hello from outside"})
    );

    let denied = host.get(&format!(
        "/outbound?url=http://127.0.0.1:{}/data",
        forbidden.port
    ));
    assert_eq!(denied.status, 502);
    assert!(
        denied.text().contains("HttpRequestDenied"),
        "{}",
        denied.text()
    );
    assert_eq!(forbidden.hits(), 0, "a denied request must not be sent");
    assert!(host.stderr_text().contains("allowed_outbound_hosts"));

    // A relative URL is a "self" request, allowed by `http://self` and sent
    // to the host's own listen address.
    let own = host.get("/outbound?url=/ping");
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["body"], json!("{\"ok\":true}"));
}

#[test]
fn a_trapping_guest_gets_500_and_the_host_keeps_serving() {
    let host = Host::start(fixture());
    let reply = host.get("/trap");
    assert_eq!((reply.status, reply.body.len()), (500, 0));
    assert_eq!(host.get("/ping").json(), json!({"ok": true}));
    let errors: Vec<String> = host
        .stderr_text()
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "one logged error line: {errors:?}");
    assert!(errors[0].contains("\"fixture\""), "{}", errors[0]);
}

#[test]
fn a_guest_that_runs_too_long_is_interrupted() {
    let host = Host::start(fixture().args(&["--request-timeout", "1"]));
    let started = Instant::now();
    let reply = host.get("/spin");
    assert_eq!(reply.status, 500);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the deadline was not enforced"
    );
    assert_eq!(host.get("/ping").status, 200);
    assert!(
        host.stderr_text().contains("interrupt"),
        "{}",
        host.stderr_text()
    );
}

#[test]
fn oversized_bodies_get_413_without_reaching_the_guest() {
    let host = Host::start(fixture().args(&["--max-body-bytes", "1024"]));
    let small = host.request("POST", "/echo", Some(&[b'a'; 1000]));
    assert_eq!(small.json(), json!({"length": 1000}));
    let large = host.request("POST", "/echo", Some(&[b'a'; 2000]));
    assert_eq!(large.status, 413);

    // Chunked, with no content-length: buffered up to the limit, then refused.
    let chunk = "a".repeat(700);
    let request = format!(
        "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2bc\r\n{chunk}\r\n2bc\r\n{chunk}\r\n0\r\n\r\n"
    );
    let raw = raw_request(host.port, request.as_bytes());
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    let accepted = format!(
        "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2bc\r\n{chunk}\r\n0\r\n\r\n"
    );
    let raw = raw_request(host.port, accepted.as_bytes());
    assert!(
        raw.starts_with("HTTP/1.1 200") && raw.contains("\"length\":700"),
        "{raw}"
    );
    let refusals = host
        .stdout_text()
        .lines()
        .filter(|l| l.contains(" 413 "))
        .count();
    assert_eq!(refusals, 2, "both refusals are in the access log");
}

#[test]
fn two_hundred_concurrent_requests_are_all_answered() {
    let host = Host::start(fixture());
    let base = host.base.clone();
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let path = match i % 3 {
                    0 => "/ping".to_string(),
                    1 => "/sqlite/roundtrip".to_string(),
                    _ => format!("/kv/value?key=k{i}"),
                };
                let req = ureq::get(&format!("{base}{path}")).timeout(Duration::from_secs(60));
                send(req, None).status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(statuses.len(), 200);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let rows = host.get("/sqlite/roundtrip").json();
    assert_eq!(
        rows["last_insert_rowid"],
        json!(68),
        "67 concurrent inserts plus this one, none lost"
    );
}

#[test]
fn every_request_gets_one_access_log_line() {
    let host = Host::start(fixture());
    host.get("/ping");
    host.get("/static");
    host.get("/.well-known/spin/health");
    let log = host.stdout_text();
    let line = log
        .lines()
        .find(|l| l.contains("GET /ping "))
        .expect("ping logged");
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields[1..5], ["GET", "/ping", "200", "fixture"], "{line}");
    assert!(fields[5].ends_with("ms"), "{line}");
    assert!(log.contains("GET /static 202 "), "{log}");
}

#[test]
fn compiled_components_are_cached_across_restarts() {
    let mut host = Host::start(fixture());
    let cache = host.state.path().join("cache");
    let entries = |dir: &std::path::Path| -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| Some((e.path(), e.metadata().ok()?.modified().ok()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = entries(&cache);
    assert_eq!(
        first.len(),
        1,
        "one compiled component (both ids share the wasm)"
    );
    assert!(first[0].0.extension().is_some_and(|e| e == "cwasm"));
    assert!(host.terminate().success());
    let state = std::mem::replace(&mut host.state, tempfile::tempdir().expect("dir"));
    let again = Host::start_in(fixture(), state);
    assert_eq!(
        entries(&again.state.path().join("cache")),
        first,
        "reused, not rewritten"
    );
    assert_eq!(again.get("/ping").status, 200);
}

#[test]
fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let mut host = Host::start(fixture());
    let url = host.url("/sleep?ms=1500");
    let in_flight =
        std::thread::spawn(move || send(ureq::get(&url).timeout(Duration::from_secs(30)), None));
    std::thread::sleep(Duration::from_millis(400));
    let status = host.terminate();
    let reply = in_flight.join().expect("request thread");
    assert_eq!(reply.json(), json!({"slept_ms": 1500}));
    assert!(status.success(), "{status}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", host.port)).is_err());
}

fn rejected(manifest_text: &str, needle: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let manifest = write_manifest(&dir, manifest_text);
    let (status, stderr) = start_failure(HostConfig::new(&manifest));
    assert!(!status.success(), "accepted: {manifest_text}");
    assert!(
        stderr.contains(needle),
        "error does not name {needle:?}: {stderr}"
    );
}

const GOOD: &str = r#"spin_manifest_version = 2
[application]
name = "m"
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "FIXTURE_WASM"
"#;

#[test]
fn manifests_spin_would_reject_are_rejected_with_the_culprit_named() {
    rejected(
        &GOOD.replace("name = \"m\"", "name = \"m\"\nflavour = 1"),
        "flavour",
    );
    rejected(&GOOD.replace("web", "Web_1"), "Web_1");
    rejected(
        &format!("{GOOD}[variables]\nboth = {{ required = true, default = \"x\" }}\n"),
        "both",
    );
    rejected(
        &format!("{GOOD}[variables]\nneither = {{ secret = true }}\n"),
        "neither",
    );
    rejected(
        &GOOD.replace(
            "name = \"m\"",
            "name = \"m\"\n[application.trigger.http]\nbase = \"/api\"",
        ),
        "base",
    );
    rejected(
        &GOOD.replace("component = \"web\"", "component = \"missing\""),
        "missing",
    );
    rejected(
        &GOOD.replace("route = \"/...\"", "route = \"/a/:\""),
        "route",
    );
    rejected(
        &GOOD.replace(
            "source = \"FIXTURE_WASM\"",
            "source = \"FIXTURE_WASM\"\nallowed_outbound_hosts = [\"insecure:allow-all\"]",
        ),
        "insecure:allow-all",
    );
    rejected(
        &GOOD.replace(
            "source = \"FIXTURE_WASM\"",
            "source = \"FIXTURE_WASM\"\nkey_value_stores = [\"cache\"]",
        ),
        "cache",
    );
    rejected(
        &GOOD.replace("FIXTURE_WASM", "/nonexistent/app.wasm"),
        "/nonexistent/app.wasm",
    );
}

#[test]
fn sqlite_flags_run_statements_and_files_before_serving() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("seed.sql");
    std::fs::write(
        &file,
        "INSERT INTO bench VALUES (7, 'seven');\nINSERT INTO bench VALUES (8, 'eight');\n",
    )
    .expect("write seed");
    let seed = format!("@{}", file.display());
    let host = Host::start(fixture().args(&[
        "--sqlite",
        "CREATE TABLE bench (id INTEGER PRIMARY KEY, v TEXT)",
        "--sqlite",
        &seed,
    ]));
    assert_eq!(
        host.get("/bench?id=7").json(),
        json!({"id": 7, "v": "seven"})
    );
    assert_eq!(
        host.get("/bench?id=8").json(),
        json!({"id": 8, "v": "eight"})
    );
    assert_eq!(host.get("/bench?id=9").json(), json!({"id": 9, "v": null}));

    let (status, stderr) = start_failure(fixture().args(&["--sqlite", "CREATE TABLE (oops"]));
    assert!(!status.success());
    assert!(
        stderr.contains("--sqlite") && stderr.contains("syntax error"),
        "{stderr}"
    );
}

#[test]
fn large_responses_stream_intact_while_the_guest_still_writes() {
    // 8 MiB is far above wasi:http's outgoing buffer: the response head goes
    // out while the guest is still writing the body.
    let host = Host::start(fixture());
    let size = 8 * 1024 * 1024;
    let reply = host.get(&format!("/large?bytes={size}"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), size);
    assert!(reply
        .body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == b'a' + (i % 26) as u8));
    assert_eq!(host.get("/ping").status, 200);
}
