//! Lex V2 runtime (signing name `lex`, like the model-building API): RecognizeText, PutSession,
//! GetSession and DeleteSession on a bot alias, executing the locale *as built* in the version the
//! alias serves (DRAFT for `TSTALIASID`), never a stack file.
//!
//! One turn of RecognizeText:
//! - an intent waiting for a slot (`ElicitSlot`) takes the text as that slot's value, resolved by
//!   the slot's type ([`resolve`]; a custom type with the parent AMAZON.AlphaNumeric takes a
//!   value only when all of it matches the type's `regexFilter`, digits typed, grouped or said
//!   as words); a value that does not resolve re-prompts the slot, and past
//!   the prompt's `maxRetries` the intent ends `Failed`. An intent waiting for a confirmation
//!   takes yes/no. Otherwise the text is classified ([`classify`]): the intent whose sample
//!   utterances share the most normalized tokens with it (Dice coefficient of token sets,
//!   `{Slot}` references left out), or `FallbackIntent` below the locale's
//!   `nluIntentConfidenceThreshold`;
//! - the next step is the first unfilled required slot in the intent's `slotPriorities` order
//!   (elicited with its prompt), then the intent's confirmation prompt if it has an active one,
//!   then fulfillment;
//! - with the intent's `dialogCodeHook.enabled` and a Lambda on the alias's locale settings, the
//!   Lambda gets the Lex V2 event ([`event`]: `DialogCodeHook`) through the emulator's own Invoke
//!   after every input of the intent — also the one that fills the last required slot (or
//!   answers the confirmation), before fulfillment — and its answer is applied ([`apply`]:
//!   `ElicitSlot`, `Delegate`, `Close`, `ConfirmIntent`, `ElicitIntent`, messages, session
//!   attributes, slots); a `Delegate` there goes on to fulfillment. The event carries
//!   `proposedNextState` when Lex would elicit a slot or confirm, none when it would fulfill.
//!   Sources: the Lex V2 Lambda input format ("DialogCodeHook: called after input from the
//!   user"), the Lambda developer guide's Lex page ("for validation, Amazon Lex invokes the
//!   Lambda function after each response from the user"), and the API's `SlotCaptureSetting.
//!   codeHook` ("called after Amazon Lex successfully captures a slot value"), which the
//!   intent-level switch turns on for every step. That no `proposedNextState` comes with the
//!   turn before fulfillment is assumed, not verified. An
//!   `ElicitSlot` may carry `slotElicitationStyle` (`Default`, `SpellByLetter`, `SpellByWord`):
//!   it is kept in the answered `dialogAction`, and the next text is heard in that style
//!   ([`spelled`]: "j d o e" → "jdoe");
//! - fulfillment: with `fulfillmentCodeHook.enabled`, the `FulfillmentCodeHook` event, intent
//!   state `ReadyForFulfillment`, and the Lambda's answer applied; without it the intent ends
//!   `Fulfilled` with its closing response (`FallbackIntent` without a hook ends
//!   `ReadyForFulfillment`, as Lex leaves it to the client).
//!
//! Messages are the first message group's message (plain text or SSML; variations and the
//! `Random` strategy are not played out). Sessions are kept per (bot, alias, locale, session id)
//! and forgotten after the bot's `idleSessionTTLInSeconds` of idleness.
//!
//! Errors: an unknown bot, alias or locale, or a locale the alias does not enable:
//! `ResourceNotFoundException` 404. A locale that is not built in the version the alias serves
//! (a DRAFT locale `NotBuilt`, `Building` or `Failed`): `ResourceNotFoundException` too, with a
//! message saying so — the error Lex answers there was not found documented (Lex's runtime models
//! no "not built" error; its docs say BadRequestException for a locale the alias lacks), so this
//! is the closest modeled one. A Lambda that fails (function error, crash, timeout, not found) or
//! answers something that is no Lex V2 response: `DependencyFailedException` 424, `Invalid
//! Lambda Response: Received error response from Lambda: Unhandled` (the text Lex gives, as
//! reported by users) or `... Received invalid response from Lambda: ...`. A text over 1024
//! characters or a bad session id: `ValidationException`.
//!
//! Unfilled slots are `null` in the Lambda event, as Lex sends them, but left out of the runtime
//! answers: the Rust SDK reads `slots` as a dense map and refuses null values.

use super::served::{Served, ServedIntent};
use super::LexError;
use crate::own::lambda::Lambda;
use axum::http::Method;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FALLBACK: &str = "FallbackIntent";

/// A runtime route: its operation and the bot, alias, locale and session it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub operation: &'static str,
    pub bot: String,
    pub alias: String,
    pub locale: String,
    pub session: String,
}

/// The runtime operation of a REST request (`/bots/{b}/botAliases/{a}/botLocales/{l}/sessions/
/// {s}[/text]`), or `None`.
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
    let (operation, ids) = match (method.as_str(), s.as_slice()) {
        ("POST", ["bots", b, "botAliases", a, "botLocales", l, "sessions", x, "text"]) => {
            ("RecognizeText", [b, a, l, x])
        }
        ("POST", ["bots", b, "botAliases", a, "botLocales", l, "sessions", x]) => {
            ("PutSession", [b, a, l, x])
        }
        ("GET", ["bots", b, "botAliases", a, "botLocales", l, "sessions", x]) => {
            ("GetSession", [b, a, l, x])
        }
        ("DELETE", ["bots", b, "botAliases", a, "botLocales", l, "sessions", x]) => {
            ("DeleteSession", [b, a, l, x])
        }
        _ => return None,
    };
    Some(Route {
        operation,
        bot: ids[0].to_string(),
        alias: ids[1].to_string(),
        locale: ids[2].to_string(),
        session: ids[3].to_string(),
    })
}

/// One conversation's state.
#[derive(Debug, Clone)]
struct Session {
    /// `sessionState` as Lex answers it (dialogAction, intent, sessionAttributes, ...).
    state: Value,
    messages: Vec<Value>,
    interpretations: Vec<Value>,
    /// Failed attempts at the slot being elicited.
    attempts: u32,
    touched: Instant,
}

impl Session {
    fn new() -> Session {
        Session {
            state: json!({"sessionAttributes": {}}),
            messages: Vec::new(),
            interpretations: Vec::new(),
            attempts: 0,
            touched: Instant::now(),
        }
    }
}

type Key = (String, String, String, String);

/// Every open session of one emulator.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<Key, Session>>,
}

fn key(route: &Route) -> Key {
    (
        route.bot.clone(),
        route.alias.clone(),
        route.locale.clone(),
        route.session.clone(),
    )
}

