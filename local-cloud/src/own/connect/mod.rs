//! Amazon Connect (signing name `connect`, restJson1): instances, queues, contact flows, phone
//! numbers, bot associations and tags, held in memory per emulator process.
//!
//! Wire rules kept here: PascalCase JSON, epoch-seconds timestamps, ids that are UUIDs, ARNs
//! `arn:aws:connect:REGION:ACCOUNT:instance/ID[/queue|contact-flow/ID]` and `.../phone-number/ID`,
//! errors as `x-amzn-errortype` plus `{"Message"}` (InvalidContactFlowException adds `problems`).
//! The region comes from the request's SigV4 scope; the account is moto's default.
//!
//! Asynchronous work (an instance being created, a number being claimed) finishes after a delay,
//! `LOCAL_CLOUD_CONNECT_DELAY_MS` milliseconds (default 200), computed when read: no timers.

mod bots;
pub mod calls;
pub mod chat;
pub mod contacts;
mod flows;
mod instances;
mod numbers;
mod paths;
pub mod run;
pub mod validate;

use super::{lex::Lex, Request};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// moto's default account id, so ARNs from both halves of the local cloud agree.
pub const ACCOUNT: &str = "123456789012";
const DEFAULT_DELAY: Duration = Duration::from_millis(200);
pub const DELAY_ENV: &str = "LOCAL_CLOUD_CONNECT_DELAY_MS";

/// Fault codes this service acts out itself instead of answering an injected error: a fault rule
/// `{"service":"connect","operation":OP,"status":400,"code":CODE}` makes the call behave so.
pub const ACTED_FAULTS: &[(&str, &str)] = &[
    // The number is taken by someone else between search and claim: the claim is refused as
    // Connect refuses it and the number never comes back in a search.
    ("ClaimPhoneNumber", "PhoneNumberTaken"),
    // The claim is accepted, then ends FAILED.
    ("ClaimPhoneNumber", "PhoneNumberClaimFailed"),
    // The instance is accepted, then ends CREATION_FAILED.
    ("CreateInstance", "InstanceCreationFailed"),
];

pub fn acts_out(operation: &str, code: &str) -> bool {
    ACTED_FAULTS.contains(&(operation, code))
}

/// An error answer, as Connect sends it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Duplicate(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Idempotency(String),
    #[error("{0}")]
    NotPublished(String),
    #[error("the contact flow content is not valid ({} problems)", .0.len())]
    InvalidFlow(Vec<String>),
    #[error("{0}")]
    UnknownOperation(String),
}

impl ApiError {
    fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            ApiError::NotFound(_) => ("ResourceNotFoundException", 404),
            ApiError::InvalidRequest(_) => ("InvalidRequestException", 400),
            ApiError::InvalidParameter(_) => ("InvalidParameterException", 400),
            ApiError::Duplicate(_) => ("DuplicateResourceException", 409),
            ApiError::Conflict(_) => ("ResourceConflictException", 409),
            ApiError::Idempotency(_) => ("IdempotencyException", 409),
            ApiError::NotPublished(_) => ("ContactFlowNotPublishedException", 404),
            ApiError::InvalidFlow(_) => ("InvalidContactFlowException", 400),
            ApiError::UnknownOperation(_) => ("UnknownOperationException", 404),
        }
    }

    fn into_response(self) -> Response<Body> {
        let (code, status) = self.code_and_status();
        let body = match &self {
            // The model's InvalidContactFlowException has only `problems`.
            ApiError::InvalidFlow(problems) => json!({
                "problems": problems.iter().map(|m| json!({"message": m})).collect::<Vec<_>>(),
            }),
            other => json!({"Message": other.to_string()}),
        };
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
            .header("content-type", "application/json")
            .header("x-amzn-errortype", code)
            .header("x-amzn-requestid", "local-cloud")
            .body(Body::from(body.to_string()))
            .unwrap_or_default()
    }
}

pub type ApiResult = Result<Value, ApiError>;

