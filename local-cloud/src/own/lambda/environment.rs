//! One execution environment, as provided.al2023 makes it: the function's zip unpacked into a
//! directory of its own, its `bootstrap` running as a process (in a process group of its own)
//! with the function's environment, and the Lambda Runtime API (version 2018-06-01) that the
//! process polls for events, served on a loopback port of its own. Dropping an environment
//! kills its processes and removes its directory.

use super::logs::Logs;
use super::Config;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The largest response a function may return: Lambda's documented 6 MB, counted as Lambda
/// counts it in its error message.
pub const MAX_RESPONSE: usize = 6_291_556;

/// Why an environment could not be started; each is answered to Invoke as the runtime error
/// Lambda gives for it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the deployment package is not a zip file the local cloud can read: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")]
    NoBootstrap,
    #[error("cannot unpack the deployment package: {0}")]
    Unpack(std::io::Error),
    #[error("fork/exec /var/task/bootstrap: {0}")]
    Spawn(std::io::Error),
    #[error("the local cloud cannot serve the Runtime API: {0}")]
    Listen(std::io::Error),
}

/// What the environment is made from.
pub struct Spec<'a> {
    pub function_name: &'a str,
    pub version: &'a str,
    pub code: &'a [u8],
    pub config: &'a Config,
    /// The local cloud's URL, given to the function as AWS_ENDPOINT_URL.
    pub endpoint_url: &'a str,
    pub logs: Arc<Logs>,
}

/// One event handed to the runtime.
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub invoked_arn: String,
    pub timeout: Duration,
}

/// What happened in the environment, as the Invoke waiting on it learns it.
#[derive(Debug)]
pub enum Event {
    /// The runtime took the event: its deadline starts now.
    Started {
        request_id: String,
        deadline: Instant,
    },
    Response {
        request_id: String,
        body: Bytes,
    },
    /// The runtime posted a response larger than [`MAX_RESPONSE`].
    TooLarge {
        request_id: String,
    },
    Error {
        request_id: String,
        body: Bytes,
    },
    InitError {
        body: Bytes,
    },
    /// The process ended; the text is Lambda's wording (`exit status 1`, `signal: killed`).
    Exited(String),
}

pub struct Environment {
    /// The version (code and configuration) it runs; a different one needs a fresh environment.
    pub config: Config,
    pid: Option<u32>,
    next: mpsc::Sender<Invocation>,
    events: mpsc::UnboundedReceiver<Event>,
    exited: Arc<AtomicBool>,
    last_used: Instant,
    server: JoinHandle<()>,
    waiter: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Environment {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            kill_group(pid);
        }
        self.server.abort();
        self.waiter.abort();
    }
}

/// Kills the process group of `pid` (the bootstrap and everything it started).
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

impl Environment {
    pub async fn start(spec: Spec<'_>) -> Result<Environment, StartError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("local-cloud-lambda-{}-", spec.function_name))
            .tempdir()
            .map_err(StartError::Unpack)?;
        let code = spec.code.to_vec();
        let root = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || unpack(&code, &root))
            .await
            .map_err(|e| StartError::Unpack(std::io::Error::other(e)))??;
        let bootstrap = dir.path().join("bootstrap");
        if !bootstrap.is_file() {
            return Err(StartError::NoBootstrap);
        }

