//! The stack file's types. Every section but `name` is optional, and a stack manages only the
//! sections it has. The JSON Schema (`resetpw schema`) is generated from these types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// One resetpw stack: a self-service password-reset phone line.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Stack name: 1-32 lowercase letters, digits and hyphens, starting with a letter. Every
    /// physical resource name derives from it, and it is the value of the `resetpw:stack`
    /// ownership tag.
    pub name: StackName,
    /// AWS region. When absent, the standard AWS chain decides (`--region`, AWS_REGION, profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// Tags added to every resource that can carry tags, beside the ownership tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The Active Directory the fulfillment Lambda verifies callers against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<Directory>,
    /// Where the directory service account's password comes from at `up` time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// The VPC configuration the Lambda needs to reach the domain controllers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The fulfillment Lambda.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<Fulfillment>,
    /// The Amazon Lex V2 bot with the ResetPW intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<Bot>,
    /// The Amazon Connect instance, contact flow and phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<Connect>,
    /// How the line proves the caller holds the phone on record (a one-time code by SMS).
    /// Without the section: the code is on, valid for 600 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<CallerVerification>,
    /// What the line tells the account's owner after a reset or an unlock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
}

impl Stack {
    /// The verification settings in effect: the section's, or its defaults.
    pub fn caller_verification(&self) -> CallerVerification {
        self.verification.clone().unwrap_or_default()
    }
}

/// Proof of possession of the phone on record: after the knowledge answers are right, the
/// Lambda texts a 6-digit code there and the caller must give it back.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerVerification {
    /// Require the one-time code. `false` leaves a knowledge-only line (user ID, date of birth,
    /// start month), which can be social-engineered: `validate` warns.
    #[serde(default = "yes")]
    pub one_time_code: bool,
    /// How long a code is valid, in seconds (60-600).
    #[serde(default = "default_code_ttl")]
    #[schemars(range(min = 60, max = 600))]
    pub code_ttl_seconds: u32,
}

impl Default for CallerVerification {
    fn default() -> Self {
        CallerVerification {
            one_time_code: true,
            code_ttl_seconds: default_code_ttl(),
        }
    }
}

fn default_code_ttl() -> u32 {
    600
}

/// Messages to the account's owner.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// The number the password and unlock texts tell the owner to call if it wasn't them
    /// (E.164, e.g. `"+12065550100"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_desk_number: Option<E164>,
    /// Sender of the email telling the owner (when the user has a `mail` attribute) that the
    /// password was reset or the account unlocked: an Amazon SES verified identity (the address
    /// or its domain). The role may send as this address only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_from: Option<EmailAddress>,
}

/// A phone number in E.164 form (validated when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl TryFrom<String> for E164 {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let digits = s.strip_prefix('+').unwrap_or("");
        let ok = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(E164(s))
        } else {
            Err(format!(
                "`{s}` is not an E.164 phone number: `+`, the country code and the number, digits only, 8 to 15 of them (example: `service_desk_number: \"+12065550100\"`)"
            ))
        }
    }
}

impl From<E164> for String {
    fn from(n: E164) -> String {
        n.0
    }
}

impl E164 {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, checked loosely when read: one `@`, something before it, a domain with a
/// dot after it, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                    && s.len() <= 320
            }
            None => false,
        };
        if ok {
            Ok(EmailAddress(s))
        } else {
            Err(format!(
                "`{s}` is not an email address (example: `email_from: service-desk@corp.example.com`)"
            ))
        }
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> String {
        a.0
    }
}

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

/// A stack name (validated when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StackName(String);

impl TryFrom<String> for StackName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = (1..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.ends_with('-');
        if ok {
            Ok(StackName(s))
        } else {
            Err(format!(
                "`{s}` is not a valid stack name: use 1-32 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (example: `name: helpdesk`)"
            ))
        }
    }
}

impl From<StackName> for String {
    fn from(n: StackName) -> String {
        n.0
    }
}

