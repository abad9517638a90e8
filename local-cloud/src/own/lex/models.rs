//! Lex V2 model building: routes, in-memory state and wire shapes of bots, bot locales, slot
//! types, intents, slots, builds, bot versions, bot aliases, tags and resource policies.
//!
//! Routes are the real REST paths (the Rust SDK sends them without a trailing slash, botocore
//! with one; both are accepted). Ids are 10 uppercase alphanumeric characters, timestamps epoch
//! seconds. Each resource keeps what the caller sent (its definition) plus what the service
//! adds, so a Describe answers the definition back with the service-filled defaults below.
//!
//! # Service-filled defaults
//! Filled on create and update, only where the caller left the field out:
//! - `promptSpecification` of a slot's `valueElicitationSetting` and of an intent's
//!   `intentConfirmationSetting`: `allowInterrupt: true`, `messageSelectionStrategy: "Random"`,
//!   and `promptAttemptsSpecification` with one entry `Initial` and one per retry
//!   (`Retry1`..`Retry{maxRetries}`), each `{allowInterrupt: true, allowedInputTypes {audio,
//!   DTMF: true}, audioAndDTMFInputSpecification {startTimeoutMs 4000, audioSpecification
//!   {maxLengthMs 15000, endTimeoutMs 640}, dtmfSpecification {maxLength 513, endTimeoutMs 5000,
//!   deletionCharacter "*", endCharacter "#"}}, textInputSpecification {startTimeoutMs 30000}}`.
//!   Verified: the prompt attempts (terraform-provider-aws's equality helpers for this default
//!   and its maintainers in #36845/#39901/#42147, and a real describe-slot dump, see
//!   ../shared/reference/lex-connect-verified.md §6). `allowInterrupt` and `Random` are what
//!   real describe output shows; that Lex fills them when omitted is assumed, not verified.
//! - `intentClosingSetting.active` and `intentConfirmationSetting.active`: `true` (the API
//!   reference: "If the active field isn't specified, the default is true").
//! - `fulfillmentCodeHook.active`: `true` (seen in real describe output; not documented).
//! - `voiceSettings.engine`: `"standard"` (the API reference: "If you do not specify a value,
//!   the default is standard").
//! - `botType`: `"Bot"` (the default bot type; assumed from real describe output).
//! - Always generated: ids, `creationDateTime`, `lastUpdatedDateTime`, `localeName`,
//!   `intentsCount`, `slotTypesCount`, and the built-in `FallbackIntent` (id `FALLBCKINT`,
//!   parent `AMAZON.FallbackIntent`) every new locale gets.
//!
//! Not filled: `variations` of message groups (a real describe-intent dump in public code shows
//! one group without the key beside one with `[]`, so Lex echoes what was sent). Unverified
//! either way, so not filled: `allowInterrupt` of response specifications (closing,
//! declination, post-fulfillment responses), `"intent": {}` on dialog-state next steps,
//! `slotCaptureSetting`, `obfuscationSetting` (kept as sent; the model says values are obscured
//! when it is absent, which matters only to logs, which this emulator does not write), alias
//! `sentimentAnalysisSettings`. A slot left out of its intent's `slotPriorities` is not a build
//! failure here (Lex's console flags it; whether a build fails on it was not found).
//!
//! # Validation beyond the shapes
//! A slot type's `valueSelectionSetting` (the strategy's enum; a `regexFilter` pattern of
//! 1-300 characters without the operators the model's documentation calls unsupported: `*`,
//! `+`, `{x,}`, `.`), its `parentSlotTypeSignature` (only `AMAZON.AlphaNumeric`, as the model
//! documents), and a slot's `obfuscationSetting.obfuscationSettingType` (`None` |
//! `DefaultObfuscation`) are checked on create and update.
//!
//! # Statuses
//! Asynchronous changes take the configured delay: bots, versions and aliases `Creating` →
//! `Available`; a new locale `Creating` → `NotBuilt`; a build `Building` → `Built`, or `Failed`
//! with `failureReasons` when the locale cannot be built (an intent without sample utterances, a
//! slot whose custom slot type does not exist, a required slot without a prompt) or a fault
//! rule forces it. Any change to a DRAFT locale (the locale, its slot types, intents or slots)
//! sets it back to `NotBuilt`. Deletions take effect at once (the answer says `Deleting`).
//!
//! # Errors
//! Reads of something missing: `ResourceNotFoundException` (404). Changes to something missing:
//! `PreconditionFailedException` (412), as the model lists no ResourceNotFoundException for
//! Update*/Delete*/Create* under a parent. A name already used, a build already running, a
//! version or slot type still in use: `ConflictException` (409). Bad input:
//! `ValidationException` (400) in AWS's "1 validation error detected" form. The message texts
//! are this emulator's own; Lex's exact wording was not found.

use super::LexError;
use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

pub const DRAFT: &str = "DRAFT";
pub const TEST_ALIAS_ID: &str = "TSTALIASID";
pub const TEST_ALIAS_NAME: &str = "TestBotAlias";
pub const FALLBACK_INTENT_ID: &str = "FALLBCKINT";
/// Page size of List* when the request names no maxResults (unverified for Lex).
pub const DEFAULT_PAGE: usize = 10;

/// What one request needs besides its route and body.
pub struct Ctx {
    pub delay: Duration,
    pub forced_build_failure: bool,
}

/// A request's operation and the path labels it carries (bot id, version, locale, ... or an
/// ARN), in path order.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub operation: &'static str,
    pub ids: Vec<String>,
}

/// The operation of a REST request and its path labels; `None` for a route of no
/// model-building operation.
pub fn route(method: &Method, path: &str) -> Option<Route> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = method.as_str();
    let (operation, ids): (&'static str, Vec<&str>) = match (m, s.as_slice()) {
        ("PUT", ["bots"]) => ("CreateBot", vec![]),
        ("POST", ["bots"]) => ("ListBots", vec![]),
        (_, ["bots", b]) => (
            pick(m, "DescribeBot", "UpdateBot", "DeleteBot", "")?,
            vec![b],
        ),
        ("PUT", ["bots", b, "botversions"]) => ("CreateBotVersion", vec![b]),
        ("POST", ["bots", b, "botversions"]) => ("ListBotVersions", vec![b]),
        ("GET", ["bots", b, "botversions", v]) => ("DescribeBotVersion", vec![b, v]),
        ("DELETE", ["bots", b, "botversions", v]) => ("DeleteBotVersion", vec![b, v]),
        ("PUT", ["bots", b, "botversions", v, "botlocales"]) => ("CreateBotLocale", vec![b, v]),
        ("POST", ["bots", b, "botversions", v, "botlocales"]) => ("ListBotLocales", vec![b, v]),
        (_, ["bots", b, "botversions", v, "botlocales", l]) => (
            pick(
                m,
                "DescribeBotLocale",
                "UpdateBotLocale",
                "DeleteBotLocale",
                "BuildBotLocale",
            )?,
            vec![b, v, l],
        ),
        ("PUT", ["bots", b, "botversions", v, "botlocales", l, "slottypes"]) => {
            ("CreateSlotType", vec![b, v, l])
        }
        ("POST", ["bots", b, "botversions", v, "botlocales", l, "slottypes"]) => {
            ("ListSlotTypes", vec![b, v, l])
        }
        (_, ["bots", b, "botversions", v, "botlocales", l, "slottypes", t]) => (
            pick(
                m,
                "DescribeSlotType",
                "UpdateSlotType",
                "DeleteSlotType",
                "",
            )?,
            vec![b, v, l, t],
        ),
        ("PUT", ["bots", b, "botversions", v, "botlocales", l, "intents"]) => {
            ("CreateIntent", vec![b, v, l])
        }
        ("POST", ["bots", b, "botversions", v, "botlocales", l, "intents"]) => {
            ("ListIntents", vec![b, v, l])
        }
        (_, ["bots", b, "botversions", v, "botlocales", l, "intents", i]) => (
            pick(m, "DescribeIntent", "UpdateIntent", "DeleteIntent", "")?,
            vec![b, v, l, i],
        ),
        ("PUT", ["bots", b, "botversions", v, "botlocales", l, "intents", i, "slots"]) => {
            ("CreateSlot", vec![b, v, l, i])
        }
        ("POST", ["bots", b, "botversions", v, "botlocales", l, "intents", i, "slots"]) => {
            ("ListSlots", vec![b, v, l, i])
        }
        (_, ["bots", b, "botversions", v, "botlocales", l, "intents", i, "slots", x]) => (
            pick(m, "DescribeSlot", "UpdateSlot", "DeleteSlot", "")?,
            vec![b, v, l, i, x],
        ),
        ("PUT", ["bots", b, "botaliases"]) => ("CreateBotAlias", vec![b]),
        ("POST", ["bots", b, "botaliases"]) => ("ListBotAliases", vec![b]),
        (_, ["bots", b, "botaliases", a]) => (
            pick(
                m,
                "DescribeBotAlias",
                "UpdateBotAlias",
                "DeleteBotAlias",
                "",
            )?,
            vec![b, a],
        ),
        (_, ["tags", arn @ ..]) if !arn.is_empty() => {
            let op = match m {
                "GET" => "ListTagsForResource",
                "POST" => "TagResource",
                "DELETE" => "UntagResource",
                _ => return None,
            };
            return Some(Route {
                operation: op,
                ids: vec![arn.join("/")],
            });
        }
        ("POST", ["policy", arn @ .., "statements"]) if !arn.is_empty() => {
            return Some(Route {
                operation: "CreateResourcePolicyStatement",
                ids: vec![arn.join("/")],
            });
        }
        ("DELETE", ["policy", arn @ .., "statements", sid]) if !arn.is_empty() => {
            return Some(Route {
                operation: "DeleteResourcePolicyStatement",
                ids: vec![arn.join("/"), sid.to_string()],
            });
        }
        (_, ["policy", arn @ ..]) if !arn.is_empty() => {
            let op = match m {
                "GET" => "DescribeResourcePolicy",
                "POST" => "CreateResourcePolicy",
                "PUT" => "UpdateResourcePolicy",
                "DELETE" => "DeleteResourcePolicy",
                _ => return None,
            };
            return Some(Route {
                operation: op,
                ids: vec![arn.join("/")],
            });
        }
        _ => return None,
    };
    Some(Route {
        operation,
        ids: ids.into_iter().map(str::to_string).collect(),
    })
}

