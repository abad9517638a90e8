//! The `fulfillment` section end to end: the real binary deploys the attempts table, the log
//! group and the function against the local cloud; results are checked with the SDK and the
//! call record. The code is a small zip the test writes (`fulfillment.package`), so no release
//! build is needed here; the bundled build is covered by the demo and the package tests.

mod common;

use common::{sdk, stderr, stdout, Case};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The deployment zip for `script`, as `resetpw package` would zip a bootstrap.
fn write_zip(case: &Case, name: &str, script: &str) -> (String, String) {
    let bytes = resetpw::package::zip_bootstrap(script.as_bytes()).expect("zip");
    std::fs::write(case.dir.path().join(name), &bytes).expect("write zip");
    (name.to_string(), resetpw::package::code_sha256(&bytes))
}

fn fulfillment(package: &str, extra: &str) -> String {
    format!("fulfillment:\n  package: {package}\n  memory_mb: 256\n  timeout_seconds: 10\n  log_retention_days: 30\n{extra}")
}

struct Deployed {
    function: Option<aws_sdk_lambda::operation::get_function::GetFunctionOutput>,
    table: Option<aws_sdk_dynamodb::types::TableDescription>,
    ttl: Option<String>,
    table_tags: BTreeMap<String, String>,
    log_retention: Option<i32>,
    log_groups: usize,
    log_tags: BTreeMap<String, String>,
}

async fn deployed(stack: &str) -> Deployed {
    let config = sdk().await;
    let lambda = aws_sdk_lambda::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let function = lambda
        .get_function()
        .function_name(format!("{stack}-fulfillment"))
        .send()
        .await
        .ok();
    let table = dynamodb
        .describe_table()
        .table_name(format!("{stack}-attempts"))
        .send()
        .await
        .ok()
        .and_then(|t| t.table().cloned());
    let (mut ttl, mut table_tags) = (None, BTreeMap::new());
    if let Some(t) = &table {
        let d = dynamodb
            .describe_time_to_live()
            .table_name(format!("{stack}-attempts"))
            .send()
            .await
            .unwrap();
        ttl = d
            .time_to_live_description()
            .filter(|d| d.time_to_live_status().map(|s| s.as_str()) == Some("ENABLED"))
            .and_then(|d| d.attribute_name().map(str::to_string));
        table_tags = dynamodb
            .list_tags_of_resource()
            .resource_arn(t.table_arn().unwrap())
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
    }
    let group = format!("/aws/lambda/{stack}-fulfillment");
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    let found: Vec<_> = groups
        .log_groups()
        .iter()
        .filter(|g| g.log_group_name() == Some(group.as_str()))
        .collect();
    let mut log_tags = BTreeMap::new();
    if !found.is_empty() {
        log_tags = logs
            .list_tags_for_resource()
            .resource_arn(format!(
                "arn:aws:logs:us-east-1:123456789012:log-group:{group}"
            ))
            .send()
            .await
            .unwrap()
            .tags()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
    }
    Deployed {
        function,
        table,
        ttl,
        table_tags,
        log_retention: found.first().and_then(|g| g.retention_in_days()),
        log_groups: found.len(),
        log_tags,
    }
}

async fn stored_ciphertext(stack: &str) -> String {
    aws_sdk_ssm::Client::new(&sdk().await)
        .get_parameter()
        .name(format!("/resetpw/{stack}/directory-secret"))
        .send()
        .await
        .unwrap()
        .parameter()
        .unwrap()
        .value()
        .unwrap()
        .to_string()
}

