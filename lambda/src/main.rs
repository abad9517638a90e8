//! `bootstrap`: the Lambda entry point for the provided.al2023 runtime.

use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use resetpw_lambda::lex::LexEvent;
use resetpw_lambda::{app, logging};
use serde_json::Value;

// Multi-thread: the directory connection opened in the background at cold start then runs
// beside the runtime's first poll instead of delaying it (measured: one thread made the
// init phase about 50 ms longer).
#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    logging::init();
    let cold = match app::cold_start_from_env().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            return Err(e.into());
        }
    };
    tracing::info!(
        init_us = started.elapsed().as_micros() as u64,
        kms_decrypt_us = cold.kms_decrypt.as_micros() as u64,
        "cold start complete"
    );
    let handler = Arc::new(cold.handler);
    // Any JSON reaches the handler, which answers every shape as Lex expects: a typed event
    // here would make the runtime answer a deserialization error quoting the value instead.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move { Ok::<_, Error>(handler.handle(LexEvent::from_value(event.payload)).await) }
    }))
    .await
}
