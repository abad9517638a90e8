//! Lex V2: the password-reset bot, as six engine resources (after the bot role in `iam/`):
//!
//! | id | kind | what |
//! | --- | --- | --- |
//! | `bot` | `lex-bot` | the bot `<stack>-resetpw`: role, idle session TTL, data privacy, tags |
//! | `bot-definition` | `lex-bot-definition` | the DRAFT locale with its voice and threshold, the `Month` slot type, the `ResetPW` intent with its utterances, hooks, slots and slot priorities |
//! | `bot-build` | `lex-bot-build` | BuildBotLocale of the DRAFT locale, waited for until `Built` |
//! | `bot-version` | `lex-bot-version` | the newest numbered version, a snapshot of the built DRAFT; the 3 newest kept |
//! | `bot-alias` | `lex-bot-alias` | alias `live` on that version with the function as code hook |
//! | `bot-permission` | `lambda-permission` | lets `lexv2.amazonaws.com` invoke the function from that alias |
//!
//! Why the DRAFT definition is one resource: Lex ties its parts together by generated ids (a
//! slot names its slot type's id, the intent its slots' ids in `slotPriorities`), every part
//! changes the one locale's build status, and a version snapshots all of them at once. As one
//! resource its fields are the parts (`voice`, `utterances`, `slot UserID`, ...), so the plan
//! names exactly what changed (`utterances: [...] → [...]`), the update touches only those parts,
//! and the build, version and alias follow as resources of their own:
//! - the build runs when the DRAFT locale is not `Built` (Lex sets it back to `NotBuilt` on any
//!   change), so a failed or interrupted build is redone by the next `up`;
//! - the version compares the same normalized definition read from the newest numbered version
//!   (not timestamps): a new version only when the built DRAFT differs from it;
//! - the alias follows the version's number, and the permission the alias's ARN.
//!
//! Normalization: a definition is read back as the few values resetpw sets (voice id,
//! threshold, the slot type's values and synonyms, utterances, hook switches, each slot's type
//! by name, constraint, prompt and retries, the slot order by slot name) and nothing else. The
//! defaults Lex fills in (prompt attempt specifications, `allowInterrupt`, the message selection
//! strategy, `active` flags, empty `variations`, the voice engine), generated ids, timestamps,
//! counts and the built-in `FallbackIntent` never enter the comparison, so a second `up`
//! finds nothing to change.

pub mod alias;
pub mod bot;
pub mod build;
pub mod definition;
pub mod version;

use crate::aws::{ApiError, Cx};
use crate::engine::ResourceError;
use crate::resources::{api, tolerate};
use crate::stack::Bot as BotConfig;
use aws_sdk_lexmodelsv2::types::{BotFilter, BotFilterName, BotFilterOperator};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::OnceCell;

pub const DRAFT: &str = "DRAFT";
pub const ALIAS_NAME: &str = "live";
pub const INTENT: &str = "ResetPW";
/// The second intent: the same verification, then the account is unlocked (no new password).
pub const UNLOCK_INTENT: &str = "UnlockAccount";
/// resetpw's intents.
pub const INTENTS: [&str; 2] = [INTENT, UNLOCK_INTENT];
pub const MONTH: &str = "Month";
/// What Lex answers for something that is not there (reads: 404; changes: 412).
pub const GONE: &[&str] = &["ResourceNotFoundException", "PreconditionFailedException"];
/// Versions kept besides the ones an alias serves.
pub const KEEP_VERSIONS: usize = 3;

pub fn bot_name(stack: &str) -> String {
    format!("{stack}-resetpw")
}

pub fn bot_arn(cx: &Cx, bot_id: &str) -> String {
    format!(
        "arn:{}:lex:{}:{}:bot/{bot_id}",
        cx.partition, cx.region, cx.account
    )
}

/// Lex does not return an alias's ARN: it is built from its parts.
pub fn alias_arn(cx: &Cx, bot_id: &str, alias_id: &str) -> String {
    format!(
        "arn:{}:lex:{}:{}:bot-alias/{bot_id}/{alias_id}",
        cx.partition, cx.region, cx.account
    )
}

