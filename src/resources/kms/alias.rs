//! The alias `alias/<stack>-directory`, the key's deterministic name.

use super::key::KmsKey;
use crate::aws::Cx;
use crate::engine::{input, Change, Live, Outputs, Props, Resource, ResourceError};
use crate::resources::{api, tolerate};
use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;

const ID: &str = "directory-key-alias";
const KIND: &str = "kms-alias";

pub struct KmsAlias {
    stack: String,
}

impl KmsAlias {
    pub fn new(stack: &str) -> Self {
        KmsAlias {
            stack: stack.into(),
        }
    }
}

#[async_trait]
impl Resource for KmsAlias {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The alias list; then the tags of the key it names.
    fn read_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        KmsKey::alias(&self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec!["directory-key"]
    }

    fn desired(&self, _cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([("target_key_id", input(inputs, "directory-key.key_id"))])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let mut aliases = cx.kms.list_aliases().into_paginator().items().send();
        while let Some(alias) = aliases.next().await {
            let alias = alias.map_err(api("list", KIND, &name))?;
            if alias.alias_name() != Some(name.as_str()) {
                continue;
            }
            let target = alias.target_key_id().unwrap_or_default().to_string();
            // The alias is ours when the key it names is ours, or when that key is gone.
            let owned = if target.is_empty() {
                true
            } else {
                match cx.kms.list_resource_tags().key_id(&target).send().await {
                    Ok(t) => t
                        .tags()
                        .iter()
                        .any(|t| t.tag_key() == crate::aws::STACK_TAG && t.tag_value() == cx.stack),
                    Err(_) => true,
                }
            };
            return Ok(Some(Live {
                physical_id: name.clone(),
                props: BTreeMap::from([("target_key_id", json!(target))]),
                outputs: BTreeMap::from([("name".to_string(), name)]),
                owned,
            }));
        }
        Ok(None)
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let name = self.name();
        let key = inputs.get("directory-key.key_id").ok_or_else(|| {
            crate::resources::other("the alias needs the key, which does not exist")
        })?;
        let result = cx
            .kms
            .create_alias()
            .alias_name(&name)
            .target_key_id(key)
            .send()
            .await;
        let created =
            tolerate(result, &["AlreadyExistsException"]).map_err(api("create", KIND, &name))?;
        if created.is_none() {
            cx.kms
                .update_alias()
                .alias_name(&name)
                .target_key_id(key)
                .send()
                .await
                .map_err(api("point", KIND, &name))?;
        }
        Ok(BTreeMap::from([("name".to_string(), name)]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let key = inputs.get("directory-key.key_id").ok_or_else(|| {
            crate::resources::other("the alias needs the key, which does not exist")
        })?;
        cx.kms
            .update_alias()
            .alias_name(&live.physical_id)
            .target_key_id(key)
            .send()
            .await
            .map_err(api("point", KIND, &live.physical_id))?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .kms
            .delete_alias()
            .alias_name(&live.physical_id)
            .send()
            .await;
        tolerate(result, &["NotFoundException"]).map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}
