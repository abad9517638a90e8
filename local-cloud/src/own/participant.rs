//! The Amazon Connect Participant Service (restJson1, signing name `execute-api`; its calls are
//! authorized by the `X-Amz-Bearer` header, so they are answered signed or not): what a chat
//! customer does on a contact StartChatContact began.
//!
//! - CreateParticipantConnection (`POST /participant/connection`, the participant token):
//!   `ConnectionCredentials` with the connection token (CONNECTION_CREDENTIALS; a WEBSOCKET
//!   connection is not served: its URL is not given);
//! - SendMessage (`POST /participant/message`, the connection token): the customer's message,
//!   which the flow hears (the Lex block takes it as the next turn);
//! - GetTranscript (`POST /participant/transcript`): the items so far, MESSAGE (`text/plain`)
//!   and EVENT (`application/vnd.amazonaws.connect.event.participant.joined` / `.participant.left`
//!   / `.chat.ended`), with roles CUSTOMER and SYSTEM (display names `SYSTEM_MESSAGE` for the
//!   flow's prompts, `BOT` for the bot's messages), paged by `MaxResults` / `NextToken`, in
//!   `SortOrder` (ASCENDING by default) from the `ScanDirection` end (BACKWARD, the most recent,
//!   by default);
//! - DisconnectParticipant (`POST /participant/disconnect`): the customer leaves; the chat ends.
//!
//! A token that is missing or names no participant (or a chat that has ended) is
//! AccessDeniedException (403); a bad request is ValidationException (400); both `{"Message"}`.

