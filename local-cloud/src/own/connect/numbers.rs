//! Phone numbers: a pool of fictional numbers per country and type to search, claims
//! (IN_PROGRESS → CLAIMED or FAILED after the delay, idempotent by ClientToken), describe, list,
//! release (a released number never comes back), and the number → flow association.
//!
//! The pools use ranges set aside for fiction: +1 NPA 555-01xx in North America, Ofcom's drama
//! ranges in the UK, ACMA's in Australia.

use super::instances::{self, find_active, remember, replay};
use super::{max_results, page_or_error, tags_json, uuid, ApiError, ApiResult, Call, Ctx, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// (country, type, number prefix, first suffix, how many, suffix digits) per block of the pool.
const POOL: &[(&str, &str, &str, u32, u32, usize)] = &[
    ("US", "DID", "+1206555", 100, 100, 4),
    ("US", "DID", "+1312555", 100, 100, 4),
    ("US", "DID", "+1415555", 100, 100, 4),
    ("US", "TOLL_FREE", "+1833555", 100, 100, 4),
    ("US", "TOLL_FREE", "+1888555", 100, 100, 4),
    ("CA", "DID", "+1416555", 100, 100, 4),
    ("CA", "TOLL_FREE", "+1844555", 100, 100, 4),
    ("GB", "DID", "+4420794600", 0, 100, 2),
    ("GB", "TOLL_FREE", "+4480815700", 0, 100, 2),
    ("AU", "DID", "+6125550", 0, 100, 4),
    ("AU", "TOLL_FREE", "+61180016", 0, 100, 4),
];

const NUMBER_TYPES: &[&str] = &[
    "TOLL_FREE",
    "DID",
    "UIFN",
    "SHARED",
    "THIRD_PARTY_TF",
    "THIRD_PARTY_DID",
    "SHORT_CODE",
];

/// Every number of the pool with its country and type, in a fixed order.
fn pool() -> impl Iterator<Item = (&'static str, &'static str, String)> {
    POOL.iter()
        .flat_map(|(country, kind, prefix, first, count, digits)| {
            (*first..first + count).map(move |n| {
                (
                    *country,
                    *kind,
                    format!("{prefix}{n:0width$}", width = *digits),
                )
            })
        })
}

pub struct PhoneNumber {
    pub id: String,
    pub arn: String,
    pub number: String,
    pub country: &'static str,
    pub kind: &'static str,
    pub description: Option<String>,
    pub instance_id: String,
    pub instance_arn: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    claimed_at: Instant,
    ready_after: Duration,
    failed: bool,
    /// The flow (id) the number rings.
    pub flow_id: Option<String>,
}

impl PhoneNumber {
    pub fn status(&self, now: Instant) -> &'static str {
        if now.saturating_duration_since(self.claimed_at) < self.ready_after {
            "IN_PROGRESS"
        } else if self.failed {
            "FAILED"
        } else {
            "CLAIMED"
        }
    }

    fn summary(&self) -> Value {
        let mut v = json!({
            "PhoneNumberId": self.id, "PhoneNumberArn": self.arn, "PhoneNumber": self.number,
            "PhoneNumberCountryCode": self.country, "PhoneNumberType": self.kind,
            "TargetArn": self.instance_arn, "InstanceId": self.instance_id,
        });
        if let Some(d) = &self.description {
            v["PhoneNumberDescription"] = json!(d);
        }
        v
    }
}

/// The instance a request targets, by `InstanceId` or `TargetArn` (exactly one is allowed).
fn target<'a>(
    store: &'a mut Store,
    ctx: &Ctx<'_>,
    call: &Call,
) -> Result<&'a mut instances::Instance, ApiError> {
    let named = match (call.str("InstanceId"), call.str("TargetArn")) {
        (Some(id), None) => id,
        (None, Some(arn)) => arn,
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidParameter(
                "give either InstanceId or TargetArn, not both".into(),
            ))
        }
        (None, None) => {
            return Err(ApiError::InvalidParameter(
                "InstanceId or TargetArn is required".into(),
            ))
        }
    };
    find_active(store, ctx, named).map_err(|e| match e {
        ApiError::NotFound(m) => ApiError::InvalidParameter(m),
        other => other,
    })
}

fn find<'a>(
    store: &'a mut Store,
    ctx: &Ctx<'_>,
    id_or_arn: &str,
) -> Result<&'a mut PhoneNumber, ApiError> {
    let id = id_or_arn
        .rsplit_once(":phone-number/")
        .map_or(id_or_arn, |(_, id)| id);
    store
        .numbers
        .iter_mut()
        .find(|n| n.id == id && n.region == ctx.region)
        .ok_or_else(|| ApiError::NotFound(format!("Phone number {id_or_arn} not found")))
}

