//! A minimal Lambda function on the official Rust runtime client (`lambda_runtime`, the one the
//! fulfillment Lambda uses), for the local cloud's Invoke tests (`tests/lambda.rs` zips this
//! binary as `bootstrap`): it answers the event with what the runtime told it, fails when the
//! event asks it to, and with `{"call": true}` makes one AWS call (ListFunctions) with the SDK
//! configured from its environment alone, as a deployed function would.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        if event.payload.get("fail").is_some() {
            return Err(Error::from("failing as asked"));
        }
        println!(
            "{}",
            json!({"audit": "lambda_echo", "request_id": event.context.request_id})
        );
        let mut functions = None;
        if event.payload.get("call").is_some() {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let listed = aws_sdk_lambda::Client::new(&config)
                .list_functions()
                .send()
                .await?;
            functions = Some(listed.functions().len());
        }
        Ok::<Value, Error>(json!({
            "event": event.payload,
            "request_id": event.context.request_id,
            "deadline": event.context.deadline,
            "invoked_function_arn": event.context.invoked_function_arn,
            "function_name": event.context.env_config.function_name,
            "memory": event.context.env_config.memory,
            "version": event.context.env_config.version,
            "functions": functions,
        }))
    }))
    .await
}
