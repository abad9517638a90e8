//! Intents and their slots: Create/Describe/Update/Delete/ListIntents and
//! Create/Describe/Update/Delete/ListSlots, with the service-filled defaults of prompts, code
//! hooks and settings (see the module docs of [`super`]).

use super::{
    invalid,
    lists::{list, ListSpec},
    missing, name_field, new_id, no_content, ok, pick_fields, required, strip_nulls, with, Answer,
    Intent, Item, LexError, Models, FALLBACK_INTENT_ID,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How ListIntents filters and sorts its summaries.
const INTENT_LIST: ListSpec = ListSpec {
    filters: &[("IntentName", "intentName")],
    sorts: &[
        ("IntentName", "intentName"),
        ("LastUpdatedDateTime", "lastUpdatedDateTime"),
    ],
    default_sort: "intentName",
    not_equals: false,
};

/// How ListSlots filters and sorts its summaries.
const SLOT_LIST: ListSpec = ListSpec {
    filters: &[("SlotName", "slotName")],
    sorts: &[
        ("SlotName", "slotName"),
        ("LastUpdatedDateTime", "lastUpdatedDateTime"),
    ],
    default_sort: "slotName",
    not_equals: false,
};

pub(super) const INTENT_FIELDS: &[&str] = &[
    "intentName",
    "intentDisplayName",
    "description",
    "parentIntentSignature",
    "sampleUtterances",
    "dialogCodeHook",
    "fulfillmentCodeHook",
    "intentConfirmationSetting",
    "intentClosingSetting",
    "inputContexts",
    "outputContexts",
    "kendraConfiguration",
    "initialResponseSetting",
    "qnAIntentConfiguration",
    "qInConnectIntentConfiguration",
];
const SLOT_FIELDS: &[&str] = &[
    "slotName",
    "description",
    "slotTypeId",
    "valueElicitationSetting",
    "obfuscationSetting",
    "multipleValuesSetting",
    "subSlotSetting",
];

/// Slot type ids of slots: a built-in `AMAZON.Name` or a 10-character id (at most 25 chars).
pub fn valid_slot_type_id(id: &str) -> bool {
    let ok = match id.strip_prefix("AMAZON.") {
        Some(name) => !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic() || c == '_'),
        None => !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()),
    };
    ok && id.len() <= 25
}

// Service-filled defaults

fn default_prompt_attempt() -> Value {
    json!({
        "allowInterrupt": true,
        "allowedInputTypes": {"allowAudioInput": true, "allowDTMFInput": true},
        "audioAndDTMFInputSpecification": {
            "startTimeoutMs": 4000,
            "audioSpecification": {"maxLengthMs": 15000, "endTimeoutMs": 640},
            "dtmfSpecification": {
                "maxLength": 513, "endTimeoutMs": 5000,
                "deletionCharacter": "*", "endCharacter": "#"
            }
        },
        "textInputSpecification": {"startTimeoutMs": 30000}
    })
}

/// Fills a `promptSpecification` as Lex does (see the module docs of [`super`]).
pub fn fill_prompt_specification(spec: &mut Value) {
    let Some(obj) = spec.as_object_mut() else {
        return;
    };
    obj.entry("allowInterrupt").or_insert(json!(true));
    obj.entry("messageSelectionStrategy")
        .or_insert(json!("Random"));
    if obj
        .get("promptAttemptsSpecification")
        .is_none_or(Value::is_null)
    {
        let retries = obj.get("maxRetries").and_then(Value::as_u64).unwrap_or(0);
        let mut attempts = Map::new();
        attempts.insert("Initial".into(), default_prompt_attempt());
        for n in 1..=retries.min(5) {
            attempts.insert(format!("Retry{n}"), default_prompt_attempt());
        }
        obj.insert(
            "promptAttemptsSpecification".into(),
            Value::Object(attempts),
        );
    }
}

