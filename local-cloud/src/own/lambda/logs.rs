//! What functions printed: every line of their processes' stdout and stderr, and Lambda's own
//! START / END / REPORT lines, kept per function name (like a CloudWatch log group, they outlive
//! the function) and echoed to the emulator's log prefixed with the function name.

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

/// Lines kept per function; older ones are dropped first.
const KEEP: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Grows across all functions, so a reader can ask for what came after a line it saw.
    pub seq: u64,
    pub time: String,
    /// `stdout`, `stderr`, or `platform` for Lambda's own lines.
    pub stream: &'static str,
    pub message: String,
}

#[derive(Default)]
pub struct Logs {
    lines: Mutex<(u64, HashMap<String, VecDeque<LogLine>>)>,
}

impl Logs {
    pub fn push(&self, function: &str, stream: &'static str, message: String) {
        eprintln!("lambda {function} [{stream}]: {message}");
        let mut guard = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        let seq = guard.0;
        let lines = guard.1.entry(function.to_string()).or_default();
        while lines.len() >= KEEP {
            lines.pop_front();
        }
        lines.push_back(LogLine {
            seq,
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            stream,
            message,
        });
    }

    /// The function's lines after `since`, oldest first.
    pub fn of(&self, function: &str, since: u64) -> Vec<LogLine> {
        let guard = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .1
            .get(function)
            .map(|lines| lines.iter().filter(|l| l.seq > since).cloned().collect())
            .unwrap_or_default()
    }

    /// The lines of one invocation (from its START line on), for `X-Amz-Log-Type: Tail`.
    pub fn since_seq(&self, function: &str, from: u64) -> Vec<LogLine> {
        self.of(function, from.saturating_sub(1))
    }

    /// The sequence number the next line will get.
    pub fn next_seq(&self) -> u64 {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).0 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_per_function_in_order() {
        let logs = Logs::default();
        logs.push("a", "stdout", "one".into());
        logs.push("b", "stderr", "other".into());
        let from = logs.next_seq();
        logs.push("a", "platform", "two".into());
        let a = logs.of("a", 0);
        assert_eq!(
            a.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["one", "two"]
        );
        assert_eq!(logs.of("b", 0)[0].stream, "stderr");
        assert_eq!(logs.since_seq("a", from).len(), 1);
        assert!(logs.of("missing", 0).is_empty());
    }

    #[test]
    fn old_lines_are_dropped_past_the_limit() {
        let logs = Logs::default();
        for i in 0..KEEP + 5 {
            logs.lines
                .lock()
                .unwrap()
                .1
                .entry("f".into())
                .or_default()
                .push_back(LogLine {
                    seq: i as u64,
                    time: String::new(),
                    stream: "stdout",
                    message: i.to_string(),
                });
        }
        logs.push("f", "stdout", "last".into());
        let lines = logs.of("f", 0);
        assert_eq!(lines.len(), KEEP);
        assert_eq!(lines[0].message, "6", "the oldest lines went first");
        assert_eq!(lines.last().unwrap().message, "last");
    }
}
