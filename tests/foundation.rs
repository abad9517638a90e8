//! The foundation, end to end: the real binary against the local cloud, results checked with
//! the SDK and the local cloud's call record.

mod common;

use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use common::{sdk, stderr, stdout, Case};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const PASSWORD: &str = "Initial-Passw0rd!";

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What the SDK sees of a stack's resources.
struct Seen {
    key_id: Option<String>,
    key_state: Option<String>,
    key_tags: BTreeMap<String, String>,
    role_exists: bool,
    policy_exists: bool,
    attached: Vec<String>,
    parameter: Option<String>,
}

async fn seen(stack: &str) -> Seen {
    let config = sdk().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    let key = kms
        .describe_key()
        .key_id(format!("alias/{stack}-directory"))
        .send()
        .await
        .ok();
    let meta = key.as_ref().and_then(|k| k.key_metadata());
    let key_id = meta.map(|m| m.key_id().to_string());
    let key_tags = match &key_id {
        Some(id) => kms
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
            .collect(),
        None => BTreeMap::new(),
    };
    let role = format!("{stack}-fulfillment");
    let role_exists = iam.get_role().role_name(&role).send().await.is_ok();
    let policy_arn = format!("arn:aws:iam::123456789012:policy/resetpw/{stack}-fulfillment");
    let policy_exists = iam
        .get_policy()
        .policy_arn(&policy_arn)
        .send()
        .await
        .is_ok();
    let attached = match iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
    {
        Ok(a) => a
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    };
    let parameter = ssm
        .get_parameter()
        .name(format!("/resetpw/{stack}/directory-secret"))
        .send()
        .await
        .ok()
        .and_then(|p| p.parameter().and_then(|p| p.value().map(str::to_string)));
    Seen {
        key_id,
        key_state: meta.and_then(|m| m.key_state().map(|s| s.as_str().to_string())),
        key_tags,
        role_exists,
        policy_exists,
        attached,
        parameter,
    }
}

/// Decrypts the stored secret with the stack's encryption context.
async fn stored_password(stack: &str, ciphertext: &str) -> String {
    let kms = aws_sdk_kms::Client::new(&sdk().await);
    let blob = base64::engine::general_purpose::STANDARD
        .decode(ciphertext)
        .unwrap();
    let out = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob))
        .encryption_context("resetpw:stack", stack)
        .send()
        .await
        .expect("the secret decrypts under the stack's encryption context");
    String::from_utf8(out.plaintext().unwrap().as_ref().to_vec()).unwrap()
}

