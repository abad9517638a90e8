//! The call record: every request seen, in order, for tests to inspect from outside the tool.

use serde::Serialize;
use serde_json::Value;
use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub seq: u64,
    pub time: String,
    pub service: String,
    pub operation: String,
    pub mutating: bool,
    pub app: Option<String>,
    /// HTTP status of the answer; `None` while the call is still in flight.
    pub status: Option<u16>,
    /// True when the answer was a fault injected by the control API.
    pub injected: bool,
    pub params: Value,
}

/// Sequence numbers keep growing across `clear`, so a reader's `since` stays meaningful.
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<(u64, Vec<CallRecord>)>,
}

impl Recorder {
    /// Records a call as it arrives (before it is answered) and returns its sequence number.
    pub fn begin(
        &self,
        service: &str,
        operation: &str,
        mutating: bool,
        app: Option<String>,
        params: Value,
    ) -> u64 {
        let mut guard = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        let seq = guard.0;
        guard.1.push(CallRecord {
            seq,
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            service: service.to_string(),
            operation: operation.to_string(),
            mutating,
            app,
            status: None,
            injected: false,
            params,
        });
        seq
    }

    pub fn finish(&self, seq: u64, status: u16, injected: bool) {
        let mut guard = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(call) = guard.1.iter_mut().rev().find(|c| c.seq == seq) {
            call.status = Some(status);
            call.injected = injected;
        }
    }

    pub fn list(&self, app: Option<&str>, since: u64) -> Vec<CallRecord> {
        let guard = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .1
            .iter()
            .filter(|c| c.seq > since && app.is_none_or(|a| c.app.as_deref() == Some(a)))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order_and_filters_by_app() {
        let r = Recorder::default();
        let a = r.begin("kms", "CreateKey", true, Some("a".into()), Value::Null);
        let b = r.begin("iam", "GetRole", false, Some("b".into()), Value::Null);
        r.finish(a, 200, false);
        assert_eq!((a, b), (1, 2));
        let only_a = r.list(Some("a"), 0);
        assert_eq!(only_a.len(), 1);
        assert_eq!(only_a[0].status, Some(200));
        assert_eq!(r.list(None, 1).len(), 1);
        assert_eq!(
            r.list(None, 1)[0].status,
            None,
            "in-flight call has no status yet"
        );
    }
}
