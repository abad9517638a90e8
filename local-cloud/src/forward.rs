//! Forwarding to moto's server: the request goes out unchanged, the answer comes back unchanged.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Response, StatusCode};

/// Headers that belong to one hop and must not be copied.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

pub async fn forward(
    client: &reqwest::Client,
    moto_url: &str,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let url = format!("{moto_url}{path_and_query}");
    let mut request = client.request(method, &url).body(body);
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut builder = Response::builder().status(status);
            for (name, value) in answer.headers() {
                if !HOP_BY_HOP.contains(&name.as_str()) {
                    builder = builder.header(name, value);
                }
            }
            match answer.bytes().await {
                Ok(bytes) => builder.body(Body::from(bytes)).unwrap_or_default(),
                Err(err) => bad_gateway(&format!("reading moto's answer failed: {err}")),
            }
        }
        Err(err) => bad_gateway(&format!(
            "moto at {moto_url} did not answer: {err} (is it running? `scripts/local-cloud start`)"
        )),
    }
}

fn bad_gateway(message: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::BAD_GATEWAY)
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({"__type": "ServiceUnavailable", "message": message}).to_string(),
        ))
        .unwrap_or_default()
}
