//! A real webhook receiver for end-to-end tests and benchmarks: an HTTP/1.1
//! server on a loopback port, keep-alive like a production receiver, that
//! records every request (headers, raw body, arrival time) and answers with
//! scripted statuses (the last one repeats). Status [`HOLD`] answers nothing
//! and keeps the connection open (a receiver that hangs); a 3xx answer
//! redirects to `/followed` on the same receiver, so a test can tell whether
//! the redirect was followed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The scripted "status" of a receiver that never answers.
pub const HOLD: u16 = 0;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query.
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it had been read in full.
    pub at: SystemTime,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    /// Whether `Pachca-Signature` is the hex HMAC-SHA256 of the raw body
    /// keyed by `secret`, computed as `guides/webhook-handler.md` does.
    pub fn signed_with(&self, secret: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
        mac.update(&self.body);
        let expected = hex::encode(mac.finalize().into_bytes());
        self.headers.get("pachca-signature") == Some(&expected)
    }
}

/// A running receiver; it stops with the test process.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
    body: Arc<Mutex<String>>,
}

fn read_request(reader: &mut impl BufRead) -> Option<Received> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
    }
    Some(Received {
        path,
        headers,
        body,
        at: SystemTime::now(),
    })
}

/// Serves one connection until the client closes it.
fn serve(
    stream: TcpStream,
    received: &Mutex<Vec<Received>>,
    statuses: &Mutex<Vec<u16>>,
    body: &Mutex<String>,
) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Some(req) = read_request(&mut reader) {
        let status = {
            let mut s = statuses.lock().expect("statuses");
            if s.len() > 1 {
                s.remove(0)
            } else {
                s.first().copied().unwrap_or(200)
            }
        };
        received.lock().expect("received").push(req);
        if status == HOLD {
            // Hang until the client gives up or goes away.
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(&mut reader, &mut rest);
            return;
        }
        let location = if (300..400).contains(&status) {
            "location: /followed\r\n"
        } else {
            ""
        };
        let body = body.lock().expect("body").clone();
        let reply = format!(
            "HTTP/1.1 {status} X\r\n{location}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

impl Receiver {
    /// Starts a receiver answering `statuses` in turn (the last repeats).
    pub fn start(statuses: &[u16]) -> Receiver {
        Self::start_on(0, statuses)
    }

    /// [`Receiver::start`] on a given loopback port (0: any free one), e.g.
    /// to bring a receiver back where it was after an outage.
    pub fn start_on(port: u16, statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(statuses.to_vec()));
        let body = Arc::new(Mutex::new("ok".to_owned()));
        let (r, s, b) = (received.clone(), statuses.clone(), body.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, s, b) = (r.clone(), s.clone(), b.clone());
                thread::spawn(move || serve(stream, &r, &s, &b));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            received,
            statuses,
            body,
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("received").clone()
    }

    /// Sends `body` with every answer from now on (`ok` at first).
    pub fn answer_body(&self, body: &str) {
        *self.body.lock().expect("body") = body.to_owned();
    }

    /// Replaces the scripted statuses.
    pub fn answer(&self, statuses: &[u16]) {
        *self.statuses.lock().expect("statuses") = statuses.to_vec();
    }

    /// Waits until `n` requests have arrived (or `timeout` passes) and
    /// returns what arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n || start.elapsed() > timeout {
                return got;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}