/// The stack's bot, found by its name; `owned` when it carries the stack's tag.
#[derive(Debug, Clone)]
pub struct FoundBot {
    pub id: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub owned: bool,
}

/// What a run has learned about the stack's bot (its id and status from ListBots, then its
/// tags), shared by the Lex kinds' lookups: a plan lists the bot and reads its tags once, not
/// once per kind. The bot's own create, update and delete forget it, so a lookup after one of
/// them asks Lex again; a failed read is not remembered (the next lookup tries again).
#[derive(Default)]
pub struct BotLookup(std::sync::Mutex<Arc<BotMemo>>);

#[derive(Default)]
struct BotMemo {
    /// The bot's id and status, or `None` when no bot has the stack's bot name.
    listed: OnceCell<Option<(String, String)>>,
    /// The tags of that bot.
    tags: OnceCell<BTreeMap<String, String>>,
}

impl BotLookup {
    fn current(&self) -> Arc<BotMemo> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Drops what was learned: the next lookup reads from Lex.
    pub fn forget(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Arc::default();
    }
}

/// ListBots with an exact-name filter: the bot's id and status.
async fn list_bot(cx: &Cx) -> Result<Option<(String, String)>, ResourceError> {
    let name = bot_name(&cx.stack);
    let filter = BotFilter::builder()
        .name(BotFilterName::BotName)
        .operator(BotFilterOperator::Equals)
        .values(&name)
        .build()
        .map_err(crate::resources::other)?;
    let mut pages = cx.lex.list_bots().filters(filter).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("find", "lex-bot", &name))?;
        if let Some(b) = page
            .bot_summaries()
            .iter()
            .find(|b| b.bot_name() == Some(name.as_str()))
        {
            return Ok(Some((
                b.bot_id().unwrap_or_default().to_string(),
                b.bot_status().map_or("", |s| s.as_str()).to_string(),
            )));
        }
    }
    Ok(None)
}

/// Finds the bot by name (ListBots with an exact-name filter), then reads its tags and what
/// `read` asks of the bot (given its id) at once: two rounds however much `read` needs in its
/// first one. `None` when there is no bot. Of two failures the tags' is reported.
pub async fn with_bot<T, F, Fut>(cx: &Cx, read: F) -> Result<Option<(FoundBot, T)>, ResourceError>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<T, ResourceError>>,
{
    let memo = cx.bot_lookup.current();
    let listed = memo.listed.get_or_try_init(|| list_bot(cx)).await?;
    let Some((id, status)) = listed.clone() else {
        return Ok(None);
    };
    let tags = memo.tags.get_or_try_init(|| async {
        tags_of(cx, &bot_arn(cx, &id)).await.map_err(api(
            "read tags of",
            "lex-bot",
            &bot_name(&cx.stack),
        ))
    });
    let (tags, got) = tokio::join!(tags, read(id.clone()));
    let tags = tags?.clone();
    let got = got?;
    Ok(Some((
        FoundBot {
            owned: cx.owns(&tags),
            id,
            status,
            tags,
        },
        got,
    )))
}

/// Finds the bot by name and reads its tags (see [`with_bot`]).
pub async fn find_bot(cx: &Cx) -> Result<Option<FoundBot>, ResourceError> {
    Ok(with_bot(cx, |_| async { Ok(()) })
        .await?
        .map(|(bot, ())| bot))
}

pub async fn tags_of(cx: &Cx, arn: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let out = tolerate(
        cx.lex
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await,
        GONE,
    )?;
    Ok(out
        .and_then(|o| o.tags().cloned())
        .map(|t| t.into_iter().collect())
        .unwrap_or_default())
}

/// Sets and removes tags on a bot or alias ARN to go from `live` to `desired`.
pub async fn retag(
    cx: &Cx,
    arn: &str,
    desired: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let (set, remove) = crate::resources::tag_delta(desired, live);
    if !set.is_empty() {
        cx.lex
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await?;
    }
    if !remove.is_empty() {
        cx.lex
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await?;
    }
    Ok(())
}

