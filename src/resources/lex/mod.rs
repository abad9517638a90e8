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

/// The slots of the ResetPW intent, in elicitation order: name, slot type (a built-in id or
/// the custom `Month`), prompt. The names are what the Lambda reads (lambda/README.md).
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
];
/// Retries of each slot prompt.
pub const MAX_RETRIES: i32 = 2;

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

/// The field of a definition that holds a slot, as the plan names it.
pub fn slot_field(name: &str) -> &'static str {
    match name {
        "UserID" => "slot UserID",
        "DOB" => "slot DOB",
        "MonthStarted" => "slot MonthStarted",
        _ => "slot (other)",
    }
}

/// A normalized definition: the values resetpw sets, by field.
pub type Definition = BTreeMap<&'static str, Value>;

/// The definition the stack file asks for.
pub fn desired_definition(bot: &BotConfig) -> Definition {
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
        ("utterances", json!(bot.utterances)),
        (
            "intent ResetPW",
            json!({"dialog_code_hook": true, "fulfillment_code_hook": true}),
        ),
        (
            "slot_priorities",
            json!(SLOTS.iter().map(|s| s.0).collect::<Vec<_>>()),
        ),
    ]);
    for (name, slot_type, prompt) in SLOTS {
        d.insert(
            slot_field(name),
            slot_value(slot_type, true, prompt, MAX_RETRIES),
        );
    }
    d
}

pub fn slot_value(slot_type: &str, required: bool, prompt: &str, retries: i32) -> Value {
    json!({"type": slot_type, "required": required, "prompt": prompt, "max_retries": retries})
}

/// A definition as read from Lex, with the ids an update needs.
#[derive(Debug, Clone, Default)]
pub struct LiveDefinition {
    pub locale_exists: bool,
    pub slot_type_id: Option<String>,
    pub intent_id: Option<String>,
    /// Slot name → slot id.
    pub slot_ids: BTreeMap<String, String>,
    pub fields: Definition,
}

/// Reads the normalized definition of a version (`DRAFT` or a number) of the bot; `None` when
/// the locale does not exist there. Fields of missing parts are `null`. Three rounds: the
/// locale, its slot types and its intents at once; then the `Month` slot type, the `ResetPW`
/// intent and its slots at once; then every slot at once.
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
    let slot_type = async {
        let mut pages = lex
            .list_slot_types()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            if let Some(s) = page?
                .slot_type_summaries()
                .iter()
                .find(|s| s.slot_type_name() == Some(MONTH))
            {
                return Ok(s.slot_type_id().map(str::to_string));
            }
        }
        Ok::<_, ApiError>(None)
    };
    let intent = async {
        let mut pages = lex
            .list_intents()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            if let Some(i) = page?
                .intent_summaries()
                .iter()
                .find(|i| i.intent_name() == Some(INTENT))
            {
                return Ok(i.intent_id().map(str::to_string));
            }
        }
        Ok::<_, ApiError>(None)
    };
    let (described, slot_type, intent) = tokio::join!(described, slot_type, intent);
    // The lists fail when the locale is not there: their errors count only when it is.
    let Some(l) = described? else {
        return Ok(None);
    };
    let mut live = LiveDefinition {
        locale_exists: true,
        slot_type_id: slot_type?,
        intent_id: intent?,
        ..Default::default()
    };
    let f = &mut live.fields;
    f.insert(
        "voice",
        json!(l.voice_settings().map(|v| v.voice_id().to_string())),
    );
    f.insert(
        "confidence_threshold",
        json!(l.nlu_intent_confidence_threshold()),
    );
    for field in [
        "slot_type Month",
        "utterances",
        "intent ResetPW",
        "slot_priorities",
    ] {
        f.insert(field, Value::Null);
    }
    for (name, _, _) in SLOTS {
        f.insert(slot_field(name), Value::Null);
    }

    // The Month slot type, the ResetPW intent and the intent's slots, at once.
    let month = async {
        let Some(id) = &live.slot_type_id else {
            return Ok(None);
        };
        let t = lex
            .describe_slot_type()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .slot_type_id(id)
            .send()
            .await?;
        let values: Vec<Value> = t
            .slot_type_values()
            .iter()
            .map(|v| {
                json!({
                    "value": v.sample_value().map(|s| s.value()),
                    "synonyms": v.synonyms().iter().map(|s| s.value()).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok::<_, ApiError>(Some(json!(values)))
    };
    let intent = async {
        let Some(intent_id) = &live.intent_id else {
            return Ok(None);
        };
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
        Ok::<_, ApiError>(Some((described?, slots?)))
    };
    let (month, intent) = tokio::join!(month, intent);
    if let Some(values) = month? {
        live.fields.insert("slot_type Month", values);
    }
    let Some((i, slot_names)) = intent? else {
        return Ok(Some(live));
    };
    let intent_id = live.intent_id.clone().unwrap_or_default();
    live.fields.insert(
        "utterances",
        json!(i
            .sample_utterances()
            .iter()
            .map(|u| u.utterance())
            .collect::<Vec<_>>()),
    );
    live.fields.insert(
        "intent ResetPW",
        json!({
            "dialog_code_hook": i.dialog_code_hook().is_some_and(|h| h.enabled()),
            "fulfillment_code_hook": i.fulfillment_code_hook().is_some_and(|h| h.enabled()),
        }),
    );

    // Every slot resetpw makes, at once; one it does not make is shown so the update removes it.
    let mut ours = Vec::new();
    for (slot_id, name) in &slot_names {
        live.slot_ids.insert(name.clone(), slot_id.clone());
        if SLOTS.iter().any(|s| s.0 == name) {
            ours.push((slot_id, name));
        } else {
            live.fields.insert("slot (other)", json!(name));
        }
    }
    let described = futures::future::join_all(ours.iter().map(|(slot_id, _)| {
        lex.describe_slot()
            .bot_id(bot_id)
            .bot_version(version)
            .locale_id(locale)
            .intent_id(&intent_id)
            .slot_id(*slot_id)
            .send()
    }))
    .await;
    for ((_, name), s) in ours.into_iter().zip(described) {
        let s = s?;
        let type_id = s.slot_type_id().unwrap_or_default();
        let type_name = if Some(type_id) == live.slot_type_id.as_deref() {
            MONTH
        } else {
            type_id
        };
        let setting = s.value_elicitation_setting();
        let spec = setting.and_then(|v| v.prompt_specification());
        let prompt = spec
            .and_then(|p| p.message_groups().first())
            .and_then(|g| g.message()?.plain_text_message())
            .map(|m| m.value().to_string());
        live.fields.insert(
            slot_field(name),
            json!({
                "type": type_name,
                "required": setting.is_some_and(|v| v.slot_constraint().as_str() == "Required"),
                "prompt": prompt,
                "max_retries": spec.map(|p| p.max_retries()),
            }),
        );
    }
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
    live.fields.insert("slot_priorities", Value::Array(order));
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

    #[test]
    fn the_desired_definition_names_the_lambdas_slots_in_order() {
        let bot: BotConfig = serde_json::from_value(json!({})).unwrap();
        let d = desired_definition(&bot);
        assert_eq!(
            d["slot_priorities"],
            json!(["UserID", "DOB", "MonthStarted"])
        );
        assert_eq!(d["slot MonthStarted"]["type"], "Month");
        assert_eq!(d["slot DOB"]["type"], "AMAZON.Date");
        assert_eq!(d["slot UserID"]["required"], true);
        assert_eq!(fingerprint(&d), fingerprint(&desired_definition(&bot)));
    }
}
