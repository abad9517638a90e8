//! Amazon Connect: the instance (created, or an existing one named by `instance_id`), the bot
//! association, the password-reset contact flow, the claimed phone number and the flow it rings
//! (`number_flow.rs`). This file holds what they share: where the instance is, the flow
//! generator and its local checker, tags.

pub mod association;
pub mod flow;
pub mod instance;
pub mod number_flow;
pub mod phone_number;

use crate::aws::{ApiError, Cx};
use crate::engine::ResourceError;
use crate::resources::{api, tolerate};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// What Connect answers for something that is not there.
pub const GONE: &[&str] = &["ResourceNotFoundException"];
/// The intent the bot fulfils (the bot section's `ResetPW`).
pub const INTENT: &str = "ResetPW";
/// The bot's unlock-only intent.
pub const UNLOCK_INTENT: &str = "UnlockAccount";
/// Contact attributes the hand-off to an agent carries, each from the Lex session attribute of
/// the same name the fulfillment Lambda writes: what was verified (`none` | `knowledge` |
/// `code`) and the outcome's generic class. Agents read them instead of asking knowledge
/// questions again.
pub const HANDOFF_ATTRIBUTES: [&str; 2] = ["resetpw_verified", "resetpw_outcome"];
/// The session attribute the fulfillment Lambda sets to `fulfilled` after a reset.
pub const OUTCOME_ATTRIBUTE: &str = "$.Lex.SessionAttributes.ResetOutcome";
/// Connect's limit on actions in one flow.
pub const MAX_ACTIONS: usize = 250;

/// Where the stack's instance is.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Created and owned by the stack, found by this alias.
    Owned(String),
    /// An existing instance named by `instance_id`: never created, changed or deleted.
    Existing(String),
    /// `down` without knowing the stack file: any instance holding the stack's resources.
    Any,
}

impl Placement {
    pub fn of(connect: Option<&crate::stack::Connect>) -> Placement {
        match connect {
            Some(c) => match (&c.instance_id, &c.instance_alias) {
                (Some(id), _) => Placement::Existing(id.clone()),
                (None, Some(alias)) => Placement::Owned(alias.clone()),
                (None, None) => Placement::Any,
            },
            None => Placement::Any,
        }
    }
}

/// An instance as resetpw sees it.
#[derive(Debug, Clone)]
pub struct FoundInstance {
    pub id: String,
    pub arn: String,
    pub alias: String,
    pub status: String,
}

/// The account's instances as this run listed them, shared by the Connect kinds' lookups: a
/// plan lists them once, not once per kind (Connect throttles ListInstances to a few calls a
/// second). The instance's own create and delete, and the plan's wait for an instance still
/// creating, forget the listing, so a lookup after them asks Connect again; a failed listing
/// is not remembered.
#[derive(Default)]
pub struct InstanceListing(std::sync::Mutex<Arc<OnceCell<Vec<FoundInstance>>>>);

impl InstanceListing {
    fn current(&self) -> Arc<OnceCell<Vec<FoundInstance>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Drops the listing: the next lookup lists the instances again.
    pub fn forget(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Arc::default();
    }
}

/// Every instance of the account (at most a few: the default quota is 2), listed once per run
/// (see [`InstanceListing`]).
pub async fn instances(cx: &Cx) -> Result<Vec<FoundInstance>, ApiError> {
    let listing = cx.instance_listing.current();
    listing
        .get_or_try_init(|| list_instances(cx))
        .await
        .cloned()
}

/// ListInstances, every page.
async fn list_instances(cx: &Cx) -> Result<Vec<FoundInstance>, ApiError> {
    let mut out = Vec::new();
    let mut pages = cx.connect.list_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        for i in page?.instance_summary_list() {
            out.push(FoundInstance {
                id: i.id().unwrap_or_default().into(),
                arn: i.arn().unwrap_or_default().into(),
                alias: i.instance_alias().unwrap_or_default().into(),
                status: i.instance_status().map_or("", |s| s.as_str()).into(),
            });
        }
    }
    Ok(out)
}

/// One instance by id; `None` when it does not exist.
pub async fn describe_instance(cx: &Cx, id: &str) -> Result<Option<FoundInstance>, ApiError> {
    let found = tolerate(
        cx.connect.describe_instance().instance_id(id).send().await,
        GONE,
    )?;
    Ok(found.and_then(|o| {
        o.instance().map(|i| FoundInstance {
            id: i.id().unwrap_or_default().into(),
            arn: i.arn().unwrap_or_default().into(),
            alias: i.instance_alias().unwrap_or_default().into(),
            status: i.instance_status().map_or("", |s| s.as_str()).into(),
        })
    }))
}

