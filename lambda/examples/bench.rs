//! Benchmark of the real `bootstrap` against the local directory and cloud, next to the
//! directory's own cost measured in the same run.
//!
//!   eval "$(scripts/local-directory start)"; eval "$(scripts/local-cloud start)"
//!   cargo build --release -p resetpw-lambda --bin bootstrap --example bench
//!   target/release/examples/bench [COLD_STARTS [RESETS]]
//!
//! The Lambda Runtime API is served by a minimal responder (tests/support/runtime.rs), since
//! AWS's runtime interface emulator is not available from this project's registries.
//!
//! - init: spawn of `bootstrap` to its first poll for an event (the Lambda init phase), and
//!   the KMS decrypt round trip inside it (from its "cold start complete" log line);
//! - cold first reset: spawn to the first response (init and one full reset);
//! - warm reset: event handed out to response, in one process that stays up, as p50/p95;
//! - directory floor: a search plus the unicodePwd modify on one bound LDAPS connection
//!   (Nagle off), the least any reset can cost against this directory — one right before each
//!   warm reset, so a busy machine weighs on both alike;
//! - where a warm reset goes, from the `lookup_ms`/`attempts_ms`/`reset_ms`/`sms_ms` of the
//!   bootstrap's audit lines: the AWS calls it waits for and the rest;
//! - peak memory (VmHWM) of the warm process after all its resets;
//! - the warm reset with the one-time code (RESETPW_ONE_TIME_CODE=on), a request of three Lex
//!   turns as the bot sends them: the dialog turn after the last knowledge answer (verify, store
//!   the code's digest, text it), the turn with the code (check it), the fulfillment (verify
//!   again, reset, text the password); the code is read from the local cloud's SMS record in
//!   between, as the caller's phone would show it (that wait is not counted).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, LdapConnSettings, Mod, Scope, StdStream};
use secrecy::SecretString;
use serde_json::{json, Value};

use support::runtime::{spawn_bootstrap, RuntimeApi};
use support::*;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn bootstrap_path() -> std::path::PathBuf {
    // BENCH_BOOTSTRAP (another build, to compare), else the one built alongside this example.
    if let Ok(path) = std::env::var("BENCH_BOOTSTRAP") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("bootstrap");
    assert!(
        path.exists(),
        "{} not found: run `cargo build --release -p resetpw-lambda --bin bootstrap` first",
        path.display()
    );
    path
}

fn event(i: usize) -> String {
    json!({
        "messageVersion": "1.0",
        "invocationSource": "FulfillmentCodeHook",
        "inputMode": "Speech",
        "sessionId": format!("bench-{i}"),
        "sessionState": {
            "sessionAttributes": {"ContactId": format!("bench-{i}")},
            "intent": {"name": "ResetPW", "state": "ReadyForFulfillment", "slots": {
                "UserID": slot(BENCH.sam), "DOB": slot(BENCH.dob), "MonthStarted": slot(BENCH.month)
            }}
        }
    })
    .to_string()
}

/// A turn of a request with the one-time code: `source` for session `session`, the knowledge
/// answers right, `code` in the Code slot.
fn code_event(source: &str, session: &str, code: Option<&str>) -> String {
    json!({
        "messageVersion": "1.0",
        "invocationSource": source,
        "inputMode": "Speech",
        "sessionId": session,
        "sessionState": {
            "sessionAttributes": {"ContactId": session},
            "intent": {"name": "ResetPW", "state": "InProgress", "slots": {
                "UserID": slot(BENCH.sam), "DOB": slot(BENCH.dob), "MonthStarted": slot(BENCH.month),
                "Code": code.map(slot).unwrap_or(Value::Null)
            }}
        }
    })
    .to_string()
}

