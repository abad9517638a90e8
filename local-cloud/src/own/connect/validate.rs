//! The flow-language check a PUBLISHED contact flow goes through, held to AWS's flow-language
//! reference and to flows others have published (the corpus in `shared/real-world`, which the
//! tests load): the content parses; `Version` is 2019-10-30; `StartAction` names an action;
//! identifiers are unique, at most 50 characters and free of `% : ( \ / ) = $ , ; [ ] { }` (free
//! text with spaces and punctuation such as `"Set the target queue"` is fine); at most 250
//! actions; every `Type` is a documented action; a terminal action (DisconnectParticipant,
//! EndFlowExecution, EndFlowModuleExecution) has empty `Transitions`; every NextAction names an
//! action; every error branch is one its action can take (branches are never demanded: 32 of the
//! 94 published MessageParticipant blocks have none); conditions only where the action branches,
//! with one string operand and an operator the action supports (Lex: `Equals` on the intent); the
//! documented parameters of the actions resetpw's flows use; and references checked against the
//! instance: queues and flows it must hold, Lambda function and Lex V2 alias ARNs well formed and
//! in its region. A value that is a JSONPath (`$.External.x`) is resolved when the contact runs,
//! not here. What is not known to be checked by Connect (a Lambda not added to the instance, a
//! bot alias not associated) is left to the run, where it takes the action's error branch.
//!
//! The answer is the list of problems Connect puts in an InvalidContactFlowException
//! (`{"problems": [{"message"}]}`, at most 50, each at most 256 characters).

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
/// The operators of Compare (and of the other actions that branch on a value).
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
const NO_MATCH: &str = "NoMatchingError";
const NO_CONDITION: &str = "NoMatchingCondition";

/// What the check needs to know about the instance the flow belongs to.
pub struct Context<'a> {
    pub region: &'a str,
    /// True when the queue id or ARN names a queue of the instance.
    pub queue_exists: &'a dyn Fn(&str) -> bool,
    /// True when the flow id or ARN names a flow of the instance.
    pub flow_exists: &'a dyn Fn(&str) -> bool,
}

/// How the conditions of an action may look.
#[derive(Clone, Copy, PartialEq)]
enum Branching {
    /// No Conditions (an empty list is accepted: exports write `"Conditions": []`).
    None,
    /// Conditions with `Equals` only (the Lex intent, a loop's state, a menu digit).
    Equals,
    /// Conditions with any of [`OPERATORS`].
    Any,
}

/// How one action type may look.
struct Spec {
    /// The error branches it may have (none is demanded).
    errors: &'static [&'static str],
    branching: Branching,
    /// Ends the flow: `Transitions` must be `{}`.
    terminal: bool,
}

const fn spec(errors: &'static [&'static str], branching: Branching) -> Spec {
    Spec {
        errors,
        branching,
        terminal: false,
    }
}

const ONLY_NO_MATCH: &[&str] = &[NO_MATCH];
const TERMINAL: Spec = Spec {
    errors: &[],
    branching: Branching::None,
    terminal: true,
};

