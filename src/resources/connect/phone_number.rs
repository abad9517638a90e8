//! The phone number callers dial: searched (country, type, prefix), claimed with the stack's
//! tags, waited for until CLAIMED and found again by its tags. It needs only the instance, so
//! its claim runs while the bot and the flow are still being made; which flow it rings is a
//! resource of its own (`number_flow.rs`). A released number can never be claimed again, so
//! releasing it (by `down`, or by a changed `phone_number` setting, which is a replacement)
//! needs `--release-phone-number`.

use super::{tag_map, target_instance, FoundInstance, Placement, GONE};
use crate::aws::{ApiError, Cx};
use crate::engine::{Action, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use aws_sdk_connect::types::{PhoneNumberCountryCode, PhoneNumberType};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const ID: &str = "connect-phone-number";
const KIND: &str = "connect-phone-number";
/// Candidates tried when numbers are taken between search and claim, or their claim fails.
const MAX_CANDIDATES: usize = 5;
/// Numbers described at once while looking for the stack's (reads only).
const DESCRIBE_AT_ONCE: usize = 16;

#[derive(Debug, Clone)]
pub struct Config {
    pub country_code: String,
    pub number_type: String,
    pub prefix: Option<String>,
}

pub struct PhoneNumber {
    stack: String,
    placement: Placement,
    config: Option<Config>,
}

enum Claim {
    Claimed(String, String),
    /// Taken or failed: try the next candidate. The text says why.
    Next(String),
}

impl PhoneNumber {
    pub fn new(stack: &str, placement: Placement, config: Option<Config>) -> Self {
        PhoneNumber {
            stack: stack.into(),
            placement,
            config,
        }
    }

    fn settings(&self) -> Value {
        match &self.config {
            Some(c) => {
                json!({"country_code": c.country_code, "type": c.number_type, "prefix": c.prefix})
            }
            None => Value::Null,
        }
    }

    async fn instance(&self, cx: &Cx, inputs: &Outputs) -> Result<FoundInstance, ResourceError> {
        if let Some(i) = super::instance_from(&self.placement, inputs) {
            return Ok(i);
        }
        target_instance(cx, &self.placement).await?.ok_or_else(|| {
            other(
                "the Connect instance does not exist or is not ACTIVE yet; run `resetpw up` again",
            )
        })
    }

    /// Waits for a claim to end: `true` CLAIMED, `false` FAILED.
    async fn wait_claimed(
        &self,
        cx: &Cx,
        id: &str,
        number: &str,
    ) -> Result<Result<(), String>, ResourceError> {
        let line = format!("{KIND} {number}");
        let outcome = wait_until(
            "the phone number claim",
            cx.timeout,
            Backoff::default(),
            "the claim is still in progress: run `resetpw up` again; it finds the number by its tags",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || async move {
                let out = cx.connect.describe_phone_number().phone_number_id(id).send().await.map_err(ApiError::from)?;
                let status = out.claimed_phone_number_summary().and_then(|s| s.phone_number_status());
                let state = status.and_then(|s| s.status()).map_or("", |s| s.as_str()).to_string();
                let message = status.and_then(|s| s.message()).unwrap_or("no reason given").to_string();
                Ok::<_, ApiError>(match state.as_str() {
                    "CLAIMED" => Poll::Ready(Ok(())),
                    "FAILED" => Poll::Ready(Err(message)),
                    s => Poll::Pending(s.to_string()),
                })
            },
        )
        .await?;
        Ok(outcome)
    }

    async fn claim(
        &self,
        cx: &Cx,
        instance: &FoundInstance,
        number: &str,
    ) -> Result<Claim, ResourceError> {
        let result = cx
            .connect
            .claim_phone_number()
            .instance_id(&instance.id)
            .phone_number(number)
            .phone_number_description(format!("resetpw stack {}: password reset line", self.stack))
            .set_tags(Some(tag_map(cx.tags_for(ID))))
            .send()
            .await;
        let (id, arn) = match result {
            Ok(out) => (
                out.phone_number_id().unwrap_or_default().to_string(),
                out.phone_number_arn().unwrap_or_default().to_string(),
            ),
            Err(e) => {
                let e = ApiError::from(e);
                if e.is("InvalidParameterException")
                    || e.is("ResourceInUseException")
                    || e.is("ResourceNotFoundException")
                {
                    return Ok(Claim::Next(format!("{number} was taken: {}", e.message)));
                }
                return Err(ResourceError::Api {
                    verb: "claim",
                    kind: KIND,
                    name: number.into(),
                    source: e,
                });
            }
        };
        match self.wait_claimed(cx, &id, number).await? {
            Ok(()) => Ok(Claim::Claimed(id, arn)),
            Err(reason) => Ok(Claim::Next(format!(
                "the claim of {number} FAILED: {reason}"
            ))),
        }
    }

    fn outputs(id: &str, arn: &str, number: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("id".to_string(), id.to_string()),
            ("arn".to_string(), arn.to_string()),
            ("number".to_string(), number.to_string()),
        ])
    }
}