/// The dialog action's type of an answer.
fn dialog_action(body: &str) -> String {
    let v: Value = serde_json::from_str(body).expect("JSON answer");
    v["sessionState"]["dialogAction"]["type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn assert_fulfilled(body: &str, what: &str) {
    let v: Value = serde_json::from_str(body).expect("JSON answer");
    assert_eq!(
        v["sessionState"]["intent"]["state"], "Fulfilled",
        "{what} was not fulfilled: {v}"
    );
}

/// The JSON lines bootstrap logged.
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// Reads the JSON lines of a running bootstrap's log as they come (a full pipe would stall
/// the process); they are all there once it has ended.
fn read_log(child: &mut tokio::process::Child) -> tokio::task::JoinHandle<Vec<Value>> {
    let stdout = child.stdout.take().expect("stdout is piped");
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut parsed = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                parsed.push(v);
            }
        }
        parsed
    })
}

/// The figure `name` (µs) of the `cold start complete` line bootstrap logged.
fn logged(stdout: &[u8], name: &str) -> Duration {
    json_lines(stdout)
        .into_iter()
        .find(|v| v["message"] == "cold start complete")
        .map(|v| Duration::from_micros(v[name].as_u64().unwrap_or(0)))
        .expect("bootstrap logs its cold start")
}

struct Cold {
    init: Duration,
    first_reset: Duration,
    kms: Duration,
    init_in_process: Duration,
    /// In-process parts of init besides KMS: environment, SDK configuration, directory TLS.
    config: Duration,
    sdk: Duration,
    tls: Duration,
    runtime: Duration,
    logging: Duration,
    /// The first reset's audit timings: lookup (with any wait for the connection opened at
    /// cold start), attempts read, password write, SMS.
    phases: [Duration; 4],
}

async fn cold_start(vars: &std::collections::HashMap<String, String>, i: usize) -> Cold {
    let api = RuntimeApi::start().await;
    api.push(event(i));
    let started = Instant::now();
    let mut child = spawn_bootstrap(&bootstrap_path(), &api, vars);
    let answer = api.answer(0, Duration::from_secs(30)).await;
    assert_fulfilled(&answer.body, "cold reset");
    let init = api.first_poll().unwrap() - started;
    let _ = child.kill().await;
    let out = child.wait_with_output().await.unwrap();
    Cold {
        init,
        first_reset: answer.at - started,
        kms: logged(&out.stdout, "kms_decrypt_us"),
        init_in_process: logged(&out.stdout, "init_us"),
        config: logged(&out.stdout, "config_us"),
        sdk: logged(&out.stdout, "sdk_us"),
        tls: logged(&out.stdout, "tls_us"),
        runtime: logged(&out.stdout, "runtime_us"),
        logging: logged(&out.stdout, "logging_us"),
        phases: audit_timings(&json_lines(&out.stdout), &format!("bench-{i}")),
    }
}

/// One warm reset as the bench saw it and as the bootstrap's audit line timed its parts.
struct WarmReset {
    latency: Duration,
    lookup: Duration,
    attempts: Duration,
    reset: Duration,
    sms: Duration,
}

impl WarmReset {
    /// Time on the path spent waiting for AWS: the attempts read where it outlasted the
    /// search it runs beside, and the SMS.
    fn aws_on_path(&self) -> Duration {
        self.attempts.saturating_sub(self.lookup) + self.sms
    }

    /// Everything that is neither the directory nor AWS: the Runtime API round trip, the
    /// event and the response, password generation, the audit line.
    fn own(&self) -> Duration {
        self.latency
            .saturating_sub(self.lookup.max(self.attempts) + self.reset + self.sms)
    }
}

/// The phase timings (`lookup_ms`, ...) of the audit line of contact `contact`.
fn audit_timings(lines: &[Value], contact: &str) -> [Duration; 4] {
    let line = lines
        .iter()
        .find(|v| v["audit"] == "resetpw" && v["contact_id"] == contact)
        .unwrap_or_else(|| panic!("bootstrap logged no audit line for {contact}"));
    ["lookup_ms", "attempts_ms", "reset_ms", "sms_ms"].map(|name| {
        Duration::from_secs_f64(
            line[name]
                .as_f64()
                .unwrap_or_else(|| panic!("the audit line of {contact} has no {name}: {line}"))
                / 1000.0,
        )
    })
}

