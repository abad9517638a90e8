//! BuildBotLocale, and the checks that make a build end `Failed` with its reasons.

use super::{accepted, Answer, Ctx, LexError, Locale, Models, Phase};
use serde_json::{json, Value};

impl Models {
    pub(super) fn build_locale(
        &mut self,
        ctx: &Ctx,
        bot_id: &str,
        version: &str,
        locale_id: &str,
        now: f64,
    ) -> Answer {
        let locale = self.draft_locale_mut(bot_id, version, locale_id)?;
        match locale.phase.now() {
            "Building" | "Creating" => {
                return Err(LexError::Conflict(format!(
                    "The locale '{locale_id}' of bot '{bot_id}' is {}; try again when it is done.",
                    locale.phase.now()
                )))
            }
            _ => {}
        }
        let mut problems = build_problems(locale);
        if ctx.forced_build_failure {
            problems.push(
                "The build was made to fail by a fault rule of the local cloud (BuildFailed)."
                    .into(),
            );
        }
        let outcome = if problems.is_empty() {
            "Built"
        } else {
            "Failed"
        };
        locale.phase = Phase::moving("Building", outcome, ctx.delay);
        locale.failure_reasons = problems;
        locale.last_build = Some(now);
        accepted(json!({
            "botId": bot_id, "botVersion": version, "localeId": locale_id,
            "botLocaleStatus": "Building",
            "lastBuildSubmittedDateTime": now,
        }))
    }
}

/// Why a locale cannot be built (empty when it can).
fn build_problems(locale: &Locale) -> Vec<String> {
    let mut problems = Vec::new();
    for intent in locale.intents.values() {
        let name = intent.item.def["intentName"].as_str().unwrap_or("");
        let built_in = intent.item.def.contains_key("parentIntentSignature");
        let utterances = intent
            .item
            .def
            .get("sampleUtterances")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if !built_in && utterances == 0 {
            problems.push(format!(
                "Intent '{name}' has no sample utterances. Add at least one sample utterance to the intent."
            ));
        }
        for slot in intent.slots.values() {
            let slot_name = slot.def["slotName"].as_str().unwrap_or("");
            let type_id = slot.def.get("slotTypeId").and_then(Value::as_str);
            match type_id {
                Some(t) if t.starts_with("AMAZON.") || locale.slot_types.contains_key(t) => {}
                Some(t) => problems.push(format!(
                    "Slot '{slot_name}' in intent '{name}' refers to slot type '{t}', which does not exist."
                )),
                None if slot.def.contains_key("subSlotSetting") => {}
                None => problems.push(format!(
                    "Slot '{slot_name}' in intent '{name}' has no slot type."
                )),
            }
            let elicitation = slot.def.get("valueElicitationSetting");
            let required = elicitation
                .and_then(|e| e.get("slotConstraint"))
                .and_then(Value::as_str)
                == Some("Required");
            let prompt = elicitation
                .and_then(|e| e.get("promptSpecification"))
                .is_some_and(|p| !p.is_null());
            if required && !prompt {
                problems.push(format!(
                    "Slot '{slot_name}' in intent '{name}' is required but has no prompt. Add a prompt specification to the slot."
                ));
            }
        }
    }
    problems
}
