//! The Lex V2 runtime of the local cloud, checked with the official SDK (aws-sdk-lexruntimev2;
//! the bots are made with aws-sdk-lexmodelsv2) against a running local cloud
//! (`scripts/local-cloud start`, or `scripts/test`): RecognizeText through whole ResetPW-like
//! conversations, PutSession / GetSession / DeleteSession, the errors, and the dialog and
//! fulfillment code hooks calling a test Lambda — a bash + curl Runtime API loop zipped here,
//! which answers as the session attribute `Mode` asks and prints every event it gets (`EVENT
//! {...}`), so the tests read the exact Lex V2 event from the function's log.

mod common;

use aws_sdk_lexmodelsv2::client::Waiters;
use aws_sdk_lexmodelsv2::types::{
    BotAliasLocaleSettings, BotVersionLocaleDetails, CodeHookSpecification, DialogCodeHookSettings,
    FulfillmentCodeHookSettings, IntentClosingSetting, LambdaCodeHook, MessageGroup,
    PlainTextMessage, ResponseSpecification, SampleUtterance, SampleValue, SlotPriority,
    SlotTypeValue, SlotValueResolutionStrategy, SlotValueSelectionSetting,
};
use aws_sdk_lexruntimev2::error::ProvideErrorMetadata;
use aws_sdk_lexruntimev2::operation::recognize_text::RecognizeTextOutput;
use aws_sdk_lexruntimev2::types::{
    ConfirmationState, DialogAction, DialogActionType, Intent, IntentState, MessageContentType,
    SessionState, Shape, Slot, StyleType,
};
use aws_sdk_lexruntimev2::Client as Runtime;
use common::{
    cloud_url, create_bot, create_locale, endpoint_url, lex_client, required_slot, run, unique,
    zip_bootstrap, FastSleep, R, WAIT,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

type E = Box<dyn std::error::Error>;

const LOCALE: &str = "en_US";
const USER_ID_PROMPT: &str = "Please spell your user ID, one letter or number at a time.";
const DOB_PROMPT: &str = "What is your date of birth?";
const MONTH_PROMPT: &str = "In which month did you start with us?";
const CLOSING: &str = "Your password has been reset.";
const MONTHS: [&str; 12] = [
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

/// The test code hook: a Lex V2 Lambda in bash, its answer chosen by the session attribute
/// `Mode` (`delegate` when absent):
/// - dialog hook: `delegate` → Delegate; `spell` → ElicitSlot UserID with SpellByLetter (no
///   messages) when Lex proposes UserID, else Delegate; `elicit` → ElicitSlot MonthStarted with
///   its own message when the caller said "I forgot my password", else Delegate; `close` → Close Failed with a
///   message and `ResetOutcome=failed`; `fail` → a function error; `garbage` → a JSON answer
///   that is no Lex V2 response;
/// - fulfillment hook: `refuse` → Close Failed; `fail` → a function error; otherwise Close
///   Fulfilled with a message and session attributes `ResetOutcome=fulfilled`, `Mode`.
const HOOK: &str = r#"#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  headers="$(mktemp)"
  event="$(curl -sS --fail -D "$headers" "$api/invocation/next")" || exit 1
  id="$(tr -d '\r' <"$headers" | grep -i '^lambda-runtime-aws-request-id:' | cut -d' ' -f2)"
  rm -f "$headers"
  echo "EVENT $event"
  mode=delegate
  case "$event" in *'"Mode":"'*) mode="${event#*\"Mode\":\"}"; mode="${mode%%\"*}" ;; esac
  proposed=""
  case "$event" in *'"proposedNextState":'*)
    proposed="${event#*\"proposedNextState\":}"; proposed="${proposed%%\"requestAttributes\"*}" ;;
  esac
  delegate='{"sessionState":{"dialogAction":{"type":"Delegate"},"intent":{"name":"ResetPW","state":"InProgress"}}}'
  if [ "$mode" = fail ]; then
    curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Unhandled' \
      --data-binary '{"errorType":"HookError","errorMessage":"failing on purpose"}' \
      "$api/invocation/$id/error" >/dev/null
    continue
  fi
  case "$event" in
    *'"invocationSource":"DialogCodeHook"'*)
      answer="$delegate"
      case "$mode" in
        garbage) answer='{"hello":"world"}' ;;
        close) answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Failed"},"sessionAttributes":{"ResetOutcome":"failed"}},"messages":[{"contentType":"PlainText","content":"Closed by the hook."}]}' ;;
        spell) case "$proposed" in *'"slotToElicit":"UserID"'*)
          answer='{"sessionState":{"dialogAction":{"type":"ElicitSlot","slotToElicit":"UserID","slotElicitationStyle":"SpellByLetter"},"intent":{"name":"ResetPW","state":"InProgress"}}}' ;;
        esac ;;
        elicit) case "$event" in *'"inputTranscript":"I forgot my password"'*)
          answer='{"sessionState":{"dialogAction":{"type":"ElicitSlot","slotToElicit":"MonthStarted"},"intent":{"name":"ResetPW","state":"InProgress"}},"messages":[{"contentType":"PlainText","content":"First things first: which month did you start?"}]}' ;;
        esac ;;
      esac ;;
    *)
      if [ "$mode" = refuse ]; then
        answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Failed"},"sessionAttributes":{"ResetOutcome":"failed"}},"messages":[{"contentType":"PlainText","content":"Sorry, I could not verify you."}]}'
      else
        answer='{"sessionState":{"dialogAction":{"type":"Close"},"intent":{"name":"ResetPW","state":"Fulfilled"},"sessionAttributes":{"ResetOutcome":"fulfilled","Mode":"'"$mode"'"}},"messages":[{"contentType":"PlainText","content":"Reset done by the hook."}]}'
      fi ;;
  esac
  curl -sS -X POST --data-binary "$answer" "$api/invocation/$id/response" >/dev/null
done
"#;

/// A ResetPW-like bot as built and served: ids, and the alias `live` on version 1.
struct Bot {
    id: String,
    alias: String,
    name: String,
}

struct Clients {
    lex: aws_sdk_lexmodelsv2::Client,
    runtime: Runtime,
    config: aws_config::SdkConfig,
}

