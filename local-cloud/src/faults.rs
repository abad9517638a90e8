//! Fault injection: latency and error answers (throttling, 500, 503) per service, operation or
//! app id, switched on over HTTP by a test. Error bodies follow each protocol's real shape so the
//! SDK classifies them as it would AWS's own.

use crate::protocol::Protocol;
use axum::body::Body;
use axum::http::{header, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default)]
    pub id: u64,
    /// SigV4 signing name to match (any when absent).
    pub service: Option<String>,
    /// Operation name to match (any when absent).
    pub operation: Option<String>,
    /// SDK app id to match (any when absent), so parallel tests don't disturb each other.
    pub app: Option<String>,
    /// Share of matching calls that get the error, 0.0 to 1.0.
    #[serde(default = "one")]
    pub rate: f64,
    /// HTTP status of the injected error; no error (latency only) when absent.
    pub status: Option<u16>,
    /// Error code; by default the protocol's throttling code for 400/429, else a server error.
    pub code: Option<String>,
    /// Error message; by default "injected by the local cloud". Lets a test send an error
    /// as the service words it (Lambda's "The role defined for the function cannot be assumed
    /// by Lambda.", say), for clients that branch on the text.
    pub message: Option<String>,
    /// Delay added to every matching call, errors or not.
    #[serde(default)]
    pub latency_ms: u64,
    /// For the emulator's own Lex: the asynchronous status change a matching call starts (a
    /// version `Creating` → `Available`, a build `Building` → `Built`, ...) takes this many
    /// milliseconds instead of the configured delay. Applies to every matching call, with or
    /// without `status`, so one test can slow its own changes down without touching others.
    #[serde(default)]
    pub transition_ms: Option<u64>,
    /// Stop after injecting this many errors (unlimited when absent).
    pub remaining: Option<u64>,
}

fn one() -> f64 {
    1.0
}

/// What to do with one call.
pub struct Decision {
    pub delay: Duration,
    pub error: Option<(u16, String)>,
    /// The message for `error`, when the rule gives one.
    pub message: Option<String>,
    /// How long the status change the call starts takes, when a rule sets it.
    pub transition: Option<Duration>,
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<(u64, Vec<FaultRule>)>,
}

impl Faults {
    pub fn add(&self, mut rule: FaultRule) -> FaultRule {
        let mut guard = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        rule.id = guard.0;
        rule.rate = rule.rate.clamp(0.0, 1.0);
        guard.1.push(rule.clone());
        rule
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    pub fn clear(&self, app: Option<&str>) {
        let mut guard = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .1
            .retain(|r| app.is_some_and(|a| r.app.as_deref() != Some(a)));
    }

    pub fn decide(&self, service: &str, operation: &str, app: Option<&str>) -> Decision {
        let mut guard = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let mut decision = Decision {
            delay: Duration::ZERO,
            error: None,
            message: None,
            transition: None,
        };
        for rule in guard.1.iter_mut() {
            let matches = rule.service.as_deref().is_none_or(|s| s == service)
                && rule.operation.as_deref().is_none_or(|o| o == operation)
                && rule.app.as_deref().is_none_or(|a| Some(a) == app);
            if !matches {
                continue;
            }
            decision.delay += Duration::from_millis(rule.latency_ms);
            if let Some(ms) = rule.transition_ms {
                decision.transition = Some(Duration::from_millis(ms));
            }
            let Some(status) = rule.status else { continue };
            if decision.error.is_some() || rule.remaining == Some(0) || fastrand::f64() >= rule.rate
            {
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            decision.error = Some((status, rule.code.clone().unwrap_or_default()));
            decision.message = rule.message.clone();
        }
        decision
    }
}

/// An error answer in the shape the protocol's SDK parser expects.
pub fn error_response(
    protocol: Protocol,
    status: u16,
    code: &str,
    message: Option<&str>,
) -> Response<Body> {
    let code = if !code.is_empty() {
        code.to_string()
    } else if status == 400 || status == 429 {
        match protocol {
            Protocol::Query => "Throttling",
            Protocol::Ec2Query => "RequestLimitExceeded",
            Protocol::Json | Protocol::Rest => "ThrottlingException",
        }
        .to_string()
    } else if status == 503 {
        "ServiceUnavailable".to_string()
    } else {
        "InternalFailure".to_string()
    };
    let message = message.unwrap_or("injected by the local cloud");
    let (content_type, body) = match protocol {
        Protocol::Json | Protocol::Rest => (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        ),
        Protocol::Query => (
            "text/xml",
            format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>local-cloud</RequestId></ErrorResponse>"),
        ),
        Protocol::Ec2Query => (
            "text/xml",
            format!("<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>local-cloud</RequestID></Response>"),
        ),
    };
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .header("x-amzn-errortype", code)
        .header("x-amzn-requestid", "local-cloud")
        .body(Body::from(body))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(app: &str, rate: f64, remaining: Option<u64>) -> FaultRule {
        FaultRule {
            id: 0,
            service: Some("kms".into()),
            operation: None,
            app: Some(app.into()),
            rate,
            status: Some(400),
            code: None,
            message: None,
            latency_ms: 5,
            transition_ms: None,
            remaining,
        }
    }

    #[test]
    fn rules_match_by_service_and_app_and_count_down() {
        let f = Faults::default();
        f.add(rule("t1", 1.0, Some(1)));
        assert!(f.decide("iam", "GetRole", Some("t1")).error.is_none());
        assert!(f.decide("kms", "CreateKey", Some("other")).error.is_none());
        let d = f.decide("kms", "CreateKey", Some("t1"));
        assert_eq!(d.error, Some((400, String::new())));
        assert_eq!(d.delay, Duration::from_millis(5));
        assert!(
            f.decide("kms", "CreateKey", Some("t1")).error.is_none(),
            "exhausted"
        );
    }

    #[test]
    fn a_transition_rule_applies_without_an_error() {
        let f = Faults::default();
        f.add(FaultRule {
            status: None,
            transition_ms: Some(3000),
            latency_ms: 0,
            ..rule("t1", 1.0, None)
        });
        let d = f.decide("kms", "CreateKey", Some("t1"));
        assert!(d.error.is_none());
        assert_eq!(d.transition, Some(Duration::from_secs(3)));
        assert_eq!(f.decide("kms", "CreateKey", Some("t2")).transition, None);
    }

    #[test]
    fn clearing_by_app_keeps_other_rules() {
        let f = Faults::default();
        f.add(rule("a", 0.5, None));
        f.add(rule("b", 0.5, None));
        f.clear(Some("a"));
        assert_eq!(f.list().len(), 1);
        f.clear(None);
        assert!(f.list().is_empty());
    }

    #[test]
    fn throttling_codes_follow_the_protocol() {
        let r = error_response(Protocol::Query, 400, "", None);
        assert_eq!(r.headers()["x-amzn-errortype"], "Throttling");
        let r = error_response(Protocol::Json, 400, "", None);
        assert_eq!(r.headers()["x-amzn-errortype"], "ThrottlingException");
        let r = error_response(Protocol::Ec2Query, 503, "", None);
        assert_eq!(r.status(), 503);
    }
}