/// The operation for GET / PUT / DELETE / POST on one resource path.
fn pick(
    method: &str,
    get: &'static str,
    put: &'static str,
    delete: &'static str,
    post: &'static str,
) -> Option<&'static str> {
    let op = match method {
        "GET" => get,
        "PUT" => put,
        "DELETE" => delete,
        "POST" => post,
        _ => "",
    };
    (!op.is_empty()).then_some(op)
}

/// A 10-character uppercase alphanumeric id, as Lex makes them.
pub fn new_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..10)
        .map(|_| CHARS[fastrand::usize(..CHARS.len())] as char)
        .collect()
}

/// Now as epoch seconds with milliseconds, the form Lex timestamps take on the wire.
fn now_secs() -> f64 {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    ms as f64 / 1000.0
}

/// A status that may be on its way to another one: `from` until `at`, `to` from then on.
#[derive(Debug, Clone)]
pub struct Phase {
    from: &'static str,
    to: &'static str,
    at: Instant,
}

impl Phase {
    pub fn settled(status: &'static str) -> Phase {
        Phase {
            from: status,
            to: status,
            at: Instant::now(),
        }
    }

    pub fn moving(from: &'static str, to: &'static str, delay: Duration) -> Phase {
        Phase {
            from,
            to,
            at: Instant::now() + delay,
        }
    }

    pub fn now(&self) -> &'static str {
        if Instant::now() >= self.at {
            self.to
        } else {
            self.from
        }
    }
}

/// A slot type, intent or slot: its id, what the caller defined, when.
#[derive(Debug, Clone)]
struct Item {
    id: String,
    def: Map<String, Value>,
    created: f64,
    updated: f64,
}

#[derive(Debug, Clone)]
struct Intent {
    item: Item,
    slots: BTreeMap<String, Item>,
}

#[derive(Debug, Clone)]
struct Locale {
    def: Map<String, Value>,
    phase: Phase,
    failure_reasons: Vec<String>,
    created: f64,
    updated: f64,
    last_build: Option<f64>,
    slot_types: BTreeMap<String, Item>,
    intents: BTreeMap<String, Intent>,
}

/// A numbered bot version (or the DRAFT's locales, which live in the same shape).
#[derive(Debug, Clone)]
struct Version {
    bot_def: Map<String, Value>,
    description: Option<Value>,
    phase: Phase,
    created: f64,
    locales: BTreeMap<String, Locale>,
}

#[derive(Debug, Clone)]
struct Alias {
    def: Map<String, Value>,
    phase: Phase,
    created: f64,
    updated: f64,
    history: Vec<Value>,
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Bot {
    def: Map<String, Value>,
    phase: Phase,
    created: f64,
    updated: f64,
    tags: BTreeMap<String, String>,
    draft: BTreeMap<String, Locale>,
    versions: BTreeMap<u64, Version>,
    next_version: u64,
    aliases: BTreeMap<String, Alias>,
}

#[derive(Debug, Clone)]
struct Policy {
    document: Value,
    revision: u64,
}

/// Every bot and resource policy of one emulator.
#[derive(Default)]
pub struct Models {
    bots: BTreeMap<String, Bot>,
    /// By resource (`bot/ID` or `bot-alias/ID/ALIAS`), whatever region/account the ARN names.
    policies: BTreeMap<String, Policy>,
    revision: u64,
}

type Answer = Result<(StatusCode, Value), LexError>;

fn ok(value: Value) -> Answer {
    Ok((StatusCode::OK, value))
}

fn accepted(value: Value) -> Answer {
    Ok((StatusCode::ACCEPTED, value))
}

fn no_content() -> Answer {
    Ok((StatusCode::NO_CONTENT, json!({})))
}

/// AWS's validation message for a field that breaks a constraint.
fn invalid(field: &str, value: &Value, constraint: &str) -> LexError {
    let shown = match value {
        Value::Null => "null".to_string(),
        Value::String(s) => format!("'{s}'"),
        other => format!("'{other}'"),
    };
    LexError::Validation(format!(
        "1 validation error detected: Value {shown} at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

fn missing(read: bool, what: String) -> LexError {
    if read {
        LexError::NotFound(format!("Could not find {what}."))
    } else {
        LexError::PreconditionFailed(format!(
            "Failed to retrieve resource since it does not exist: {what}."
        ))
    }
}

fn required<'a>(body: &'a Value, field: &str) -> Result<&'a Value, LexError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(invalid(field, &Value::Null, "Member must not be null")),
        Some(v) => Ok(v),
    }
}

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

/// Names of bots, aliases, intents and slots: `^([0-9a-zA-Z][_-]?){1,100}$`.
pub fn valid_name(name: &str) -> bool {
    let mut alnum = 0;
    let mut after_separator = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            alnum += 1;
            after_separator = false;
        } else if (c == '_' || c == '-') && !after_separator {
            after_separator = true;
        } else {
            return false;
        }
    }
    (1..=100).contains(&alnum)
}

/// Slot type ids of slots: a built-in `AMAZON.Name` or a 10-character id (at most 25 chars).
pub fn valid_slot_type_id(id: &str) -> bool {
    let ok = match id.strip_prefix("AMAZON.") {
        Some(name) => !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic() || c == '_'),
        None => !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()),
    };
    ok && id.len() <= 25
}

fn name_field(body: &Value, field: &str) -> Result<String, LexError> {
    let value = required(body, field)?;
    match value.as_str() {
        Some(s) if valid_name(s) => Ok(s.to_string()),
        _ => Err(invalid(
            field,
            value,
            "Member must satisfy regular expression pattern: ^([0-9a-zA-Z][_-]?){1,100}$",
        )),
    }
}

/// The definition fields of `body` a resource keeps.
fn pick_fields(body: &Value, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| {
            body.get(*f)
                .filter(|v| !v.is_null())
                .map(|v| (f.to_string(), v.clone()))
        })
        .collect()
}

fn with(mut map: Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            if !v.is_null() {
                map.insert(k, v);
            }
        }
    }
    Value::Object(map)
}

fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn skip_in_use_check(query: &[(String, String)]) -> bool {
    query_value(query, "skipResourceInUseCheck") == Some("true")
}

fn tags_of(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

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

// ---------------------------------------------------------------------------------------------
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

/// Fills a `promptSpecification` as Lex does (see the module docs).
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

fn fill_locale_defaults(def: &mut Map<String, Value>) {
    if let Some(voice) = def.get_mut("voiceSettings").and_then(Value::as_object_mut) {
        voice.entry("engine").or_insert(json!("standard"));
    }
}

// ---------------------------------------------------------------------------------------------
// Lists: filters, sorting, pagination

/// How one List* operation filters and sorts its summaries.
struct ListSpec<'a> {
    /// Filter name → summary field.
    filters: &'a [(&'a str, &'a str)],
    /// Sort attribute → summary field.
    sorts: &'a [(&'a str, &'a str)],
    /// Summary field sorted by when the request names no sortBy.
    default_sort: &'a str,
    /// Whether filters may use NE (ListBots only); CO and EQ always.
    not_equals: bool,
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    let num = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()))
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        _ => a
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .cmp(&b.as_str().unwrap_or("").to_lowercase()),
    }
}

