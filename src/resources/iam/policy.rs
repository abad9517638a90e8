//! The customer-managed least-privilege policy of the fulfillment role: decrypt the directory
//! secret with the stack's key only under the stack's encryption context, send SMS, and (with a
//! `fulfillment` section) count attempts in the stack's table and write to its own log group;
//! with `notify.email_from`, send email through Amazon SES as that address only.

use super::{iam_tags, PATH};
use crate::aws::Cx;
use crate::engine::input;
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::dynamodb::table::AttemptsTable;
use crate::resources::logs::log_group::LogGroup;
use crate::resources::{api, decode_policy, live_tags, tag_delta, tags_value, tolerate};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const ID: &str = "fulfillment-policy";
const KIND: &str = "iam-policy";

pub struct IamPolicy {
    stack: String,
    /// The stack deploys the function: grant its table and log group.
    function: bool,
    /// `notify.email_from`: the SES identity the function may send as.
    email_from: Option<String>,
}

impl IamPolicy {
    pub fn new(stack: &str, function: bool, email_from: Option<String>) -> Self {
        IamPolicy {
            stack: stack.into(),
            function,
            email_from,
        }
    }

    /// `ses:SendEmail` on the sender's identity (the address, or its domain when that is the
    /// verified identity) and only with that address as the From.
    fn send_email_statement(partition: &str, region: &str, account: &str, from: &str) -> Value {
        let domain = from.split_once('@').map_or("", |(_, d)| d);
        let identity =
            |name: &str| format!("arn:{partition}:ses:{region}:{account}:identity/{name}");
        json!({
            "Sid": "EmailTheOwnerFromTheServiceDesk",
            "Effect": "Allow",
            "Action": "ses:SendEmail",
            "Resource": [identity(from), identity(domain)],
            "Condition": {"StringEquals": {"ses:FromAddress": from}}
        })
    }

    /// IAM policy ARNs are deterministic: path and name under the account.
    pub fn arn(cx: &Cx, stack: &str) -> String {
        format!(
            "arn:{}:iam::{}:policy{PATH}{stack}-fulfillment",
            cx.partition, cx.account
        )
    }

