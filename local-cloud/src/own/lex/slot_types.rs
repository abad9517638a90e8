//! Slot types: CreateSlotType, DescribeSlotType, UpdateSlotType, DeleteSlotType and
//! ListSlotTypes, with the checks of a slot type's `valueSelectionSetting`.

use super::{
    accepted, invalid,
    lists::{list, ListSpec},
    missing, new_id, no_content, ok, pick_fields, required, skip_in_use_check, strip_nulls,
    valid_name, with, Answer, Item, LexError, Models,
};
use serde_json::{json, Map, Value};

/// How ListSlotTypes filters and sorts its summaries.
const SLOT_TYPE_LIST: ListSpec = ListSpec {
    filters: &[
        ("SlotTypeName", "slotTypeName"),
        ("ExternalSourceType", "slotTypeCategory"),
    ],
    sorts: &[
        ("SlotTypeName", "slotTypeName"),
        ("LastUpdatedDateTime", "lastUpdatedDateTime"),
    ],
    default_sort: "slotTypeName",
    not_equals: false,
};

const SLOT_TYPE_FIELDS: &[&str] = &[
    "slotTypeName",
    "description",
    "slotTypeValues",
    "valueSelectionSetting",
    "parentSlotTypeSignature",
    "externalSourceSetting",
    "compositeSlotTypeSetting",
];

/// A slot type's `valueSelectionSetting`: `resolutionStrategy` is required and one of the
/// model's enum; a `regexFilter` needs a `pattern` of 1-300 characters, without the operators
/// the model's documentation says Lex does not support (infinite repeaters `*`, `+`, `{x,}`,
/// and the wild card `.`). That Lex refuses those at CreateSlotType, rather than at the build,
/// is assumed.
fn check_value_selection(body: &Value) -> Result<(), LexError> {
    let Some(setting) = body.get("valueSelectionSetting").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let strategy = setting.get("resolutionStrategy").unwrap_or(&Value::Null);
    if !matches!(
        strategy.as_str(),
        Some("OriginalValue" | "TopResolution" | "Concatenation")
    ) {
        return Err(invalid(
            "valueSelectionSetting.resolutionStrategy",
            strategy,
            "Member must satisfy enum value set: [OriginalValue, TopResolution, Concatenation]",
        ));
    }
    let Some(filter) = setting.get("regexFilter").filter(|f| !f.is_null()) else {
        return Ok(());
    };
    let pattern = filter.get("pattern").unwrap_or(&Value::Null);
    let Some(text) = pattern.as_str() else {
        return Err(invalid(
            "valueSelectionSetting.regexFilter.pattern",
            pattern,
            "Member must not be null",
        ));
    };
    if !(1..=300).contains(&text.chars().count()) {
        return Err(invalid(
            "valueSelectionSetting.regexFilter.pattern",
            pattern,
            "Member must have length between 1 and 300",
        ));
    }
    if let Some(problem) = unsupported_regex(text) {
        return Err(invalid(
            "valueSelectionSetting.regexFilter.pattern",
            pattern,
            &problem,
        ));
    }
    Ok(())
}

/// Why Lex would not take a slot type's regular expression: an unsupported operator, or no
/// regular expression at all. `None` when it is fine.
pub fn unsupported_regex(pattern: &str) -> Option<String> {
    let mut escaped = false;
    let chars: Vec<char> = pattern.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '*' | '+' => return Some(format!("Infinite repeaters are not supported: '{c}'")),
            '.' => return Some("The wild card '.' is not supported".to_string()),
            '{' => {
                let Some(close) = chars[i..].iter().position(|x| *x == '}') else {
                    break;
                };
                let inner: String = chars[i + 1..i + close].iter().collect();
                if inner.ends_with(',') {
                    return Some(format!(
                        "Infinite repeaters are not supported: '{{{inner}}}'"
                    ));
                }
            }
            _ => {}
        }
    }
    regex_lite::Regex::new(pattern)
        .err()
        .map(|e| format!("Not a valid regular expression: {e}"))
}

impl Models {
    pub(super) fn slot_type_def(body: &Value) -> Result<Map<String, Value>, LexError> {
        let name = required(body, "slotTypeName")?;
        if !name.as_str().is_some_and(valid_name) {
            return Err(invalid(
                "slotTypeName",
                name,
                "Member must satisfy regular expression pattern: ^([0-9a-zA-Z][_-]?){1,100}$",
            ));
        }
        check_value_selection(body)?;
        if let Some(parent) = body.get("parentSlotTypeSignature").filter(|p| !p.is_null()) {
            if parent.as_str() != Some("AMAZON.AlphaNumeric") {
                // The model's documentation: "Only AMAZON.AlphaNumeric is supported."
                return Err(invalid(
                    "parentSlotTypeSignature",
                    parent,
                    "Only AMAZON.AlphaNumeric is supported as a parent slot type",
                ));
            }
        }
        Ok(pick_fields(body, SLOT_TYPE_FIELDS))
    }

