//! Checks across keys that types alone can't express. Each failure points at the key.

use super::load::{Loaded, StackError};
use super::types::*;

pub fn check(loaded: &Loaded) -> Result<(), StackError> {
    let s = &loaded.stack;
    check_tags(loaded)?;
    match (&s.directory, &s.secret) {
        (Some(_), None) => {
            return Err(loaded.error_at(
                &["directory"],
                "the directory needs a `secret` section saying where the service account's password comes from (example: `secret: {env: RESETPW_BIND_PASSWORD}`)",
            ))
        }
        (None, Some(_)) => {
            return Err(loaded.error_at(
                &["secret"],
                "`secret` is the directory service account's password: add the `directory` section it belongs to",
            ))
        }
        _ => {}
    }
    if let Some(d) = &s.directory {
        check_directory(loaded, d)?;
    }
    if let Some(secret) = &s.secret {
        if !is_env_name(&secret.env) {
            return Err(loaded.error_at(
                &["secret", "env"],
                format!("`{}` is not an environment variable name (example: `env: RESETPW_BIND_PASSWORD`)", secret.env),
            ));
        }
    }
    if let Some(f) = &s.fulfillment {
        check_range(
            loaded,
            &["fulfillment", "memory_mb"],
            f.memory_mb,
            128,
            10240,
        )?;
        check_range(
            loaded,
            &["fulfillment", "timeout_seconds"],
            f.timeout_seconds,
            3,
            60,
        )?;
        check_range(
            loaded,
            &["fulfillment", "password", "length"],
            f.password.length,
            14,
            64,
        )?;
        check_range(
            loaded,
            &["fulfillment", "attempts", "max_failures"],
            f.attempts.max_failures,
            1,
            20,
        )?;
        check_range(
            loaded,
            &["fulfillment", "attempts", "window_minutes"],
            f.attempts.window_minutes,
            1,
            1440,
        )?;
        check_range(
            loaded,
            &["fulfillment", "attempts", "lockout_minutes"],
            f.attempts.lockout_minutes,
            1,
            10080,
        )?;
        check_range(
            loaded,
            &["fulfillment", "attempts", "per_caller_number"],
            f.attempts.per_caller_number,
            1,
            100,
        )?;
        check_range(
            loaded,
            &["fulfillment", "attempts", "per_caller_window_minutes"],
            f.attempts.per_caller_window_minutes,
            1,
            1440,
        )?;
        const RETENTION: &[u32] = &[
            1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
            2922, 3288, 3653,
        ];
        if !RETENTION.contains(&f.log_retention_days) {
            let below = RETENTION.iter().rev().find(|d| **d < f.log_retention_days);
            let above = RETENTION.iter().find(|d| **d > f.log_retention_days);
            let nearest: Vec<String> = below.into_iter().chain(above).map(u32::to_string).collect();
            return Err(loaded.error_at(
                &["fulfillment", "log_retention_days"],
                format!(
                    "{} is not a retention CloudWatch Logs offers; the nearest are {} (all: {RETENTION:?})",
                    f.log_retention_days,
                    nearest.join(" and ")
                ),
            ));
        }
        if s.directory.is_none() {
            return Err(loaded.error_at(
                &["fulfillment"],
                "the fulfillment Lambda resets passwords in the directory: add the `directory` and `secret` sections",
            ));
        }
        if let Some(package) = &f.package {
            check_package(loaded, package)?;
        }
    }
    if let Some(b) = &s.bot {
        if s.fulfillment.is_none() {
            return Err(loaded.error_at(
                &["bot"],
                "the bot's code hook is the fulfillment Lambda: add the `fulfillment` section (example: `fulfillment: {}`)",
            ));
        }
        check_range(
            loaded,
            &["bot", "idle_session_ttl_seconds"],
            b.idle_session_ttl_seconds,
            60,
            86400,
        )?;
        if !(0.0..=1.0).contains(&b.confidence_threshold) {
            return Err(
                loaded.error_at(&["bot", "confidence_threshold"], "must be between 0 and 1")
            );
        }
        if b.utterances.is_empty() {
            return Err(loaded.error_at(
                &["bot", "utterances"],
                "needs at least one utterance (example: `utterances: [reset my password]`)",
            ));
        }
        if b.unlock_utterances.is_empty() {
            return Err(loaded.error_at(
                &["bot", "unlock_utterances"],
                "needs at least one utterance (example: `unlock_utterances: [unlock my account]`)",
            ));
        }
        let normalized = |u: &str| {
            u.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        if let Some((i, u)) = b
            .unlock_utterances
            .iter()
            .enumerate()
            .find(|(_, u)| b.utterances.iter().any(|r| normalized(r) == normalized(u)))
        {
            return Err(loaded.error_at(
                &["bot", "unlock_utterances", &i.to_string()],
                format!("`{u}` is also in `bot.utterances`: an utterance belongs to one intent (reset or unlock); remove it from one list"),
            ));
        }
    }
    if let Some(c) = &s.connect {
        if s.bot.is_none() {
            return Err(loaded.error_at(
                &["connect"],
                "the contact flow hands callers to the bot: add the `bot` section (example: `bot: {locale: en_US}`)",
            ));
        }
        match (&c.instance_alias, &c.instance_id) {
            (Some(_), Some(_)) => {
                return Err(loaded.error_at(
                    &["connect", "instance_id"],
                    "give either `instance_alias` (resetpw creates and owns the instance) or `instance_id` (an existing instance resetpw never changes), not both",
                ))
            }
            (None, None) => {
                return Err(loaded.error_at(
                    &["connect"],
                    "name the instance: `instance_alias: corp-helpdesk` to create one, or `instance_id: <id of an existing instance>`",
                ))
            }
            _ => {}
        }
        if let Some(alias) = &c.instance_alias {
            let alias_ok = (1..=45).contains(&alias.len())
                && alias
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
                && !alias.starts_with('-')
                && !alias.starts_with("d-");
            if !alias_ok {
                return Err(loaded.error_at(
                    &["connect", "instance_alias"],
                    "use 1-45 letters, digits and hyphens, not starting with a hyphen or `d-` (example: `instance_alias: corp-helpdesk`)",
                ));
            }
        }
        if let Some(id) = &c.instance_id {
            let id_ok = (1..=100).contains(&id.len())
                && id.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-');
            if !id_ok {
                return Err(loaded.error_at(
                    &["connect", "instance_id"],
                    "an instance id is the UUID at the end of the instance ARN (example: `instance_id: 12345678-aaaa-bbbb-cccc-123456789012`)",
                ));
            }
        }
        if c.greeting.trim().is_empty() {
            return Err(loaded.error_at(&["connect", "greeting"], "the greeting can't be empty"));
        }
        if !matches!(c.phone_number.number_type.as_str(), "DID" | "TOLL_FREE") {
            return Err(loaded.error_at(
                &["connect", "phone_number", "type"],
                "use `DID` or `TOLL_FREE`",
            ));
        }
    }
    if let Some(n) = &s.network {
        check_network(loaded, n)?;
    }
    if let Some(v) = &s.verification {
        check_range(
            loaded,
            &["verification", "code_ttl_seconds"],
            v.code_ttl_seconds,
            60,
            600,
        )?;
        if s.fulfillment.is_none() {
            return Err(loaded.error_at(
                &["verification"],
                "the one-time code is sent and checked by the fulfillment Lambda: add the `fulfillment` section",
            ));
        }
    }
    if s.notify.is_some() && s.fulfillment.is_none() {
        return Err(loaded.error_at(
            &["notify"],
            "the owner is told by the fulfillment Lambda: add the `fulfillment` section",
        ));
    }
    Ok(())
}

/// What is valid but weakens the line: `validate` prints these, each placed at its key.
pub fn warnings(loaded: &Loaded) -> Vec<String> {
    let mut out = Vec::new();
    if loaded
        .stack
        .verification
        .as_ref()
        .is_some_and(|v| !v.one_time_code)
    {
        let (line, column) =
            super::load::locate(&loaded.source, &["verification", "one_time_code"]);
        out.push(format!(
            "{}:{line}:{column}: verification.one_time_code: false leaves a knowledge-only line that can be social-engineered: anyone who knows or finds a user's ID, date of birth and start month can have the password reset. NIST SP 800-63B-4 §4.2 does not accept knowledge-based verification for account recovery, and help-desk social engineering of exactly this kind is CISA advisory AA23-320A. Keep `one_time_code: true` unless you have a reason",
            loaded.path.display()
        ));
    }
    out
}

fn check_tags(loaded: &Loaded) -> Result<(), StackError> {
    let tags = &loaded.stack.tags;
    if tags.len() > 40 {
        return Err(loaded.error_at(
            &["tags"],
            "at most 40 tags (AWS allows 50 and resetpw adds its own)",
        ));
    }
    for (k, v) in tags {
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("resetpw:") {
            return Err(loaded.error_at(
                &["tags", k],
                format!("tag keys starting with `aws:` or `resetpw:` are reserved; rename `{k}`"),
            ));
        }
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(loaded.error_at(
                &["tags", k],
                "tag keys are 1-128 characters, values at most 256",
            ));
        }
    }
    Ok(())
}

