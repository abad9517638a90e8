//! The AWS resources of a stack: a folder per AWS service, one file per resource kind, each
//! with the same verbs. This file holds what every service shares (errors, tags, tolerated codes).

pub mod connect;
pub mod dynamodb;
pub mod ec2;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod lex;
pub mod logs;
pub mod ssm;

use crate::aws::ApiError;
use crate::engine::{Resource, ResourceError};
use crate::stack::Loaded;
use serde_json::Value;
use std::collections::BTreeMap;

pub use ssm::directory_secret::{encryption_context, parameter_name as secret_parameter_name};

/// The resources a stack file asks for, in dependency order. A stack manages only the sections
/// it has: the `directory` section (with its `secret`) brings the key, its alias, the encrypted
/// secret and the fulfillment role with its policy; the `network` section its VPC resources
/// (see `ec2/network.rs`); the `fulfillment` section the attempts table, the log group and the
/// function; the `bot` section the Lex V2 bot and its alias wired to the function.
pub fn for_stack(loaded: &Loaded) -> Vec<Box<dyn Resource>> {
    let stack = &loaded.stack;
    let name = stack.name.as_str();
    let mut list = if stack.directory.is_some() {
        let email_from = stack
            .notify
            .as_ref()
            .and_then(|n| n.email_from.as_ref())
            .map(|e| e.as_str().to_string());
        directory(
            name,
            stack.fulfillment.is_some(),
            stack.network.is_some(),
            email_from,
        )
    } else {
        Vec::new()
    };
    list.extend(ec2::network::for_network(stack));
    if let Some(config) = lambda::function::Function::config_for(loaded) {
        let retention = stack.fulfillment.as_ref().map(|f| f.log_retention_days);
        list.extend(fulfillment(name, retention, Some(config)));
    }
    if let Some(b) = &stack.bot {
        let spec = lex::Spec {
            bot: b.clone(),
            one_time_code: stack.caller_verification().one_time_code,
        };
        list.extend(bot(name, Some(&spec)));
    }
    if let Some(c) = &stack.connect {
        list.extend(connect(name, Some(c)));
    }
    list
}

/// Every resource kind a stack of this name can own, for `down`: found by name and tags whatever
/// the stack file says now, so removing a section and running `down` still leaves nothing.
pub fn all(stack: &str) -> Vec<Box<dyn Resource>> {
    let mut list = directory(stack, true, true, None);
    list.extend(ec2::network::all(stack));
    list.extend(fulfillment(stack, None, None));
    list.extend(bot(stack, None));
    list.extend(connect(stack, None));
    list
}

/// The `connect` section's resources (see `connect/mod.rs`): the instance when the stack
/// creates it (none when it names an existing `instance_id`), the bot association, the flow,
/// the phone number and the number's association with the flow. For `down` (no section) each is
/// found by tags or name in any instance.
fn connect(stack: &str, config: Option<&crate::stack::Connect>) -> Vec<Box<dyn Resource>> {
    use connect::{association, flow, instance, number_flow, phone_number, Placement};
    let placement = Placement::of(config);
    let mut list: Vec<Box<dyn Resource>> = Vec::new();
    match &placement {
        Placement::Owned(alias) => list.push(Box::new(instance::Instance::new(stack, Some(alias)))),
        Placement::Any => list.push(Box::new(instance::Instance::new(stack, None))),
        Placement::Existing(_) => {}
    }
    list.push(Box::new(association::Association::new(
        stack,
        placement.clone(),
    )));
    list.push(Box::new(flow::Flow::new(
        stack,
        placement.clone(),
        config.map(|c| flow::Config {
            greeting: c.greeting.clone(),
            agent_queue: c.agent_queue.clone(),
        }),
    )));
    list.push(Box::new(phone_number::PhoneNumber::new(
        stack,
        placement.clone(),
        config.map(|c| phone_number::Config {
            country_code: c.phone_number.country_code.clone(),
            number_type: c.phone_number.number_type.clone(),
            prefix: c.phone_number.prefix.clone(),
        }),
    )));
    list.push(Box::new(number_flow::NumberFlow::new(stack, placement)));
    list
}

