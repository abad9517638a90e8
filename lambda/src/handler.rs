//! The fulfillment logic: validates slots, throttles, verifies the caller against the
//! directory, resets the password and sends it by SMS. No network here: everything goes
//! through the traits in [`crate::ports`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use subtle::{Choice, ConstantTimeEq};

use crate::audit::{millis, Audit};
use crate::config::{AnswerKind, CallerIdMode, Config, Question};
use crate::lex::{self, LexEvent, LexResponse, Outcome, Source};
use crate::normalize;
use crate::password;
use crate::ports::{
    AttemptStatus, AttemptsStore, Clock, Directory, DirectoryUser, Notifier, ResetOptions,
};

/// Read to the caller when verification fails, the user is unknown or locked out: always the same.
pub const MSG_NOT_VERIFIED: &str = "Sorry, I could not verify your identity with those details, so I can't reset your password. If you need more help, please contact the service desk.";
/// Read to the caller when something failed on our side.
pub const MSG_HELP_DESK: &str = "Sorry, I couldn't finish resetting your password. Please contact the service desk, and they will help you.";
pub const MSG_DONE: &str = "Thank you. Your password has been reset, and a temporary password is on its way by text message to the mobile number we have on file.";
pub const MSG_DONE_CHANGE: &str = " You will be asked to choose a new one when you sign in.";
pub const MSG_WRONG_INTENT: &str =
    "Sorry, I can only help with password resets. Please contact the service desk.";
pub const PROMPT_USER_ID: &str =
    "Sorry, that doesn't sound like a user ID. Please spell your user ID, one letter or number at a time.";
pub const PROMPT_DATE: &str =
    "Sorry, I need a real date that is not in the future. Please say the full date again, for example March the fourteenth, nineteen eighty-five.";
pub const PROMPT_MONTH: &str =
    "Sorry, I didn't catch a month. Please say the month, for example March.";
pub const PROMPT_TEXT: &str = "Sorry, I didn't catch that. Please say it again.";

/// The handler with its collaborators.
pub struct Handler {
    config: Arc<Config>,
    directory: Arc<dyn Directory>,
    notifier: Arc<dyn Notifier>,
    attempts: Arc<dyn AttemptsStore>,
    clock: Arc<dyn Clock>,
}

