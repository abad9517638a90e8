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

impl Audit {
    pub fn new(event: &LexEvent, contact_attribute: &str) -> Self {
        Audit {
            contact_id: event
                .session_attribute(contact_attribute)
                .or(event.session_id.as_deref())
                .map(|s| s.chars().take(64).collect()),
            invocation: event.invocation_source.clone(),
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