/// The documented actions (flow-language reference: participant, contact and flow-control
/// actions) with the error branches each can take; the ones seen in published flows carry the
/// branches seen there.
fn spec_of(action_type: &str) -> Option<Spec> {
    use Branching::{Any, Equals, None};
    Some(match action_type {
        "DisconnectParticipant" | "EndFlowExecution" | "EndFlowModuleExecution" => TERMINAL,
        "MessageParticipant"
        | "UpdateContactAttributes"
        | "UpdateContactTargetQueue"
        | "UpdateContactTextToSpeechVoice"
        | "UpdateContactEventHooks"
        | "UpdateContactData"
        | "UpdateContactRoutingCriteria"
        | "UpdateFlowAttributes"
        | "InvokeLambdaFunction"
        | "InvokeFlowModule"
        | "TransferToFlow"
        | "TransferParticipantToThirdParty"
        | "TagContact"
        | "UnTagContact"
        | "StartMediaStreaming"
        | "StopMediaStreaming"
        | "StartVoiceIdStream"
        | "CreateWisdomSession"
        | "CreateCallbackContact"
        | "CreateCustomerProfile"
        | "UpdateCustomerProfile"
        | "AssociateContactToCustomerProfile"
        | "CreateTask"
        | "GetMetricData"
        | "UpdateContactMediaProcessing"
        | "UpdateContactRecordingAndAnalyticsBehavior"
        | "UpdatePreviousContactParticipantState"
        | "ShowView" => spec(ONLY_NO_MATCH, None),
        "UpdateFlowLoggingBehavior"
        | "UpdateContactRecordingBehavior"
        | "UpdateContactRoutingBehavior" => spec(&[], None),
        "Compare" => spec(&[NO_CONDITION], Any),
        "ConnectParticipantWithLexBot" => spec(
            // InputTimeLimitExceeded: seen once (a hand-written flow) and listed by some
            // references; accepted, never generated.
            &[NO_MATCH, NO_CONDITION, "InputTimeLimitExceeded"],
            Equals,
        ),
        "GetParticipantInput" => spec(
            &[
                NO_MATCH,
                NO_CONDITION,
                "InputTimeLimitExceeded",
                "InvalidPhoneNumber",
            ],
            Equals,
        ),
        "TransferContactToQueue" => spec(&["QueueAtCapacity", NO_MATCH], None),
        "TransferContactToAgent" => spec(&["AgentBusy", NO_MATCH], None),
        "Loop" => spec(&[], Equals),
        "Wait" => spec(&[NO_MATCH, "WaitCompleted", "ParticipantReturned"], Equals),
        "DistributeByPercentage" => spec(&[NO_CONDITION], Any),
        "CheckHoursOfOperation" => spec(ONLY_NO_MATCH, Equals),
        "CheckMetricData" => spec(&[NO_MATCH, NO_CONDITION], Any),
        "CheckOutboundCallStatus" | "CheckVoiceId" => spec(&[NO_MATCH, NO_CONDITION], Equals),
        "MessageParticipantIteratively" => spec(ONLY_NO_MATCH, Equals),
        "UpdateContactCallbackNumber" => spec(
            &["InvalidCallbackNumber", "CallbackNumberNotDialable"],
            None,
        ),
        "GetCustomerProfile" => spec(&[NO_MATCH, "MultipleFoundError", "NoneFoundError"], None),
        "CreateCase" | "UpdateCase" => spec(&[NO_MATCH, "ContactNotLinked"], None),
        "GetCase" => spec(&[NO_MATCH, "MultipleFoundError", "NoneFoundError"], None),
        _ => return Option::None,
    })
}