async fn clients(prefix: &str) -> Clients {
    cloud_url();
    let app = format!("t-{}", unique(prefix));
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint_url())
        .app_name(aws_config::AppName::new(app.clone()).expect("a valid app name"))
        .sleep_impl(FastSleep)
        .load()
        .await;
    Clients {
        lex: lex_client(&endpoint_url(), &app),
        runtime: Runtime::new(&config),
        config,
    }
}

fn plain(text: &str) -> Result<MessageGroup, E> {
    Ok(MessageGroup::builder()
        .message(
            aws_sdk_lexmodelsv2::types::Message::builder()
                .plain_text_message(PlainTextMessage::builder().value(text).build()?)
                .build(),
        )
        .build())
}

/// Builds the bot: locale; slot type Month (the twelve months, abbreviation and number as
/// synonyms, TopResolution); intent ResetPW (utterances, closing response, hooks when `hooks`)
/// with slots created in the reverse of their priority order UserID, DOB, MonthStarted; intent
/// Hours; built, version 1, alias `live` with `lambda` as its code hook.
async fn resetpw_bot(lex: &aws_sdk_lexmodelsv2::Client, lambda: Option<&str>) -> Result<Bot, E> {
    let name = unique("rt-bot");
    let id = create_bot(lex, &name).await?;
    lex.wait_until_bot_available()
        .bot_id(&id)
        .wait(WAIT)
        .await?;
    create_locale(lex, &id).await?;
    let mut values = Vec::new();
    for (i, month) in MONTHS.iter().enumerate() {
        values.push(
            SlotTypeValue::builder()
                .sample_value(SampleValue::builder().value(*month).build()?)
                .synonyms(SampleValue::builder().value(&month[..3]).build()?)
                .synonyms(SampleValue::builder().value((i + 1).to_string()).build()?)
                .build(),
        );
    }
    let month = lex
        .create_slot_type()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .slot_type_name("Month")
        .set_slot_type_values(Some(values))
        .value_selection_setting(
            SlotValueSelectionSetting::builder()
                .resolution_strategy(SlotValueResolutionStrategy::TopResolution)
                .build()?,
        )
        .send()
        .await?;
    let month_id = month.slot_type_id().unwrap_or_default().to_string();

    let utterances = [
        "reset my password",
        "I forgot my password",
        "I am locked out",
        "password reset",
    ];
    let closing = IntentClosingSetting::builder()
        .closing_response(
            ResponseSpecification::builder()
                .message_groups(plain(CLOSING)?)
                .build()?,
        )
        .build();
    let mut create = lex
        .create_intent()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .intent_name("ResetPW")
        .intent_closing_setting(closing.clone());
    for u in utterances {
        create = create.sample_utterances(SampleUtterance::builder().utterance(u).build()?);
    }
    let intent = create.send().await?;
    let intent_id = intent.intent_id().unwrap_or_default().to_string();
    let mut slot_ids = HashMap::new();
    for (slot, type_id, text) in [
        ("MonthStarted", month_id.as_str(), MONTH_PROMPT),
        ("DOB", "AMAZON.Date", DOB_PROMPT),
        ("UserID", "AMAZON.AlphaNumeric", USER_ID_PROMPT),
    ] {
        let created = lex
            .create_slot()
            .bot_id(&id)
            .bot_version("DRAFT")
            .locale_id(LOCALE)
            .intent_id(&intent_id)
            .slot_name(slot)
            .slot_type_id(type_id)
            .value_elicitation_setting(required_slot(text)?)
            .send()
            .await?;
        slot_ids.insert(slot, created.slot_id().unwrap_or_default().to_string());
    }
    // Priorities live on the intent: UpdateIntent with the whole definition again.
    let mut update = lex
        .update_intent()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .intent_id(&intent_id)
        .intent_name("ResetPW")
        .intent_closing_setting(closing.clone())
        .dialog_code_hook(
            DialogCodeHookSettings::builder()
                .enabled(lambda.is_some())
                .build(),
        )
        .fulfillment_code_hook(
            FulfillmentCodeHookSettings::builder()
                .enabled(lambda.is_some())
                .build(),
        );
    for u in utterances {
        update = update.sample_utterances(SampleUtterance::builder().utterance(u).build()?);
    }
    for (i, slot) in ["UserID", "DOB", "MonthStarted"].iter().enumerate() {
        update = update.slot_priorities(
            SlotPriority::builder()
                .priority(i as i32 + 1)
                .slot_id(&slot_ids[slot])
                .build()?,
        );
    }
    update.send().await?;
    let mut hours = lex
        .create_intent()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .intent_name("Hours");
    for u in ["when are you open", "what are your opening hours"] {
        hours = hours.sample_utterances(SampleUtterance::builder().utterance(u).build()?);
    }
    hours.send().await?;

    build(lex, &id).await?;
    lex.create_bot_version()
        .bot_id(&id)
        .bot_version_locale_specification(
            LOCALE,
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
    let mut settings = BotAliasLocaleSettings::builder().enabled(true);
    if let Some(arn) = lambda {
        settings = settings.code_hook_specification(
            CodeHookSpecification::builder()
                .lambda_code_hook(
                    LambdaCodeHook::builder()
                        .lambda_arn(arn)
                        .code_hook_interface_version("1.0")
                        .build()?,
                )
                .build(),
        );
    }
    let alias = lex
        .create_bot_alias()
        .bot_id(&id)
        .bot_alias_name("live")
        .bot_version("1")
        .bot_alias_locale_settings(LOCALE, settings.build())
        .send()
        .await?;
    let alias = alias.bot_alias_id().unwrap_or_default().to_string();
    lex.wait_until_bot_alias_available()
        .bot_id(&id)
        .bot_alias_id(&alias)
        .wait(WAIT)
        .await?;
    Ok(Bot { id, alias, name })
}

async fn build(lex: &aws_sdk_lexmodelsv2::Client, id: &str) -> R {
    lex.build_bot_locale()
        .bot_id(id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .send()
        .await?;
    lex.wait_until_bot_locale_built()
        .bot_id(id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .wait(WAIT)
        .await?;
    Ok(())
}

/// One conversation with a bot's alias.
struct Talk<'a> {
    runtime: &'a Runtime,
    bot: &'a Bot,
    alias: String,
    session: String,
}

impl<'a> Talk<'a> {
    fn new(runtime: &'a Runtime, bot: &'a Bot) -> Talk<'a> {
        Talk {
            runtime,
            bot,
            alias: bot.alias.clone(),
            session: unique("session"),
        }
    }

    async fn say(&self, text: &str) -> Result<RecognizeTextOutput, E> {
        self.say_with(text, None).await
    }

    async fn say_with(
        &self,
        text: &str,
        state: Option<SessionState>,
    ) -> Result<RecognizeTextOutput, E> {
        Ok(self
            .runtime
            .recognize_text()
            .bot_id(&self.bot.id)
            .bot_alias_id(&self.alias)
            .locale_id(LOCALE)
            .session_id(&self.session)
            .text(text)
            .set_session_state(state)
            .send()
            .await?)
    }
}

/// What an answer says, in short: (intent, intent state, dialog action, slot to elicit).
fn step(out: &RecognizeTextOutput) -> (String, String, String, String) {
    let state = out.session_state();
    let intent = state.and_then(|s| s.intent());
    let action = state.and_then(|s| s.dialog_action());
    (
        intent.map(|i| i.name().to_string()).unwrap_or_default(),
        intent
            .and_then(|i| i.state())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        action
            .map(|a| a.r#type().as_str().to_string())
            .unwrap_or_default(),
        action
            .and_then(|a| a.slot_to_elicit())
            .unwrap_or_default()
            .to_string(),
    )
}

fn messages(out: &RecognizeTextOutput) -> Vec<String> {
    out.messages()
        .iter()
        .filter_map(|m| m.content().map(str::to_string))
        .collect()
}

fn slot<'o>(
    out: &'o RecognizeTextOutput,
    name: &str,
) -> Option<&'o aws_sdk_lexruntimev2::types::Value> {
    out.session_state()?.intent()?.slots()?.get(name)?.value()
}

