//! The bot's IAM role `<stack>-bot`: Lex V2 assumes it (only for this account) to synthesize
//! speech with Polly. A plain role rather than Lex's service-linked one, so it carries the
//! ownership tags and `down` removes it.

use super::role::{delete_role, role_tags};
use super::{iam_tags, PATH};
use crate::aws::Cx;
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, decode_policy, live_tags, tag_delta, tags_value, tolerate};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const ID: &str = "bot-role";
const KIND: &str = "iam-role";
/// The inline policy's name.
const POLICY: &str = "polly-speech";

pub struct BotRole {
    stack: String,
}

impl BotRole {
    pub fn new(stack: &str) -> Self {
        BotRole {
            stack: stack.into(),
        }
    }

    pub fn role_name(stack: &str) -> String {
        format!("{stack}-bot")
    }

    fn trust_policy(cx: &Cx) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "lexv2.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": cx.account}}
            }]
        })
    }

    fn policy() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": "polly:SynthesizeSpeech",
                "Resource": "*"
            }]
        })
    }

    fn description(&self) -> String {
        format!(
            "resetpw stack {}: lets the Lex V2 bot synthesize speech",
            self.stack
        )
    }

    async fn put_policy(&self, cx: &Cx) -> Result<(), ResourceError> {
        cx.iam
            .put_role_policy()
            .role_name(self.name())
            .policy_name(POLICY)
            .policy_document(Self::policy().to_string())
            .send()
            .await
            .map_err(api("set the speech policy of", KIND, &self.name()))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for BotRole {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
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
            ("trust_policy", Prop::Known(Self::trust_policy(cx))),
            ("policy", Prop::Known(Self::policy())),
            ("description", Prop::Known(json!(self.description()))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
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
        let tags = role_tags(cx, &name).await?;
        let policy = tolerate(
            cx.iam
                .get_role_policy()
                .role_name(&name)
                .policy_name(POLICY)
                .send()
                .await,
            &["NoSuchEntity"],
        )
        .map_err(api("read the speech policy of", KIND, &name))?
        .map_or(Value::Null, |p| decode_policy(p.policy_document()));
        Ok(Some(Live {
            physical_id: role.role_name().to_string(),
            props: BTreeMap::from([
                ("path", json!(role.path())),
                (
                    "trust_policy",
                    role.assume_role_policy_document()
                        .map_or(Value::Null, decode_policy),
                ),
                ("policy", policy),
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
            .assume_role_policy_document(Self::trust_policy(cx).to_string())
            .description(self.description())
            .set_tags(Some(iam_tags(cx.tags_for(ID))))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        self.put_policy(cx).await?;
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
                        .policy_document(Self::trust_policy(cx).to_string())
                        .send()
                        .await
                        .map_err(api("update the trust policy of", KIND, &name))?;
                }
                "policy" => self.put_policy(cx).await?,
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
                    let (set, remove) = tag_delta(&cx.tags_for(ID), &live_tags(live));
                    if !set.is_empty() {
                        cx.iam
                            .tag_role()
                            .role_name(&name)
                            .set_tags(Some(iam_tags(set)))
                            .send()
                            .await
                            .map_err(api("tag", KIND, &name))?;
                    }
                    if !remove.is_empty() {
                        cx.iam
                            .untag_role()
                            .role_name(&name)
                            .set_tag_keys(Some(remove))
                            .send()
                            .await
                            .map_err(api("untag", KIND, &name))?;
                    }
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
