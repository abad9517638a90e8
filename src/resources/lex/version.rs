//! The bot's numbered versions. The resource is the newest one: its definition (read back
//! and normalized like the DRAFT's) is compared with the stack's, so a new version is made
//! only when the built DRAFT differs from it — never for timestamps. The 3 newest versions
//! are kept; older ones that no alias serves are deleted.
//!
//! Comparing with the newest version rather than the alias's: after a run killed between
//! CreateBotVersion and the alias update, the next run finds the version it made and only
//! moves the alias, instead of making another identical one. That version may still be
//! `Creating` when the next `up` or `diff` reads it (Lex makes versions asynchronously): the
//! read waits until it settles (within `--timeout`, with a progress line saying so), then
//! compares an `Available` one as usual; one that ended `Failed` counts as holding nothing,
//! so a new version is made.

use super::{
    aliases, desired_definition, intent_fields, read_definition, versions, versions_with_status,
    with_bot, Definition, Spec, DRAFT, GONE, INTENTS, KEEP_VERSIONS,
};
use crate::aws::{ApiError, Cx};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_lexmodelsv2::types::BotVersionLocaleDetails;
use serde_json::json;
use std::collections::BTreeMap;

pub const ID: &str = "bot-version";
const KIND: &str = "lex-bot-version";
/// The field listing versions to delete.
const PRUNE: &str = "old_versions";

pub struct BotVersion {
    stack: String,
    spec: Option<Spec>,
}

/// Versions to delete: all but the `KEEP_VERSIONS` newest, except those an alias serves.
pub fn to_prune(versions: &[u64], served: &[String]) -> Vec<u64> {
    let cut = versions.len().saturating_sub(KEEP_VERSIONS);
    versions[..cut]
        .iter()
        .copied()
        .filter(|v| !served.contains(&v.to_string()))
        .collect()
}

impl BotVersion {
    /// The versions the bot's aliases serve.
    async fn served(&self, cx: &Cx, bot_id: &str) -> Result<Vec<String>, ResourceError> {
        let aliases =
            aliases(cx, bot_id)
                .await
                .map_err(api("list the aliases of", KIND, &self.name()))?;
        Ok(aliases.into_iter().map(|a| a.2).collect())
    }

    pub fn new(stack: &str, spec: Option<Spec>) -> Self {
        BotVersion {
            stack: stack.into(),
            spec,
        }
    }

    fn locale(&self) -> &str {
        self.spec
            .as_ref()
            .map_or("en_US", |c| c.bot.locale.as_str())
    }

    fn outputs(version: u64) -> BTreeMap<String, String> {
        BTreeMap::from([("version".to_string(), version.to_string())])
    }

    /// Creates a version from the DRAFT and waits until it is Available.
    async fn create_version(&self, cx: &Cx, bot_id: &str) -> Result<u64, ResourceError> {
        let created = cx
            .lex
            .create_bot_version()
            .bot_id(bot_id)
            .description(format!("resetpw stack {}", self.stack))
            .bot_version_locale_specification(
                self.locale(),
                BotVersionLocaleDetails::builder()
                    .source_bot_version(DRAFT)
                    .build()
                    .map_err(other)?,
            )
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let number = created
            .bot_version()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| other("Lex answered CreateBotVersion without a version number"))?;
        wait_available(cx, bot_id, &number.to_string()).await?;
        Ok(number)
    }

    async fn prune(&self, cx: &Cx, bot_id: &str) -> Result<(), ResourceError> {
        let (all, served) = tokio::join!(versions(cx, bot_id), self.served(cx, bot_id));
        let (all, served) = (all.map_err(api("list", KIND, &self.name()))?, served?);
        for v in to_prune(&all, &served) {
            let result = cx
                .lex
                .delete_bot_version()
                .bot_id(bot_id)
                .bot_version(v.to_string())
                .send()
                .await;
            tolerate(result, GONE).map_err(api("delete an old version of", KIND, &self.name()))?;
        }
        Ok(())
    }

    fn definition_changed(changes: &[Change]) -> bool {
        changes.iter().any(|c| c.field != PRUNE)
    }
}

/// Statuses of a version Lex is still working on.
const UNSETTLED: &[&str] = &["Creating", "Versioning", "Updating", "Importing"];

/// Polls until a version is no longer being made and gives its status (`Available`,
/// `Failed`, ...): the newest version a crashed run made may still be `Creating`.
pub async fn settled_status(cx: &Cx, bot_id: &str, version: &str) -> Result<String, ResourceError> {
    let status = wait_until(
        &format!("bot version {version} to be made"),
        cx.timeout,
        Backoff::default(),
        "Lex is still making the version: run the same command again",
        |state| {
            cx.progress.begin(
                ID,
                &format!("{KIND} {version}: waiting for the version a previous run made ({state})"),
            )
        },
        || async move {
            let v = cx
                .lex
                .describe_bot_version()
                .bot_id(bot_id)
                .bot_version(version)
                .send()
                .await
                .map_err(ApiError::from)?;
            let status = v.bot_status().map_or("unknown", |s| s.as_str()).to_string();
            Ok::<_, ApiError>(if UNSETTLED.contains(&status.as_str()) {
                Poll::Pending(status)
            } else {
                Poll::Ready(status)
            })
        },
    )
    .await?;
    Ok(status)
}

