//! Test support: start the release host on a free port with a temporary
//! state directory, talk to it over HTTP, and stop it.
//!
//! The host binary and the components are built by `scripts/test` before the
//! tests run; set `SPIN_HOST_BIN` to test another build.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod api;
pub mod receiver;
pub mod setup;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The host binary under test.
pub fn host_binary() -> PathBuf {
    let path = std::env::var_os("SPIN_HOST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/release/spin-host"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/test (it builds the host and components first)",
        path.display()
    );
    path
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A running host process; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Host {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The port it listens on.
    pub port: u16,
    /// Its state directory (deleted when dropped).
    pub state: tempfile::TempDir,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// How to start a host.
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    /// The manifest, relative to the workspace.
    pub manifest: String,
    /// Extra command-line arguments after `up`.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl HostConfig {
    /// A config for `manifest` (relative to the workspace root).
    pub fn new(manifest: &str) -> Self {
        Self {
            manifest: manifest.to_string(),
            ..Self::default()
        }
    }

    /// Adds command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
}

fn command(config: &HostConfig, port: u16, state: &Path) -> Command {
    let mut cmd = Command::new(host_binary());
    cmd.current_dir(workspace())
        .arg("up")
        .arg("--from")
        .arg(workspace().join(&config.manifest))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--state-dir")
        .arg(state)
        .args(&config.args)
        .env_remove("SPIN_HTTP_LISTEN_ADDR")
        .stdin(Stdio::null());
    for (k, v) in &config.env {
        cmd.env(k, v);
    }
    cmd
}

impl Host {
    /// The app's SQLite file, where the host keeps the `default` database.
    pub fn database_path(&self) -> PathBuf {
        self.state.path().join("sqlite_db.db")
    }

    /// A connection to [`Host::database_path`], for tests that read or
    /// change the stored rows directly.
    pub fn database(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.database_path()).expect("open the host's database")
    }

    /// Starts a host and waits until it answers its health check.
    pub fn start(config: HostConfig) -> Host {
        let state = tempfile::tempdir().expect("temp dir");
        Self::start_in(config, state)
    }

    /// Starts a host with a given state directory (to test restarts). A
    /// port taken between choosing and binding it is retried on another.
    pub fn start_in(config: HostConfig, state: tempfile::TempDir) -> Host {
        let mut state = Some(state);
        for _attempt in 0..5 {
            let port = free_port();
            let logs = tempfile::Builder::new()
                .prefix("host-logs")
                .tempdir()
                .expect("log dir")
                .keep();
            let stdout = logs.join("stdout.log");
            let stderr = logs.join("stderr.log");
            let dir = state.take().expect("state dir");
            let child = command(&config, port, dir.path())
                .stdout(std::fs::File::create(&stdout).expect("stdout file"))
                .stderr(std::fs::File::create(&stderr).expect("stderr file"))
                .spawn()
                .expect("cannot start the host");
            let mut host = Host {
                child: Some(child),
                base: format!("http://127.0.0.1:{port}"),
                port,
                state: dir,
                stdout,
                stderr,
            };
            match host.wait_ready() {
                Ok(()) => return host,
                Err(log) if log.contains("cannot listen") => {
                    let spare = tempfile::tempdir().expect("temp dir");
                    state = Some(std::mem::replace(&mut host.state, spare));
                }
                Err(log) => panic!("host did not start:\n{log}"),
            }
        }
        panic!("no free port after 5 attempts");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "host exited early ({status}):\n{}",
                        self.stderr_text()
                    ));
                }
            }
            if let Ok(resp) = ureq::get(&format!("{}/.well-known/spin/health", self.base))
                .timeout(Duration::from_secs(2))
                .call()
            {
                if resp.status() == 200 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "host did not become ready:\n{}",
            self.stderr_text()
        ))
    }

    /// Everything the host wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Everything the host wrote to stdout (the access log) so far.
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None)
    }

    /// Sends a request with an optional body.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        let req = ureq::request(method, &self.url(path)).timeout(Duration::from_secs(60));
        send(req, body)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("host already stopped");
        // SAFETY: signalling our own child process by pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        child.wait().expect("wait for host")
    }

    /// Kills the host with SIGKILL (a crash: nothing is flushed or
    /// finished) and waits for it to be gone.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("host already stopped");
        let _ = child.kill();
        child.wait().expect("wait for host")
    }

    /// Restarts a stopped host on its own state directory (and a new port).
    pub fn restart(&mut self, config: HostConfig) {
        assert!(self.child.is_none(), "stop the host first");
        let state = std::mem::replace(&mut self.state, tempfile::tempdir().expect("temp dir"));
        let fresh = Host::start_in(config, state);
        let old = std::mem::replace(self, fresh);
        drop(old);
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child process by pid.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the host expecting it to fail at startup; returns (status, stderr).
pub fn start_failure(config: HostConfig) -> (ExitStatus, String) {
    let state = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut child = command(&config, port, state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the host");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return (status, stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("host did not exit although its configuration is invalid");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A response: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends a prepared ureq request, turning HTTP error statuses into replies.
pub fn send(req: ureq::Request, body: Option<&[u8]>) -> Reply {
    let result = match body {
        Some(bytes) => req.send_bytes(bytes),
        None => req.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .flat_map(|name| {
            response
                .all(&name)
                .into_iter()
                .map(|v| (name.clone(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut body = Vec::new();
    let _ = response.into_reader().take(64 << 20).read_to_end(&mut body);
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends raw bytes over TCP and returns the raw response (for requests an
/// HTTP client would not produce, such as chunked bodies).
pub fn raw_request(port: u16, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(bytes).expect("write");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A tiny HTTP server on loopback that answers every request with `body`
/// and counts the requests it received.
pub struct TestServer {
    /// Its port.
    pub port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TestServer {
    /// Starts the server on a background thread.
    pub fn start(body: &'static str) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            }
        });
        TestServer { port, hits }
    }

    /// How many connections it accepted.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}
