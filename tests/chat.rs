//! `resetpw chat` end to end: the real binary talks to a stack deployed by the real binary on
//! the local cloud, whose Lex V2 runtime runs the bot as built and calls the fulfillment
//! function — here a bash Runtime API loop zipped by the test (`fulfillment.package`), which
//! delegates the dialog, answers fulfillment as the test scripts it (user ID `baduser` fails,
//! any other is reset) and prints every event it gets (`EVENT {...}`), so the test reads what
//! reached the function from its log.

mod common;

use common::{bot_section, cloud_url, stderr, stdout, Case, DEFAULT_UTTERANCES};
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What the function puts in session attributes, which chat must never print.
const SECRET_ATTRIBUTE: &str = "Tmp-Pw-7Qx9-not-for-print";

const HOOK: &str = r#"#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  headers="$(mktemp)"
  event="$(curl -sS --fail -D "$headers" "$api/invocation/next")" || exit 1
  id="$(tr -d '\r' <"$headers" | grep -i '^lambda-runtime-aws-request-id:' | cut -d' ' -f2)"
  rm -f "$headers"
  echo "EVENT $event"
  case "$event" in
    *'"invocationSource":"DialogCodeHook"'*)
      answer='{"sessionState":{"dialogAction":{"type":"Delegate"},"intent":{"name":"ResetPW","state":"InProgress"}}}' ;;
    *'"interpretedValue":"baduser"'*)
      answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Failed"},"sessionAttributes":{"ResetOutcome":"failed"}},"messages":[{"contentType":"PlainText","content":"Sorry, I could not verify your identity."}]}' ;;
    *)
      answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Fulfilled"},"sessionAttributes":{"ResetOutcome":"fulfilled","Handover":"@SECRET@"}},"messages":[{"contentType":"PlainText","content":"Your password has been reset."}]}' ;;
  esac
  curl -sS -X POST --data-binary "$answer" "$api/invocation/$id/response" >/dev/null
done
"#;

/// The events the stack's function got, in order (from the `EVENT {...}` lines of its log).
async fn events(stack: &str) -> Vec<Value> {
    let url = format!(
        "{}/_localcloud/lambda/logs?function={stack}-fulfillment",
        cloud_url()
    );
    let lines: Vec<Value> = reqwest::get(url)
        .await
        .expect("the log endpoint answers")
        .json()
        .await
        .expect("the log is JSON");
    lines
        .iter()
        .filter_map(|l| l["message"].as_str()?.trim().strip_prefix("EVENT "))
        .map(|e| serde_json::from_str(e).expect("the event is JSON"))
        .collect()
}

fn says(list: &[&str]) -> Vec<String> {
    list.iter()
        .flat_map(|s| ["--say".to_string(), s.to_string()])
        .collect()
}