/// One REST route: its operation name and the handler that answers it.
type Handler = fn(&mut Store, &Ctx<'_>, &Call) -> ApiResult;

/// The route table: method, path pattern (`{}` is a label), operation, handler.
const ROUTES: &[(&str, &str, &str, Handler)] = &[
    ("PUT", "/instance", "CreateInstance", instances::create),
    ("GET", "/instance", "ListInstances", instances::list),
    (
        "GET",
        "/instance/{}",
        "DescribeInstance",
        instances::describe,
    ),
    (
        "DELETE",
        "/instance/{}",
        "DeleteInstance",
        instances::delete,
    ),
    (
        "GET",
        "/queues-summary/{}",
        "ListQueues",
        instances::list_queues,
    ),
    ("PUT", "/instance/{}/bot", "AssociateBot", bots::associate),
    (
        "POST",
        "/instance/{}/bot",
        "DisassociateBot",
        bots::disassociate,
    ),
    ("GET", "/instance/{}/bots", "ListBots", bots::list),
    (
        "PUT",
        "/contact-flows/{}",
        "CreateContactFlow",
        flows::create,
    ),
    (
        "GET",
        "/contact-flows/{}/{}",
        "DescribeContactFlow",
        flows::describe,
    ),
    (
        "DELETE",
        "/contact-flows/{}/{}",
        "DeleteContactFlow",
        flows::delete,
    ),
    (
        "POST",
        "/contact-flows/{}/{}/content",
        "UpdateContactFlowContent",
        flows::update_content,
    ),
    (
        "POST",
        "/contact-flows/{}/{}/name",
        "UpdateContactFlowName",
        flows::update_name,
    ),
    (
        "POST",
        "/contact-flows/{}/{}/metadata",
        "UpdateContactFlowMetadata",
        flows::update_metadata,
    ),
    (
        "GET",
        "/contact-flows-summary/{}",
        "ListContactFlows",
        flows::list,
    ),
    (
        "POST",
        "/phone-number/search-available",
        "SearchAvailablePhoneNumbers",
        numbers::search,
    ),
    (
        "POST",
        "/phone-number/claim",
        "ClaimPhoneNumber",
        numbers::claim,
    ),
    (
        "POST",
        "/phone-number/list",
        "ListPhoneNumbersV2",
        numbers::list,
    ),
    (
        "GET",
        "/phone-number/{}",
        "DescribePhoneNumber",
        numbers::describe,
    ),
    (
        "DELETE",
        "/phone-number/{}",
        "ReleasePhoneNumber",
        numbers::release,
    ),
    (
        "PUT",
        "/phone-number/{}/contact-flow",
        "AssociatePhoneNumberContactFlow",
        numbers::associate_flow,
    ),
    (
        "DELETE",
        "/phone-number/{}/contact-flow",
        "DisassociatePhoneNumberContactFlow",
        numbers::disassociate_flow,
    ),
    (
        "GET",
        "/flow-associations-summary/{}",
        "ListFlowAssociations",
        numbers::list_flow_associations,
    ),
    ("PUT", "/contact/chat", "StartChatContact", chat::start_chat),
    ("GET", "/contacts/{}/{}", "DescribeContact", chat::describe),
    ("POST", "/tags/{}", "TagResource", tag_resource),
    ("DELETE", "/tags/{}", "UntagResource", untag_resource),
    ("GET", "/tags/{}", "ListTagsForResource", list_tags),
];

/// The route a request takes, with its decoded path labels.
fn route(method: &Method, path: &str) -> Option<(&'static str, Handler, Vec<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    ROUTES.iter().find_map(|(m, pattern, op, handler)| {
        if *m != method.as_str() {
            return None;
        }
        let pattern: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut labels = Vec::new();
        for (p, s) in pattern.iter().zip(&segments) {
            if *p == "{}" {
                if s.is_empty() {
                    return None;
                }
                labels.push(percent_decode_str(s).decode_utf8_lossy().into_owned());
            } else if p != s {
                return None;
            }
        }
        Some((*op, *handler, labels))
    })
}

/// The operation a REST route names, for the call record.
pub fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    route(method, path).map(|(op, _, _)| op)
}

/// What a handler reads of one request.
pub struct Call {
    /// Decoded path labels, in order.
    pub labels: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Value,
    /// A fault this call must act out (one of [`ACTED_FAULTS`]).
    pub fault: Option<String>,
}

impl Call {
    fn label(&self, index: usize) -> &str {
        self.labels.get(index).map_or("", String::as_str)
    }

    fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    fn required_str(&self, key: &str) -> Result<&str, ApiError> {
        self.str(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::InvalidParameter(format!("{key} is required")))
    }

    fn tags(&self, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
        match self.body.get(key) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v.as_str() {
                    Some(v) => Ok((k.clone(), v.to_string())),
                    None => Err(ApiError::InvalidParameter(format!(
                        "tag {k}: the value must be a string"
                    ))),
                })
                .collect(),
            Some(_) => Err(ApiError::InvalidParameter(format!(
                "{key} must be a map of strings"
            ))),
        }
    }
}

/// Where and when a call happens.
pub struct Ctx<'a> {
    pub region: String,
    pub account: &'static str,
    pub now: Instant,
    pub delay: Duration,
    /// The Lex V2 state: AssociateBot / DisassociateBot change the alias's resource policy.
    pub lex: &'a Lex,
    /// The emulator as a flow run needs it (StartChatContact starts one).
    pub env: &'a run::Env,
    /// The caller's SDK app id (a contact it starts is subject to fault rules with that app).
    pub app: Option<String>,
}

