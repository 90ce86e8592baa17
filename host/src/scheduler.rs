//! The host's built-in scheduler: HTTP requests the app asks to receive
//! periodically, such as the webhook retries run. Real Spin has no
//! scheduler (operators call such routes from cron or a Kubernetes
//! `CronJob`); our host reads them from `spin.toml` under
//! `[application.tool.spin-host]`, a table Spin ignores:
//!
//! ```toml
//! [application.tool.spin-host]
//! schedule = [{ method = "POST", path = "/api/x/run", every_seconds = 5, bearer_variable = "admin_token" }]
//! ```
//!
//! Entries are validated once at load; each tick sends one real HTTP/1.1
//! request (hyper's client) to the host's own listener, so the request takes
//! the normal path (routing, limits, access log). A tick that fails is
//! reported on stderr and the next one is tried on time.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;

/// One periodic request, as declared (the bearer is a variable's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Period.
    pub every: Duration,
    /// Application variable holding a bearer token to send, if any.
    pub bearer_variable: Option<String>,
}

/// A periodic request ready to send (the bearer resolved).
#[derive(Debug, Clone)]
pub struct ScheduledRequest {
    /// What to send and how often.
    pub entry: ScheduleEntry,
    /// `Bearer ...` value, if any.
    pub bearer: Option<String>,
}

/// Shortest period accepted, so a typo cannot flood the app.
const MIN_PERIOD: Duration = Duration::from_millis(100);

/// Reads `schedule` from the `spin-host` tool table; `declared(name)` tells
/// whether an application variable exists.
pub fn parse(
    tool: Option<&toml::Table>,
    declared: impl Fn(&str) -> bool,
) -> Result<Vec<ScheduleEntry>, String> {
    let Some(list) = tool
        .and_then(|t| t.get("spin-host"))
        .and_then(|t| t.get("schedule"))
    else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or("application.tool.spin-host.schedule must be an array of tables")?;
    list.iter()
        .map(|item| {
            let t = item.as_table().ok_or("a schedule entry must be a table")?;
            let text = |k: &str| t.get(k).and_then(toml::Value::as_str);
            let path = text("path").ok_or("a schedule entry needs a path")?;
            if !path.starts_with('/') {
                return Err(format!("schedule path {path:?} must start with /"));
            }
            let bearer_variable = text("bearer_variable").map(str::to_owned);
            if let Some(v) = &bearer_variable {
                if !declared(v) {
                    return Err(format!(
                        "schedule bearer_variable {v:?} is not an app variable"
                    ));
                }
            }
            let seconds = t
                .get("every_seconds")
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .ok_or("a schedule entry needs every_seconds (a number)")?;
            let every = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|d| *d >= MIN_PERIOD)
                .ok_or_else(|| format!("every_seconds {seconds} is below {MIN_PERIOD:?}"))?;
            Ok(ScheduleEntry {
                method: text("method").unwrap_or("POST").to_ascii_uppercase(),
                path: path.to_owned(),
                every,
                bearer_variable,
            })
        })
        .collect()
}

async fn send_once(listen: SocketAddr, request: &ScheduledRequest) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(listen)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut builder = http::Request::builder()
        .method(request.entry.method.as_str())
        .uri(&request.entry.path)
        .header(http::header::HOST, listen.to_string());
    if let Some(bearer) = &request.bearer {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {bearer}"));
    }
    let req = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let reply = sender.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(reply.status().as_u16())
}

/// Runs every request on its period until the process stops.
pub fn spawn(listen: SocketAddr, requests: Vec<ScheduledRequest>) {
    for request in requests {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(request.entry.every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match send_once(listen, &request).await {
                    Ok(status) if (200..300).contains(&status) => {}
                    Ok(status) => eprintln!(
                        "warning: scheduled {} {} answered {status}",
                        request.entry.method, request.entry.path
                    ),
                    Err(e) => eprintln!(
                        "warning: scheduled {} {} failed: {e}",
                        request.entry.method, request.entry.path
                    ),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().expect("toml")
    }

    #[test]
    fn schedule_entries_are_validated_at_load() {
        let t = table(
            r#"[spin-host]
schedule = [{ path = "/run", every_seconds = 5, bearer_variable = "admin_token" }]"#,
        );
        let entries = parse(Some(&t), |v| v == "admin_token").expect("valid");
        assert_eq!(
            entries,
            vec![ScheduleEntry {
                method: "POST".into(),
                path: "/run".into(),
                every: Duration::from_secs(5),
                bearer_variable: Some("admin_token".into()),
            }]
        );
        assert!(parse(None, |_| true).expect("none").is_empty());
        for bad in [
            r#"[spin-host]
schedule = [{ path = "run", every_seconds = 5 }]"#,
            r#"[spin-host]
schedule = [{ path = "/run", every_seconds = "5 hours" }]"#,
            r#"[spin-host]
schedule = [{ path = "/run", every_seconds = 0.01 }]"#,
            r#"[spin-host]
schedule = [{ path = "/run", every_seconds = 5, bearer_variable = "nope" }]"#,
        ] {
            assert!(
                parse(Some(&table(bad)), |v| v == "admin_token").is_err(),
                "{bad}"
            );
        }
    }
}
