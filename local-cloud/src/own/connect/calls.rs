//! Voice calls to a claimed number, for the control API (`POST /_localcloud/connect/calls`): the
//! caller's number (`from`), the number called (`to`, a CLAIMED number of the local cloud) and
//! what the caller says, one text per turn (the Lex runtime hears text as it hears a slot's
//! speech: a user ID spelled, digits for a code). The flow associated with the number runs to
//! the end; the answer is the contact: the transcript, the contact attributes, the blocks it
//! went through and how it ended. A number with no flow is not answered, as on Connect.
//!
//! A call can also be held open (`"open": true`), for a caller who answers as they hear the line
//! (a code texted to their phone during the call, say): the answer then comes as soon as the
//! flow waits for a turn the caller has not given (`waiting_for_customer`), each further turn is
//! `POST /_localcloud/connect/calls/{ContactId}/turns` (`{"text": ...}`, answered the same way),
//! and `DELETE /_localcloud/connect/calls/{ContactId}` hangs up.

use super::contacts::{Contact, Disposition, Running};
use super::run::{start, Env};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// What the control API is asked to dial.
#[derive(Debug, Deserialize)]
pub struct Dial {
    /// The caller's number (E.164).
    pub from: String,
    /// The number called: a claimed number.
    pub to: String,
    /// What the caller says, in order.
    #[serde(default)]
    pub say: Vec<String>,
    /// The contact's language (default en-US), which picks the bot's locale.
    pub language: Option<String>,
    /// Fault rules with this app id apply to the call.
    pub app: Option<String>,
    /// Keep the line open after the last turn of `say`: the caller gives more turns later.
    #[serde(default)]
    pub open: bool,
}

/// A further turn of an open call.
#[derive(Debug, Deserialize)]
pub struct Turn {
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("`{0}` is not an E.164 phone number (+ and 8 to 15 digits)")]
    NotANumber(String),
    #[error("{0} is not a claimed phone number of the local cloud: claim it first (ClaimPhoneNumber), or check the number")]
    NotClaimed(String),
    #[error("no call {0} in this local cloud (a chat's turns go through the Participant Service)")]
    NoSuchCall(String),
    #[error("call {0} has ended: the caller can say nothing more")]
    Ended(String),
}

fn is_e164(n: &str) -> bool {
    n.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// Rings `dial.to` from `dial.from` and waits for the contact to end.
pub async fn ring(env: Env, dial: Dial) -> Result<Value, CallError> {
    for n in [&dial.from, &dial.to] {
        if !is_e164(n) {
            return Err(CallError::NotANumber(n.clone()));
        }
    }
    let now = Instant::now();
    let target = env.own.connect.with_store(|store| {
        store
            .numbers
            .iter()
            .find(|n| n.number == dial.to && n.status(now) == "CLAIMED")
            .map(|n| (n.instance_id.clone(), n.flow_id.clone()))
    });
    let Some((instance_id, flow_id)) = target else {
        return Err(CallError::NotClaimed(dial.to));
    };
    let mut contact = env
        .own
        .connect
        .with_store(|store| {
            store
                .instances
                .iter()
                .find(|i| i.id == instance_id)
                .map(|i| {
                    Contact::new(
                        super::uuid(),
                        i,
                        "VOICE",
                        "INBOUND",
                        flow_id.clone().unwrap_or_default(),
                    )
                })
        })
        .ok_or_else(|| CallError::NotClaimed(dial.to.clone()))?;
    contact.customer_address = Some(dial.from);
    contact.system_address = Some(dial.to.clone());
    if let Some(language) = dial.language {
        contact.language = language;
    }
    contact.app = dial.app;
    if flow_id.is_none() {
        contact.disposition = Some(Disposition::NotAnswered {
            reason: format!(
                "{} is not associated with a contact flow (AssociatePhoneNumberContactFlow): the call is not answered",
                dial.to
            ),
        });
        contact.ended = Some(super::epoch_seconds());
        let mut v = contact.to_json();
        v["waiting_for_customer"] = false.into();
        return Ok(v);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let running = start(env, contact, rx, Some(tx));
    for turn in dial.say {
        running.send(turn);
    }
    if dial.open {
        running.settled().await;
    } else {
        // The caller hangs up after their last turn.
        running.hang_up();
        running.finished().await;
    }
    Ok(running.to_json())
}

fn voice_call(env: &Env, id: &str) -> Result<Arc<Running>, CallError> {
    env.own
        .connect
        .contacts
        .get(id)
        .filter(|r| r.snapshot().channel == "VOICE")
        .ok_or_else(|| CallError::NoSuchCall(id.into()))
}

/// The caller of an open call says `turn.text`; the answer comes when the flow waits for the
/// next turn or the call has ended.
pub async fn say(env: Env, id: &str, turn: Turn) -> Result<Value, CallError> {
    let running = voice_call(&env, id)?;
    if !running.send(turn.text) {
        return Err(CallError::Ended(id.into()));
    }
    running.settled().await;
    Ok(running.to_json())
}

/// The caller hangs up (a call that has ended already stays as it ended).
pub async fn hang_up(env: Env, id: &str) -> Result<Value, CallError> {
    let running = voice_call(&env, id)?;
    running.hang_up();
    running.finished().await;
    Ok(running.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_e164() {
        assert!(is_e164("+15550100020"));
        assert!(!is_e164("15550100020"));
        assert!(!is_e164("+1555"));
        assert!(!is_e164("+1555abc0100"));
    }
}
