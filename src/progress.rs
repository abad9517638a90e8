//! Progress: one line per resource with its state and elapsed time. Spinners (indicatif) on a
//! terminal; plain timestamped lines otherwise or with `--progress plain`. Always on stderr.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub trait Progress: Send + Sync {
    /// A resource starts something, or its state changes (e.g. what it waits for).
    fn begin(&self, id: &str, message: &str);
    fn end(&self, id: &str, message: &str, elapsed: Duration);
    fn fail(&self, id: &str, message: &str, elapsed: Duration);
    /// A line not tied to one resource.
    fn message(&self, message: &str);
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
