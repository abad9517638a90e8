//! Integration tests against a real Samba AD DC (scripts/local-directory) with KMS, SNS and
//! DynamoDB from the local cloud (scripts/local-cloud). Each test owns one fixture user.

mod support;

use std::time::Duration;

use resetpw_lambda::audit::Audit;
use resetpw_lambda::config::Config;
use resetpw_lambda::handler::{Handler, MSG_DONE, MSG_HELP_DESK, MSG_NOT_VERIFIED};
use resetpw_lambda::ldap::LdapDirectory;
use resetpw_lambda::lex::{LexEvent, LexResponse};
use resetpw_lambda::ports::Directory;
use secrecy::SecretString;
use support::runtime;
use support::*;

async fn run(handler: &Handler, event: LexEvent) -> (LexResponse, Audit) {
    let (response, audit) = handler.handle_with_audit(event).await;
    audit.emit();
    (response, audit)
}

fn closed(r: &LexResponse) -> (&str, &str, &str) {
    (
        r.session_state.dialog_action.kind.as_str(),
        r.session_state.intent.state.as_str(),
        r.messages.first().map(|m| m.content.as_str()).unwrap_or(""),
    )
}

#[tokio::test]
async fn correct_answers_reset_the_password_and_force_a_change() {
    let known = admin_set_password(RESET.sam).await;
    // The first URL cannot be reached: the next domain controller is tried.
    let mut setup = Setup::new("reset");
    setup.urls = format!("ldaps://127.0.0.1:1,{}", setup.urls);
    let setup = setup.with("RESETPW_CALLER_ID_CHECK", "on");
    let (cold, _) = setup.cold().await;
    let handler = &cold.handler;

    let event = fulfillment(
        RESET.sam,
        RESET.dob,
        "March",
        Some("+1 555 010 0001"),
        "contact-reset",
    );
    let (r, audit) = run(handler, event).await;
    assert_eq!(closed(&r).0, "Close");
    assert_eq!(closed(&r).1, "Fulfilled", "audit: {:?}", audit);
    assert!(closed(&r).2.starts_with(MSG_DONE));
    assert_eq!(
        r.session_state.session_attributes.as_ref().unwrap()["ResetOutcome"],
        "fulfilled"
    );
    assert_eq!(
        r.session_state.session_attributes.as_ref().unwrap()["CallerNumber"],
        "+1 555 010 0001",
        "the caller's other session attributes come back as they came"
    );
    // One bound connection served the lookup and the reset, with Nagle's algorithm off.
    assert_eq!(cold.directory.connections_opened(), 1);
    assert_eq!(cold.directory.connection_nodelay().await, Some(true));

    let sms = sms_published(&setup.app).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0].0, RESET.phone);
    let new_password = password_in(&sms[0].1);
    assert!(new_password.len() >= 14);

    assert_eq!(
        read_attribute(RESET.sam, "pwdLastSet").await.as_deref(),
        Some("0")
    );
    // Must-change is set, so AD answers a bind with the right password by "data 773"
    // (password must be changed); a wrong password gives "data 52e".
    let (rc, text) = try_bind(&user_dn(RESET.sam), &new_password)
        .await
        .unwrap_err();
    assert_eq!(rc, 49);
    assert!(
        text.contains("data 773"),
        "new password not accepted: {text}"
    );
    let (_, old) = try_bind(&user_dn(RESET.sam), &known).await.unwrap_err();
    assert!(old.contains("data 52e"), "old password still works: {old}");
}