impl Ctx<'_> {
    fn arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:connect:{}:{}:{resource}",
            self.region, self.account
        )
    }
}

/// Seconds since the epoch, as Connect's timestamps are sent.
pub fn epoch_seconds() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// A random version-4 UUID, as Connect's ids are.
pub fn uuid() -> String {
    let mut b: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn tags_json(tags: &BTreeMap<String, String>) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// A page of `items` from `next_token` (an offset this service gave out), with the next token.
fn page<T: Clone>(
    items: &[T],
    next_token: Option<&str>,
    max_results: usize,
) -> Option<(Vec<T>, Option<String>)> {
    let start = match next_token {
        None | Some("") => 0,
        Some(token) => token
            .strip_prefix("page-")?
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())?,
    };
    let end = (start + max_results).min(items.len());
    let next = (end < items.len()).then(|| format!("page-{end}"));
    Some((items[start..end].to_vec(), next))
}

/// `maxResults` from the query or body, checked against the operation's bounds.
fn max_results(value: Option<u64>, max: u64, default: u64) -> Result<usize, ApiError> {
    match value {
        None => Ok(default as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::InvalidParameter(format!(
            "MaxResults {n} is out of range (1 to {max})"
        ))),
    }
}

fn page_or_error<T: Clone>(
    items: &[T],
    next_token: Option<&str>,
    max: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    page(items, next_token, max).ok_or_else(|| {
        ApiError::InvalidParameter("NextToken is not one this service gave out".into())
    })
}

/// The in-memory state of Connect in one region-spanning account.
#[derive(Default)]
pub struct Store {
    pub instances: Vec<instances::Instance>,
    pub numbers: Vec<numbers::PhoneNumber>,
    /// Numbers that can no longer be claimed: taken by someone else, or released (cool-down).
    pub unavailable: HashSet<String>,
    /// ClientToken → (what was asked, the answer), for idempotent creates and claims.
    pub tokens: HashMap<String, (Value, Value)>,
}

/// In-memory state.
pub struct Connect {
    store: Mutex<Store>,
    delay: Duration,
    /// Voice calls and chats, with what their flows did.
    pub contacts: contacts::Contacts,
}

impl Default for Connect {
    fn default() -> Self {
        let delay = std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_DELAY, Duration::from_millis);
        Connect::with_delay(delay)
    }
}

impl Connect {
    /// State whose asynchronous work (instance creation, claims) takes `delay`.
    pub fn with_delay(delay: Duration) -> Self {
        Connect {
            store: Mutex::new(Store::default()),
            delay,
            contacts: contacts::Contacts::default(),
        }
    }

    /// Reads or changes the state under its lock (never held across an await).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut store)
    }

    /// `lex` is the Lex V2 state, which AssociateBot / DisassociateBot change (the alias's
    /// resource policy), as Connect does in a real account.
    pub async fn handle(&self, request: Request<'_>, lex: &Lex) -> Response<Body> {
        let (path, query) = request
            .path_and_query
            .split_once('?')
            .unwrap_or((request.path_and_query, ""));
        let Some((operation, handler, labels)) = route(request.method, path) else {
            return ApiError::UnknownOperation(format!(
                "{} {path} is not an Amazon Connect operation the local cloud knows",
                request.method
            ))
            .into_response();
        };
        let body = if request.body.is_empty() {
            Value::Object(Map::new())
        } else {
            match serde_json::from_slice(&request.body) {
                Ok(v) => v,
                Err(err) => {
                    return ApiError::InvalidRequest(format!(
                        "{operation}: the body is not JSON: {err}"
                    ))
                    .into_response()
                }
            }
        };
        let call = Call {
            labels,
            query: form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            body,
            fault: request.fault.clone(),
        };
        let ctx = Ctx {
            region: region_of(request.headers),
            account: ACCOUNT,
            now: Instant::now(),
            delay: self.delay,
            lex,
            env: &request.env,
            app: request.call.app.clone(),
        };
        let result = {
            let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
            handler(&mut store, &ctx, &call)
        };
        match result {
            Ok(Value::Null) => Response::builder()
                .status(StatusCode::OK)
                .header("x-amzn-requestid", "local-cloud")
                .body(Body::empty())
                .unwrap_or_default(),
            Ok(value) => Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("x-amzn-requestid", "local-cloud")
                .body(Body::from(value.to_string()))
                .unwrap_or_default(),
            Err(err) => err.into_response(),
        }
    }
}

/// The region of the SigV4 credential scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
fn region_of(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(2))
        .filter(|r| !r.is_empty())
        .unwrap_or("us-east-1")
        .to_string()
}

