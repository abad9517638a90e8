//! What a request is: which service it is for (from its SigV4 credential scope), which
//! operation it calls, whether it changes state, and how errors are shaped for its protocol.

use axum::http::{HeaderMap, Method};
use serde_json::{Map, Value};

/// The wire protocol family of a request, which decides how an error response must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsJson1_0 / awsJson1_1: `X-Amz-Target` header, JSON body.
    Json,
    /// awsQuery: form-encoded body with `Action=`.
    Query,
    /// ec2Query: like awsQuery, with EC2's own error document.
    Ec2Query,
    /// restJson1 / restXml: the operation is in the method and path.
    Rest,
}

/// Everything the router needs to know about one request.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub protocol: Protocol,
    pub mutating: bool,
    pub app: Option<String>,
    pub params: Value,
}

/// The signing name in the SigV4 credential scope: `Credential=AKID/DATE/REGION/SERVICE/aws4_request`,
/// from the Authorization header or a presigned URL's `X-Amz-Credential`.
pub fn service_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .map(|rest| rest.split([',', ' ']).next().unwrap_or("").to_string());
    let scope = from_header.or_else(|| {
        form_urlencoded::parse(query?.as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned())
    })?;
    let parts: Vec<&str> = scope.split('/').collect();
    (parts.len() == 5).then(|| parts[3].to_string())
}

/// The SDK app id, from the `app/<id>` token of the user agent (set by AWS_SDK_UA_APP_ID).
pub fn app_of(headers: &HeaderMap) -> Option<String> {
    ["x-amz-user-agent", "user-agent"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .flat_map(|ua| ua.split(' '))
        .find_map(|token| token.strip_prefix("app/").map(str::to_string))
}

/// Reads the operation name and parameters of a request.
pub fn classify(
    service: &str,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Call {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let app = app_of(headers);
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        let params = redact(service, serde_json::from_slice(body).unwrap_or(Value::Null));
        return Call {
            mutating: is_mutating_name(&operation),
            service: service.to_string(),
            operation,
            protocol: Protocol::Json,
            app,
            params,
        };
    }
    let form_source = if content_type.starts_with("application/x-www-form-urlencoded") {
        Some(body.to_vec())
    } else if method == Method::GET && query.is_some_and(|q| q.contains("Action=")) {
        query.map(|q| q.as_bytes().to_vec())
    } else {
        None
    };
    if let Some(form) = form_source {
        let mut params = Map::new();
        for (k, v) in form_urlencoded::parse(&form) {
            params.insert(k.into_owned(), Value::String(shorten(v.into_owned())));
        }
        let operation = params
            .get("Action")
            .and_then(Value::as_str)
            .unwrap_or("Unknown")
            .to_string();
        return Call {
            mutating: is_mutating_name(&operation),
            service: service.to_string(),
            operation,
            protocol: if service == "ec2" {
                Protocol::Ec2Query
            } else {
                Protocol::Query
            },
            app,
            params: Value::Object(params),
        };
    }
    // Smithy RPC v2: /service/<Service>/operation/<Operation>
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() == 5 && segments[1] == "service" && segments[3] == "operation" {
        let operation = segments[4].to_string();
        return Call {
            mutating: is_mutating_name(&operation),
            service: service.to_string(),
            operation,
            protocol: Protocol::Rest,
            app,
            params: Value::Null,
        };
    }
    let mut params = Map::new();
    params.insert("method".into(), Value::String(method.to_string()));
    params.insert("path".into(), Value::String(path.to_string()));
    if let Some(q) = query {
        params.insert("query".into(), Value::String(q.to_string()));
    }
    if !body.is_empty() {
        let body_value = serde_json::from_slice(body)
            .map(|v| shorten_value(redact(service, v)))
            .unwrap_or_else(|_| Value::String(format!("<{} bytes>", body.len())));
        params.insert("body".into(), body_value);
    }
    // The services answered here know their REST routes, so their calls carry the real
    // operation name (Lex's List* are POSTs, and reading is not mutating).
    if let Some(operation) = crate::own::operation_of(service, method, path) {
        return Call {
            mutating: is_mutating_name(operation),
            service: service.to_string(),
            operation: operation.to_string(),
            protocol: Protocol::Rest,
            app,
            params: Value::Object(params),
        };
    }
    Call {
        mutating: !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS),
        service: service.to_string(),
        operation: format!("{method} {path}"),
        protocol: Protocol::Rest,
        app,
        params: Value::Object(params),
    }
}

