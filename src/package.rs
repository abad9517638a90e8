//! Building the fulfillment Lambda's deployment package: a release build of `bootstrap`
//! (crate resetpw-lambda) for the provided.al2023 runtime on x86_64, checked against the
//! runtime's glibc, zipped deterministically so that the same source gives the same bytes
//! and so the same CodeSha256.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Newest glibc the provided.al2023 runtime offers.
pub const MAX_GLIBC: (u32, u32) = (2, 34);

/// A built deployment package.
pub struct LambdaZip {
    pub bytes: Vec<u8>,
    /// Base64 SHA-256 of `bytes`, as Lambda reports CodeSha256.
    pub code_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("packaging needs an x86_64 Linux build host (this is {0}): run `resetpw package` on x86_64 Linux or in CI")]
    UnsupportedHost(String),
    #[error("could not run cargo ({0}): make sure cargo is on PATH or set CARGO")]
    CargoNotRunnable(std::io::Error),
    #[error("cannot create the Lambda's target directory {path}: {source}")]
    TargetDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cargo build --release -p resetpw-lambda failed (exit {code}); {output}")]
    BuildFailed { code: String, output: String },
    #[error("cargo built no `bootstrap` executable: check lambda/Cargo.toml has [[bin]] name = \"bootstrap\"")]
    NoBinary,
    #[error("cannot read the built binary {path}: {source}")]
    ReadBinary {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the built bootstrap is not a valid x86_64 ELF executable ({0})")]
    NotElf(String),
    #[error("bootstrap needs glibc {0}.{1}, newer than the Lambda runtime's {max_major}.{max_minor}: build on an older distribution or avoid the symbols that need it", max_major = MAX_GLIBC.0, max_minor = MAX_GLIBC.1)]
    GlibcTooNew(u32, u32),
    #[error("writing the zip failed: {0}")]
    Zip(String),
}

/// The package built into this binary by build.rs (release builds), when there is one.
#[cfg(resetpw_embedded_lambda)]
pub const EMBEDDED: Option<Embedded> = Some(Embedded {
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/lambda.zip")),
    code_sha256: env!("RESETPW_LAMBDA_SHA256"),
});
#[cfg(not(resetpw_embedded_lambda))]
pub const EMBEDDED: Option<Embedded> = None;

/// The deployment package a release build of resetpw carries.
#[derive(Clone, Copy)]
pub struct Embedded {
    pub bytes: &'static [u8],
    pub code_sha256: &'static str,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("len", &self.bytes.len())
            .field("code_sha256", &self.code_sha256)
            .finish()
    }
}

/// The source tree this binary was compiled from, for builds of its lambda/ at run time. Only
/// builds without a package built in know it, so a release binary does not carry the path of
/// the checkout it was built in.
pub fn compiled_from() -> Option<&'static Path> {
    #[cfg(resetpw_embedded_lambda)]
    return None;
    #[cfg(not(resetpw_embedded_lambda))]
    return Some(Path::new(env!("CARGO_MANIFEST_DIR")));
}

/// Who runs the inner cargo: the `resetpw` binary (a debug build's first use, `resetpw package
/// --source`, tests) or resetpw's build script (a release build, embedding the package).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Binary,
    BuildScript,
}

/// Builds `bootstrap` in release mode, checks it and returns the deterministic zip. The
/// compiler's output goes to stderr.
pub fn build_lambda_zip(workspace_root: &Path) -> Result<LambdaZip, PackageError> {
    package(workspace_root, true, Caller::Binary)
}

/// The same, with the compiler's output kept out of the terminal (`up` shows its own progress
/// line); a failed build's error carries the end of that output.
pub fn build_lambda_zip_quietly(workspace_root: &Path) -> Result<LambdaZip, PackageError> {
    package(workspace_root, false, Caller::Binary)
}

/// The build script's build of the package it embeds (output captured, shown by cargo only
/// when the build fails).
pub fn build_lambda_zip_for_embedding(workspace_root: &Path) -> Result<LambdaZip, PackageError> {
    package(workspace_root, false, Caller::BuildScript)
}