fn check_directory(loaded: &Loaded, d: &Directory) -> Result<(), StackError> {
    if d.urls.is_empty() {
        return Err(loaded.error_at(&["directory", "urls"], "name at least one domain controller (example: `urls: [ldaps://dc1.corp.example.com:636]`)"));
    }
    for url in &d.urls {
        if !url.is_ldaps() && !d.starttls {
            return Err(loaded.error_at(
                &["directory", "urls"],
                format!("`{}` is plain LDAP: Active Directory refuses password writes without TLS; use `ldaps://` or set `starttls: true`", url.as_str()),
            ));
        }
        if url.is_ldaps() && d.starttls {
            return Err(loaded.error_at(
                &["directory", "starttls"],
                format!(
                    "`{}` is already LDAPS: StartTLS applies to `ldap://` URLs only",
                    url.as_str()
                ),
            ));
        }
    }
    for (path, attr) in [
        (
            &["directory", "user_id_attribute"][..],
            &d.user_id_attribute,
        ),
        (&["directory", "phone_attribute"][..], &d.phone_attribute),
        (
            &["directory", "verification", "date_of_birth"][..],
            &d.verification.date_of_birth,
        ),
        (
            &["directory", "verification", "month_started"][..],
            &d.verification.month_started,
        ),
    ] {
        let ok = attr.starts_with(|c: char| c.is_ascii_alphabetic())
            && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(loaded.error_at(path, format!("`{attr}` is not an LDAP attribute name")));
        }
    }
    if let Some(groups) = &d.refuse_groups {
        check_refuse_groups(loaded, groups)?;
    }
    let ca = loaded.base_dir().join(&d.ca_file);
    let pem = std::fs::read_to_string(&ca).map_err(|e| {
        loaded.error_at(
            &["directory", "ca_file"],
            format!(
                "cannot read `{}`: {e} (the path is relative to the stack file)",
                ca.display()
            ),
        )
    })?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(loaded.error_at(
            &["directory", "ca_file"],
            format!("`{}` holds no PEM certificate", ca.display()),
        ));
    }
    Ok(())
}

