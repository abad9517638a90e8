//! Helpers shared by the local cloud's SDK conformance tests: Lex V2 clients and model-building
//! steps (lex.rs, lex_runtime.rs), the running local cloud's address, unique names and test
//! deployment zips (lambda.rs, lex_runtime.rs). Each test file uses only some of them.
#![allow(dead_code)]

use aws_sdk_lexmodelsv2::client::Waiters;
use aws_sdk_lexmodelsv2::config::{
    AppName, AsyncSleep, BehaviorVersion, Credentials, Region, Sleep,
};
use aws_sdk_lexmodelsv2::types::{
    DataPrivacy, Message, MessageGroup, PlainTextMessage, PromptSpecification, SlotConstraint,
    SlotValueElicitationSetting, VoiceSettings,
};
use aws_sdk_lexmodelsv2::Client;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub type R = Result<(), Box<dyn std::error::Error>>;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/resetpw/demo-bot";
pub const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:demo-fulfillment";
pub const WAIT: Duration = Duration::from_secs(120);

/// The running local cloud's base URL; fails loudly when it is not running.
pub fn cloud_url() -> String {
    std::env::var("LOCAL_CLOUD_URL").unwrap_or_else(|_| {
        panic!("LOCAL_CLOUD_URL is not set: run the tests with scripts/test, or `eval \"$(scripts/local-cloud start)\"` first")
    })
}

/// The endpoint the SDK clients of the running local cloud use.
pub fn endpoint_url() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests with scripts/test, or `eval \"$(scripts/local-cloud start)\"` first")
    })
}

/// A name no other test (or earlier run against the same local cloud) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!(
        "{prefix}-{}-{n}-{}",
        std::process::id() % 100_000,
        fastrand::u32(..10_000)
    )
}

/// A deployment zip holding `script` as the executable `bootstrap` (mode 755).
pub fn zip_bootstrap(script: &str) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        writer.start_file("bootstrap", options).expect("zip entry");
        writer.write_all(script.as_bytes()).expect("zip write");
        writer.finish().expect("zip finish");
    }
    out.into_inner()
}

/// The SDK's waiters poll every 10 s at least; this sleep makes their (and retries') pauses
/// 50 times shorter, so a wait still polls a status that is not final yet, then the final one.
#[derive(Debug)]
pub struct FastSleep;

impl AsyncSleep for FastSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(duration / 50))
    }
}

/// Runs a test's steps on a thread with a large stack: in debug builds the SDK's futures, held
/// across the many awaits of one test, outgrow the default 2 MiB of a test thread.
pub fn run<F, Fut>(steps: F) -> R
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R>,
{
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(steps()).map_err(|e| format!("{e:?}"))
        })?
        .join()
        .map_err(|_| "the test thread panicked")??;
    Ok(())
}

/// A Lex V2 model-building client for the endpoint `url`, its calls tagged with `app`.
pub fn lex_client(url: &str, app: &str) -> Client {
    let conf = aws_sdk_lexmodelsv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .sleep_impl(FastSleep)
        .app_name(AppName::new(app.to_string()).unwrap())
        .build();
    Client::from_conf(conf)
}

pub fn prompt(text: &str, retries: i32) -> Result<PromptSpecification, Box<dyn std::error::Error>> {
    Ok(PromptSpecification::builder()
        .message_groups(
            MessageGroup::builder()
                .message(
                    Message::builder()
                        .plain_text_message(PlainTextMessage::builder().value(text).build()?)
                        .build(),
                )
                .build(),
        )
        .max_retries(retries)
        .build()?)
}

/// A required slot's elicitation: `text` as its prompt, 2 retries.
pub fn required_slot(
    text: &str,
) -> Result<SlotValueElicitationSetting, Box<dyn std::error::Error>> {
    Ok(SlotValueElicitationSetting::builder()
        .slot_constraint(SlotConstraint::Required)
        .prompt_specification(prompt(text, 2)?)
        .build()?)
}

pub async fn create_bot(lex: &Client, name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let bot = lex
        .create_bot()
        .bot_name(name)
        .role_arn(ROLE)
        .data_privacy(DataPrivacy::builder().child_directed(false).build())
        .idle_session_ttl_in_seconds(300)
        .bot_tags("resetpw:stack", "demo")
        .send()
        .await?;
    Ok(bot.bot_id().unwrap_or_default().to_string())
}

/// The en_US DRAFT locale (threshold 0.4, voice Joanna), waited for until created.
pub async fn create_locale(lex: &Client, bot_id: &str) -> R {
    lex.create_bot_locale()
        .bot_id(bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .nlu_intent_confidence_threshold(0.4)
        .voice_settings(VoiceSettings::builder().voice_id("Joanna").build()?)
        .send()
        .await?;
    lex.wait_until_bot_locale_created()
        .bot_id(bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await?;
    Ok(())
}

pub fn alias_arn(bot_id: &str, alias_id: &str) -> String {
    format!("arn:aws:lex:us-east-1:123456789012:bot-alias/{bot_id}/{alias_id}")
}