        let (next_tx, next_rx) = mpsc::channel(1);
        let (events_tx, events) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi {
            next: tokio::sync::Mutex::new(next_rx),
            events: events_tx.clone(),
            current: Mutex::new(None),
            initialized: AtomicBool::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StartError::Listen)?;
        let api_addr = listener.local_addr().map_err(StartError::Listen)?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, runtime_routes(api)).await;
        });

        let mut command = tokio::process::Command::new(&bootstrap);
        command
            .current_dir(dir.path())
            .env_clear()
            .envs(environment(&spec, &api_addr.to_string(), dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: prctl(2) only sets an attribute of the new process before exec; it allocates
        // nothing and is async-signal-safe. The function's processes die with the emulator even
        // when it is killed without a chance to clean up.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                server.abort();
                return Err(StartError::Spawn(err));
            }
        };
        let pid = child.id();
        if let Some(out) = child.stdout.take() {
            read_lines(out, spec.function_name, "stdout", spec.logs.clone());
        }
        if let Some(err) = child.stderr.take() {
            read_lines(err, spec.function_name, "stderr", spec.logs.clone());
        }
        let exited = Arc::new(AtomicBool::new(false));
        let exited_flag = exited.clone();
        let waiter = tokio::spawn(async move {
            let how = match child.wait().await {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(0), _) => None,
                    (Some(code), _) => Some(format!("exit status {code}")),
                    (None, Some(signal)) => Some(format!("signal: {}", signal_name(signal))),
                    (None, None) => None,
                },
                Err(err) => Some(err.to_string()),
            };
            exited_flag.store(true, Ordering::SeqCst);
            let _ = events_tx.send(Event::Exited(how.map_or_else(
                || "Runtime exited without providing a reason".to_string(),
                |how| format!("Runtime exited with error: {how}"),
            )));
        });
        Ok(Environment {
            config: spec.config.clone(),
            pid,
            next: next_tx,
            events,
            exited,
            last_used: Instant::now(),
            server,
            waiter,
            _dir: dir,
        })
    }

    /// True once the process has ended: the environment cannot be reused.
    pub fn has_exited(&self) -> bool {
        self.exited.load(Ordering::SeqCst)
    }

    /// How long since the last invocation ended (or the environment started).
    pub fn idle_for(&self) -> Duration {
        self.last_used.elapsed()
    }

    /// Marks the end of an invocation, for [`Environment::idle_for`].
    pub fn used(&mut self) {
        self.last_used = Instant::now();
    }

    /// Hands one event to the runtime (it takes it with its next `GET .../invocation/next`).
    pub fn send(&mut self, invocation: Invocation) -> bool {
        // Whatever a previous invocation left (a late post) does not belong to this one.
        while self.events.try_recv().is_ok() {}
        self.next.try_send(invocation).is_ok()
    }

    /// The next thing that happened, or `None` once `until` has passed.
    pub async fn event(&mut self, until: Instant) -> Option<Event> {
        tokio::time::timeout_at(until.into(), self.events.recv())
            .await
            .ok()
            .flatten()
    }
}

/// The environment variables of the process: the function's own, then what Lambda sets (which
/// wins, as Lambda refuses those reserved keys in a function's configuration).
fn environment(
    spec: &Spec<'_>,
    api_addr: &str,
    task_root: &std::path::Path,
) -> BTreeMap<String, String> {
    let config = spec.config;
    let mut env: BTreeMap<String, String> = config.variables.clone();
    let region = config.region();
    let name = spec.function_name;
    let set = [
        ("AWS_LAMBDA_RUNTIME_API", api_addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", spec.version.to_string()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/[{}]{}", spec.version, random_hex(32)),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_REGION", region.clone()),
        ("AWS_DEFAULT_REGION", region),
        ("_HANDLER", config.handler.clone()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("LAMBDA_RUNTIME_DIR", task_root.display().to_string()),
        ("TZ", ":UTC".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
        // The emulator's fake credentials, and this local cloud as every service's endpoint, so
        // the function's calls land here and are recorded.
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_SESSION_TOKEN", "testing".to_string()),
        ("AWS_ENDPOINT_URL", spec.endpoint_url.to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ];
    for (key, value) in set {
        env.insert(key.to_string(), value);
    }
    // The SDK app id names the function in the call record, unless the function sets its own.
    env.entry("AWS_SDK_UA_APP_ID".to_string())
        .or_insert_with(|| name.chars().take(50).collect());
    env.insert(
        "PATH".to_string(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_string()),
    );
    env
}

/// Unpacks the zip into `root`, keeping each file's Unix permissions (the executable bit of
/// `bootstrap` above all). Entries that would land outside `root` are refused.
fn unpack(zip_bytes: &[u8], root: &std::path::Path) -> Result<(), StartError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let Some(relative) = entry.enclosed_name() else {
            continue;
        };
        let path = root.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(StartError::Unpack)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(StartError::Unpack)?;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry.read_to_end(&mut bytes).map_err(StartError::Unpack)?;
        std::fs::write(&path, bytes).map_err(StartError::Unpack)?;
        let mode = entry.unix_mode().map_or(0o644, |m| m & 0o777);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(StartError::Unpack)?;
    }
    Ok(())
}

fn read_lines<R: AsyncRead + Unpin + Send + 'static>(
    stream: R,
    function: &str,
    name: &'static str,
    logs: Arc<Logs>,
) {
    let function = function.to_string();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            logs.push(&function, name, line);
        }
    });
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGKILL => "killed".to_string(),
        libc::SIGSEGV => "segmentation fault".to_string(),
        libc::SIGABRT => "aborted".to_string(),
        libc::SIGTERM => "terminated".to_string(),
        other => format!("signal {other}"),
    }
}

pub fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

/// A request id in Lambda's form (a UUID).
pub fn request_id() -> String {
    let h = random_hex(32);
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][fastrand::usize(..4)].to_string() + &h[17..20],
        &h[20..32]
    )
}

// ---- the Runtime API ----

struct RuntimeApi {
    next: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    events: mpsc::UnboundedSender<Event>,
    /// The request id handed out by `next` and not answered yet.
    current: Mutex<Option<String>>,
    /// Set by the first `next`: from then on an init error is an invalid state transition.
    initialized: AtomicBool,
}

