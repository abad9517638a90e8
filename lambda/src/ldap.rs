//! The directory over LDAPS (ldap3 + rustls), the server certificate verified against the
//! configured CA. There is deliberately no way to turn verification off.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Mod, Scope, SearchEntry,
    SearchOptions,
};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;
use crate::password;
use crate::ports::{Directory, DirectoryError, DirectoryUser, ResetOptions};

/// Errors building the TLS client configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("RESETPW_CA_PEM holds no usable certificate ({0}): give the PEM of the CA that issued the domain controllers' certificates")]
    NoCertificate(String),
    #[error("RESETPW_CA_PEM certificate rejected ({0}): give a valid X.509 CA certificate in PEM")]
    BadCertificate(String),
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// A rustls client configuration that trusts exactly the given CA certificate(s).
pub fn tls_config(ca_pem: &str) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| TlsConfigError::NoCertificate(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| TlsConfigError::BadCertificate(e.to_string()))?;
        count += 1;
    }
    if count == 0 {
        return Err(TlsConfigError::NoCertificate("no CERTIFICATE block".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Filter matching exactly one user by the configured user-ID attribute; the value is
/// escaped per RFC 4515 (`*`, `(`, `)`, `\`, NUL).
pub fn user_filter(attribute: &str, user_id: &str) -> String {
    format!(
        "(&(objectCategory=person)(objectClass=user)({attribute}={}))",
        ldap_escape(user_id)
    )
}

/// Active Directory over LDAPS.
pub struct LdapDirectory {
    urls: Vec<String>,
    bind_dn: String,
    bind_password: SecretString,
    base_dn: String,
    user_id_attribute: String,
    answer_attributes: Vec<String>,
    phone_attribute: String,
    tls: Arc<ClientConfig>,
    timeout: Duration,
}

impl LdapDirectory {
    pub fn new(config: &Config, bind_password: SecretString, tls: Arc<ClientConfig>) -> Self {
        LdapDirectory {
            urls: config.ldap_urls.clone(),
            bind_dn: config.bind_dn.clone(),
            bind_password,
            base_dn: config.base_dn.clone(),
            user_id_attribute: config.user_id_attribute.clone(),
            answer_attributes: config
                .questions
                .iter()
                .map(|q| q.attribute.clone())
                .collect(),
            phone_attribute: config.phone_attribute.clone(),
            tls,
            timeout: Duration::from_secs(config.ldap_timeout_seconds),
        }
    }

    /// Connects to the first domain controller that answers and binds as the service account.
    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let mut failures = Vec::new();
        let mut tls_failure = None;
        for url in &self.urls {
            let settings = LdapConnSettings::new()
                .set_config(self.tls.clone())
                .set_conn_timeout(self.timeout);
            match LdapConnAsync::with_settings(settings, url).await {
                Ok((conn, mut ldap)) => {
                    ldap3::drive!(conn);
                    ldap.with_timeout(self.timeout);
                    let result = ldap
                        .simple_bind(&self.bind_dn, self.bind_password.expose_secret())
                        .await
                        .map_err(|e| self.transport_error(e))?;
                    if result.rc != 0 {
                        return Err(DirectoryError::BindRejected(result.rc));
                    }
                    return Ok(ldap);
                }
                Err(e) => {
                    let detail = format!("{url}: {}", describe(&e));
                    tracing::warn!(url = %url, error = %describe(&e), "domain controller not usable, trying the next");
                    if is_tls_error(&e) {
                        tls_failure = Some(detail.clone());
                    }
                    failures.push(detail);
                }
            }
        }
        match tls_failure {
            Some(detail) => Err(DirectoryError::Tls(detail)),
            None => Err(DirectoryError::Unavailable(failures.join("; "))),
        }
    }

    fn transport_error(&self, e: LdapError) -> DirectoryError {
        match e {
            LdapError::Timeout { .. } => DirectoryError::Timeout(self.timeout.as_secs()),
            e if is_tls_error(&e) => DirectoryError::Tls(describe(&e)),
            e => DirectoryError::Unavailable(describe(&e)),
        }
    }

    fn requested_attributes(&self) -> Vec<String> {
        let mut attrs = vec![
            "sAMAccountName".to_string(),
            "displayName".to_string(),
            self.phone_attribute.clone(),
        ];
        for a in &self.answer_attributes {
            if !attrs.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                attrs.push(a.clone());
            }
        }
        attrs
    }
}

fn first(entry: &SearchEntry, name: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned())
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn find_user(&self, user_id: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let mut ldap = self.connect().await?;
        let filter = user_filter(&self.user_id_attribute, user_id);
        let attrs = self.requested_attributes();
        // Two entries are enough to know the match is not unique.
        let result = ldap
            .with_search_options(SearchOptions::new().sizelimit(2))
            .search(&self.base_dn, Scope::Subtree, &filter, attrs)
            .await
            .map_err(|e| self.transport_error(e));
        let _ = ldap.unbind().await;
        let ldap3::SearchResult(entries, res) = result?;
        match res.rc {
            0 => {}
            4 => return Ok(None), // sizeLimitExceeded: more than one match
            rc => return Err(DirectoryError::Search { rc, text: res.text }),
        }
        let mut entries: Vec<SearchEntry> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(SearchEntry::construct)
            .collect();
        if entries.len() != 1 {
            return Ok(None);
        }
        let entry = entries.remove(0);
        let answers: BTreeMap<String, String> = self
            .answer_attributes
            .iter()
            .filter_map(|a| first(&entry, a).map(|v| (a.clone(), v)))
            .collect();
        Ok(Some(DirectoryUser {
            account_name: first(&entry, "sAMAccountName").unwrap_or_default(),
            display_name: first(&entry, "displayName").unwrap_or_default(),
            phone: first(&entry, &self.phone_attribute),
            answers,
            dn: entry.dn,
        }))
    }

    async fn reset_password(
        &self,
        user: &DirectoryUser,
        password: &SecretString,
        options: ResetOptions,
    ) -> Result<(), DirectoryError> {
        let mut ldap = self.connect().await?;
        let mut mods: Vec<Mod<Vec<u8>>> = vec![Mod::Replace(
            b"unicodePwd".to_vec(),
            HashSet::from([password::unicode_pwd(password)]),
        )];
        if options.force_change {
            mods.push(Mod::Replace(
                b"pwdLastSet".to_vec(),
                HashSet::from([b"0".to_vec()]),
            ));
        }
        if options.unlock {
            mods.push(Mod::Replace(
                b"lockoutTime".to_vec(),
                HashSet::from([b"0".to_vec()]),
            ));
        }
        let result = ldap
            .modify(&user.dn, mods)
            .await
            .map_err(|e| self.transport_error(e));
        let _ = ldap.unbind().await;
        let res = result?;
        match res.rc {
            0 => Ok(()),
            rc => Err(modify_error(rc, &res.text)),
        }
    }
}

