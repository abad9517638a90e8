//! The alias `live`: serves the newest version, with the locale enabled and the fulfillment
//! function as its code hook (interface version 1.0). Lex does not return an alias's ARN; the
//! `arn` output is built from its parts, for Connect and the Lambda permission.

use super::{alias_arn, aliases, retag, tags_of, with_bot, ALIAS_NAME, GONE};
use crate::aws::{ApiError, Cx};
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::lambda::function;
use crate::resources::{api, live_tags, other, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_lexmodelsv2::types::{BotAliasLocaleSettings, CodeHookSpecification, LambdaCodeHook};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const ID: &str = "bot-alias";
const KIND: &str = "lex-bot-alias";
const INTERFACE_VERSION: &str = "1.0";

pub struct BotAlias {
    stack: String,
    locale: String,
}

impl BotAlias {
    pub fn new(stack: &str, locale: Option<&str>) -> Self {
        BotAlias {
            stack: stack.into(),
            locale: locale.unwrap_or("en_US").into(),
        }
    }

    fn outputs(cx: &Cx, bot_id: &str, alias_id: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("id".to_string(), alias_id.to_string()),
            ("bot_id".to_string(), bot_id.to_string()),
            ("arn".to_string(), alias_arn(cx, bot_id, alias_id)),
        ])
    }

    fn locales_value(&self, lambda_arn: &str) -> Value {
        json!({&self.locale: {"enabled": true, "code_hook": lambda_arn, "interface_version": INTERFACE_VERSION}})
    }

    /// The version and the function's ARN this run deploys.
    fn wanted(inputs: &Outputs) -> Result<(String, String), ResourceError> {
        let version = inputs
            .get(&format!("{}.version", super::version::ID))
            .cloned()
            .ok_or_else(|| other("the alias needs a bot version, which does not exist yet; run `resetpw up` again"))?;
        let lambda = inputs
            .get(&format!("{}.arn", function::ID))
            .cloned()
            .ok_or_else(|| other("the alias needs the fulfillment function, which does not exist yet; run `resetpw up` again"))?;
        Ok((version, lambda))
    }

    fn settings(&self, lambda_arn: &str) -> Result<BotAliasLocaleSettings, ResourceError> {
        let hook = LambdaCodeHook::builder()
            .lambda_arn(lambda_arn)
            .code_hook_interface_version(INTERFACE_VERSION)
            .build()
            .map_err(other)?;
        Ok(BotAliasLocaleSettings::builder()
            .enabled(true)
            .code_hook_specification(
                CodeHookSpecification::builder()
                    .lambda_code_hook(hook)
                    .build(),
            )
            .build())
    }

    async fn wait_available(
        &self,
        cx: &Cx,
        bot_id: &str,
        alias_id: &str,
    ) -> Result<(), ResourceError> {
        let line = format!("{KIND} {}", self.name());
        wait_until(
            "the alias to become Available",
            cx.timeout,
            Backoff::default(),
            "Lex is still updating the alias: run the same command again",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || async move {
                let a = cx
                    .lex
                    .describe_bot_alias()
                    .bot_id(bot_id)
                    .bot_alias_id(alias_id)
                    .send()
                    .await
                    .map_err(ApiError::from)?;
                let status = a
                    .bot_alias_status()
                    .map_or("unknown", |s| s.as_str())
                    .to_string();
                Ok::<_, ApiError>(match status.as_str() {
                    "Available" => Poll::Ready(()),
                    "Failed" | "Deleting" => Poll::Failed(format!("the alias is {status}")),
                    _ => Poll::Pending(status),
                })
            },
        )
        .await?;
        Ok(())
    }

    async fn find(&self, cx: &Cx, bot_id: &str) -> Result<Option<String>, ResourceError> {
        Ok(aliases(cx, bot_id)
            .await
            .map_err(api("list", KIND, &self.name()))?
            .into_iter()
            .find(|a| a.1 == ALIAS_NAME)
            .map(|a| a.0))
    }

    async fn update_alias(
        &self,
        cx: &Cx,
        bot_id: &str,
        alias_id: &str,
        inputs: &Outputs,
    ) -> Result<(), ResourceError> {
        let (version, lambda) = Self::wanted(inputs)?;
        super::version::wait_available(cx, bot_id, &version).await?;
        cx.lex
            .update_bot_alias()
            .bot_id(bot_id)
            .bot_alias_id(alias_id)
            .bot_alias_name(ALIAS_NAME)
            .description(self.description())
            .bot_version(&version)
            .bot_alias_locale_settings(&self.locale, self.settings(&lambda)?)
            .send()
            .await
            .map_err(api("update", KIND, &self.name()))?;
        self.wait_available(cx, bot_id, alias_id).await
    }

    fn description(&self) -> String {
        format!("resetpw stack {}: the alias callers reach", self.stack)
    }
}