/// The stack's number as Connect describes it.
pub struct Found {
    pub id: String,
    pub arn: String,
    pub number: String,
    pub instance_id: String,
    pub country: String,
    pub kind: String,
    /// IN_PROGRESS, CLAIMED or FAILED, and what Connect says about it.
    pub status: String,
    pub status_message: String,
}

/// The stack's number: the first of the account's claimed numbers, in listing order, that
/// carries the stack's tags for this resource. Every number is described at once (at most
/// `DESCRIBE_AT_ONCE` in flight). Shared with the number's flow association.
pub async fn find(cx: &Cx) -> Result<Option<Found>, ResourceError> {
    let mut pages = cx.connect.list_phone_numbers_v2().into_paginator().send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("list", KIND, &format!("{}-phone-number", cx.stack)))?;
        ids.extend(
            page.list_phone_numbers_summary_list()
                .iter()
                .map(|s| s.phone_number_id().unwrap_or_default().to_string()),
        );
    }
    let reads: Vec<_> = ids
        .iter()
        .map(|id| async move {
            tolerate(
                cx.connect
                    .describe_phone_number()
                    .phone_number_id(id)
                    .send()
                    .await,
                GONE,
            )
            .map_err(api("read", KIND, id))
        })
        .collect();
    let described: Vec<_> = futures::stream::iter(reads)
        .buffered(DESCRIBE_AT_ONCE)
        .collect()
        .await;
    for (id, d) in ids.iter().zip(described) {
        let Some(d) = d? else {
            continue;
        };
        let Some(d) = d.claimed_phone_number_summary() else {
            continue;
        };
        let tags: BTreeMap<String, String> = d
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if !cx.owns(&tags) || tags.get(crate::aws::RESOURCE_TAG).map(String::as_str) != Some(ID) {
            continue;
        }
        let status = d.phone_number_status();
        return Ok(Some(Found {
            id: id.clone(),
            arn: d.phone_number_arn().unwrap_or_default().to_string(),
            number: d.phone_number().unwrap_or_default().to_string(),
            instance_id: d.instance_id().unwrap_or_default().to_string(),
            country: d
                .phone_number_country_code()
                .map_or("", |c| c.as_str())
                .to_string(),
            kind: d.phone_number_type().map_or("", |t| t.as_str()).to_string(),
            status: status
                .and_then(|s| s.status())
                .map_or("", |s| s.as_str())
                .to_string(),
            status_message: status
                .and_then(|s| s.message())
                .unwrap_or_default()
                .to_string(),
        }));
    }
    Ok(None)
}