/// Maps an LDAP modify result to a clear reason (AD's Win32 codes come in the text).
pub fn modify_error(rc: u32, text: &str) -> DirectoryError {
    let upper = text.to_ascii_uppercase();
    if upper.contains("0000052D") || rc == 19 {
        DirectoryError::PolicyRejected
    } else if upper.contains("00000005") || rc == 50 {
        DirectoryError::AccessDenied
    } else if upper.contains("0000001F") {
        DirectoryError::InsecureChannel
    } else {
        DirectoryError::Modify {
            rc,
            text: text.chars().take(200).collect(),
        }
    }
}

fn is_tls_error(e: &LdapError) -> bool {
    match e {
        LdapError::Rustls { .. } | LdapError::DNSName { .. } => true,
        LdapError::Io { source } => source
            .get_ref()
            .map(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            .unwrap_or(false),
        _ => false,
    }
}

fn describe(e: &LdapError) -> String {
    match e {
        LdapError::Io { source } => match source.get_ref() {
            Some(inner) => format!("{}: {inner}", source.kind()),
            None => source.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_escapes_rfc4515_metacharacters() {
        assert_eq!(
            user_filter("sAMAccountName", "jdoe"),
            "(&(objectCategory=person)(objectClass=user)(sAMAccountName=jdoe))"
        );
        let f = user_filter("uid", "*)(cn=*\\\0");
        assert!(f.ends_with("(uid=\\2a\\29\\28cn=\\2a\\5c\\00))"), "{f}");
        // Non-ASCII passes through as UTF-8 (RFC 4515 allows it).
        assert!(user_filter("uid", "jöhn").contains("uid=jöhn"));
    }

    #[test]
    fn modify_errors_map_to_reasons() {
        assert!(matches!(
            modify_error(19, "0000052D: Constraint violation - password too short"),
            DirectoryError::PolicyRejected
        ));
        assert!(matches!(
            modify_error(
                53,
                "0000052D: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM)"
            ),
            DirectoryError::PolicyRejected
        ));
        assert!(matches!(
            modify_error(50, "00000005: SecErr: DSID-03152492, problem 4003"),
            DirectoryError::AccessDenied
        ));
        assert!(matches!(
            modify_error(50, "error in module acl: insufficient access rights"),
            DirectoryError::AccessDenied
        ));
        assert!(matches!(
            modify_error(
                53,
                "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM)"
            ),
            DirectoryError::InsecureChannel
        ));
        assert!(matches!(
            modify_error(32, "no such object"),
            DirectoryError::Modify { rc: 32, .. }
        ));
    }

    #[test]
    fn tls_config_needs_a_certificate() {
        assert!(matches!(
            tls_config("nothing here"),
            Err(TlsConfigError::NoCertificate(_))
        ));
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(tls_config(junk).is_err());
    }
}
