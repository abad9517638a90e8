//! Benchmark (prints figures; not a test): the whole phone line in the local cloud with the local
//! directory, against a stack already deployed by `up` whose directory is the local directory.
//!
//! ```text
//! scripts/demo --keep        # the demo line up in the local cloud (4566) and the local directory
//! eval "$(scripts/local-cloud start)"; eval "$(scripts/local-directory start)"
//! cargo run --example line_bench -- [stack=resetpw-demo] [conversations=20] [cold=3]
//! ```
//!
//! Prints p50/p95 of:
//! - a whole reset conversation of the fixture user rp.linebench through the deployed bot
//!   (RecognizeText over aws-sdk-lexruntimev2: intent, user ID, date of birth, month; every turn
//!   calls the function's code hook, the last one resets the password and sends the SMS);
//! - each Invoke those conversations made, as the emulator timed it (its REPORT lines): the
//!   dialog code hook of each turn and the fulfillment at the end;
//! - a warm Invoke of the function called directly (aws-sdk-lambda) with a Lex V2 dialog-hook
//!   event and with a fulfillment event (a real reset);
//! - the cold first Invoke: after a configuration change (the memory size, put back at the end)
//!   the next Invoke starts a fresh process, which decrypts the bind password and connects to the
//!   directory before it answers.
//!
//! It resets rp.linebench's password on every conversation and fulfillment Invoke: run it only
//! against the local directory.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lexmodelsv2::types::{BotFilter, BotFilterName, BotFilterOperator};
use aws_sdk_lexruntimev2::types::SessionState;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const USER: &str = "rp.linebench";
const CALLER: &str = "+15550100025";
const SAYS: [&str; 4] = ["reset my password", USER, "april sixth 1993", "April"];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{what:<44} n={:<4} p50 {:>8.1} ms   p95 {:>8.1} ms   max {:>8.1} ms",
        ms.len(),
        percentile(&ms, 50.0),
        percentile(&ms, 95.0),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The bot id and the id of its alias `live`.
async fn target(lex: &aws_sdk_lexmodelsv2::Client, bot_name: &str) -> (String, String) {
    let filter = BotFilter::builder()
        .name(BotFilterName::BotName)
        .operator(BotFilterOperator::Equals)
        .values(bot_name)
        .build()
        .expect("filter");
    let bots = lex
        .list_bots()
        .filters(filter)
        .send()
        .await
        .expect("ListBots");
    let bot_id = bots
        .bot_summaries()
        .iter()
        .find(|b| b.bot_name() == Some(bot_name))
        .and_then(|b| b.bot_id())
        .unwrap_or_else(|| panic!("no bot {bot_name}: run `resetpw up` first"))
        .to_string();
    let aliases = lex
        .list_bot_aliases()
        .bot_id(&bot_id)
        .send()
        .await
        .expect("ListBotAliases");
    let alias_id = aliases
        .bot_alias_summaries()
        .iter()
        .find(|a| a.bot_alias_name() == Some(resetpw::chat::ALIAS_NAME))
        .and_then(|a| a.bot_alias_id())
        .expect("alias live")
        .to_string();
    (bot_id, alias_id)
}

/// One scripted conversation; its wall time. Panics unless it ends Fulfilled.
async fn conversation(
    runtime: &aws_sdk_lexruntimev2::Client,
    bot_id: &str,
    alias_id: &str,
) -> Duration {
    let session = format!("bench-{:016x}", fastrand::u64(..));
    let attributes = HashMap::from([
        ("CallerNumber".to_string(), CALLER.to_string()),
        ("ContactId".to_string(), session.clone()),
    ]);
    let started = Instant::now();
    let mut state = None;
    for (i, text) in SAYS.iter().enumerate() {
        let mut request = runtime
            .recognize_text()
            .bot_id(bot_id)
            .bot_alias_id(alias_id)
            .locale_id("en_US")
            .session_id(&session)
            .text(*text);
        if i == 0 {
            request = request.session_state(
                SessionState::builder()
                    .set_session_attributes(Some(attributes.clone()))
                    .build(),
            );
        }
        let out = request.send().await.expect("RecognizeText");
        state = out
            .session_state()
            .and_then(|s| s.intent())
            .and_then(|i| i.state())
            .map(|s| s.as_str().to_string());
    }
    let elapsed = started.elapsed();
    assert_eq!(
        state.as_deref(),
        Some("Fulfilled"),
        "the conversation did not end Fulfilled: is {USER} locked out, or the directory not the local one?"
    );
    elapsed
}

fn slot(value: &str) -> Value {
    json!({"shape": "Scalar", "value": {"originalValue": value, "interpretedValue": value, "resolvedValues": [value]}})
}

/// A Lex V2 code-hook event as the bot sends it.
fn lex_event(source: &str, dob: Option<&str>, month: Option<&str>) -> Vec<u8> {
    let session = format!("bench-{:016x}", fastrand::u64(..));
    let state = if source == "FulfillmentCodeHook" {
        "ReadyForFulfillment"
    } else {
        "InProgress"
    };
    let event = json!({
        "messageVersion": "1.0",
        "invocationSource": source,
        "inputMode": "Text",
        "responseContentType": "text/plain; charset=utf-8",
        "sessionId": session,
        "inputTranscript": month.or(dob).unwrap_or(USER),
        "bot": {"id": "BENCH", "name": "bench", "aliasId": "BENCH", "aliasName": "live", "localeId": "en_US", "version": "1"},
        "interpretations": [],
        "sessionState": {
            "sessionAttributes": {"CallerNumber": CALLER, "ContactId": session},
            "activeContexts": [],
            "intent": {"name": "ResetPW", "state": state, "confirmationState": "None", "slots": {
                "UserID": slot(USER),
                "DOB": dob.map(slot).unwrap_or(Value::Null),
                "MonthStarted": month.map(slot).unwrap_or(Value::Null),
            }}
        },
        "transcriptions": [],
    });
    serde_json::to_vec(&event).expect("event JSON")
}

