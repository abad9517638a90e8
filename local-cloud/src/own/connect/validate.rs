//! The flow-language check a PUBLISHED contact flow goes through: the content parses, has
//! Version 2019-10-30, a StartAction that exists, unique valid identifiers, at most 250 actions of
//! known types with their required parameters, every NextAction pointing at an action, every
//! non-terminal action with its error branches, and the queues and flows it names existing.
//! The answer is the list of problems Connect puts in an InvalidContactFlowException.

use serde_json::{Map, Value};
use std::collections::HashSet;

pub const FLOW_VERSION: &str = "2019-10-30";
pub const MAX_ACTIONS: usize = 250;
/// Connect returns at most 50 problems, each message at most 256 characters.
const MAX_PROBLEMS: usize = 50;
const MAX_MESSAGE: usize = 256;
const MAX_IDENTIFIER: usize = 50;
const FORBIDDEN_IDENTIFIER_CHARS: &[char] = &[
    '%', ':', '(', '\\', '/', ')', '=', '$', ',', ';', '[', ']', '{', '}',
];
const RESERVED_IDENTIFIERS: &[&str] = &[
    "__proto__",
    "constructor",
    "__defineGetter__",
    "__defineSetter__",
    "toString",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "valueOf",
];
const OPERATORS: &[&str] = &[
    "Equals",
    "NumberGreaterThan",
    "NumberGreaterOrEqualTo",
    "NumberLessThan",
    "NumberLessOrEqualTo",
    "TextStartsWith",
    "TextEndsWith",
    "TextContains",
];

/// What the check needs to know about the instance the flow belongs to.
pub struct Context<'a> {
    pub region: &'a str,
    /// True when the queue id or ARN names a queue of the instance.
    pub queue_exists: &'a dyn Fn(&str) -> bool,
    /// True when the flow id or ARN names a flow of the instance.
    pub flow_exists: &'a dyn Fn(&str) -> bool,
}

/// How one action type must look.
struct Spec {
    /// Error branches it must have (all of them), and the only ones it may have.
    errors: &'static [&'static str],
    /// Ends the flow: `Transitions` must be `{}`.
    terminal: bool,
    /// May carry `Conditions`.
    conditions: bool,
    /// Must name a NextAction (false for actions whose success leaves the flow or branches only).
    next_action: bool,
}

fn spec_of(action_type: &str) -> Option<Spec> {
    let s = |errors, terminal, conditions, next_action| Spec {
        errors,
        terminal,
        conditions,
        next_action,
    };
    Some(match action_type {
        "MessageParticipant" => s(&["NoMatchingError"], false, false, true),
        "ConnectParticipantWithLexBot" => s(
            &[
                "NoMatchingError",
                "NoMatchingCondition",
                "InputTimeLimitExceeded",
            ],
            false,
            true,
            true,
        ),
        "UpdateContactTargetQueue" => s(&["NoMatchingError"], false, false, true),
        "TransferContactToQueue" => s(&["QueueAtCapacity", "NoMatchingError"], false, false, true),
        "Compare" => s(&["NoMatchingCondition"], false, true, false),
        "UpdateContactAttributes" => s(&["NoMatchingError"], false, false, true),
        "InvokeLambdaFunction" => s(&["NoMatchingError"], false, false, true),
        "TransferToFlow" => s(&["NoMatchingError"], false, false, false),
        "UpdateFlowLoggingBehavior" => s(&[], false, false, true),
        "UpdateContactTextToSpeechVoice" => s(&[], false, false, true),
        "DisconnectParticipant" | "EndFlowExecution" => s(&[], true, false, false),
        _ => return None,
    })
}

/// The problems of a flow's content; empty when it is valid.
pub fn problems(content: &str, ctx: &Context<'_>) -> Vec<String> {
    let mut out = Problems::default();
    check(content, ctx, &mut out);
    out.0
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, message: String) {
        if self.0.len() < MAX_PROBLEMS {
            let mut message = message;
            if message.len() > MAX_MESSAGE {
                let mut end = MAX_MESSAGE - 3;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
                message.push_str("...");
            }
            self.0.push(message);
        }
    }
}

