//! The services this emulator answers itself because moto lacks them: Lex V2 (model building
//! and runtime, signing name `lex`) and Amazon Connect (`connect`). Their handlers arrive with
//! the bot and Connect issues; until then every call gets a clear, well-formed error.

use crate::protocol::Call;
use axum::body::{Body, Bytes};
use axum::http::{Response, StatusCode};

/// Signing names of the services implemented here rather than forwarded to moto.
pub const OWN_SERVICES: &[&str] = &["lex", "connect"];

pub fn is_own(service: &str) -> bool {
    OWN_SERVICES.contains(&service)
}

pub async fn handle(call: &Call, _body: Bytes) -> Response<Body> {
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
