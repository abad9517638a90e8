//! The CLI as a user meets it: `up` asks on a terminal (driven under a real pseudo-terminal with
//! util-linux `script`), applies without asking when standard input is not a terminal,
//! `--output json` event streams, shell completions and the man page.

mod common;

use common::{sdk, stdout, Case};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `resetpw <args>` under a pseudo-terminal: `script` gives the child a pty for standard input
/// and output, copies what we write to its standard input into the pty, and the pty's output
/// (the child's stdout and stderr) to its standard output.
struct Pty {
    child: Child,
    screen: Arc<Mutex<String>>,
}

impl Pty {
    fn spawn(case: &Case, args: &[&str]) -> Pty {
        let cmd = case.resetpw(args);
        let line: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| format!("'{}'", a.to_str().expect("utf-8 argument")))
            .collect();
        let mut script = Command::new("script");
        script
            .args([
                "--quiet",
                "--return",
                "--command",
                &line.join(" "),
                "/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        let mut child = script
            .spawn()
            .expect("run `script` (util-linux) to get a pseudo-terminal");
        let screen = Arc::new(Mutex::new(String::new()));
        let mut out = child.stdout.take().expect("script stdout");
        let s = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Pty { child, screen }
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// Waits until the screen shows `text`; panics with the screen after 60 s or if the child
    /// exits first.
    fn expect(&mut self, text: &str) {
        let started = Instant::now();
        while !self.screen().contains(text) {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                panic!(
                    "exited ({status}) before showing {text:?}:\n{}",
                    self.screen()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no {text:?} after 60 s:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("script stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("type");
        stdin.flush().expect("flush");
    }

    fn wait(mut self) -> (i32, String) {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("wait");
        // Let the reader drain what is left.
        std::thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), self.screen())
    }
}

async fn alias_exists(stack: &str) -> bool {
    let kms = aws_sdk_kms::Client::new(&sdk().await);
    kms.describe_key()
        .key_id(format!("alias/{stack}-directory"))
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_on_a_terminal_waits_for_the_answer_and_no_changes_nothing() {
    let case = Case::new("cli-no");
    let file = case.write_stack("");
    let f = path_str(&file);
    let mut pty = Pty::spawn(&case, &["up", "-f", f]);
    pty.expect(&format!(
        "Apply these changes to stack `{}`? [y/N]",
        case.stack
    ));
    // It has planned and is waiting: nothing changed yet, and it is still running.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pty.child.try_wait().unwrap().is_none(),
        "up did not wait for the answer"
    );
    assert!(pty.screen().contains("Plan: "), "{}", pty.screen());
    assert_eq!(case.mutating_since(0).await, Vec::<String>::new());
    pty.type_line("n");
    let (code, screen) = pty.wait();
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("nothing was changed"), "{screen}");
    case.settle().await;
    assert_eq!(
        case.mutating_since(0).await,
        Vec::<String>::new(),
        "answering n must make no mutating call"
    );
    assert!(!alias_exists(&case.stack).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn up_on_a_terminal_applies_after_y_and_asks_nothing_when_converged() {
    let case = Case::new("cli-yes");
    let file = case.write_stack("");
    let f = path_str(&file);
    let mut pty = Pty::spawn(&case, &["up", "-f", f]);
    pty.expect("[y/N]");
    assert_eq!(case.mutating_since(0).await, Vec::<String>::new());
    pty.type_line("y");
    let (code, screen) = pty.wait();
    assert_eq!(code, 0, "{screen}");
    assert!(!case.mutating_since(0).await.is_empty());
    assert!(alias_exists(&case.stack).await);

    // Converged: nothing to do, so no question (the pty gets no input and it still exits 0).
    let mark = case.mark().await;
    let pty = Pty::spawn(&case, &["up", "-f", f]);
    let (code, screen) = pty.wait();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("[y/N]"), "{screen}");
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());

    // --yes on a terminal: no question either.
    case.run(&["down", "-f", f, "--yes"], 0);
    let pty = Pty::spawn(&case, &["up", "-f", f, "--yes"]);
    let (code, screen) = pty.wait();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("[y/N]"), "{screen}");
    assert!(alias_exists(&case.stack).await);
    case.run(&["down", "-f", f, "--yes"], 0);
}

/// Every line of stdout as JSON; panics naming the line that is not.
fn json_lines(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Checks the shape of a JSON-lines run and returns (plan, resource events, summary).
fn split_stream(lines: &[Value]) -> (Value, Vec<Value>, Value) {
    assert!(lines.len() >= 2, "{lines:?}");
    let plan = lines[0].clone();
    assert_eq!(plan["type"], "plan", "first line is the plan: {plan}");
    let summary = lines.last().unwrap().clone();
    assert_eq!(summary["type"], "summary", "last line is the summary");
    let events: Vec<Value> = lines[1..lines.len() - 1].to_vec();
    for e in &events {
        assert_eq!(e["type"], "resource", "{e}");
        for key in [
            "time", "id", "kind", "name", "action", "state", "elapsed", "error",
        ] {
            assert!(e.get(key).is_some(), "event without `{key}`: {e}");
        }
        assert!(e["kind"].is_string() && e["name"].is_string(), "{e}");
        assert!(e["elapsed"].as_f64().is_some_and(|s| s >= 0.0), "{e}");
        humantime::parse_rfc3339(e["time"].as_str().unwrap()).expect("RFC 3339 time");
        assert!(
            ["started", "in_progress", "done", "failed", "unchanged"]
                .contains(&e["state"].as_str().unwrap()),
            "{e}"
        );
    }
    (plan, events, summary)
}

fn plan_ids(plan: &Value) -> BTreeSet<String> {
    plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn ids_in_state(events: &[Value], state: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["state"] == state)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn output_json_streams_every_resource_and_the_outputs_the_sdk_sees() {
    let case = Case::new("cli-json");
    let file = case.write_stack("");
    let f = path_str(&file);

    // No terminal on standard input and no --yes: applies without asking, as CI needs.
    let out = case.run(&["up", "-f", f, "--output", "json"], 0);
    let (plan, events, summary) = split_stream(&json_lines(&out));
    let ids = plan_ids(&plan);
    // key, alias, secret, role, policy and its attachment (no function, no network: no
    // AWS-managed policy is attached).
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(
        ids_in_state(&events, "done"),
        ids,
        "a done event per resource"
    );
    assert_eq!(ids_in_state(&events, "started"), ids);
    assert!(events.iter().all(|e| e["action"] == "create"));
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["command"], "up");
    assert_eq!(summary["counts"]["create"], ids.len());
    let text = stdout(&out);
    assert!(!text.contains("Initial-Passw0rd!"));
    assert!(!text.contains("Stack `"), "human text leaked to stdout");

    // The summary's outputs are what the SDK sees.
    let outputs = summary["outputs"].as_object().unwrap();
    let output = |k: &str| {
        outputs
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no output {k}: {outputs:?}"))
            .to_string()
    };
    assert!(
        !outputs.contains_key("directory-secret.ciphertext"),
        "a sensitive output was printed"
    );
    let config = sdk().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms
        .describe_key()
        .key_id(output("directory-key-alias.name"))
        .send()
        .await
        .expect("the alias in the outputs exists");
    let meta = key.key_metadata().unwrap();
    assert_eq!(output("directory-key.key_id"), meta.key_id());
    assert_eq!(output("directory-key.arn"), meta.arn().unwrap());
    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .get_role()
        .role_name(output("fulfillment-role.name"))
        .send()
        .await
        .unwrap();
    assert_eq!(output("fulfillment-role.arn"), role.role().unwrap().arn());
    let policy = iam
        .get_policy()
        .policy_arn(output("fulfillment-policy.arn"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        policy.policy().unwrap().policy_name(),
        Some(format!("{}-fulfillment", case.stack).as_str())
    );
    let ssm = aws_sdk_ssm::Client::new(&config);
    ssm.get_parameter()
        .name(output("directory-secret.name"))
        .send()
        .await
        .expect("the parameter in the outputs exists");

    // Converged: every resource reported unchanged, the same outputs, no mutating call.
    let mark = case.mark().await;
    let out = case.run(&["up", "-f", f, "-o", "json"], 0);
    let (plan, events, again) = split_stream(&json_lines(&out));
    assert_eq!(plan["pending"], false);
    assert!(events.is_empty(), "nothing to apply: {events:?}");
    assert_eq!(again["counts"]["unchanged"], ids.len());
    assert_eq!(again["outputs"], summary["outputs"]);
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());

    // down: a delete per resource, then the summary.
    let out = case.run(&["down", "-f", f, "--yes", "-o", "json"], 0);
    let (plan, events, summary) = split_stream(&json_lines(&out));
    let ids = plan_ids(&plan);
    assert_eq!(ids_in_state(&events, "done"), ids);
    assert!(events.iter().all(|e| e["action"] == "delete"));
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["counts"]["delete"], ids.len());
    assert!(!alias_exists(&case.stack).await);
}

#[test]
fn output_json_ends_with_a_failed_summary_on_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_resetpw"))
        .args(["up", "-f", "/nonexistent/resetpw.yaml", "-o", "json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "summary");
    assert_eq!(lines[0]["ok"], false);
    assert!(lines[0]["error"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/resetpw.yaml"));
}

#[test]
fn parallelism_must_be_at_least_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_resetpw"))
        .args(["up", "--parallelism", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--parallelism"));
}

#[test]
fn completions_and_man_page_mention_every_subcommand() {
    let subcommands = [
        "up",
        "diff",
        "down",
        "validate",
        "schema",
        "package",
        "completions",
        "man",
    ];
    let bin = env!("CARGO_BIN_EXE_resetpw");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = Command::new(bin)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        for sub in subcommands {
            assert!(text.contains(sub), "{shell} completions lack `{sub}`");
        }
    }
    let out = Command::new(bin).arg("man").output().unwrap();
    assert!(out.status.success());
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(man.contains(".TH resetpw 1"), "not a roff page");
    for sub in subcommands {
        assert!(
            man.contains(&format!(".SH \"RESETPW {}\"", sub.to_uppercase())),
            "man page lacks a section for `{sub}`"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn people_get_the_short_list_of_outputs_and_scripts_get_them_all() {
    let case = Case::new("cli-outputs");
    let file = case.write_stack("");
    let f = path_str(&file);
    let up = case.run(&["up", "-f", f], 0);
    let json: serde_json::Map<String, Value> =
        serde_json::from_str(&stdout(&case.run(&["outputs", "-f", f, "-o", "json"], 0))).unwrap();
    assert!(json.len() > 1, "{json:?}");
    // The JSON is what the SDK sees (the key alias, at least).
    let alias = json["directory-key-alias.name"].as_str().unwrap();
    let kms = aws_sdk_kms::Client::new(&sdk().await);
    kms.describe_key()
        .key_id(alias)
        .send()
        .await
        .expect("the alias exists");

    let short: Vec<&str> = resetpw::outputs::SHORT_LIST
        .iter()
        .copied()
        .filter(|k| json.contains_key(*k))
        .collect();
    assert_eq!(
        short,
        ["directory-key-alias.name"],
        "this stack has only the key alias of them"
    );
    let more = format!(
        "  {} more: resetpw outputs -f {f} --all",
        json.len() - short.len()
    );
    // `up` and `outputs` end with the short list and the count of the rest.
    for text in [stdout(&up), stdout(&case.run(&["outputs", "-f", f], 0))] {
        let listed: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "Outputs:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert_eq!(
            listed,
            [
                format!("  directory-key-alias.name = {alias}"),
                more.clone()
            ],
            "{text}"
        );
    }
    // --all: every output of the JSON, with its value.
    let all = stdout(&case.run(&["outputs", "-f", f, "--all"], 0));
    for (k, v) in &json {
        assert!(
            all.contains(&format!("  {k} = {}", v.as_str().unwrap())),
            "{k} missing: {all}"
        );
    }
    assert!(!all.contains("more: resetpw outputs"), "{all}");
    case.run(&["down", "-f", f, "--yes"], 0);
}
