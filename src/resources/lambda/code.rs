//! The function's code: the package built into this binary (release builds), the lambda/ crate
//! of a source tree built now (a debug build, or `RESETPW_LAMBDA_SOURCE`), or a prebuilt zip
//! named by `fulfillment.package`. Read (or built) once per run, at plan time, because the plan
//! compares its CodeSha256 with the deployed one.

use crate::aws::Cx;
use crate::engine::ResourceError;
use crate::package::{build_lambda_zip_quietly, code_sha256};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The variable naming a resetpw source tree whose lambda/ `up`, `diff` and `package` build
/// instead of the package built into the binary: for a developer deploying an edited lambda/.
pub const SOURCE_ENV: &str = "RESETPW_LAMBDA_SOURCE";

/// Where the code comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The package built into this binary.
    Embedded(crate::package::Embedded),
    /// Build the lambda/ crate of this source tree now.
    Build { root: PathBuf, why: &'static str },
    /// A zip file given in the stack file.
    File(PathBuf),
}

impl Source {
    /// The bundled Lambda: `RESETPW_LAMBDA_SOURCE`'s tree when set, else the package built into
    /// this binary, else (a debug build) the tree this binary was compiled from.
    pub fn bundled() -> Source {
        if let Some(root) = std::env::var_os(SOURCE_ENV).filter(|v| !v.is_empty()) {
            return Source::Build {
                root: root.into(),
                why: "RESETPW_LAMBDA_SOURCE is set",
            };
        }
        match (crate::package::EMBEDDED, crate::package::compiled_from()) {
            (Some(embedded), _) => Source::Embedded(embedded),
            (None, Some(root)) => Source::Build {
                root: root.to_path_buf(),
                why: "this debug build of resetpw carries no Lambda package; a release build does",
            },
            (None, None) => unreachable!("a build without a package knows its source tree"),
        }
    }
}

/// The zip, loaded once.
pub struct Code {
    source: Source,
    zip: OnceLock<Zip>,
}

pub struct Zip {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl Code {
    pub fn new(source: Source) -> Self {
        Code {
            source,
            zip: OnceLock::new(),
        }
    }

    /// Builds or reads the zip (once). A build says so on the progress line of `id`.
    pub async fn load(&self, cx: &Cx, id: &str) -> Result<&Zip, ResourceError> {
        if let Some(zip) = self.zip.get() {
            return Ok(zip);
        }
        let zip = match &self.source {
            Source::Embedded(embedded) => Zip {
                bytes: embedded.bytes.to_vec(),
                sha256: embedded.code_sha256.to_string(),
            },
            Source::Build { root, why } => {
                cx.progress.begin(
                    id,
                    &format!(
                        "lambda-function: building the fulfillment Lambda from {} ({why}; cargo build --release -p resetpw-lambda, a few minutes the first time, quick when unchanged)",
                        root.join("lambda").display()
                    ),
                );
                let root = root.clone();
                let built = tokio::task::spawn_blocking(move || build_lambda_zip_quietly(&root))
                    .await
                    .map_err(|e| ResourceError::Other(format!("the Lambda build stopped: {e}")))?
                    .map_err(|e| {
                        ResourceError::Other(format!(
                            "building the fulfillment Lambda failed: {e} (or give a prebuilt zip as `fulfillment.package`)"
                        ))
                    })?;
                Zip {
                    sha256: built.code_sha256,
                    bytes: built.bytes,
                }
            }
            Source::File(path) => {
                let bytes = tokio::fs::read(path)
                    .await
                    .map_err(|e| ResourceError::Stack {
                        path: vec!["fulfillment".into(), "package".into()],
                        message: format!("cannot read `{}`: {e}", path.display()),
                    })?;
                Zip {
                    sha256: code_sha256(&bytes),
                    bytes,
                }
            }
        };
        Ok(self.zip.get_or_init(|| zip))
    }

    /// The zip, once loaded by `load` (at plan time).
    pub fn loaded(&self) -> Option<&Zip> {
        self.zip.get()
    }
}
