//! A bounded mixed workload on the local gateway (run through `scripts/load`, which builds the
//! gateway and starts what the storage needs): 100 open WebSockets on one project's chat and
//! 16 clients sending reads (notices, events, notifications, chat history) and writes (chat
//! messages, read marks) for a fixed time. It stops by itself and prints requests, errors,
//! latency percentiles per kind, frames each socket got, and the gateway's peak memory; it exits
//! non-zero on any error or any socket that missed or doubled a message.
//! The clients keep a fixed pace (LOAD_RATE requests per second in all, default 200), as users
//! do, rather than sending as fast as answers come back, which on 2 cores starves the emulator.
//!   LOAD_SECONDS (default 30), LOAD_RATE, LOAD_STORAGE=embedded|mysql, LOCAL_GATEWAY_BIN.

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use local_gateway::token;
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message};

const SOCKETS: usize = 100;
const CLIENTS: usize = 16;
const PROJECT: i64 = 1;

struct Gateway {
    child: Child,
    url: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The gateway's peak resident memory (VmHWM), in MiB.
fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn start_gateway(bin: &str, storage: &str, member: &str) -> Gateway {
    let dir = TempDir(std::env::temp_dir().join(format!("pft-load-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let port = free_port();
    let mut env: Vec<(String, String)> = vec![("PORT".into(), port.to_string())];
    match storage {
        "embedded" => env.push(("LOCAL_DB_PATH".into(), dir.0.join("portforge.db").display().to_string())),
        "mysql" => {
            let server = std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
            let name = format!("pft_load_{}", uuid::Uuid::new_v4().simple());
            env.push(("DATABASE_URL".into(), format!("{server}/{name}")));
            env.push(("DDB_ENDPOINT_URL".into(), std::env::var("TEST_DYNAMODB_URL").expect("TEST_DYNAMODB_URL")));
            let prefix = &name[9..19];
            for (var, table) in [
                ("DYNAMODB_TABLE_CHATS", "team_chats"),
                ("DYNAMODB_TABLE_ROOMS", "chat_rooms"),
                ("DYNAMODB_TABLE_CONNECTIONS", "ws_connections"),
            ] {
                env.push((var.into(), format!("l{prefix}_{table}")));
            }
            let bootstrap = Command::new(bin).arg("bootstrap").envs(env.clone()).stdout(Stdio::null()).status();
            assert!(bootstrap.unwrap().success(), "bootstrap");
        }
        other => panic!("LOAD_STORAGE is embedded or mysql, not {other}"),
    }
    let member_added = Command::new(bin)
        .args(["member", "--project", &PROJECT.to_string(), "--user", member])
        .envs(env.clone())
        .stdout(Stdio::null())
        .status();
    assert!(member_added.unwrap().success(), "member");
    let child = Command::new(bin).arg("serve").envs(env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Owned at once, so the process is killed and reaped however this ends.
    let gateway = Gateway { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{}/health", gateway.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return gateway;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway did not answer /health");
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1_000.0
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let storage = std::env::var("LOAD_STORAGE").unwrap_or_else(|_| "embedded".into());
    let rate: f64 = std::env::var("LOAD_RATE").ok().and_then(|s| s.parse().ok()).unwrap_or(200.0);
    let pace = Duration::from_secs_f64(CLIENTS as f64 / rate);
    let bin = std::env::var("LOCAL_GATEWAY_BIN").expect("LOCAL_GATEWAY_BIN: run through scripts/load");
    let member = uuid::Uuid::new_v4().to_string();
    let gateway = start_gateway(&bin, &storage, &member).await;
    let secret = token::DEFAULT_SECRET.as_bytes();
    let member_token = token::mint(secret, &token::user_claims(&member, false, Some("부하"), 2));
    let admin_token = token::mint(secret, &token::user_claims(&uuid::Uuid::new_v4().to_string(), true, None, 2));
    let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().unwrap();
    // Something to read.
    for i in 0..20 {
        let notice = json!({"title": format!("공지 {i}"), "content": "본문 ".repeat(50)});
        let r = http.post(format!("{}/notices", gateway.url)).bearer_auth(&admin_token).json(&notice).send().await;
        assert!(r.unwrap().status().is_success(), "seeding notices");
        let event = json!({"title": format!("해커톤 {i}"), "category": "HACKATHON", "start_date": "2026-12-01", "end_date": "2026-12-03"});
        let r = http.post(format!("{}/events", gateway.url)).bearer_auth(&admin_token).json(&event).send().await;
        assert!(r.unwrap().status().is_success(), "seeding events");
    }

    // 100 sockets, each counting the chat frames it gets, by message id.
    let ws_url = gateway.url.replace("http://", "ws://");
    let mut sockets = Vec::new();
    let listening = Arc::new(AtomicBool::new(true));
    for _ in 0..SOCKETS {
        let (socket, _) =
            connect_async(format!("{ws_url}/ws/chat/{PROJECT}?token={member_token}")).await.expect("socket upgrade");
        let listening = listening.clone();
        sockets.push(tokio::spawn(async move {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            let (_sink, mut stream) = socket.split();
            while listening.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => {
                        if let Ok(frame) = serde_json::from_str::<Value>(&text)
                            && frame["type"] == "message"
                        {
                            *seen.entry(frame["message_id"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
                        }
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(_) => break,
                }
            }
            seen
        }));
    }

    let latencies: Arc<Mutex<BTreeMap<&'static str, Vec<Duration>>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let sent_ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let counter = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (http, url, token) = (http.clone(), gateway.url.clone(), member_token.clone());
            let (latencies, errors, sent_ids, counter) =
                (latencies.clone(), errors.clone(), sent_ids.clone(), counter.clone());
            tokio::spawn(async move {
                let mut n = c;
                // Spread the clients over one pace interval, then one request per interval each.
                let mut next = Instant::now() + pace.mul_f64(c as f64 / CLIENTS as f64);
                while Instant::now() < deadline {
                    tokio::time::sleep_until(next.into()).await;
                    next = (next + pace).max(Instant::now());
                    n += CLIENTS;
                    let started = Instant::now();
                    let (kind, request) = match n % 20 {
                        0..=6 => ("GET /notices", http.get(format!("{url}/notices?limit=20"))),
                        7..=10 => ("GET /events", http.get(format!("{url}/events?limit=20"))),
                        11..=13 => ("GET /notifications", http.get(format!("{url}/notifications")).bearer_auth(&token)),
                        14..=15 => (
                            "GET /chat/1/messages",
                            http.get(format!("{url}/chat/{PROJECT}/messages")).bearer_auth(&token),
                        ),
                        16 => (
                            "POST /notifications/read",
                            http.post(format!("{url}/notifications/read"))
                                .bearer_auth(&token)
                                .json(&json!({"all": true})),
                        ),
                        _ => (
                            "POST /chat/1/messages",
                            http.post(format!("{url}/chat/{PROJECT}/messages"))
                                .bearer_auth(&token)
                                .json(&json!({"message": format!("부하 시험 {n} 🚀")})),
                        ),
                    };
                    let answer = request.send().await;
                    let took = started.elapsed();
                    counter.fetch_add(1, Ordering::Relaxed);
                    match answer {
                        Ok(r) if r.status().is_success() => {
                            if kind == "POST /chat/1/messages" {
                                let body: Value = r.json().await.unwrap_or_default();
                                sent_ids
                                    .lock()
                                    .unwrap()
                                    .push(body["data"]["message_id"].as_str().unwrap_or_default().to_owned());
                            }
                            latencies.lock().unwrap().entry(kind).or_default().push(took);
                        }
                        Ok(r) => {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            errors.lock().unwrap().push(format!("{kind}: {status} {body}"));
                        }
                        Err(e) => errors.lock().unwrap().push(format!("{kind}: {e}")),
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    // Let the last broadcasts land, then stop listening.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    listening.store(false, Ordering::Relaxed);
    let sent: Vec<String> = sent_ids.lock().unwrap().clone();
    let mut socket_problems = 0;
    for socket in sockets {
        let seen = socket.await.unwrap();
        let exact = sent.iter().all(|id| seen.get(id) == Some(&1)) && seen.len() == sent.len();
        if !exact {
            socket_problems += 1;
        }
    }
    let peak = peak_mib(gateway.child.id());

    let total = counter.load(Ordering::Relaxed);
    let errors = errors.lock().unwrap().clone();
    println!(
        "load ({storage}): {seconds} s, {CLIENTS} clients at {rate:.0} requests/s in all, {SOCKETS} sockets: {total} requests ({:.0}/s), {} errors, {} chat messages each delivered to all {SOCKETS} sockets exactly once: {}",
        total as f64 / seconds as f64,
        errors.len(),
        sent.len(),
        if socket_problems == 0 { "yes".to_owned() } else { format!("NO ({socket_problems} sockets off)") }
    );
    for (kind, mut samples) in latencies.lock().unwrap().clone() {
        samples.sort();
        println!(
            "  {kind:<26} {:>6} ok  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            samples.len(),
            percentile(&samples, 0.5),
            percentile(&samples, 0.9),
            percentile(&samples, 0.99),
            percentile(&samples, 1.0)
        );
    }
    println!("  gateway peak memory (VmHWM): {peak:.1} MiB");
    for e in errors.iter().take(10) {
        eprintln!("error: {e}");
    }
    // Stops the gateway and removes its files before exiting (exit skips destructors).
    drop(gateway);
    if !errors.is_empty() || socket_problems > 0 {
        std::process::exit(1);
    }
}
