//! `resetpw call`: calls the stack's deployed line end to end — the claimed number, the
//! published flow, the bot, the function — and says how the contact ended.
//!
//! Against the local cloud (its control API answers at the configured endpoint) it is a voice
//! call: the local cloud rings the stack's claimed number from `--from`, the flow associated with
//! it runs, and the caller's turns are the `--say` texts, or else the lines of standard input,
//! each read when the line waits for the caller (so a caller can answer what they hear: a
//! one-time code texted to their phone during the call). Against AWS, which has no API that
//! places an inbound test call, it is a chat contact through the stack's flow (see
//! [`crate::chat_contact`]). Either way the transcript is printed (what the caller heard and
//! said), and the contact ends:
//! - `fulfilled`: disconnected by the flow after its goodbye (the reset or the unlock was done);
//! - `queued`: handed to the agent queue;
//! - `ended`: any other end (the call-back-later message, the caller hung up first).
//!
//! Exit code: 0 when it ended as `--expect` says (default `fulfilled`), 3 when it ended
//! otherwise, 1 on errors (no line deployed, the call not answered, a flow error). Nothing
//! secret is printed: no session attributes, no code hook data.

use crate::cli::{CallArgs, Channel, Cli, Expect, Output};
use crate::commands::{context, progress_for};
use crate::engine;
use crate::resources::{self, connect};
use crate::stack;
use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal};
use std::time::Duration;
use tokio::io::AsyncBufReadExt as _;

pub const EXIT_AS_EXPECTED: u8 = 0;
pub const EXIT_OTHERWISE: u8 = 3;

/// Who said a line of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// The flow's own prompts.
    Flow,
    /// The bot.
    Bot,
    /// The caller.
    Caller,
}

impl Speaker {
    fn label(self) -> &'static str {
        match self {
            Speaker::Flow => "line",
            Speaker::Bot => "bot",
            Speaker::Caller => "you",
        }
    }
}

/// What every prompt for the one-time code says: the bot's slot prompt and the function's
/// retry after a wrong code (both checked by the tests below).
const CODE_PROMPT_MARK: &str = "six-digit code";
/// What the transcript shows for the caller's answer to a code prompt.
pub const CODE_HIDDEN: &str = "(the code, not shown)";

/// Hides the caller's answers to the line's code prompts: a one-time code is never printed,
/// even after its use.
pub fn hide_codes(transcript: &mut [(Speaker, String)]) {
    let mut asked = false;
    for (speaker, text) in transcript.iter_mut() {
        if *speaker == Speaker::Caller {
            if asked {
                *text = CODE_HIDDEN.to_string();
            }
        } else {
            asked = text.contains(CODE_PROMPT_MARK);
        }
    }
}

/// How a contact ended, as the line's side tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// Disconnected by the flow, after this block (when known).
    Disconnected(Option<String>),
    /// The caller left (hung up, or ran out of turns) while the line waited for them.
    CallerLeft,
    /// Waiting in this queue for an agent.
    Queued(String),
}