fn package(
    workspace_root: &Path,
    show_compiler: bool,
    caller: Caller,
) -> Result<LambdaZip, PackageError> {
    let binary_path = build_release_binary(workspace_root, show_compiler, caller)?;
    let binary = std::fs::read(&binary_path).map_err(|source| PackageError::ReadBinary {
        path: binary_path.clone(),
        source,
    })?;
    check_glibc(&binary)?;
    let bytes = zip_bootstrap(&binary)?;
    Ok(LambdaZip {
        code_sha256: code_sha256(&bytes),
        bytes,
    })
}

/// The inner build's own target directory, `<target>/lambda`: never the directory an outer
/// `cargo build --release` holds locked, and the same for the build script, the binary and the
/// tests of one checkout, so the Lambda's release build is made once and shared.
pub fn lambda_target_dir(workspace_root: &Path) -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|t| !t.is_empty()) {
        Some(t) => workspace_root.join(t),
        None => workspace_root.join("target"),
    };
    target.join("lambda")
}

/// Runs `cargo build --release -p resetpw-lambda --bin bootstrap` into [`lambda_target_dir`]
/// and returns the binary's path.
///
/// The compiler flags are fixed (RUSTFLAGS is not used): symbols are stripped and the paths of
/// the checkout, the cargo home and the target directory remapped, so the bytes do not depend
/// on where they live or on who runs the build.
pub fn build_release_binary(
    workspace_root: &Path,
    show_compiler: bool,
    caller: Caller,
) -> Result<PathBuf, PackageError> {
    if std::env::consts::ARCH != "x86_64" || std::env::consts::OS != "linux" {
        return Err(PackageError::UnsupportedHost(format!(
            "{}-{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        )));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = workspace_root
        .canonicalize()
        .unwrap_or_else(|_| workspace_root.to_path_buf());
    let target_dir = lambda_target_dir(&root);
    std::fs::create_dir_all(&target_dir).map_err(|source| PackageError::TargetDir {
        path: target_dir.clone(),
        source,
    })?;
    let target_dir = target_dir.canonicalize().unwrap_or(target_dir);
    // The last matching prefix wins, so the most specific goes last.
    let mut flags = Vec::new();
    if let Some(home) = cargo_home() {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.push(format!("--remap-path-prefix={}=/build", root.display()));
    flags.push(format!(
        "--remap-path-prefix={}=/target",
        target_dir.display()
    ));
    let mut command = Command::new(cargo);
    // Variables cargo sets for the crate being built or run (when `resetpw` runs under `cargo
    // test` or `cargo run`, or this is resetpw's build script) must not reach the inner build:
    // build scripts watch some of them (`rerun-if-env-changed=CARGO_PKG_NAME`, `TARGET`, ...),
    // so the release build would start over each time it is run from another context.
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name
            .to_str()
            .filter(|n| removed_from_the_inner_build(n, caller))
        {
            command.env_remove(name);
        }
    }
    let output = command
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "resetpw-lambda",
            "--bin",
            "bootstrap",
            "--message-format=json-render-diagnostics",
            "--config",
            "profile.release.strip=\"symbols\"",
            "--config",
            "profile.release.debug=0",
            // Size over build time: the zip is uploaded on every code change. Unwinding stays,
            // so lambda_runtime can turn a handler panic into an error response.
            "--config",
            "profile.release.lto=\"fat\"",
            "--config",
            "profile.release.codegen-units=1",
            "--config",
            "profile.release.opt-level=\"z\"",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"))
        .stdout(Stdio::piped())
        .stderr(if show_compiler {
            Stdio::inherit()
        } else {
            Stdio::piped()
        })
        .output()
        .map_err(PackageError::CargoNotRunnable)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        return Err(PackageError::BuildFailed {
            code: output
                .status
                .code()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "signal".into()),
            output: if tail.is_empty() {
                "see the compiler output above".into()
            } else {
                format!("the compiler said:\n{tail}")
            },
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "bootstrap")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or(PackageError::NoBinary)
}

/// Whether `name` must be removed from the inner build's environment: a variable cargo sets
/// for a crate it compiles, runs or tests, or for a build script (not one a user sets to
/// configure cargo, like `CARGO_HOME` or `CARGO_BUILD_JOBS`), or flags the package's fixed
/// flags replace. A build script keeps cargo's jobserver, so the inner build shares the outer
/// build's job slots instead of adding its own.
fn removed_from_the_inner_build(name: &str, caller: Caller) -> bool {
    if caller == Caller::BuildScript && name == "CARGO_MAKEFLAGS" {
        return false;
    }
    set_by_cargo_for_a_crate(name)
        || matches!(
            name,
            "RUSTFLAGS"
                | "CARGO_BUILD_RUSTFLAGS"
                | "CARGO_ENCODED_RUSTFLAGS"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "TARGET"
                | "HOST"
                | "PROFILE"
                | "OPT_LEVEL"
                | "DEBUG"
                | "NUM_JOBS"
                | "RUSTC_LINKER"
        )
        || name.starts_with("DEP_")
}

/// Whether `name` is one of the variables cargo sets for a crate it compiles, runs or tests (not
/// one a user sets to configure cargo, like `CARGO_HOME` or `CARGO_BUILD_JOBS`).
fn set_by_cargo_for_a_crate(name: &str) -> bool {
    const EXACT: [&str; 10] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "CARGO_MAKEFLAGS",
        "OUT_DIR",
    ];
    const PREFIXES: [&str; 4] = [
        "CARGO_PKG_",
        "CARGO_BIN_EXE_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .and_then(|p| p.canonicalize().ok())
}

/// The glibc versions (major, minor) the binary's dynamic symbols require, sorted.
pub fn glibc_requirements(elf: &[u8]) -> Result<Vec<(u32, u32)>, PackageError> {
    use object::read::elf::{ElfFile64, FileHeader};
    let bad = |e: object::read::Error| PackageError::NotElf(e.to_string());
    let file = ElfFile64::<object::Endianness>::parse(elf).map_err(bad)?;
    let endian = file.endian();
    if file.elf_header().e_machine(endian) != object::elf::EM_X86_64 {
        return Err(PackageError::NotElf("not an x86_64 binary".into()));
    }
    let sections = file.elf_section_table();
    let mut versions = Vec::new();
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, elf).map_err(bad)? {
        let strings = sections.strings(endian, elf, link).map_err(bad)?;
        while let Some((_, mut auxes)) = needs.next().map_err(bad)? {
            while let Some(aux) = auxes.next().map_err(bad)? {
                let name = aux.name(endian, strings).map_err(bad)?;
                if let Some(v) = parse_glibc_version(name) {
                    versions.push(v);
                }
            }
        }
    }
    versions.sort_unstable();
    versions.dedup();
    Ok(versions)
}

fn parse_glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let rest = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map(|m| m.parse().ok()).unwrap_or(Some(0))?;
    Some((major, minor))
}

/// Fails when any symbol needs a glibc newer than [`MAX_GLIBC`].
pub fn check_glibc(elf: &[u8]) -> Result<(), PackageError> {
    match glibc_requirements(elf)?.last() {
        Some(&(major, minor)) if (major, minor) > MAX_GLIBC => {
            Err(PackageError::GlibcTooNew(major, minor))
        }
        _ => Ok(()),
    }
}

/// A zip holding only `bootstrap`: fixed timestamp (1980-01-01), mode 0755, deflated.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>, PackageError> {
    let zip_err = |e: zip::result::ZipError| PackageError::Zip(e.to_string());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::DEFAULT)
        .system(zip::System::Unix)
        .unix_permissions(0o755);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options).map_err(zip_err)?;
    writer
        .write_all(binary)
        .map_err(|e| PackageError::Zip(e.to_string()))?;
    Ok(writer.finish().map_err(zip_err)?.into_inner())
}

