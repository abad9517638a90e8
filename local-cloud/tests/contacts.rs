//! Contacts in the local cloud's Amazon Connect, against a running local cloud (`scripts/local-
//! cloud start`, or `scripts/test`; the test code hook is a Lambda, which needs moto): the
//! password-reset flow (the shape resetpw generates) PUBLISHED on an instance, associated with
//! a claimed number, and run for voice calls rung through the control API — the fulfilled path
//! and every other one, checked on the transcript, the disposition and the flow log, with the
//! flow's LexSessionAttributes read back from the code hook's event — and for a chat driven with
//! the official SDKs (aws-sdk-connect StartChatContact, aws-sdk-connectparticipant).

mod common;

use aws_sdk_connect::types::{
    ContactFlowStatus, ContactFlowType, DirectoryType, InstanceStatus, LexV2Bot, LexVersion,
    PhoneNumberCountryCode, PhoneNumberType, PhoneNumberWorkflowStatus, QueueType,
};
use aws_sdk_connectparticipant::error::ProvideErrorMetadata;
use aws_sdk_connectparticipant::types::{ConnectionType, ScanDirection, SortKey};
use aws_sdk_lexmodelsv2::client::Waiters;
use aws_sdk_lexmodelsv2::types::{
    BotAliasLocaleSettings, BotVersionLocaleDetails, CodeHookSpecification,
    FulfillmentCodeHookSettings, LambdaCodeHook, SampleUtterance, SlotPriority,
};
use common::{
    alias_arn, cloud_url, create_bot, create_locale, endpoint_url, lex_client, required_slot, run,
    unique, zip_bootstrap, FastSleep, R, WAIT,
};
use serde_json::{json, Value};
use std::time::Duration;

type E = Box<dyn std::error::Error>;

const GREETING: &str = "Welcome to the password reset line.";
const BOT_PROMPT: &str = "How can I help you today?";
const USER_ID_PROMPT: &str = "What is your user ID?";
const DONE: &str = "Reset done.";
const REFUSED: &str = "Sorry, I could not verify you.";
const GOODBYE: &str = "Your new password is on its way to the phone number on record. Goodbye.";
const LATER: &str = "Sorry, no one can take your call right now. Please call back later.";
/// The caller the test code hook refuses.
const REFUSED_CALLER: &str = "+15550100099";

/// The test code hook: prints each event (`EVENT {...}`); on fulfillment, Close Failed with
/// `ResetOutcome=failed` for the caller number REFUSED_CALLER, else Close Fulfilled with
/// `ResetOutcome=fulfilled`.
const HOOK: &str = r#"#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  headers="$(mktemp)"
  event="$(curl -sS --fail -D "$headers" "$api/invocation/next")" || exit 1
  id="$(tr -d '\r' <"$headers" | grep -i '^lambda-runtime-aws-request-id:' | cut -d' ' -f2)"
  rm -f "$headers"
  echo "EVENT $event"
  case "$event" in
    *'"CallerNumber":"+15550100099"'*)
      answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Failed"},"sessionAttributes":{"ResetOutcome":"failed"}},"messages":[{"contentType":"PlainText","content":"Sorry, I could not verify you."}]}' ;;
    *)
      answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Fulfilled"},"sessionAttributes":{"ResetOutcome":"fulfilled"}},"messages":[{"contentType":"PlainText","content":"Reset done."}]}' ;;
  esac
  curl -sS -X POST --data-binary "$answer" "$api/invocation/$id/response" >/dev/null
done
"#;

