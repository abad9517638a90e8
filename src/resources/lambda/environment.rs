//! The function's environment, mapped from the stack file onto the settings the fulfillment
//! Lambda reads (lambda/README.md), and Lambda's 4 KB limit on it.

use crate::resources::encryption_context;
use crate::stack::Stack;
use base64::Engine;
use std::collections::BTreeMap;

/// Lambda refuses an environment whose JSON form (`{"NAME":"value",...}`) is over 4 KB.
pub const LIMIT: usize = 4096;

/// The KMS ciphertext of the service account's password: taken from the directory secret.
pub const CIPHERTEXT: &str = "RESETPW_BIND_PASSWORD_CIPHERTEXT";
/// The CA certificate(s), from `directory.ca_file`.
pub const CA_PEM: &str = "RESETPW_CA_PEM";

/// The plan field of each variable the stack sets (`environment.NAME`), so a plan names the
/// variable that changes; variables set by hand show under `environment.(other)`.
macro_rules! fields {
    ($($name:literal),* $(,)?) => {
        pub const FIELDS: &[(&str, &str)] = &[$(($name, concat!("environment.", $name))),*];
    };
}
fields!(
    "RESETPW_LDAP_URLS",
    "RESETPW_LDAP_STARTTLS",
    "RESETPW_BASE_DN",
    "RESETPW_BIND_DN",
    "RESETPW_BIND_PASSWORD_CIPHERTEXT",
    "RESETPW_KMS_ENCRYPTION_CONTEXT",
    "RESETPW_CA_PEM",
    "RESETPW_USER_ID_ATTRIBUTE",
    "RESETPW_QUESTIONS",
    "RESETPW_PHONE_ATTRIBUTE",
    "RESETPW_PASSWORD_LENGTH",
    "RESETPW_FORCE_CHANGE_AT_LOGON",
    "RESETPW_UNLOCK_ACCOUNT",
    "RESETPW_ATTEMPTS_TABLE",
    "RESETPW_MAX_FAILURES",
    "RESETPW_FAILURE_WINDOW_SECONDS",
    "RESETPW_LOCKOUT_SECONDS",
    "RESETPW_CALLER_ID_CHECK",
    "RESETPW_ONE_TIME_CODE",
    "RESETPW_CODE_TTL_SECONDS",
    "RESETPW_REFUSE_GROUPS",
    "RESETPW_MAX_PER_CALLER_NUMBER",
    "RESETPW_CALLER_NUMBER_WINDOW_SECONDS",
    "RESETPW_SERVICE_DESK_NUMBER",
    "RESETPW_EMAIL_FROM",
);
/// The field for variables the stack does not set.
pub const OTHER: &str = "environment.(other)";

/// The plan field of a variable, `None` for one the stack never sets.
pub fn field_of(name: &str) -> Option<&'static str> {
    FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Every variable the stack determines except the ciphertext, which comes from the directory
/// secret at plan or apply time. `ca_pem` is the text of `directory.ca_file`.
pub fn from_stack(stack: &Stack, ca_pem: &str) -> BTreeMap<&'static str, String> {
    let mut env = BTreeMap::new();
    let name = stack.name.as_str();
    let (context_key, context_value) = encryption_context(name);
    env.insert(
        "RESETPW_KMS_ENCRYPTION_CONTEXT",
        format!("{context_key}={context_value}"),
    );
    env.insert(
        "RESETPW_ATTEMPTS_TABLE",
        crate::resources::dynamodb::table::AttemptsTable::table_name(name),
    );
    if let Some(d) = &stack.directory {
        let urls: Vec<&str> = d.urls.iter().map(|u| u.as_str()).collect();
        env.insert("RESETPW_LDAP_URLS", urls.join(","));
        if d.starttls {
            env.insert("RESETPW_LDAP_STARTTLS", "true".into());
        }
        env.insert("RESETPW_BASE_DN", d.base_dn.as_str().to_string());
        env.insert("RESETPW_BIND_DN", d.bind_dn.as_str().to_string());
        env.insert(CA_PEM, ca_pem.to_string());
        env.insert("RESETPW_USER_ID_ATTRIBUTE", d.user_id_attribute.clone());
        env.insert(
            "RESETPW_QUESTIONS",
            format!(
                "DOB={}:date,MonthStarted={}:month",
                d.verification.date_of_birth, d.verification.month_started
            ),
        );
        env.insert("RESETPW_PHONE_ATTRIBUTE", d.phone_attribute.clone());
        if let Some(groups) = &d.refuse_groups {
            env.insert("RESETPW_REFUSE_GROUPS", groups.join(";"));
        }
    }
    if let Some(f) = &stack.fulfillment {
        env.insert("RESETPW_PASSWORD_LENGTH", f.password.length.to_string());
        env.insert(
            "RESETPW_FORCE_CHANGE_AT_LOGON",
            f.password.force_change_at_logon.to_string(),
        );
        env.insert(
            "RESETPW_UNLOCK_ACCOUNT",
            f.password.unlock_account.to_string(),
        );
        env.insert("RESETPW_MAX_FAILURES", f.attempts.max_failures.to_string());
        env.insert(
            "RESETPW_FAILURE_WINDOW_SECONDS",
            (u64::from(f.attempts.window_minutes) * 60).to_string(),
        );
        env.insert(
            "RESETPW_LOCKOUT_SECONDS",
            (u64::from(f.attempts.lockout_minutes) * 60).to_string(),
        );
        env.insert(
            "RESETPW_CALLER_ID_CHECK",
            if f.caller_id_check { "on" } else { "off" }.into(),
        );
        env.insert(
            "RESETPW_MAX_PER_CALLER_NUMBER",
            f.attempts.per_caller_number.to_string(),
        );
        env.insert(
            "RESETPW_CALLER_NUMBER_WINDOW_SECONDS",
            (u64::from(f.attempts.per_caller_window_minutes) * 60).to_string(),
        );
        let v = stack.caller_verification();
        env.insert(
            "RESETPW_ONE_TIME_CODE",
            if v.one_time_code { "on" } else { "off" }.into(),
        );
        env.insert("RESETPW_CODE_TTL_SECONDS", v.code_ttl_seconds.to_string());
        if let Some(n) = &stack.notify {
            if let Some(number) = &n.service_desk_number {
                env.insert("RESETPW_SERVICE_DESK_NUMBER", number.as_str().to_string());
            }
            if let Some(from) = &n.email_from {
                env.insert("RESETPW_EMAIL_FROM", from.as_str().to_string());
            }
        }
    }
    env
}