fn normalized_prefix(call: &Call) -> Option<String> {
    call.str("PhoneNumberPrefix").map(|p| {
        if p.starts_with('+') {
            p.to_string()
        } else {
            format!("+{p}")
        }
    })
}

pub fn search(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    target(store, ctx, call)?;
    let country = call.required_str("PhoneNumberCountryCode")?;
    let kind = call.required_str("PhoneNumberType")?;
    if !NUMBER_TYPES.contains(&kind) {
        return Err(ApiError::InvalidParameter(format!(
            "PhoneNumberType '{kind}' is not one of {}",
            NUMBER_TYPES.join(", ")
        )));
    }
    let max = max_results(call.body.get("MaxResults").and_then(Value::as_u64), 10, 10)?;
    let prefix = normalized_prefix(call);
    let available: Vec<Value> = pool()
        .filter(|(c, k, n)| {
            *c == country
                && *k == kind
                && prefix.as_deref().is_none_or(|p| n.starts_with(p))
                && !store.unavailable.contains(n)
                && !store.numbers.iter().any(|x| &x.number == n)
        })
        .map(|(c, k, n)| json!({"PhoneNumber": n, "PhoneNumberCountryCode": c, "PhoneNumberType": k}))
        .collect();
    let (items, next) = page_or_error(&available, call.str("NextToken"), max)?;
    Ok(json!({"AvailableNumbersList": items, "NextToken": next}))
}

/// ClaimPhoneNumber. A fault rule with code `PhoneNumberTaken` makes the number be taken by
/// someone else just before the claim (refused as Connect refuses it); `PhoneNumberClaimFailed`
/// makes the accepted claim end FAILED.
pub fn claim(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    if let Some(answer) = replay(store, "ClaimPhoneNumber", call, "ClientToken")? {
        return Ok(answer);
    }
    let number = call.required_str("PhoneNumber")?.to_string();
    let tags = call.tags("Tags")?;
    let (instance_id, instance_arn) = {
        let instance = target(store, ctx, call)?;
        (instance.id.clone(), instance.arn.clone())
    };
    let not_available =
        || ApiError::InvalidParameter(format!("Phone number not available: {number}"));
    let Some((country, kind, _)) = pool().find(|(_, _, n)| *n == number) else {
        return Err(not_available());
    };
    if store.unavailable.contains(&number) || store.numbers.iter().any(|n| n.number == number) {
        return Err(not_available());
    }
    if call.fault.as_deref() == Some("PhoneNumberTaken") {
        store.unavailable.insert(number.clone());
        return Err(not_available());
    }
    let id = uuid();
    let arn = ctx.arn(&format!("phone-number/{id}"));
    store.numbers.push(PhoneNumber {
        id: id.clone(),
        arn: arn.clone(),
        number,
        country,
        kind,
        description: call.str("PhoneNumberDescription").map(str::to_string),
        instance_id,
        instance_arn,
        region: ctx.region.clone(),
        tags,
        claimed_at: ctx.now,
        ready_after: ctx.delay,
        failed: call.fault.as_deref() == Some("PhoneNumberClaimFailed"),
        flow_id: None,
    });
    let answer = json!({"PhoneNumberId": id, "PhoneNumberArn": arn});
    remember(store, "ClaimPhoneNumber", call, "ClientToken", &answer);
    Ok(answer)
}

pub fn describe(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let number = find(store, ctx, call.label(0))?;
    let mut v = number.summary();
    v["Tags"] = tags_json(&number.tags);
    let status = number.status(ctx.now);
    v["PhoneNumberStatus"] = if status == "FAILED" {
        json!({"Status": status, "Message": "The number could not be claimed (failure injected by the local cloud)"})
    } else {
        json!({ "Status": status })
    };
    Ok(json!({ "ClaimedPhoneNumberSummary": v }))
}