impl StackName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Regions resetpw knows. Amazon Connect and Lex V2 are offered in fewer; AWS says which.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// An AWS region name (validated when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl TryFrom<String> for Region {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if KNOWN_REGIONS.contains(&s.as_str()) {
            return Ok(Region(s));
        }
        let hint = crate::stack::closest(&s, KNOWN_REGIONS.iter().copied())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        Err(format!("`{s}` is not an AWS region{hint}"))
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Active Directory domain.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Domain controllers, tried in order: `ldaps://host:636`, or `ldap://host:389` with
    /// `starttls: true`.
    pub urls: Vec<LdapUrl>,
    /// Where users are searched, e.g. `OU=Staff,DC=corp,DC=example,DC=com`.
    pub base_dn: DistinguishedName,
    /// The service account that holds the delegated Reset Password right.
    pub bind_dn: DistinguishedName,
    /// PEM file with the CA certificate(s) that sign the domain controllers' certificates,
    /// relative to the stack file. Server certificates are always verified.
    pub ca_file: PathBuf,
    /// Use StartTLS on `ldap://` URLs instead of LDAPS.
    #[serde(default)]
    pub starttls: bool,
    /// Attribute holding the user ID the caller says.
    #[serde(default = "default_user_id_attribute")]
    pub user_id_attribute: String,
    /// Which directory attribute answers which verification question.
    #[serde(default)]
    pub verification: Verification,
    /// Attribute holding the phone number the new password is texted to.
    #[serde(default = "default_phone_attribute")]
    pub phone_attribute: String,
    /// Groups whose members (nested membership included) the line never serves: names
    /// (sAMAccountName, looked up in the domain) or DNs. Without the key: Domain Admins,
    /// Enterprise Admins, Schema Admins, Administrators, Account Operators, Backup Operators,
    /// Server Operators, Print Operators. Accounts with adminCount=1 and disabled accounts are
    /// always refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_groups: Option<Vec<String>>,
}

/// The groups refused when the stack names none (the Lambda has the same default).
pub const DEFAULT_REFUSE_GROUPS: &[&str] = &[
    "Domain Admins",
    "Enterprise Admins",
    "Schema Admins",
    "Administrators",
    "Account Operators",
    "Backup Operators",
    "Server Operators",
    "Print Operators",
];

fn default_user_id_attribute() -> String {
    "sAMAccountName".into()
}

fn default_phone_attribute() -> String {
    "telephoneNumber".into()
}

/// Directory attributes compared with the caller's answers.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// Attribute holding the date of birth.
    #[serde(default = "default_birth_attribute")]
    pub date_of_birth: String,
    /// Attribute holding the month the user started.
    #[serde(default = "default_month_attribute")]
    pub month_started: String,
}

impl Default for Verification {
    fn default() -> Self {
        Verification {
            date_of_birth: default_birth_attribute(),
            month_started: default_month_attribute(),
        }
    }
}

fn default_birth_attribute() -> String {
    "birthDate".into()
}

fn default_month_attribute() -> String {
    "monthStarted".into()
}

/// An LDAP URL (validated when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LdapUrl(String);

impl TryFrom<String> for LdapUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let rest = s
            .strip_prefix("ldaps://")
            .or_else(|| s.strip_prefix("ldap://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['/', ' ']) => Ok(LdapUrl(s)),
            _ => Err(format!(
                "`{s}` is not an LDAP URL: use `ldaps://dc1.corp.example.com:636` (or `ldap://host:389` with `starttls: true`)"
            )),
        }
    }
}

impl From<LdapUrl> for String {
    fn from(u: LdapUrl) -> String {
        u.0
    }
}

impl LdapUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_ldaps(&self) -> bool {
        self.0.starts_with("ldaps://")
    }
}

/// An LDAP distinguished name (checked for shape when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DistinguishedName(String);

impl TryFrom<String> for DistinguishedName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let well_formed = !s.trim().is_empty()
            && s.split(',').all(|rdn| {
                rdn.split_once('=')
                    .is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
            });
        if well_formed {
            Ok(DistinguishedName(s))
        } else {
            Err(format!(
                "`{s}` is not a distinguished name (example: `CN=svc-resetpw,OU=Service Accounts,DC=corp,DC=example,DC=com`)"
            ))
        }
    }
}

impl From<DistinguishedName> for String {
    fn from(d: DistinguishedName) -> String {
        d.0
    }
}

impl DistinguishedName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the service account's password is read at `up` time. It is never written in the
/// stack file; `--secret-stdin` reads it from standard input instead.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// Environment variable holding the password.
    #[serde(default = "default_secret_env")]
    pub env: String,
}

pub fn default_secret_env() -> String {
    "RESETPW_BIND_PASSWORD".into()
}

/// How the Lambda reaches the domain controllers and AWS APIs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// `existing`: given subnets that already route out; `nat`: new private subnets and a NAT
    /// gateway in an existing VPC; `new`: a new VPC with everything of `nat`.
    pub mode: NetworkMode,
    /// The existing VPC (modes `existing` and `nat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Subnets for the Lambda (mode `existing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
    /// CIDR of the new VPC (mode `new`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_cidr: Option<Cidr>,
    /// Private subnets for the Lambda, in at least two availability zones (modes `nat`, `new`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_subnets: Vec<SubnetSpec>,
    /// The public subnet that holds the NAT gateway (modes `nat`, `new` with `egress: nat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_subnet: Option<SubnetSpec>,
    /// `nat`: a NAT gateway; `endpoints`: VPC endpoints for KMS, SNS, Logs and DynamoDB only.
    #[serde(default)]
    pub egress: Egress,
    /// Where the domain controllers are: the only LDAPS destinations the security group allows.
    pub directory_cidrs: Vec<Cidr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    Existing,
    Nat,
    New,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Egress {
    #[default]
    Nat,
    Endpoints,
}

