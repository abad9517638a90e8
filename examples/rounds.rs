//! Benchmark (prints figures; not a test): how many latency rounds `resetpw` needs, against the
//! local cloud with a latency L injected on every call the tool makes.
//!
//! ```text
//! eval "$(scripts/local-cloud start)"
//! cargo build --workspace --bin resetpw --example rounds
//! target/debug/examples/rounds [latency_ms=100] [repetitions=3]
//! ```
//!
//! The stack is examples/demo.yaml's foundation, network and fulfillment (a tiny stand-in package,
//! so no release build; no bot or phone line). For L = 0 and L it runs, from an empty account
//! (moto reset): a cold `up`, a no-op `diff` and a no-op `up`; then the cold `up` again with 10
//! keys pending deletion that carry the stack's tags (what 10 `down`s leave behind). Rounds =
//! (wall at L − wall at 0) / L, medians of the repetitions. The bounds come from the stack's
//! resource graph (`resetpw::engine::bounds`): the longest chain of dependent calls a cold `up`
//! makes, and the dependent read rounds of a no-op plan. Run it against a local cloud no test is
//! using: it resets the cloud's moto state.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PENDING_KEYS: usize = 10;

fn binary() -> PathBuf {
    std::env::var_os("RESETPW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/resetpw"))
}

/// The benchmark's stack text: demo.yaml up to the bot section, with a stand-in package.
fn stack_text(stack: &str) -> String {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.yaml"))
            .expect("read examples/demo.yaml");
    let end = demo.find("\nbot:").unwrap_or(demo.len());
    let text = demo[..end]
        .replace("name: resetpw-demo", &format!("name: {stack}"))
        .replace("\nfulfillment:\n", "\nfulfillment:\n  package: fn.zip\n");
    assert!(
        text.contains("package: fn.zip") && text.contains(&format!("name: {stack}")),
        "demo.yaml no longer has the `name:` and `fulfillment:` lines this benchmark edits"
    );
    text
}

/// One phase's figures.
#[derive(Clone, Copy)]
struct Phase {
    wall: Duration,
    calls: usize,
    mutating: usize,
}

/// One cold up, no-op diff and no-op up of a fresh stack.
struct Run {
    cold: Phase,
    diff: Phase,
    noop: Phase,
}

struct Bench {
    cloud: String,
    http: reqwest::Client,
    dir: PathBuf,
}

impl Bench {
    async fn reset(&self) {
        let ok = self
            .http
            .post(format!("{}/moto-api/reset", self.cloud))
            .send()
            .await
            .expect("reset moto");
        assert!(ok.status().is_success(), "moto reset: {}", ok.status());
        // Moto builds a service's state on its first call after a reset (KMS's takes seconds):
        // make those calls here, outside the measured runs.
        let config = sdk().await;
        let kms = aws_sdk_kms::Client::new(&config);
        kms.list_keys().send().await.expect("warm up KMS");
        let _ = kms.describe_key().key_id("alias/warm-up").send().await;
        aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .expect("warm up STS");
    }

    async fn calls_since(&self, app: &str, since: u64) -> Vec<Value> {
        self.http
            .get(format!("{}/_localcloud/calls?app={app}", self.cloud))
            .send()
            .await
            .expect("call record")
            .json::<Vec<Value>>()
            .await
            .expect("call record JSON")
            .into_iter()
            .filter(|c| c["seq"].as_u64().unwrap_or(0) > since)
            .collect()
    }

