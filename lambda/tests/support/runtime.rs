//! A minimal Lambda Runtime API (the `bootstrap` side of it) for running the real binary:
//! hands out queued events on `GET .../invocation/next` and records every response.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One answer of the function.
#[derive(Debug, Clone)]
pub struct Answer {
    pub at: Instant,
    pub body: String,
    /// Posted to `/error` (a runtime error) rather than `/response`.
    pub error: bool,
}

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    first_poll: Option<Instant>,
    sent: Vec<Instant>,
    answers: Vec<Answer>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub addr: String,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = RuntimeApi {
            addr: listener.local_addr().unwrap().to_string(),
            state: Arc::default(),
            changed: Arc::default(),
        };
        let server = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(server.clone().serve(stream));
            }
        });
        api
    }

    /// Queues an event for the next poll.
    pub fn push(&self, event: String) {
        self.state.lock().unwrap().queue.push_back(event);
        self.changed.notify_waiters();
    }

    /// When the function first asked for an event (the end of its init).
    pub fn first_poll(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_poll
    }

    /// When the `i`-th event was handed out.
    pub fn sent_at(&self, i: usize) -> Instant {
        self.state.lock().unwrap().sent[i]
    }

    /// Waits for the `i`-th answer (0-based).
    pub async fn answer(&self, i: usize, within: Duration) -> Answer {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            if let Some(a) = self.state.lock().unwrap().answers.get(i) {
                return a.clone();
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no answer {i} from bootstrap within {within:?}"));
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    async fn next_event(&self) -> String {
        loop {
            let notified = self.changed.notified();
            {
                let mut state = self.state.lock().unwrap();
                state.first_poll.get_or_insert_with(Instant::now);
                if let Some(event) = state.queue.pop_front() {
                    state.sent.push(Instant::now());
                    return event;
                }
            }
            notified.await;
        }
    }

    async fn serve(self, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let (mut length, mut chunked) = (0usize, false);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                    return;
                }
                if header == "\r\n" {
                    break;
                }
                if let Some((k, v)) = header.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                        chunked = true;
                    }
                }
            }
            let mut body = Vec::new();
            if chunked {
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size).await.unwrap();
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0; n + 2];
                    reader.read_exact(&mut chunk).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
            } else {
                body.resize(length, 0);
                reader.read_exact(&mut body).await.unwrap();
            }
            if request_line.starts_with("GET") && request_line.contains("/invocation/next") {
                let event = self.next_event().await;
                let id = self.state.lock().unwrap().sent.len();
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 30_000;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: req-{id}\r\nlambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:resetpw\r\ncontent-length: {}\r\n\r\n",
                    event.len()
                );
                if write.write_all(head.as_bytes()).await.is_err()
                    || write.write_all(event.as_bytes()).await.is_err()
                {
                    return;
                }
            } else {
                let error = request_line.contains("/error");
                if error || request_line.contains("/response") {
                    self.state.lock().unwrap().answers.push(Answer {
                        at: Instant::now(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        error,
                    });
                    self.changed.notify_waiters();
                }
                if write
                    .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Spawns the `bootstrap` built with these tests against `api`, with `vars` as its
/// environment (plus PATH and the AWS settings of the local cloud); stdout piped.
pub fn spawn_bootstrap(
    bootstrap: &std::path::Path,
    api: &RuntimeApi,
    vars: &std::collections::HashMap<String, String>,
) -> tokio::process::Child {
    tokio::process::Command::new(bootstrap)
        .env_clear()
        .envs(vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "resetpw")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bootstrap starts")
}
