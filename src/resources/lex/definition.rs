//! The bot's DRAFT definition as one resource (see `mod.rs` for why): the locale with its
//! voice and confidence threshold, the `Month` slot type, the `ResetPW` intent with the
//! stack's utterances and both code hooks, its slots `UserID`, `DOB`, `MonthStarted` (each
//! required, with a prompt and retries) and their priorities. Each field of the plan is one
//! part; an update changes only the parts that differ.

use super::{
    desired_definition, fingerprint, read_definition, slot_field, Definition, LiveDefinition,
    DRAFT, INTENT, MAX_RETRIES, MONTH, SLOTS,
};
use crate::aws::{ApiError, Cx};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::other;
use crate::stack::Bot as BotConfig;
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_lexmodelsv2::types::{
    DialogCodeHookSettings, FulfillmentCodeHookSettings, Message, MessageGroup, PlainTextMessage,
    PromptSpecification, SampleUtterance, SampleValue, SlotConstraint, SlotPriority, SlotTypeValue,
    SlotValueElicitationSetting, SlotValueResolutionStrategy, SlotValueSelectionSetting,
    VoiceSettings,
};
use serde_json::Value;
use std::collections::BTreeMap;

pub const ID: &str = "bot-definition";
const KIND: &str = "lex-bot-definition";

pub struct BotDefinition {
    stack: String,
    /// `None` when only observed and deleted (`down`).
    config: Option<BotConfig>,
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

impl BotDefinition {
    pub fn new(stack: &str, config: Option<BotConfig>) -> Self {
        BotDefinition {
            stack: stack.into(),
            config,
        }
    }

    fn config(&self) -> Result<&BotConfig, ResourceError> {
        self.config
            .as_ref()
            .ok_or_else(|| other("the bot's settings are not known (no `bot` section)"))
    }

