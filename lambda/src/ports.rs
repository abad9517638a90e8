//! The small traits the handler logic depends on: the directory, the notifier, the attempts
//! store and the clock. Real implementations live in `ldap` and `cloud`; unit tests use
//! in-memory ones.

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::SecretString;

/// A user entry as read from the directory, only the attributes the handler needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// sAMAccountName (for the password's no-name rule); empty when the entry has none.
    pub account_name: String,
    pub display_name: String,
    /// Attribute name (as configured) → first value.
    pub answers: BTreeMap<String, String>,
    pub phone: Option<String>,
    /// The address of the mail attribute, for the owner's notice (never the password).
    pub mail: Option<String>,
    /// Never served by the line: adminCount=1 (AdminSDHolder protects it), a refused primary
    /// group, or a member, directly or through nested groups, of a refused group.
    pub privileged: bool,
    /// userAccountControl has ACCOUNTDISABLE.
    pub disabled: bool,
}

/// What to write besides the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetOptions {
    /// pwdLastSet = 0: the user must change the password at next logon.
    pub force_change: bool,
    /// lockoutTime = 0: unlock the account.
    pub unlock: bool,
}

/// Directory failures, each with a stable reason code for the audit log.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("no domain controller could be reached ({0}): check RESETPW_LDAP_URLS, the network path and security groups")]
    Unavailable(String),
    #[error("the domain controller's TLS certificate was not accepted ({0}): check RESETPW_CA_PEM holds the CA that issued it and the URL's host name is in the certificate (with RESETPW_LDAP_STARTTLS, also that the DC offers StartTLS)")]
    Tls(String),
    #[error("the service account bind was rejected (LDAP {0}): check RESETPW_BIND_DN and the password behind RESETPW_BIND_PASSWORD_CIPHERTEXT")]
    BindRejected(u32),
    #[error("directory search failed (LDAP {rc}: {text}): check RESETPW_BASE_DN and the attribute names")]
    Search { rc: u32, text: String },
    #[error("the directory rejected the new password by policy (0000052D): raise RESETPW_PASSWORD_LENGTH to the domain's minimum, or check password history settings")]
    PolicyRejected,
    #[error("the service account lacks the Reset Password right on this user (00000005 / LDAP 50): delegate 'Reset user passwords and force password change at next logon' on the users' OU")]
    AccessDenied,
    #[error("the directory refused the password write as insecure or badly encoded (0000001F): use an ldaps:// URL, or StartTLS (RESETPW_LDAP_STARTTLS=true)")]
    InsecureChannel,
    #[error("the password write failed (LDAP {rc}: {text})")]
    Modify { rc: u32, text: String },
    #[error("the directory call timed out after {0} s: check the domain controller's health or raise RESETPW_LDAP_TIMEOUT_SECONDS")]
    Timeout(u64),
}

impl DirectoryError {
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "directory_unavailable",
            Self::Tls(_) => "directory_tls_rejected",
            Self::BindRejected(_) => "directory_bind_rejected",
            Self::Search { .. } => "directory_search_failed",
            Self::PolicyRejected => "directory_policy_rejected",
            Self::AccessDenied => "directory_access_denied",
            Self::InsecureChannel => "directory_insecure_channel",
            Self::Modify { .. } => "directory_modify_failed",
            Self::Timeout(_) => "directory_timeout",
        }
    }
}

#[async_trait]
pub trait Directory: Send + Sync {
    /// Finds the single entry whose user-ID attribute equals `user_id`.
    /// `Ok(None)` when none, or more than one, matches.
    async fn find_user(&self, user_id: &str) -> Result<Option<DirectoryUser>, DirectoryError>;

    /// Replaces the user's password (and, as asked, forces a change and unlocks).
    async fn reset_password(
        &self,
        user: &DirectoryUser,
        password: &SecretString,
        options: ResetOptions,
    ) -> Result<(), DirectoryError>;

    /// Unlocks the account (lockoutTime = 0) and changes nothing else.
    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError>;
}

