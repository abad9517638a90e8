//! The control API under `/_localcloud/`: health, the call record, fault rules, functions' logs.

use crate::faults::FaultRule;
use crate::server::State;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
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
