//! The control API under `/_localcloud/`: health, the call record, fault rules, functions' logs,
//! and Amazon Connect's contacts: a voice call rung to a claimed number, and any contact's
//! transcript, attributes, disposition and flow log.

use crate::faults::FaultRule;
use crate::own::connect::{calls, run::Env};
use crate::server::State;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/_localcloud/health", get(health))
        .route("/_localcloud/calls", get(calls).delete(clear_calls))
        .route(
            "/_localcloud/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_localcloud/lambda/logs", get(lambda_logs))
        .route("/_localcloud/connect/calls", post(ring))
        .route("/_localcloud/connect/calls/{id}", delete(hang_up))
        .route("/_localcloud/connect/calls/{id}/turns", post(say))
        .route("/_localcloud/connect/contacts/{id}", get(contact))
}

fn env_of(state: &State) -> Env {
    Env {
        own: state.own.clone(),
        faults: state.faults.clone(),
    }
}

/// Rings a claimed number and answers when the contact has ended (or, for an open call, when
/// the flow waits for the caller): 200 with the contact (also when the call is not answered: its
/// disposition says why), 400 for numbers that are not E.164, 404 for a number that is not
/// claimed.
async fn ring(
    AxState(state): AxState<Arc<State>>,
    Json(dial): Json<calls::Dial>,
) -> impl IntoResponse {
    answer(calls::ring(env_of(&state), dial).await)
}

/// A further turn of an open call: 200 with the contact once the flow waits again or the call
/// has ended, 404 for no such call, 409 for a call that has ended.
async fn say(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<String>,
    Json(turn): Json<calls::Turn>,
) -> impl IntoResponse {
    answer(calls::say(env_of(&state), &id, turn).await)
}

/// The caller hangs up: 200 with the contact as it ended.
async fn hang_up(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> impl IntoResponse {
    answer(calls::hang_up(env_of(&state), &id).await)
}

fn answer(
    result: Result<serde_json::Value, calls::CallError>,
) -> (StatusCode, Json<serde_json::Value>) {
    match result {
        Ok(contact) => (StatusCode::OK, Json(contact)),
        Err(err) => {
            let status = match err {
                calls::CallError::NotANumber(_) => StatusCode::BAD_REQUEST,
                calls::CallError::NotClaimed(_) | calls::CallError::NoSuchCall(_) => {
                    StatusCode::NOT_FOUND
                }
                calls::CallError::Ended(_) => StatusCode::CONFLICT,
            };
            (status, Json(serde_json::json!({"error": err.to_string()})))
        }
    }
}

/// A contact (a call or a chat) as it is now.
async fn contact(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> impl IntoResponse {
    match state.own.connect.contacts.get(&id) {
        Some(running) => (StatusCode::OK, Json(running.to_json())),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": format!("no contact {id} in this local cloud")})),
        ),
    }
}

#[derive(Deserialize)]
struct LogsQuery {
    function: String,
    #[serde(default)]
    since: u64,
}

/// What a function's processes printed (stdout, stderr) and Lambda's START/END/REPORT lines.
async fn lambda_logs(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<LogsQuery>,
) -> impl IntoResponse {
    Json(state.own.lambda.logs(&q.function, q.since))
}

async fn health(AxState(state): AxState<Arc<State>>) -> impl IntoResponse {
    match state
        .client
        .get(format!("{}/", state.moto_url))
        .send()
        .await
    {
        Ok(_) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "moto": state.moto_url})),
        ),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                serde_json::json!({"status": "moto unreachable", "moto": state.moto_url, "error": err.to_string()}),
            ),
        ),
    }
}

#[derive(Deserialize)]
struct CallsQuery {
    app: Option<String>,
    #[serde(default)]
    since: u64,
}

async fn calls(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<CallsQuery>,
) -> impl IntoResponse {
    Json(state.recorder.list(q.app.as_deref(), q.since))
}

async fn clear_calls(AxState(state): AxState<Arc<State>>) -> StatusCode {
    state.recorder.clear();
    StatusCode::NO_CONTENT
}

async fn list_faults(AxState(state): AxState<Arc<State>>) -> impl IntoResponse {
    Json(state.faults.list())
}

async fn add_fault(
    AxState(state): AxState<Arc<State>>,
    Json(rule): Json<FaultRule>,
) -> impl IntoResponse {
    (StatusCode::CREATED, Json(state.faults.add(rule)))
}

#[derive(Deserialize)]
struct ClearQuery {
    app: Option<String>,
}

async fn clear_faults(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<ClearQuery>,
) -> StatusCode {
    state.faults.clear(q.app.as_deref());
    StatusCode::NO_CONTENT
}
