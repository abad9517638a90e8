//! The bot's DRAFT definition as one resource (see `mod.rs` for why): the locale with its
//! voice and confidence threshold, the `Month` slot type, with the one-time code the
//! `OneTimeCode` slot type (AMAZON.AlphaNumeric restricted to six digits), and the intents
//! `ResetPW` and `UnlockAccount`, each with its utterances, both code hooks, the slots `UserID`,
//! `DOB`, `MonthStarted` and (with the code) `Code` — each required, with a prompt, retries and
//! Lex's default obfuscation (their values never reach conversation logs) — and their
//! priorities. Each field of the plan is one part; an update changes only the parts that differ.

use super::{
    desired_definition, fingerprint, intent_fields, read_definition, slot_field, Definition,
    LiveDefinition, Spec, CODE_PARENT, CODE_PATTERN, CODE_TYPE, DRAFT, INTENTS, MAX_RETRIES, MONTH,
    OBFUSCATION, SLOTS, UNLOCK_INTENT,
};
use crate::aws::{ApiError, Cx};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{other, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_lexmodelsv2::types::{
    DialogCodeHookSettings, FulfillmentCodeHookSettings, Message, MessageGroup, ObfuscationSetting,
    ObfuscationSettingType, PlainTextMessage, PromptSpecification, SampleUtterance, SampleValue,
    SlotConstraint, SlotPriority, SlotTypeValue, SlotValueElicitationSetting, SlotValueRegexFilter,
    SlotValueResolutionStrategy, SlotValueSelectionSetting, VoiceSettings,
};
use serde_json::Value;
use std::collections::BTreeMap;

pub const ID: &str = "bot-definition";
const KIND: &str = "lex-bot-definition";
const MONTH_DESCRIPTION: &str = "The months, with abbreviations and numbers as synonyms";
const CODE_DESCRIPTION: &str = "The six-digit one-time code texted to the phone on record";

pub struct BotDefinition {
    stack: String,
    /// `None` when only observed and deleted (`down`).
    spec: Option<Spec>,
}

fn built<T>(r: Result<T, aws_sdk_lexmodelsv2::error::BuildError>) -> Result<T, ResourceError> {
    r.map_err(|e| other(format!("cannot form a Lex request: {e}")))
}

fn prompt(text: &str) -> Result<PromptSpecification, ResourceError> {
    let message = Message::builder()
        .plain_text_message(built(PlainTextMessage::builder().value(text).build())?)
        .build();
    built(
        PromptSpecification::builder()
            .message_groups(MessageGroup::builder().message(message).build())
            .max_retries(MAX_RETRIES)
            .build(),
    )
}

fn description(intent: &str) -> &'static str {
    if intent == UNLOCK_INTENT {
        "Verify the caller and unlock their directory account (no new password)"
    } else {
        "Verify the caller and reset their directory password"
    }
}

impl BotDefinition {
    pub fn new(stack: &str, spec: Option<Spec>) -> Self {
        BotDefinition {
            stack: stack.into(),
            spec,
        }
    }

    fn spec(&self) -> Result<&Spec, ResourceError> {
        self.spec
            .as_ref()
            .ok_or_else(|| other("the bot's settings are not known (no `bot` section)"))
    }

    fn locale(&self) -> &str {
        self.spec
            .as_ref()
            .map_or("en_US", |c| c.bot.locale.as_str())
    }

    fn bot_id(inputs: &Outputs) -> Result<String, ResourceError> {
        inputs
            .get("bot.id")
            .cloned()
            .ok_or_else(|| other("the bot does not exist yet; run `resetpw up` again"))
    }