/// Keys tagged as this stack's directory key that are not pending deletion.
async fn live_owned_keys(stack: &str) -> usize {
    let kms = aws_sdk_kms::Client::new(&sdk().await);
    let mut n = 0;
    let mut keys = kms.list_keys().into_paginator().items().send();
    while let Some(k) = keys.next().await {
        let id = k.unwrap().key_id().unwrap().to_string();
        let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
        let ours = tags
            .tags()
            .iter()
            .any(|t| t.tag_key() == "resetpw:stack" && t.tag_value() == stack);
        let state = kms.describe_key().key_id(&id).send().await.unwrap();
        let pending = state
            .key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str())
            == Some("PendingDeletion");
        if ours && !pending {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn up_creates_everything_and_a_second_up_changes_nothing() {
    let case = Case::new("found");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);

    let s = seen(&case.stack).await;
    assert!(s.key_id.is_some(), "alias names a key");
    assert_eq!(s.key_state.as_deref(), Some("Enabled"));
    assert_eq!(s.key_tags.get("resetpw:stack"), Some(&case.stack));
    assert_eq!(
        s.key_tags.get("resetpw:resource").map(String::as_str),
        Some("directory-key")
    );
    assert_eq!(
        s.key_tags.get("team").map(String::as_str),
        Some("it"),
        "stack tags reach resources"
    );
    assert!(s.role_exists && s.policy_exists);
    let mut attached = s.attached.clone();
    attached.sort();
    assert_eq!(
        attached,
        vec![format!("{}-fulfillment", case.stack)],
        "the customer policy only: no function, no network, so no AWS-managed policy"
    );
    let ciphertext = s.parameter.expect("the encrypted secret is stored");
    assert!(!ciphertext.contains(PASSWORD));
    assert_eq!(stored_password(&case.stack, &ciphertext).await, PASSWORD);

    // Least privilege: decrypt only this key under this stack's context; SMS but no topics.
    let iam = aws_sdk_iam::Client::new(&sdk().await);
    let arn = format!(
        "arn:aws:iam::123456789012:policy/resetpw/{}-fulfillment",
        case.stack
    );
    let policy = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    let version = policy
        .policy()
        .unwrap()
        .default_version_id()
        .unwrap()
        .to_string();
    let doc = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(version)
        .send()
        .await
        .unwrap();
    let doc = percent_decode(doc.policy_version().unwrap().document().unwrap());
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let statements = doc["Statement"].as_array().unwrap();
    let decrypt = statements
        .iter()
        .find(|s| s["Action"] == "kms:Decrypt")
        .unwrap();
    assert!(decrypt["Resource"]
        .as_str()
        .unwrap()
        .ends_with(s.key_id.as_deref().unwrap()));
    assert_eq!(
        decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:resetpw:stack"],
        json!(case.stack)
    );
    assert!(statements
        .iter()
        .any(|s| s["Effect"] == "Deny" && s["Action"] == "sns:Publish"));
    assert!(!statements
        .iter()
        .any(|s| s["Action"] == "*" || s["Action"] == "kms:*"));

    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(
        case.mutating_since(mark).await,
        Vec::<String>::new(),
        "a converged stack makes no mutating call"
    );
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    case.run(&["down", "-f", f, "--yes"], 0);
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_stack_shows_the_field_and_exits_2_then_converges() {
    let case = Case::new("edit");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("team: it", "team: service-desk");
    std::fs::write(&file, edited).unwrap();

    let out = case.run(&["diff", "-f", f, "--exit-code"], 2);
    let text = stdout(&out);
    assert!(
        text.contains("tags:") && text.contains("service-desk"),
        "{text}"
    );
    let out = case.run(&["diff", "-f", f, "-o", "json"], 0);
    let plan: Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    assert_eq!(plan["pending"], true);
    let key = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "directory-key")
        .unwrap();
    assert_eq!(key["action"], "update");
    assert_eq!(key["changes"][0]["field"], "tags");

    case.run(&["up", "-f", f], 0);
    assert_eq!(
        seen(&case.stack)
            .await
            .key_tags
            .get("team")
            .map(String::as_str),
        Some("service-desk")
    );
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    case.run(&["down", "-f", f, "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_deleted_behind_the_tools_back_is_planned_and_repaired() {
    let case = Case::new("drift");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let iam = aws_sdk_iam::Client::new(&sdk().await);
    let role = format!("{}-fulfillment", case.stack);
    let arn = format!(
        "arn:aws:iam::123456789012:policy/resetpw/{}-fulfillment",
        case.stack
    );
    iam.detach_role_policy()
        .role_name(&role)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    iam.delete_policy().policy_arn(&arn).send().await.unwrap();

    let out = case.run(&["diff", "-f", f, "-o", "json", "--exit-code"], 2);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let action = |id: &str| {
        plan["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["action"]
            .clone()
    };
    assert_eq!(action("fulfillment-policy"), "create");
    assert_eq!(action("fulfillment-policy-attachment"), "create");
    assert_eq!(action("fulfillment-role"), "none");

    case.run(&["up", "-f", f], 0);
    let s = seen(&case.stack).await;
    assert!(s.policy_exists);
    assert!(s.attached.contains(&role), "the policy is attached again");
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    case.run(&["down", "-f", f, "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_policy_document_gets_a_new_version_not_a_new_role() {
    let case = Case::new("polver");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let iam = aws_sdk_iam::Client::new(&sdk().await);
    let arn = format!(
        "arn:aws:iam::123456789012:policy/resetpw/{}-fulfillment",
        case.stack
    );
    let widened = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(widened.to_string())
        .set_as_default(true)
        .send()
        .await
        .unwrap();

    let out = case.run(&["diff", "-f", f, "--exit-code"], 2);
    assert!(stdout(&out).contains("document:"), "{}", stdout(&out));
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    let calls = case.mutating_since(mark).await;
    assert!(
        calls.iter().any(|c| c.ends_with("CreatePolicyVersion")),
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.ends_with("CreateRole")
            || c.ends_with("DeleteRole")
            || c.ends_with("DeletePolicy")),
        "{calls:?}"
    );
    let versions = iam
        .list_policy_versions()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1, "old versions are pruned");
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    case.run(&["down", "-f", f, "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_secret_shows_masked_and_up_stores_it() {
    let case = Case::new("secret");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let new_password = "Rotated-Secret-42";
    let mut cmd = case.resetpw(&["diff", "-f", f, "--exit-code"]);
    cmd.env("TEST_BIND_PASSWORD", new_password);
    let out = case.run_cmd(cmd, 2);
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(o.contains("password: (sensitive) → (sensitive)"), "{o}");
    for text in [&o, &e] {
        assert!(
            !text.contains(new_password) && !text.contains(PASSWORD),
            "a password leaked: {text}"
        );
    }
    let mut cmd = case.resetpw(&["diff", "-f", f, "-o", "json"]);
    cmd.env("TEST_BIND_PASSWORD", new_password);
    let out = case.run_cmd(cmd, 0);
    assert!(!stdout(&out).contains(new_password));

    // Through stdin this time, as a CI job without the variable would.
    let mut cmd = case.resetpw(&["up", "-f", f, "--secret-stdin"]);
    cmd.env_remove("TEST_BIND_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{new_password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(new_password) && !stderr(&out).contains(new_password));
    let s = seen(&case.stack).await;
    assert_eq!(
        stored_password(&case.stack, &s.parameter.unwrap()).await,
        new_password
    );

    // Without any password the secret is not compared, and says so.
    let mut cmd = case.resetpw(&["diff", "-f", f, "--exit-code"]);
    cmd.env_remove("TEST_BIND_PASSWORD");
    let out = case.run_cmd(cmd, 0);
    assert!(
        stdout(&out).contains("password not compared"),
        "{}",
        stdout(&out)
    );
    case.run(&["down", "-f", f, "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn up_without_the_password_changes_nothing() {
    let case = Case::new("nopw");
    let file = case.write_stack("");
    let mut cmd = case.resetpw(&["up", "-f", path_str(&file)]);
    cmd.env_remove("TEST_BIND_PASSWORD");
    let out = case.run_cmd(cmd, 1);
    assert!(
        stderr(&out).contains("TEST_BIND_PASSWORD"),
        "{}",
        stderr(&out)
    );
    assert_eq!(case.mutating_since(0).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn down_removes_everything_owned_and_a_second_down_succeeds() {
    let case = Case::new("down");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let key_id = seen(&case.stack).await.key_id.unwrap();

    let out = case.run(&["down", "-f", f], 1);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(
        seen(&case.stack).await.role_exists,
        "refusing deleted nothing"
    );

    let out = case.run(&["down", "-f", f, "--yes"], 0);
    assert!(
        stdout(&out).contains("Removed 6 resource(s)"),
        "{}",
        stdout(&out)
    );
    let s = seen(&case.stack).await;
    assert!(s.key_id.is_none(), "alias gone");
    assert!(!s.role_exists && !s.policy_exists && s.parameter.is_none());
    let kms = aws_sdk_kms::Client::new(&sdk().await);
    let state = kms.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(
        state.key_metadata().unwrap().key_state().unwrap().as_str(),
        "PendingDeletion"
    );
    assert_eq!(live_owned_keys(&case.stack).await, 0);

    let mark = case.mark().await;
    case.run(&["down", "-f", f, "--yes"], 0);
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_any_point_up_converges_without_duplicates() {
    for kill_after in [1usize, 2, 4, 6] {
        let case = Case::new("kill");
        let file = case.write_stack("");
        let f = path_str(&file);
        // Slow every call down so the kill lands between calls, not after the run.
        case.inject(json!({"latency_ms": 150})).await;
        case.kill_up_when(f, Duration::from_secs(60), |calls| {
            calls.len() >= kill_after
        })
        .await;
        case.clear_faults().await;

        case.run(&["up", "-f", f], 0);
        assert_eq!(
            live_owned_keys(&case.stack).await,
            1,
            "one key after a kill after {kill_after} calls"
        );
        let s = seen(&case.stack).await;
        assert!(s.role_exists && s.policy_exists && s.parameter.is_some());
        assert_eq!(s.attached.len(), 1);
        let mark = case.mark().await;
        case.run(&["up", "-f", f], 0);
        assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
        case.run(&["down", "-f", f, "--yes"], 0);
        assert_eq!(live_owned_keys(&case.stack).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_converges_under_twenty_percent_throttling() {
    let case = Case::new("throttle");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.inject(json!({"rate": 0.2, "status": 400})).await;
    case.run(&["up", "-f", f], 0);
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    let injected = case
        .calls()
        .await
        .iter()
        .filter(|c| c["injected"] == true)
        .count();
    assert!(
        injected > 0,
        "the fault rule never fired, so this test proved nothing"
    );
    case.run(&["down", "-f", f, "--yes"], 0);
    case.clear_faults().await;
    let s = seen(&case.stack).await;
    assert!(!s.role_exists && s.key_id.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connect_section_without_a_bot_is_refused_before_any_call() {
    let case = Case::new("unsup");
    let file = case.write_stack("connect:\n  instance_alias: corp-helpdesk\n");
    let out = case.run(&["up", "-f", path_str(&file)], 1);
    let e = stderr(&out);
    assert!(
        e.contains("connect: the contact flow hands callers to the bot"),
        "{e}"
    );
    assert!(e.contains(&format!("{}.yaml:12:1", case.stack)), "{e}");
    assert!(case.calls().await.is_empty(), "nothing was called");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_change_applies_without_the_password() {
    let case = Case::new("tagnopw");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("team: it", "team: ops");
    std::fs::write(&file, edited).unwrap();
    let mut cmd = case.resetpw(&["up", "-f", f]);
    cmd.env_remove("TEST_BIND_PASSWORD");
    case.run_cmd(cmd, 0);
    let ssm = aws_sdk_ssm::Client::new(&sdk().await);
    let tags = ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(format!("/resetpw/{}/directory-secret", case.stack))
        .send()
        .await
        .unwrap();
    assert!(tags
        .tag_list()
        .iter()
        .any(|t| t.key() == "team" && t.value() == "ops"));
    let s = seen(&case.stack).await;
    assert_eq!(
        stored_password(&case.stack, &s.parameter.unwrap()).await,
        PASSWORD,
        "the stored password is untouched"
    );
    case.run(&["down", "-f", f, "--yes"], 0);
}

/// Keys carrying this stack's tags, each scheduled for deletion: what earlier `down`s of a
/// stack of the same name leave behind for 7+ days. Returns their ids.
async fn pending_deletion_keys(stack: &str, n: usize) -> Vec<String> {
    let kms = aws_sdk_kms::Client::new(&sdk().await);
    let tag = |k: &str, v: &str| {
        aws_sdk_kms::types::Tag::builder()
            .tag_key(k)
            .tag_value(v)
            .build()
            .unwrap()
    };
    let mut ids = Vec::new();
    for _ in 0..n {
        let key = kms
            .create_key()
            .tags(tag("resetpw:stack", stack))
            .tags(tag("resetpw:resource", "directory-key"))
            .tags(tag("team", "it"))
            .send()
            .await
            .unwrap();
        let id = key.key_metadata().unwrap().key_id().to_string();
        kms.schedule_key_deletion()
            .key_id(&id)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn with_ten_keys_pending_deletion_a_fresh_up_adopts_none_and_creates_one() {
    let case = Case::new("pending");
    let pending = pending_deletion_keys(&case.stack, 10).await;
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);

    let s = seen(&case.stack).await;
    let key_id = s.key_id.expect("the alias names a key");
    assert!(!pending.contains(&key_id), "adopted a key pending deletion");
    assert_eq!(s.key_state.as_deref(), Some("Enabled"));
    assert_eq!(live_owned_keys(&case.stack).await, 1, "exactly one new key");
    let calls = case.calls().await;
    assert_eq!(
        calls
            .iter()
            .filter(|c| c["operation"] == "CreateKey")
            .count(),
        1
    );
    // The scan saw each pending key's state in its DescribeKey and read none of their tags.
    let tag_reads: Vec<&Value> = calls
        .iter()
        .filter(|c| c["operation"] == "ListResourceTags")
        .filter(|c| {
            pending
                .iter()
                .any(|id| Some(id.as_str()) == c["params"]["KeyId"].as_str())
        })
        .collect();
    assert_eq!(tag_reads, Vec::<&Value>::new());
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    case.run(&["down", "-f", f, "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_the_diff_needs_failing_fails_the_plan_and_changes_nothing() {
    let case = Case::new("diffread");
    let file = case.write_stack("");
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);

    // The secret's decrypt (a read of the diff, not of the lookup), then the policy's version.
    for (service, operation, says) in [
        ("kms", "Decrypt", "decrypt ssm-parameter"),
        ("iam", "GetPolicyVersion", "iam-policy"),
    ] {
        case.inject(json!({"service": service, "operation": operation, "status": 500}))
            .await;
        let mark = case.mark().await;
        let out = case.run(&["up", "-f", f], 1);
        case.clear_faults().await;
        let err = stderr(&out);
        assert!(err.contains(says), "{operation} failing: {err}");
        assert!(!err.contains(PASSWORD));
        assert_eq!(
            case.mutating_since(mark).await,
            Vec::<String>::new(),
            "{operation} failing: nothing planned, nothing changed"
        );
        let calls = case.calls().await;
        assert!(
            calls
                .iter()
                .any(|c| c["operation"] == operation && c["injected"] == true),
            "the {operation} fault never fired"
        );
    }
    case.run(&["diff", "-f", f, "--exit-code"], 0);
    case.run(&["down", "-f", f, "--yes"], 0);
}
