//! Invoke (`POST /2015-03-31/functions/{FunctionName}/invocations`): finds the function version,
//! hands the payload to a warm environment (or starts one), waits for the runtime's answer within
//! the function's timeout, and answers in Lambda's shapes:
//!
//! - 200 with the function's response as payload, `X-Amz-Executed-Version`;
//! - 200 with `X-Amz-Function-Error: Unhandled` and an `{"errorType","errorMessage"}` payload
//!   for a function error (posted to `/error` or `/init/error`), a runtime that exited
//!   (`Runtime.ExitError`), a timeout (`Sandbox.Timedout`, "Task timed out after N.00
//!   seconds"), a response over 6 MB (`Function.ResponseSizeTooLarge`), a bootstrap that cannot
//!   start (`Runtime.InvalidEntrypoint`);
//! - 202 for `InvocationType: Event` (run in the background), 204 for `DryRun`;
//! - REST errors: ResourceNotFoundException 404, RequestTooLargeException 413,
//!   InvalidRequestContentException 400, InvalidParameterValueException 400.

use super::environment::{self, Environment, Event, Invocation, Spec, StartError};
use super::{Deployed, Function, Lambda};
use crate::own::Request;
use axum::body::{Body, Bytes};
use axum::http::{Response, StatusCode};
use base64::Engine;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lambda's limit on a synchronous invocation's request payload (6 MB).
pub const MAX_REQUEST: usize = 6 * 1024 * 1024;
/// Lambda's limit on an asynchronous (Event) invocation's payload (1 MB).
pub const MAX_EVENT: usize = 1024 * 1024;
/// How long a new environment may take to ask for its first event, beyond the timeout.
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// An environment no invocation used for this long is stopped, as Lambda reclaims idle ones.
const IDLE_LIMIT: Duration = Duration::from_secs(600);

/// How a function was named: `name`, `name:qualifier`, `123456789012:function:name` or a full
/// ARN, with or without a qualifier.
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    pub fn parse(text: &str) -> FunctionRef {
        let parts: Vec<&str> = text.split(':').collect();
        let (name, qualifier) = match parts.as_slice() {
            ["arn", _, "lambda", _, _, "function", name] => (*name, None),
            ["arn", _, "lambda", _, _, "function", name, q] => (*name, Some(*q)),
            [_, "function", name] => (*name, None),
            [_, "function", name, q] => (*name, Some(*q)),
            [name, q] => (*name, Some(*q)),
            _ => (text, None),
        };
        FunctionRef {
            name: name.to_string(),
            qualifier: qualifier.map(str::to_string),
        }
    }
}

/// How the function answered.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Ok(Bytes),
    /// A function error: the payload of an `X-Amz-Function-Error: Unhandled` answer.
    Unhandled(Bytes),
}

/// Why an in-process invocation could not run.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// Lambda's ResourceNotFoundException message.
    #[error("Function not found: {arn}")]
    NotFound { arn: String },
}

/// What an in-process invocation answered.
#[derive(Debug)]
#[allow(dead_code)] // read by the Lex V2 runtime as it arrives
pub struct Invoked {
    pub payload: Bytes,
    /// `Some("Unhandled")` for a function error (the payload is then its error document).
    pub function_error: Option<&'static str>,
    pub executed_version: String,
}

/// The function and its version, or Lambda's not-found message.
fn find(
    lambda: &Lambda,
    name: &str,
    qualifier: Option<&str>,
    region: &str,
) -> Result<(Arc<Function>, Deployed), InvokeError> {
    let function = lambda.function(name);
    let deployed = function
        .as_ref()
        .and_then(|f| f.deployed(qualifier.unwrap_or("$LATEST")));
    match (function, deployed) {
        (Some(function), Some(deployed)) => Ok((function, deployed)),
        _ => Err(InvokeError::NotFound {
            arn: format!(
                "arn:aws:lambda:{region}:123456789012:function:{name}{}",
                qualifier.map(|q| format!(":{q}")).unwrap_or_default()
            ),
        }),
    }
}

