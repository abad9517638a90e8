//! The directory over LDAPS, or LDAP upgraded with StartTLS (ldap3 + rustls), the server
//! certificate verified against the configured CA with the hostname checked. There is
//! deliberately no way to turn verification off.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Mod, Scope, SearchEntry,
    SearchOptions, StdStream,
};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ldap_endpoint, Config};
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

/// Connections unused for longer than this are replaced before use instead of risking a
/// silent drop: Lambda's VPC network interfaces forget idle TCP flows after 350 s, and AD
/// closes idle LDAP connections after 900 s (MaxConnIdleTime).
pub const MAX_IDLE: Duration = Duration::from_secs(240);

/// One domain controller of `RESETPW_LDAP_URLS`.
#[derive(Debug, Clone)]
struct Endpoint {
    url: String,
    host: String,
    port: u16,
}

/// The service account's bound connection, kept across warm invocations.
struct Session {
    ldap: Ldap,
    /// A second handle on the same socket (dup), to check its options.
    socket: std::net::TcpStream,
    driver: tokio::task::JoinHandle<()>,
    /// Index in `endpoints` of the domain controller it is connected to.
    endpoint: usize,
    last_used: Instant,
}

impl Session {
    /// Whether the connection can still be used: its driver runs (no server close seen) and
    /// it has not been idle long enough to have been dropped on the way.
    fn usable(&mut self) -> bool {
        !self.driver.is_finished() && !self.ldap.is_closed() && self.last_used.elapsed() < MAX_IDLE
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Active Directory over LDAPS (or LDAP upgraded with StartTLS), through one bound
/// connection per warm environment.
///
/// The connection is opened at the first use, kept across invocations, checked before each
/// use and opened again (the next domain controller first) after a server close, an idle
/// period, a timeout or any other transport failure. The lookup and the reset share it. A
/// lock makes sure two invocations never use it at the same time.
pub struct LdapDirectory {
    endpoints: Vec<Endpoint>,
    starttls: bool,
    bind_dn: String,
    bind_password: SecretString,
    base_dn: String,
    user_id_attribute: String,
    answer_attributes: Vec<String>,
    phone_attribute: String,
    mail_attribute: String,
    /// `directory.refuse_groups` as given (names or DNs); resolved to DNs on first use.
    refuse_groups: Vec<String>,
    refused_dns: tokio::sync::OnceCell<Vec<String>>,
    tls: Arc<ClientConfig>,
    timeout: Duration,
    session: tokio::sync::Mutex<Option<Session>>,
    /// Where the next connection attempt starts in `endpoints`.
    next_endpoint: AtomicUsize,
    connections: AtomicU64,
}

impl LdapDirectory {
    pub fn new(config: &Config, bind_password: SecretString, tls: Arc<ClientConfig>) -> Self {
        let endpoints = config
            .ldap_urls
            .iter()
            .filter_map(|url| {
                let (host, port) = ldap_endpoint(url, config.starttls).ok()?;
                Some(Endpoint {
                    url: url.clone(),
                    host,
                    port,
                })
            })
            .collect();
        LdapDirectory {
            endpoints,
            starttls: config.starttls,
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
            mail_attribute: config.mail_attribute.clone(),
            refuse_groups: config.refuse_groups.clone(),
            refused_dns: tokio::sync::OnceCell::new(),
            tls,
            timeout: Duration::from_secs(config.ldap_timeout_seconds),
            session: tokio::sync::Mutex::new(None),
            next_endpoint: AtomicUsize::new(0),
            connections: AtomicU64::new(0),
        }
    }

    /// Opens the connection ahead of the first invocation (spawned at cold start, so it
    /// overlaps the runtime's first poll). A failure is only logged: the first invocation
    /// tries again.
    pub async fn warm_up(&self) {
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            match self.connect().await {
                Ok(session) => *guard = Some(session),
                Err(e) => {
                    tracing::warn!(error = %e, reason = e.reason_code(), "directory connection at cold start failed; the first invocation tries again")
                }
            }
        }
    }

    /// How many connections this directory has opened and bound so far.
    pub fn connections_opened(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// TCP_NODELAY of the kept connection's socket (`None` when there is no connection).
    pub async fn connection_nodelay(&self) -> Option<bool> {
        let guard = self.session.lock().await;
        guard.as_ref().and_then(|s| s.socket.nodelay().ok())
    }

    /// Opens a TCP connection with Nagle's algorithm off: the bind and each request are small
    /// writes that would otherwise wait for the server's delayed ACK.
    async fn open_tcp(&self, endpoint: &Endpoint) -> std::io::Result<std::net::TcpStream> {
        let stream = tokio::time::timeout(
            self.timeout,
            tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port)),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        stream.into_std()
    }

    /// Connects to the first domain controller that answers, starting after the one that
    /// failed last, and binds as the service account.
    async fn connect(&self) -> Result<Session, DirectoryError> {
        let mut failures = Vec::new();
        let mut tls_failure = None;
        let n = self.endpoints.len();
        let first = self.next_endpoint.load(Ordering::SeqCst) % n.max(1);
        for i in (0..n).map(|k| (first + k) % n) {
            let endpoint = &self.endpoints[i];
            match self.connect_to(endpoint).await {
                Ok((ldap, socket, driver)) => {
                    let mut session = Session {
                        ldap,
                        socket,
                        driver,
                        endpoint: i,
                        last_used: Instant::now(),
                    };
                    self.next_endpoint.store(i, Ordering::SeqCst);
                    let result = session
                        .ldap
                        .with_timeout(self.timeout)
                        .simple_bind(&self.bind_dn, self.bind_password.expose_secret())
                        .await
                        .map_err(|e| self.transport_error(e))?;
                    if result.rc != 0 {
                        return Err(DirectoryError::BindRejected(result.rc));
                    }
                    self.connections.fetch_add(1, Ordering::SeqCst);
                    return Ok(session);
                }
                Err(e) => {
                    let detail = format!("{}: {}", endpoint.url, describe(&e));
                    tracing::warn!(url = %endpoint.url, error = %describe(&e), "domain controller not usable, trying the next");
                    if is_tls_error(&e)
                        || (self.starttls && matches!(e, LdapError::LdapResult { .. }))
                    {
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

    /// TCP (no delay), then TLS (LDAPS, or StartTLS first), verified against the configured CA.
    async fn connect_to(
        &self,
        endpoint: &Endpoint,
    ) -> Result<(Ldap, std::net::TcpStream, tokio::task::JoinHandle<()>), LdapError> {
        let stream = self.open_tcp(endpoint).await?;
        let socket = stream.try_clone()?;
        let settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_starttls(self.starttls)
            .set_conn_timeout(self.timeout)
            .set_std_stream(StdStream::Tcp(stream));
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &endpoint.url).await?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %describe(&e), "directory connection ended");
            }
        });
        Ok((ldap, socket, driver))
    }

    /// The kept connection when it is still usable, else a new one. The flag says whether it
    /// was kept (an operation failing on a kept connection is worth one retry on a new one).
    async fn ready<'a>(
        &self,
        slot: &'a mut Option<Session>,
    ) -> Result<(&'a mut Session, bool), DirectoryError> {
        let kept = match slot.as_mut() {
            Some(s) => {
                let usable = s.usable();
                if !usable && (s.driver.is_finished() || s.ldap.is_closed()) {
                    // The server went away: start with the next DC. After a quiet spell
                    // the same DC is tried first.
                    self.next_endpoint.store(s.endpoint + 1, Ordering::SeqCst);
                }
                usable
            }
            None => false,
        };
        if !kept {
            *slot = None;
            *slot = Some(self.connect().await?);
        }
        Ok((slot.as_mut().expect("just set"), kept))
    }

