//! Contact flows: create (PUBLISHED validates the content, SAVED does not), describe, list,
//! update content / name / metadata, delete; and the default flows every instance starts with.

use super::instances::{find_active, Instance};
use super::validate::{self, Context};
use super::{
    epoch_seconds, max_results, page_or_error, tags_json, uuid, ApiError, ApiResult, Call, Ctx,
    Store,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const FLOW_TYPES: &[&str] = &[
    "CONTACT_FLOW",
    "CUSTOMER_QUEUE",
    "CUSTOMER_HOLD",
    "CUSTOMER_WHISPER",
    "AGENT_HOLD",
    "AGENT_WHISPER",
    "OUTBOUND_WHISPER",
    "AGENT_TRANSFER",
    "QUEUE_TRANSFER",
    "CAMPAIGN",
];
const MAX_CONTENT: usize = 256_000;
const SAVED_SUFFIX: &str = ":$SAVED";

/// The flows a new instance has, with their types.
const DEFAULT_FLOWS: &[(&str, &str)] = &[
    ("Default agent hold", "AGENT_HOLD"),
    ("Default agent transfer", "AGENT_TRANSFER"),
    ("Default agent whisper", "AGENT_WHISPER"),
    ("Default customer hold", "CUSTOMER_HOLD"),
    ("Default customer queue", "CUSTOMER_QUEUE"),
    ("Default customer whisper", "CUSTOMER_WHISPER"),
    ("Default outbound", "OUTBOUND_WHISPER"),
    ("Default queue transfer", "QUEUE_TRANSFER"),
    (
        "Sample inbound flow (first contact experience)",
        "CONTACT_FLOW",
    ),
];

pub struct Flow {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub flow_type: String,
    /// ACTIVE or ARCHIVED.
    pub state: String,
    /// PUBLISHED or SAVED.
    pub status: String,
    pub description: Option<String>,
    pub content: String,
    pub tags: BTreeMap<String, String>,
    pub modified: f64,
}

impl Flow {
    fn new(instance_arn: &str, name: &str, flow_type: &str, content: String, now: f64) -> Flow {
        let id = uuid();
        Flow {
            arn: format!("{instance_arn}/contact-flow/{id}"),
            id,
            name: name.into(),
            flow_type: flow_type.into(),
            state: "ACTIVE".into(),
            status: "PUBLISHED".into(),
            description: None,
            content,
            tags: BTreeMap::new(),
            modified: now,
        }
    }

    fn summary(&self) -> Value {
        json!({"Id": self.id, "Arn": self.arn, "Name": self.name, "ContactFlowType": self.flow_type,
               "ContactFlowState": self.state, "ContactFlowStatus": self.status})
    }
}

/// The default flows of a new instance: valid content a caller can describe and reuse.
pub fn defaults(instance_arn: &str, now: f64) -> Vec<Flow> {
    DEFAULT_FLOWS
        .iter()
        .map(|(name, flow_type)| {
            let content = if *flow_type == "CONTACT_FLOW" {
                json!({"Version": validate::FLOW_VERSION, "StartAction": "welcome", "Metadata": {},
                  "Actions": [
                    {"Identifier": "welcome", "Type": "MessageParticipant",
                     "Parameters": {"Text": "Thank you for calling."},
                     "Transitions": {"NextAction": "end",
                                     "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "end"}]}},
                    {"Identifier": "end", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]})
            } else {
                json!({"Version": validate::FLOW_VERSION, "StartAction": "end", "Metadata": {},
                  "Actions": [{"Identifier": "end", "Type": "EndFlowExecution", "Parameters": {}, "Transitions": {}}]})
            };
            Flow::new(instance_arn, name, flow_type, content.to_string(), now)
        })
        .collect()
}

pub fn sha256_hex(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The flow id in an id or a flow ARN, and whether the `:$SAVED` version was asked for.
fn flow_id_of(label: &str) -> (&str, bool) {
    let (label, saved) = match label.strip_suffix(SAVED_SUFFIX) {
        Some(rest) => (rest, true),
        None => (label, false),
    };
    let id = label
        .rsplit_once("/contact-flow/")
        .map_or(label, |(_, id)| id);
    (id, saved)
}

fn find_flow<'a>(instance: &'a mut Instance, label: &str) -> Result<&'a mut Flow, ApiError> {
    let (id, _) = flow_id_of(label);
    instance
        .flows
        .iter_mut()
        .find(|f| f.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("Contact flow {label} not found")))
}

/// The PUBLISHED check: InvalidContactFlowException with the problems when the content fails.
fn check_content(instance: &Instance, region: &str, content: &str) -> Result<(), ApiError> {
    let queue_exists = |q: &str| instance.has_queue(q);
    let flow_exists = |f: &str| {
        let (id, _) = flow_id_of(f);
        instance.flows.iter().any(|x| x.id == id)
    };
    let problems = validate::problems(
        content,
        &Context {
            region,
            queue_exists: &queue_exists,
            flow_exists: &flow_exists,
        },
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidFlow(problems))
    }
}

fn content_of(call: &Call) -> Result<&str, ApiError> {
    let content = call.required_str("Content")?;
    if content.len() > MAX_CONTENT {
        return Err(ApiError::InvalidParameter(format!(
            "Content is {} characters; at most {MAX_CONTENT} are allowed",
            content.len()
        )));
    }
    Ok(content)
}

fn name_problem(instance: &Instance, name: &str, except_id: Option<&str>) -> Option<ApiError> {
    if name.is_empty() || name.chars().count() > 512 {
        return Some(ApiError::InvalidParameter(
            "Name must be 1 to 512 characters".into(),
        ));
    }
    instance
        .flows
        .iter()
        .any(|f| f.name == name && Some(f.id.as_str()) != except_id)
        .then(|| {
            ApiError::Duplicate(format!(
                "A contact flow named '{name}' already exists in instance {}",
                instance.id
            ))
        })
}

pub fn create(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance = find_active(store, ctx, call.label(0))?;
    let name = call.required_str("Name")?;
    let flow_type = call.required_str("Type")?;
    if !FLOW_TYPES.contains(&flow_type) {
        return Err(ApiError::InvalidParameter(format!(
            "Type '{flow_type}' is not one of {}",
            FLOW_TYPES.join(", ")
        )));
    }
    let content = content_of(call)?;
    let status = call.str("Status").unwrap_or("PUBLISHED");
    if !matches!(status, "PUBLISHED" | "SAVED") {
        return Err(ApiError::InvalidParameter(format!(
            "Status '{status}' is not PUBLISHED or SAVED"
        )));
    }
    if let Some(err) = name_problem(instance, name, None) {
        return Err(err);
    }
    if status == "PUBLISHED" {
        check_content(instance, &ctx.region, content)?;
    }
    let mut flow = Flow::new(
        &instance.arn,
        name,
        flow_type,
        content.into(),
        epoch_seconds(),
    );
    flow.status = status.into();
    flow.description = call.str("Description").map(str::to_string);
    flow.tags = call.tags("Tags")?;
    let answer = json!({"ContactFlowId": flow.id, "ContactFlowArn": flow.arn,
                        "FlowContentSha256": sha256_hex(&flow.content)});
    instance.flows.push(flow);
    Ok(answer)
}

pub fn describe(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance = find_active(store, ctx, call.label(0))?;
    let region = instance.region.clone();
    let (_, saved) = flow_id_of(call.label(1));
    let flow = find_flow(instance, call.label(1))?;
    if flow.status == "SAVED" && !saved {
        return Err(ApiError::NotPublished(format!(
            "Contact flow {} is not published; ask for {}{SAVED_SUFFIX}",
            flow.id, flow.id
        )));
    }
    let mut v = json!({
        "Arn": flow.arn, "Id": flow.id, "Name": flow.name, "Type": flow.flow_type,
        "State": flow.state, "Status": flow.status, "Content": flow.content,
        "Tags": tags_json(&flow.tags), "FlowContentSha256": sha256_hex(&flow.content),
        "LastModifiedTime": flow.modified, "LastModifiedRegion": region,
    });
    if let Some(d) = &flow.description {
        v["Description"] = json!(d);
    }
    Ok(json!({ "ContactFlow": v }))
}

pub fn list(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let types = call.query_values("contactFlowTypes");
    if let Some(bad) = types.iter().find(|t| !FLOW_TYPES.contains(t)) {
        return Err(ApiError::InvalidParameter(format!(
            "contactFlowTypes '{bad}' is not a flow type"
        )));
    }
    let max = max_results(
        call.query_value("maxResults").and_then(|v| v.parse().ok()),
        1000,
        100,
    )?;
    let instance = find_active(store, ctx, call.label(0))?;
    let all: Vec<Value> = instance
        .flows
        .iter()
        .filter(|f| types.is_empty() || types.contains(&f.flow_type.as_str()))
        .map(Flow::summary)
        .collect();
    let (items, next) = page_or_error(&all, call.query_value("nextToken"), max)?;
    Ok(json!({"ContactFlowSummaryList": items, "NextToken": next}))
}

/// UpdateContactFlowContent: the flow's id publishes (validated), `id:$SAVED` saves unchecked.
pub fn update_content(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let content = content_of(call)?.to_string();
    let instance = find_active(store, ctx, call.label(0))?;
    let (_, saved) = flow_id_of(call.label(1));
    find_flow(instance, call.label(1))?;
    if !saved {
        check_content(instance, &ctx.region, &content)?;
    }
    let flow = find_flow(instance, call.label(1))?;
    flow.content = content;
    flow.status = if saved { "SAVED" } else { "PUBLISHED" }.into();
    flow.modified = epoch_seconds();
    Ok(Value::Null)
}

fn rename(instance: &mut Instance, call: &Call) -> Result<(), ApiError> {
    let (id, _) = flow_id_of(call.label(1));
    let id = id.to_string();
    if let Some(name) = call.str("Name") {
        if let Some(err) = name_problem(instance, name, Some(&id)) {
            return Err(err);
        }
    }
    let flow = find_flow(instance, call.label(1))?;
    if let Some(name) = call.str("Name") {
        flow.name = name.into();
    }
    if let Some(d) = call.str("Description") {
        flow.description = Some(d.into());
    }
    flow.modified = epoch_seconds();
    Ok(())
}

pub fn update_name(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance = find_active(store, ctx, call.label(0))?;
    find_flow(instance, call.label(1))?;
    rename(instance, call)?;
    Ok(Value::Null)
}

pub fn update_metadata(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance = find_active(store, ctx, call.label(0))?;
    find_flow(instance, call.label(1))?;
    let state = call.str("ContactFlowState");
    if let Some(s) = state {
        if !matches!(s, "ACTIVE" | "ARCHIVED") {
            return Err(ApiError::InvalidParameter(format!(
                "ContactFlowState '{s}' is not ACTIVE or ARCHIVED"
            )));
        }
    }
    rename(instance, call)?;
    if let Some(s) = state {
        find_flow(instance, call.label(1))?.state = s.into();
    }
    Ok(Value::Null)
}

/// DeleteContactFlow; numbers that rang the flow ring nothing afterwards.
pub fn delete(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance = find_active(store, ctx, call.label(0))?;
    let id = find_flow(instance, call.label(1))?.id.clone();
    instance.flows.retain(|f| f.id != id);
    for number in store.numbers.iter_mut() {
        if number.flow_id.as_deref() == Some(id.as_str()) {
            number.flow_id = None;
        }
    }
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_ids_come_from_ids_arns_and_saved_aliases() {
        assert_eq!(flow_id_of("abc"), ("abc", false));
        assert_eq!(flow_id_of("abc:$SAVED"), ("abc", true));
        assert_eq!(
            flow_id_of("arn:aws:connect:us-east-1:1:instance/i/contact-flow/abc"),
            ("abc", false)
        );
    }

    #[test]
    fn the_default_flows_are_valid_published_content() {
        let flows = defaults("arn:aws:connect:us-east-1:1:instance/i", 0.0);
        let none = |_: &str| false;
        for flow in &flows {
            let ctx = Context {
                region: "us-east-1",
                queue_exists: &none,
                flow_exists: &none,
            };
            assert_eq!(
                validate::problems(&flow.content, &ctx),
                Vec::<String>::new(),
                "{}",
                flow.name
            );
        }
        assert!(flows.iter().any(|f| f.flow_type == "CONTACT_FLOW"));
    }

    #[test]
    fn the_content_hash_is_hex_sha256() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
