//! Build script. A release build of resetpw carries the fulfillment Lambda's deployment package
//! (the deterministic zip `resetpw package` writes), so an installed binary deploys the line
//! without the source tree or a Rust toolchain: this script runs the inner release build of
//! lambda/ (into `<target>/lambda`, not the directory the outer build holds locked), zips it and
//! hands the zip, its CodeSha256 and the commit to the crate.
//!
//! A debug build carries no package (the workspace's `cargo build` and tests stay as fast as
//! before; the debug binary builds lambda/ on first use and says so). `RESETPW_EMBED_LAMBDA=1`
//! embeds in any profile, `=0` in none. `RESETPW_COMMIT` names the commit when there is no git
//! checkout (e.g. a container build without `.git`).

use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)]
#[path = "src/package.rs"]
mod package;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/package.rs");
    println!("cargo::rerun-if-env-changed=RESETPW_EMBED_LAMBDA");
    println!("cargo::rerun-if-env-changed=RESETPW_COMMIT");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let embed = match std::env::var("RESETPW_EMBED_LAMBDA").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => release,
    };
    if !embed {
        println!(
            "cargo::rustc-env=RESETPW_VERSION={version} (debug build: no Lambda package built in; `up` builds lambda/ of {} on first use)",
            root.display()
        );
        return;
    }
    for input in ["lambda", "Cargo.lock", "Cargo.toml"] {
        println!("cargo::rerun-if-changed={input}");
    }
    let commit = commit(&root);
    let zip = match package::build_lambda_zip_for_embedding(&root) {
        Ok(zip) => zip,
        Err(e) => {
            println!("cargo::error=building the fulfillment Lambda's package for this release build failed: {e}");
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("lambda.zip");
    std::fs::write(&out, &zip.bytes)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    println!("cargo::rustc-cfg=resetpw_embedded_lambda");
    println!("cargo::rustc-env=RESETPW_LAMBDA_SHA256={}", zip.code_sha256);
    println!(
        "cargo::rustc-env=RESETPW_VERSION={version} (commit {commit}; Lambda package built in, CodeSha256 {})",
        zip.code_sha256
    );
}

/// The commit being built: RESETPW_COMMIT, else git's HEAD (watched, so a new commit is
/// recorded), else "unknown".
fn commit(root: &Path) -> String {
    if let Some(commit) = std::env::var("RESETPW_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        return commit;
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let Some(head) = git(&["rev-parse", "HEAD"]) else {
        return "unknown".into();
    };
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = root.join(path);
            if path.exists() {
                println!("cargo::rerun-if-changed={}", path.display());
            }
        }
    }
    head
}
