//! The KMS key that encrypts the directory service account's password.

use crate::aws::{Cx, RESOURCE_TAG, STACK_TAG};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, live_tags, other, tag_delta, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType, Tag};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const ID: &str = "directory-key";
const KIND: &str = "kms-key";

pub struct KmsKey {
    stack: String,
}

impl KmsKey {
    pub fn new(stack: &str) -> Self {
        KmsKey {
            stack: stack.into(),
        }
    }

    pub fn alias(stack: &str) -> String {
        format!("alias/{stack}-directory")
    }

    fn policy(&self, cx: &Cx) -> Value {
        json!({
            "Version": "2012-10-17",
            "Id": "resetpw-directory-key",
            "Statement": [{
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{}:iam::{}:root", cx.partition, cx.account)},
                "Action": "kms:*",
                "Resource": "*"
            }]
        })
    }

    /// The key's tags; `None` when we may not read them (other teams' keys, AWS-managed ones)
    /// or the key is gone.
    async fn tags_of(
        cx: &Cx,
        key_id: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ResourceError> {
        let out = tolerate(
            cx.kms
                .list_resource_tags()
                .key_id(key_id)
                .limit(50)
                .send()
                .await,
            &["AccessDeniedException", "NotFoundException"],
        )
        .map_err(api("read tags of", KIND, key_id))?;
        Ok(out.map(|out| {
            out.tags()
                .iter()
                .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
                .collect()
        }))
    }

    /// The key's metadata; `None` when we may not read it or it is gone.
    async fn describe(cx: &Cx, key_id: &str) -> Result<Option<KeyMetadata>, ResourceError> {
        let out = tolerate(
            cx.kms.describe_key().key_id(key_id).send().await,
            &["AccessDeniedException", "NotFoundException"],
        )
        .map_err(api("describe", KIND, key_id))?;
        Ok(out.and_then(|o| o.key_metadata().cloned()))
    }

    /// The key the alias names, when it is usable (not pending deletion).
    async fn by_alias(&self, cx: &Cx) -> Result<Option<KeyMetadata>, ResourceError> {
        let found = tolerate(
            cx.kms
                .describe_key()
                .key_id(Self::alias(&self.stack))
                .send()
                .await,
            &["NotFoundException"],
        )
        .map_err(api("look up", KIND, &self.name()))?;
        Ok(found
            .and_then(|out| out.key_metadata().cloned())
            .filter(|m| usable(m.key_state())))
    }

    /// Every key id in the account.
    async fn key_ids(&self, cx: &Cx) -> Result<Vec<String>, ResourceError> {
        let mut key_ids = Vec::new();
        let mut keys = cx.kms.list_keys().into_paginator().items().send();
        while let Some(entry) = keys.next().await {
            let entry = entry.map_err(api("list", KIND, &self.name()))?;
            key_ids.extend(entry.key_id().map(str::to_string));
        }
        Ok(key_ids)
    }

    /// A key tagged as ours, found among `key_ids` by its tags: after a crash between CreateKey
    /// and CreateAlias the key exists without its alias, and must be adopted rather than
    /// duplicated. Each key is described first (the state and who manages it, in one call), all
    /// at once: keys pending deletion, disabled or managed by AWS (what every `down` and other
    /// services leave) are passed over without reading their tags; the tags of the rest are then
    /// read, all at once. Keys we may not read or that vanished meanwhile are not ours; any other
    /// failure stops the scan, since guessing "not ours" would create a second key.
    async fn by_tags(
        &self,
        cx: &Cx,
        key_ids: Vec<String>,
    ) -> Result<Option<KeyMetadata>, ResourceError> {
        let candidates: Vec<KeyMetadata> = futures::stream::iter(key_ids)
            .map(|key_id| async move { Self::describe(cx, &key_id).await })
            .buffer_unordered(SCAN_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|m| {
                usable(m.key_state())
                    && m.key_state() != Some(&KeyState::Disabled)
                    && m.key_manager() != Some(&KeyManagerType::Aws)
            })
            .collect();
        let mut ours: Vec<KeyMetadata> = futures::stream::iter(candidates)
            .map(|meta| async move {
                let tags = Self::tags_of(cx, meta.key_id()).await?.unwrap_or_default();
                let ours = tags.get(STACK_TAG) == Some(&self.stack)
                    && tags.get(RESOURCE_TAG).map(String::as_str) == Some(ID);
                Ok::<_, ResourceError>(ours.then_some(meta))
            })
            .buffer_unordered(SCAN_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?;
        // Of several (crashes twice over), the same one every run: the oldest.
        ours.sort_by_key(|m| (m.creation_date().map(|d| d.secs()), m.key_id().to_string()));
        Ok(ours.into_iter().next())
    }
}

/// Keys read at once by the scan by tags.
const SCAN_CONCURRENCY: usize = 32;

fn usable(state: Option<&KeyState>) -> bool {
    !matches!(
        state,
        Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion | KeyState::Unavailable)
    )
}

#[async_trait]
impl Resource for KmsKey {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// DescribeKey by alias; then the policy and tags at once.
    fn read_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        format!("{}-directory", self.stack)
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["key_spec", "key_usage"]
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([
            ("description", Prop::Known(json!(description(&self.stack)))),
            ("key_spec", Prop::Known(json!("SYMMETRIC_DEFAULT"))),
            ("key_usage", Prop::Known(json!("ENCRYPT_DECRYPT"))),
            ("policy", Prop::Known(self.policy(cx))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        // The alias and the key list at once: the list is needed only when the alias is
        // missing (a fresh stack, or a crash before CreateAlias), and then costs no extra round.
        let (by_alias, key_ids) = tokio::join!(self.by_alias(cx), self.key_ids(cx));
        let meta = match by_alias? {
            Some(m) => m,
            None => match self.by_tags(cx, key_ids?).await? {
                Some(m) => m,
                None => return Ok(None),
            },
        };
        let key_id = meta.key_id().to_string();
        let policy = async {
            cx.kms
                .get_key_policy()
                .key_id(&key_id)
                .policy_name("default")
                .send()
                .await
                .map_err(api("read the policy of", KIND, &key_id))
        };
        let (policy, tags) = tokio::try_join!(policy, Self::tags_of(cx, &key_id))?;
        let policy: Value = policy
            .policy()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null);
        let tags = tags.unwrap_or_default();
        let arn = meta.arn().unwrap_or_default().to_string();
        Ok(Some(Live {
            physical_id: key_id.clone(),
            props: BTreeMap::from([
                ("description", json!(meta.description().unwrap_or_default())),
                (
                    "key_spec",
                    json!(meta.key_spec().map(|s| s.as_str()).unwrap_or_default()),
                ),
                (
                    "key_usage",
                    json!(meta.key_usage().map(|u| u.as_str()).unwrap_or_default()),
                ),
                ("policy", policy),
                ("tags", tags_value(&tags)),
            ]),
            outputs: BTreeMap::from([("key_id".to_string(), key_id), ("arn".to_string(), arn)]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let mut request = cx
            .kms
            .create_key()
            .description(description(&self.stack))
            .key_spec(KeySpec::SymmetricDefault)
            .key_usage(KeyUsageType::EncryptDecrypt)
            .policy(self.policy(cx).to_string());
        for (k, v) in cx.tags_for(ID) {
            request = request.tags(
                Tag::builder()
                    .tag_key(k)
                    .tag_value(v)
                    .build()
                    .map_err(other)?,
            );
        }
        let created = request
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let meta = created
            .key_metadata()
            .ok_or_else(|| other("KMS created a key but returned no metadata"))?;
        let key_id = meta.key_id().to_string();
        let arn = meta.arn().unwrap_or_default().to_string();
        if meta.key_state() == Some(&KeyState::Enabled) {
            // The create's answer says so already: no need to ask again.
            return Ok(BTreeMap::from([
                ("key_id".to_string(), key_id),
                ("arn".to_string(), arn),
            ]));
        }
        let id = key_id.clone();
        wait_until(
            "the KMS key to be enabled",
            cx.timeout,
            Backoff::default(),
            "run `resetpw up` again later",
            |state| {
                cx.progress.begin(
                    ID,
                    &format!(
                        "{KIND} {}: waiting for it to be enabled ({state})",
                        self.name()
                    ),
                )
            },
            || {
                let id = id.clone();
                async move {
                    let d = cx
                        .kms
                        .describe_key()
                        .key_id(&id)
                        .send()
                        .await
                        .map_err(crate::aws::ApiError::from)?;
                    Ok::<_, crate::aws::ApiError>(
                        match d.key_metadata().and_then(|m| m.key_state()) {
                            Some(KeyState::Enabled) => Poll::Ready(()),
                            Some(KeyState::Creating) | None => Poll::Pending("creating".into()),
                            Some(other) => Poll::Failed(format!("the key is {}", other.as_str())),
                        },
                    )
                }
            },
        )
        .await?;
        Ok(BTreeMap::from([
            ("key_id".to_string(), key_id),
            ("arn".to_string(), arn),
        ]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let key_id = &live.physical_id;
        for change in changes {
            match change.field {
                "description" => {
                    cx.kms
                        .update_key_description()
                        .key_id(key_id)
                        .description(description(&self.stack))
                        .send()
                        .await
                        .map_err(api("update the description of", KIND, key_id))?;
                }
                "policy" => {
                    cx.kms
                        .put_key_policy()
                        .key_id(key_id)
                        .policy_name("default")
                        .policy(self.policy(cx).to_string())
                        .send()
                        .await
                        .map_err(api("update the policy of", KIND, key_id))?;
                }
                "tags" => {
                    let (set, remove) = tag_delta(&cx.tags_for(ID), &live_tags(live));
                    if !set.is_empty() {
                        let mut request = cx.kms.tag_resource().key_id(key_id);
                        for (k, v) in set {
                            request = request.tags(
                                Tag::builder()
                                    .tag_key(k)
                                    .tag_value(v)
                                    .build()
                                    .map_err(other)?,
                            );
                        }
                        request.send().await.map_err(api("tag", KIND, key_id))?;
                    }
                    if !remove.is_empty() {
                        cx.kms
                            .untag_resource()
                            .key_id(key_id)
                            .set_tag_keys(Some(remove))
                            .send()
                            .await
                            .map_err(api("untag", KIND, key_id))?;
                    }
                }
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .kms
            .schedule_key_deletion()
            .key_id(&live.physical_id)
            .pending_window_in_days(7)
            .send()
            .await;
        // Already gone, or already pending deletion.
        tolerate(result, &["NotFoundException", "KMSInvalidStateException"]).map_err(api(
            "schedule deletion of",
            KIND,
            &live.physical_id,
        ))?;
        Ok(())
    }
}

fn description(stack: &str) -> String {
    format!("resetpw stack {stack}: encrypts the directory service account password")
}