const BASE: &str = "/2018-06-01/runtime";

fn runtime_routes(api: Arc<RuntimeApi>) -> Router {
    Router::new()
        .route(&format!("{BASE}/invocation/next"), get(next))
        .route(
            &format!("{BASE}/invocation/{{id}}/response"),
            post(response),
        )
        .route(&format!("{BASE}/invocation/{{id}}/error"), post(error))
        .route(&format!("{BASE}/init/error"), post(init_error))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(api)
}

fn runtime_answer(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn accepted() -> Response<Body> {
    runtime_answer(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response<Body> {
    runtime_answer(
        status,
        serde_json::json!({"errorMessage": message, "errorType": error_type}),
    )
}

/// `GET /runtime/invocation/next`: blocks until there is an event (the runtime must not time it
/// out), then hands it over with its request id, deadline, function ARN and trace id.
async fn next(State(api): State<Arc<RuntimeApi>>) -> Response<Body> {
    let invocation = api.next.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.ExitError",
            "the execution environment is shutting down",
        );
    };
    api.initialized.store(true, Ordering::SeqCst);
    *api.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(invocation.request_id.clone());
    let deadline = Instant::now() + invocation.timeout;
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(invocation.timeout)
        .as_millis();
    let _ = api.events.send(Event::Started {
        request_id: invocation.request_id.clone(),
        deadline,
    });
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let trace = format!(
        "Root=1-{epoch:08x}-{};Parent={};Sampled=0",
        random_hex(24),
        random_hex(16)
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            &invocation.invoked_arn,
        )
        .header("lambda-runtime-trace-id", trace)
        .body(Body::from(invocation.payload))
        .unwrap_or_default()
}

/// Takes the request id out of `current` when it is the one in flight.
fn finish(api: &RuntimeApi, id: &str) -> bool {
    let mut current = api.current.lock().unwrap_or_else(|p| p.into_inner());
    if current.as_deref() == Some(id) {
        *current = None;
        true
    } else {
        false
    }
}

fn invalid_request_id() -> Response<Body> {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

/// `POST /runtime/invocation/{id}/response`.
async fn response(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response<Body> {
    if !finish(&api, &id) {
        return invalid_request_id();
    }
    if body.len() > MAX_RESPONSE {
        let _ = api.events.send(Event::TooLarge { request_id: id });
        return runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes)."),
        );
    }
    let _ = api.events.send(Event::Response {
        request_id: id,
        body,
    });
    accepted()
}

/// `POST /runtime/invocation/{id}/error`: the body (`errorMessage`, `errorType`, `stackTrace`)
/// becomes the Invoke payload.
async fn error(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if !finish(&api, &id) {
        return invalid_request_id();
    }
    let body = error_body(&headers, body);
    let _ = api.events.send(Event::Error {
        request_id: id,
        body,
    });
    accepted()
}

/// `POST /runtime/init/error`: only before the first `next`.
async fn init_error(
    State(api): State<Arc<RuntimeApi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if api.initialized.load(Ordering::SeqCst) {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Ready to InitError failed for runtime. Error: State transition is not allowed",
        );
    }
    let body = error_body(&headers, body);
    let _ = api.events.send(Event::InitError { body });
    accepted()
}

/// The error document as posted, or — when the runtime posted no JSON — one made from the
/// `Lambda-Runtime-Function-Error-Type` header as Lambda does.
fn error_body(headers: &HeaderMap, body: Bytes) -> Bytes {
    if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object()) {
        return body;
    }
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Runtime.Unknown");
    let message = String::from_utf8_lossy(&body).into_owned();
    Bytes::from(serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut out);
            for (name, data, mode) in files {
                let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
                writer.start_file(*name, options).unwrap();
                writer.write_all(data).unwrap();
            }
            writer.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn unpacking_keeps_the_executable_bit_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let zip = zip_of(&[
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("lib/data.txt", b"x", 0o644),
            ("../escape.txt", b"no", 0o644),
        ]);
        unpack(&zip, dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(dir.path().join("lib/data.txt").is_file());
        assert!(!dir.path().parent().unwrap().join("escape.txt").exists());
        assert!(matches!(
            unpack(b"not a zip", dir.path()),
            Err(StartError::Zip(_))
        ));
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert_ne!(id, request_id());
    }

    #[test]
    fn an_error_posted_without_json_is_made_into_one() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "lambda-runtime-function-error-type",
            "Runtime.HandlerError".parse().unwrap(),
        );
        let body = error_body(&headers, Bytes::from_static(b"boom"));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errorType"], "Runtime.HandlerError");
        assert_eq!(v["errorMessage"], "boom");
        let json = Bytes::from_static(br#"{"errorType":"E","errorMessage":"m"}"#);
        assert_eq!(error_body(&HeaderMap::new(), json.clone()), json);
    }
}
