//! AWS Lambda's Invoke, answered by the emulator (signing name `lambda`). Every other Lambda
//! request still goes to moto; on the way back this module keeps what Invoke needs from the
//! ones that deploy: the zip sent with CreateFunction / UpdateFunctionCode and the configuration
//! moto answers (environment, timeout, memory, handler, ARN), per function and per published
//! version. Invoke then runs the function's real `bootstrap` the way provided.al2023 does (see
//! [`environment`]) and answers with Lambda's response shapes (see [`invoke`]).

mod environment;
mod invoke;
mod logs;

use super::Request;
use axum::body::{to_bytes, Body};
use axum::http::{Method, Response};
use base64::Engine;
use environment::Environment;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

pub use invoke::{InvokeError, Invoked};
pub use logs::LogLine;

/// The Lambda operation a REST route names, for the call record and fault rules.
pub fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    Some(match (method.as_str(), parts.as_slice()) {
        ("POST", [_, "functions"]) => "CreateFunction",
        ("GET", [_, "functions"]) => "ListFunctions",
        ("GET", [_, "functions", _]) => "GetFunction",
        ("DELETE", [_, "functions", _]) => "DeleteFunction",
        ("GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
        ("PUT", [_, "functions", _, "configuration"]) => "UpdateFunctionConfiguration",
        ("PUT", [_, "functions", _, "code"]) => "UpdateFunctionCode",
        ("POST", [_, "functions", _, "invocations"]) => "Invoke",
        ("POST", [_, "functions", _, "versions"]) => "PublishVersion",
        ("GET", [_, "functions", _, "versions"]) => "ListVersionsByFunction",
        ("GET", [_, "functions", _, "policy"]) => "GetPolicy",
        ("POST", [_, "functions", _, "policy"]) => "AddPermission",
        ("DELETE", [_, "functions", _, "policy", _]) => "RemovePermission",
        ("GET", [_, "tags", _]) => "ListTags",
        ("POST", [_, "tags", _]) => "TagResource",
        ("DELETE", [_, "tags", _]) => "UntagResource",
        _ => return None,
    })
}

/// What Invoke needs of a function's configuration, from moto's FunctionConfiguration answer.
/// Two versions differ when any field differs (the code's hash included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub function_arn: String,
    pub handler: String,
    pub runtime: String,
    pub timeout_seconds: u64,
    pub memory_mb: u64,
    pub variables: BTreeMap<String, String>,
    /// Base64 SHA-256 of the zip the emulator holds (Lambda's CodeSha256).
    pub code_sha256: String,
}