/// A synchronous invocation from inside the emulator (Lex V2's code hooks), run as Invoke with
/// `RequestResponse` runs it but not recorded as a call: `function` is a name or an ARN, with or
/// without a qualifier.
pub async fn invoke_in_process(
    lambda: &Lambda,
    function: &str,
    payload: Bytes,
) -> Result<Invoked, InvokeError> {
    let named = FunctionRef::parse(function);
    let region = function
        .strip_prefix("arn:")
        .and_then(|arn| arn.split(':').nth(2))
        .unwrap_or("us-east-1");
    let (found, deployed) = find(lambda, &named.name, named.qualifier.as_deref(), region)?;
    let run = Run::new(lambda, found, deployed, &named.qualifier, payload);
    let (outcome, _) = run.run().await;
    let (payload, function_error) = match outcome {
        Outcome::Ok(body) => (body, None),
        Outcome::Unhandled(body) => (body, Some("Unhandled")),
    };
    Ok(Invoked {
        payload,
        function_error,
        executed_version: run.version,
    })
}

pub async fn invoke(lambda: &Lambda, request: &Request<'_>) -> Response<Body> {
    let path = request.path_and_query.split('?').next().unwrap_or_default();
    let named = FunctionRef::parse(&super::function_in_path(path));
    let qualifier_param = request.path_and_query.split_once('?').and_then(|(_, q)| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "Qualifier")
            .map(|(_, v)| v.into_owned())
    });
    let region = region_of(request);
    let qualifier = match (named.qualifier.clone(), qualifier_param) {
        (Some(a), Some(b)) if a != b => return rest_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        ),
        (a, b) => a.or(b),
    };
    let (function, deployed) = match find(lambda, &named.name, qualifier.as_deref(), &region) {
        Ok(found) => found,
        Err(err) => {
            return rest_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &err.to_string(),
            )
        }
    };
    let version = qualifier.clone().unwrap_or_else(|| "$LATEST".to_string());

    let invocation_type = header(request, "x-amz-invocation-type").unwrap_or("RequestResponse");
    let limit = match invocation_type {
        "RequestResponse" | "DryRun" => MAX_REQUEST,
        "Event" => MAX_EVENT,
        other => {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"),
            )
        }
    };
    if request.body.len() > limit {
        return rest_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            &format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        );
    }
    let payload = if request.body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        request.body.clone()
    };
    if serde_json::from_slice::<serde_json::Value>(&payload).is_err() {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload is not valid JSON",
        );
    }
    let run = Run::new(lambda, function, deployed, &qualifier, payload);
    match invocation_type {
        "DryRun" => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::empty())
            .unwrap_or_default(),
        "Event" => {
            tokio::spawn(async move {
                let (outcome, _) = run.run().await;
                if let Outcome::Unhandled(body) = outcome {
                    eprintln!(
                        "lambda: asynchronous invocation failed: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            });
            Response::builder()
                .status(StatusCode::ACCEPTED)
                .header("x-amzn-requestid", environment::request_id())
                .body(Body::empty())
                .unwrap_or_default()
        }
        _ => {
            let tail = header(request, "x-amz-log-type") == Some("Tail");
            let (outcome, request_id, log_from) = {
                let from = run.logs.next_seq();
                let (outcome, id) = run.run().await;
                (outcome, id, from)
            };
            let mut builder = Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("x-amzn-requestid", &request_id)
                .header("x-amz-executed-version", &version);
            if tail {
                builder =
                    builder.header("x-amz-log-result", log_tail(lambda, &named.name, log_from));
            }
            let body = match outcome {
                Outcome::Ok(body) => body,
                Outcome::Unhandled(body) => {
                    builder = builder.header("x-amz-function-error", "Unhandled");
                    body
                }
            };
            builder.body(Body::from(body)).unwrap_or_default()
        }
    }
}

/// The last 4 KB of the invocation's log lines, base64 (`X-Amz-Log-Result`).
fn log_tail(lambda: &Lambda, function: &str, from: u64) -> String {
    let text: String = lambda
        .logs
        .since_seq(function, from)
        .iter()
        .map(|l| format!("{}\n", l.message))
        .collect();
    let start = text.len().saturating_sub(4096);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    base64::engine::general_purpose::STANDARD.encode(&text[start..])
}

fn header<'a>(request: &'a Request<'_>, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The region of the SigV4 scope the caller signed for.
fn region_of(request: &Request<'_>) -> String {
    header(request, "authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string()
}

/// Lambda's REST error: the type in `x-amzn-errortype`, `{"Type":"User","Message"}`.
pub fn rest_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", code)
        .header("x-amzn-requestid", environment::request_id())
        .body(Body::from(
            serde_json::json!({"Type": "User", "Message": message}).to_string(),
        ))
        .unwrap_or_default()
}

/// The error payload Lambda answers for a failure of the runtime itself.
fn runtime_failure(error_type: &str, request_id: &str, message: &str) -> Outcome {
    Outcome::Unhandled(Bytes::from(
        serde_json::json!({
            "errorType": error_type,
            "errorMessage": format!("RequestId: {request_id} Error: {message}"),
        })
        .to_string(),
    ))
}

/// One invocation of one function version.
struct Run {
    function: Arc<Function>,
    version: String,
    deployed: Deployed,
    payload: Bytes,
    invoked_arn: String,
    endpoint_url: String,
    logs: Arc<super::logs::Logs>,
}

impl Run {
    fn new(
        lambda: &Lambda,
        function: Arc<Function>,
        deployed: Deployed,
        qualifier: &Option<String>,
        payload: Bytes,
    ) -> Run {
        let invoked_arn = match qualifier {
            Some(q) => format!("{}:{q}", deployed.config.unqualified_arn()),
            None => deployed.config.unqualified_arn(),
        };
        Run {
            function,
            version: qualifier.clone().unwrap_or_else(|| "$LATEST".to_string()),
            deployed,
            payload,
            invoked_arn,
            endpoint_url: lambda.endpoint_url(),
            logs: lambda.logs.clone(),
        }
    }

    /// Runs the invocation in the version's environment (one invocation at a time); answers
    /// the outcome and the request id.
    async fn run(&self) -> (Outcome, String) {
        let request_id = environment::request_id();
        let shared_slot = self.function.slot(&self.version);
        let mut slot = shared_slot.lock().await;
        let name = &self.function.name;
        let stale = slot
            .as_ref()
            .is_some_and(|env| env.has_exited() || env.config != self.deployed.config);
        if stale {
            *slot = None;
        }
        let cold = slot.is_none();
        if cold {
            let spec = Spec {
                function_name: name,
                version: &self.version,
                code: &self.deployed.code,
                config: &self.deployed.config,
                endpoint_url: &self.endpoint_url,
                logs: self.logs.clone(),
            };
            match Environment::start(spec).await {
                Ok(env) => *slot = Some(env),
                Err(err) => {
                    let error_type = match err {
                        StartError::Listen(_) => "Runtime.Unknown",
                        _ => "Runtime.InvalidEntrypoint",
                    };
                    self.platform(&format!(
                        "INIT_REPORT Phase: init Status: error Error Type: {error_type}"
                    ));
                    return (
                        runtime_failure(error_type, &request_id, &err.to_string()),
                        request_id,
                    );
                }
            }
        }
        let Some(env) = slot.as_mut() else {
            return (
                runtime_failure("Runtime.Unknown", &request_id, "no environment"),
                request_id,
            );
        };
        let timeout = Duration::from_secs(self.deployed.config.timeout_seconds.max(1));
        self.platform(&format!(
            "START RequestId: {request_id} Version: {}",
            self.version
        ));
        let started_at = Instant::now();
        let sent = env.send(Invocation {
            request_id: request_id.clone(),
            payload: self.payload.clone(),
            invoked_arn: self.invoked_arn.clone(),
            timeout,
        });
        let mut until = started_at + timeout + if cold { INIT_LIMIT } else { Duration::ZERO };
        let (outcome, keep) = if !sent {
            (
                runtime_failure("Runtime.Unknown", &request_id, "the runtime is busy"),
                false,
            )
        } else {
            loop {
                match env.event(until).await {
                    Some(Event::Started {
                        request_id: id,
                        deadline,
                    }) if id == request_id => {
                        until = deadline;
                    }
                    Some(Event::Response {
                        request_id: id,
                        body,
                    }) if id == request_id => {
                        break (Outcome::Ok(body), true);
                    }
                    Some(Event::Error {
                        request_id: id,
                        body,
                    }) if id == request_id => {
                        break (Outcome::Unhandled(body), true);
                    }
                    Some(Event::TooLarge { request_id: id }) if id == request_id => {
                        let body = serde_json::json!({
                            "errorType": "Function.ResponseSizeTooLarge",
                            "errorMessage": format!(
                                "Response payload size exceeded maximum allowed payload size ({} bytes).",
                                environment::MAX_RESPONSE
                            ),
                        });
                        break (Outcome::Unhandled(Bytes::from(body.to_string())), true);
                    }
                    Some(Event::InitError { body }) => break (Outcome::Unhandled(body), false),
                    Some(Event::Exited(how)) => {
                        break (
                            runtime_failure("Runtime.ExitError", &request_id, &how),
                            false,
                        );
                    }
                    Some(_) => {}
                    None => {
                        let seconds = self.deployed.config.timeout_seconds.max(1);
                        let message = format!("Task timed out after {seconds}.00 seconds");
                        self.platform(&format!(
                            "{} {request_id} {message}",
                            humantime::format_rfc3339_millis(std::time::SystemTime::now())
                        ));
                        break (
                            runtime_failure("Sandbox.Timedout", &request_id, &message),
                            false,
                        );
                    }
                }
            }
        };
        if keep {
            env.used();
            // Reclaimed when idle for too long (unless an invocation is running then).
            // Weak: a deleted function's environment must not be kept alive by this timer.
            let shared_slot = Arc::downgrade(&shared_slot);
            tokio::spawn(async move {
                tokio::time::sleep(IDLE_LIMIT).await;
                let Some(shared_slot) = shared_slot.upgrade() else {
                    return;
                };
                if let Ok(mut slot) = shared_slot.try_lock() {
                    if slot
                        .as_ref()
                        .is_some_and(|env| env.idle_for() >= IDLE_LIMIT)
                    {
                        *slot = None;
                    }
                };
            });
        } else {
            // Killed (timeout) or dead: the next invocation gets a fresh environment.
            *slot = None;
        }
        let elapsed = started_at.elapsed().as_secs_f64() * 1000.0;
        self.platform(&format!("END RequestId: {request_id}"));
        self.platform(&format!(
            "REPORT RequestId: {request_id}\tDuration: {elapsed:.2} ms\tMemory Size: {} MB",
            self.deployed.config.memory_mb
        ));
        (outcome, request_id)
    }

    fn platform(&self, line: &str) {
        self.logs
            .push(&self.function.name, "platform", line.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_parse_in_every_form() {
        let plain = |n: &str, q: Option<&str>| FunctionRef {
            name: n.into(),
            qualifier: q.map(Into::into),
        };
        assert_eq!(FunctionRef::parse("f"), plain("f", None));
        assert_eq!(FunctionRef::parse("f:live"), plain("f", Some("live")));
        assert_eq!(
            FunctionRef::parse("123456789012:function:f"),
            plain("f", None)
        );
        assert_eq!(
            FunctionRef::parse("arn:aws:lambda:us-east-1:123456789012:function:f"),
            plain("f", None)
        );
        assert_eq!(
            FunctionRef::parse("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
            plain("f", Some("$LATEST"))
        );
    }

    #[test]
    fn errors_have_lambdas_rest_shape() {
        let r = rest_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "Function not found: x",
        );
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-amzn-errortype"], "ResourceNotFoundException");
    }

    #[test]
    fn runtime_failures_name_the_request() {
        let Outcome::Unhandled(body) = runtime_failure(
            "Runtime.ExitError",
            "id-1",
            "Runtime exited with error: exit status 3",
        ) else {
            panic!("a failure is unhandled");
        };
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errorType"], "Runtime.ExitError");
        assert_eq!(
            v["errorMessage"],
            "RequestId: id-1 Error: Runtime exited with error: exit status 3"
        );
    }
}
