//! What the runtime executes: the built locale a bot alias serves, read out of the models.

use super::{LexError, Models, DRAFT};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the runtime executes for one bot alias and locale: the locale as built in the version the
/// alias serves (DRAFT for `TSTALIASID`), with what the alias adds (its code hook Lambda).
#[derive(Debug, Clone)]
pub struct Served {
    pub bot_name: String,
    pub idle_ttl_seconds: u64,
    pub alias_name: String,
    pub version: String,
    /// The locale's status now (`Built` for every numbered version).
    pub locale_status: &'static str,
    pub confidence_threshold: f64,
    /// The alias's `codeHookSpecification.lambdaCodeHook.lambdaARN` for the locale.
    pub lambda_arn: Option<String>,
    pub intents: Vec<ServedIntent>,
    /// Custom slot types by id: their definitions.
    pub slot_types: BTreeMap<String, Map<String, Value>>,
}

/// An intent as built: its definition and its slots' definitions, by slot id.
#[derive(Debug, Clone)]
pub struct ServedIntent {
    pub def: Map<String, Value>,
    pub slots: BTreeMap<String, Map<String, Value>>,
}

impl Models {
    /// The built locale an alias serves, or the runtime's ResourceNotFoundException for an
    /// unknown bot, alias or locale, or a locale the alias does not enable.
    pub fn served(
        &self,
        bot_id: &str,
        alias_id: &str,
        locale_id: &str,
    ) -> Result<Served, LexError> {
        let not_found = |what: String| LexError::NotFound(format!("Could not find {what}."));
        let bot = self
            .bots
            .get(bot_id)
            .ok_or_else(|| not_found(format!("bot '{bot_id}'")))?;
        let alias = bot
            .aliases
            .get(alias_id)
            .ok_or_else(|| not_found(format!("alias '{alias_id}' of bot '{bot_id}'")))?;
        let version = alias
            .def
            .get("botVersion")
            .and_then(Value::as_str)
            .unwrap_or(DRAFT)
            .to_string();
        let bot_def = if version == DRAFT {
            &bot.def
        } else {
            version
                .parse::<u64>()
                .ok()
                .and_then(|n| bot.versions.get(&n))
                .map(|v| &v.bot_def)
                .ok_or_else(|| not_found(format!("version '{version}' of bot '{bot_id}'")))?
        };
        let locale = bot
            .locales(&version)
            .and_then(|l| l.get(locale_id))
            .ok_or_else(|| {
                not_found(format!(
                    "locale '{locale_id}' in version '{version}' of bot '{bot_id}'"
                ))
            })?;
        let setting = alias
            .def
            .get("botAliasLocaleSettings")
            .and_then(|s| s.get(locale_id));
        if alias.def.contains_key("botAliasLocaleSettings")
            && setting
                .and_then(|s| s.get("enabled"))
                .and_then(Value::as_bool)
                != Some(true)
        {
            return Err(not_found(format!(
                "locale '{locale_id}' enabled in alias '{alias_id}' of bot '{bot_id}'"
            )));
        }
        Ok(Served {
            bot_name: bot_def["botName"].as_str().unwrap_or("").to_string(),
            idle_ttl_seconds: bot_def
                .get("idleSessionTTLInSeconds")
                .and_then(Value::as_u64)
                .unwrap_or(300),
            alias_name: alias.def["botAliasName"].as_str().unwrap_or("").to_string(),
            version,
            locale_status: locale.phase.now(),
            confidence_threshold: locale
                .def
                .get("nluIntentConfidenceThreshold")
                .and_then(Value::as_f64)
                .unwrap_or(0.4),
            lambda_arn: setting
                .and_then(|s| s.pointer("/codeHookSpecification/lambdaCodeHook/lambdaARN"))
                .and_then(Value::as_str)
                .map(str::to_string),
            intents: locale
                .intents
                .values()
                .map(|i| ServedIntent {
                    def: i.item.def.clone(),
                    slots: i
                        .slots
                        .iter()
                        .map(|(id, s)| (id.clone(), s.def.clone()))
                        .collect(),
                })
                .collect(),
            slot_types: locale
                .slot_types
                .iter()
                .map(|(id, t)| (id.clone(), t.def.clone()))
                .collect(),
        })
    }
}
