//! Tags (TagResource, UntagResource, ListTagsForResource) and resource policies
//! (Create/Describe/Update/DeleteResourcePolicy, Create/DeleteResourcePolicyStatement) of bots
//! and bot aliases, including the statement a Connect bot association writes.

use super::{
    invalid, no_content, ok, query_value, required, tags_of, Answer, LexError, Models, Policy,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The resource part of a Lex ARN (`bot/ID`, `bot-alias/ID/ALIAS`).
fn resource_of(arn: &str) -> Result<String, LexError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "lex" {
        Ok(parts[5].to_string())
    } else {
        Err(invalid(
            "resourceArn",
            &json!(arn),
            "Member must satisfy regular expression pattern: ^arn:[\\w\\-]+:lex:[\\w\\-]+:[\\d]{12}:(bot|bot-alias)/.+$",
        ))
    }
}

impl Models {
    // --- tags ------------------------------------------------------------------------------

    /// The tags of the bot or alias an ARN names.
    pub(super) fn tags_mut(
        &mut self,
        arn: &str,
    ) -> Result<&mut BTreeMap<String, String>, LexError> {
        let resource = resource_of(arn)?;
        let not_found = || LexError::NotFound(format!("Could not find resource '{arn}'."));
        let parts: Vec<&str> = resource.split('/').collect();
        match parts.as_slice() {
            ["bot", b] => Ok(&mut self.bots.get_mut(*b).ok_or_else(not_found)?.tags),
            ["bot-alias", b, a] => Ok(&mut self
                .bots
                .get_mut(*b)
                .and_then(|bot| bot.aliases.get_mut(*a))
                .ok_or_else(not_found)?
                .tags),
            _ => Err(not_found()),
        }
    }

    pub(super) fn tag(&mut self, arn: &str, body: &Value) -> Answer {
        let tags = tags_of(Some(required(body, "tags")?));
        self.tags_mut(arn)?.extend(tags);
        ok(json!({}))
    }