impl Sessions {
    fn take(&self, key: &Key, ttl: Duration) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.touched.elapsed() <= ttl.max(Duration::from_secs(60)));
        map.get(key).cloned()
    }

    fn put(&self, key: Key, mut session: Session) {
        session.touched = Instant::now();
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, session);
    }

    fn remove(&self, key: &Key) -> Option<Session> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
    }
}

/// What a runtime operation answers: a JSON body, or (PutSession) headers with an empty body.
pub enum Answer {
    Json(Value),
    Headers(Vec<(&'static str, String)>),
}

fn check_session_id(id: &str) -> Result<(), LexError> {
    let ok = (2..=100).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok {
        Ok(())
    } else {
        Err(LexError::Validation(format!(
            "1 validation error detected: Value '{id}' at 'sessionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z._:-]+"
        )))
    }
}

/// Runs one runtime operation. `served` is the alias's built locale (looked up by the caller).
pub async fn execute(
    sessions: &Sessions,
    lambda: &Lambda,
    route: &Route,
    served: Served,
    body: &Value,
) -> Result<Answer, LexError> {
    check_session_id(&route.session)?;
    let ttl = Duration::from_secs(served.idle_ttl_seconds);
    let key = key(route);
    match route.operation {
        "RecognizeText" => {
            if served.locale_status != "Built" {
                return Err(LexError::NotFound(format!(
                    "The locale '{}' of bot '{}' version '{}' is not built ({}). Build it (BuildBotLocale) before sending it text.",
                    route.locale, route.bot, served.version, served.locale_status
                )));
            }
            let text = body.get("text").and_then(Value::as_str).unwrap_or("");
            if text.is_empty() || text.chars().count() > 1024 {
                return Err(LexError::Validation(
                    "1 validation error detected: Value at 'text' failed to satisfy constraint: Member must have length between 1 and 1024".into(),
                ));
            }
            let mut session = sessions.take(&key, ttl).unwrap_or_else(Session::new);
            if let Some(state) = body.get("sessionState").filter(|s| s.is_object()) {
                merge_state(&mut session.state, state);
            }
            let request_attributes = body.get("requestAttributes").cloned().unwrap_or(json!({}));
            let turn = Turn {
                served: &served,
                route,
                lambda,
                text,
                request_attributes: &request_attributes,
            };
            let answer = turn.run(&mut session).await?;
            sessions.put(key, session);
            Ok(Answer::Json(answer))
        }
        "PutSession" => {
            let state = body
                .get("sessionState")
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    LexError::Validation(
                        "1 validation error detected: Value null at 'sessionState' failed to satisfy constraint: Member must not be null".into(),
                    )
                })?;
            let mut session = Session::new();
            merge_state(&mut session.state, state);
            session.messages = body
                .get("messages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let headers = vec![
                ("content-type", "text/plain; charset=utf-8".to_string()),
                ("x-amz-lex-session-id", route.session.clone()),
                (
                    "x-amz-lex-session-state",
                    compressed(&answer_state(&session.state)),
                ),
                ("x-amz-lex-messages", compressed(&json!(session.messages))),
                (
                    "x-amz-lex-request-attributes",
                    compressed(body.get("requestAttributes").unwrap_or(&json!({}))),
                ),
            ];
            sessions.put(key, session);
            Ok(Answer::Headers(headers))
        }
        "GetSession" => {
            let session = sessions.take(&key, ttl).ok_or_else(|| no_session(route))?;
            Ok(Answer::Json(strip_empty(json!({
                "sessionId": route.session,
                "messages": session.messages,
                "interpretations": session.interpretations,
                "sessionState": answer_state(&session.state),
            }))))
        }
        "DeleteSession" => {
            sessions.remove(&key).ok_or_else(|| no_session(route))?;
            Ok(Answer::Json(json!({
                "botId": route.bot, "botAliasId": route.alias,
                "localeId": route.locale, "sessionId": route.session,
            })))
        }
        op => Err(LexError::Validation(format!(
            "{op} is not supported by the local cloud"
        ))),
    }
}

fn no_session(route: &Route) -> LexError {
    LexError::NotFound(format!(
        "Could not find session '{}' of bot '{}' alias '{}' locale '{}'.",
        route.session, route.bot, route.alias, route.locale
    ))
}