/// Applies the request's filters, sortBy, maxResults and nextToken to `items`.
fn page(mut items: Vec<Value>, body: &Value, spec: &ListSpec) -> Result<Value, LexError> {
    if let Some(filters) = body.get("filters").and_then(Value::as_array) {
        for filter in filters {
            let name = filter.get("name").and_then(Value::as_str).unwrap_or("");
            let Some((_, field)) = spec.filters.iter().find(|(n, _)| *n == name) else {
                return Err(invalid(
                    "filters.1.member.name",
                    &json!(name),
                    "Member must satisfy enum value set",
                ));
            };
            let values: Vec<&str> = filter
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let operator = filter.get("operator").and_then(Value::as_str).unwrap_or("");
            let keep = |item: &Value| {
                let have = item.get(*field).and_then(Value::as_str).unwrap_or("");
                match operator {
                    "EQ" => values.contains(&have),
                    "CO" => values.iter().any(|v| have.contains(v)),
                    "NE" => !values.contains(&have),
                    _ => false,
                }
            };
            if !(matches!(operator, "EQ" | "CO") || (spec.not_equals && operator == "NE")) {
                let allowed = if spec.not_equals {
                    "[CO, EQ, NE]"
                } else {
                    "[CO, EQ]"
                };
                return Err(invalid(
                    "filters.1.member.operator",
                    &json!(operator),
                    &format!("Member must satisfy enum value set: {allowed}"),
                ));
            }
            items.retain(keep);
        }
    }
    let (field, descending) = match body.get("sortBy") {
        Some(sort) if !sort.is_null() => {
            let attribute = sort.get("attribute").and_then(Value::as_str).unwrap_or("");
            let Some((_, field)) = spec.sorts.iter().find(|(a, _)| *a == attribute) else {
                return Err(invalid(
                    "sortBy.attribute",
                    &json!(attribute),
                    "Member must satisfy enum value set",
                ));
            };
            let order = sort.get("order").and_then(Value::as_str);
            (*field, order == Some("Descending"))
        }
        _ => (spec.default_sort, false),
    };
    items.sort_by(|a, b| {
        compare(
            a.get(field).unwrap_or(&Value::Null),
            b.get(field).unwrap_or(&Value::Null),
        )
    });
    if descending {
        items.reverse();
    }
    let max = match body.get("maxResults") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=1000) => n as usize,
            _ => return Err(invalid(
                "maxResults",
                v,
                "Member must have value less than or equal to 1000 and greater than or equal to 1",
            )),
        },
    };
    let start = match body.get("nextToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                LexError::Validation(format!("The nextToken '{token}' is not valid."))
            })?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("page-{end}"));
    Ok(json!({"items": items[start..end].to_vec(), "nextToken": next}))
}