/// The flow resetpw generates: greeting → bot → on ResetPW, `fulfilled` → goodbye; otherwise
/// the queue; at capacity, call back later.
fn reset_flow(alias: &str, queue: &str) -> String {
    let message = |id: &str, text: &str, next: &str| {
        json!({"Identifier": id, "Type": "MessageParticipant", "Parameters": {"Text": text},
               "Transitions": {"NextAction": next, "Errors": [{"ErrorType": "NoMatchingError", "NextAction": next}]}})
    };
    json!({"Version": "2019-10-30", "StartAction": "greeting", "Metadata": {}, "Actions": [
        message("greeting", GREETING, "reset-bot"),
        {"Identifier": "reset-bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": BOT_PROMPT, "LexV2Bot": {"AliasArn": alias},
                        "LexSessionAttributes": {"CallerNumber": "$.CustomerEndpoint.Address", "ContactId": "$.ContactId"}},
         "Transitions": {"NextAction": "set-queue",
             "Conditions": [{"NextAction": "check-outcome", "Condition": {"Operator": "Equals", "Operands": ["ResetPW"]}}],
             "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "set-queue"},
                        {"ErrorType": "NoMatchingError", "NextAction": "set-queue"}]}},
        {"Identifier": "check-outcome", "Type": "Compare",
         "Parameters": {"ComparisonValue": "$.Lex.SessionAttributes.ResetOutcome"},
         "Transitions": {"NextAction": "set-queue",
             "Conditions": [{"NextAction": "goodbye", "Condition": {"Operator": "Equals", "Operands": ["fulfilled"]}}],
             "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "set-queue"}]}},
        message("goodbye", GOODBYE, "disconnect"),
        {"Identifier": "set-queue", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": queue},
         "Transitions": {"NextAction": "to-queue", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "call-back-later"}]}},
        {"Identifier": "to-queue", "Type": "TransferContactToQueue", "Parameters": {},
         "Transitions": {"NextAction": "call-back-later",
             "Errors": [{"ErrorType": "QueueAtCapacity", "NextAction": "call-back-later"},
                        {"ErrorType": "NoMatchingError", "NextAction": "call-back-later"}]}},
        message("call-back-later", LATER, "disconnect"),
        {"Identifier": "disconnect", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
    .to_string()
}

/// The deployed line of one test: instance, flow, numbers, the function's name.
struct Line {
    connect: aws_sdk_connect::Client,
    participant: aws_sdk_connectparticipant::Client,
    instance: String,
    flow: String,
    /// Rings the flow.
    number: String,
    /// Claimed, with no flow.
    bare: String,
    /// Rings a SAVED (unpublished) flow.
    saved: String,
    function: String,
    app: String,
}

async fn sdk(app: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint_url())
        .app_name(aws_config::AppName::new(app.to_string()).expect("a valid app name"))
        .sleep_impl(FastSleep)
        .load()
        .await
}

async fn hook_function(config: &aws_config::SdkConfig) -> Result<(String, String), E> {
    let iam = aws_sdk_iam::Client::new(config);
    let lambda = aws_sdk_lambda::Client::new(config);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name(unique("flow-hook-role"))
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?;
    let name = unique("flow-hook");
    let created = lambda
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().map(|r| r.arn()).unwrap_or_default())
        .timeout(10)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip_bootstrap(HOOK)))
                .build(),
        )
        .send()
        .await?;
    Ok((name, created.function_arn().unwrap_or_default().to_string()))
}