fn attributes(out: &RecognizeTextOutput) -> HashMap<String, String> {
    out.session_state()
        .and_then(|s| s.session_attributes())
        .cloned()
        .unwrap_or_default()
}

fn s(a: &str, b: &str, c: &str, d: &str) -> (String, String, String, String) {
    (a.into(), b.into(), c.into(), d.into())
}

/// A whole reset conversation without code hooks: classification from the sample utterances,
/// the slots elicited in priority order with their prompts, AMAZON.AlphaNumeric, AMAZON.Date
/// (spoken and ISO), the Month type by synonym, a re-prompt, the closing response, session
/// attributes kept across turns; then the other intent, FallbackIntent, retries running out.
#[test]
fn recognize_text_runs_a_whole_reset_conversation() -> R {
    run(recognize_text_runs_a_whole_reset_conversation_steps)
}

async fn recognize_text_runs_a_whole_reset_conversation_steps() -> R {
    let c = clients("rt-talk").await;
    let bot = resetpw_bot(&c.lex, None).await?;
    let talk = Talk::new(&c.runtime, &bot);

    let first = talk
        .say_with(
            "I forgot my password",
            Some(
                SessionState::builder()
                    .session_attributes("CallerNumber", "+15550100001")
                    .build(),
            ),
        )
        .await?;
    assert_eq!(first.session_id(), Some(talk.session.as_str()));
    assert_eq!(
        step(&first),
        s("ResetPW", "InProgress", "ElicitSlot", "UserID")
    );
    assert_eq!(messages(&first), [USER_ID_PROMPT]);
    assert_eq!(
        first.messages()[0].content_type(),
        &MessageContentType::PlainText
    );
    let top = &first.interpretations()[0];
    assert_eq!(top.intent().map(|i| i.name()), Some("ResetPW"));
    assert_eq!(top.nlu_confidence().map(|n| n.score()), Some(1.0));
    let names: Vec<&str> = first
        .interpretations()
        .iter()
        .filter_map(|i| i.intent().map(|i| i.name()))
        .collect();
    assert!(names.contains(&"FallbackIntent"), "{names:?}");
    assert!(
        first
            .session_state()
            .and_then(|s| s.intent())
            .and_then(|i| i.slots())
            .is_none_or(|s| s.is_empty()),
        "unfilled slots are left out of the answer"
    );

    let user = talk.say("j doe 42").await?;
    assert_eq!(step(&user), s("ResetPW", "InProgress", "ElicitSlot", "DOB"));
    assert_eq!(messages(&user), [DOB_PROMPT]);
    let v = slot(&user, "UserID").expect("UserID filled");
    assert_eq!(v.interpreted_value(), "jdoe42");
    assert_eq!(v.original_value(), Some("j doe 42"));
    assert_eq!(
        user.session_state()
            .and_then(|s| s.intent())
            .and_then(|i| i.slots())
            .and_then(|s| s.get("UserID"))
            .and_then(|s| s.shape()),
        Some(&Shape::Scalar)
    );

    let wrong = talk.say("banana").await?;
    assert_eq!(
        step(&wrong),
        s("ResetPW", "InProgress", "ElicitSlot", "DOB"),
        "not a date: the slot is asked again"
    );
    assert_eq!(messages(&wrong), [DOB_PROMPT]);

    let dob = talk.say("march third nineteen ninety").await?;
    assert_eq!(
        step(&dob),
        s("ResetPW", "InProgress", "ElicitSlot", "MonthStarted")
    );
    assert_eq!(messages(&dob), [MONTH_PROMPT]);
    assert_eq!(slot(&dob, "DOB").unwrap().interpreted_value(), "1990-03-03");
    assert_eq!(slot(&dob, "UserID").unwrap().interpreted_value(), "jdoe42");

    let done = talk.say("Mar").await?;
    assert_eq!(step(&done), s("ResetPW", "Fulfilled", "Close", ""));
    assert_eq!(messages(&done), [CLOSING]);
    let month = slot(&done, "MonthStarted").unwrap();
    assert_eq!(month.interpreted_value(), "March", "TopResolution");
    assert_eq!(month.resolved_values(), ["March"]);
    assert_eq!(
        attributes(&done).get("CallerNumber").map(String::as_str),
        Some("+15550100001"),
        "session attributes set on the first turn are kept"
    );

    // GetSession: the last answer's state and messages.
    let got = c
        .runtime
        .get_session()
        .bot_id(&bot.id)
        .bot_alias_id(&bot.alias)
        .locale_id(LOCALE)
        .session_id(&talk.session)
        .send()
        .await?;
    assert_eq!(got.session_id(), Some(talk.session.as_str()));
    let state = got.session_state().expect("a session state");
    assert_eq!(
        state.intent().and_then(|i| i.state()),
        Some(&IntentState::Fulfilled)
    );
    assert_eq!(
        state
            .session_attributes()
            .and_then(|a| a.get("CallerNumber"))
            .map(String::as_str),
        Some("+15550100001")
    );
    assert_eq!(
        got.messages()
            .iter()
            .filter_map(|m| m.content())
            .collect::<Vec<_>>(),
        [CLOSING]
    );
    assert_eq!(
        got.interpretations()[0].intent().map(|i| i.name()),
        Some("ResetPW")
    );

    // A second conversation: ISO date, the month by its number, slot values from a new session.
    let iso = Talk::new(&c.runtime, &bot);
    assert_eq!(
        step(&iso.say("reset my password please").await?),
        s("ResetPW", "InProgress", "ElicitSlot", "UserID")
    );
    iso.say("jdoe").await?;
    let dob = iso.say("1985-03-14").await?;
    assert_eq!(slot(&dob, "DOB").unwrap().interpreted_value(), "1985-03-14");
    let done = iso.say("7").await?;
    assert_eq!(step(&done), s("ResetPW", "Fulfilled", "Close", ""));
    assert_eq!(
        slot(&done, "MonthStarted").unwrap().interpreted_value(),
        "July"
    );
    assert!(
        attributes(&done).is_empty(),
        "sessions do not share attributes"
    );

    // The other intent, by its utterances; it has no slots and no closing response.
    let hours = Talk::new(&c.runtime, &bot)
        .say("when are you open on Monday")
        .await?;
    assert_eq!(step(&hours), s("Hours", "Fulfilled", "Close", ""));
    assert!(messages(&hours).is_empty());

    // Unlike any sample: FallbackIntent, left ReadyForFulfillment for the client.
    let fallback = Talk::new(&c.runtime, &bot)
        .say("what is the weather like in Paris")
        .await?;
    assert_eq!(
        step(&fallback),
        s("FallbackIntent", "ReadyForFulfillment", "Close", "")
    );
    assert_eq!(
        fallback.interpretations()[0].intent().map(|i| i.name()),
        Some("FallbackIntent")
    );
    assert!(fallback.interpretations()[0].nlu_confidence().is_none());

    // Past the prompt's two retries the intent fails.
    let retries = Talk::new(&c.runtime, &bot);
    retries.say("password reset").await?;
    retries.say("jdoe").await?;
    for _ in 0..2 {
        let again = retries.say("no idea").await?;
        assert_eq!(
            step(&again),
            s("ResetPW", "InProgress", "ElicitSlot", "DOB")
        );
    }
    let failed = retries.say("still no idea").await?;
    assert_eq!(step(&failed), s("ResetPW", "Failed", "Close", ""));
    Ok(())
}