impl Config {
    /// From moto's FunctionConfiguration JSON, for the code whose hash is `code_sha256`.
    fn from_answer(answer: &Value, code_sha256: String) -> Option<Config> {
        let variables = answer
            .pointer("/Environment/Variables")
            .and_then(Value::as_object)
            .map(|vars| {
                vars.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Some(Config {
            function_arn: answer.get("FunctionArn")?.as_str()?.to_string(),
            handler: str_field(answer, "Handler"),
            runtime: str_field(answer, "Runtime"),
            timeout_seconds: answer.get("Timeout").and_then(Value::as_u64).unwrap_or(3),
            memory_mb: answer
                .get("MemorySize")
                .and_then(Value::as_u64)
                .unwrap_or(128),
            variables,
            code_sha256,
        })
    }

    /// The region, from the function's ARN.
    pub fn region(&self) -> String {
        self.function_arn
            .split(':')
            .nth(3)
            .unwrap_or("us-east-1")
            .to_string()
    }

    /// The function's ARN without any version suffix.
    pub fn unqualified_arn(&self) -> String {
        self.function_arn
            .split(':')
            .take(7)
            .collect::<Vec<_>>()
            .join(":")
    }
}

fn str_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Base64 SHA-256 of the code, as Lambda's CodeSha256.
fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

/// One deployed version: its code and its configuration.
#[derive(Clone)]
struct Deployed {
    code: Arc<Vec<u8>>,
    config: Config,
}

/// A function as deployed: `$LATEST` and its published versions, each with at most one warm
/// environment, used by one invocation at a time.
struct Function {
    name: String,
    versions: Mutex<HashMap<String, Deployed>>,
    environments: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Environment>>>>>,
}

impl Function {
    fn deployed(&self, version: &str) -> Option<Deployed> {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(version)
            .cloned()
    }

    fn slot(&self, version: &str) -> Arc<tokio::sync::Mutex<Option<Environment>>> {
        self.environments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(version.to_string())
            .or_default()
            .clone()
    }

    /// Stops an idle environment that no longer runs what `version` is (an invocation in
    /// flight keeps its environment; the next one replaces it).
    fn retire_stale(&self, version: &str) {
        let current = self.deployed(version).map(|d| d.config);
        if let Ok(mut slot) = self.slot(version).try_lock() {
            if slot
                .as_ref()
                .is_some_and(|env| Some(&env.config) != current.as_ref())
            {
                *slot = None;
            }
        }
    }
}

/// The state of Lambda in the emulator.
#[derive(Default)]
pub struct Lambda {
    /// The local cloud's own URL, given to functions as AWS_ENDPOINT_URL.
    endpoint_url: OnceLock<String>,
    functions: Mutex<HashMap<String, Arc<Function>>>,
    logs: Arc<logs::Logs>,
}

impl Lambda {
    /// Tells functions where the local cloud listens (set once, after binding).
    pub fn set_endpoint_url(&self, url: String) {
        let _ = self.endpoint_url.set(url);
    }

    fn endpoint_url(&self) -> String {
        self.endpoint_url
            .get()
            .cloned()
            .unwrap_or_else(|| "http://127.0.0.1:4566".to_string())
    }

    /// What the function printed, after log line `since`.
    pub fn logs(&self, function: &str, since: u64) -> Vec<LogLine> {
        self.logs.of(function, since)
    }

    /// Invokes `function` (name or ARN, qualified or not) synchronously from inside the
    /// emulator, as Lex V2's code hooks do: the payload and whether it is a function error.
    pub async fn invoke(
        &self,
        function: &str,
        payload: axum::body::Bytes,
    ) -> Result<Invoked, InvokeError> {
        invoke::invoke_in_process(self, function, payload).await
    }

    /// Stops every function's processes (the emulator is stopping).
    pub fn shutdown(&self) {
        self.functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub async fn handle(&self, request: Request<'_>) -> Response<Body> {
        let operation = request.call.operation.as_str();
        if operation == "Invoke" {
            return invoke::invoke(self, &request).await;
        }
        let response = crate::forward::forward(
            request.client,
            request.moto_url,
            request.method.clone(),
            request.path_and_query,
            request.headers,
            request.body.clone(),
        )
        .await;
        if !response.status().is_success()
            || !matches!(
                operation,
                "CreateFunction"
                    | "UpdateFunctionCode"
                    | "UpdateFunctionConfiguration"
                    | "PublishVersion"
                    | "DeleteFunction"
            )
        {
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let sent: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let path_name = function_in_path(request.path_and_query);
        match operation {
            "DeleteFunction" => self.forget(&path_name, request.path_and_query),
            _ => self.keep(operation, &sent, &answer),
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    /// Keeps what a successful deploying call left: the code sent and the configuration moto
    /// answered.
    fn keep(&self, operation: &str, sent: &Value, answer: &Value) {
        let Some(name) = answer.get("FunctionName").and_then(Value::as_str) else {
            return;
        };
        let zip = match operation {
            "CreateFunction" => sent.pointer("/Code/ZipFile"),
            "UpdateFunctionCode" if sent.get("DryRun") != Some(&Value::Bool(true)) => {
                sent.get("ZipFile")
            }
            _ => None,
        }
        .and_then(Value::as_str)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
        let version = answer
            .get("Version")
            .and_then(Value::as_str)
            .unwrap_or("$LATEST")
            .to_string();
        let mut functions = self.functions.lock().unwrap_or_else(|p| p.into_inner());
        let function = if operation == "CreateFunction" {
            // A new function under an old name starts from nothing.
            let fresh = Arc::new(Function {
                name: name.to_string(),
                versions: Mutex::default(),
                environments: Mutex::default(),
            });
            functions.insert(name.to_string(), fresh.clone());
            fresh
        } else if let Some(existing) = functions.get(name) {
            existing.clone()
        } else if zip.is_some() {
            let fresh = Arc::new(Function {
                name: name.to_string(),
                versions: Mutex::default(),
                environments: Mutex::default(),
            });
            functions.insert(name.to_string(), fresh.clone());
            fresh
        } else {
            // Deployed before this emulator started: its code is not known here.
            return;
        };
        drop(functions);
        let mut versions = function.versions.lock().unwrap_or_else(|p| p.into_inner());
        let code = match zip {
            Some(zip) => Arc::new(zip),
            None => match versions.get("$LATEST") {
                Some(latest) => latest.code.clone(),
                None => return,
            },
        };
        let Some(config) = Config::from_answer(answer, code_sha256(&code)) else {
            return;
        };
        let deployed = Deployed { code, config };
        if version != "$LATEST" {
            // PublishVersion, or CreateFunction / UpdateFunctionCode with Publish.
            versions.insert(version, deployed.clone());
        }
        if operation != "PublishVersion" {
            let mut latest = deployed;
            latest.config.function_arn = latest.config.unqualified_arn();
            versions.insert("$LATEST".into(), latest);
        }
        drop(versions);
        function.retire_stale("$LATEST");
    }

    /// DeleteFunction: the whole function (its processes stop once no invocation uses them), or
    /// with `?Qualifier=` one version.
    fn forget(&self, name: &str, path_and_query: &str) {
        let named = invoke::FunctionRef::parse(name);
        let name = named.name;
        let qualifier = path_and_query
            .split_once('?')
            .and_then(|(_, q)| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "Qualifier")
                    .map(|(_, v)| v.into_owned())
            })
            .or(named.qualifier);
        let mut functions = self.functions.lock().unwrap_or_else(|p| p.into_inner());
        match qualifier {
            Some(version) if version != "$LATEST" => {
                if let Some(function) = functions.get(&name) {
                    function
                        .versions
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&version);
                    function
                        .environments
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&version);
                }
            }
            _ => {
                functions.remove(&name);
            }
        }
    }
}

/// The `{FunctionName}` path segment, percent-decoded.
fn function_in_path(path_and_query: &str) -> String {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let segment = path.split('/').nth(3).unwrap_or_default();
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes_are_named() {
        let f = "/2015-03-31/functions/s-fulfillment";
        assert_eq!(
            operation_of(&Method::POST, "/2015-03-31/functions"),
            Some("CreateFunction")
        );
        assert_eq!(
            operation_of(&Method::POST, &format!("{f}/invocations")),
            Some("Invoke")
        );
        assert_eq!(
            operation_of(
                &Method::POST,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations"
            ),
            Some("Invoke")
        );
        assert_eq!(
            operation_of(&Method::PUT, &format!("{f}/code")),
            Some("UpdateFunctionCode")
        );
        assert_eq!(operation_of(&Method::DELETE, f), Some("DeleteFunction"));
        assert_eq!(operation_of(&Method::PATCH, f), None);
    }

    fn moto_answer(name: &str, version: &str, vars: Value) -> Value {
        json!({
            "FunctionName": name,
            "FunctionArn": format!("arn:aws:lambda:eu-west-2:123456789012:function:{name}"),
            "Handler": "bootstrap", "Runtime": "provided.al2023", "Timeout": 7,
            "MemorySize": 256, "Environment": {"Variables": vars}, "Version": version,
        })
    }

    fn zip_field(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn deploying_calls_keep_code_and_configuration() {
        let lambda = Lambda::default();
        lambda.keep(
            "CreateFunction",
            &json!({"Code": {"ZipFile": zip_field(b"one")}}),
            &moto_answer("f", "$LATEST", json!({"A": "1"})),
        );
        let f = lambda.function("f").expect("kept");
        let latest = f.deployed("$LATEST").unwrap();
        assert_eq!(latest.code.as_slice(), b"one");
        assert_eq!(latest.config.timeout_seconds, 7);
        assert_eq!(latest.config.memory_mb, 256);
        assert_eq!(latest.config.variables["A"], "1");
        assert_eq!(latest.config.region(), "eu-west-2");
        assert_eq!(latest.config.code_sha256, code_sha256(b"one"));

        lambda.keep(
            "UpdateFunctionConfiguration",
            &json!({}),
            &moto_answer("f", "$LATEST", json!({"A": "2"})),
        );
        let latest = f.deployed("$LATEST").unwrap();
        assert_eq!(latest.code.as_slice(), b"one", "the code stays");
        assert_eq!(latest.config.variables["A"], "2");

        lambda.keep(
            "PublishVersion",
            &json!({}),
            &moto_answer("f", "1", json!({"A": "2"})),
        );
        lambda.keep(
            "UpdateFunctionCode",
            &json!({"ZipFile": zip_field(b"two")}),
            &moto_answer("f", "$LATEST", json!({"A": "2"})),
        );
        assert_eq!(f.deployed("1").unwrap().code.as_slice(), b"one");
        assert_eq!(f.deployed("$LATEST").unwrap().code.as_slice(), b"two");
        assert_ne!(
            f.deployed("1").unwrap().config,
            f.deployed("$LATEST").unwrap().config,
            "a code change is a different version"
        );

        lambda.keep(
            "UpdateFunctionCode",
            &json!({"ZipFile": zip_field(b"dry"), "DryRun": true}),
            &moto_answer("f", "$LATEST", json!({"A": "2"})),
        );
        assert_eq!(f.deployed("$LATEST").unwrap().code.as_slice(), b"two");

        lambda.forget("f", "/2015-03-31/functions/f?Qualifier=1");
        assert!(f.deployed("1").is_none());
        assert!(lambda.function("f").is_some());
        lambda.forget(
            "arn:aws:lambda:eu-west-2:123456789012:function:f",
            "/2015-03-31/functions/arn",
        );
        assert!(lambda.function("f").is_none());
    }

    #[test]
    fn a_function_created_and_published_at_once_has_both_versions() {
        let lambda = Lambda::default();
        lambda.keep(
            "CreateFunction",
            &json!({"Code": {"ZipFile": zip_field(b"one")}, "Publish": true}),
            &moto_answer("p", "1", json!({})),
        );
        let f = lambda.function("p").unwrap();
        assert_eq!(f.deployed("1").unwrap().code.as_slice(), b"one");
        let latest = f.deployed("$LATEST").expect("$LATEST too");
        assert!(latest.config.function_arn.ends_with(":function:p"));
        lambda.forget("p:1", "/2015-03-31/functions/p%3A1");
        assert!(
            f.deployed("1").is_none(),
            "a qualified name deletes the version"
        );
        assert!(f.deployed("$LATEST").is_some());
    }

    #[test]
    fn configuration_changes_without_known_code_are_ignored() {
        let lambda = Lambda::default();
        lambda.keep(
            "UpdateFunctionConfiguration",
            &json!({}),
            &moto_answer("g", "$LATEST", json!({})),
        );
        assert!(lambda.function("g").is_none());
    }

    /// A `bootstrap` that answers each event with `{"got": EVENT}`, or exits when asked to.
    fn echo_zip() -> Vec<u8> {
        use std::io::Write;
        let script = r#"#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  h="$(mktemp)"
  event="$(curl -sS --fail -D "$h" "$api/invocation/next")" || exit 1
  id="$(tr -d '\r' <"$h" | grep -i '^lambda-runtime-aws-request-id:' | cut -d' ' -f2)"
  case "$event" in *exit*) exit 7 ;; esac
  curl -sS -X POST --data-binary "{\"got\":$event}" "$api/invocation/$id/response" >/dev/null
done
"#;
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut out);
            let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
            writer.start_file("bootstrap", options).unwrap();
            writer.write_all(script.as_bytes()).unwrap();
            writer.finish().unwrap();
        }
        out.into_inner()
    }

