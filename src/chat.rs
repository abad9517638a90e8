//! `resetpw chat`: talks to the stack's deployed bot over Lex V2 RecognizeText, as a caller
//! would through the contact flow — against AWS or the local cloud alike (the endpoint comes from
//! the standard AWS configuration).
//!
//! The bot is `<stack>-resetpw` (found by name with ListBots), its alias `live` (ListBotAliases),
//! the locale the stack's `bot.locale` (en_US by default). With `--say` the texts are sent in
//! order; without, lines are read from standard input (with a prompt on a terminal). The
//! conversation ends when the bot closes the intent. Exit code: 0 when the intent ends
//! Fulfilled, 3 when it ends Failed or the conversation ends without fulfillment (the bot fell
//! back, or the input ran out first), 1 on errors. Only what the caller says and the bot's
//! messages are printed: never session attributes or the code hook's data.

use crate::aws;
use crate::cli::{ChatArgs, Cli, Output};
use crate::stack;
use aws_sdk_lexmodelsv2::types::{BotFilter, BotFilterName, BotFilterOperator};
use aws_sdk_lexruntimev2::types::{DialogActionType, IntentState, SessionState};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};

pub const EXIT_FULFILLED: u8 = 0;
pub const EXIT_NOT_FULFILLED: u8 = 3;
/// The alias issue 8's bot resources create.
pub const ALIAS_NAME: &str = "live";

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("--session-attribute `{0}` is not KEY=VALUE")]
    Attribute(String),
    #[error("the stack's bot `{0}` does not exist in this account and region: run `resetpw up` with a `bot` section first")]
    NoBot(String),
    #[error("the bot `{bot}` has no alias `{alias}`: run `resetpw up` to create it")]
    NoAlias { bot: String, alias: String },
    #[error("cannot find the bot ({call}): {source}; check your credentials and region")]
    Lookup {
        call: &'static str,
        source: aws::ApiError,
    },
    #[error("the bot did not answer (RecognizeText): {0}")]
    Recognize(aws::ApiError),
    #[error("cannot read standard input: {0}")]
    Input(#[from] std::io::Error),
}

/// One exchange: what the caller said and what the bot answered.
#[derive(Debug, Clone)]
struct Exchange {
    said: String,
    messages: Vec<String>,
    intent: Option<String>,
    state: Option<String>,
    dialog_action: Option<String>,
}

impl Exchange {
    fn closed(&self) -> bool {
        self.dialog_action.as_deref() == Some("Close")
    }

    fn fulfilled(&self) -> bool {
        self.closed()
            && self.state.as_deref() == Some("Fulfilled")
            && self.intent.as_deref() != Some("FallbackIntent")
    }
}

fn parse_attributes(pairs: &[String]) -> Result<HashMap<String, String>, ChatError> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(ChatError::Attribute(p.clone())),
        })
        .collect()
}

/// Where the conversation goes: the bot and alias ids and the locale.
struct Target {
    bot_name: String,
    bot_id: String,
    alias_id: String,
    locale: String,
}

async fn find_target(
    lex: &aws_sdk_lexmodelsv2::Client,
    bot_name: &str,
    locale: &str,
) -> Result<Target, ChatError> {
    let filter = BotFilter::builder()
        .name(BotFilterName::BotName)
        .operator(BotFilterOperator::Equals)
        .values(bot_name)
        .build()
        .expect("a complete filter");
    let bots = lex
        .list_bots()
        .filters(filter)
        .send()
        .await
        .map_err(|e| ChatError::Lookup {
            call: "ListBots",
            source: aws::ApiError::from(e),
        })?;
    let bot_id = bots
        .bot_summaries()
        .iter()
        .find(|b| b.bot_name() == Some(bot_name))
        .and_then(|b| b.bot_id())
        .ok_or_else(|| ChatError::NoBot(bot_name.to_string()))?
        .to_string();
    let mut next: Option<String> = None;
    loop {
        let page = lex
            .list_bot_aliases()
            .bot_id(&bot_id)
            .set_next_token(next.clone())
            .send()
            .await
            .map_err(|e| ChatError::Lookup {
                call: "ListBotAliases",
                source: aws::ApiError::from(e),
            })?;
        if let Some(alias) = page
            .bot_alias_summaries()
            .iter()
            .find(|a| a.bot_alias_name() == Some(ALIAS_NAME))
            .and_then(|a| a.bot_alias_id())
        {
            return Ok(Target {
                bot_name: bot_name.to_string(),
                bot_id,
                alias_id: alias.to_string(),
                locale: locale.to_string(),
            });
        }
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return Err(ChatError::NoAlias {
                bot: bot_name.to_string(),
                alias: ALIAS_NAME.to_string(),
            });
        }
    }
}

