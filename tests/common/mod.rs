//! Shared harness for the integration tests: they drive the real `resetpw` binary against the
//! local cloud (`scripts/local-cloud start`, or `scripts/test` which starts everything) and check
//! results with the AWS SDK and the local cloud's call record, never with the tool's own output.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The local cloud's base URL; fails loudly when it is not running.
pub fn cloud_url() -> String {
    std::env::var("LOCAL_CLOUD_URL").unwrap_or_else(|_| {
        panic!("LOCAL_CLOUD_URL is not set: run the tests with scripts/test, or `eval \"$(scripts/local-cloud start)\"` first")
    })
}

/// A name no other test (or earlier run against the same local cloud) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!(
        "{prefix}-{}-{n}-{}",
        std::process::id() % 100_000,
        fastrand::u32(..10_000)
    )
}

/// One test's view: a stack name, an SDK app id that tags its calls in the record, and a
/// scratch directory for its stack file.
pub struct Case {
    pub stack: String,
    pub app: String,
    pub dir: tempfile::TempDir,
}

impl Case {
    pub fn new(prefix: &str) -> Self {
        cloud_url();
        let stack = unique(prefix);
        Case {
            app: format!("t-{stack}"),
            stack,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes a stack file named `<stack>.yaml` with the directory and secret sections, plus
    /// `extra` YAML appended; returns its path.
    pub fn write_stack(&self, extra: &str) -> PathBuf {
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-ca.pem");
        std::fs::copy(ca, self.dir.path().join("ca.pem")).expect("copy CA");
        let text = format!(
            "name: {}\nregion: us-east-1\ntags:\n  team: it\ndirectory:\n  urls: [ldaps://dc1.corp.example.com:636]\n  base_dn: OU=Staff,DC=corp,DC=example,DC=com\n  bind_dn: CN=svc-resetpw,DC=corp,DC=example,DC=com\n  ca_file: ca.pem\nsecret:\n  env: TEST_BIND_PASSWORD\n{extra}",
            self.stack
        );
        self.write_raw(&text)
    }

    /// Writes a stack file with the directory and secret sections, a `fulfillment` section
    /// deploying `fn.zip` (a tiny zip of a shell script, written beside it: no release build
    /// needed), plus `extra` YAML appended; returns its path.
    pub fn write_stack_with_function(&self, extra: &str) -> PathBuf {
        self.write_stack_with_bootstrap("#!/bin/sh\n", extra)
    }

    /// Like [`Case::write_stack_with_function`], with `script` as the function's `bootstrap`
    /// (e.g. a bash Runtime API loop that answers Lex as a test scripts it).
    pub fn write_stack_with_bootstrap(&self, script: &str, extra: &str) -> PathBuf {
        let zip = resetpw::package::zip_bootstrap(script.as_bytes()).expect("zip");
        std::fs::write(self.dir.path().join("fn.zip"), zip).expect("write fn.zip");
        self.write_stack(&format!("fulfillment:\n  package: fn.zip\n{extra}"))
    }

    pub fn write_raw(&self, text: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{}.yaml", self.stack));
        std::fs::write(&path, text).expect("write stack");
        path
    }

    /// The binary with this case's environment: the local cloud's exports are inherited, the
    /// app id tags its calls, progress is plain.
    pub fn resetpw(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_resetpw"));
        cmd.args(args)
            .arg("--progress")
            .arg("plain")
            .env("AWS_SDK_UA_APP_ID", &self.app)
            .env("TEST_BIND_PASSWORD", "Initial-Passw0rd!")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary and returns its output; panics with both streams when the exit code
    /// differs from `expect`.
    pub fn run(&self, args: &[&str], expect: i32) -> Output {
        self.run_cmd(self.resetpw(args), expect)
    }

    pub fn run_cmd(&self, mut cmd: Command, expect: i32) -> Output {
        let out = cmd.output().expect("run resetpw");
        let code = out.status.code().unwrap_or(-1);
        assert_eq!(
            code,
            expect,
            "resetpw {:?} exited {code}, expected {expect}\n--- stdout\n{}\n--- stderr\n{}",
            cmd.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Every call this case's processes made, in order.
    pub async fn calls(&self) -> Vec<Value> {
        let url = format!("{}/_localcloud/calls?app={}", cloud_url(), self.app);
        reqwest::get(url)
            .await
            .expect("call record")
            .json()
            .await
            .expect("call record JSON")
    }

    /// How many `service` `operation` calls this case made after record position `since`.
    pub async fn count_since(&self, since: u64, service: &str, operation: &str) -> usize {
        self.calls()
            .await
            .iter()
            .filter(|c| c["seq"].as_u64().unwrap_or(0) > since)
            .filter(|c| c["service"] == service && c["operation"] == operation)
            .count()
    }

    /// Calls that change state, made after record position `since`.
    pub async fn mutating_since(&self, since: u64) -> Vec<String> {
        self.calls()
            .await
            .into_iter()
            .filter(|c| c["mutating"] == true && c["seq"].as_u64().unwrap_or(0) > since)
            .map(|c| {
                format!(
                    "{} {}",
                    c["service"].as_str().unwrap_or(""),
                    c["operation"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Waits until every call this case's processes made has been answered: after a kill, the
    /// cloud still finishes what it had received, as AWS does.
    pub async fn settle(&self) {
        let started = std::time::Instant::now();
        while self.calls().await.iter().any(|c| c["status"].is_null()) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "calls still in flight after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Runs `up -f file` and kills it (SIGKILL) as soon as the mutating calls recorded so far
    /// satisfy `reached`, then waits for the cloud to answer what it had received. Gives
    /// whether `reached` held before the kill (false: `up` ended first or `limit` passed).
    pub async fn kill_up_when(
        &self,
        file: &str,
        limit: std::time::Duration,
        reached: impl Fn(&[String]) -> bool,
    ) -> bool {
        let mut child = self
            .resetpw(&["up", "-f", file])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let mut hit = false;
        while started.elapsed() < limit {
            if reached(&self.mutating_since(0).await) {
                hit = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        self.settle().await;
        hit
    }

    /// The record position now, to count from.
    pub async fn mark(&self) -> u64 {
        self.calls()
            .await
            .last()
            .and_then(|c| c["seq"].as_u64())
            .unwrap_or(0)
    }

    /// Injects a fault for this case's calls only.
    pub async fn inject(&self, mut rule: Value) {
        rule["app"] = Value::String(self.app.clone());
        let url = format!("{}/_localcloud/faults", cloud_url());
        let status = reqwest::Client::new()
            .post(url)
            .json(&rule)
            .send()
            .await
            .expect("fault")
            .status();
        assert!(status.is_success(), "fault rule refused: {status}");
    }

    pub async fn clear_faults(&self) {
        let url = format!("{}/_localcloud/faults?app={}", cloud_url(), self.app);
        reqwest::Client::new()
            .delete(url)
            .send()
            .await
            .expect("clear faults");
    }
}

/// The utterances of a stack's bot (its ResetPW intent) when the tests do not change them.
/// "I am locked out" is the UnlockAccount intent's.
pub const DEFAULT_UTTERANCES: [&str; 3] = [
    "reset my password",
    "I forgot my password",
    "password reset",
];

/// The stack's `bot` section with these utterances (and voice).
pub fn bot_section(voice: &str, utterances: &[&str]) -> String {
    let list: Vec<String> = utterances.iter().map(|u| format!("    - {u}\n")).collect();
    format!(
        "bot:\n  locale: en_US\n  voice: {voice}\n  confidence_threshold: 0.4\n  idle_session_ttl_seconds: 300\n  utterances:\n{}",
        list.join("")
    )
}

/// SDK configuration for checking results: the same environment the binary gets.
pub async fn sdk() -> aws_config::SdkConfig {
    cloud_url();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
