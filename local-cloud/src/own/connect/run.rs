//! Running a PUBLISHED contact flow for a contact, block by block, as Connect does:
//!
//! - MessageParticipant: the prompt (Text, SSML without its tags, or a PromptId / Media named)
//!   is what the customer hears, paths in it filled in;
//! - ConnectParticipantWithLexBot: the block's prompt, then the Lex V2 runtime on the alias
//!   (in-process RecognizeText, the contact id as session id, the contact's language as locale),
//!   `LexSessionAttributes` evaluated over the contact and sent with the first turn, one turn per
//!   customer input until the bot closes the intent; `$.Lex.IntentName`, `.Slots`,
//!   `.SessionAttributes`, `.DialogState` kept for later blocks; the intent picks the condition
//!   (`Equals`), else NoMatchingCondition. An alias not associated with the instance, a Lex
//!   error or a locale the bot lacks: NoMatchingError;
//! - Compare (every operator of the language), UpdateContactAttributes, UpdateFlowAttributes,
//!   UpdateContactTargetQueue, TransferContactToQueue (the contact ends queued),
//!   InvokeLambdaFunction (the emulator's Invoke, `ContactFlowEvent`, the answer read back as
//!   `$.External.*`; a function error, a timeout or a non-map answer: NoMatchingError),
//!   TransferToFlow (a PUBLISHED flow of the instance), UpdateContactTextToSpeechVoice,
//!   UpdateFlowLoggingBehavior, Loop, DisconnectParticipant, EndFlowExecution;
//! - actions that change nothing the emulator models (recording, routing, event hooks, contact
//!   data, tags) succeed without effect; any other action takes its error branch
//!   (NoMatchingError), and the emulator's log says so.
//!
//! An error goes to the action's branch for it, else to its NoMatchingError branch; an action
//! with neither ends the contact (disconnected after it).
//!
//! Faults: a fault rule `{"service":"connect","operation":"<action Type>","code":"<ErrorType>"}`
//! makes that block take that error (`QueueAtCapacity` on TransferContactToQueue, say); a rule on
//! `lex` / `RecognizeText` (e.g. code `DependencyFailedException`, what Lex answers when the code
//! hook Lambda fails) fails the bot's turn as Lex would. Rules with an `app` apply to contacts
//! started by calls with that app id.

use super::contacts::{Contact, Disposition, Running, Speaker};
use super::paths::{interpolate, lookup};
use super::{epoch_seconds, Connect};
use crate::faults::Faults;
use crate::own::Own;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Blocks one contact may go through before the run stops it (a flow looping forever).
const MAX_STEPS: usize = 1000;
/// Bot turns one Lex block may take (a bot that never closes the intent).
const MAX_BOT_TURNS: usize = 50;
/// Actions that change nothing the emulator models: they succeed without effect.
const WITHOUT_EFFECT: &[&str] = &[
    "UpdateContactRecordingBehavior",
    "UpdateContactRecordingAndAnalyticsBehavior",
    "UpdateContactRoutingBehavior",
    "UpdateContactEventHooks",
    "UpdateContactData",
    "TagContact",
    "UnTagContact",
];

/// What a run uses of the emulator.
#[derive(Clone)]
pub struct Env {
    pub own: Arc<Own>,
    pub faults: Arc<Faults>,
}

impl Env {
    fn connect(&self) -> &Connect {
        &self.own.connect
    }

    /// The error code a fault rule gives this step, if any.
    fn fault(&self, service: &str, operation: &str, app: Option<&str>) -> Option<String> {
        self.faults
            .decide(service, operation, app)
            .error
            .map(|(_, code)| code)
    }
}

/// A flow as the run reads it.
struct Loaded {
    id: String,
    name: String,
    start: String,
    actions: HashMap<String, Value>,
}

