//! The directory service account's password, encrypted with the stack's KMS key under an
//! encryption context naming the stack, kept as an SSM parameter (`String`: the value is already
//! ciphertext) at `/resetpw/<stack>/directory-secret`, where the fulfillment Lambda's
//! configuration reads it from. The plaintext exists only in memory during `up` and `diff`.

use crate::aws::Cx;
use crate::engine::{
    diff_props, input, Action, Change, Live, Outputs, Prop, Props, Resource, ResourceError, Shown,
};
use crate::resources::{api, live_tags, other, tag_delta, tags_value, tolerate};
use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};
use base64::Engine;
use secrecy::ExposeSecret;
use serde_json::json;
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

const ID: &str = "directory-secret";
const KIND: &str = "ssm-parameter";

pub fn parameter_name(stack: &str) -> String {
    format!("/resetpw/{stack}/directory-secret")
}

/// The encryption context the secret is bound to; the Lambda decrypts with the same.
pub fn encryption_context(stack: &str) -> (String, String) {
    ("resetpw:stack".to_string(), stack.to_string())
}

pub struct DirectorySecret {
    stack: String,
}

impl DirectorySecret {
    pub fn new(stack: &str) -> Self {
        DirectorySecret {
            stack: stack.into(),
        }
    }

    fn description(&self) -> String {
        format!(
            "resetpw stack {}: directory service account password, KMS ciphertext (base64) under alias/{}-directory",
            self.stack, self.stack
        )
    }

    /// The parameter's tags; `None` when it does not exist.
    async fn tags_of(&self, cx: &Cx) -> Result<Option<BTreeMap<String, String>>, ResourceError> {
        let out = tolerate(
            cx.ssm
                .list_tags_for_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(self.name())
                .send()
                .await,
            &["InvalidResourceId"],
        )
        .map_err(api("read tags of", KIND, &self.name()))?;
        Ok(out.map(|out| {
            out.tag_list()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        }))
    }

    /// What decrypting the live ciphertext says, as `{"key": <key id>, "same": <bool>}`: the key
    /// that encrypted it (null when it cannot be decrypted) and whether the plaintext is the
    /// password this run was given (null when it was given none). Only answers that mean "this
    /// ciphertext cannot be decrypted here" count as such; any other failure (throttling, an
    /// outage) fails the plan rather than planning a rewrite.
    async fn decrypted(&self, cx: &Cx, live: &Live) -> Result<serde_json::Value, ResourceError> {
        let ciphertext = live
            .props
            .get("ciphertext")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let blob = base64::engine::general_purpose::STANDARD
            .decode(ciphertext)
            .unwrap_or_default();
        let (k, v) = encryption_context(&self.stack);
        let decrypted = tolerate(
            cx.kms
                .decrypt()
                .ciphertext_blob(Blob::new(blob))
                .encryption_context(k, v)
                .send()
                .await,
            &[
                "InvalidCiphertextException",
                "IncorrectKeyException",
                "NotFoundException",
                "AccessDeniedException",
                "DisabledException",
                "KMSInvalidStateException",
                "ValidationException",
            ],
        )
        .map_err(api("decrypt", KIND, &self.name()))?;
        let key = decrypted
            .as_ref()
            .and_then(|out| out.key_id().map(str::to_string));
        let same = cx.secret.as_ref().map(|secret| {
            decrypted
                .as_ref()
                .and_then(|out| out.plaintext())
                .is_some_and(|p| bool::from(p.as_ref().ct_eq(secret.expose_secret().as_bytes())))
        });
        Ok(json!({"key": key, "same": same}))
    }