#[async_trait]
impl Resource for BotAlias {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{} {ALIAS_NAME}", super::bot_name(&self.stack))
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![super::bot::ID, super::version::ID, function::ID]
    }
    /// ListBots; then its tags and the aliases at once; then the alias and its tags at once.
    fn read_rounds(&self) -> usize {
        3
    }
    /// Wait until the version is Available; CreateBotAlias; then wait until Available.
    fn create_rounds(&self) -> usize {
        3
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        let locales = match input(inputs, &format!("{}.arn", function::ID)) {
            Prop::Known(Value::String(arn)) => Prop::Known(self.locales_value(&arn)),
            _ => Prop::Unknown,
        };
        Props::from([
            (
                "bot_version",
                input(inputs, &format!("{}.version", super::version::ID)),
            ),
            ("locales", locales),
            ("description", Prop::Known(json!(self.description()))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let found = with_bot(cx, |id| async move { self.find(cx, &id).await });
        let Some((bot, Some(alias_id))) = found.await? else {
            return Ok(None);
        };
        // The alias and its tags at once.
        let arn = alias_arn(cx, &bot.id, &alias_id);
        let described = async {
            tolerate(
                cx.lex
                    .describe_bot_alias()
                    .bot_id(&bot.id)
                    .bot_alias_id(&alias_id)
                    .send()
                    .await,
                GONE,
            )
            .map_err(api("read", KIND, &self.name()))
        };
        let tags = async {
            tags_of(cx, &arn)
                .await
                .map_err(api("read tags of", KIND, &self.name()))
        };
        let (a, tags) = tokio::join!(described, tags);
        let Some(a) = a? else {
            return Ok(None);
        };
        let tags = tags?;
        let mut locales = serde_json::Map::new();
        for (locale, s) in a.bot_alias_locale_settings().into_iter().flatten() {
            let hook = s
                .code_hook_specification()
                .and_then(|c| c.lambda_code_hook());
            locales.insert(
                locale.clone(),
                json!({
                    "enabled": s.enabled(),
                    "code_hook": hook.map(|h| h.lambda_arn()),
                    "interface_version": hook.map(|h| h.code_hook_interface_version()),
                }),
            );
        }
        Ok(Some(Live {
            physical_id: alias_id.clone(),
            props: BTreeMap::from([
                ("bot_version", json!(a.bot_version())),
                ("locales", Value::Object(locales)),
                ("description", json!(a.description().unwrap_or_default())),
                ("tags", tags_value(&tags)),
            ]),
            outputs: Self::outputs(cx, &bot.id, &alias_id),
            // The alias belongs to the stack's bot; its own tags are compared like any field.
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
        let (version, lambda) = Self::wanted(inputs)?;
        super::version::wait_available(cx, &bot_id, &version).await?;
        let result = cx
            .lex
            .create_bot_alias()
            .bot_id(&bot_id)
            .bot_alias_name(ALIAS_NAME)
            .description(self.description())
            .bot_version(&version)
            .bot_alias_locale_settings(&self.locale, self.settings(&lambda)?)
            .set_tags(Some(cx.tags_for(ID).into_iter().collect()))
            .send()
            .await
            .map_err(ApiError::from);
        let alias_id = match result {
            Ok(out) => out.bot_alias_id().unwrap_or_default().to_string(),
            // Made since the plan (a crashed run's call finishing): bring it in line.
            Err(e) if e.is("ConflictException") => {
                let id = self
                    .find(cx, &bot_id)
                    .await?
                    .ok_or_else(|| other("Lex said the alias exists, but it cannot be found"))?;
                self.update_alias(cx, &bot_id, &id, inputs).await?;
                id
            }
            Err(e) => {
                return Err(ResourceError::Api {
                    verb: "create",
                    kind: KIND,
                    name: self.name(),
                    source: e,
                })
            }
        };
        self.wait_available(cx, &bot_id, &alias_id).await?;
        Ok(Self::outputs(cx, &bot_id, &alias_id))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let bot_id = live.outputs.get("bot_id").cloned().unwrap_or_default();
        let alias_id = &live.physical_id;
        if changes.iter().any(|c| c.field != "tags") {
            self.update_alias(cx, &bot_id, alias_id, inputs).await?;
        }
        if changes.iter().any(|c| c.field == "tags") {
            retag(
                cx,
                &alias_arn(cx, &bot_id, alias_id),
                &cx.tags_for(ID),
                &live_tags(live),
            )
            .await
            .map_err(api("tag", KIND, &self.name()))?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let bot_id = live.outputs.get("bot_id").cloned().unwrap_or_default();
        let result = cx
            .lex
            .delete_bot_alias()
            .bot_id(&bot_id)
            .bot_alias_id(&live.physical_id)
            .skip_resource_in_use_check(true)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("delete", KIND, &self.name()))?;
        Ok(())
    }
}
