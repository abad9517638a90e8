//! Runtime wiring: one cold start builds the handler from the environment and AWS clients.

use std::sync::Arc;

use crate::cloud::{self, DynamoAttempts, KmsError, SnsNotifier};
use crate::config::{Config, ConfigError};
use crate::handler::Handler;
use crate::ldap::{self, LdapDirectory, TlsConfigError};
use crate::ports::SystemClock;

/// Cold-start failures; each message names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
    #[error(transparent)]
    Kms(#[from] KmsError),
}

/// Builds the handler: validates the configuration, decrypts the bind password (once) and
/// creates the directory, SNS and DynamoDB collaborators.
pub async fn cold_start(
    config: Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Handler, StartupError> {
    let tls = ldap::tls_config(&config.ca_pem)?;
    let kms = aws_sdk_kms::Client::new(sdk);
    let bind_password = cloud::decrypt_bind_password(
        &kms,
        &config.bind_password_ciphertext,
        &config.kms_encryption_context,
    )
    .await?;
    let directory = LdapDirectory::new(&config, bind_password, tls);
    let notifier = SnsNotifier::new(aws_sdk_sns::Client::new(sdk));
    let attempts = DynamoAttempts::new(aws_sdk_dynamodb::Client::new(sdk), config.throttle.clone());
    Ok(Handler::new(
        Arc::new(config),
        Arc::new(directory),
        Arc::new(notifier),
        Arc::new(attempts),
        Arc::new(SystemClock),
    ))
}

/// Cold start from the process environment (what `bootstrap` does).
pub async fn cold_start_from_env() -> Result<Handler, StartupError> {
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    cold_start(config, &sdk).await
}
