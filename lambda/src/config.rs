//! Configuration from environment variables (see lambda/README.md for the full list).
//!
//! Every setting is read and validated once per cold start; a missing or malformed setting
//! fails the cold start with an error naming the variable.

use std::collections::BTreeMap;

use crate::normalize::DateFormat;

/// Errors while reading the configuration. Each names the variable and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set: set it (see lambda/README.md)")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// How a verification answer is compared with the directory value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// A calendar date (Lex AMAZON.Date gives ISO 8601; the directory uses `RESETPW_DIRECTORY_DATE_FORMAT`).
    Date,
    /// A month: names, three-letter abbreviations or numbers 1-12.
    Month,
    /// Free text compared case-insensitively after collapsing whitespace.
    Text,
}

/// One verification question: the Lex slot that carries the caller's answer and the
/// directory attribute holding the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub slot: String,
    pub attribute: String,
    pub kind: AnswerKind,
}

/// Whether and how the caller's number (from the contact flow) is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerIdMode {
    /// Not checked.
    Off,
    /// Checked when the contact flow passes the caller's number.
    On,
    /// Checked, and a missing caller number is refused.
    Required,
}

/// Throttling of failed verifications per user ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub table: String,
    pub max_failures: u32,
    pub window_seconds: u64,
    pub lockout_seconds: u64,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub ldap_urls: Vec<String>,
    /// `ldap://` URLs upgraded with StartTLS before the bind (`RESETPW_LDAP_STARTTLS`).
    pub starttls: bool,
    pub base_dn: String,
    pub bind_dn: String,
    /// KMS ciphertext (decoded from base64) of the bind password. Not a secret by itself.
    pub bind_password_ciphertext: Vec<u8>,
    pub kms_encryption_context: BTreeMap<String, String>,
    /// PEM text of the CA certificate(s) the directory's certificate must chain to.
    pub ca_pem: String,
    pub ldap_timeout_seconds: u64,
    pub user_id_attribute: String,
    pub user_id_slot: String,
    pub intent_name: String,
    pub questions: Vec<Question>,
    pub directory_date_format: DateFormat,
    pub phone_attribute: String,
    pub default_country_code: Option<String>,
    pub password_length: usize,
    pub force_change_at_logon: bool,
    pub unlock_account: bool,
    pub throttle: Throttle,
    pub caller_id: CallerIdMode,
    pub caller_id_session_attribute: String,
    pub contact_id_session_attribute: String,
    /// The one-time code to the phone on record (`RESETPW_ONE_TIME_CODE`, default on).
    pub one_time_code: bool,
    pub code_ttl_seconds: u64,
    /// Lex slot carrying the code (`RESETPW_CODE_SLOT`, default `Code`).
    pub code_slot: String,
    /// The intent that only unlocks (`RESETPW_UNLOCK_INTENT_NAME`, default `UnlockAccount`).
    pub unlock_intent_name: String,
    /// Groups (names or DNs) whose members, nested ones included, are never served.
    pub refuse_groups: Vec<String>,
    /// Verifications allowed per calling number in each window.
    pub caller_number_limit: u32,
    pub caller_number_window_seconds: u64,
    /// E.164 number named in every notice ("if you did not ask for this, call ...").
    pub service_desk_number: Option<String>,
    /// SES sender of the owner's email notice; none: no email.
    pub email_from: Option<String>,
    pub mail_attribute: String,
}

/// Groups refused by default: the built-in administrative groups of a domain.
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

