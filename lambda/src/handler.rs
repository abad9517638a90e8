//! The fulfillment logic: validates slots, throttles, verifies the caller against the
//! directory, resets the password and sends it by SMS. No network here: everything goes
//! through the traits in [`crate::ports`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use subtle::{Choice, ConstantTimeEq};

use crate::audit::{millis, Audit};
use crate::code::{self, CodeKey};
use crate::config::{AnswerKind, CallerIdMode, Config, Question};
use crate::lex::{self, LexEvent, LexResponse, Outcome, Source};
use crate::normalize;
use crate::password;
use crate::ports::{
    AttemptStatus, AttemptsStore, Clock, Directory, DirectoryUser, Email, IssuedCode, Notifier,
    ResetOptions,
};

/// Read to the caller when verification fails, the user is unknown or locked out: always the same.
pub const MSG_NOT_VERIFIED: &str = "Sorry, I could not verify your identity with those details, so I can't make any change to your account. If you need more help, please contact the service desk.";
/// Read to the caller when something failed on our side.
pub const MSG_HELP_DESK: &str = "Sorry, I couldn't finish resetting your password. Please contact the service desk, and they will help you.";
pub const MSG_DONE: &str = "Thank you. Your password has been reset, and a temporary password is on its way by text message to the mobile number we have on file.";
pub const MSG_DONE_CHANGE: &str = " You will be asked to choose a new one when you sign in.";
/// Read to the caller after an unlock.
pub const MSG_UNLOCKED: &str = "Thank you. Your account is unlocked: sign in with your current password. A confirmation is on its way by text message to the mobile number we have on file.";
/// Read to the caller after a wrong code, while tries are left.
pub const PROMPT_CODE_AGAIN: &str =
    "Sorry, that code is not right. Please enter the six-digit code from the text message again.";
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
    code_key: CodeKey,
}

/// Why an attempt did not reset a password, or what happened.
enum Refusal {
    NotVerified(&'static str),
    HelpDesk(&'static str),
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// A new password (ResetPW).
    Reset,
    /// Only the lockout cleared (UnlockAccount).
    Unlock,
}

impl Request {
    fn name(self) -> &'static str {
        match self {
            Request::Reset => "reset",
            Request::Unlock => "unlock",
        }
    }
}

/// A caller who passed the knowledge check: the directory entry and the number on record.
struct Verified {
    user: DirectoryUser,
    phone: String,
    /// The user ID had failed attempts on record (to forget after success).
    had_failures: bool,
}

/// What a dialog turn in the code step answers.
enum CodeTurn {
    /// The code was just sent, or the caller is asked for it again (with a message).
    Elicit(Option<&'static str>),
    /// The code is verified: on to fulfillment.
    Verified,
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
            code_key: CodeKey::random(),
        }
    }

    /// The key of the code digests; every environment of one function must use the same.
    pub fn with_code_key(mut self, key: CodeKey) -> Self {
        self.code_key = key;
        self
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
        // What the contact flow hands to an agent: set on every answer, never taken from the
        // event (a client could send anything there).
        let response = lex::with_attributes(
            response,
            &[
                (lex::VERIFIED_ATTRIBUTE, audit.verified),
                (lex::OUTCOME_CLASS_ATTRIBUTE, outcome_class(&audit)),
            ],
        );
        audit.latency_ms = started.elapsed().as_millis() as u64;
        (response, audit)
    }