#[async_trait::async_trait]
impl Resource for PhoneNumber {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{}-phone-number", self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![super::instance::ID]
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["settings"]
    }
    /// The account's numbers; then every number described at once.
    fn read_rounds(&self) -> usize {
        2
    }
    /// SearchAvailablePhoneNumbers; ClaimPhoneNumber; wait until CLAIMED (the stack's new
    /// instance is known from its outputs).
    fn create_rounds(&self) -> usize {
        3
    }

    /// A claim still in progress (a run stopped during its wait) shows as a change of `status`,
    /// so `up` waits for it before the number's flow is associated.
    fn desired(&self, _cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([
            ("settings", Prop::Known(self.settings())),
            ("status", Prop::Known(json!("CLAIMED"))),
        ])
    }

    /// Found by the stack's tags among the account's claimed numbers.
    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let Some(n) = find(cx).await? else {
            return Ok(None);
        };
        // The live settings, read as the stack file writes them: the prefix counts as matching
        // when the number starts with it.
        let prefix = self
            .config
            .as_ref()
            .and_then(|c| c.prefix.clone())
            .filter(|p| {
                n.number.starts_with(p.as_str())
                    || n.number
                        .starts_with(&format!("+{}", p.trim_start_matches('+')))
            });
        let settings = json!({"country_code": n.country, "type": n.kind, "prefix": prefix});
        Ok(Some(Live {
            physical_id: n.id.clone(),
            props: BTreeMap::from([
                ("settings", settings),
                ("number", json!(n.number)),
                ("status", json!(n.status)),
                ("status_message", json!(n.status_message)),
                ("instance_id", json!(n.instance_id)),
            ]),
            outputs: Self::outputs(&n.id, &n.arn, &n.number),
            owned: true,
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let config = self
            .config
            .as_ref()
            .ok_or_else(|| other("no `connect` section"))?;
        let instance = self.instance(cx, inputs).await?;
        let found = cx
            .connect
            .search_available_phone_numbers()
            .instance_id(&instance.id)
            .phone_number_country_code(PhoneNumberCountryCode::from(config.country_code.as_str()))
            .phone_number_type(PhoneNumberType::from(config.number_type.as_str()))
            .set_phone_number_prefix(config.prefix.clone())
            .max_results(10)
            .send()
            .await
            .map_err(api("search for", KIND, &self.name()))?;
        let candidates: Vec<String> = found
            .available_numbers_list()
            .iter()
            .filter_map(|n| n.phone_number().map(str::to_string))
            .collect();
        if candidates.is_empty() {
            return Err(ResourceError::Stack {
                path: vec!["connect".into(), "phone_number".into()],
                message: format!(
                    "Connect offers no {} number in {} with prefix {}: change the prefix or the type (no number was claimed)",
                    config.number_type,
                    config.country_code,
                    config.prefix.as_deref().unwrap_or("(none)")
                ),
            });
        }
        let mut refused = Vec::new();
        for number in candidates.iter().take(MAX_CANDIDATES) {
            cx.progress
                .begin(ID, &format!("{KIND} {}: claiming {number}", self.name()));
            match self.claim(cx, &instance, number).await? {
                Claim::Claimed(id, arn) => return Ok(Self::outputs(&id, &arn, number)),
                Claim::Next(why) => refused.push(why),
            }
        }
        Err(other(format!(
            "could not claim a phone number after {} candidates ({}); run `resetpw up` again to search again",
            refused.len(),
            refused.join("; ")
        )))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let number = live
            .props
            .get("number")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let failed = match live.props.get("status").and_then(Value::as_str) {
            Some("IN_PROGRESS") => self
                .wait_claimed(cx, &live.physical_id, &number)
                .await?
                .err(),
            Some("FAILED") => Some(
                live.props
                    .get("status_message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .unwrap_or("no reason given")
                    .to_string(),
            ),
            _ => None,
        };
        if let Some(reason) = failed {
            return Err(other(format!("the claim of {number} FAILED: {reason}; release it with `resetpw down --release-phone-number` or in the Connect console")));
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .connect
            .release_phone_number()
            .phone_number_id(&live.physical_id)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("release", KIND, &live.physical_id))?;
        Ok(())
    }

    fn apply_blocker(
        &self,
        cx: &Cx,
        action: Action,
        _changes: &[Change],
        live: Option<&Live>,
    ) -> Option<String> {
        if cx.release_phone_number || !matches!(action, Action::Delete | Action::Replace) {
            return None;
        }
        let number = live?.props.get("number")?.as_str()?.to_string();
        Some(format!(
            "{} would release phone number {number}, which can never be claimed again (and claims are rate-limited over 180 days): pass --release-phone-number to do it anyway",
            if action == Action::Replace { "replacing it for the new `phone_number` settings" } else { "deleting it" }
        ))
    }
}