fn fill_active(setting: Option<&mut Value>) {
    if let Some(obj) = setting.and_then(Value::as_object_mut) {
        obj.entry("active").or_insert(json!(true));
    }
}

fn fill_intent_defaults(def: &mut Map<String, Value>) {
    fill_active(def.get_mut("intentClosingSetting"));
    fill_active(def.get_mut("fulfillmentCodeHook"));
    if let Some(confirmation) = def.get_mut("intentConfirmationSetting") {
        fill_active(Some(confirmation));
        if let Some(prompt) = confirmation.get_mut("promptSpecification") {
            fill_prompt_specification(prompt);
        }
    }
}

fn fill_slot_defaults(def: &mut Map<String, Value>) {
    if let Some(prompt) = def
        .get_mut("valueElicitationSetting")
        .and_then(|v| v.get_mut("promptSpecification"))
    {
        fill_prompt_specification(prompt);
    }
}

impl Models {
    pub(super) fn intent_def(body: &Value) -> Result<Map<String, Value>, LexError> {
        name_field(body, "intentName")?;
        let mut def = pick_fields(body, INTENT_FIELDS);
        fill_intent_defaults(&mut def);
        Ok(def)
    }

    pub(super) fn intent_answer(ids: (&str, &str, &str), intent: &Intent, describe: bool) -> Value {
        let item = &intent.item;
        with(
            item.def.clone(),
            json!({
                "intentId": item.id,
                "botId": ids.0, "botVersion": ids.1, "localeId": ids.2,
                "creationDateTime": item.created,
                "lastUpdatedDateTime": describe.then_some(item.updated),
            }),
        )
    }

    pub(super) fn create_intent(
        &mut self,
        b: &str,
        v: &str,
        l: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let mut def = Self::intent_def(body)?;
        def.remove("slotPriorities");
        let locale = self.draft_locale_mut(b, v, l)?;
        let name = def["intentName"].as_str().unwrap_or("");
        if locale
            .intents
            .values()
            .any(|i| i.item.def["intentName"] == name)
        {
            return Err(LexError::Conflict(format!(
                "An intent with the name '{name}' already exists in locale '{l}'."
            )));
        }
        let intent = Intent {
            item: Item {
                id: new_id(),
                def,
                created: now,
                updated: now,
            },
            slots: BTreeMap::new(),
        };
        let answer = Self::intent_answer((b, v, l), &intent, false);
        locale.intents.insert(intent.item.id.clone(), intent);
        locale.touch(now);
        ok(answer)
    }

    pub(super) fn intent(
        &self,
        b: &str,
        v: &str,
        l: &str,
        i: &str,
        read: bool,
    ) -> Result<&Intent, LexError> {
        self.locale(b, v, l, read)?
            .intents
            .get(i)
            .ok_or_else(|| missing(read, format!("intent '{i}'")))
    }

    pub(super) fn describe_intent(&self, b: &str, v: &str, l: &str, i: &str) -> Answer {
        let intent = self.intent(b, v, l, i, true)?;
        ok(Self::intent_answer((b, v, l), intent, true))
    }

    pub(super) fn update_intent(
        &mut self,
        b: &str,
        v: &str,
        l: &str,
        i: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let mut def = Self::intent_def(body)?;
        let locale = self.draft_locale_mut(b, v, l)?;
        let name = def["intentName"].as_str().unwrap_or("");
        if locale
            .intents
            .iter()
            .any(|(id, x)| id != i && x.item.def["intentName"] == name)
        {
            return Err(LexError::Conflict(format!(
                "An intent with the name '{name}' already exists in locale '{l}'."
            )));
        }
        let intent = locale
            .intents
            .get_mut(i)
            .ok_or_else(|| missing(false, format!("intent '{i}'")))?;
        if let Some(priorities) = body.get("slotPriorities").filter(|p| !p.is_null()) {
            for p in priorities.as_array().into_iter().flatten() {
                let slot_id = p.get("slotId").and_then(Value::as_str).unwrap_or("");
                if !intent.slots.contains_key(slot_id) {
                    return Err(LexError::Validation(format!(
                        "Slot priority refers to slot '{slot_id}', which is not a slot of intent '{i}'."
                    )));
                }
            }
            def.insert("slotPriorities".into(), priorities.clone());
        }
        intent.item.def = def;
        intent.item.updated = now;
        let answer = Self::intent_answer((b, v, l), intent, true);
        locale.touch(now);
        ok(answer)
    }