    async fn process(&self, event: &LexEvent, audit: &mut Audit) -> LexResponse {
        let cfg = &self.config;
        // A malformed event (no intent, or no usable intent name) gets the generic answer.
        let Some(intent) = event
            .session_state
            .intent
            .as_ref()
            .filter(|i| !i.name.trim().is_empty())
        else {
            audit.set("failed", "no_intent");
            return lex::close(event, &cfg.intent_name, Outcome::Failed, MSG_HELP_DESK);
        };
        let request = if intent.name == cfg.intent_name {
            Request::Reset
        } else if intent.name == cfg.unlock_intent_name {
            Request::Unlock
        } else {
            audit.set("failed", "unexpected_intent");
            return lex::close(event, &intent.name, Outcome::Failed, MSG_WRONG_INTENT);
        };
        audit.request = Some(request.name());
        let intent_name = intent.name.as_str();
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
        // Every knowledge answer given, in slot order; `None` while one is missing.
        let knowledge: Option<(String, Vec<String>)> = user_id
            .clone()
            .zip(answers.iter().cloned().collect::<Option<Vec<String>>>());

        if source == Source::Dialog {
            if let (true, Some((user_id, given))) = (cfg.one_time_code, &knowledge) {
                return self
                    .code_step(event, request, intent_name, user_id, given, audit)
                    .await;
            }
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

        match self.fulfil(event, request, &user_id, &given, audit).await {
            Ok(()) => {
                let text = match request {
                    Request::Reset if cfg.force_change_at_logon => {
                        format!("{MSG_DONE}{MSG_DONE_CHANGE}")
                    }
                    Request::Reset => MSG_DONE.to_string(),
                    Request::Unlock => MSG_UNLOCKED.to_string(),
                };
                audit.set("fulfilled", request.name());
                lex::close(event, intent_name, Outcome::Fulfilled, &text)
            }
            Err(refusal) => self.refuse(event, intent_name, refusal, audit),
        }
    }

    /// The Close for a refusal: the same words for every reason of a class.
    fn refuse(
        &self,
        event: &LexEvent,
        intent_name: &str,
        refusal: Refusal,
        audit: &mut Audit,
    ) -> LexResponse {
        match refusal {
            Refusal::NotVerified(reason) => {
                audit.set("refused", reason);
                lex::close(event, intent_name, Outcome::Failed, MSG_NOT_VERIFIED)
            }
            Refusal::HelpDesk(reason) => {
                if audit.outcome.is_empty() {
                    audit.set("failed", reason);
                } else {
                    audit.reason = reason.to_string();
                }
                lex::close(event, intent_name, Outcome::Failed, MSG_HELP_DESK)
            }
        }
    }

    /// The dialog turns once every knowledge answer is in: the first one verifies them and
    /// texts a code to the phone on record; the next ones check the code the caller gives.
    /// Whether a session is verified is only ever read from the attempts table.
    async fn code_step(
        &self,
        event: &LexEvent,
        request: Request,
        intent_name: &str,
        user_id: &str,
        given: &[String],
        audit: &mut Audit,
    ) -> LexResponse {
        let cfg = &self.config;
        match self.code_turn(event, request, user_id, given, audit).await {
            Ok(CodeTurn::Elicit(message)) => {
                let mut response = lex::elicit_spelled(event, intent_name, &cfg.code_slot);
                // The code slot is always asked afresh: a value sent before the code was
                // issued (or a wrong one) is not kept.
                response
                    .session_state
                    .intent
                    .slots
                    .insert(cfg.code_slot.clone(), serde_json::Value::Null);
                if let Some(text) = message {
                    response.messages = lex::plain(text);
                }
                response
            }
            Ok(CodeTurn::Verified) => lex::delegate(event, intent_name),
            Err(refusal) => self.refuse(event, intent_name, refusal, audit),
        }
    }

    async fn code_turn(
        &self,
        event: &LexEvent,
        request: Request,
        user_id: &str,
        given: &[String],
        audit: &mut Audit,
    ) -> Result<CodeTurn, Refusal> {
        let cfg = &self.config;
        let now = self.clock.now();
        let session = session_key(event).ok_or(Refusal::HelpDesk("malformed_session"))?;
        let key = normalize::attempts_key(user_id);
        let intent = request.name();
        let (stored, code_time) = timed(self.attempts.code(session)).await;
        audit.timings.code_ms = Some(millis(code_time));
        let stored = stored.map_err(store_error)?;

        let Some(stored) = stored else {
            // No code for this session yet: verify the answers, then text one.
            let verified = self
                .verify_identity(event, user_id, given, true, audit)
                .await?;
            audit.verified = "knowledge";
            let code = code::generate(&mut rand::rng());
            let issued = IssuedCode {
                digest: self
                    .code_key
                    .digest(session, &key, intent, code.expose_secret()),
                user_key: key,
                intent: intent.to_string(),
                expires_at: now + cfg.code_ttl_seconds,
                tries: 0,
                verified: false,
            };
            self.attempts
                .put_code(session, &issued)
                .await
                .map_err(store_error)?;
            let text = code::sms_text(&code, cfg.code_ttl_seconds, request == Request::Unlock);
            let (sent, sms_time) = timed(self.notifier.send_sms(&verified.phone, &text)).await;
            audit.timings.sms_ms = Some(millis(sms_time));
            if let Err(e) = sent {
                tracing::error!(error = %e, phone = %normalize::mask_phone(&verified.phone), "the one-time code could not be sent");
                let _ = self.attempts.drop_code(session).await;
                return Err(Refusal::HelpDesk("code_sms_failed"));
            }
            audit.phone = Some(normalize::mask_phone(&verified.phone));
            audit.set("code_sent", "code_sent");
            return Ok(CodeTurn::Elicit(None));
        };

        // A code was issued in this session: for this user ID and this request only.
        if stored.user_key != key || stored.intent != intent {
            let _ = self.attempts.drop_code(session).await;
            self.count_failure(&key, now, audit).await;
            return Err(Refusal::NotVerified("code_for_another_request"));
        }
        audit.verified = "knowledge";
        if stored.expires_at <= now {
            let _ = self.attempts.drop_code(session).await;
            return Err(Refusal::NotVerified("code_expired"));
        }
        if stored.verified {
            audit.verified = "code";
            audit.set("delegated", "code_verified");
            return Ok(CodeTurn::Verified);
        }
        let Some(raw) = event
            .session_state
            .intent
            .as_ref()
            .and_then(|i| i.slot_value(&cfg.code_slot))
        else {
            audit.set("reprompt", "code_missing");
            return Ok(CodeTurn::Elicit(None));
        };
        let right = code::normalize(raw).is_some_and(|c| {
            self.code_key
                .matches(&stored.digest, session, &key, intent, &c)
        });
        if right {
            let marked = self
                .attempts
                .code_verified(session, &stored, now)
                .await
                .map_err(store_error)?;
            if !marked {
                // Changed under us (another turn of the session, or it expired meanwhile).
                return Err(Refusal::NotVerified("code_not_verified"));
            }
            audit.verified = "code";
            audit.set("delegated", "code_verified");
            return Ok(CodeTurn::Verified);
        }
        // A wrong code is a failed attempt of the user ID, and the session has three tries.
        let tries = self
            .attempts
            .code_wrong_try(session, &stored)
            .await
            .map_err(store_error)?;
        let locked = self.count_failure(&key, now, audit).await;
        match tries {
            Some(t) if t < code::MAX_TRIES && !locked => {
                audit.set("reprompt", "code_wrong");
                Ok(CodeTurn::Elicit(Some(PROMPT_CODE_AGAIN)))
            }
            _ => {
                let _ = self.attempts.drop_code(session).await;
                Err(Refusal::NotVerified("code_wrong"))
            }
        }
    }

    /// Counts a failed attempt of the user ID; says whether it is now locked out.
    async fn count_failure(&self, key: &str, now: u64, audit: &mut Audit) -> bool {
        match self.attempts.record_failure(key, now).await {
            Ok(AttemptStatus::Locked { .. }) => {
                audit.locked = true;
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::error!(error = %e, "could not count a failed attempt");
                false
            }
        }
    }

    /// The knowledge check, the same directory work on every path (unknown, wrong, locked,
    /// privileged, disabled): the calling number's budget, the lockout beside one lookup,
    /// the answers and the caller ID in constant time, then the account's eligibility.
    async fn verify_identity(
        &self,
        event: &LexEvent,
        user_id: &str,
        given: &[String],
        count_caller: bool,
        audit: &mut Audit,
    ) -> Result<Verified, Refusal> {
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

        // One phone may not spray user IDs: a budget of verifications per calling number,
        // counted before the directory is asked anything.
        if count_caller && !caller_e164.is_empty() {
            let count = self
                .attempts
                .count_caller(
                    &format!("caller#{caller_e164}"),
                    now,
                    cfg.caller_number_window_seconds,
                )
                .await
                .map_err(store_error)?;
            if count > cfg.caller_number_limit {
                return Err(Refusal::NotVerified("caller_throttled"));
            }
        }

        // The attempts are read while the directory is searched.
        let ((status, attempts_time), (found, lookup_time)) = tokio::join!(
            timed(self.attempts.status(&key, now)),
            timed(self.directory.find_user(user_id))
        );
        audit.timings.attempts_ms = Some(millis(attempts_time));
        audit.timings.lookup_ms = Some(millis(lookup_time));
        let status = status.map_err(store_error)?;
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
        } else if found.as_ref().is_some_and(|u| u.privileged) {
            Some("privileged")
        } else if found.as_ref().is_some_and(|u| u.disabled) {
            Some("disabled")
        } else if !bool::from(answers_ok) {
            Some("wrong_answer")
        } else if !bool::from(caller_ok) {
            Some("caller_id_mismatch")
        } else {
            None
        };
        if let Some(reason) = failure {
            self.count_failure(&key, now, audit).await;
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
        Ok(Verified {
            user,
            phone,
            had_failures: matches!(status, AttemptStatus::Allowed { failures } if failures > 0),
        })
    }

    async fn fulfil(
        &self,
        event: &LexEvent,
        request: Request,
        user_id: &str,
        given: &[String],
        audit: &mut Audit,
    ) -> Result<(), Refusal> {
        let cfg = &self.config;
        let now = self.clock.now();
        let key = normalize::attempts_key(user_id);

        if cfg.one_time_code {
            // Only a session whose code was verified, within its expiry, for this user ID
            // and this request; taking it makes it single use.
            let session = session_key(event).ok_or(Refusal::HelpDesk("malformed_session"))?;
            let (taken, code_time) = timed(self.attempts.take_verified_code(session, now)).await;
            audit.timings.code_ms = Some(millis(code_time));
            let taken = taken.map_err(store_error)?;
            match taken {
                Some(c) if c.user_key == key && c.intent == request.name() => {
                    audit.verified = "code";
                }
                _ => {
                    self.count_failure(&key, now, audit).await;
                    return Err(Refusal::NotVerified("code_not_verified"));
                }
            }
        }

        // The answers again, with the same lookup that gives the entry to write.
        let verified = self
            .verify_identity(event, user_id, given, !cfg.one_time_code, audit)
            .await?;
        if !cfg.one_time_code {
            audit.verified = "knowledge";
        }
        let Verified {
            user,
            phone,
            had_failures,
        } = verified;

        let message = match request {
            Request::Reset => {
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
                sms_text(
                    &new_password,
                    cfg.force_change_at_logon,
                    cfg.service_desk_number.as_deref(),
                )
            }
            Request::Unlock => {
                let (written, reset_time) = timed(self.directory.unlock(&user)).await;
                audit.timings.reset_ms = Some(millis(reset_time));
                written.map_err(|e| {
                    tracing::error!(error = %e, reason = e.reason_code(), "unlock failed");
                    Refusal::HelpDesk(e.reason_code())
                })?;
                unlock_sms_text(cfg.service_desk_number.as_deref())
            }
        };

        // Only now that the account is changed: the SMS, the owner's email and the counter
        // clean-up, together. The clean-up only when the read found failures to forget (an
        // expired window's item is treated as fresh by the next failure and removed by the
        // table's TTL).
        let clear = async {
            if had_failures {
                self.attempts.clear(&key).await
            } else {
                Ok(())
            }
        };
        let email = async {
            if let (Some(_), Some(to)) = (&cfg.email_from, &user.mail) {
                let notice = owner_email(request, to, now, cfg.service_desk_number.as_deref());
                if let Err(e) = self.notifier.send_email(&notice).await {
                    tracing::warn!(error = %e, "the owner's email notice could not be sent");
                }
            }
        };
        let (cleared, (sent, sms_time), ()) = tokio::join!(
            clear,
            timed(self.notifier.send_sms(&phone, &message)),
            email
        );
        audit.timings.sms_ms = Some(millis(sms_time));
        if let Err(e) = cleared {
            tracing::warn!(error = %e, "could not clear the failed-attempt counter");
        }
        if let Err(e) = sent {
            tracing::error!(
                error = %e,
                phone = %normalize::mask_phone(&phone),
                "the account was changed but the SMS could not be sent; the caller was told to contact the service desk"
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

fn store_error(e: crate::ports::StoreError) -> Refusal {
    tracing::error!(error = %e, "attempts store unavailable");
    Refusal::HelpDesk("attempts_store_error")
}

/// The Lex session ID as a table key: Lex's own pattern (2-100 of letters, digits, `.`, `_`,
/// `:`, `-`); anything else has no code.
fn session_key(event: &LexEvent) -> Option<&str> {
    event.session_id.as_deref().filter(|s| {
        (2..=100).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
    })
}

/// The generic class of an answer for the contact flow's hand-off: never a reason that tells
/// whether the user exists.
fn outcome_class(audit: &Audit) -> &'static str {
    match audit.outcome.as_str() {
        "fulfilled" => "fulfilled",
        "refused" => "not_verified",
        "failed" if audit.reason == "unexpected_intent" => "other_request",
        "failed" | "reset_sms_failed" => "service_error",
        _ => "in_progress",
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

/// What every notice ends with: who to call when it was not the owner.
fn if_not_you(service_desk: Option<&str>) -> String {
    match service_desk {
        Some(number) => format!("If you did not ask for this, call {number} now."),
        None => "If you did not ask for this, call the service desk now.".to_string(),
    }
}

/// The SMS body with the temporary password. Kept short and plain.
pub fn sms_text(
    password: &SecretString,
    force_change: bool,
    service_desk: Option<&str>,
) -> SecretString {
    let tail = if force_change {
        " You will be asked to change it when you sign in."
    } else {
        ""
    };
    SecretString::from(format!(
        "Your temporary password is {}{tail} {}",
        password.expose_secret(),
        if_not_you(service_desk)
    ))
}

/// The SMS confirming an unlock.
pub fn unlock_sms_text(service_desk: Option<&str>) -> SecretString {
    SecretString::from(format!(
        "Your account has been unlocked. {}",
        if_not_you(service_desk)
    ))
}

/// The owner's email notice: what was done and when, and what to do. Never the password.
fn owner_email(request: Request, to: &str, now: u64, service_desk: Option<&str>) -> Email {
    let when = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default();
    let (subject, done) = match request {
        Request::Reset => (
            "Your password was reset",
            "Your password was reset, and a temporary one was sent by text message to your phone number on record,",
        ),
        Request::Unlock => ("Your account was unlocked", "Your account was unlocked"),
    };
    Email {
        to: to.to_string(),
        subject: subject.to_string(),
        body: format!(
            "{done} through the service desk's self-service phone line on {when}.\n\n{}\n\nThe service desk will never ask you for your password or for a code sent to your phone.",
            if_not_you(service_desk)
        ),
    }
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
        unlocked: Mutex<Vec<String>>,
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
        async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError> {
            self.unlocked.lock().unwrap().push(user.dn.clone());
            Ok(())
        }
    }

    #[derive(Default)]
    struct MemNotifier {
        sent: Mutex<Vec<(String, String)>>,
        emails: Mutex<Vec<Email>>,
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
        async fn send_email(&self, email: &Email) -> Result<(), NotifyError> {
            self.emails.lock().unwrap().push(email.clone());
            Ok(())
        }
    }

    /// Same semantics as the DynamoDB store, in memory.
    struct MemAttempts {
        max: u32,
        window: u64,
        lockout: u64,
        items: Mutex<HashMap<String, (u32, u64, u64)>>, // failures, window_start, locked_until
        callers: Mutex<HashMap<String, u32>>,
        codes: Mutex<HashMap<String, IssuedCode>>,
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
        async fn count_caller(&self, key: &str, now: u64, window: u64) -> Result<u32, StoreError> {
            let mut c = self.callers.lock().unwrap();
            let n = c.entry(format!("{key}#{}", now / window)).or_insert(0);
            *n += 1;
            Ok(*n)
        }
        async fn put_code(&self, session: &str, code: &IssuedCode) -> Result<(), StoreError> {
            self.codes
                .lock()
                .unwrap()
                .insert(session.to_string(), code.clone());
            Ok(())
        }
        async fn code(&self, session: &str) -> Result<Option<IssuedCode>, StoreError> {
            Ok(self.codes.lock().unwrap().get(session).cloned())
        }
        async fn code_wrong_try(
            &self,
            session: &str,
            code: &IssuedCode,
        ) -> Result<Option<u32>, StoreError> {
            let mut codes = self.codes.lock().unwrap();
            Ok(match codes.get_mut(session) {
                Some(c) if c.digest == code.digest && !c.verified => {
                    c.tries += 1;
                    Some(c.tries)
                }
                _ => None,
            })
        }
        async fn code_verified(
            &self,
            session: &str,
            code: &IssuedCode,
            now: u64,
        ) -> Result<bool, StoreError> {
            let mut codes = self.codes.lock().unwrap();
            Ok(match codes.get_mut(session) {
                Some(c)
                    if c.digest == code.digest
                        && c.tries == code.tries
                        && !c.verified
                        && c.expires_at > now =>
                {
                    c.verified = true;
                    true
                }
                _ => false,
            })
        }
        async fn take_verified_code(
            &self,
            session: &str,
            now: u64,
        ) -> Result<Option<IssuedCode>, StoreError> {
            let mut codes = self.codes.lock().unwrap();
            match codes.get(session) {
                Some(c) if c.verified && c.expires_at > now => Ok(codes.remove(session)),
                _ => Ok(None),
            }
        }
        async fn drop_code(&self, session: &str) -> Result<(), StoreError> {
            self.codes.lock().unwrap().remove(session);
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

    /// The knowledge-only line (the tests written before the one-time code).
    fn config(caller: &str) -> Config {
        config_with(caller, &[("RESETPW_ONE_TIME_CODE", "off")])
    }

    fn config_with(caller: &str, extra: &[(&'static str, &'static str)]) -> Config {
        let mut env: HashMap<&str, &str> = HashMap::from([
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
        env.extend(extra.iter().copied());
        Config::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap()
    }

    struct Rig {
        handler: Handler,
        directory: Arc<MemDirectory>,
        notifier: Arc<MemNotifier>,
        clock: Arc<ManualClock>,
        attempts: Arc<MemAttempts>,
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
        rig_config(config(caller), directory, notifier, meet_status, meet_clear)
    }

    fn rig_config(
        cfg: Config,
        directory: MemDirectory,
        notifier: MemNotifier,
        meet_status: Option<Arc<tokio::sync::Barrier>>,
        meet_clear: Option<Arc<tokio::sync::Barrier>>,
    ) -> Rig {
        let cfg = Arc::new(cfg);
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
                mail: Some("jdoe@example.com".into()),
                privileged: false,
                disabled: false,
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
            callers: Mutex::default(),
            codes: Mutex::default(),
            meet_status,
            meet_clear,
        });
        Rig {
            handler: Handler::new(
                cfg,
                directory.clone(),
                notifier.clone(),
                attempts.clone(),
                clock.clone(),
            ),
            directory,
            notifier,
            clock,
            attempts,
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
        let t = sms_text(
            &SecretString::from("Ab3#Cd4%Ef5+Gh".to_string()),
            true,
            Some("+15555550100"),
        );
        assert_eq!(t.expose_secret().matches("Ab3#Cd4%Ef5+Gh").count(), 1);
        assert!(t.expose_secret().len() <= 160);
        assert!(t
            .expose_secret()
            .ends_with("If you did not ask for this, call +15555550100 now."));
        let t = unlock_sms_text(None);
        assert!(t.expose_secret().contains("unlocked"));
        assert!(t.expose_secret().contains("call the service desk now"));
    }

    // The one-time code to the phone on record.

    const CODE_SESSION: &str = "contact-1";

    fn otp_rig(extra: &[(&'static str, &'static str)]) -> Rig {
        let mut settings = vec![("RESETPW_ONE_TIME_CODE", "on")];
        settings.extend_from_slice(extra);
        rig_config(
            config_with("on", &settings),
            MemDirectory::default(),
            MemNotifier::default(),
            None,
            None,
        )
    }

    /// An event of `intent` in `session` with every knowledge answer right and `code` (if
    /// any) in the Code slot, from the number on record.
    fn otp_event(source: &str, intent: &str, session: &str, code: Option<&str>) -> LexEvent {
        let mut e = event(
            source,
            Some("jdoe"),
            Some("1985-03-14"),
            Some("3"),
            Some("+15550100001"),
        );
        e.session_id = Some(session.into());
        let i = e.session_state.intent.as_mut().unwrap();
        i.name = intent.into();
        i.slots
            .insert("Code".into(), code.map(slot).unwrap_or(Value::Null));
        e
    }

    impl Rig {
        /// One turn of a one-time-code dialog: the answer and its audit line.
        async fn turn(
            &self,
            source: &str,
            intent: &str,
            session: &str,
            code: Option<&str>,
        ) -> (LexResponse, Audit) {
            self.handler
                .handle_with_audit(otp_event(source, intent, session, code))
                .await
        }
    }

    /// The code in the last SMS sent.
    fn last_code(rig: &Rig) -> String {
        let sent = rig.notifier.sent.lock().unwrap();
        let text = &sent.last().expect("an SMS").1;
        text.split_whitespace()
            .map(|w| w.trim_end_matches('.'))
            .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
            .expect("a code in the SMS")
            .to_string()
    }

    fn attribute<'a>(r: &'a LexResponse, name: &str) -> Option<&'a str> {
        r.session_state
            .session_attributes
            .as_ref()?
            .get(name)
            .map(String::as_str)
    }

    #[tokio::test]
    async fn right_answers_text_a_code_and_only_the_right_code_leads_to_the_reset() {
        let rig = otp_rig(&[]);
        // The dialog turn that fills the last knowledge answer: verified, code sent.
        let (r, a) = rig
            .turn("DialogCodeHook", "ResetPW", CODE_SESSION, None)
            .await;
        assert_eq!(state(&r), ("ElicitSlot", "InProgress"));
        assert_eq!(
            r.session_state.dialog_action.slot_to_elicit.as_deref(),
            Some("Code")
        );
        assert_eq!((a.outcome.as_str(), a.verified), ("code_sent", "knowledge"));
        assert_eq!(attribute(&r, "resetpw_verified"), Some("knowledge"));
        assert_eq!(attribute(&r, "resetpw_outcome"), Some("in_progress"));
        let sent = rig.notifier.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "+15550100001");
        assert!(!sent[0].1.to_lowercase().contains("jdoe"), "{}", sent[0].1);
        let code = last_code(&rig);
        // Stored only as a digest.
        let stored = rig.attempts.codes.lock().unwrap()[CODE_SESSION].clone();
        assert!(!stored.digest.contains(&code));
        assert_eq!(stored.expires_at, NOW + 600);
        assert!(!a.to_json().to_string().contains(&code));
        assert!(rig.directory.passwords.lock().unwrap().is_empty());

        // Fulfillment before the code: refused, nothing changed.
        let (r, a) = rig
            .turn("FulfillmentCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "code_not_verified");
        assert!(rig.directory.passwords.lock().unwrap().is_empty());

        // That refusal did not touch the session's code: the right one verifies it.
        let (r, a) = rig
            .turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r).0, "Delegate");
        assert_eq!((a.reason.as_str(), a.verified), ("code_verified", "code"));
        assert_eq!(attribute(&r, "resetpw_verified"), Some("code"));

        let (r, a) = rig
            .turn("FulfillmentCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r), ("Close", "Fulfilled"));
        assert_eq!((a.reason.as_str(), a.verified), ("reset", "code"));
        assert_eq!(attribute(&r, "resetpw_outcome"), Some("fulfilled"));
        let pw = rig.directory.passwords.lock().unwrap()["CN=John Doe,OU=Staff,DC=example,DC=com"]
            .clone();
        let sent = rig.notifier.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 2, "the code, then the password");
        assert!(sent[1].1.contains(&pw));
        let line = a.to_json().to_string();
        assert!(!line.contains(&pw) && !line.contains(&code), "{line}");

        // Single use: the same session cannot fulfil again.
        let (r, a) = rig
            .turn("FulfillmentCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "code_not_verified");
        assert_eq!(rig.notifier.sent.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn three_wrong_codes_end_the_session_and_count_toward_the_lockout() {
        let rig = otp_rig(&[]);
        rig.turn("DialogCodeHook", "ResetPW", CODE_SESSION, None)
            .await;
        let code = last_code(&rig);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for attempt in 1..=2 {
            let (r, a) = rig
                .turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(wrong))
                .await;
            assert_eq!(state(&r), ("ElicitSlot", "InProgress"), "try {attempt}");
            assert_eq!(r.messages[0].content, PROMPT_CODE_AGAIN);
            assert_eq!(a.reason, "code_wrong");
            // The wrong value is not kept in the slot.
            assert_eq!(r.session_state.intent.slots["Code"], Value::Null);
        }
        // The user ID's failures were counted: with RESETPW_MAX_FAILURES=3, the third
        // wrong code locks it, and the session ends with the generic answer.
        let (r, a) = rig
            .turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(wrong))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED);
        assert_eq!(a.reason, "code_wrong");
        assert!(a.locked);
        assert!(rig.attempts.codes.lock().unwrap().is_empty());
        // The right code now finds no code to check: a new one would be needed, and the
        // user ID is locked out.
        let (r, a) = rig
            .turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "locked_out");
        assert_eq!(rig.notifier.sent.lock().unwrap().len(), 1);
        assert!(rig.directory.passwords.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn wrong_codes_end_the_session_after_three_tries_even_without_a_lockout() {
        let rig = otp_rig(&[("RESETPW_MAX_FAILURES", "10")]);
        rig.turn("DialogCodeHook", "ResetPW", CODE_SESSION, None)
            .await;
        let code = last_code(&rig);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let mut last = None;
        for _ in 0..3 {
            last = Some(
                rig.turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(wrong))
                    .await,
            );
        }
        let (r, a) = last.unwrap();
        assert_eq!(state(&r), ("Close", "Failed"));
        assert!(!a.locked);
        assert!(rig.attempts.codes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_expired_code_is_refused() {
        let rig = otp_rig(&[("RESETPW_CODE_TTL_SECONDS", "60")]);
        rig.turn("DialogCodeHook", "ResetPW", CODE_SESSION, None)
            .await;
        let code = last_code(&rig);
        rig.clock.0.store(NOW + 60, Ordering::SeqCst);
        let (r, a) = rig
            .turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "code_expired");
        // Verified just before expiry, fulfilled after it: refused too.
        rig.clock.0.store(NOW + 1000, Ordering::SeqCst);
        rig.turn("DialogCodeHook", "ResetPW", CODE_SESSION, None)
            .await;
        let code = last_code(&rig);
        rig.clock.0.store(NOW + 1059, Ordering::SeqCst);
        let (r, _) = rig
            .turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r).0, "Delegate");
        rig.clock.0.store(NOW + 1060, Ordering::SeqCst);
        let (r, a) = rig
            .turn("FulfillmentCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "code_not_verified");
        assert!(rig.directory.passwords.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_code_is_worth_nothing_in_another_session_or_for_another_request() {
        let rig = otp_rig(&[("RESETPW_MAX_FAILURES", "10")]);
        rig.turn("DialogCodeHook", "ResetPW", "session-a", None)
            .await;
        let code_a = last_code(&rig);
        // Session b, same user and answers, given a's code: b has no code yet, so one is
        // issued (a's is not accepted), and b's fulfillment is refused.
        let (r, a) = rig
            .turn("DialogCodeHook", "ResetPW", "session-b", Some(&code_a))
            .await;
        assert_eq!(state(&r).0, "ElicitSlot");
        assert_eq!(a.outcome, "code_sent");
        let (r, _) = rig
            .turn("FulfillmentCodeHook", "ResetPW", "session-b", Some(&code_a))
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        // a's code verified for a reset does not unlock, and another user ID in the same
        // session ends it.
        let (r, a) = rig
            .turn(
                "DialogCodeHook",
                "UnlockAccount",
                "session-a",
                Some(&code_a),
            )
            .await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "code_for_another_request");
        assert!(rig.directory.passwords.lock().unwrap().is_empty());
        assert!(rig.directory.unlocked.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn nothing_a_client_sets_marks_a_session_verified() {
        let rig = otp_rig(&[]);
        // A crafted fulfillment with a Code slot and attributes claiming verification.
        let mut e = otp_event(
            "FulfillmentCodeHook",
            "ResetPW",
            CODE_SESSION,
            Some("123456"),
        );
        let attrs = e.session_state.session_attributes.as_mut().unwrap();
        attrs.insert("resetpw_verified".into(), "code".into());
        attrs.insert("resetpw_outcome".into(), "fulfilled".into());
        attrs.insert("Verified".into(), "true".into());
        let (r, a) = rig.handler.handle_with_audit(e).await;
        assert_eq!(state(&r), ("Close", "Failed"));
        assert_eq!(a.reason, "code_not_verified");
        // The attributes the flow hands to an agent are the Lambda's, not the client's.
        assert_eq!(attribute(&r, "resetpw_verified"), Some("none"));
        assert_eq!(attribute(&r, "resetpw_outcome"), Some("not_verified"));
        assert!(rig.directory.passwords.lock().unwrap().is_empty());
        assert!(rig.notifier.sent.lock().unwrap().is_empty());
        // A dialog turn with a Code before any was issued gets a code sent, not a pass.
        let (r, a) = rig
            .turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some("123456"))
            .await;
        assert_eq!(state(&r).0, "ElicitSlot");
        assert_eq!(a.outcome, "code_sent");
        assert_eq!(r.session_state.intent.slots["Code"], Value::Null);
    }

    #[tokio::test]
    async fn privileged_and_disabled_accounts_get_the_wrong_answer_treatment() {
        for (privileged, disabled, reason) in
            [(true, false, "privileged"), (false, true, "disabled")]
        {
            let rig = otp_rig(&[]);
            {
                let mut users = rig.directory.users.lock().unwrap();
                let u = users.get_mut("jdoe").unwrap();
                u.privileged = privileged;
                u.disabled = disabled;
            }
            let (r, a) = rig
                .turn("DialogCodeHook", "ResetPW", CODE_SESSION, None)
                .await;
            assert_eq!(state(&r), ("Close", "Failed"), "{reason}");
            assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED);
            assert_eq!((a.outcome.as_str(), a.reason.as_str()), ("refused", reason));
            assert_eq!(rig.directory.lookups.load(Ordering::SeqCst), 1);
            assert!(
                rig.notifier.sent.lock().unwrap().is_empty(),
                "no code for {reason}"
            );
            // In the knowledge-only line too, at fulfillment.
            let rig = rig_with("on", MemDirectory::default(), MemNotifier::default());
            {
                let mut users = rig.directory.users.lock().unwrap();
                let u = users.get_mut("jdoe").unwrap();
                u.privileged = privileged;
                u.disabled = disabled;
            }
            let (r, a) = rig
                .handler
                .handle_with_audit(fulfil("jdoe", "1985-03-14", "3"))
                .await;
            assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED);
            assert_eq!(a.reason, reason);
            assert!(rig.directory.passwords.lock().unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn unlock_clears_the_lockout_and_changes_no_password() {
        let rig = otp_rig(&[("RESETPW_SERVICE_DESK_NUMBER", "+15555550100")]);
        let (r, _) = rig
            .turn("DialogCodeHook", "UnlockAccount", CODE_SESSION, None)
            .await;
        assert_eq!(state(&r).0, "ElicitSlot");
        let code = last_code(&rig);
        assert!(rig.notifier.sent.lock().unwrap()[0]
            .1
            .contains("unlock code"));
        rig.turn("DialogCodeHook", "UnlockAccount", CODE_SESSION, Some(&code))
            .await;
        let (r, a) = rig
            .turn(
                "FulfillmentCodeHook",
                "UnlockAccount",
                CODE_SESSION,
                Some(&code),
            )
            .await;
        assert_eq!(state(&r), ("Close", "Fulfilled"));
        assert_eq!(r.messages[0].content, MSG_UNLOCKED);
        assert_eq!(r.session_state.intent.name, "UnlockAccount");
        assert_eq!((a.reason.as_str(), a.request), ("unlock", Some("unlock")));
        assert_eq!(
            *rig.directory.unlocked.lock().unwrap(),
            ["CN=John Doe,OU=Staff,DC=example,DC=com"]
        );
        assert!(rig.directory.passwords.lock().unwrap().is_empty());
        let sent = rig.notifier.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 2);
        assert!(sent[1].1.contains("unlocked"));
        assert!(sent[1].1.contains("call +15555550100 now"));
    }

    #[tokio::test]
    async fn one_calling_number_cannot_spray_user_ids() {
        let rig = otp_rig(&[("RESETPW_MAX_PER_CALLER_NUMBER", "5")]);
        for i in 0..6 {
            let mut e = otp_event("DialogCodeHook", "ResetPW", &format!("s-{i}"), None);
            let user = format!("user{i}");
            e.session_state
                .intent
                .as_mut()
                .unwrap()
                .slots
                .insert("UserID".into(), slot(&user));
            let before = rig.directory.lookups.load(Ordering::SeqCst);
            let (r, a) = rig.handler.handle_with_audit(e).await;
            assert_eq!(state(&r), ("Close", "Failed"));
            assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED);
            let looked = rig.directory.lookups.load(Ordering::SeqCst) - before;
            if i < 5 {
                assert_eq!((a.reason.as_str(), looked), ("unknown_user", 1), "call {i}");
            } else {
                assert_eq!((a.reason.as_str(), looked), ("caller_throttled", 0));
            }
        }
        // Another number still gets through.
        let (_, a) = rig.turn("DialogCodeHook", "ResetPW", "s-other", None).await;
        assert_eq!(a.reason, "caller_throttled", "same number as the loop");
        let mut e = otp_event("DialogCodeHook", "ResetPW", "s-other2", None);
        e.session_state
            .session_attributes
            .as_mut()
            .unwrap()
            .insert("CallerNumber".into(), "+15550100002".into());
        let (_, a) = rig.handler.handle_with_audit(e).await;
        assert_eq!(a.reason, "caller_id_mismatch");
    }

    #[tokio::test]
    async fn the_owner_gets_an_email_without_the_password_when_configured() {
        let rig = otp_rig(&[
            ("RESETPW_EMAIL_FROM", "it@example.com"),
            ("RESETPW_SERVICE_DESK_NUMBER", "+15555550100"),
        ]);
        rig.turn("DialogCodeHook", "ResetPW", CODE_SESSION, None)
            .await;
        let code = last_code(&rig);
        assert!(
            rig.notifier.emails.lock().unwrap().is_empty(),
            "no email for a code"
        );
        rig.turn("DialogCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        rig.turn("FulfillmentCodeHook", "ResetPW", CODE_SESSION, Some(&code))
            .await;
        let pw = rig.directory.passwords.lock().unwrap()["CN=John Doe,OU=Staff,DC=example,DC=com"]
            .clone();
        let emails = rig.notifier.emails.lock().unwrap().clone();
        assert_eq!(emails.len(), 1);
        assert_eq!(emails[0].to, "jdoe@example.com");
        assert_eq!(emails[0].subject, "Your password was reset");
        assert!(emails[0].body.contains("2026-09-21"));
        assert!(emails[0].body.contains("+15555550100"));
        assert!(!emails[0].body.contains(&pw) && !emails[0].body.contains(&code));
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
