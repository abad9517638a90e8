//! The function's code: the bundled lambda/ crate built by `resetpw::package`, or a prebuilt
//! zip named by `fulfillment.package`. Read (or built) once per run, at plan time, because the
//! plan compares its CodeSha256 with the deployed one.

use crate::aws::Cx;
use crate::engine::ResourceError;
use crate::package::{build_lambda_zip_quietly, code_sha256};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where the code comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Build the lambda/ crate of this workspace.
    Bundled(PathBuf),
    /// A zip file given in the stack file.
    File(PathBuf),
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
            Source::Bundled(root) => {
                cx.progress.begin(
                    id,
                    "lambda-function: building the fulfillment Lambda (cargo build --release -p resetpw-lambda; quick when unchanged)",
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
