//! Shared setup for the integration tests: the Samba DC from `scripts/local-directory` and
//! KMS, SNS and DynamoDB from `scripts/local-cloud`. Missing environment fails loudly.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::AppName;
use base64::Engine as _;
use ldap3::{LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use resetpw_lambda::config::Config;
use resetpw_lambda::handler::Handler;
use resetpw_lambda::lex::LexEvent;
use serde_json::{json, Value};

/// A required variable, or a panic telling how to provide it.
pub fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: these integration tests need the local directory and the local cloud. \
             Run `eval \"$(scripts/local-directory start)\"` and `eval \"$(scripts/local-cloud start)\"` \
             (or scripts/test, which does both) before `cargo test`."
        ),
    }
}

pub const BASE: &str = "OU=Staff,DC=resetpw,DC=test";

pub fn user_dn(sam: &str) -> String {
    format!("CN={sam},{BASE}")
}

/// A fixture user of scripts/local-directory with its stored answers.
pub struct Fixture {
    pub sam: &'static str,
    pub dob: &'static str,
    pub month: &'static str,
    pub phone: &'static str,
}

pub const RESET: Fixture = Fixture {
    sam: "rp.reset",
    dob: "1985-03-14",
    month: "3",
    phone: "+15550100001",
};
pub const WRONG: Fixture = Fixture {
    sam: "rp.wrong",
    dob: "1990-12-01",
    month: "December",
    phone: "+15550100002",
};
pub const LOCK: Fixture = Fixture {
    sam: "rp.lock",
    dob: "1979-07-04",
    month: "July",
    phone: "+15550100003",
};
pub const SMS: Fixture = Fixture {
    sam: "rp.sms",
    dob: "2001-02-28",
    month: "Feb",
    phone: "+442079460004",
};
pub const CALLERID: Fixture = Fixture {
    sam: "rp.callerid",
    dob: "1968-10-31",
    month: "10",
    phone: "+15550100005",
};
pub const NORIGHT: Fixture = Fixture {
    sam: "rp.noright",
    dob: "1995-05-05",
    month: "May",
    phone: "+15550100006",
};
pub const WRONGCA: Fixture = Fixture {
    sam: "rp.wrongca",
    dob: "1988-08-08",
    month: "August",
    phone: "+15550100007",
};
pub const LOGS: Fixture = Fixture {
    sam: "rp.logs",
    dob: "1975-01-15",
    month: "January",
    phone: "+15550100008",
};
pub const INJECT: Fixture = Fixture {
    sam: "rp.inject",
    dob: "1970-04-01",
    month: "April",
    phone: "+15550100011",
};
pub const BENCH: Fixture = Fixture {
    sam: "rp.bench",
    dob: "1999-09-09",
    month: "9",
    phone: "+15550100009",
};
pub const FORCE: Fixture = Fixture {
    sam: "rp.forcechange",
    dob: "1982-06-30",
    month: "June",
    phone: "+15550100010",
};

/// A unique SDK app id, so this test's calls can be found in the local cloud's record.
pub fn app_id(test: &str) -> String {
    format!("resetpw-it-{test}-{:08x}", fastrand::u32(..))
}

pub async fn sdk(app: &str) -> aws_config::SdkConfig {
    env("AWS_ENDPOINT_URL");
    env("LOCAL_CLOUD_URL");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .app_name(AppName::new(app.to_string()).expect("valid app name"))
        .load()
        .await
}

/// Encrypts `plaintext` under a fresh KMS key with `context`; returns base64 ciphertext.
pub async fn kms_encrypt(
    sdk: &aws_config::SdkConfig,
    plaintext: &str,
    context: &[(&str, &str)],
) -> String {
    let kms = aws_sdk_kms::Client::new(sdk);
    let key = kms
        .create_key()
        .send()
        .await
        .expect("KMS CreateKey in the local cloud");
    let key_id = key.key_metadata.unwrap().key_id;
    let mut req = kms
        .encrypt()
        .key_id(key_id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(
            plaintext.as_bytes().to_vec(),
        ));
    for (k, v) in context {
        req = req.encryption_context(*k, *v);
    }
    let out = req.send().await.expect("KMS Encrypt in the local cloud");
    base64::engine::general_purpose::STANDARD.encode(out.ciphertext_blob.unwrap().into_inner())
}

/// Creates an attempts table with the schema the Lambda expects; returns its name.
pub async fn create_table(sdk: &aws_config::SdkConfig) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let name = format!("resetpw-attempts-{:08x}", fastrand::u32(..));
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("DynamoDB CreateTable in the local cloud");
    name
}

