//! Benchmark (prints figures; not a test): a cold `up` of the whole demo stack, phone line
//! included, against the local cloud with a latency L injected on every call the tool makes.
//!
//! ```text
//! eval "$(scripts/local-cloud start)"
//! cargo build --workspace --bin resetpw --example connect_rounds
//! target/debug/examples/connect_rounds [latency_ms=100] [repetitions=3]
//! ```
//!
//! The stack is examples/demo.yaml (directory, network, fulfillment with a tiny stand-in
//! package, bot, connect) with its own instance alias per run. For L = 0 and L it runs, from an
//! empty account (moto reset), a cold `up`, then a `down --release-phone-number` (not measured)
//! so the emulator's Connect and Lex state stay small. Rounds = (wall at L − wall at 0) / L,
//! medians of the repetitions. The emulator makes an instance ACTIVE and a claim CLAIMED after
//! its Connect delay (`LOCAL_CLOUD_CONNECT_DELAY_MS`, 200 ms by default), so the wall at 0 shows
//! the waits that overlap or not. `claim` and `assoc` are when, from the run's first call, the
//! call record has ClaimPhoneNumber and AssociatePhoneNumberContactFlow. The bound is derived from the stack's resource graph of the
//! tree this example is built from (`resetpw::engine::bounds`). Run it against a local cloud no
//! test is using: it resets the cloud's moto state.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn binary() -> PathBuf {
    std::env::var_os("RESETPW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/resetpw"))
}

/// demo.yaml with the stack's name, its own instance alias and a stand-in package.
fn stack_text(stack: &str) -> String {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.yaml"))
            .expect("read examples/demo.yaml");
    let text = demo
        .replace("name: resetpw-demo", &format!("name: {stack}"))
        .replace(
            "instance_alias: resetpw-demo-helpdesk",
            &format!("instance_alias: {stack}"),
        )
        .replace("\nfulfillment:\n", "\nfulfillment:\n  package: fn.zip\n");
    assert!(
        text.contains("package: fn.zip") && text.contains(&format!("instance_alias: {stack}")),
        "demo.yaml no longer has the `name:`, `fulfillment:` and `instance_alias:` lines this benchmark edits"
    );
    text
}

struct Cold {
    wall: Duration,
    /// From the run's first call to ClaimPhoneNumber and to AssociatePhoneNumberContactFlow.
    claim: Duration,
    assoc: Duration,
    calls: usize,
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
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let kms = aws_sdk_kms::Client::new(&config);
        kms.list_keys().send().await.expect("warm up KMS");
        let _ = kms.describe_key().key_id("alias/warm-up").send().await;
        aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .expect("warm up STS");
    }

    fn resetpw(&self, app: &str, file: &Path, args: &[&str]) -> Duration {
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
        assert!(
            out.status.success(),
            "resetpw {args:?} exited {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        wall
    }

    /// The number of calls, and when ClaimPhoneNumber and AssociatePhoneNumberContactFlow
    /// were made, from the first call.
    async fn calls(&self, app: &str) -> (usize, Duration, Duration) {
        let calls = self
            .http
            .get(format!("{}/_localcloud/calls?app={app}", self.cloud))
            .send()
            .await
            .expect("call record")
            .json::<Vec<serde_json::Value>>()
            .await
            .expect("call record JSON");
        let time = |c: &serde_json::Value| {
            humantime::parse_rfc3339(c["time"].as_str().expect("a call's time"))
                .expect("an RFC 3339 time")
        };
        let first = time(&calls[0]);
        let at = |operation: &str| {
            let c = calls
                .iter()
                .rfind(|c| c["operation"] == operation)
                .unwrap_or_else(|| panic!("no {operation} call"));
            time(c).duration_since(first).unwrap_or_default()
        };
        (
            calls.len(),
            at("ClaimPhoneNumber"),
            at("AssociatePhoneNumberContactFlow"),
        )
    }

    /// A fresh stack's cold up at `latency_ms`, then its down.
    async fn run(&self, latency_ms: u64) -> Cold {
        self.reset().await;
        let stack = format!("bench-line-{}", fastrand::u32(..1_000_000));
        let app = format!("b-{stack}");
        let file = self.dir.join(format!("{stack}.yaml"));
        std::fs::write(&file, stack_text(&stack)).expect("write stack");
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
        let wall = self.resetpw(&app, &file, &["up", "--yes"]);
        let (calls, claim, assoc) = self.calls(&app).await;
        self.http
            .delete(format!("{}/_localcloud/faults?app={app}", self.cloud))
            .send()
            .await
            .expect("clear faults");
        self.resetpw(
            &format!("{app}-down"),
            &file,
            &["down", "--yes", "--release-phone-number"],
        );
        Cold {
            wall,
            claim,
            assoc,
            calls,
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Figures {
    wall: Duration,
    claim: Duration,
    assoc: Duration,
    calls: usize,
}

async fn measure(bench: &Bench, latency_ms: u64, reps: usize) -> Figures {
    let mut runs = Vec::new();
    for _ in 0..reps {
        runs.push(bench.run(latency_ms).await);
    }
    Figures {
        wall: median(runs.iter().map(|r| r.wall).collect()),
        claim: median(runs.iter().map(|r| r.claim).collect()),
        assoc: median(runs.iter().map(|r| r.assoc).collect()),
        calls: runs.last().expect("one run").calls,
    }
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

    let file = dir.path().join("bounds.yaml");
    std::fs::write(&file, stack_text("bench-bounds")).expect("write stack");
    let loaded = resetpw::stack::load(&file).expect("load the benchmark stack");
    let resources = resetpw::resources::for_stack(&loaded);
    let bounds = resetpw::engine::bounds(&resources);

    let zero = measure(&bench, 0, reps).await;
    let at = measure(&bench, latency_ms, reps).await;
    let rounds = (at.wall.as_secs_f64() - zero.wall.as_secs_f64()) / (latency_ms as f64 / 1000.0);
    let secs = |d: Duration| format!("{:.2}", d.as_secs_f64());
    println!(
        "cold up of demo.yaml with its phone line ({} resources), {latency_ms} ms injected per call, median of {reps}",
        resources.len()
    );
    println!(
        "{:<8}  {:>6}  {:>6}  {:>6}  {:>5}  {:>5}  {:>5}  {:>7}  {:>7}  {:>7}  {:>7}",
        "",
        "wall@0",
        "wall@L",
        "rounds",
        "bound",
        "ratio",
        "calls",
        "claim@0",
        "assoc@0",
        "claim@L",
        "assoc@L"
    );
    println!(
        "{:<8}  {:>6.2}  {:>6.2}  {rounds:>6.1}  {:>5}  {:>5.2}  {:>5}  {:>7}  {:>7}  {:>7}  {:>7}",
        "cold up",
        zero.wall.as_secs_f64(),
        at.wall.as_secs_f64(),
        bounds.cold_up,
        rounds / bounds.cold_up as f64,
        at.calls,
        secs(zero.claim),
        secs(zero.assoc),
        secs(at.claim),
        secs(at.assoc),
    );
    let plan = bounds.cold_up - bounds.chain.iter().map(|(_, r)| r).sum::<usize>();
    println!(
        "cold up bound: {plan} plan rounds + the longest chain of creates: {}",
        bounds
            .chain
            .iter()
            .map(|(id, rounds)| format!("{id} ({rounds})"))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let number = resources
        .iter()
        .find(|r| r.id() == "connect-phone-number")
        .expect("the stack has a phone number");
    println!(
        "the phone number waits for: {}",
        number.depends_on().join(", ")
    );
}