/// The `bot` section's resources (see `lex/mod.rs`): the bot role, the bot, its DRAFT
/// definition, the build, the version, the alias `live`, and the function's permission for it.
fn bot(stack: &str, spec: Option<&lex::Spec>) -> Vec<Box<dyn Resource>> {
    let locale = spec.map(|s| s.bot.locale.as_str());
    vec![
        Box::new(iam::role::Role::new(stack, iam::role::Purpose::Bot)),
        Box::new(lex::bot::Bot::new(
            stack,
            spec.map(|s| s.bot.idle_session_ttl_seconds),
        )),
        Box::new(lex::definition::BotDefinition::new(stack, spec.cloned())),
        Box::new(lex::build::BotBuild::new(stack, locale)),
        Box::new(lex::version::BotVersion::new(stack, spec.cloned())),
        Box::new(lex::alias::BotAlias::new(stack, locale)),
        Box::new(lambda::permission::LexPermission::new(stack)),
    ]
}

/// The `directory` section's resources. The role's policy grants the function's table and log
/// group when the stack deploys the function (instead of the AWS-managed basic execution
/// policy, which grants every log group, and which `up` now detaches); the VPC access policy is
/// attached only when the function runs in the stack's network.
fn directory(
    stack: &str,
    function: bool,
    network: bool,
    email_from: Option<String>,
) -> Vec<Box<dyn Resource>> {
    use iam::attachment::{Attachment, BASIC_EXECUTION, VPC_ACCESS};
    vec![
        Box::new(kms::key::KmsKey::new(stack)),
        Box::new(kms::alias::KmsAlias::new(stack)),
        Box::new(ssm::directory_secret::DirectorySecret::new(stack)),
        Box::new(iam::role::Role::new(stack, iam::role::Purpose::Fulfillment)),
        Box::new(iam::policy::IamPolicy::new(stack, function, email_from)),
        Box::new(Attachment::customer_policy(stack)),
        Box::new(Attachment::managed(stack, BASIC_EXECUTION).wanted(false)),
        Box::new(Attachment::managed(stack, VPC_ACCESS).wanted(network)),
    ]
}

/// The `fulfillment` section's resources: the log group before the function, so Lambda never
/// creates one of its own.
fn fulfillment(
    stack: &str,
    retention_days: Option<u32>,
    config: Option<lambda::function::Config>,
) -> Vec<Box<dyn Resource>> {
    vec![
        Box::new(dynamodb::table::AttemptsTable::new(stack)),
        Box::new(logs::log_group::LogGroup::new(stack, retention_days)),
        Box::new(lambda::function::Function::new(stack, config)),
    ]
}

/// Maps an SDK error into a resource error that names the verb, kind and name.
pub fn api<E: Into<ApiError>>(
    verb: &'static str,
    kind: &'static str,
    name: &str,
) -> impl FnOnce(E) -> ResourceError {
    let name = name.to_string();
    move |e| ResourceError::Api {
        verb,
        kind,
        name,
        source: e.into(),
    }
}

