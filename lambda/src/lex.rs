//! Lex V2 code-hook event and response shapes.
//!
//! Deserialisation is lenient: unknown fields are ignored and nearly every field is optional,
//! since AWS adds fields without changing `messageVersion`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LexEvent {
    #[serde(deserialize_with = "lenient")]
    pub message_version: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub invocation_source: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub input_mode: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub session_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub input_transcript: Option<String>,
    pub bot: Option<Value>,
    #[serde(deserialize_with = "lenient")]
    pub session_state: SessionState,
    #[serde(deserialize_with = "string_map")]
    pub request_attributes: Option<BTreeMap<String, String>>,
    /// What Lex would do next without the dialog code hook (DialogCodeHook events only).
    pub proposed_next_state: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialog_action: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub intent: Option<Intent>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_map"
    )]
    pub session_attributes: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_contexts: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub originating_request_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Intent {
    #[serde(deserialize_with = "lenient")]
    pub name: String,
    /// Slot name → slot (null when unfilled). Kept as JSON so unknown shapes survive a round trip.
    #[serde(deserialize_with = "lenient")]
    pub slots: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub confirmation_state: Option<String>,
}

/// A field of an unexpected JSON type reads as absent (its default) instead of failing the
/// whole event: the handler then answers as for a missing value.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// A string-to-string map (session or request attributes); entries whose value is not a
/// string are left out, the others kept as they came.
fn string_map<'de, D>(deserializer: D) -> Result<Option<BTreeMap<String, String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::Object(map) => Some(
            map.into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    })
}

impl LexEvent {
    /// Reads an event of any JSON shape: never fails (a non-object is an empty event).
    pub fn from_value(value: Value) -> LexEvent {
        serde_json::from_value(value).unwrap_or_default()
    }
}

impl Intent {
    /// The interpreted value of a filled scalar slot (falls back to the original value).
    pub fn slot_value(&self, name: &str) -> Option<&str> {
        let value = self.slots.get(name)?.get("value")?;
        value
            .get("interpretedValue")
            .and_then(Value::as_str)
            .or_else(|| value.get("originalValue").and_then(Value::as_str))
            .filter(|s| !s.trim().is_empty())
    }
}

/// Which hook invoked the Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Dialog,
    Fulfillment,
}

impl LexEvent {
    pub fn source(&self) -> Option<Source> {
        match self.invocation_source.as_deref() {
            Some("DialogCodeHook") => Some(Source::Dialog),
            Some("FulfillmentCodeHook") => Some(Source::Fulfillment),
            _ => None,
        }
    }

    /// The slot Lex proposes to elicit next (`proposedNextState.dialogAction` of type
    /// `ElicitSlot`), if any.
    pub fn proposed_slot(&self) -> Option<&str> {
        let action = self.proposed_next_state.as_ref()?.get("dialogAction")?;
        if action.get("type").and_then(Value::as_str) != Some("ElicitSlot") {
            return None;
        }
        action.get("slotToElicit").and_then(Value::as_str)
    }