/// Polls until a version is Available (one a crashed run made may still be Creating).
pub async fn wait_available(cx: &Cx, bot_id: &str, version: &str) -> Result<(), ResourceError> {
    wait_until(
        &format!("bot version {version} to become Available"),
        cx.timeout,
        Backoff::default(),
        "Lex is still making the version: run the same command again",
        |state| {
            cx.progress
                .begin(ID, &format!("{KIND} {version}: waiting ({state})"))
        },
        || async move {
            let v = cx
                .lex
                .describe_bot_version()
                .bot_id(bot_id)
                .bot_version(version)
                .send()
                .await
                .map_err(ApiError::from)?;
            let status = v.bot_status().map_or("unknown", |s| s.as_str()).to_string();
            Ok::<_, ApiError>(match status.as_str() {
                "Available" => Poll::Ready(()),
                "Failed" | "Deleting" | "Inactive" => Poll::Failed(format!(
                    "the version is {status}: {}",
                    v.failure_reasons().join("; ")
                )),
                _ => Poll::Pending(status),
            })
        },
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Resource for BotVersion {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{} newest version", super::bot_name(&self.stack))
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![super::bot::ID, super::build::ID]
    }
    /// ListBots; then its tags, the versions and the aliases at once; then the newest
    /// version's definition (3, see `read_definition`). A version the listing shows still being
    /// made adds its wait.
    fn read_rounds(&self) -> usize {
        5
    }
    /// CreateBotVersion; then wait until Available.
    fn create_rounds(&self) -> usize {
        2
    }
    fn outputs_changed_by(&self, changes: &[Change]) -> Vec<&'static str> {
        if Self::definition_changed(changes) {
            vec!["version"]
        } else {
            Vec::new()
        }
    }

    /// The stack's definition (what the newest version must hold) and no versions to prune.
    fn desired(&self, _cx: &Cx, _inputs: &Outputs) -> Props {
        let Some(spec) = &self.spec else {
            return Props::new();
        };
        let mut props: Props = desired_definition(spec)
            .into_iter()
            .map(|(k, v)| (k, Prop::Known(v)))
            .collect();
        props.insert(PRUNE, Prop::Known(json!([])));
        props
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        // The versions and the aliases at once, beside the bot's tags.
        let listed = with_bot(cx, |id| async move {
            let (all, served) = tokio::join!(versions_with_status(cx, &id), self.served(cx, &id));
            Ok((all.map_err(api("list", KIND, &self.name()))?, served?))
        });
        let Some((bot, (all, served))) = listed.await? else {
            return Ok(None);
        };
        let Some((newest, listed_status)) = all.last().cloned() else {
            return Ok(None);
        };
        let all: Vec<u64> = all.into_iter().map(|(v, _)| v).collect();
        // A version still being made is read once it is; one that failed holds nothing. The
        // listing's status spares the poll when the version is already settled.
        let status = if listed_status.is_empty() || UNSETTLED.contains(&listed_status.as_str()) {
            settled_status(cx, &bot.id, &newest.to_string()).await?
        } else {
            listed_status
        };
        let defined: Definition = if status == "Available" {
            read_definition(cx, &bot.id, &newest.to_string(), self.locale())
                .await
                .map_err(api("read", KIND, &self.name()))?
                .map(|d| d.fields)
                .unwrap_or_default()
        } else {
            Definition::new()
        };
        let mut props = defined;
        for intent in INTENTS {
            props.remove(intent_fields(intent).other_slot);
        }
        props.insert(PRUNE, json!(to_prune(&all, &served)));
        Ok(Some(Live {
            physical_id: bot.id,
            props,
            outputs: Self::outputs(newest),
            owned: bot.owned,
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let bot_id = inputs
            .get("bot.id")
            .cloned()
            .ok_or_else(|| other("the bot does not exist yet; run `resetpw up` again"))?;
        let number = self.create_version(cx, &bot_id).await?;
        Ok(Self::outputs(number))
    }

    /// A new version when the definition differs, then the old ones pruned.
    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let bot_id = &live.physical_id;
        let mut outputs = live.outputs.clone();
        if Self::definition_changed(changes) {
            let number = self.create_version(cx, bot_id).await?;
            outputs = Self::outputs(number);
        }
        self.prune(cx, bot_id).await?;
        Ok(outputs)
    }

    /// Every numbered version (the alias is deleted before).
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let bot_id = &live.physical_id;
        let all = versions(cx, bot_id)
            .await
            .map_err(api("list", KIND, &self.name()))?;
        for v in all {
            let result = cx
                .lex
                .delete_bot_version()
                .bot_id(bot_id)
                .bot_version(v.to_string())
                .skip_resource_in_use_check(true)
                .send()
                .await;
            tolerate(result, GONE).map_err(api("delete", KIND, &self.name()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_newest_stay_and_served_ones_are_never_pruned() {
        assert_eq!(to_prune(&[1, 2, 3], &[]), Vec::<u64>::new());
        assert_eq!(to_prune(&[1, 2, 3, 4, 5], &["3".into()]), vec![1, 2]);
        assert_eq!(to_prune(&[1, 2, 3, 4, 5], &["1".into()]), vec![2]);
    }

    #[test]
    fn nothing_to_prune_is_an_empty_list() {
        assert_eq!(json!(to_prune(&[], &[])), serde_json::Value::Array(vec![]));
    }
}