    /// Runs one operation on the bound connection; after a transport failure on a kept
    /// connection, runs it once more on a new one (the next domain controller first).
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: std::future::Future<Output = Result<T, LdapError>>,
    {
        let mut slot = self.session.lock().await;
        loop {
            let (session, kept) = self.ready(&mut slot).await?;
            let mut ldap = session.ldap.clone();
            ldap.with_timeout(self.timeout);
            match op(ldap).await {
                Ok(value) => {
                    session.last_used = Instant::now();
                    return Ok(value);
                }
                Err(e) => {
                    let failed = session.endpoint;
                    *slot = None;
                    self.next_endpoint.store(failed + 1, Ordering::SeqCst);
                    if kept {
                        tracing::warn!(url = %self.endpoints[failed].url, error = %describe(&e), "kept directory connection failed; reconnecting");
                        continue;
                    }
                    return Err(self.transport_error(e));
                }
            }
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
            "adminCount".to_string(),
            "userAccountControl".to_string(),
            "primaryGroupID".to_string(),
            self.phone_attribute.clone(),
        ];
        for a in self.answer_attributes.iter().chain([&self.mail_attribute]) {
            if !attrs.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                attrs.push(a.clone());
            }
        }
        attrs
    }

    /// The refused groups' DNs: DNs as given, names looked up once (as sAMAccountName of a
    /// group under the domain's root). A name that matches no group is logged and skipped:
    /// adminCount and the primary group still guard the built-in administrators.
    async fn refused_groups(&self) -> Result<&[String], DirectoryError> {
        let dns = self
            .refused_dns
            .get_or_try_init(|| async {
                let (mut dns, names): (Vec<String>, Vec<String>) = self
                    .refuse_groups
                    .iter()
                    .cloned()
                    .partition(|g| g.contains('='));
                if names.is_empty() {
                    return Ok(dns);
                }
                let filter = group_names_filter(&names);
                let root = domain_root(&self.base_dn);
                let ldap3::SearchResult(entries, res) = self
                    .run(|mut ldap| {
                        let filter = filter.clone();
                        let root = root.clone();
                        async move {
                            ldap.search(&root, Scope::Subtree, &filter, vec!["sAMAccountName"])
                                .await
                        }
                    })
                    .await?;
                if res.rc != 0 {
                    return Err(DirectoryError::Search {
                        rc: res.rc,
                        text: res.text,
                    });
                }
                let mut found = Vec::new();
                for entry in entries
                    .into_iter()
                    .filter(|e| !e.is_ref() && !e.is_intermediate())
                    .map(SearchEntry::construct)
                {
                    if let Some(name) = first(&entry, "sAMAccountName") {
                        found.push(name.to_ascii_lowercase());
                    }
                    dns.push(entry.dn);
                }
                for name in &names {
                    if !found.contains(&name.to_ascii_lowercase()) {
                        tracing::warn!(group = %name, "refused group not found in the directory; check RESETPW_REFUSE_GROUPS");
                    }
                }
                Ok(dns)
            })
            .await?;
        Ok(dns)
    }
}

