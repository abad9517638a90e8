//! The log group `/aws/lambda/<stack>-fulfillment` with the stack's retention and tags.

use crate::aws::{ApiError, Cx};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{adopt_when_owned, api, apply_tag_delta, tags_value, tolerate};
use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;

pub const ID: &str = "log-group";
const KIND: &str = "logs-log-group";
const GONE: &[&str] = &["ResourceNotFoundException"];

pub struct LogGroup {
    stack: String,
    /// Retention in days; `None` when only observed and deleted (`down`).
    retention_days: Option<u32>,
}

impl LogGroup {
    pub fn new(stack: &str, retention_days: Option<u32>) -> Self {
        LogGroup {
            stack: stack.into(),
            retention_days,
        }
    }

    /// Lambda writes to `/aws/lambda/<function name>`.
    pub fn group_name(stack: &str) -> String {
        format!(
            "/aws/lambda/{}",
            crate::resources::lambda::function::function_name(stack)
        )
    }

    /// The ARN IAM policies use for the group's streams (`...:log-group:NAME:*`).
    pub fn arn(cx: &Cx, stack: &str) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            cx.partition,
            cx.region,
            cx.account,
            Self::group_name(stack)
        )
    }

    async fn tags_of(&self, cx: &Cx, arn: &str) -> Result<BTreeMap<String, String>, ResourceError> {
        let out = cx
            .logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(api("read tags of", KIND, &self.name()))?;
        Ok(out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    async fn put_retention(&self, cx: &Cx) -> Result<(), ResourceError> {
        let Some(days) = self.retention_days else {
            return Ok(());
        };
        cx.logs
            .put_retention_policy()
            .log_group_name(self.name())
            .retention_in_days(days as i32)
            .send()
            .await
            .map_err(api("set the retention of", KIND, &self.name()))?;
        Ok(())
    }

    fn outputs(&self, cx: &Cx) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("arn".to_string(), Self::arn(cx, &self.stack)),
            ("name".to_string(), self.name()),
        ])
    }
}

#[async_trait]
impl Resource for LogGroup {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The group; then its tags.
    fn read_rounds(&self) -> usize {
        2
    }
    /// Create; then its retention.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        Self::group_name(&self.stack)
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([
            ("retention_days", Prop::Known(json!(self.retention_days))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let found = cx
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&name)
            .send()
            .await
            .map_err(api("read", KIND, &name))?;
        let Some(group) = found
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name.as_str()))
        else {
            return Ok(None);
        };
        // The group's own ARN ends in `:*`; tagging APIs take it without.
        let arn = Self::arn(cx, &self.stack);
        let tags = self.tags_of(cx, &arn).await?;
        Ok(Some(Live {
            physical_id: name,
            props: BTreeMap::from([
                ("retention_days", json!(group.retention_in_days())),
                ("tags", tags_value(&tags)),
            ]),
            outputs: self.outputs(cx),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let name = self.name();
        let result = cx
            .logs
            .create_log_group()
            .log_group_name(&name)
            .set_tags(Some(cx.tags_for(ID).into_iter().collect()))
            .send()
            .await;
        if let Err(e) = result {
            // Made since the plan (a crashed run's call finishing): ours only with our tags.
            let arn = Self::arn(cx, &self.stack);
            let owned = async { Ok(cx.owns(&self.tags_of(cx, &arn).await?).then_some(())) };
            let exists = &["ResourceAlreadyExistsException"];
            adopt_when_owned(cx, e.into(), exists, (KIND, &name), owned).await?;
        }
        self.put_retention(cx).await?;
        Ok(self.outputs(cx))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let name = self.name();
        let arn = Self::arn(cx, &self.stack);
        for change in changes {
            match change.field {
                "retention_days" => self.put_retention(cx).await?,
                "tags" => {
                    apply_tag_delta(
                        cx,
                        ID,
                        live,
                        (KIND, &name),
                        |set| async {
                            cx.logs
                                .tag_resource()
                                .resource_arn(&arn)
                                .set_tags(Some(set.into_iter().collect()))
                                .send()
                                .await
                                .map(drop)
                                .map_err(ApiError::from)
                        },
                        |remove| async {
                            cx.logs
                                .untag_resource()
                                .resource_arn(&arn)
                                .set_tag_keys(Some(remove))
                                .send()
                                .await
                                .map(drop)
                                .map_err(ApiError::from)
                        },
                    )
                    .await?;
                }
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .logs
            .delete_log_group()
            .log_group_name(&live.physical_id)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}