/// The `x-amz-lex-*` headers of PutSession: gzipped, base64-encoded JSON.
fn unpack(header: Option<&str>) -> Value {
    use base64::Engine;
    use std::io::Read;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header.expect("the header is there"))
        .expect("base64");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("gzip");
    serde_json::from_str(&text).expect("JSON")
}

/// PutSession sets a state a conversation continues from (with a slot elicitation style);
/// GetSession reads it back; DeleteSession forgets it.
#[test]
fn sessions_are_put_got_and_deleted() -> R {
    run(sessions_are_put_got_and_deleted_steps)
}

async fn sessions_are_put_got_and_deleted_steps() -> R {
    let c = clients("rt-session").await;
    let bot = resetpw_bot(&c.lex, None).await?;
    let talk = Talk::new(&c.runtime, &bot);
    let user = Slot::builder()
        .value(
            aws_sdk_lexruntimev2::types::Value::builder()
                .original_value("jdoe")
                .interpreted_value("jdoe")
                .resolved_values("jdoe")
                .build()?,
        )
        .shape(Shape::Scalar)
        .build();
    let state = SessionState::builder()
        .dialog_action(
            DialogAction::builder()
                .r#type(DialogActionType::ElicitSlot)
                .slot_to_elicit("DOB")
                .slot_elicitation_style(StyleType::SpellByWord)
                .build()?,
        )
        .intent(
            Intent::builder()
                .name("ResetPW")
                .slots("UserID", user)
                .state(IntentState::InProgress)
                .confirmation_state(ConfirmationState::None)
                .build()?,
        )
        .session_attributes("ContactId", "c-42")
        .build();
    let put = c
        .runtime
        .put_session()
        .bot_id(&bot.id)
        .bot_alias_id(&bot.alias)
        .locale_id(LOCALE)
        .session_id(&talk.session)
        .session_state(state)
        .messages(
            aws_sdk_lexruntimev2::types::Message::builder()
                .content_type(MessageContentType::PlainText)
                .content("Your date of birth, please.")
                .build()?,
        )
        .send()
        .await?;
    assert_eq!(put.session_id(), Some(talk.session.as_str()));
    let echoed = unpack(put.session_state());
    assert_eq!(echoed["dialogAction"]["slotToElicit"], "DOB");
    assert_eq!(
        echoed["dialogAction"]["slotElicitationStyle"],
        "SpellByWord"
    );
    assert_eq!(echoed["sessionAttributes"]["ContactId"], "c-42");
    assert_eq!(
        unpack(put.messages())[0]["content"],
        "Your date of birth, please."
    );

    let got = c
        .runtime
        .get_session()
        .bot_id(&bot.id)
        .bot_alias_id(&bot.alias)
        .locale_id(LOCALE)
        .session_id(&talk.session)
        .send()
        .await?;
    let action = got
        .session_state()
        .and_then(|s| s.dialog_action())
        .expect("the dialog action put");
    assert_eq!(action.slot_to_elicit(), Some("DOB"));
    assert_eq!(
        action.slot_elicitation_style(),
        Some(&StyleType::SpellByWord)
    );
    assert_eq!(
        got.messages()[0].content(),
        Some("Your date of birth, please.")
    );

    // The conversation goes on from there: the text is the DOB, UserID stays.
    let dob = talk
        .say("the fourteenth of march nineteen eighty five")
        .await?;
    assert_eq!(
        step(&dob),
        s("ResetPW", "InProgress", "ElicitSlot", "MonthStarted")
    );
    assert_eq!(slot(&dob, "DOB").unwrap().interpreted_value(), "1985-03-14");
    assert_eq!(slot(&dob, "UserID").unwrap().interpreted_value(), "jdoe");
    assert_eq!(
        attributes(&dob).get("ContactId").map(String::as_str),
        Some("c-42")
    );
    assert_eq!(
        dob.session_state()
            .and_then(|s| s.dialog_action())
            .and_then(|a| a.slot_elicitation_style()),
        None,
        "the style was for the slot it came with"
    );

    let deleted = c
        .runtime
        .delete_session()
        .bot_id(&bot.id)
        .bot_alias_id(&bot.alias)
        .locale_id(LOCALE)
        .session_id(&talk.session)
        .send()
        .await?;
    assert_eq!(deleted.session_id(), Some(talk.session.as_str()));
    assert_eq!(deleted.bot_id(), Some(bot.id.as_str()));
    assert_eq!(deleted.bot_alias_id(), Some(bot.alias.as_str()));
    assert_eq!(deleted.locale_id(), Some(LOCALE));
    for err in [
        c.runtime
            .get_session()
            .bot_id(&bot.id)
            .bot_alias_id(&bot.alias)
            .locale_id(LOCALE)
            .session_id(&talk.session)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.code().map(str::to_string)),
        c.runtime
            .delete_session()
            .bot_id(&bot.id)
            .bot_alias_id(&bot.alias)
            .locale_id(LOCALE)
            .session_id(&talk.session)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.code().map(str::to_string)),
    ] {
        assert_eq!(err, Err(Some("ResourceNotFoundException".to_string())));
    }
    // A new text after DeleteSession starts over.
    let fresh = talk.say("I am locked out").await?;
    assert_eq!(
        step(&fresh),
        s("ResetPW", "InProgress", "ElicitSlot", "UserID")
    );
    assert!(attributes(&fresh).is_empty());
    Ok(())
}

