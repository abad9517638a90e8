//! Runtime wiring: one cold start builds the handler from the environment and AWS clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};

use crate::cloud::{self, DynamoAttempts, KmsError, SnsNotifier};
use crate::code::CodeKey;
use crate::config::{Config, ConfigError};
use crate::handler::Handler;
use crate::ldap::{self, LdapDirectory, TlsConfigError};
use crate::ports::SystemClock;

/// The public roots AWS service endpoints chain to (Amazon Trust Services: Amazon Root CA
/// 1-4 and Starfield Services Root CA G2), compiled in: reading the system's certificate
/// store at every cold start costs milliseconds.
pub const AWS_ROOTS_PEM: &str = include_str!("aws-roots.pem");

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

/// What a cold start built, with how long its parts took.
pub struct ColdStart {
    pub handler: Handler,
    pub directory: Arc<LdapDirectory>,
    pub kms_decrypt: Duration,
    /// Reading and checking the environment (CA certificate included).
    pub config: Duration,
    /// The AWS SDK configuration and its HTTPS client.
    pub sdk: Duration,
    /// The directory's TLS configuration.
    pub tls: Duration,
}

/// Builds the handler: validates the configuration, decrypts the bind password (once) and
/// creates the directory, SNS and DynamoDB collaborators.
pub async fn cold_start(
    config: Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Handler, StartupError> {
    Ok(cold_start_parts(config, sdk).await?.handler)
}

/// [`cold_start`], also giving the directory (for its connection checks) and the KMS time.
pub async fn cold_start_parts(
    config: Config,
    sdk: &aws_config::SdkConfig,
) -> Result<ColdStart, StartupError> {
    let started = Instant::now();
    let tls = ldap::tls_config(&config.ca_pem)?;
    let tls_time = started.elapsed();
    let kms = aws_sdk_kms::Client::new(sdk);
    // The SNS and DynamoDB clients are built on the other worker while the decrypt is on the
    // wire: the round trip hides their construction.
    let clients = tokio::spawn({
        let (sdk, throttle) = (sdk.clone(), config.throttle.clone());
        let email_from = config.email_from.clone();
        async move {
            let mut notifier = SnsNotifier::new(aws_sdk_sns::Client::new(&sdk));
            if let Some(from) = email_from {
                notifier = notifier.with_email(aws_sdk_sesv2::Client::new(&sdk), from);
            }
            let attempts = DynamoAttempts::new(aws_sdk_dynamodb::Client::new(&sdk), throttle);
            (notifier, attempts)
        }
    });
    let started = Instant::now();
    let bind_password = cloud::decrypt_bind_password(
        &kms,
        &config.bind_password_ciphertext,
        &config.kms_encryption_context,
    )
    .await?;
    let kms_decrypt = started.elapsed();
    let (notifier, attempts) = clients
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let code_key = CodeKey::derive(&bind_password);
    let directory = Arc::new(LdapDirectory::new(&config, bind_password, tls));
    let handler = Handler::new(
        Arc::new(config),
        directory.clone(),
        Arc::new(notifier),
        Arc::new(attempts),
        Arc::new(SystemClock),
    )
    .with_code_key(code_key);
    Ok(ColdStart {
        handler,
        directory,
        kms_decrypt,
        config: Duration::ZERO,
        sdk: Duration::ZERO,
        tls: tls_time,
    })
}

/// The SDK configuration of the Lambda: the standard chain (environment, region), with an
/// HTTPS client that trusts the compiled-in AWS roots instead of reading the system store.
/// China regions keep the system store (their endpoints are not under Amazon Trust Services).
pub async fn sdk_config() -> aws_config::SdkConfig {
    let region = std::env::var("AWS_REGION").unwrap_or_default();
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if region.starts_with("cn-") {
        return loader.load().await;
    }
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM.as_bytes()))
        .build()
        .expect("a TLS context with a trust store builds");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    loader.http_client(http).load().await
}

/// Cold start from the process environment (what `bootstrap` does). The directory
/// connection is opened in the background, so it overlaps the runtime's first poll.
pub async fn cold_start_from_env() -> Result<ColdStart, StartupError> {
    let started = Instant::now();
    let config = Config::from_env()?;
    let config_time = started.elapsed();
    let started = Instant::now();
    let sdk = sdk_config().await;
    let sdk_time = started.elapsed();
    let mut cold = cold_start_parts(config, &sdk).await?;
    cold.config = config_time;
    cold.sdk = sdk_time;
    let directory = cold.directory.clone();
    tokio::spawn(async move { directory.warm_up().await });
    Ok(cold)
}