/// The domain's root: the `DC=` components of the users' base DN.
pub fn domain_root(base_dn: &str) -> String {
    base_dn
        .split(',')
        .map(str::trim)
        .filter(|rdn| rdn.len() > 3 && rdn[..3].eq_ignore_ascii_case("dc="))
        .collect::<Vec<_>>()
        .join(",")
}

/// Groups by sAMAccountName, the names escaped per RFC 4515.
pub fn group_names_filter(names: &[String]) -> String {
    let alternatives: String = names
        .iter()
        .map(|n| format!("(sAMAccountName={})", ldap_escape(n)))
        .collect();
    format!("(&(objectClass=group)(|{alternatives}))")
}

/// The user's filter narrowed to members of any of `groups`, nested membership included
/// (LDAP_MATCHING_RULE_IN_CHAIN, 1.2.840.113556.1.4.1941). DNs escaped per RFC 4515.
pub fn refused_member_filter(user_filter: &str, groups: &[String]) -> String {
    let alternatives: String = groups
        .iter()
        .map(|g| format!("(memberOf:1.2.840.113556.1.4.1941:={})", ldap_escape(g)))
        .collect();
    format!("(&{user_filter}(|{alternatives}))")
}

/// Primary groups that make an account privileged: Domain Admins (512), Domain Controllers
/// (516), Schema Admins (518), Enterprise Admins (519), Read-only Domain Controllers (521).
/// Membership through the primary group does not show in memberOf.
const PRIVILEGED_PRIMARY_GROUPS: &[u32] = &[512, 516, 518, 519, 521];

/// userAccountControl's ACCOUNTDISABLE flag.
const ACCOUNTDISABLE: u32 = 0x2;