/// Why an attempt did not reset a password, or what happened.
enum Refusal {
    NotVerified(&'static str),
    HelpDesk(&'static str),
}

impl Handler {
    pub fn new(
        config: Arc<Config>,
        directory: Arc<dyn Directory>,
        notifier: Arc<dyn Notifier>,
        attempts: Arc<dyn AttemptsStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Handler {
            config,
            directory,
            notifier,
            attempts,
            clock,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one event and writes its audit line.
    pub async fn handle(&self, event: LexEvent) -> LexResponse {
        let (response, audit) = self.handle_with_audit(event).await;
        audit.emit();
        response
    }

    /// Handles one event and returns the response and the audit record (not yet written).
    pub async fn handle_with_audit(&self, event: LexEvent) -> (LexResponse, Audit) {
        let started = Instant::now();
        let mut audit = Audit::new(&event, &self.config.contact_id_session_attribute);
        let response = self.process(&event, &mut audit).await;
        audit.latency_ms = started.elapsed().as_millis() as u64;
        (response, audit)
    }

    async fn process(&self, event: &LexEvent, audit: &mut Audit) -> LexResponse {
        let cfg = &self.config;
        let intent_name = cfg.intent_name.as_str();
        // A malformed event (no intent, or no usable intent name) gets the generic answer.
        let Some(intent) = event
            .session_state
            .intent
            .as_ref()
            .filter(|i| !i.name.trim().is_empty())
        else {
            audit.set("failed", "no_intent");
            return lex::close(event, intent_name, Outcome::Failed, MSG_HELP_DESK);
        };
        if intent.name != cfg.intent_name {
            audit.set("failed", "unexpected_intent");
            return lex::close(event, &intent.name, Outcome::Failed, MSG_WRONG_INTENT);
        }
        let Some(source) = event.source() else {
            audit.set("failed", "unknown_invocation_source");
            return lex::close(event, intent_name, Outcome::Failed, MSG_HELP_DESK);
        };

        // Slot validation, on both hooks: re-prompt a malformed value.
        let raw_user_id = intent.slot_value(&cfg.user_id_slot);
        let user_id = match raw_user_id {
            Some(raw) => match normalize::user_id(raw) {
                Some(id) => Some(id),
                None => {
                    audit.set("reprompt", "malformed_user_id");
                    return lex::elicit_slot(event, intent_name, &cfg.user_id_slot, PROMPT_USER_ID)
                        .spelled_by_letter();
                }
            },
            None => None,
        };
        if let Some(id) = &user_id {
            audit.user = Some(normalize::mask_user_id(id));
        }
        let today = time::OffsetDateTime::from_unix_timestamp(self.clock.now() as i64)
            .map(|t| t.date())
            .unwrap_or(time::Date::MIN);
        let mut answers: Vec<Option<String>> = Vec::with_capacity(cfg.questions.len());
        for q in &cfg.questions {
            match intent.slot_value(&q.slot) {
                None => answers.push(None),
                Some(raw) => match caller_answer(q.kind, raw, today) {
                    Some(v) => answers.push(Some(v)),
                    None => {
                        audit.set("reprompt", "malformed_answer");
                        return lex::elicit_slot(event, intent_name, &q.slot, prompt_for(q));
                    }
                },
            }
        }

        if source == Source::Dialog {
            // The user ID is spelled on the phone: when it is the slot Lex would elicit next
            // (or, without a proposed next state, while it is missing), elicit it ourselves
            // with the spell-by-letter style; every other step is Lex's own.
            let next = match &event.proposed_next_state {
                Some(_) => event.proposed_slot(),
                None => user_id.is_none().then_some(cfg.user_id_slot.as_str()),
            };
            if next == Some(cfg.user_id_slot.as_str()) {
                audit.set("delegated", "spell_user_id");
                return lex::elicit_spelled(event, intent_name, &cfg.user_id_slot);
            }
            audit.set("delegated", "dialog");
            return lex::delegate(event, intent_name);
        }

        // Fulfillment: every slot must be there.
        let Some(user_id) = user_id else {
            audit.set("reprompt", "missing_user_id");
            return lex::elicit_slot(event, intent_name, &cfg.user_id_slot, PROMPT_USER_ID)
                .spelled_by_letter();
        };
        let mut given = Vec::with_capacity(answers.len());
        for (q, a) in cfg.questions.iter().zip(answers) {
            match a {
                Some(a) => given.push(a),
                None => {
                    audit.set("reprompt", "missing_answer");
                    return lex::elicit_slot(event, intent_name, &q.slot, prompt_for(q));
                }
            }
        }

        match self.fulfil(event, &user_id, &given, audit).await {
            Ok(()) => {
                let mut text = MSG_DONE.to_string();
                if cfg.force_change_at_logon {
                    text.push_str(MSG_DONE_CHANGE);
                }
                audit.set("fulfilled", "reset");
                lex::close(event, intent_name, Outcome::Fulfilled, &text)
            }
            Err(Refusal::NotVerified(reason)) => {
                audit.set("refused", reason);
                lex::close(event, intent_name, Outcome::Failed, MSG_NOT_VERIFIED)
            }
            Err(Refusal::HelpDesk(reason)) => {
                if audit.outcome.is_empty() {
                    audit.set("failed", reason);
                } else {
                    audit.reason = reason.to_string();
                }
                lex::close(event, intent_name, Outcome::Failed, MSG_HELP_DESK)
            }
        }
    }

    async fn fulfil(
        &self,
        event: &LexEvent,
        user_id: &str,
        given: &[String],
        audit: &mut Audit,
    ) -> Result<(), Refusal> {
        let cfg = &self.config;
        let now = self.clock.now();
        let key = normalize::attempts_key(user_id);

        let caller = event.session_attribute(&cfg.caller_id_session_attribute);
        if cfg.caller_id == CallerIdMode::Required && caller.is_none() {
            return Err(Refusal::NotVerified("caller_id_missing"));
        }
        let check_caller = cfg.caller_id != CallerIdMode::Off && caller.is_some();
        let caller_e164 = caller
            .and_then(|c| normalize::e164(c, cfg.default_country_code.as_deref()))
            .unwrap_or_default();

        // The attempts are read while the directory is searched. The same directory work on
        // every path (unknown, wrong, locked): one lookup.
        let ((status, attempts_time), (found, lookup_time)) = tokio::join!(
            timed(self.attempts.status(&key, now)),
            timed(self.directory.find_user(user_id))
        );
        audit.timings.attempts_ms = Some(millis(attempts_time));
        audit.timings.lookup_ms = Some(millis(lookup_time));
        let status = status.map_err(|e| {
            tracing::error!(error = %e, "attempts store unavailable");
            Refusal::HelpDesk("attempts_store_error")
        })?;
        let found = found.map_err(|e| {
            tracing::error!(error = %e, reason = e.reason_code(), "directory lookup failed");
            Refusal::HelpDesk(e.reason_code())
        })?;

        let (user_found, answers_ok, caller_ok) =
            self.verify(found.as_ref(), given, check_caller, &caller_e164);

        if let AttemptStatus::Locked { .. } = status {
            return Err(Refusal::NotVerified("locked_out"));
        }
        let failure = if !bool::from(user_found) {
            Some("unknown_user")
        } else if !bool::from(answers_ok) {
            Some("wrong_answer")
        } else if !bool::from(caller_ok) {
            Some("caller_id_mismatch")
        } else {
            None
        };
        if let Some(reason) = failure {
            match self.attempts.record_failure(&key, now).await {
                Ok(AttemptStatus::Locked { .. }) => audit.locked = true,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not count a failed attempt"),
            }
            return Err(Refusal::NotVerified(reason));
        }
        let user = found.expect("verified implies found");

        let Some(phone) = user
            .phone
            .as_deref()
            .and_then(|p| normalize::e164(p, cfg.default_country_code.as_deref()))
        else {
            return Err(Refusal::HelpDesk("no_phone_on_record"));
        };

        let new_password = password::generate(
            &mut rand::rng(),
            cfg.password_length,
            &user.account_name,
            &user.display_name,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "password generation failed");
            Refusal::HelpDesk("password_generation_failed")
        })?;

        let options = ResetOptions {
            force_change: cfg.force_change_at_logon,
            unlock: cfg.unlock_account,
        };
        let (written, reset_time) =
            timed(self.directory.reset_password(&user, &new_password, options)).await;
        audit.timings.reset_ms = Some(millis(reset_time));
        written.map_err(|e| {
            tracing::error!(error = %e, reason = e.reason_code(), "password reset failed");
            Refusal::HelpDesk(e.reason_code())
        })?;

        // Only now that the password is changed: the SMS and the counter clean-up, together.
        // The clean-up only when the read found failures to forget (an expired window's item
        // is treated as fresh by the next failure and removed by the table's TTL).
        let message = sms_text(&new_password, cfg.force_change_at_logon);
        let had_failures = matches!(status, AttemptStatus::Allowed { failures } if failures > 0);
        let clear = async {
            if had_failures {
                self.attempts.clear(&key).await
            } else {
                Ok(())
            }
        };
        let (cleared, (sent, sms_time)) =
            tokio::join!(clear, timed(self.notifier.send_sms(&phone, &message)));
        audit.timings.sms_ms = Some(millis(sms_time));
        if let Err(e) = cleared {
            tracing::warn!(error = %e, "could not clear the failed-attempt counter");
        }
        if let Err(e) = sent {
            tracing::error!(
                error = %e,
                phone = %normalize::mask_phone(&phone),
                "password was reset but the SMS could not be sent; the caller was told to contact the service desk"
            );
            audit.set("reset_sms_failed", "sms_failed");
            return Err(Refusal::HelpDesk("sms_failed"));
        }
        audit.phone = Some(normalize::mask_phone(&phone));
        Ok(())
    }

    /// Compares every answer and the caller ID in constant time; an unknown user is compared
    /// against placeholders so the work is the same.
    fn verify(
        &self,
        found: Option<&DirectoryUser>,
        given: &[String],
        check_caller: bool,
        caller_e164: &str,
    ) -> (Choice, Choice, Choice) {
        let cfg = &self.config;
        let user_found = Choice::from(found.is_some() as u8);
        let mut answers_ok = Choice::from(1u8);
        for (q, answer) in cfg.questions.iter().zip(given) {
            let expected = found
                .and_then(|u| u.answers.get(&q.attribute))
                .and_then(|v| directory_answer(q.kind, v, cfg.directory_date_format));
            // A placeholder no caller answer can equal (it has a NUL byte).
            let expected = expected.unwrap_or_else(|| "\0unset".to_string());
            answers_ok &= expected.as_bytes().ct_eq(answer.as_bytes());
        }
        let caller_ok = if check_caller {
            let on_record = found
                .and_then(|u| u.phone.as_deref())
                .and_then(|p| normalize::e164(p, cfg.default_country_code.as_deref()))
                .unwrap_or_else(|| "\0unset".to_string());
            Choice::from(!caller_e164.is_empty() as u8)
                & on_record.as_bytes().ct_eq(caller_e164.as_bytes())
        } else {
            Choice::from(1u8)
        };
        (user_found, answers_ok, caller_ok)
    }
}

fn prompt_for(q: &Question) -> &'static str {
    match q.kind {
        AnswerKind::Date => PROMPT_DATE,
        AnswerKind::Month => PROMPT_MONTH,
        AnswerKind::Text => PROMPT_TEXT,
    }
}

/// The caller's answer in canonical form, or `None` when malformed.
fn caller_answer(kind: AnswerKind, raw: &str, today: time::Date) -> Option<String> {
    match kind {
        AnswerKind::Date => {
            let d = normalize::lex_date(raw)?;
            (d <= today).then(|| normalize::canonical_date(d))
        }
        AnswerKind::Month => normalize::month(raw).map(|m| m.to_string()),
        AnswerKind::Text => {
            let t = normalize::text(raw);
            (!t.is_empty() && t.len() <= 256).then_some(t)
        }
    }
}

/// The directory's value in canonical form, or `None` when it cannot be read.
fn directory_answer(kind: AnswerKind, raw: &str, format: normalize::DateFormat) -> Option<String> {
    match kind {
        AnswerKind::Date => normalize::parse_date(raw, format).map(normalize::canonical_date),
        AnswerKind::Month => normalize::month(raw).map(|m| m.to_string()),
        AnswerKind::Text => Some(normalize::text(raw)).filter(|t| !t.is_empty()),
    }
}

/// The SMS body. Kept short (one SMS segment) and plain.
pub fn sms_text(password: &SecretString, force_change: bool) -> SecretString {
    let tail = if force_change {
        " You will be asked to change it when you sign in."
    } else {
        ""
    };
    SecretString::from(format!(
        "Your temporary password is {}{tail} If you did not ask for this, call the service desk.",
        password.expose_secret()
    ))
}

/// Runs `f` and says how long it took.
async fn timed<F: Future>(f: F) -> (F::Output, Duration) {
    let started = Instant::now();
    let out = f.await;
    (out, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{DirectoryError, NotifyError, StoreError};
    use async_trait::async_trait;
    use serde_json::{json, Value};
    use std::collections::{BTreeMap, HashMap};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    // In-memory collaborators for the handler logic.

    #[derive(Default)]
    struct MemDirectory {
        users: Mutex<HashMap<String, DirectoryUser>>,
        passwords: Mutex<HashMap<String, String>>,
        lookups: AtomicU64,
        fail_reset: Option<fn() -> DirectoryError>,
        /// Met by the attempts read: the lookup finishes only if both run at once.
        meet: Option<Arc<tokio::sync::Barrier>>,
    }

    #[async_trait]
    impl Directory for MemDirectory {
        async fn find_user(&self, user_id: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            if let Some(b) = &self.meet {
                b.wait().await;
            }
            Ok(self
                .users
                .lock()
                .unwrap()
                .get(&user_id.to_lowercase())
                .cloned())
        }
        async fn reset_password(
            &self,
            user: &DirectoryUser,
            password: &SecretString,
            _: ResetOptions,
        ) -> Result<(), DirectoryError> {
            if let Some(f) = self.fail_reset {
                return Err(f());
            }
            self.passwords
                .lock()
                .unwrap()
                .insert(user.dn.clone(), password.expose_secret().to_string());
            Ok(())
        }
    }

    #[derive(Default)]
    struct MemNotifier {
        sent: Mutex<Vec<(String, String)>>,
        fail: bool,
        /// Met by the attempts clean-up: the SMS goes only if both run at once.
        meet: Option<Arc<tokio::sync::Barrier>>,
    }

    #[async_trait]
    impl Notifier for MemNotifier {
        async fn send_sms(&self, phone: &str, message: &SecretString) -> Result<(), NotifyError> {
            if let Some(b) = &self.meet {
                b.wait().await;
            }
            if self.fail {
                return Err(NotifyError::Publish("Throttling".into()));
            }
            self.sent
                .lock()
                .unwrap()
                .push((phone.to_string(), message.expose_secret().to_string()));
            Ok(())
        }
    }

    /// Same semantics as the DynamoDB store, in memory.
    struct MemAttempts {
        max: u32,
        window: u64,
        lockout: u64,
        items: Mutex<HashMap<String, (u32, u64, u64)>>, // failures, window_start, locked_until
        meet_status: Option<Arc<tokio::sync::Barrier>>,
        meet_clear: Option<Arc<tokio::sync::Barrier>>,
    }

    #[async_trait]
    impl AttemptsStore for MemAttempts {
        async fn status(&self, key: &str, now: u64) -> Result<AttemptStatus, StoreError> {
            if let Some(b) = &self.meet_status {
                b.wait().await;
            }
            Ok(match self.items.lock().unwrap().get(key) {
                Some(&(_, _, until)) if until > now => AttemptStatus::Locked { until },
                Some(&(f, start, _)) if now < start + self.window => {
                    AttemptStatus::Allowed { failures: f }
                }
                _ => AttemptStatus::Allowed { failures: 0 },
            })
        }
        async fn record_failure(&self, key: &str, now: u64) -> Result<AttemptStatus, StoreError> {
            let mut items = self.items.lock().unwrap();
            let e = items.entry(key.to_string()).or_insert((0, now, 0));
            if now >= e.1 + self.window || (e.2 != 0 && e.2 <= now) {
                *e = (0, now, 0);
            }
            e.0 += 1;
            if e.0 >= self.max {
                e.2 = now + self.lockout;
                return Ok(AttemptStatus::Locked { until: e.2 });
            }
            Ok(AttemptStatus::Allowed { failures: e.0 })
        }
        async fn clear(&self, key: &str) -> Result<(), StoreError> {
            if let Some(b) = &self.meet_clear {
                b.wait().await;
            }
            self.items.lock().unwrap().remove(key);
            Ok(())
        }
    }

    struct ManualClock(AtomicU64);
    impl Clock for ManualClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    const NOW: u64 = 1_790_000_000; // 2026-09-21

    fn config(caller: &str) -> Config {
        let env: HashMap<&str, &str> = HashMap::from([
            ("RESETPW_LDAP_URLS", "ldaps://dc1.example.com"),
            ("RESETPW_BASE_DN", "OU=Staff,DC=example,DC=com"),
            ("RESETPW_BIND_DN", "CN=svc,DC=example,DC=com"),
            ("RESETPW_BIND_PASSWORD_CIPHERTEXT", "AQIDBA=="),
            ("RESETPW_KMS_ENCRYPTION_CONTEXT", "app=resetpw"),
            (
                "RESETPW_CA_PEM",
                "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
            ),
            ("RESETPW_ATTEMPTS_TABLE", "attempts"),
            ("RESETPW_CALLER_ID_CHECK", caller),
            ("RESETPW_MAX_FAILURES", "3"),
            ("RESETPW_FAILURE_WINDOW_SECONDS", "600"),
            ("RESETPW_LOCKOUT_SECONDS", "900"),
        ]);
        Config::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap()
    }

    struct Rig {
        handler: Handler,
        directory: Arc<MemDirectory>,
        notifier: Arc<MemNotifier>,
        clock: Arc<ManualClock>,
    }

    fn rig_with(caller: &str, directory: MemDirectory, notifier: MemNotifier) -> Rig {
        rig_full(caller, directory, notifier, None, None)
    }

    fn rig_full(
        caller: &str,
        directory: MemDirectory,
        notifier: MemNotifier,
        meet_status: Option<Arc<tokio::sync::Barrier>>,
        meet_clear: Option<Arc<tokio::sync::Barrier>>,
    ) -> Rig {
        let cfg = Arc::new(config(caller));
        directory.users.lock().unwrap().insert(
            "jdoe".into(),
            DirectoryUser {
                dn: "CN=John Doe,OU=Staff,DC=example,DC=com".into(),
                account_name: "jdoe".into(),
                display_name: "John Doe".into(),
                answers: BTreeMap::from([
                    ("birthDate".into(), "1985-03-14".into()),
                    ("monthStarted".into(), "Mar".into()),
                ]),
                phone: Some("+1 (555) 010-0001".into()),
            },
        );
        let directory = Arc::new(directory);
        let notifier = Arc::new(notifier);
        let clock = Arc::new(ManualClock(AtomicU64::new(NOW)));
        let attempts = Arc::new(MemAttempts {
            max: cfg.throttle.max_failures,
            window: cfg.throttle.window_seconds,
            lockout: cfg.throttle.lockout_seconds,
            items: Mutex::default(),
            meet_status,
            meet_clear,
        });
        Rig {
            handler: Handler::new(
                cfg,
                directory.clone(),
                notifier.clone(),
                attempts,
                clock.clone(),
            ),
            directory,
            notifier,
            clock,
        }
    }

    fn rig() -> Rig {
        rig_with("on", MemDirectory::default(), MemNotifier::default())
    }

    fn slot(v: &str) -> Value {
        json!({"shape": "Scalar", "value": {"originalValue": v, "interpretedValue": v, "resolvedValues": [v]}})
    }

    fn event(
        source: &str,
        user: Option<&str>,
        dob: Option<&str>,
        month: Option<&str>,
        caller: Option<&str>,
    ) -> LexEvent {
        let s = |v: Option<&str>| v.map(slot).unwrap_or(Value::Null);
        let mut attrs = json!({"ContactId": "c-123"});
        if let Some(c) = caller {
            attrs["CallerNumber"] = json!(c);
        }
        serde_json::from_value(json!({
            "messageVersion": "1.0",
            "invocationSource": source,
            "sessionId": "s-1",
            "sessionState": {
                "sessionAttributes": attrs,
                "intent": {"name": "ResetPW", "state": "InProgress", "slots": {
                    "UserID": s(user), "DOB": s(dob), "MonthStarted": s(month)
                }}
            }
        }))
        .unwrap()
    }

    fn fulfil(user: &str, dob: &str, month: &str) -> LexEvent {
        event(
            "FulfillmentCodeHook",
            Some(user),
            Some(dob),
            Some(month),
            None,
        )
    }

    fn state(r: &LexResponse) -> (&str, &str) {
        (
            r.session_state.dialog_action.kind.as_str(),
            r.session_state.intent.state.as_str(),
        )
    }

    #[tokio::test]
    async fn correct_answers_reset_and_text_the_number_on_record() {
        let rig = rig();
        let (r, audit) = rig
            .handler
            .handle_with_audit(fulfil("JDoe", "1985-03-14", "march"))
            .await;
        assert_eq!(state(&r), ("Close", "Fulfilled"));
        assert!(r.messages[0].content.starts_with(MSG_DONE));
        let pw = rig.directory.passwords.lock().unwrap()["CN=John Doe,OU=Staff,DC=example,DC=com"]
            .clone();
        assert!(password::meets_policy(&pw, "jdoe", "John Doe"));
        let sent = rig.notifier.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "+15550100001");
        assert!(sent[0].1.contains(&pw));
        assert_eq!(
            (audit.outcome.as_str(), audit.reason.as_str()),
            ("fulfilled", "reset")
        );
        assert_eq!(audit.user.as_deref(), Some("JD***"));
        assert_eq!(audit.contact_id.as_deref(), Some("c-123"));
        let t = audit.timings;
        assert!(
            t.lookup_ms.is_some()
                && t.attempts_ms.is_some()
                && t.reset_ms.is_some()
                && t.sms_ms.is_some(),
            "every phase of a reset is timed: {t:?}"
        );
        let line = audit.to_json().to_string();
        assert!(
            !line.contains(&pw) && !line.contains("0100001") && !line.contains("JDoe"),
            "{line}"
        );

        // A refused caller: the lookup and the attempts read ran, no write and no SMS.
        let (_, audit) = rig
            .handler
            .handle_with_audit(fulfil("JDoe", "1985-03-15", "march"))
            .await;
        let t = audit.timings;
        assert_eq!(audit.reason, "wrong_answer");
        assert!(t.lookup_ms.is_some() && t.attempts_ms.is_some(), "{t:?}");
        assert_eq!((t.reset_ms, t.sms_ms), (None, None));
    }

    #[tokio::test]
    async fn unknown_wrong_and_locked_sound_the_same_and_do_the_same_lookup() {
        let rig = rig();
        let cases = [
            fulfil("nobody", "1985-03-14", "3"),
            fulfil("jdoe", "1985-03-15", "3"),
            fulfil("jdoe", "1985-03-14", "4"),
            fulfil("jdoe", "1984-03-14", "5"),
        ];
        let mut texts = Vec::new();
        for e in cases {
            let before = rig.directory.lookups.load(Ordering::SeqCst);
            let (r, a) = rig.handler.handle_with_audit(e).await;
            assert_eq!(state(&r), ("Close", "Failed"));
            assert_eq!(a.outcome, "refused");
            assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), before + 1);
            texts.push(r.messages[0].content.clone());
        }
        // The third failure for jdoe locked it: now even correct answers are refused, with the same words.
        let before = rig.directory.lookups.load(Ordering::SeqCst);
        let (r, a) = rig
            .handler
            .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "locked_out");
        assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), before + 1);
        texts.push(r.messages[0].content.clone());
        assert!(texts.iter().all(|t| t == MSG_NOT_VERIFIED), "{texts:?}");
        assert!(rig.directory.passwords.lock().unwrap().is_empty());
        assert!(rig.notifier.sent.lock().unwrap().is_empty());

        // After the lockout the correct answers work again.
        rig.clock.0.fetch_add(901, Ordering::SeqCst);
        let (r, _) = rig
            .handler
            .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
            .await;
        assert_eq!(state(&r), ("Close", "Fulfilled"));
    }

    #[tokio::test]
    async fn unknown_users_are_throttled_too() {
        let rig = rig();
        for _ in 0..3 {
            rig.handler.handle(fulfil("ghost", "1985-03-14", "3")).await;
        }
        let (_, a) = rig
            .handler
            .handle_with_audit(fulfil("ghost", "1985-03-14", "3"))
            .await;
        assert_eq!(a.reason, "locked_out");
    }

    #[tokio::test]
    async fn malformed_slots_are_reprompted() {
        let rig = rig();
        for (source, user, dob, month, slot, prompt) in [
            (
                "DialogCodeHook",
                Some("a)(uid=*"),
                None,
                None,
                "UserID",
                PROMPT_USER_ID,
            ),
            (
                "FulfillmentCodeHook",
                Some("jöhn"),
                Some("1985-03-14"),
                Some("3"),
                "UserID",
                PROMPT_USER_ID,
            ),
            (
                "DialogCodeHook",
                Some("jdoe"),
                Some("2999-01-01"),
                None,
                "DOB",
                PROMPT_DATE,
            ),
            (
                "DialogCodeHook",
                Some("jdoe"),
                Some("1985-02-30"),
                None,
                "DOB",
                PROMPT_DATE,
            ),
            (
                "FulfillmentCodeHook",
                Some("jdoe"),
                Some("1985-03-14"),
                Some("Smarch"),
                "MonthStarted",
                PROMPT_MONTH,
            ),
            (
                "FulfillmentCodeHook",
                Some("jdoe"),
                None,
                Some("3"),
                "DOB",
                PROMPT_DATE,
            ),
            (
                "FulfillmentCodeHook",
                None,
                Some("1985-03-14"),
                Some("3"),
                "UserID",
                PROMPT_USER_ID,
            ),
        ] {
            let r = rig
                .handler
                .handle(event(source, user, dob, month, None))
                .await;
            assert_eq!(
                state(&r),
                ("ElicitSlot", "InProgress"),
                "{user:?} {dob:?} {month:?}"
            );
            assert_eq!(
                r.session_state.dialog_action.slot_to_elicit.as_deref(),
                Some(slot)
            );
            assert_eq!(r.session_state.intent.slots[slot], Value::Null);
            assert_eq!(r.messages[0].content, prompt);
        }
        assert_eq!(
            rig.directory.lookups.load(Ordering::SeqCst),
            0,
            "no lookup for malformed input"
        );
    }

    #[tokio::test]
    async fn dialog_hook_delegates_without_touching_the_directory() {
        let rig = rig();
        let r = rig
            .handler
            .handle(event(
                "DialogCodeHook",
                Some("jdoe"),
                Some("1985-03-14"),
                None,
                None,
            ))
            .await;
        assert_eq!(state(&r), ("Delegate", "InProgress"));
        assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn dialog_hook_on_the_last_slot_checks_it_then_delegates_to_fulfillment() {
        // Lex calls the dialog hook on the input that fills the last slot too, without a
        // proposed next state: a well-formed answer is delegated (Lex goes on to fulfillment)
        // without a directory lookup; a malformed one is asked again before fulfillment.
        let rig = rig();
        let r = rig
            .handler
            .handle(event(
                "DialogCodeHook",
                Some("jdoe"),
                Some("1985-03-14"),
                Some("March"),
                None,
            ))
            .await;
        assert_eq!(state(&r), ("Delegate", "InProgress"));
        let r = rig
            .handler
            .handle(event(
                "DialogCodeHook",
                Some("jdoe"),
                Some("1985-03-14"),
                Some("Smarch"),
                None,
            ))
            .await;
        assert_eq!(state(&r), ("ElicitSlot", "InProgress"));
        assert_eq!(
            r.session_state.dialog_action.slot_to_elicit.as_deref(),
            Some("MonthStarted")
        );
        assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn dialog_hook_elicits_the_user_id_spelled_by_letter_and_delegates_the_rest() {
        let rig = rig();
        let proposing = |slot: Option<&str>, user: Option<&str>| {
            let mut e = event("DialogCodeHook", user, None, None, None);
            e.proposed_next_state = Some(match slot {
                Some(s) => json!({"dialogAction": {"type": "ElicitSlot", "slotToElicit": s},
                    "prompt": {"attempt": "Initial"}}),
                None => json!({"dialogAction": {"type": "ConfirmIntent"}}),
            });
            e
        };
        // Lex proposes UserID: elicited spelled by letter, with the slot's own prompt.
        let (r, audit) = rig
            .handler
            .handle_with_audit(proposing(Some("UserID"), None))
            .await;
        assert_eq!(state(&r), ("ElicitSlot", "InProgress"));
        let action = &r.session_state.dialog_action;
        assert_eq!(action.slot_to_elicit.as_deref(), Some("UserID"));
        assert_eq!(
            action.slot_elicitation_style.as_deref(),
            Some(lex::SPELL_BY_LETTER)
        );
        assert!(r.messages.is_empty(), "Lex plays the slot's prompt");
        assert_eq!(
            (audit.outcome.as_str(), audit.reason.as_str()),
            ("delegated", "spell_user_id")
        );
        // Another slot proposed, or no slot: Delegate, without a style.
        for e in [
            proposing(Some("DOB"), Some("jdoe")),
            proposing(None, Some("jdoe")),
            event("DialogCodeHook", Some("jdoe"), None, None, None),
        ] {
            let r = rig.handler.handle(e).await;
            assert_eq!(state(&r), ("Delegate", "InProgress"));
            assert_eq!(r.session_state.dialog_action.slot_elicitation_style, None);
        }
        // No proposed next state and no user ID yet: the user ID is what comes next.
        let r = rig
            .handler
            .handle(event("DialogCodeHook", None, None, None, None))
            .await;
        assert_eq!(
            r.session_state.dialog_action.slot_to_elicit.as_deref(),
            Some("UserID")
        );
        assert_eq!(
            r.session_state
                .dialog_action
                .slot_elicitation_style
                .as_deref(),
            Some(lex::SPELL_BY_LETTER)
        );
        // Re-prompting a malformed user ID asks for it spelled by letter too.
        let r = rig
            .handler
            .handle(event("DialogCodeHook", Some("a)(b"), None, None, None))
            .await;
        assert_eq!(
            r.session_state
                .dialog_action
                .slot_elicitation_style
                .as_deref(),
            Some(lex::SPELL_BY_LETTER)
        );
        assert_eq!(r.messages[0].content, PROMPT_USER_ID);
        // Other re-prompts have no style.
        let r = rig
            .handler
            .handle(event(
                "DialogCodeHook",
                Some("jdoe"),
                Some("2999-01-01"),
                None,
                None,
            ))
            .await;
        assert_eq!(
            r.session_state.dialog_action.slot_to_elicit.as_deref(),
            Some("DOB")
        );
        assert_eq!(r.session_state.dialog_action.slot_elicitation_style, None);
        assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn caller_id_must_match_the_phone_on_record() {
        let rig = rig();
        let ok = event(
            "FulfillmentCodeHook",
            Some("jdoe"),
            Some("1985-03-14"),
            Some("3"),
            Some("+15550100001"),
        );
        assert_eq!(state(&rig.handler.handle(ok).await), ("Close", "Fulfilled"));
        let bad = event(
            "FulfillmentCodeHook",
            Some("jdoe"),
            Some("1985-03-14"),
            Some("3"),
            Some("+15550109999"),
        );
        let (r, a) = rig.handler.handle_with_audit(bad).await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED);
        assert_eq!(a.reason, "caller_id_mismatch");
        let anonymous = event(
            "FulfillmentCodeHook",
            Some("jdoe"),
            Some("1985-03-14"),
            Some("3"),
            Some("anonymous"),
        );
        let (_, a) = rig.handler.handle_with_audit(anonymous).await;
        assert_eq!(a.reason, "caller_id_mismatch");
        assert_eq!(rig.notifier.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn caller_id_modes() {
        let off = rig_with("off", MemDirectory::default(), MemNotifier::default());
        let e = event(
            "FulfillmentCodeHook",
            Some("jdoe"),
            Some("1985-03-14"),
            Some("3"),
            Some("+15550109999"),
        );
        assert_eq!(state(&off.handler.handle(e).await), ("Close", "Fulfilled"));
        let required = rig_with("required", MemDirectory::default(), MemNotifier::default());
        let (r, a) = required
            .handler
            .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "caller_id_missing");
    }

    #[tokio::test]
    async fn sms_failure_after_reset_sends_caller_to_the_help_desk() {
        let rig = rig_with(
            "on",
            MemDirectory::default(),
            MemNotifier {
                fail: true,
                ..Default::default()
            },
        );
        let (r, a) = rig
            .handler
            .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(r.messages[0].content, MSG_HELP_DESK);
        assert_eq!(
            (a.outcome.as_str(), a.reason.as_str()),
            ("reset_sms_failed", "sms_failed")
        );
        assert_eq!(
            rig.directory.passwords.lock().unwrap().len(),
            1,
            "the reset did happen"
        );
    }

    #[tokio::test]
    async fn directory_errors_map_to_reason_codes() {
        let dir = MemDirectory {
            fail_reset: Some(|| DirectoryError::AccessDenied),
            ..Default::default()
        };
        let rig = rig_with("on", dir, MemNotifier::default());
        let (r, a) = rig
            .handler
            .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
            .await;
        assert_eq!(r.messages[0].content, MSG_HELP_DESK);
        assert_eq!(a.reason, "directory_access_denied");
        assert!(rig.notifier.sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn other_intents_are_not_handled() {
        let rig = rig();
        let mut e = fulfil("jdoe", "1985-03-14", "3");
        e.session_state.intent.as_mut().unwrap().name = "OrderPizza".into();
        let (r, a) = rig.handler.handle_with_audit(e).await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "unexpected_intent");
        assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn sms_text_contains_the_password_once() {
        let t = sms_text(&SecretString::from("Ab3#Cd4%Ef5+Gh".to_string()), true);
        assert_eq!(t.expose_secret().matches("Ab3#Cd4%Ef5+Gh").count(), 1);
        assert!(t.expose_secret().len() <= 160);
    }

    #[tokio::test]
    async fn attempts_read_overlaps_the_lookup_and_sms_overlaps_the_clean_up() {
        // Each pair meets at a barrier: run one after the other, they would wait forever.
        let lookup = Arc::new(tokio::sync::Barrier::new(2));
        let after = Arc::new(tokio::sync::Barrier::new(2));
        let rig = rig_full(
            "on",
            MemDirectory {
                meet: Some(lookup.clone()),
                ..Default::default()
            },
            MemNotifier {
                meet: Some(after.clone()),
                ..Default::default()
            },
            Some(lookup),
            Some(after),
        );
        // A wrong answer first, so the reset has a failure to clear.
        let (r, a) = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            rig.handler.handle(fulfil("jdoe", "1999-01-01", "3")).await;
            rig.handler
                .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
                .await
        })
        .await
        .expect("the pairs run concurrently");
        assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
        assert_eq!(rig.notifier.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_reset_with_no_failures_on_record_makes_no_clean_up_call() {
        // A clean-up call would wait at this barrier for a partner that never comes.
        let clear = Arc::new(tokio::sync::Barrier::new(2));
        let rig = rig_full(
            "on",
            MemDirectory::default(),
            MemNotifier::default(),
            None,
            Some(clear),
        );
        let (r, a) = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            rig.handler
                .handle_with_audit(fulfil("jdoe", "1985-03-14", "3")),
        )
        .await
        .expect("no clean-up call when nothing failed");
        assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
        assert_eq!(rig.notifier.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn close_sets_reset_outcome_for_the_contact_flow() {
        let rig = rig();
        let outcome = |r: &LexResponse| {
            r.session_state
                .session_attributes
                .as_ref()
                .and_then(|a| a.get(lex::RESET_OUTCOME_ATTRIBUTE).cloned())
        };
        let (r, _) = rig
            .handler
            .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
            .await;
        assert_eq!(outcome(&r).as_deref(), Some("fulfilled"));
        assert_eq!(
            r.session_state.session_attributes.as_ref().unwrap()["ContactId"],
            "c-123"
        );
        for e in [
            fulfil("jdoe", "1985-03-15", "3"),   // wrong answer
            fulfil("nobody", "1985-03-14", "3"), // unknown user
        ] {
            let (r, _) = rig.handler.handle_with_audit(e).await;
            assert_eq!(state(&r), ("Close", "Failed"));
            assert_eq!(outcome(&r).as_deref(), Some("failed"));
        }
        let mut other = fulfil("jdoe", "1985-03-14", "3");
        other.session_state.intent.as_mut().unwrap().name = "OrderPizza".into();
        assert_eq!(
            outcome(&rig.handler.handle(other).await).as_deref(),
            Some("failed")
        );
        // Failures on our side too.
        let failing = rig_with(
            "on",
            MemDirectory::default(),
            MemNotifier {
                fail: true,
                ..Default::default()
            },
        );
        let r = failing
            .handler
            .handle(fulfil("jdoe", "1985-03-14", "3"))
            .await;
        assert_eq!(outcome(&r).as_deref(), Some("failed"));
        // Re-prompts and delegation do not set it.
        let r = rig
            .handler
            .handle(event("DialogCodeHook", Some("jdoe"), None, None, None))
            .await;
        assert_eq!(outcome(&r), None);
    }

    #[tokio::test]
    async fn events_of_any_shape_get_a_lex_answer() {
        let rig = rig();
        let cases: Vec<(Value, &str)> = vec![
            (json!(null), "Close"),
            (json!([1, 2]), "Close"),
            (json!("FulfillmentCodeHook"), "Close"),
            (json!({"sessionState": 5}), "Close"),
            (json!({"sessionState": {"intent": []}}), "Close"),
            (
                json!({"invocationSource": 1, "sessionState": {"intent": {"name": "ResetPW"}}}),
                "Close",
            ),
            (
                json!({"invocationSource": "FulfillmentCodeHook", "sessionState": {"intent": {"name": false}}}),
                "Close",
            ),
            (
                json!({"invocationSource": "FulfillmentCodeHook", "sessionState": {"intent": {"name": "ResetPW", "slots": "x"}}}),
                "ElicitSlot",
            ),
            (
                json!({"invocationSource": "FulfillmentCodeHook", "sessionState": {"intent": {"name": "ResetPW", "slots": {
                "UserID": {"value": {"interpretedValue": ["jdoe"]}}, "DOB": 3, "MonthStarted": {"value": 4}}}}}),
                "ElicitSlot",
            ),
            (
                json!({"invocationSource": "DialogCodeHook", "sessionState": {"sessionAttributes": 3, "intent": {"name": "ResetPW", "slots": {
                "UserID": {"value": {"interpretedValue": "jd)(x"}}}}}}),
                "ElicitSlot",
            ),
        ];
        for (value, action) in cases {
            let (r, _) = rig
                .handler
                .handle_with_audit(LexEvent::from_value(value.clone()))
                .await;
            assert_eq!(r.session_state.dialog_action.kind, action, "{value}");
            if action == "Close" {
                assert_eq!(r.session_state.intent.state, "Failed", "{value}");
                assert_eq!(r.messages[0].content, MSG_HELP_DESK, "{value}");
                assert_eq!(r.session_state.intent.name, "ResetPW", "{value}");
            }
        }
        assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), 0);
    }
}
