//! The AWS side of a run: SDK configuration from the standard chain, the clients, who and
//! where we are, ownership tags, and API errors that say what to do.

use crate::progress::Progress;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Tag naming the stack that owns a resource.
pub const STACK_TAG: &str = "resetpw:stack";
/// Tag naming the logical resource id within the stack.
pub const RESOURCE_TAG: &str = "resetpw:resource";

/// Everything a resource needs to talk to AWS.
pub struct Cx {
    pub stack: String,
    pub region: String,
    pub account: String,
    pub partition: String,
    pub user_tags: BTreeMap<String, String>,
    pub kms: aws_sdk_kms::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub lex: aws_sdk_lexmodelsv2::Client,
    pub connect: aws_sdk_connect::Client,
    /// The Connect Participant Service (`resetpw call`'s chat contacts).
    pub participant: aws_sdk_connectparticipant::Client,
    /// The directory service account's password, when this run was given it.
    pub secret: Option<SecretString>,
    /// Where the password is read from, for messages.
    pub secret_source: String,
    /// The operator allowed releasing the stack's phone number (`--release-phone-number`).
    pub release_phone_number: bool,
    /// Upper bound for waits on asynchronous AWS state.
    pub timeout: Duration,
    pub progress: Arc<dyn Progress>,
    /// The stack's Lex bot as this run's lookups found it, shared by the Lex kinds.
    pub bot_lookup: crate::resources::lex::BotLookup,
    /// The account's Connect instances as this run listed them, shared by the Connect kinds.
    pub instance_listing: crate::resources::connect::InstanceListing,
}

impl Cx {
    /// A context for `stack` in `region` of `account`, with every client made from `config`,
    /// no secret, the phone number protected and nothing looked up yet.
    pub fn new(
        config: &SdkConfig,
        stack: &str,
        region: &str,
        account: &str,
        timeout: Duration,
        progress: Arc<dyn Progress>,
    ) -> Cx {
        Cx {
            stack: stack.to_string(),
            partition: partition_of(region).to_string(),
            region: region.to_string(),
            account: account.to_string(),
            user_tags: BTreeMap::new(),
            kms: aws_sdk_kms::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            lex: aws_sdk_lexmodelsv2::Client::new(config),
            connect: aws_sdk_connect::Client::new(config),
            participant: aws_sdk_connectparticipant::Client::new(config),
            secret: None,
            secret_source: String::new(),
            release_phone_number: false,
            timeout,
            progress,
            bot_lookup: Default::default(),
            instance_listing: Default::default(),
        }
    }

    /// The tags a resource gets at creation: the stack's tags plus the ownership tags.
    pub fn tags_for(&self, resource_id: &str) -> BTreeMap<String, String> {
        let mut tags = self.user_tags.clone();
        tags.insert(STACK_TAG.into(), self.stack.clone());
        tags.insert(RESOURCE_TAG.into(), resource_id.into());
        tags
    }

    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(STACK_TAG) == Some(&self.stack)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    #[error("stack file says region `{stack}` but --region says `{flag}`: drop one of them")]
    RegionConflict { stack: String, flag: String },
    #[error("no AWS region configured: set `region:` in the stack file, pass --region, or set AWS_REGION")]
    NoRegion,
    #[error("cannot find out which AWS account this is (sts:GetCallerIdentity): {0}; check your credentials (AWS_PROFILE, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")]
    Identity(ApiError),
}

/// SDK configuration from the standard chain (environment, profiles, SSO), with adaptive retries
/// for throttling. Endpoints come only from AWS_ENDPOINT_URL(_<SERVICE>).
pub async fn sdk_config(
    profile: Option<&str>,
    stack_region: Option<&str>,
    flag_region: Option<&str>,
) -> Result<SdkConfig, AwsSetupError> {
    if let (Some(s), Some(f)) = (stack_region, flag_region) {
        if s != f {
            return Err(AwsSetupError::RegionConflict {
                stack: s.into(),
                flag: f.into(),
            });
        }
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(10));
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = stack_region.or(flag_region) {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(AwsSetupError::NoRegion);
    }
    Ok(config)
}

/// The account id, through STS.
pub async fn account_of(config: &SdkConfig) -> Result<String, AwsSetupError> {
    let sts = aws_sdk_sts::Client::new(config);
    let who = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsSetupError::Identity(ApiError::from(e)))?;
    Ok(who.account().unwrap_or_default().to_string())
}

pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// An AWS API failure: its error code when the service sent one, and a message that says what
/// failed and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: Option<String>,
    pub message: String,
}

impl ApiError {
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl<E, R> From<SdkError<E, R>> for ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    fn from(err: SdkError<E, R>) -> Self {
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().map(str::to_string);
                let text = e.message().unwrap_or("no message");
                let message = format!(
                    "{}: {text}{}",
                    code.as_deref().unwrap_or("error"),
                    hint(code.as_deref())
                );
                ApiError { code, message }
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => ApiError {
                code: None,
                message: format!(
                    "could not reach AWS: {} (check the network, and AWS_ENDPOINT_URL if set)",
                    DisplayErrorContext(&err)
                ),
            },
            _ => ApiError {
                code: None,
                message: DisplayErrorContext(&err).to_string(),
            },
        }
    }
}

fn hint(code: Option<&str>) -> &'static str {
    match code {
        Some(c) if c.starts_with("AccessDenied") || c == "UnauthorizedOperation" => {
            " (the AWS identity running resetpw lacks this permission: see \"Permissions\" in the README)"
        }
        Some("ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId" | "UnrecognizedClientException") => {
            " (the AWS credentials are invalid or expired: refresh them, e.g. `aws sso login`)"
        }
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException") => {
            " (AWS kept throttling after retries: run the same command again later; it picks up where it stopped)"
        }
        _ => "",
    }
}