/// A bot with ResetPW (one slot, UserID; the fulfillment hook) and Hours (no slot, no hook),
/// built, version 1, alias `live`: its alias ARN.
async fn bot(lex: &aws_sdk_lexmodelsv2::Client, lambda: &str) -> Result<String, E> {
    let id = create_bot(lex, &unique("flow-bot")).await?;
    lex.wait_until_bot_available()
        .bot_id(&id)
        .wait(WAIT)
        .await?;
    create_locale(lex, &id).await?;
    let utterances = ["reset my password", "I forgot my password"];
    let mut create = lex
        .create_intent()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_name("ResetPW");
    for u in utterances {
        create = create.sample_utterances(SampleUtterance::builder().utterance(u).build()?);
    }
    let intent = create.send().await?;
    let intent_id = intent.intent_id().unwrap_or_default().to_string();
    let slot = lex
        .create_slot()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .slot_name("UserID")
        .slot_type_id("AMAZON.AlphaNumeric")
        .value_elicitation_setting(required_slot(USER_ID_PROMPT)?)
        .send()
        .await?;
    let mut update = lex
        .update_intent()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .intent_name("ResetPW")
        .fulfillment_code_hook(FulfillmentCodeHookSettings::builder().enabled(true).build())
        .slot_priorities(
            SlotPriority::builder()
                .priority(1)
                .slot_id(slot.slot_id().unwrap_or_default())
                .build()?,
        );
    for u in utterances {
        update = update.sample_utterances(SampleUtterance::builder().utterance(u).build()?);
    }
    update.send().await?;
    lex.create_intent()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_name("Hours")
        .sample_utterances(
            SampleUtterance::builder()
                .utterance("when are you open")
                .build()?,
        )
        .send()
        .await?;
    lex.build_bot_locale()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    lex.wait_until_bot_locale_built()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await?;
    lex.create_bot_version()
        .bot_id(&id)
        .bot_version_locale_specification(
            "en_US",
            BotVersionLocaleDetails::builder()
                .source_bot_version("DRAFT")
                .build()?,
        )
        .send()
        .await?;
    lex.wait_until_bot_version_available()
        .bot_id(&id)
        .bot_version("1")
        .wait(WAIT)
        .await?;
    let settings = BotAliasLocaleSettings::builder()
        .enabled(true)
        .code_hook_specification(
            CodeHookSpecification::builder()
                .lambda_code_hook(
                    LambdaCodeHook::builder()
                        .lambda_arn(lambda)
                        .code_hook_interface_version("1.0")
                        .build()?,
                )
                .build(),
        )
        .build();
    let alias = lex
        .create_bot_alias()
        .bot_id(&id)
        .bot_alias_name("live")
        .bot_version("1")
        .bot_alias_locale_settings("en_US", settings)
        .send()
        .await?;
    let alias = alias.bot_alias_id().unwrap_or_default().to_string();
    lex.wait_until_bot_alias_available()
        .bot_id(&id)
        .bot_alias_id(&alias)
        .wait(WAIT)
        .await?;
    Ok(alias_arn(&id, &alias))
}