    pub fn session_attribute(&self, name: &str) -> Option<&str> {
        self.session_state
            .session_attributes
            .as_ref()?
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LexResponse {
    pub session_state: ResponseSessionState,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResponseSessionState {
    pub dialog_action: DialogAction,
    pub intent: ResponseIntent,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_attributes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DialogAction {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slot_to_elicit: Option<String>,
    /// `Default` | `SpellByLetter` | `SpellByWord`: how Lex listens for the elicited slot.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slot_elicitation_style: Option<String>,
}

/// The slot elicitation style that makes Lex listen for a value spelled one letter or digit at
/// a time ("j d o e 4 2").
pub const SPELL_BY_LETTER: &str = "SpellByLetter";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResponseIntent {
    pub name: String,
    pub slots: BTreeMap<String, Value>,
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub content_type: String,
    pub content: String,
}

/// Intent state for a Close response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Fulfilled,
    Failed,
}

pub fn plain(text: &str) -> Vec<Message> {
    vec![Message {
        content_type: "PlainText".into(),
        content: text.into(),
    }]
}

fn session_attributes(event: &LexEvent) -> Option<BTreeMap<String, String>> {
    event.session_state.session_attributes.clone()
}

/// Session attribute a Close sets for the contact flow: `fulfilled` or `failed`.
pub const RESET_OUTCOME_ATTRIBUTE: &str = "ResetOutcome";
/// Session attribute with what the session proved (`none` | `knowledge` | `code`), for the
/// agent who takes a handed-off call.
pub const VERIFIED_ATTRIBUTE: &str = "resetpw_verified";
/// Session attribute with the generic class of the last answer (`in_progress`, `fulfilled`,
/// `not_verified`, `service_error`, `other_request`): never a reason that tells whether the
/// user exists.
pub const OUTCOME_CLASS_ATTRIBUTE: &str = "resetpw_outcome";

/// The response with `attributes` set in its session attributes (over any value the event
/// carried).
pub fn with_attributes(mut response: LexResponse, attributes: &[(&str, &str)]) -> LexResponse {
    let map = response
        .session_state
        .session_attributes
        .get_or_insert_with(BTreeMap::new);
    for (k, v) in attributes {
        map.insert(k.to_string(), v.to_string());
    }
    response
}

/// Close the intent as Fulfilled or Failed with a message read to the caller.
pub fn close(event: &LexEvent, intent_name: &str, outcome: Outcome, text: &str) -> LexResponse {
    let slots = event
        .session_state
        .intent
        .as_ref()
        .map(|i| i.slots.clone())
        .unwrap_or_default();
    LexResponse {
        session_state: ResponseSessionState {
            dialog_action: DialogAction {
                kind: "Close".into(),
                slot_to_elicit: None,
                slot_elicitation_style: None,
            },
            intent: ResponseIntent {
                name: intent_name.into(),
                slots,
                state: match outcome {
                    Outcome::Fulfilled => "Fulfilled".into(),
                    Outcome::Failed => "Failed".into(),
                },
            },
            session_attributes: Some({
                let mut attributes = session_attributes(event).unwrap_or_default();
                let value = match outcome {
                    Outcome::Fulfilled => "fulfilled",
                    Outcome::Failed => "failed",
                };
                attributes.insert(RESET_OUTCOME_ATTRIBUTE.into(), value.into());
                attributes
            }),
        },
        messages: plain(text),
    }
}

/// Ask again for `slot` (clearing its current value) with a re-prompt.
pub fn elicit_slot(event: &LexEvent, intent_name: &str, slot: &str, text: &str) -> LexResponse {
    let mut slots = event
        .session_state
        .intent
        .as_ref()
        .map(|i| i.slots.clone())
        .unwrap_or_default();
    slots.insert(slot.to_string(), Value::Null);
    LexResponse {
        session_state: ResponseSessionState {
            dialog_action: DialogAction {
                kind: "ElicitSlot".into(),
                slot_to_elicit: Some(slot.into()),
                slot_elicitation_style: None,
            },
            intent: ResponseIntent {
                name: intent_name.into(),
                slots,
                state: "InProgress".into(),
            },
            session_attributes: session_attributes(event),
        },
        messages: plain(text),
    }
}

/// Elicit `slot` (its value, if any, kept) with the slot's own prompt from the bot (no
/// messages: Lex plays the prompt configured on the slot), listening for it spelled by letter.
pub fn elicit_spelled(event: &LexEvent, intent_name: &str, slot: &str) -> LexResponse {
    let mut response = elicit_slot(event, intent_name, slot, "").spelled_by_letter();
    response.messages.clear();
    if let Some(value) = event
        .session_state
        .intent
        .as_ref()
        .and_then(|i| i.slots.get(slot))
    {
        response
            .session_state
            .intent
            .slots
            .insert(slot.to_string(), value.clone());
    }
    response
}

impl LexResponse {
    /// The same answer with an ElicitSlot listening for the value spelled by letter.
    pub fn spelled_by_letter(mut self) -> LexResponse {
        if self.session_state.dialog_action.kind == "ElicitSlot" {
            self.session_state.dialog_action.slot_elicitation_style = Some(SPELL_BY_LETTER.into());
        }
        self
    }
}

/// Let Lex carry on with the dialog (elicit the next slot with its own prompts).
pub fn delegate(event: &LexEvent, intent_name: &str) -> LexResponse {
    let slots = event
        .session_state
        .intent
        .as_ref()
        .map(|i| i.slots.clone())
        .unwrap_or_default();
    LexResponse {
        session_state: ResponseSessionState {
            dialog_action: DialogAction {
                kind: "Delegate".into(),
                slot_to_elicit: None,
                slot_elicitation_style: None,
            },
            intent: ResponseIntent {
                name: intent_name.into(),
                slots,
                state: "InProgress".into(),
            },
            session_attributes: session_attributes(event),
        },
        messages: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> LexEvent {
        serde_json::from_value(json!({
            "messageVersion": "1.0",
            "invocationSource": "FulfillmentCodeHook",
            "inputMode": "Speech",
            "sessionId": "abc",
            "someFieldAwsAddedLater": {"x": 1},
            "bot": {"id": "B", "name": "n", "localeId": "en_US", "version": "1", "aliasId": "A", "aliasName": "live"},
            "interpretations": [],
            "sessionState": {
                "sessionAttributes": {"CallerNumber": "+15550100001"},
                "intent": {
                    "name": "ResetPW",
                    "state": "ReadyForFulfillment",
                    "confirmationState": "None",
                    "slots": {
                        "UserID": {"shape": "Scalar", "value": {"originalValue": "j doe", "interpretedValue": "jdoe", "resolvedValues": []}},
                        "DOB": {"shape": "Scalar", "value": {"originalValue": "march 14 1985", "resolvedValues": []}},
                        "MonthStarted": null
                    },
                    "newThing": true
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn lenient_event_parsing() {
        let e = event();
        assert_eq!(e.source(), Some(Source::Fulfillment));
        let intent = e.session_state.intent.as_ref().unwrap();
        assert_eq!(intent.slot_value("UserID"), Some("jdoe"));
        assert_eq!(
            intent.slot_value("DOB"),
            Some("march 14 1985"),
            "falls back to originalValue"
        );
        assert_eq!(intent.slot_value("MonthStarted"), None);
        assert_eq!(intent.slot_value("Nope"), None);
        assert_eq!(e.session_attribute("CallerNumber"), Some("+15550100001"));
        let empty: LexEvent = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty.source(), None);
    }

    #[test]
    fn close_shape() {
        let r = close(&event(), "ResetPW", Outcome::Failed, "Sorry.");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["sessionState"]["dialogAction"], json!({"type": "Close"}));
        assert_eq!(v["sessionState"]["intent"]["state"], "Failed");
        assert_eq!(v["sessionState"]["intent"]["name"], "ResetPW");
        assert_eq!(
            v["sessionState"]["sessionAttributes"]["CallerNumber"],
            "+15550100001"
        );
        assert_eq!(
            v["messages"],
            json!([{"contentType": "PlainText", "content": "Sorry."}])
        );
        let f = close(&event(), "ResetPW", Outcome::Fulfilled, "Done.");
        assert_eq!(
            serde_json::to_value(&f).unwrap()["sessionState"]["intent"]["state"],
            "Fulfilled"
        );
    }

    #[test]
    fn elicit_slot_shape_clears_the_slot() {
        let r = elicit_slot(&event(), "ResetPW", "UserID", "Again?");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["sessionState"]["dialogAction"],
            json!({"type": "ElicitSlot", "slotToElicit": "UserID"})
        );
        assert_eq!(v["sessionState"]["intent"]["state"], "InProgress");
        assert_eq!(v["sessionState"]["intent"]["slots"]["UserID"], Value::Null);
        assert_eq!(
            v["sessionState"]["intent"]["slots"]["DOB"]["shape"],
            "Scalar"
        );
        assert_eq!(v["messages"][0]["content"], "Again?");
    }

    #[test]
    fn spelled_elicitation_shape_has_the_style_and_no_messages() {
        let v = serde_json::to_value(elicit_spelled(&event(), "ResetPW", "UserID")).unwrap();
        assert_eq!(
            v["sessionState"]["dialogAction"],
            json!({"type": "ElicitSlot", "slotToElicit": "UserID", "slotElicitationStyle": "SpellByLetter"})
        );
        assert_eq!(v["sessionState"]["intent"]["state"], "InProgress");
        assert_eq!(
            v["sessionState"]["intent"]["slots"]["UserID"]["value"]["interpretedValue"], "jdoe",
            "a value already there is kept"
        );
        assert!(v.get("messages").is_none(), "Lex plays the slot's prompt");
        // A re-prompt keeps its message and gains the style; other actions are left alone.
        let r = elicit_slot(&event(), "ResetPW", "UserID", "Again?").spelled_by_letter();
        assert_eq!(
            r.session_state
                .dialog_action
                .slot_elicitation_style
                .as_deref(),
            Some(SPELL_BY_LETTER)
        );
        assert_eq!(r.messages[0].content, "Again?");
        let d = delegate(&event(), "ResetPW").spelled_by_letter();
        assert_eq!(d.session_state.dialog_action.slot_elicitation_style, None);
    }

    #[test]
    fn the_proposed_slot_is_read_from_proposed_next_state() {
        let mut e = event();
        assert_eq!(e.proposed_slot(), None);
        e.proposed_next_state = Some(json!({
            "dialogAction": {"type": "ElicitSlot", "slotToElicit": "DOB"},
            "intent": {"name": "ResetPW", "slots": {}},
            "prompt": {"attempt": "Initial"}
        }));
        assert_eq!(e.proposed_slot(), Some("DOB"));
        e.proposed_next_state = Some(json!({"dialogAction": {"type": "ConfirmIntent"}}));
        assert_eq!(e.proposed_slot(), None);
        let parsed = LexEvent::from_value(json!({"proposedNextState": {
            "dialogAction": {"type": "ElicitSlot", "slotToElicit": "UserID"}}}));
        assert_eq!(parsed.proposed_slot(), Some("UserID"));
    }

    #[test]
    fn delegate_shape_has_no_messages() {
        let v = serde_json::to_value(delegate(&event(), "ResetPW")).unwrap();
        assert_eq!(
            v["sessionState"]["dialogAction"],
            json!({"type": "Delegate"})
        );
        assert!(v.get("messages").is_none());
    }

    #[test]
    fn wrong_typed_fields_read_as_absent() {
        let e = LexEvent::from_value(json!({
            "invocationSource": 7,
            "sessionId": ["x"],
            "inputTranscript": {"a": 1},
            "sessionState": {
                "sessionAttributes": {"ContactId": "c-1", "CallerNumber": 15550100001u64},
                "intent": {"name": "ResetPW", "slots": [1, 2, 3], "state": 5}
            }
        }));
        assert_eq!(e.source(), None);
        assert_eq!(e.session_id, None);
        let intent = e.session_state.intent.as_ref().unwrap();
        assert_eq!(intent.name, "ResetPW");
        assert!(intent.slots.is_empty());
        assert_eq!(e.session_attribute("ContactId"), Some("c-1"));
        assert_eq!(e.session_attribute("CallerNumber"), None);

        let e = LexEvent::from_value(json!({"sessionState": {"intent": {"name": 12, "slots": {
            "UserID": {"value": {"interpretedValue": 42}}, "DOB": "1985-03-14"
        }}}}));
        let intent = e.session_state.intent.as_ref().unwrap();
        assert_eq!(intent.name, "");
        assert_eq!(intent.slot_value("UserID"), None);
        assert_eq!(intent.slot_value("DOB"), None);

        for v in [
            json!(null),
            json!([1]),
            json!("x"),
            json!(3),
            json!({"sessionState": []}),
        ] {
            let e = LexEvent::from_value(v);
            assert!(e.session_state.intent.is_none());
        }
    }

    #[test]
    fn close_tells_the_flow_the_outcome_and_keeps_other_attributes() {
        let f = close(&event(), "ResetPW", Outcome::Fulfilled, "Done.");
        let attrs = f.session_state.session_attributes.unwrap();
        assert_eq!(attrs[RESET_OUTCOME_ATTRIBUTE], "fulfilled");
        assert_eq!(attrs["CallerNumber"], "+15550100001");
        assert_eq!(attrs.len(), 2);
        let f = close(&event(), "ResetPW", Outcome::Failed, "Sorry.");
        assert_eq!(
            f.session_state.session_attributes.unwrap()[RESET_OUTCOME_ATTRIBUTE],
            "failed"
        );
        // No session attributes in the event: only the outcome.
        let f = close(&LexEvent::default(), "ResetPW", Outcome::Failed, "Sorry.");
        assert_eq!(
            f.session_state.session_attributes,
            Some(BTreeMap::from([(
                RESET_OUTCOME_ATTRIBUTE.to_string(),
                "failed".to_string()
            )]))
        );
        // Elicit and delegate leave the attributes as they came.
        let e = elicit_slot(&event(), "ResetPW", "UserID", "Again?");
        assert!(!e
            .session_state
            .session_attributes
            .unwrap()
            .contains_key(RESET_OUTCOME_ATTRIBUTE));
    }
}