    #[tokio::test]
    async fn in_process_invocations_run_the_code_by_name_or_arn() {
        let lambda = Lambda::default();
        lambda.keep(
            "CreateFunction",
            &json!({"Code": {"ZipFile": zip_field(&echo_zip())}}),
            &moto_answer("hook", "$LATEST", json!({})),
        );
        let arn = "arn:aws:lambda:eu-west-2:123456789012:function:hook";
        let out = lambda
            .invoke(arn, axum::body::Bytes::from_static(br#"{"a":1}"#))
            .await
            .expect("the function exists");
        assert_eq!(out.function_error, None);
        assert_eq!(out.executed_version, "$LATEST");
        let v: Value = serde_json::from_slice(&out.payload).unwrap();
        assert_eq!(v, json!({"got": {"a": 1}}));

        let out = lambda
            .invoke("hook", axum::body::Bytes::from_static(br#"{"exit":1}"#))
            .await
            .unwrap();
        assert_eq!(out.function_error, Some("Unhandled"));
        let v: Value = serde_json::from_slice(&out.payload).unwrap();
        assert_eq!(v["errorType"], "Runtime.ExitError");

        let err = lambda
            .invoke(&format!("{arn}:7"), axum::body::Bytes::from_static(b"{}"))
            .await
            .expect_err("no version 7");
        assert_eq!(err.to_string(), format!("Function not found: {arn}:7"));
        lambda.shutdown();
    }

    #[test]
    fn the_function_segment_is_decoded() {
        assert_eq!(
            function_in_path(
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Ax/invocations?Qualifier=1"
            ),
            "arn:aws:lambda:x"
        );
    }
}