/// The PUBLISHED flow `flow` (id or ARN) of the instance; why not, when it cannot run.
fn load(connect: &Connect, instance_id: &str, flow: &str) -> Result<Loaded, String> {
    let id = flow
        .rsplit_once("/contact-flow/")
        .map_or(flow, |(_, id)| id);
    let (name, status, content) = connect
        .with_store(|store| {
            store
                .instances
                .iter()
                .find(|i| i.id == instance_id)
                .and_then(|i| i.flows.iter().find(|f| f.id == id))
                .map(|f| (f.name.clone(), f.status.clone(), f.content.clone()))
        })
        .ok_or_else(|| format!("contact flow {flow} is not a flow of instance {instance_id}"))?;
    if status != "PUBLISHED" {
        return Err(format!(
            "contact flow {name} ({id}) is {status}, not PUBLISHED: Connect runs only published flows"
        ));
    }
    let parsed: Value = serde_json::from_str(&content)
        .map_err(|e| format!("contact flow {name} is not JSON: {e}"))?;
    let actions = parsed["Actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["Identifier"].as_str()?.to_string(), a.clone())))
        .collect();
    Ok(Loaded {
        id: id.to_string(),
        name,
        start: parsed["StartAction"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        actions,
    })
}

/// Starts running `contact` (its flow_id names the flow) in its own task: the customer's
/// input comes from `input`, which a voice call fills up front and a chat as messages arrive.
pub fn start(
    env: Env,
    contact: Contact,
    input: mpsc::UnboundedReceiver<String>,
    sender: Option<mpsc::UnboundedSender<String>>,
) -> Arc<Running> {
    let (done_tx, done_rx) = watch::channel(false);
    let (asks_tx, asks_rx) = watch::channel(0);
    let id = contact.id.clone();
    let running = Arc::new(Running {
        contact: Arc::new(Mutex::new(contact)),
        input: Mutex::new(sender),
        done: done_rx,
        left: Default::default(),
        asks: asks_rx,
        sent: Default::default(),
    });
    env.connect().contacts.insert(id, running.clone());
    let task_running = running.clone();
    tokio::spawn(async move {
        let mut run = Run {
            env,
            contact: task_running.contact.clone(),
            input,
            asks: asks_tx,
        };
        let disposition = run.execute().await;
        {
            let mut c = run.lock();
            if c.channel == "CHAT" && !matches!(disposition, Disposition::Queued { .. }) {
                c.event(Speaker::Flow, super::contacts::CHAT_ENDED);
            }
            c.disposition = Some(disposition);
            c.ended = Some(epoch_seconds());
        }
        task_running.hang_up();
        let _ = done_tx.send(true);
    });
    running
}

/// What one block did.
enum Outcome {
    /// On to NextAction.
    Success,
    /// On to this action (a condition matched).
    Go(String),
    /// The block failed with this error type.
    Failed(String),
    /// No condition matched: the NoMatchingCondition branch, else NextAction.
    NoCondition,
    /// The contact leaves the flow.
    End(Disposition),
}

struct Run {
    env: Env,
    contact: Arc<Mutex<Contact>>,
    input: mpsc::UnboundedReceiver<String>,
    /// Counts the times the flow waits for the customer (see [`Running::settled`]).
    asks: watch::Sender<u64>,
}

fn text_of(params: &Value, key: &str) -> Option<String> {
    params.get(key).and_then(Value::as_str).map(str::to_string)
}

/// What a prompt sounds like: Text, SSML without its tags, or the prompt or media it plays.
fn prompt_text(params: &Value) -> Option<String> {
    if let Some(t) = text_of(params, "Text") {
        return Some(t);
    }
    if let Some(ssml) = text_of(params, "SSML") {
        let mut out = String::new();
        let mut in_tag = false;
        for c in ssml.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        return Some(out.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    if let Some(p) = text_of(params, "PromptId") {
        return Some(format!("(prompt {p})"));
    }
    params
        .pointer("/Media/Uri")
        .and_then(Value::as_str)
        .map(|u| format!("(audio {u})"))
}

/// Compares `value` with `operand` by one of the flow language's operators.
fn compare(operator: &str, value: &str, operand: &str) -> bool {
    let numbers = || {
        Some((
            value.trim().parse::<f64>().ok()?,
            operand.trim().parse::<f64>().ok()?,
        ))
    };
    match operator {
        "Equals" => value == operand,
        "NumberGreaterThan" => numbers().is_some_and(|(a, b)| a > b),
        "NumberGreaterOrEqualTo" => numbers().is_some_and(|(a, b)| a >= b),
        "NumberLessThan" => numbers().is_some_and(|(a, b)| a < b),
        "NumberLessOrEqualTo" => numbers().is_some_and(|(a, b)| a <= b),
        "TextStartsWith" => value.starts_with(operand),
        "TextEndsWith" => value.ends_with(operand),
        "TextContains" => value.contains(operand),
        _ => false,
    }
}

/// The first condition of `action` that `value` meets, as its NextAction.
fn condition_target(action: &Value, value: &str) -> Option<String> {
    action["Transitions"]["Conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| {
            let op = c["Condition"]["Operator"].as_str().unwrap_or("Equals");
            c["Condition"]["Operands"]
                .as_array()
                .and_then(|o| o.first())
                .and_then(Value::as_str)
                .is_some_and(|operand| compare(op, value, operand))
        })
        .and_then(|c| c["NextAction"].as_str().map(str::to_string))
}

fn error_target(action: &Value, error: &str) -> Option<String> {
    action["Transitions"]["Errors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["ErrorType"] == error)
        .and_then(|e| e["NextAction"].as_str().map(str::to_string))
}

/// A Lex V2 alias ARN's region, bot id and alias id.
fn alias_parts(arn: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let rest = parts.get(5)?.strip_prefix("bot-alias/")?;
    let (bot, alias) = rest.split_once('/')?;
    (parts.get(2) == Some(&"lex")).then(|| (parts[3].to_string(), bot.into(), alias.into()))
}

impl Run {
    fn lock(&self) -> std::sync::MutexGuard<'_, Contact> {
        self.contact.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn eval(&self, text: &str) -> String {
        let view = self.lock().view();
        interpolate(&view, text)
    }

    fn note(&self, message: &str) {
        let id = self.lock().id.clone();
        eprintln!("local-cloud: connect: contact {id}: {message}");
    }

    async fn execute(&mut self) -> Disposition {
        let (instance_id, flow_id) = {
            let c = self.lock();
            (c.instance_id.clone(), c.flow_id.clone())
        };
        let mut flow = match load(self.env.connect(), &instance_id, &flow_id) {
            Ok(f) => f,
            Err(reason) => return Disposition::NotAnswered { reason },
        };
        {
            let mut c = self.lock();
            c.flow_name = flow.name.clone();
        }
        let mut current = flow.start.clone();
        for _ in 0..MAX_STEPS {
            let Some(action) = flow.actions.get(&current).cloned() else {
                return Disposition::FlowError {
                    at: current.clone(),
                    message: format!("flow {} has no action '{current}'", flow.name),
                };
            };
            let action_type = action["Type"].as_str().unwrap_or_default().to_string();
            let app = self.lock().app.clone();
            let outcome = match self.env.fault("connect", &action_type, app.as_deref()) {
                Some(code) => {
                    self.note(&format!(
                        "block '{current}' ({action_type}) fails with {code} (a fault rule)"
                    ));
                    Outcome::Failed(code)
                }
                None => self.step(&current, &action_type, &action, &mut flow).await,
            };
            let (result, next) = match outcome {
                Outcome::End(disposition) => {
                    self.log(&flow, &current, &action, &action_type, json!("End"), None);
                    return disposition;
                }
                Outcome::Success => (
                    json!("Success"),
                    action["Transitions"]["NextAction"]
                        .as_str()
                        .map(str::to_string),
                ),
                Outcome::Go(next) => (json!("Condition"), Some(next)),
                Outcome::NoCondition => (
                    json!("NoMatchingCondition"),
                    error_target(&action, "NoMatchingCondition").or_else(|| {
                        action["Transitions"]["NextAction"]
                            .as_str()
                            .map(str::to_string)
                    }),
                ),
                Outcome::Failed(error) => {
                    let next = error_target(&action, &error)
                        .or_else(|| error_target(&action, "NoMatchingError"));
                    (json!({"Error": error}), next)
                }
            };
            if action_type == "TransferToFlow" && matches!(result.as_str(), Some("Success")) {
                // The new flow's start, already loaded by the step.
                self.log(
                    &flow,
                    &current,
                    &action,
                    &action_type,
                    result,
                    Some(&flow.start),
                );
                current = flow.start.clone();
                continue;
            }
            self.log(
                &flow,
                &current,
                &action,
                &action_type,
                result,
                next.as_deref(),
            );
            match next {
                Some(n) => current = n,
                None => return Disposition::Disconnected { after: current },
            }
        }
        Disposition::FlowError {
            at: current,
            message: format!("the contact went through {MAX_STEPS} blocks without ending"),
        }
    }

    fn log(
        &self,
        flow: &Loaded,
        id: &str,
        action: &Value,
        action_type: &str,
        result: Value,
        next: Option<&str>,
    ) {
        let mut c = self.lock();
        let entry = json!({
            "Timestamp": epoch_seconds(),
            "ContactId": c.id,
            "ContactFlowId": flow.id,
            "ContactFlowName": flow.name,
            "Identifier": id,
            "Type": action_type,
            "Parameters": action["Parameters"],
            "Result": result,
            "NextAction": next,
            "LoggingEnabled": c.logging,
        });
        c.flow_log.push(entry);
    }

    async fn step(
        &mut self,
        id: &str,
        action_type: &str,
        action: &Value,
        flow: &mut Loaded,
    ) -> Outcome {
        let params = &action["Parameters"];
        match action_type {
            "MessageParticipant" => {
                let Some(text) = prompt_text(params) else {
                    return Outcome::Failed("NoMatchingError".into());
                };
                let text = self.eval(&text);
                self.lock().say(Speaker::Flow, &text, Some(id));
                Outcome::Success
            }
            "ConnectParticipantWithLexBot" => self.lex(id, action).await,
            "Compare" => {
                let path = text_of(params, "ComparisonValue").unwrap_or_default();
                let value = lookup(&self.lock().view(), &path).unwrap_or_default();
                condition_target(action, &value).map_or(Outcome::NoCondition, Outcome::Go)
            }
            "UpdateContactAttributes" => {
                let Some(attrs) = params["Attributes"].as_object() else {
                    return Outcome::Failed("NoMatchingError".into());
                };
                let values: Vec<(String, String)> = attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), self.eval(v.as_str().unwrap_or_default())))
                    .collect();
                self.lock().attributes.extend(values);
                Outcome::Success
            }
            "UpdateFlowAttributes" => {
                let Some(attrs) = params["FlowAttributes"].as_object() else {
                    return Outcome::Failed("NoMatchingError".into());
                };
                let values: Vec<(String, String)> = attrs
                    .iter()
                    .map(|(k, v)| {
                        let raw = v
                            .get("Value")
                            .and_then(Value::as_str)
                            .or(v.as_str())
                            .unwrap_or_default();
                        (k.clone(), self.eval(raw))
                    })
                    .collect();
                self.lock().flow_attributes.extend(values);
                Outcome::Success
            }
            "UpdateContactTargetQueue" => {
                let queue = self.eval(&text_of(params, "QueueId").unwrap_or_default());
                let instance_id = self.lock().instance_id.clone();
                let found = self.env.connect().with_store(|store| {
                    store
                        .instances
                        .iter()
                        .find(|i| i.id == instance_id)
                        .and_then(|i| i.queues.iter().find(|q| q.id == queue || q.arn == queue))
                        .map(|q| (q.arn.clone(), q.name.clone()))
                });
                match found {
                    Some(q) => {
                        self.lock().queue = Some(q);
                        Outcome::Success
                    }
                    None => {
                        self.note(&format!(
                            "block '{id}': '{queue}' is not a queue of the instance"
                        ));
                        Outcome::Failed("NoMatchingError".into())
                    }
                }
            }
            "TransferContactToQueue" => match self.lock().queue.clone() {
                Some((queue_arn, queue_name)) => Outcome::End(Disposition::Queued {
                    queue_arn,
                    queue_name,
                }),
                None => {
                    self.note(&format!("block '{id}': no working queue is set"));
                    Outcome::Failed("NoMatchingError".into())
                }
            },
            "InvokeLambdaFunction" => self.lambda(id, params).await,
            "TransferToFlow" => {
                let target = self.eval(&text_of(params, "ContactFlowId").unwrap_or_default());
                let instance_id = self.lock().instance_id.clone();
                match load(self.env.connect(), &instance_id, &target) {
                    Ok(next) => {
                        {
                            let mut c = self.lock();
                            c.flow_id = next.id.clone();
                            c.flow_name = next.name.clone();
                        }
                        *flow = next;
                        Outcome::Success
                    }
                    Err(why) => {
                        self.note(&format!("block '{id}': {why}"));
                        Outcome::Failed("NoMatchingError".into())
                    }
                }
            }
            "UpdateContactTextToSpeechVoice" => {
                let voice = self.eval(&text_of(params, "TextToSpeechVoice").unwrap_or_default());
                self.lock().voice = voice;
                Outcome::Success
            }
            "UpdateFlowLoggingBehavior" => {
                let on = text_of(params, "FlowLoggingBehavior").as_deref() == Some("Enabled");
                self.lock().logging = on;
                Outcome::Success
            }
            "Loop" => {
                let count: usize = self
                    .eval(&text_of(params, "LoopCount").unwrap_or_default())
                    .trim()
                    .parse()
                    .unwrap_or(0);
                let key = format!("loop:{id}");
                let done = {
                    let mut c = self.lock();
                    let n = c
                        .flow_attributes
                        .get(&key)
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    c.flow_attributes.insert(key.clone(), (n + 1).to_string());
                    if n >= count {
                        c.flow_attributes.remove(&key);
                    }
                    n >= count
                };
                let state = if done {
                    "DoneLooping"
                } else {
                    "ContinueLooping"
                };
                condition_target(action, state).map_or(Outcome::NoCondition, Outcome::Go)
            }
            "DisconnectParticipant" | "EndFlowExecution" => {
                Outcome::End(Disposition::Disconnected { after: id.into() })
            }
            t if WITHOUT_EFFECT.contains(&t) => Outcome::Success,
            other => {
                self.note(&format!(
                    "block '{id}' ({other}) is not run by the local cloud: it takes its error branch"
                ));
                Outcome::Failed("NoMatchingError".into())
            }
        }
    }

    /// ConnectParticipantWithLexBot: the conversation with the bot, until it closes the intent.
    async fn lex(&mut self, id: &str, action: &Value) -> Outcome {
        let params = &action["Parameters"];
        let arn = self.eval(
            params
                .pointer("/LexV2Bot/AliasArn")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let (instance_id, region, language, session, app) = {
            let c = self.lock();
            (
                c.instance_id.clone(),
                c.region.clone(),
                c.language.clone(),
                c.id.clone(),
                c.app.clone(),
            )
        };
        let Some((arn_region, bot, alias)) = alias_parts(&arn) else {
            self.note(&format!(
                "block '{id}': '{arn}' is not a Lex V2 bot alias ARN"
            ));
            return Outcome::Failed("NoMatchingError".into());
        };
        let associated = self.env.connect().with_store(|store| {
            store
                .instances
                .iter()
                .any(|i| i.id == instance_id && i.bots.contains(&arn))
        });
        if !associated || arn_region != region {
            self.note(&format!(
                "block '{id}': bot alias {arn} is not associated with the instance (AssociateBot): Connect may not use it"
            ));
            return Outcome::Failed("NoMatchingError".into());
        }
        if let Some(prompt) = prompt_text(params) {
            let prompt = self.eval(&prompt);
            if !prompt.trim().is_empty() {
                self.lock().say(Speaker::Flow, &prompt, Some(id));
            }
        }
        let attributes: Map<String, Value> = params["LexSessionAttributes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), json!(self.eval(v.as_str().unwrap_or_default()))))
            .collect();
        let locale = language.replace('-', "_");
        let mut first = true;
        for _ in 0..MAX_BOT_TURNS {
            self.asks.send_modify(|n| *n += 1);
            let Some(said) = self.input.recv().await else {
                return Outcome::End(Disposition::CustomerLeft { during: id.into() });
            };
            // A chat's messages are in the transcript from the moment they are sent.
            if self.lock().channel == "VOICE" {
                self.lock().say(Speaker::Customer, &said, None);
            }
            let mut body = json!({"text": said});
            if first {
                body["sessionState"] = json!({"sessionAttributes": attributes});
                first = false;
            }
            if let Some(code) = self.env.fault("lex", "RecognizeText", app.as_deref()) {
                self.note(&format!("block '{id}': Lex answers {code} (a fault rule)"));
                return Outcome::Failed("NoMatchingError".into());
            }
            let answer = self
                .env
                .own
                .lex
                .recognize_text(&self.env.own.lambda, &bot, &alias, &locale, &session, &body)
                .await;
            let answer = match answer {
                Ok(a) => a,
                Err(err) => {
                    self.note(&format!("block '{id}': Lex answered {}: {err}", err.code()));
                    return Outcome::Failed("NoMatchingError".into());
                }
            };
            for m in answer["messages"].as_array().into_iter().flatten() {
                if let Some(text) = m["content"].as_str() {
                    self.lock().say(Speaker::Bot, text, Some(id));
                }
            }
            let state = &answer["sessionState"];
            let intent = &state["intent"];
            let intent_state = intent["state"].as_str().unwrap_or_default();
            let closed = state["dialogAction"]["type"] == "Close"
                || matches!(intent_state, "Fulfilled" | "Failed" | "ReadyForFulfillment");
            if !closed {
                continue;
            }
            let name = intent["name"].as_str().unwrap_or_default().to_string();
            let slots: Map<String, Value> = intent["slots"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let value = v
                        .pointer("/value/interpretedValue")
                        .cloned()
                        .unwrap_or(Value::Null);
                    (k.clone(), value)
                })
                .collect();
            self.lock().lex = json!({
                "IntentName": name,
                "Slots": slots,
                "SessionAttributes": state["sessionAttributes"],
                "DialogState": intent_state,
                "IntentConfidence": {"Score": answer.pointer("/interpretations/0/nluConfidence/score")},
            });
            return condition_target(action, &name).map_or(Outcome::NoCondition, Outcome::Go);
        }
        self.note(&format!(
            "block '{id}': the bot did not close the intent in {MAX_BOT_TURNS} turns"
        ));
        Outcome::Failed("NoMatchingError".into())
    }

    /// InvokeLambdaFunction through the emulator's Invoke.
    async fn lambda(&mut self, id: &str, params: &Value) -> Outcome {
        let arn = self.eval(&text_of(params, "LambdaFunctionARN").unwrap_or_default());
        let limit = text_of(params, "InvocationTimeLimitSeconds")
            .and_then(|s| self.eval(&s).trim().parse::<u64>().ok())
            .unwrap_or(8);
        let response_type = params
            .pointer("/ResponseValidation/ResponseType")
            .and_then(Value::as_str)
            .unwrap_or("STRING_MAP")
            .to_string();
        let parameters: Map<String, Value> = params["LambdaInvocationAttributes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), json!(self.eval(v.as_str().unwrap_or_default()))))
            .collect();
        let event = json!({
            "Details": {"ContactData": self.lock().contact_data(), "Parameters": parameters},
            "Name": "ContactFlowEvent",
        });
        let invoked = tokio::time::timeout(
            Duration::from_secs(limit.clamp(1, 8)),
            self.env
                .own
                .lambda
                .invoke(&arn, axum::body::Bytes::from(event.to_string())),
        )
        .await;
        let answer = match invoked {
            Err(_) => Err(format!("timed out after {limit} s")),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(i)) if i.function_error.is_some() => Err("the function failed".into()),
            Ok(Ok(i)) => serde_json::from_slice::<Value>(&i.payload)
                .map_err(|e| format!("the answer is not JSON: {e}")),
        };
        let valid = answer.and_then(|v| match (&v, response_type.as_str()) {
            (Value::Object(m), "STRING_MAP") if m.values().all(Value::is_string) => Ok(v),
            (Value::Object(_), "JSON") => Ok(v),
            _ => Err(format!("the answer is not a {response_type}")),
        });
        match valid {
            Ok(v) => {
                self.lock().external = v;
                Outcome::Success
            }
            Err(why) => {
                self.note(&format!("block '{id}': Lambda {arn}: {why}"));
                Outcome::Failed("NoMatchingError".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_compare_as_the_flow_language_does() {
        assert!(compare("Equals", "fulfilled", "fulfilled"));
        assert!(!compare("Equals", "Fulfilled", "fulfilled"));
        assert!(compare("NumberGreaterThan", "3", "0"));
        assert!(!compare("NumberGreaterThan", "x", "0"));
        assert!(compare("NumberLessOrEqualTo", "2", "2.0"));
        assert!(compare("TextContains", "password reset", "reset"));
    }

    #[test]
    fn ssml_prompts_are_heard_without_their_tags() {
        let p = json!({"SSML": "<speak>Hello <break time=\"1s\"/> there</speak>"});
        assert_eq!(prompt_text(&p).as_deref(), Some("Hello there"));
        assert_eq!(
            prompt_text(&json!({"PromptId": "p-1"})).as_deref(),
            Some("(prompt p-1)")
        );
        assert_eq!(prompt_text(&json!({})), None);
    }

    #[test]
    fn alias_arns_give_the_bot_and_alias() {
        assert_eq!(
            alias_parts("arn:aws:lex:us-east-1:123456789012:bot-alias/BOT1/ALIAS1"),
            Some(("us-east-1".into(), "BOT1".into(), "ALIAS1".into()))
        );
        assert_eq!(alias_parts("arn:aws:lambda:us-east-1:1:function:x"), None);
    }

    #[test]
    fn conditions_and_errors_name_their_targets() {
        let action = json!({"Transitions": {"NextAction": "n",
            "Conditions": [{"NextAction": "big", "Condition": {"Operator": "NumberGreaterThan", "Operands": ["5"]}}],
            "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "none"}]}});
        assert_eq!(condition_target(&action, "7").as_deref(), Some("big"));
        assert_eq!(condition_target(&action, "2"), None);
        assert_eq!(
            error_target(&action, "NoMatchingCondition").as_deref(),
            Some("none")
        );
        assert_eq!(error_target(&action, "QueueAtCapacity"), None);
    }
}