    async fn phase(&self, app: &str, file: &Path, args: &[&str], expect: i32) -> Phase {
        let since = self
            .calls_since(app, 0)
            .await
            .last()
            .and_then(|c| c["seq"].as_u64())
            .unwrap_or(0);
        let started = Instant::now();
        let out = Command::new(binary())
            .args(args)
            .args(["--progress", "plain", "--file"])
            .arg(file)
            .env("AWS_SDK_UA_APP_ID", app)
            .env("RESETPW_BIND_PASSWORD", "bench-only-Passw0rd!")
            .stdin(Stdio::null())
            .output()
            .expect("run resetpw (build it first: cargo build --workspace --bin resetpw)");
        let wall = started.elapsed();
        assert_eq!(
            out.status.code(),
            Some(expect),
            "resetpw {args:?} exited {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let calls = self.calls_since(app, since).await;
        Phase {
            wall,
            calls: calls.len(),
            mutating: calls.iter().filter(|c| c["mutating"] == true).count(),
        }
    }

    /// 10 keys carrying the stack's tags, each scheduled for deletion (not through the tool, so
    /// not in its call record).
    async fn pending_keys(&self, stack: &str) {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        for _ in 0..PENDING_KEYS {
            let tag = |k: &str, v: &str| {
                aws_sdk_kms::types::Tag::builder()
                    .tag_key(k)
                    .tag_value(v)
                    .build()
                    .expect("tag")
            };
            let key = kms
                .create_key()
                .tags(tag("resetpw:stack", stack))
                .tags(tag("resetpw:resource", "directory-key"))
                .tags(tag("owner", "it-operations"))
                .tags(tag("purpose", "demo"))
                .send()
                .await
                .expect("create key");
            let id = key.key_metadata().expect("metadata").key_id().to_string();
            kms.schedule_key_deletion()
                .key_id(id)
                .pending_window_in_days(7)
                .send()
                .await
                .expect("schedule key deletion");
        }
    }

    /// A fresh stack at `latency_ms`: cold up, no-op diff, no-op up.
    async fn run(&self, latency_ms: u64, pending: bool) -> Run {
        self.reset().await;
        let stack = format!("bench-rounds-{}", fastrand::u32(..1_000_000));
        let app = format!("b-{stack}");
        let file = self.dir.join(format!("{stack}.yaml"));
        std::fs::write(&file, stack_text(&stack)).expect("write stack");
        if pending {
            self.pending_keys(&stack).await;
        }
        if latency_ms > 0 {
            let rule = json!({"app": app, "latency_ms": latency_ms});
            let status = self
                .http
                .post(format!("{}/_localcloud/faults", self.cloud))
                .json(&rule)
                .send()
                .await
                .expect("fault rule")
                .status();
            assert!(status.is_success(), "fault rule refused: {status}");
        }
        let cold = self.phase(&app, &file, &["up", "--yes"], 0).await;
        let diff = self.phase(&app, &file, &["diff", "--exit-code"], 0).await;
        let noop = self.phase(&app, &file, &["up", "--yes"], 0).await;
        self.http
            .delete(format!("{}/_localcloud/faults?app={app}", self.cloud))
            .send()
            .await
            .expect("clear faults");
        assert_eq!(noop.mutating, 0, "the second up changed something");
        Run { cold, diff, noop }
    }
}

async fn sdk() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median figures of `reps` runs.
async fn measure(bench: &Bench, latency_ms: u64, pending: bool, reps: usize) -> Run {
    let mut runs = Vec::new();
    for _ in 0..reps {
        runs.push(bench.run(latency_ms, pending).await);
    }
    let pick = |f: fn(&Run) -> Phase| {
        let last = f(runs.last().expect("one run"));
        Phase {
            wall: median(runs.iter().map(|r| f(r).wall).collect()),
            ..last
        }
    };
    Run {
        cold: pick(|r| r.cold),
        diff: pick(|r| r.diff),
        noop: pick(|r| r.noop),
    }
}

fn row(what: &str, zero: Phase, at: Phase, latency_ms: u64, bound: Option<usize>) {
    let rounds = (at.wall.as_secs_f64() - zero.wall.as_secs_f64()) / (latency_ms as f64 / 1000.0);
    let (bound, ratio) = match bound {
        Some(b) => (b.to_string(), format!("{:.2}", rounds / b as f64)),
        None => ("-".into(), "-".into()),
    };
    println!(
        "{what:<24}  {:>7.2}  {:>7.2}  {rounds:>6.1}  {bound:>5}  {ratio:>5}  {:>5}  {:>8}",
        zero.wall.as_secs_f64(),
        at.wall.as_secs_f64(),
        at.calls,
        at.mutating
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let latency_ms: u64 = args.first().map_or(100, |a| a.parse().expect("latency_ms"));
    let reps: usize = args.get(1).map_or(3, |a| a.parse().expect("repetitions"));
    let cloud = std::env::var("LOCAL_CLOUD_URL")
        .expect("LOCAL_CLOUD_URL is not set: eval \"$(scripts/local-cloud start)\" first");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-ca.pem"),
        dir.path().join("demo-ca.pem"),
    )
    .expect("copy demo-ca.pem");
    let zip = resetpw::package::zip_bootstrap(b"#!/bin/sh\n").expect("zip");
    std::fs::write(dir.path().join("fn.zip"), zip).expect("write fn.zip");
    let bench = Bench {
        cloud,
        http: reqwest::Client::new(),
        dir: dir.path().to_path_buf(),
    };

    let bounds = bounds(&bench.dir);
    let zero = measure(&bench, 0, false, reps).await;
    let at = measure(&bench, latency_ms, false, reps).await;
    let zero_pending = measure(&bench, 0, true, reps).await;
    let at_pending = measure(&bench, latency_ms, true, reps).await;

    println!(
        "demo stack without bot/connect ({} resources), {latency_ms} ms injected per call, median of {reps}",
        bounds.resources
    );
    println!(
        "{:<24}  {:>7}  {:>7}  {:>6}  {:>5}  {:>5}  {:>5}  {:>8}",
        "", "wall@0", "wall@L", "rounds", "bound", "ratio", "calls", "mutating"
    );
    row(
        "cold up",
        zero.cold,
        at.cold,
        latency_ms,
        Some(bounds.cold_up),
    );
    row(
        "no-op diff",
        zero.diff,
        at.diff,
        latency_ms,
        Some(bounds.noop),
    );
    row(
        "no-op up",
        zero.noop,
        at.noop,
        latency_ms,
        Some(bounds.noop),
    );
    row(
        &format!("cold up, {PENDING_KEYS} pending keys"),
        zero_pending.cold,
        at_pending.cold,
        latency_ms,
        Some(bounds.cold_up),
    );
    println!(
        "cold up bound: {} plan rounds + the longest chain of creates: {}",
        bounds.plan, bounds.chain
    );
}

struct Bounds {
    resources: usize,
    cold_up: usize,
    noop: usize,
    /// Rounds of the cold plan, before the chain.
    plan: usize,
    chain: String,
}

/// The bounds from the stack's resource graph.
fn bounds(dir: &Path) -> Bounds {
    let file = dir.join("bounds.yaml");
    std::fs::write(&file, stack_text("bench-bounds")).expect("write stack");
    let loaded = resetpw::stack::load(&file).expect("load the benchmark stack");
    let resources = resetpw::resources::for_stack(&loaded);
    let b = resetpw::engine::bounds(&resources);
    Bounds {
        resources: resources.len(),
        cold_up: b.cold_up,
        noop: b.noop_plan,
        plan: b.cold_up - b.chain.iter().map(|(_, r)| r).sum::<usize>(),
        chain: b
            .chain
            .iter()
            .map(|(id, rounds)| format!("{id} ({rounds})"))
            .collect::<Vec<_>>()
            .join(" → "),
    }
}