/// Whether an entry's own attributes make it privileged or disabled. A value that cannot
/// be read counts against the account (refused), never for it.
pub fn account_flags(
    admin_count: Option<&str>,
    uac: Option<&str>,
    primary_group: Option<&str>,
) -> (bool, bool) {
    let number = |v: Option<&str>| v.map(|v| v.trim().parse::<i64>().ok());
    let privileged = match number(admin_count) {
        None => false,
        Some(Some(n)) => n != 0,
        Some(None) => true,
    } || match number(primary_group) {
        None => false,
        Some(Some(n)) => u32::try_from(n).map_or(true, |n| PRIVILEGED_PRIMARY_GROUPS.contains(&n)),
        Some(None) => true,
    };
    let disabled = match number(uac) {
        None => false,
        Some(Some(n)) => (n as u32) & ACCOUNTDISABLE != 0,
        Some(None) => true,
    };
    (privileged, disabled)
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
        let filter = user_filter(&self.user_id_attribute, user_id);
        let groups = self.refused_groups().await?;
        let member_filter = (!groups.is_empty()).then(|| refused_member_filter(&filter, groups));
        let attrs = self.requested_attributes();
        let base = self.base_dn.as_str();
        let timeout = self.timeout;
        // The user and, on the same connection at the same time, whether it is a member of a
        // refused group: the same two searches for every user ID, known or not.
        let (ldap3::SearchResult(entries, res), members) = self
            .run(|mut ldap| {
                let (filter, attrs) = (filter.clone(), attrs.clone());
                let member_filter = member_filter.clone();
                // Each handle carries its own per-operation timeout.
                let mut second = ldap.clone();
                second.with_timeout(timeout);
                ldap.with_timeout(timeout);
                async move {
                    let user = ldap
                        .with_search_options(SearchOptions::new().sizelimit(2))
                        .search(base, Scope::Subtree, &filter, attrs);
                    let membership = async {
                        match &member_filter {
                            Some(f) => second
                                .with_search_options(SearchOptions::new().sizelimit(2))
                                .search(base, Scope::Subtree, f, vec!["1.1"])
                                .await
                                .map(Some),
                            None => Ok(None),
                        }
                    };
                    let (user, membership) = tokio::join!(user, membership);
                    Ok((user?, membership?))
                }
            })
            .await?;
        match res.rc {
            0 => {}
            4 => return Ok(None), // sizeLimitExceeded: more than one match
            rc => return Err(DirectoryError::Search { rc, text: res.text }),
        }
        let refused_member = match members {
            None => false,
            Some(ldap3::SearchResult(found, res)) => match res.rc {
                0 => found.iter().any(|e| !e.is_ref() && !e.is_intermediate()),
                4 => true,
                rc => return Err(DirectoryError::Search { rc, text: res.text }),
            },
        };
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
        let (privileged, disabled) = account_flags(
            first(&entry, "adminCount").as_deref(),
            first(&entry, "userAccountControl").as_deref(),
            first(&entry, "primaryGroupID").as_deref(),
        );
        Ok(Some(DirectoryUser {
            account_name: first(&entry, "sAMAccountName").unwrap_or_default(),
            display_name: first(&entry, "displayName").unwrap_or_default(),
            phone: first(&entry, &self.phone_attribute),
            mail: first(&entry, &self.mail_attribute),
            privileged: privileged || refused_member,
            disabled,
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
        let dn = user.dn.as_str();
        // Replacing with the same value is idempotent, so a retry after a lost answer is safe.
        let res = self
            .run(|mut ldap| {
                let mods = mods.clone();
                async move { ldap.modify(dn, mods).await }
            })
            .await?;
        match res.rc {
            0 => Ok(()),
            rc => Err(modify_error(rc, &res.text)),
        }
    }

    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError> {
        let mods: Vec<Mod<Vec<u8>>> = vec![Mod::Replace(
            b"lockoutTime".to_vec(),
            HashSet::from([b"0".to_vec()]),
        )];
        let dn = user.dn.as_str();
        let res = self
            .run(|mut ldap| {
                let mods = mods.clone();
                async move { ldap.modify(dn, mods).await }
            })
            .await?;
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
    fn refusal_filters_and_flags() {
        assert_eq!(
            domain_root("OU=Staff, OU=Corp,DC=corp,DC=example,DC=com"),
            "DC=corp,DC=example,DC=com"
        );
        assert_eq!(
            group_names_filter(&["Domain Admins".into(), "x)(cn=*".into()]),
            "(&(objectClass=group)(|(sAMAccountName=Domain Admins)(sAMAccountName=x\\29\\28cn=\\2a)))"
        );
        let f = refused_member_filter(
            "(uid=jdoe)",
            &[
                "CN=Domain Admins,CN=Users,DC=x".into(),
                "CN=T(0),DC=x".into(),
            ],
        );
        assert_eq!(
            f,
            "(&(uid=jdoe)(|(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,DC=x)(memberOf:1.2.840.113556.1.4.1941:=CN=T\\280\\29,DC=x)))"
        );
        // (privileged, disabled)
        assert_eq!(
            account_flags(None, Some("512"), Some("513")),
            (false, false)
        );
        assert_eq!(
            account_flags(Some("1"), Some("512"), Some("513")),
            (true, false)
        );
        assert_eq!(
            account_flags(Some("0"), Some("514"), Some("513")),
            (false, true)
        );
        assert_eq!(
            account_flags(None, Some("66048"), Some("512")),
            (true, false)
        );
        assert_eq!(account_flags(None, Some("66050"), None), (false, true));
        // Unreadable values refuse.
        assert_eq!(account_flags(Some("yes"), Some("x"), None), (true, true));
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
