//! Instances (CREATION_IN_PROGRESS → ACTIVE or CREATION_FAILED after the delay), created with
//! the default standard queue `BasicQueue` and the default flows, and ListQueues.

use super::flows::{self, Flow};
use super::{
    epoch_seconds, max_results, page_or_error, tags_json, uuid, ApiError, ApiResult, Call, Ctx,
    Store,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const ACTIVE: &str = "ACTIVE";
pub const IN_PROGRESS: &str = "CREATION_IN_PROGRESS";
pub const FAILED: &str = "CREATION_FAILED";
const IDENTITY_TYPES: &[&str] = &["SAML", "CONNECT_MANAGED", "EXISTING_DIRECTORY"];
const QUEUE_TYPES: &[&str] = &["STANDARD", "AGENT"];
pub const DEFAULT_QUEUE: &str = "BasicQueue";

pub struct Queue {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub queue_type: &'static str,
    pub modified: f64,
    pub tags: BTreeMap<String, String>,
}

pub struct Instance {
    pub id: String,
    pub arn: String,
    pub region: String,
    pub alias: Option<String>,
    pub identity: String,
    pub inbound: bool,
    pub outbound: bool,
    pub created: f64,
    created_at: Instant,
    ready_after: Duration,
    /// Why the creation fails, when it is made to.
    failure: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub queues: Vec<Queue>,
    pub flows: Vec<Flow>,
    /// Associated Lex V2 bot alias ARNs.
    pub bots: Vec<String>,
}

impl Instance {
    pub fn status(&self, now: Instant) -> &'static str {
        if now.saturating_duration_since(self.created_at) < self.ready_after {
            IN_PROGRESS
        } else if self.failure.is_some() {
            FAILED
        } else {
            ACTIVE
        }
    }

    fn summary(&self, now: Instant) -> Value {
        let mut v = json!({
            "Id": self.id,
            "Arn": self.arn,
            "IdentityManagementType": self.identity,
            "CreatedTime": self.created,
            "ServiceRole": format!(
                "arn:aws:iam::{}:role/aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect_{}",
                super::ACCOUNT,
                &self.id[..8]
            ),
            "InstanceStatus": self.status(now),
            "InboundCallsEnabled": self.inbound,
            "OutboundCallsEnabled": self.outbound,
        });
        if let Some(alias) = &self.alias {
            v["InstanceAlias"] = json!(alias);
            v["InstanceAccessUrl"] = json!(format!("https://{alias}.my.connect.aws"));
        }
        v
    }

    /// True when `id_or_arn` names a queue of this instance.
    pub fn has_queue(&self, id_or_arn: &str) -> bool {
        self.queues
            .iter()
            .any(|q| q.id == id_or_arn || q.arn == id_or_arn)
    }
}

/// The instance id in an id or an instance ARN.
fn id_of(id_or_arn: &str) -> &str {
    id_or_arn
        .rsplit_once(":instance/")
        .map_or(id_or_arn, |(_, id)| id)
}

/// The instance an id or ARN names in the caller's region.
pub fn find<'a>(
    store: &'a mut Store,
    ctx: &Ctx<'_>,
    id_or_arn: &str,
) -> Result<&'a mut Instance, ApiError> {
    let id = id_of(id_or_arn);
    store
        .instances
        .iter_mut()
        .find(|i| i.id == id && i.region == ctx.region)
        .ok_or_else(|| ApiError::NotFound(format!("Instance {id_or_arn} not found")))
}

/// Like [`find`], for work that needs the instance to be ACTIVE.
pub fn find_active<'a>(
    store: &'a mut Store,
    ctx: &Ctx<'_>,
    id_or_arn: &str,
) -> Result<&'a mut Instance, ApiError> {
    let instance = find(store, ctx, id_or_arn)?;
    match instance.status(ctx.now) {
        ACTIVE => Ok(instance),
        status => Err(ApiError::InvalidRequest(format!(
            "Instance {} is {status}, not ACTIVE",
            instance.id
        ))),
    }
}

/// The rule of InstanceAlias: 1-45 letters, digits and inner hyphens, not starting with `d-`.
fn alias_problem(alias: &str) -> Option<&'static str> {
    let ok_chars = alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if alias.is_empty() || alias.len() > 45 {
        Some("must be 1 to 45 characters")
    } else if !ok_chars {
        Some("may contain only letters, digits and hyphens")
    } else if alias.starts_with('-') || alias.ends_with('-') {
        Some("must start and end with a letter or digit")
    } else if alias.starts_with("d-") {
        Some("must not start with d-")
    } else {
        None
    }
}