async fn claimed(connect: &aws_sdk_connect::Client, instance: &str) -> Result<String, E> {
    // Tests run in parallel against one cloud: a number found available may be claimed by
    // another test before this one claims it, as on Connect. Try the next one then.
    let available = connect
        .search_available_phone_numbers()
        .instance_id(instance)
        .phone_number_country_code(PhoneNumberCountryCode::Us)
        .phone_number_type(PhoneNumberType::TollFree)
        .max_results(10)
        .send()
        .await?;
    let mut claim = None;
    for number in available
        .available_numbers_list()
        .iter()
        .filter_map(|n| n.phone_number())
    {
        match connect
            .claim_phone_number()
            .instance_id(instance)
            .phone_number(number)
            .send()
            .await
        {
            Ok(c) => {
                claim = Some(c);
                break;
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_invalid_parameter_exception()) =>
            {
                continue
            }
            Err(e) => return Err(e.into()),
        }
    }
    let claim = claim.ok_or("no number available")?;
    let id = claim.phone_number_id().unwrap_or_default().to_string();
    for _ in 0..500 {
        let d = connect
            .describe_phone_number()
            .phone_number_id(&id)
            .send()
            .await?;
        let status = d
            .claimed_phone_number_summary()
            .and_then(|s| s.phone_number_status())
            .and_then(|s| s.status())
            .cloned();
        if status == Some(PhoneNumberWorkflowStatus::Claimed) {
            return Ok(id);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the number never became CLAIMED".into())
}

async fn number_of(connect: &aws_sdk_connect::Client, id: &str) -> Result<String, E> {
    let d = connect
        .describe_phone_number()
        .phone_number_id(id)
        .send()
        .await?;
    Ok(d.claimed_phone_number_summary()
        .and_then(|s| s.phone_number())
        .unwrap_or_default()
        .to_string())
}

async fn deploy(prefix: &str) -> Result<Line, E> {
    cloud_url();
    let app = format!("t-{}", unique(prefix));
    let config = sdk(&app).await;
    let (function, lambda) = hook_function(&config).await?;
    let alias = bot(&lex_client(&endpoint_url(), &app), &lambda).await?;
    let connect = aws_sdk_connect::Client::new(&config);
    let created = connect
        .create_instance()
        .identity_management_type(DirectoryType::ConnectManaged)
        .instance_alias(unique("flows"))
        .inbound_calls_enabled(true)
        .outbound_calls_enabled(false)
        .send()
        .await?;
    let instance = created.id().unwrap_or_default().to_string();
    for _ in 0..500 {
        let d = connect
            .describe_instance()
            .instance_id(&instance)
            .send()
            .await?;
        if d.instance().and_then(|i| i.instance_status()) == Some(&InstanceStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    connect
        .associate_bot()
        .instance_id(&instance)
        .lex_v2_bot(LexV2Bot::builder().alias_arn(&alias).build())
        .send()
        .await?;
    let bots = connect
        .list_bots()
        .instance_id(&instance)
        .lex_version(LexVersion::V2)
        .send()
        .await?;
    assert_eq!(bots.lex_bots().len(), 1);
    let queues = connect
        .list_queues()
        .instance_id(&instance)
        .queue_types(QueueType::Standard)
        .send()
        .await?;
    let queue = queues
        .queue_summary_list()
        .iter()
        .find(|q| q.name() == Some("BasicQueue"))
        .and_then(|q| q.arn())
        .ok_or("BasicQueue")?
        .to_string();
    let content = reset_flow(&alias, &queue);
    let publish = |name: String, status: ContactFlowStatus| {
        connect
            .create_contact_flow()
            .instance_id(&instance)
            .name(name)
            .r#type(ContactFlowType::ContactFlow)
            .content(&content)
            .status(status)
            .send()
    };
    let flow = publish("password-reset".into(), ContactFlowStatus::Published)
        .await?
        .contact_flow_id()
        .unwrap_or_default()
        .to_string();
    let draft = publish("draft".into(), ContactFlowStatus::Saved)
        .await?
        .contact_flow_id()
        .unwrap_or_default()
        .to_string();
    let (ringing, bare, saved) = (
        claimed(&connect, &instance).await?,
        claimed(&connect, &instance).await?,
        claimed(&connect, &instance).await?,
    );
    for (number, flow) in [(&ringing, &flow), (&saved, &draft)] {
        connect
            .associate_phone_number_contact_flow()
            .phone_number_id(number)
            .instance_id(&instance)
            .contact_flow_id(flow)
            .send()
            .await?;
    }
    Ok(Line {
        participant: aws_sdk_connectparticipant::Client::new(&config),
        number: number_of(&connect, &ringing).await?,
        bare: number_of(&connect, &bare).await?,
        saved: number_of(&connect, &saved).await?,
        connect,
        instance,
        flow,
        function,
        app,
    })
}

/// POSTs `body` to the control API: the status and the answer.
async fn post(path: &str, body: &Value) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", cloud_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the control API answers");
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.expect("a body");
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

/// The caller of call `id` hangs up: the status and the contact.
async fn hang_up(id: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .delete(format!("{}/_localcloud/connect/calls/{id}", cloud_url()))
        .send()
        .await
        .expect("the control API answers");
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.expect("a body");
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

async fn get(path: &str) -> Value {
    let answer = reqwest::get(format!("{}{path}", cloud_url()))
        .await
        .expect("the control API answers");
    serde_json::from_slice(&answer.bytes().await.expect("a body")).expect("JSON")
}

/// Rings `to` from `from` through the control API: the status and the answer.
async fn ring(from: &str, to: &str, say: &[&str], app: Option<&str>) -> (u16, Value) {
    post(
        "/_localcloud/connect/calls",
        &json!({"from": from, "to": to, "say": say, "app": app}),
    )
    .await
}

fn heard(call: &Value) -> Vec<(String, String)> {
    call["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["speaker"].as_str().unwrap_or_default().to_string(),
                l["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn path(call: &Value) -> Vec<String> {
    call["flow_log"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["Identifier"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn line(speaker: &str, text: &str) -> (String, String) {
    (speaker.to_string(), text.to_string())
}

/// The events the hook printed.
async fn events(function: &str) -> Vec<Value> {
    let lines = get(&format!("/_localcloud/lambda/logs?function={function}")).await;
    lines
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["message"].as_str()?.trim().strip_prefix("EVENT "))
        .map(|e| serde_json::from_str(e).expect("the event is JSON"))
        .collect()
}

async fn fault(rule: Value) {
    let (status, _) = post("/_localcloud/faults", &rule).await;
    assert_eq!(status, 201);
}

/// An open call answers as soon as the flow waits for the caller, takes each further turn when
/// it is given (a caller answering what they hear), and ends by the flow or by hanging up.
#[test]
fn open_calls_take_the_callers_turns_one_at_a_time() -> R {
    run(open_calls_steps)
}

async fn open_calls_steps() -> R {
    let l = deploy("open").await?;
    let caller = "+15550100020";
    let (status, call) = post(
        "/_localcloud/connect/calls",
        &json!({"from": caller, "to": l.number, "open": true}),
    )
    .await;
    assert_eq!(status, 200, "{call:#}");
    // The greeting and the bot's prompt are heard; the line waits for the caller.
    assert_eq!(call["waiting_for_customer"], true, "{call:#}");
    assert_eq!(call["disposition"]["state"], "in_progress");
    assert_eq!(
        heard(&call),
        vec![line("flow", GREETING), line("flow", BOT_PROMPT)]
    );
    let id = call["contact_id"]
        .as_str()
        .ok_or("a contact id")?
        .to_string();
    let turns = format!("/_localcloud/connect/calls/{id}/turns");

    let (status, call) = post(&turns, &json!({"text": "reset my password"})).await;
    assert_eq!(status, 200, "{call:#}");
    assert_eq!(call["waiting_for_customer"], true, "{call:#}");
    assert_eq!(heard(&call).last(), Some(&line("bot", USER_ID_PROMPT)));
    // The control API's view of the contact says the same while it waits.
    let now = get(&format!("/_localcloud/connect/contacts/{id}")).await;
    assert_eq!(now["waiting_for_customer"], true, "{now:#}");

    let (status, call) = post(&turns, &json!({"text": "jdoe"})).await;
    assert_eq!(status, 200, "{call:#}");
    assert_eq!(call["waiting_for_customer"], false, "{call:#}");
    assert_eq!(
        call["disposition"],
        json!({"state": "disconnected", "by": "flow", "after": "disconnect"})
    );
    assert_eq!(heard(&call).last(), Some(&line("flow", GOODBYE)));
    // Nothing more can be said on a call that has ended; hanging up leaves it as it ended.
    let (status, answer) = post(&turns, &json!({"text": "hello?"})).await;
    assert_eq!(status, 409, "{answer:#}");
    let (status, gone) = hang_up(&id).await;
    assert_eq!(status, 200, "{gone:#}");
    assert_eq!(gone["disposition"]["by"], "flow", "{gone:#}");

    // A caller who hangs up while the line waits for them.
    let (_, call) = post(
        "/_localcloud/connect/calls",
        &json!({"from": caller, "to": l.number, "say": ["reset my password"], "open": true}),
    )
    .await;
    assert_eq!(call["waiting_for_customer"], true, "{call:#}");
    let id = call["contact_id"]
        .as_str()
        .ok_or("a contact id")?
        .to_string();
    let (_, left) = hang_up(&id).await;
    assert_eq!(left["waiting_for_customer"], false, "{left:#}");
    assert_eq!(left["disposition"]["by"], "customer", "{left:#}");

    // No such call.
    let (status, _) = post(
        "/_localcloud/connect/calls/00000000-0000-0000-0000-000000000000/turns",
        &json!({"text": "hi"}),
    )
    .await;
    assert_eq!(status, 404);
    Ok(())
}

/// Voice calls run the published flow: the fulfilled path and every other one, a number with
/// no flow, a flow that is only SAVED, a number that is not claimed.
#[test]
fn voice_calls_run_the_published_flow() -> R {
    run(voice_calls_steps)
}

async fn voice_calls_steps() -> R {
    let l = deploy("voice").await?;
    let caller = "+15550100020";

    // Fulfilled: greeting → bot → Compare → goodbye → disconnect.
    let (status, call) = ring(caller, &l.number, &["reset my password", "jdoe"], None).await;
    assert_eq!(status, 200, "{call:#}");
    assert_eq!(
        heard(&call),
        vec![
            line("flow", GREETING),
            line("flow", BOT_PROMPT),
            line("customer", "reset my password"),
            line("bot", USER_ID_PROMPT),
            line("customer", "jdoe"),
            line("bot", DONE),
            line("flow", GOODBYE),
        ],
        "{call:#}"
    );
    assert_eq!(
        call["disposition"],
        json!({"state": "disconnected", "by": "flow", "after": "disconnect"})
    );
    assert_eq!(
        path(&call),
        [
            "greeting",
            "reset-bot",
            "check-outcome",
            "goodbye",
            "disconnect"
        ]
    );
    assert_eq!(call["flow_log"][1]["Result"], "Condition");
    assert_eq!(call["flow_log"][1]["NextAction"], "check-outcome");
    // The flow's LexSessionAttributes reached the code hook.
    let contact = call["contact_id"].as_str().unwrap().to_string();
    let event = events(&l.function)
        .await
        .into_iter()
        .find(|e| e["sessionState"]["sessionAttributes"]["ContactId"] == contact.as_str())
        .expect("the hook got the contact's event");
    assert_eq!(
        event["sessionState"]["sessionAttributes"]["CallerNumber"],
        caller
    );
    // The same contact, read back over the control API.
    let again = get(&format!("/_localcloud/connect/contacts/{contact}")).await;
    assert_eq!(path(&again), path(&call));
    // DescribeContact: the call has ended.
    let described = l
        .connect
        .describe_contact()
        .instance_id(&l.instance)
        .contact_id(&contact)
        .send()
        .await?;
    let c = described.contact().unwrap();
    assert_eq!(c.channel().map(|c| c.as_str()), Some("VOICE"));
    assert!(c.disconnect_timestamp().is_some());
    assert!(c.queue_info().is_none());

    // Another intent: no condition matches, the caller is queued.
    let (_, call) = ring(caller, &l.number, &["when are you open"], None).await;
    assert_eq!(call["disposition"]["state"], "queued", "{call:#}");
    assert_eq!(call["disposition"]["queue_name"], "BasicQueue");
    assert_eq!(
        path(&call),
        ["greeting", "reset-bot", "set-queue", "to-queue"]
    );
    assert_eq!(call["flow_log"][1]["Result"], "NoMatchingCondition");

    // ResetOutcome failed: Compare takes NoMatchingCondition, the caller is queued.
    let (_, call) = ring(
        REFUSED_CALLER,
        &l.number,
        &["reset my password", "jdoe"],
        None,
    )
    .await;
    assert_eq!(heard(&call)[5], line("bot", REFUSED), "{call:#}");
    assert_eq!(
        path(&call),
        [
            "greeting",
            "reset-bot",
            "check-outcome",
            "set-queue",
            "to-queue"
        ]
    );
    assert_eq!(call["flow_log"][2]["Result"], "NoMatchingCondition");

    // The code hook fails (Lex's DependencyFailedException): the bot block's NoMatchingError.
    let failing = format!("{}-lambda", l.app);
    fault(
        json!({"service": "lex", "operation": "RecognizeText", "status": 424,
                 "code": "DependencyFailedException", "app": failing}),
    )
    .await;
    let (_, call) = ring(caller, &l.number, &["reset my password"], Some(&failing)).await;
    assert_eq!(
        call["flow_log"][1]["Result"],
        json!({"Error": "NoMatchingError"})
    );
    assert_eq!(call["disposition"]["state"], "queued", "{call:#}");

    // The queue at capacity: call back later, then the flow disconnects.
    let full = format!("{}-full", l.app);
    fault(
        json!({"service": "connect", "operation": "TransferContactToQueue", "status": 400,
                 "code": "QueueAtCapacity", "app": full}),
    )
    .await;
    let (_, call) = ring(caller, &l.number, &["when are you open"], Some(&full)).await;
    assert_eq!(heard(&call).last(), Some(&line("flow", LATER)), "{call:#}");
    assert_eq!(
        call["disposition"],
        json!({"state": "disconnected", "by": "flow", "after": "disconnect"})
    );
    assert_eq!(
        call["flow_log"][3]["Result"],
        json!({"Error": "QueueAtCapacity"})
    );

    // The caller hangs up while the bot waits for them.
    let (_, call) = ring(caller, &l.number, &["reset my password"], None).await;
    assert_eq!(
        call["disposition"],
        json!({"state": "disconnected", "by": "customer", "during": "reset-bot"})
    );

    // A number with no flow, and one whose flow is only SAVED: not answered.
    let (status, call) = ring(caller, &l.bare, &["hello"], None).await;
    assert_eq!(status, 200);
    assert_eq!(call["disposition"]["state"], "failed", "{call:#}");
    assert!(heard(&call).is_empty());
    let (_, call) = ring(caller, &l.saved, &["hello"], None).await;
    assert_eq!(call["disposition"]["state"], "failed", "{call:#}");
    assert!(call["disposition"]["message"]
        .as_str()
        .unwrap()
        .contains("not PUBLISHED"));
    // A number that is not claimed, and one that is not a number.
    let (status, _) = ring(caller, "+15550009999", &["hello"], None).await;
    assert_eq!(status, 404);
    let (status, _) = ring("555", &l.number, &["hello"], None).await;
    assert_eq!(status, 400);
    Ok(())
}

/// The transcript of a chat, as GetTranscript gives it (oldest first).
async fn transcript(l: &Line, connection: &str) -> Result<Vec<(String, String, String)>, E> {
    let t = l
        .participant
        .get_transcript()
        .connection_token(connection)
        .scan_direction(ScanDirection::Forward)
        .sort_order(SortKey::Ascending)
        .max_results(100)
        .send()
        .await?;
    Ok(t.transcript()
        .iter()
        .map(|i| {
            (
                i.r#type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                i.participant_role()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
                i.content()
                    .or(i.content_type())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect())
}

/// Polls the transcript until it has `n` items (bounded).
async fn transcript_n(
    l: &Line,
    connection: &str,
    n: usize,
) -> Result<Vec<(String, String, String)>, E> {
    for _ in 0..250 {
        let t = transcript(l, connection).await?;
        if t.len() >= n {
            return Ok(t);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!(
        "the transcript never had {n} items: {:?}",
        transcript(l, connection).await?
    )
    .into())
}

/// A chat through the same flow with the official SDKs: StartChatContact, the participant's
/// connection, messages, the transcript; tokens required, a wrong one refused as the service
/// refuses it.
#[test]
fn chats_run_the_flow_through_the_participant_service() -> R {
    run(chat_steps)
}

async fn chat_steps() -> R {
    let l = deploy("chat").await?;
    let started = l
        .connect
        .start_chat_contact()
        .instance_id(&l.instance)
        .contact_flow_id(&l.flow)
        .participant_details(
            aws_sdk_connect::types::ParticipantDetails::builder()
                .display_name("Ada")
                .build()?,
        )
        .send()
        .await?;
    let contact = started.contact_id().unwrap().to_string();
    let token = started.participant_token().unwrap().to_string();
    assert!(started.participant_id().is_some());

    let wrong = l
        .participant
        .create_participant_connection()
        .participant_token("not-a-token")
        .r#type(ConnectionType::ConnectionCredentials)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("AccessDeniedException"));
    let connection = l
        .participant
        .create_participant_connection()
        .participant_token(&token)
        .r#type(ConnectionType::ConnectionCredentials)
        .send()
        .await?;
    let credentials = connection.connection_credentials().unwrap();
    assert!(credentials.expiry().is_some());
    let connection = credentials.connection_token().unwrap().to_string();

    // Joined, greeting, the bot's own prompt; then the flow waits for the customer.
    let t = transcript_n(&l, &connection, 3).await?;
    assert_eq!(
        t,
        vec![
            (
                "EVENT".into(),
                "CUSTOMER".into(),
                "application/vnd.amazonaws.connect.event.participant.joined".into()
            ),
            ("MESSAGE".into(), "SYSTEM".into(), GREETING.into()),
            ("MESSAGE".into(), "SYSTEM".into(), BOT_PROMPT.into()),
        ]
    );
    let bad = l
        .participant
        .send_message()
        .connection_token("bogus")
        .content_type("text/plain")
        .content("hello")
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("AccessDeniedException"));
    let sent = l
        .participant
        .send_message()
        .connection_token(&connection)
        .content_type("text/plain")
        .content("reset my password")
        .send()
        .await?;
    assert!(sent.id().is_some() && sent.absolute_time().is_some());
    transcript_n(&l, &connection, 5).await?;
    l.participant
        .send_message()
        .connection_token(&connection)
        .content_type("text/plain")
        .content("jdoe")
        .send()
        .await?;
    let t = transcript_n(&l, &connection, 9).await?;
    let tail: Vec<&str> = t[3..].iter().map(|i| i.2.as_str()).collect();
    assert_eq!(
        tail,
        [
            "reset my password",
            USER_ID_PROMPT,
            "jdoe",
            DONE,
            GOODBYE,
            "application/vnd.amazonaws.connect.event.chat.ended"
        ],
        "{t:?}"
    );
    assert_eq!(t[3].1, "CUSTOMER");
    // The flow ended the chat: the contact is disconnected, the connection refused.
    let described = l
        .connect
        .describe_contact()
        .instance_id(&l.instance)
        .contact_id(&contact)
        .send()
        .await?;
    assert_eq!(
        described
            .contact()
            .and_then(|c| c.channel())
            .map(|c| c.as_str()),
        Some("CHAT")
    );
    assert!(described
        .contact()
        .unwrap()
        .disconnect_timestamp()
        .is_some());
    let after = l
        .participant
        .send_message()
        .connection_token(&connection)
        .content_type("text/plain")
        .content("hello?")
        .send()
        .await
        .unwrap_err();
    assert_eq!(after.code(), Some("AccessDeniedException"));
    // A chat without a caller number: the flow gave the bot an empty CallerNumber.
    let event = events(&l.function)
        .await
        .into_iter()
        .find(|e| e["sessionState"]["sessionAttributes"]["ContactId"] == contact.as_str())
        .expect("the hook got the chat's event");
    assert_eq!(
        event["sessionState"]["sessionAttributes"]["CallerNumber"],
        ""
    );

    // A second chat that the customer leaves: DisconnectParticipant ends it.
    let second = l
        .connect
        .start_chat_contact()
        .instance_id(&l.instance)
        .contact_flow_id(&l.flow)
        .participant_details(
            aws_sdk_connect::types::ParticipantDetails::builder()
                .display_name("Bo")
                .build()?,
        )
        .send()
        .await?;
    let c2 = l
        .participant
        .create_participant_connection()
        .participant_token(second.participant_token().unwrap())
        .r#type(ConnectionType::ConnectionCredentials)
        .send()
        .await?;
    let c2 = c2
        .connection_credentials()
        .unwrap()
        .connection_token()
        .unwrap()
        .to_string();
    transcript_n(&l, &c2, 3).await?;
    l.participant
        .disconnect_participant()
        .connection_token(&c2)
        .send()
        .await?;
    let t = transcript_n(&l, &c2, 5).await?;
    assert_eq!(
        t[3].2,
        "application/vnd.amazonaws.connect.event.participant.left"
    );
    assert_eq!(t[4].2, "application/vnd.amazonaws.connect.event.chat.ended");
    Ok(())
}
