//! `bootstrap`: the Lambda entry point for the provided.al2023 runtime.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use resetpw_lambda::lex::LexEvent;
use resetpw_lambda::{app, logging};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let handler = match app::cold_start_from_env().await {
        Ok(h) => Arc::new(h),
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            return Err(e.into());
        }
    };
    tracing::info!("cold start complete");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<LexEvent>| {
        let handler = handler.clone();
        async move { Ok::<_, Error>(handler.handle(event.payload).await) }
    }))
    .await
}
