//! One structured audit line per invocation. Holds only masked identifiers: never a
//! password, a ciphertext or a full phone number.

use std::time::Duration;

use serde_json::{json, Value};

use crate::lex::LexEvent;

/// How long the fulfillment's outside calls took, in milliseconds (0.1 ms resolution); a
/// phase that did not run is absent from the line. Tells an operator whether a slow reset
/// was the domain controller, DynamoDB or SNS.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// The directory search for the user.
    pub lookup_ms: Option<f64>,
    /// The failed-attempts read (runs alongside the lookup).
    pub attempts_ms: Option<f64>,
    /// The password write (unicodePwd modify).
    pub reset_ms: Option<f64>,
    /// The SMS (SNS Publish; runs alongside the counter clean-up, when there is one).
    pub sms_ms: Option<f64>,
    /// The one-time code's read from the attempts table.
    pub code_ms: Option<f64>,
}

/// A duration as logged: milliseconds, rounded to 0.1 ms.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// fulfilled | refused | failed | reset_sms_failed | reprompt | delegated
    pub outcome: String,
    /// Stable reason code (e.g. wrong_answer, locked_out, directory_access_denied).
    pub reason: String,
    /// Masked user ID.
    pub user: Option<String>,
    pub contact_id: Option<String>,
    pub invocation: Option<String>,
    /// Masked phone number the SMS went to.
    pub phone: Option<String>,
    /// This attempt locked the user ID.
    pub locked: bool,
    /// What the session has proven so far: `none`, `knowledge` or `code`.
    pub verified: &'static str,
    /// `reset` or `unlock`, once the intent is known.
    pub request: Option<&'static str>,
    pub latency_ms: u64,
    pub timings: Timings,
}

/// A contact ID as logged: Connect's contact IDs are UUIDs, so anything else (which could be
/// a phone number or other caller data in a malformed event) is logged as `malformed`.
fn contact_id(raw: &str) -> String {
    let uuid_like = raw.len() <= 64
        && raw.bytes().any(|b| b.is_ascii_alphabetic())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if uuid_like {
        raw.to_string()
    } else {
        "malformed".to_string()
    }
}

impl Audit {
    pub fn new(event: &LexEvent, contact_attribute: &str) -> Self {
        Audit {
            contact_id: event
                .session_attribute(contact_attribute)
                .or(event.session_id.as_deref())
                .map(contact_id),
            invocation: event.invocation_source.as_deref().map(|s| {
                match s {
                    "DialogCodeHook" | "FulfillmentCodeHook" => s,
                    _ => "other",
                }
                .to_string()
            }),
            verified: "none",
            ..Audit::default()
        }
    }

    pub fn set(&mut self, outcome: &str, reason: &str) {
        self.outcome = outcome.to_string();
        self.reason = reason.to_string();
    }

    pub fn to_json(&self) -> Value {
        json!({
            "audit": "resetpw",
            "outcome": self.outcome,
            "reason": self.reason,
            "user": self.user,
            "contact_id": self.contact_id,
            "invocation": self.invocation,
            "phone": self.phone,
            "locked": self.locked,
            "verified": self.verified,
            "request": self.request,
            "latency_ms": self.latency_ms,
            "lookup_ms": self.timings.lookup_ms,
            "attempts_ms": self.timings.attempts_ms,
            "reset_ms": self.timings.reset_ms,
            "sms_ms": self.timings.sms_ms,
            "code_ms": self.timings.code_ms,
        })
    }

    /// Writes the audit line through `tracing` (JSON on stdout in the Lambda).
    pub fn emit(&self) {
        tracing::info!(
            target: "resetpw::audit",
            audit = "resetpw",
            outcome = %self.outcome,
            reason = %self.reason,
            user = self.user.as_deref().unwrap_or(""),
            contact_id = self.contact_id.as_deref().unwrap_or(""),
            invocation = self.invocation.as_deref().unwrap_or(""),
            phone = self.phone.as_deref().unwrap_or(""),
            locked = self.locked,
            verified = self.verified,
            request = self.request.unwrap_or(""),
            latency_ms = self.latency_ms,
            lookup_ms = self.timings.lookup_ms,
            attempts_ms = self.timings.attempts_ms,
            reset_ms = self.timings.reset_ms,
            sms_ms = self.timings.sms_ms,
            code_ms = self.timings.code_ms,
            "attempt"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timings_are_milliseconds_to_a_tenth() {
        assert_eq!(millis(Duration::from_micros(33_449)), 33.4);
        assert_eq!(millis(Duration::from_micros(4_350)), 4.4);
        assert_eq!(millis(Duration::ZERO), 0.0);
    }

    #[test]
    fn only_known_shapes_of_event_values_are_logged() {
        let e = LexEvent::from_value(json!({
            "invocationSource": "+15550100001",
            "sessionId": "5550100001",
            "sessionState": {"sessionAttributes": {"ContactId": "+1 555 010 0001"}}
        }));
        let a = Audit::new(&e, "ContactId");
        assert_eq!(a.invocation.as_deref(), Some("other"));
        assert_eq!(a.contact_id.as_deref(), Some("malformed"));
        let e = LexEvent::from_value(json!({
            "invocationSource": "FulfillmentCodeHook",
            "sessionState": {"sessionAttributes": {"ContactId": "3f1b2c4d-0a1b-4c5d-9e8f-123456789abc"}}
        }));
        let a = Audit::new(&e, "ContactId");
        assert_eq!(a.invocation.as_deref(), Some("FulfillmentCodeHook"));
        assert_eq!(
            a.contact_id.as_deref(),
            Some("3f1b2c4d-0a1b-4c5d-9e8f-123456789abc")
        );
    }
}
