//! The router: control API first, then every AWS request is recorded, given any injected fault,
//! and answered by this emulator's own services or forwarded to moto.

use crate::faults::{error_response, Faults};
use crate::record::Recorder;
use crate::{control, forward, own, protocol};
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, Method, Response};
use axum::Router;
use std::sync::Arc;

/// Lambda deployment packages travel inline as base64: allow their full size.
const MAX_BODY: usize = 128 * 1024 * 1024;

pub struct State {
    pub moto_url: String,
    pub client: reqwest::Client,
    pub recorder: Recorder,
    pub faults: Arc<Faults>,
    /// The services answered here, not by moto (shared with the contacts they run).
    pub own: Arc<own::Own>,
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
            faults: Arc::new(Faults::default()),
            own: Arc::new(own::Own::default()),
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
    let Some(service) =
        protocol::service_of(&parts.headers, query).or_else(|| own::unsigned_service(&path))
    else {
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
    // Recorded before anything else, so a reader of the record never misses an accepted call.
    let seq = state.recorder.begin(
        &call.service,
        &call.operation,
        call.mutating,
        call.app.clone(),
        call.params.clone(),
    );
    // Like AWS, a call that has arrived is carried out even when the caller goes away (a killed
    // `resetpw up`): the work runs in its own task, which dropping this handler does not cancel.
    let task = tokio::spawn(answer(
        state,
        Accepted {
            seq,
            call,
            service,
            method: parts.method,
            path_and_query,
            headers: parts.headers,
            body,
        },
    ));
    task.await.unwrap_or_else(|err| {
        Response::builder()
            .status(500)
            .body(Body::from(format!("local-cloud: the call failed: {err}")))
            .unwrap_or_default()
    })
}

/// A recorded call, with what is needed to answer it.
struct Accepted {
    seq: u64,
    call: protocol::Call,
    service: String,
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

async fn answer(state: Arc<State>, accepted: Accepted) -> Response<Body> {
    let Accepted {
        seq,
        call,
        service,
        method,
        path_and_query,
        headers,
        body,
    } = accepted;
    let decision = state
        .faults
        .decide(&call.service, &call.operation, call.app.as_deref());
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let own_fault = match &decision.error {
        Some((_, code)) if own::acts_on_fault(&call, code) => Some(code.clone()),
        _ => None,
    };
    let (response, injected) = match decision.error {
        Some((status, code)) if own_fault.is_none() => (
            error_response(call.protocol, status, &code, decision.message.as_deref()),
            true,
        ),
        _ if own::is_own(&service) => {
            let injected = own_fault.is_some();
            let request = own::Request {
                call: &call,
                method: &method,
                path_and_query: &path_and_query,
                headers: &headers,
                body,
                fault: own_fault,
                transition: decision.transition,
                client: &state.client,
                moto_url: &state.moto_url,
                env: own::connect::run::Env {
                    own: state.own.clone(),
                    faults: state.faults.clone(),
                },
            };
            (own::handle(&state.own, request).await, injected)
        }
        _ => {
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
        }
    };
    state
        .recorder
        .finish(seq, response.status().as_u16(), injected);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultRule;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    /// A caller killed mid-call (here: one that gives up after 50 ms) does not cancel the call:
    /// it still reaches the backend and is recorded as answered, as it would be on AWS.
    #[tokio::test]
    async fn a_call_is_carried_out_after_its_caller_went_away() {
        let reached = Arc::new(AtomicUsize::new(0));
        let counter = reached.clone();
        let backend = Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "{}" }
        });
        let state = State::new(serve(backend).await).unwrap();
        state.faults.add(FaultRule {
            id: 0,
            service: Some("kms".into()),
            operation: None,
            app: None,
            rate: 1.0,
            status: None,
            code: None,
            message: None,
            latency_ms: 300,
            transition_ms: None,
            remaining: None,
        });
        let url = serve(router(state.clone())).await;
        let gave_up = reqwest::Client::new()
            .post(&url)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=ab",
            )
            .header("x-amz-target", "TrentService.CreateKey")
            .body("{}")
            .timeout(Duration::from_millis(50))
            .send()
            .await;
        assert!(gave_up.is_err(), "the caller gave up before the answer");
        for _ in 0..100 {
            if state
                .recorder
                .list(None, 0)
                .iter()
                .all(|c| c.status.is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(reached.load(Ordering::SeqCst), 1, "the call reached moto");
        let calls = state.recorder.list(None, 0);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].operation, "CreateKey");
        assert_eq!(calls[0].status, Some(200), "recorded as answered");
    }
}