/// A JSON value gzipped and base64-encoded, as Lex's `x-amz-lex-*` headers carry them.
pub fn compressed(value: &Value) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(value.to_string().as_bytes());
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The request's `sessionState` fields replace the stored ones.
fn merge_state(stored: &mut Value, given: &Value) {
    if let (Some(stored), Some(given)) = (stored.as_object_mut(), given.as_object()) {
        for (k, v) in given {
            if !v.is_null() {
                stored.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The session state as the runtime answers it: unfilled (null) slots left out.
fn answer_state(state: &Value) -> Value {
    let mut state = state.clone();
    if let Some(slots) = state
        .pointer_mut("/intent/slots")
        .and_then(Value::as_object_mut)
    {
        slots.retain(|_, v| !v.is_null());
    }
    state
}

fn strip_empty(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Classification

/// Lowercase alphanumeric tokens (apostrophes dropped: "what's" → "whats").
pub fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('\'', "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Dice coefficient of the two token sets (1.0 identical, 0.0 nothing shared).
pub fn similarity(a: &[String], b: &[String]) -> f64 {
    let a: std::collections::BTreeSet<&String> = a.iter().collect();
    let b: std::collections::BTreeSet<&String> = b.iter().collect();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(&b).count();
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

/// A sample utterance's tokens without its `{Slot}` references.
fn sample_tokens(sample: &str) -> Vec<String> {
    let mut out = String::new();
    let mut depth = 0;
    for c in sample.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = (depth - 1).max(0),
            c if depth == 0 => out.push(c),
            _ => out.push(' '),
        }
    }
    tokens(&out)
}

/// Every intent but FallbackIntent with its best similarity to `text`, best first (two decimals,
/// as Lex reports scores).
pub fn classify(intents: &[ServedIntent], text: &str) -> Vec<(String, f64)> {
    let said = tokens(text);
    let mut scored: Vec<(String, f64)> = intents
        .iter()
        .filter(|i| !is_fallback(i))
        .map(|i| {
            let best = i
                .def
                .get("sampleUtterances")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| u.get("utterance").and_then(Value::as_str))
                .map(|u| similarity(&said, &sample_tokens(u)))
                .fold(0.0, f64::max);
            (name_of(i).to_string(), (best * 100.0).round() / 100.0)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored
}

fn is_fallback(intent: &ServedIntent) -> bool {
    intent
        .def
        .get("parentIntentSignature")
        .and_then(Value::as_str)
        == Some("AMAZON.FallbackIntent")
}

fn name_of(intent: &ServedIntent) -> &str {
    intent
        .def
        .get("intentName")
        .and_then(Value::as_str)
        .unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Slot resolution

/// What a slot value resolved to: `interpretedValue` and `resolvedValues`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub interpreted: String,
    pub resolved: Vec<String>,
}

/// Resolves `text` as a value of `slot_type` (an `AMAZON.*` id or a custom type's definition).
pub fn resolve(text: &str, type_id: &str, custom: Option<&Map<String, Value>>) -> Option<Resolved> {
    let trimmed = text.trim().trim_end_matches(['.', '!', '?']).trim();
    if trimmed.is_empty() {
        return None;
    }
    match type_id {
        "AMAZON.Date" => parse_date(trimmed).map(|d| Resolved {
            interpreted: d.clone(),
            resolved: vec![d],
        }),
        "AMAZON.AlphaNumeric" => {
            let value: String = trimmed.split_whitespace().collect();
            value.chars().any(char::is_alphanumeric).then(|| Resolved {
                interpreted: value.clone(),
                resolved: vec![value],
            })
        }
        "AMAZON.Number" => {
            let n = trimmed
                .parse::<i64>()
                .ok()
                .or_else(|| small_number(&tokens(trimmed)).map(i64::from))?;
            Some(Resolved {
                interpreted: n.to_string(),
                resolved: vec![n.to_string()],
            })
        }
        t if t.starts_with("AMAZON.") => Some(Resolved {
            interpreted: trimmed.to_string(),
            resolved: Vec::new(),
        }),
        _ => {
            let def = custom?;
            match def.get("parentSlotTypeSignature").and_then(Value::as_str) {
                Some("AMAZON.AlphaNumeric") => resolve_restricted(trimmed, def),
                _ => resolve_custom(trimmed, def),
            }
        }
    }
}

/// A custom type whose parent is AMAZON.AlphaNumeric: the value as AlphaNumeric hears it —
/// spaces dropped, and digits said as words ("one two three", "oh", "zero") taken as the
/// digits a speech recognizer would write — kept only when the whole of it matches the
/// type's `regexFilter`; otherwise it does not resolve, and the slot is prompted again.
/// That a spoken digit sequence reaches the filter as digits is this emulator's reading of
/// what Lex's speech recognition gives; that the pattern must match the whole value (not a
/// part of it) is assumed from the model's "used to validate the value of a slot".
fn resolve_restricted(text: &str, def: &Map<String, Value>) -> Option<Resolved> {
    let value = spoken_digits(text).unwrap_or_else(|| text.split_whitespace().collect());
    if !value.chars().any(char::is_alphanumeric) {
        return None;
    }
    let pattern = def
        .get("valueSelectionSetting")
        .and_then(|s| s.pointer("/regexFilter/pattern"))
        .and_then(Value::as_str);
    if let Some(pattern) = pattern {
        let whole = regex_lite::Regex::new(&format!("^(?:{pattern})$")).ok()?;
        if !whole.is_match(&value) {
            return None;
        }
    }
    Some(Resolved {
        interpreted: value.clone(),
        resolved: vec![value],
    })
}

/// Digits said as words or groups of digits ("one two three four five six", "oh 4 2",
/// "123 456"): the digits; `None` when any word is something else.
fn spoken_digits(text: &str) -> Option<String> {
    const DIGITS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let mut out = String::new();
    for word in tokens(text) {
        if word.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&word);
        } else if word == "oh" {
            out.push('0');
        } else {
            let d = DIGITS.iter().position(|d| *d == word)?;
            out.push(char::from(b'0' + d as u8));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A custom slot type: its values and synonyms matched on normalized tokens (the whole text, or
/// the value's words inside it). `TopResolution` answers the value, `OriginalValue` (the default)
/// the words said; `OriginalValue` also takes a text that matches nothing, with no resolutions.
fn resolve_custom(text: &str, def: &Map<String, Value>) -> Option<Resolved> {
    let strategy = def
        .get("valueSelectionSetting")
        .and_then(|s| s.get("resolutionStrategy"))
        .and_then(Value::as_str)
        .unwrap_or("OriginalValue");
    let said = tokens(text);
    let values = def
        .get("slotTypeValues")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut contained: Option<(String, String)> = None;
    for v in &values {
        let Some(value) = v.pointer("/sampleValue/value").and_then(Value::as_str) else {
            continue;
        };
        let synonyms = v
            .get("synonyms")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("value").and_then(Value::as_str));
        for candidate in std::iter::once(value).chain(synonyms) {
            let want = tokens(candidate);
            if want.is_empty() {
                continue;
            }
            if want == said {
                return Some(custom_answer(strategy, text, value));
            }
            if contained.is_none() && said.windows(want.len()).any(|w| w == want.as_slice()) {
                contained = Some((candidate.to_string(), value.to_string()));
            }
        }
    }
    if let Some((words, value)) = contained {
        return Some(custom_answer(strategy, &words, &value));
    }
    (strategy == "OriginalValue").then(|| Resolved {
        interpreted: text.to_string(),
        resolved: Vec::new(),
    })
}

fn custom_answer(strategy: &str, said: &str, value: &str) -> Resolved {
    let interpreted = if strategy == "TopResolution" {
        value
    } else {
        said
    };
    Resolved {
        interpreted: interpreted.to_string(),
        resolved: vec![value.to_string()],
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_of(token: &str) -> Option<u32> {
    let t = token.trim_end_matches('.');
    if t == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| *m == t || (t.len() == 3 && m.starts_with(t)))
        .map(|i| i as u32 + 1)
}

fn unit(word: &str) -> Option<u32> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const ORDINALS: [&str; 20] = [
        "zeroth",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    UNITS
        .iter()
        .position(|u| *u == word)
        .or_else(|| ORDINALS.iter().position(|u| *u == word))
        .map(|n| n as u32)
}

fn tens(word: &str) -> Option<u32> {
    const TENS: [(&str, &str, u32); 8] = [
        ("twenty", "twentieth", 20),
        ("thirty", "thirtieth", 30),
        ("forty", "fortieth", 40),
        ("fifty", "fiftieth", 50),
        ("sixty", "sixtieth", 60),
        ("seventy", "seventieth", 70),
        ("eighty", "eightieth", 80),
        ("ninety", "ninetieth", 90),
    ];
    TENS.iter()
        .find(|(c, o, _)| *c == word || *o == word)
        .map(|(_, _, n)| *n)
}

/// 0-99 from digits ("3", "3rd") or words ("three", "third", "twenty first").
fn small_number(words: &[String]) -> Option<u32> {
    match words {
        [one] => {
            let digits = one.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                let suffix = &one[digits.len()..];
                return matches!(suffix, "" | "st" | "nd" | "rd" | "th")
                    .then(|| digits.parse().ok())
                    .flatten()
                    .filter(|n| *n < 100);
            }
            unit(one).or_else(|| tens(one))
        }
        [t, u] => Some(tens(t)? + unit(u).filter(|u| (1..10).contains(u))?),
        _ => None,
    }
}

/// A year from digits ("1990") or words ("nineteen ninety", "nineteen eighty five", "nineteen oh
/// five", "two thousand", "two thousand and five", "twenty twenty one").
fn year(words: &[String]) -> Option<u32> {
    if let [one] = words {
        if one.len() == 4 && one.chars().all(|c| c.is_ascii_digit()) {
            return one.parse().ok();
        }
    }
    let words: Vec<String> = words.iter().filter(|w| *w != "and").cloned().collect();
    if words.len() >= 2 && words[1] == "thousand" && unit(&words[0]).is_some() {
        let thousands = unit(&words[0])?;
        let rest = if words.len() == 2 {
            0
        } else {
            small_number(&words[2..])?
        };
        return Some(thousands * 1000 + rest);
    }
    for split in 1..=2.min(words.len()) {
        let Some(century) = small_number(&words[..split]).filter(|c| (10..=29).contains(c)) else {
            continue;
        };
        let rest = &words[split..];
        let last = match rest {
            [h] if h == "hundred" => Some(0),
            [oh, u] if oh == "oh" || oh == "o" => unit(u).filter(|u| (1..10).contains(u)),
            _ => small_number(rest).filter(|n| *n >= 10),
        };
        if let Some(last) = last {
            return Some(century * 100 + last);
        }
    }
    None
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn iso(year: u32, month: u32, day: u32) -> Option<String> {
    ((1..=12).contains(&month) && (1..=days_in(month, year)).contains(&day) && year >= 1000)
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// An AMAZON.Date value as ISO 8601 (`YYYY-MM-DD`): ISO itself, `M/D/YYYY` (en_US order), and
/// spoken or written forms with a month name: "march third nineteen ninety", "3 March 1990",
/// "March 3rd, 1990", "the third of march nineteen ninety". A date without a year is not
/// resolved here (Lex would pick the nearest one).
pub fn parse_date(text: &str) -> Option<String> {
    let t = text.trim().to_lowercase();
    let parts: Vec<&str> = t.split(['-', '/']).collect();
    if let [a, b, c] = parts.as_slice() {
        let n: Vec<Option<u32>> = [a, b, c].iter().map(|p| p.trim().parse().ok()).collect();
        if let [Some(a), Some(b), Some(c)] = n.as_slice() {
            return if t.contains('-') && a.to_string().len() == 4 {
                iso(*a, *b, *c)
            } else if t.contains('/') {
                iso(*c, *a, *b)
            } else {
                None
            };
        }
    }
    let words: Vec<String> = t
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let month_at = words.iter().position(|w| month_of(w).is_some())?;
    let month = month_of(&words[month_at])?;
    let keep = |w: &&String| {
        w.chars().any(|c| c.is_ascii_digit())
            || unit(w).is_some()
            || tens(w).is_some()
            || matches!(w.as_str(), "thousand" | "hundred" | "oh" | "and")
    };
    let before: Vec<String> = words[..month_at].iter().filter(keep).cloned().collect();
    let after: Vec<String> = words[month_at + 1..].iter().filter(keep).cloned().collect();
    let before: Vec<String> = before.into_iter().filter(|w| w != "and").collect();
    if !before.is_empty() {
        return iso(year(&after)?, month, small_number(&before)?);
    }
    for split in 1..=2.min(after.len()) {
        if let (Some(day), Some(y)) = (small_number(&after[..split]), year(&after[split..])) {
            if let Some(date) = iso(y, month, day) {
                return Some(date);
            }
        }
    }
    None
}

/// The text as heard under a slot elicitation style: `SpellByLetter` joins single letters and
/// digits ("j d o e 4 2" → "jdoe42"), `SpellByWord` takes the letter of each "x as in word"
/// ("j as in juliet d as in delta" → "jd"); a text that is not spelled that way, and the
/// `Default` style, leave it as said.
pub fn spelled(text: &str, style: &str) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let letter = |w: &str| w.chars().count() == 1 && w.chars().all(char::is_alphanumeric);
    match style {
        "SpellByLetter" if !words.is_empty() && words.iter().all(|w| letter(w)) => {
            words.concat().to_lowercase()
        }
        "SpellByWord" => {
            let mut out = String::new();
            let mut rest = words.as_slice();
            while let [l, a, i, _word, tail @ ..] = rest {
                if !(letter(l) && a.eq_ignore_ascii_case("as") && i.eq_ignore_ascii_case("in")) {
                    return text.to_string();
                }
                out.push_str(&l.to_lowercase());
                rest = tail;
            }
            if rest.is_empty() && !out.is_empty() {
                out
            } else {
                text.to_string()
            }
        }
        _ => text.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The conversation

/// What a turn reads.
struct Turn<'a> {
    served: &'a Served,
    route: &'a Route,
    lambda: &'a Lambda,
    text: &'a str,
    request_attributes: &'a Value,
}

fn message_of(spec: Option<&Value>) -> Vec<Value> {
    let Some(message) = spec
        .and_then(|s| s.get("messageGroups"))
        .and_then(Value::as_array)
        .and_then(|g| g.first())
        .and_then(|g| g.get("message"))
    else {
        return Vec::new();
    };
    if let Some(text) = message
        .pointer("/plainTextMessage/value")
        .and_then(Value::as_str)
    {
        vec![json!({"contentType": "PlainText", "content": text})]
    } else if let Some(ssml) = message
        .pointer("/ssmlMessage/value")
        .and_then(Value::as_str)
    {
        vec![json!({"contentType": "SSML", "content": ssml})]
    } else {
        Vec::new()
    }
}

fn hook_enabled(intent: &ServedIntent, field: &str) -> bool {
    let hook = intent.def.get(field);
    hook.and_then(|h| h.get("enabled")).and_then(Value::as_bool) == Some(true)
        && hook.and_then(|h| h.get("active")).and_then(Value::as_bool) != Some(false)
}

/// The next step Lex proposes for an intent: a slot to elicit, a confirmation, or fulfillment.
#[derive(Debug, PartialEq)]
enum Next {
    Elicit(String),
    Confirm,
    Fulfill,
}

impl Turn<'_> {
    fn intent(&self, name: &str) -> Option<&ServedIntent> {
        self.served.intents.iter().find(|i| name_of(i) == name)
    }

    /// The slot definition of `name` in `intent`.
    fn slot<'i>(&self, intent: &'i ServedIntent, name: &str) -> Option<&'i Map<String, Value>> {
        intent
            .slots
            .values()
            .find(|s| s.get("slotName").and_then(Value::as_str) == Some(name))
    }

    /// The intent's slot names in priority order (slots left out of `slotPriorities` last).
    fn ordered_slots(&self, intent: &ServedIntent) -> Vec<String> {
        let mut ids: Vec<(u64, String)> = intent
            .def
            .get("slotPriorities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p.get("priority")?.as_u64()?,
                    p.get("slotId")?.as_str()?.to_string(),
                ))
            })
            .collect();
        ids.sort();
        let mut names: Vec<String> = ids
            .iter()
            .filter_map(|(_, id)| intent.slots.get(id))
            .filter_map(|s| s.get("slotName").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        for s in intent.slots.values() {
            if let Some(n) = s.get("slotName").and_then(Value::as_str) {
                if !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
        }
        names
    }

    fn next(&self, intent: &ServedIntent, state: &Value) -> Next {
        for name in self.ordered_slots(intent) {
            let filled = state
                .pointer(&format!("/intent/slots/{name}"))
                .is_some_and(|v| !v.is_null());
            let required = self
                .slot(intent, &name)
                .and_then(|s| s.get("valueElicitationSetting"))
                .and_then(|v| v.get("slotConstraint"))
                .and_then(Value::as_str)
                == Some("Required");
            if required && !filled {
                return Next::Elicit(name);
            }
        }
        let confirmation = intent.def.get("intentConfirmationSetting");
        let active = confirmation
            .and_then(|c| c.get("active"))
            .and_then(Value::as_bool)
            != Some(false);
        let asked = state
            .pointer("/intent/confirmationState")
            .and_then(Value::as_str)
            .is_some_and(|c| c != "None");
        if confirmation.is_some() && active && !asked {
            return Next::Confirm;
        }
        Next::Fulfill
    }

    /// The slot's prompt, for attempt `attempts` (0 Initial).
    fn prompt(&self, intent: &ServedIntent, slot: &str) -> Vec<Value> {
        message_of(
            self.slot(intent, slot)
                .and_then(|s| s.get("valueElicitationSetting"))
                .and_then(|v| v.get("promptSpecification")),
        )
    }

    fn empty_intent(intent: &ServedIntent) -> Value {
        let slots: Map<String, Value> = intent
            .slots
            .values()
            .filter_map(|s| s.get("slotName").and_then(Value::as_str))
            .map(|n| (n.to_string(), Value::Null))
            .collect();
        json!({"name": name_of(intent), "slots": slots, "state": "InProgress", "confirmationState": "None"})
    }

    async fn run(&self, session: &mut Session) -> Result<Value, LexError> {
        let Session {
            state,
            messages: last_messages,
            interpretations: last_interpretations,
            attempts,
            ..
        } = session;
        let current = state
            .pointer("/intent/name")
            .and_then(Value::as_str)
            .and_then(|n| self.intent(n));
        let in_progress =
            state.pointer("/intent/state").and_then(Value::as_str) == Some("InProgress");
        let action = state
            .pointer("/dialogAction/type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let scores = classify(&self.served.intents, self.text);
        let mut messages: Vec<Value> = Vec::new();
        let intent = match current {
            Some(intent) if in_progress && action == "ElicitSlot" => {
                let slot_name = state
                    .pointer("/dialogAction/slotToElicit")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let slot = self.slot(intent, &slot_name);
                let type_id = slot
                    .and_then(|s| s.get("slotTypeId"))
                    .and_then(Value::as_str)
                    .unwrap_or("AMAZON.FreeFormInput");
                let style = state
                    .pointer("/dialogAction/slotElicitationStyle")
                    .and_then(Value::as_str)
                    .unwrap_or("Default");
                let heard = spelled(self.text, style);
                match resolve(&heard, type_id, self.served.slot_types.get(type_id)) {
                    Some(resolved) => {
                        *attempts = 0;
                        state["intent"]["slots"][&slot_name] = json!({
                            "shape": "Scalar",
                            "value": {
                                "originalValue": self.text,
                                "interpretedValue": resolved.interpreted,
                                "resolvedValues": resolved.resolved,
                            }
                        });
                    }
                    None => {
                        *attempts += 1;
                        let max = slot
                            .and_then(|s| {
                                s.get("valueElicitationSetting")?
                                    .pointer("/promptSpecification/maxRetries")
                            })
                            .and_then(Value::as_u64)
                            .unwrap_or(0);
                        if u64::from(*attempts) > max {
                            *attempts = 0;
                            state["intent"]["state"] = json!("Failed");
                            state["dialogAction"] = json!({"type": "Close"});
                        } else {
                            messages = self.prompt(intent, &slot_name);
                        }
                        *last_interpretations = self.interpretations(&scores, Some(intent), state);
                        *last_messages = messages.clone();
                        return Ok(self.answer(state, &messages, last_interpretations));
                    }
                }
                intent
            }
            Some(intent) if in_progress && action == "ConfirmIntent" => {
                let said = tokens(self.text);
                let yes = [
                    "yes", "yeah", "yep", "sure", "correct", "ok", "okay", "right",
                ];
                let no = ["no", "nope", "nah", "wrong", "incorrect"];
                if said.iter().any(|w| yes.contains(&w.as_str())) {
                    state["intent"]["confirmationState"] = json!("Confirmed");
                } else if said.iter().any(|w| no.contains(&w.as_str())) {
                    state["intent"]["confirmationState"] = json!("Denied");
                    state["intent"]["state"] = json!("Failed");
                    state["dialogAction"] = json!({"type": "Close"});
                    let messages = message_of(
                        intent
                            .def
                            .get("intentConfirmationSetting")
                            .and_then(|c| c.get("declinationResponse")),
                    );
                    *last_interpretations = self.interpretations(&scores, Some(intent), state);
                    *last_messages = messages.clone();
                    return Ok(self.answer(state, &messages, last_interpretations));
                }
                intent
            }
            _ => {
                let top = scores
                    .first()
                    .filter(|(_, s)| *s > 0.0 && *s >= self.served.confidence_threshold);
                let intent = match top {
                    Some((name, _)) => self.intent(name),
                    None => self.served.intents.iter().find(|i| is_fallback(i)),
                };
                let Some(intent) = intent else {
                    return Err(LexError::NotFound(
                        "The locale has no intent to match the text.".into(),
                    ));
                };
                *attempts = 0;
                state["intent"] = Self::empty_intent(intent);
                state.as_object_mut().map(|s| s.remove("dialogAction"));
                intent
            }
        };
        let interpretations = self.interpretations(&scores, Some(intent), state);
        let messages = self.step(intent, state, &interpretations).await?;
        *last_interpretations = self.interpretations(&scores, Some(intent), state);
        *last_messages = messages.clone();
        Ok(self.answer(state, &messages, last_interpretations))
    }

    /// Lex's next step for the intent, through the dialog code hook when it has one.
    async fn step(
        &self,
        intent: &ServedIntent,
        state: &mut Value,
        interpretations: &[Value],
    ) -> Result<Vec<Value>, LexError> {
        let next = self.next(intent, state);
        if hook_enabled(intent, "dialogCodeHook") {
            if let Some(arn) = &self.served.lambda_arn {
                // Also on the turn that fills the last slot (or confirms): the hook validates
                // every input, then a Delegate goes on to fulfillment.
                let proposed = match &next {
                    Next::Elicit(slot) => Some(json!({
                        "dialogAction": {"type": "ElicitSlot", "slotToElicit": slot},
                        "intent": state["intent"].clone(),
                        "prompt": {"attempt": "Initial"},
                    })),
                    Next::Confirm => Some(json!({
                        "dialogAction": {"type": "ConfirmIntent"},
                        "intent": state["intent"].clone(),
                        "prompt": {"attempt": "Initial"},
                    })),
                    Next::Fulfill => None,
                };
                let event = self.event("DialogCodeHook", state, interpretations, proposed);
                let response = self.call(arn, &event).await?;
                return self
                    .apply(intent, state, &response, interpretations, true)
                    .await;
            }
        }
        self.follow(intent, state, next, interpretations).await
    }

    /// Carries out `next` without the dialog code hook.
    async fn follow(
        &self,
        intent: &ServedIntent,
        state: &mut Value,
        next: Next,
        interpretations: &[Value],
    ) -> Result<Vec<Value>, LexError> {
        match next {
            Next::Elicit(slot) => {
                state["dialogAction"] = json!({"type": "ElicitSlot", "slotToElicit": slot});
                state["intent"]["state"] = json!("InProgress");
                Ok(self.prompt(intent, &slot))
            }
            Next::Confirm => {
                state["dialogAction"] = json!({"type": "ConfirmIntent"});
                state["intent"]["state"] = json!("InProgress");
                Ok(message_of(
                    intent
                        .def
                        .get("intentConfirmationSetting")
                        .and_then(|c| c.get("promptSpecification")),
                ))
            }
            Next::Fulfill => self.fulfill(intent, state, interpretations).await,
        }
    }

    async fn fulfill(
        &self,
        intent: &ServedIntent,
        state: &mut Value,
        interpretations: &[Value],
    ) -> Result<Vec<Value>, LexError> {
        state["intent"]["state"] = json!("ReadyForFulfillment");
        if hook_enabled(intent, "fulfillmentCodeHook") {
            if let Some(arn) = &self.served.lambda_arn {
                let event = self.event("FulfillmentCodeHook", state, interpretations, None);
                let response = self.call(arn, &event).await?;
                return Box::pin(self.apply(intent, state, &response, interpretations, false))
                    .await;
            }
        }
        state["dialogAction"] = json!({"type": "Close"});
        if is_fallback(intent) {
            return Ok(Vec::new());
        }
        state["intent"]["state"] = json!("Fulfilled");
        Ok(message_of(
            intent
                .def
                .get("intentClosingSetting")
                .and_then(|c| c.get("closingResponse")),
        ))
    }

    /// Applies a code hook's answer (`dialog`: from the dialog code hook).
    async fn apply(
        &self,
        intent: &ServedIntent,
        state: &mut Value,
        response: &Value,
        interpretations: &[Value],
        dialog: bool,
    ) -> Result<Vec<Value>, LexError> {
        let invalid = |why: &str| {
            LexError::DependencyFailed(format!(
                "Invalid Lambda Response: Received invalid response from Lambda: {why}"
            ))
        };
        let given = response
            .get("sessionState")
            .filter(|s| s.is_object())
            .ok_or_else(|| invalid("sessionState is missing"))?;
        let kind = given
            .pointer("/dialogAction/type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("sessionState.dialogAction.type is missing"))?
            .to_string();
        if let Some(attributes) = given.get("sessionAttributes").filter(|a| a.is_object()) {
            state["sessionAttributes"] = attributes.clone();
        }
        if let Some(new_intent) = given.get("intent").filter(|i| i.is_object()) {
            let name = new_intent
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("sessionState.intent.name is missing"))?;
            let mut merged = match self.intent(name) {
                Some(i) if name != name_of(intent) => Self::empty_intent(i),
                _ => state["intent"].clone(),
            };
            for field in ["state", "confirmationState"] {
                if let Some(v) = new_intent.get(field).filter(|v| v.is_string()) {
                    merged[field] = v.clone();
                }
            }
            if let Some(slots) = new_intent.get("slots").and_then(Value::as_object) {
                for (k, v) in slots {
                    merged["slots"][k] = v.clone();
                }
            }
            state["intent"] = merged;
        }
        let given_messages = response
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let current = state
            .pointer("/intent/name")
            .and_then(Value::as_str)
            .and_then(|n| self.intent(n))
            .unwrap_or(intent);
        match kind.as_str() {
            "Close" => {
                state["dialogAction"] = json!({"type": "Close"});
                let ended = state.pointer("/intent/state").and_then(Value::as_str);
                if !matches!(ended, Some("Fulfilled" | "Failed" | "ReadyForFulfillment")) {
                    state["intent"]["state"] = json!("Fulfilled");
                }
                Ok(given_messages)
            }
            "ElicitSlot" => {
                let slot = given
                    .pointer("/dialogAction/slotToElicit")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("ElicitSlot without slotToElicit"))?
                    .to_string();
                if self.slot(current, &slot).is_none() {
                    return Err(invalid(&format!(
                        "slot '{slot}' is not a slot of intent '{}'",
                        name_of(current)
                    )));
                }
                let mut action = json!({"type": "ElicitSlot", "slotToElicit": slot});
                if let Some(style) = given.pointer("/dialogAction/slotElicitationStyle") {
                    match style.as_str() {
                        Some(s @ ("Default" | "SpellByLetter" | "SpellByWord")) => {
                            action["slotElicitationStyle"] = json!(s);
                        }
                        _ => {
                            return Err(invalid(&format!(
                                "slotElicitationStyle {style} is not one of Default, SpellByLetter, SpellByWord"
                            )))
                        }
                    }
                }
                state["dialogAction"] = action;
                state["intent"]["state"] = json!("InProgress");
                Ok(if given_messages.is_empty() {
                    self.prompt(current, &slot)
                } else {
                    given_messages
                })
            }
            "ConfirmIntent" => {
                state["dialogAction"] = json!({"type": "ConfirmIntent"});
                state["intent"]["state"] = json!("InProgress");
                state["intent"]["confirmationState"] = json!("None");
                Ok(if given_messages.is_empty() {
                    message_of(
                        current
                            .def
                            .get("intentConfirmationSetting")
                            .and_then(|c| c.get("promptSpecification")),
                    )
                } else {
                    given_messages
                })
            }
            "ElicitIntent" => {
                state["dialogAction"] = json!({"type": "ElicitIntent"});
                if let Some(s) = state.as_object_mut() {
                    s.remove("intent");
                }
                Ok(given_messages)
            }
            "Delegate" => {
                let next = self.next(current, state);
                if !dialog {
                    // After fulfillment Lex only closes.
                    state["dialogAction"] = json!({"type": "Close"});
                    state["intent"]["state"] = json!("Fulfilled");
                    return Ok(given_messages);
                }
                let mut out = given_messages;
                out.extend(Box::pin(self.follow(current, state, next, interpretations)).await?);
                Ok(out)
            }
            other => Err(invalid(&format!("unknown dialogAction type '{other}'"))),
        }
    }

    /// Invokes the alias's Lambda; a failure is Lex's DependencyFailedException.
    async fn call(&self, arn: &str, event: &Value) -> Result<Value, LexError> {
        let failed = |why: String| {
            LexError::DependencyFailed(format!(
                "Invalid Lambda Response: Received error response from Lambda: {why}"
            ))
        };
        let invoked = self
            .lambda
            .invoke(arn, axum::body::Bytes::from(event.to_string()))
            .await
            .map_err(|e| failed(e.to_string()))?;
        if let Some(kind) = invoked.function_error {
            return Err(failed(kind.to_string()));
        }
        serde_json::from_slice(&invoked.payload).map_err(|e| {
            LexError::DependencyFailed(format!(
                "Invalid Lambda Response: Received invalid response from Lambda: the payload is not JSON ({e})"
            ))
        })
    }

    /// The Lex V2 code hook event (messageVersion 1.0).
    fn event(
        &self,
        source: &str,
        state: &Value,
        interpretations: &[Value],
        proposed: Option<Value>,
    ) -> Value {
        let interpretations: Vec<Value> = interpretations
            .iter()
            .map(|i| {
                let mut i = i.clone();
                if let Some(score) = i.pointer("/nluConfidence/score").cloned() {
                    i["nluConfidence"] = score;
                }
                i
            })
            .collect();
        let mut session_state = json!({
            "sessionAttributes": state.get("sessionAttributes").cloned().unwrap_or(json!({})),
            "activeContexts": [],
            "intent": state.get("intent").cloned().unwrap_or(Value::Null),
            "originatingRequestId": format!("{:032x}", fastrand::u128(..)),
        });
        if let Some(action) = state.get("dialogAction") {
            session_state["dialogAction"] = action.clone();
        }
        let mut event = json!({
            "messageVersion": "1.0",
            "invocationSource": source,
            "inputMode": "Text",
            "responseContentType": "text/plain; charset=utf-8",
            "sessionId": self.route.session,
            "inputTranscript": self.text,
            "bot": {
                "id": self.route.bot,
                "name": self.served.bot_name,
                "aliasId": self.route.alias,
                "aliasName": self.served.alias_name,
                "localeId": self.route.locale,
                "version": self.served.version,
            },
            "interpretations": interpretations,
            "requestAttributes": self.request_attributes,
            "sessionState": session_state,
            "transcriptions": [],
        });
        if let Some(p) = proposed {
            event["proposedNextState"] = p;
        }
        event
    }

    /// Interpretations as RecognizeText answers them: the chosen intent (with its state) first,
    /// the other intents by score, FallbackIntent without a score.
    fn interpretations(
        &self,
        scores: &[(String, f64)],
        chosen: Option<&ServedIntent>,
        state: &Value,
    ) -> Vec<Value> {
        let chosen_name = chosen.map(name_of).unwrap_or("");
        let mut out = Vec::new();
        let answer_intent =
            answer_state(&json!({"intent": state.get("intent").cloned()}))["intent"].clone();
        let score_of = |name: &str| scores.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
        if let Some(c) = chosen {
            let mut first = json!({"intent": answer_intent, "interpretationSource": "Lex"});
            if !is_fallback(c) {
                let score = if state.pointer("/intent/state").is_some() {
                    score_of(chosen_name).unwrap_or(1.0)
                } else {
                    1.0
                };
                first["nluConfidence"] = json!({"score": score});
            }
            out.push(first);
        }
        if chosen.is_some_and(|c| !is_fallback(c)) {
            if let Some(f) = self.served.intents.iter().find(|i| is_fallback(i)) {
                out.push(json!({"intent": {"name": name_of(f), "slots": {}}, "interpretationSource": "Lex"}));
            }
        }
        for (name, score) in scores {
            if name != chosen_name && *score > 0.0 {
                out.push(json!({
                    "intent": {"name": name, "slots": {}},
                    "nluConfidence": {"score": score},
                    "interpretationSource": "Lex",
                }));
            }
        }
        out
    }

    fn answer(&self, state: &Value, messages: &[Value], interpretations: &[Value]) -> Value {
        let mut session_state = answer_state(state);
        session_state["originatingRequestId"] = json!(format!("{:032x}", fastrand::u128(..)));
        strip_empty(json!({
            "messages": messages,
            "sessionState": session_state,
            "interpretations": interpretations,
            "requestAttributes": self.request_attributes.as_object().filter(|m| !m.is_empty()),
            "sessionId": self.route.session,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(name: &str, samples: &[&str]) -> ServedIntent {
        let utterances: Vec<Value> = samples.iter().map(|u| json!({"utterance": u})).collect();
        ServedIntent {
            def: json!({"intentName": name, "sampleUtterances": utterances})
                .as_object()
                .cloned()
                .unwrap(),
            slots: Default::default(),
        }
    }

    #[test]
    fn runtime_routes_name_their_operations() {
        let base = "/bots/B/botAliases/TSTALIASID/botLocales/en_US/sessions/s-1";
        let r = route(&Method::POST, &format!("{base}/text")).unwrap();
        assert_eq!(r.operation, "RecognizeText");
        assert_eq!(
            (
                r.bot.as_str(),
                r.alias.as_str(),
                r.locale.as_str(),
                r.session.as_str()
            ),
            ("B", "TSTALIASID", "en_US", "s-1")
        );
        assert_eq!(route(&Method::POST, base).unwrap().operation, "PutSession");
        assert_eq!(route(&Method::GET, base).unwrap().operation, "GetSession");
        assert_eq!(
            route(&Method::DELETE, base).unwrap().operation,
            "DeleteSession"
        );
        assert_eq!(route(&Method::PUT, base), None);
        assert_eq!(route(&Method::POST, "/bots/B/botaliases/A"), None);
    }

    #[test]
    fn classification_ranks_by_shared_tokens() {
        let intents = vec![
            intent(
                "ResetPW",
                &[
                    "reset my password",
                    "I forgot my password",
                    "reset password for {UserID}",
                ],
            ),
            intent(
                "Hours",
                &["when are you open", "what are your opening hours"],
            ),
        ];
        let scores = classify(&intents, "I forgot my password!");
        assert_eq!(scores[0], ("ResetPW".to_string(), 1.0));
        let scores = classify(&intents, "please reset the password");
        assert_eq!(scores[0].0, "ResetPW");
        assert!(scores[0].1 > 0.4 && scores[0].1 < 1.0, "{scores:?}");
        let scores = classify(&intents, "what's the weather like in Paris");
        assert!(scores.iter().all(|(_, s)| *s < 0.4), "{scores:?}");
        assert_eq!(
            sample_tokens("reset password for {UserID}"),
            ["reset", "password", "for"]
        );
    }

    #[test]
    fn dates_resolve_from_iso_written_and_spoken_forms() {
        for (said, want) in [
            ("1990-03-03", "1990-03-03"),
            ("3 March 1990", "1990-03-03"),
            ("March 3rd, 1990", "1990-03-03"),
            ("march third nineteen ninety", "1990-03-03"),
            ("the third of march nineteen ninety", "1990-03-03"),
            (
                "it was march twenty first nineteen eighty five",
                "1985-03-21",
            ),
            ("July 4 two thousand and five", "2005-07-04"),
            ("jan 9 nineteen oh five", "1905-01-09"),
            ("12/25/2001", "2001-12-25"),
            ("twenty ninth february two thousand", "2000-02-29"),
        ] {
            assert_eq!(parse_date(said).as_deref(), Some(want), "{said}");
        }
        for bad in [
            "",
            "yesterday-ish",
            "February 30 1990",
            "1990-13-01",
            "march third",
            "banana",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn slots_resolve_per_type() {
        assert_eq!(
            resolve("jdoe", "AMAZON.AlphaNumeric", None),
            Some(Resolved {
                interpreted: "jdoe".into(),
                resolved: vec!["jdoe".into()]
            })
        );
        assert_eq!(
            resolve("j doe 42", "AMAZON.AlphaNumeric", None)
                .unwrap()
                .interpreted,
            "jdoe42"
        );
        assert_eq!(resolve("...", "AMAZON.AlphaNumeric", None), None);
        assert_eq!(
            resolve("forty two", "AMAZON.Number", None)
                .unwrap()
                .interpreted,
            "42"
        );
        let month = json!({
            "slotTypeName": "Month",
            "slotTypeValues": [
                {"sampleValue": {"value": "March"}, "synonyms": [{"value": "Mar"}, {"value": "third month"}]},
                {"sampleValue": {"value": "May"}},
            ],
            "valueSelectionSetting": {"resolutionStrategy": "TopResolution"},
        });
        let month = month.as_object().unwrap();
        let r = resolve("mar", "MONTHTYPE1", Some(month)).unwrap();
        assert_eq!(
            r,
            Resolved {
                interpreted: "March".into(),
                resolved: vec!["March".into()]
            }
        );
        let r = resolve("I started in the third month", "MONTHTYPE1", Some(month)).unwrap();
        assert_eq!(r.interpreted, "March");
        assert_eq!(
            resolve("banana", "MONTHTYPE1", Some(month)),
            None,
            "TopResolution refuses"
        );
        let mut original = month.clone();
        original["valueSelectionSetting"] = json!({"resolutionStrategy": "OriginalValue"});
        let r = resolve("Mar", "MONTHTYPE1", Some(&original)).unwrap();
        assert_eq!(
            r,
            Resolved {
                interpreted: "Mar".into(),
                resolved: vec!["March".into()]
            }
        );
        let r = resolve("banana", "MONTHTYPE1", Some(&original)).unwrap();
        assert_eq!(
            r,
            Resolved {
                interpreted: "banana".into(),
                resolved: vec![]
            }
        );
    }

    #[test]
    fn a_regex_restricted_alphanumeric_takes_six_digits_typed_grouped_or_said() {
        let code = json!({
            "slotTypeName": "OneTimeCode",
            "parentSlotTypeSignature": "AMAZON.AlphaNumeric",
            "valueSelectionSetting": {"resolutionStrategy": "OriginalValue",
                                      "regexFilter": {"pattern": "[0-9]{6}"}}
        });
        let def = code.as_object().unwrap();
        let got = |text: &str| resolve(text, "CODETYPE01", Some(def)).map(|r| r.interpreted);
        for said in [
            "123456",
            "123 456",
            "one two three four five six",
            "One, two, three, four, five, six.",
            "1 2 3 4 5 6",
        ] {
            assert_eq!(got(said).as_deref(), Some("123456"), "{said}");
        }
        assert_eq!(got("oh one zero nine nine oh").as_deref(), Some("010990"));
        for refused in [
            "12345",
            "1234567",
            "12345a",
            "one two three",
            "my code is 123456",
            "abcdef",
            "",
        ] {
            assert_eq!(got(refused), None, "{refused}");
        }
        // Under SpellByLetter, digits keyed one by one join first.
        assert_eq!(
            resolve(
                &spelled("1 2 3 4 5 6", "SpellByLetter"),
                "CODETYPE01",
                Some(def)
            )
            .map(|r| r.interpreted)
            .as_deref(),
            Some("123456")
        );
    }

    #[test]
    fn spelling_styles_join_what_is_spelled() {
        assert_eq!(spelled("j d o e 4 2", "SpellByLetter"), "jdoe42");
        assert_eq!(spelled("J. D. O. E.", "SpellByLetter"), "jdoe");
        assert_eq!(spelled("jdoe", "SpellByLetter"), "jdoe");
        assert_eq!(spelled("my id is j d", "SpellByLetter"), "my id is j d");
        assert_eq!(
            spelled("j as in juliet d as in delta 4 as in four", "SpellByWord"),
            "jd4"
        );
        assert_eq!(spelled("j as in", "SpellByWord"), "j as in");
        assert_eq!(spelled("j d o e", "Default"), "j d o e");
    }

    #[test]
    fn answers_leave_unfilled_slots_out_and_headers_are_gzipped_json() {
        let state = json!({"intent": {"name": "X", "slots": {"A": null, "B": {"value": {"interpretedValue": "b"}}}}});
        let answered = answer_state(&state);
        assert_eq!(answered["intent"]["slots"].as_object().unwrap().len(), 1);
        use base64::Engine;
        use std::io::Read;
        let packed = compressed(&json!({"k": "v"}));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(packed)
            .unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, r#"{"k":"v"}"#);
    }
}
