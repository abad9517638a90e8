//! The stack's IAM roles, one kind with two purposes: `<stack>-fulfillment`, which the Lambda
//! service assumes to run the fulfillment function, and `<stack>-bot`, which Lex V2 assumes
//! (only for this account) to synthesize speech with Polly — a plain role rather than Lex's
//! service-linked one, so it carries the ownership tags and `down` removes it.

use super::{iam_tags, retag_role, PATH};
use crate::aws::Cx;
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, decode_policy, tags_value, tolerate};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The fulfillment role's resource id.
pub const FULFILLMENT_ID: &str = "fulfillment-role";
/// The bot role's resource id.
pub const BOT_ID: &str = "bot-role";
const KIND: &str = "iam-role";

/// What a role is for: its name, who may assume it and what it may do inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Runs the fulfillment Lambda (its permissions are the attached customer policy).
    Fulfillment,
    /// Lets the Lex V2 bot synthesize speech (an inline policy).
    Bot,
}

impl Purpose {
    fn id(self) -> &'static str {
        match self {
            Purpose::Fulfillment => FULFILLMENT_ID,
            Purpose::Bot => BOT_ID,
        }
    }

    fn role_name(self, stack: &str) -> String {
        match self {
            Purpose::Fulfillment => format!("{stack}-fulfillment"),
            Purpose::Bot => format!("{stack}-bot"),
        }
    }

    fn description(self, stack: &str) -> String {
        match self {
            Purpose::Fulfillment => {
                format!("resetpw stack {stack}: runs the password-reset fulfillment Lambda")
            }
            Purpose::Bot => format!("resetpw stack {stack}: lets the Lex V2 bot synthesize speech"),
        }
    }

    fn trust_policy(self, cx: &Cx) -> Value {
        let statement = match self {
            Purpose::Fulfillment => json!({
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }),
            Purpose::Bot => json!({
                "Effect": "Allow",
                "Principal": {"Service": "lexv2.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": cx.account}}
            }),
        };
        json!({"Version": "2012-10-17", "Statement": [statement]})
    }

    /// The inline policy's name and document, for the roles that have one.
    fn inline_policy(self) -> Option<(&'static str, Value)> {
        match self {
            Purpose::Fulfillment => None,
            Purpose::Bot => Some((
                "polly-speech",
                json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": "polly:SynthesizeSpeech",
                        "Resource": "*"
                    }]
                }),
            )),
        }
    }
}

pub struct Role {
    stack: String,
    purpose: Purpose,
}

impl Role {
    pub fn new(stack: &str, purpose: Purpose) -> Self {
        Role {
            stack: stack.into(),
            purpose,
        }
    }

    pub fn role_name(stack: &str, purpose: Purpose) -> String {
        purpose.role_name(stack)
    }

    async fn put_inline_policy(&self, cx: &Cx) -> Result<(), ResourceError> {
        let Some((policy_name, document)) = self.purpose.inline_policy() else {
            return Ok(());
        };
        cx.iam
            .put_role_policy()
            .role_name(self.name())
            .policy_name(policy_name)
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(api("set the inline policy of", KIND, &self.name()))?;
        Ok(())
    }

    async fn read_inline_policy(&self, cx: &Cx, name: &str) -> Result<Value, ResourceError> {
        let Some((policy_name, _)) = self.purpose.inline_policy() else {
            return Ok(Value::Null);
        };
        let found = tolerate(
            cx.iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await,
            &["NoSuchEntity"],
        )
        .map_err(api("read the inline policy of", KIND, name))?;
        Ok(found.map_or(Value::Null, |p| decode_policy(p.policy_document())))
    }
}