/// Notifier failures. The text carries only an error code, never the message or number.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("SMS publish failed ({0}): check the SNS SMS sandbox, spend limit and the function's sns:Publish permission")]
    Publish(String),
    #[error("email send failed ({0}): check that RESETPW_EMAIL_FROM is an SES identity verified in this region, the SES sandbox, and the function's ses:SendEmail permission")]
    Email(String),
}

/// The owner's email notice: what happened and what to do. Never a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends `message` by SMS to `phone_e164`.
    async fn send_sms(&self, phone_e164: &str, message: &SecretString) -> Result<(), NotifyError>;

    /// Sends a notice by email from the configured sender.
    async fn send_email(&self, email: &Email) -> Result<(), NotifyError>;
}

/// Whether a user ID may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    Allowed { failures: u32 },
    Locked { until: u64 },
}

/// Attempts-store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("attempts table {table} could not be read or written ({code}): check RESETPW_ATTEMPTS_TABLE and the function's dynamodb:GetItem/PutItem/UpdateItem/DeleteItem permissions")]
    Unavailable { table: String, code: String },
    #[error("attempts table {0}: too many concurrent updates for one user ID, giving up")]
    Contention(String),
    #[error("attempts table {0} holds a malformed item: delete it")]
    Malformed(String),
}

/// A one-time code issued to a Lex session, as stored: never the code itself, only its keyed
/// digest (HMAC-SHA256 over the session, the user and the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// Hex HMAC-SHA256 digest.
    pub digest: String,
    /// The attempts key of the user ID it was issued for.
    pub user_key: String,
    /// The intent it was issued for (a code for an unlock does not reset a password).
    pub intent: String,
    /// Epoch seconds after which it is refused.
    pub expires_at: u64,
    /// Wrong codes entered so far.
    pub tries: u32,
    /// The right code was entered; only the fulfillment that takes it may act on it.
    pub verified: bool,
}

#[async_trait]
pub trait AttemptsStore: Send + Sync {
    async fn status(&self, key: &str, now: u64) -> Result<AttemptStatus, StoreError>;
    /// Counts one failed verification; returns the status after counting.
    async fn record_failure(&self, key: &str, now: u64) -> Result<AttemptStatus, StoreError>;
    /// Forgets the failures of `key` (after a successful verification).
    async fn clear(&self, key: &str) -> Result<(), StoreError>;

    /// Counts one verification from a calling number in the current window of
    /// `window_seconds`; returns the count including this one.
    async fn count_caller(
        &self,
        key: &str,
        now: u64,
        window_seconds: u64,
    ) -> Result<u32, StoreError>;

    /// Stores the code issued to `session` (replacing any earlier one).
    async fn put_code(&self, session: &str, code: &IssuedCode) -> Result<(), StoreError>;
    /// The code issued to `session`, if any (expired ones included: the caller decides).
    async fn code(&self, session: &str) -> Result<Option<IssuedCode>, StoreError>;
    /// Counts a wrong try of `code` (only while it is the stored, unverified code); returns
    /// the tries after counting, or `None` when the stored code is no longer that one.
    async fn code_wrong_try(
        &self,
        session: &str,
        code: &IssuedCode,
    ) -> Result<Option<u32>, StoreError>;
    /// Marks `code` verified, only while it is the stored code, unverified, with the same
    /// tries and not expired at `now`; returns whether it did.
    async fn code_verified(
        &self,
        session: &str,
        code: &IssuedCode,
        now: u64,
    ) -> Result<bool, StoreError>;
    /// Removes and returns the session's code when it is verified and not expired at `now`:
    /// single use, even for two fulfillments at once.
    async fn take_verified_code(
        &self,
        session: &str,
        now: u64,
    ) -> Result<Option<IssuedCode>, StoreError>;
    /// Removes the session's code, whatever its state.
    async fn drop_code(&self, session: &str) -> Result<(), StoreError>;
}

/// Seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now(&self) -> u64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
