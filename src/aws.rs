//! The AWS side of a run: SDK configuration from the standard chain, the clients, who and
//! where we are, ownership tags, and API errors that say what to do.

use crate::progress::Progress;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
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
    #[error("cannot find out which AWS account this is (sts:GetCallerIdentity): {0}")]
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
    let Some(region) = config.region() else {
        return Err(AwsSetupError::NoRegion);
    };
    let _ = RUN.set(RunSetup {
        profile: profile.map(str::to_string),
        endpoint: match config.endpoint_url() {
            Some(url) => format!("{url} (AWS_ENDPOINT_URL)"),
            None => format!(
                "AWS's endpoints in {region} (e.g. https://sts.{region}.{})",
                dns_suffix(region.as_ref())
            ),
        },
    });
    Ok(config)
}

/// The account id, through STS.
///
/// It is the first call of every run, so it fails fast (3 attempts, not the 10 the other calls
/// get) when the endpoint cannot be reached or the credentials are missing: a new user with a
/// wrong AWS_ENDPOINT_URL learns it in seconds, not after minutes of back-off.
pub async fn account_of(config: &SdkConfig) -> Result<String, AwsSetupError> {
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .build(),
    );
    let who = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsSetupError::Identity(ApiError::from(e)))?;
    Ok(who.account().unwrap_or_default().to_string())
}

fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// What this run was configured with, for messages about failures to reach AWS.
struct RunSetup {
    profile: Option<String>,
    endpoint: String,
}

static RUN: OnceLock<RunSetup> = OnceLock::new();
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Whether error messages carry the SDK's raw detail (`--verbose`, or RUST_LOG set).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
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
    R: std::fmt::Debug + 'static,
{
    fn from(err: SdkError<E, R>) -> Self {
        let mut api = match &err {
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
            SdkError::DispatchFailure(_) => ApiError {
                code: None,
                message: not_sent(&err, false),
            },
            SdkError::TimeoutError(_) => ApiError {
                code: None,
                message: not_sent(&err, true),
            },
            _ => ApiError {
                code: None,
                message: format!(
                    "the AWS SDK could not make the request or read the answer: {}",
                    innermost(&err)
                ),
            },
        };
        if verbose() {
            api.message
                .push_str(&format!("\n  detail: {}", DisplayErrorContext(&err)));
        }
        api
    }
}

/// Why a request was never answered: no credentials to sign it with, or no way to the endpoint.
fn not_sent(err: &(dyn StdError + 'static), timed_out: bool) -> String {
    use aws_credential_types::provider::error::CredentialsError;
    let run = RUN.get();
    let profile = run.and_then(|r| r.profile.as_deref());
    let login = match profile {
        Some(p) => format!("aws sso login --profile {p}"),
        None => "aws sso login".to_string(),
    };
    if let Some(credentials) = find::<CredentialsError>(err) {
        let detail = innermost(credentials);
        if detail.contains("SSO") && detail.contains("expired") {
            return format!("the AWS SSO session has expired: run `{login}` and try again");
        }
        // The chain's last resort is the instance role: with nothing else configured, its
        // failure (no metadata service, or one that refuses) means there are no credentials.
        let none_found = matches!(
            credentials,
            CredentialsError::CredentialsNotLoaded(_) | CredentialsError::ProviderTimedOut(_)
        ) || (profile.is_none()
            && (detail.contains("IMDS") || detail.contains("metadata")));
        return match (none_found, profile) {
            (true, None) => {
                "no AWS credentials found (tried the environment, ~/.aws/config and ~/.aws/credentials, SSO, web identity, the container and the instance role): set AWS_PROFILE or --profile (e.g. after `aws configure sso` and `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string()
            }
            (true, Some(p)) => format!(
                "no AWS credentials found for profile `{p}`: check its section in ~/.aws/config (and ~/.aws/credentials), or run `{login}` for an SSO profile"
            ),
            (false, Some(p)) => format!("cannot load the AWS credentials of profile `{p}`: {detail}"),
            (false, None) => format!("cannot load AWS credentials: {detail}"),
        };
    }
    let endpoint = run
        .map(|r| r.endpoint.as_str())
        .unwrap_or("the AWS endpoint");
    let why = innermost(err);
    if why.contains("identity resolver timed out") {
        return "no AWS credentials found in time (the credential chain timed out, e.g. waiting for an instance metadata service that is not there): set AWS_PROFILE (or --profile) to a profile of ~/.aws/config, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string();
    }
    let timed_out = timed_out
        || find::<std::io::Error>(err).is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut);
    let why = if timed_out && !why.contains("timed out") {
        format!("timed out ({why})")
    } else {
        why
    };
    format!("could not reach {endpoint}: {why} (check the network, and AWS_ENDPOINT_URL if set)")
}

/// The first error of type `T` in `err`'s source chain (itself included).
fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The message of the last error in `err`'s source chain: the root cause, in a few words.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(source) = last.source() {
        last = source;
    }
    let text = last.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn hint(code: Option<&str>) -> &'static str {
    match code {
        Some(c) if c.starts_with("AccessDenied") || c == "UnauthorizedOperation" => {
            " (the AWS identity running resetpw lacks this permission: see \"Permissions\" in the README)"
        }
        Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => {
            " (the AWS credentials have expired: run `aws sso login` (with --profile for a named profile), or get new AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN)"
        }
        Some("InvalidClientTokenId" | "UnrecognizedClientException" | "SignatureDoesNotMatch" | "IncompleteSignature") => {
            " (AWS does not accept these credentials: check AWS_PROFILE / --profile and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`)"
        }
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException") => {
            " (AWS kept throttling after retries: run the same command again later; it picks up where it stopped)"
        }
        _ => "",
    }
}
