//! The directory service account's password at run time: from the environment variable the
//! stack names, or standard input. Held as a `SecretString`, never printed.

use secrecy::SecretString;
use std::io::Read;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("--secret-stdin was given but the stack file has no `secret` section")]
    NoSecretSection,
    #[error("cannot read the password from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("standard input held no password (--secret-stdin reads it whole, one trailing newline removed)")]
    Empty,
}

/// The password, when this run was given one.
pub fn read(env_name: Option<&str>, from_stdin: bool) -> Result<Option<SecretString>, SecretError> {
    let Some(env_name) = env_name else {
        return if from_stdin {
            Err(SecretError::NoSecretSection)
        } else {
            Ok(None)
        };
    };
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(SecretError::Stdin)?;
        let trimmed = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        if trimmed.is_empty() {
            return Err(SecretError::Empty);
        }
        return Ok(Some(SecretString::from(trimmed.to_string())));
    }
    Ok(std::env::var(env_name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from))
}