fn check(content: &str, ctx: &Context<'_>, out: &mut Problems) {
    let flow: Value = match serde_json::from_str(content) {
        Ok(v) => v,
        Err(err) => return out.push(format!("Content is not valid JSON: {err}")),
    };
    let Some(flow) = flow.as_object() else {
        return out.push("Content must be a JSON object".into());
    };
    match flow.get("Version").and_then(Value::as_str) {
        Some(FLOW_VERSION) => {}
        Some(other) => out.push(format!(
            "Version '{other}' is not supported; use '{FLOW_VERSION}'"
        )),
        None => out.push(format!("Version is missing; use '{FLOW_VERSION}'")),
    }
    let Some(actions) = flow.get("Actions").and_then(Value::as_array) else {
        return out.push("Actions is missing or not a list".into());
    };
    if actions.is_empty() {
        out.push("Actions is empty: a flow needs at least one action".into());
    }
    if actions.len() > MAX_ACTIONS {
        out.push(format!(
            "The flow has {} actions; at most {MAX_ACTIONS} are allowed",
            actions.len()
        ));
    }
    // Identifiers first, so references can be checked against all of them.
    let mut ids = HashSet::new();
    for (index, action) in actions.iter().enumerate() {
        let Some(id) = action.get("Identifier").and_then(Value::as_str) else {
            out.push(format!("Action at index {index} has no Identifier"));
            continue;
        };
        if let Some(problem) = identifier_problem(id) {
            out.push(format!("Action '{id}': {problem}"));
        }
        if !ids.insert(id) {
            out.push(format!("Identifier '{id}' is used by more than one action"));
        }
    }
    match flow.get("StartAction").and_then(Value::as_str) {
        Some(start) if ids.contains(start) => {}
        Some(start) => out.push(format!(
            "StartAction '{start}' does not name an action of the flow"
        )),
        None => out.push("StartAction is missing".into()),
    }
    for (index, action) in actions.iter().enumerate() {
        let name = action
            .get("Identifier")
            .and_then(Value::as_str)
            .map_or_else(|| format!("at index {index}"), |id| format!("'{id}'"));
        match action.as_object() {
            Some(action) => check_action(&name, action, &ids, ctx, out),
            None => out.push(format!("Action {name} is not an object")),
        }
    }
}

fn identifier_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("Identifier is empty".into());
    }
    if id.chars().count() > MAX_IDENTIFIER {
        return Some(format!(
            "Identifier is longer than {MAX_IDENTIFIER} characters"
        ));
    }
    if let Some(c) = id.chars().find(|c| FORBIDDEN_IDENTIFIER_CHARS.contains(c)) {
        return Some(format!("Identifier contains the forbidden character '{c}'"));
    }
    RESERVED_IDENTIFIERS
        .contains(&id)
        .then(|| "Identifier is a reserved word".to_string())
}

