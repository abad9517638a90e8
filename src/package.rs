//! Building the fulfillment Lambda's deployment package (placeholder until the Lambda issue
//! lands its implementation here).

use std::path::Path;

pub struct LambdaZip {
    pub bytes: Vec<u8>,
    pub code_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("packaging the Lambda is not implemented yet")]
    NotImplemented,
}

pub fn build_lambda_zip(_workspace_root: &Path) -> Result<LambdaZip, PackageError> {
    Err(PackageError::NotImplemented)
}