/// A ClientToken seen before: the same answer for the same request, an error for another one.
pub fn replay(
    store: &Store,
    operation: &str,
    call: &Call,
    token_key: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(token) = call.str(token_key) else {
        return Ok(None);
    };
    let mut asked = call.body.clone();
    if let Some(o) = asked.as_object_mut() {
        o.remove(token_key);
    }
    match store.tokens.get(&format!("{operation}:{token}")) {
        Some((before, answer)) if *before == asked => Ok(Some(answer.clone())),
        Some(_) => Err(ApiError::Idempotency(format!(
            "{token_key} {token} was used before with different parameters"
        ))),
        None => Ok(None),
    }
}

pub fn remember(store: &mut Store, operation: &str, call: &Call, token_key: &str, answer: &Value) {
    if let Some(token) = call.str(token_key) {
        let mut asked = call.body.clone();
        if let Some(o) = asked.as_object_mut() {
            o.remove(token_key);
        }
        store
            .tokens
            .insert(format!("{operation}:{token}"), (asked, answer.clone()));
    }
}

pub fn create(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    if let Some(answer) = replay(store, "CreateInstance", call, "ClientToken")
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?
    {
        return Ok(answer);
    }
    let identity = call.str("IdentityManagementType").unwrap_or_default();
    if !IDENTITY_TYPES.contains(&identity) {
        return Err(ApiError::InvalidRequest(format!(
            "IdentityManagementType must be one of {} (got '{identity}')",
            IDENTITY_TYPES.join(", ")
        )));
    }
    let flag = |key: &str| {
        call.body
            .get(key)
            .and_then(Value::as_bool)
            .ok_or_else(|| ApiError::InvalidRequest(format!("{key} is required (true or false)")))
    };
    let (inbound, outbound) = (flag("InboundCallsEnabled")?, flag("OutboundCallsEnabled")?);
    let alias = call.str("InstanceAlias").map(str::to_string);
    match (&alias, identity) {
        (Some(a), _) => {
            if let Some(problem) = alias_problem(a) {
                return Err(ApiError::InvalidRequest(format!(
                    "InstanceAlias '{a}' {problem}"
                )));
            }
            if store.instances.iter().any(|i| {
                i.alias
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(a))
            }) {
                return Err(ApiError::InvalidRequest(format!(
                    "InstanceAlias '{a}' is already in use by another instance"
                )));
            }
        }
        (None, "EXISTING_DIRECTORY") if call.str("DirectoryId").is_none() => {
            return Err(ApiError::InvalidRequest(
                "DirectoryId is required with IdentityManagementType EXISTING_DIRECTORY".into(),
            ))
        }
        (None, "EXISTING_DIRECTORY") => {}
        (None, _) => {
            return Err(ApiError::InvalidRequest(format!(
                "InstanceAlias is required with IdentityManagementType {identity}"
            )))
        }
    }
    let tags = call
        .tags("Tags")
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let id = uuid();
    let arn = ctx.arn(&format!("instance/{id}"));
    let now = epoch_seconds();
    let queue_id = uuid();
    let queues = vec![Queue {
        arn: format!("{arn}/queue/{queue_id}"),
        id: queue_id,
        name: DEFAULT_QUEUE.into(),
        queue_type: "STANDARD",
        modified: now,
        tags: BTreeMap::new(),
    }];
    let failure = (call.fault.as_deref() == Some("InstanceCreationFailed")).then(|| {
        "The instance could not be created (failure injected by the local cloud)".to_string()
    });
    let instance = Instance {
        flows: flows::defaults(&arn, now),
        id: id.clone(),
        arn: arn.clone(),
        region: ctx.region.clone(),
        alias,
        identity: identity.into(),
        inbound,
        outbound,
        created: now,
        created_at: ctx.now,
        ready_after: ctx.delay,
        failure,
        tags,
        queues,
        bots: Vec::new(),
    };
    store.instances.push(instance);
    let answer = json!({"Id": id, "Arn": arn});
    remember(store, "CreateInstance", call, "ClientToken", &answer);
    Ok(answer)
}

pub fn describe(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance = find(store, ctx, call.label(0))?;
    let mut v = instance.summary(ctx.now);
    v["Tags"] = tags_json(&instance.tags);
    if instance.status(ctx.now) == FAILED {
        v["StatusReason"] = json!({"Message": instance.failure});
    }
    Ok(json!({ "Instance": v }))
}

pub fn list(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let max = max_results(
        call.query_value("maxResults").and_then(|v| v.parse().ok()),
        10,
        10,
    )
    .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let all: Vec<Value> = store
        .instances
        .iter()
        .filter(|i| i.region == ctx.region)
        .map(|i| i.summary(ctx.now))
        .collect();
    let (items, next) = page_or_error(&all, call.query_value("nextToken"), max)
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    Ok(json!({"InstanceSummaryList": items, "NextToken": next}))
}

