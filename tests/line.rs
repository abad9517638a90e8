//! The whole phone line end to end, offline: the real bundled Lambda (one release build per test
//! run, deployed by `resetpw up`) with its directory settings pointing at the local directory
//! (Samba AD from scripts/local-directory), the bot and the Connect side in the local cloud, and
//! `resetpw call` ringing the claimed number as a caller would: the local cloud runs the
//! published contact flow, which hands the caller's number and the contact id to the deployed
//! bot and branches on its outcome. Results are checked in the
//! directory (binds, pwdLastSet), in the local cloud's call record (SNS Publish) and in the
//! function's log (the emulator's log endpoint), never in the tool's own output alone.
//!
//! Every test here shares one stack (deploying a line takes a while) and owns one fixture user
//! of scripts/local-directory that no other test file touches. Without the local directory
//! (LOCAL_DIRECTORY_* unset) the tests print why and pass without checking anything;
//! scripts/test always starts it.

mod common;

use common::{cloud_url, stdout, Case};
use ldap3::{LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use resetpw_lambda::handler::{MSG_DONE, MSG_NOT_VERIFIED};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A fixture user of scripts/local-directory and what the caller says for it.
struct User {
    sam: &'static str,
    /// The date of birth as a caller says it.
    dob_spoken: &'static str,
    month: &'static str,
    /// The directory's telephoneNumber, normalized as the SMS goes out.
    phone: &'static str,
}

const LINE: User = User {
    sam: "rp.line",
    dob_spoken: "november twenty third nineteen eighty six",
    month: "November",
    phone: "+15550100021",
};
const WRONG: User = User {
    sam: "rp.linewrong",
    dob_spoken: "20 January 1991",
    month: "January",
    phone: "+15550100022",
};
const LOCK: User = User {
    sam: "rp.linelock",
    dob_spoken: "1977-05-17",
    month: "May",
    phone: "+15550100023",
};
const CALLER: User = User {
    sam: "rp.linecaller",
    dob_spoken: "august twelfth nineteen sixty four",
    month: "August",
    phone: "+15550100024",
};

/// A member of Domain Admins: never served by the line.
const ADMIN: User = User {
    sam: "rp.lineadmin",
    dob_spoken: "december twenty fourth nineteen seventy eight",
    month: "December",
    phone: "+15550100039",
};
const UNLOCK: User = User {
    sam: "rp.lineunlock",
    dob_spoken: "october twentieth nineteen ninety",
    month: "October",
    phone: "+15550100038",
};

/// The local directory's coordinates (scripts/local-directory's exports).
struct Directory {
    url: String,
    ca_file: String,
    base_dn: String,
    bind_dn: String,
    admin_dn: String,
    admin_password: String,
}

impl Directory {
    /// `None` (with the reason printed) when the local directory is not running.
    fn from_env() -> Option<Directory> {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let names = [
            "LOCAL_DIRECTORY_LDAPS_URL",
            "LOCAL_DIRECTORY_CA_FILE",
            "LOCAL_DIRECTORY_BASE_DN",
            "LOCAL_DIRECTORY_BIND_DN",
            "LOCAL_DIRECTORY_BIND_PASSWORD",
            "LOCAL_DIRECTORY_ADMIN_DN",
            "LOCAL_DIRECTORY_ADMIN_PASSWORD",
        ];
        if let Some(missing) = names.iter().find(|n| get(n).is_none()) {
            eprintln!(
                "skipped: {missing} is not set, so the local directory is not running; \
                 run `eval \"$(scripts/local-directory start)\"` first (scripts/test does)"
            );
            return None;
        }
        Some(Directory {
            url: get(names[0])?,
            ca_file: get(names[1])?,
            base_dn: get(names[2])?,
            bind_dn: get(names[3])?,
            admin_dn: get(names[5])?,
            admin_password: get(names[6])?,
        })
    }

    fn user_dn(&self, sam: &str) -> String {
        format!("CN={sam},{}", self.base_dn)
    }

    async fn connect(&self) -> ldap3::Ldap {
        let pem = std::fs::read_to_string(&self.ca_file).expect("the local directory's CA file");
        let tls = resetpw_lambda::ldap::tls_config(&pem).expect("CA parses");
        let (conn, ldap) =
            LdapConnAsync::with_settings(LdapConnSettings::new().set_config(tls), &self.url)
                .await
                .expect("LDAPS connection to the local directory");
        ldap3::drive!(conn);
        ldap
    }

    async fn admin(&self) -> ldap3::Ldap {
        let mut ldap = self.connect().await;
        ldap.simple_bind(&self.admin_dn, &self.admin_password)
            .await
            .expect("admin bind round trip")
            .success()
            .expect("admin bind");
        ldap
    }

    /// Whether `sam` binds with `password`.
    async fn binds(&self, sam: &str, password: &str) -> bool {
        let mut ldap = self.connect().await;
        let rc = ldap
            .simple_bind(&self.user_dn(sam), password)
            .await
            .expect("bind round trip")
            .rc;
        let _ = ldap.unbind().await;
        rc == 0
    }

    /// Gives `sam` a known password (as the domain admin, no change forced at logon) and returns it.
    async fn set_known_password(&self, sam: &str) -> String {
        let password = format!("Known#{:08x}Qz", fastrand::u32(..));
        let quoted: Vec<u8> = format!("\"{password}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut ldap = self.admin().await;
        ldap.modify(
            &self.user_dn(sam),
            vec![
                Mod::Replace(b"unicodePwd".to_vec(), HashSet::from([quoted])),
                Mod::Replace(b"pwdLastSet".to_vec(), HashSet::from([b"-1".to_vec()])),
            ],
        )
        .await
        .expect("modify round trip")
        .success()
        .expect("admin sets the password");
        let _ = ldap.unbind().await;
        password
    }

    async fn attribute(&self, sam: &str, name: &str) -> Option<String> {
        let mut ldap = self.admin().await;
        let (entries, _) = ldap
            .search(
                &self.user_dn(sam),
                Scope::Base,
                "(objectClass=*)",
                vec![name],
            )
            .await
            .expect("search round trip")
            .success()
            .expect("the fixture user exists: run a current scripts/local-directory");
        let _ = ldap.unbind().await;
        let entry = SearchEntry::construct(entries.into_iter().next()?);
        entry.attrs.get(name).and_then(|v| v.first().cloned())
    }
}

/// The deployed line every test talks to.
struct Line {
    case: Case,
    file: PathBuf,
    function: String,
}

/// The bundled Lambda's deployment zip, built once per test run (a release build).
fn package(dir: &Path) -> PathBuf {
    let zip = resetpw::package::build_lambda_zip_quietly(Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("the bundled Lambda builds");
    let path = dir.join("fulfillment.zip");
    std::fs::write(&path, &zip.bytes).expect("write the package");
    path
}

fn stack_file(case: &Case, dir: &Directory, zip: &Path) -> String {
    format!(
        "name: {stack}
region: us-east-1
directory:
  urls: [{url}]
  base_dn: {base}
  bind_dn: {bind}
  ca_file: {ca}
  user_id_attribute: sAMAccountName
  verification:
    date_of_birth: birthDate
    month_started: monthStarted
  phone_attribute: telephoneNumber
secret:
  env: LOCAL_DIRECTORY_BIND_PASSWORD
fulfillment:
  package: {zip}
  memory_mb: 256
  timeout_seconds: 15
  password:
    length: 16
    force_change_at_logon: false
    unlock_account: true
  attempts:
    max_failures: 3
    window_minutes: 15
    lockout_minutes: 60
  caller_id_check: true
bot:
  locale: en_US
  confidence_threshold: 0.4
  utterances:
    - reset my password
    - I forgot my password
connect:
  instance_alias: i-{stack}
  greeting: Welcome to the password reset line.
  agent_queue: BasicQueue
  phone_number:
    country_code: US
    type: DID
    prefix: \"+1206\"
",
        stack = case.stack,
        url = dir.url,
        base = dir.base_dn,
        bind = dir.bind_dn,
        ca = dir.ca_file,
        zip = zip.display(),
    )
}

/// The line, deployed by the first test that needs it (`None` without the local directory).
static DEPLOYED: OnceLock<Option<Line>> = OnceLock::new();

/// How many tests below use the line: the last of them to finish takes it down.
const TESTS_USING_THE_LINE: usize = 7;

/// Held by each test that uses the line for its whole run, and dropped when it ends, passed
/// or failed. The last one takes the line down and removes its scratch directory (the line is
/// a static, which is never dropped). When a filter runs only some of the tests, the line is
/// left behind with the test cloud.
struct Turn;

impl Drop for Turn {
    fn drop(&mut self) {
        static FINISHED: AtomicUsize = AtomicUsize::new(0);
        if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 != TESTS_USING_THE_LINE {
            return;
        }
        if let Some(Some(line)) = DEPLOYED.get() {
            line.take_down();
        }
    }
}

/// The line, deployed by the first test that needs it; `None` without the local directory.
fn line() -> Option<&'static Line> {
    DEPLOYED
        .get_or_init(|| {
            let dir = Directory::from_env()?;
            let case = Case::new("line");
            let zip = package(case.dir.path());
            let file = case.write_raw(&stack_file(&case, &dir, &zip));
            let path = file.to_str().expect("utf-8 path").to_string();
            case.run(&["up", "-f", &path], 0);
            Some(Line {
                function: format!("{}-fulfillment", case.stack),
                case,
                file,
            })
        })
        .as_ref()
}

impl Line {
    /// `down`, then checks with the SDK that the function, the bot and the Connect instance
    /// are gone, and removes the scratch directory (the 4 MB deployment package).
    fn take_down(&self) {
        let out = self
            .case
            .resetpw(&[
                "down",
                "-f",
                self.file.to_str().expect("utf-8 path"),
                "--yes",
                "--release-phone-number",
            ])
            .output()
            .expect("resetpw runs");
        let _ = std::fs::remove_dir_all(self.case.dir.path());
        if std::thread::panicking() {
            return;
        }
        assert!(
            out.status.success(),
            "down failed: {}{}",
            stdout(&out),
            common::stderr(&out)
        );
        // The checks run on a runtime of their own: this runs in a test's drop, inside its
        // runtime, where blocking on another future is not allowed.
        let (function, stack) = (self.function.clone(), self.case.stack.clone());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(async move {
                    let sdk = common::sdk().await;
                    let lambda = aws_sdk_lambda::Client::new(&sdk);
                    let gone = lambda.get_function().function_name(&function).send().await;
                    assert!(
                        gone.as_ref()
                            .err()
                            .and_then(|e| e.as_service_error())
                            .is_some_and(|e| e.is_resource_not_found_exception()),
                        "the function outlived down: {gone:?}"
                    );
                    let bots = aws_sdk_lexmodelsv2::Client::new(&sdk)
                        .list_bots()
                        .send()
                        .await
                        .expect("ListBots");
                    let name = format!("{stack}-resetpw");
                    assert!(
                        !bots
                            .bot_summaries()
                            .iter()
                            .any(|b| b.bot_name() == Some(&name)),
                        "the bot outlived down"
                    );
                    let instances = aws_sdk_connect::Client::new(&sdk)
                        .list_instances()
                        .send()
                        .await
                        .expect("ListInstances");
                    let alias = format!("i-{stack}");
                    assert!(
                        !instances
                            .instance_summary_list()
                            .iter()
                            .any(|i| i.instance_alias() == Some(&alias)),
                        "the Connect instance outlived down"
                    );
                })
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }

    /// The arguments of `resetpw call -o json` from `caller`, expecting the contact to end as
    /// `expect` says (exit 0).
    fn call_args<'a>(&'a self, caller: &'a str, expect: &'a str) -> Vec<&'a str> {
        vec![
            "call",
            "-f",
            self.file.to_str().expect("utf-8 path"),
            "--from",
            caller,
            "--expect",
            expect,
            "-o",
            "json",
        ]
    }

    /// `resetpw call -o json` from `caller` with these turns given up front (`--say`); returns
    /// the transcript and the contact id (which the flow gives the bot, and the audit lines
    /// carry).
    fn call(&self, caller: &str, says: &[&str], expect: &str) -> (Value, String) {
        let mut args = self.call_args(caller, expect);
        for s in says {
            args.extend(["--say", s]);
        }
        let out = self.case.run(&args, 0);
        Self::called(&out, expect)
    }

    /// The same call by a caller who holds the phone on record: the turns go to `resetpw call`'s
    /// standard input, which it reads as the line waits for them, and once the one-time code
    /// has been texted to `phone` during the call (the local cloud's SMS record, as the phone
    /// would show it) the caller says it. Returns the transcript, the contact id and the code's
    /// SMS text.
    async fn call_with_code(
        &self,
        caller: &str,
        says: &[&str],
        phone: &str,
        expect: &str,
    ) -> (Value, String, String) {
        use std::io::Write as _;
        let texted_before = self.sms_to(phone).await;
        let mut cmd = self.case.resetpw(&self.call_args(caller, expect));
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("resetpw runs");
        let mut stdin = child.stdin.take().expect("stdin piped");
        for s in says {
            writeln!(stdin, "{s}").expect("the turns reach resetpw call");
        }
        let mut text = None;
        for _ in 0..300 {
            let to_phone: Vec<String> = self
                .sms()
                .await
                .into_iter()
                .filter(|(to, _)| to == phone)
                .map(|(_, m)| m)
                .collect();
            if let Some(m) = to_phone.get(texted_before) {
                text = Some(m.clone());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let Some(text) = text else {
            drop(stdin);
            let out = child.wait_with_output().expect("resetpw ends");
            panic!(
                "no code texted to {phone} during the call\n--- stdout\n{}\n--- stderr\n{}",
                stdout(&out),
                common::stderr(&out)
            );
        };
        let code = code_in(&text);
        writeln!(stdin, "{code}").expect("the code reaches resetpw call");
        drop(stdin);
        let out = child.wait_with_output().expect("resetpw ends");
        assert_eq!(
            out.status.code(),
            Some(0),
            "resetpw call exited otherwise\n--- stdout\n{}\n--- stderr\n{}",
            stdout(&out),
            common::stderr(&out)
        );
        let (call, contact) = Self::called(&out, expect);
        (call, contact, text)
    }

    fn called(out: &std::process::Output, expect: &str) -> (Value, String) {
        let call: Value = serde_json::from_str(&stdout(out)).expect("call -o json is JSON");
        assert_eq!(call["outcome"], expect, "{call:#}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("password is"),
            "the SMS text on stderr"
        );
        let contact = call["contact_id"]
            .as_str()
            .expect("a contact id")
            .to_string();
        (call, contact)
    }

    /// SNS Publish calls the function made: (PhoneNumber, Message).
    async fn sms(&self) -> Vec<(String, String)> {
        let url = format!("{}/_localcloud/calls?app={}", cloud_url(), self.function);
        let calls: Vec<Value> = reqwest::get(url)
            .await
            .expect("call record")
            .json()
            .await
            .expect("call record JSON");
        calls
            .iter()
            .filter(|c| c["service"] == "sns" && c["operation"] == "Publish")
            .map(|c| {
                (
                    c["params"]["PhoneNumber"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    c["params"]["Message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    async fn sms_to(&self, phone: &str) -> usize {
        self.sms()
            .await
            .iter()
            .filter(|(to, _)| to == phone)
            .count()
    }

    /// Every line the function's processes printed (and Lambda's START/END/REPORT lines).
    async fn log(&self) -> Vec<String> {
        let url = format!(
            "{}/_localcloud/lambda/logs?function={}",
            cloud_url(),
            self.function
        );
        let lines: Vec<Value> = reqwest::get(url)
            .await
            .expect("function log")
            .json()
            .await
            .expect("function log JSON");
        lines
            .iter()
            .filter_map(|l| l["message"].as_str().map(str::to_string))
            .collect()
    }

    /// The audit lines (JSON on the function's stdout) for one contact, as `outcome/reason`.
    async fn audits(&self, contact: &str) -> Vec<String> {
        self.log()
            .await
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["audit"] == "resetpw" && v["contact_id"] == contact)
            .map(|v| {
                format!(
                    "{}/{}",
                    v["outcome"].as_str().unwrap_or(""),
                    v["reason"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

/// The one-time code in the text of a code SMS.
fn code_in(text: &str) -> String {
    text.split(" code is ")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
        .expect("the SMS carries a code")
}

/// The bot's last message of a call's transcript.
fn last_bot_message(call: &Value) -> String {
    call["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["speaker"] == "bot")
        .filter_map(|l| l["text"].as_str())
        .next_back()
        .unwrap_or_default()
        .to_string()
}

fn says(user: &User, id: &'static str) -> [&'static str; 4] {
    ["reset my password", id, user.dob_spoken, user.month]
}

#[tokio::test]
async fn a_caller_who_answers_right_and_keys_the_texted_code_gets_a_new_password_by_sms() {
    let _turn = Turn;
    let Some(dir) = Directory::from_env() else {
        return;
    };
    let line = line().expect("deployed");
    let old = dir.set_known_password(LINE.sam).await;
    let before = dir.attribute(LINE.sam, "pwdLastSet").await;

    let (call, contact, code_text) = line
        .call_with_code(LINE.phone, &says(&LINE, LINE.sam), LINE.phone, "fulfilled")
        .await;
    let transcript = call.to_string();
    assert!(
        last_bot_message(&call).starts_with(MSG_DONE),
        "{transcript}"
    );
    assert_eq!(call["end"]["state"], "disconnected", "{transcript}");
    // The caller heard the line ask for the code, and keyed it.
    assert!(transcript.contains("six-digit code"), "{transcript}");
    // What the caller keyed is not printed, even after its use.
    let code = code_in(&code_text);
    assert!(!transcript.contains(&code), "{transcript}");
    assert!(
        transcript.contains(resetpw::call::CODE_HIDDEN),
        "{transcript}"
    );
    assert!(!code_text.contains(LINE.sam), "the code SMS names the user");

    // Exactly two SMS from the whole line (no other test's caller gets one), both to the
    // number on record ("+1 (555) 010-0021" in the directory): the code, then the password.
    let sms = line.sms().await;
    let to_line: Vec<_> = sms.iter().filter(|(to, _)| to == LINE.phone).collect();
    assert_eq!(
        to_line.len(),
        2,
        "{:?}",
        sms.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    assert_eq!(to_line[0].1, code_text);
    let sms = [to_line[1].clone()];
    let new = sms[0]
        .1
        .split("password is ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the SMS carries the password")
        .to_string();
    assert!(new.len() >= 16, "a 16-character password");

    // The directory took it: the new password binds (a wrong one does not) and pwdLastSet
    // moved. (Samba still accepts the old password for a while after a reset, like AD's old
    // password allowed period, so a bind with it proves nothing either way.)
    assert!(dir.binds(LINE.sam, &new).await, "new password refused");
    assert!(!dir.binds(LINE.sam, "Not-the-Passw0rd").await);
    assert_ne!(dir.attribute(LINE.sam, "pwdLastSet").await, before);
    assert_ne!(new, old);

    // Never printed: not by call, not in the function's log, which has the audit line.
    assert!(!transcript.contains(&new));
    let log = line.log().await;
    assert!(log.iter().all(|l| !l.contains(&new)), "password in the log");
    let audits = line.audits(&contact).await;
    assert_eq!(
        audits.last().map(String::as_str),
        Some("fulfilled/reset"),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_wrong_date_of_birth_changes_nothing_and_sends_nothing() {
    let _turn = Turn;
    let Some(dir) = Directory::from_env() else {
        return;
    };
    let line = line().expect("deployed");
    let known = dir.set_known_password(WRONG.sam).await;
    let before = dir.attribute(WRONG.sam, "pwdLastSet").await;

    let wrong = User {
        dob_spoken: "21 January 1991",
        ..WRONG
    };
    // Not verified: the flow hands the caller to an agent.
    let (call, contact) = line.call(WRONG.phone, &says(&wrong, WRONG.sam), "queued");
    assert_eq!(last_bot_message(&call), MSG_NOT_VERIFIED, "{call:#}");

    assert!(dir.binds(WRONG.sam, &known).await, "password changed");
    assert_eq!(dir.attribute(WRONG.sam, "pwdLastSet").await, before);
    assert_eq!(line.sms_to(WRONG.phone).await, 0);
    assert_eq!(
        line.audits(&contact).await.last().map(String::as_str),
        Some("refused/wrong_answer")
    );
}

#[tokio::test]
async fn an_unknown_user_hears_the_same_generic_message() {
    let _turn = Turn;
    if Directory::from_env().is_none() {
        return;
    }
    let line = line().expect("deployed");
    let (call, contact) = line.call(
        "+15550100099",
        &["reset my password", "no.such.user", "1 May 1980", "May"],
        "queued",
    );
    assert_eq!(last_bot_message(&call), MSG_NOT_VERIFIED, "{call:#}");
    assert_eq!(line.sms_to("+15550100099").await, 0);
    assert_eq!(
        line.audits(&contact).await.last().map(String::as_str),
        Some("refused/unknown_user")
    );
}

#[tokio::test]
async fn a_caller_number_other_than_the_phone_on_record_is_refused() {
    let _turn = Turn;
    let Some(dir) = Directory::from_env() else {
        return;
    };
    let line = line().expect("deployed");
    let known = dir.set_known_password(CALLER.sam).await;
    // The demo's second call: the right answers from another number end queued for an agent.
    let (call, contact) = line.call("+15559990000", &says(&CALLER, CALLER.sam), "queued");
    assert_eq!(last_bot_message(&call), MSG_NOT_VERIFIED, "{call:#}");
    assert_eq!(call["end"]["queue"], "BasicQueue", "{call:#}");
    assert!(dir.binds(CALLER.sam, &known).await, "password changed");
    assert_eq!(line.sms_to(CALLER.phone).await, 0);
    assert_eq!(
        line.audits(&contact).await.last().map(String::as_str),
        Some("refused/caller_id_mismatch")
    );
}

#[tokio::test]
async fn three_failures_lock_the_user_out_even_with_the_right_answers() {
    let _turn = Turn;
    let Some(dir) = Directory::from_env() else {
        return;
    };
    let line = line().expect("deployed");
    let known = dir.set_known_password(LOCK.sam).await;
    let wrong = User {
        month: "June",
        ..LOCK
    };
    for _ in 0..3 {
        let (call, _) = line.call(LOCK.phone, &says(&wrong, LOCK.sam), "queued");
        assert_eq!(last_bot_message(&call), MSG_NOT_VERIFIED, "{call:#}");
    }
    let (call, contact) = line.call(LOCK.phone, &says(&LOCK, LOCK.sam), "queued");
    assert_eq!(last_bot_message(&call), MSG_NOT_VERIFIED, "{call:#}");

    assert!(dir.binds(LOCK.sam, &known).await, "password changed");
    assert_eq!(line.sms_to(LOCK.phone).await, 0);
    assert_eq!(
        line.audits(&contact).await.last().map(String::as_str),
        Some("refused/locked_out")
    );
}

#[tokio::test]
async fn a_privileged_account_hears_the_wrong_answer_message_and_nothing_is_texted() {
    let _turn = Turn;
    let Some(dir) = Directory::from_env() else {
        return;
    };
    let line = line().expect("deployed");
    let known = dir.set_known_password(ADMIN.sam).await;
    let before = dir.attribute(ADMIN.sam, "pwdLastSet").await;
    // The right answers from the phone on record: still refused before any code is sent, with
    // the answer a wrong date of birth gets, and handed to a person.
    let (call, contact) = line.call(ADMIN.phone, &says(&ADMIN, ADMIN.sam), "queued");
    assert_eq!(last_bot_message(&call), MSG_NOT_VERIFIED, "{call:#}");
    assert!(dir.binds(ADMIN.sam, &known).await, "password changed");
    assert_eq!(dir.attribute(ADMIN.sam, "pwdLastSet").await, before);
    assert_eq!(line.sms_to(ADMIN.phone).await, 0, "a code was texted");
    assert_eq!(
        line.audits(&contact).await.last().map(String::as_str),
        Some("refused/privileged")
    );
    // The agent sees how far the line got, never why.
    assert_eq!(call["attributes"]["resetpw_verified"], "none", "{call:#}");
}

#[tokio::test]
async fn a_locked_out_caller_with_the_code_is_unlocked_and_keeps_the_password() {
    let _turn = Turn;
    let Some(dir) = Directory::from_env() else {
        return;
    };
    let line = line().expect("deployed");
    let known = dir.set_known_password(UNLOCK.sam).await;
    // Five failed binds lock the account (the local directory's lockout policy).
    for _ in 0..5 {
        assert!(!dir.binds(UNLOCK.sam, "Not#The1Password").await);
    }
    let locked = dir.attribute(UNLOCK.sam, "lockoutTime").await;
    assert!(
        locked.as_deref().is_some_and(|t| t != "0"),
        "failed binds set lockoutTime: {locked:?}"
    );
    let (call, contact, _) = line
        .call_with_code(
            UNLOCK.phone,
            &[
                "my account is locked",
                UNLOCK.sam,
                UNLOCK.dob_spoken,
                UNLOCK.month,
            ],
            UNLOCK.phone,
            "fulfilled",
        )
        .await;
    assert!(
        call.to_string()
            .contains(resetpw::resources::connect::UNLOCKED_GOODBYE),
        "{call:#}"
    );
    assert_eq!(
        dir.attribute(UNLOCK.sam, "lockoutTime").await.as_deref(),
        Some("0")
    );
    assert!(
        dir.binds(UNLOCK.sam, &known).await,
        "the old password binds"
    );
    // The code and the confirmation, nothing else.
    let texts: Vec<String> = line
        .sms()
        .await
        .into_iter()
        .filter(|(to, _)| to == UNLOCK.phone)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        !texts[1].contains("password is"),
        "the unlock texted a password"
    );
    assert_eq!(
        line.audits(&contact).await.last().map(String::as_str),
        Some("fulfilled/unlock")
    );
}
