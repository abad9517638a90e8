//! The fulfillment Lambda's IAM role.

use super::{iam_tags, retag_role, PATH};
use crate::aws::Cx;
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, decode_policy, tags_value, tolerate};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const ID: &str = "fulfillment-role";
const KIND: &str = "iam-role";

pub struct IamRole {
    stack: String,
}

impl IamRole {
    pub fn new(stack: &str) -> Self {
        IamRole {
            stack: stack.into(),
        }
    }

    pub fn role_name(stack: &str) -> String {
        format!("{stack}-fulfillment")
    }

    fn trust_policy() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }]
        })
    }

    fn description(&self) -> String {
        format!(
            "resetpw stack {}: runs the password-reset fulfillment Lambda",
            self.stack
        )
    }

    async fn tags_of(&self, cx: &Cx) -> Result<BTreeMap<String, String>, ResourceError> {
        role_tags(cx, &self.name()).await
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

#[async_trait]
impl Resource for IamRole {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The role; then its tags.
    fn read_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        Self::role_name(&self.stack)
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["path"]
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([
            ("path", Prop::Known(json!(PATH))),
            ("trust_policy", Prop::Known(Self::trust_policy())),
            ("description", Prop::Known(json!(self.description()))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let found = tolerate(
            cx.iam.get_role().role_name(self.name()).send().await,
            &["NoSuchEntity"],
        )
        .map_err(api("read", KIND, &self.name()))?;
        let Some(role) = found.as_ref().and_then(|f| f.role()) else {
            return Ok(None);
        };
        let tags = self.tags_of(cx).await?;
        Ok(Some(Live {
            physical_id: role.role_name().to_string(),
            props: BTreeMap::from([
                ("path", json!(role.path())),
                (
                    "trust_policy",
                    role.assume_role_policy_document()
                        .map_or(Value::Null, decode_policy),
                ),
                ("description", json!(role.description().unwrap_or_default())),
                ("tags", tags_value(&tags)),
            ]),
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
            .assume_role_policy_document(Self::trust_policy().to_string())
            .description(self.description())
            .set_tags(Some(iam_tags(cx.tags_for(ID))))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
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
                        .policy_document(Self::trust_policy().to_string())
                        .send()
                        .await
                        .map_err(api("update the trust policy of", KIND, &name))?;
                }
                "description" => {
                    cx.iam
                        .update_role()
                        .role_name(&name)
                        .description(self.description())
                        .send()
                        .await
                        .map_err(api("update", KIND, &name))?;
                }
                "tags" => {
                    retag_role(cx, ID, KIND, live, &name).await?;
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
