//! Cold start of the Lambda binaries, measured against a Lambda Runtime API stub on loopback
//! (run through `scripts/bench-cold-start`, which builds the binaries and starts what they reach).
//!
//! For each `name=binary:event` argument the binary is started `COLD_START_RUNS` times (20) with
//! `AWS_LAMBDA_RUNTIME_API` pointing at the stub, which answers the first
//! `GET /2018-06-01/runtime/invocation/next` with the sample event and records when the answer is
//! posted. Printed per function: process start → first `next` (init done), → first response
//! posted (the first request served, connections included), the response's status, and the
//! process's peak resident memory after that request. Exits non-zero when a target is missed
//! (first `next` ≤ 10 ms at the median) or a function failed to answer.

use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::Value;
use tokio::sync::Notify;

const NEXT_TARGET: Duration = Duration::from_millis(10);
const REQUEST_ID: &str = "cold-start-bench-0001";

/// What the stub saw during one run.
#[derive(Default)]
struct Run {
    event: Bytes,
    started: Option<Instant>,
    first_next: Option<Instant>,
    answered: Option<(Instant, Result<Value, String>)>,
    nexts: usize,
}

#[derive(Clone, Default)]
struct Stub {
    run: Arc<Mutex<Run>>,
    answered: Arc<Notify>,
}

fn lock(stub: &Stub) -> std::sync::MutexGuard<'_, Run> {
    stub.run.lock().unwrap_or_else(|p| p.into_inner())
}

async fn next(State(stub): State<Stub>) -> Response {
    let event = {
        let mut run = lock(&stub);
        run.nexts += 1;
        if run.nexts > 1 {
            None
        } else {
            run.first_next = Some(Instant::now());
            Some(run.event.clone())
        }
    };
    let Some(event) = event else {
        // The second `next` means the first event is done: hold it until the run ends.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 10_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_static(REQUEST_ID));
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline.to_string()).expect("digits"));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:ap-northeast-2:123456789012:function:cold-start-bench"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (headers, event).into_response()
}

async fn response(State(stub): State<Stub>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    let answer = serde_json::from_slice(&body).map_err(|e| format!("response is not JSON: {e}"));
    lock(&stub).answered = Some((Instant::now(), answer));
    stub.answered.notify_one();
    StatusCode::ACCEPTED
}

/// An invocation error is an answer too (an authorizer refuses with one); an init error is not.
async fn invocation_error(State(stub): State<Stub>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = error["errorType"].as_str().or(error["errorMessage"].as_str()).unwrap_or("unknown").to_owned();
    lock(&stub).answered = Some((Instant::now(), Ok(serde_json::json!({ "invocationError": kind }))));
    stub.answered.notify_one();
    StatusCode::ACCEPTED
}

async fn init_error(State(stub): State<Stub>, body: Bytes) -> StatusCode {
    let text = String::from_utf8_lossy(&body).into_owned();
    lock(&stub).answered = Some((Instant::now(), Err(format!("init failed: {text}"))));
    stub.answered.notify_one();
    StatusCode::ACCEPTED
}

