//! Lambda's Invoke in the local cloud, checked with the official SDK (aws-sdk-lambda) against a
//! running local cloud (`scripts/local-cloud start`, or `scripts/test`): CreateFunction and the
//! updates go to moto and the emulator keeps the code; Invoke runs the zip's real `bootstrap`.
//! The test functions are bash + curl scripts made and zipped here, implementing the Lambda
//! Runtime API loop, so no release build is needed — and the `lambda_echo` example on the official
//! Rust runtime client, which `cargo test -p resetpw-local-cloud` builds (with `--test lambda`
//! alone cargo does not: run `cargo build -p resetpw-local-cloud --example lambda_echo` first).

mod common;

use aws_config::{AppName, BehaviorVersion, Region};
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, InvocationType, LogType, Runtime};
use aws_sdk_lambda::Client;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{cloud_url, endpoint_url, unique, zip_bootstrap};

/// The test function: the Runtime API loop, answering by what the event asks for. `@CODE@` marks
/// the code version, so an update is visible in the answer.
const BOOTSTRAP: &str = r#"#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
count=0
echo "cold start pid $$" >&2
while true; do
  headers="$(mktemp)"
  event="$(curl -sS --fail -D "$headers" "$api/invocation/next")" || exit 1
  header() { tr -d '\r' <"$headers" | grep -i "^$1:" | cut -d' ' -f2; }
  id="$(header lambda-runtime-aws-request-id)"
  deadline="$(header lambda-runtime-deadline-ms)"
  arn="$(header lambda-runtime-invoked-function-arn)"
  trace="$(header lambda-runtime-trace-id)"
  rm -f "$headers"
  count=$((count + 1))
  out="$(mktemp)"
  case "$event" in
    *'"crash"'*) echo "crashing on purpose" >&2; exit 3 ;;
    *'"fail"'*)
      curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Unhandled' \
        --data-binary '{"errorType":"InputError","errorMessage":"bad input"}' \
        "$api/invocation/$id/error" >/dev/null
      continue ;;
    *'"sleep"'*) sleep 30 & echo "$$ $!" >"$PIDFILE"; wait ;;
    *'"big"'*)
      { printf '"'; head -c 6400000 /dev/zero | tr '\0' a; printf '"'; } >"$out"
      status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary @"$out" "$api/invocation/$id/response")"
      echo "big response answered $status" >&2
      continue ;;
  esac
  echo "{\"audit\":\"test\",\"count\":$count}"
  printf '{"code":"@CODE@","pid":%d,"count":%d,"greeting":"%s","name":"%s","version":"%s","memory":"%s","region":"%s","endpoint":"%s","handler":"%s","arn":"%s","deadline":%s,"trace":"%s","event":%s}' \
    "$$" "$count" "${GREETING:-}" "$AWS_LAMBDA_FUNCTION_NAME" "$AWS_LAMBDA_FUNCTION_VERSION" \
    "$AWS_LAMBDA_FUNCTION_MEMORY_SIZE" "$AWS_REGION" "$AWS_ENDPOINT_URL" "$_HANDLER" "$arn" \
    "$deadline" "$trace" "$event" >"$out"
  curl -sS -X POST --data-binary @"$out" "$api/invocation/$id/response" >/dev/null
  rm -f "$out"
done
"#;

/// A deployment zip with the test `bootstrap` (mode 755) for code version `code`.
fn zip_with(code: &str) -> Vec<u8> {
    zip_bootstrap(&BOOTSTRAP.replace("@CODE@", code))
}

struct Case {
    lambda: Client,
    iam: aws_sdk_iam::Client,
    app: String,
}