/// Puts a page under the operation's list field, with the request's context fields.
fn list_answer(page: Value, field: &str, context: Value) -> Answer {
    let mut out = context.as_object().cloned().unwrap_or_default();
    out.insert(field.into(), page["items"].clone());
    if let Some(next) = page["nextToken"].as_str() {
        out.insert("nextToken".into(), json!(next));
    }
    ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// Build checks

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

// ---------------------------------------------------------------------------------------------
// ARNs

/// The resource part of a Lex ARN (`bot/ID`, `bot-alias/ID/ALIAS`).
fn resource_of(arn: &str) -> Result<String, LexError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "lex" {
        Ok(parts[5].to_string())
    } else {
        Err(invalid(
            "resourceArn",
            &json!(arn),
            "Member must satisfy regular expression pattern: ^arn:[\\w\\-]+:lex:[\\w\\-]+:[\\d]{12}:(bot|bot-alias)/.+$",
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

const BOT_FIELDS: &[&str] = &[
    "botName",
    "description",
    "roleArn",
    "dataPrivacy",
    "idleSessionTTLInSeconds",
    "botType",
    "botMembers",
    "errorLogSettings",
];
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
const SLOT_TYPE_FIELDS: &[&str] = &[
    "slotTypeName",
    "description",
    "slotTypeValues",
    "valueSelectionSetting",
    "parentSlotTypeSignature",
    "externalSourceSetting",
    "compositeSlotTypeSetting",
];
const INTENT_FIELDS: &[&str] = &[
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
const ALIAS_FIELDS: &[&str] = &[
    "botAliasName",
    "description",
    "botVersion",
    "botAliasLocaleSettings",
    "conversationLogSettings",
    "sentimentAnalysisSettings",
];

impl Bot {
    fn locales(&self, version: &str) -> Option<&BTreeMap<String, Locale>> {
        if version == DRAFT {
            Some(&self.draft)
        } else {
            let n = version.parse::<u64>().ok()?;
            self.versions.get(&n).map(|v| &v.locales)
        }
    }

    fn latest_version(&self) -> Option<String> {
        self.versions.keys().next_back().map(u64::to_string)
    }

    fn name(&self) -> &str {
        self.def["botName"].as_str().unwrap_or("")
    }
}

impl Locale {
    /// A change to a DRAFT locale: it needs building again.
    fn touch(&mut self, now: f64) {
        self.phase = Phase::settled("NotBuilt");
        self.failure_reasons.clear();
        self.updated = now;
    }
}

fn check_draft(version: &str) -> Result<(), LexError> {
    if version == DRAFT {
        Ok(())
    } else {
        Err(invalid(
            "botVersion",
            &json!(version),
            "Member must satisfy regular expression pattern: ^DRAFT$",
        ))
    }
}

fn check_numbered(field: &str, version: &str) -> Result<(), LexError> {
    if !version.is_empty() && version.len() <= 5 && version.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(
            field,
            &json!(version),
            "Member must satisfy regular expression pattern: ^[0-9]+$",
        ))
    }
}

impl Models {
    pub fn apply(
        &mut self,
        ctx: &Ctx,
        route: &Route,
        query: &[(String, String)],
        body: Value,
    ) -> Answer {
        let ids: Vec<&str> = route.ids.iter().map(String::as_str).collect();
        let now = now_secs();
        match (route.operation, ids.as_slice()) {
            ("CreateBot", []) => self.create_bot(ctx, &body, now),
            ("DescribeBot", [b]) => self.describe_bot(b),
            ("UpdateBot", [b]) => self.update_bot(b, &body, now),
            ("DeleteBot", [b]) => self.delete_bot(b, query),
            ("ListBots", []) => self.list_bots(&body),
            ("CreateBotLocale", [b, v]) => self.create_locale(ctx, b, v, &body, now),
            ("DescribeBotLocale", [b, v, l]) => self.describe_locale(b, v, l),
            ("UpdateBotLocale", [b, v, l]) => self.update_locale(b, v, l, &body, now),
            ("DeleteBotLocale", [b, v, l]) => self.delete_locale(b, v, l),
            ("ListBotLocales", [b, v]) => self.list_locales(b, v, &body),
            ("BuildBotLocale", [b, v, l]) => self.build_locale(ctx, b, v, l, now),
            ("CreateSlotType", [b, v, l]) => self.create_slot_type(b, v, l, &body, now),
            ("DescribeSlotType", [b, v, l, t]) => self.describe_slot_type(b, v, l, t),
            ("UpdateSlotType", [b, v, l, t]) => self.update_slot_type(b, v, l, t, &body, now),
            ("DeleteSlotType", [b, v, l, t]) => self.delete_slot_type(b, v, l, t, query, now),
            ("ListSlotTypes", [b, v, l]) => self.list_slot_types(b, v, l, &body),
            ("CreateIntent", [b, v, l]) => self.create_intent(b, v, l, &body, now),
            ("DescribeIntent", [b, v, l, i]) => self.describe_intent(b, v, l, i),
            ("UpdateIntent", [b, v, l, i]) => self.update_intent(b, v, l, i, &body, now),
            ("DeleteIntent", [b, v, l, i]) => self.delete_intent(b, v, l, i, now),
            ("ListIntents", [b, v, l]) => self.list_intents(b, v, l, &body),
            ("CreateSlot", [b, v, l, i]) => self.create_slot(b, v, l, i, &body, now),
            ("DescribeSlot", [b, v, l, i, s]) => self.describe_slot(b, v, l, i, s),
            ("UpdateSlot", [b, v, l, i, s]) => self.update_slot(b, v, l, i, s, &body, now),
            ("DeleteSlot", [b, v, l, i, s]) => self.delete_slot(b, v, l, i, s, now),
            ("ListSlots", [b, v, l, i]) => self.list_slots(b, v, l, i, &body),
            ("CreateBotVersion", [b]) => self.create_version(ctx, b, &body, now),
            ("DescribeBotVersion", [b, v]) => self.describe_version(b, v),
            ("DeleteBotVersion", [b, v]) => self.delete_version(b, v, query),
            ("ListBotVersions", [b]) => self.list_versions(b, &body),
            ("CreateBotAlias", [b]) => self.create_alias(ctx, b, &body, now),
            ("DescribeBotAlias", [b, a]) => self.describe_alias(b, a),
            ("UpdateBotAlias", [b, a]) => self.update_alias(b, a, &body, now),
            ("DeleteBotAlias", [b, a]) => self.delete_alias(b, a),
            ("ListBotAliases", [b]) => self.list_aliases(b, &body),
            ("TagResource", [arn]) => self.tag(arn, &body),
            ("UntagResource", [arn]) => self.untag(arn, query),
            ("ListTagsForResource", [arn]) => self.list_tags(arn),
            ("CreateResourcePolicy", [arn]) => self.create_policy(arn, &body),
            ("DescribeResourcePolicy", [arn]) => self.describe_policy(arn),
            ("UpdateResourcePolicy", [arn]) => self.update_policy(arn, &body, query),
            ("DeleteResourcePolicy", [arn]) => self.delete_policy(arn, query),
            ("CreateResourcePolicyStatement", [arn]) => self.create_statement(arn, &body, query),
            ("DeleteResourcePolicyStatement", [arn, sid]) => self.delete_statement(arn, sid, query),
            (op, _) => Err(LexError::Validation(format!(
                "{op} is not supported by the local cloud"
            ))),
        }
    }

    // --- bots ------------------------------------------------------------------------------

    fn bot(&self, id: &str, read: bool) -> Result<&Bot, LexError> {
        self.bots
            .get(id)
            .ok_or_else(|| missing(read, format!("bot '{id}'")))
    }

    fn bot_mut(&mut self, id: &str) -> Result<&mut Bot, LexError> {
        self.bots
            .get_mut(id)
            .ok_or_else(|| missing(false, format!("bot '{id}'")))
    }

    fn bot_def(body: &Value) -> Result<Map<String, Value>, LexError> {
        name_field(body, "botName")?;
        let role = required(body, "roleArn")?;
        if !role
            .as_str()
            .is_some_and(|r| r.starts_with("arn:aws") && r.contains(":role/"))
        {
            return Err(invalid(
                "roleArn",
                role,
                "Member must satisfy regular expression pattern: ^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.*$",
            ));
        }
        required(body, "dataPrivacy")?;
        let ttl = required(body, "idleSessionTTLInSeconds")?;
        if !ttl.as_u64().is_some_and(|t| (60..=86400).contains(&t)) {
            return Err(invalid(
                "idleSessionTTLInSeconds",
                ttl,
                "Member must have value less than or equal to 86400 and greater than or equal to 60",
            ));
        }
        let mut def = pick_fields(body, BOT_FIELDS);
        def.entry("botType").or_insert(json!("Bot"));
        Ok(def)
    }

    fn create_bot(&mut self, ctx: &Ctx, body: &Value, now: f64) -> Answer {
        let def = Self::bot_def(body)?;
        let name = def["botName"].as_str().unwrap_or("").to_string();
        if self.bots.values().any(|b| b.name() == name) {
            return Err(LexError::Conflict(format!(
                "A bot with the name '{name}' already exists."
            )));
        }
        let id = new_id();
        let test_alias = Alias {
            def: pick_fields(
                &json!({
                    "botAliasName": TEST_ALIAS_NAME,
                    "description": "test bot alias",
                    "botVersion": DRAFT,
                }),
                ALIAS_FIELDS,
            ),
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            updated: now,
            history: Vec::new(),
            tags: tags_of(body.get("testBotAliasTags")),
        };
        let bot = Bot {
            def: def.clone(),
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            updated: now,
            tags: tags_of(body.get("botTags")),
            draft: BTreeMap::new(),
            versions: BTreeMap::new(),
            next_version: 1,
            aliases: BTreeMap::from([(TEST_ALIAS_ID.to_string(), test_alias)]),
        };
        let answer = with(
            def,
            json!({
                "botId": id,
                "botStatus": "Creating",
                "creationDateTime": now,
                "botTags": body.get("botTags"),
                "testBotAliasTags": body.get("testBotAliasTags"),
            }),
        );
        self.bots.insert(id, bot);
        accepted(answer)
    }

    fn bot_answer(id: &str, bot: &Bot) -> Value {
        with(
            bot.def.clone(),
            json!({
                "botId": id,
                "botStatus": bot.phase.now(),
                "creationDateTime": bot.created,
                "lastUpdatedDateTime": bot.updated,
            }),
        )
    }

    fn describe_bot(&self, id: &str) -> Answer {
        ok(Self::bot_answer(id, self.bot(id, true)?))
    }

    fn update_bot(&mut self, id: &str, body: &Value, now: f64) -> Answer {
        let def = Self::bot_def(body)?;
        self.bot(id, false)?;
        let name = def["botName"].as_str().unwrap_or("");
        if self
            .bots
            .iter()
            .any(|(other, b)| other != id && b.name() == name)
        {
            return Err(LexError::Conflict(format!(
                "A bot with the name '{name}' already exists."
            )));
        }
        let bot = self.bot_mut(id)?;
        bot.def = def;
        bot.updated = now;
        accepted(Self::bot_answer(id, bot))
    }

    fn delete_bot(&mut self, id: &str, query: &[(String, String)]) -> Answer {
        let bot = self.bot(id, false)?;
        let in_use = bot.aliases.keys().any(|a| a != TEST_ALIAS_ID);
        if in_use && !skip_in_use_check(query) {
            return Err(LexError::Conflict(format!(
                "Bot '{id}' is in use by one or more aliases. Delete the aliases first, or set skipResourceInUseCheck to delete the bot with them."
            )));
        }
        self.bots.remove(id);
        let bot_resource = format!("bot/{id}");
        let alias_prefix = format!("bot-alias/{id}/");
        self.policies
            .retain(|k, _| *k != bot_resource && !k.starts_with(&alias_prefix));
        accepted(json!({"botId": id, "botStatus": "Deleting"}))
    }

    fn list_bots(&self, body: &Value) -> Answer {
        let items = self
            .bots
            .iter()
            .map(|(id, b)| {
                json!({
                    "botId": id,
                    "botName": b.name(),
                    "description": b.def.get("description"),
                    "botStatus": b.phase.now(),
                    "latestBotVersion": b.latest_version(),
                    "lastUpdatedDateTime": b.updated,
                    "botType": b.def.get("botType"),
                })
            })
            .map(strip_nulls)
            .collect();
        let spec = ListSpec {
            filters: &[("BotName", "botName"), ("BotType", "botType")],
            sorts: &[("BotName", "botName")],
            default_sort: "botName",
            not_equals: true,
        };
        list_answer(page(items, body, &spec)?, "botSummaries", json!({}))
    }

    // --- locales ---------------------------------------------------------------------------

    fn locales_of(
        &self,
        bot_id: &str,
        version: &str,
        read: bool,
    ) -> Result<&BTreeMap<String, Locale>, LexError> {
        self.bot(bot_id, read)?
            .locales(version)
            .ok_or_else(|| missing(read, format!("version '{version}' of bot '{bot_id}'")))
    }

    fn locale(
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
    fn draft_locale_mut(
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

    fn locale_answer(bot_id: &str, version: &str, locale_id: &str, locale: &Locale) -> Value {
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

    fn locale_def(body: &Value) -> Result<Map<String, Value>, LexError> {
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

    fn create_locale(
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

    fn describe_locale(&self, bot_id: &str, version: &str, locale_id: &str) -> Answer {
        let locale = self.locale(bot_id, version, locale_id, true)?;
        ok(Self::locale_answer(bot_id, version, locale_id, locale))
    }

    fn update_locale(
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

    fn delete_locale(&mut self, bot_id: &str, version: &str, locale_id: &str) -> Answer {
        self.draft_locale_mut(bot_id, version, locale_id)?;
        self.bot_mut(bot_id)?.draft.remove(locale_id);
        accepted(json!({
            "botId": bot_id, "botVersion": version, "localeId": locale_id,
            "botLocaleStatus": "Deleting",
        }))
    }

    fn list_locales(&self, bot_id: &str, version: &str, body: &Value) -> Answer {
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
        let spec = ListSpec {
            filters: &[("BotLocaleName", "localeName")],
            sorts: &[("BotLocaleName", "localeName")],
            default_sort: "localeName",
            not_equals: false,
        };
        list_answer(
            page(items, body, &spec)?,
            "botLocaleSummaries",
            json!({"botId": bot_id, "botVersion": version}),
        )
    }

    fn build_locale(
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

    // --- slot types ------------------------------------------------------------------------

    fn slot_type_def(body: &Value) -> Result<Map<String, Value>, LexError> {
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

    fn slot_type_answer(ids: (&str, &str, &str), item: &Item, with_updated: bool) -> Value {
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

    fn create_slot_type(
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

    fn describe_slot_type(&self, b: &str, v: &str, l: &str, t: &str) -> Answer {
        let item = self
            .locale(b, v, l, true)?
            .slot_types
            .get(t)
            .ok_or_else(|| missing(true, format!("slot type '{t}'")))?;
        ok(Self::slot_type_answer((b, v, l), item, true))
    }

    fn update_slot_type(
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

    fn delete_slot_type(
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

    fn list_slot_types(&self, b: &str, v: &str, l: &str, body: &Value) -> Answer {
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
        let spec = ListSpec {
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
        list_answer(
            page(items, body, &spec)?,
            "slotTypeSummaries",
            json!({"botId": b, "botVersion": v, "localeId": l}),
        )
    }

    // --- intents ---------------------------------------------------------------------------

    fn intent_def(body: &Value) -> Result<Map<String, Value>, LexError> {
        name_field(body, "intentName")?;
        let mut def = pick_fields(body, INTENT_FIELDS);
        fill_intent_defaults(&mut def);
        Ok(def)
    }

    fn intent_answer(ids: (&str, &str, &str), intent: &Intent, describe: bool) -> Value {
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

    fn create_intent(&mut self, b: &str, v: &str, l: &str, body: &Value, now: f64) -> Answer {
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

    fn intent(&self, b: &str, v: &str, l: &str, i: &str, read: bool) -> Result<&Intent, LexError> {
        self.locale(b, v, l, read)?
            .intents
            .get(i)
            .ok_or_else(|| missing(read, format!("intent '{i}'")))
    }

    fn describe_intent(&self, b: &str, v: &str, l: &str, i: &str) -> Answer {
        let intent = self.intent(b, v, l, i, true)?;
        ok(Self::intent_answer((b, v, l), intent, true))
    }

    fn update_intent(
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

    fn delete_intent(&mut self, b: &str, v: &str, l: &str, i: &str, now: f64) -> Answer {
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

    fn list_intents(&self, b: &str, v: &str, l: &str, body: &Value) -> Answer {
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
        let spec = ListSpec {
            filters: &[("IntentName", "intentName")],
            sorts: &[
                ("IntentName", "intentName"),
                ("LastUpdatedDateTime", "lastUpdatedDateTime"),
            ],
            default_sort: "intentName",
            not_equals: false,
        };
        list_answer(
            page(items, body, &spec)?,
            "intentSummaries",
            json!({"botId": b, "botVersion": v, "localeId": l}),
        )
    }

    // --- slots -----------------------------------------------------------------------------

    fn slot_def(body: &Value) -> Result<Map<String, Value>, LexError> {
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

    fn slot_answer(ids: (&str, &str, &str, &str), item: &Item, describe: bool) -> Value {
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

    fn create_slot(
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

    fn describe_slot(&self, b: &str, v: &str, l: &str, i: &str, s: &str) -> Answer {
        let item = self
            .intent(b, v, l, i, true)?
            .slots
            .get(s)
            .ok_or_else(|| missing(true, format!("slot '{s}'")))?;
        ok(Self::slot_answer((b, v, l, i), item, true))
    }

    #[allow(clippy::too_many_arguments)]
    fn update_slot(
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

    fn delete_slot(&mut self, b: &str, v: &str, l: &str, i: &str, s: &str, now: f64) -> Answer {
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

    fn list_slots(&self, b: &str, v: &str, l: &str, i: &str, body: &Value) -> Answer {
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
        let spec = ListSpec {
            filters: &[("SlotName", "slotName")],
            sorts: &[
                ("SlotName", "slotName"),
                ("LastUpdatedDateTime", "lastUpdatedDateTime"),
            ],
            default_sort: "slotName",
            not_equals: false,
        };
        list_answer(
            page(items, body, &spec)?,
            "slotSummaries",
            json!({"botId": b, "botVersion": v, "localeId": l, "intentId": i}),
        )
    }

    // --- versions --------------------------------------------------------------------------

    fn create_version(&mut self, ctx: &Ctx, bot_id: &str, body: &Value, now: f64) -> Answer {
        let spec = required(body, "botVersionLocaleSpecification")?.clone();
        let Some(spec_map) = spec.as_object().filter(|m| !m.is_empty()) else {
            return Err(invalid(
                "botVersionLocaleSpecification",
                &spec,
                "Member must have length greater than or equal to 1",
            ));
        };
        let bot = self.bot_mut(bot_id)?;
        let mut locales = BTreeMap::new();
        for (locale_id, source) in spec_map {
            let source_version = source
                .get("sourceBotVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let locale = bot
                .locales(source_version)
                .and_then(|ls| ls.get(locale_id))
                .ok_or_else(|| {
                    LexError::PreconditionFailed(format!(
                        "Locale '{locale_id}' does not exist in version '{source_version}' of bot '{bot_id}'."
                    ))
                })?;
            let status = locale.phase.now();
            if status != "Built" {
                return Err(LexError::PreconditionFailed(format!(
                    "Locale '{locale_id}' of version '{source_version}' is {status}, not Built. Build it (BuildBotLocale) before creating a version."
                )));
            }
            let mut snapshot = locale.clone();
            snapshot.phase = Phase::settled("Built");
            locales.insert(locale_id.clone(), snapshot);
        }
        let number = bot.next_version;
        bot.next_version += 1;
        let version = Version {
            bot_def: bot.def.clone(),
            description: body.get("description").filter(|d| !d.is_null()).cloned(),
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            locales,
        };
        let answer = strip_nulls(json!({
            "botId": bot_id,
            "botVersion": number.to_string(),
            "description": version.description,
            "botVersionLocaleSpecification": spec,
            "botStatus": "Creating",
            "creationDateTime": now,
        }));
        bot.versions.insert(number, version);
        accepted(answer)
    }

    fn version(&self, bot_id: &str, version: &str, read: bool) -> Result<&Version, LexError> {
        check_numbered("botVersion", version)?;
        let bot = self.bot(bot_id, read)?;
        version
            .parse::<u64>()
            .ok()
            .and_then(|n| bot.versions.get(&n))
            .ok_or_else(|| missing(read, format!("version '{version}' of bot '{bot_id}'")))
    }

    fn describe_version(&self, bot_id: &str, version: &str) -> Answer {
        let v = self.version(bot_id, version, true)?;
        ok(with(
            v.bot_def.clone(),
            json!({
                "botId": bot_id,
                "botVersion": version,
                "description": v.description,
                "botStatus": v.phase.now(),
                "creationDateTime": v.created,
            }),
        ))
    }

    fn delete_version(
        &mut self,
        bot_id: &str,
        version: &str,
        query: &[(String, String)],
    ) -> Answer {
        self.version(bot_id, version, false)?;
        let bot = self.bot_mut(bot_id)?;
        let users: Vec<String> = bot
            .aliases
            .iter()
            .filter(|(_, a)| a.def.get("botVersion").and_then(Value::as_str) == Some(version))
            .map(|(id, _)| id.clone())
            .collect();
        if !users.is_empty() && !skip_in_use_check(query) {
            return Err(LexError::Conflict(format!(
                "Version '{version}' of bot '{bot_id}' is used by alias(es) {}. Point them at another version first, or set skipResourceInUseCheck.",
                users.join(", ")
            )));
        }
        if let Ok(n) = version.parse::<u64>() {
            bot.versions.remove(&n);
        }
        accepted(json!({"botId": bot_id, "botVersion": version, "botStatus": "Deleting"}))
    }

    fn list_versions(&self, bot_id: &str, body: &Value) -> Answer {
        let bot = self.bot(bot_id, true)?;
        let mut items: Vec<Value> = vec![strip_nulls(json!({
            "botName": bot.name(),
            "botVersion": DRAFT,
            "description": bot.def.get("description"),
            "botStatus": bot.phase.now(),
            "creationDateTime": bot.created,
        }))];
        items.extend(bot.versions.iter().map(|(n, v)| {
            strip_nulls(json!({
                "botName": v.bot_def.get("botName"),
                "botVersion": n.to_string(),
                "description": v.description,
                "botStatus": v.phase.now(),
                "creationDateTime": v.created,
            }))
        }));
        let spec = ListSpec {
            filters: &[],
            sorts: &[("BotVersion", "botVersion")],
            default_sort: "botVersion",
            not_equals: false,
        };
        list_answer(
            page(items, body, &spec)?,
            "botVersionSummaries",
            json!({"botId": bot_id}),
        )
    }

    // --- aliases ---------------------------------------------------------------------------

    fn alias_def(
        bot: &Bot,
        alias_id: Option<&str>,
        body: &Value,
    ) -> Result<Map<String, Value>, LexError> {
        let name = name_field(body, "botAliasName")?;
        if bot
            .aliases
            .iter()
            .any(|(id, a)| Some(id.as_str()) != alias_id && a.def["botAliasName"] == name)
        {
            return Err(LexError::Conflict(format!(
                "An alias with the name '{name}' already exists for this bot."
            )));
        }
        if let Some(version) = body.get("botVersion").and_then(Value::as_str) {
            if alias_id == Some(TEST_ALIAS_ID) {
                if version != DRAFT {
                    return Err(LexError::Validation(format!(
                        "The test alias {TEST_ALIAS_ID} can only use version DRAFT."
                    )));
                }
            } else if version == DRAFT {
                return Err(LexError::Validation(format!(
                    "Only the test alias {TEST_ALIAS_ID} can use version DRAFT; point the alias at a numbered version."
                )));
            } else {
                check_numbered("botVersion", version)?;
                let exists = version
                    .parse::<u64>()
                    .ok()
                    .is_some_and(|n| bot.versions.contains_key(&n));
                if !exists {
                    return Err(LexError::PreconditionFailed(format!(
                        "Version '{version}' of this bot does not exist."
                    )));
                }
            }
        }
        if let Some(settings) = body
            .get("botAliasLocaleSettings")
            .and_then(Value::as_object)
        {
            for (locale_id, setting) in settings {
                if !setting.get("enabled").is_some_and(Value::is_boolean) {
                    return Err(invalid(
                        &format!("botAliasLocaleSettings.{locale_id}.member.enabled"),
                        &Value::Null,
                        "Member must not be null",
                    ));
                }
            }
        }
        Ok(pick_fields(body, ALIAS_FIELDS))
    }

    fn alias_answer(bot_id: &str, alias_id: &str, alias: &Alias, describe: bool) -> Value {
        with(
            alias.def.clone(),
            json!({
                "botAliasId": alias_id,
                "botId": bot_id,
                "botAliasStatus": alias.phase.now(),
                "creationDateTime": alias.created,
                "lastUpdatedDateTime": describe.then_some(alias.updated),
                "botAliasHistoryEvents": describe.then(|| alias.history.clone()),
            }),
        )
    }

    fn create_alias(&mut self, ctx: &Ctx, bot_id: &str, body: &Value, now: f64) -> Answer {
        let bot = self.bot_mut(bot_id)?;
        let def = Self::alias_def(bot, None, body)?;
        let alias = Alias {
            def,
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            updated: now,
            history: Vec::new(),
            tags: tags_of(body.get("tags")),
        };
        let id = new_id();
        let mut answer = Self::alias_answer(bot_id, &id, &alias, false);
        if let Some(obj) = answer.as_object_mut() {
            obj.insert("botAliasStatus".into(), json!("Creating"));
            if let Some(tags) = body.get("tags") {
                obj.insert("tags".into(), tags.clone());
            }
        }
        bot.aliases.insert(id, alias);
        accepted(answer)
    }

    fn describe_alias(&self, bot_id: &str, alias_id: &str) -> Answer {
        let alias = self
            .bot(bot_id, true)?
            .aliases
            .get(alias_id)
            .ok_or_else(|| missing(true, format!("alias '{alias_id}' of bot '{bot_id}'")))?;
        ok(Self::alias_answer(bot_id, alias_id, alias, true))
    }

    fn update_alias(&mut self, bot_id: &str, alias_id: &str, body: &Value, now: f64) -> Answer {
        let bot = self.bot_mut(bot_id)?;
        if !bot.aliases.contains_key(alias_id) {
            return Err(missing(
                false,
                format!("alias '{alias_id}' of bot '{bot_id}'"),
            ));
        }
        let mut def = Self::alias_def(bot, Some(alias_id), body)?;
        let Some(alias) = bot.aliases.get_mut(alias_id) else {
            return Err(missing(false, format!("alias '{alias_id}'")));
        };
        if alias_id == TEST_ALIAS_ID {
            def.insert("botVersion".into(), json!(DRAFT));
        }
        let old_version = alias.def.get("botVersion").cloned();
        if old_version.is_some() && old_version.as_ref() != def.get("botVersion") {
            let start = alias
                .history
                .last()
                .and_then(|e| e.get("endDate").cloned())
                .unwrap_or(json!(alias.created));
            alias.history.push(json!({
                "botVersion": old_version, "startDate": start, "endDate": now,
            }));
        }
        alias.def = def;
        alias.updated = now;
        accepted(Self::alias_answer(bot_id, alias_id, alias, false)).map(|(s, mut v)| {
            if let Some(obj) = v.as_object_mut() {
                obj.insert("lastUpdatedDateTime".into(), json!(now));
            }
            (s, v)
        })
    }

    fn delete_alias(&mut self, bot_id: &str, alias_id: &str) -> Answer {
        let bot = self.bot_mut(bot_id)?;
        if !bot.aliases.contains_key(alias_id) {
            return Err(missing(
                false,
                format!("alias '{alias_id}' of bot '{bot_id}'"),
            ));
        }
        if alias_id == TEST_ALIAS_ID {
            return Err(LexError::Validation(format!(
                "The test alias {TEST_ALIAS_ID} cannot be deleted."
            )));
        }
        bot.aliases.remove(alias_id);
        self.policies
            .remove(&format!("bot-alias/{bot_id}/{alias_id}"));
        accepted(json!({"botAliasId": alias_id, "botId": bot_id, "botAliasStatus": "Deleting"}))
    }

    fn list_aliases(&self, bot_id: &str, body: &Value) -> Answer {
        let items = self
            .bot(bot_id, true)?
            .aliases
            .iter()
            .map(|(id, a)| {
                strip_nulls(json!({
                    "botAliasId": id,
                    "botAliasName": a.def.get("botAliasName"),
                    "description": a.def.get("description"),
                    "botVersion": a.def.get("botVersion"),
                    "botAliasStatus": a.phase.now(),
                    "creationDateTime": a.created,
                    "lastUpdatedDateTime": a.updated,
                }))
            })
            .collect();
        let spec = ListSpec {
            filters: &[],
            sorts: &[],
            default_sort: "creationDateTime",
            not_equals: false,
        };
        list_answer(
            page(items, body, &spec)?,
            "botAliasSummaries",
            json!({"botId": bot_id}),
        )
    }

    // --- tags ------------------------------------------------------------------------------

    /// The tags of the bot or alias an ARN names.
    fn tags_mut(&mut self, arn: &str) -> Result<&mut BTreeMap<String, String>, LexError> {
        let resource = resource_of(arn)?;
        let not_found = || LexError::NotFound(format!("Could not find resource '{arn}'."));
        let parts: Vec<&str> = resource.split('/').collect();
        match parts.as_slice() {
            ["bot", b] => Ok(&mut self.bots.get_mut(*b).ok_or_else(not_found)?.tags),
            ["bot-alias", b, a] => Ok(&mut self
                .bots
                .get_mut(*b)
                .and_then(|bot| bot.aliases.get_mut(*a))
                .ok_or_else(not_found)?
                .tags),
            _ => Err(not_found()),
        }
    }

    fn tag(&mut self, arn: &str, body: &Value) -> Answer {
        let tags = tags_of(Some(required(body, "tags")?));
        self.tags_mut(arn)?.extend(tags);
        ok(json!({}))
    }

    fn untag(&mut self, arn: &str, query: &[(String, String)]) -> Answer {
        let keys: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == "tagKeys")
            .map(|(_, v)| v.as_str())
            .collect();
        let tags = self.tags_mut(arn)?;
        for key in keys {
            tags.remove(key);
        }
        ok(json!({}))
    }

    fn list_tags(&mut self, arn: &str) -> Answer {
        let tags = self.tags_mut(arn)?.clone();
        ok(json!({"tags": tags}))
    }

    // --- resource policies -----------------------------------------------------------------

    /// The policy key of an existing bot or alias.
    fn policy_key(&self, arn: &str) -> Result<String, LexError> {
        let resource = resource_of(arn)?;
        let parts: Vec<&str> = resource.split('/').collect();
        let exists = match parts.as_slice() {
            ["bot", b] => self.bots.contains_key(*b),
            ["bot-alias", b, a] => self
                .bots
                .get(*b)
                .is_some_and(|bot| bot.aliases.contains_key(*a)),
            _ => false,
        };
        if exists {
            Ok(resource)
        } else {
            Err(LexError::NotFound(format!(
                "Could not find resource '{arn}'."
            )))
        }
    }

    fn next_revision(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    fn parse_policy(body: &Value) -> Result<Value, LexError> {
        let text = required(body, "policy")?.as_str().unwrap_or("");
        match serde_json::from_str::<Value>(text) {
            Ok(doc) if doc.get("Statement").is_some() => Ok(doc),
            _ => Err(LexError::Validation(
                "The policy is not valid: it must be a JSON policy document with a Statement."
                    .into(),
            )),
        }
    }

    fn check_revision(policy: &Policy, query: &[(String, String)]) -> Result<(), LexError> {
        match query_value(query, "expectedRevisionId") {
            Some(expected) if expected != policy.revision.to_string() => {
                Err(LexError::PreconditionFailed(format!(
                    "The revision ID '{expected}' does not match the current revision ID '{}' of the policy.",
                    policy.revision
                )))
            }
            _ => Ok(()),
        }
    }

    fn create_policy(&mut self, arn: &str, body: &Value) -> Answer {
        let key = self.policy_key(arn)?;
        let document = Self::parse_policy(body)?;
        if self.policies.contains_key(&key) {
            return Err(LexError::PreconditionFailed(format!(
                "A resource policy already exists for '{arn}'. Use UpdateResourcePolicy."
            )));
        }
        let revision = self.next_revision();
        self.policies.insert(key, Policy { document, revision });
        ok(json!({"resourceArn": arn, "revisionId": revision.to_string()}))
    }

    fn existing_policy(&self, arn: &str) -> Result<(String, &Policy), LexError> {
        let key = self.policy_key(arn)?;
        let policy = self.policies.get(&key).ok_or_else(|| {
            LexError::NotFound(format!("There is no resource policy for '{arn}'."))
        })?;
        Ok((key, policy))
    }

    fn describe_policy(&self, arn: &str) -> Answer {
        let (_, policy) = self.existing_policy(arn)?;
        ok(json!({
            "resourceArn": arn,
            "policy": policy.document.to_string(),
            "revisionId": policy.revision.to_string(),
        }))
    }

    fn update_policy(&mut self, arn: &str, body: &Value, query: &[(String, String)]) -> Answer {
        let document = Self::parse_policy(body)?;
        let (key, policy) = self.existing_policy(arn)?;
        Self::check_revision(policy, query)?;
        let revision = self.next_revision();
        if let Some(p) = self.policies.get_mut(&key) {
            p.document = document;
            p.revision = revision;
        }
        ok(json!({"resourceArn": arn, "revisionId": revision.to_string()}))
    }

    fn delete_policy(&mut self, arn: &str, query: &[(String, String)]) -> Answer {
        let (key, policy) = self.existing_policy(arn)?;
        Self::check_revision(policy, query)?;
        self.policies.remove(&key);
        no_content()
    }

    fn create_statement(&mut self, arn: &str, body: &Value, query: &[(String, String)]) -> Answer {
        let key = self.policy_key(arn)?;
        let sid = required(body, "statementId")?
            .as_str()
            .unwrap_or("")
            .to_string();
        let effect = required(body, "effect")?.clone();
        let actions = required(body, "action")?.clone();
        let principals = required(body, "principal")?
            .as_array()
            .cloned()
            .unwrap_or_default();
        let services: Vec<Value> = principals
            .iter()
            .filter_map(|p| p.get("service").cloned())
            .collect();
        let accounts: Vec<Value> = principals
            .iter()
            .filter_map(|p| p.get("arn").cloned())
            .collect();
        let mut principal = Map::new();
        if !services.is_empty() {
            principal.insert("Service".into(), Value::Array(services));
        }
        if !accounts.is_empty() {
            principal.insert("AWS".into(), Value::Array(accounts));
        }
        let mut statement = json!({
            "Sid": sid, "Effect": effect, "Principal": principal,
            "Action": actions, "Resource": [arn],
        });
        if let Some(condition) = body.get("condition").filter(|c| !c.is_null()) {
            statement["Condition"] = condition.clone();
        }
        if let Some(policy) = self.policies.get(&key) {
            Self::check_revision(policy, query)?;
            let exists = policy.document["Statement"]
                .as_array()
                .is_some_and(|s| s.iter().any(|st| st["Sid"] == sid.as_str()));
            if exists {
                return Err(LexError::Conflict(format!(
                    "A statement with the ID '{sid}' already exists in the policy."
                )));
            }
        }
        let revision = self.put_statement(&key, statement);
        ok(json!({"resourceArn": arn, "revisionId": revision.to_string()}))
    }

    /// Adds (or replaces, by Sid) one statement, creating the policy when there is none.
    fn put_statement(&mut self, key: &str, statement: Value) -> u64 {
        let revision = self.next_revision();
        let policy = self.policies.entry(key.to_string()).or_insert(Policy {
            document: json!({"Version": "2012-10-17", "Statement": []}),
            revision,
        });
        if !policy.document["Statement"].is_array() {
            let single = policy.document["Statement"].take();
            policy.document["Statement"] = json!([single]);
        }
        if let Some(statements) = policy.document["Statement"].as_array_mut() {
            statements.retain(|s| s["Sid"] != statement["Sid"]);
            statements.push(statement);
        }
        policy.revision = revision;
        revision
    }

    /// Removes one statement by Sid; deletes the policy when it was the last. `None` when
    /// there was no such statement.
    fn remove_statement(&mut self, key: &str, sid: &str) -> Option<u64> {
        let policy = self.policies.get_mut(key)?;
        let statements = policy.document["Statement"].as_array_mut()?;
        let before = statements.len();
        statements.retain(|s| s["Sid"] != sid);
        if statements.len() == before {
            return None;
        }
        let empty = statements.is_empty();
        let revision = self.next_revision();
        if empty {
            self.policies.remove(key);
        } else if let Some(policy) = self.policies.get_mut(key) {
            policy.revision = revision;
        }
        Some(revision)
    }

    fn delete_statement(&mut self, arn: &str, sid: &str, query: &[(String, String)]) -> Answer {
        let (key, policy) = self.existing_policy(arn)?;
        Self::check_revision(policy, query)?;
        self.remove_statement(&key, sid).ok_or_else(|| {
            LexError::NotFound(format!(
                "There is no statement '{sid}' in the policy of '{arn}'."
            ))
        })?;
        no_content()
    }

    /// See [`super::Lex::connect_association`].
    pub fn connect_association(
        &mut self,
        alias_arn: &str,
        instance_arn: &str,
        account: &str,
        add: bool,
    ) -> Result<(), LexError> {
        let key = self.policy_key(alias_arn)?;
        if !key.starts_with("bot-alias/") {
            return Err(LexError::Validation(format!(
                "'{alias_arn}' is not a bot alias ARN."
            )));
        }
        let sid = connect_statement_id(instance_arn);
        if add {
            let statement = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": ["connect.amazonaws.com"]},
                "Action": ["lex:RecognizeText", "lex:StartConversation"],
                "Resource": [alias_arn],
                "Condition": {
                    "StringEquals": {"AWS:SourceAccount": account},
                    "ArnEquals": {"AWS:SourceArn": instance_arn},
                },
            });
            self.put_statement(&key, statement);
        } else {
            self.remove_statement(&key, &sid);
        }
        Ok(())
    }
}

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

/// The Sid of the statement a Connect instance's bot association writes. Connect's own Sid is
/// not documented; this one is derived from the instance id so each instance has its own.
pub fn connect_statement_id(instance_arn: &str) -> String {
    let instance = instance_arn.rsplit('/').next().unwrap_or(instance_arn);
    let clean: String = instance
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("connect-{clean}")
}

/// Drops null members (absent optional fields are left out on the wire).
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(delay_ms: u64) -> Ctx {
        Ctx {
            delay: Duration::from_millis(delay_ms),
            forced_build_failure: false,
        }
    }

    fn call(m: &mut Models, ctx: &Ctx, method: Method, path: &str, body: Value) -> Answer {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let route = route(&method, path).expect("a known route");
        let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        m.apply(ctx, &route, &query, body)
    }

    fn bot_body(name: &str) -> Value {
        json!({
            "botName": name,
            "roleArn": "arn:aws:iam::123456789012:role/resetpw/x-bot",
            "dataPrivacy": {"childDirected": false},
            "idleSessionTTLInSeconds": 300,
        })
    }

    /// A bot with an en_US locale (no delay), returning its id.
    fn bot_with_locale(m: &mut Models, ctx: &Ctx, name: &str) -> String {
        let (_, bot) = call(m, ctx, Method::PUT, "/bots", bot_body(name)).unwrap();
        let id = bot["botId"].as_str().unwrap().to_string();
        call(
            m,
            ctx,
            Method::PUT,
            &format!("/bots/{id}/botversions/DRAFT/botlocales/"),
            json!({"localeId": "en_US", "nluIntentConfidenceThreshold": 0.4,
                   "voiceSettings": {"voiceId": "Joanna"}}),
        )
        .unwrap();
        id
    }

    #[test]
    fn routes_name_operations_with_and_without_trailing_slashes() {
        let cases = [
            (Method::PUT, "/bots", "CreateBot"),
            (Method::POST, "/bots/", "ListBots"),
            (Method::GET, "/bots/ABCDEFGHIJ/", "DescribeBot"),
            (
                Method::POST,
                "/bots/B/botversions/DRAFT/botlocales/en_US",
                "BuildBotLocale",
            ),
            (
                Method::POST,
                "/bots/B/botversions/DRAFT/botlocales/en_US/intents/",
                "ListIntents",
            ),
            (
                Method::PUT,
                "/bots/B/botversions/DRAFT/botlocales/en_US/intents/I/slots",
                "CreateSlot",
            ),
            (Method::DELETE, "/bots/B/botversions/1", "DeleteBotVersion"),
            (Method::PUT, "/bots/B/botaliases/A/", "UpdateBotAlias"),
            (
                Method::GET,
                "/tags/arn%3Aaws%3Alex%3Aus-east-1%3A123456789012%3Abot%2FB",
                "ListTagsForResource",
            ),
            (
                Method::DELETE,
                "/policy/arn%3Aaws%3Alex%3Aus-east-1%3A1%3Abot-alias%2FB%2FA/",
                "DeleteResourcePolicy",
            ),
            (
                Method::POST,
                "/policy/arn%3Aaws%3Alex%3Ax%3A1%3Abot%2FB/statements/",
                "CreateResourcePolicyStatement",
            ),
        ];
        for (method, path, op) in cases {
            assert_eq!(
                route(&method, path).map(|r| r.operation),
                Some(op),
                "{method} {path}"
            );
        }
        let tags = route(
            &Method::GET,
            "/tags/arn%3Aaws%3Alex%3Aus-east-1%3A123456789012%3Abot-alias%2FB%2FA",
        )
        .unwrap();
        assert_eq!(
            tags.ids,
            ["arn:aws:lex:us-east-1:123456789012:bot-alias/B/A"]
        );
        assert_eq!(route(&Method::PATCH, "/bots/B"), None);
        assert_eq!(
            route(
                &Method::POST,
                "/bots/B/botAliases/A/botLocales/en_US/sessions/s/text"
            ),
            None,
            "runtime is not model building"
        );
    }

    #[test]
    fn ids_are_ten_uppercase_alphanumerics() {
        for _ in 0..100 {
            let id = new_id();
            assert_eq!(id.len(), 10);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
                "{id}"
            );
        }
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn names_follow_lex_pattern() {
        for good in ["resetpw", "x-resetpw", "Reset_PW1", "a"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "-a", "a--b", "a b", "ä", &"a".repeat(101)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn statuses_move_after_the_delay() {
        let phase = Phase::moving("Creating", "Available", Duration::from_millis(30));
        assert_eq!(phase.now(), "Creating");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(phase.now(), "Available");
        assert_eq!(Phase::settled("Built").now(), "Built");

        let mut m = Models::default();
        let slow = ctx(60_000);
        let (status, bot) = call(&mut m, &slow, Method::PUT, "/bots/", bot_body("slow")).unwrap();
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(bot["botStatus"], "Creating");
        let id = bot["botId"].as_str().unwrap();
        let (_, described) = call(
            &mut m,
            &slow,
            Method::GET,
            &format!("/bots/{id}"),
            json!({}),
        )
        .unwrap();
        assert_eq!(described["botStatus"], "Creating", "still within the delay");
    }

    #[test]
    fn builds_end_built_and_changes_make_the_locale_not_built() {
        let mut m = Models::default();
        let now = ctx(0);
        let id = bot_with_locale(&mut m, &now, "b1");
        let locale = format!("/bots/{id}/botversions/DRAFT/botlocales/en_US");
        let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
        assert_eq!(l["botLocaleStatus"], "NotBuilt");
        assert_eq!(
            l["voiceSettings"]["engine"], "standard",
            "service-filled default"
        );
        assert_eq!(l["intentsCount"], 1, "FallbackIntent comes with the locale");
        let (_, b) = call(&mut m, &now, Method::POST, &locale, json!({})).unwrap();
        assert_eq!(b["botLocaleStatus"], "Building");
        let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
        assert_eq!(l["botLocaleStatus"], "Built");
        call(
            &mut m,
            &now,
            Method::PUT,
            &format!("{locale}/intents"),
            json!({"intentName": "ResetPW", "sampleUtterances": [{"utterance": "reset my password"}]}),
        )
        .unwrap();
        let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
        assert_eq!(l["botLocaleStatus"], "NotBuilt");
    }

    #[test]
    fn a_locale_that_cannot_be_built_fails_with_reasons() {
        let mut m = Models::default();
        let now = ctx(0);
        let id = bot_with_locale(&mut m, &now, "b2");
        let locale = format!("/bots/{id}/botversions/DRAFT/botlocales/en_US");
        let (_, intent) = call(
            &mut m,
            &now,
            Method::PUT,
            &format!("{locale}/intents"),
            json!({"intentName": "NoUtterances"}),
        )
        .unwrap();
        let intent_id = intent["intentId"].as_str().unwrap();
        call(
            &mut m,
            &now,
            Method::PUT,
            &format!("{locale}/intents/{intent_id}/slots"),
            json!({"slotName": "Orphan", "slotTypeId": "MISSINGTYP",
                   "valueElicitationSetting": {"slotConstraint": "Required"}}),
        )
        .unwrap();
        call(&mut m, &now, Method::POST, &locale, json!({})).unwrap();
        let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
        assert_eq!(l["botLocaleStatus"], "Failed");
        let reasons = l["failureReasons"].to_string();
        assert!(
            reasons.contains("'NoUtterances' has no sample utterances"),
            "{reasons}"
        );
        assert!(
            reasons.contains("'MISSINGTYP', which does not exist"),
            "{reasons}"
        );
        assert!(
            reasons.contains("'Orphan' in intent 'NoUtterances' is required but has no prompt"),
            "{reasons}"
        );

        let forced = Ctx {
            delay: Duration::ZERO,
            forced_build_failure: true,
        };
        let id = bot_with_locale(&mut m, &now, "b3");
        let locale = format!("/bots/{id}/botversions/DRAFT/botlocales/en_US");
        call(&mut m, &forced, Method::POST, &locale, json!({})).unwrap();
        let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
        assert_eq!(l["botLocaleStatus"], "Failed");
        assert!(l["failureReasons"].to_string().contains("fault rule"));
    }

    #[test]
    fn prompts_get_the_service_filled_defaults() {
        let mut spec = json!({"messageGroups": [], "maxRetries": 2});
        fill_prompt_specification(&mut spec);
        assert_eq!(spec["allowInterrupt"], true);
        assert_eq!(spec["messageSelectionStrategy"], "Random");
        let attempts = spec["promptAttemptsSpecification"].as_object().unwrap();
        let keys: Vec<&String> = attempts.keys().collect();
        assert_eq!(keys, ["Initial", "Retry1", "Retry2"]);
        assert_eq!(
            attempts["Retry2"]["audioAndDTMFInputSpecification"]["dtmfSpecification"]["maxLength"],
            513
        );
        let mut given = json!({"maxRetries": 1, "allowInterrupt": false, "promptAttemptsSpecification": {"Initial": {}}});
        fill_prompt_specification(&mut given);
        assert_eq!(
            given["allowInterrupt"], false,
            "what the caller sent is kept"
        );
        assert_eq!(given["promptAttemptsSpecification"], json!({"Initial": {}}));
    }

    #[test]
    fn lists_filter_sort_and_page() {
        let items: Vec<Value> = ["delta", "alpha", "charlie", "bravo", "echo"]
            .iter()
            .map(|n| json!({"botName": n}))
            .collect();
        let spec = ListSpec {
            filters: &[("BotName", "botName")],
            sorts: &[("BotName", "botName")],
            default_sort: "botName",
            not_equals: false,
        };
        let first = page(items.clone(), &json!({"maxResults": 2}), &spec).unwrap();
        assert_eq!(
            first["items"],
            json!([{"botName": "alpha"}, {"botName": "bravo"}])
        );
        let token = first["nextToken"].as_str().unwrap();
        let second = page(
            items.clone(),
            &json!({"maxResults": 2, "nextToken": token}),
            &spec,
        )
        .unwrap();
        assert_eq!(second["items"][0]["botName"], "charlie");
        let last = page(
            items.clone(),
            &json!({"maxResults": 2, "nextToken": second["nextToken"]}),
            &spec,
        )
        .unwrap();
        assert_eq!(last["items"], json!([{"botName": "echo"}]));
        assert!(last["nextToken"].is_null());
        let desc = page(
            items.clone(),
            &json!({"sortBy": {"attribute": "BotName", "order": "Descending"}}),
            &spec,
        )
        .unwrap();
        assert_eq!(desc["items"][0]["botName"], "echo");
        let co = page(
            items.clone(),
            &json!({"filters": [{"name": "BotName", "values": ["ar"], "operator": "CO"}]}),
            &spec,
        )
        .unwrap();
        assert_eq!(co["items"], json!([{"botName": "charlie"}]));
        let eq = page(
            items.clone(),
            &json!({"filters": [{"name": "BotName", "values": ["echo"], "operator": "EQ"}]}),
            &spec,
        )
        .unwrap();
        assert_eq!(eq["items"].as_array().unwrap().len(), 1);
        let bad = page(items, &json!({"nextToken": "nonsense"}), &spec);
        assert!(matches!(bad, Err(LexError::Validation(_))));
    }

    #[test]
    fn validation_errors_name_the_field() {
        let mut m = Models::default();
        let now = ctx(0);
        let mut body = bot_body("ok");
        body["idleSessionTTLInSeconds"] = json!(5);
        let err = call(&mut m, &now, Method::PUT, "/bots", body).unwrap_err();
        assert!(
            err.to_string().contains("at 'idleSessionTTLInSeconds'"),
            "{err}"
        );
        let err = call(&mut m, &now, Method::PUT, "/bots", bot_body("bad name")).unwrap_err();
        assert_eq!(err.code(), "ValidationException");
        assert!(err.to_string().contains("at 'botName'"), "{err}");
        call(&mut m, &now, Method::PUT, "/bots", bot_body("dup")).unwrap();
        let err = call(&mut m, &now, Method::PUT, "/bots", bot_body("dup")).unwrap_err();
        assert_eq!(err.status(), StatusCode::CONFLICT);
        let err = call(&mut m, &now, Method::GET, "/bots/NOSUCHBOT0", json!({})).unwrap_err();
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        let err = call(&mut m, &now, Method::DELETE, "/bots/NOSUCHBOT0", json!({})).unwrap_err();
        assert_eq!(err.status(), StatusCode::PRECONDITION_FAILED);
    }

    #[test]
    fn connect_association_adds_and_removes_its_statement() {
        let mut m = Models::default();
        let now = ctx(0);
        let id = bot_with_locale(&mut m, &now, "assoc");
        let alias = format!("arn:aws:lex:us-east-1:123456789012:bot-alias/{id}/TSTALIASID");
        let instance = "arn:aws:connect:us-east-1:123456789012:instance/1111-2222";
        m.connect_association(&alias, instance, "123456789012", true)
            .unwrap();
        let (_, p) = m.describe_policy(&alias).unwrap();
        let doc: Value = serde_json::from_str(p["policy"].as_str().unwrap()).unwrap();
        assert_eq!(
            doc["Statement"][0]["Principal"]["Service"][0],
            "connect.amazonaws.com"
        );
        assert_eq!(
            doc["Statement"][0]["Condition"]["ArnEquals"]["AWS:SourceArn"],
            instance
        );
        let first = p["revisionId"].as_str().unwrap().to_string();
        m.connect_association(&alias, instance, "123456789012", true)
            .unwrap();
        let (_, p) = m.describe_policy(&alias).unwrap();
        assert_ne!(
            p["revisionId"],
            first.as_str(),
            "a new revision each change"
        );
        let doc: Value = serde_json::from_str(p["policy"].as_str().unwrap()).unwrap();
        assert_eq!(
            doc["Statement"].as_array().unwrap().len(),
            1,
            "not duplicated"
        );
        m.connect_association(&alias, instance, "123456789012", false)
            .unwrap();
        assert!(matches!(
            m.describe_policy(&alias),
            Err(LexError::NotFound(_))
        ));
        let missing = format!("arn:aws:lex:us-east-1:123456789012:bot-alias/{id}/NOSUCHALIA");
        assert!(m
            .connect_association(&missing, instance, "123456789012", true)
            .is_err());
    }
}