/// The slots of both intents, in elicitation order: name, slot type (a built-in id or a
/// custom type's name), prompt. The names are what the Lambda reads (lambda/README.md); `Code`
/// is there only with the one-time code ([`slots`]).
pub const SLOTS: &[(&str, &str, &str)] = &[
    (
        "UserID",
        "AMAZON.AlphaNumeric",
        "What is your user ID? Please spell it letter by letter.",
    ),
    ("DOB", "AMAZON.Date", "What is your date of birth?"),
    (
        "MonthStarted",
        MONTH,
        "In which month did you start working here?",
    ),
    (
        CODE_SLOT,
        CODE_TYPE,
        "I have sent a six-digit code by text message to the phone number we have on file. Please enter it on your keypad or say it.",
    ),
];
/// Retries of each slot prompt.
pub const MAX_RETRIES: i32 = 2;
/// The slot that takes the one-time code.
pub const CODE_SLOT: &str = "Code";
/// Its slot type: AMAZON.AlphaNumeric restricted to six digits by a regular expression (Lex V2's
/// way to restrict a built-in type: a custom type with it as parent and a `regexFilter`).
pub const CODE_TYPE: &str = "OneTimeCode";
pub const CODE_PATTERN: &str = "[0-9]{6}";
pub const CODE_PARENT: &str = "AMAZON.AlphaNumeric";
/// Lex V2 keeps these slots' values out of conversation logs.
pub const OBFUSCATION: &str = "DefaultObfuscation";
/// The custom slot types resetpw makes.
pub const SLOT_TYPES: [&str; 2] = [MONTH, CODE_TYPE];

/// What a bot definition is made from: the `bot` section, and whether the line asks for the
/// one-time code (`verification.one_time_code`), which adds the `Code` slot and its type.
#[derive(Debug, Clone)]
pub struct Spec {
    pub bot: BotConfig,
    pub one_time_code: bool,
}

impl Spec {
    /// The slots the intents have, in elicitation order.
    pub fn slots(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        SLOTS
            .iter()
            .copied()
            .filter(|(name, _, _)| self.one_time_code || *name != CODE_SLOT)
            .collect()
    }

    /// Each intent's sample utterances.
    pub fn utterances(&self, intent: &str) -> &[String] {
        if intent == UNLOCK_INTENT {
            &self.bot.unlock_utterances
        } else {
            &self.bot.utterances
        }
    }
}

pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The Month slot type's values: each month with its abbreviation and number as synonyms.
pub fn month_values() -> Vec<(String, Vec<String>)> {
    MONTHS
        .iter()
        .enumerate()
        .map(|(i, m)| (m.to_string(), vec![m[..3].to_string(), (i + 1).to_string()]))
        .collect()
}

/// The plan's fields of one intent: hooks, utterances, slot order, and each slot by name.
/// ResetPW's keep the names they had before the bot had a second intent.
pub struct IntentFields {
    pub hooks: &'static str,
    pub utterances: &'static str,
    pub priorities: &'static str,
    /// A slot resetpw does not make (the update removes it).
    pub other_slot: &'static str,
}

pub fn intent_fields(intent: &str) -> IntentFields {
    if intent == UNLOCK_INTENT {
        IntentFields {
            hooks: "intent UnlockAccount",
            utterances: "UnlockAccount utterances",
            priorities: "UnlockAccount slot_priorities",
            other_slot: "UnlockAccount slot (other)",
        }
    } else {
        IntentFields {
            hooks: "intent ResetPW",
            utterances: "utterances",
            priorities: "slot_priorities",
            other_slot: "slot (other)",
        }
    }
}

/// The field of a definition that holds a slot of an intent, as the plan names it.
pub fn slot_field(intent: &str, name: &str) -> &'static str {
    match (intent == UNLOCK_INTENT, name) {
        (false, "UserID") => "slot UserID",
        (false, "DOB") => "slot DOB",
        (false, "MonthStarted") => "slot MonthStarted",
        (false, CODE_SLOT) => "slot Code",
        (true, "UserID") => "UnlockAccount slot UserID",
        (true, "DOB") => "UnlockAccount slot DOB",
        (true, "MonthStarted") => "UnlockAccount slot MonthStarted",
        (true, CODE_SLOT) => "UnlockAccount slot Code",
        _ => intent_fields(intent).other_slot,
    }
}