    pub(super) fn slot_type_answer(
        ids: (&str, &str, &str),
        item: &Item,
        with_updated: bool,
    ) -> Value {
        with(
            item.def.clone(),
            json!({
                "slotTypeId": item.id,
                "botId": ids.0, "botVersion": ids.1, "localeId": ids.2,
                "creationDateTime": item.created,
                "lastUpdatedDateTime": with_updated.then_some(item.updated),
            }),
        )
    }

    pub(super) fn create_slot_type(
        &mut self,
        bot_id: &str,
        version: &str,
        locale_id: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let def = Self::slot_type_def(body)?;
        let locale = self.draft_locale_mut(bot_id, version, locale_id)?;
        let name = def["slotTypeName"].as_str().unwrap_or("");
        if locale
            .slot_types
            .values()
            .any(|t| t.def["slotTypeName"] == name)
        {
            return Err(LexError::Conflict(format!(
                "A slot type with the name '{name}' already exists in locale '{locale_id}'."
            )));
        }
        let item = Item {
            id: new_id(),
            def,
            created: now,
            updated: now,
        };
        let answer = Self::slot_type_answer((bot_id, version, locale_id), &item, false);
        locale.slot_types.insert(item.id.clone(), item);
        locale.touch(now);
        ok(answer)
    }

    pub(super) fn describe_slot_type(&self, b: &str, v: &str, l: &str, t: &str) -> Answer {
        let item = self
            .locale(b, v, l, true)?
            .slot_types
            .get(t)
            .ok_or_else(|| missing(true, format!("slot type '{t}'")))?;
        ok(Self::slot_type_answer((b, v, l), item, true))
    }

    pub(super) fn update_slot_type(
        &mut self,
        b: &str,
        v: &str,
        l: &str,
        t: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let def = Self::slot_type_def(body)?;
        let locale = self.draft_locale_mut(b, v, l)?;
        let name = def["slotTypeName"].as_str().unwrap_or("");
        if locale
            .slot_types
            .iter()
            .any(|(id, x)| id != t && x.def["slotTypeName"] == name)
        {
            return Err(LexError::Conflict(format!(
                "A slot type with the name '{name}' already exists in locale '{l}'."
            )));
        }
        let item = locale
            .slot_types
            .get_mut(t)
            .ok_or_else(|| missing(false, format!("slot type '{t}'")))?;
        item.def = def;
        item.updated = now;
        let answer = Self::slot_type_answer((b, v, l), item, true);
        locale.touch(now);
        accepted(answer)
    }

    pub(super) fn delete_slot_type(
        &mut self,
        b: &str,
        v: &str,
        l: &str,
        t: &str,
        query: &[(String, String)],
        now: f64,
    ) -> Answer {
        let skip = skip_in_use_check(query);
        let locale = self.draft_locale_mut(b, v, l)?;
        if !locale.slot_types.contains_key(t) {
            return Err(missing(false, format!("slot type '{t}'")));
        }
        let used_by: Vec<String> = locale
            .intents
            .values()
            .flat_map(|i| i.slots.values())
            .filter(|s| s.def.get("slotTypeId").and_then(Value::as_str) == Some(t))
            .map(|s| s.def["slotName"].as_str().unwrap_or("").to_string())
            .collect();
        if !used_by.is_empty() && !skip {
            return Err(LexError::Conflict(format!(
                "Slot type '{t}' is used by slot(s) {}. Remove them first, or set skipResourceInUseCheck.",
                used_by.join(", ")
            )));
        }
        locale.slot_types.remove(t);
        locale.touch(now);
        no_content()
    }

    pub(super) fn list_slot_types(&self, b: &str, v: &str, l: &str, body: &Value) -> Answer {
        let items = self
            .locale(b, v, l, true)?
            .slot_types
            .values()
            .map(|t| {
                strip_nulls(json!({
                    "slotTypeId": t.id,
                    "slotTypeName": t.def.get("slotTypeName"),
                    "description": t.def.get("description"),
                    "parentSlotTypeSignature": t.def.get("parentSlotTypeSignature"),
                    "lastUpdatedDateTime": t.updated,
                    "slotTypeCategory": if t.def.contains_key("compositeSlotTypeSetting") {
                        "Composite"
                    } else if t.def.contains_key("externalSourceSetting") {
                        "ExternalGrammar"
                    } else {
                        "Custom"
                    },
                }))
            })
            .collect();
        list(
            items,
            body,
            &SLOT_TYPE_LIST,
            "slotTypeSummaries",
            json!({"botId": b, "botVersion": v, "localeId": l}),
        )
    }
}