/// DeleteInstance: the instance goes, and with it the numbers claimed to it (released: they
/// cannot be claimed again).
pub fn delete(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let id = find(store, ctx, call.label(0))?.id.clone();
    store.instances.retain(|i| i.id != id);
    let (released, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut store.numbers)
        .into_iter()
        .partition(|n| n.instance_id == id);
    store.numbers = kept;
    store
        .unavailable
        .extend(released.into_iter().map(|n| n.number));
    Ok(Value::Null)
}

pub fn list_queues(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let types = call.query_values("queueTypes");
    if let Some(bad) = types.iter().find(|t| !QUEUE_TYPES.contains(t)) {
        return Err(ApiError::InvalidParameter(format!(
            "queueTypes '{bad}' is not one of {}",
            QUEUE_TYPES.join(", ")
        )));
    }
    let max = max_results(
        call.query_value("maxResults").and_then(|v| v.parse().ok()),
        1000,
        100,
    )?;
    let instance = find_active(store, ctx, call.label(0))?;
    let all: Vec<Value> = instance
        .queues
        .iter()
        .filter(|q| types.is_empty() || types.contains(&q.queue_type))
        .map(|q| {
            json!({"Id": q.id, "Arn": q.arn, "Name": q.name, "QueueType": q.queue_type,
                   "LastModifiedTime": q.modified, "LastModifiedRegion": instance.region})
        })
        .collect();
    let (items, next) = page_or_error(&all, call.query_value("nextToken"), max)?;
    Ok(json!({"QueueSummaryList": items, "NextToken": next}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::own::lex::Lex;

    fn ctx(lex: &Lex, delay_ms: u64) -> Ctx<'_> {
        Ctx {
            region: "us-east-1".into(),
            account: super::super::ACCOUNT,
            now: Instant::now(),
            delay: Duration::from_millis(delay_ms),
            lex,
            env: Box::leak(Box::new(crate::own::connect::run::Env {
                own: std::sync::Arc::default(),
                faults: std::sync::Arc::default(),
            })),
            app: None,
        }
    }

    fn call(body: Value, fault: Option<&str>) -> Call {
        Call {
            labels: vec![],
            query: vec![],
            body,
            fault: fault.map(str::to_string),
        }
    }

    fn request(alias: &str) -> Value {
        json!({"IdentityManagementType": "CONNECT_MANAGED", "InstanceAlias": alias,
               "InboundCallsEnabled": true, "OutboundCallsEnabled": false})
    }

    #[test]
    fn an_instance_becomes_active_after_the_delay_with_basic_queue_and_default_flows() {
        let lex = Lex::default();
        let mut store = Store::default();
        let c = ctx(&lex, 50);
        create(&mut store, &c, &call(request("demo-1"), None)).unwrap();
        let instance = &store.instances[0];
        assert_eq!(instance.status(c.now), IN_PROGRESS);
        assert_eq!(instance.status(c.now + Duration::from_millis(50)), ACTIVE);
        assert_eq!(instance.queues[0].name, DEFAULT_QUEUE);
        assert!(instance
            .flows
            .iter()
            .any(|f| f.name == "Default customer queue" && f.flow_type == "CUSTOMER_QUEUE"));
        assert!(instance
            .arn
            .starts_with("arn:aws:connect:us-east-1:123456789012:instance/"));
    }

    #[test]
    fn an_injected_failure_ends_creation_failed() {
        let lex = Lex::default();
        let mut store = Store::default();
        let c = ctx(&lex, 0);
        create(
            &mut store,
            &c,
            &call(request("demo-2"), Some("InstanceCreationFailed")),
        )
        .unwrap();
        assert_eq!(store.instances[0].status(c.now), FAILED);
    }

    #[test]
    fn aliases_are_checked_and_unique() {
        let lex = Lex::default();
        let mut store = Store::default();
        let c = ctx(&lex, 0);
        for bad in ["d-abc", "-x", "a_b", ""] {
            assert!(
                matches!(
                    create(&mut store, &c, &call(request(bad), None)),
                    Err(ApiError::InvalidRequest(_))
                ),
                "{bad}"
            );
        }
        create(&mut store, &c, &call(request("taken"), None)).unwrap();
        let again = create(&mut store, &c, &call(request("Taken"), None));
        assert!(matches!(again, Err(ApiError::InvalidRequest(m)) if m.contains("already in use")));
    }

    #[test]
    fn a_client_token_replays_the_same_instance() {
        let lex = Lex::default();
        let mut store = Store::default();
        let c = ctx(&lex, 0);
        let mut body = request("tok");
        body["ClientToken"] = json!("t-1");
        let first = create(&mut store, &c, &call(body.clone(), None)).unwrap();
        let second = create(&mut store, &c, &call(body, None)).unwrap();
        assert_eq!(first, second);
        assert_eq!(store.instances.len(), 1);
    }
}