/// The field of a custom slot type.
pub fn slot_type_field(name: &str) -> &'static str {
    if name == CODE_TYPE {
        "slot_type OneTimeCode"
    } else {
        "slot_type Month"
    }
}

/// A normalized definition: the values resetpw sets, by field.
pub type Definition = BTreeMap<&'static str, Value>;

/// The normalized one-time code slot type.
pub fn code_type_value(
    parent: Option<&str>,
    strategy: Option<&str>,
    pattern: Option<&str>,
) -> Value {
    json!({"parent": parent, "resolution": strategy, "regex": pattern})
}

/// The definition the stack file asks for. A part the stack does not want (the `Code` slot and
/// its type without the one-time code) is `null`, as a read shows a missing part.
pub fn desired_definition(spec: &Spec) -> Definition {
    let bot = &spec.bot;
    let mut d = Definition::from([
        ("voice", json!(bot.voice)),
        ("confidence_threshold", json!(bot.confidence_threshold)),
        (
            "slot_type Month",
            json!(month_values()
                .into_iter()
                .map(|(v, s)| json!({"value": v, "synonyms": s}))
                .collect::<Vec<_>>()),
        ),
        (
            "slot_type OneTimeCode",
            if spec.one_time_code {
                code_type_value(Some(CODE_PARENT), Some("OriginalValue"), Some(CODE_PATTERN))
            } else {
                Value::Null
            },
        ),
    ]);
    let slots = spec.slots();
    for intent in INTENTS {
        let f = intent_fields(intent);
        d.insert(f.utterances, json!(spec.utterances(intent)));
        d.insert(
            f.hooks,
            json!({"dialog_code_hook": true, "fulfillment_code_hook": true}),
        );
        d.insert(
            f.priorities,
            json!(slots.iter().map(|s| s.0).collect::<Vec<_>>()),
        );
        for (name, slot_type, prompt) in SLOTS {
            let wanted = slots.iter().any(|s| s.0 == *name);
            d.insert(
                slot_field(intent, name),
                if wanted {
                    slot_value(slot_type, true, prompt, MAX_RETRIES, Some(OBFUSCATION))
                } else {
                    Value::Null
                },
            );
        }
    }
    d
}

pub fn slot_value(
    slot_type: &str,
    required: bool,
    prompt: &str,
    retries: i32,
    obfuscation: Option<&str>,
) -> Value {
    json!({"type": slot_type, "required": required, "prompt": prompt, "max_retries": retries,
           "obfuscation": obfuscation})
}

/// An intent as read from Lex, with the ids an update needs.
#[derive(Debug, Clone, Default)]
pub struct LiveIntent {
    pub id: String,
    /// Slot name → slot id.
    pub slot_ids: BTreeMap<String, String>,
}

/// A definition as read from Lex, with the ids an update needs.
#[derive(Debug, Clone, Default)]
pub struct LiveDefinition {
    pub locale_exists: bool,
    /// Custom slot type name (of resetpw's) → id.
    pub slot_type_ids: BTreeMap<String, String>,
    /// Intent name (of resetpw's) → its ids.
    pub intents: BTreeMap<String, LiveIntent>,
    pub fields: Definition,
}

/// The fields a definition can have: every one `null` until read.
fn null_fields() -> Definition {
    let mut f = Definition::new();
    for t in SLOT_TYPES {
        f.insert(slot_type_field(t), Value::Null);
    }
    for intent in INTENTS {
        let i = intent_fields(intent);
        for field in [i.utterances, i.hooks, i.priorities] {
            f.insert(field, Value::Null);
        }
        for (name, _, _) in SLOTS {
            f.insert(slot_field(intent, name), Value::Null);
        }
    }
    f
}

