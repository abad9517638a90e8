//! The tool as a user installs it. One build serves the whole file: scripts/release makes it
//! (`cargo install --path . --locked` into the workspace's target directory), a second
//! scripts/release and the test's own `cargo install --path . --root TMP` with the same flags
//! reuse it. By default that build is `scripts/release --dev`'s: a debug build with the Lambda's
//! package built in (RESETPW_EMBED_LAMBDA=1), which reuses the workspace's debug build, since a
//! release build of the AWS SDK crates takes about half an hour on CI's 2-core machine — the
//! packing, the checksum, the reproducibility and the installed binary's behaviour are the same.
//! RESETPW_TEST_RELEASE=1 makes it the real release build, which the test then also checks for
//! the checkout's path (remapped away).
//!
//! - scripts/release: the tarball's files, its SHA-256 file verifies (and fails on a changed
//!   byte), a second run gives the same bytes;
//! - the installed binary, run from a directory outside the checkout with the checkout hidden
//!   from it (a private mount namespace puts an empty directory over it, when this machine
//!   allows one) and no cargo on its PATH: `--version` names the package's CodeSha256,
//!   `package -o` writes that package, `up` of a stack with `fulfillment` deploys it (the
//!   function's CodeSha256 read with the SDK), and a second `diff` builds nothing.

mod common;

use common::{sdk, Case};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A command with the variables `cargo test` set for this test crate removed, so the builds it
/// starts see the environment a shell would give them (and so reuse each other's artifacts).
fn clean(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let Some(n) = name.to_str() else { continue };
        let keep = matches!(n, "CARGO_HOME" | "CARGO_TARGET_DIR" | "CARGO_BUILD_JOBS");
        if !keep && (n.starts_with("CARGO_") || n == "OUT_DIR" || n == "RUSTFLAGS") {
            cmd.env_remove(n);
        }
    }
    cmd
}