/// Sends one text and reads the answer.
async fn say(
    client: &aws_sdk_lexruntimev2::Client,
    target: &Target,
    session_id: &str,
    text: &str,
    attributes: &HashMap<String, String>,
) -> Result<Exchange, ChatError> {
    let mut request = client
        .recognize_text()
        .bot_id(&target.bot_id)
        .bot_alias_id(&target.alias_id)
        .locale_id(&target.locale)
        .session_id(session_id)
        .text(text);
    if !attributes.is_empty() {
        request = request.session_state(
            SessionState::builder()
                .set_session_attributes(Some(attributes.clone()))
                .build(),
        );
    }
    let out = request
        .send()
        .await
        .map_err(|e| ChatError::Recognize(aws::ApiError::from(e)))?;
    let state = out.session_state();
    let intent = state.and_then(|s| s.intent());
    Ok(Exchange {
        said: text.to_string(),
        messages: out
            .messages()
            .iter()
            .filter_map(|m| m.content().map(str::to_string))
            .collect(),
        intent: intent.map(|i| i.name().to_string()),
        state: intent
            .and_then(|i| i.state())
            .map(|s: &IntentState| s.as_str().to_string()),
        dialog_action: state
            .and_then(|s| s.dialog_action())
            .map(|d| d.r#type())
            .map(|t: &DialogActionType| t.as_str().to_string()),
    })
}

pub async fn run(cli: &Cli, args: &ChatArgs) -> anyhow::Result<u8> {
    let loaded = stack::load(&args.file.file)?;
    let s = &loaded.stack;
    let attributes = parse_attributes(&args.session_attribute)?;
    let locale = s
        .bot
        .as_ref()
        .map_or_else(|| "en_US".to_string(), |b| b.locale.clone());
    let config = aws::sdk_config(
        cli.profile.as_deref(),
        s.region.as_ref().map(|r| r.as_str()),
        cli.region.as_deref(),
    )
    .await?;
    let lex = aws_sdk_lexmodelsv2::Client::new(&config);
    let runtime = aws_sdk_lexruntimev2::Client::new(&config);
    let target = find_target(&lex, &format!("{}-resetpw", s.name), &locale).await?;
    let session_id = format!("resetpw-chat-{:016x}", fastrand::u64(..));
    let json = args.output == Output::Json;
    let interactive = args.say.is_empty() && std::io::stdin().is_terminal();
    if interactive && !json {
        eprintln!(
            "Talking to {} (alias {ALIAS_NAME}, {}); end with Ctrl-D.",
            target.bot_name, target.locale
        );
    }
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut scripted = args.say.iter().cloned();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        let text = if args.say.is_empty() {
            if interactive {
                eprint!("you> ");
                std::io::stderr().flush().ok();
            }
            match lines.next() {
                Some(line) => line?,
                None => break,
            }
        } else {
            match scripted.next() {
                Some(t) => t,
                None => break,
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        // The flow sets its attributes once, on the first turn; the session keeps them.
        let first = exchanges.is_empty();
        let empty = HashMap::new();
        let exchange = say(
            &runtime,
            &target,
            &session_id,
            &text,
            if first { &attributes } else { &empty },
        )
        .await?;
        if !json {
            if !interactive {
                println!("you: {}", exchange.said);
            }
            for m in &exchange.messages {
                println!("bot: {m}");
            }
        }
        let closed = exchange.closed();
        exchanges.push(exchange);
        if closed {
            break;
        }
    }
    let last = exchanges.last();
    let fulfilled = last.is_some_and(Exchange::fulfilled);
    let outcome = match last {
        Some(_) if fulfilled => "Fulfilled",
        Some(e) if e.closed() && e.state.as_deref() == Some("Failed") => "Failed",
        _ => "NotFulfilled",
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&transcript(&target, &exchanges, outcome))?
        );
    } else {
        let intent = last.and_then(|e| e.intent.clone()).unwrap_or_default();
        println!(
            "-- {outcome}{}",
            if intent.is_empty() {
                String::new()
            } else {
                format!(" ({intent})")
            }
        );
    }
    Ok(if fulfilled {
        EXIT_FULFILLED
    } else {
        EXIT_NOT_FULFILLED
    })
}

fn transcript(target: &Target, exchanges: &[Exchange], outcome: &str) -> Value {
    let turns: Vec<Value> = exchanges
        .iter()
        .map(|e| {
            json!({
                "say": e.said,
                "messages": e.messages,
                "intent": e.intent,
                "intent_state": e.state,
                "dialog_action": e.dialog_action,
            })
        })
        .collect();
    json!({
        "bot": target.bot_name,
        "bot_id": target.bot_id,
        "alias": ALIAS_NAME,
        "alias_id": target.alias_id,
        "locale": target.locale,
        "turns": turns,
        "outcome": outcome,
        "intent": exchanges.last().and_then(|e| e.intent.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(intent: &str, state: &str, action: &str) -> Exchange {
        Exchange {
            said: "x".into(),
            messages: vec![],
            intent: Some(intent.into()),
            state: Some(state.into()),
            dialog_action: Some(action.into()),
        }
    }

    #[test]
    fn attributes_are_key_value_pairs() {
        let parsed = parse_attributes(&["CallerNumber=+15550100".into(), "A=b=c".into()]).unwrap();
        assert_eq!(parsed["CallerNumber"], "+15550100");
        assert_eq!(parsed["A"], "b=c");
        assert!(matches!(
            parse_attributes(&["novalue".into()]),
            Err(ChatError::Attribute(_))
        ));
        assert!(parse_attributes(&["=x".into()]).is_err());
    }

    #[test]
    fn only_a_closed_fulfilled_intent_counts_as_fulfilled() {
        assert!(exchange("ResetPW", "Fulfilled", "Close").fulfilled());
        assert!(!exchange("ResetPW", "Failed", "Close").fulfilled());
        assert!(!exchange("ResetPW", "InProgress", "ElicitSlot").fulfilled());
        assert!(!exchange("FallbackIntent", "Fulfilled", "Close").fulfilled());
    }
}