    /// Encrypts the password this run was given; it must have been given one.
    async fn ciphertext(&self, cx: &Cx, inputs: &Outputs) -> Result<String, ResourceError> {
        let secret = cx.secret.as_ref().ok_or_else(|| {
            other(format!(
                "the directory service account password is needed to write {}: set {} or pass --secret-stdin",
                self.name(),
                cx.secret_source
            ))
        })?;
        let key = inputs
            .get("directory-key.arn")
            .ok_or_else(|| other("the secret needs the KMS key, which does not exist"))?;
        let (k, v) = encryption_context(&self.stack);
        let out = cx
            .kms
            .encrypt()
            .key_id(key)
            .plaintext(Blob::new(secret.expose_secret().as_bytes()))
            .encryption_context(k, v)
            .send()
            .await
            .map_err(api("encrypt the password for", KIND, &self.name()))?;
        let blob = out
            .ciphertext_blob()
            .ok_or_else(|| other("KMS returned no ciphertext"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
    }

    /// Writes the parameter; new ones get their tags in the same call.
    async fn put(
        &self,
        cx: &Cx,
        value: String,
        overwrite: bool,
    ) -> Result<(), crate::aws::ApiError> {
        let mut request = cx
            .ssm
            .put_parameter()
            .name(self.name())
            .description(self.description())
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(overwrite);
        if !overwrite {
            request = request.set_tags(Some(ssm_tags(cx.tags_for(ID))));
        }
        request.send().await?;
        Ok(())
    }

    /// Its name, and the ciphertext for the function's environment (KMS ciphertext, not the
    /// password; never printed: see `engine::SENSITIVE_OUTPUTS`).
    fn outputs(&self, ciphertext: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("name".to_string(), self.name()),
            ("ciphertext".to_string(), ciphertext.to_string()),
        ])
    }
}

