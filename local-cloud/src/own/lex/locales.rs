//! Bot locales: CreateBotLocale (with the built-in FallbackIntent every new locale gets),
//! DescribeBotLocale, UpdateBotLocale, DeleteBotLocale and ListBotLocales; the locale lookups
//! the families below a locale share, and the locale names Lex answers.

use super::{
    accepted, check_draft,
    intents::INTENT_FIELDS,
    invalid,
    lists::{list, ListSpec},
    missing, ok, pick_fields, required, strip_nulls, with, Answer, Ctx, Intent, Item, LexError,
    Locale, Models, Phase, FALLBACK_INTENT_ID,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How ListBotLocales filters and sorts its summaries.
const LOCALE_LIST: ListSpec = ListSpec {
    filters: &[("BotLocaleName", "localeName")],
    sorts: &[("BotLocaleName", "localeName")],
    default_sort: "localeName",
    not_equals: false,
};

const LOCALE_FIELDS: &[&str] = &[
    "description",
    "nluIntentConfidenceThreshold",
    "voiceSettings",
    "generativeAISettings",
    "speechRecognitionSettings",
    "speechDetectionSensitivity",
    "unifiedSpeechSettings",
    "audioFillerSettings",
    "speakerDiarizationSettings",
];

fn locale_name(locale_id: &str) -> Option<&'static str> {
    Some(match locale_id {
        "en_US" => "English (US)",
        "en_GB" => "English (GB)",
        "en_AU" => "English (AU)",
        "en_IN" => "English (IN)",
        "en_ZA" => "English (ZA)",
        "es_US" => "Spanish (US)",
        "es_ES" => "Spanish (ES)",
        "es_419" => "Spanish (LATAM)",
        "fr_FR" => "French (FR)",
        "fr_CA" => "French (CA)",
        "de_DE" => "German (DE)",
        "it_IT" => "Italian (IT)",
        "ja_JP" => "Japanese (JP)",
        "ko_KR" => "Korean (KR)",
        "pt_BR" => "Portuguese (BR)",
        "zh_CN" => "Mandarin (PRC)",
        _ => return None,
    })
}

fn fill_locale_defaults(def: &mut Map<String, Value>) {
    if let Some(voice) = def.get_mut("voiceSettings").and_then(Value::as_object_mut) {
        voice.entry("engine").or_insert(json!("standard"));
    }
}

impl Models {
    pub(super) fn locales_of(
        &self,
        bot_id: &str,
        version: &str,
        read: bool,
    ) -> Result<&BTreeMap<String, Locale>, LexError> {
        self.bot(bot_id, read)?
            .locales(version)
            .ok_or_else(|| missing(read, format!("version '{version}' of bot '{bot_id}'")))
    }

    pub(super) fn locale(
        &self,
        bot_id: &str,
        version: &str,
        locale_id: &str,
        read: bool,
    ) -> Result<&Locale, LexError> {
        self.locales_of(bot_id, version, read)?
            .get(locale_id)
            .ok_or_else(|| {
                missing(
                    read,
                    format!("locale '{locale_id}' in version '{version}' of bot '{bot_id}'"),
                )
            })
    }

    /// A DRAFT locale to change.
    pub(super) fn draft_locale_mut(
        &mut self,
        bot_id: &str,
        version: &str,
        locale_id: &str,
    ) -> Result<&mut Locale, LexError> {
        check_draft(version)?;
        self.bot_mut(bot_id)?
            .draft
            .get_mut(locale_id)
            .ok_or_else(|| {
                missing(
                    false,
                    format!("locale '{locale_id}' in version '{version}' of bot '{bot_id}'"),
                )
            })
    }

    pub(super) fn locale_answer(
        bot_id: &str,
        version: &str,
        locale_id: &str,
        locale: &Locale,
    ) -> Value {
        let status = locale.phase.now();
        with(
            locale.def.clone(),
            json!({
                "botId": bot_id,
                "botVersion": version,
                "localeId": locale_id,
                "localeName": locale_name(locale_id),
                "botLocaleStatus": status,
                "failureReasons": (status == "Failed").then(|| locale.failure_reasons.clone()),
                "intentsCount": locale.intents.len(),
                "slotTypesCount": locale.slot_types.len(),
                "creationDateTime": locale.created,
                "lastUpdatedDateTime": locale.updated,
                "lastBuildSubmittedDateTime": locale.last_build,
            }),
        )
    }

