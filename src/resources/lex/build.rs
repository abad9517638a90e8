//! The build of the DRAFT locale: BuildBotLocale whenever the locale is not `Built` (Lex sets
//! it back to `NotBuilt` on any change of the definition), then a wait for `Built`. A `Failed`
//! build stops the run with Lex's failure reasons; nothing after it moves (the version and the
//! alias stay as they were), and the next `up` builds again.

use super::{with_bot, DRAFT, GONE};
use crate::aws::{ApiError, Cx};
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError, Shown};
use crate::resources::{api, other, tolerate};
use crate::wait::{wait_until, Backoff, Poll, WaitError};
use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;

pub const ID: &str = "bot-build";
const KIND: &str = "lex-bot-build";
const BUILT: &str = "Built";

pub struct BotBuild {
    stack: String,
    locale: String,
}

impl BotBuild {
    pub fn new(stack: &str, locale: Option<&str>) -> Self {
        BotBuild {
            stack: stack.into(),
            locale: locale.unwrap_or("en_US").into(),
        }
    }

    /// The DRAFT locale's status now, with its failure reasons.
    async fn status(
        &self,
        cx: &Cx,
        bot_id: &str,
    ) -> Result<Option<(String, Vec<String>)>, ApiError> {
        let l = tolerate(
            cx.lex
                .describe_bot_locale()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(&self.locale)
                .send()
                .await,
            GONE,
        )?;
        Ok(l.map(|l| {
            (
                l.bot_locale_status()
                    .map_or("unknown", |s| s.as_str())
                    .to_string(),
                l.failure_reasons().to_vec(),
            )
        }))
    }

    /// Starts a build unless one is running (a crashed run's), then waits for its end.
    async fn build(
        &self,
        cx: &Cx,
        bot_id: &str,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let running = matches!(
            self.status(cx, bot_id).await.map_err(api("read", KIND, &self.name()))?,
            Some((s, _)) if s == "Building" || s == "ReadyExpressTesting"
        );
        if !running {
            cx.lex
                .build_bot_locale()
                .bot_id(bot_id)
                .bot_version(DRAFT)
                .locale_id(&self.locale)
                .send()
                .await
                .map_err(api("start the build of", KIND, &self.name()))?;
        }
        let line = format!("{KIND} {}", self.name());
        let waited = wait_until(
            "the bot locale's build",
            cx.timeout,
            Backoff::default(),
            "Lex is still building the locale: run the same command again, with a longer --timeout if needed",
            |state| cx.progress.begin(ID, &format!("{line}: building ({state})")),
            || async move {
                let status = self.status(cx, bot_id).await?;
                Ok::<_, ApiError>(match status {
                    None => Poll::Failed("the locale does not exist".into()),
                    Some((s, _)) if s == BUILT => Poll::Ready(()),
                    Some((s, reasons)) if s == "Failed" || s == "NotBuilt" => Poll::Failed(
                        if reasons.is_empty() {
                            format!("the locale is {s} (Lex gave no reason)")
                        } else {
                            reasons.join("; ")
                        },
                    ),
                    Some((s, _)) => Poll::Pending(s),
                })
            },
        )
        .await;
        match waited {
            Ok(()) => Ok(BTreeMap::from([("status".to_string(), BUILT.to_string())])),
            Err(WaitError::Failed { reason, .. }) => Err(other(format!(
                "Lex could not build {}: {reason}. The alias still serves the version it had; fix the cause and run `resetpw up` again",
                self.name()
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl Resource for BotBuild {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{} {} DRAFT", super::bot_name(&self.stack), self.locale)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![super::bot::ID, super::definition::ID]
    }
    /// ListBots; then its tags and the locale's status at once; then the diff's fresh status.
    fn read_rounds(&self) -> usize {
        3
    }
    /// The locale's status; BuildBotLocale; then wait until Built.
    fn create_rounds(&self) -> usize {
        3
    }

    fn desired(&self, _cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([("status", Prop::Known(json!(BUILT)))])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let read = with_bot(cx, |id| async move {
            self.status(cx, &id)
                .await
                .map_err(api("read", KIND, &self.name()))
        });
        let Some((bot, Some((status, _)))) = read.await? else {
            return Ok(None);
        };
        Ok(Some(Live {
            physical_id: bot.id,
            props: BTreeMap::from([("status", json!(status))]),
            outputs: BTreeMap::from([("status".to_string(), status)]),
            owned: bot.owned,
        }))
    }

    /// The status is read again here, so at apply time (after the definition changed) it is
    /// the locale's status now; in a plan where the definition changes, the build is shown to
    /// run again.
    async fn diff(
        &self,
        cx: &Cx,
        live: &Live,
        inputs: &Outputs,
    ) -> Result<Vec<Change>, ResourceError> {
        let now = self
            .status(cx, &live.physical_id)
            .await
            .map_err(api("read", KIND, &self.name()))?
            .map_or_else(|| "absent".to_string(), |(s, _)| s);
        let definition_changes = !inputs.contains_key("bot-definition.fingerprint");
        if now == BUILT && !definition_changes {
            return Ok(Vec::new());
        }
        Ok(vec![Change {
            field: "status",
            old: Shown::Value(json!(now)),
            new: if now == BUILT {
                Shown::Value(json!("Built (rebuilt with the changed definition)"))
            } else {
                Shown::Value(json!(BUILT))
            },
            replace: false,
        }])
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
        self.build(cx, &bot_id).await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        self.build(cx, &live.physical_id).await
    }

    fn deleted_with(&self) -> Option<&'static str> {
        Some(super::bot::ID)
    }

    /// A build is not a thing to delete: it goes with the bot.
    async fn delete(&self, _cx: &Cx, _live: &Live) -> Result<(), ResourceError> {
        Ok(())
    }
}
