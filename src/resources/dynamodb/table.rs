//! The attempts table: failed verifications per user ID, counted by the fulfillment Lambda with
//! conditional writes and expired by DynamoDB's TTL. Partition key `pk` (String), on-demand
//! billing, server-side encryption, TTL on `expires_at`.

use crate::aws::{ApiError, Cx};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{adopt_when_owned, api, apply_tag_delta, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    SseSpecification, TableStatus, Tag, TimeToLiveSpecification, TimeToLiveStatus,
};
use serde_json::json;
use std::collections::BTreeMap;

pub const ID: &str = "attempts-table";
const KIND: &str = "dynamodb-table";
/// The partition key the Lambda writes (`RESETPW_ATTEMPTS_TABLE` in lambda/README.md).
const PARTITION_KEY: &str = "pk";
/// The TTL attribute the Lambda sets on every item.
const TTL_ATTRIBUTE: &str = "expires_at";
const GONE: &[&str] = &["ResourceNotFoundException"];

pub struct AttemptsTable {
    stack: String,
}

impl AttemptsTable {
    pub fn new(stack: &str) -> Self {
        AttemptsTable {
            stack: stack.into(),
        }
    }

    pub fn table_name(stack: &str) -> String {
        format!("{stack}-attempts")
    }

    /// Table ARNs are deterministic, so the role's policy can name the table before it exists.
    pub fn arn(cx: &Cx, stack: &str) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            cx.partition,
            cx.region,
            cx.account,
            Self::table_name(stack)
        )
    }

    async fn tags_of(&self, cx: &Cx, arn: &str) -> Result<BTreeMap<String, String>, ResourceError> {
        let mut tags = BTreeMap::new();
        let mut token = None;
        loop {
            let page = cx
                .dynamodb
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(token)
                .send()
                .await
                .map_err(api("read tags of", KIND, &self.name()))?;
            tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(tags);
            }
        }
    }

    /// The table's status, `None` when it does not exist.
    async fn status(cx: &Cx, name: &str) -> Result<Option<TableStatus>, ApiError> {
        let found = tolerate(
            cx.dynamodb.describe_table().table_name(name).send().await,
            GONE,
        )?;
        Ok(found.and_then(|f| f.table().and_then(|t| t.table_status().cloned())))
    }

    /// Waits until the table is ACTIVE (`gone: false`) or no longer exists (`gone: true`).
    async fn wait(&self, cx: &Cx, gone: bool) -> Result<(), ResourceError> {
        let name = self.name();
        let line = format!("{KIND} {name}");
        let what = if gone {
            "the attempts table to be deleted"
        } else {
            "the attempts table to become ACTIVE"
        };
        wait_until(
            what,
            cx.timeout,
            Backoff::default(),
            "run the same command again, with a longer --timeout if needed",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || {
                let name = name.clone();
                async move {
                    let status = Self::status(cx, &name).await?;
                    Ok::<_, ApiError>(match (status, gone) {
                        (None, true) => Poll::Ready(()),
                        (Some(TableStatus::Active), false) => Poll::Ready(()),
                        (None, false) => Poll::Failed("it disappeared".into()),
                        (Some(s), _) => Poll::Pending(s.as_str().to_string()),
                    })
                }
            },
        )
        .await?;
        Ok(())
    }

    async fn set_ttl(&self, cx: &Cx) -> Result<(), ResourceError> {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(crate::resources::other)?;
        let result = cx
            .dynamodb
            .update_time_to_live()
            .table_name(self.name())
            .time_to_live_specification(spec)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // "TimeToLive is already enabled": a crashed earlier run got this far.
            Err(e) => {
                let e = ApiError::from(e);
                if e.is("ValidationException") && e.message.contains("already enabled") {
                    Ok(())
                } else {
                    Err(ResourceError::Api {
                        verb: "turn on the TTL of",
                        kind: KIND,
                        name: self.name(),
                        source: e,
                    })
                }
            }
        }
    }

    fn outputs(&self, arn: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("arn".to_string(), arn.to_string()),
            ("name".to_string(), self.name()),
        ])
    }
}

fn dynamo_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