/// Default mapping, as in the lab: slot DOB → birthDate, slot MonthStarted → monthStarted.
pub const DEFAULT_QUESTIONS: &str = "DOB=birthDate:date,MonthStarted=monthStarted:month";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get` (a variable lookup), so tests need no process env.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let invalid = |name: &'static str, reason: &str| ConfigError::Invalid {
            name,
            reason: reason.to_string(),
        };

        let starttls = parse_bool(&get, "RESETPW_LDAP_STARTTLS", false)?;
        let urls_raw = required("RESETPW_LDAP_URLS")?;
        let ldap_urls: Vec<String> = urls_raw
            .split(',')
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if ldap_urls.is_empty() {
            return Err(invalid("RESETPW_LDAP_URLS", "no URL given"));
        }
        for url in &ldap_urls {
            ldap_endpoint(url, starttls).map_err(|reason| ConfigError::Invalid {
                name: "RESETPW_LDAP_URLS",
                reason,
            })?;
        }

        let base_dn = required("RESETPW_BASE_DN")?;
        let bind_dn = required("RESETPW_BIND_DN")?;

        let ciphertext_b64 = required("RESETPW_BIND_PASSWORD_CIPHERTEXT")?;
        let bind_password_ciphertext = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(ciphertext_b64.trim())
                .map_err(|_| {
                    invalid(
                        "RESETPW_BIND_PASSWORD_CIPHERTEXT",
                        "not base64: give the CiphertextBlob of kms encrypt, base64-encoded",
                    )
                })?
        };
        if bind_password_ciphertext.is_empty() {
            return Err(invalid(
                "RESETPW_BIND_PASSWORD_CIPHERTEXT",
                "empty ciphertext",
            ));
        }

        let context_raw = required("RESETPW_KMS_ENCRYPTION_CONTEXT")?;
        let kms_encryption_context = parse_pairs(&context_raw).ok_or_else(|| {
            invalid(
                "RESETPW_KMS_ENCRYPTION_CONTEXT",
                "expected key=value pairs separated by commas, e.g. app=resetpw",
            )
        })?;

        let ca_pem = match (get("RESETPW_CA_PEM"), get("RESETPW_CA_FILE")) {
            (Some(pem), None) => pem,
            (None, Some(path)) => {
                std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                    name: "RESETPW_CA_FILE",
                    reason: format!("cannot read {path}: {e}"),
                })?
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "RESETPW_CA_PEM",
                    "set RESETPW_CA_PEM or RESETPW_CA_FILE, not both",
                ))
            }
            (None, None) => return Err(ConfigError::Missing("RESETPW_CA_PEM")),
        };
        if !ca_pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid("RESETPW_CA_PEM", "no PEM certificate found"));
        }

        let ldap_timeout_seconds = parse_number(&get, "RESETPW_LDAP_TIMEOUT_SECONDS", 5, 1, 60)?;
        let user_id_attribute =
            attribute_name(&get, "RESETPW_USER_ID_ATTRIBUTE", "sAMAccountName")?;
        let user_id_slot = get("RESETPW_USER_ID_SLOT").unwrap_or_else(|| "UserID".into());
        let intent_name = get("RESETPW_INTENT_NAME").unwrap_or_else(|| "ResetPW".into());

        let questions_raw = get("RESETPW_QUESTIONS").unwrap_or_else(|| DEFAULT_QUESTIONS.into());
        let questions = parse_questions(&questions_raw).map_err(|reason| ConfigError::Invalid {
            name: "RESETPW_QUESTIONS",
            reason,
        })?;
        if questions.iter().any(|q| q.slot == user_id_slot) {
            return Err(invalid(
                "RESETPW_QUESTIONS",
                "a verification slot cannot be the user ID slot",
            ));
        }

        let directory_date_format = match get("RESETPW_DIRECTORY_DATE_FORMAT") {
            None => DateFormat::Iso,
            Some(v) => DateFormat::parse(&v).ok_or_else(|| {
                invalid(
                    "RESETPW_DIRECTORY_DATE_FORMAT",
                    "expected one of YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY, MM/DD/YYYY, DD.MM.YYYY",
                )
            })?,
        };

        let phone_attribute = attribute_name(&get, "RESETPW_PHONE_ATTRIBUTE", "telephoneNumber")?;
        let default_country_code = match get("RESETPW_DEFAULT_COUNTRY_CODE") {
            None => None,
            Some(v) => {
                let digits = v.trim().trim_start_matches('+');
                if digits.is_empty()
                    || digits.len() > 3
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(invalid(
                        "RESETPW_DEFAULT_COUNTRY_CODE",
                        "expected a calling code of 1-3 digits, e.g. 1 or 44",
                    ));
                }
                Some(digits.to_string())
            }
        };

        let password_length = parse_number(&get, "RESETPW_PASSWORD_LENGTH", 16, 14, 64)? as usize;
        let force_change_at_logon = parse_bool(&get, "RESETPW_FORCE_CHANGE_AT_LOGON", true)?;
        let unlock_account = parse_bool(&get, "RESETPW_UNLOCK_ACCOUNT", true)?;

        let throttle = Throttle {
            table: required("RESETPW_ATTEMPTS_TABLE")?,
            max_failures: parse_number(&get, "RESETPW_MAX_FAILURES", 3, 1, 100)? as u32,
            window_seconds: parse_number(&get, "RESETPW_FAILURE_WINDOW_SECONDS", 900, 1, 604_800)?,
            lockout_seconds: parse_number(&get, "RESETPW_LOCKOUT_SECONDS", 900, 1, 604_800)?,
        };

        let caller_id = match get("RESETPW_CALLER_ID_CHECK")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => CallerIdMode::On,
            Some(v) => match v.as_str() {
                "off" | "false" | "0" => CallerIdMode::Off,
                "on" | "true" | "1" => CallerIdMode::On,
                "required" => CallerIdMode::Required,
                _ => {
                    return Err(invalid(
                        "RESETPW_CALLER_ID_CHECK",
                        "expected off, on or required",
                    ))
                }
            },
        };
        let caller_id_session_attribute =
            get("RESETPW_CALLER_ID_SESSION_ATTRIBUTE").unwrap_or_else(|| "CallerNumber".into());
        let contact_id_session_attribute =
            get("RESETPW_CONTACT_ID_SESSION_ATTRIBUTE").unwrap_or_else(|| "ContactId".into());

        let one_time_code = parse_bool(&get, "RESETPW_ONE_TIME_CODE", true)?;
        let code_ttl_seconds = parse_number(&get, "RESETPW_CODE_TTL_SECONDS", 600, 1, 600)?;
        let code_slot = get("RESETPW_CODE_SLOT").unwrap_or_else(|| "Code".into());
        let unlock_intent_name =
            get("RESETPW_UNLOCK_INTENT_NAME").unwrap_or_else(|| "UnlockAccount".into());
        if unlock_intent_name == intent_name {
            return Err(invalid(
                "RESETPW_UNLOCK_INTENT_NAME",
                "must differ from RESETPW_INTENT_NAME",
            ));
        }
        let refuse_groups: Vec<String> = match get("RESETPW_REFUSE_GROUPS") {
            None => DEFAULT_REFUSE_GROUPS
                .iter()
                .map(|g| g.to_string())
                .collect(),
            Some(v) => v
                .split(';')
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
        };
        if refuse_groups
            .iter()
            .any(|g| g.len() > 1024 || g.contains(['\0', '(', ')', '*']))
        {
            return Err(invalid(
                "RESETPW_REFUSE_GROUPS",
                "group names or DNs separated by `;` (no `(`, `)`, `*`)",
            ));
        }
        let caller_number_limit =
            parse_number(&get, "RESETPW_MAX_PER_CALLER_NUMBER", 5, 1, 10_000)? as u32;
        let caller_number_window_seconds = parse_number(
            &get,
            "RESETPW_CALLER_NUMBER_WINDOW_SECONDS",
            3600,
            60,
            604_800,
        )?;
        let service_desk_number = match get("RESETPW_SERVICE_DESK_NUMBER") {
            None => None,
            Some(v) => Some(
                crate::normalize::e164(&v, None)
                    .filter(|_| v.trim().starts_with('+'))
                    .ok_or_else(|| {
                        invalid(
                            "RESETPW_SERVICE_DESK_NUMBER",
                            "expected an E.164 number, e.g. +15555550100",
                        )
                    })?,
            ),
        };
        let email_from = match get("RESETPW_EMAIL_FROM") {
            None => None,
            Some(v) => {
                let v = v.trim().to_string();
                let ok = v.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.contains('@')
                }) && !v.contains(char::is_whitespace);
                if !ok {
                    return Err(invalid(
                        "RESETPW_EMAIL_FROM",
                        "expected an email address (an SES verified identity)",
                    ));
                }
                Some(v)
            }
        };
        let mail_attribute = attribute_name(&get, "RESETPW_MAIL_ATTRIBUTE", "mail")?;

        Ok(Config {
            ldap_urls,
            starttls,
            base_dn,
            bind_dn,
            bind_password_ciphertext,
            kms_encryption_context,
            ca_pem,
            ldap_timeout_seconds,
            user_id_attribute,
            user_id_slot,
            intent_name,
            questions,
            directory_date_format,
            phone_attribute,
            default_country_code,
            password_length,
            force_change_at_logon,
            unlock_account,
            throttle,
            caller_id,
            caller_id_session_attribute,
            contact_id_session_attribute,
            one_time_code,
            code_ttl_seconds,
            code_slot,
            unlock_intent_name,
            refuse_groups,
            caller_number_limit,
            caller_number_window_seconds,
            service_desk_number,
            email_from,
            mail_attribute,
        })
    }
}

/// The host and port of a domain controller URL: `ldaps://host[:port]` (636 by default), or
/// with StartTLS `ldap://host[:port]` (389 by default). Nothing may follow the authority but `/`.
pub fn ldap_endpoint(url: &str, starttls: bool) -> Result<(String, u16), String> {
    let lower = url.to_ascii_lowercase();
    let (rest, default_port) = match (lower.strip_prefix("ldaps://"), lower.strip_prefix("ldap://")) {
        (Some(_), _) if !starttls => (&url["ldaps://".len()..], 636),
        (_, Some(_)) if starttls => (&url["ldap://".len()..], 389),
        _ if starttls => {
            return Err(format!(
                "{url}: with RESETPW_LDAP_STARTTLS=true every URL must start with ldap:// (upgraded with StartTLS before the bind)"
            ))
        }
        _ => {
            return Err(format!(
                "{url}: every URL must start with ldaps:// (passwords are only written over TLS; set RESETPW_LDAP_STARTTLS=true to use ldap:// with StartTLS)"
            ))
        }
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, tail) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url}: unclosed [ in the host"))?;
        (host, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    if !valid_host {
        return Err(format!("{url}: expected scheme://host[:port]"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{url}: the port must be a number from 1 to 65535"))?,
    };
    Ok((host.to_string(), port))
}

fn parse_pairs(raw: &str) -> Option<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in raw.split(',') {
        let (k, v) = pair.split_once('=')?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return None;
        }
        map.insert(k.to_string(), v.to_string());
    }
    (!map.is_empty()).then_some(map)
}

fn parse_questions(raw: &str) -> Result<Vec<Question>, String> {
    let mut out: Vec<Question> = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (slot, rest) = item
            .split_once('=')
            .ok_or_else(|| format!("'{item}': expected Slot=attribute:kind"))?;
        let (attribute, kind) = rest.split_once(':').unwrap_or((rest, "text"));
        let (slot, attribute) = (slot.trim(), attribute.trim());
        if slot.is_empty() || !valid_attribute(attribute) {
            return Err(format!("'{item}': empty slot or invalid attribute name"));
        }
        let kind = match kind.trim().to_ascii_lowercase().as_str() {
            "date" => AnswerKind::Date,
            "month" => AnswerKind::Month,
            "text" => AnswerKind::Text,
            other => {
                return Err(format!(
                    "'{item}': unknown kind '{other}' (date, month or text)"
                ))
            }
        };
        if out.iter().any(|q| q.slot == slot) {
            return Err(format!("slot {slot} is mapped twice"));
        }
        out.push(Question {
            slot: slot.to_string(),
            attribute: attribute.to_string(),
            kind,
        });
    }
    if out.is_empty() {
        return Err("at least one verification question is required".into());
    }
    Ok(out)
}