/// Reads the normalized definition of a version (`DRAFT` or a number) of the bot; `None` when
/// the locale does not exist there. Fields of missing parts are `null`. Three rounds: the
/// locale, its slot types and its intents at once; then resetpw's slot types, its intents and
/// their slot lists at once; then every slot at once.
pub async fn read_definition(
    cx: &Cx,
    bot_id: &str,
    version: &str,
    locale: &str,
) -> Result<Option<LiveDefinition>, ApiError> {
    let lex = &cx.lex;
    let described = async {
        tolerate(
            lex.describe_bot_locale()
                .bot_id(bot_id)
                .bot_version(version)
                .locale_id(locale)
                .send()
                .await,
            GONE,
        )
    };
    let slot_types = async {
        let mut found = BTreeMap::new();
        let mut pages = lex
            .list_slot_types()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for s in page?.slot_type_summaries() {
                if let (Some(name), Some(id)) = (s.slot_type_name(), s.slot_type_id()) {
                    if SLOT_TYPES.contains(&name) {
                        found.insert(name.to_string(), id.to_string());
                    }
                }
            }
        }
        Ok::<_, ApiError>(found)
    };
    let intents = async {
        let mut found = BTreeMap::new();
        let mut pages = lex
            .list_intents()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for i in page?.intent_summaries() {
                if let (Some(name), Some(id)) = (i.intent_name(), i.intent_id()) {
                    if INTENTS.contains(&name) {
                        found.insert(name.to_string(), id.to_string());
                    }
                }
            }
        }
        Ok::<_, ApiError>(found)
    };
    let (described, slot_types, intents) = tokio::join!(described, slot_types, intents);
    // The lists fail when the locale is not there: their errors count only when it is.
    let Some(l) = described? else {
        return Ok(None);
    };
    let mut live = LiveDefinition {
        locale_exists: true,
        slot_type_ids: slot_types?,
        fields: null_fields(),
        ..Default::default()
    };
    let intent_ids = intents?;
    live.fields.insert(
        "voice",
        json!(l.voice_settings().map(|v| v.voice_id().to_string())),
    );
    live.fields.insert(
        "confidence_threshold",
        json!(l.nlu_intent_confidence_threshold()),
    );

    // resetpw's slot types, its intents and their slots, at once.
    let types = futures::future::join_all(live.slot_type_ids.iter().map(|(name, id)| async move {
        let t = lex
            .describe_slot_type()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .slot_type_id(id)
            .send()
            .await?;
        let value = if name == CODE_TYPE {
            let selection = t.value_selection_setting();
            code_type_value(
                t.parent_slot_type_signature(),
                selection.map(|s| s.resolution_strategy().as_str()),
                selection
                    .and_then(|s| s.regex_filter())
                    .map(|r| r.pattern()),
            )
        } else {
            json!(t
                .slot_type_values()
                .iter()
                .map(|v| {
                    json!({
                        "value": v.sample_value().map(|s| s.value()),
                        "synonyms": v.synonyms().iter().map(|s| s.value()).collect::<Vec<_>>(),
                    })
                })
                .collect::<Vec<_>>())
        };
        Ok::<_, ApiError>((slot_type_field(name), value))
    }));
    let described_intents =
        futures::future::join_all(intent_ids.iter().map(|(name, intent_id)| async move {
            let described = async {
                lex.describe_intent()
                    .bot_id(bot_id)
                    .bot_version(version)
                    .locale_id(locale)
                    .intent_id(intent_id)
                    .send()
                    .await
                    .map_err(ApiError::from)
            };
            let slots = async {
                // Slot id → slot name.
                let mut names: BTreeMap<String, String> = BTreeMap::new();
                let mut pages = lex
                    .list_slots()
                    .bot_id(bot_id)
                    .bot_version(version)
                    .locale_id(locale)
                    .intent_id(intent_id)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    for s in page?.slot_summaries() {
                        if let (Some(id), Some(name)) = (s.slot_id(), s.slot_name()) {
                            names.insert(id.to_string(), name.to_string());
                        }
                    }
                }
                Ok::<_, ApiError>(names)
            };
            let (described, slots) = tokio::join!(described, slots);
            Ok::<_, ApiError>((name.clone(), intent_id.clone(), described?, slots?))
        }));
    let (types, described_intents) = tokio::join!(types, described_intents);
    for t in types {
        let (field, value) = t?;
        live.fields.insert(field, value);
    }
    let mut intents = Vec::new();
    for i in described_intents {
        intents.push(i?);
    }

    // Every slot resetpw makes, of both intents, at once; one it does not make is shown so
    // the update removes it.
    let mut ours = Vec::new();
    for (intent, intent_id, i, slot_names) in &intents {
        let f = intent_fields(intent);
        live.fields.insert(
            f.utterances,
            json!(i
                .sample_utterances()
                .iter()
                .map(|u| u.utterance())
                .collect::<Vec<_>>()),
        );
        live.fields.insert(
            f.hooks,
            json!({
                "dialog_code_hook": i.dialog_code_hook().is_some_and(|h| h.enabled()),
                "fulfillment_code_hook": i.fulfillment_code_hook().is_some_and(|h| h.enabled()),
            }),
        );
        let order: Vec<Value> = i
            .slot_priorities()
            .iter()
            .map(|p| {
                json!(slot_names
                    .get(p.slot_id())
                    .cloned()
                    .unwrap_or_else(|| p.slot_id().to_string()))
            })
            .collect();
        live.fields.insert(f.priorities, Value::Array(order));
        let entry = live.intents.entry(intent.clone()).or_default();
        entry.id = intent_id.clone();
        for (slot_id, name) in slot_names {
            entry.slot_ids.insert(name.clone(), slot_id.clone());
            if SLOTS.iter().any(|s| s.0 == name) {
                ours.push((intent.as_str(), intent_id.as_str(), slot_id, name));
            } else {
                live.fields.insert(f.other_slot, json!(name));
            }
        }
    }
    let described = futures::future::join_all(ours.iter().map(|(_, intent_id, slot_id, _)| {
        lex.describe_slot()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .intent_id(*intent_id)
            .slot_id(*slot_id)
            .send()
    }))
    .await;
    // Slot type id → name, for resetpw's custom types.
    let type_names: BTreeMap<&str, &str> = live
        .slot_type_ids
        .iter()
        .map(|(name, id)| (id.as_str(), name.as_str()))
        .collect();
    let mut slot_fields = Vec::new();
    for ((intent, _, _, name), s) in ours.into_iter().zip(described) {
        let s = s?;
        let type_id = s.slot_type_id().unwrap_or_default();
        let type_name = type_names.get(type_id).copied().unwrap_or(type_id);
        let setting = s.value_elicitation_setting();
        let spec = setting.and_then(|v| v.prompt_specification());
        let prompt = spec
            .and_then(|p| p.message_groups().first())
            .and_then(|g| g.message()?.plain_text_message())
            .map(|m| m.value().to_string());
        slot_fields.push((
            slot_field(intent, name),
            json!({
                "type": type_name,
                "required": setting.is_some_and(|v| v.slot_constraint().as_str() == "Required"),
                "prompt": prompt,
                "max_retries": spec.map(|p| p.max_retries()),
                "obfuscation": s.obfuscation_setting().map(|o| o.obfuscation_setting_type().as_str()),
            }),
        ));
    }
    live.fields.extend(slot_fields);
    Ok(Some(live))
}