    pub(super) fn untag(&mut self, arn: &str, query: &[(String, String)]) -> Answer {
        let keys: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == "tagKeys")
            .map(|(_, v)| v.as_str())
            .collect();
        let tags = self.tags_mut(arn)?;
        for key in keys {
            tags.remove(key);
        }
        ok(json!({}))
    }

    pub(super) fn list_tags(&mut self, arn: &str) -> Answer {
        let tags = self.tags_mut(arn)?.clone();
        ok(json!({"tags": tags}))
    }

    // --- resource policies -----------------------------------------------------------------

    /// The policy key of an existing bot or alias.
    pub(super) fn policy_key(&self, arn: &str) -> Result<String, LexError> {
        let resource = resource_of(arn)?;
        let parts: Vec<&str> = resource.split('/').collect();
        let exists = match parts.as_slice() {
            ["bot", b] => self.bots.contains_key(*b),
            ["bot-alias", b, a] => self
                .bots
                .get(*b)
                .is_some_and(|bot| bot.aliases.contains_key(*a)),
            _ => false,
        };
        if exists {
            Ok(resource)
        } else {
            Err(LexError::NotFound(format!(
                "Could not find resource '{arn}'."
            )))
        }
    }

    pub(super) fn next_revision(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    pub(super) fn parse_policy(body: &Value) -> Result<Value, LexError> {
        let text = required(body, "policy")?.as_str().unwrap_or("");
        match serde_json::from_str::<Value>(text) {
            Ok(doc) if doc.get("Statement").is_some() => Ok(doc),
            _ => Err(LexError::Validation(
                "The policy is not valid: it must be a JSON policy document with a Statement."
                    .into(),
            )),
        }
    }

    pub(super) fn check_revision(
        policy: &Policy,
        query: &[(String, String)],
    ) -> Result<(), LexError> {
        match query_value(query, "expectedRevisionId") {
            Some(expected) if expected != policy.revision.to_string() => {
                Err(LexError::PreconditionFailed(format!(
                    "The revision ID '{expected}' does not match the current revision ID '{}' of the policy.",
                    policy.revision
                )))
            }
            _ => Ok(()),
        }
    }

    pub(super) fn create_policy(&mut self, arn: &str, body: &Value) -> Answer {
        let key = self.policy_key(arn)?;
        let document = Self::parse_policy(body)?;
        if self.policies.contains_key(&key) {
            return Err(LexError::PreconditionFailed(format!(
                "A resource policy already exists for '{arn}'. Use UpdateResourcePolicy."
            )));
        }
        let revision = self.next_revision();
        self.policies.insert(key, Policy { document, revision });
        ok(json!({"resourceArn": arn, "revisionId": revision.to_string()}))
    }

    pub(super) fn existing_policy(&self, arn: &str) -> Result<(String, &Policy), LexError> {
        let key = self.policy_key(arn)?;
        let policy = self.policies.get(&key).ok_or_else(|| {
            LexError::NotFound(format!("There is no resource policy for '{arn}'."))
        })?;
        Ok((key, policy))
    }

    pub(super) fn describe_policy(&self, arn: &str) -> Answer {
        let (_, policy) = self.existing_policy(arn)?;
        ok(json!({
            "resourceArn": arn,
            "policy": policy.document.to_string(),
            "revisionId": policy.revision.to_string(),
        }))
    }

    pub(super) fn update_policy(
        &mut self,
        arn: &str,
        body: &Value,
        query: &[(String, String)],
    ) -> Answer {
        let document = Self::parse_policy(body)?;
        let (key, policy) = self.existing_policy(arn)?;
        Self::check_revision(policy, query)?;
        let revision = self.next_revision();
        if let Some(p) = self.policies.get_mut(&key) {
            p.document = document;
            p.revision = revision;
        }
        ok(json!({"resourceArn": arn, "revisionId": revision.to_string()}))
    }

    pub(super) fn delete_policy(&mut self, arn: &str, query: &[(String, String)]) -> Answer {
        let (key, policy) = self.existing_policy(arn)?;
        Self::check_revision(policy, query)?;
        self.policies.remove(&key);
        no_content()
    }

    pub(super) fn create_statement(
        &mut self,
        arn: &str,
        body: &Value,
        query: &[(String, String)],
    ) -> Answer {
        let key = self.policy_key(arn)?;
        let sid = required(body, "statementId")?
            .as_str()
            .unwrap_or("")
            .to_string();
        let effect = required(body, "effect")?.clone();
        let actions = required(body, "action")?.clone();
        let principals = required(body, "principal")?
            .as_array()
            .cloned()
            .unwrap_or_default();
        let services: Vec<Value> = principals
            .iter()
            .filter_map(|p| p.get("service").cloned())
            .collect();
        let accounts: Vec<Value> = principals
            .iter()
            .filter_map(|p| p.get("arn").cloned())
            .collect();
        let mut principal = Map::new();
        if !services.is_empty() {
            principal.insert("Service".into(), Value::Array(services));
        }
        if !accounts.is_empty() {
            principal.insert("AWS".into(), Value::Array(accounts));
        }
        let mut statement = json!({
            "Sid": sid, "Effect": effect, "Principal": principal,
            "Action": actions, "Resource": [arn],
        });
        if let Some(condition) = body.get("condition").filter(|c| !c.is_null()) {
            statement["Condition"] = condition.clone();
        }
        if let Some(policy) = self.policies.get(&key) {
            Self::check_revision(policy, query)?;
            let exists = policy.document["Statement"]
                .as_array()
                .is_some_and(|s| s.iter().any(|st| st["Sid"] == sid.as_str()));
            if exists {
                return Err(LexError::Conflict(format!(
                    "A statement with the ID '{sid}' already exists in the policy."
                )));
            }
        }
        let revision = self.put_statement(&key, statement);
        ok(json!({"resourceArn": arn, "revisionId": revision.to_string()}))
    }

    /// Adds (or replaces, by Sid) one statement, creating the policy when there is none.
    pub(super) fn put_statement(&mut self, key: &str, statement: Value) -> u64 {
        let revision = self.next_revision();
        let policy = self.policies.entry(key.to_string()).or_insert(Policy {
            document: json!({"Version": "2012-10-17", "Statement": []}),
            revision,
        });
        if !policy.document["Statement"].is_array() {
            let single = policy.document["Statement"].take();
            policy.document["Statement"] = json!([single]);
        }
        if let Some(statements) = policy.document["Statement"].as_array_mut() {
            statements.retain(|s| s["Sid"] != statement["Sid"]);
            statements.push(statement);
        }
        policy.revision = revision;
        revision
    }

    /// Removes one statement by Sid; deletes the policy when it was the last. `None` when
    /// there was no such statement.
    pub(super) fn remove_statement(&mut self, key: &str, sid: &str) -> Option<u64> {
        let policy = self.policies.get_mut(key)?;
        let statements = policy.document["Statement"].as_array_mut()?;
        let before = statements.len();
        statements.retain(|s| s["Sid"] != sid);
        if statements.len() == before {
            return None;
        }
        let empty = statements.is_empty();
        let revision = self.next_revision();
        if empty {
            self.policies.remove(key);
        } else if let Some(policy) = self.policies.get_mut(key) {
            policy.revision = revision;
        }
        Some(revision)
    }

    pub(super) fn delete_statement(
        &mut self,
        arn: &str,
        sid: &str,
        query: &[(String, String)],
    ) -> Answer {
        let (key, policy) = self.existing_policy(arn)?;
        Self::check_revision(policy, query)?;
        self.remove_statement(&key, sid).ok_or_else(|| {
            LexError::NotFound(format!(
                "There is no statement '{sid}' in the policy of '{arn}'."
            ))
        })?;
        no_content()
    }

    /// See [`super::Lex::connect_association`].
    pub fn connect_association(
        &mut self,
        alias_arn: &str,
        instance_arn: &str,
        account: &str,
        add: bool,
    ) -> Result<(), LexError> {
        let key = self.policy_key(alias_arn)?;
        if !key.starts_with("bot-alias/") {
            return Err(LexError::Validation(format!(
                "'{alias_arn}' is not a bot alias ARN."
            )));
        }
        let sid = connect_statement_id(instance_arn);
        if add {
            let statement = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": ["connect.amazonaws.com"]},
                "Action": ["lex:RecognizeText", "lex:StartConversation"],
                "Resource": [alias_arn],
                "Condition": {
                    "StringEquals": {"AWS:SourceAccount": account},
                    "ArnEquals": {"AWS:SourceArn": instance_arn},
                },
            });
            self.put_statement(&key, statement);
        } else {
            self.remove_statement(&key, &sid);
        }
        Ok(())
    }
}

/// The Sid of the statement a Connect instance's bot association writes. Connect's own Sid is
/// not documented; this one is derived from the instance id so each instance has its own.
pub fn connect_statement_id(instance_arn: &str) -> String {
    let instance = instance_arn.rsplit('/').next().unwrap_or(instance_arn);
    let clean: String = instance
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("connect-{clean}")
}