fn env_of(d: &Deployed) -> BTreeMap<String, String> {
    d.function
        .as_ref()
        .and_then(|f| f.configuration())
        .and_then(|c| c.environment())
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

async fn attached(stack: &str) -> Vec<String> {
    let mut names: Vec<String> = aws_sdk_iam::Client::new(&sdk().await)
        .list_attached_role_policies()
        .role_name(format!("{stack}-fulfillment"))
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn up_deploys_table_log_group_and_function_and_a_second_up_changes_nothing() {
    let case = Case::new("fn");
    let (zip, sha) = write_zip(&case, "fn.zip", "#!/bin/sh\necho one\n");
    let file = case.write_stack(&fulfillment(&zip, "  attempts: {max_failures: 4, window_minutes: 10, lockout_minutes: 30}\n  caller_id_check: false\n"));
    let f = path_str(&file);
    let out = case.run(&["up", "-f", f], 0);
    assert!(
        !stdout(&out).contains(&stored_ciphertext(&case.stack).await),
        "the ciphertext is never printed"
    );

    let d = deployed(&case.stack).await;
    // The table: key schema, on-demand, encrypted, TTL, tags.
    let table = d.table.as_ref().expect("the attempts table exists");
    let key = &table.key_schema()[0];
    assert_eq!(key.attribute_name(), "pk");
    assert_eq!(key.key_type().as_str(), "HASH");
    assert_eq!(
        table.attribute_definitions()[0].attribute_type().as_str(),
        "S"
    );
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );
    assert_eq!(d.ttl.as_deref(), Some("expires_at"));
    assert_eq!(d.table_tags.get("resetpw:stack"), Some(&case.stack));
    assert_eq!(d.table_tags.get("team").map(String::as_str), Some("it"));
    // The log group: retention and tags.
    assert_eq!(d.log_groups, 1);
    assert_eq!(d.log_retention, Some(30));
    assert_eq!(d.log_tags.get("resetpw:stack"), Some(&case.stack));

    // The function.
    let function = d.function.as_ref().expect("the function exists");
    let c = function.configuration().unwrap();
    assert_eq!(c.runtime().map(|r| r.as_str()), Some("provided.al2023"));
    assert_eq!(c.handler(), Some("bootstrap"));
    assert_eq!(
        c.role(),
        Some(
            format!(
                "arn:aws:iam::123456789012:role/resetpw/{}-fulfillment",
                case.stack
            )
            .as_str()
        )
    );
    assert_eq!(c.memory_size(), Some(256));
    assert_eq!(c.timeout(), Some(10));
    assert_eq!(c.code_sha256(), Some(sha.as_str()), "the zip's CodeSha256");
    assert!(
        c.vpc_config().is_none_or(|v| v.subnet_ids().is_empty()),
        "no network section, no VPC configuration"
    );
    let tags = function.tags().cloned().unwrap_or_default();
    assert_eq!(tags.get("resetpw:stack"), Some(&case.stack));
    let env = env_of(&d);
    let ca = std::fs::read_to_string(case.dir.path().join("ca.pem")).unwrap();
    let expected: BTreeMap<&str, String> = BTreeMap::from([
        (
            "RESETPW_LDAP_URLS",
            "ldaps://dc1.corp.example.com:636".to_string(),
        ),
        (
            "RESETPW_BASE_DN",
            "OU=Staff,DC=corp,DC=example,DC=com".into(),
        ),
        (
            "RESETPW_BIND_DN",
            "CN=svc-resetpw,DC=corp,DC=example,DC=com".into(),
        ),
        (
            "RESETPW_BIND_PASSWORD_CIPHERTEXT",
            stored_ciphertext(&case.stack).await,
        ),
        (
            "RESETPW_KMS_ENCRYPTION_CONTEXT",
            format!("resetpw:stack={}", case.stack),
        ),
        ("RESETPW_CA_PEM", ca),
        ("RESETPW_USER_ID_ATTRIBUTE", "sAMAccountName".into()),
        (
            "RESETPW_QUESTIONS",
            "DOB=birthDate:date,MonthStarted=monthStarted:month".into(),
        ),
        ("RESETPW_PHONE_ATTRIBUTE", "telephoneNumber".into()),
        ("RESETPW_PASSWORD_LENGTH", "16".into()),
        ("RESETPW_FORCE_CHANGE_AT_LOGON", "true".into()),
        ("RESETPW_UNLOCK_ACCOUNT", "true".into()),
        ("RESETPW_ATTEMPTS_TABLE", format!("{}-attempts", case.stack)),
        ("RESETPW_MAX_FAILURES", "4".into()),
        ("RESETPW_FAILURE_WINDOW_SECONDS", "600".into()),
        ("RESETPW_LOCKOUT_SECONDS", "1800".into()),
        ("RESETPW_CALLER_ID_CHECK", "off".into()),
        // The defaults of issue 18's settings: the code on for 10 minutes, 5 per number an hour.
        ("RESETPW_ONE_TIME_CODE", "on".into()),
        ("RESETPW_CODE_TTL_SECONDS", "600".into()),
        ("RESETPW_MAX_PER_CALLER_NUMBER", "5".into()),
        ("RESETPW_CALLER_NUMBER_WINDOW_SECONDS", "3600".into()),
    ]);
    let expected: BTreeMap<String, String> = expected
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(
        env, expected,
        "every variable the stack determines, exactly"
    );

    // The role: its policy scoped to the table and the log group; no AWS-managed policies.
    assert_eq!(
        attached(&case.stack).await,
        vec![format!("{}-fulfillment", case.stack)]
    );
    let iam = aws_sdk_iam::Client::new(&sdk().await);
    let arn = format!(
        "arn:aws:iam::123456789012:policy/resetpw/{}-fulfillment",
        case.stack
    );
    let version = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(
            iam.get_policy()
                .policy_arn(&arn)
                .send()
                .await
                .unwrap()
                .policy()
                .unwrap()
                .default_version_id()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let text = version.policy_version().unwrap().document().unwrap();
    let doc: Value =
        serde_json::from_str(&percent_encoding::percent_decode_str(text).decode_utf8_lossy())
            .unwrap();
    let statement = |sid: &str| {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("statement {sid} in {doc}"))
    };
    assert_eq!(
        statement("CountFailedAttempts")["Resource"],
        json!(format!(
            "arn:aws:dynamodb:us-east-1:123456789012:table/{}-attempts",
            case.stack
        ))
    );
    assert_eq!(
        statement("CountFailedAttempts")["Action"],
        json!([
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem"
        ])
    );
    assert_eq!(
        statement("WriteOwnLogs")["Resource"],
        json!(format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{}-fulfillment:*",
            case.stack
        ))
    );

    // Without `notify.email_from` the role may send no email.
    assert!(
        !doc.to_string().contains("ses:"),
        "no SES statement without email_from: {doc}"
    );

    // Converged: a second up changes nothing, diff agrees.
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
    case.run(&["diff", "-f", f, "--exit-code"], 0);

    // down: nothing owned left.
    case.run(&["down", "-f", f, "--yes"], 0);
    let d = deployed(&case.stack).await;
    assert!(d.function.is_none() && d.table.is_none() && d.log_groups == 0);
}