/// Base64 SHA-256, the form of Lambda's CodeSha256.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn code_sha256_is_base64_of_the_digest() {
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn zip_is_deterministic_with_fixed_metadata() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let a = zip_bootstrap(&payload).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = zip_bootstrap(&payload).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, zip_bootstrap(b"other").unwrap());

        let mut archive = zip::ZipArchive::new(Cursor::new(a)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut file = archive.by_index(0).unwrap();
        assert_eq!(file.name().unwrap(), "bootstrap");
        assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o755));
        let t = file.last_modified().unwrap();
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (1980, 1, 1, 0, 0)
        );
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(back, payload);
    }

    #[test]
    fn only_the_variables_cargo_sets_and_the_flags_are_kept_from_the_inner_build() {
        for caller in [Caller::Binary, Caller::BuildScript] {
            for name in [
                "CARGO_PKG_NAME",
                "CARGO_PKG_VERSION_MAJOR",
                "CARGO_MANIFEST_DIR",
                "CARGO_BIN_EXE_resetpw",
                "CARGO_CFG_TARGET_OS",
                "OUT_DIR",
                "TARGET",
                "OPT_LEVEL",
                "PROFILE",
                "DEP_AWS_LC_INCLUDE",
                "RUSTFLAGS",
                "CARGO_ENCODED_RUSTFLAGS",
                "RUSTC_WORKSPACE_WRAPPER",
            ] {
                assert!(
                    removed_from_the_inner_build(name, caller),
                    "{name} {caller:?}"
                );
            }
            for name in [
                "CARGO_HOME",
                "CARGO_TARGET_DIR",
                "CARGO_BUILD_JOBS",
                "CARGO",
                "RUSTC",
                "RUSTUP_TOOLCHAIN",
                "PATH",
            ] {
                assert!(
                    !removed_from_the_inner_build(name, caller),
                    "{name} {caller:?}"
                );
            }
        }
        // The build script's inner build takes its job slots from the outer build's jobserver.
        assert!(!removed_from_the_inner_build(
            "CARGO_MAKEFLAGS",
            Caller::BuildScript
        ));
        assert!(removed_from_the_inner_build(
            "CARGO_MAKEFLAGS",
            Caller::Binary
        ));
    }

    #[test]
    fn glibc_versions_parse() {
        assert_eq!(parse_glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(parse_glibc_version(b"GCC_3.0"), None);
    }

    #[test]
    fn glibc_check_reads_a_real_elf() {
        // This test binary is itself a glibc-linked x86_64 ELF.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let versions = glibc_requirements(&me).unwrap();
        assert!(
            versions.iter().any(|&(major, _)| major == 2),
            "{versions:?}"
        );
        assert!(matches!(
            glibc_requirements(b"not an elf"),
            Err(PackageError::NotElf(_))
        ));
    }

    /// The real package: a release build of bootstrap, glibc <= 2.34, same bytes twice.
    #[test]
    fn release_bootstrap_fits_the_lambda_runtime_and_zips_reproducibly() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let first = build_lambda_zip(root).expect("package builds and passes the glibc check");
        let versions = {
            let mut archive = zip::ZipArchive::new(Cursor::new(first.bytes.clone())).unwrap();
            let mut bin = Vec::new();
            archive
                .by_name("bootstrap")
                .unwrap()
                .read_to_end(&mut bin)
                .unwrap();
            glibc_requirements(&bin).unwrap()
        };
        let newest = *versions.last().expect("bootstrap links glibc");
        assert!(newest <= MAX_GLIBC, "needs glibc {newest:?}");
        let second = build_lambda_zip(root).unwrap();
        assert_eq!(first.code_sha256, second.code_sha256);
        assert_eq!(first.code_sha256, code_sha256(&first.bytes));
        assert!(
            first.bytes.len() < 8 * 1024 * 1024,
            "zip is {} bytes",
            first.bytes.len()
        );
    }
}