    pub(super) fn locale_def(body: &Value) -> Result<Map<String, Value>, LexError> {
        let threshold = required(body, "nluIntentConfidenceThreshold")?;
        if !threshold.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)) {
            return Err(invalid(
                "nluIntentConfidenceThreshold",
                threshold,
                "Member must have value less than or equal to 1 and greater than or equal to 0",
            ));
        }
        if let Some(voice) = body.get("voiceSettings").filter(|v| !v.is_null()) {
            required(voice, "voiceId").map_err(|_| {
                invalid(
                    "voiceSettings.voiceId",
                    &Value::Null,
                    "Member must not be null",
                )
            })?;
        }
        let mut def = pick_fields(body, LOCALE_FIELDS);
        fill_locale_defaults(&mut def);
        Ok(def)
    }

    pub(super) fn create_locale(
        &mut self,
        ctx: &Ctx,
        bot_id: &str,
        version: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        check_draft(version)?;
        let locale_id = required(body, "localeId")?
            .as_str()
            .unwrap_or("")
            .to_string();
        if locale_name(&locale_id).is_none() {
            return Err(LexError::Validation(format!(
                "The locale '{locale_id}' is not supported."
            )));
        }
        let def = Self::locale_def(body)?;
        let bot = self.bot_mut(bot_id)?;
        if bot.draft.contains_key(&locale_id) {
            return Err(LexError::Conflict(format!(
                "The locale '{locale_id}' already exists in bot '{bot_id}'."
            )));
        }
        let fallback = Intent {
            item: Item {
                id: FALLBACK_INTENT_ID.into(),
                def: pick_fields(
                    &json!({
                        "intentName": "FallbackIntent",
                        "description": "Default intent when no other intent matches",
                        "parentIntentSignature": "AMAZON.FallbackIntent",
                    }),
                    INTENT_FIELDS,
                ),
                created: now,
                updated: now,
            },
            slots: BTreeMap::new(),
        };
        let locale = Locale {
            def,
            phase: Phase::moving("Creating", "NotBuilt", ctx.delay),
            failure_reasons: Vec::new(),
            created: now,
            updated: now,
            last_build: None,
            slot_types: BTreeMap::new(),
            intents: BTreeMap::from([(FALLBACK_INTENT_ID.to_string(), fallback)]),
        };
        let mut answer = Self::locale_answer(bot_id, version, &locale_id, &locale);
        if let Some(obj) = answer.as_object_mut() {
            for field in ["intentsCount", "slotTypesCount", "lastUpdatedDateTime"] {
                obj.remove(field);
            }
            obj.insert("botLocaleStatus".into(), json!("Creating"));
        }
        bot.draft.insert(locale_id, locale);
        accepted(answer)
    }

    pub(super) fn describe_locale(&self, bot_id: &str, version: &str, locale_id: &str) -> Answer {
        let locale = self.locale(bot_id, version, locale_id, true)?;
        ok(Self::locale_answer(bot_id, version, locale_id, locale))
    }

    pub(super) fn update_locale(
        &mut self,
        bot_id: &str,
        version: &str,
        locale_id: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let def = Self::locale_def(body)?;
        let locale = self.draft_locale_mut(bot_id, version, locale_id)?;
        locale.def = def;
        locale.touch(now);
        let mut answer = Self::locale_answer(bot_id, version, locale_id, locale);
        if let Some(obj) = answer.as_object_mut() {
            obj.remove("intentsCount");
            obj.remove("slotTypesCount");
        }
        accepted(answer)
    }

    pub(super) fn delete_locale(&mut self, bot_id: &str, version: &str, locale_id: &str) -> Answer {
        self.draft_locale_mut(bot_id, version, locale_id)?;
        self.bot_mut(bot_id)?.draft.remove(locale_id);
        accepted(json!({
            "botId": bot_id, "botVersion": version, "localeId": locale_id,
            "botLocaleStatus": "Deleting",
        }))
    }

    pub(super) fn list_locales(&self, bot_id: &str, version: &str, body: &Value) -> Answer {
        let items = self
            .locales_of(bot_id, version, true)?
            .iter()
            .map(|(id, l)| {
                strip_nulls(json!({
                    "localeId": id,
                    "localeName": locale_name(id),
                    "description": l.def.get("description"),
                    "botLocaleStatus": l.phase.now(),
                    "lastUpdatedDateTime": l.updated,
                    "lastBuildSubmittedDateTime": l.last_build,
                }))
            })
            .collect();
        list(
            items,
            body,
            &LOCALE_LIST,
            "botLocaleSummaries",
            json!({"botId": bot_id, "botVersion": version}),
        )
    }
}
