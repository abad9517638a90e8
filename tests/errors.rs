//! Errors a person reads: the real binary with no credentials, an endpoint nobody answers on,
//! an SSO session that has expired and credentials AWS calls expired. Each prints a short
//! message that says what was tried and what to do, never the SDK's Debug dump; `--verbose`
//! adds the raw detail.

mod common;

use common::Case;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary with an environment that has no AWS configuration at all: no AWS_* variables,
/// an empty home (no ~/.aws), no instance metadata service to ask.
fn bare(case: &Case, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_resetpw"));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("AWS_")) {
            cmd.env_remove(name);
        }
    }
    cmd.args(args)
        .args(["--progress", "plain"])
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_SDK_UA_APP_ID", &case.app)
        .env("TEST_BIND_PASSWORD", "Initial-Passw0rd!")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The error line: exit 1, one `error:` line, short, without the SDK's type names.
fn short_error(out: &Output) -> String {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(1), "stderr: {text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {text}"))
        .to_string();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("error: ")).count(),
        1,
        "{text}"
    );
    for dump in [
        "DispatchFailure",
        "ConnectorError",
        "CredentialsNotLoaded",
        "source:",
        "{ ",
    ] {
        assert!(
            !text.contains(dump),
            "the SDK's detail `{dump}` leaked: {text}"
        );
    }
    assert!(line.len() < 500, "{} characters: {line}", line.len());
    line
}

#[test]
fn no_credentials_say_where_they_were_looked_for_and_how_to_set_them() {
    let case = Case::new("err-nocreds");
    let file = case.write_stack("");
    let f = file.to_str().unwrap();
    let home = tempfile::tempdir().unwrap();

    let out = bare(&case, home.path(), &["diff", "-f", f])
        .output()
        .unwrap();
    let line = short_error(&out);
    assert!(line.contains("no AWS credentials found"), "{line}");
    assert!(
        line.contains("AWS_PROFILE") && line.contains("AWS_ACCESS_KEY_ID"),
        "{line}"
    );
    assert!(line.contains("aws sso login"), "{line}");

    // The same with the instance metadata service left on (the chain's last resort: here it
    // refuses or is not there, as on a laptop).
    let out = bare(&case, home.path(), &["diff", "-f", f])
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .output()
        .unwrap();
    let line = short_error(&out);
    assert!(line.contains("no AWS credentials found"), "{line}");

    // --verbose adds the SDK's own account of it.
    let out = bare(&case, home.path(), &["diff", "-f", f, "--verbose"])
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no AWS credentials found"), "{text}");
    assert!(text.contains("detail:"), "{text}");
    assert!(text.contains("CredentialsNotLoaded"), "{text}");

    // A named profile that does not exist is named.
    let out = bare(
        &case,
        home.path(),
        &["diff", "-f", f, "--profile", "nosuch"],
    )
    .output()
    .unwrap();
    let line = short_error(&out);
    assert!(line.contains("`nosuch`"), "{line}");
}

#[test]
fn an_endpoint_nobody_answers_on_is_named() {
    let case = Case::new("err-endpoint");
    let file = case.write_stack("");
    let f = file.to_str().unwrap();
    let home = tempfile::tempdir().unwrap();
    // A loopback port nothing listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = bare(&case, home.path(), &["diff", "-f", f])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &url)
        .output()
        .unwrap();
    let line = short_error(&out);
    assert!(line.contains(&format!("could not reach {url}")), "{line}");
    assert!(line.contains("AWS_ENDPOINT_URL"), "{line}");
    assert!(line.to_lowercase().contains("refused"), "{line}");
}

#[test]
fn an_expired_sso_session_says_aws_sso_login_with_the_profile() {
    let case = Case::new("err-sso");
    let file = case.write_stack("");
    let f = file.to_str().unwrap();
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(aws.join("sso/cache")).unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile helpdesk]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
    )
    .unwrap();
    // The token cache entry of session `corp` (file name: SHA-1 of the session name), expired.
    let cache = Command::new("sh")
        .args(["-c", "printf corp | sha1sum | cut -d' ' -f1"])
        .output()
        .unwrap();
    let name = String::from_utf8(cache.stdout).unwrap().trim().to_string();
    std::fs::write(
        aws.join(format!("sso/cache/{name}.json")),
        r#"{"accessToken":"expired-token","expiresAt":"2020-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}"#,
    )
    .unwrap();
    let out = bare(
        &case,
        home.path(),
        &["diff", "-f", f, "--profile", "helpdesk"],
    )
    .output()
    .unwrap();
    let line = short_error(&out);
    assert!(line.contains("SSO session has expired"), "{line}");
    assert!(line.contains("aws sso login --profile helpdesk"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_aws_calls_expired_say_aws_sso_login() {
    let case = Case::new("err-expired");
    let file = case.write_stack("");
    let f = file.to_str().unwrap();
    case.inject(serde_json::json!({
        "service": "sts",
        "operation": "GetCallerIdentity",
        "status": 400,
        "code": "ExpiredToken",
        "message": "The security token included in the request is expired",
    }))
    .await;
    let out = case.resetpw(&["diff", "-f", f]).output().unwrap();
    let line = short_error(&out);
    case.clear_faults().await;
    assert!(line.contains("have expired"), "{line}");
    assert!(line.contains("aws sso login"), "{line}");
}