/// A finished contact.
#[derive(Debug, Clone)]
pub struct Contact {
    pub channel: &'static str,
    pub contact_id: String,
    pub transcript: Vec<(Speaker, String)>,
    pub end: End,
    /// The contact attributes at the end (what an agent sees on a hand-off: what the line
    /// verified, the outcome class); known for voice calls through the local cloud.
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl Contact {
    /// fulfilled, queued or ended.
    pub fn outcome(&self) -> Expect {
        match &self.end {
            End::Queued(_) => Expect::Queued,
            End::Disconnected(_)
                if self.transcript.iter().any(|(s, t)| {
                    *s != Speaker::Caller
                        && (t == connect::GOODBYE || t == connect::UNLOCKED_GOODBYE)
                }) =>
            {
                Expect::Fulfilled
            }
            _ => Expect::Ended,
        }
    }

    fn end_text(&self) -> String {
        match &self.end {
            End::Disconnected(Some(after)) => format!("disconnected by the line after `{after}`"),
            End::Disconnected(None) => "disconnected by the line".into(),
            End::CallerLeft => "the caller left before the line was done".into(),
            End::Queued(q) => format!("queued for an agent in {q}"),
        }
    }

    fn to_json(&self, from: Option<&str>, to: &str) -> Value {
        let transcript: Vec<Value> = self
            .transcript
            .iter()
            .map(|(s, t)| json!({"speaker": s.label(), "text": t}))
            .collect();
        let end = match &self.end {
            End::Disconnected(after) => json!({"state": "disconnected", "after": after}),
            End::CallerLeft => json!({"state": "disconnected", "by": "caller"}),
            End::Queued(q) => json!({"state": "queued", "queue": q}),
        };
        json!({
            "channel": self.channel,
            "contact_id": self.contact_id,
            "from": from,
            "to": to,
            "transcript": transcript,
            "attributes": self.attributes,
            "end": end,
            "outcome": self.outcome().as_str(),
        })
    }
}

/// The endpoint the SDK is pointed at, when it is the local cloud (its control API answers).
async fn local_cloud() -> Option<String> {
    let url = std::env::var("AWS_ENDPOINT_URL_CONNECT")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()?;
    let url = url.trim_end_matches('/').to_string();
    let health = reqwest::Client::new()
        .get(format!("{url}/_localcloud/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    health.status().is_success().then_some(url)
}

/// The caller's turns for a chat: `--say`, else the lines of standard input (read to its end
/// first; on a terminal, with a prompt).
fn turns(args: &CallArgs) -> anyhow::Result<Vec<String>> {
    if !args.say.is_empty() {
        return Ok(args.say.clone());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("What the caller says, one turn per line; end with Ctrl-D to start the chat:");
    }
    let mut out = Vec::new();
    for line in stdin.lock().lines() {
        let line = line.context("cannot read standard input")?;
        if !line.trim().is_empty() {
            out.push(line);
        }
    }
    Ok(out)
}

/// Where a voice caller's turns come from.
enum Turns {
    /// All given up front (`--say`): the caller hangs up after the last.
    Given(Vec<String>),
    /// Standard input, a line each time the line waits for the caller; its end hangs up.
    Stdin(tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>),
}

impl Turns {
    async fn next(&mut self) -> anyhow::Result<Option<String>> {
        let Turns::Stdin(lines) = self else {
            return Ok(None);
        };
        let terminal = std::io::stdin().is_terminal();
        loop {
            if terminal {
                eprint!("you> ");
            }
            match lines
                .next_line()
                .await
                .context("cannot read standard input")?
            {
                Some(line) if line.trim().is_empty() => continue,
                other => return Ok(other),
            }
        }
    }
}

/// The local cloud's control API for voice calls.
struct Line<'a> {
    url: &'a str,
    http: reqwest::Client,
}

impl Line<'_> {
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let answer = request
            .send()
            .await
            .with_context(|| format!("cannot reach the local cloud at {}", self.url))?;
        let status = answer.status();
        let body: Value = answer
            .json()
            .await
            .context("the local cloud's answer is not JSON")?;
        if !status.is_success() {
            bail!(
                "the local cloud could not place the call: {}",
                body["error"].as_str().unwrap_or("no reason given")
            );
        }
        Ok(body)
    }
}

/// The voice call through the local cloud's control API; `heard` sees the transcript each time
/// it grew.
async fn voice(
    url: &str,
    from: &str,
    to: &str,
    mut turns: Turns,
    mut heard: impl FnMut(&[(Speaker, String)]),
) -> anyhow::Result<Contact> {
    let line = Line {
        url,
        http: reqwest::Client::new(),
    };
    let (say, open) = match &mut turns {
        Turns::Given(say) => (std::mem::take(say), false),
        Turns::Stdin(_) => (Vec::new(), true),
    };
    let mut body = line
        .send(
            line.http
                .post(format!("{url}/_localcloud/connect/calls"))
                // The SDK app id, as the local cloud's fault rules and call record know the
                // tool's calls.
                .json(&json!({"from": from, "to": to, "say": say, "open": open,
                              "app": std::env::var("AWS_SDK_UA_APP_ID").ok()})),
        )
        .await?;
    heard(&transcript_of(&body));
    while body["waiting_for_customer"] == true {
        let id = body["contact_id"].as_str().unwrap_or_default().to_string();
        body = match turns.next().await? {
            Some(text) => {
                line.send(
                    line.http
                        .post(format!("{url}/_localcloud/connect/calls/{id}/turns"))
                        .json(&json!({ "text": text })),
                )
                .await?
            }
            None => {
                line.send(
                    line.http
                        .delete(format!("{url}/_localcloud/connect/calls/{id}")),
                )
                .await?
            }
        };
        heard(&transcript_of(&body));
    }
    contact_of_voice(&body)
}

