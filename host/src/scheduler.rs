//! The host's built-in scheduler: HTTP requests the app asks to receive
//! periodically, such as the webhook retries run. Real Spin has no
//! scheduler (operators call such routes from cron or a Kubernetes
//! `CronJob`); our host reads them from `spin.toml` under
//! `[application.tool.spin-host]`, a table Spin ignores:
//!
//! ```toml
//! [application.tool.spin-host]
//! schedule = [{ method = "POST", path = "/api/x/run", every = "5s", bearer_variable = "admin_token" }]
//! ```
//!
//! Entries are validated once at load; each tick sends one real HTTP/1.1
//! request to the host's own listener, so the request takes the normal path
//! (routing, limits, access log). A tick that fails is reported on stderr and
//! the next one is tried on time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// Parses `5s`, `500ms`, `2m`.
fn period(text: &str) -> Result<Duration, String> {
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("bad period {text:?} (use e.g. \"5s\")"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("bad period {text:?} (use ms, s or m)")),
    };
    if d < Duration::from_millis(100) {
        return Err(format!("period {text:?} is shorter than 100ms"));
    }
    Ok(d)
}

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
            Ok(ScheduleEntry {
                method: text("method").unwrap_or("POST").to_ascii_uppercase(),
                path: path.to_owned(),
                every: period(text("every").ok_or("a schedule entry needs every")?)?,
                bearer_variable,
            })
        })
        .collect()
}

async fn send_once(listen: SocketAddr, request: &ScheduledRequest) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(listen)
        .await
        .map_err(|e| e.to_string())?;
    let auth = request
        .bearer
        .as_deref()
        .map(|b| format!("authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{} {} HTTP/1.1\r\nhost: {listen}\r\n{auth}content-length: 0\r\nconnection: close\r\n\r\n",
        request.entry.method, request.entry.path
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&reply);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "no HTTP status in the reply".to_owned())
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
schedule = [{ path = "/run", every = "5s", bearer_variable = "admin_token" }]"#,
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
schedule = [{ path = "run", every = "5s" }]"#,
            r#"[spin-host]
schedule = [{ path = "/run", every = "5 hours" }]"#,
            r#"[spin-host]
schedule = [{ path = "/run", every = "10ms" }]"#,
            r#"[spin-host]
schedule = [{ path = "/run", every = "5s", bearer_variable = "nope" }]"#,
        ] {
            assert!(
                parse(Some(&table(bad)), |v| v == "admin_token").is_err(),
                "{bad}"
            );
        }
    }
}
