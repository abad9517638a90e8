//! The services this emulator answers itself because moto lacks them or breaks the Rust SDK on
//! them: Lex V2 (model building and runtime, signing name `lex`), Amazon Connect (`connect`) and
//! its Participant Service (`execute-api`), and Lambda's Invoke (`lambda`: the rest of Lambda goes on to moto). One module per service,
//! each with its routes, its in-memory state and its wire shapes; this file only dispatches by
//! signing name.

pub mod connect;
pub mod lambda;
pub mod lex;
pub mod participant;

use crate::protocol::Call;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Response, StatusCode};

/// Signing names of the services implemented here rather than forwarded to moto.
/// (`execute-api` is the Connect Participant Service's.)
pub const OWN_SERVICES: &[&str] = &["lex", "connect", "lambda", "execute-api"];

/// The signing name of a request that carries none: the Connect Participant Service's calls
/// are authorized by their `X-Amz-Bearer` token and may come unsigned.
pub fn unsigned_service(path: &str) -> Option<String> {
    path.starts_with("/participant/")
        .then(|| "execute-api".to_string())
}

pub fn is_own(service: &str) -> bool {
    OWN_SERVICES.contains(&service)
}

/// The operation name of a REST request to a service answered here (`ListBots` for
/// `POST /bots/`), for the call record; `None` when the route is unknown.
pub fn operation_of(service: &str, method: &Method, path: &str) -> Option<&'static str> {
    match service {
        "lex" => lex::operation_of(method, path),
        "connect" => connect::operation_of(method, path),
        "lambda" => lambda::operation_of(method, path),
        "execute-api" => participant::operation_of(method, path),
        _ => None,
    }
}

/// True when the service acts out an injected fault with this code itself (a phone number taken
/// between search and claim, say) instead of the router answering an error for it.
pub fn acts_out(service: &str, operation: &str, code: &str) -> bool {
    match service {
        "connect" => connect::acts_out(operation, code),
        _ => false,
    }
}

/// The in-memory state of every service answered here (per emulator process, so per port).
#[derive(Default)]
pub struct Own {
    pub lex: lex::Lex,
    pub connect: connect::Connect,
    pub lambda: lambda::Lambda,
}

/// What an own service needs of one request.
#[allow(dead_code)] // read by the service handlers as they arrive
pub struct Request<'a> {
    pub call: &'a Call,
    pub method: &'a Method,
    /// The path and query as sent.
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// The code of an injected fault that the service carries out itself rather than as an
    /// error answer (see [`acts_on_fault`]).
    pub fault: Option<String>,
    /// How long a status change this call starts takes, when a fault rule's `transition_ms`
    /// says so (Lex); `None`: the service's configured delay.
    pub transition: Option<std::time::Duration>,
    /// Where moto is, for a service that answers some operations itself and forwards the rest.
    pub client: &'a reqwest::Client,
    pub moto_url: &'a str,
    /// The emulator as a contact flow run needs it (a chat started here runs in its own task).
    pub env: connect::run::Env,
}

/// Whether an injected fault with this `code` is carried out by the own service (the call is
/// answered normally, with the fault's effect) instead of being answered as an error: Lex's
/// [`lex::FORCED_BUILD_FAILURE`] on BuildBotLocale, Connect's taken number or failed claim or
/// instance.
pub fn acts_on_fault(call: &Call, code: &str) -> bool {
    (call.service == "lex"
        && call.operation == "BuildBotLocale"
        && code == lex::FORCED_BUILD_FAILURE)
        || acts_out(&call.service, &call.operation, code)
}

pub async fn handle(own: &Own, request: Request<'_>) -> Response<Body> {
    match request.call.service.as_str() {
        "lex" => own.lex.handle(request, &own.lambda).await,
        "connect" => own.connect.handle(request, &own.lex).await,
        "lambda" => own.lambda.handle(request).await,
        "execute-api" => participant::handle(request).await,
        _ => not_implemented(request.call),
    }
}

/// The well-formed answer for an operation this emulator does not implement.
pub fn not_implemented(call: &Call) -> Response<Body> {
    let message = format!(
        "{} {} is not implemented by the local cloud yet",
        call.service, call.operation
    );
    Response::builder()
        .status(StatusCode::NOT_IMPLEMENTED)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", "NotImplemented")
        .body(Body::from(
            serde_json::json!({"__type": "NotImplemented", "message": message}).to_string(),
        ))
        .unwrap_or_default()
}