/// A short fingerprint of a definition (what the build and version follow).
pub fn fingerprint(d: &Definition) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(d).unwrap_or_default();
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Numbered versions of the bot, oldest first.
pub async fn versions(cx: &Cx, bot_id: &str) -> Result<Vec<u64>, ApiError> {
    Ok(versions_with_status(cx, bot_id)
        .await?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// Numbered versions of the bot with the status the listing gives (`Available`, `Creating`,
/// ...; empty when it gives none), oldest first.
pub async fn versions_with_status(cx: &Cx, bot_id: &str) -> Result<Vec<(u64, String)>, ApiError> {
    let mut out = Vec::new();
    let mut pages = cx
        .lex
        .list_bot_versions()
        .bot_id(bot_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let e = ApiError::from(e);
                if GONE.iter().any(|c| e.is(c)) {
                    return Ok(Vec::new());
                }
                return Err(e);
            }
        };
        out.extend(page.bot_version_summaries().iter().filter_map(|v| {
            let number = v.bot_version()?.parse::<u64>().ok()?;
            Some((
                number,
                v.bot_status().map_or("", |s| s.as_str()).to_string(),
            ))
        }));
    }
    out.sort_unstable();
    Ok(out)
}

/// The bot's aliases other than Lex's test alias: (id, name, version).
pub async fn aliases(cx: &Cx, bot_id: &str) -> Result<Vec<(String, String, String)>, ApiError> {
    let mut out = Vec::new();
    let mut pages = cx
        .lex
        .list_bot_aliases()
        .bot_id(bot_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let e = ApiError::from(e);
                if GONE.iter().any(|c| e.is(c)) {
                    return Ok(Vec::new());
                }
                return Err(e);
            }
        };
        for a in page.bot_alias_summaries() {
            out.push((
                a.bot_alias_id().unwrap_or_default().to_string(),
                a.bot_alias_name().unwrap_or_default().to_string(),
                a.bot_version().unwrap_or_default().to_string(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_carry_abbreviations_and_numbers() {
        let v = month_values();
        assert_eq!(v.len(), 12);
        assert_eq!(
            v[8],
            ("September".to_string(), vec!["Sep".into(), "9".into()])
        );
    }

    fn spec(one_time_code: bool) -> Spec {
        Spec {
            bot: serde_json::from_value(json!({})).unwrap(),
            one_time_code,
        }
    }

    #[test]
    fn the_desired_definition_names_the_lambdas_slots_in_order() {
        let d = desired_definition(&spec(true));
        for intent in INTENTS {
            let f = intent_fields(intent);
            assert_eq!(
                d[f.priorities],
                json!(["UserID", "DOB", "MonthStarted", "Code"]),
                "{intent}"
            );
            assert_eq!(d[f.hooks]["dialog_code_hook"], true);
            assert_eq!(d[slot_field(intent, "MonthStarted")]["type"], "Month");
            assert_eq!(d[slot_field(intent, "DOB")]["type"], "AMAZON.Date");
            assert_eq!(d[slot_field(intent, "UserID")]["required"], true);
            assert_eq!(d[slot_field(intent, "Code")]["type"], CODE_TYPE);
            for slot in ["UserID", "DOB", "MonthStarted", "Code"] {
                assert_eq!(
                    d[slot_field(intent, slot)]["obfuscation"],
                    "DefaultObfuscation",
                    "{intent} {slot}"
                );
            }
        }
        assert_eq!(
            d["slot_type OneTimeCode"],
            json!({"parent": "AMAZON.AlphaNumeric", "resolution": "OriginalValue", "regex": "[0-9]{6}"})
        );
        assert!(d["utterances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u != "I am locked out"));
        assert!(d["UnlockAccount utterances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "I am locked out"));
        assert_eq!(
            fingerprint(&d),
            fingerprint(&desired_definition(&spec(true)))
        );
    }

    #[test]
    fn without_the_one_time_code_there_is_no_code_slot_nor_its_type() {
        let d = desired_definition(&spec(false));
        assert_eq!(d["slot_type OneTimeCode"], Value::Null);
        for intent in INTENTS {
            assert_eq!(d[slot_field(intent, "Code")], Value::Null);
            assert_eq!(
                d[intent_fields(intent).priorities],
                json!(["UserID", "DOB", "MonthStarted"])
            );
        }
        // Every field a read can show is a field the stack sets (no perpetual diff).
        let keys: Vec<_> = null_fields().into_keys().collect();
        assert!(keys.iter().all(|k| d.contains_key(k)), "{keys:?}");
        assert_ne!(
            fingerprint(&d),
            fingerprint(&desired_definition(&spec(true)))
        );
    }
}
