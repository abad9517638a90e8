//! A managed policy attached to the fulfillment role.

use super::policy::IamPolicy;
use super::role::{Purpose, Role};
use crate::aws::Cx;
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, tolerate};
use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;

const KIND: &str = "iam-role-policy-attachment";

/// An AWS-managed policy: logical id and ARN path.
pub struct Managed {
    id: &'static str,
    path: &'static str,
}

pub const BASIC_EXECUTION: Managed = Managed {
    id: "basic-execution-attachment",
    path: "service-role/AWSLambdaBasicExecutionRole",
};

pub const VPC_ACCESS: Managed = Managed {
    id: "vpc-access-attachment",
    path: "service-role/AWSLambdaVPCAccessExecutionRole",
};

enum Which {
    Managed(&'static str),
    Customer,
}

pub struct Attachment {
    id: &'static str,
    stack: String,
    which: Which,
    /// Whether the stack file wants it attached (`up` detaches an unwanted one).
    wanted: bool,
}

impl Attachment {
    pub fn customer_policy(stack: &str) -> Self {
        Attachment {
            id: "fulfillment-policy-attachment",
            stack: stack.into(),
            which: Which::Customer,
            wanted: true,
        }
    }

    pub fn managed(stack: &str, policy: Managed) -> Self {
        Attachment {
            id: policy.id,
            stack: stack.into(),
            which: Which::Managed(policy.path),
            wanted: true,
        }
    }

    /// The same attachment, wanted or not by the stack file.
    pub fn wanted(self, wanted: bool) -> Self {
        Attachment { wanted, ..self }
    }

    fn policy_arn(&self, cx: &Cx) -> String {
        match self.which {
            Which::Managed(path) => format!("arn:{}:iam::aws:policy/{path}", cx.partition),
            Which::Customer => IamPolicy::arn(cx, &self.stack),
        }
    }

    fn policy_name(&self) -> String {
        match self.which {
            Which::Managed(path) => path.rsplit('/').next().unwrap_or(path).to_string(),
            Which::Customer => format!("{}-fulfillment", self.stack),
        }
    }

    fn role(&self) -> String {
        Role::role_name(&self.stack, Purpose::Fulfillment)
    }
}

#[async_trait]
impl Resource for Attachment {
    fn id(&self) -> &'static str {
        self.id
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{} → {}", self.role(), self.policy_name())
    }
    fn depends_on(&self) -> Vec<&'static str> {
        match self.which {
            Which::Managed(_) => vec!["fulfillment-role"],
            Which::Customer => vec!["fulfillment-role", "fulfillment-policy"],
        }
    }
    fn wanted(&self) -> bool {
        self.wanted
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["policy_arn"]
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([("policy_arn", Prop::Known(json!(self.policy_arn(cx))))])
    }

    /// Attachments carry no tags; they belong to the stack because the role does.
    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let arn = self.policy_arn(cx);
        let mut pages = cx
            .iam
            .list_attached_role_policies()
            .role_name(self.role())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let Some(page) = tolerate(page, &["NoSuchEntity"]).map_err(api(
                "list policies of",
                "iam-role",
                &self.role(),
            ))?
            else {
                return Ok(None);
            };
            if page
                .attached_policies()
                .iter()
                .any(|p| p.policy_arn() == Some(arn.as_str()))
            {
                return Ok(Some(Live {
                    physical_id: arn.clone(),
                    props: BTreeMap::from([("policy_arn", json!(arn))]),
                    outputs: BTreeMap::new(),
                    owned: true,
                }));
            }
        }
        Ok(None)
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        cx.iam
            .attach_role_policy()
            .role_name(self.role())
            .policy_arn(self.policy_arn(cx))
            .send()
            .await
            .map_err(api("attach", KIND, &self.name()))?;
        Ok(BTreeMap::new())
    }

    async fn update(
        &self,
        _cx: &Cx,
        _live: &Live,
        _changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        // The only field is the policy ARN, and changing it is a replacement.
        Ok(BTreeMap::new())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .iam
            .detach_role_policy()
            .role_name(self.role())
            .policy_arn(&live.physical_id)
            .send()
            .await;
        tolerate(result, &["NoSuchEntity"]).map_err(api("detach", KIND, &self.name()))?;
        Ok(())
    }
}
