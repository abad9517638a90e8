//! The bot's association with the instance: AssociateBot with the alias ARN (Lex V2), observed
//! with ListBots. Then the alias's resource policy must let `connect.amazonaws.com` call
//! `lex:RecognizeText` and `lex:StartConversation` for this instance (AWS:SourceAccount and
//! AWS:SourceArn): AssociateBot writes that statement itself; resetpw checks it with
//! DescribeResourcePolicy and adds its own statement only when none allows the instance.

use super::{target_instance, FoundInstance, Placement, GONE};
use crate::aws::{ApiError, Cx};
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::lex::{self, alias};
use crate::resources::{api, other, tolerate};
use aws_sdk_connect::types::{LexV2Bot, LexVersion};
use aws_sdk_lexmodelsv2::types::{Effect, Principal};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

pub const ID: &str = "connect-bot-association";
const KIND: &str = "connect-bot-association";
const CONNECT: &str = "connect.amazonaws.com";
const ACTIONS: [&str; 2] = ["lex:RecognizeText", "lex:StartConversation"];

pub struct Association {
    stack: String,
    placement: Placement,
}

impl Association {
    pub fn new(stack: &str, placement: Placement) -> Self {
        Association {
            stack: stack.into(),
            placement,
        }
    }

    fn statement_id(&self) -> String {
        format!("resetpw-{}-connect", self.stack)
    }

    async fn instance(&self, cx: &Cx, inputs: &Outputs) -> Result<FoundInstance, ResourceError> {
        if let Some(i) = super::instance_from(&self.placement, inputs) {
            return Ok(i);
        }
        target_instance(cx, &self.placement).await?.ok_or_else(|| {
            other(
                "the Connect instance does not exist or is not ACTIVE yet; run `resetpw up` again",
            )
        })
    }