/// The instances the stack's flow, number and association can be in: the existing one, the
/// owned one (by alias), or for `down` every ACTIVE instance.
pub async fn candidate_instances(
    cx: &Cx,
    placement: &Placement,
) -> Result<Vec<FoundInstance>, ResourceError> {
    let found = match placement {
        Placement::Existing(id) => describe_instance(cx, id)
            .await
            .map_err(api("read", "connect-instance", id))?
            .into_iter()
            .collect(),
        Placement::Owned(alias) => instances(cx)
            .await
            .map_err(api("list", "connect-instance", alias))?
            .into_iter()
            .filter(|i| &i.alias == alias)
            .collect(),
        Placement::Any => instances(cx)
            .await
            .map_err(api("list", "connect-instance", "(all)"))?,
    };
    Ok(found.into_iter().filter(|i| i.status == "ACTIVE").collect())
}

/// The instance the stack deploys into, when it exists and is ACTIVE.
pub async fn target_instance(
    cx: &Cx,
    placement: &Placement,
) -> Result<Option<FoundInstance>, ResourceError> {
    if let Placement::Existing(id) = placement {
        let found = describe_instance(cx, id)
            .await
            .map_err(api("read", "connect-instance", id))?;
        return match found {
            Some(i) if i.status == "ACTIVE" => Ok(Some(i)),
            Some(i) => Err(ResourceError::Stack {
                path: vec!["connect".into(), "instance_id".into()],
                message: format!("instance `{id}` is {}, not ACTIVE", i.status),
            }),
            None => Err(ResourceError::Stack {
                path: vec!["connect".into(), "instance_id".into()],
                message: format!("no Amazon Connect instance `{id}` in {}: check the id (the last part of the instance ARN)", cx.region),
            }),
        };
    }
    Ok(candidate_instances(cx, placement).await?.into_iter().next())
}

/// The stack's own instance as its outputs give it (it is ACTIVE once created or found),
/// sparing the lookup; `None` for an existing instance or when the outputs are not known.
pub fn instance_from(
    placement: &Placement,
    inputs: &crate::engine::Outputs,
) -> Option<FoundInstance> {
    let Placement::Owned(alias) = placement else {
        return None;
    };
    let output = |name: &str| inputs.get(&format!("{}.{name}", instance::ID)).cloned();
    Some(FoundInstance {
        id: output("id")?,
        arn: output("arn")?,
        alias: alias.clone(),
        status: "ACTIVE".into(),
    })
}

/// Tags of a Connect ARN.
pub async fn tags_of(cx: &Cx, arn: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let out = tolerate(
        cx.connect
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await,
        GONE,
    )?;
    Ok(out
        .and_then(|o| o.tags().cloned())
        .map(|t| t.into_iter().collect())
        .unwrap_or_default())
}

pub fn tag_map(tags: BTreeMap<String, String>) -> HashMap<String, String> {
    tags.into_iter().collect()
}

/// Sets and removes tags on a Connect ARN to go from `live` to `desired`.
pub async fn retag(
    cx: &Cx,
    arn: &str,
    desired: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let (set, remove) = crate::resources::tag_delta(desired, live);
    if !set.is_empty() {
        cx.connect
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tag_map(set)))
            .send()
            .await?;
    }
    if !remove.is_empty() {
        cx.connect
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await?;
    }
    Ok(())
}

/// What the flow says after a reset (how `resetpw call` knows a contact ended fulfilled).
pub const GOODBYE: &str = "Your new password is on its way to the phone number on record. Goodbye.";
/// What the flow says after an unlock (a fulfilled contact too).
pub const UNLOCKED_GOODBYE: &str = "Your account is unlocked. Goodbye.";
/// What the flow says when no agent can take the contact.
pub const CALL_BACK_LATER: &str =
    "Sorry, no one can take your call right now. Please call back later.";

/// What the flow says and where it sends callers.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowInputs {
    pub greeting: String,
    pub alias_arn: String,
    pub queue_arn: String,
}