/// The fulfillment role's policy document, as IAM holds it (the default version).
async fn policy_document(stack: &str) -> Value {
    let iam = aws_sdk_iam::Client::new(&sdk().await);
    let arn = format!("arn:aws:iam::123456789012:policy/resetpw/{stack}-fulfillment");
    let default = iam
        .get_policy()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .default_version_id()
        .unwrap()
        .to_string();
    let version = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(default)
        .send()
        .await
        .unwrap();
    let text = version.policy_version().unwrap().document().unwrap();
    serde_json::from_str(&percent_encoding::percent_decode_str(text).decode_utf8_lossy()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_refusals_throttle_and_notify_settings_reach_the_function_and_email_is_sent_only_as_its_sender(
) {
    let case = Case::new("fnverif");
    let (zip, _) = write_zip(&case, "fn.zip", "#!/bin/sh\n");
    let stack = |ttl: u32| {
        format!(
            "{}verification:\n  one_time_code: true\n  code_ttl_seconds: {ttl}\nnotify:\n  service_desk_number: \"+12065550100\"\n  email_from: service-desk@corp.example.com\n",
            fulfillment(
                &zip,
                "  attempts: {per_caller_number: 3, per_caller_window_minutes: 30}\n"
            )
        )
    };
    let file = case.write_stack(&stack(300));
    // refuse_groups belongs to the directory section: written into it.
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  ca_file: ca.pem\n",
        "  ca_file: ca.pem\n  refuse_groups: [Domain Admins, \"CN=Tier 0,OU=Groups,DC=corp,DC=example,DC=com\"]\n",
    );
    std::fs::write(&file, &text).unwrap();
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);

    let env = env_of(&deployed(&case.stack).await);
    for (name, value) in [
        ("RESETPW_ONE_TIME_CODE", "on"),
        ("RESETPW_CODE_TTL_SECONDS", "300"),
        (
            "RESETPW_REFUSE_GROUPS",
            "Domain Admins;CN=Tier 0,OU=Groups,DC=corp,DC=example,DC=com",
        ),
        ("RESETPW_MAX_PER_CALLER_NUMBER", "3"),
        ("RESETPW_CALLER_NUMBER_WINDOW_SECONDS", "1800"),
        ("RESETPW_SERVICE_DESK_NUMBER", "+12065550100"),
        ("RESETPW_EMAIL_FROM", "service-desk@corp.example.com"),
    ] {
        assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
    }

    // The role may send email through SES as that address only, on its identities only; moto
    // took the document as IAM would.
    let doc = policy_document(&case.stack).await;
    let ses: Vec<&Value> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.to_string().contains("ses:"))
        .collect();
    assert_eq!(ses.len(), 1, "{doc}");
    assert_eq!(ses[0]["Effect"], "Allow");
    assert_eq!(ses[0]["Action"], "ses:SendEmail");
    assert_eq!(
        ses[0]["Resource"],
        json!([
            "arn:aws:ses:us-east-1:123456789012:identity/service-desk@corp.example.com",
            "arn:aws:ses:us-east-1:123456789012:identity/corp.example.com"
        ])
    );
    assert_eq!(
        ses[0]["Condition"],
        json!({"StringEquals": {"ses:FromAddress": "service-desk@corp.example.com"}})
    );

    // Converged; then a changed code lifetime is planned as that one variable, and applied.
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
    std::fs::write(
        &file,
        text.replace("code_ttl_seconds: 300", "code_ttl_seconds: 120"),
    )
    .unwrap();
    let out = case.run(&["diff", "-f", f, "--exit-code"], 2);
    assert!(
        stdout(&out).contains("environment.RESETPW_CODE_TTL_SECONDS: \"300\" → \"120\""),
        "{}",
        stdout(&out)
    );
    case.run(&["up", "-f", f], 0);
    assert_eq!(
        env_of(&deployed(&case.stack).await)
            .get("RESETPW_CODE_TTL_SECONDS")
            .map(String::as_str),
        Some("120")
    );

    // Without email_from the statement goes again.
    let without = std::fs::read_to_string(&file)
        .unwrap()
        .replace("  email_from: service-desk@corp.example.com\n", "");
    std::fs::write(&file, without).unwrap();
    case.run(&["up", "-f", f], 0);
    let doc = policy_document(&case.stack).await;
    assert!(!doc.to_string().contains("ses:"), "{doc}");
    assert!(!env_of(&deployed(&case.stack).await).contains_key("RESETPW_EMAIL_FROM"));
    case.run(&["down", "-f", f, "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_change_makes_only_its_own_call() {
    let case = Case::new("fnchg");
    let (zip, _) = write_zip(&case, "fn.zip", "#!/bin/sh\necho one\n");
    let file = case.write_stack(&fulfillment(&zip, ""));
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);

    // A new zip: the plan shows the hash change; up updates the code only.
    let (_, new_sha) = write_zip(&case, "fn.zip", "#!/bin/sh\necho two\n");
    let old_sha = deployed(&case.stack)
        .await
        .function
        .unwrap()
        .configuration()
        .unwrap()
        .code_sha256()
        .unwrap()
        .to_string();
    let out = case.run(&["diff", "-f", f, "--exit-code"], 2);
    assert!(
        stdout(&out).contains(&format!("code: \"{old_sha}\" → \"{new_sha}\"")),
        "{}",
        stdout(&out)
    );
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(
        case.mutating_since(mark).await,
        vec!["lambda UpdateFunctionCode"]
    );
    let d = deployed(&case.stack).await;
    assert_eq!(
        d.function.unwrap().configuration().unwrap().code_sha256(),
        Some(new_sha.as_str())
    );

    // Memory: the configuration only.
    let file = case.write_stack(&fulfillment(&zip, "").replace("memory_mb: 256", "memory_mb: 512"));
    let mark = case.mark().await;
    case.run(&["up", "-f", path_str(&file)], 0);
    assert_eq!(
        case.mutating_since(mark).await,
        vec!["lambda UpdateFunctionConfiguration"]
    );
    let d = deployed(&case.stack).await;
    assert_eq!(
        d.function.unwrap().configuration().unwrap().memory_size(),
        Some(512)
    );

    // Retention: the log group's retention only.
    let text = fulfillment(&zip, "")
        .replace("memory_mb: 256", "memory_mb: 512")
        .replace("log_retention_days: 30", "log_retention_days: 14");
    let file = case.write_stack(&text);
    let mark = case.mark().await;
    case.run(&["up", "-f", path_str(&file)], 0);
    assert_eq!(
        case.mutating_since(mark).await,
        vec!["logs PutRetentionPolicy"]
    );
    assert_eq!(deployed(&case.stack).await.log_retention, Some(14));

    // A new directory password: the secret is re-encrypted and the function gets the new
    // ciphertext; the plan masks it.
    let before = stored_ciphertext(&case.stack).await;
    let mut diff = case.resetpw(&["diff", "-f", path_str(&file)]);
    diff.env("TEST_BIND_PASSWORD", "Changed-Passw0rd!");
    let out = case.run_cmd(diff, 0);
    assert!(
        stdout(&out).contains(
            "environment.RESETPW_BIND_PASSWORD_CIPHERTEXT: (sensitive) → (known after apply)"
        ),
        "{}",
        stdout(&out)
    );
    let mut up = case.resetpw(&["up", "-f", path_str(&file)]);
    up.env("TEST_BIND_PASSWORD", "Changed-Passw0rd!");
    case.run_cmd(up, 0);
    let after = stored_ciphertext(&case.stack).await;
    assert_ne!(before, after);
    let d = deployed(&case.stack).await;
    assert_eq!(
        env_of(&d).get("RESETPW_BIND_PASSWORD_CIPHERTEXT"),
        Some(&after)
    );

    // The function deleted behind the tool's back: planned as a create and made again.
    aws_sdk_lambda::Client::new(&sdk().await)
        .delete_function()
        .function_name(format!("{}-fulfillment", case.stack))
        .send()
        .await
        .unwrap();
    let mut diff = case.resetpw(&["diff", "-f", path_str(&file), "-o", "json"]);
    diff.env("TEST_BIND_PASSWORD", "Changed-Passw0rd!");
    let plan: Value = serde_json::from_slice(&case.run_cmd(diff, 0).stdout).unwrap();
    let action = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "fulfillment-function")
        .unwrap()["action"]
        .clone();
    assert_eq!(action, "create");
    let mut up = case.resetpw(&["up", "-f", path_str(&file)]);
    up.env("TEST_BIND_PASSWORD", "Changed-Passw0rd!");
    case.run_cmd(up, 0);
    let d = deployed(&case.stack).await;
    assert_eq!(
        env_of(&d).get("RESETPW_BIND_PASSWORD_CIPHERTEXT"),
        Some(&after)
    );
    case.run(&["down", "-f", path_str(&file), "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_over_four_kilobytes_is_refused_before_any_change() {
    let case = Case::new("fnbig");
    let (zip, _) = write_zip(&case, "fn.zip", "#!/bin/sh\n");
    let file = case.write_stack(&fulfillment(&zip, ""));
    // A CA bundle of eight copies of the certificate: about 5.5 KB.
    let ca = std::fs::read_to_string(case.dir.path().join("ca.pem")).unwrap();
    std::fs::write(case.dir.path().join("ca.pem"), ca.repeat(8)).unwrap();
    let out = case.run(&["up", "-f", path_str(&file)], 1);
    let e = stderr(&out);
    assert!(e.contains("directory.ca_file"), "{e}");
    assert!(
        e.contains(&format!("{}.yaml:9:3", case.stack)),
        "points at the key: {e}"
    );
    assert!(e.contains("4096"), "{e}");
    assert!(e.contains("nothing was changed"), "{e}");
    assert_eq!(case.mutating_since(0).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_lambda_cannot_assume_yet_is_waited_out() {
    let case = Case::new("fniam");
    let (zip, _) = write_zip(&case, "fn.zip", "#!/bin/sh\n");
    let file = case.write_stack(&fulfillment(&zip, ""));
    case.inject(json!({
        "service": "lambda",
        "operation": "CreateFunction",
        "status": 400,
        "code": "InvalidParameterValueException",
        "message": "The role defined for the function cannot be assumed by Lambda.",
        "remaining": 2
    }))
    .await;
    let out = case.run(&["up", "-f", path_str(&file)], 0);
    assert!(
        stderr(&out).contains("waiting for IAM to propagate the new role"),
        "the progress says why: {}",
        stderr(&out)
    );
    let creates: Vec<Value> = case
        .calls()
        .await
        .into_iter()
        .filter(|c| c["operation"] == "CreateFunction")
        .collect();
    assert_eq!(creates.len(), 3, "two refused, the third accepted");
    assert_eq!(creates.iter().filter(|c| c["injected"] == true).count(), 2);
    assert!(deployed(&case.stack).await.function.is_some());
    case.clear_faults().await;
    case.run(&["down", "-f", path_str(&file), "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_up_converges_to_one_function_table_and_log_group() {
    // A fresh up makes 11 mutating calls; these land in the middle of the table and log
    // group's creation and right around CreateFunction.
    for kill_after in [7usize, 9, 11] {
        let case = Case::new("fnkill");
        let (zip, _) = write_zip(&case, "fn.zip", "#!/bin/sh\n");
        let file = case.write_stack(&fulfillment(&zip, ""));
        let f = path_str(&file);
        case.inject(json!({"latency_ms": 150})).await;
        case.kill_up_when(f, Duration::from_secs(60), |calls| {
            calls.len() >= kill_after
        })
        .await;
        case.clear_faults().await;

        case.run(&["up", "-f", f], 0);
        let d = deployed(&case.stack).await;
        assert!(
            d.function.is_some() && d.table.is_some(),
            "after a kill at {kill_after}"
        );
        assert_eq!(d.log_groups, 1);
        let functions = aws_sdk_lambda::Client::new(&sdk().await)
            .list_functions()
            .send()
            .await
            .unwrap()
            .functions()
            .iter()
            .filter(|c| {
                c.function_name()
                    .is_some_and(|n| n.starts_with(&case.stack))
            })
            .count();
        assert_eq!(functions, 1);
        let mark = case.mark().await;
        case.run(&["up", "-f", f], 0);
        assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
        case.run(&["down", "-f", f, "--yes"], 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_network_the_function_runs_in_the_owned_subnets_and_down_leaves_nothing() {
    let case = Case::new("fnnet");
    let (zip, _) = write_zip(&case, "fn.zip", "#!/bin/sh\n");
    let network = "network:\n  mode: new\n  vpc_cidr: 10.61.0.0/16\n  private_subnets:\n    - {cidr: 10.61.1.0/24, availability_zone: us-east-1a}\n    - {cidr: 10.61.2.0/24, availability_zone: us-east-1b}\n  public_subnet: {cidr: 10.61.0.0/24, availability_zone: us-east-1a}\n  egress: nat\n  directory_cidrs: [10.0.0.0/24]\n";
    let file = case.write_stack(&format!("{network}{}", fulfillment(&zip, "")));
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);

    let ec2 = aws_sdk_ec2::Client::new(&sdk().await);
    let by_stack = aws_sdk_ec2::types::Filter::builder()
        .name("tag:resetpw:stack")
        .values(&case.stack)
        .build();
    let mut subnets: Vec<String> = ec2
        .describe_subnets()
        .filters(by_stack.clone())
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .filter(|s| {
            s.tags()
                .iter()
                .any(|t| t.value().is_some_and(|v| v.starts_with("private-subnet")))
        })
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    subnets.sort();
    assert_eq!(subnets.len(), 2);
    let group = ec2
        .describe_security_groups()
        .filters(by_stack)
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .find(|g| {
            g.tags()
                .iter()
                .any(|t| t.value() == Some("lambda-security-group"))
        })
        .and_then(|g| g.group_id().map(str::to_string))
        .expect("the Lambda security group");
    let d = deployed(&case.stack).await;
    let vpc = d
        .function
        .unwrap()
        .configuration()
        .unwrap()
        .vpc_config()
        .cloned()
        .expect("VPC config");
    let mut live_subnets = vpc.subnet_ids().to_vec();
    live_subnets.sort();
    assert_eq!(live_subnets, subnets);
    assert_eq!(vpc.security_group_ids(), [group]);
    assert_eq!(
        attached(&case.stack).await,
        vec![
            "AWSLambdaVPCAccessExecutionRole".to_string(),
            format!("{}-fulfillment", case.stack)
        ]
    );
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());

    case.run(&["down", "-f", f, "--yes"], 0);
    let d = deployed(&case.stack).await;
    assert!(d.function.is_none() && d.table.is_none() && d.log_groups == 0);
    let left = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:resetpw:stack")
                .values(&case.stack)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .subnets()
        .len();
    assert_eq!(left, 0, "no owned subnet left");
}

#[tokio::test(flavor = "multi_thread")]
async fn up_detaches_the_broad_managed_logging_policy_an_older_stack_had() {
    let case = Case::new("fnbasic");
    let (zip, _) = write_zip(&case, "fn.zip", "#!/bin/sh\n");
    let file = case.write_stack(&fulfillment(&zip, ""));
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    // As resetpw before the fulfillment section left it: AWSLambdaBasicExecutionRole attached.
    aws_sdk_iam::Client::new(&sdk().await)
        .attach_role_policy()
        .role_name(format!("{}-fulfillment", case.stack))
        .policy_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        .send()
        .await
        .unwrap();
    let out = case.run(&["diff", "-f", f, "--exit-code", "-o", "json"], 2);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "basic-execution-attachment")
        .cloned()
        .expect("the attachment is in the plan");
    assert_eq!(step["action"], "delete");
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(
        case.mutating_since(mark).await,
        vec!["iam DetachRolePolicy"]
    );
    assert_eq!(
        attached(&case.stack).await,
        vec![format!("{}-fulfillment", case.stack)]
    );
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    case.run(&["down", "-f", f, "--yes"], 0);
}