/// Each refused group is a DN or a group name (sAMAccountName): the list goes to the Lambda
/// joined with `;`, so no entry may hold one.
fn check_refuse_groups(loaded: &Loaded, groups: &[String]) -> Result<(), StackError> {
    if groups.is_empty() {
        return Err(loaded.error_at(
            &["directory", "refuse_groups"],
            format!(
                "an empty list would let members of every privileged group reset by phone: remove the key for the default ({}), or name the groups",
                DEFAULT_REFUSE_GROUPS.join(", ")
            ),
        ));
    }
    for (i, g) in groups.iter().enumerate() {
        let at = ["directory", "refuse_groups", &i.to_string()];
        let problem = if g.trim().is_empty() || g.trim() != g {
            Some("a group name can't be empty or start or end with a space".to_string())
        } else if g.contains(';') {
            Some(
                "`;` separates the groups in the Lambda's setting, so a group can't contain it"
                    .to_string(),
            )
        } else if g.contains('=') {
            DistinguishedName::try_from(g.clone()).err()
        } else if g.chars().count() > 256
            || g.chars()
                .any(|c| c.is_control() || "\"/\\[]:|<>+=;,?*".contains(c))
        {
            Some(format!("`{g}` is neither a distinguished name nor a group name (a sAMAccountName has at most 256 characters and none of \" / \\ [ ] : | < > + = ; , ? *)"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(loaded.error_at(&at, problem));
        }
    }
    Ok(())
}

/// Lambda takes a zip of at most 50 MB in the API call itself.
const MAX_ZIP: u64 = 50 * 1024 * 1024;

fn check_package(loaded: &Loaded, package: &std::path::Path) -> Result<(), StackError> {
    let path = loaded.base_dir().join(package);
    let at = &["fulfillment", "package"][..];
    let mut head = [0u8; 4];
    let read = std::fs::File::open(&path).and_then(|mut f| {
        use std::io::Read;
        let size = f.metadata()?.len();
        f.read_exact(&mut head)?;
        Ok(size)
    });
    let size = read.map_err(|e| {
        loaded.error_at(
            at,
            format!(
                "cannot read `{}`: {e} (the path is relative to the stack file; build one with `resetpw package -o FILE`)",
                path.display()
            ),
        )
    })?;
    if &head != b"PK\x03\x04" {
        return Err(loaded.error_at(
            at,
            format!(
                "`{}` is not a zip file: build the package with `resetpw package -o FILE`",
                path.display()
            ),
        ));
    }
    if size > MAX_ZIP {
        return Err(loaded.error_at(
            at,
            format!(
                "`{}` is {size} bytes; Lambda accepts at most {MAX_ZIP} bytes in a direct upload",
                path.display()
            ),
        ));
    }
    Ok(())
}

fn check_network(loaded: &Loaded, n: &Network) -> Result<(), StackError> {
    let need = |present: bool, key: &str, example: &str| {
        if present {
            Ok(())
        } else {
            Err(loaded.error_at(
                &["network"],
                format!("mode `{:?}` needs `{key}` (example: `{example}`)", n.mode).to_lowercase(),
            ))
        }
    };
    match n.mode {
        NetworkMode::Existing => {
            need(
                n.vpc_id.is_some(),
                "vpc_id",
                "vpc_id: vpc-0123456789abcdef0",
            )?;
            need(
                !n.subnet_ids.is_empty(),
                "subnet_ids",
                "subnet_ids: [subnet-0123456789abcdef0]",
            )?;
            if n.egress == Egress::Endpoints {
                return Err(loaded.error_at(
                    &["network", "egress"],
                    "`egress: endpoints` needs subnets resetpw creates (modes `nat` and `new`): in mode `existing` the given subnets must already route out",
                ));
            }
        }
        NetworkMode::Nat | NetworkMode::New => {
            if n.mode == NetworkMode::Nat {
                need(
                    n.vpc_id.is_some(),
                    "vpc_id",
                    "vpc_id: vpc-0123456789abcdef0",
                )?;
            } else {
                need(n.vpc_cidr.is_some(), "vpc_cidr", "vpc_cidr: 10.42.0.0/16")?;
            }
            let zones: std::collections::BTreeSet<_> = n
                .private_subnets
                .iter()
                .map(|s| &s.availability_zone)
                .collect();
            if n.private_subnets.len() > 6 {
                return Err(
                    loaded.error_at(&["network", "private_subnets"], "at most 6 private subnets")
                );
            }
            if zones.len() < 2 {
                return Err(loaded.error_at(
                    &["network", "private_subnets"],
                    "give private subnets in at least two availability zones",
                ));
            }
            if n.egress == Egress::Nat {
                need(
                    n.public_subnet.is_some(),
                    "public_subnet",
                    "public_subnet: {cidr: 10.42.0.0/24, availability_zone: eu-west-2a}",
                )?;
            } else if n.public_subnet.is_some() {
                return Err(loaded.error_at(
                    &["network", "public_subnet"],
                    "`public_subnet` holds the NAT gateway and is not used with `egress: endpoints`: remove it, or use `egress: nat`",
                ));
            }
        }
    }
    if n.directory_cidrs.is_empty() {
        return Err(loaded.error_at(
            &["network", "directory_cidrs"],
            "name where the domain controllers are (example: `directory_cidrs: [10.0.0.0/24]`)",
        ));
    }
    // Each error points at the subnet's own `cidr:`.
    let subnets = n.subnets_to_create();
    for (i, (at, a)) in subnets.iter().enumerate() {
        let path: Vec<&str> = ["network"]
            .into_iter()
            .chain(at.iter().map(String::as_str))
            .chain(["cidr"])
            .collect();
        if let Some(vpc) = &n.vpc_cidr {
            if !contains(vpc, &a.cidr) {
                return Err(loaded.error_at(
                    &path,
                    format!("subnet {} is not inside the VPC's {vpc} (`vpc_cidr`): pick a block inside it", a.cidr),
                ));
            }
        }
        if let Some((_, b)) = subnets[i + 1..]
            .iter()
            .find(|(_, b)| overlaps(&a.cidr, &b.cidr))
        {
            return Err(loaded.error_at(
                &path,
                format!(
                    "subnet {} overlaps subnet {} of this stack: give each subnet its own block",
                    a.cidr, b.cidr
                ),
            ));
        }
    }
    Ok(())
}

fn range_of(c: &Cidr) -> (u64, u64) {
    let start = u64::from(u32::from(c.addr));
    (start, start + (1u64 << (32 - c.prefix)) - 1)
}

pub fn overlaps(a: &Cidr, b: &Cidr) -> bool {
    let (a0, a1) = range_of(a);
    let (b0, b1) = range_of(b);
    a0 <= b1 && b0 <= a1
}

pub fn contains(outer: &Cidr, inner: &Cidr) -> bool {
    let (o0, o1) = range_of(outer);
    let (i0, i1) = range_of(inner);
    o0 <= i0 && i1 <= o1
}

fn check_range(
    loaded: &Loaded,
    path: &[&str],
    value: u32,
    min: u32,
    max: u32,
) -> Result<(), StackError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(loaded.error_at(path, format!("{value} is out of range: use {min} to {max}")))
    }
}

fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        Cidr::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn cidr_arithmetic() {
        assert!(overlaps(&cidr("10.0.0.0/16"), &cidr("10.0.3.0/24")));
        assert!(!overlaps(&cidr("10.0.0.0/24"), &cidr("10.0.1.0/24")));
        assert!(contains(&cidr("10.0.0.0/16"), &cidr("10.0.255.0/24")));
        assert!(!contains(&cidr("10.0.0.0/16"), &cidr("10.1.0.0/24")));
        assert!(Cidr::try_from("10.0.0.1/16".to_string())
            .unwrap_err()
            .contains("host bits"));
    }
}
