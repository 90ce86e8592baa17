//! `webhook-receiver`: many real webhook receivers in one process, for
//! `scripts/bench` (a Python receiver on the same two cores would measure
//! itself more than the server).
//!
//! `webhook-receiver N [PORT...]` starts N receivers (on the given ports,
//! else on free ones) and a control server, prints one JSON line
//! `{"urls": [...], "control": "http://127.0.0.1:P"}` and serves:
//! * `GET /stats`: `{"received": n, "receipts": [[receiver, id, unix_ms], ...]}`
//!   (`id` is the payload's `id`, `unix_ms` the arrival time);
//! * `GET /bodies`: `[[receiver, body, signature], ...]` for checking
//!   signatures.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::UNIX_EPOCH;

use e2e_tests::receiver::Receiver;
use serde_json::{json, Value};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let ports: Vec<u16> = args.filter_map(|p| p.parse().ok()).collect();
    let receivers: Vec<Receiver> = (0..count)
        .map(|i| Receiver::start_on(ports.get(i).copied().unwrap_or(0), &[200]))
        .collect();
    let control = TcpListener::bind("127.0.0.1:0").expect("bind control");
    let urls: Vec<&str> = receivers.iter().map(|r| r.url.as_str()).collect();
    let port = control.local_addr().expect("control address").port();
    println!(
        "{}",
        json!({"urls": urls, "control": format!("http://127.0.0.1:{port}")})
    );
    for stream in control.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let body = match path {
            "/stats" => stats(&receivers),
            "/bodies" => bodies(&receivers),
            _ => json!({"error": "unknown path"}),
        }
        .to_string();
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(reply.as_bytes());
    }
}

fn stats(receivers: &[Receiver]) -> Value {
    let mut receipts = Vec::new();
    for (i, r) in receivers.iter().enumerate() {
        for got in r.received() {
            let id = serde_json::from_slice::<Value>(&got.body)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            let ms = got
                .at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            receipts.push(json!([i, id, ms]));
        }
    }
    json!({"received": receipts.len(), "receipts": receipts})
}

fn bodies(receivers: &[Receiver]) -> Value {
    let mut all = Vec::new();
    for (i, r) in receivers.iter().enumerate() {
        for got in r.received() {
            let signature = got.headers.get("pachca-signature").cloned();
            all.push(json!([i, String::from_utf8_lossy(&got.body), signature]));
        }
    }
    Value::Array(all)
}
