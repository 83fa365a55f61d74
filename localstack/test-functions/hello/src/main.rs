//! `ls-hello`: a small Rust Lambda used by the tests and benchmark of the
//! localstack-hostmode extension. It does what the event asks, so one binary
//! drives several cases:
//!
//! - `{"sleep_ms": N}`      sleep N ms before answering (timeouts, concurrency)
//! - `{"fail": "msg"}`      return a handler error (lambda_runtime posts `/error`)
//! - `{"panic": "msg"}`     panic inside the handler
//! - `{"exit": code}`       end the process mid-invocation (a crash)
//! - `{"env": ["NAME"]}`    include those environment variables in the answer
//! - `{"call": "url"}`      GET a URL over plain HTTP (reach LocalStack from inside)
//! - `{"log_json": true}`   also write one JSON log line
//! - SQS event (`Records` with `eventSource` `aws:sqs`): reports every record
//!   whose body contains `"fail"` in `batchItemFailures`, after sleeping the largest
//!   `sleep_ms` found in a record body that is a JSON object
//! - API Gateway proxy event (`httpMethod`): answers 200 with a JSON body
//!
//! The binary is `ls-hello`; the tests zip it as `bootstrap` (the name a
//! `provided.*` runtime runs), so it never collides with other crates' binaries.
//!
//! Every answer carries `pid` and `invocations` (count in this process), so the
//! tests can tell a warm environment from a fresh one.
//!
//! Init: `HELLO_INIT_FAIL=1` makes the process exit with an error before it
//! starts the runtime loop (an init failure).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static INVOCATIONS: AtomicU64 = AtomicU64::new(0);

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("HELLO_INIT_FAIL").as_deref() == Ok("1") {
        eprintln!("hello: init failing on purpose (HELLO_INIT_FAIL=1)");
        return Err("init failed on purpose".into());
    }
    println!("hello: init pid={}", std::process::id());
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let n = INVOCATIONS.fetch_add(1, Ordering::SeqCst) + 1;
    let (payload, ctx) = event.into_parts();
    println!("hello: request {} invocation {}", ctx.request_id, n);

    if payload.get("log_json").and_then(Value::as_bool) == Some(true) {
        println!(
            "{}",
            json!({"level": "INFO", "message": "json log line", "requestId": ctx.request_id})
        );
    }
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(msg) = payload.get("fail").and_then(Value::as_str) {
        return Err(msg.to_string().into());
    }
    if let Some(msg) = payload.get("panic").and_then(Value::as_str) {
        panic!("{msg}");
    }
    if let Some(code) = payload.get("exit").and_then(Value::as_i64) {
        eprintln!("hello: exiting with {code}");
        let _ = std::io::stdout().flush();
        std::process::exit(code as i32);
    }

    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        if records
            .iter()
            .any(|r| r.get("eventSource") == Some(&json!("aws:sqs")))
        {
            // A record body `{"sleep_ms": N}` holds the batch N ms (mapping concurrency tests).
            let hold = records
                .iter()
                .filter_map(|r| r.get("body").and_then(Value::as_str))
                .filter_map(|b| serde_json::from_str::<Value>(b).ok())
                .filter_map(|b| b.get("sleep_ms").and_then(Value::as_u64))
                .max();
            if let Some(ms) = hold {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let failures: Vec<Value> = records
                .iter()
                .filter(|r| {
                    r.get("body")
                        .and_then(Value::as_str)
                        .is_some_and(|b| b.contains("fail"))
                })
                .map(|r| json!({"itemIdentifier": r["messageId"]}))
                .collect();
            // `id`, or `id=tag` when the body is a JSON object with a string `tag` (benchmarks
            // match a record to what they sent; SQS gives a new id to what SNS delivers).
            let ids: Vec<String> = records
                .iter()
                .filter_map(|r| {
                    let id = r.get("messageId").and_then(Value::as_str)?;
                    let tag = r
                        .get("body")
                        .and_then(Value::as_str)
                        .and_then(|b| serde_json::from_str::<Value>(b).ok())
                        .and_then(|b| b.get("tag").and_then(Value::as_str).map(String::from));
                    Some(tag.map_or_else(|| id.to_string(), |t| format!("{id}={t}")))
                })
                .collect();
            println!(
                "hello: sqs batch of {} with {} failures, pid {}, at {}: {}",
                records.len(),
                failures.len(),
                std::process::id(),
                epoch_ms(),
                ids.join(" ")
            );
            return Ok(json!({"batchItemFailures": failures}));
        }
    }

    if let Some(method) = payload.get("httpMethod").and_then(Value::as_str) {
        let body = json!({
            "method": method,
            "path": payload.get("path"),
            "resource": payload.get("resource"),
            "pathParameters": payload.get("pathParameters"),
            "body": payload.get("body"),
            "pid": std::process::id(),
        });
        return Ok(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-hello": "1"},
            "body": body.to_string(),
        }));
    }

    let mut out = Map::new();
    out.insert("echo".into(), payload.clone());
    out.insert("pid".into(), json!(std::process::id()));
    out.insert("invocations".into(), json!(n));
    out.insert("request_id".into(), json!(ctx.request_id));
    out.insert("function_arn".into(), json!(ctx.invoked_function_arn));
    out.insert("deadline_ms".into(), json!(ctx.deadline));
    if let Some(names) = payload.get("env").and_then(Value::as_array) {
        let env: Map<String, Value> = names
            .iter()
            .filter_map(Value::as_str)
            .map(|k| {
                (
                    k.to_string(),
                    std::env::var(k).map(Value::from).unwrap_or(Value::Null),
                )
            })
            .collect();
        out.insert("env".into(), Value::Object(env));
    }
    if let Some(url) = payload.get("call").and_then(Value::as_str) {
        out.insert(
            "call".into(),
            http_get(url).map_or_else(|e| json!({"error": e}), |s| json!(s)),
        );
    }
    Ok(Value::Object(out))
}

/// Wall-clock milliseconds: benchmarks compare when a batch was handled with when its
/// message was sent, on the same host.
fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Minimal blocking HTTP/1.0 GET for `http://host:port/path` (no TLS, no extra crates).
/// Returns the status line, so a test can see that the function reached the endpoint.
fn http_get(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (hostport, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(hostport).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf.lines().next().unwrap_or_default().to_string())
}