/// A tag map as a plan value. `aws:` tags belong to AWS and are never compared.
pub fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Object(
        tags.iter()
            .filter(|(k, _)| !k.starts_with("aws:"))
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// The tags `observe` recorded in a live resource's `tags` property (the inverse of
/// `tags_value`), so updates need not read them from AWS again.
pub fn live_tags(live: &crate::engine::Live) -> BTreeMap<String, String> {
    live.props
        .get("tags")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Tags to set (new or changed) and keys to remove to go from `live` to `desired`.
pub fn tag_delta(
    desired: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = desired
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = live
        .keys()
        .filter(|k| !desired.contains_key(*k) && !k.starts_with("aws:"))
        .cloned()
        .collect();
    (set, remove)
}

/// Brings a resource's tags from `live` to the tags the stack wants for `id`, with the service's
/// own tag and untag calls, each made only when it has something to do.
pub async fn apply_tag_delta<S, SF, U, UF>(
    cx: &crate::aws::Cx,
    id: &str,
    live: &crate::engine::Live,
    (kind, name): (&'static str, &str),
    tag: S,
    untag: U,
) -> Result<(), ResourceError>
where
    S: FnOnce(BTreeMap<String, String>) -> SF,
    SF: std::future::Future<Output = Result<(), ApiError>>,
    U: FnOnce(Vec<String>) -> UF,
    UF: std::future::Future<Output = Result<(), ApiError>>,
{
    let (set, remove) = tag_delta(&cx.tags_for(id), &live_tags(live));
    if !set.is_empty() {
        tag(set).await.map_err(api("tag", kind, name))?;
    }
    if !remove.is_empty() {
        untag(remove).await.map_err(api("untag", kind, name))?;
    }
    Ok(())
}

/// IAM returns policy documents URL-encoded.
pub fn decode_policy(text: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded.into_owned()))
}

/// The call's result, with the listed error codes (not found, already gone) turned into `None`.
pub fn tolerate<T, E: Into<ApiError>>(
    result: Result<T, E>,
    codes: &[&str],
) -> Result<Option<T>, ApiError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let e = e.into();
            if codes.iter().any(|c| e.is(c)) {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// A create refused because the name was taken since the plan — a crashed run's create still
/// finishing. `exists` are the service's codes for that refusal; `adopt` reads the resource
/// that holds the name and gives it back when it carries this stack's ownership tags. Any other
/// error, or a resource that is not this stack's, fails the create.
pub async fn adopt_when_owned<T, F>(
    cx: &crate::aws::Cx,
    error: ApiError,
    exists: &[&str],
    (kind, name): (&'static str, &str),
    adopt: F,
) -> Result<T, ResourceError>
where
    F: std::future::Future<Output = Result<Option<T>, ResourceError>>,
{
    if !exists.iter().any(|code| error.is(code)) {
        return Err(ResourceError::Api {
            verb: "create",
            kind,
            name: name.to_string(),
            source: error,
        });
    }
    adopt.await?.ok_or_else(|| ResourceError::NotOwned {
        kind,
        name: name.to_string(),
        stack: cx.stack.clone(),
    })
}

pub fn other(message: impl std::fmt::Display) -> ResourceError {
    ResourceError::Other(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_delta_sets_changed_and_removes_stale_but_never_aws_tags() {
        let desired =
            BTreeMap::from([("a".to_string(), "1".to_string()), ("b".into(), "2".into())]);
        let live = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".into(), "old".into()),
            ("c".into(), "x".into()),
            ("aws:cloudformation:stack-name".into(), "y".into()),
        ]);
        let (set, remove) = tag_delta(&desired, &live);
        assert_eq!(set, BTreeMap::from([("b".to_string(), "2".to_string())]));
        assert_eq!(remove, vec!["c".to_string()]);
    }

    #[test]
    fn policies_are_url_decoded() {
        let v = decode_policy("%7B%22Version%22%3A%222012-10-17%22%7D");
        assert_eq!(v["Version"], "2012-10-17");
    }

    #[test]
    fn the_number_is_claimed_beside_the_flow_and_only_its_association_waits_for_it() {
        let all = all("s");
        let deps = |id: &str| {
            all.iter()
                .find(|r| r.id() == id)
                .unwrap_or_else(|| panic!("{id} is listed"))
                .depends_on()
        };
        assert_eq!(deps(connect::phone_number::ID), vec![connect::instance::ID]);
        let association = deps(connect::number_flow::ID);
        assert!(association.contains(&connect::phone_number::ID));
        assert!(association.contains(&connect::flow::ID));
    }

    #[test]
    fn dependencies_point_backwards_in_the_list() {
        let all = all("s");
        for (i, r) in all.iter().enumerate() {
            for d in r.depends_on() {
                let pos = all
                    .iter()
                    .position(|o| o.id() == d)
                    .expect("dependency exists");
                assert!(pos < i, "{} depends on later {d}", r.id());
            }
        }
    }
}