#[async_trait]
impl Resource for Role {
    fn id(&self) -> &'static str {
        self.purpose.id()
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The role; then its tags and inline policy, at once.
    fn read_rounds(&self) -> usize {
        2
    }
    /// The role; then its inline policy, for the roles that have one.
    fn create_rounds(&self) -> usize {
        1 + usize::from(self.purpose.inline_policy().is_some())
    }
    fn name(&self) -> String {
        self.purpose.role_name(&self.stack)
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["path"]
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        let mut props = Props::from([
            ("path", Prop::Known(json!(PATH))),
            ("trust_policy", Prop::Known(self.purpose.trust_policy(cx))),
            (
                "description",
                Prop::Known(json!(self.purpose.description(&self.stack))),
            ),
            ("tags", Prop::Known(tags_value(&cx.tags_for(self.id())))),
        ]);
        if let Some((_, document)) = self.purpose.inline_policy() {
            props.insert("policy", Prop::Known(document));
        }
        props
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let found = tolerate(
            cx.iam.get_role().role_name(&name).send().await,
            &["NoSuchEntity"],
        )
        .map_err(api("read", KIND, &name))?;
        let Some(role) = found.as_ref().and_then(|f| f.role()) else {
            return Ok(None);
        };
        let (tags, policy) =
            tokio::try_join!(role_tags(cx, &name), self.read_inline_policy(cx, &name))?;
        let mut props = BTreeMap::from([
            ("path", json!(role.path())),
            (
                "trust_policy",
                role.assume_role_policy_document()
                    .map_or(Value::Null, decode_policy),
            ),
            ("description", json!(role.description().unwrap_or_default())),
            ("tags", tags_value(&tags)),
        ]);
        if self.purpose.inline_policy().is_some() {
            props.insert("policy", policy);
        }
        Ok(Some(Live {
            physical_id: role.role_name().to_string(),
            props,
            outputs: BTreeMap::from([
                ("arn".to_string(), role.arn().to_string()),
                ("name".to_string(), role.role_name().to_string()),
            ]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let created = cx
            .iam
            .create_role()
            .role_name(self.name())
            .path(PATH)
            .assume_role_policy_document(self.purpose.trust_policy(cx).to_string())
            .description(self.purpose.description(&self.stack))
            .set_tags(Some(iam_tags(cx.tags_for(self.id()))))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        self.put_inline_policy(cx).await?;
        let arn = created
            .role()
            .map(|r| r.arn().to_string())
            .unwrap_or_default();
        Ok(BTreeMap::from([
            ("arn".to_string(), arn),
            ("name".to_string(), self.name()),
        ]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let name = self.name();
        for change in changes {
            match change.field {
                "trust_policy" => {
                    cx.iam
                        .update_assume_role_policy()
                        .role_name(&name)
                        .policy_document(self.purpose.trust_policy(cx).to_string())
                        .send()
                        .await
                        .map_err(api("update the trust policy of", KIND, &name))?;
                }
                "policy" => self.put_inline_policy(cx).await?,
                "description" => {
                    cx.iam
                        .update_role()
                        .role_name(&name)
                        .description(self.purpose.description(&self.stack))
                        .send()
                        .await
                        .map_err(api("update", KIND, &name))?;
                }
                "tags" => {
                    retag_role(cx, self.id(), KIND, live, &name).await?;
                }
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        delete_role(cx, &live.physical_id).await
    }
}

/// A role's tags (every page).
pub async fn role_tags(cx: &Cx, name: &str) -> Result<BTreeMap<String, String>, ResourceError> {
    let mut tags = BTreeMap::new();
    let mut pages = cx
        .iam
        .list_role_tags()
        .role_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("read tags of", KIND, name))?;
        tags.extend(
            page.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
    }
    Ok(tags)
}

/// Deletes a role. A role can only go once nothing is attached: detach what is left (the
/// attachments the stack made are deleted before this) and delete inline policies.
pub async fn delete_role(cx: &Cx, name: &str) -> Result<(), ResourceError> {
    let attached = tolerate(
        cx.iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await,
        &["NoSuchEntity"],
    )
    .map_err(api("list policies of", KIND, name))?;
    for policy in attached.iter().flat_map(|a| a.attached_policies()) {
        if let Some(arn) = policy.policy_arn() {
            let result = cx
                .iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await;
            tolerate(result, &["NoSuchEntity"]).map_err(api("detach a policy from", KIND, name))?;
        }
    }
    let inline = tolerate(
        cx.iam.list_role_policies().role_name(name).send().await,
        &["NoSuchEntity"],
    )
    .map_err(api("list inline policies of", KIND, name))?;
    for policy in inline.iter().flat_map(|i| i.policy_names()) {
        let result = cx
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await;
        tolerate(result, &["NoSuchEntity"]).map_err(api(
            "delete an inline policy of",
            KIND,
            name,
        ))?;
    }
    let result = cx.iam.delete_role().role_name(name).send().await;
    tolerate(result, &["NoSuchEntity"]).map_err(api("delete", KIND, name))?;
    Ok(())
}