/// Operations that read or compute without changing anything in the cloud.
pub fn is_mutating_name(operation: &str) -> bool {
    const READS: &[&str] = &[
        "Describe",
        "Get",
        "List",
        "Search",
        "Lookup",
        "Check",
        "Head",
        "Query",
        "Scan",
        "BatchGet",
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateRandom",
        "Verify",
        "Sign",
        "Simulate",
        "Validate",
        "Recognize",
    ];
    !READS.iter().any(|prefix| operation.starts_with(prefix))
}

/// Plaintext sent to KMS is a secret: the record keeps its size only.
fn redact(service: &str, mut value: Value) -> Value {
    if service == "kms" {
        if let Some(obj) = value.as_object_mut() {
            if let Some(Value::String(p)) = obj.get("Plaintext") {
                let note = format!("<redacted, {} base64 chars>", p.len());
                obj.insert("Plaintext".into(), Value::String(note));
            }
        }
    }
    value
}

const MAX_RECORDED_STRING: usize = 8192;

fn shorten(s: String) -> String {
    if s.len() > MAX_RECORDED_STRING {
        format!("<{} bytes>", s.len())
    } else {
        s
    }
}

fn shorten_value(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(shorten(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(shorten_value).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, shorten_value(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn service_comes_from_the_credential_scope() {
        let h = headers(&[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/lex/aws4_request, SignedHeaders=host, Signature=ab",
        )]);
        assert_eq!(service_of(&h, None).as_deref(), Some("lex"));
        assert_eq!(service_of(&HeaderMap::new(), None), None);
        let q = "X-Amz-Credential=AKID%2F20261121%2Fus-east-1%2Fconnect%2Faws4_request";
        assert_eq!(
            service_of(&HeaderMap::new(), Some(q)).as_deref(),
            Some("connect")
        );
    }

    #[test]
    fn json_operations_come_from_the_target_header() {
        let h = headers(&[("x-amz-target", "TrentService.CreateKey")]);
        let call = classify(
            "kms",
            &Method::POST,
            "/",
            None,
            &h,
            br#"{"Plaintext":"c2VjcmV0"}"#,
        );
        assert_eq!(call.operation, "CreateKey");
        assert!(call.mutating);
        assert_eq!(call.protocol, Protocol::Json);
        assert!(
            !call.params.to_string().contains("c2VjcmV0"),
            "plaintext must be redacted"
        );
    }

    #[test]
    fn query_operations_come_from_the_action_field() {
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let call = classify(
            "iam",
            &Method::POST,
            "/",
            None,
            &h,
            b"Action=GetRole&RoleName=x",
        );
        assert_eq!(call.operation, "GetRole");
        assert!(!call.mutating);
        assert_eq!(call.params["RoleName"], "x");
        let ec2 = classify("ec2", &Method::POST, "/", None, &h, b"Action=CreateVpc");
        assert_eq!(ec2.protocol, Protocol::Ec2Query);
    }

    #[test]
    fn rest_calls_are_mutating_unless_they_read() {
        let h = HeaderMap::new();
        let get = classify(
            "lambda",
            &Method::GET,
            "/2015-03-31/functions/f",
            None,
            &h,
            b"",
        );
        assert!(!get.mutating);
        let post = classify(
            "lambda",
            &Method::POST,
            "/2015-03-31/functions",
            None,
            &h,
            b"{}",
        );
        assert!(post.mutating);
        // Lambda's routes are named (the emulator answers its Invoke); others keep method + path.
        assert_eq!(post.operation, "CreateFunction");
        let other = classify("s3", &Method::PUT, "/bucket", None, &h, b"");
        assert!(other.mutating);
        assert_eq!(other.operation, "PUT /bucket");
    }

    #[test]
    fn app_id_comes_from_the_user_agent() {
        let h = headers(&[(
            "x-amz-user-agent",
            "aws-sdk-rust/1.3 os/linux app/test-42 md/x",
        )]);
        assert_eq!(app_of(&h).as_deref(), Some("test-42"));
    }
}