fn message(id: &str, text: &str, next: &str) -> Value {
    json!({"Identifier": id, "Type": "MessageParticipant", "Parameters": {"Text": text},
           "Transitions": {"NextAction": next,
                           "Errors": [{"ErrorType": "NoMatchingError", "NextAction": next}]}})
}

/// The password-reset flow: greeting → the bot (with the caller's number and the contact id as
/// session attributes) → on ResetPW, `fulfilled` → goodbye; on UnlockAccount, `fulfilled` →
/// its own goodbye; anything else (another intent, an error, another outcome) → the hand-off
/// attributes (what was verified, the outcome class) → the agent queue → at capacity or on
/// error, "call back later". Every path ends in a disconnect. Laid out as the console exports
/// flows: each block's NextAction is its NoMatchingError (Compare: NoMatchingCondition)
/// target, and only the error branches AWS documents for each action (the Lex block:
/// NoMatchingCondition and NoMatchingError).
pub fn flow_content(f: &FlowInputs) -> Value {
    let handoff: serde_json::Map<String, Value> = HANDOFF_ATTRIBUTES
        .iter()
        .map(|a| (a.to_string(), json!(format!("$.Lex.SessionAttributes.{a}"))))
        .collect();
    let outcome_check = |id: &str, fulfilled: &str| {
        json!({"Identifier": id, "Type": "Compare",
               "Parameters": {"ComparisonValue": OUTCOME_ATTRIBUTE},
               "Transitions": {"NextAction": "set-handoff-attributes",
                   "Conditions": [{"NextAction": fulfilled,
                                   "Condition": {"Operator": "Equals", "Operands": ["fulfilled"]}}],
                   "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "set-handoff-attributes"}]}})
    };
    json!({
        "Version": "2019-10-30",
        "StartAction": "greeting",
        "Metadata": {},
        "Actions": [
            message("greeting", &f.greeting, "reset-bot"),
            {"Identifier": "reset-bot", "Type": "ConnectParticipantWithLexBot",
             "Parameters": {"Text": "How can I help you today?",
                            "LexV2Bot": {"AliasArn": f.alias_arn},
                            "LexSessionAttributes": {"CallerNumber": "$.CustomerEndpoint.Address",
                                                     "ContactId": "$.ContactId"}},
             "Transitions": {"NextAction": "set-handoff-attributes",
                 "Conditions": [{"NextAction": "check-outcome",
                                 "Condition": {"Operator": "Equals", "Operands": [INTENT]}},
                                {"NextAction": "check-unlock-outcome",
                                 "Condition": {"Operator": "Equals", "Operands": [UNLOCK_INTENT]}}],
                 "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "set-handoff-attributes"},
                            {"ErrorType": "NoMatchingError", "NextAction": "set-handoff-attributes"}]}},
            outcome_check("check-outcome", "goodbye"),
            message("goodbye", GOODBYE, "disconnect"),
            {"Identifier": "set-queue", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": f.queue_arn},
             "Transitions": {"NextAction": "to-queue",
                 "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "call-back-later"}]}},
            {"Identifier": "to-queue", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "call-back-later",
                 "Errors": [{"ErrorType": "QueueAtCapacity", "NextAction": "call-back-later"},
                            {"ErrorType": "NoMatchingError", "NextAction": "call-back-later"}]}},
            message("call-back-later", CALL_BACK_LATER, "disconnect"),
            {"Identifier": "disconnect", "Type": "DisconnectParticipant", "Parameters": {},
             "Transitions": {}},
            outcome_check("check-unlock-outcome", "unlocked-goodbye"),
            message("unlocked-goodbye", UNLOCKED_GOODBYE, "disconnect"),
            // The hand-off: the agent sees what the line checked. A failure to set them still
            // hands the caller over.
            {"Identifier": "set-handoff-attributes", "Type": "UpdateContactAttributes",
             "Parameters": {"Attributes": handoff, "TargetContact": "Current"},
             "Transitions": {"NextAction": "set-queue",
                 "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "set-queue"}]}}
        ]
    })
}

/// The error branches each action type of the generated flow may have (none is demanded:
/// Connect does not), and whether it may branch on Conditions; `None` for a type resetpw does not
/// generate.
fn branches_of(action_type: &str) -> Option<(&'static [&'static str], bool)> {
    Some(match action_type {
        "MessageParticipant" | "UpdateContactTargetQueue" | "UpdateContactAttributes" => {
            (&["NoMatchingError"], false)
        }
        "ConnectParticipantWithLexBot" => (&["NoMatchingError", "NoMatchingCondition"], true),
        "Compare" => (&["NoMatchingCondition"], true),
        "TransferContactToQueue" => (&["QueueAtCapacity", "NoMatchingError"], false),
        "UpdateFlowLoggingBehavior" => (&[], false),
        "DisconnectParticipant" => (&[], false),
        _ => return None,
    })
}

/// Characters Connect does not allow in an action identifier.
const FORBIDDEN_ID_CHARS: &[char] = &[
    '%', ':', '(', '\\', '/', ')', '=', '$', ',', ';', '[', ']', '{', '}',
];

/// Checks a flow before any call, by the rules Connect applies to published flows: identifiers
/// unique, 1-50 characters, none of `% : ( \ / ) = $ , ; [ ] { }`; StartAction and every
/// NextAction name actions; types resetpw generates, each error branch one its action can take;
/// a disconnect with empty Transitions; at most 250 actions. Returns the problems, empty when it
/// is fine.
pub fn check_flow(flow: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let actions = flow["Actions"].as_array().cloned().unwrap_or_default();
    if actions.is_empty() {
        problems.push("the flow has no actions".to_string());
    }
    if actions.len() > MAX_ACTIONS {
        problems.push(format!(
            "the flow has {} actions; Connect allows {MAX_ACTIONS}",
            actions.len()
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for a in &actions {
        let id = a["Identifier"].as_str().unwrap_or_default();
        let valid = !id.is_empty() && id.chars().count() <= 50 && !id.contains(FORBIDDEN_ID_CHARS);
        if !valid {
            problems.push(format!(
                "action identifier `{id}` is not valid (1-50 characters, none of % : ( \\ / ) = $ , ; [ ] {{ }})"
            ));
        }
        if !ids.insert(id.to_string()) {
            problems.push(format!("action identifier `{id}` is used twice"));
        }
    }
    let exists = |target: &Value| target.as_str().is_some_and(|t| ids.contains(t));
    if !exists(&flow["StartAction"]) {
        problems.push(format!(
            "StartAction `{}` is not an action of the flow",
            flow["StartAction"].as_str().unwrap_or_default()
        ));
    }
    for a in &actions {
        let id = a["Identifier"].as_str().unwrap_or_default();
        let kind = a["Type"].as_str().unwrap_or_default();
        let t = &a["Transitions"];
        let Some((allowed, branches)) = branches_of(kind) else {
            problems.push(format!("action `{id}` has an unknown type `{kind}`"));
            continue;
        };
        if kind == "DisconnectParticipant" {
            if t.as_object().is_some_and(|o| !o.is_empty()) {
                problems.push(format!(
                    "action `{id}` ends the flow: its Transitions must be empty"
                ));
            }
            continue;
        }
        let conditions = t["Conditions"].as_array().cloned().unwrap_or_default();
        if !branches && !conditions.is_empty() {
            problems.push(format!("action `{id}` ({kind}) cannot have Conditions"));
        }
        let mut targets: Vec<&Value> = vec![&t["NextAction"]];
        for c in t["Conditions"].as_array().into_iter().flatten() {
            targets.push(&c["NextAction"]);
        }
        for e in t["Errors"].as_array().into_iter().flatten() {
            targets.push(&e["NextAction"]);
            let error = e["ErrorType"].as_str().unwrap_or_default();
            if !allowed.contains(&error) {
                problems.push(format!(
                    "action `{id}` ({kind}) has no error {error} (its errors: {})",
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ));
            }
        }
        for target in targets {
            if !exists(target) {
                problems.push(format!(
                    "action `{id}` goes to `{}`, which is not an action of the flow",
                    target.as_str().unwrap_or_default()
                ));
            }
        }
    }
    problems
}

/// The actions whose content differs between two flows, by identifier: `(id, old, new)`, with
/// `Value::Null` for an action that is only on one side. Key order and whitespace don't count.
pub fn changed_actions(old: &Value, new: &Value) -> Vec<(String, Value, Value)> {
    let by_id = |flow: &Value| -> BTreeMap<String, Value> {
        flow["Actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["Identifier"].as_str().unwrap_or_default().to_string(),
                    a.clone(),
                )
            })
            .collect()
    };
    let (old_actions, new_actions) = (by_id(old), by_id(new));
    let mut ids: Vec<&String> = old_actions.keys().chain(new_actions.keys()).collect();
    ids.sort();
    ids.dedup();
    let mut out: Vec<(String, Value, Value)> = ids
        .into_iter()
        .filter(|id| old_actions.get(*id) != new_actions.get(*id))
        .map(|id| {
            (
                id.clone(),
                old_actions.get(id).cloned().unwrap_or(Value::Null),
                new_actions.get(id).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    if old["StartAction"] != new["StartAction"] {
        out.push((
            "StartAction".into(),
            old["StartAction"].clone(),
            new["StartAction"].clone(),
        ));
    }
    out
}

/// Did-you-mean: the names closest to `wanted` (by edit distance, at most a third of it).
pub fn closest<'a>(wanted: &str, names: &'a [String]) -> Option<&'a String> {
    let limit = (wanted.chars().count() / 3).max(2);
    names
        .iter()
        .map(|n| {
            (
                strsim::levenshtein(&wanted.to_lowercase(), &n.to_lowercase()),
                n,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> FlowInputs {
        FlowInputs {
            greeting: "Welcome.".into(),
            alias_arn: "arn:aws:lex:us-east-1:123456789012:bot-alias/ABCDEFGHIJ/KLMNOPQRST".into(),
            queue_arn: "arn:aws:connect:us-east-1:123456789012:instance/i-1/queue/q-1".into(),
        }
    }

    #[test]
    fn the_generated_flow_passes_its_checks_and_references_the_alias_and_queue() {
        let flow = flow_content(&inputs());
        assert_eq!(check_flow(&flow), Vec::<String>::new());
        let text = flow.to_string();
        assert!(text.contains("bot-alias/ABCDEFGHIJ/KLMNOPQRST"));
        assert!(text.contains("queue/q-1"));
        assert!(text.contains("$.CustomerEndpoint.Address"));
        assert!(text.contains("Welcome."));
    }

    fn action<'a>(flow: &'a Value, id: &str) -> &'a Value {
        flow["Actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Identifier"] == id)
            .unwrap_or_else(|| panic!("no action {id}"))
    }

    #[test]
    fn a_fulfilled_unlock_gets_its_own_goodbye_and_the_hand_off_carries_what_was_checked() {
        let flow = flow_content(&inputs());
        let bot = action(&flow, "reset-bot");
        let unlock = bot["Transitions"]["Conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Condition"]["Operands"] == json!(["UnlockAccount"]))
            .expect("an UnlockAccount branch");
        assert_eq!(unlock["NextAction"], "check-unlock-outcome");
        let check = action(&flow, "check-unlock-outcome");
        assert_eq!(check["Parameters"]["ComparisonValue"], OUTCOME_ATTRIBUTE);
        assert_eq!(
            check["Transitions"]["Conditions"][0]["NextAction"],
            "unlocked-goodbye"
        );
        let goodbye = action(&flow, "unlocked-goodbye");
        assert_eq!(
            goodbye["Parameters"]["Text"],
            "Your account is unlocked. Goodbye."
        );
        assert_eq!(goodbye["Transitions"]["NextAction"], "disconnect");

        // Every way to the agent queue passes the hand-off attributes first.
        let set = action(&flow, "set-handoff-attributes");
        assert_eq!(set["Type"], "UpdateContactAttributes");
        assert_eq!(
            set["Parameters"]["Attributes"],
            json!({"resetpw_verified": "$.Lex.SessionAttributes.resetpw_verified",
                   "resetpw_outcome": "$.Lex.SessionAttributes.resetpw_outcome"})
        );
        assert_eq!(set["Transitions"]["NextAction"], "set-queue");
        assert_eq!(set["Transitions"]["Errors"][0]["NextAction"], "set-queue");
        for a in flow["Actions"].as_array().unwrap() {
            if a["Identifier"] == "set-handoff-attributes" {
                continue;
            }
            assert!(
                !a["Transitions"].to_string().contains("\"set-queue\""),
                "{} goes to the queue without the hand-off attributes",
                a["Identifier"]
            );
        }
    }

    #[test]
    fn the_checker_names_dangling_targets_missing_branches_and_bad_ids() {
        let mut flow = flow_content(&inputs());
        flow["Actions"][0]["Transitions"]["NextAction"] = json!("nowhere");
        flow["Actions"][4]["Transitions"]["Errors"] =
            json!([{"ErrorType": "InputTimeLimitExceeded", "NextAction": "disconnect"}]);
        flow["Actions"][5]["Identifier"] = json!("bad/id");
        let problems = check_flow(&flow).join("\n");
        assert!(
            problems.contains("`greeting` goes to `nowhere`"),
            "{problems}"
        );
        assert!(
            problems.contains(
                "`set-queue` (UpdateContactTargetQueue) has no error InputTimeLimitExceeded"
            ),
            "{problems}"
        );
        assert!(problems.contains("`bad/id` is not valid"), "{problems}");
        // Branches are not demanded, and free-text identifiers are Connect's own habit.
        let mut flow = flow_content(&inputs());
        flow["Actions"][0]["Transitions"]
            .as_object_mut()
            .unwrap()
            .remove("Errors");
        flow["Actions"][7]["Identifier"] = json!("End the call.");
        for a in flow["Actions"].as_array_mut().unwrap() {
            let t = &mut a["Transitions"];
            if t.get("NextAction").is_some_and(|n| n == "disconnect") {
                t["NextAction"] = json!("End the call.");
            }
            let errors = t.get_mut("Errors").and_then(Value::as_array_mut);
            for e in errors.into_iter().flatten() {
                if e["NextAction"] == "disconnect" {
                    e["NextAction"] = json!("End the call.");
                }
            }
        }
        assert_eq!(check_flow(&flow), Vec::<String>::new());
    }

    #[test]
    fn the_generated_flow_is_laid_out_as_the_console_exports() {
        let flow = flow_content(&inputs());
        // Console exports: a Lex block's NextAction is its NoMatchingError target, a Compare's
        // its NoMatchingCondition target.
        for (kind, default) in [
            ("ConnectParticipantWithLexBot", "NoMatchingError"),
            ("Compare", "NoMatchingCondition"),
        ] {
            let a = flow["Actions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["Type"] == kind)
                .unwrap();
            let t = &a["Transitions"];
            let e = t["Errors"]
                .as_array()
                .and_then(|e| e.iter().find(|e| e["ErrorType"] == default))
                .unwrap_or_else(|| panic!("{kind} has {default}"));
            assert_eq!(t["NextAction"], e["NextAction"], "{kind}");
        }
        let lex = flow["Actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Type"] == "ConnectParticipantWithLexBot")
            .unwrap();
        assert!(!lex.to_string().contains("InputTimeLimitExceeded"));
    }

    #[test]
    fn the_checker_refuses_more_than_250_actions() {
        let mut flow = flow_content(&inputs());
        let extra = flow["Actions"][7].clone();
        let actions = flow["Actions"].as_array_mut().unwrap();
        for i in 0..250 {
            let mut a = extra.clone();
            a["Identifier"] = json!(format!("end-{i}"));
            actions.push(a);
        }
        assert!(check_flow(&flow)
            .iter()
            .any(|p| p.contains("Connect allows 250")));
    }

    #[test]
    fn changed_actions_names_only_what_differs() {
        let old = flow_content(&inputs());
        let new = flow_content(&FlowInputs {
            greeting: "Hello.".into(),
            ..inputs()
        });
        let changed = changed_actions(&old, &new);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].0, "greeting");
        assert!(changed_actions(&old, &old.clone()).is_empty());
    }

    #[test]
    fn the_stacks_own_instance_comes_from_its_outputs_an_existing_one_never_does() {
        let outputs = crate::engine::Outputs::from([
            ("connect-instance.id".to_string(), "i-1".to_string()),
            ("connect-instance.arn".to_string(), "arn:i-1".to_string()),
        ]);
        let owned = Placement::Owned("help".into());
        let found = instance_from(&owned, &outputs).expect("the owned instance");
        assert_eq!((found.id.as_str(), found.arn.as_str()), ("i-1", "arn:i-1"));
        assert_eq!(found.alias, "help");
        assert!(instance_from(&Placement::Existing("i-1".into()), &outputs).is_none());
        assert!(instance_from(&owned, &crate::engine::Outputs::new()).is_none());
    }

    #[test]
    fn closest_suggests_near_names_only() {
        let names = vec!["BasicQueue".to_string(), "Billing".to_string()];
        assert_eq!(closest("BasicQeue", &names), Some(&names[0]));
        assert_eq!(closest("Helpdesk", &names), None);
    }
}
