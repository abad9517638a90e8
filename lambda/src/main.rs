//! `bootstrap`: the Lambda entry point for the provided.al2023 runtime.

use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use resetpw_lambda::lex::LexEvent;
use resetpw_lambda::{app, logging};
use serde_json::Value;

// Multi-thread: the directory connection opened in the background at cold start then runs
// beside the runtime's first poll instead of delaying it (measured: one thread made the
// init phase about 50 ms longer). Two workers, set rather than detected, which would read the
// cgroup CPU quota files at every cold start; the clock starts before the runtime is built.
fn main() -> Result<(), Error> {
    let started = Instant::now();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(serve(started))
}

async fn serve(started: Instant) -> Result<(), Error> {
    let runtime_ready = started.elapsed();
    logging::init();
    let logging_ready = started.elapsed();
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
        config_us = cold.config.as_micros() as u64,
        sdk_us = cold.sdk.as_micros() as u64,
        tls_us = cold.tls.as_micros() as u64,
        runtime_us = runtime_ready.as_micros() as u64,
        logging_us = (logging_ready - runtime_ready).as_micros() as u64,
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