    pub(super) fn delete_intent(&mut self, b: &str, v: &str, l: &str, i: &str, now: f64) -> Answer {
        let locale = self.draft_locale_mut(b, v, l)?;
        if !locale.intents.contains_key(i) {
            return Err(missing(false, format!("intent '{i}'")));
        }
        if i == FALLBACK_INTENT_ID {
            return Err(LexError::Validation(
                "The built-in FallbackIntent cannot be deleted.".into(),
            ));
        }
        locale.intents.remove(i);
        locale.touch(now);
        no_content()
    }

    pub(super) fn list_intents(&self, b: &str, v: &str, l: &str, body: &Value) -> Answer {
        let items = self
            .locale(b, v, l, true)?
            .intents
            .values()
            .map(|i| {
                let d = &i.item.def;
                strip_nulls(json!({
                    "intentId": i.item.id,
                    "intentName": d.get("intentName"),
                    "intentDisplayName": d.get("intentDisplayName"),
                    "description": d.get("description"),
                    "parentIntentSignature": d.get("parentIntentSignature"),
                    "inputContexts": d.get("inputContexts"),
                    "outputContexts": d.get("outputContexts"),
                    "lastUpdatedDateTime": i.item.updated,
                }))
            })
            .collect();
        list(
            items,
            body,
            &INTENT_LIST,
            "intentSummaries",
            json!({"botId": b, "botVersion": v, "localeId": l}),
        )
    }

    // --- slots -----------------------------------------------------------------------------

    pub(super) fn slot_def(body: &Value) -> Result<Map<String, Value>, LexError> {
        name_field(body, "slotName")?;
        let elicitation = required(body, "valueElicitationSetting")?;
        let constraint = elicitation.get("slotConstraint").unwrap_or(&Value::Null);
        if !matches!(constraint.as_str(), Some("Required" | "Optional")) {
            return Err(invalid(
                "valueElicitationSetting.slotConstraint",
                constraint,
                "Member must satisfy enum value set: [Required, Optional]",
            ));
        }
        if let Some(type_id) = body.get("slotTypeId").filter(|t| !t.is_null()) {
            if !type_id.as_str().is_some_and(valid_slot_type_id) {
                return Err(invalid(
                    "slotTypeId",
                    type_id,
                    "Member must satisfy regular expression pattern: ^((AMAZON\\.)[a-zA-Z_]+?|[0-9a-zA-Z]+)$",
                ));
            }
        }
        if let Some(setting) = body.get("obfuscationSetting").filter(|o| !o.is_null()) {
            let kind = setting
                .get("obfuscationSettingType")
                .unwrap_or(&Value::Null);
            if !matches!(kind.as_str(), Some("None" | "DefaultObfuscation")) {
                return Err(invalid(
                    "obfuscationSetting.obfuscationSettingType",
                    kind,
                    "Member must satisfy enum value set: [None, DefaultObfuscation]",
                ));
            }
        }
        let mut def = pick_fields(body, SLOT_FIELDS);
        fill_slot_defaults(&mut def);
        Ok(def)
    }

    pub(super) fn slot_answer(ids: (&str, &str, &str, &str), item: &Item, describe: bool) -> Value {
        with(
            item.def.clone(),
            json!({
                "slotId": item.id,
                "botId": ids.0, "botVersion": ids.1, "localeId": ids.2, "intentId": ids.3,
                "creationDateTime": item.created,
                "lastUpdatedDateTime": describe.then_some(item.updated),
            }),
        )
    }