#[async_trait]
impl Resource for AttemptsTable {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The table; then its TTL and tags at once.
    fn read_rounds(&self) -> usize {
        2
    }
    /// Create; wait until active; then TTL.
    fn create_rounds(&self) -> usize {
        3
    }
    fn name(&self) -> String {
        Self::table_name(&self.stack)
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["key_schema"]
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([
            ("key_schema", Prop::Known(json!({PARTITION_KEY: "S"}))),
            ("billing_mode", Prop::Known(json!("PAY_PER_REQUEST"))),
            ("server_side_encryption", Prop::Known(json!(true))),
            ("ttl_attribute", Prop::Known(json!(TTL_ATTRIBUTE))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let found = tolerate(
            cx.dynamodb.describe_table().table_name(&name).send().await,
            GONE,
        )
        .map_err(api("read", KIND, &name))?;
        let Some(table) = found.as_ref().and_then(|f| f.table()) else {
            return Ok(None);
        };
        let arn = table.table_arn().unwrap_or_default().to_string();
        let types: BTreeMap<&str, &str> = table
            .attribute_definitions()
            .iter()
            .map(|a| (a.attribute_name(), a.attribute_type().as_str()))
            .collect();
        let key_schema: serde_json::Map<String, serde_json::Value> = table
            .key_schema()
            .iter()
            .map(|k| {
                let name = k.attribute_name();
                (
                    name.to_string(),
                    json!(types.get(name).copied().unwrap_or("?")),
                )
            })
            .collect();
        let billing = table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or("PROVISIONED", |b| b.as_str());
        let sse = table
            .sse_description()
            .and_then(|s| s.status())
            .is_some_and(|s| s.as_str() == "ENABLED" || s.as_str() == "ENABLING");
        let (ttl, tags) = futures::try_join!(
            async {
                cx.dynamodb
                    .describe_time_to_live()
                    .table_name(&name)
                    .send()
                    .await
                    .map_err(api("read the TTL of", KIND, &name))
            },
            self.tags_of(cx, &arn)
        )?;
        let ttl_attribute = ttl
            .time_to_live_description()
            .filter(|d| {
                matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
            })
            .and_then(|d| d.attribute_name())
            .map_or(serde_json::Value::Null, |a| json!(a));
        Ok(Some(Live {
            physical_id: name,
            props: BTreeMap::from([
                ("key_schema", serde_json::Value::Object(key_schema)),
                ("billing_mode", json!(billing)),
                ("server_side_encryption", json!(sse)),
                ("ttl_attribute", ttl_attribute),
                ("tags", tags_value(&tags)),
            ]),
            outputs: self.outputs(&arn),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let name = self.name();
        let attribute = AttributeDefinition::builder()
            .attribute_name(PARTITION_KEY)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(crate::resources::other)?;
        let key = KeySchemaElement::builder()
            .attribute_name(PARTITION_KEY)
            .key_type(KeyType::Hash)
            .build()
            .map_err(crate::resources::other)?;
        let result = cx
            .dynamodb
            .create_table()
            .table_name(&name)
            .attribute_definitions(attribute)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .set_tags(Some(dynamo_tags(cx.tags_for(ID))))
            .send()
            .await;
        // A table of this name that appeared since the plan (a crashed run's create still
        // finishing) is only taken over when it carries this stack's tags.
        if let Err(e) = result {
            let arn = Self::arn(cx, &self.stack);
            let owned = async { Ok(cx.owns(&self.tags_of(cx, &arn).await?).then_some(())) };
            let exists = &["ResourceInUseException"];
            adopt_when_owned(cx, e.into(), exists, (KIND, &name), owned).await?;
        }
        self.wait(cx, false).await?;
        self.set_ttl(cx).await?;
        Ok(self.outputs(&Self::arn(cx, &self.stack)))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let name = self.name();
        let arn = live.outputs.get("arn").cloned().unwrap_or_default();
        let mut update = cx.dynamodb.update_table().table_name(&name);
        let mut table_changed = false;
        for change in changes {
            match change.field {
                "billing_mode" => {
                    update = update.billing_mode(BillingMode::PayPerRequest);
                    table_changed = true;
                }
                "server_side_encryption" => {
                    update =
                        update.sse_specification(SseSpecification::builder().enabled(true).build());
                    table_changed = true;
                }
                _ => {}
            }
        }
        if table_changed {
            update.send().await.map_err(api("update", KIND, &name))?;
            self.wait(cx, false).await?;
        }
        for change in changes {
            match change.field {
                "ttl_attribute" => self.set_ttl(cx).await?,
                "tags" => {
                    apply_tag_delta(
                        cx,
                        ID,
                        live,
                        (KIND, &name),
                        |set| async {
                            cx.dynamodb
                                .tag_resource()
                                .resource_arn(&arn)
                                .set_tags(Some(dynamo_tags(set)))
                                .send()
                                .await
                                .map(drop)
                                .map_err(ApiError::from)
                        },
                        |remove| async {
                            cx.dynamodb
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
            .dynamodb
            .delete_table()
            .table_name(&live.physical_id)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("delete", KIND, &live.physical_id))?;
        // A replacement creates the same name again, which DynamoDB refuses while DELETING.
        self.wait(cx, true).await
    }
}
