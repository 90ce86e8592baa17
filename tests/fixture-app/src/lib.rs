//! A test component for the host's end-to-end tests. Each path prefix
//! exercises one host capability and reports what it saw as JSON, so the
//! tests can assert on the host's behaviour from outside, over HTTP.

use anyhow::Result;
use serde_json::{json, Map, Value as Json};
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;
use spin_sdk::sqlite3::{Connection, Value};

fn json_response(status: u16, body: Json) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query().split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%2F", "/").replace("%3A", ":"))
    })
}

#[http_component]
async fn handle(req: Request) -> Result<impl IntoResponse> {
    let path = req.path().to_string();
    // The `restricted` component is the same code mounted under /restricted.
    let route = path
        .trim_start_matches("/restricted")
        .trim_start_matches('/');
    let section = route.split('/').next().unwrap_or("");
    Ok(match section {
        "ping" => json_response(200, json!({"ok": true})),
        "env" => json_response(
            200,
            json!({"FIXTURE_ENV": std::env::var("FIXTURE_ENV").ok()}),
        ),
        "headers" | "users" | "exact" | "root" | "" => headers(&req, section),
        "sqlite" => sqlite(&req),
        "kv" => key_value(&req),
        "vars" => variable(&req),
        "outbound" => outbound(&req).await,
        "trap" => panic!("the fixture was asked to trap"),
        "spin" => spin_forever(),
        "echo" => json_response(200, json!({"length": req.body().len()})),
        "large" => {
            let bytes = query_param(&req, "bytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let body: Vec<u8> = (0..bytes).map(|i: usize| b'a' + (i % 26) as u8).collect();
            Response::new(200, body)
        }
        "sleep" => {
            let ms = query_param(&req, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            json_response(200, json!({"slept_ms": ms}))
        }
        "bench" => bench_read(&req),
        _ => json_response(404, json!({"error": "unknown fixture route", "path": path})),
    })
}

fn headers(req: &Request, section: &str) -> Response {
    let mut seen = Map::new();
    for (name, value) in req.headers() {
        let value = Json::String(value.as_str().unwrap_or("").to_string());
        match seen.get_mut(name) {
            Some(Json::Array(values)) => values.push(value),
            Some(existing) => *existing = Json::Array(vec![existing.clone(), value]),
            None => {
                seen.insert(name.to_string(), value);
            }
        }
    }
    json_response(
        200,
        json!({
            "section": section,
            "method": format!("{:?}", req.method()),
            "uri": req.uri(),
            "headers": seen,
        }),
    )
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Integer(i) => json!({"integer": i}),
        Value::Real(r) => json!({"real": r}),
        Value::Text(t) => json!({"text": t}),
        Value::Blob(b) => json!({"blob": b}),
        Value::Null => json!({"null": null}),
    }
}

fn sqlite(req: &Request) -> Response {
    let op = req.path().rsplit("/sqlite/").next().unwrap_or("");
    let database = query_param(req, "db").unwrap_or_else(|| "default".into());
    let conn = match Connection::open(&database) {
        Ok(conn) => conn,
        Err(e) => return json_response(403, json!({"error": format!("{e:?}")})),
    };
    let result = match op {
        "roundtrip" => conn
            .execute(
                "CREATE TABLE IF NOT EXISTS roundtrip (i INTEGER, r REAL, t TEXT, b BLOB, n)",
                &[],
            )
            .and_then(|_| {
                conn.execute(
                    "INSERT INTO roundtrip (i, r, t, b, n) VALUES (?, ?, ?, ?, ?)",
                    &[
                        Value::Integer(i64::MIN),
                        Value::Real(-2.5),
                        Value::Text("тест ✓".into()),
                        Value::Blob(vec![0, 1, 254, 255]),
                        Value::Null,
                    ],
                )
            })
            .and_then(|_| {
                let id = conn.last_insert_rowid();
                let changes = conn.changes();
                conn.execute(
                    "SELECT i, r, t, b, n FROM roundtrip WHERE rowid = ?",
                    &[Value::Integer(id)],
                )
                .map(|rows| (rows, id, changes))
            })
            .map(|(rows, id, changes)| {
                json!({
                    "columns": rows.columns,
                    "row": rows.rows.first().map(|r| r.values.iter().map(to_json).collect::<Vec<_>>()),
                    "last_insert_rowid": id,
                    "changes": changes,
                })
            }),
        "bad" => conn
            .execute("SELEKT nonsense FROM nowhere", &[])
            .map(|_| json!({"unexpected": "bad SQL succeeded"})),
        _ => return json_response(404, json!({"error": "unknown sqlite op"})),
    };
    match result {
        Ok(body) => json_response(200, body),
        Err(e) => json_response(400, json!({"error": format!("{e:?}")})),
    }
}

fn key_value(req: &Request) -> Response {
    let op = req.path().rsplit("/kv/").next().unwrap_or("");
    let label = query_param(req, "store").unwrap_or_else(|| "default".into());
    let key = query_param(req, "key").unwrap_or_default();
    let store = match Store::open(&label) {
        Ok(store) => store,
        Err(e) => return json_response(403, json!({"error": format!("{e:?}")})),
    };
    let result = match (req.method(), op) {
        (Method::Put, "value") => store.set(&key, req.body()).map(|_| json!({"set": key})),
        (Method::Get, "value") => store
            .get(&key)
            .map(|v| json!({"value": v.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())})),
        (Method::Delete, "value") => store.delete(&key).map(|_| json!({"deleted": key})),
        (Method::Get, "exists") => store.exists(&key).map(|e| json!({"exists": e})),
        (Method::Get, "keys") => store.get_keys().map(|mut keys| {
            keys.sort();
            json!({"keys": keys})
        }),
        _ => return json_response(404, json!({"error": "unknown kv op"})),
    };
    match result {
        Ok(body) => json_response(200, body),
        Err(e) => json_response(500, json!({"error": format!("{e:?}")})),
    }
}

fn variable(req: &Request) -> Response {
    let name = req.path().rsplit("/vars/").next().unwrap_or("");
    match spin_sdk::variables::get(name) {
        Ok(value) => json_response(200, json!({"value": value})),
        Err(e) => json_response(404, json!({"error": format!("{e:?}")})),
    }
}

async fn outbound(req: &Request) -> Response {
    let Some(url) = query_param(req, "url") else {
        return json_response(400, json!({"error": "missing url"}));
    };
    let result: Result<Response, _> = spin_sdk::http::send(Request::get(url)).await;
    match result {
        Ok(response) => json_response(
            200,
            json!({
                "status": response.status(),
                "body": String::from_utf8_lossy(response.body()),
            }),
        ),
        Err(e) => json_response(502, json!({"error": format!("{e:?}")})),
    }
}

fn spin_forever() -> Response {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
        if counter == u64::MAX {
            return json_response(200, json!({"counter": counter}));
        }
    }
}

fn bench_read(req: &Request) -> Response {
    let id = query_param(req, "id")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(1);
    let result = Connection::open_default()
        .and_then(|conn| conn.execute("SELECT v FROM bench WHERE id = ?", &[Value::Integer(id)]));
    match result {
        Ok(rows) => {
            let value = rows
                .rows
                .first()
                .and_then(|r| r.get::<&str>(0))
                .map(str::to_string);
            json_response(200, json!({"id": id, "v": value}))
        }
        Err(e) => json_response(500, json!({"error": format!("{e:?}")})),
    }
}