impl Case {
    async fn new(prefix: &str) -> Case {
        cloud_url();
        let app = format!("t-{}", unique(prefix));
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint_url())
            .app_name(AppName::new(app.clone()).expect("a valid app name"))
            .load()
            .await;
        Case {
            lambda: Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            app,
        }
    }

    async fn role(&self) -> String {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        self.iam
            .create_role()
            .role_name(unique("fn-role"))
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("CreateRole")
            .role()
            .expect("a role")
            .arn()
            .to_string()
    }

    /// Creates a function running the test bootstrap at code version `code`.
    async fn function(&self, code: &str, timeout: i32, vars: &[(&str, &str)]) -> String {
        let name = unique("fn");
        let role = self.role().await;
        let variables: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.lambda
            .create_function()
            .function_name(&name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(role)
            .timeout(timeout)
            .memory_size(256)
            .environment(
                Environment::builder()
                    .set_variables(Some(variables))
                    .build(),
            )
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(zip_with(code)))
                    .build(),
            )
            .send()
            .await
            .expect("CreateFunction");
        name
    }

    /// Invokes synchronously; answers the function error (if any) and the payload as JSON.
    async fn invoke(&self, name: &str, event: Value) -> (Option<String>, Value) {
        let out = self
            .lambda
            .invoke()
            .function_name(name)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .expect("Invoke");
        assert_eq!(out.status_code(), 200);
        let payload = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let value = serde_json::from_slice(&payload).unwrap_or_else(|_| {
            panic!("the payload is JSON: {}", String::from_utf8_lossy(&payload))
        });
        (out.function_error().map(str::to_string), value)
    }

    async fn logs(&self, name: &str) -> Vec<Value> {
        let url = format!("{}/_localcloud/lambda/logs?function={name}", cloud_url());
        let answer = reqwest::get(url).await.expect("the log endpoint answers");
        assert_eq!(answer.status(), 200);
        match serde_json::from_slice(&answer.bytes().await.expect("a body")) {
            Ok(Value::Array(lines)) => lines,
            other => panic!("the logs are a list, not {other:?}"),
        }
    }

    /// Waits (bounded) until the function's log has a line containing `text`.
    async fn log_line(&self, name: &str, text: &str) -> Value {
        for _ in 0..100 {
            if let Some(line) = self
                .logs(name)
                .await
                .into_iter()
                .find(|l| l["message"].as_str().is_some_and(|m| m.contains(text)))
            {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no log line of {name} contains {text:?}: {:#?}",
            self.logs(name).await
        );
    }

    async fn calls(&self) -> Vec<Value> {
        let url = format!("{}/_localcloud/calls?app={}", cloud_url(), self.app);
        let answer = reqwest::get(url).await.expect("the call record answers");
        match serde_json::from_slice(&answer.bytes().await.expect("a body")) {
            Ok(Value::Array(calls)) => calls,
            other => panic!("the call record is a list, not {other:?}"),
        }
    }
}

/// True when the process is gone (or a zombie waiting to be reaped: it runs no more).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn invoke_runs_the_bootstrap_and_keeps_it_warm() {
    let case = Case::new("warm").await;
    let name = case.function("v1", 10, &[("GREETING", "hello")]).await;
    let before = now_ms();
    let (error, first) = case.invoke(&name, json!({"say": "hi", "n": 1})).await;
    assert_eq!(error, None);
    assert_eq!(
        first["event"],
        json!({"say": "hi", "n": 1}),
        "the payload went through"
    );
    assert_eq!(first["code"], "v1");
    assert_eq!(first["count"], 1);
    assert_eq!(first["greeting"], "hello", "the function's environment");
    assert_eq!(first["name"], name.as_str());
    assert_eq!(first["version"], "$LATEST");
    assert_eq!(first["memory"], "256");
    assert_eq!(first["region"], "us-east-1");
    assert_eq!(first["handler"], "bootstrap");
    assert_eq!(first["endpoint"], endpoint_url().trim_end_matches('/'));
    assert!(
        first["arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:lambda:us-east-1:")
                && a.ends_with(&format!(":function:{name}"))),
        "invoked function ARN: {}",
        first["arn"]
    );
    let deadline = first["deadline"].as_u64().expect("a deadline in ms");
    assert!(
        deadline > before && deadline <= now_ms() + 10_000,
        "the deadline is the timeout from now"
    );
    assert!(first["trace"]
        .as_str()
        .is_some_and(|t| t.starts_with("Root=1-")));

    let (_, second) = case.invoke(&name, json!({"n": 2})).await;
    assert_eq!(second["pid"], first["pid"], "the warm process was reused");
    assert_eq!(second["count"], 2);

    // The function's own output is in its log, with Lambda's START/END/REPORT lines.
    let audit = case.log_line(&name, r#"{"audit":"test","count":2}"#).await;
    assert_eq!(audit["stream"], "stdout");
    let cold = case.log_line(&name, "cold start pid").await;
    assert_eq!(cold["stream"], "stderr");
    case.log_line(&name, "START RequestId: ").await;
    case.log_line(&name, "REPORT RequestId: ").await;

    // The call record names the operation.
    let calls = case.calls().await;
    let invokes: Vec<&Value> = calls
        .iter()
        .filter(|c| c["operation"] == "Invoke")
        .collect();
    assert_eq!(invokes.len(), 2, "calls: {calls:#?}");
    assert!(invokes
        .iter()
        .all(|c| c["service"] == "lambda" && c["status"] == 200));
    assert!(calls.iter().any(|c| c["operation"] == "CreateFunction"));
}

