//! Progress: one line per resource with its state and elapsed time. Spinners (indicatif) on a
//! terminal; plain timestamped lines otherwise or with `--progress plain`. Always on stderr.
//! With `--output json`, [`JsonLines`] also writes each event as one JSON object on stdout.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub trait Progress: Send + Sync {
    /// A resource starts something, or its state changes (e.g. what it waits for).
    fn begin(&self, id: &str, message: &str);
    fn end(&self, id: &str, message: &str, elapsed: Duration);
    fn fail(&self, id: &str, message: &str, elapsed: Duration);
    /// A line not tied to one resource.
    fn message(&self, message: &str);
    /// The resource needed nothing (humans see it in the plan already).
    fn unchanged(&self, _id: &str) {}
}

pub fn elapsed_text(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Timestamped lines, for CI logs.
pub struct Plain;

impl Plain {
    fn line(&self, text: &str) {
        let now = humantime::format_rfc3339_seconds(SystemTime::now());
        eprintln!("{now} {text}");
    }
}

impl Progress for Plain {
    fn begin(&self, _id: &str, message: &str) {
        self.line(message);
    }
    fn end(&self, _id: &str, message: &str, elapsed: Duration) {
        self.line(&format!("{message} ({})", elapsed_text(elapsed)));
    }
    fn fail(&self, _id: &str, message: &str, elapsed: Duration) {
        self.line(&format!("FAILED {message} ({})", elapsed_text(elapsed)));
    }
    fn message(&self, message: &str) {
        self.line(message);
    }
}

/// Spinners, one per resource, for people at a terminal.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, id: &str) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        bars.entry(id.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }

    fn finish(&self, id: &str, mark: String, message: &str, elapsed: Duration) {
        let bar = self.bar(id);
        bar.set_style(
            ProgressStyle::with_template("{msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.finish_with_message(format!("{mark} {message} ({})", elapsed_text(elapsed)));
    }
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bars {
    fn begin(&self, id: &str, message: &str) {
        self.bar(id).set_message(message.to_string());
    }
    fn end(&self, id: &str, message: &str, elapsed: Duration) {
        self.finish(
            id,
            console::style("✓").green().to_string(),
            message,
            elapsed,
        );
    }
    fn fail(&self, id: &str, message: &str, elapsed: Duration) {
        self.finish(id, console::style("✗").red().to_string(), message, elapsed);
    }
    fn message(&self, message: &str) {
        let _ = self.multi.println(message);
    }
}

/// Which resource an event is about, as the plan describes it.
#[derive(Debug, Clone)]
pub struct Described {
    pub kind: String,
    pub name: String,
    pub action: String,
}

/// The machine-readable event stream of `up` and `down --output json`: one JSON object per line
/// on stdout, each written whole; the human display (`inner`) goes on as before on stderr.
pub struct JsonLines {
    inner: Arc<dyn Progress>,
    described: Mutex<BTreeMap<String, Described>>,
    started: Mutex<HashMap<String, Instant>>,
}

impl JsonLines {
    pub fn new(inner: Arc<dyn Progress>) -> Self {
        JsonLines {
            inner,
            described: Mutex::new(BTreeMap::new()),
            started: Mutex::new(HashMap::new()),
        }
    }

    /// What each resource id is (kind, name, planned action), for the events that follow.
    pub fn describe(&self, id: &str, d: Described) {
        lock(&self.described).insert(id.to_string(), d);
    }

    /// Writes one object as one line on stdout.
    pub fn emit(value: &Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }

    /// Now, as RFC 3339 with milliseconds (UTC).
    pub fn now() -> String {
        humantime::format_rfc3339_millis(SystemTime::now()).to_string()
    }

    fn resource_event(
        &self,
        id: &str,
        state: &str,
        message: Option<&str>,
        elapsed: Option<Duration>,
        error: Option<&str>,
    ) {
        let elapsed = elapsed.unwrap_or_else(|| {
            lock(&self.started)
                .get(id)
                .map_or(Duration::ZERO, Instant::elapsed)
        });
        let d = lock(&self.described).get(id).cloned();
        Self::emit(&json!({
            "type": "resource",
            "time": Self::now(),
            "id": id,
            "kind": d.as_ref().map(|d| d.kind.as_str()),
            "name": d.as_ref().map(|d| d.name.as_str()),
            "action": d.as_ref().map(|d| d.action.as_str()),
            "state": state,
            "message": message,
            "elapsed": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "error": error,
        }));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Progress for JsonLines {
    fn begin(&self, id: &str, message: &str) {
        let first = {
            let mut started = lock(&self.started);
            let first = !started.contains_key(id);
            started.entry(id.to_string()).or_insert_with(Instant::now);
            first
        };
        let state = if first { "started" } else { "in_progress" };
        self.resource_event(id, state, Some(message), None, None);
        self.inner.begin(id, message);
    }
    fn end(&self, id: &str, message: &str, elapsed: Duration) {
        self.resource_event(id, "done", Some(message), Some(elapsed), None);
        self.inner.end(id, message, elapsed);
    }
    fn fail(&self, id: &str, message: &str, elapsed: Duration) {
        self.resource_event(id, "failed", None, Some(elapsed), Some(message));
        self.inner.fail(id, message, elapsed);
    }
    fn message(&self, message: &str) {
        Self::emit(&json!({"type": "message", "time": Self::now(), "message": message}));
        self.inner.message(message);
    }
    fn unchanged(&self, id: &str) {
        self.resource_event(id, "unchanged", None, Some(Duration::ZERO), None);
        self.inner.unchanged(id);
    }
}
