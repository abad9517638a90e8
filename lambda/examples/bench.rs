//! Benchmark: cold start and per-reset latency against the local directory and cloud.
//!
//!   eval "$(scripts/local-directory start)"; eval "$(scripts/local-cloud start)"
//!   cargo run --release -p resetpw-lambda --example bench [-- COLD_STARTS RESETS]
//!
//! Cold start = from spawning the `bootstrap` binary to its first response reaching the
//! Lambda Runtime API (KMS decrypt, TLS setup and one full reset included). The Runtime API
//! is served by a minimal HTTP responder here, since AWS's runtime interface emulator is not
//! available from this project's registries. Per-reset latency = one FulfillmentCodeHook
//! event handled in-process (LDAPS lookup, reset, DynamoDB, SNS), as p50/p95.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use support::*;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Serves one invocation of `event` and reports when the response arrives.
async fn runtime_api(event: String) -> (String, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut served = false;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let event = event.clone();
            let tx = tx.clone();
            let first = !served;
            served = true;
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                let mut sent_event = !first;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = header.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).await.unwrap();
                    if request_line.starts_with("GET") && request_line.contains("/invocation/next")
                    {
                        if sent_event {
                            // Only one invocation: hold the next poll open.
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        sent_event = true;
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 30_000;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: bench-1\r\nlambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:resetpw\r\ncontent-length: {}\r\n\r\n",
                            event.len()
                        );
                        write.write_all(head.as_bytes()).await.unwrap();
                        write.write_all(event.as_bytes()).await.unwrap();
                    } else {
                        if request_line.contains("/response") || request_line.contains("/error") {
                            let _ = tx.send(Instant::now()).await;
                        }
                        let _ = write
                            .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
                            .await;
                    }
                }
            });
        }
    });
    (addr, rx)
}

fn bootstrap_path() -> std::path::PathBuf {
    // The bootstrap built alongside this example (same profile).
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join("bootstrap");
    assert!(
        path.exists(),
        "{} not found: run `cargo build --release -p resetpw-lambda --bin bootstrap` first",
        path.display()
    );
    path
}

async fn cold_start(vars: &HashMap<String, String>, event: String) -> Duration {
    let (addr, mut responses) = runtime_api(event).await;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bootstrap_path())
        .envs(vars)
        .env("AWS_LAMBDA_RUNTIME_API", &addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "resetpw")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("bootstrap starts");
    let done = tokio::time::timeout(Duration::from_secs(30), responses.recv())
        .await
        .expect("bootstrap answered within 30 s")
        .unwrap();
    let _ = child.kill().await;
    done - started
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cold_runs = args.first().copied().unwrap_or(5);
    let resets = args.get(1).copied().unwrap_or(30);

    let setup = Setup::new("bench").with("RESETPW_CALLER_ID_CHECK", "off");
    let sdk = sdk(&setup.app).await;
    let mut vars = setup.environment(&sdk).await;
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    ] {
        vars.insert(k.into(), env(k));
    }
    vars.insert("AWS_SDK_UA_APP_ID".into(), setup.app.clone());

    let mut cold = Vec::new();
    for i in 0..cold_runs {
        let event = serde_json::to_string(&serde_json::json!({
            "messageVersion": "1.0",
            "invocationSource": "FulfillmentCodeHook",
            "sessionId": format!("bench-cold-{i}"),
            "sessionState": {"intent": {"name": "ResetPW", "slots": {
                "UserID": slot(BENCH.sam), "DOB": slot(BENCH.dob), "MonthStarted": slot(BENCH.month)
            }}}
        }))
        .unwrap();
        cold.push(cold_start(&vars, event).await);
    }
    cold.sort();

    let (handler, _) = setup.handler().await;
    let mut lat = Vec::new();
    for i in 0..resets {
        let event = fulfillment(
            BENCH.sam,
            BENCH.dob,
            BENCH.month,
            None,
            &format!("bench-{i}"),
        );
        let started = Instant::now();
        let response = handler.handle(event).await;
        lat.push(started.elapsed());
        assert_eq!(
            response.session_state.intent.state, "Fulfilled",
            "reset {i} failed"
        );
    }
    lat.sort();

    println!("cold start (spawn -> first response, KMS decrypt + one reset), n={}: p50 {}  min {}  max {}",
        cold.len(), ms(percentile(&cold, 0.5)), ms(cold[0]), ms(*cold.last().unwrap()));
    println!(
        "reset latency (lookup + reset + attempts + SMS), n={}: p50 {}  p95 {}  max {}",
        lat.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.95)),
        ms(*lat.last().unwrap())
    );
}
