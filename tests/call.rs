//! `resetpw call` end to end: up → call → down in one test cloud. The stack's function is a bash
//! Runtime API loop zipped by the test, which delegates the dialog and, on fulfillment, refuses
//! the user ID `baduser` (Close Failed, `ResetOutcome=failed`) and resets any other; it prints
//! every event it gets (`EVENT {...}`). The local cloud rings the stack's claimed number and runs
//! the published flow; what happened is read back from the local cloud (the contact's flow log
//! and disposition, the function's events), not only from the tool's output.

mod common;

use common::{bot_section, cloud_url, stderr, stdout, Case, DEFAULT_UTTERANCES};
use resetpw::resources::connect::{CALL_BACK_LATER, GOODBYE};
use serde_json::Value;

const GREETING: &str = "Welcome to the test line.";
const REFUSED: &str = "Sorry, I could not verify your identity.";

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
      answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Fulfilled"},"sessionAttributes":{"ResetOutcome":"fulfilled"}},"messages":[{"contentType":"PlainText","content":"Your password has been reset."}]}' ;;
  esac
  curl -sS -X POST --data-binary "$answer" "$api/invocation/$id/response" >/dev/null
done
"#;

fn says(user: &str) -> Vec<String> {
    [
        "I forgot my password",
        user,
        "march third nineteen ninety",
        "March",
    ]
    .iter()
    .flat_map(|s| ["--say".to_string(), s.to_string()])
    .collect()
}

async fn get(path: &str) -> Value {
    reqwest::get(format!("{}{path}", cloud_url()))
        .await
        .expect("the control API answers")
        .json()
        .await
        .expect("JSON")
}

/// The blocks the contact went through, from the local cloud.
async fn flow_path(contact: &str) -> (Vec<String>, Value) {
    let c = get(&format!("/_localcloud/connect/contacts/{contact}")).await;
    let path = c["flow_log"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["Identifier"].as_str().unwrap_or_default().to_string())
        .collect();
    (path, c["disposition"].clone())
}

