//! Lex V2 (signing name `lex`): the model-building API in [`models`] (bots, locales, slot types,
//! intents, slots, builds, versions, aliases, tags, resource policies); the runtime in
//! [`runtime`] (RecognizeText, PutSession, GetSession, DeleteSession), which executes the bots as
//! built and calls their code hooks through the emulator's Lambda Invoke.
//!
//! Everything is kept in memory, one state per emulator process (so per port). Answers follow
//! the restJson1 wire of the real service: camelCase JSON, epoch-second timestamps, errors as
//! `x-amzn-errortype` plus `{"message"}` with the service's HTTP status.

pub mod models;
pub mod runtime;

use super::lambda::Lambda;
use super::{not_implemented, Request};
use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Environment variable with the delay, in milliseconds, of Lex's asynchronous status changes
/// (Creating → Available, Building → Built, ...). Also `local-cloud --lex-delay-ms`.
pub const DELAY_ENV: &str = "LOCAL_CLOUD_LEX_DELAY_MS";
/// The delay when none is configured: short, so waits are exercised without slowing tests.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(200);
/// The code of a fault rule on operation `BuildBotLocale` that makes the build be accepted and
/// then end `Failed` (instead of answering an error): `{"service":"lex",
/// "operation":"BuildBotLocale","status":400,"code":"BuildFailed"}`.
pub const FORCED_BUILD_FAILURE: &str = "BuildFailed";

/// The operation a REST route names, for the call record (`ListBots` for `POST /bots/`).
pub fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    models::route(method, path)
        .map(|r| r.operation)
        .or_else(|| runtime::route(method, path).map(|r| r.operation))
}

/// An error answer of the Lex V2 API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LexError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    Validation(String),
    /// The runtime's answer when the code hook Lambda fails or answers nonsense.
    #[error("{0}")]
    DependencyFailed(String),
}

impl LexError {
    pub fn code(&self) -> &'static str {
        match self {
            LexError::NotFound(_) => "ResourceNotFoundException",
            LexError::Conflict(_) => "ConflictException",
            LexError::PreconditionFailed(_) => "PreconditionFailedException",
            LexError::Validation(_) => "ValidationException",
            LexError::DependencyFailed(_) => "DependencyFailedException",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            LexError::NotFound(_) => StatusCode::NOT_FOUND,
            LexError::Conflict(_) => StatusCode::CONFLICT,
            LexError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            LexError::Validation(_) => StatusCode::BAD_REQUEST,
            LexError::DependencyFailed(_) => StatusCode::FAILED_DEPENDENCY,
        }
    }

    fn response(&self) -> Response<Body> {
        json_response(
            self.status(),
            &serde_json::json!({"message": self.to_string()}),
            Some(self.code()),
        )
    }
}

/// The Lex V2 state of one emulator.
pub struct Lex {
    models: Mutex<models::Models>,
    sessions: runtime::Sessions,
    delay_ms: AtomicU64,
}

impl Default for Lex {
    fn default() -> Self {
        let delay = std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_DELAY, Duration::from_millis);
        let lex = Lex {
            models: Mutex::new(models::Models::default()),
            sessions: runtime::Sessions::default(),
            delay_ms: AtomicU64::new(0),
        };
        lex.set_delay(delay);
        lex
    }
}

impl Lex {
    /// How long asynchronous status changes take from now on.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::Relaxed);
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::Relaxed))
    }

    pub async fn handle(&self, request: Request<'_>, lambda: &Lambda) -> Response<Body> {
        let (path, query) = request
            .path_and_query
            .split_once('?')
            .unwrap_or((request.path_and_query, ""));
        let body: Value = if request.body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            match serde_json::from_slice(&request.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return LexError::Validation("The request body is not a JSON object.".into())
                        .response()
                }
            }
        };
        if let Some(route) = runtime::route(request.method, path) {
            return self.run(&route, &body, lambda).await;
        }
        let Some(route) = models::route(request.method, path) else {
            return not_implemented(request.call);
        };
        let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let ctx = models::Ctx {
            delay: request.transition.unwrap_or_else(|| self.delay()),
            forced_build_failure: request.fault.as_deref() == Some(FORCED_BUILD_FAILURE),
        };
        let answer = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .apply(&ctx, &route, &query, body);
        match answer {
            Ok((status, value)) => json_response(status, &value, None),
            Err(err) => err.response(),
        }
    }

    /// A runtime operation on the alias's built locale (the model lock is not held while a code
    /// hook runs).
    async fn run(&self, route: &runtime::Route, body: &Value, lambda: &Lambda) -> Response<Body> {
        let served = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .served(&route.bot, &route.alias, &route.locale);
        let answer = match served {
            Ok(served) => runtime::execute(&self.sessions, lambda, route, served, body).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok(runtime::Answer::Json(value)) => json_response(StatusCode::OK, &value, None),
            Ok(runtime::Answer::Headers(headers)) => {
                let mut builder = Response::builder()
                    .status(StatusCode::OK)
                    .header("x-amzn-requestid", format!("{:032x}", fastrand::u128(..)));
                for (name, value) in headers {
                    builder = builder.header(name, value);
                }
                builder.body(Body::empty()).unwrap_or_default()
            }
            Err(err) => err.response(),
        }
    }

    /// RecognizeText from inside the emulator (a contact flow's Lex block): the runtime's JSON
    /// answer, or its error.
    pub async fn recognize_text(
        &self,
        lambda: &Lambda,
        bot: &str,
        alias: &str,
        locale: &str,
        session: &str,
        body: &Value,
    ) -> Result<Value, LexError> {
        let route = runtime::Route {
            operation: "RecognizeText",
            bot: bot.into(),
            alias: alias.into(),
            locale: locale.into(),
            session: session.into(),
        };
        let served = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .served(&route.bot, &route.alias, &route.locale)?;
        match runtime::execute(&self.sessions, lambda, &route, served, body).await? {
            runtime::Answer::Json(v) => Ok(v),
            runtime::Answer::Headers(_) => Err(LexError::Validation(
                "RecognizeText answered no body".into(),
            )),
        }
    }

    /// What Connect's AssociateBot / DisassociateBot do to the bot alias's resource policy:
    /// with `add`, a statement letting `connect.amazonaws.com` call lex:RecognizeText and
    /// lex:StartConversation on `alias_arn` under the conditions AWS:SourceAccount = `account`
    /// and AWS:SourceArn = `instance_arn` (creating the policy or a new revision); without it,
    /// that statement removed (and the policy deleted when it was the last one). An error when
    /// the alias does not exist (Connect answers InvalidRequestException then).
    #[allow(dead_code)] // called by the Connect handlers as they arrive
    pub fn connect_association(
        &self,
        alias_arn: &str,
        instance_arn: &str,
        account: &str,
        add: bool,
    ) -> Result<(), String> {
        self.models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .connect_association(alias_arn, instance_arn, account, add)
            .map_err(|e| e.to_string())
    }
}

fn json_response(status: StatusCode, value: &Value, error: Option<&str>) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", format!("{:032x}", fastrand::u128(..)));
    if let Some(code) = error {
        builder = builder.header("x-amzn-errortype", code);
    }
    builder
        .body(Body::from(value.to_string()))
        .unwrap_or_default()
}