/// Invokes the function; its round-trip time. Panics on a function error.
async fn invoke(lambda: &aws_sdk_lambda::Client, function: &str, payload: Vec<u8>) -> Duration {
    let started = Instant::now();
    let out = lambda
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload))
        .send()
        .await
        .expect("Invoke");
    let elapsed = started.elapsed();
    assert!(
        out.function_error().is_none(),
        "function error: {}",
        String::from_utf8_lossy(out.payload().map(|p| p.as_ref()).unwrap_or_default())
    );
    elapsed
}

/// The durations of the REPORT lines the function's log got after `since` (a log sequence
/// number), and the newest sequence number.
async fn reported(cloud: &str, function: &str, since: u64) -> (Vec<f64>, u64) {
    let lines: Vec<Value> = reqwest::get(format!(
        "{cloud}/_localcloud/lambda/logs?function={function}&since={since}"
    ))
    .await
    .expect("function log")
    .json()
    .await
    .expect("function log JSON");
    let last = lines
        .iter()
        .filter_map(|l| l["seq"].as_u64())
        .max()
        .unwrap_or(since);
    let durations = lines
        .iter()
        .filter_map(|l| l["message"].as_str())
        .filter(|m| m.starts_with("REPORT "))
        .filter_map(|m| m.split("Duration: ").nth(1))
        .filter_map(|d| d.split_whitespace().next())
        .filter_map(|d| d.parse::<f64>().ok())
        .collect();
    (durations, last)
}

async fn set_memory(lambda: &aws_sdk_lambda::Client, function: &str, mb: i32) {
    lambda
        .update_function_configuration()
        .function_name(function)
        .memory_size(mb)
        .send()
        .await
        .expect("UpdateFunctionConfiguration");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stack = args
        .first()
        .cloned()
        .unwrap_or_else(|| "resetpw-demo".into());
    let n: usize = args
        .get(1)
        .map_or(20, |a| a.parse().expect("conversations"));
    let cold_runs: usize = args.get(2).map_or(3, |a| a.parse().expect("cold runs"));
    let cloud = std::env::var("LOCAL_CLOUD_URL")
        .expect("LOCAL_CLOUD_URL is not set: eval \"$(scripts/local-cloud start)\" first");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let lex = aws_sdk_lexmodelsv2::Client::new(&config);
    let runtime = aws_sdk_lexruntimev2::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let function = format!("{stack}-fulfillment");
    let (bot_id, alias_id) = target(&lex, &format!("{stack}-resetpw")).await;
    println!("stack {stack}: {n} conversations, {cold_runs} cold starts, user {USER}");

    // Cold: each configuration change makes the next Invoke start a fresh process.
    let memory = lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .expect("GetFunctionConfiguration")
        .memory_size()
        .expect("memory size");
    let mut cold = Vec::new();
    for i in 0..cold_runs {
        set_memory(
            &lambda,
            &function,
            if i % 2 == 0 { memory + 64 } else { memory },
        )
        .await;
        cold.push(millis(
            invoke(&lambda, &function, lex_event("DialogCodeHook", None, None)).await,
        ));
    }
    if cold_runs % 2 == 1 {
        set_memory(&lambda, &function, memory).await;
    }

    // Warm the fresh process once, then conversations.
    invoke(&lambda, &function, lex_event("DialogCodeHook", None, None)).await;
    let (_, mark) = reported(&cloud, &function, 0).await;
    let mut conversations = Vec::new();
    for _ in 0..n {
        conversations.push(millis(conversation(&runtime, &bot_id, &alias_id).await));
    }
    let (in_conversations, _) = reported(&cloud, &function, mark).await;

    // Direct warm Invokes of each kind.
    let mut dialog = Vec::new();
    let mut fulfillment = Vec::new();
    for _ in 0..n {
        dialog.push(millis(
            invoke(
                &lambda,
                &function,
                lex_event("DialogCodeHook", Some("1993-04-06"), None),
            )
            .await,
        ));
        fulfillment.push(millis(
            invoke(
                &lambda,
                &function,
                lex_event("FulfillmentCodeHook", Some("1993-04-06"), Some("April")),
            )
            .await,
        ));
    }

    // The conversations ran one after another and each ends with its fulfillment Invoke: the
    // REPORT lines come in equal groups whose last line is the fulfillment.
    let per = in_conversations.len() / n.max(1);
    let (mut hooks, mut fulfilments) = (Vec::new(), Vec::new());
    if per > 0 && per * n == in_conversations.len() {
        for group in in_conversations.chunks(per) {
            hooks.extend_from_slice(&group[..per - 1]);
            fulfilments.push(group[per - 1]);
        }
    }
    report("whole reset conversation (4 RecognizeText)", conversations);
    println!("{per} Invokes per conversation, as the emulator timed them (REPORT lines):");
    report("  dialog code hook", hooks);
    report("  fulfillment (reset + SMS)", fulfilments);
    report("warm Invoke, dialog code hook", dialog);
    report("warm Invoke, fulfillment (reset + SMS)", fulfillment);
    report("cold first Invoke (fresh process)", cold);
}