/// Warm resets in one process, each right after one directory-floor operation (interleaved,
/// so a busy machine weighs on both alike); returns the warm resets, the floor's latencies,
/// and the process's peak memory (kB).
async fn warm(
    vars: &std::collections::HashMap<String, String>,
    resets: usize,
) -> (Vec<WarmReset>, Vec<Duration>, u64) {
    let mut floor = Floor::open().await;
    let mut floors = Vec::with_capacity(resets);
    let api = RuntimeApi::start().await;
    let mut child = spawn_bootstrap(&bootstrap_path(), &api, vars);
    let log = read_log(&mut child);
    api.push(event(1000));
    assert_fulfilled(
        &api.answer(0, Duration::from_secs(30)).await.body,
        "first reset",
    );
    let mut latencies = Vec::with_capacity(resets);
    for i in 1..=resets {
        floors.push(floor.one().await);
        api.push(event(1000 + i));
        let answer = api.answer(i, Duration::from_secs(30)).await;
        assert_fulfilled(&answer.body, "warm reset");
        latencies.push(answer.at - api.sent_at(i));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id().unwrap()))
        .unwrap_or_default();
    let peak_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = child.kill().await;
    let _ = child.wait().await;
    let _ = floor.ldap.unbind().await;
    let lines = log.await.expect("log reader");
    let warm = latencies
        .into_iter()
        .enumerate()
        .map(|(i, latency)| {
            let [lookup, attempts, reset, sms] =
                audit_timings(&lines, &format!("bench-{}", 1001 + i));
            WarmReset {
                latency,
                lookup,
                attempts,
                reset,
                sms,
            }
        })
        .collect();
    (warm, floors, peak_kb)
}

/// One warm request with the one-time code: each of its three turns (event -> response) and
/// the code step as the bootstrap's audit line timed it (digest, store, SMS).
struct CodeRequest {
    send_code: Duration,
    check_code: Duration,
    reset: Duration,
    code_ms: Duration,
}