/// The transcript of a voice contact as the control API gives it, codes hidden.
fn transcript_of(body: &Value) -> Vec<(Speaker, String)> {
    let mut transcript: Vec<(Speaker, String)> = body["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let speaker = match l["speaker"].as_str() {
                Some("bot") => Speaker::Bot,
                Some("customer") => Speaker::Caller,
                _ => Speaker::Flow,
            };
            (speaker, l["text"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    hide_codes(&mut transcript);
    transcript
}

/// A finished voice contact from the control API's answer.
pub fn contact_of_voice(body: &Value) -> anyhow::Result<Contact> {
    let transcript = transcript_of(body);
    let d = &body["disposition"];
    let end = match (d["state"].as_str(), d["by"].as_str()) {
        (Some("queued"), _) => End::Queued(d["queue_name"].as_str().unwrap_or_default().into()),
        (Some("disconnected"), Some("customer")) => End::CallerLeft,
        (Some("disconnected"), _) => End::Disconnected(d["after"].as_str().map(str::to_string)),
        (Some("failed"), _) => bail!(
            "the call was not answered: {}",
            d["message"].as_str().unwrap_or("no reason given")
        ),
        _ => bail!(
            "the contact flow stopped with an error: {}",
            d["message"].as_str().unwrap_or("no reason given")
        ),
    };
    let attributes = body["attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    Ok(Contact {
        channel: "voice",
        contact_id: body["contact_id"].as_str().unwrap_or_default().into(),
        transcript,
        end,
        attributes,
    })
}

pub async fn run(cli: &Cli, args: &CallArgs) -> anyhow::Result<u8> {
    let loaded = stack::load(&args.file.file)?;
    if loaded.stack.connect.is_none() {
        bail!(
            "the stack `{}` has no `connect` section: there is no line to call",
            loaded.stack.name
        );
    }
    let cx = context(
        cli,
        &loaded,
        false,
        Duration::from_secs(60),
        progress_for(cli.progress),
    )
    .await?;
    let outputs = engine::live_outputs(&cx, &resources::for_stack(&loaded))
        .await
        .map_err(|e| anyhow!("could not read the stack's line: {e}"))?;
    let number = outputs
        .get(&format!("{}.number", connect::phone_number::ID))
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "the stack `{}` has no claimed phone number in {}: run `resetpw up` first",
                cx.stack,
                cx.region
            )
        })?;
    let local = local_cloud().await;
    let channel = match (args.channel, &local) {
        (Channel::Auto, Some(_)) | (Channel::Voice, Some(_)) => Channel::Voice,
        (Channel::Voice, None) => bail!(
            "a voice call needs the local cloud (AWS has no API that places an inbound test call): use --channel chat"
        ),
        _ => Channel::Chat,
    };
    let text = matches!(args.output, Output::Text);
    if text {
        match (channel, local.is_some()) {
            (Channel::Voice, true) => println!("Calling {number} from {}:", args.from),
            _ => println!("Chat through the flow of {number}:"),
        }
    }
    // What the caller heard and said, printed as the call goes on.
    let mut shown = 0;
    let mut show = |transcript: &[(Speaker, String)]| {
        if text {
            for (speaker, said) in transcript.iter().skip(shown) {
                println!("{}: {said}", speaker.label());
            }
            shown = shown.max(transcript.len());
        }
    };
    let contact = match (channel, local) {
        (Channel::Voice, Some(url)) => {
            let turns = if args.say.is_empty() {
                Turns::Stdin(tokio::io::BufReader::new(tokio::io::stdin()).lines())
            } else {
                Turns::Given(args.say.clone())
            };
            voice(&url, &args.from, &number, turns, &mut show).await?
        }
        _ => {
            let say = turns(args)?;
            let instance = outputs
                .get(&format!("{}.instance_id", connect::flow::ID))
                .cloned()
                .ok_or_else(|| {
                    anyhow!("the stack's contact flow does not exist: run `resetpw up` first")
                })?;
            let flow = outputs
                .get(&format!("{}.id", connect::flow::ID))
                .cloned()
                .unwrap_or_default();
            crate::chat_contact::run(&cx, &instance, &flow, &say).await?
        }
    };
    show(&contact.transcript);
    let from = (contact.channel == "voice").then_some(args.from.as_str());
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&contact.to_json(from, &number))?
        ),
        Output::Text => println!(
            "-- {} ({}), contact {}",
            contact.outcome().as_str(),
            contact.end_text(),
            contact.contact_id
        ),
    }
    Ok(if contact.outcome() == args.expect {
        EXIT_AS_EXPECTED
    } else {
        EXIT_OTHERWISE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(end: End, lines: &[(Speaker, &str)]) -> Contact {
        Contact {
            channel: "voice",
            contact_id: "c".into(),
            transcript: lines.iter().map(|(s, t)| (*s, t.to_string())).collect(),
            end,
            attributes: Default::default(),
        }
    }

    #[test]
    fn only_a_disconnect_after_the_goodbye_is_fulfilled() {
        let bye = [(Speaker::Flow, connect::GOODBYE)];
        assert_eq!(
            contact(End::Disconnected(None), &bye).outcome(),
            Expect::Fulfilled
        );
        assert_eq!(
            contact(End::Disconnected(None), &[]).outcome(),
            Expect::Ended
        );
        assert_eq!(contact(End::CallerLeft, &bye).outcome(), Expect::Ended);
        assert_eq!(
            contact(End::Queued("BasicQueue".into()), &bye).outcome(),
            Expect::Queued
        );
        // The caller saying the goodbye text proves nothing.
        let said = [(Speaker::Caller, connect::GOODBYE)];
        assert_eq!(
            contact(End::Disconnected(None), &said).outcome(),
            Expect::Ended
        );
    }

    #[test]
    fn answers_to_code_prompts_are_hidden_and_nothing_else() {
        let code_prompt = crate::resources::lex::SLOTS
            .iter()
            .find(|s| s.0 == crate::resources::lex::CODE_SLOT)
            .map(|s| s.2)
            .unwrap();
        let retry = resetpw_lambda::handler::PROMPT_CODE_AGAIN;
        let mut t: Vec<(Speaker, String)> = [
            (Speaker::Bot, "In which month did you start working here?"),
            (Speaker::Caller, "March"),
            (Speaker::Bot, code_prompt),
            (Speaker::Caller, "123456"),
            (Speaker::Bot, retry),
            (Speaker::Caller, "one two three four five six"),
            (Speaker::Bot, "Thank you."),
            (Speaker::Caller, "bye"),
        ]
        .iter()
        .map(|(s, t)| (*s, t.to_string()))
        .collect();
        hide_codes(&mut t);
        let said: Vec<&str> = t
            .iter()
            .filter(|(s, _)| *s == Speaker::Caller)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(said, ["March", CODE_HIDDEN, CODE_HIDDEN, "bye"]);
    }

    #[test]
    fn the_control_apis_answer_becomes_a_contact() {
        let body = json!({"contact_id": "c-1", "transcript": [
            {"speaker": "flow", "text": "Welcome."}, {"speaker": "customer", "text": "hi"},
            {"speaker": "bot", "text": "What is your user ID?"}],
            "disposition": {"state": "queued", "queue_name": "BasicQueue"}});
        let c = contact_of_voice(&body).unwrap();
        assert_eq!(c.end, End::Queued("BasicQueue".into()));
        assert_eq!(c.transcript[1], (Speaker::Caller, "hi".to_string()));
        let failed = json!({"disposition": {"state": "failed", "message": "no flow"}});
        assert!(contact_of_voice(&failed)
            .unwrap_err()
            .to_string()
            .contains("no flow"));
        let left = json!({"disposition": {"state": "disconnected", "by": "customer"}});
        assert_eq!(contact_of_voice(&left).unwrap().end, End::CallerLeft);
    }
}
