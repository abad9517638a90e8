//! The contact flow `<stack>-password-reset` (CONTACT_FLOW, PUBLISHED, tagged), generated from
//! the stack (see `flow_content`) and checked locally before any call. The agent queue is looked
//! up by name at plan time; a name the instance does not have is an error at the key's line and
//! column, with the instance's queues and a suggestion.

use super::{
    changed_actions, check_flow, closest, flow_content, retag, tag_map, target_instance,
    FlowInputs, FoundInstance, Placement, GONE,
};
use crate::aws::{ApiError, Cx};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError, Shown};
use crate::resources::lex::alias;
use crate::resources::{api, live_tags, other, tags_value, tolerate};
use aws_sdk_connect::types::{ContactFlowStatus, ContactFlowType, QueueType};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub const ID: &str = "connect-flow";
const KIND: &str = "connect-contact-flow";
/// The queue a new instance has.
const DEFAULT_QUEUE: &str = "BasicQueue";

pub struct Config {
    pub greeting: String,
    pub agent_queue: String,
}

pub struct Flow {
    stack: String,
    placement: Placement,
    /// `None` for `down`.
    config: Option<Config>,
    /// The agent queue's ARN, found at plan time when the instance exists.
    queue_arn: Mutex<Option<String>>,
}

impl Flow {
    pub fn new(stack: &str, placement: Placement, config: Option<Config>) -> Self {
        Flow {
            stack: stack.into(),
            placement,
            config,
            queue_arn: Mutex::new(None),
        }
    }

    pub fn flow_name(stack: &str) -> String {
        format!("{stack}-password-reset")
    }

    fn queue(&self) -> Option<String> {
        self.queue_arn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn queues(cx: &Cx, instance_id: &str) -> Result<Vec<(String, String)>, ApiError> {
        let mut out = Vec::new();
        let mut pages = cx
            .connect
            .list_queues()
            .instance_id(instance_id)
            .queue_types(QueueType::Standard)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for q in page?.queue_summary_list() {
                out.push((
                    q.name().unwrap_or_default().to_string(),
                    q.arn().unwrap_or_default().to_string(),
                ));
            }
        }
        Ok(out)
    }

    /// Finds the queue named `agent_queue`, or says which names the instance has.
    async fn find_queue(&self, cx: &Cx, instance: &FoundInstance) -> Result<String, ResourceError> {
        let config = self
            .config
            .as_ref()
            .ok_or_else(|| other("no `connect` section"))?;
        let queues = Self::queues(cx, &instance.id).await.map_err(api(
            "list the queues of",
            "connect-instance",
            &instance.alias,
        ))?;
        if let Some((_, arn)) = queues.iter().find(|(n, _)| *n == config.agent_queue) {
            return Ok(arn.clone());
        }
        let names: Vec<String> = queues.into_iter().map(|(n, _)| n).collect();
        let hint = closest(&config.agent_queue, &names)
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        Err(ResourceError::Stack {
            path: vec!["connect".into(), "agent_queue".into()],
            message: format!(
                "instance `{}` has no standard queue named `{}`; {hint}its queues: {}",
                instance.alias,
                config.agent_queue,
                names.join(", ")
            ),
        })
    }