use super::connect::contacts::{Contact, Disposition, Line, Running, Speaker};
use super::connect::{epoch_seconds, uuid};
use super::Request;
use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// The operation a route names.
pub fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    if method != Method::POST {
        return None;
    }
    Some(match path.trim_end_matches('/') {
        "/participant/connection" => "CreateParticipantConnection",
        "/participant/message" => "SendMessage",
        "/participant/transcript" => "GetTranscript",
        "/participant/disconnect" => "DisconnectParticipant",
        "/participant/event" => "SendEvent",
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Validation(String),
}

impl Error {
    fn response(&self) -> Response<Body> {
        let (status, code) = match self {
            Error::AccessDenied(_) => (StatusCode::FORBIDDEN, "AccessDeniedException"),
            Error::Validation(_) => (StatusCode::BAD_REQUEST, "ValidationException"),
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-amzn-errortype", code)
            .header("x-amzn-requestid", uuid())
            .body(Body::from(json!({"Message": self.to_string()}).to_string()))
            .unwrap_or_default()
    }
}

fn ok(value: Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", uuid())
        .body(Body::from(value.to_string()))
        .unwrap_or_default()
}

/// ISO 8601 with milliseconds, as the service writes `AbsoluteTime` and `Expiry`.
fn iso(epoch: f64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis((epoch * 1000.0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

fn denied() -> Error {
    Error::AccessDenied("You do not have sufficient access to perform this action.".into())
}

fn bearer(request: &Request<'_>) -> Result<String, Error> {
    request
        .headers
        .get("x-amz-bearer")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(denied)
}

fn item(c: &Contact, line: &Line) -> Value {
    let (role, name, participant) = match line.speaker {
        Speaker::Customer => (
            "CUSTOMER",
            c.customer_name.clone().unwrap_or_default(),
            c.customer_participant.clone().unwrap_or_default(),
        ),
        Speaker::Bot => ("SYSTEM", "BOT".to_string(), c.id.clone()),
        Speaker::Flow => ("SYSTEM", "SYSTEM_MESSAGE".to_string(), c.id.clone()),
    };
    let mut v = json!({
        "AbsoluteTime": iso(line.at),
        "ContentType": line.content_type,
        "Id": line.id,
        "Type": if line.content_type == "text/plain" { "MESSAGE" } else { "EVENT" },
        "ParticipantId": participant,
        "DisplayName": name,
        "ParticipantRole": role,
        "ContactId": c.id,
    });
    if line.content_type == "text/plain" {
        v["Content"] = json!(line.text);
    }
    v
}

pub async fn handle(request: Request<'_>) -> Response<Body> {
    let path = request.path_and_query.split('?').next().unwrap_or_default();
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(v) => v,
            Err(e) => return Error::Validation(format!("The body is not JSON: {e}")).response(),
        }
    };
    let result = match operation_of(request.method, path) {
        Some("CreateParticipantConnection") => connection(&request, &body),
        Some("SendMessage") => message(&request, &body),
        Some("GetTranscript") => transcript(&request, &body),
        Some("DisconnectParticipant") => disconnect(&request),
        Some(op) => Err(Error::Validation(format!(
            "{op} is not served by the local cloud"
        ))),
        None => Err(Error::Validation(format!(
            "{} {path} is not an Amazon Connect Participant Service operation",
            request.method
        ))),
    };
    match result {
        Ok(v) => ok(v),
        Err(e) => e.response(),
    }
}

/// The chat a connection token belongs to, while it lasts.
fn chat_of(request: &Request<'_>) -> Result<Arc<Running>, Error> {
    let token = bearer(request)?;
    let contacts = &request.env.own.connect.contacts;
    let participant = contacts.by_connection_token(&token).ok_or_else(denied)?;
    let running = contacts.get(&participant.contact_id).ok_or_else(denied)?;
    let ended = {
        let c = running.snapshot();
        c.ended.is_some() && !matches!(c.disposition, Some(Disposition::Queued { .. }))
    };
    if ended || running.customer_left() {
        return Err(denied());
    }
    Ok(running)
}

fn connection(request: &Request<'_>, body: &Value) -> Result<Value, Error> {
    let token = bearer(request)?;
    let types: Vec<&str> = body["Type"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(bad) = types.iter().find(|t| {
        !matches!(
            **t,
            "WEBSOCKET" | "CONNECTION_CREDENTIALS" | "WEBRTC_CONNECTION"
        )
    }) {
        return Err(Error::Validation(format!(
            "Type '{bad}' is not WEBSOCKET, CONNECTION_CREDENTIALS or WEBRTC_CONNECTION"
        )));
    }
    let contacts = &request.env.own.connect.contacts;
    let participant = contacts.by_participant_token(&token).ok_or_else(denied)?;
    let running = contacts.get(&participant.contact_id).ok_or_else(denied)?;
    if running.customer_left() {
        return Err(denied());
    }
    let connection = contacts
        .connect(&token, super::connect::chat::token)
        .ok_or_else(denied)?;
    let expiry = iso(epoch_seconds() + 86_400.0);
    let mut answer = json!({});
    if types.contains(&"CONNECTION_CREDENTIALS") {
        answer["ConnectionCredentials"] = json!({"ConnectionToken": connection, "Expiry": expiry});
    }
    Ok(answer)
}

fn message(request: &Request<'_>, body: &Value) -> Result<Value, Error> {
    let running = chat_of(request)?;
    let content_type = body["ContentType"].as_str().unwrap_or_default();
    if !matches!(
        content_type,
        "text/plain" | "text/markdown" | "application/json"
    ) {
        return Err(Error::Validation(format!(
            "ContentType '{content_type}' is not text/plain, text/markdown or application/json"
        )));
    }
    let content = body["Content"].as_str().unwrap_or_default();
    if content.is_empty() || content.chars().count() > 16384 {
        return Err(Error::Validation(
            "Content must be 1 to 16384 characters".into(),
        ));
    }
    let (id, at) = running.customer_says(content);
    Ok(json!({"Id": id, "AbsoluteTime": iso(at)}))
}

fn transcript(request: &Request<'_>, body: &Value) -> Result<Value, Error> {
    let token = bearer(request)?;
    // The transcript stays readable after the chat ended (while the token is known).
    let contacts = &request.env.own.connect.contacts;
    let participant = contacts.by_connection_token(&token).ok_or_else(denied)?;
    let running = contacts.get(&participant.contact_id).ok_or_else(denied)?;
    let max = match body.get("MaxResults").and_then(Value::as_u64) {
        None => 15,
        Some(n @ 1..=100) => n as usize,
        Some(n) => {
            return Err(Error::Validation(format!(
                "MaxResults {n} is out of range (1 to 100)"
            )))
        }
    };
    let c = running.snapshot();
    let mut items: Vec<Value> = c.transcript.iter().map(|l| item(&c, l)).collect();
    let backward = body["ScanDirection"].as_str().unwrap_or("BACKWARD") == "BACKWARD";
    if backward {
        items.reverse();
    }
    let start = match body["NextToken"].as_str() {
        None | Some("") => 0,
        Some(t) => t
            .strip_prefix("items-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| Error::Validation("NextToken is not one this service gave".into()))?,
    };
    let end = (start + max).min(items.len());
    let mut page: Vec<Value> = items[start..end].to_vec();
    let descending = body["SortOrder"].as_str() == Some("DESCENDING");
    // The page is in scan order; the sort order decides how it is given.
    if backward != descending {
        page.reverse();
    }
    let mut answer = json!({"InitialContactId": c.id, "Transcript": page});
    if end < items.len() {
        answer["NextToken"] = json!(format!("items-{end}"));
    }
    Ok(answer)
}

fn disconnect(request: &Request<'_>) -> Result<Value, Error> {
    let running = chat_of(request)?;
    running.customer_leaves();
    Ok(json!({}))
}
