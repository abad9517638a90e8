//! Lex V2 (signing name `lex`): the model-building API (bots, locales, slot types, intents,
//! slots, builds, versions, aliases, tags, resource policies), one file per resource family
//! below, with the routes, the in-memory state and the helpers they share in this file; the
//! runtime in [`runtime`] (RecognizeText, PutSession, GetSession, DeleteSession), which executes
//! the bots as built and calls their code hooks through the emulator's Lambda Invoke.
//!
//! Everything is kept in memory, one state per emulator process (so per port). Answers follow
//! the restJson1 wire of the real service: camelCase JSON, epoch-second timestamps, errors as
//! `x-amzn-errortype` plus `{"message"}` with the service's HTTP status.
//!
//! # Model building
//! Routes are the real REST paths (the Rust SDK sends them without a trailing slash, botocore
//! with one; both are accepted). Ids are 10 uppercase alphanumeric characters, timestamps epoch
//! seconds. Each resource keeps what the caller sent (its definition) plus what the service
//! adds, so a Describe answers the definition back with the service-filled defaults below.
//!
//! ## Service-filled defaults
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
//! ## Validation beyond the shapes
//! A slot type's `valueSelectionSetting` (the strategy's enum; a `regexFilter` pattern of
//! 1-300 characters without the operators the model's documentation calls unsupported: `*`,
//! `+`, `{x,}`, `.`), its `parentSlotTypeSignature` (only `AMAZON.AlphaNumeric`, as the model
//! documents), and a slot's `obfuscationSetting.obfuscationSettingType` (`None` |
//! `DefaultObfuscation`) are checked on create and update.
//!
//! ## Statuses
//! Asynchronous changes take the configured delay: bots, versions and aliases `Creating` →
//! `Available`; a new locale `Creating` → `NotBuilt`; a build `Building` → `Built`, or `Failed`
//! with `failureReasons` when the locale cannot be built (an intent without sample utterances, a
//! slot whose custom slot type does not exist, a required slot without a prompt) or a fault
//! rule forces it. Any change to a DRAFT locale (the locale, its slot types, intents or slots)
//! sets it back to `NotBuilt`. Deletions take effect at once (the answer says `Deleting`).
//!
//! ## Errors
//! Reads of something missing: `ResourceNotFoundException` (404). Changes to something missing:
//! `PreconditionFailedException` (412), as the model lists no ResourceNotFoundException for
//! Update*/Delete*/Create* under a parent. A name already used, a build already running, a
//! version or slot type still in use: `ConflictException` (409). Bad input:
//! `ValidationException` (400) in AWS's "1 validation error detected" form. The message texts
//! are this emulator's own; Lex's exact wording was not found.

mod aliases;
mod bots;
mod builds;
mod intents;
mod lists;
mod locales;
mod policies;
pub mod runtime;
pub mod served;
mod slot_types;
#[cfg(test)]
mod tests;
mod versions;

use super::lambda::Lambda;
use super::{not_implemented, Request};
use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Environment variable with the delay, in milliseconds, of Lex's asynchronous status changes
/// (Creating → Available, Building → Built, ...). Also `local-cloud --lex-delay-ms`.
pub const DELAY_ENV: &str = "LOCAL_CLOUD_LEX_DELAY_MS";
/// The delay when none is configured: short, so waits are exercised without slowing tests.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(200);
/// The code of a fault rule on operation `BuildBotLocale` that makes the build be accepted and
/// then end `Failed` (instead of answering an error): `{"service":"lex",
/// "operation":"BuildBotLocale","status":400,"code":"BuildFailed"}`.
pub const FORCED_BUILD_FAILURE: &str = "BuildFailed";

/// The operation a REST route names, for the call record (`ListBots` for `POST /bots/`).
pub fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    route(method, path)
        .map(|r| r.operation)
        .or_else(|| runtime::route(method, path).map(|r| r.operation))
}

/// An error answer of the Lex V2 API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LexError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    Validation(String),
    /// The runtime's answer when the code hook Lambda fails or answers nonsense.
    #[error("{0}")]
    DependencyFailed(String),
}

impl LexError {
    pub fn code(&self) -> &'static str {
        match self {
            LexError::NotFound(_) => "ResourceNotFoundException",
            LexError::Conflict(_) => "ConflictException",
            LexError::PreconditionFailed(_) => "PreconditionFailedException",
            LexError::Validation(_) => "ValidationException",
            LexError::DependencyFailed(_) => "DependencyFailedException",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            LexError::NotFound(_) => StatusCode::NOT_FOUND,
            LexError::Conflict(_) => StatusCode::CONFLICT,
            LexError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            LexError::Validation(_) => StatusCode::BAD_REQUEST,
            LexError::DependencyFailed(_) => StatusCode::FAILED_DEPENDENCY,
        }
    }

    fn response(&self) -> Response<Body> {
        json_response(
            self.status(),
            &serde_json::json!({"message": self.to_string()}),
            Some(self.code()),
        )
    }
}