/// An unknown bot, alias or locale: ResourceNotFoundException; a locale not built in the
/// version the alias serves (TSTALIASID serves DRAFT): ResourceNotFoundException saying so; a
/// bad session id: ValidationException.
#[test]
fn unknown_targets_and_unbuilt_locales_are_errors() -> R {
    run(unknown_targets_and_unbuilt_locales_are_errors_steps)
}

async fn unknown_targets_and_unbuilt_locales_are_errors_steps() -> R {
    let c = clients("rt-errors").await;
    let bot = resetpw_bot(&c.lex, None).await?;
    let attempt = |bot_id: String, alias: String, locale: &'static str, session: &'static str| {
        let runtime = c.runtime.clone();
        async move {
            runtime
                .recognize_text()
                .bot_id(bot_id)
                .bot_alias_id(alias)
                .locale_id(locale)
                .session_id(session)
                .text("reset my password")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    (
                        e.code().unwrap_or_default().to_string(),
                        e.message().unwrap_or_default().to_string(),
                    )
                })
        }
    };
    for (bot_id, alias, locale) in [
        ("NOSUCHBOT0".to_string(), bot.alias.clone(), LOCALE),
        (bot.id.clone(), "NOSUCHALIA".to_string(), LOCALE),
        (bot.id.clone(), bot.alias.clone(), "fr_FR"),
    ] {
        let err = attempt(bot_id, alias, locale, "s-errors")
            .await
            .unwrap_err();
        assert_eq!(err.0, "ResourceNotFoundException", "{err:?}");
    }
    // The alias works.
    attempt(bot.id.clone(), bot.alias.clone(), LOCALE, "s-works")
        .await
        .map_err(|e| format!("{e:?}"))?;
    // TSTALIASID serves DRAFT, built now; after a change DRAFT is NotBuilt.
    attempt(bot.id.clone(), "TSTALIASID".into(), LOCALE, "s-draft")
        .await
        .map_err(|e| format!("{e:?}"))?;
    c.lex
        .update_bot_locale()
        .bot_id(&bot.id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .nlu_intent_confidence_threshold(0.5)
        .send()
        .await?;
    let err = attempt(bot.id.clone(), "TSTALIASID".into(), LOCALE, "s-draft2")
        .await
        .unwrap_err();
    assert_eq!(err.0, "ResourceNotFoundException");
    assert!(err.1.contains("not built"), "{err:?}");
    // The alias on version 1 still serves its built snapshot.
    attempt(bot.id.clone(), bot.alias.clone(), LOCALE, "s-works2")
        .await
        .map_err(|e| format!("{e:?}"))?;
    build(&c.lex, &bot.id).await?;
    attempt(bot.id.clone(), "TSTALIASID".into(), LOCALE, "s-draft3")
        .await
        .map_err(|e| format!("{e:?}"))?;
    let err = attempt(bot.id.clone(), bot.alias.clone(), LOCALE, "x")
        .await
        .unwrap_err();
    assert_eq!(err.0, "ValidationException", "a one-character session id");
    Ok(())
}

