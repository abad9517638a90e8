//! Benchmark of the local cloud's Lambda Invoke (figures, not a timed test): the cold first
//! Invoke (unzip, process start, runtime init, one event) and the warm Invoke, p50/p95, with the
//! `lambda_echo` example as the function (official Rust runtime client).
//!
//! ```text
//! cargo build -p resetpw-local-cloud --examples
//! eval "$(scripts/local-cloud start)"
//! target/debug/examples/invoke_bench 5 50      # cold starts, warm invocations
//! ```

use aws_config::{BehaviorVersion, Region};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use std::io::Write;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what}: p50 {:.1} ms, p95 {:.1} ms, min {:.1} ms, max {:.1} ms (n={})",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&times, 0.0),
        percentile(&times, 1.0),
        times.len()
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let cold: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let warm: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: `eval \"$(scripts/local-cloud start)\"` first");
    let binary_path = std::env::current_exe()
        .expect("own path")
        .with_file_name("lambda_echo");
    let binary = std::fs::read(&binary_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: cargo build -p resetpw-local-cloud --examples",
            binary_path.display()
        )
    });
    let mut zip = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut zip);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        writer.start_file("bootstrap", options).expect("zip");
        writer.write_all(&binary).expect("zip");
        writer.finish().expect("zip");
    }
    let zip = zip.into_inner();

    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let lambda = aws_sdk_lambda::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let suffix = fastrand::u32(..1_000_000);
    let role = iam
        .create_role()
        .role_name(format!("bench-{suffix}"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("CreateRole");
    let name = format!("bench-{suffix}");
    lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().expect("role").arn())
        .timeout(10)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .expect("CreateFunction");

    let payload =
        r#"{"sessionState":{"intent":{"name":"ResetPW"}},"inputTranscript":"reset my password"}"#;
    let invoke = || async {
        let start = Instant::now();
        let out = lambda
            .invoke()
            .function_name(&name)
            .payload(Blob::new(payload))
            .send()
            .await
            .expect("Invoke");
        assert_eq!(out.function_error(), None, "the function answered");
        start.elapsed()
    };

    let mut colds = Vec::new();
    for i in 0..cold {
        // A configuration change makes the next Invoke a cold start.
        lambda
            .update_function_configuration()
            .function_name(&name)
            .environment(
                Environment::builder()
                    .variables("RUN", i.to_string())
                    .build(),
            )
            .send()
            .await
            .expect("UpdateFunctionConfiguration");
        colds.push(invoke().await);
    }
    let mut warms = Vec::new();
    for _ in 0..warm {
        warms.push(invoke().await);
    }
    report("cold first Invoke", colds);
    report("warm Invoke", warms);
    lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("DeleteFunction");
}