    pub(super) fn create_slot(
        &mut self,
        b: &str,
        v: &str,
        l: &str,
        i: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let def = Self::slot_def(body)?;
        let locale = self.draft_locale_mut(b, v, l)?;
        let intent = locale
            .intents
            .get_mut(i)
            .ok_or_else(|| missing(false, format!("intent '{i}'")))?;
        let name = def["slotName"].as_str().unwrap_or("");
        if intent.slots.values().any(|s| s.def["slotName"] == name) {
            return Err(LexError::Conflict(format!(
                "A slot with the name '{name}' already exists in intent '{i}'."
            )));
        }
        let item = Item {
            id: new_id(),
            def,
            created: now,
            updated: now,
        };
        let answer = Self::slot_answer((b, v, l, i), &item, false);
        intent.slots.insert(item.id.clone(), item);
        locale.touch(now);
        ok(answer)
    }

    pub(super) fn describe_slot(&self, b: &str, v: &str, l: &str, i: &str, s: &str) -> Answer {
        let item = self
            .intent(b, v, l, i, true)?
            .slots
            .get(s)
            .ok_or_else(|| missing(true, format!("slot '{s}'")))?;
        ok(Self::slot_answer((b, v, l, i), item, true))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn update_slot(
        &mut self,
        b: &str,
        v: &str,
        l: &str,
        i: &str,
        s: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let def = Self::slot_def(body)?;
        let locale = self.draft_locale_mut(b, v, l)?;
        let intent = locale
            .intents
            .get_mut(i)
            .ok_or_else(|| missing(false, format!("intent '{i}'")))?;
        let name = def["slotName"].as_str().unwrap_or("");
        if intent
            .slots
            .iter()
            .any(|(id, x)| id != s && x.def["slotName"] == name)
        {
            return Err(LexError::Conflict(format!(
                "A slot with the name '{name}' already exists in intent '{i}'."
            )));
        }
        let item = intent
            .slots
            .get_mut(s)
            .ok_or_else(|| missing(false, format!("slot '{s}'")))?;
        item.def = def;
        item.updated = now;
        let answer = Self::slot_answer((b, v, l, i), item, true);
        locale.touch(now);
        ok(answer)
    }

    pub(super) fn delete_slot(
        &mut self,
        b: &str,
        v: &str,
        l: &str,
        i: &str,
        s: &str,
        now: f64,
    ) -> Answer {
        let locale = self.draft_locale_mut(b, v, l)?;
        let intent = locale
            .intents
            .get_mut(i)
            .ok_or_else(|| missing(false, format!("intent '{i}'")))?;
        if intent.slots.remove(s).is_none() {
            return Err(missing(false, format!("slot '{s}'")));
        }
        if let Some(Value::Array(priorities)) = intent.item.def.get_mut("slotPriorities") {
            priorities.retain(|p| p.get("slotId").and_then(Value::as_str) != Some(s));
        }
        locale.touch(now);
        no_content()
    }

    pub(super) fn list_slots(&self, b: &str, v: &str, l: &str, i: &str, body: &Value) -> Answer {
        let items = self
            .intent(b, v, l, i, true)?
            .slots
            .values()
            .map(|s| {
                let d = &s.def;
                let elicitation = d.get("valueElicitationSetting");
                strip_nulls(json!({
                    "slotId": s.id,
                    "slotName": d.get("slotName"),
                    "description": d.get("description"),
                    "slotConstraint": elicitation.and_then(|e| e.get("slotConstraint")),
                    "slotTypeId": d.get("slotTypeId"),
                    "valueElicitationPromptSpecification":
                        elicitation.and_then(|e| e.get("promptSpecification")),
                    "lastUpdatedDateTime": s.updated,
                }))
            })
            .collect();
        list(
            items,
            body,
            &SLOT_LIST,
            "slotSummaries",
            json!({"botId": b, "botVersion": v, "localeId": l, "intentId": i}),
        )
    }
}