/// Creates the test code hook function; answers its name and ARN.
async fn hook_function(config: &aws_config::SdkConfig) -> Result<(String, String), E> {
    let iam = aws_sdk_iam::Client::new(config);
    let lambda = aws_sdk_lambda::Client::new(config);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name(unique("hook-role"))
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?;
    let name = unique("hook");
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

/// The events the function got, in order (from the `EVENT {...}` lines of its log).
async fn events(function: &str) -> Vec<Value> {
    let url = format!(
        "{}/_localcloud/lambda/logs?function={function}",
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

/// Waits (bounded) until the function has printed `n` events.
async fn events_n(function: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let seen = events(function).await;
        if seen.len() >= n {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{function} printed fewer than {n} events: {:#?}",
        events(function).await
    );
}

fn mode(value: &str) -> Option<SessionState> {
    Some(
        SessionState::builder()
            .session_attributes("Mode", value)
            .session_attributes("CallerNumber", "+15550100001")
            .build(),
    )
}

/// The dialog and fulfillment code hooks call the alias's Lambda with the Lex V2 event, and
/// what it answers is applied: ElicitSlot (with SpellByLetter, or its own message), Delegate,
/// Close (Fulfilled or Failed, with session attributes); a function error or an answer that is
/// no Lex V2 response is DependencyFailedException.
#[test]
fn code_hooks_get_the_lex_event_and_their_answers_are_applied() -> R {
    run(code_hooks_get_the_lex_event_and_their_answers_are_applied_steps)
}

async fn code_hooks_get_the_lex_event_and_their_answers_are_applied_steps() -> R {
    let c = clients("rt-hooks").await;
    let (function, arn) = hook_function(&c.config).await?;
    let bot = resetpw_bot(&c.lex, Some(&arn)).await?;

    // Mode spell: the hook elicits UserID spelled by letter, with the slot's prompt.
    let talk = Talk::new(&c.runtime, &bot);
    let first = talk.say_with("reset my password", mode("spell")).await?;
    assert_eq!(
        step(&first),
        s("ResetPW", "InProgress", "ElicitSlot", "UserID")
    );
    assert_eq!(
        first
            .session_state()
            .and_then(|s| s.dialog_action())
            .and_then(|a| a.slot_elicitation_style()),
        Some(&StyleType::SpellByLetter),
        "the style the hook chose is answered back"
    );
    assert_eq!(messages(&first), [USER_ID_PROMPT]);
    let seen = events_n(&function, 1).await;
    let event = &seen[0];
    assert_eq!(event["messageVersion"], "1.0");
    assert_eq!(event["invocationSource"], "DialogCodeHook");
    assert_eq!(event["inputMode"], "Text");
    assert_eq!(event["sessionId"], talk.session.as_str());
    assert_eq!(event["inputTranscript"], "reset my password");
    assert_eq!(
        event["bot"],
        json!({"id": bot.id, "name": bot.name, "aliasId": bot.alias, "aliasName": "live",
               "localeId": LOCALE, "version": "1"})
    );
    assert_eq!(event["interpretations"][0]["intent"]["name"], "ResetPW");
    assert!(event["interpretations"][0]["nluConfidence"].is_number());
    let intent = &event["sessionState"]["intent"];
    assert_eq!(intent["name"], "ResetPW");
    assert_eq!(intent["state"], "InProgress");
    assert_eq!(intent["confirmationState"], "None");
    assert_eq!(
        intent["slots"],
        json!({"UserID": null, "DOB": null, "MonthStarted": null}),
        "unfilled slots are null in the event"
    );
    assert_eq!(event["sessionState"]["sessionAttributes"]["Mode"], "spell");
    assert_eq!(
        event["proposedNextState"]["dialogAction"],
        json!({"type": "ElicitSlot", "slotToElicit": "UserID"})
    );
    assert_eq!(event["proposedNextState"]["prompt"]["attempt"], "Initial");

    // Spelled by letter: "j d o e 4 2" is heard as jdoe42; the hook delegates, Lex asks DOB.
    let spelled = talk.say("j. d. o. e. 4 2").await?;
    assert_eq!(
        step(&spelled),
        s("ResetPW", "InProgress", "ElicitSlot", "DOB")
    );
    assert_eq!(messages(&spelled), [DOB_PROMPT]);
    assert_eq!(
        slot(&spelled, "UserID").unwrap().interpreted_value(),
        "jdoe42"
    );
    assert_eq!(
        spelled
            .session_state()
            .and_then(|s| s.dialog_action())
            .and_then(|a| a.slot_elicitation_style()),
        None
    );
    let seen = events_n(&function, 2).await;
    assert_eq!(
        seen[1]["proposedNextState"]["dialogAction"]["slotToElicit"],
        "DOB"
    );
    assert_eq!(
        seen[1]["sessionState"]["intent"]["slots"]["UserID"]["value"]["interpretedValue"],
        "jdoe42"
    );
    assert_eq!(
        seen[1]["sessionState"]["dialogAction"]["slotElicitationStyle"],
        "SpellByLetter"
    );

    talk.say("March 3rd, 1990").await?;
    let done = talk.say("march").await?;
    assert_eq!(step(&done), s("ResetPW", "Fulfilled", "Close", ""));
    assert_eq!(messages(&done), ["Reset done by the hook."]);
    let attrs = attributes(&done);
    assert_eq!(
        attrs.get("ResetOutcome").map(String::as_str),
        Some("fulfilled")
    );
    assert_eq!(attrs.get("Mode").map(String::as_str), Some("spell"));
    let seen = events_n(&function, 5).await;
    // The dialog hook hears the input that fills the last slot too, before fulfillment.
    let last = &seen[3];
    assert_eq!(last["invocationSource"], "DialogCodeHook");
    assert_eq!(last["inputTranscript"], "march");
    assert_eq!(
        last["sessionState"]["intent"]["slots"]["MonthStarted"]["value"]["interpretedValue"],
        "March"
    );
    assert!(
        last.get("proposedNextState").is_none(),
        "nothing to elicit: {last}"
    );
    let fulfil = &seen[4];
    assert_eq!(fulfil["invocationSource"], "FulfillmentCodeHook");
    assert_eq!(fulfil["inputTranscript"], "march");
    assert_eq!(
        fulfil["sessionState"]["intent"]["state"],
        "ReadyForFulfillment"
    );
    assert!(fulfil.get("proposedNextState").is_none());
    let slots = &fulfil["sessionState"]["intent"]["slots"];
    assert_eq!(slots["UserID"]["value"]["interpretedValue"], "jdoe42");
    assert_eq!(slots["DOB"]["value"]["interpretedValue"], "1990-03-03");
    assert_eq!(slots["MonthStarted"]["value"]["interpretedValue"], "March");
    assert_eq!(slots["MonthStarted"]["value"]["originalValue"], "march");
    assert_eq!(
        slots["MonthStarted"]["value"]["resolvedValues"],
        json!(["March"])
    );
    assert_eq!(slots["MonthStarted"]["shape"], "Scalar");
    assert_eq!(
        fulfil["sessionState"]["sessionAttributes"]["CallerNumber"], "+15550100001",
        "the first turn's attributes reach the later hooks"
    );

    // Mode elicit: the hook picks another slot and its own message.
    let elicit = Talk::new(&c.runtime, &bot);
    let first = elicit
        .say_with("I forgot my password", mode("elicit"))
        .await?;
    assert_eq!(
        step(&first),
        s("ResetPW", "InProgress", "ElicitSlot", "MonthStarted")
    );
    assert_eq!(
        messages(&first),
        ["First things first: which month did you start?"]
    );
    let next = elicit.say("May").await?;
    assert_eq!(
        slot(&next, "MonthStarted").unwrap().interpreted_value(),
        "May"
    );
    assert_eq!(
        step(&next),
        s("ResetPW", "InProgress", "ElicitSlot", "UserID"),
        "then Lex goes on in priority order"
    );

    // Mode close: the dialog hook ends it Failed, with its attributes.
    let closed = Talk::new(&c.runtime, &bot)
        .say_with("password reset", mode("close"))
        .await?;
    assert_eq!(step(&closed), s("ResetPW", "Failed", "Close", ""));
    assert_eq!(messages(&closed), ["Closed by the hook."]);
    assert_eq!(
        attributes(&closed).get("ResetOutcome").map(String::as_str),
        Some("failed")
    );

    // Mode refuse: fulfillment answers Failed.
    let refused = Talk::new(&c.runtime, &bot);
    refused
        .say_with("reset my password", mode("refuse"))
        .await?;
    refused.say("jdoe").await?;
    refused.say("1990-03-03").await?;
    let end = refused.say("3").await?;
    assert_eq!(step(&end), s("ResetPW", "Failed", "Close", ""));
    assert_eq!(messages(&end), ["Sorry, I could not verify you."]);

    // A function error, and an answer that is no Lex V2 response: DependencyFailedException.
    for (m, says) in [
        ("fail", "Received error response from Lambda: Unhandled"),
        ("garbage", "Received invalid response from Lambda"),
    ] {
        let err = Talk::new(&c.runtime, &bot)
            .say_with("reset my password", mode(m))
            .await
            .expect_err("the hook failed");
        let err = err
            .downcast::<aws_sdk_lexruntimev2::error::SdkError<
                aws_sdk_lexruntimev2::operation::recognize_text::RecognizeTextError,
            >>()
            .expect("an SDK error");
        assert_eq!(
            err.code(),
            Some("DependencyFailedException"),
            "{m}: {err:?}"
        );
        assert!(
            err.message().unwrap_or_default().contains(says),
            "{m}: {:?}",
            err.message()
        );
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(424));
    }
    Ok(())
}

const CODE_PROMPT: &str =
    "I have sent a six-digit code by text message. Please enter it or say it.";

/// A bot with the one-time code: the slot type OneTimeCode (AMAZON.AlphaNumeric restricted to
/// `[0-9]{6}`) and two intents, ResetPW and UnlockAccount, each with one required, obfuscated
/// `Code` slot and a closing response; built, served by TSTALIASID (DRAFT). Its id.
async fn code_bot(lex: &aws_sdk_lexmodelsv2::Client) -> Result<String, E> {
    use aws_sdk_lexmodelsv2::types::{
        ObfuscationSetting, ObfuscationSettingType, SlotValueRegexFilter,
    };
    let id = create_bot(lex, &unique("rt-code")).await?;
    lex.wait_until_bot_available()
        .bot_id(&id)
        .wait(WAIT)
        .await?;
    create_locale(lex, &id).await?;
    let code_type = lex
        .create_slot_type()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .slot_type_name("OneTimeCode")
        .parent_slot_type_signature("AMAZON.AlphaNumeric")
        .value_selection_setting(
            SlotValueSelectionSetting::builder()
                .resolution_strategy(SlotValueResolutionStrategy::OriginalValue)
                .regex_filter(
                    SlotValueRegexFilter::builder()
                        .pattern("[0-9]{6}")
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    let code_type = code_type.slot_type_id().unwrap_or_default().to_string();
    for (intent, utterances, closing) in [
        (
            "ResetPW",
            ["reset my password", "I forgot my password"],
            "Reset.",
        ),
        (
            "UnlockAccount",
            ["I am locked out", "unlock my account"],
            "Unlocked.",
        ),
    ] {
        let closing = IntentClosingSetting::builder()
            .closing_response(
                ResponseSpecification::builder()
                    .message_groups(plain(closing)?)
                    .build()?,
            )
            .build();
        let mut create = lex
            .create_intent()
            .bot_id(&id)
            .bot_version("DRAFT")
            .locale_id(LOCALE)
            .intent_name(intent)
            .intent_closing_setting(closing.clone());
        for u in utterances {
            create = create.sample_utterances(SampleUtterance::builder().utterance(u).build()?);
        }
        let intent_id = create
            .send()
            .await?
            .intent_id()
            .unwrap_or_default()
            .to_string();
        let slot = lex
            .create_slot()
            .bot_id(&id)
            .bot_version("DRAFT")
            .locale_id(LOCALE)
            .intent_id(&intent_id)
            .slot_name("Code")
            .slot_type_id(&code_type)
            .value_elicitation_setting(required_slot(CODE_PROMPT)?)
            .obfuscation_setting(
                ObfuscationSetting::builder()
                    .obfuscation_setting_type(ObfuscationSettingType::DefaultObfuscation)
                    .build()?,
            )
            .send()
            .await?;
        let mut update = lex
            .update_intent()
            .bot_id(&id)
            .bot_version("DRAFT")
            .locale_id(LOCALE)
            .intent_id(&intent_id)
            .intent_name(intent)
            .intent_closing_setting(closing)
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
    }
    build(lex, &id).await?;
    Ok(id)
}

/// The one-time code: the regex-restricted slot type and the obfuscation setting are stored
/// and described back as sent, bad ones are refused as the model says; the runtime classifies
/// between the two intents, takes six digits typed, grouped or said, and re-prompts (then
/// fails) anything else.
#[test]
fn a_regex_restricted_code_slot_takes_six_digits_in_either_intent() -> R {
    run(a_regex_restricted_code_slot_takes_six_digits_in_either_intent_steps)
}

async fn a_regex_restricted_code_slot_takes_six_digits_in_either_intent_steps() -> R {
    use aws_sdk_lexmodelsv2::types::{
        ObfuscationSetting, ObfuscationSettingType, SlotValueRegexFilter,
    };
    let c = clients("rt-code").await;
    let id = code_bot(&c.lex).await?;

    // Described back as sent.
    let types = c
        .lex
        .list_slot_types()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .send()
        .await?;
    let type_id = types
        .slot_type_summaries()
        .iter()
        .find(|t| t.slot_type_name() == Some("OneTimeCode"))
        .and_then(|t| t.slot_type_id())
        .ok_or("no OneTimeCode in the listing")?
        .to_string();
    let t = c
        .lex
        .describe_slot_type()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .slot_type_id(&type_id)
        .send()
        .await?;
    assert_eq!(t.parent_slot_type_signature(), Some("AMAZON.AlphaNumeric"));
    let selection = t
        .value_selection_setting()
        .ok_or("no valueSelectionSetting")?;
    assert_eq!(selection.resolution_strategy().as_str(), "OriginalValue");
    assert_eq!(
        selection.regex_filter().map(|r| r.pattern()),
        Some("[0-9]{6}")
    );
    let intents = c
        .lex
        .list_intents()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .send()
        .await?;
    let unlock_id = intents
        .intent_summaries()
        .iter()
        .find(|i| i.intent_name() == Some("UnlockAccount"))
        .and_then(|i| i.intent_id())
        .ok_or("no UnlockAccount")?
        .to_string();
    let slots = c
        .lex
        .list_slots()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .intent_id(&unlock_id)
        .send()
        .await?;
    let slot_id = slots.slot_summaries()[0].slot_id().unwrap_or_default();
    let described = c
        .lex
        .describe_slot()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .intent_id(&unlock_id)
        .slot_id(slot_id)
        .send()
        .await?;
    assert_eq!(
        described
            .obfuscation_setting()
            .map(|o| o.obfuscation_setting_type().as_str()),
        Some("DefaultObfuscation")
    );
    assert_eq!(described.slot_type_id(), Some(type_id.as_str()));

    // Refused as the model says: an unsupported operator, an obfuscation type not in the enum.
    let err = c
        .lex
        .create_slot_type()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .slot_type_name("AnyCode")
        .parent_slot_type_signature("AMAZON.AlphaNumeric")
        .value_selection_setting(
            SlotValueSelectionSetting::builder()
                .resolution_strategy(SlotValueResolutionStrategy::OriginalValue)
                .regex_filter(SlotValueRegexFilter::builder().pattern("[0-9]+").build()?)
                .build()?,
        )
        .send()
        .await
        .expect_err("an infinite repeater is refused");
    assert_eq!(
        aws_sdk_lexmodelsv2::error::ProvideErrorMetadata::code(&err),
        Some("ValidationException"),
        "{err:?}"
    );
    let err = c
        .lex
        .update_slot()
        .bot_id(&id)
        .bot_version("DRAFT")
        .locale_id(LOCALE)
        .intent_id(&unlock_id)
        .slot_id(slot_id)
        .slot_name("Code")
        .slot_type_id(&type_id)
        .value_elicitation_setting(required_slot(CODE_PROMPT)?)
        .obfuscation_setting(
            ObfuscationSetting::builder()
                .obfuscation_setting_type(ObfuscationSettingType::from("Hidden"))
                .build()?,
        )
        .send()
        .await
        .expect_err("an obfuscation type outside the enum is refused");
    assert_eq!(
        aws_sdk_lexmodelsv2::error::ProvideErrorMetadata::code(&err),
        Some("ValidationException"),
        "{err:?}"
    );

    // The runtime, on DRAFT: the unlock intent by its utterances; five digits re-prompt; the
    // spoken digits fill the slot.
    let bot = Bot {
        id: id.clone(),
        alias: "TSTALIASID".into(),
        name: String::new(),
    };
    let talk = Talk::new(&c.runtime, &bot);
    let out = talk.say("I'm locked out").await?;
    assert_eq!(
        step(&out),
        s("UnlockAccount", "InProgress", "ElicitSlot", "Code")
    );
    assert_eq!(messages(&out), [CODE_PROMPT]);
    let out = talk.say("12345").await?;
    assert_eq!(
        step(&out),
        s("UnlockAccount", "InProgress", "ElicitSlot", "Code")
    );
    assert_eq!(messages(&out), [CODE_PROMPT], "re-prompted");
    assert!(slot(&out, "Code").is_none());
    let out = talk.say("one two three four five six").await?;
    assert_eq!(step(&out), s("UnlockAccount", "Fulfilled", "Close", ""));
    assert_eq!(messages(&out), ["Unlocked."]);
    let code = slot(&out, "Code").ok_or("the Code slot")?;
    assert_eq!(code.interpreted_value(), "123456");
    assert_eq!(code.original_value(), Some("one two three four five six"));

    // The reset intent, the code typed in two groups.
    let talk = Talk::new(&c.runtime, &bot);
    let out = talk.say("I forgot my password").await?;
    assert_eq!(step(&out), s("ResetPW", "InProgress", "ElicitSlot", "Code"));
    let out = talk.say("123 456").await?;
    assert_eq!(step(&out), s("ResetPW", "Fulfilled", "Close", ""));
    assert_eq!(
        slot(&out, "Code").map(|v| v.interpreted_value()),
        Some("123456")
    );

    // Never a code: after the prompt's 2 retries the intent fails.
    let talk = Talk::new(&c.runtime, &bot);
    talk.say("reset my password").await?;
    for wrong in ["abcdef", "1234567"] {
        let out = talk.say(wrong).await?;
        assert_eq!(
            step(&out),
            s("ResetPW", "InProgress", "ElicitSlot", "Code"),
            "{wrong}"
        );
    }
    let out = talk.say("my code is twelve").await?;
    assert_eq!(step(&out).1, "Failed");
    Ok(())
}