#[tokio::test]
async fn without_force_change_the_new_password_binds() {
    let _ = admin_set_password(FORCE.sam).await;
    let setup = Setup::new("force").with("RESETPW_FORCE_CHANGE_AT_LOGON", "false");
    let (handler, _) = setup.handler().await;
    let (r, _) = run(&handler, correct(&FORCE, "contact-force")).await;
    assert_eq!(closed(&r).1, "Fulfilled");
    let sms = sms_published(&setup.app).await;
    let new_password = password_in(&sms[0].1);
    try_bind(&user_dn(FORCE.sam), &new_password)
        .await
        .expect("bind with the new password");
    assert_ne!(
        read_attribute(FORCE.sam, "pwdLastSet").await.as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn sms_goes_to_the_directory_number_not_the_callers() {
    let _ = admin_set_password(SMS.sam).await;
    let setup = Setup::new("sms").with("RESETPW_CALLER_ID_CHECK", "off");
    let (handler, _) = setup.handler().await;
    let event = fulfillment(
        SMS.sam,
        SMS.dob,
        SMS.month,
        Some("+15559990000"),
        "contact-sms",
    );
    let (r, _) = run(&handler, event).await;
    assert_eq!(closed(&r).1, "Fulfilled");
    let sms = sms_published(&setup.app).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(
        sms[0].0, "+442079460004",
        "stored as '+44 20 7946 0004' in the directory"
    );
    assert!(
        sms[0].1.starts_with("Your temporary password is "),
        "{}",
        sms[0].1
    );
    let (_, text) = try_bind(&user_dn(SMS.sam), &password_in(&sms[0].1))
        .await
        .unwrap_err();
    assert!(
        text.contains("data 773"),
        "the SMS password is the directory's: {text}"
    );
}

#[tokio::test]
async fn wrong_answers_and_unknown_users_get_the_same_answer_and_change_nothing() {
    let known = admin_set_password(WRONG.sam).await;
    let setup = Setup::new("wrong").with("RESETPW_MAX_FAILURES", "10");
    let (handler, _) = setup.handler().await;
    let cases = [
        (
            fulfillment(WRONG.sam, "1990-12-02", WRONG.month, None, "c1"),
            "wrong_answer",
        ),
        (
            fulfillment(WRONG.sam, WRONG.dob, "November", None, "c2"),
            "wrong_answer",
        ),
        (
            fulfillment("no.such.user", WRONG.dob, WRONG.month, None, "c3"),
            "unknown_user",
        ),
    ];
    for (event, reason) in cases {
        let (r, audit) = run(&handler, event).await;
        assert_eq!(closed(&r), ("Close", "Failed", MSG_NOT_VERIFIED));
        assert_eq!(audit.reason, reason);
    }
    try_bind(&user_dn(WRONG.sam), &known)
        .await
        .expect("password unchanged");
    assert!(sms_published(&setup.app).await.is_empty());
}

#[tokio::test]
async fn injection_payloads_match_nothing_and_change_nothing() {
    let known = admin_set_password(INJECT.sam).await;
    let setup = Setup::new("inject");
    let (handler, vars) = setup.handler().await;
    let long = "a".repeat(5000);
    let payloads = [
        "*",
        ")(",
        "\\",
        "\0",
        long.as_str(),
        "jöhn",
        "rp.inject)(sAMAccountName=rp.inject",
        "rp.injec*",
        "*)(objectClass=*",
    ];

    // Through the handler: re-prompted, nothing looked up or changed.
    for p in payloads {
        let (r, _) = run(
            &handler,
            fulfillment(p, INJECT.dob, INJECT.month, None, "c-inject"),
        )
        .await;
        assert_eq!(r.session_state.dialog_action.kind, "ElicitSlot", "{p:?}");
    }
    // Straight at the directory (defence in depth): escaped, so no entry matches. Unescaped,
    // "rp.injec*" and "rp.inject)(sAMAccountName=rp.inject" would each match rp.inject.
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let pem = std::fs::read_to_string(env("LOCAL_DIRECTORY_CA_FILE")).unwrap();
    let directory = LdapDirectory::new(
        &config,
        SecretString::from(env("LOCAL_DIRECTORY_BIND_PASSWORD")),
        resetpw_lambda::ldap::tls_config(&pem).unwrap(),
    );
    assert!(
        directory.find_user(INJECT.sam).await.unwrap().is_some(),
        "control: plain ID matches"
    );
    for p in payloads {
        let found = directory.find_user(p).await;
        assert!(matches!(found, Ok(None)), "{p:?} -> {found:?}");
    }
    try_bind(&user_dn(INJECT.sam), &known)
        .await
        .expect("password unchanged");
    assert!(sms_published(&setup.app).await.is_empty());
}

#[tokio::test]
async fn lockout_after_failures_and_release_after_the_lockout() {
    let known = admin_set_password(LOCK.sam).await;
    let setup = Setup::new("lock")
        .with("RESETPW_MAX_FAILURES", "2")
        .with("RESETPW_FAILURE_WINDOW_SECONDS", "60")
        .with("RESETPW_LOCKOUT_SECONDS", "3");
    let (handler, _) = setup.handler().await;
    for contact in ["l1", "l2"] {
        let (r, a) = run(
            &handler,
            fulfillment(LOCK.sam, "1979-07-05", LOCK.month, None, contact),
        )
        .await;
        assert_eq!(closed(&r).2, MSG_NOT_VERIFIED);
        assert_eq!(a.reason, "wrong_answer");
    }
    // Locked: even the right answers are refused, with the same words.
    let (r, a) = run(&handler, correct(&LOCK, "l3")).await;
    assert_eq!(closed(&r), ("Close", "Failed", MSG_NOT_VERIFIED));
    assert_eq!(a.reason, "locked_out");
    try_bind(&user_dn(LOCK.sam), &known)
        .await
        .expect("password unchanged while locked");
    assert!(sms_published(&setup.app).await.is_empty());

    tokio::time::sleep(Duration::from_millis(4100)).await;
    let (r, a) = run(&handler, correct(&LOCK, "l4")).await;
    assert_eq!(closed(&r).1, "Fulfilled", "{a:?}");
    assert_eq!(sms_published(&setup.app).await.len(), 1);
}

#[tokio::test]
async fn service_account_without_the_right_changes_nothing() {
    let known = admin_set_password(NORIGHT.sam).await;
    let mut setup = Setup::new("noright");
    setup.bind_dn = env("LOCAL_DIRECTORY_NORIGHT_BIND_DN");
    setup.bind_password = env("LOCAL_DIRECTORY_NORIGHT_BIND_PASSWORD");
    let (handler, _) = setup.handler().await;
    let (r, a) = run(&handler, correct(&NORIGHT, "c-noright")).await;
    assert_eq!(closed(&r), ("Close", "Failed", MSG_HELP_DESK));
    assert_eq!(
        r.session_state.session_attributes.as_ref().unwrap()["ResetOutcome"],
        "failed"
    );
    assert_eq!(a.reason, "directory_access_denied");
    try_bind(&user_dn(NORIGHT.sam), &known)
        .await
        .expect("password unchanged");
    assert_ne!(
        read_attribute(NORIGHT.sam, "pwdLastSet").await.as_deref(),
        Some("0")
    );
    assert!(sms_published(&setup.app).await.is_empty());
}

#[tokio::test]
async fn a_ca_that_did_not_issue_the_server_certificate_is_refused() {
    let known = admin_set_password(WRONGCA.sam).await;
    let mut setup = Setup::new("wrongca");
    setup.ca_file = env("LOCAL_DIRECTORY_WRONG_CA_FILE");
    let (handler, _) = setup.handler().await;
    let (r, a) = run(&handler, correct(&WRONGCA, "c-wrongca")).await;
    assert_eq!(closed(&r), ("Close", "Failed", MSG_HELP_DESK));
    assert_eq!(a.reason, "directory_tls_rejected");
    try_bind(&user_dn(WRONGCA.sam), &known)
        .await
        .expect("password unchanged");
    assert!(sms_published(&setup.app).await.is_empty());
}

#[tokio::test]
async fn caller_id_mismatch_is_refused() {
    let known = admin_set_password(CALLERID.sam).await;
    let setup = Setup::new("callerid").with("RESETPW_CALLER_ID_CHECK", "on");
    let (handler, _) = setup.handler().await;
    let event = fulfillment(
        CALLERID.sam,
        CALLERID.dob,
        CALLERID.month,
        Some("+15550109999"),
        "c-cid",
    );
    let (r, a) = run(&handler, event).await;
    assert_eq!(closed(&r), ("Close", "Failed", MSG_NOT_VERIFIED));
    assert_eq!(a.reason, "caller_id_mismatch");
    try_bind(&user_dn(CALLERID.sam), &known)
        .await
        .expect("password unchanged");
    assert!(sms_published(&setup.app).await.is_empty());

    // The same caller from the number on record (stored as "+1-555-010-0005") gets through.
    let event = fulfillment(
        CALLERID.sam,
        CALLERID.dob,
        CALLERID.month,
        Some(CALLERID.phone),
        "c-cid2",
    );
    let (r, _) = run(&handler, event).await;
    assert_eq!(closed(&r).1, "Fulfilled");
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let known = admin_set_password(LOGS.sam).await;
    let setup = Setup::new("logs");
    let (handler, vars) = setup.handler().await;
    let contact = format!("c-logs-{:08x}", fastrand::u32(..));
    // A failure, then a success.
    run(
        &handler,
        fulfillment(LOGS.sam, "1975-01-16", LOGS.month, None, &contact),
    )
    .await;
    let (r, _) = run(
        &handler,
        fulfillment(LOGS.sam, LOGS.dob, LOGS.month, Some(LOGS.phone), &contact),
    )
    .await;
    assert_eq!(closed(&r).1, "Fulfilled");
    let sms = sms_published(&setup.app).await;
    let new_password = password_in(&sms[0].1);

    let logs = captured_text();
    let ours: Vec<&str> = logs.lines().filter(|l| l.contains(&contact)).collect();
    assert_eq!(ours.len(), 2, "one audit line per attempt: {ours:?}");
    for line in &ours {
        let v: serde_json::Value = serde_json::from_str(line).expect("audit lines are JSON");
        assert_eq!(v["audit"], "resetpw");
        assert!(v["latency_ms"].is_u64());
    }
    assert!(ours[1].contains("\"outcome\":\"fulfilled\""), "{}", ours[1]);
    assert!(ours[1].contains("\"user\":\"rp***\""), "{}", ours[1]);
    let secrets = [
        new_password.as_str(),
        known.as_str(),
        env("LOCAL_DIRECTORY_BIND_PASSWORD").leak(),
        env("LOCAL_DIRECTORY_NORIGHT_BIND_PASSWORD").leak(),
        vars["RESETPW_BIND_PASSWORD_CIPHERTEXT"].as_str(),
        LOGS.phone,
        &LOGS.phone[2..],
        LOGS.sam,
    ];
    for secret in secrets {
        assert!(
            !logs.contains(secret),
            "a secret or identifier reached the logs"
        );
    }
}

#[tokio::test]
async fn cold_start_fails_with_a_log_line_naming_the_setting() {
    let setup = Setup::new("coldstart");
    let sdk = sdk(&setup.app).await;
    let vars = setup.environment(&sdk).await;
    let run_bootstrap = |vars: &std::collections::HashMap<String, String>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .env_clear()
            .envs(vars)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .output()
            .expect("bootstrap runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let mut missing = vars.clone();
    missing.remove("RESETPW_BASE_DN");
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    ] {
        missing.insert(k.into(), env(k));
    }
    let (ok, stdout) = run_bootstrap(&missing);
    assert!(!ok);
    assert!(
        stdout.contains("cold start failed") && stdout.contains("RESETPW_BASE_DN"),
        "{stdout}"
    );

    // Ciphertext made under another encryption context: KMS refuses, named in the log.
    let mut wrong_context = missing.clone();
    wrong_context.insert("RESETPW_BASE_DN".into(), env("LOCAL_DIRECTORY_BASE_DN"));
    wrong_context.insert("RESETPW_KMS_ENCRYPTION_CONTEXT".into(), "app=other".into());
    let (ok, stdout) = run_bootstrap(&wrong_context);
    assert!(!ok);
    assert!(
        stdout.contains("RESETPW_KMS_ENCRYPTION_CONTEXT"),
        "{stdout}"
    );
    assert!(!stdout.contains(&env("LOCAL_DIRECTORY_BIND_PASSWORD")));
}

#[tokio::test]
async fn wrong_typed_events_get_lex_answers_and_no_value_is_logged() {
    let setup = Setup::new("malformed");
    let vars = setup.bootstrap_environment().await;
    let api = runtime::RuntimeApi::start().await;
    let mut child = runtime::spawn_bootstrap(
        std::path::Path::new(env!("CARGO_BIN_EXE_bootstrap")),
        &api,
        &vars,
    );
    // Values that must never reach a log line, in places Lex puts strings.
    let phone = "+15550177777";
    let transcript = "my dog is called Rex 4242";
    let user = "rp.reset";
    let slot_of = |v: serde_json::Value| serde_json::json!({"shape": "Scalar", "value": {"originalValue": v, "interpretedValue": v}});
    let events = [
        // (event, expected dialog action, expected message or slot)
        (serde_json::json!([phone, transcript]), "Close"),
        (serde_json::json!(phone), "Close"),
        (serde_json::json!(null), "Close"),
        (
            serde_json::json!({"invocationSource": 7, "inputTranscript": transcript,
            "sessionState": {"sessionAttributes": {"CallerNumber": phone},
                "intent": {"name": "ResetPW", "slots": {"UserID": slot_of(user.into())}}}}),
            "Close",
        ),
        (
            serde_json::json!({"invocationSource": "FulfillmentCodeHook", "inputTranscript": [transcript],
            "sessionId": phone,
            "sessionState": {"sessionAttributes": {"CallerNumber": 15550177777u64, "ContactId": phone},
                "intent": {"name": "ResetPW", "slots": [user, phone]}}}),
            "ElicitSlot",
        ),
        (
            serde_json::json!({"invocationSource": "FulfillmentCodeHook", "inputTranscript": transcript,
            "sessionState": {"sessionAttributes": {"CallerNumber": phone},
                "intent": {"name": "ResetPW", "slots": {
                    "UserID": slot_of(15550177777u64.into()), "DOB": slot_of(true.into()),
                    "MonthStarted": slot_of(serde_json::json!({"m": phone}))}}}}),
            "ElicitSlot",
        ),
        (
            serde_json::json!({"invocationSource": "DialogCodeHook", "inputTranscript": transcript,
            "sessionState": {"intent": {"name": {"n": phone}, "slots": {"UserID": slot_of(user.into())}}}}),
            "Close",
        ),
        (
            serde_json::json!({"invocationSource": "FulfillmentCodeHook",
            "sessionState": {"sessionAttributes": [phone], "intent": {"name": "ResetPW", "state": 3,
                "slots": {"UserID": slot_of(user.into()), "DOB": [phone], "MonthStarted": 12}}}}),
            "ElicitSlot",
        ),
    ];
    for (i, (event, action)) in events.iter().enumerate() {
        api.push(event.to_string());
        let answer = api.answer(i, Duration::from_secs(30)).await;
        assert!(!answer.error, "event {i}: runtime error {}", answer.body);
        let v: serde_json::Value = serde_json::from_str(&answer.body).expect("a JSON answer");
        let state = &v["sessionState"];
        assert_eq!(state["dialogAction"]["type"], *action, "event {i}: {v}");
        match *action {
            "Close" => {
                assert_eq!(state["intent"]["state"], "Failed", "event {i}: {v}");
                assert_eq!(v["messages"][0]["content"], MSG_HELP_DESK, "event {i}: {v}");
                assert_eq!(state["sessionAttributes"]["ResetOutcome"], "failed");
            }
            _ => {
                assert_eq!(state["intent"]["state"], "InProgress", "event {i}: {v}");
                assert!(state["dialogAction"]["slotToElicit"].is_string());
            }
        }
    }
    let _ = child.kill().await;
    let out = child.wait_with_output().await.unwrap();
    let logs =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        logs.matches("\"audit\":\"resetpw\"").count(),
        events.len(),
        "one audit line per event: {logs}"
    );
    for value in [phone, &phone[2..], transcript, "4242", user, "15550177777"] {
        assert!(!logs.contains(value), "{value:?} reached the logs: {logs}");
    }
}