/// `requests` warm requests with the one-time code in one process (after one to warm it up).
async fn warm_with_code(
    vars: &std::collections::HashMap<String, String>,
    app: &str,
    requests: usize,
) -> Vec<CodeRequest> {
    let mut vars = vars.clone();
    vars.insert("RESETPW_ONE_TIME_CODE".into(), "on".into());
    let api = RuntimeApi::start().await;
    let mut child = spawn_bootstrap(&bootstrap_path(), &api, &vars);
    let log = read_log(&mut child);
    let mut turn = 0;
    let mut timed = Vec::with_capacity(requests);
    for i in 0..=requests {
        let session = format!("bench-code-{i}");
        let texted = sms_published(app).await.len();
        let mut step = |event: String| {
            api.push(event);
            turn += 1;
            turn - 1
        };
        let n = step(code_event("DialogCodeHook", &session, None));
        let answer = api.answer(n, Duration::from_secs(30)).await;
        assert_eq!(
            dialog_action(&answer.body),
            "ElicitSlot",
            "no code asked: {}",
            answer.body
        );
        let send_code = answer.at - api.sent_at(n);
        let code = loop {
            if let Some((_, text)) = sms_published(app).await.get(texted) {
                break code_in(text);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let n = step(code_event("DialogCodeHook", &session, Some(&code)));
        let answer = api.answer(n, Duration::from_secs(30)).await;
        assert_eq!(
            dialog_action(&answer.body),
            "Delegate",
            "code refused: {}",
            answer.body
        );
        let check_code = answer.at - api.sent_at(n);
        let n = step(code_event("FulfillmentCodeHook", &session, Some(&code)));
        let answer = api.answer(n, Duration::from_secs(30)).await;
        assert_fulfilled(&answer.body, "reset with the code");
        let reset = answer.at - api.sent_at(n);
        if i > 0 {
            timed.push((session, send_code, check_code, reset));
        }
    }
    let _ = child.kill().await;
    let _ = child.wait().await;
    let lines = log.await.expect("log reader");
    timed
        .into_iter()
        .map(|(session, send_code, check_code, reset)| {
            let code_ms = lines
                .iter()
                .find(|v| {
                    v["audit"] == "resetpw"
                        && v["contact_id"] == session.as_str()
                        && v["code_ms"].is_number()
                })
                .and_then(|v| v["code_ms"].as_f64())
                .unwrap_or_else(|| panic!("no audit line of {session} times the code step"));
            CodeRequest {
                send_code,
                check_code,
                reset,
                code_ms: Duration::from_secs_f64(code_ms / 1000.0),
            }
        })
        .collect()
}

/// Search + unicodePwd modify on one bound LDAPS connection (TCP_NODELAY on), as the service
/// account: what the directory itself costs for one reset.
struct Floor {
    ldap: ldap3::Ldap,
    filter: String,
}

impl Floor {
    async fn open() -> Floor {
        let pem = std::fs::read_to_string(env("LOCAL_DIRECTORY_CA_FILE")).unwrap();
        let tls = resetpw_lambda::ldap::tls_config(&pem).unwrap();
        let url = env("LOCAL_DIRECTORY_LDAPS_URL");
        let (host, port) = resetpw_lambda::config::ldap_endpoint(&url, false).unwrap();
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .unwrap();
        tcp.set_nodelay(true).unwrap();
        let settings = LdapConnSettings::new()
            .set_config(tls)
            .set_std_stream(StdStream::Tcp(tcp.into_std().unwrap()));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &url).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(
            &env("LOCAL_DIRECTORY_BIND_DN"),
            &env("LOCAL_DIRECTORY_BIND_PASSWORD"),
        )
        .await
        .unwrap()
        .success()
        .expect("service account binds");
        let filter = resetpw_lambda::ldap::user_filter("sAMAccountName", BENCH.sam);
        Floor { ldap, filter }
    }

    /// One search + modify, timed.
    async fn one(&mut self) -> Duration {
        let attrs = vec![
            "sAMAccountName",
            "displayName",
            "telephoneNumber",
            "birthDate",
            "monthStarted",
        ];
        let password: SecretString =
            resetpw_lambda::password::generate(&mut rand::rng(), 16, BENCH.sam, "Bench Marker")
                .unwrap();
        let started = Instant::now();
        let (entries, _) = self
            .ldap
            .search(
                &env("LOCAL_DIRECTORY_BASE_DN"),
                Scope::Subtree,
                &self.filter,
                attrs,
            )
            .await
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(entries.len(), 1);
        self.ldap
            .modify(
                &user_dn(BENCH.sam),
                vec![
                    Mod::Replace(
                        b"unicodePwd".to_vec(),
                        HashSet::from([resetpw_lambda::password::unicode_pwd(&password)]),
                    ),
                    Mod::Replace(b"pwdLastSet".to_vec(), HashSet::from([b"0".to_vec()])),
                    Mod::Replace(b"lockoutTime".to_vec(), HashSet::from([b"0".to_vec()])),
                ],
            )
            .await
            .unwrap()
            .success()
            .expect("the service account resets the password");
        started.elapsed()
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cold_runs = args.first().copied().unwrap_or(5).max(1);
    let resets = args.get(1).copied().unwrap_or(30).max(1);

    let setup = Setup::new("bench").with("RESETPW_CALLER_ID_CHECK", "off");
    let vars = setup.bootstrap_environment().await;

    let mut colds = Vec::new();
    for i in 0..cold_runs {
        colds.push(cold_start(&vars, i).await);
    }
    let (resets, mut floor, peak_kb) = warm(&vars, resets).await;
    let mut lat: Vec<Duration> = resets.iter().map(|r| r.latency).collect();
    lat.sort();
    floor.sort();

    let median = |mut v: Vec<Duration>| {
        v.sort();
        percentile(&v, 0.5)
    };
    let init = median(colds.iter().map(|c| c.init).collect());
    let kms = median(colds.iter().map(|c| c.kms).collect());
    let in_process = median(colds.iter().map(|c| c.init_in_process).collect());
    let init_minus_kms = median(colds.iter().map(|c| c.init.saturating_sub(c.kms)).collect());
    let config = median(colds.iter().map(|c| c.config).collect());
    let sdk = median(colds.iter().map(|c| c.sdk).collect());
    let tls = median(colds.iter().map(|c| c.tls).collect());
    let runtime = median(colds.iter().map(|c| c.runtime).collect());
    let logging = median(colds.iter().map(|c| c.logging).collect());
    let first = median(colds.iter().map(|c| c.first_reset).collect());
    let floor_p50 = percentile(&floor, 0.5);
    let warm_p50 = percentile(&lat, 0.5);

    println!("directory floor (search + unicodePwd modify, one bound connection), n={}: p50 {:.1} ms  p95 {:.1} ms",
        floor.len(), ms(floor_p50), ms(percentile(&floor, 0.95)));
    println!("init (spawn -> first poll), n={cold_runs}: p50 {:.1} ms; in-process {:.1} ms; KMS decrypt {:.1} ms; init minus KMS {:.1} ms (goal <= 3 ms)",
        ms(init), ms(in_process), ms(kms), ms(init_minus_kms));
    println!("  in-process parts, p50: tokio runtime {:.2} ms, logging {:.2} ms, environment {:.2} ms, SDK configuration {:.2} ms, directory TLS {:.2} ms; outside main's clock (exec, first poll) {:.1} ms",
        ms(runtime), ms(logging), ms(config), ms(sdk), ms(tls), ms(init.saturating_sub(in_process)));
    println!("cold first reset (spawn -> first response), n={cold_runs}: p50 {:.1} ms = {:.2} x floor (goal <= 3)",
        ms(first), ms(first) / ms(floor_p50));
    let phase = |k: usize| ms(median(colds.iter().map(|c| c.phases[k]).collect()));
    println!("  its parts, p50: init {:.1} ms, then the search {:.1} ms (with any wait for the connection opened at cold start) beside the attempts read {:.1} ms, password write {:.1} ms, SMS {:.1} ms",
        ms(init), phase(0), phase(1), phase(2), phase(3));
    println!("warm reset (event -> response), n={}: p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms; p50 = {:.2} x floor (goal <= 1.2)",
        lat.len(), ms(warm_p50), ms(percentile(&lat, 0.95)), ms(*lat.last().unwrap()), ms(warm_p50) / ms(floor_p50));
    let part = |f: fn(&WarmReset) -> Duration| median(resets.iter().map(f).collect());
    let aws = part(WarmReset::aws_on_path);
    println!("  where a warm reset goes (p50 of the bootstrap's own audit timings): search {:.1} ms beside the attempts read {:.1} ms, password write {:.1} ms, SMS {:.1} ms; waiting for AWS on the path (attempts read beyond the search + SMS) {:.1} ms; Runtime API, event, response and the rest {:.1} ms",
        ms(part(|r| r.lookup)), ms(part(|r| r.attempts)), ms(part(|r| r.reset)), ms(part(|r| r.sms)), ms(aws), ms(part(WarmReset::own)));
    println!(
        "  warm p50 without the AWS waits on its path: {:.1} ms = {:.2} x floor",
        ms(warm_p50.saturating_sub(aws)),
        ms(warm_p50.saturating_sub(aws)) / ms(floor_p50)
    );
    println!(
        "peak memory of the warm process (VmHWM): {:.1} MB (goal < 20 MB)",
        peak_kb as f64 / 1024.0
    );

    let coded = warm_with_code(&vars, &setup.app, lat.len().min(20)).await;
    let p = |f: fn(&CodeRequest) -> Duration| {
        let mut v: Vec<Duration> = coded.iter().map(f).collect();
        v.sort();
        (ms(percentile(&v, 0.5)), ms(percentile(&v, 0.95)))
    };
    let (send50, send95) = p(|r| r.send_code);
    let (check50, check95) = p(|r| r.check_code);
    let (reset50, reset95) = p(|r| r.reset);
    let (total50, total95) = p(|r| r.send_code + r.check_code + r.reset);
    let (code50, _) = p(|r| r.code_ms);
    println!("warm reset with the one-time code (three turns, event -> response each), n={}: code sent p50 {send50:.1} ms p95 {send95:.1} ms (its code step: digest, store, SMS {code50:.1} ms); code checked p50 {check50:.1} ms p95 {check95:.1} ms; reset p50 {reset50:.1} ms p95 {reset95:.1} ms; the three together p50 {total50:.1} ms p95 {total95:.1} ms = {:.2} x the reset without the code",
        coded.len(), total50 / ms(warm_p50));
}