#[tokio::test]
async fn code_and_configuration_changes_start_a_fresh_process() {
    let case = Case::new("update").await;
    let name = case.function("v1", 10, &[("GREETING", "hello")]).await;
    let (_, v1) = case.invoke(&name, json!({})).await;
    assert_eq!(v1["code"], "v1");
    case.lambda
        .publish_version()
        .function_name(&name)
        .send()
        .await
        .expect("PublishVersion");

    case.lambda
        .update_function_code()
        .function_name(&name)
        .zip_file(Blob::new(zip_with("v2")))
        .send()
        .await
        .expect("UpdateFunctionCode");
    let (_, v2) = case.invoke(&name, json!({})).await;
    assert_eq!(v2["code"], "v2", "the new code runs");
    assert_ne!(v2["pid"], v1["pid"], "in a fresh process");
    assert_eq!(v2["count"], 1);

    case.lambda
        .update_function_configuration()
        .function_name(&name)
        .environment(
            Environment::builder()
                .variables("GREETING", "bonjour")
                .build(),
        )
        .send()
        .await
        .expect("UpdateFunctionConfiguration");
    let (_, v3) = case.invoke(&name, json!({})).await;
    assert_eq!(v3["greeting"], "bonjour", "the new environment is visible");
    assert_eq!(v3["code"], "v2");
    assert_ne!(v3["pid"], v2["pid"]);

    // The published version still runs the code it was published with.
    let out = case
        .lambda
        .invoke()
        .function_name(&name)
        .qualifier("1")
        .send()
        .await
        .expect("Invoke version 1");
    assert_eq!(out.executed_version(), Some("1"));
    let old: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(old["code"], "v1");
    assert_eq!(old["greeting"], "hello");
    assert_eq!(old["version"], "1");
}