    fn document(&self, cx: &Cx, key_arn: &str) -> Value {
        let (context_key, context_value) = crate::resources::encryption_context(&self.stack);
        let mut document = json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DecryptDirectorySecret",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key_arn,
                    "Condition": {"StringEquals": {format!("kms:EncryptionContext:{context_key}"): context_value}}
                },
                {
                    "Sid": "TextThePasswordToPhoneNumbers",
                    "Effect": "Allow",
                    "Action": "sns:Publish",
                    "Resource": "*"
                },
                {
                    "Sid": "NeverPublishToTopics",
                    "Effect": "Deny",
                    "Action": "sns:Publish",
                    "Resource": format!("arn:{}:sns:*:*:*", cx.partition)
                }
            ]
        });
        if self.function {
            // Instead of AWSLambdaBasicExecutionRole, which allows logs on every group.
            let statements = document["Statement"]
                .as_array_mut()
                .expect("the document has statements");
            statements.push(json!({
                "Sid": "CountFailedAttempts",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                "Resource": AttemptsTable::arn(cx, &self.stack)
            }));
            statements.push(json!({
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": format!("{}:*", LogGroup::arn(cx, &self.stack))
            }));
        }
        if let Some(from) = &self.email_from {
            let statements = document["Statement"]
                .as_array_mut()
                .expect("the document has statements");
            statements.push(Self::send_email_statement(
                &cx.partition,
                &cx.region,
                &cx.account,
                from,
            ));
        }
        document
    }

    fn desired_document(&self, cx: &Cx, inputs: &Outputs) -> Option<Value> {
        inputs
            .get("directory-key.arn")
            .map(|arn| self.document(cx, arn))
    }

    /// Deletes every version but the default one, so a new version always fits IAM's limit of five.
    async fn prune(&self, cx: &Cx, arn: &str) -> Result<(), ResourceError> {
        let versions = cx
            .iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .map_err(api("list versions of", KIND, arn))?;
        for v in versions.versions() {
            if v.is_default_version() {
                continue;
            }
            if let Some(id) = v.version_id() {
                let result = cx
                    .iam
                    .delete_policy_version()
                    .policy_arn(arn)
                    .version_id(id)
                    .send()
                    .await;
                tolerate(result, &["NoSuchEntity"]).map_err(api(
                    "delete an old version of",
                    KIND,
                    arn,
                ))?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for IamPolicy {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The policy; then its default version.
    fn read_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        format!("{}-fulfillment", self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec!["directory-key"]
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        let document = match self.desired_document(cx, inputs) {
            Some(d) => Prop::Known(d),
            None => match input(inputs, "directory-key.arn") {
                Prop::Known(_) => unreachable!("known key ARN gives a document"),
                Prop::Unknown => Prop::Unknown,
            },
        };
        Props::from([
            ("document", document),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let arn = Self::arn(cx, &self.stack);
        let found = tolerate(
            cx.iam.get_policy().policy_arn(&arn).send().await,
            &["NoSuchEntity"],
        )
        .map_err(api("read", KIND, &self.name()))?;
        let Some(policy) = found.as_ref().and_then(|f| f.policy()) else {
            return Ok(None);
        };
        let version = policy.default_version_id().unwrap_or("v1");
        let document = cx
            .iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(version)
            .send()
            .await
            .map_err(api("read the document of", KIND, &self.name()))?
            .policy_version()
            .and_then(|v| v.document())
            .map_or(Value::Null, decode_policy);
        let tags: BTreeMap<String, String> = policy
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        Ok(Some(Live {
            physical_id: arn.clone(),
            props: BTreeMap::from([("document", document), ("tags", tags_value(&tags))]),
            outputs: BTreeMap::from([("arn".to_string(), arn)]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let document = self.desired_document(cx, inputs).ok_or_else(|| {
            crate::resources::other("the policy needs the KMS key, which does not exist")
        })?;
        cx.iam
            .create_policy()
            .policy_name(self.name())
            .path(PATH)
            .description(format!(
                "resetpw stack {}: least privilege for the fulfillment Lambda",
                self.stack
            ))
            .policy_document(document.to_string())
            .set_tags(Some(iam_tags(cx.tags_for(ID))))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        Ok(BTreeMap::from([(
            "arn".to_string(),
            Self::arn(cx, &self.stack),
        )]))
    }

    /// A new document becomes a new default version; older versions are pruned. The role keeps
    /// its attachment throughout.
    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let arn = &live.physical_id;
        for change in changes {
            match change.field {
                "document" => {
                    let document = self.desired_document(cx, inputs).ok_or_else(|| {
                        crate::resources::other(
                            "the policy needs the KMS key, which does not exist",
                        )
                    })?;
                    self.prune(cx, arn).await?;
                    cx.iam
                        .create_policy_version()
                        .policy_arn(arn)
                        .policy_document(document.to_string())
                        .set_as_default(true)
                        .send()
                        .await
                        .map_err(api("update the document of", KIND, arn))?;
                    self.prune(cx, arn).await?;
                }
                "tags" => {
                    let (set, remove) = tag_delta(&cx.tags_for(ID), &live_tags(live));
                    if !set.is_empty() {
                        cx.iam
                            .tag_policy()
                            .policy_arn(arn)
                            .set_tags(Some(iam_tags(set)))
                            .send()
                            .await
                            .map_err(api("tag", KIND, arn))?;
                    }
                    if !remove.is_empty() {
                        cx.iam
                            .untag_policy()
                            .policy_arn(arn)
                            .set_tag_keys(Some(remove))
                            .send()
                            .await
                            .map_err(api("untag", KIND, arn))?;
                    }
                }
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let arn = &live.physical_id;
        let exists = tolerate(
            cx.iam.get_policy().policy_arn(arn).send().await,
            &["NoSuchEntity"],
        )
        .map_err(api("read", KIND, arn))?;
        if exists.is_none() {
            return Ok(());
        }
        self.prune(cx, arn).await?;
        let result = cx.iam.delete_policy().policy_arn(arn).send().await;
        tolerate(result, &["NoSuchEntity"]).map_err(api("delete", KIND, arn))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_allowed_from_the_configured_address_on_its_identities_only() {
        let s = IamPolicy::send_email_statement(
            "aws",
            "eu-west-2",
            "123456789012",
            "desk@corp.example.com",
        );
        assert_eq!(s["Action"], "ses:SendEmail");
        assert_eq!(
            s["Resource"],
            json!([
                "arn:aws:ses:eu-west-2:123456789012:identity/desk@corp.example.com",
                "arn:aws:ses:eu-west-2:123456789012:identity/corp.example.com"
            ])
        );
        assert_eq!(
            s["Condition"],
            json!({"StringEquals": {"ses:FromAddress": "desk@corp.example.com"}})
        );
    }
}