/// True when `action_type` is a documented action of the flow language.
pub fn is_known_type(action_type: &str) -> bool {
    spec_of(action_type).is_some()
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

fn list<'a>(transitions: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    transitions
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
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
    if let Some(next) = transitions.get("NextAction") {
        target_ok(Some(next), "NextAction", out);
    }
    let mut seen = HashSet::new();
    for error in list(transitions, "Errors") {
        let Some(error_type) = error.get("ErrorType").and_then(Value::as_str) else {
            out.push(format!("Action {name}: an error branch has no ErrorType"));
            continue;
        };
        if !spec.errors.contains(&error_type) {
            let allowed = if spec.errors.is_empty() {
                "it has no error branches".to_string()
            } else {
                format!("its errors: {}", spec.errors.join(", "))
            };
            out.push(format!(
                "Action {name} ({action_type}) has no error '{error_type}' ({allowed})"
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
    let conditions = list(transitions, "Conditions");
    if !conditions.is_empty() && spec.branching == Branching::None {
        out.push(format!(
            "Action {name} ({action_type}) cannot have Conditions"
        ));
        return;
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
            Some(op) if spec.branching == Branching::Equals && op != "Equals" => {
                let what = if action_type == "ConnectParticipantWithLexBot" {
                    "a Lex intent condition"
                } else {
                    "its conditions"
                };
                out.push(format!(
                    "Action {name} ({action_type}): {what} must use the operator Equals, not '{op}'"
                ))
            }
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

/// True for a value Connect resolves when the contact runs: a JSONPath.
pub fn is_dynamic(value: &str) -> bool {
    value.starts_with("$.")
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
            let v2 = params.get("LexV2Bot");
            let v1 = params.get("LexBot");
            match (
                v2.and_then(|b| b.get("AliasArn")).and_then(Value::as_str),
                v1,
            ) {
                (Some(arn), _) if is_dynamic(arn) => {}
                (Some(arn), _) => {
                    if let Some(problem) = lex_alias_problem(arn, ctx.region) {
                        out.push(format!("Action {name}: LexV2Bot.AliasArn {problem}"));
                    }
                }
                // The classic (V1) form still ships in published flows: {Name, Region, Alias}.
                (None, Some(Value::Object(bot)))
                    if ["Name", "Region", "Alias"]
                        .iter()
                        .all(|k| bot.get(*k).is_some_and(Value::is_string)) => {}
                (None, Some(_)) => out.push(format!(
                    "Action {name}: LexBot needs Name, Region and Alias (or use LexV2Bot.AliasArn)"
                )),
                (None, None) => out.push(format!("Action {name}: LexV2Bot.AliasArn is required")),
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
        }
        "UpdateContactTargetQueue" => match (text("QueueId"), text("AgentId")) {
            (Some(q), _) if is_dynamic(q) || (ctx.queue_exists)(q) => {}
            (Some(q), _) => out.push(format!(
                "Action {name}: QueueId '{q}' is not a queue of this instance"
            )),
            (None, Some(_)) => {}
            (None, None) => out.push(format!("Action {name}: QueueId is required")),
        },
        "Compare" => match text("ComparisonValue") {
            Some(v) if is_dynamic(v) => {}
            Some(v) => out.push(format!(
                "Action {name}: ComparisonValue '{v}' must be a JSONPath such as $.Attributes.X"
            )),
            None => out.push(format!("Action {name}: ComparisonValue is required")),
        },
        "UpdateContactAttributes" | "UpdateFlowAttributes" => {
            let key = if action_type == "UpdateContactAttributes" {
                "Attributes"
            } else {
                "FlowAttributes"
            };
            if !params.get(key).is_some_and(Value::is_object) {
                out.push(format!("Action {name}: {key} is required (an object)"))
            }
        }
        "InvokeLambdaFunction" => {
            match text("LambdaFunctionARN") {
                Some(arn) if is_dynamic(arn) => {}
                Some(arn) => {
                    if let Some(problem) = lambda_arn_problem(arn, ctx.region) {
                        out.push(format!("Action {name}: LambdaFunctionARN {problem}"));
                    }
                }
                None => out.push(format!(
                    "Action {name}: LambdaFunctionARN is required (a Lambda function ARN)"
                )),
            }
            if let Some(limit) = text("InvocationTimeLimitSeconds") {
                if !is_dynamic(limit) && !limit.parse::<u32>().is_ok_and(|s| (1..=8).contains(&s)) {
                    out.push(format!(
                        "Action {name}: InvocationTimeLimitSeconds '{limit}' must be 1 to 8"
                    ));
                }
            }
            if let Some(kind) = params
                .get("ResponseValidation")
                .and_then(|r| r.get("ResponseType"))
                .and_then(Value::as_str)
            {
                if !matches!(kind, "STRING_MAP" | "JSON") {
                    out.push(format!(
                        "Action {name}: ResponseValidation.ResponseType '{kind}' is not STRING_MAP or JSON"
                    ));
                }
            }
            if let Some(kind) = text("InvocationType") {
                if !matches!(kind, "SYNCHRONOUS" | "ASYNCHRONOUS") {
                    out.push(format!(
                        "Action {name}: InvocationType '{kind}' is not SYNCHRONOUS or ASYNCHRONOUS"
                    ));
                }
            }
        }
        "TransferToFlow" => match text("ContactFlowId") {
            Some(f) if is_dynamic(f) || (ctx.flow_exists)(f) => {}
            Some(f) => out.push(format!(
                "Action {name}: ContactFlowId '{f}' is not a flow of this instance"
            )),
            None => out.push(format!("Action {name}: ContactFlowId is required")),
        },
        "UpdateContactEventHooks" => match params.get("EventHooks") {
            Some(Value::Object(hooks)) => {
                for (hook, flow) in hooks {
                    match flow.as_str() {
                        Some(f) if is_dynamic(f) || (ctx.flow_exists)(f) => {}
                        Some(f) => out.push(format!(
                            "Action {name}: EventHooks.{hook} '{f}' is not a flow of this instance"
                        )),
                        None => out.push(format!(
                            "Action {name}: EventHooks.{hook} must be a flow id or ARN"
                        )),
                    }
                }
            }
            _ => out.push(format!("Action {name}: EventHooks is required (an object)")),
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
        "Loop" if !params.get("LoopCount").is_some_and(Value::is_string) => {
            out.push(format!("Action {name}: LoopCount is required (a string)"))
        }
        _ => {}
    }
}

/// The parts of an ARN: partition, service, region, account, resource.
fn arn_parts(arn: &str) -> Option<[&str; 5]> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn" && parts[1].starts_with("aws"))
        .then(|| [parts[1], parts[2], parts[3], parts[4], parts[5]])
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// Why a Lex V2 alias ARN is not usable from an instance in `region`, if it is not.
pub fn lex_alias_problem(arn: &str, region: &str) -> Option<String> {
    let well_formed = arn_parts(arn).is_some_and(|[_, service, _, account, resource]| {
        service == "lex"
            && is_account(account)
            && resource.strip_prefix("bot-alias/").is_some_and(|rest| {
                let ids: Vec<&str> = rest.split('/').collect();
                ids.len() == 2
                    && ids
                        .iter()
                        .all(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
            })
    });
    if !well_formed {
        return Some(format!(
            "'{arn}' is not a Lex V2 bot alias ARN (arn:aws:lex:REGION:ACCOUNT:bot-alias/BOTID/ALIASID)"
        ));
    }
    let arn_region = arn_parts(arn).map_or("", |p| p[2]);
    (arn_region != region)
        .then(|| format!("'{arn}' is in {arn_region}, not in the instance's region {region}"))
}

/// Why a Lambda function ARN is not usable from an instance in `region`, if it is not.
pub fn lambda_arn_problem(arn: &str, region: &str) -> Option<String> {
    let well_formed = arn_parts(arn).is_some_and(|[_, service, _, account, resource]| {
        let mut parts = resource.split(':');
        service == "lambda"
            && is_account(account)
            && parts.next() == Some("function")
            && parts.next().is_some_and(|n| {
                !n.is_empty()
                    && n.len() <= 64
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
            && parts.count() <= 1
    });
    if !well_formed {
        return Some(format!(
            "'{arn}' is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
        ));
    }
    let arn_region = arn_parts(arn).map_or("", |p| p[2]);
    (arn_region != region)
        .then(|| format!("'{arn}' is in {arn_region}, not in the instance's region {region}"))
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
    fn error_branches_are_not_demanded_but_must_be_the_actions_own() {
        let mut flow = good_flow();
        action(&mut flow, "to-queue")["Transitions"]["Errors"] =
            serde_json::json!([{"ErrorType":"NoMatchingError","NextAction":"later"}]);
        action(&mut flow, "greeting")["Transitions"]
            .as_object_mut()
            .unwrap()
            .remove("Errors");
        assert_eq!(problems_of(&flow), Vec::<String>::new());
        action(&mut flow, "to-queue")["Transitions"]["Errors"] = serde_json::json!(
            [{"ErrorType":"InputTimeLimitExceeded","NextAction":"later"}]
        );
        let p = problems_of(&flow);
        assert!(
            has(&p, "'to-queue' (TransferContactToQueue) has no error 'InputTimeLimitExceeded' (its errors: QueueAtCapacity, NoMatchingError)"),
            "{p:?}"
        );
    }

    #[test]
    fn published_habits_are_accepted() {
        let mut flow = good_flow();
        // Free-text identifiers, an empty Conditions list, NoMatchingError on a voice change,
        // the classic Lex form, an InvokeLambdaFunction with a dynamic ARN.
        action(&mut flow, "later")["Identifier"] = "Error messaging.".into();
        for a in flow["Actions"].as_array_mut().unwrap() {
            let t = &mut a["Transitions"];
            if t.get("NextAction").is_some_and(|n| n == "later") {
                t["NextAction"] = "Error messaging.".into();
            }
            let errors = t.get_mut("Errors").and_then(Value::as_array_mut);
            for e in errors.into_iter().flatten() {
                if e["NextAction"] == "later" {
                    e["NextAction"] = "Error messaging.".into();
                }
            }
        }
        action(&mut flow, "greeting")["Transitions"]["Conditions"] = serde_json::json!([]);
        flow["Actions"].as_array_mut().unwrap().push(serde_json::json!(
            {"Identifier":"voice","Type":"UpdateContactTextToSpeechVoice","Parameters":{"TextToSpeechVoice":"Joanna"},
             "Transitions":{"NextAction":"end","Errors":[{"ErrorType":"NoMatchingError","NextAction":"end"}]}}));
        flow["Actions"].as_array_mut().unwrap().push(serde_json::json!(
            {"Identifier":"v1","Type":"ConnectParticipantWithLexBot","Parameters":{"Text":"Hi","LexBot":{"Name":"B","Region":"us-west-2","Alias":"latest"}},
             "Transitions":{"NextAction":"end","Errors":[{"ErrorType":"NoMatchingCondition","NextAction":"end"},{"ErrorType":"NoMatchingError","NextAction":"end"}]}}));
        flow["Actions"].as_array_mut().unwrap().push(serde_json::json!(
            {"Identifier":"fn","Type":"InvokeLambdaFunction","Parameters":{"LambdaFunctionARN":"$.External.fn","InvocationTimeLimitSeconds":"8"},
             "Transitions":{"NextAction":"end","Errors":[{"ErrorType":"NoMatchingError","NextAction":"end"}]}}));
        assert_eq!(problems_of(&flow), Vec::<String>::new());
    }

    #[test]
    fn lambda_arns_must_be_well_formed_and_in_the_region() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:demo-fulfillment";
        assert_eq!(lambda_arn_problem(arn, "us-east-1"), None);
        assert_eq!(
            lambda_arn_problem(&format!("{arn}:live"), "us-east-1"),
            None
        );
        assert!(lambda_arn_problem(arn, "eu-west-1").is_some());
        assert!(lambda_arn_problem("<<ARNREPLACE>>", "us-east-1").is_some());
        assert!(lambda_arn_problem("{{lambdaFunctions.x.arn}}", "us-east-1").is_some());
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