fn ok(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether this run checks the real release build (else scripts/release --dev's).
fn real_release() -> bool {
    std::env::var("RESETPW_TEST_RELEASE").is_ok_and(|v| v == "1")
}

/// Runs scripts/release into `dir` and gives the tarball's path.
fn release(dir: &Path) -> PathBuf {
    let mut cmd = clean(root().join("scripts/release"));
    if !real_release() {
        cmd.arg("--dev");
    }
    cmd.arg(dir);
    let out = ok(cmd);
    PathBuf::from(
        text(&out)
            .lines()
            .last()
            .expect("the tarball's path")
            .trim(),
    )
}

/// Whether this machine lets the test hide the checkout in a private mount namespace.
fn can_hide_checkout() -> bool {
    Command::new("unshare")
        .args(["--mount", "--", "mount", "-t", "tmpfs", "none", "/mnt"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The installed binary, run in `cwd` with PATH holding no cargo, no toolchain variables and
/// (when possible) the checkout covered by an empty directory.
fn installed(case: &Case, bin: &Path, cwd: &Path, hide: bool, args: &[&str]) -> Command {
    let mut cmd = if hide {
        let mut c = clean("unshare");
        c.args([
            "--mount",
            "--",
            "sh",
            "-c",
            "mount -t tmpfs none \"$0\" && exec \"$@\"",
        ])
        .arg(root())
        .arg(bin);
        c
    } else {
        clean(bin)
    };
    cmd.args(args)
        .args(["--progress", "plain"])
        .current_dir(cwd)
        .env("PATH", "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env_remove("CARGO")
        .env_remove("RUSTUP_HOME")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RESETPW_LAMBDA_SOURCE")
        .env("AWS_SDK_UA_APP_ID", &case.app)
        .env("TEST_BIND_PASSWORD", "Initial-Passw0rd!")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    cmd
}

fn field<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no `{name}` in {output}"))
        .trim()
}

#[tokio::test(flavor = "multi_thread")]
async fn release_tarball_and_the_installed_binary_deploy_the_built_in_lambda() {
    let case = Case::new("install");
    let scratch = tempfile::tempdir().unwrap();
    let dist = scratch.path().join("dist");

    // The tarball: its files, its checksum, the same bytes from a second run.
    let tarball = release(&dist);
    let name = tarball.file_name().unwrap().to_str().unwrap().to_string();
    let version = env!("CARGO_PKG_VERSION");
    let base = format!("resetpw-{version}-x86_64-unknown-linux-gnu");
    assert_eq!(name, format!("{base}.tar.gz"));
    let mut list = Command::new("tar");
    list.arg("-tzf").arg(&tarball);
    let mut files: Vec<String> = text(&ok(list))
        .lines()
        .filter(|l| !l.ends_with('/'))
        .map(str::to_string)
        .collect();
    files.sort();
    let expect: Vec<String> = [
        "LICENSE",
        "README.md",
        "completions/_resetpw",
        "completions/resetpw.bash",
        "completions/resetpw.fish",
        "man/resetpw.1",
        "resetpw",
    ]
    .iter()
    .map(|f| format!("{base}/{f}"))
    .collect();
    assert_eq!(files, expect);
    let mut check = Command::new("sha256sum");
    check
        .args(["-c", &format!("{name}.sha256")])
        .current_dir(&dist);
    ok(check);
    let first = std::fs::read(&tarball).unwrap();
    let tampered = scratch.path().join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    std::fs::copy(
        dist.join(format!("{name}.sha256")),
        tampered.join(format!("{name}.sha256")),
    )
    .unwrap();
    let mut bytes = first.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(tampered.join(&name), bytes).unwrap();
    let refused = Command::new("sha256sum")
        .args(["-c", &format!("{name}.sha256")])
        .current_dir(&tampered)
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "a changed byte passed the checksum"
    );
    let again = release(&scratch.path().join("again"));
    assert_eq!(
        std::fs::read(&again).unwrap(),
        first,
        "two runs, different bytes"
    );

    // cargo install --path . --root TMP, with scripts/release's flags: its build, reused.
    let prefix = scratch.path().join("prefix");
    let mut install = clean("cargo");
    install
        .args(["install", "--quiet", "--locked", "--path"])
        .arg(root())
        .arg("--root")
        .arg(&prefix);
    if real_release() {
        let mut c = clean(root().join("scripts/release"));
        c.arg("--rustflags");
        install.env("RUSTFLAGS", text(&ok(c)).trim());
    } else {
        install.arg("--debug").env("RESETPW_EMBED_LAMBDA", "1");
    }
    ok(install);
    let bin = prefix.join("bin/resetpw");
    if real_release() {
        let binary = std::fs::read(&bin).unwrap();
        let checkout = root().canonicalize().unwrap();
        assert!(
            !binary
                .windows(checkout.as_os_str().len())
                .any(|w| w == checkout.as_os_str().as_encoded_bytes()),
            "the installed binary names the checkout {}",
            checkout.display()
        );
    }

    // Run from elsewhere: its own directory, no cargo, the checkout hidden when possible.
    let hide = can_hide_checkout();
    if !hide {
        eprintln!("note: cannot make a private mount namespace here; the checkout stays visible (PATH still has no cargo)");
    }
    let away = tempfile::tempdir().unwrap();
    let version_line = text(&ok(installed(
        &case,
        &bin,
        away.path(),
        hide,
        &["--version"],
    )));
    let zip = away.path().join("fulfillment.zip");
    let package = text(&ok(installed(
        &case,
        &bin,
        away.path(),
        hide,
        &["package", "-o", zip.to_str().unwrap()],
    )));
    let sha = field(&package, "CodeSha256:").to_string();
    assert!(
        field(&package, "source:").starts_with("built into resetpw"),
        "{package}"
    );
    assert_eq!(
        resetpw::package::code_sha256(&std::fs::read(&zip).unwrap()),
        sha,
        "the written zip is the package named"
    );
    assert!(version_line.contains(&sha), "{version_line}");
    let commit = {
        let mut git = Command::new("git");
        git.args(["rev-parse", "HEAD"]).current_dir(root());
        text(&ok(git)).trim().to_string()
    };
    assert!(version_line.contains(&commit), "{version_line}");
    assert!(version_line.contains(version), "{version_line}");

    // up of a stack with `fulfillment` and no `package`: the built-in package is deployed.
    let stack = case.write_stack("fulfillment:\n  memory_mb: 256\n");
    let stack_in_away = away.path().join("stack.yaml");
    std::fs::copy(&stack, &stack_in_away).unwrap();
    std::fs::copy(case.dir.path().join("ca.pem"), away.path().join("ca.pem")).unwrap();
    let up = ok(installed(
        &case,
        &bin,
        away.path(),
        hide,
        &["up", "-f", "stack.yaml", "--yes"],
    ));
    let up_err = String::from_utf8_lossy(&up.stderr);
    assert!(
        !up_err.contains("building the fulfillment Lambda"),
        "{up_err}"
    );
    let lambda = aws_sdk_lambda::Client::new(&sdk().await);
    let function = lambda
        .get_function_configuration()
        .function_name(format!("{}-fulfillment", case.stack))
        .send()
        .await
        .expect("the function exists");
    assert_eq!(function.code_sha256(), Some(sha.as_str()));

    // A second diff: nothing to change, no build (and no cargo: there is none to call).
    let diff = ok(installed(
        &case,
        &bin,
        away.path(),
        hide,
        &["diff", "-f", "stack.yaml", "--exit-code"],
    ));
    assert!(!String::from_utf8_lossy(&diff.stderr).contains("building"));

    ok(installed(
        &case,
        &bin,
        away.path(),
        hide,
        &["down", "-f", "stack.yaml", "--yes"],
    ));
    assert!(lambda
        .get_function_configuration()
        .function_name(format!("{}-fulfillment", case.stack))
        .send()
        .await
        .is_err());
}