pub fn list(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance_id = if call.str("InstanceId").is_some() || call.str("TargetArn").is_some() {
        Some(target(store, ctx, call)?.id.clone())
    } else {
        None
    };
    let strings = |key: &str| -> Vec<String> {
        call.body
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (countries, kinds) = (
        strings("PhoneNumberCountryCodes"),
        strings("PhoneNumberTypes"),
    );
    let prefix = normalized_prefix(call);
    let max = max_results(
        call.body.get("MaxResults").and_then(Value::as_u64),
        1000,
        100,
    )?;
    let all: Vec<Value> = store
        .numbers
        .iter()
        .filter(|n| {
            n.region == ctx.region
                && instance_id.as_ref().is_none_or(|i| *i == n.instance_id)
                && (countries.is_empty() || countries.iter().any(|c| c == n.country))
                && (kinds.is_empty() || kinds.iter().any(|k| k == n.kind))
                && prefix.as_deref().is_none_or(|p| n.number.starts_with(p))
        })
        .map(PhoneNumber::summary)
        .collect();
    let (items, next) = page_or_error(&all, call.str("NextToken"), max)?;
    Ok(json!({"ListPhoneNumbersSummaryList": items, "NextToken": next}))
}

/// ReleasePhoneNumber: the number leaves the account and cannot be claimed again.
pub fn release(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let id = find(store, ctx, call.label(0))?.id.clone();
    if let Some(pos) = store.numbers.iter().position(|n| n.id == id) {
        let released = store.numbers.remove(pos);
        store.unavailable.insert(released.number);
    }
    Ok(Value::Null)
}

pub fn associate_flow(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance_label = call.required_str("InstanceId")?;
    let flow_label = call.required_str("ContactFlowId")?;
    let (instance_id, flow_id) = {
        let instance = find_active(store, ctx, instance_label)?;
        let flow_id = flow_label
            .rsplit_once("/contact-flow/")
            .map_or(flow_label, |(_, id)| id);
        let flow = instance
            .flows
            .iter()
            .find(|f| f.id == flow_id)
            .ok_or_else(|| ApiError::NotFound(format!("Contact flow {flow_label} not found")))?;
        if flow.flow_type != "CONTACT_FLOW" {
            return Err(ApiError::InvalidParameter(format!(
                "Contact flow {flow_label} is of type {}; a phone number rings only a CONTACT_FLOW",
                flow.flow_type
            )));
        }
        (instance.id.clone(), flow.id.clone())
    };
    let now = ctx.now;
    let number = find(store, ctx, call.label(0))?;
    if number.instance_id != instance_id {
        return Err(ApiError::InvalidParameter(format!(
            "Phone number {} is claimed to instance {}, not {instance_id}",
            number.number, number.instance_id
        )));
    }
    match number.status(now) {
        "CLAIMED" => {}
        status => {
            return Err(ApiError::InvalidParameter(format!(
                "Phone number {} is {status}, not CLAIMED",
                number.number
            )))
        }
    }
    number.flow_id = Some(flow_id);
    Ok(Value::Null)
}

pub fn disassociate_flow(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let Some(instance_label) = call.query_value("instanceId") else {
        return Err(ApiError::InvalidParameter("instanceId is required".into()));
    };
    let instance_id = find_active(store, ctx, instance_label)?.id.clone();
    let number = find(store, ctx, call.label(0))?;
    if number.instance_id != instance_id {
        return Err(ApiError::InvalidParameter(format!(
            "Phone number {} is not claimed to instance {instance_id}",
            number.number
        )));
    }
    number.flow_id = None;
    Ok(Value::Null)
}

/// ListFlowAssociations (ResourceType VOICE_PHONE_NUMBER): which flow each number rings.
pub fn list_flow_associations(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    if let Some(kind) = call.query_value("ResourceType") {
        if kind != "VOICE_PHONE_NUMBER" {
            return Ok(json!({"FlowAssociationSummaryList": []}));
        }
    }
    let max = max_results(
        call.query_value("maxResults").and_then(|v| v.parse().ok()),
        100,
        100,
    )?;
    let instance_arn = find_active(store, ctx, call.label(0))?.arn.clone();
    let all: Vec<Value> = store
        .numbers
        .iter()
        .filter(|n| n.instance_arn == instance_arn)
        .filter_map(|n| {
            let flow = n.flow_id.as_ref()?;
            Some(
                json!({"ResourceId": n.arn, "FlowId": format!("{instance_arn}/contact-flow/{flow}"),
                        "ResourceType": "VOICE_PHONE_NUMBER"}),
            )
        })
        .collect();
    let (items, next) = page_or_error(&all, call.query_value("nextToken"), max)?;
    Ok(json!({"FlowAssociationSummaryList": items, "NextToken": next}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_is_fictional_and_unique() {
        let all: Vec<_> = pool().collect();
        let us: Vec<_> = all
            .iter()
            .filter(|(c, k, _)| *c == "US" && *k == "DID")
            .collect();
        assert_eq!(us.len(), 300);
        assert_eq!(us[0].2, "+12065550100");
        assert!(us
            .iter()
            .all(|(_, _, n)| n.len() == 12 && &n[5..10] == "55501"));
        let mut numbers: Vec<_> = all.iter().map(|(_, _, n)| n.clone()).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), all.len(), "no number in two blocks");
        assert!(all
            .iter()
            .any(|(c, _, n)| *c == "GB" && n == "+442079460000"));
    }
}