fn contact_of(text: &str) -> String {
    text.lines()
        .last()
        .and_then(|l| l.rsplit_once(", contact "))
        .map(|(_, id)| id.to_string())
        .unwrap_or_else(|| panic!("no contact id in {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn call_rings_the_line_and_exits_by_how_the_contact_ended() {
    let case = Case::new("call");
    let connect = format!(
        "connect:\n  instance_alias: i-{}\n  greeting: {GREETING}\n  agent_queue: BasicQueue\n  phone_number:\n    country_code: US\n    type: DID\n    prefix: \"+1206\"\n",
        case.stack
    );
    // The scripted hook plays the knowledge-only line: no Code slot to answer.
    let file = case.write_stack_with_bootstrap(
        HOOK,
        &format!(
            "verification:\n  one_time_code: false\n{}{connect}",
            bot_section("Joanna", &DEFAULT_UTTERANCES)
        ),
    );
    let f = file.to_str().unwrap();
    // Before `up` there is no line to call.
    let out = case.run(&["call", "-f", f, "--say", "hello"], 1);
    assert!(
        stderr(&out).contains("run `resetpw up` first"),
        "{}",
        stderr(&out)
    );
    case.run(&["up", "-f", f], 0);
    let outputs: Value =
        serde_json::from_str(&stdout(&case.run(&["outputs", "-f", f, "-o", "json"], 0))).unwrap();
    let number = outputs["connect-phone-number.number"]
        .as_str()
        .unwrap()
        .to_string();
    let user_id_prompt = resetpw::resources::lex::SLOTS[0].2;

    // Fulfilled: the transcript as text, exit 0.
    let mut args = vec!["call", "-f", f, "--from", "+15550100001"];
    let good = says("jdoe");
    args.extend(good.iter().map(String::as_str));
    let out = case.run(&args, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("Calling {number} from +15550100001:"));
    assert_eq!(lines[1], format!("line: {GREETING}"));
    assert_eq!(lines[2], "line: How can I help you today?");
    assert_eq!(lines[3], "you: I forgot my password");
    assert_eq!(lines[4], format!("bot: {user_id_prompt}"));
    assert_eq!(lines[lines.len() - 3], "bot: Your password has been reset.");
    assert_eq!(lines[lines.len() - 2], format!("line: {GOODBYE}"));
    assert!(
        lines[lines.len() - 1]
            .starts_with("-- fulfilled (disconnected by the line after `disconnect`)"),
        "{text}"
    );
    // What the local cloud ran, and what reached the function.
    let contact = contact_of(&text);
    let (path, disposition) = flow_path(&contact).await;
    assert_eq!(
        path,
        [
            "greeting",
            "reset-bot",
            "check-outcome",
            "goodbye",
            "disconnect"
        ]
    );
    assert_eq!(disposition["state"], "disconnected");
    let log: Vec<Value> = reqwest::get(format!(
        "{}/_localcloud/lambda/logs?function={}-fulfillment",
        cloud_url(),
        case.stack
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let event: Value = log
        .iter()
        .filter_map(|l| l["message"].as_str()?.trim().strip_prefix("EVENT "))
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .find(|e| e["sessionState"]["sessionAttributes"]["ContactId"] == contact.as_str())
        .expect("the function got the contact's events");
    assert_eq!(
        event["sessionState"]["sessionAttributes"]["CallerNumber"],
        "+15550100001"
    );

    // The same call expected to end queued: exit 3.
    let mut args = vec!["call", "-f", f, "--expect", "queued"];
    args.extend(good.iter().map(String::as_str));
    case.run(&args, 3);

    // Refused: queued for an agent, as JSON.
    let mut args = vec!["call", "-f", f, "--expect", "queued", "-o", "json"];
    let bad = says("baduser");
    args.extend(bad.iter().map(String::as_str));
    let out = case.run(&args, 0);
    let call: Value = serde_json::from_str(&stdout(&out)).expect("-o json is JSON");
    assert_eq!(call["channel"], "voice");
    assert_eq!(call["outcome"], "queued");
    assert_eq!(call["end"]["queue"], "BasicQueue");
    assert_eq!(call["to"], number.as_str());
    let transcript = call["transcript"].as_array().unwrap();
    assert!(transcript
        .iter()
        .any(|l| l["speaker"] == "bot" && l["text"] == REFUSED));
    let (path, disposition) = flow_path(call["contact_id"].as_str().unwrap()).await;
    assert_eq!(path.last().map(String::as_str), Some("to-queue"));
    assert_eq!(disposition["queue_name"], "BasicQueue");

    // The queue at capacity (a fault rule for this test's calls): call back later, `ended`.
    reqwest::Client::new()
        .post(format!("{}/_localcloud/faults", cloud_url()))
        .json(
            &serde_json::json!({"service": "connect", "operation": "TransferContactToQueue",
                                  "status": 400, "code": "QueueAtCapacity", "app": case.app}),
        )
        .send()
        .await
        .unwrap();
    let mut args = vec!["call", "-f", f, "--expect", "ended", "-o", "json"];
    args.extend(bad.iter().map(String::as_str));
    let out = case.run(&args, 0);
    let call: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let _ = reqwest::Client::new()
        .delete(format!(
            "{}/_localcloud/faults?app={}",
            cloud_url(),
            case.app
        ))
        .send()
        .await;
    assert_eq!(
        call["transcript"].as_array().unwrap().last().unwrap()["text"],
        CALL_BACK_LATER
    );

    // The caller says nothing: they hang up while the bot waits, `ended`.
    case.run(&["call", "-f", f, "--expect", "ended"], 0);

    // A chat contact through the same flow (what `call` does against AWS), through the local
    // cloud's Participant Service: a chat has no caller number.
    let mut args = vec!["call", "-f", f, "--channel", "chat", "-o", "json"];
    args.extend(good.iter().map(String::as_str));
    let out = case.run(&args, 0);
    let chat: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(chat["channel"], "chat");
    assert_eq!(chat["outcome"], "fulfilled");
    assert_eq!(chat["from"], Value::Null);
    let (path, _) = flow_path(chat["contact_id"].as_str().unwrap()).await;
    assert_eq!(path.last().map(String::as_str), Some("disconnect"));
    let mut args = vec!["call", "-f", f, "--channel", "chat", "--expect", "queued"];
    args.extend(bad.iter().map(String::as_str));
    let out = case.run(&args, 0);
    assert!(stdout(&out).contains("-- queued"), "{}", stdout(&out));

    // A bad caller number is an error.
    let out = case.run(&["call", "-f", f, "--from", "555", "--say", "hi"], 1);
    assert!(stderr(&out).contains("E.164"), "{}", stderr(&out));

    case.run(&["down", "-f", f, "--yes", "--release-phone-number"], 0);
    let out = case.run(&["call", "-f", f, "--say", "hello"], 1);
    assert!(
        stderr(&out).contains("no claimed phone number"),
        "{}",
        stderr(&out)
    );
}