/// Options a test may change from the default local setup.
pub struct Setup {
    pub app: String,
    pub bind_dn: String,
    pub bind_password: String,
    pub ca_file: String,
    pub urls: String,
    pub extra: Vec<(&'static str, String)>,
}

impl Setup {
    pub fn new(test: &str) -> Self {
        Setup {
            app: app_id(test),
            bind_dn: env("LOCAL_DIRECTORY_BIND_DN"),
            bind_password: env("LOCAL_DIRECTORY_BIND_PASSWORD"),
            ca_file: env("LOCAL_DIRECTORY_CA_FILE"),
            urls: env("LOCAL_DIRECTORY_LDAPS_URL"),
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: &str) -> Self {
        self.extra.push((name, value.to_string()));
        self
    }

    /// The environment the Lambda would get, with a KMS-encrypted bind password.
    pub async fn environment(&self, sdk: &aws_config::SdkConfig) -> HashMap<String, String> {
        let ciphertext = kms_encrypt(
            sdk,
            &self.bind_password,
            &[("app", "resetpw"), ("stage", "test")],
        )
        .await;
        let table = create_table(sdk).await;
        let mut vars: HashMap<String, String> = HashMap::from([
            ("RESETPW_LDAP_URLS".into(), self.urls.clone()),
            ("RESETPW_BASE_DN".into(), env("LOCAL_DIRECTORY_BASE_DN")),
            ("RESETPW_BIND_DN".into(), self.bind_dn.clone()),
            ("RESETPW_BIND_PASSWORD_CIPHERTEXT".into(), ciphertext),
            (
                "RESETPW_KMS_ENCRYPTION_CONTEXT".into(),
                "app=resetpw,stage=test".into(),
            ),
            ("RESETPW_CA_FILE".into(), self.ca_file.clone()),
            ("RESETPW_ATTEMPTS_TABLE".into(), table),
            ("RESETPW_LDAP_TIMEOUT_SECONDS".into(), "5".into()),
            // The tests written for the knowledge answers alone; tests/verification.rs
            // turns the one-time code on.
            ("RESETPW_ONE_TIME_CODE".into(), "off".into()),
        ]);
        for (k, v) in &self.extra {
            vars.insert(k.to_string(), v.clone());
        }
        vars
    }

    /// Cold-starts as `bootstrap` does, keeping the directory for its connection checks.
    pub async fn cold(&self) -> (resetpw_lambda::app::ColdStart, HashMap<String, String>) {
        capture_logs();
        let sdk = sdk(&self.app).await;
        let vars = self.environment(&sdk).await;
        let config =
            Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration");
        let cold = resetpw_lambda::app::cold_start_parts(config, &sdk)
            .await
            .expect("cold start against the local directory and cloud");
        (cold, vars)
    }

    /// The environment of a `bootstrap` process: this setup's variables and the local cloud's.
    pub async fn bootstrap_environment(&self) -> HashMap<String, String> {
        let sdk = sdk(&self.app).await;
        let mut vars = self.environment(&sdk).await;
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
        ] {
            vars.insert(k.into(), env(k));
        }
        vars.insert("AWS_SDK_UA_APP_ID".into(), self.app.clone());
        vars
    }

    /// Cold-starts the handler exactly as `bootstrap` does, with this setup's environment.
    pub async fn handler(&self) -> (Handler, HashMap<String, String>) {
        capture_logs();
        let sdk = sdk(&self.app).await;
        let vars = self.environment(&sdk).await;
        let config =
            Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration");
        let handler = resetpw_lambda::app::cold_start(config, &sdk)
            .await
            .expect("cold start against the local directory and cloud");
        (handler, vars)
    }
}

pub fn slot(v: &str) -> Value {
    json!({"shape": "Scalar", "value": {"originalValue": v, "interpretedValue": v, "resolvedValues": [v]}})
}

/// A FulfillmentCodeHook event as Lex V2 sends it.
pub fn fulfillment(
    user: &str,
    dob: &str,
    month: &str,
    caller: Option<&str>,
    contact: &str,
) -> LexEvent {
    let mut attrs = json!({"ContactId": contact});
    if let Some(c) = caller {
        attrs["CallerNumber"] = json!(c);
    }
    serde_json::from_value(json!({
        "messageVersion": "1.0",
        "invocationSource": "FulfillmentCodeHook",
        "inputMode": "Speech",
        "sessionId": contact,
        "inputTranscript": "",
        "bot": {"id": "BOT", "name": "resetpw", "localeId": "en_US", "version": "1", "aliasId": "ALIAS", "aliasName": "live"},
        "sessionState": {
            "sessionAttributes": attrs,
            "intent": {"name": "ResetPW", "state": "ReadyForFulfillment", "confirmationState": "None", "slots": {
                "UserID": slot(user), "DOB": slot(dob), "MonthStarted": slot(month)
            }}
        }
    }))
    .unwrap()
}

pub fn correct(f: &Fixture, contact: &str) -> LexEvent {
    fulfillment(f.sam, f.dob, f.month, None, contact)
}

// ---- the directory, seen from the test ----

async fn connect() -> ldap3::Ldap {
    let pem = std::fs::read_to_string(env("LOCAL_DIRECTORY_CA_FILE")).expect("CA file readable");
    let tls = resetpw_lambda::ldap::tls_config(&pem).expect("CA parses");
    let settings = LdapConnSettings::new().set_config(tls);
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &env("LOCAL_DIRECTORY_LDAPS_URL"))
        .await
        .expect("LDAPS connection to the local directory");
    ldap3::drive!(conn);
    ldap
}