    fn outputs(bot_id: &str, d: &Definition) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("bot_id".to_string(), bot_id.to_string()),
            ("fingerprint".to_string(), fingerprint(d)),
        ])
    }

    fn err(&self, verb: &'static str) -> impl FnOnce(ApiError) -> ResourceError {
        let name = self.name();
        move |source| ResourceError::Api {
            verb,
            kind: KIND,
            name,
            source,
        }
    }

    /// Brings the DRAFT locale from `current` to the stack's definition, part by part: the
    /// locale, the slot types (at once), both intents (at once, each its slots in turn), and
    /// last a slot type the stack no longer wants, once no slot uses it.
    async fn converge(
        &self,
        cx: &Cx,
        bot_id: &str,
        current: Option<LiveDefinition>,
    ) -> Result<(), ResourceError> {
        let spec = self.spec()?;
        let config = &spec.bot;
        let locale = self.locale().to_string();
        let want = desired_definition(spec);
        let mut cur = current.unwrap_or_default();
        let differs = |cur: &LiveDefinition, field: &str| cur.fields.get(field) != want.get(field);
        let lex = &cx.lex;
        let voice = built(VoiceSettings::builder().voice_id(&config.voice).build())?;

        // The locale.
        if !cur.locale_exists {
            let result = lex
                .create_bot_locale()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(&locale)
                .nlu_intent_confidence_threshold(config.confidence_threshold)
                .voice_settings(voice.clone())
                .send()
                .await
                .map_err(ApiError::from);
            let made_now = match result {
                Ok(_) => true,
                // Made since the plan (a crashed run's call finishing).
                Err(e) if e.is("ConflictException") => false,
                Err(e) => return Err(self.err("create the locale of")(e)),
            };
            self.wait_locale_created(cx, bot_id).await?;
            cur = if made_now {
                // Made now: it holds its voice and threshold and nothing else yet.
                let fields: Definition = want
                    .iter()
                    .map(|(k, v)| match *k {
                        "voice" | "confidence_threshold" => (*k, v.clone()),
                        _ => (*k, Value::Null),
                    })
                    .collect();
                LiveDefinition {
                    locale_exists: true,
                    fields,
                    ..Default::default()
                }
            } else {
                read_definition(cx, bot_id, DRAFT, &locale)
                    .await
                    .map_err(self.err("read"))?
                    .unwrap_or_default()
            };
        }
        if differs(&cur, "voice") || differs(&cur, "confidence_threshold") {
            lex.update_bot_locale()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(&locale)
                .nlu_intent_confidence_threshold(config.confidence_threshold)
                .voice_settings(voice)
                .send()
                .await
                .map_err(|e| self.err("update the locale of")(e.into()))?;
        }

        // The slot types, at once.
        let (month_id, code_id) = tokio::join!(
            self.converge_month(cx, bot_id, &cur, &want),
            self.converge_code_type(cx, bot_id, &cur, &want, spec.one_time_code)
        );
        let mut type_ids = BTreeMap::from([(MONTH, month_id?)]);
        if let Some(id) = code_id? {
            type_ids.insert(CODE_TYPE, id);
        }

        // The intents, at once.
        let intents = futures::future::join_all(
            INTENTS
                .iter()
                .map(|intent| self.converge_intent(cx, bot_id, intent, &cur, &want, &type_ids)),
        )
        .await;
        for result in intents {
            result?;
        }

        // A one-time code type the stack no longer wants: its slots are gone now.
        if !spec.one_time_code {
            if let Some(id) = cur.slot_type_ids.get(CODE_TYPE) {
                let result = lex
                    .delete_slot_type()
                    .bot_id(bot_id)
                    .bot_version(DRAFT)
                    .locale_id(&locale)
                    .slot_type_id(id)
                    .send()
                    .await;
                tolerate(result, super::GONE).map_err(|e| {
                    self.err("delete the OneTimeCode slot type (the stack has `one_time_code: false`) of")(e)
                })?;
            }
        }
        Ok(())
    }

    /// The Month slot type: its id, created or updated as needed.
    async fn converge_month(
        &self,
        cx: &Cx,
        bot_id: &str,
        cur: &LiveDefinition,
        want: &Definition,
    ) -> Result<String, ResourceError> {
        let lex = &cx.lex;
        let locale = self.locale();
        let mut values = Vec::new();
        for (value, synonyms) in super::month_values() {
            let mut v = SlotTypeValue::builder()
                .sample_value(built(SampleValue::builder().value(value).build())?);
            for s in synonyms {
                v = v.synonyms(built(SampleValue::builder().value(s).build())?);
            }
            values.push(v.build());
        }
        let selection = built(
            SlotValueSelectionSetting::builder()
                .resolution_strategy(SlotValueResolutionStrategy::TopResolution)
                .build(),
        )?;
        let field = super::slot_type_field(MONTH);
        Ok(match cur.slot_type_ids.get(MONTH) {
            None => lex
                .create_slot_type()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(locale)
                .slot_type_name(MONTH)
                .description(MONTH_DESCRIPTION)
                .set_slot_type_values(Some(values))
                .value_selection_setting(selection)
                .send()
                .await
                .map_err(|e| self.err("create the Month slot type of")(e.into()))?
                .slot_type_id()
                .unwrap_or_default()
                .to_string(),
            Some(id) => {
                if cur.fields.get(field) != want.get(field) {
                    lex.update_slot_type()
                        .bot_id(bot_id)
                        .bot_version(DRAFT)
                        .locale_id(locale)
                        .slot_type_id(id)
                        .slot_type_name(MONTH)
                        .description(MONTH_DESCRIPTION)
                        .set_slot_type_values(Some(values))
                        .value_selection_setting(selection)
                        .send()
                        .await
                        .map_err(|e| self.err("update the Month slot type of")(e.into()))?;
                }
                id.clone()
            }
        })
    }

    /// The OneTimeCode slot type when the stack asks for the code: AMAZON.AlphaNumeric with a
    /// regular expression of six digits, the value as said. Its id; `None` without the code.
    async fn converge_code_type(
        &self,
        cx: &Cx,
        bot_id: &str,
        cur: &LiveDefinition,
        want: &Definition,
        one_time_code: bool,
    ) -> Result<Option<String>, ResourceError> {
        if !one_time_code {
            return Ok(None);
        }
        let lex = &cx.lex;
        let locale = self.locale();
        let selection = built(
            SlotValueSelectionSetting::builder()
                .resolution_strategy(SlotValueResolutionStrategy::OriginalValue)
                .regex_filter(built(
                    SlotValueRegexFilter::builder()
                        .pattern(CODE_PATTERN)
                        .build(),
                )?)
                .build(),
        )?;
        let field = super::slot_type_field(CODE_TYPE);
        Ok(Some(match cur.slot_type_ids.get(CODE_TYPE) {
            None => lex
                .create_slot_type()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(locale)
                .slot_type_name(CODE_TYPE)
                .description(CODE_DESCRIPTION)
                .parent_slot_type_signature(CODE_PARENT)
                .value_selection_setting(selection)
                .send()
                .await
                .map_err(|e| self.err("create the OneTimeCode slot type of")(e.into()))?
                .slot_type_id()
                .unwrap_or_default()
                .to_string(),
            Some(id) => {
                if cur.fields.get(field) != want.get(field) {
                    lex.update_slot_type()
                        .bot_id(bot_id)
                        .bot_version(DRAFT)
                        .locale_id(locale)
                        .slot_type_id(id)
                        .slot_type_name(CODE_TYPE)
                        .description(CODE_DESCRIPTION)
                        .parent_slot_type_signature(CODE_PARENT)
                        .value_selection_setting(selection)
                        .send()
                        .await
                        .map_err(|e| self.err("update the OneTimeCode slot type of")(e.into()))?;
                }
                id.clone()
            }
        }))
    }

    /// One intent: created when missing, its slots created, updated or deleted in turn, then
    /// the intent itself updated (utterances, hooks and slot priorities) when any of it changed.
    async fn converge_intent(
        &self,
        cx: &Cx,
        bot_id: &str,
        intent: &str,
        cur: &LiveDefinition,
        want: &Definition,
        type_ids: &BTreeMap<&str, String>,
    ) -> Result<(), ResourceError> {
        let spec = self.spec()?;
        let lex = &cx.lex;
        let locale = self.locale();
        let differs = |field: &str| cur.fields.get(field) != want.get(field);
        let f = intent_fields(intent);
        let utterances: Vec<SampleUtterance> = spec
            .utterances(intent)
            .iter()
            .map(|u| built(SampleUtterance::builder().utterance(u).build()))
            .collect::<Result<_, _>>()?;
        let dialog = DialogCodeHookSettings::builder().enabled(true).build();
        let fulfillment = FulfillmentCodeHookSettings::builder().enabled(true).build();
        let mut intent_changed = differs(f.utterances) || differs(f.hooks) || differs(f.priorities);
        let live = cur.intents.get(intent);
        let intent_id = match live {
            Some(i) => i.id.clone(),
            None => {
                intent_changed = true;
                lex.create_intent()
                    .bot_id(bot_id)
                    .bot_version(DRAFT)
                    .locale_id(locale)
                    .intent_name(intent)
                    .description(description(intent))
                    .set_sample_utterances(Some(utterances.clone()))
                    .dialog_code_hook(dialog.clone())
                    .fulfillment_code_hook(fulfillment.clone())
                    .send()
                    .await
                    .map_err(|e| self.err("create an intent of")(e.into()))?
                    .intent_id()
                    .unwrap_or_default()
                    .to_string()
            }
        };
        let live_slots = live.map(|i| i.slot_ids.clone()).unwrap_or_default();

        // The slots, in turn.
        let wanted = spec.slots();
        let obfuscation = built(
            ObfuscationSetting::builder()
                .obfuscation_setting_type(ObfuscationSettingType::from(OBFUSCATION))
                .build(),
        )?;
        let mut slot_ids = Vec::new();
        for (name, slot_type, text) in &wanted {
            let type_id = match type_ids.get(slot_type) {
                Some(id) => id.as_str(),
                None => slot_type,
            };
            let setting = built(
                SlotValueElicitationSetting::builder()
                    .slot_constraint(SlotConstraint::Required)
                    .prompt_specification(prompt(text)?)
                    .build(),
            )?;
            let id = match live_slots.get(*name) {
                None => {
                    intent_changed = true;
                    lex.create_slot()
                        .bot_id(bot_id)
                        .bot_version(DRAFT)
                        .locale_id(locale)
                        .intent_id(&intent_id)
                        .slot_name(*name)
                        .slot_type_id(type_id)
                        .value_elicitation_setting(setting)
                        .obfuscation_setting(obfuscation.clone())
                        .send()
                        .await
                        .map_err(|e| self.err("create a slot of")(e.into()))?
                        .slot_id()
                        .unwrap_or_default()
                        .to_string()
                }
                Some(id) => {
                    if differs(slot_field(intent, name)) {
                        lex.update_slot()
                            .bot_id(bot_id)
                            .bot_version(DRAFT)
                            .locale_id(locale)
                            .intent_id(&intent_id)
                            .slot_id(id)
                            .slot_name(*name)
                            .slot_type_id(type_id)
                            .value_elicitation_setting(setting)
                            .obfuscation_setting(obfuscation.clone())
                            .send()
                            .await
                            .map_err(|e| self.err("update a slot of")(e.into()))?;
                    }
                    id.clone()
                }
            };
            slot_ids.push(id);
        }
        // Slots the stack does not want: one resetpw never makes, or `Code` without the code.
        for (name, id) in &live_slots {
            if !wanted.iter().any(|s| s.0 == name) {
                lex.delete_slot()
                    .bot_id(bot_id)
                    .bot_version(DRAFT)
                    .locale_id(locale)
                    .intent_id(&intent_id)
                    .slot_id(id)
                    .send()
                    .await
                    .map_err(|e| self.err("delete a slot not in the stack from")(e.into()))?;
                intent_changed = true;
            }
        }

        // UpdateIntent replaces the whole intent: utterances, hooks and priorities together.
        if intent_changed {
            let priorities: Vec<SlotPriority> = slot_ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    built(
                        SlotPriority::builder()
                            .priority(i as i32 + 1)
                            .slot_id(id)
                            .build(),
                    )
                })
                .collect::<Result<_, _>>()?;
            lex.update_intent()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(locale)
                .intent_id(&intent_id)
                .intent_name(intent)
                .description(description(intent))
                .set_sample_utterances(Some(utterances))
                .dialog_code_hook(dialog)
                .fulfillment_code_hook(fulfillment)
                .set_slot_priorities(Some(priorities))
                .send()
                .await
                .map_err(|e| self.err("update an intent of")(e.into()))?;
        }
        Ok(())
    }

    /// A new locale is `Creating` for a moment, then `NotBuilt`.
    async fn wait_locale_created(&self, cx: &Cx, bot_id: &str) -> Result<(), ResourceError> {
        let line = format!("{KIND} {}", self.name());
        let locale = self.locale().to_string();
        wait_until(
            "the bot locale to be created",
            cx.timeout,
            Backoff::default(),
            "Lex is still creating the locale: run the same command again",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || {
                let locale = locale.clone();
                async move {
                    let l = cx
                        .lex
                        .describe_bot_locale()
                        .bot_id(bot_id)
                        .bot_version(DRAFT)
                        .locale_id(&locale)
                        .send()
                        .await
                        .map_err(ApiError::from)?;
                    let status = l.bot_locale_status().map_or("unknown", |s| s.as_str());
                    Ok::<_, ApiError>(match status {
                        "Creating" => Poll::Pending(status.to_string()),
                        "Deleting" => Poll::Failed("the locale is being deleted".into()),
                        _ => Poll::Ready(()),
                    })
                }
            },
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Resource for BotDefinition {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{} {} DRAFT", super::bot_name(&self.stack), self.locale())
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![super::bot::ID]
    }
    /// ListBots; then its tags, the locale, its slot types and intents at once; then the
    /// `Month` slot type, the intent and its slot list at once; then every slot at once.
    fn read_rounds(&self) -> usize {
        4
    }
    /// The read finding no locale; create it; wait until created; the slot types (at once);
    /// the intents (at once); each slot in turn (4 with the one-time code, 3 without); then
    /// the intents' slot priorities.
    fn create_rounds(&self) -> usize {
        6 + self.spec.as_ref().map_or(SLOTS.len(), |s| s.slots().len())
    }
    /// Any change gives the DRAFT a new fingerprint: the build shows it will run again.
    fn outputs_changed_by(&self, changes: &[Change]) -> Vec<&'static str> {
        if changes.is_empty() {
            Vec::new()
        } else {
            vec!["fingerprint"]
        }
    }

    fn desired(&self, _cx: &Cx, _inputs: &Outputs) -> Props {
        let Some(spec) = &self.spec else {
            return Props::new();
        };
        desired_definition(spec)
            .into_iter()
            .map(|(k, v)| (k, Prop::Known(v)))
            .collect()
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let read = super::with_bot(cx, |id| async move {
            read_definition(cx, &id, DRAFT, self.locale())
                .await
                .map_err(self.err("read"))
        });
        let Some((bot, Some(live))) = read.await? else {
            return Ok(None);
        };
        let props = live.fields.clone();
        Ok(Some(Live {
            physical_id: bot.id.clone(),
            outputs: Self::outputs(&bot.id, &live.fields),
            props,
            owned: bot.owned,
        }))
    }

    async fn diff(
        &self,
        cx: &Cx,
        live: &Live,
        inputs: &Outputs,
    ) -> Result<Vec<Change>, ResourceError> {
        let mut changes = crate::engine::diff_props(&self.desired(cx, inputs), &live.props, &[]);
        // A slot resetpw does not make: the field shows only when there is one to remove.
        for intent in INTENTS {
            let field = intent_fields(intent).other_slot;
            if let Some(extra) = live.props.get(field) {
                changes.push(Change {
                    field,
                    old: crate::engine::Shown::Value(extra.clone()),
                    new: crate::engine::Shown::Absent,
                    replace: false,
                });
            }
        }
        Ok(changes)
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let bot_id = Self::bot_id(inputs)?;
        // Whatever a crashed run left is read first and completed.
        let current = read_definition(cx, &bot_id, DRAFT, self.locale())
            .await
            .map_err(self.err("read"))?;
        self.converge(cx, &bot_id, current).await?;
        Ok(Self::outputs(&bot_id, &desired_definition(self.spec()?)))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let bot_id = live.physical_id.clone();
        let current = read_definition(cx, &bot_id, DRAFT, self.locale())
            .await
            .map_err(self.err("read"))?;
        self.converge(cx, &bot_id, current).await?;
        Ok(Self::outputs(&bot_id, &desired_definition(self.spec()?)))
    }

    fn deleted_with(&self) -> Option<&'static str> {
        Some(super::bot::ID)
    }

    /// The locale, slot type, intent and slots go with the bot.
    async fn delete(&self, _cx: &Cx, _live: &Live) -> Result<(), ResourceError> {
        Ok(())
    }
}