/// The Lex V2 state of one emulator.
pub struct Lex {
    models: Mutex<Models>,
    sessions: runtime::Sessions,
    delay_ms: AtomicU64,
}

impl Default for Lex {
    fn default() -> Self {
        let delay = std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_DELAY, Duration::from_millis);
        let lex = Lex {
            models: Mutex::new(Models::default()),
            sessions: runtime::Sessions::default(),
            delay_ms: AtomicU64::new(0),
        };
        lex.set_delay(delay);
        lex
    }
}

impl Lex {
    /// How long asynchronous status changes take from now on.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::Relaxed);
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::Relaxed))
    }

    pub async fn handle(&self, request: Request<'_>, lambda: &Lambda) -> Response<Body> {
        let (path, query) = request
            .path_and_query
            .split_once('?')
            .unwrap_or((request.path_and_query, ""));
        let body: Value = if request.body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            match serde_json::from_slice(&request.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return LexError::Validation("The request body is not a JSON object.".into())
                        .response()
                }
            }
        };
        if let Some(route) = runtime::route(request.method, path) {
            return self.run(&route, &body, lambda).await;
        }
        let Some(route) = route(request.method, path) else {
            return not_implemented(request.call);
        };
        let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let ctx = Ctx {
            delay: request.transition.unwrap_or_else(|| self.delay()),
            forced_build_failure: request.fault.as_deref() == Some(FORCED_BUILD_FAILURE),
        };
        let answer = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .apply(&ctx, &route, &query, body);
        match answer {
            Ok((status, value)) => json_response(status, &value, None),
            Err(err) => err.response(),
        }
    }

    /// A runtime operation on the alias's built locale (the model lock is not held while a code
    /// hook runs).
    async fn run(&self, route: &runtime::Route, body: &Value, lambda: &Lambda) -> Response<Body> {
        let served = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .served(&route.bot, &route.alias, &route.locale);
        let answer = match served {
            Ok(served) => runtime::execute(&self.sessions, lambda, route, served, body).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok(runtime::Answer::Json(value)) => json_response(StatusCode::OK, &value, None),
            Ok(runtime::Answer::Headers(headers)) => {
                let mut builder = Response::builder()
                    .status(StatusCode::OK)
                    .header("x-amzn-requestid", format!("{:032x}", fastrand::u128(..)));
                for (name, value) in headers {
                    builder = builder.header(name, value);
                }
                builder.body(Body::empty()).unwrap_or_default()
            }
            Err(err) => err.response(),
        }
    }

    /// RecognizeText from inside the emulator (a contact flow's Lex block): the runtime's JSON
    /// answer, or its error.
    pub async fn recognize_text(
        &self,
        lambda: &Lambda,
        bot: &str,
        alias: &str,
        locale: &str,
        session: &str,
        body: &Value,
    ) -> Result<Value, LexError> {
        let route = runtime::Route {
            operation: "RecognizeText",
            bot: bot.into(),
            alias: alias.into(),
            locale: locale.into(),
            session: session.into(),
        };
        let served = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .served(&route.bot, &route.alias, &route.locale)?;
        match runtime::execute(&self.sessions, lambda, &route, served, body).await? {
            runtime::Answer::Json(v) => Ok(v),
            runtime::Answer::Headers(_) => Err(LexError::Validation(
                "RecognizeText answered no body".into(),
            )),
        }
    }

    /// What Connect's AssociateBot / DisassociateBot do to the bot alias's resource policy:
    /// with `add`, a statement letting `connect.amazonaws.com` call lex:RecognizeText and
    /// lex:StartConversation on `alias_arn` under the conditions AWS:SourceAccount = `account`
    /// and AWS:SourceArn = `instance_arn` (creating the policy or a new revision); without it,
    /// that statement removed (and the policy deleted when it was the last one). An error when
    /// the alias does not exist (Connect answers InvalidRequestException then).
    #[allow(dead_code)] // called by the Connect handlers as they arrive
    pub fn connect_association(
        &self,
        alias_arn: &str,
        instance_arn: &str,
        account: &str,
        add: bool,
    ) -> Result<(), String> {
        self.models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .connect_association(alias_arn, instance_arn, account, add)
            .map_err(|e| e.to_string())
    }
}

fn json_response(status: StatusCode, value: &Value, error: Option<&str>) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", format!("{:032x}", fastrand::u128(..)));
    if let Some(code) = error {
        builder = builder.header("x-amzn-errortype", code);
    }
    builder
        .body(Body::from(value.to_string()))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The models: routes, state, and what the families share

pub const DRAFT: &str = "DRAFT";
pub const TEST_ALIAS_ID: &str = "TSTALIASID";
pub const TEST_ALIAS_NAME: &str = "TestBotAlias";
pub const FALLBACK_INTENT_ID: &str = "FALLBCKINT";

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