fn check_action(
    name: &str,
    action: &Map<String, Value>,
    ids: &HashSet<&str>,
    ctx: &Context<'_>,
    out: &mut Problems,
) {
    let Some(action_type) = action.get("Type").and_then(Value::as_str) else {
        return out.push(format!("Action {name} has no Type"));
    };
    let Some(spec) = spec_of(action_type) else {
        return out.push(format!(
            "Action {name} has the unknown Type '{action_type}'"
        ));
    };
    let empty = Map::new();
    let params = match action.get("Parameters") {
        None => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => return out.push(format!("Action {name}: Parameters must be an object")),
    };
    check_parameters(name, action_type, params, ctx, out);
    let transitions = match action.get("Transitions") {
        None => &empty,
        Some(Value::Object(t)) => t,
        Some(_) => return out.push(format!("Action {name}: Transitions must be an object")),
    };
    if spec.terminal {
        if !transitions.is_empty() {
            out.push(format!(
                "Action {name} ({action_type}) ends the flow: its Transitions must be empty"
            ));
        }
        return;
    }
    let target_ok = |target: Option<&Value>, what: &str, out: &mut Problems| match target
        .and_then(Value::as_str)
    {
        Some(next) if ids.contains(next) => {}
        Some(next) => out.push(format!(
            "Action {name}: {what} '{next}' does not name an action of the flow"
        )),
        None => out.push(format!("Action {name}: {what} is missing")),
    };
    match transitions.get("NextAction") {
        Some(next) => target_ok(Some(next), "NextAction", out),
        None if spec.next_action => out.push(format!("Action {name}: NextAction is missing")),
        None => {}
    }
    let errors = transitions
        .get("Errors")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let conditions = transitions
        .get("Conditions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut seen = HashSet::new();
    for error in errors {
        let Some(error_type) = error.get("ErrorType").and_then(Value::as_str) else {
            out.push(format!("Action {name}: an error branch has no ErrorType"));
            continue;
        };
        if !spec.errors.contains(&error_type) {
            out.push(format!(
                "Action {name} ({action_type}) has no error '{error_type}' (its errors: {})",
                spec.errors.join(", ")
            ));
        }
        if !seen.insert(error_type) {
            out.push(format!(
                "Action {name}: error '{error_type}' has more than one branch"
            ));
        }
        target_ok(
            error.get("NextAction"),
            &format!("NextAction of error '{error_type}'"),
            out,
        );
    }
    for required in spec.errors {
        // A Lex block without conditions has no NoMatchingCondition outcome to handle.
        let optional = *required == "NoMatchingCondition"
            && action_type == "ConnectParticipantWithLexBot"
            && conditions.is_empty();
        if !optional && !seen.contains(required) {
            out.push(format!(
                "Action {name} ({action_type}) has no branch for the error '{required}'"
            ));
        }
    }
    if !conditions.is_empty() && !spec.conditions {
        out.push(format!(
            "Action {name} ({action_type}) cannot have Conditions"
        ));
    }
    for condition in conditions {
        target_ok(
            condition.get("NextAction"),
            "NextAction of a condition",
            out,
        );
        let operator = condition
            .pointer("/Condition/Operator")
            .and_then(Value::as_str);
        let operands = condition
            .pointer("/Condition/Operands")
            .and_then(Value::as_array);
        match operator {
            Some(op) if action_type == "ConnectParticipantWithLexBot" && op != "Equals" => out
                .push(format!(
                    "Action {name}: a Lex intent condition must use the operator Equals, not '{op}'"
                )),
            Some(op) if !OPERATORS.contains(&op) => {
                out.push(format!("Action {name}: unknown condition operator '{op}'"))
            }
            Some(_) => {}
            None => out.push(format!("Action {name}: a condition has no Operator")),
        }
        if !operands.is_some_and(|o| o.len() == 1 && o[0].is_string()) {
            out.push(format!(
                "Action {name}: a condition needs Operands with exactly one string"
            ));
        }
    }
}

fn check_parameters(
    name: &str,
    action_type: &str,
    params: &Map<String, Value>,
    ctx: &Context<'_>,
    out: &mut Problems,
) {
    let text = |key: &str| params.get(key).and_then(Value::as_str);
    let prompts = ["Text", "SSML", "PromptId", "Media"]
        .iter()
        .filter(|k| params.contains_key(**k))
        .count();
    match action_type {
        "MessageParticipant" if prompts != 1 => out.push(format!(
            "Action {name}: MessageParticipant needs exactly one of Text, SSML, PromptId or Media"
        )),
        "ConnectParticipantWithLexBot" => {
            if prompts > 1 {
                out.push(format!(
                    "Action {name}: at most one of Text, SSML, PromptId or Media"
                ));
            }
            match params.get("LexV2Bot").and_then(|b| b.get("AliasArn")).and_then(Value::as_str) {
                Some(arn) => {
                    if let Some(problem) = lex_alias_problem(arn, ctx.region) {
                        out.push(format!("Action {name}: LexV2Bot.AliasArn {problem}"));
                    }
                }
                None => out.push(format!(
                    "Action {name}: LexV2Bot.AliasArn is required"
                )),
            }
            if let Some(attrs) = params.get("LexSessionAttributes") {
                if !attrs
                    .as_object()
                    .is_some_and(|m| m.values().all(Value::is_string))
                {
                    out.push(format!(
                        "Action {name}: LexSessionAttributes must map names to strings"
                    ));
                }
            }
            if params
                .get("LexTimeoutSeconds")
                .is_some_and(|v| !v.is_object())
            {
                out.push(format!(
                    "Action {name}: LexTimeoutSeconds must be an object {{\"Text\": \"<seconds>\"}}"
                ));
            }
        }
        "UpdateContactTargetQueue" => match text("QueueId") {
            Some(q) if q.starts_with("$.") => {}
            Some(q) if (ctx.queue_exists)(q) => {}
            Some(q) => out.push(format!(
                "Action {name}: QueueId '{q}' is not a queue of this instance"
            )),
            None => out.push(format!("Action {name}: QueueId is required")),
        },
        "Compare" => match text("ComparisonValue") {
            Some(v) if v.starts_with("$.") => {}
            Some(v) => out.push(format!(
                "Action {name}: ComparisonValue '{v}' must be a single JSONPath such as $.Attributes.X"
            )),
            None => out.push(format!("Action {name}: ComparisonValue is required")),
        },
        "UpdateContactAttributes" if !params.get("Attributes").is_some_and(Value::is_object) => {
            out.push(format!("Action {name}: Attributes is required (an object)"))
        }
        "InvokeLambdaFunction" => match text("LambdaFunctionARN") {
            Some(arn) if arn.starts_with("$.") || arn.starts_with("arn:aws") => {}
            _ => out.push(format!(
                "Action {name}: LambdaFunctionARN is required (a Lambda function ARN)"
            )),
        },
        "TransferToFlow" => match text("ContactFlowId") {
            Some(f) if f.starts_with("$.") || (ctx.flow_exists)(f) => {}
            Some(f) => out.push(format!(
                "Action {name}: ContactFlowId '{f}' is not a flow of this instance"
            )),
            None => out.push(format!("Action {name}: ContactFlowId is required")),
        },
        "UpdateFlowLoggingBehavior"
            if !matches!(text("FlowLoggingBehavior"), Some("Enabled" | "Disabled")) =>
        {
            out.push(format!(
                "Action {name}: FlowLoggingBehavior must be Enabled or Disabled"
            ))
        }
        "UpdateContactTextToSpeechVoice" if text("TextToSpeechVoice").is_none() => {
            out.push(format!("Action {name}: TextToSpeechVoice is required"))
        }
        _ => {}
    }
}

/// Why a Lex V2 alias ARN is not usable from an instance in `region`, if it is not.
pub fn lex_alias_problem(arn: &str, region: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lex"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("bot-alias/").is_some_and(|rest| {
            let ids: Vec<&str> = rest.split('/').collect();
            ids.len() == 2
                && ids
                    .iter()
                    .all(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        });
    if !well_formed {
        return Some(format!(
            "'{arn}' is not a Lex V2 bot alias ARN (arn:aws:lex:REGION:ACCOUNT:bot-alias/BOTID/ALIASID)"
        ));
    }
    (parts[3] != region).then(|| {
        format!(
            "'{arn}' is in {}, not in the instance's region {region}",
            parts[3]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:connect:us-east-1:123456789012:instance/i-1/queue/q-1";
    const ALIAS: &str = "arn:aws:lex:us-east-1:123456789012:bot-alias/BOTID01234/ALIASID012";

    fn ctx() -> Context<'static> {
        Context {
            region: "us-east-1",
            queue_exists: &|q| q == QUEUE || q == "q-1",
            flow_exists: &|f| f == "f-1",
        }
    }

    /// The password-reset flow of the issue: greeting → bot → branch on the outcome → queue.
    fn good_flow() -> Value {
        serde_json::json!({"Version":"2019-10-30","StartAction":"greeting","Metadata":{},"Actions":[
          {"Identifier":"greeting","Type":"MessageParticipant","Parameters":{"Text":"Welcome."},
           "Transitions":{"NextAction":"bot","Errors":[{"ErrorType":"NoMatchingError","NextAction":"bot"}]}},
          {"Identifier":"bot","Type":"ConnectParticipantWithLexBot",
           "Parameters":{"Text":"How can I help?","LexV2Bot":{"AliasArn":ALIAS},
             "LexSessionAttributes":{"CallerNumber":"$.CustomerEndpoint.Address","ContactId":"$.ContactId"}},
           "Transitions":{"NextAction":"set-queue",
             "Conditions":[{"NextAction":"outcome","Condition":{"Operator":"Equals","Operands":["ResetPW"]}}],
             "Errors":[{"ErrorType":"NoMatchingCondition","NextAction":"set-queue"},
                       {"ErrorType":"InputTimeLimitExceeded","NextAction":"set-queue"},
                       {"ErrorType":"NoMatchingError","NextAction":"set-queue"}]}},
          {"Identifier":"outcome","Type":"Compare","Parameters":{"ComparisonValue":"$.Lex.SessionAttributes.ResetOutcome"},
           "Transitions":{"NextAction":"set-queue",
             "Conditions":[{"NextAction":"bye","Condition":{"Operator":"Equals","Operands":["fulfilled"]}}],
             "Errors":[{"ErrorType":"NoMatchingCondition","NextAction":"set-queue"}]}},
          {"Identifier":"set-queue","Type":"UpdateContactTargetQueue","Parameters":{"QueueId":QUEUE},
           "Transitions":{"NextAction":"to-queue","Errors":[{"ErrorType":"NoMatchingError","NextAction":"later"}]}},
          {"Identifier":"to-queue","Type":"TransferContactToQueue","Parameters":{},
           "Transitions":{"NextAction":"later","Errors":[{"ErrorType":"QueueAtCapacity","NextAction":"later"},
                                                        {"ErrorType":"NoMatchingError","NextAction":"later"}]}},
          {"Identifier":"later","Type":"MessageParticipant","Parameters":{"Text":"Please call back later."},
           "Transitions":{"NextAction":"end","Errors":[{"ErrorType":"NoMatchingError","NextAction":"end"}]}},
          {"Identifier":"bye","Type":"MessageParticipant","Parameters":{"Text":"Goodbye."},
           "Transitions":{"NextAction":"end","Errors":[{"ErrorType":"NoMatchingError","NextAction":"end"}]}},
          {"Identifier":"end","Type":"DisconnectParticipant","Parameters":{},"Transitions":{}}]})
    }

    fn problems_of(flow: &Value) -> Vec<String> {
        problems(&flow.to_string(), &ctx())
    }

    fn action<'a>(flow: &'a mut Value, id: &str) -> &'a mut Value {
        flow["Actions"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|a| a["Identifier"] == id)
            .unwrap()
    }

    fn has(problems: &[String], needle: &str) -> bool {
        problems.iter().any(|p| p.contains(needle))
    }

    #[test]
    fn the_password_reset_flow_is_valid() {
        assert_eq!(problems_of(&good_flow()), Vec::<String>::new());
    }

    #[test]
    fn content_that_is_not_json_or_has_the_wrong_version_is_refused() {
        assert!(has(&problems("{not json", &ctx()), "not valid JSON"));
        let mut flow = good_flow();
        flow["Version"] = "2020-01-01".into();
        assert!(has(&problems_of(&flow), "Version '2020-01-01'"));
    }

    #[test]
    fn a_missing_start_or_next_action_is_named() {
        let mut flow = good_flow();
        flow["StartAction"] = "nowhere".into();
        action(&mut flow, "greeting")["Transitions"]["NextAction"] = "missing".into();
        let p = problems_of(&flow);
        assert!(has(&p, "StartAction 'nowhere'"), "{p:?}");
        assert!(has(&p, "'greeting': NextAction 'missing'"), "{p:?}");
    }

    #[test]
    fn identifiers_must_be_unique_and_valid() {
        let mut flow = good_flow();
        action(&mut flow, "later")["Identifier"] = "bye".into();
        action(&mut flow, "end")["Identifier"] = "the/end".into();
        let p = problems_of(&flow);
        assert!(has(&p, "'bye' is used by more than one action"), "{p:?}");
        assert!(has(&p, "forbidden character '/'"), "{p:?}");
        let long = "x".repeat(51);
        assert!(identifier_problem(&long).is_some());
        assert!(identifier_problem("toString").is_some());
        assert!(identifier_problem("greeting 1").is_none());
    }

    #[test]
    fn more_than_250_actions_is_refused() {
        let mut flow = good_flow();
        let end = action(&mut flow, "end").clone();
        let actions = flow["Actions"].as_array_mut().unwrap();
        for i in 0..250 {
            let mut a = end.clone();
            a["Identifier"] = format!("end-{i}").into();
            actions.push(a);
        }
        assert!(has(&problems_of(&flow), "at most 250"));
    }

    #[test]
    fn every_non_terminal_action_needs_its_error_branches() {
        let mut flow = good_flow();
        action(&mut flow, "to-queue")["Transitions"]["Errors"] =
            serde_json::json!([{"ErrorType":"NoMatchingError","NextAction":"later"}]);
        action(&mut flow, "greeting")["Transitions"]
            .as_object_mut()
            .unwrap()
            .remove("Errors");
        let p = problems_of(&flow);
        assert!(
            has(
                &p,
                "'to-queue' (TransferContactToQueue) has no branch for the error 'QueueAtCapacity'"
            ),
            "{p:?}"
        );
        assert!(
            has(
                &p,
                "'greeting' (MessageParticipant) has no branch for the error 'NoMatchingError'"
            ),
            "{p:?}"
        );
    }

    #[test]
    fn unknown_types_errors_and_terminal_transitions_are_refused() {
        let mut flow = good_flow();
        action(&mut flow, "bye")["Type"] = "PlayJingle".into();
        action(&mut flow, "end")["Transitions"] = serde_json::json!({"NextAction":"greeting"});
        action(&mut flow, "greeting")["Transitions"]["Errors"] = serde_json::json!([{"ErrorType":"NoMatchingError","NextAction":"bot"},{"ErrorType":"QueueAtCapacity","NextAction":"bot"}]);
        let p = problems_of(&flow);
        assert!(has(&p, "unknown Type 'PlayJingle'"), "{p:?}");
        assert!(
            has(&p, "'end' (DisconnectParticipant) ends the flow"),
            "{p:?}"
        );
        assert!(has(&p, "has no error 'QueueAtCapacity'"), "{p:?}");
    }

    #[test]
    fn required_parameters_and_references_are_checked() {
        let mut flow = good_flow();
        action(&mut flow, "set-queue")["Parameters"]["QueueId"] =
            "arn:aws:connect:us-east-1:123456789012:instance/i-1/queue/other".into();
        action(&mut flow, "bot")["Parameters"]["LexV2Bot"]["AliasArn"] = "not-an-arn".into();
        action(&mut flow, "greeting")["Parameters"] = serde_json::json!({});
        action(&mut flow, "bot")["Transitions"]["Conditions"][0]["Condition"]["Operator"] =
            "TextContains".into();
        let p = problems_of(&flow);
        assert!(has(&p, "is not a queue of this instance"), "{p:?}");
        assert!(
            has(&p, "'not-an-arn' is not a Lex V2 bot alias ARN"),
            "{p:?}"
        );
        assert!(has(&p, "needs exactly one of Text"), "{p:?}");
        assert!(has(&p, "must use the operator Equals"), "{p:?}");
        assert_eq!(p.len(), 4, "{p:?}");
    }

    #[test]
    fn queue_ids_and_jsonpaths_are_accepted() {
        let mut flow = good_flow();
        action(&mut flow, "set-queue")["Parameters"]["QueueId"] = "q-1".into();
        assert!(problems_of(&flow).is_empty());
        action(&mut flow, "set-queue")["Parameters"]["QueueId"] = "$.Attributes.Queue".into();
        assert!(problems_of(&flow).is_empty());
    }

    #[test]
    fn alias_arns_must_be_well_formed_and_in_the_region() {
        assert_eq!(lex_alias_problem(ALIAS, "us-east-1"), None);
        assert!(lex_alias_problem(ALIAS, "eu-west-2")
            .unwrap()
            .contains("not in the instance's region"));
        assert!(lex_alias_problem(
            "arn:aws:lex:us-east-1:123456789012:bot/BOTID01234",
            "us-east-1"
        )
        .is_some());
    }

    #[test]
    fn problems_are_capped_at_50_and_256_characters() {
        let mut flow = good_flow();
        let actions = flow["Actions"].as_array_mut().unwrap();
        for i in 0..60 {
            actions.push(
                serde_json::json!({"Identifier": format!("{}{i}", "y".repeat(40)), "Type": "Nope"}),
            );
        }
        let p = problems_of(&flow);
        assert_eq!(p.len(), 50);
        let long = format!("{{\"Version\": \"{}\"}}", "v".repeat(400));
        assert!(problems(&long, &ctx()).iter().all(|m| m.len() <= 256));
    }
}
