//! The statement in the fulfillment function's resource policy that lets Lex V2 invoke it
//! from the bot's `live` alias: principal `lexv2.amazonaws.com`, SourceArn the alias ARN (which
//! names the account, so no SourceAccount is needed). Its statement id is fixed, so it is found
//! again through GetPolicy.

use super::function;
use crate::aws::Cx;
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tolerate};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const ID: &str = "bot-permission";
const KIND: &str = "lambda-permission";
/// The statement id: one per function, which has one alias calling it.
pub const STATEMENT_ID: &str = "resetpw-lex-live-alias";
const PRINCIPAL: &str = "lexv2.amazonaws.com";
const ACTION: &str = "lambda:InvokeFunction";
const GONE: &[&str] = &["ResourceNotFoundException"];

pub struct LexPermission {
    stack: String,
}

/// The statement with `sid` in a function policy document: its principal, action and source ARN.
pub fn statement(policy: &str, sid: &str) -> Option<(Value, Value, Value)> {
    let doc: Value = serde_json::from_str(policy).ok()?;
    let statements = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => return None,
    };
    let s = statements.into_iter().find(|s| s["Sid"] == sid)?;
    let principal = match &s["Principal"] {
        Value::Object(o) => o.get("Service").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    let source = s["Condition"]
        .as_object()
        .and_then(|c| {
            c.values().find_map(|op| {
                op.get("AWS:SourceArn")
                    .or_else(|| op.get("aws:SourceArn"))
                    .cloned()
            })
        })
        .unwrap_or(Value::Null);
    Some((principal, s["Action"].clone(), source))
}

impl LexPermission {
    pub fn new(stack: &str) -> Self {
        LexPermission {
            stack: stack.into(),
        }
    }

    fn function(&self) -> String {
        function::function_name(&self.stack)
    }

    async fn add(&self, cx: &Cx, inputs: &Outputs) -> Result<(), ResourceError> {
        let source = inputs
            .get(&format!("{}.arn", crate::resources::lex::alias::ID))
            .cloned()
            .ok_or_else(|| other("the permission needs the bot alias, which does not exist yet; run `resetpw up` again"))?;
        cx.lambda
            .add_permission()
            .function_name(self.function())
            .statement_id(STATEMENT_ID)
            .action(ACTION)
            .principal(PRINCIPAL)
            .source_arn(source)
            .send()
            .await
            .map_err(api("add", KIND, &self.name()))?;
        Ok(())
    }

    async fn remove(&self, cx: &Cx) -> Result<(), ResourceError> {
        let result = cx
            .lambda
            .remove_permission()
            .function_name(self.function())
            .statement_id(STATEMENT_ID)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("remove", KIND, &self.name()))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for LexPermission {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{}/{STATEMENT_ID}", self.function())
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![function::ID, crate::resources::lex::alias::ID]
    }
    /// GetPolicy.
    fn read_rounds(&self) -> usize {
        1
    }
    /// AddPermission.
    fn create_rounds(&self) -> usize {
        1
    }

    fn desired(&self, _cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            ("principal", Prop::Known(json!(PRINCIPAL))),
            ("action", Prop::Known(json!(ACTION))),
            (
                "source_arn",
                input(inputs, &format!("{}.arn", crate::resources::lex::alias::ID)),
            ),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let policy = tolerate(
            cx.lambda
                .get_policy()
                .function_name(self.function())
                .send()
                .await,
            GONE,
        )
        .map_err(api("read", KIND, &self.name()))?;
        let Some((principal, action, source)) = policy
            .as_ref()
            .and_then(|p| p.policy())
            .and_then(|p| statement(p, STATEMENT_ID))
        else {
            return Ok(None);
        };
        Ok(Some(Live {
            physical_id: STATEMENT_ID.to_string(),
            props: BTreeMap::from([
                ("principal", principal),
                ("action", action),
                ("source_arn", source),
            ]),
            outputs: BTreeMap::new(),
            // The statement id is resetpw's own, on the stack's function.
            owned: true,
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        match self.add(cx, inputs).await {
            Ok(()) => {}
            // Added since the plan (a crashed run's call finishing): replace it.
            Err(ResourceError::Api { source, .. }) if source.is("ResourceConflictException") => {
                self.remove(cx).await?;
                self.add(cx, inputs).await?;
            }
            Err(e) => return Err(e),
        }
        Ok(BTreeMap::new())
    }

    /// A statement cannot be changed in place: removed and added again.
    async fn update(
        &self,
        cx: &Cx,
        _live: &Live,
        _changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        self.remove(cx).await?;
        self.add(cx, inputs).await?;
        Ok(BTreeMap::new())
    }

    async fn delete(&self, cx: &Cx, _live: &Live) -> Result<(), ResourceError> {
        self.remove(cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_is_found_by_sid_in_either_principal_form() {
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "other", "Principal": "*", "Action": "lambda:InvokeFunction"},
            {"Sid": STATEMENT_ID, "Effect": "Allow",
             "Principal": {"Service": "lexv2.amazonaws.com"},
             "Action": "lambda:InvokeFunction",
             "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:lex:us-east-1:1:bot-alias/B/A"}}}
        ]})
        .to_string();
        let (p, a, s) = statement(&policy, STATEMENT_ID).unwrap();
        assert_eq!(p, "lexv2.amazonaws.com");
        assert_eq!(a, "lambda:InvokeFunction");
        assert_eq!(s, "arn:aws:lex:us-east-1:1:bot-alias/B/A");
        assert!(statement(&policy, "missing").is_none());
    }
}