#[tokio::test]
async fn a_timeout_kills_the_process_and_answers_as_lambda() {
    let case = Case::new("timeout").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let pidfile = dir.path().join("pids");
    let name = case
        .function("v1", 1, &[("PIDFILE", pidfile.to_str().unwrap())])
        .await;
    let (error, payload) = case.invoke(&name, json!({"sleep": true})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(payload["errorType"], "Sandbox.Timedout");
    let message = payload["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("RequestId: ")
            && message.ends_with("Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    let pids: Vec<u32> = std::fs::read_to_string(&pidfile)
        .expect("the function wrote its pids")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    for _ in 0..100 {
        if pids.iter().all(|p| dead(*p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in pids {
        assert!(
            dead(pid),
            "process {pid} (bootstrap or its child) was killed"
        );
    }
    // The next invocation gets a fresh environment and answers.
    let (error, after) = case.invoke(&name, json!({"again": 1})).await;
    assert_eq!(error, None);
    assert_eq!(after["count"], 1);
}

#[tokio::test]
async fn crashes_and_function_errors_are_unhandled() {
    let case = Case::new("crash").await;
    let name = case.function("v1", 10, &[]).await;
    let (error, payload) = case.invoke(&name, json!({"crash": true})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(payload["errorType"], "Runtime.ExitError");
    let message = payload["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.ends_with("Error: Runtime exited with error: exit status 3"),
        "{message}"
    );
    case.log_line(&name, "crashing on purpose").await;

    let (error, payload) = case.invoke(&name, json!({"fail": true})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(
        payload,
        json!({"errorType": "InputError", "errorMessage": "bad input"})
    );
    // A function error leaves the process running.
    let (error, ok) = case.invoke(&name, json!({})).await;
    assert_eq!(error, None);
    assert_eq!(ok["count"], 2, "the same process answered after the error");

    let (error, payload) = case.invoke(&name, json!({"big": true})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(payload["errorType"], "Function.ResponseSizeTooLarge");
    case.log_line(&name, "big response answered 413").await;
}

#[tokio::test]
async fn invocation_types_limits_and_unknown_functions() {
    let case = Case::new("kinds").await;
    let name = case.function("v1", 10, &[]).await;

    let dry = case
        .lambda
        .invoke()
        .function_name(&name)
        .invocation_type(InvocationType::DryRun)
        .send()
        .await
        .expect("DryRun");
    assert_eq!(dry.status_code(), 204);

    let event = case
        .lambda
        .invoke()
        .function_name(&name)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"async":"yes"}"#))
        .send()
        .await
        .expect("Event");
    assert_eq!(event.status_code(), 202);
    case.log_line(&name, r#"{"audit":"test","count":1}"#).await;

    // By ARN, with the log tail.
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    let tail = case
        .lambda
        .invoke()
        .function_name(&arn)
        .log_type(LogType::Tail)
        .send()
        .await
        .expect("Invoke by ARN");
    let log = base64::engine::general_purpose::STANDARD
        .decode(tail.log_result().expect("a log tail"))
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(log.contains("START RequestId: "), "{log}");
    let warm: Value = serde_json::from_slice(tail.payload().unwrap().as_ref()).unwrap();
    let pid = u32::try_from(warm["pid"].as_u64().expect("a pid")).unwrap();
    assert!(!dead(pid));

    let too_big = format!(r#""{}""#, "a".repeat(6 * 1024 * 1024));
    let err = case
        .lambda
        .invoke()
        .function_name(&name)
        .payload(Blob::new(too_big))
        .send()
        .await
        .expect_err("a payload over 6 MB is refused");
    let err = err.into_service_error();
    assert!(err.is_request_too_large_exception(), "{err:?}");

    let err = case
        .lambda
        .invoke()
        .function_name(unique("missing"))
        .send()
        .await
        .expect_err("an unknown function");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = err.into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert!(err
        .message()
        .unwrap_or_default()
        .starts_with("Function not found: arn:aws:lambda:us-east-1:"));

    // A deleted function is forgotten.
    case.lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("DeleteFunction");
    let err = case
        .lambda
        .invoke()
        .function_name(&name)
        .send()
        .await
        .expect_err("a deleted function");
    assert!(err.into_service_error().is_resource_not_found_exception());
    for _ in 0..100 {
        if dead(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dead(pid), "the deleted function's process was stopped");
}

/// The `lambda_echo` example (built by `cargo test`), a function on the official Rust runtime
/// client.
fn lambda_echo_zip() -> Vec<u8> {
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples/lambda_echo"))
        .expect("the target directory");
    let binary = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build it with `cargo build -p resetpw-local-cloud --example lambda_echo` (cargo test builds it)",
            path.display()
        )
    });
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        writer.start_file("bootstrap", options).expect("zip entry");
        writer.write_all(&binary).expect("zip write");
        writer.finish().expect("zip finish");
    }
    out.into_inner()
}

#[tokio::test]
async fn the_official_rust_runtime_client_works_against_the_runtime_api() {
    let case = Case::new("rust").await;
    let name = unique("fn-rust");
    let role = case.role().await;
    case.lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role)
        .timeout(10)
        .memory_size(512)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(lambda_echo_zip()))
                .build(),
        )
        .send()
        .await
        .expect("CreateFunction");

    let before = now_ms();
    let (error, answer) = case.invoke(&name, json!({"hello": "world"})).await;
    assert_eq!(error, None, "{answer}");
    assert_eq!(answer["event"], json!({"hello": "world"}));
    assert_eq!(answer["function_name"], name.as_str());
    assert_eq!(answer["memory"], 512);
    assert_eq!(answer["version"], "$LATEST");
    assert!(answer["invoked_function_arn"]
        .as_str()
        .is_some_and(|a| a.ends_with(&format!(":function:{name}"))));
    let deadline = answer["deadline"].as_u64().expect("a deadline");
    assert!(deadline > before + 9_000 && deadline <= now_ms() + 10_000);
    let request_id = answer["request_id"].as_str().expect("a request id");
    case.log_line(&name, &format!(r#""request_id":"{request_id}""#))
        .await;

    // The function's SDK, configured from the environment Lambda sets, calls this local cloud;
    // the call carries the function's name as its app id.
    let (error, answer) = case.invoke(&name, json!({"call": true})).await;
    assert_eq!(error, None, "{answer}");
    assert!(
        answer["functions"].as_u64().is_some_and(|n| n >= 1),
        "{answer}"
    );
    let url = format!("{}/_localcloud/calls?app={name}", cloud_url());
    let calls: Value =
        serde_json::from_slice(&reqwest::get(url).await.unwrap().bytes().await.unwrap()).unwrap();
    let calls = calls.as_array().expect("a list");
    assert!(
        calls.iter().any(|c| c["service"] == "lambda"
            && c["operation"] == "ListFunctions"
            && c["status"] == 200),
        "{calls:#?}"
    );

    // A handler error goes to /error and comes back as an unhandled function error.
    let (error, answer) = case.invoke(&name, json!({"fail": true})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(answer["errorMessage"], "failing as asked", "{answer}");
    assert!(answer["errorType"].is_string());
}