impl Network {
    /// The subnets resetpw creates, each with the key path it is written under
    /// (`["private_subnets", "0"]`, `["public_subnet"]`), so errors can point at it.
    pub fn subnets_to_create(&self) -> Vec<(Vec<String>, &SubnetSpec)> {
        let private = self
            .private_subnets
            .iter()
            .enumerate()
            .map(|(i, s)| (vec!["private_subnets".to_string(), i.to_string()], s));
        let public = self
            .public_subnet
            .iter()
            .map(|s| (vec!["public_subnet".to_string()], s));
        private.chain(public).collect()
    }
}

/// A subnet to create.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubnetSpec {
    pub cidr: Cidr,
    pub availability_zone: String,
}

/// An IPv4 CIDR block (validated when read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an IPv4 CIDR block (example: `10.42.0.0/16`)");
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        if u32::from(addr) & !mask != 0 {
            return Err(format!(
                "`{s}` has host bits set: the block starts at `{}/{prefix}`",
                Ipv4Addr::from(u32::from(addr) & mask)
            ));
        }
        Ok(Cidr { addr, prefix })
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The fulfillment Lambda.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fulfillment {
    /// Memory in MB (128-10240).
    #[serde(default = "default_memory")]
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: u32,
    /// Timeout in seconds (3-60; Lex waits for at most 30 s per code hook).
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 3, max = 60))]
    pub timeout_seconds: u32,
    /// CloudWatch Logs retention in days.
    #[serde(default = "default_retention")]
    pub log_retention_days: u32,
    /// The new password.
    #[serde(default)]
    pub password: PasswordPolicy,
    /// Failed verifications allowed before a user ID is refused for a while.
    #[serde(default)]
    pub attempts: Attempts,
    /// Require the calling number to match the phone on record.
    #[serde(default = "yes")]
    pub caller_id_check: bool,
    /// A prebuilt deployment zip (relative to the stack file), e.g. from `resetpw package` in
    /// an earlier pipeline step. Without it, `up` and `diff` deploy the package built into a
    /// release binary (a debug build builds the workspace's lambda/ on first use, and
    /// RESETPW_LAMBDA_SOURCE builds another checkout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PathBuf>,
}

fn default_memory() -> u32 {
    256
}
fn default_timeout() -> u32 {
    15
}
fn default_retention() -> u32 {
    30
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Length of the generated password (14-64).
    #[serde(default = "default_length")]
    #[schemars(range(min = 14, max = 64))]
    pub length: u32,
    /// Set pwdLastSet=0 so the user must choose a new password at next logon.
    #[serde(default = "yes")]
    pub force_change_at_logon: bool,
    /// Set lockoutTime=0 so a locked-out account is usable again.
    #[serde(default = "yes")]
    pub unlock_account: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            length: default_length(),
            force_change_at_logon: true,
            unlock_account: true,
        }
    }
}

fn default_length() -> u32 {
    16
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attempts {
    /// Failed verifications within the window that lock a user ID out.
    #[serde(default = "default_max_failures")]
    #[schemars(range(min = 1, max = 20))]
    pub max_failures: u32,
    /// The window in minutes.
    #[serde(default = "default_window")]
    pub window_minutes: u32,
    /// How long a locked-out user ID is refused, in minutes.
    #[serde(default = "default_lockout")]
    pub lockout_minutes: u32,
    /// Verifications allowed from one calling number in its window, across all user IDs, so
    /// one phone cannot try ID after ID (1-100).
    #[serde(default = "default_per_caller_number")]
    #[schemars(range(min = 1, max = 100))]
    pub per_caller_number: u32,
    /// That window in minutes (1-1440).
    #[serde(default = "default_per_caller_window")]
    #[schemars(range(min = 1, max = 1440))]
    pub per_caller_window_minutes: u32,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            max_failures: default_max_failures(),
            window_minutes: default_window(),
            lockout_minutes: default_lockout(),
            per_caller_number: default_per_caller_number(),
            per_caller_window_minutes: default_per_caller_window(),
        }
    }
}