/// The size Lambda measures: the environment as a JSON object.
pub fn size<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> usize {
    let map: serde_json::Map<String, serde_json::Value> = env
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::Value::Object(map).to_string().len()
}

/// A stand-in for the ciphertext while it is not known, as long as KMS would make it: the
/// ciphertext blob of a symmetric key is the plaintext plus under 200 bytes of header, IV and
/// tag, then base64.
pub fn ciphertext_estimate(password_len: usize) -> String {
    "A".repeat(
        base64::engine::general_purpose::STANDARD
            .encode(vec![0u8; password_len + 200])
            .len(),
    )
}

/// How a variable's value is shown in a plan: the ciphertext is sensitive, and the CA bundle
/// is summarised (its fingerprint changes when it does).
pub fn shown(name: &str, value: &str) -> serde_json::Value {
    use sha2::{Digest, Sha256};
    match name {
        CIPHERTEXT => serde_json::Value::String("(sensitive)".into()),
        CA_PEM => {
            let certs = value.matches("-----BEGIN CERTIFICATE-----").count();
            let digest = Sha256::digest(value.as_bytes());
            let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            serde_json::Value::String(format!(
                "PEM, {certs} certificate(s), {} bytes, sha256 {hex}…",
                value.len()
            ))
        }
        _ => serde_json::Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_has_one_field_and_the_size_is_the_json_length() {
        let names: std::collections::BTreeSet<_> = FIELDS.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), FIELDS.len());
        assert_eq!(
            field_of("RESETPW_BASE_DN"),
            Some("environment.RESETPW_BASE_DN")
        );
        assert_eq!(field_of("AWS_REGION"), None);
        assert_eq!(size([("A", "b\nc")]), r#"{"A":"b\nc"}"#.len());
    }

    #[test]
    fn the_ciphertext_is_never_shown_and_the_ca_is_summarised() {
        assert_eq!(shown(CIPHERTEXT, "AQICAH..."), "(sensitive)");
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let s = shown(CA_PEM, pem).as_str().unwrap().to_string();
        assert!(s.starts_with("PEM, 1 certificate(s), "), "{s}");
        assert!(!s.contains("MIIB"));
    }

    fn stack(yaml: &str) -> Stack {
        let base = "name: a\ndirectory:\n  urls: [ldaps://dc1:636]\n  base_dn: DC=corp\n  bind_dn: CN=svc,DC=corp\n  ca_file: ca.pem\n";
        serde_saphyr::from_str(&format!("{base}{yaml}")).unwrap()
    }

    #[test]
    fn the_verification_throttle_and_notify_settings_map_onto_the_lambdas_variables() {
        let env = from_stack(&stack("fulfillment: {}\n"), "");
        assert_eq!(env["RESETPW_ONE_TIME_CODE"], "on");
        assert_eq!(env["RESETPW_CODE_TTL_SECONDS"], "600");
        assert_eq!(env["RESETPW_MAX_PER_CALLER_NUMBER"], "5");
        assert_eq!(env["RESETPW_CALLER_NUMBER_WINDOW_SECONDS"], "3600");
        for unset in [
            "RESETPW_REFUSE_GROUPS",
            "RESETPW_SERVICE_DESK_NUMBER",
            "RESETPW_EMAIL_FROM",
        ] {
            assert!(!env.contains_key(unset), "{unset} is set without its key");
        }
        let env = from_stack(
            &stack(concat!(
                "  refuse_groups: [Domain Admins, \"CN=Tier0,OU=Groups,DC=corp\"]\n",
                "fulfillment:\n  attempts: {per_caller_number: 2, per_caller_window_minutes: 30}\n",
                "verification: {one_time_code: false, code_ttl_seconds: 120}\n",
                "notify: {service_desk_number: \"+12065550100\", email_from: desk@corp.example.com}\n",
            )),
            "",
        );
        assert_eq!(env["RESETPW_ONE_TIME_CODE"], "off");
        assert_eq!(env["RESETPW_CODE_TTL_SECONDS"], "120");
        assert_eq!(env["RESETPW_MAX_PER_CALLER_NUMBER"], "2");
        assert_eq!(env["RESETPW_CALLER_NUMBER_WINDOW_SECONDS"], "1800");
        assert_eq!(
            env["RESETPW_REFUSE_GROUPS"],
            "Domain Admins;CN=Tier0,OU=Groups,DC=corp"
        );
        assert_eq!(env["RESETPW_SERVICE_DESK_NUMBER"], "+12065550100");
        assert_eq!(env["RESETPW_EMAIL_FROM"], "desk@corp.example.com");
        for name in env.keys() {
            assert!(field_of(name).is_some(), "{name} has no plan field");
        }
    }

    #[test]
    fn a_kms_ciphertext_fits_the_estimate() {
        // A real KMS ciphertext of a 20-character password under a context is ~240 base64 chars.
        assert!(ciphertext_estimate(20).len() >= 240);
    }
}