/// The tags of the resource an ARN names (an instance, queue, flow or phone number).
fn tags_of<'a>(
    store: &'a mut Store,
    ctx: &Ctx<'_>,
    arn: &str,
) -> Result<&'a mut BTreeMap<String, String>, ApiError> {
    let not_found = || ApiError::NotFound(format!("Resource {arn} not found"));
    if !arn.starts_with(&ctx.arn("")) {
        return Err(not_found());
    }
    if let Some(n) = store.numbers.iter_mut().find(|n| n.arn == arn) {
        return Ok(&mut n.tags);
    }
    for instance in store.instances.iter_mut() {
        if instance.arn == arn {
            return Ok(&mut instance.tags);
        }
        if let Some(f) = instance.flows.iter_mut().find(|f| f.arn == arn) {
            return Ok(&mut f.tags);
        }
        if let Some(q) = instance.queues.iter_mut().find(|q| q.arn == arn) {
            return Ok(&mut q.tags);
        }
    }
    Err(not_found())
}

fn tag_resource(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let new = call.tags("tags")?;
    if new.is_empty() {
        return Err(ApiError::InvalidParameter("tags is required".into()));
    }
    tags_of(store, ctx, call.label(0))?.extend(new);
    Ok(Value::Null)
}

fn untag_resource(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let keys = call.query_values("tagKeys");
    if keys.is_empty() {
        return Err(ApiError::InvalidParameter("tagKeys is required".into()));
    }
    let tags = tags_of(store, ctx, call.label(0))?;
    for key in keys {
        tags.remove(key);
    }
    Ok(Value::Null)
}

fn list_tags(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let tags = tags_of(store, ctx, call.label(0))?;
    Ok(json!({"tags": tags_json(tags)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_operations() {
        let cases = [
            (Method::PUT, "/instance", "CreateInstance"),
            (Method::GET, "/instance/abc", "DescribeInstance"),
            (Method::PUT, "/instance/abc/bot", "AssociateBot"),
            (Method::POST, "/instance/abc/bot", "DisassociateBot"),
            (Method::GET, "/queues-summary/abc", "ListQueues"),
            (
                Method::POST,
                "/contact-flows/a/b/content",
                "UpdateContactFlowContent",
            ),
            (
                Method::POST,
                "/phone-number/search-available",
                "SearchAvailablePhoneNumbers",
            ),
            (Method::POST, "/phone-number/list", "ListPhoneNumbersV2"),
            (Method::GET, "/phone-number/abc", "DescribePhoneNumber"),
            (
                Method::DELETE,
                "/phone-number/abc/contact-flow",
                "DisassociatePhoneNumberContactFlow",
            ),
            (
                Method::GET,
                "/tags/arn%3Aaws%3Aconnect%3Aus-east-1%3A1%3Ainstance%2Fx",
                "ListTagsForResource",
            ),
        ];
        for (method, path, op) in cases {
            assert_eq!(operation_of(&method, path), Some(op), "{method} {path}");
        }
        assert_eq!(operation_of(&Method::GET, "/nothing/here"), None);
        assert_eq!(operation_of(&Method::PATCH, "/instance"), None);
    }

    #[test]
    fn labels_are_percent_decoded() {
        let (_, _, labels) = route(
            &Method::GET,
            "/tags/arn%3Aaws%3Aconnect%3Aus-east-1%3A123456789012%3Ainstance%2Fi-1",
        )
        .unwrap();
        assert_eq!(
            labels,
            ["arn:aws:connect:us-east-1:123456789012:instance/i-1"]
        );
    }

    #[test]
    fn reads_are_not_mutating() {
        use crate::protocol::is_mutating_name;
        for (method, path) in [
            (Method::POST, "/phone-number/search-available"),
            (Method::POST, "/phone-number/list"),
            (Method::GET, "/instance/x/bots"),
        ] {
            assert!(!is_mutating_name(operation_of(&method, path).unwrap()));
        }
        assert!(is_mutating_name(
            operation_of(&Method::POST, "/phone-number/claim").unwrap()
        ));
    }

    #[test]
    fn pages_follow_their_tokens() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page(&items, None, 2).unwrap();
        assert_eq!((first, next.as_deref()), (vec![0, 1], Some("page-2")));
        let (last, next) = page(&items, Some("page-4"), 2).unwrap();
        assert_eq!((last, next), (vec![4], None));
        assert!(page(&items, Some("bogus"), 2).is_none());
        assert!(page(&items, Some("page-9"), 2).is_none());
        assert!(max_results(Some(0), 10, 10).is_err());
        assert_eq!(max_results(None, 10, 7).unwrap(), 7);
    }

    #[test]
    fn uuids_look_like_uuids() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid());
    }

    #[test]
    fn acted_faults_are_known_by_operation() {
        assert!(acts_out("ClaimPhoneNumber", "PhoneNumberTaken"));
        assert!(!acts_out("CreateInstance", "PhoneNumberTaken"));
    }
}