/// Simple bind as `dn`; Err((rc, text)) when refused.
pub async fn try_bind(dn: &str, password: &str) -> Result<(), (u32, String)> {
    let mut ldap = connect().await;
    let r = ldap
        .simple_bind(dn, password)
        .await
        .expect("bind round trip");
    let _ = ldap.unbind().await;
    if r.rc == 0 {
        Ok(())
    } else {
        Err((r.rc, r.text))
    }
}

/// Sets a user's password as the domain admin, so each test starts from a known password.
pub async fn admin_set_password(sam: &str) -> String {
    let password = format!("Known#{:08x}Qz", fastrand::u32(..));
    let mut ldap = connect().await;
    ldap.simple_bind(
        &env("LOCAL_DIRECTORY_ADMIN_DN"),
        &env("LOCAL_DIRECTORY_ADMIN_PASSWORD"),
    )
    .await
    .unwrap()
    .success()
    .expect("admin bind");
    let value: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    ldap.modify(
        &user_dn(sam),
        vec![
            Mod::Replace(b"unicodePwd".to_vec(), HashSet::from([value])),
            Mod::Replace(b"pwdLastSet".to_vec(), HashSet::from([b"-1".to_vec()])),
        ],
    )
    .await
    .unwrap()
    .success()
    .expect("admin password set");
    let _ = ldap.unbind().await;
    password
}

/// Reads one attribute of a user as the domain admin.
pub async fn read_attribute(sam: &str, attribute: &str) -> Option<String> {
    let mut ldap = connect().await;
    ldap.simple_bind(
        &env("LOCAL_DIRECTORY_ADMIN_DN"),
        &env("LOCAL_DIRECTORY_ADMIN_PASSWORD"),
    )
    .await
    .unwrap()
    .success()
    .expect("admin bind");
    let (entries, _) = ldap
        .search(
            &user_dn(sam),
            Scope::Base,
            "(objectClass=*)",
            vec![attribute],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let _ = ldap.unbind().await;
    let entry = SearchEntry::construct(entries.into_iter().next()?);
    entry.attrs.get(attribute).and_then(|v| v.first().cloned())
}

// ---- the local cloud's call record ----

/// SNS Publish calls recorded for `app`: (PhoneNumber, Message).
pub async fn sms_published(app: &str) -> Vec<(String, String)> {
    let url = format!("{}/_localcloud/calls?app={app}", env("LOCAL_CLOUD_URL"));
    let calls: Vec<Value> = reqwest::get(&url)
        .await
        .expect("local cloud call record reachable")
        .json()
        .await
        .expect("call record is JSON");
    calls
        .iter()
        .filter(|c| c["service"] == "sns" && c["operation"] == "Publish")
        .map(|c| {
            (
                c["params"]["PhoneNumber"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                c["params"]["Message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// SES SendEmail calls recorded for `app`: (to, subject, body).
pub async fn emails_sent(app: &str) -> Vec<(String, String, String)> {
    let url = format!("{}/_localcloud/calls?app={app}", env("LOCAL_CLOUD_URL"));
    let calls: Vec<Value> = reqwest::get(&url)
        .await
        .expect("local cloud call record reachable")
        .json()
        .await
        .expect("call record is JSON");
    calls
        .iter()
        .filter(|c| {
            c["service"] == "ses"
                && c["operation"] == "POST /v2/email/outbound-emails"
                && c["status"] == 200
        })
        .map(|c| {
            let p = &c["params"]["body"];
            let simple = &p["Content"]["Simple"];
            (
                p["Destination"]["ToAddresses"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                simple["Subject"]["Data"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                simple["Body"]["Text"]["Data"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// The one-time code inside an SMS text.
pub fn code_in(message: &str) -> String {
    message
        .split(" code is ")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
        .expect("SMS carries a code")
}

/// The password inside the SMS text.
pub fn password_in(message: &str) -> String {
    message
        .split("password is ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("SMS carries the password")
        .to_string()
}

// ---- captured logs ----

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

static CAPTURED: OnceLock<Captured> = OnceLock::new();

/// Routes this test binary's logs (the Lambda's JSON subscriber) into a buffer.
pub fn capture_logs() -> Captured {
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            tracing::subscriber::set_global_default(resetpw_lambda::logging::subscriber(
                captured.clone(),
            ))
            .expect("no other global subscriber");
            captured
        })
        .clone()
}

pub fn captured_text() -> String {
    String::from_utf8_lossy(&capture_logs().0.lock().unwrap()).into_owned()
}