fn default_max_failures() -> u32 {
    3
}
fn default_window() -> u32 {
    15
}
fn default_lockout() -> u32 {
    60
}
fn default_per_caller_number() -> u32 {
    5
}
fn default_per_caller_window() -> u32 {
    60
}

/// The Lex V2 bot.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bot {
    /// Bot locale.
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Amazon Polly voice.
    #[serde(default = "default_voice")]
    pub voice: String,
    /// NLU intent confidence threshold (0-1).
    #[serde(default = "default_confidence")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence_threshold: f64,
    /// Idle session timeout in seconds (60-86400).
    #[serde(default = "default_idle")]
    #[schemars(range(min = 60, max = 86400))]
    pub idle_session_ttl_seconds: u32,
    /// What callers say to ask for a reset (the ResetPW intent).
    #[serde(default = "default_utterances")]
    pub utterances: Vec<String>,
    /// What callers say to have a locked account unlocked, without a new password (the
    /// UnlockAccount intent).
    #[serde(default = "default_unlock_utterances")]
    pub unlock_utterances: Vec<String>,
}

fn default_locale() -> String {
    "en_US".into()
}
fn default_voice() -> String {
    "Joanna".into()
}
fn default_confidence() -> f64 {
    0.4
}
fn default_idle() -> u32 {
    300
}
fn default_utterances() -> Vec<String> {
    [
        "reset my password",
        "I forgot my password",
        "password reset",
    ]
    .map(String::from)
    .to_vec()
}
fn default_unlock_utterances() -> Vec<String> {
    [
        "I'm locked out",
        "I am locked out",
        "my account is locked",
        "unlock my account",
        "my account is locked out",
    ]
    .map(String::from)
    .to_vec()
}

/// The Amazon Connect side.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connect {
    /// Alias of the instance resetpw creates and owns (forms the access URL; unique across
    /// AWS). Give this or `instance_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_alias: Option<String>,
    /// Id of an existing instance to deploy into instead (the last part of its ARN): resetpw
    /// never creates, changes or deletes it, only the flow, the number and the bot association
    /// in it. Give this or `instance_alias`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The number callers dial.
    #[serde(default)]
    pub phone_number: PhoneNumberSpec,
    /// What the caller hears first.
    #[serde(default = "default_greeting")]
    pub greeting: String,
    /// Queue of human agents for callers the bot can't help.
    #[serde(default = "default_queue")]
    pub agent_queue: String,
}

fn default_greeting() -> String {
    "Welcome to the service desk password reset line.".into()
}
fn default_queue() -> String {
    "BasicQueue".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberSpec {
    /// ISO country code of the number.
    #[serde(default = "default_country")]
    pub country_code: String,
    /// `DID` or `TOLL_FREE`.
    #[serde(default = "default_number_type", rename = "type")]
    pub number_type: String,
    /// Optional E.164 prefix the number must start with, e.g. `+1206`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl Default for PhoneNumberSpec {
    fn default() -> Self {
        PhoneNumberSpec {
            country_code: default_country(),
            number_type: default_number_type(),
            prefix: None,
        }
    }
}

fn default_country() -> String {
    "US".into()
}
fn default_number_type() -> String {
    "DID".into()
}

/// JSON Schema for a string type validated when read: editors check the pattern, resetpw the rest.
macro_rules! string_schema {
    ($t:ty, $name:literal, $pattern:literal, $description:literal) => {
        impl JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "pattern": $pattern, "description": $description})
            }
        }
    };
}

string_schema!(
    StackName,
    "StackName",
    r"^[a-z][a-z0-9-]{0,31}$",
    "Stack name: 1-32 lowercase letters, digits and hyphens, starting with a letter"
);
string_schema!(
    Region,
    "Region",
    r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$",
    "AWS region, e.g. eu-west-2"
);
string_schema!(
    LdapUrl,
    "LdapUrl",
    r"^ldaps?://[^/\\s]+$",
    "ldaps://host:636, or ldap://host:389 with starttls"
);
string_schema!(
    Cidr,
    "Cidr",
    r"^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
    "IPv4 CIDR block, e.g. 10.42.0.0/16"
);
string_schema!(
    E164,
    "E164",
    r"^\\+[1-9][0-9]{7,14}$",
    "Phone number in E.164 form, e.g. +12065550100"
);
string_schema!(
    EmailAddress,
    "EmailAddress",
    r"^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
    "Email address, e.g. service-desk@corp.example.com"
);
string_schema!(
    DistinguishedName,
    "DistinguishedName",
    r"^[^=,]+=[^,]+(,[^=,]+=[^,]+)*$",
    "LDAP distinguished name, e.g. OU=Staff,DC=corp,DC=example,DC=com"
);