    /// The flow for the outputs known now; `None` while the alias or the queue is unknown.
    fn content(&self, inputs: &Outputs) -> Option<Value> {
        let config = self.config.as_ref()?;
        Some(flow_content(&FlowInputs {
            greeting: config.greeting.clone(),
            alias_arn: inputs.get(&format!("{}.arn", alias::ID))?.clone(),
            queue_arn: self.queue()?,
        }))
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

    /// The content to send: generated, then checked locally before any call.
    async fn checked_content(
        &self,
        cx: &Cx,
        instance: &FoundInstance,
        inputs: &Outputs,
    ) -> Result<String, ResourceError> {
        if self.queue().is_none() {
            let arn = self.find_queue(cx, instance).await?;
            *self.queue_arn.lock().unwrap_or_else(|p| p.into_inner()) = Some(arn);
        }
        let content = self.content(inputs).ok_or_else(|| {
            other("the flow needs the bot alias, which does not exist yet; run `resetpw up` again")
        })?;
        let problems = check_flow(&content);
        if !problems.is_empty() {
            return Err(other(format!(
                "the generated contact flow fails resetpw's own checks (a bug: please report it): {}",
                problems.join("; ")
            )));
        }
        Ok(content.to_string())
    }

    fn outputs(instance: &FoundInstance, id: &str, arn: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("id".to_string(), id.to_string()),
            ("arn".to_string(), arn.to_string()),
            ("instance_id".to_string(), instance.id.clone()),
            ("instance_arn".to_string(), instance.arn.clone()),
        ])
    }

    /// The flow in one instance: ListContactFlows; then DescribeContactFlow.
    async fn observe_in(
        &self,
        cx: &Cx,
        instance: &FoundInstance,
    ) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let mut found = None;
        let mut pages = cx
            .connect
            .list_contact_flows()
            .instance_id(&instance.id)
            .contact_flow_types(ContactFlowType::ContactFlow)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(api(
                "list the flows of",
                "connect-instance",
                &instance.alias,
            ))?;
            if let Some(f) = page
                .contact_flow_summary_list()
                .iter()
                .find(|f| f.name() == Some(name.as_str()))
            {
                found = Some(f.id().unwrap_or_default().to_string());
                break;
            }
        }
        let Some(flow_id) = found else {
            return Ok(None);
        };
        let described = cx
            .connect
            .describe_contact_flow()
            .instance_id(&instance.id)
            .contact_flow_id(&flow_id)
            .send()
            .await;
        // A flow saved but never published (a crash between create and publish).
        let described = match tolerate(described, &["ContactFlowNotPublishedException"]) {
            Ok(Some(d)) => d,
            Ok(None) => cx
                .connect
                .describe_contact_flow()
                .instance_id(&instance.id)
                .contact_flow_id(format!("{flow_id}:$SAVED"))
                .send()
                .await
                .map_err(api("read", KIND, &name))?,
            Err(e) => return Err(api("read", KIND, &name)(e)),
        };
        let Some(f) = described.contact_flow() else {
            return Ok(None);
        };
        let tags: BTreeMap<String, String> = f
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let content: Value = serde_json::from_str(f.content().unwrap_or("{}"))
            .unwrap_or_else(|_| json!(f.content()));
        Ok(Some(Live {
            physical_id: flow_id.clone(),
            props: BTreeMap::from([
                ("type", json!(f.r#type().map(|t| t.as_str()))),
                ("status", json!(f.status().map(|s| s.as_str()))),
                ("content", content),
                ("tags", tags_value(&tags)),
                ("instance_id", json!(instance.id)),
            ]),
            outputs: Self::outputs(instance, &flow_id, f.arn().unwrap_or_default()),
            owned: cx.owns(&tags),
        }))
    }

    /// Says what Connect found wrong with the content (its problems list).
    fn flow_error(&self, verb: &'static str) -> impl FnOnce(ApiError) -> ResourceError + '_ {
        move |e| ResourceError::Api {
            verb,
            kind: KIND,
            name: self.name(),
            source: e,
        }
    }
}

/// Connect's problems list of an InvalidContactFlowException, or the error as it is.
fn with_problems<E>(
    err: aws_sdk_connect::error::SdkError<E, aws_sdk_connect::config::http::HttpResponse>,
) -> ApiError
where
    E: aws_sdk_connect::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let body = err
        .raw_response()
        .and_then(|r| r.body().bytes())
        .and_then(|b| serde_json::from_slice::<Value>(b).ok());
    let mut e = ApiError::from(err);
    if e.is("InvalidContactFlowException") {
        let problems: Vec<String> = body
            .as_ref()
            .and_then(|b| b["problems"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p["message"].as_str().map(str::to_string))
            .collect();
        e.message = format!(
            "InvalidContactFlowException: Connect refused the flow's content: {} (nothing in the flow was changed)",
            if problems.is_empty() { "no problems listed".to_string() } else { problems.join("; ") }
        );
    }
    e
}

#[async_trait::async_trait]
impl Resource for Flow {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        Self::flow_name(&self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![super::instance::ID, alias::ID, super::association::ID]
    }
    /// The instance; then its flows; then the flow (the preflight's instance and queues run
    /// beside them).
    fn read_rounds(&self) -> usize {
        3
    }
    /// The queues of the stack's new instance (known at plan time when it exists); then
    /// CreateContactFlow.
    fn create_rounds(&self) -> usize {
        2
    }

    /// Finds the agent queue: an unknown name is an error before anything changes. A new
    /// instance has only BasicQueue.
    async fn preflight(&self, cx: &Cx) -> Result<(), ResourceError> {
        let Some(config) = &self.config else {
            return Ok(());
        };
        match target_instance(cx, &self.placement).await? {
            Some(instance) => {
                let arn = self.find_queue(cx, &instance).await?;
                *self.queue_arn.lock().unwrap_or_else(|p| p.into_inner()) = Some(arn);
            }
            None if config.agent_queue != DEFAULT_QUEUE => {
                return Err(ResourceError::Stack {
                    path: vec!["connect".into(), "agent_queue".into()],
                    message: format!(
                        "the instance does not exist yet and a new instance has only the queue `{DEFAULT_QUEUE}`: use `agent_queue: {DEFAULT_QUEUE}` for the first `up`, then create `{}` in Connect and set it",
                        config.agent_queue
                    ),
                })
            }
            None => {}
        }
        Ok(())
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            ("type", Prop::Known(json!("CONTACT_FLOW"))),
            ("status", Prop::Known(json!("PUBLISHED"))),
            (
                "content",
                self.content(inputs).map_or(Prop::Unknown, Prop::Known),
            ),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    fn preview(&self, cx: &Cx, inputs: &Outputs) -> Vec<Change> {
        self.desired(cx, inputs)
            .into_iter()
            .map(|(field, prop)| Change {
                field,
                old: Shown::Absent,
                new: match prop {
                    Prop::Known(v) if field == "content" => Shown::Value(json!(format!(
                        "{} actions",
                        v["Actions"].as_array().map_or(0, Vec::len)
                    ))),
                    Prop::Known(v) => Shown::Value(v),
                    Prop::Unknown => Shown::Unknown,
                },
                replace: false,
            })
            .collect()
    }

    /// The content is compared normalized (parsed JSON), and a change names the actions that
    /// differ instead of printing the whole flow.
    async fn diff(
        &self,
        cx: &Cx,
        live: &Live,
        inputs: &Outputs,
    ) -> Result<Vec<Change>, ResourceError> {
        let changes = crate::engine::diff_props(&self.desired(cx, inputs), &live.props, &[]);
        Ok(changes
            .into_iter()
            .map(|c| {
                if c.field != "content" {
                    return c;
                }
                let (Shown::Value(old), Shown::Value(new)) = (&c.old, &c.new) else {
                    return c;
                };
                let changed = changed_actions(old, new);
                let old_side: serde_json::Map<String, Value> =
                    changed.iter().map(|x| (x.0.clone(), x.1.clone())).collect();
                let new_side: serde_json::Map<String, Value> =
                    changed.iter().map(|x| (x.0.clone(), x.2.clone())).collect();
                Change {
                    old: Shown::Value(Value::Object(old_side)),
                    new: Shown::Value(Value::Object(new_side)),
                    ..c
                }
            })
            .collect())
    }

    /// Looked for in every candidate instance at once; the first instance (in listing order)
    /// holding the flow is the one.
    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let candidates = super::candidate_instances(cx, &self.placement).await?;
        let found =
            futures::future::join_all(candidates.iter().map(|i| self.observe_in(cx, i))).await;
        for live in found {
            if let Some(live) = live? {
                return Ok(Some(live));
            }
        }
        Ok(None)
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let instance = self.instance(cx, inputs).await?;
        let content = self.checked_content(cx, &instance, inputs).await?;
        let result = cx
            .connect
            .create_contact_flow()
            .instance_id(&instance.id)
            .name(self.name())
            .r#type(ContactFlowType::ContactFlow)
            .status(ContactFlowStatus::Published)
            .description(format!(
                "resetpw stack {}: greets the caller, runs the password-reset bot, hands over to an agent",
                self.stack
            ))
            .content(content)
            .set_tags(Some(tag_map(cx.tags_for(ID))))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Self::outputs(
                &instance,
                out.contact_flow_id().unwrap_or_default(),
                out.contact_flow_arn().unwrap_or_default(),
            )),
            Err(e) => {
                let e = with_problems(e);
                if !e.is("DuplicateResourceException") {
                    return Err(self.flow_error("create")(e));
                }
                // Made since the plan: ours only with the stack's tag.
                let live = self.observe(cx).await?.filter(|l| l.owned).ok_or_else(|| {
                    ResourceError::NotOwned {
                        kind: KIND,
                        name: self.name(),
                        stack: cx.stack.clone(),
                    }
                })?;
                let changes = self.diff(cx, &live, inputs).await?;
                self.update(cx, &live, &changes, inputs).await
            }
        }
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let instance = self.instance(cx, inputs).await?;
        let changed = |f: &str| changes.iter().any(|c| c.field == f);
        if changed("content") || changed("status") || changed("type") {
            let content = self.checked_content(cx, &instance, inputs).await?;
            cx.connect
                .update_contact_flow_content()
                .instance_id(&instance.id)
                .contact_flow_id(&live.physical_id)
                .content(content)
                .send()
                .await
                .map_err(with_problems)
                .map_err(self.flow_error("update the content of"))?;
        }
        if changed("tags") {
            let arn = live.outputs.get("arn").cloned().unwrap_or_default();
            retag(cx, &arn, &cx.tags_for(ID), &live_tags(live))
                .await
                .map_err(api("tag", KIND, &self.name()))?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let instance_id = live
            .props
            .get("instance_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let result = cx
            .connect
            .delete_contact_flow()
            .instance_id(instance_id)
            .contact_flow_id(&live.physical_id)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("delete", KIND, &self.name()))?;
        Ok(())
    }
}