    /// V2 alias ARNs associated with the instance.
    async fn associated(cx: &Cx, instance_id: &str) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        let mut pages = cx
            .connect
            .list_bots()
            .instance_id(instance_id)
            .lex_version(LexVersion::V2)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for b in page?.lex_bots() {
                if let Some(arn) = b.lex_v2_bot().and_then(|v| v.alias_arn()) {
                    out.push(arn.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Whether the alias's resource policy lets Connect use it from this instance.
    async fn policy_allows(
        cx: &Cx,
        alias_arn: &str,
        instance_arn: &str,
    ) -> Result<(bool, Option<String>), ApiError> {
        let found = tolerate(
            cx.lex
                .describe_resource_policy()
                .resource_arn(alias_arn)
                .send()
                .await,
            lex::GONE,
        )?;
        let Some(found) = found else {
            return Ok((false, None));
        };
        let policy: Value =
            serde_json::from_str(found.policy().unwrap_or("{}")).unwrap_or_default();
        Ok((
            allows_connect(&policy, &cx.account, instance_arn),
            found.revision_id().map(str::to_string),
        ))
    }

    async fn ensure_policy(
        &self,
        cx: &Cx,
        alias_arn: &str,
        instance_arn: &str,
    ) -> Result<(), ResourceError> {
        let (allowed, revision) = Self::policy_allows(cx, alias_arn, instance_arn)
            .await
            .map_err(api(
                "read the resource policy of",
                "lex-bot-alias",
                alias_arn,
            ))?;
        if allowed {
            return Ok(());
        }
        cx.lex
            .create_resource_policy_statement()
            .resource_arn(alias_arn)
            .statement_id(self.statement_id())
            .effect(Effect::Allow)
            .principal(Principal::builder().service(CONNECT).build())
            .set_action(Some(ACTIONS.map(str::to_string).to_vec()))
            .condition(
                "StringEquals",
                HashMap::from([("AWS:SourceAccount".to_string(), cx.account.clone())]),
            )
            .condition(
                "ArnEquals",
                HashMap::from([("AWS:SourceArn".to_string(), instance_arn.to_string())]),
            )
            .set_expected_revision_id(revision)
            .send()
            .await
            .map_err(api(
                "add Connect's statement to the resource policy of",
                "lex-bot-alias",
                alias_arn,
            ))?;
        Ok(())
    }

    async fn associate(
        &self,
        cx: &Cx,
        instance_id: &str,
        alias_arn: &str,
    ) -> Result<(), ResourceError> {
        let result = cx
            .connect
            .associate_bot()
            .instance_id(instance_id)
            .lex_v2_bot(LexV2Bot::builder().alias_arn(alias_arn).build())
            .send()
            .await;
        // Already associated (a crashed run got this far): fine.
        tolerate(
            result,
            &["ResourceConflictException", "DuplicateResourceException"],
        )
        .map_err(api("associate the bot alias with", KIND, instance_id))?;
        Ok(())
    }

    async fn disassociate(
        &self,
        cx: &Cx,
        instance_id: &str,
        alias_arn: &str,
    ) -> Result<(), ResourceError> {
        let result = cx
            .connect
            .disassociate_bot()
            .instance_id(instance_id)
            .lex_v2_bot(LexV2Bot::builder().alias_arn(alias_arn).build())
            .send()
            .await;
        tolerate(result, GONE).map_err(api(
            "disassociate the bot alias from",
            KIND,
            instance_id,
        ))?;
        Ok(())
    }

    fn wanted_alias(inputs: &Outputs) -> Result<String, ResourceError> {
        inputs
            .get(&format!("{}.arn", alias::ID))
            .cloned()
            .ok_or_else(|| other("the association needs the bot alias, which does not exist yet; run `resetpw up` again"))
    }
}

/// Whether a policy document has a statement allowing Connect to use the alias from this
/// instance: Allow, the Connect service principal, both runtime actions (or `lex:*`), and
/// AWS:SourceArn equal to the instance ARN.
pub fn allows_connect(policy: &Value, account: &str, instance_arn: &str) -> bool {
    let as_list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &policy["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|s| {
        let actions = as_list(&s["Action"]);
        let condition = &s["Condition"];
        let source_arn = ["ArnEquals", "ArnLike", "StringEquals"].iter().any(|op| {
            as_list(&condition[op]["AWS:SourceArn"])
                .iter()
                .any(|a| a == instance_arn)
        });
        let source_account = ["StringEquals", "StringLike"].iter().any(|op| {
            as_list(&condition[op]["AWS:SourceAccount"])
                .iter()
                .any(|a| a == account)
        });
        s["Effect"] == "Allow"
            && as_list(&s["Principal"]["Service"])
                .iter()
                .any(|p| p == CONNECT)
            && ACTIONS
                .iter()
                .all(|a| actions.iter().any(|x| x == a || x == "lex:*"))
            && source_arn
            && source_account
    })
}

#[async_trait::async_trait]
impl Resource for Association {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        lex::bot_name(&self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![super::instance::ID, alias::ID]
    }
    /// ListBots (Lex) and the instance at once; then the bot's tags and the instance's
    /// associated bots at once; then the alias's resource policy.
    fn read_rounds(&self) -> usize {
        3
    }
    /// AssociateBot (the stack's new instance is known from its outputs); then the alias's
    /// resource policy, which AssociateBot has written (a statement of resetpw's own when not).
    fn create_rounds(&self) -> usize {
        2
    }

    fn desired(&self, _cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            ("bot_alias", input(inputs, &format!("{}.arn", alias::ID))),
            ("alias_policy_allows_instance", Prop::Known(json!(true))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        // The bot, and beside it the instances, then each instance's associated bots at once;
        // the instances are taken in listing order.
        let associations = async {
            let instances = super::candidate_instances(cx, &self.placement).await?;
            let associated =
                futures::future::join_all(instances.iter().map(|i| Self::associated(cx, &i.id)))
                    .await;
            Ok::<_, ResourceError>(instances.into_iter().zip(associated).collect::<Vec<_>>())
        };
        let (bot, associations) = tokio::join!(lex::find_bot(cx), associations);
        let Some(bot) = bot? else {
            return Ok(None);
        };
        let marker = format!(":bot-alias/{}/", bot.id);
        for (i, associated) in associations? {
            let associated = associated.map_err(api("list the bots of", KIND, &i.alias))?;
            let Some(alias_arn) = associated.into_iter().find(|a| a.contains(&marker)) else {
                continue;
            };
            let (allowed, _) = Self::policy_allows(cx, &alias_arn, &i.arn)
                .await
                .map_err(api(
                    "read the resource policy of",
                    "lex-bot-alias",
                    &alias_arn,
                ))?;
            return Ok(Some(Live {
                physical_id: format!("{}/{alias_arn}", i.id),
                props: BTreeMap::from([
                    ("bot_alias", json!(alias_arn)),
                    ("alias_policy_allows_instance", json!(allowed)),
                    ("instance_id", json!(i.id)),
                ]),
                outputs: BTreeMap::from([("bot_alias_arn".to_string(), alias_arn)]),
                // The association of the stack's own bot is the stack's.
                owned: bot.owned,
            }));
        }
        Ok(None)
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let alias_arn = Self::wanted_alias(inputs)?;
        let instance = self.instance(cx, inputs).await?;
        self.associate(cx, &instance.id, &alias_arn).await?;
        self.ensure_policy(cx, &alias_arn, &instance.arn).await?;
        Ok(BTreeMap::from([("bot_alias_arn".to_string(), alias_arn)]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let alias_arn = Self::wanted_alias(inputs)?;
        let instance = self.instance(cx, inputs).await?;
        let old = live
            .props
            .get("bot_alias")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if old != alias_arn {
            self.associate(cx, &instance.id, &alias_arn).await?;
            self.disassociate(cx, &instance.id, old).await?;
        }
        self.ensure_policy(cx, &alias_arn, &instance.arn).await?;
        Ok(BTreeMap::from([("bot_alias_arn".to_string(), alias_arn)]))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let instance_id = live
            .props
            .get("instance_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let alias_arn = live
            .props
            .get("bot_alias")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.disassociate(cx, instance_id, alias_arn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/i-1";

    fn statement() -> Value {
        json!({"Sid": "x", "Effect": "Allow", "Principal": {"Service": [CONNECT]},
               "Action": ["lex:RecognizeText", "lex:StartConversation"],
               "Resource": ["arn:aws:lex:us-east-1:123456789012:bot-alias/B/A"],
               "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"},
                             "ArnEquals": {"AWS:SourceArn": INSTANCE}}})
    }

    #[test]
    fn the_documented_statement_allows_the_instance() {
        let policy = json!({"Version": "2012-10-17", "Statement": [statement()]});
        assert!(allows_connect(&policy, "123456789012", INSTANCE));
    }

    #[test]
    fn another_instance_a_missing_action_or_account_does_not() {
        let policy = json!({"Statement": [statement()]});
        assert!(!allows_connect(
            &policy,
            "123456789012",
            "arn:aws:connect:us-east-1:123456789012:instance/other"
        ));
        let mut s = statement();
        s["Action"] = json!("lex:RecognizeText");
        assert!(!allows_connect(
            &json!({"Statement": [s]}),
            "123456789012",
            INSTANCE
        ));
        assert!(!allows_connect(&policy, "999999999999", INSTANCE));
        assert!(!allows_connect(&json!({}), "123456789012", INSTANCE));
    }
}