async fn start_stub() -> (SocketAddr, Stub) {
    let stub = Stub::default();
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        // Stand-ins for what a function reaches besides its database and tables: the management
        // API (every connection is gone) and the Cognito pool's keys.
        .route("/@connections/{id}", post(|| async { StatusCode::GONE }))
        // The Project and Team services, in their real shapes: the samples' project 42 belongs
        // to team 3, whose members include the samples' user.
        .route(
            "/projects/{id}/basic",
            get(|| async {
                axum::Json(serde_json::json!({"project_id": 42, "title": "PortForge 웹", "description": "",
                    "status": "RECRUITING", "start_date": "2026-01-05", "end_date": "2026-06-30"}))
            }),
        )
        .route(
            "/api/v1/teams/by-project/{id}",
            get(|| async {
                axum::Json(serde_json::json!({"status": "success", "data": {"team_id": 3, "project_id": 42,
                    "members": [{"user_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "role": "LEADER"}]}}))
            }),
        )
        .route(
            "/.well-known/jwks.json",
            get(|| async {
                std::env::var("COLD_START_JWKS").ok().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
            }),
        )
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, stub)
}

struct Sample {
    to_next: Duration,
    to_response: Duration,
    status: String,
    peak_rss_kib: u64,
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// The status an answer carries: an HTTP API response's `statusCode`, a WebSocket route's, or
/// `allow`/`deny` for an authorizer's policy, `error(type)` for an invocation error.
fn status_of(answer: &Value) -> String {
    if let Some(code) = answer.get("statusCode") {
        return code.to_string();
    }
    if let Some(kind) = answer.get("invocationError").and_then(Value::as_str) {
        return format!("error({kind})");
    }
    match answer.pointer("/policyDocument/Statement/0/Effect").and_then(Value::as_str) {
        Some(effect) => effect.to_ascii_lowercase(),
        None => "?".into(),
    }
}

async fn run_once(addr: SocketAddr, stub: &Stub, name: &str, binary: &str, event: &Bytes) -> Result<Sample, String> {
    {
        let mut run = lock(stub);
        *run = Run { event: event.clone(), ..Run::default() };
    }
    let started = Instant::now();
    lock(stub).started = Some(started);
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("portforge-support-bench-{name}"))
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/portforge-support-bench-{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("WS_MANAGEMENT_ENDPOINT", format!("http://{addr}"))
        .env("COGNITO_JWKS_URL", format!("http://{addr}/.well-known/jwks.json"))
        .env("PROJECT_SERVICE_URL", format!("http://{addr}"))
        .env("TEAM_SERVICE_URL", format!("http://{addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {binary}: {e}"))?;
    let waited = tokio::time::timeout(Duration::from_secs(10), stub.answered.notified()).await;
    let pid = child.id();
    let peak = peak_rss_kib(pid);
    let _ = child.kill();
    let _ = child.wait();
    waited.map_err(|_| format!("{name}: no answer within 10 s"))?;
    let run = lock(stub);
    let first_next = run.first_next.ok_or_else(|| format!("{name}: answered without asking for an event"))?;
    let (answered_at, answer) = run.answered.as_ref().ok_or_else(|| format!("{name}: no answer"))?;
    let answer = answer.clone()?;
    Ok(Sample {
        to_next: first_next - started,
        to_response: *answered_at - started,
        status: status_of(&answer),
        peak_rss_kib: peak,
    })
}

/// An authorizer's sample event carries a placeholder token: when `COLD_START_SIGNING_KEY` names
/// the tests' RSA key, a fresh token for `COGNITO_ISSUER` and the first of `COGNITO_AUDIENCES`
/// replaces it, so the run measures the allow path (key fetch and verification included).
fn with_fresh_token(event: Vec<u8>) -> Vec<u8> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let (Ok(key_file), Ok(issuer), Ok(audiences)) =
        (std::env::var("COLD_START_SIGNING_KEY"), std::env::var("COGNITO_ISSUER"), std::env::var("COGNITO_AUDIENCES"))
    else {
        return event;
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&event) else { return event };
    if value.pointer("/queryStringParameters/token").is_none() {
        return event;
    }
    let now = chrono::Utc::now().timestamp();
    let audience = audiences.split(',').next().unwrap_or_default().trim().to_owned();
    let claims = serde_json::json!({
        "sub": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "aud": audience, "iss": issuer, "token_use": "id",
        "nickname": "bench", "iat": now, "exp": now + 3600,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = std::env::var("COLD_START_SIGNING_KID").ok();
    let pem = std::fs::read(&key_file).unwrap_or_else(|e| panic!("reading {key_file}: {e}"));
    let token = encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).expect("an RSA key")).expect("signing");
    value["queryStringParameters"]["token"] = Value::String(token.clone());
    value["multiValueQueryStringParameters"]["token"] = serde_json::json!([token]);
    serde_json::to_vec(&value).expect("JSON")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("COLD_START_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(20);
    // `cargo bench` adds `--bench`; everything else is `name=binary:event`.
    let specs: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if specs.is_empty() {
        eprintln!("usage: cold_start name=path/to/binary:path/to/event.json ...");
        std::process::exit(2);
    }
    let (addr, stub) = start_stub().await;
    let mut failed = Vec::new();
    println!(
        "| function | start → first next (median / max) | start → first response (median / max) | status | peak RSS |"
    );
    println!("|---|---|---|---|---|");
    for spec in specs {
        let Some((name, rest)) = spec.split_once('=') else {
            eprintln!("not name=binary:event: {spec}");
            std::process::exit(2);
        };
        let Some((binary, event_path)) = rest.split_once(':') else {
            eprintln!("not name=binary:event: {spec}");
            std::process::exit(2);
        };
        let event = std::fs::read(event_path).unwrap_or_else(|e| panic!("reading {event_path}: {e}"));
        let event = Bytes::from(with_fresh_token(event));
        let mut samples = Vec::new();
        for _ in 0..runs {
            match run_once(addr, &stub, name, binary, &event).await {
                Ok(sample) => samples.push(sample),
                Err(e) => {
                    failed.push(e);
                    break;
                }
            }
        }
        if samples.len() < runs {
            continue;
        }
        let next: Vec<Duration> = samples.iter().map(|s| s.to_next).collect();
        let answered: Vec<Duration> = samples.iter().map(|s| s.to_response).collect();
        let mut statuses: Vec<String> = samples.iter().map(|s| s.status.clone()).collect();
        statuses.dedup();
        let peak = samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
        let next_median = percentile(next.clone(), 0.5);
        println!(
            "| {name} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {} | {:.1} MiB |",
            ms(next_median),
            ms(percentile(next, 1.0)),
            ms(percentile(answered.clone(), 0.5)),
            ms(percentile(answered, 1.0)),
            statuses.join(","),
            peak as f64 / 1024.0,
        );
        if next_median > NEXT_TARGET {
            failed.push(format!(
                "{name}: first next after {:.1} ms (target ≤ {} ms)",
                ms(next_median),
                NEXT_TARGET.as_millis()
            ));
        }
        if statuses.iter().any(|s| s.starts_with('5')) {
            failed.push(format!("{name}: answered {}", statuses.join(",")));
        }
    }
    println!("\n{runs} runs per function, started one after another");
    if !failed.is_empty() {
        for f in &failed {
            println!("TARGET MISSED: {f}");
        }
        std::process::exit(1);
    }
}
