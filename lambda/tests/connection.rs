//! The kept directory connection against the Samba DC (scripts/local-directory) and the
//! local cloud: it survives a DC restart and a DC that goes away, and StartTLS works with
//! the same certificate checks. A separate test binary, because one test restarts the DC.

mod support;

use resetpw_lambda::handler::MSG_HELP_DESK;
use support::proxy::Proxy;
use support::*;

/// One test restarts the DC: the tests of this binary take turns.
static DC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn state(r: &resetpw_lambda::lex::LexResponse) -> (&str, &str) {
    (
        r.session_state.dialog_action.kind.as_str(),
        r.session_state.intent.state.as_str(),
    )
}

/// The password of the `n`-th SMS binds (must-change is set, so AD answers "data 773").
async fn sms_password_is_current(app: &str, sam: &str, n: usize) {
    let sms = sms_published(app).await;
    assert_eq!(sms.len(), n, "one SMS per reset: {sms:?}");
    let (_, text) = try_bind(&user_dn(sam), &password_in(&sms[n - 1].1))
        .await
        .unwrap_err();
    assert!(
        text.contains("data 773"),
        "the last SMS password is not current: {text}"
    );
}

fn local_directory(command: &str) {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/local-directory");
    let out = std::process::Command::new(script)
        .arg(command)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("scripts/local-directory runs");
    assert!(out.success(), "scripts/local-directory {command} failed");
}

#[tokio::test]
async fn the_connection_is_kept_and_reopened_after_a_dc_restart_and_a_dc_going_away() {
    let _turn = DC.lock().await;
    let _ = admin_set_password(BENCH.sam).await;
    // The first DC is a relay that the test takes away; the second is the DC itself.
    let proxy = Proxy::start("127.0.0.1:636").await;
    let mut setup = Setup::new("keep");
    setup.urls = format!("ldaps://127.0.0.1:{},{}", proxy.port, setup.urls);
    let (cold, _) = setup.cold().await;
    let (handler, directory) = (&cold.handler, &cold.directory);

    let (r, a) = handler.handle_with_audit(correct(&BENCH, "c-keep1")).await;
    assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
    let (r, _) = handler.handle_with_audit(correct(&BENCH, "c-keep2")).await;
    assert_eq!(state(&r), ("Close", "Fulfilled"));
    assert_eq!(directory.connections_opened(), 1, "kept across invocations");
    sms_password_is_current(&setup.app, BENCH.sam, 2).await;

    // The first DC goes away (its connections close, its port refuses): the next one serves.
    proxy.stop().await;
    let (r, a) = handler.handle_with_audit(correct(&BENCH, "c-keep3")).await;
    assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
    assert_eq!(directory.connections_opened(), 2);
    sms_password_is_current(&setup.app, BENCH.sam, 3).await;

    // The DC restarts between two invocations: the kept connection is dead, a new one is
    // opened transparently and the reset happens once.
    local_directory("stop");
    local_directory("start");
    let (r, a) = handler.handle_with_audit(correct(&BENCH, "c-keep4")).await;
    assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
    assert_eq!(directory.connections_opened(), 3);
    assert_eq!(directory.connection_nodelay().await, Some(true));
    sms_password_is_current(&setup.app, BENCH.sam, 4).await;
}

#[tokio::test]
async fn a_dc_that_stops_answering_times_out_and_the_next_one_serves() {
    let _turn = DC.lock().await;
    let _ = admin_set_password(FORCE.sam).await;
    let proxy = Proxy::start("127.0.0.1:636").await;
    let mut setup = Setup::new("freeze").with("RESETPW_LDAP_TIMEOUT_SECONDS", "1");
    setup.urls = format!("ldaps://127.0.0.1:{},{}", proxy.port, setup.urls);
    let (cold, _) = setup.cold().await;
    let (r, a) = cold
        .handler
        .handle_with_audit(correct(&FORCE, "c-freeze1"))
        .await;
    assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
    assert_eq!(cold.directory.connections_opened(), 1);

    // The kept connection's DC goes silent: the lookup times out, and is done again on a
    // new connection to the next DC; the reset happens once.
    proxy.freeze();
    let (r, a) = cold
        .handler
        .handle_with_audit(correct(&FORCE, "c-freeze2"))
        .await;
    assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
    assert_eq!(cold.directory.connections_opened(), 2);
    sms_password_is_current(&setup.app, FORCE.sam, 2).await;
    proxy.stop().await;
}

#[tokio::test]
async fn starttls_resets_with_the_same_certificate_checks() {
    let _turn = DC.lock().await;
    let _ = admin_set_password(RESET.sam).await;
    let mut setup = Setup::new("starttls").with("RESETPW_LDAP_STARTTLS", "true");
    setup.urls = "ldap://127.0.0.1".into(); // port 389 by default
    let (cold, _) = setup.cold().await;
    let (r, a) = cold
        .handler
        .handle_with_audit(correct(&RESET, "c-starttls"))
        .await;
    assert_eq!(state(&r), ("Close", "Fulfilled"), "{a:?}");
    assert_eq!(cold.directory.connection_nodelay().await, Some(true));
    sms_password_is_current(&setup.app, RESET.sam, 1).await;

    // A CA that did not issue the DC's certificate: refused after StartTLS, nothing changed.
    let known = admin_set_password(WRONGCA.sam).await;
    let mut wrong = Setup::new("starttls-wrongca").with("RESETPW_LDAP_STARTTLS", "true");
    wrong.urls = "ldap://127.0.0.1:389".into();
    wrong.ca_file = env("LOCAL_DIRECTORY_WRONG_CA_FILE");
    let (cold, _) = wrong.cold().await;
    let (r, a) = cold
        .handler
        .handle_with_audit(correct(&WRONGCA, "c-st-wrongca"))
        .await;
    assert_eq!(state(&r), ("Close", "Failed"));
    assert_eq!(r.messages[0].content, MSG_HELP_DESK);
    assert_eq!(a.reason, "directory_tls_rejected");
    try_bind(&user_dn(WRONGCA.sam), &known)
        .await
        .expect("password unchanged");
    assert!(sms_published(&wrong.app).await.is_empty());

    // The hostname is checked too: the DC's certificate names 127.0.0.1, localhost and
    // dc1.resetpw.test; another name of this machine that reaches the same DC is refused.
    match other_loopback_name() {
        Some(name) => {
            let mut other = Setup::new("starttls-name").with("RESETPW_LDAP_STARTTLS", "true");
            other.urls = format!("ldap://{name}:389");
            let (cold, _) = other.cold().await;
            let (_, a) = cold
                .handler
                .handle_with_audit(correct(&WRONGCA, "c-st-name"))
                .await;
            assert_eq!(a.reason, "directory_tls_rejected", "{name}: {a:?}");
        }
        None => {
            eprintln!("no other name for 127.0.0.1 in /etc/hosts: hostname check not exercised")
        }
    }
}

/// A name other than localhost that /etc/hosts maps to 127.0.0.1 (e.g. the machine's own).
fn other_loopback_name() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts
        .lines()
        .filter_map(|l| l.split('#').next())
        .filter(|l| l.split_whitespace().next() == Some("127.0.0.1"))
        .flat_map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|n| {
            n != "localhost"
                && !n.contains("resetpw")
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
}
