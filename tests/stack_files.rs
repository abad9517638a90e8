//! Stack files without AWS: the bad-stack corpus, the checked-in schema, the shipped stacks.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn resetpw(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_resetpw"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run resetpw")
}

/// Each `tests/bad-stacks/NAME.yaml` must fail `validate` with exit 1 and every line of
/// `NAME.expect` in its error, without a panic or anything on stdout.
#[test]
fn bad_stack_files_fail_with_their_expected_errors() {
    let dir = root().join("tests/bad-stacks");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "the corpus went missing");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let expect = std::fs::read_to_string(case.with_extension("expect"))
            .unwrap_or_else(|_| panic!("{name} has no .expect file"));
        let out = resetpw(&dir, &["validate", "-f", name]);
        let err = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<String> = expect
            .lines()
            .filter(|l| !l.is_empty() && !err.contains(*l))
            .map(|l| format!("missing `{l}`"))
            .chain((out.status.code() != Some(1)).then(|| format!("exit {:?}", out.status.code())))
            .chain(err.contains("panicked").then(|| "panicked".to_string()))
            .chain((!out.stdout.is_empty()).then(|| "printed to stdout".to_string()))
            .collect();
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n  stderr: {err}", problems.join(", ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn checked_in_schema_is_current() {
    let out = resetpw(root(), &["schema"]);
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let checked_in = std::fs::read_to_string(root().join("stacks/stack.schema.json")).unwrap();
    assert_eq!(
        generated.trim(),
        checked_in.trim(),
        "stacks/stack.schema.json is stale: run `cargo run -- schema > stacks/stack.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(schema["required"], serde_json::json!(["name"]));
    assert_eq!(
        schema["additionalProperties"], false,
        "unknown keys are errors in editors too"
    );
}

#[test]
fn shipped_stacks_validate_and_reference_the_schema() {
    // The full stack names the customer's CA file; give it one.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("stacks/resetpw.yaml"),
        tmp.path().join("resetpw.yaml"),
    )
    .unwrap();
    std::fs::copy(
        root().join("examples/demo-ca.pem"),
        tmp.path().join("corp-ca.pem"),
    )
    .unwrap();
    let out = resetpw(tmp.path(), &["validate", "-f", "resetpw.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = resetpw(root(), &["validate", "-f", "examples/demo.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in ["stacks/resetpw.yaml", "examples/demo.yaml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            text.lines().next().unwrap().contains("$schema=") && text.contains("stack.schema.json"),
            "{file} does not reference the schema"
        );
    }
}
