//! Benchmark (prints figures; not a test): wall time of a cold `resetpw up` of the demo stack
//! against the local cloud with a latency injected on every call, for several `--parallelism`
//! values.
//!
//! ```text
//! eval "$(scripts/local-cloud start)"
//! cargo build --bin resetpw
//! cargo run --example parallelism -- [latency_ms=100] [N list=1,2,4,8,10,16] [repetitions=3]
//! ```
//!
//! Before every run it resets the local cloud's moto state (`POST /moto-api/reset`), so each cold
//! `up` starts from the same empty account (the KMS key lookup reads every key in the account,
//! so leftover keys would slow later runs). Run it against a local cloud no test is using.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    wall: Duration,
    apply: Duration,
    calls: usize,
    mutating: usize,
}

fn binary() -> PathBuf {
    std::env::var_os("RESETPW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/resetpw"))
}

fn time_of(v: &Value) -> std::time::SystemTime {
    humantime::parse_rfc3339(v["time"].as_str().expect("event time")).expect("RFC 3339")
}

async fn cold_up(cloud: &str, dir: &Path, latency_ms: u64, parallelism: usize) -> Run {
    let http = reqwest::Client::new();
    let ok = http
        .post(format!("{cloud}/moto-api/reset"))
        .send()
        .await
        .expect("reset moto");
    assert!(ok.status().is_success(), "moto reset: {}", ok.status());
    let stack = format!("bench-par-{parallelism}-{}", fastrand::u32(..1_000_000));
    let app = format!("b-{stack}");
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.yaml"))
            .expect("read examples/demo.yaml");
    let text = demo.replace("name: resetpw-demo", &format!("name: {stack}"));
    assert_ne!(text, demo, "demo.yaml has no `name: resetpw-demo` line");
    let file = dir.join(format!("{stack}.yaml"));
    std::fs::write(&file, text).expect("write stack");
    if latency_ms > 0 {
        let rule = json!({"app": app, "latency_ms": latency_ms});
        let status = http
            .post(format!("{cloud}/_localcloud/faults"))
            .json(&rule)
            .send()
            .await
            .expect("fault rule")
            .status();
        assert!(status.is_success(), "fault rule refused: {status}");
    }
    let started = Instant::now();
    let out = Command::new(binary())
        .args(["up", "--yes", "--output", "json", "--progress", "plain"])
        .arg("--file")
        .arg(&file)
        .arg("--parallelism")
        .arg(parallelism.to_string())
        .env("AWS_SDK_UA_APP_ID", &app)
        .env("RESETPW_BIND_PASSWORD", "bench-only-Passw0rd!")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run resetpw (build it first: cargo build --bin resetpw)");
    let wall = started.elapsed();
    http.delete(format!("{cloud}/_localcloud/faults?app={app}"))
        .send()
        .await
        .expect("clear faults");
    assert!(out.status.success(), "resetpw up failed");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let plan = lines.first().expect("plan line");
    let summary = lines.last().expect("summary line");
    assert_eq!(
        summary["counts"]["create"], 18,
        "not a cold up of the demo stack"
    );
    let apply = time_of(summary)
        .duration_since(time_of(plan))
        .unwrap_or_default();
    let calls: Vec<Value> = http
        .get(format!("{cloud}/_localcloud/calls?app={app}"))
        .send()
        .await
        .expect("call record")
        .json()
        .await
        .expect("call record JSON");
    Run {
        wall,
        apply,
        mutating: calls.iter().filter(|c| c["mutating"] == true).count(),
        calls: calls.len(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let latency_ms: u64 = args.first().map_or(100, |a| a.parse().expect("latency_ms"));
    let ns: Vec<usize> = args
        .get(1)
        .map_or("1,2,4,8,10,16", String::as_str)
        .split(',')
        .map(|n| n.parse().expect("N list"))
        .collect();
    let reps: usize = args.get(2).map_or(3, |a| a.parse().expect("repetitions"));
    let cloud = std::env::var("LOCAL_CLOUD_URL")
        .expect("LOCAL_CLOUD_URL is not set: eval \"$(scripts/local-cloud start)\" first");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-ca.pem"),
        dir.path().join("demo-ca.pem"),
    )
    .expect("copy demo-ca.pem");

    println!(
        "cold `up` of examples/demo.yaml (18 resources), {latency_ms} ms injected per call, median of {reps}"
    );
    println!(
        "{:>4}  {:>8}  {:>8}  {:>6}  {:>9}",
        "N", "wall s", "apply s", "calls", "mutating"
    );
    for &n in &ns {
        let mut runs = Vec::new();
        for _ in 0..reps {
            runs.push(cold_up(&cloud, dir.path(), latency_ms, n).await);
        }
        let wall = median(runs.iter().map(|r| r.wall).collect());
        let apply = median(runs.iter().map(|r| r.apply).collect());
        let last = runs.last().expect("at least one run");
        println!(
            "{n:>4}  {:>8.2}  {:>8.2}  {:>6}  {:>9}",
            wall.as_secs_f64(),
            apply.as_secs_f64(),
            last.calls,
            last.mutating
        );
    }
}