#[async_trait]
impl Resource for DirectorySecret {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The parameter and its tags at once; then the decrypt.
    fn read_rounds(&self) -> usize {
        2
    }
    /// Encrypt; then put.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        parameter_name(&self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec!["directory-key"]
    }
    fn outputs_changed_by(&self, changes: &[Change]) -> Vec<&'static str> {
        if rewrites(changes) {
            vec!["ciphertext"]
        } else {
            Vec::new()
        }
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            ("key", input(inputs, "directory-key.arn")),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    /// Writing the ciphertext needs the password; changing only tags does not.
    fn apply_blocker(
        &self,
        cx: &Cx,
        action: Action,
        changes: &[Change],
        _live: Option<&Live>,
    ) -> Option<String> {
        let writes = match action {
            Action::Create | Action::Replace => true,
            Action::Update => changes
                .iter()
                .any(|c| c.field == "key" || c.field == "password"),
            Action::None | Action::Delete => false,
        };
        (writes && cx.secret.is_none()).then(|| {
            format!(
                "it must be written but no password was given: set {} or pass --secret-stdin",
                cx.secret_source
            )
        })
    }

    fn notes(&self, cx: &Cx) -> Vec<String> {
        if cx.secret.is_none() {
            vec![format!(
                "password not compared: {} is not set (pass it, or --secret-stdin, to check it)",
                cx.secret_source
            )]
        } else {
            Vec::new()
        }
    }

    fn preview(&self, cx: &Cx, inputs: &Outputs) -> Vec<Change> {
        let mut changes = vec![Change {
            field: "password",
            old: Shown::Absent,
            new: Shown::Sensitive,
            replace: false,
        }];
        changes.extend(
            self.desired(cx, inputs)
                .into_iter()
                .map(|(field, p)| Change {
                    field,
                    old: Shown::Absent,
                    new: match p {
                        Prop::Known(v) => Shown::Value(v),
                        Prop::Unknown => Shown::Unknown,
                    },
                    replace: false,
                }),
        );
        changes
    }

    /// The decrypt, as soon as the parameter is found (it needs only the ciphertext).
    async fn read_for_diff(&self, cx: &Cx, mut live: Live) -> Result<Live, ResourceError> {
        let decrypted = self.decrypted(cx, &live).await?;
        live.props.insert("decrypted", decrypted);
        Ok(live)
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let found = async {
            tolerate(
                cx.ssm.get_parameter().name(self.name()).send().await,
                &["ParameterNotFound"],
            )
            .map_err(api("read", KIND, &self.name()))
        };
        // The tags by name, at once with the parameter.
        let (found, tags) = tokio::try_join!(found, self.tags_of(cx))?;
        let Some(param) = found.as_ref().and_then(|f| f.parameter()) else {
            return Ok(None);
        };
        let ciphertext = param.value().unwrap_or_default().to_string();
        let tags = tags.unwrap_or_default();
        // Which key encrypted it is read from KMS itself when diffing; here it is the ciphertext.
        Ok(Some(Live {
            physical_id: self.name(),
            props: BTreeMap::from([
                ("tags", tags_value(&tags)),
                ("ciphertext", json!(ciphertext)),
            ]),
            outputs: self.outputs(&ciphertext),
            owned: cx.owns(&tags),
        }))
    }

    /// Tags compare as usual. The password is compared by decrypting the live ciphertext and
    /// comparing in memory, in constant time; the key by what KMS says encrypted it.
    async fn diff(
        &self,
        cx: &Cx,
        live: &Live,
        inputs: &Outputs,
    ) -> Result<Vec<Change>, ResourceError> {
        let desired = self.desired(cx, inputs);
        let tags_only: Props = desired
            .iter()
            .filter(|(f, _)| **f == "tags")
            .map(|(f, p)| (*f, p.clone()))
            .collect();
        let mut changes = diff_props(&tags_only, &live.props, &[]);
        let decrypted = match live.props.get("decrypted") {
            Some(d) => d.clone(),
            None => self.decrypted(cx, live).await?,
        };
        let live_key = decrypted["key"].as_str().map(str::to_string);
        let key_change = match (desired.get("key"), &live_key) {
            (Some(Prop::Known(want)), Some(have)) if want.as_str() == Some(have.as_str()) => None,
            (Some(Prop::Known(want)), have) => {
                Some(Shown::Value(want.clone())).map(|new| (new, have.clone()))
            }
            (_, have) => Some((Shown::Unknown, have.clone())),
        };
        if let Some((new, have)) = key_change {
            changes.push(Change {
                field: "key",
                old: have.map_or(Shown::Value(json!("(cannot decrypt)")), |h| {
                    Shown::Value(json!(h))
                }),
                new,
                replace: false,
            });
        }
        if decrypted["same"] == json!(false) {
            changes.push(Change {
                field: "password",
                old: Shown::Sensitive,
                new: Shown::Sensitive,
                replace: false,
            });
        }
        Ok(changes)
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let value = self.ciphertext(cx, inputs).await?;
        let created = tolerate(
            self.put(cx, value.clone(), false).await,
            &["ParameterAlreadyExists"],
        )
        .map_err(api("create", KIND, &self.name()))?;
        if created.is_none() {
            self.put(cx, value.clone(), true)
                .await
                .map_err(api("write", KIND, &self.name()))?;
        }
        Ok(self.outputs(&value))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let mut outputs = live.outputs.clone();
        if rewrites(changes) {
            let value = self.ciphertext(cx, inputs).await?;
            self.put(cx, value.clone(), true)
                .await
                .map_err(api("write", KIND, &self.name()))?;
            outputs = self.outputs(&value);
        }
        if changes.iter().any(|c| c.field == "tags") {
            let (set, remove) = tag_delta(&cx.tags_for(ID), &live_tags(live));
            if !set.is_empty() {
                cx.ssm
                    .add_tags_to_resource()
                    .resource_type(ResourceTypeForTagging::Parameter)
                    .resource_id(self.name())
                    .set_tags(Some(ssm_tags(set)))
                    .send()
                    .await
                    .map_err(api("tag", KIND, &self.name()))?;
            }
            if !remove.is_empty() {
                cx.ssm
                    .remove_tags_from_resource()
                    .resource_type(ResourceTypeForTagging::Parameter)
                    .resource_id(self.name())
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(api("untag", KIND, &self.name()))?;
            }
        }
        Ok(outputs)
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .ssm
            .delete_parameter()
            .name(&live.physical_id)
            .send()
            .await;
        tolerate(result, &["ParameterNotFound"]).map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}

/// Whether these changes write a new ciphertext (and so change the `ciphertext` output).
fn rewrites(changes: &[Change]) -> bool {
    changes
        .iter()
        .any(|c| c.field == "password" || c.field == "key")
}

fn ssm_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}