/// One deployed stack, several conversations: exit 0 when fulfilled, 3 when failed or not
/// fulfilled, the `--say` texts in order, session attributes reaching the function, the JSON
/// transcript, standard input, nothing secret printed; 1 when the alias is gone.
#[tokio::test(flavor = "multi_thread")]
async fn chat_talks_to_the_deployed_bot_and_exits_by_the_outcome() {
    let case = Case::new("chat");
    let script = HOOK.replace("@SECRET@", SECRET_ATTRIBUTE);
    let file =
        case.write_stack_with_bootstrap(&script, &bot_section("Joanna", &DEFAULT_UTTERANCES));
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let user_id_prompt = resetpw::resources::lex::SLOTS[0].2;
    let dob_prompt = resetpw::resources::lex::SLOTS[1].2;
    let month_prompt = resetpw::resources::lex::SLOTS[2].2;
    let code_prompt = resetpw::resources::lex::SLOTS[3].2;

    // A whole reset, as text: the caller's lines and the bot's, then the outcome; exit 0.
    let mut args = vec![
        "chat",
        "-f",
        f,
        "--session-attribute",
        "CallerNumber=+15550100001",
    ];
    let script_says = says(&[
        "I forgot my password",
        "jdoe",
        "march third nineteen ninety",
        "March",
        "one two three four five six",
    ]);
    args.extend(script_says.iter().map(String::as_str));
    let out = case.run(&args, 0);
    let text = stdout(&out);
    let expected = [
        "you: I forgot my password".to_string(),
        format!("bot: {user_id_prompt}"),
        "you: jdoe".to_string(),
        format!("bot: {dob_prompt}"),
        "you: march third nineteen ninety".to_string(),
        format!("bot: {month_prompt}"),
        "you: March".to_string(),
        format!("bot: {code_prompt}"),
        "you: one two three four five six".to_string(),
        "bot: Your password has been reset.".to_string(),
        "-- Fulfilled (ResetPW)".to_string(),
    ];
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "{text}");
    for printed in [&text, &stderr(&out)] {
        assert!(!printed.contains(SECRET_ATTRIBUTE), "{printed}");
        assert!(!printed.contains("+15550100001"), "{printed}");
    }

    // What reached the function: the texts in order, the session attribute on every hook, and
    // the slots as resolved.
    // The function's output is collected as it prints it: wait (bounded) for the last event.
    let mut seen = events(&case.stack).await;
    for _ in 0..100 {
        if seen
            .iter()
            .any(|e| e["invocationSource"] == "FulfillmentCodeHook")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        seen = events(&case.stack).await;
    }
    let transcripts: Vec<&str> = seen
        .iter()
        .filter_map(|e| e["inputTranscript"].as_str())
        .collect();
    let mut said = transcripts.clone();
    said.dedup();
    assert_eq!(
        said,
        [
            "I forgot my password",
            "jdoe",
            "march third nineteen ninety",
            "March",
            "one two three four five six"
        ],
        "{transcripts:?}"
    );
    assert!(seen
        .iter()
        .all(|e| e["sessionState"]["sessionAttributes"]["CallerNumber"] == "+15550100001"));
    let fulfil = seen
        .iter()
        .find(|e| e["invocationSource"] == "FulfillmentCodeHook")
        .expect("the fulfillment hook was called");
    let slots = &fulfil["sessionState"]["intent"]["slots"];
    assert_eq!(slots["UserID"]["value"]["interpretedValue"], "jdoe");
    assert_eq!(slots["DOB"]["value"]["interpretedValue"], "1990-03-03");
    assert_eq!(slots["MonthStarted"]["value"]["interpretedValue"], "March");
    // The spoken code, as the six digits the OneTimeCode type's pattern takes.
    assert_eq!(slots["Code"]["value"]["interpretedValue"], "123456");
    assert_eq!(fulfil["bot"]["aliasName"], "live");

    // The same conversation as JSON: the transcript's shape.
    let mut args = vec!["chat", "-f", f, "-o", "json"];
    args.extend(script_says.iter().map(String::as_str));
    let out = case.run(&args, 0);
    let t: Value = serde_json::from_slice(&out.stdout).expect("the transcript is JSON");
    assert_eq!(t["bot"], format!("{}-resetpw", case.stack));
    assert_eq!(t["alias"], "live");
    assert_eq!(t["locale"], "en_US");
    assert_eq!(t["bot_id"].as_str().map(str::len), Some(10));
    assert_eq!(t["alias_id"].as_str().map(str::len), Some(10));
    assert_eq!(t["outcome"], "Fulfilled");
    assert_eq!(t["intent"], "ResetPW");
    let turns = t["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 5);
    assert_eq!(turns[0]["say"], "I forgot my password");
    assert_eq!(turns[0]["messages"], serde_json::json!([user_id_prompt]));
    assert_eq!(turns[0]["intent"], "ResetPW");
    assert_eq!(turns[0]["intent_state"], "InProgress");
    assert_eq!(turns[0]["dialog_action"], "ElicitSlot");
    assert_eq!(turns[3]["say"], "March");
    assert_eq!(turns[3]["messages"], serde_json::json!([code_prompt]));
    assert_eq!(turns[4]["say"], "one two three four five six");
    assert_eq!(turns[4]["intent_state"], "Fulfilled");
    assert_eq!(turns[4]["dialog_action"], "Close");
    assert_eq!(
        turns[4]["messages"],
        serde_json::json!(["Your password has been reset."])
    );
    assert!(!stdout(&out).contains(SECRET_ATTRIBUTE));

    // The function fails the reset: exit 3, outcome Failed.
    let mut args = vec!["chat", "-f", f, "-o", "json"];
    let failing = says(&["reset my password", "baduser", "1990-03-03", "3", "123456"]);
    args.extend(failing.iter().map(String::as_str));
    let out = case.run(&args, 3);
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["outcome"], "Failed");
    assert_eq!(
        t["turns"][4]["messages"],
        serde_json::json!(["Sorry, I could not verify your identity."])
    );

    // The input runs out before the end: exit 3, NotFulfilled.
    let out = case.run(
        &["chat", "-f", f, "--say", "I am locked out", "--say", "jdoe"],
        3,
    );
    assert!(
        stdout(&out).ends_with("-- NotFulfilled (ResetPW)\n"),
        "{}",
        stdout(&out)
    );

    // Nothing like the sample utterances: the fallback, exit 3.
    let out = case.run(
        &[
            "chat",
            "-f",
            f,
            "-o",
            "json",
            "--say",
            "what is the weather in Paris",
        ],
        3,
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["intent"], "FallbackIntent");
    assert_eq!(t["outcome"], "NotFulfilled");

    // Without --say, the lines come from standard input (blank lines skipped).
    let mut cmd = case.resetpw(&["chat", "-f", f]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run resetpw");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"I forgot my password\n\njdoe\n1990-03-03\nMar\n123 456\n")
        .expect("write stdin");
    let out = child.wait_with_output().expect("resetpw ends");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).ends_with("-- Fulfilled (ResetPW)\n"));
    assert_eq!(stdout(&out).matches("you: ").count(), 5);

    // A bad --session-attribute: exit 1 before any call.
    let out = case.run(
        &[
            "chat",
            "-f",
            f,
            "--session-attribute",
            "novalue",
            "--say",
            "hi",
        ],
        1,
    );
    assert!(stderr(&out).contains("KEY=VALUE"), "{}", stderr(&out));

    // The alias deleted behind the tool's back: exit 1, saying what to do.
    let lex = aws_sdk_lexmodelsv2::Client::new(&common::sdk().await);
    let bot_id = t["bot_id"].as_str().unwrap().to_string();
    let aliases = lex.list_bot_aliases().bot_id(&bot_id).send().await.unwrap();
    let live = aliases
        .bot_alias_summaries()
        .iter()
        .find(|a| a.bot_alias_name() == Some("live"))
        .and_then(|a| a.bot_alias_id())
        .expect("the alias live")
        .to_string();
    lex.delete_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_id(&live)
        .send()
        .await
        .unwrap();
    let out = case.run(&["chat", "-f", f, "--say", "reset my password"], 1);
    assert!(
        stderr(&out).contains("has no alias `live`") && stderr(&out).contains("resetpw up"),
        "{}",
        stderr(&out)
    );
    case.run(&["down", "-f", f, "--yes"], 0);
}

/// No stack deployed: exit 1, saying what to run.
#[tokio::test(flavor = "multi_thread")]
async fn chat_without_a_deployed_bot_is_an_error() {
    let case = Case::new("chat-none");
    let file = case.write_stack_with_function(&bot_section("Joanna", &DEFAULT_UTTERANCES));
    let out = case.run(
        &["chat", "-f", path_str(&file), "--say", "reset my password"],
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("`{}-resetpw` does not exist", case.stack))
            && err.contains("resetpw up"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}
