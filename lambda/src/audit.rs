//! One structured audit line per invocation. Holds only masked identifiers: never a
//! password, a ciphertext or a full phone number.

use serde_json::{json, Value};

use crate::lex::LexEvent;

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
    pub latency_ms: u64,
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
            "latency_ms": self.latency_ms,
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
            latency_ms = self.latency_ms,
            "attempt"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