fn valid_attribute(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn attribute_name(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let value = get(name).unwrap_or_else(|| default.to_string());
    if valid_attribute(value.trim()) {
        Ok(value.trim().to_string())
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: "not an LDAP attribute name (letters, digits, hyphen)".into(),
        })
    }
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("expected a whole number from {min} to {max}"),
            }),
        },
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "on" | "1" | "yes" => Ok(true),
            "false" | "off" | "0" | "no" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                reason: "expected true or false".into(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            (
                "RESETPW_LDAP_URLS",
                "ldaps://dc1.example.com, ldaps://dc2.example.com:636".to_string(),
            ),
            ("RESETPW_BASE_DN", "OU=Staff,DC=example,DC=com".to_string()),
            ("RESETPW_BIND_DN", "CN=svc,DC=example,DC=com".to_string()),
            ("RESETPW_BIND_PASSWORD_CIPHERTEXT", "AQIDBA==".to_string()),
            ("RESETPW_KMS_ENCRYPTION_CONTEXT", "app=resetpw".to_string()),
            ("RESETPW_CA_PEM", PEM.to_string()),
            ("RESETPW_ATTEMPTS_TABLE", "attempts".to_string()),
        ])
    }

    fn load(env: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| env.get(k).cloned())
    }

    #[test]
    fn defaults_apply() {
        let c = load(&base()).unwrap();
        assert_eq!(
            c.ldap_urls,
            ["ldaps://dc1.example.com", "ldaps://dc2.example.com:636"]
        );
        assert_eq!(c.bind_password_ciphertext, [1, 2, 3, 4]);
        assert_eq!(c.user_id_attribute, "sAMAccountName");
        assert_eq!(c.phone_attribute, "telephoneNumber");
        assert_eq!(c.questions.len(), 2);
        assert_eq!(c.questions[0].attribute, "birthDate");
        assert_eq!(c.questions[1].kind, AnswerKind::Month);
        assert_eq!(c.password_length, 16);
        assert_eq!(c.caller_id, CallerIdMode::On);
        assert_eq!(c.throttle.max_failures, 3);
        assert!(c.force_change_at_logon && c.unlock_account);
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in [
            "RESETPW_LDAP_URLS",
            "RESETPW_BASE_DN",
            "RESETPW_BIND_DN",
            "RESETPW_BIND_PASSWORD_CIPHERTEXT",
            "RESETPW_KMS_ENCRYPTION_CONTEXT",
            "RESETPW_CA_PEM",
            "RESETPW_ATTEMPTS_TABLE",
        ] {
            let mut env = base();
            env.remove(name);
            let err = load(&env).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name));
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn malformed_values_are_named() {
        let cases = [
            ("RESETPW_LDAP_URLS", "ldap://dc1.example.com"),
            ("RESETPW_LDAP_URLS", "ldaps://"),
            ("RESETPW_LDAP_URLS", "ldaps://dc1.example.com:0"),
            ("RESETPW_LDAP_URLS", "ldaps://dc1.example.com/OU=x"),
            ("RESETPW_LDAP_STARTTLS", "sometimes"),
            ("RESETPW_BIND_PASSWORD_CIPHERTEXT", "not base64!"),
            ("RESETPW_KMS_ENCRYPTION_CONTEXT", "novalue"),
            ("RESETPW_CA_PEM", "garbage"),
            ("RESETPW_PASSWORD_LENGTH", "8"),
            ("RESETPW_MAX_FAILURES", "zero"),
            ("RESETPW_CALLER_ID_CHECK", "maybe"),
            ("RESETPW_QUESTIONS", "DOB=birthDate:weird"),
            ("RESETPW_QUESTIONS", "UserID=sAMAccountName:text"),
            ("RESETPW_USER_ID_ATTRIBUTE", "sAMAccountName)(x"),
            ("RESETPW_DIRECTORY_DATE_FORMAT", "YY"),
            ("RESETPW_FORCE_CHANGE_AT_LOGON", "perhaps"),
            ("RESETPW_DEFAULT_COUNTRY_CODE", "abc"),
            ("RESETPW_ONE_TIME_CODE", "sometimes"),
            ("RESETPW_CODE_TTL_SECONDS", "601"),
            ("RESETPW_UNLOCK_INTENT_NAME", "ResetPW"),
            ("RESETPW_REFUSE_GROUPS", "Domain Admins;(evil)"),
            ("RESETPW_MAX_PER_CALLER_NUMBER", "0"),
            ("RESETPW_SERVICE_DESK_NUMBER", "5555550100"),
            ("RESETPW_EMAIL_FROM", "not-an-address"),
        ];
        for (name, value) in cases {
            let mut env = base();
            env.insert(name, value.to_string());
            match load(&env) {
                Err(ConfigError::Invalid { name: n, .. }) => assert_eq!(n, name, "value {value}"),
                other => panic!("{name}={value}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn verification_settings_default_to_the_safe_line() {
        let c = load(&base()).unwrap();
        assert!(c.one_time_code);
        assert_eq!(c.code_ttl_seconds, 600);
        assert_eq!(c.code_slot, "Code");
        assert_eq!(c.unlock_intent_name, "UnlockAccount");
        assert_eq!(c.refuse_groups, DEFAULT_REFUSE_GROUPS);
        assert_eq!(
            (c.caller_number_limit, c.caller_number_window_seconds),
            (5, 3600)
        );
        assert_eq!((c.service_desk_number, c.email_from), (None, None));

        let mut env = base();
        env.insert("RESETPW_ONE_TIME_CODE", "off".into());
        env.insert(
            "RESETPW_REFUSE_GROUPS",
            "Helpdesk Admins; CN=Tier0,OU=Groups,DC=example,DC=com".into(),
        );
        env.insert("RESETPW_SERVICE_DESK_NUMBER", "+1 555 555 0100".into());
        env.insert("RESETPW_EMAIL_FROM", "it@example.com".into());
        let c = load(&env).unwrap();
        assert!(!c.one_time_code);
        assert_eq!(
            c.refuse_groups,
            ["Helpdesk Admins", "CN=Tier0,OU=Groups,DC=example,DC=com"]
        );
        assert_eq!(c.service_desk_number.as_deref(), Some("+15555550100"));
        assert_eq!(c.email_from.as_deref(), Some("it@example.com"));
    }

    #[test]
    fn questions_and_modes_parse() {
        let mut env = base();
        env.insert(
            "RESETPW_QUESTIONS",
            "Dob=extensionAttribute1:date, Pet=petName".into(),
        );
        env.insert("RESETPW_CALLER_ID_CHECK", "required".into());
        env.insert("RESETPW_DIRECTORY_DATE_FORMAT", "DD/MM/YYYY".into());
        let c = load(&env).unwrap();
        assert_eq!(
            c.questions,
            [
                Question {
                    slot: "Dob".into(),
                    attribute: "extensionAttribute1".into(),
                    kind: AnswerKind::Date
                },
                Question {
                    slot: "Pet".into(),
                    attribute: "petName".into(),
                    kind: AnswerKind::Text
                },
            ]
        );
        assert_eq!(c.caller_id, CallerIdMode::Required);
        assert_eq!(c.directory_date_format, DateFormat::DayMonthYear('/'));
    }

    #[test]
    fn starttls_takes_ldap_urls_only() {
        let c = load(&base()).unwrap();
        assert!(!c.starttls);
        let mut env = base();
        env.insert("RESETPW_LDAP_STARTTLS", "true".into());
        match load(&env) {
            Err(ConfigError::Invalid { name, reason }) => {
                assert_eq!(name, "RESETPW_LDAP_URLS");
                assert!(reason.contains("ldap://"), "{reason}");
            }
            other => panic!("ldaps:// with StartTLS: {other:?}"),
        }
        env.insert(
            "RESETPW_LDAP_URLS",
            "ldap://dc1.example.com, LDAP://dc2.example.com:3389".into(),
        );
        let c = load(&env).unwrap();
        assert!(c.starttls);
        assert_eq!(
            ldap_endpoint(&c.ldap_urls[0], true).unwrap(),
            ("dc1.example.com".to_string(), 389)
        );
        assert_eq!(
            ldap_endpoint(&c.ldap_urls[1], true).unwrap(),
            ("dc2.example.com".to_string(), 3389)
        );
    }

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            ldap_endpoint("ldaps://dc1.corp.example", false).unwrap(),
            ("dc1.corp.example".to_string(), 636)
        );
        assert_eq!(
            ldap_endpoint("ldaps://10.0.0.5:3269/", false).unwrap(),
            ("10.0.0.5".to_string(), 3269)
        );
        assert_eq!(
            ldap_endpoint("ldaps://[fd00::5]:636", false).unwrap(),
            ("fd00::5".to_string(), 636)
        );
        assert!(ldap_endpoint("ldap://dc1", false).is_err());
        assert!(ldap_endpoint("ldaps://dc1", true).is_err());
        assert!(ldap_endpoint("ldaps://dc1:99999", false).is_err());
        assert!(ldap_endpoint("ldaps://us er@dc1", false).is_err());
    }
}
