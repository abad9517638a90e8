//! The router: control API first, then every AWS request is recorded, given any injected fault,
//! and answered by this emulator's own services or forwarded to moto.

use crate::faults::{error_response, Faults};
use crate::record::Recorder;
use crate::{control, forward, own, protocol};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State as AxState};
use axum::http::Response;
use axum::Router;
use std::sync::Arc;

/// Lambda deployment packages travel inline as base64: allow their full size.
const MAX_BODY: usize = 128 * 1024 * 1024;

pub struct State {
    pub moto_url: String,
    pub client: reqwest::Client,
    pub recorder: Recorder,
    pub faults: Faults,
}

impl State {
    pub fn new(moto_url: String) -> anyhow::Result<Arc<Self>> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Arc::new(State {
            moto_url,
            client,
            recorder: Recorder::default(),
            faults: Faults::default(),
        }))
    }
}

pub fn router(state: Arc<State>) -> Router {
    control::routes().fallback(handle).with_state(state)
}

async fn handle(AxState(state): AxState<Arc<State>>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(err) => {
            return Response::builder()
                .status(413)
                .body(Body::from(format!("request body unreadable: {err}")))
                .unwrap_or_default()
        }
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |pq| pq.as_str().to_string());
    let Some(service) = protocol::service_of(&parts.headers, query) else {
        // Unsigned: moto's own /moto-api/ paths and the like go straight through, unrecorded.
        return forward::forward(
            &state.client,
            &state.moto_url,
            parts.method,
            &path_and_query,
            &parts.headers,
            body,
        )
        .await;
    };
    let call = protocol::classify(&service, &parts.method, &path, query, &parts.headers, &body);
    // Like AWS, a call that has arrived is carried out even when the caller goes away (a killed
    // `resetpw up`): the work runs in its own task, which dropping this handler does not cancel.
    let task = tokio::spawn(answer(
        state,
        call,
        service,
        parts.method,
        path_and_query,
        parts.headers,
        body,
    ));
    task.await.unwrap_or_else(|err| {
        Response::builder()
            .status(500)
            .body(Body::from(format!("local-cloud: the call failed: {err}")))
            .unwrap_or_default()
    })
}

async fn answer(
    state: Arc<State>,
    call: protocol::Call,
    service: String,
    method: axum::http::Method,
    path_and_query: String,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    let seq = state.recorder.begin(
        &call.service,
        &call.operation,
        call.mutating,
        call.app.clone(),
        call.params.clone(),
    );
    let decision = state
        .faults
        .decide(&call.service, &call.operation, call.app.as_deref());
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let (response, injected) = if let Some((status, code)) = decision.error {
        (error_response(call.protocol, status, &code), true)
    } else if own::is_own(&service) {
        (own::handle(&call, body).await, false)
    } else {
        let r = forward::forward(
            &state.client,
            &state.moto_url,
            method,
            &path_and_query,
            &headers,
            body,
        )
        .await;
        (r, false)
    };
    state
        .recorder
        .finish(seq, response.status().as_u16(), injected);
    response
}