    fn locale(&self) -> &str {
        self.config.as_ref().map_or("en_US", |c| c.locale.as_str())
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

    /// Brings the DRAFT locale from `current` to the stack's definition, part by part.
    async fn converge(
        &self,
        cx: &Cx,
        bot_id: &str,
        current: Option<LiveDefinition>,
    ) -> Result<(), ResourceError> {
        let config = self.config()?;
        let locale = self.locale().to_string();
        let want = desired_definition(config);
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

        // The Month slot type.
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
        let month_id = match cur.slot_type_id.clone() {
            None => lex
                .create_slot_type()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(&locale)
                .slot_type_name(MONTH)
                .description("The months, with abbreviations and numbers as synonyms")
                .set_slot_type_values(Some(values))
                .value_selection_setting(selection)
                .send()
                .await
                .map_err(|e| self.err("create the Month slot type of")(e.into()))?
                .slot_type_id()
                .unwrap_or_default()
                .to_string(),
            Some(id) => {
                if differs(&cur, "slot_type Month") {
                    lex.update_slot_type()
                        .bot_id(bot_id)
                        .bot_version(DRAFT)
                        .locale_id(&locale)
                        .slot_type_id(&id)
                        .slot_type_name(MONTH)
                        .description("The months, with abbreviations and numbers as synonyms")
                        .set_slot_type_values(Some(values))
                        .value_selection_setting(selection)
                        .send()
                        .await
                        .map_err(|e| self.err("update the Month slot type of")(e.into()))?;
                }
                id
            }
        };

        // The intent (its slot priorities once the slots exist).
        let utterances: Vec<SampleUtterance> = config
            .utterances
            .iter()
            .map(|u| built(SampleUtterance::builder().utterance(u).build()))
            .collect::<Result<_, _>>()?;
        let dialog = DialogCodeHookSettings::builder().enabled(true).build();
        let fulfillment = FulfillmentCodeHookSettings::builder().enabled(true).build();
        let mut intent_changed = differs(&cur, "utterances")
            || differs(&cur, "intent ResetPW")
            || differs(&cur, "slot_priorities");
        let intent_id = match cur.intent_id.clone() {
            Some(id) => id,
            None => {
                intent_changed = true;
                lex.create_intent()
                    .bot_id(bot_id)
                    .bot_version(DRAFT)
                    .locale_id(&locale)
                    .intent_name(INTENT)
                    .description("Verify the caller and reset their directory password")
                    .set_sample_utterances(Some(utterances.clone()))
                    .dialog_code_hook(dialog.clone())
                    .fulfillment_code_hook(fulfillment.clone())
                    .send()
                    .await
                    .map_err(|e| self.err("create the ResetPW intent of")(e.into()))?
                    .intent_id()
                    .unwrap_or_default()
                    .to_string()
            }
        };

        // The slots.
        let mut slot_ids = Vec::new();
        for (name, slot_type, text) in SLOTS {
            let type_id = if *slot_type == MONTH {
                month_id.as_str()
            } else {
                slot_type
            };
            let setting = built(
                SlotValueElicitationSetting::builder()
                    .slot_constraint(SlotConstraint::Required)
                    .prompt_specification(prompt(text)?)
                    .build(),
            )?;
            let id = match cur.slot_ids.get(*name) {
                None => {
                    intent_changed = true;
                    lex.create_slot()
                        .bot_id(bot_id)
                        .bot_version(DRAFT)
                        .locale_id(&locale)
                        .intent_id(&intent_id)
                        .slot_name(*name)
                        .slot_type_id(type_id)
                        .value_elicitation_setting(setting)
                        .send()
                        .await
                        .map_err(|e| self.err("create a slot of")(e.into()))?
                        .slot_id()
                        .unwrap_or_default()
                        .to_string()
                }
                Some(id) => {
                    if differs(&cur, slot_field(name)) {
                        lex.update_slot()
                            .bot_id(bot_id)
                            .bot_version(DRAFT)
                            .locale_id(&locale)
                            .intent_id(&intent_id)
                            .slot_id(id)
                            .slot_name(*name)
                            .slot_type_id(type_id)
                            .value_elicitation_setting(setting)
                            .send()
                            .await
                            .map_err(|e| self.err("update a slot of")(e.into()))?;
                    }
                    id.clone()
                }
            };
            slot_ids.push(id);
        }
        for (name, id) in &cur.slot_ids {
            if !SLOTS.iter().any(|s| s.0 == name) {
                lex.delete_slot()
                    .bot_id(bot_id)
                    .bot_version(DRAFT)
                    .locale_id(&locale)
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
                .locale_id(&locale)
                .intent_id(&intent_id)
                .intent_name(INTENT)
                .description("Verify the caller and reset their directory password")
                .set_sample_utterances(Some(utterances))
                .dialog_code_hook(dialog)
                .fulfillment_code_hook(fulfillment)
                .set_slot_priorities(Some(priorities))
                .send()
                .await
                .map_err(|e| self.err("update the ResetPW intent of")(e.into()))?;
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
    /// The read finding no locale; create it; wait until created; the slot type; the intent;
    /// each slot in turn (3); then the intent's slot priorities.
    fn create_rounds(&self) -> usize {
        9
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
        let Some(config) = &self.config else {
            return Props::new();
        };
        desired_definition(config)
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
        let mut props = live.fields.clone();
        // A field resetpw does not set shows only when there is something to remove.
        props.remove("slot (other)");
        if let Some(extra) = live.fields.get("slot (other)") {
            props.insert("slot (other)", extra.clone());
        }
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
        if let Some(extra) = live.props.get("slot (other)") {
            changes.push(Change {
                field: "slot (other)",
                old: crate::engine::Shown::Value(extra.clone()),
                new: crate::engine::Shown::Absent,
                replace: false,
            });
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
        Ok(Self::outputs(&bot_id, &desired_definition(self.config()?)))
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
        Ok(Self::outputs(&bot_id, &desired_definition(self.config()?)))
    }

    fn deleted_with(&self) -> Option<&'static str> {
        Some(super::bot::ID)
    }

    /// The locale, slot type, intent and slots go with the bot.
    async fn delete(&self, _cx: &Cx, _live: &Live) -> Result<(), ResourceError> {
        Ok(())
    }
}
