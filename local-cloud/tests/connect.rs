//! Amazon Connect in the local cloud, checked with the official SDK (aws-sdk-connect): every
//! operation resetpw uses, their error types, the acted-out faults and the call record. Each test
//! starts the real `local-cloud` binary on a free loopback port (no moto is needed: Connect is
//! answered by the emulator itself).

use aws_sdk_connect::config::retry::RetryConfig;
use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_connect::error::ProvideErrorMetadata;
use aws_sdk_connect::types::{
    ContactFlowStatus, ContactFlowType, DirectoryType, InstanceStatus, LexV2Bot, LexVersion,
    PhoneNumberCountryCode, PhoneNumberType, PhoneNumberWorkflowStatus, QueueType,
};
use aws_sdk_connect::Client;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `local-cloud` process, killed when dropped.
struct Cloud {
    url: String,
    child: Child,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cloud {
    fn start() -> Cloud {
        let mut child = Command::new(env!("CARGO_BIN_EXE_local-cloud"))
            .args(["--port", "0", "--moto-url", "http://127.0.0.1:9"])
            .env("LOCAL_CLOUD_CONNECT_DELAY_MS", "150")
            // Lex's status changes (for the bot alias the association needs) nearly at once.
            .env("LOCAL_CLOUD_LEX_DELAY_MS", "10")
            .stderr(Stdio::piped())
            .spawn()
            .expect("the local-cloud binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut line = String::new();
        BufReader::new(stderr)
            .read_line(&mut line)
            .expect("local-cloud prints where it listens");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches(',')
            .to_string();
        Cloud { url, child }
    }

    fn client(&self) -> Client {
        self.client_with(RetryConfig::standard())
    }

    fn client_with(&self, retry: RetryConfig) -> Client {
        let config = aws_sdk_connect::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
            .endpoint_url(&self.url)
            .retry_config(retry)
            .build();
        Client::from_conf(config)
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request.send().await.expect("the control API answers");
        let bytes = answer.bytes().await.expect("a body");
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    fn lex(&self) -> aws_sdk_lexmodelsv2::Client {
        let config = aws_sdk_lexmodelsv2::Config::builder()
            .behavior_version(aws_sdk_lexmodelsv2::config::BehaviorVersion::latest())
            .region(aws_sdk_lexmodelsv2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_lexmodelsv2::config::Credentials::new(
                "AKIDLOCAL",
                "secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(&self.url)
            .build();
        aws_sdk_lexmodelsv2::Client::from_conf(config)
    }

    /// A real bot alias in the Lex emulator (bot, locale, one intent, build, version 1, alias
    /// `live`), as AssociateBot needs one that exists; returns its ARN.
    async fn bot_alias(&self, name: &str) -> String {
        use aws_sdk_lexmodelsv2::types::{DataPrivacy, SampleUtterance, VoiceSettings};
        let lex = self.lex();
        let bot = lex
            .create_bot()
            .bot_name(name)
            .role_arn("arn:aws:iam::123456789012:role/resetpw/connect-test-bot")
            .data_privacy(DataPrivacy::builder().child_directed(false).build())
            .idle_session_ttl_in_seconds(300)
            .send()
            .await
            .expect("CreateBot");
        let bot_id = bot.bot_id().unwrap().to_string();
        let status = |s: Option<&str>, want: &str| s == Some(want);
        until(|| async {
            let b = lex.describe_bot().bot_id(&bot_id).send().await.unwrap();
            status(b.bot_status().map(|s| s.as_str()), "Available")
        })
        .await;
        lex.create_bot_locale()
            .bot_id(&bot_id)
            .bot_version("DRAFT")
            .locale_id("en_US")
            .nlu_intent_confidence_threshold(0.4)
            .voice_settings(VoiceSettings::builder().voice_id("Joanna").build().unwrap())
            .send()
            .await
            .expect("CreateBotLocale");
        let locale_is = |want: &'static str| {
            let lex = lex.clone();
            let bot_id = bot_id.clone();
            move || {
                let (lex, bot_id) = (lex.clone(), bot_id.clone());
                async move {
                    let l = lex
                        .describe_bot_locale()
                        .bot_id(&bot_id)
                        .bot_version("DRAFT")
                        .locale_id("en_US")
                        .send()
                        .await
                        .unwrap();
                    l.bot_locale_status().map(|s| s.as_str()) == Some(want)
                }
            }
        };
        until(locale_is("NotBuilt")).await;
        lex.create_intent()
            .bot_id(&bot_id)
            .bot_version("DRAFT")
            .locale_id("en_US")
            .intent_name("ResetPW")
            .sample_utterances(
                SampleUtterance::builder()
                    .utterance("reset my password")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("CreateIntent");
        lex.build_bot_locale()
            .bot_id(&bot_id)
            .bot_version("DRAFT")
            .locale_id("en_US")
            .send()
            .await
            .expect("BuildBotLocale");
        until(locale_is("Built")).await;
        lex.create_bot_version()
            .bot_id(&bot_id)
            .bot_version_locale_specification(
                "en_US",
                aws_sdk_lexmodelsv2::types::BotVersionLocaleDetails::builder()
                    .source_bot_version("DRAFT")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("CreateBotVersion");
        until(|| async {
            let v = lex
                .describe_bot_version()
                .bot_id(&bot_id)
                .bot_version("1")
                .send()
                .await
                .unwrap();
            status(v.bot_status().map(|s| s.as_str()), "Available")
        })
        .await;
        let alias = lex
            .create_bot_alias()
            .bot_id(&bot_id)
            .bot_alias_name("live")
            .bot_version("1")
            .send()
            .await
            .expect("CreateBotAlias");
        let alias_id = alias.bot_alias_id().unwrap().to_string();
        until(|| async {
            let a = lex
                .describe_bot_alias()
                .bot_id(&bot_id)
                .bot_alias_id(&alias_id)
                .send()
                .await
                .unwrap();
            status(a.bot_alias_status().map(|s| s.as_str()), "Available")
        })
        .await;
        format!("arn:aws:lex:us-east-1:123456789012:bot-alias/{bot_id}/{alias_id}")
    }

    async fn fault(&self, rule: Value) {
        self.control(reqwest::Method::POST, "/_localcloud/faults", Some(rule))
            .await;
    }

    async fn calls(&self) -> Vec<Value> {
        match self
            .control(reqwest::Method::GET, "/_localcloud/calls", None)
            .await
        {
            Value::Array(calls) => calls,
            other => panic!("the call record is a list, not {other}"),
        }
    }
}

/// A Lex V2 alias ARN for flow content, whose check looks at its form only. AssociateBot needs
/// an alias that exists: that test makes one with `Cloud::bot_alias`.
const ALIAS_ARN: &str = "arn:aws:lex:us-east-1:123456789012:bot-alias/BOTID01234/ALIASID012";

/// Polls `check` until it holds (at most 10 s).
async fn until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the Lex emulator never reached the state");
}

async fn wait_active(client: &Client, id: &str) -> InstanceStatus {
    for _ in 0..200 {
        let instance = client
            .describe_instance()
            .instance_id(id)
            .send()
            .await
            .expect("DescribeInstance");
        let status = instance
            .instance()
            .and_then(|i| i.instance_status())
            .cloned()
            .expect("a status");
        if status != InstanceStatus::CreationInProgress {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("instance {id} never left CREATION_IN_PROGRESS");
}

async fn create_instance(client: &Client, alias: &str) -> (String, String) {
    let created = client
        .create_instance()
        .identity_management_type(DirectoryType::ConnectManaged)
        .instance_alias(alias)
        .inbound_calls_enabled(true)
        .outbound_calls_enabled(false)
        .tags("resetpw:stack", "demo")
        .send()
        .await
        .expect("CreateInstance");
    let id = created.id().expect("an id").to_string();
    let arn = created.arn().expect("an ARN").to_string();
    assert_eq!(wait_active(client, &id).await, InstanceStatus::Active);
    (id, arn)
}

async fn basic_queue_arn(client: &Client, instance: &str) -> String {
    let queues = client
        .list_queues()
        .instance_id(instance)
        .queue_types(QueueType::Standard)
        .send()
        .await
        .expect("ListQueues");
    queues
        .queue_summary_list()
        .iter()
        .find(|q| q.name() == Some("BasicQueue"))
        .and_then(|q| q.arn())
        .expect("BasicQueue is listed")
        .to_string()
}

/// The password-reset flow: greeting → bot → outcome → queue, every error handled.
fn reset_flow(queue_arn: &str, greeting: &str) -> String {
    json!({"Version":"2019-10-30","StartAction":"greeting","Metadata":{},"Actions":[
      {"Identifier":"greeting","Type":"MessageParticipant","Parameters":{"Text":greeting},
       "Transitions":{"NextAction":"bot","Errors":[{"ErrorType":"NoMatchingError","NextAction":"bot"}]}},
      {"Identifier":"bot","Type":"ConnectParticipantWithLexBot",
       "Parameters":{"Text":"How can I help?","LexV2Bot":{"AliasArn":ALIAS_ARN},
         "LexSessionAttributes":{"CallerNumber":"$.CustomerEndpoint.Address","ContactId":"$.ContactId"}},
       "Transitions":{"NextAction":"set-queue",
         "Conditions":[{"NextAction":"outcome","Condition":{"Operator":"Equals","Operands":["ResetPW"]}}],
         "Errors":[{"ErrorType":"NoMatchingCondition","NextAction":"set-queue"},
                   {"ErrorType":"NoMatchingError","NextAction":"set-queue"}]}},
      {"Identifier":"outcome","Type":"Compare","Parameters":{"ComparisonValue":"$.Lex.SessionAttributes.ResetOutcome"},
       "Transitions":{"NextAction":"set-queue",
         "Conditions":[{"NextAction":"bye","Condition":{"Operator":"Equals","Operands":["fulfilled"]}}],
         "Errors":[{"ErrorType":"NoMatchingCondition","NextAction":"set-queue"}]}},
      {"Identifier":"set-queue","Type":"UpdateContactTargetQueue","Parameters":{"QueueId":queue_arn},
       "Transitions":{"NextAction":"to-queue","Errors":[{"ErrorType":"NoMatchingError","NextAction":"later"}]}},
      {"Identifier":"to-queue","Type":"TransferContactToQueue","Parameters":{},
       "Transitions":{"NextAction":"later","Errors":[{"ErrorType":"QueueAtCapacity","NextAction":"later"},
                                                    {"ErrorType":"NoMatchingError","NextAction":"later"}]}},
      {"Identifier":"later","Type":"MessageParticipant","Parameters":{"Text":"Please call back later."},
       "Transitions":{"NextAction":"end","Errors":[{"ErrorType":"NoMatchingError","NextAction":"end"}]}},
      {"Identifier":"bye","Type":"MessageParticipant","Parameters":{"Text":"Goodbye."},
       "Transitions":{"NextAction":"end","Errors":[{"ErrorType":"NoMatchingError","NextAction":"end"}]}},
      {"Identifier":"end","Type":"DisconnectParticipant","Parameters":{},"Transitions":{}}]})
    .to_string()
}

async fn search(client: &Client, instance: &str, prefix: &str) -> Vec<String> {
    client
        .search_available_phone_numbers()
        .instance_id(instance)
        .phone_number_country_code(PhoneNumberCountryCode::Us)
        .phone_number_type(PhoneNumberType::Did)
        .phone_number_prefix(prefix)
        .max_results(10)
        .send()
        .await
        .expect("SearchAvailablePhoneNumbers")
        .available_numbers_list()
        .iter()
        .filter_map(|n| n.phone_number().map(str::to_string))
        .collect()
}

async fn wait_claim(client: &Client, id: &str) -> PhoneNumberWorkflowStatus {
    for _ in 0..200 {
        let described = client
            .describe_phone_number()
            .phone_number_id(id)
            .send()
            .await
            .expect("DescribePhoneNumber");
        let status = described
            .claimed_phone_number_summary()
            .and_then(|s| s.phone_number_status())
            .and_then(|s| s.status())
            .cloned()
            .expect("a claim status");
        if status != PhoneNumberWorkflowStatus::InProgress {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("number {id} never left IN_PROGRESS");
}

async fn claim(client: &Client, instance: &str, number: &str) -> (String, String) {
    let claimed = client
        .claim_phone_number()
        .instance_id(instance)
        .phone_number(number)
        .tags("resetpw:stack", "demo")
        .send()
        .await
        .expect("ClaimPhoneNumber");
    (
        claimed.phone_number_id().expect("an id").to_string(),
        claimed.phone_number_arn().expect("an ARN").to_string(),
    )
}

#[tokio::test]
async fn an_instance_is_created_active_with_basic_queue_and_default_flows() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let created = client
        .create_instance()
        .identity_management_type(DirectoryType::ConnectManaged)
        .instance_alias("resetpw-demo")
        .inbound_calls_enabled(true)
        .outbound_calls_enabled(false)
        .tags("resetpw:stack", "demo")
        .send()
        .await
        .expect("CreateInstance");
    let id = created.id().unwrap();
    assert_eq!(id.len(), 36, "instance ids are UUIDs");
    assert_eq!(
        created.arn().unwrap(),
        format!("arn:aws:connect:us-east-1:123456789012:instance/{id}")
    );
    assert_eq!(wait_active(&client, id).await, InstanceStatus::Active);

    let described = client
        .describe_instance()
        .instance_id(id)
        .send()
        .await
        .unwrap();
    let instance = described.instance().unwrap();
    assert_eq!(instance.instance_alias(), Some("resetpw-demo"));
    assert_eq!(instance.inbound_calls_enabled(), Some(true));
    assert_eq!(instance.outbound_calls_enabled(), Some(false));
    assert!(instance.created_time().unwrap().secs() > 1_700_000_000);
    assert_eq!(
        instance
            .tags()
            .unwrap()
            .get("resetpw:stack")
            .map(String::as_str),
        Some("demo")
    );
    // The ARN works where the id does.
    let by_arn = client
        .describe_instance()
        .instance_id(created.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(by_arn.instance().unwrap().id(), Some(id));

    let listed = client.list_instances().send().await.unwrap();
    assert_eq!(listed.instance_summary_list().len(), 1);
    assert_eq!(
        listed.instance_summary_list()[0].instance_status(),
        Some(&InstanceStatus::Active)
    );

    let queue_arn = basic_queue_arn(&client, id).await;
    assert!(queue_arn.starts_with(&format!("{}/queue/", created.arn().unwrap())));
    let agent_queues = client
        .list_queues()
        .instance_id(id)
        .queue_types(QueueType::Agent)
        .send()
        .await
        .unwrap();
    assert!(agent_queues.queue_summary_list().is_empty());

    // Default flows, read in pages of 2.
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_contact_flows()
            .instance_id(id)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.contact_flow_summary_list().len() <= 2);
        names.extend(page.contact_flow_summary_list().iter().map(|f| {
            (
                f.name().unwrap().to_string(),
                f.contact_flow_type().cloned(),
            )
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert!(names.len() >= 8, "{names:?}");
    assert!(names.contains(&(
        "Default customer queue".into(),
        Some(ContactFlowType::CustomerQueue)
    )));
    let queue_flows = client
        .list_contact_flows()
        .instance_id(id)
        .contact_flow_types(ContactFlowType::CustomerQueue)
        .send()
        .await
        .unwrap();
    assert!(queue_flows
        .contact_flow_summary_list()
        .iter()
        .all(|f| f.contact_flow_type() == Some(&ContactFlowType::CustomerQueue)));

    client
        .delete_instance()
        .instance_id(id)
        .send()
        .await
        .unwrap();
    let gone = client
        .describe_instance()
        .instance_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    assert_eq!(gone.raw_response().unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn instance_errors_and_a_failed_creation() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let bad_alias = client
        .create_instance()
        .identity_management_type(DirectoryType::ConnectManaged)
        .instance_alias("d-not-allowed")
        .inbound_calls_enabled(true)
        .outbound_calls_enabled(false)
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_alias.code(), Some("InvalidRequestException"));
    assert!(bad_alias.message().unwrap().contains("d-"));

    create_instance(&client, "taken").await;
    let again = client
        .create_instance()
        .identity_management_type(DirectoryType::ConnectManaged)
        .instance_alias("taken")
        .inbound_calls_enabled(true)
        .outbound_calls_enabled(false)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("InvalidRequestException"));

    cloud
        .fault(
            json!({"service":"connect","operation":"CreateInstance","status":400,
                      "code":"InstanceCreationFailed","remaining":1}),
        )
        .await;
    let created = client
        .create_instance()
        .identity_management_type(DirectoryType::ConnectManaged)
        .instance_alias("doomed")
        .inbound_calls_enabled(true)
        .outbound_calls_enabled(false)
        .send()
        .await
        .expect("CreateInstance is accepted before it fails");
    let id = created.id().unwrap();
    assert_eq!(
        wait_active(&client, id).await,
        InstanceStatus::CreationFailed
    );
    let described = client
        .describe_instance()
        .instance_id(id)
        .send()
        .await
        .unwrap();
    assert!(described
        .instance()
        .and_then(|i| i.status_reason())
        .and_then(|r| r.message())
        .is_some_and(|m| !m.is_empty()));
    let refused = client
        .list_queues()
        .instance_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("InvalidRequestException"));

    let missing = client
        .describe_instance()
        .instance_id("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn contact_flows_are_validated_when_published() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, _) = create_instance(&client, "flows").await;
    let queue_arn = basic_queue_arn(&client, &instance).await;
    let content = reset_flow(&queue_arn, "Welcome to the password reset line.");

    let created = client
        .create_contact_flow()
        .instance_id(&instance)
        .name("demo-password-reset")
        .r#type(ContactFlowType::ContactFlow)
        .content(&content)
        .status(ContactFlowStatus::Published)
        .tags("resetpw:stack", "demo")
        .send()
        .await
        .expect("a valid flow is published");
    let flow_id = created.contact_flow_id().unwrap().to_string();
    assert!(created
        .contact_flow_arn()
        .unwrap()
        .contains(&format!("/contact-flow/{flow_id}")));
    assert_eq!(created.flow_content_sha256().map(str::len), Some(64));

    let described = client
        .describe_contact_flow()
        .instance_id(&instance)
        .contact_flow_id(&flow_id)
        .send()
        .await
        .unwrap();
    let flow = described.contact_flow().unwrap();
    assert_eq!(flow.content(), Some(content.as_str()));
    assert_eq!(flow.status(), Some(&ContactFlowStatus::Published));
    assert_eq!(flow.r#type(), Some(&ContactFlowType::ContactFlow));
    assert_eq!(flow.tags().unwrap().get("resetpw:stack").unwrap(), "demo");

    // A broken flow: a dangling NextAction, a queue that does not exist, an error branch the
    // action cannot take.
    let mut broken: Value = serde_json::from_str(&content).unwrap();
    broken["Actions"][0]["Transitions"]["NextAction"] = json!("nowhere");
    broken["Actions"][3]["Parameters"]["QueueId"] = json!(format!("{queue_arn}x"));
    broken["Actions"][4]["Transitions"]["Errors"] =
        json!([{"ErrorType":"InputTimeLimitExceeded","NextAction":"later"}]);
    let refused = client
        .create_contact_flow()
        .instance_id(&instance)
        .name("broken")
        .r#type(ContactFlowType::ContactFlow)
        .content(broken.to_string())
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.raw_response().unwrap().status().as_u16(), 400);
    let problems: Vec<String> = match refused.into_service_error() {
        aws_sdk_connect::operation::create_contact_flow::CreateContactFlowError::InvalidContactFlowException(e) => e
            .problems()
            .iter()
            .filter_map(|p| p.message().map(str::to_string))
            .collect(),
        other => panic!("expected InvalidContactFlowException, got {other:?}"),
    };
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("'nowhere'")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("has no error 'InputTimeLimitExceeded'")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("not a queue of this instance")),
        "{problems:?}"
    );

    // SAVED is not validated, and is described only through :$SAVED.
    let saved = client
        .create_contact_flow()
        .instance_id(&instance)
        .name("draft")
        .r#type(ContactFlowType::ContactFlow)
        .content(broken.to_string())
        .status(ContactFlowStatus::Saved)
        .send()
        .await
        .expect("SAVED content is not checked");
    let saved_id = saved.contact_flow_id().unwrap();
    let unpublished = client
        .describe_contact_flow()
        .instance_id(&instance)
        .contact_flow_id(saved_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(unpublished.code(), Some("ContactFlowNotPublishedException"));
    let draft = client
        .describe_contact_flow()
        .instance_id(&instance)
        .contact_flow_id(format!("{saved_id}:$SAVED"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        draft.contact_flow().unwrap().status(),
        Some(&ContactFlowStatus::Saved)
    );

    let duplicate = client
        .create_contact_flow()
        .instance_id(&instance)
        .name("demo-password-reset")
        .r#type(ContactFlowType::ContactFlow)
        .content(&content)
        .send()
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Some("DuplicateResourceException"));
    assert_eq!(duplicate.raw_response().unwrap().status().as_u16(), 409);

    // Content updates are validated too.
    let bad_update = client
        .update_contact_flow_content()
        .instance_id(&instance)
        .contact_flow_id(&flow_id)
        .content(broken.to_string())
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_update.code(), Some("InvalidContactFlowException"));
    let greeting_changed = reset_flow(&queue_arn, "Hello again.");
    client
        .update_contact_flow_content()
        .instance_id(&instance)
        .contact_flow_id(&flow_id)
        .content(&greeting_changed)
        .send()
        .await
        .expect("UpdateContactFlowContent");
    client
        .update_contact_flow_name()
        .instance_id(&instance)
        .contact_flow_id(&flow_id)
        .name("demo-password-reset-2")
        .description("renamed")
        .send()
        .await
        .expect("UpdateContactFlowName");
    client
        .update_contact_flow_metadata()
        .instance_id(&instance)
        .contact_flow_id(saved_id)
        .contact_flow_state(aws_sdk_connect::types::ContactFlowState::Archived)
        .send()
        .await
        .expect("UpdateContactFlowMetadata");
    let archived = client
        .list_contact_flows()
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    assert!(archived
        .contact_flow_summary_list()
        .iter()
        .any(|f| f.id() == Some(saved_id)
            && f.contact_flow_state()
                == Some(&aws_sdk_connect::types::ContactFlowState::Archived)));
    let after = client
        .describe_contact_flow()
        .instance_id(&instance)
        .contact_flow_id(&flow_id)
        .send()
        .await
        .unwrap();
    let flow = after.contact_flow().unwrap();
    assert_eq!(flow.content(), Some(greeting_changed.as_str()));
    assert_eq!(flow.name(), Some("demo-password-reset-2"));
    assert_eq!(flow.description(), Some("renamed"));

    client
        .delete_contact_flow()
        .instance_id(&instance)
        .contact_flow_id(&flow_id)
        .send()
        .await
        .expect("DeleteContactFlow");
    let gone = client
        .describe_contact_flow()
        .instance_id(&instance)
        .contact_flow_id(&flow_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn phone_numbers_are_searched_claimed_associated_and_released() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, instance_arn) = create_instance(&client, "numbers").await;
    let candidates = search(&client, &instance, "+1206").await;
    assert_eq!(candidates.len(), 10);
    assert!(
        candidates.iter().all(|n| n.starts_with("+120655501")),
        "{candidates:?}"
    );

    let token = "claim-token-1";
    let first = client
        .claim_phone_number()
        .instance_id(&instance)
        .phone_number(&candidates[0])
        .phone_number_description("demo line")
        .tags("resetpw:stack", "demo")
        .client_token(token)
        .send()
        .await
        .expect("ClaimPhoneNumber");
    let number_id = first.phone_number_id().unwrap().to_string();
    let number_arn = first.phone_number_arn().unwrap().to_string();
    assert_eq!(
        number_arn,
        format!("arn:aws:connect:us-east-1:123456789012:phone-number/{number_id}")
    );
    // The same ClientToken gives the same claim; with another number it is refused.
    let replay = client
        .claim_phone_number()
        .instance_id(&instance)
        .phone_number(&candidates[0])
        .phone_number_description("demo line")
        .tags("resetpw:stack", "demo")
        .client_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.phone_number_id(), Some(number_id.as_str()));
    let misuse = client
        .claim_phone_number()
        .instance_id(&instance)
        .phone_number(&candidates[1])
        .client_token(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(misuse.code(), Some("IdempotencyException"));

    assert_eq!(
        wait_claim(&client, &number_id).await,
        PhoneNumberWorkflowStatus::Claimed
    );
    let described = client
        .describe_phone_number()
        .phone_number_id(&number_arn)
        .send()
        .await
        .unwrap();
    let summary = described.claimed_phone_number_summary().unwrap();
    assert_eq!(summary.phone_number(), Some(candidates[0].as_str()));
    assert_eq!(summary.target_arn(), Some(instance_arn.as_str()));
    assert_eq!(summary.instance_id(), Some(instance.as_str()));
    assert_eq!(summary.phone_number_type(), Some(&PhoneNumberType::Did));
    assert_eq!(summary.phone_number_description(), Some("demo line"));
    assert!(!search(&client, &instance, "+1206")
        .await
        .contains(&candidates[0]));

    let listed = client
        .list_phone_numbers_v2()
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = listed
        .list_phone_numbers_summary_list()
        .iter()
        .filter_map(|n| n.phone_number_id())
        .collect();
    assert_eq!(ids, [number_id.as_str()]);
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&number_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap().get("resetpw:stack").unwrap(), "demo");

    // The number rings a CONTACT_FLOW, not a queue flow.
    let flows = client
        .list_contact_flows()
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    let flow_of = |t: ContactFlowType| {
        flows
            .contact_flow_summary_list()
            .iter()
            .find(|f| f.contact_flow_type() == Some(&t))
            .map(|f| (f.id().unwrap().to_string(), f.arn().unwrap().to_string()))
            .unwrap()
    };
    let (inbound_id, inbound_arn) = flow_of(ContactFlowType::ContactFlow);
    let (queue_flow_id, _) = flow_of(ContactFlowType::CustomerQueue);
    let wrong = client
        .associate_phone_number_contact_flow()
        .phone_number_id(&number_id)
        .instance_id(&instance)
        .contact_flow_id(&queue_flow_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidParameterException"));
    client
        .associate_phone_number_contact_flow()
        .phone_number_id(&number_id)
        .instance_id(&instance)
        .contact_flow_id(&inbound_id)
        .send()
        .await
        .expect("AssociatePhoneNumberContactFlow");
    let associations = client
        .list_flow_associations()
        .instance_id(&instance)
        .resource_type(aws_sdk_connect::types::ListFlowAssociationResourceType::VoicePhoneNumber)
        .send()
        .await
        .unwrap();
    let pairs: Vec<_> = associations
        .flow_association_summary_list()
        .iter()
        .map(|a| (a.resource_id().unwrap(), a.flow_id().unwrap()))
        .collect();
    assert_eq!(pairs, [(number_arn.as_str(), inbound_arn.as_str())]);
    client
        .disassociate_phone_number_contact_flow()
        .phone_number_id(&number_id)
        .instance_id(&instance)
        .send()
        .await
        .expect("DisassociatePhoneNumberContactFlow");
    let associations = client
        .list_flow_associations()
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    assert!(associations.flow_association_summary_list().is_empty());

    client
        .release_phone_number()
        .phone_number_id(&number_id)
        .send()
        .await
        .expect("ReleasePhoneNumber");
    let gone = client
        .describe_phone_number()
        .phone_number_id(&number_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    // A released number does not come back.
    let reclaim = client
        .claim_phone_number()
        .instance_id(&instance)
        .phone_number(&candidates[0])
        .send()
        .await
        .unwrap_err();
    assert_eq!(reclaim.code(), Some("InvalidParameterException"));
    assert!(reclaim.message().unwrap().contains("not available"));
    assert!(!search(&client, &instance, "+1206")
        .await
        .contains(&candidates[0]));
}

#[tokio::test]
async fn a_number_taken_between_search_and_claim_leaves_the_next_candidate() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, _) = create_instance(&client, "race").await;
    let candidates = search(&client, &instance, "+1312").await;
    cloud
        .fault(
            json!({"service":"connect","operation":"ClaimPhoneNumber","status":400,
                      "code":"PhoneNumberTaken","remaining":1}),
        )
        .await;
    let taken = client
        .claim_phone_number()
        .instance_id(&instance)
        .phone_number(&candidates[0])
        .send()
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Some("InvalidParameterException"));
    assert_eq!(
        taken.message(),
        Some(format!("Phone number not available: {}", candidates[0]).as_str())
    );
    let (next_id, _) = claim(&client, &instance, &candidates[1]).await;
    assert_eq!(
        wait_claim(&client, &next_id).await,
        PhoneNumberWorkflowStatus::Claimed
    );
    let now = search(&client, &instance, "+1312").await;
    assert!(!now.contains(&candidates[0]), "the taken number is gone");
    assert!(!now.contains(&candidates[1]), "the claimed number is gone");

    // A claim that is accepted and then fails.
    cloud
        .fault(
            json!({"service":"connect","operation":"ClaimPhoneNumber","status":400,
                      "code":"PhoneNumberClaimFailed","remaining":1}),
        )
        .await;
    let (failing, _) = claim(&client, &instance, &candidates[2]).await;
    assert_eq!(
        wait_claim(&client, &failing).await,
        PhoneNumberWorkflowStatus::Failed
    );

    let calls = cloud.calls().await;
    let claims: Vec<_> = calls
        .iter()
        .filter(|c| c["operation"] == "ClaimPhoneNumber")
        .map(|c| (c["status"].as_u64(), c["injected"].as_bool()))
        .collect();
    assert_eq!(
        claims,
        [
            (Some(400), Some(true)),
            (Some(200), Some(false)),
            (Some(200), Some(true))
        ]
    );
}

#[tokio::test]
async fn bots_are_associated_listed_and_disassociated() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, _) = create_instance(&client, "bots").await;
    // Connect checks the alias with the Lex emulator: it must exist.
    let alias_arn = cloud.bot_alias("connect-bots").await;
    let bot = LexV2Bot::builder().alias_arn(&alias_arn).build();
    client
        .associate_bot()
        .instance_id(&instance)
        .lex_v2_bot(bot.clone())
        .send()
        .await
        .expect("AssociateBot");
    let listed = client
        .list_bots()
        .instance_id(&instance)
        .lex_version(LexVersion::V2)
        .send()
        .await
        .unwrap();
    let arns: Vec<_> = listed
        .lex_bots()
        .iter()
        .filter_map(|b| b.lex_v2_bot().and_then(|v| v.alias_arn()))
        .collect();
    assert_eq!(arns, [alias_arn.as_str()]);
    let v1 = client
        .list_bots()
        .instance_id(&instance)
        .lex_version(LexVersion::V1)
        .send()
        .await
        .unwrap();
    assert!(v1.lex_bots().is_empty());
    let twice = client
        .associate_bot()
        .instance_id(&instance)
        .lex_v2_bot(bot.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Some("ResourceConflictException"));
    let malformed = client
        .associate_bot()
        .instance_id(&instance)
        .lex_v2_bot(
            LexV2Bot::builder()
                .alias_arn("arn:aws:lex:us-east-1:123456789012:bot/X")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Some("InvalidRequestException"));

    client
        .disassociate_bot()
        .instance_id(&instance)
        .lex_v2_bot(bot.clone())
        .send()
        .await
        .expect("DisassociateBot");
    let listed = client
        .list_bots()
        .instance_id(&instance)
        .lex_version(LexVersion::V2)
        .send()
        .await
        .unwrap();
    assert!(listed.lex_bots().is_empty());
    let not_there = client
        .disassociate_bot()
        .instance_id(&instance)
        .lex_v2_bot(bot)
        .send()
        .await
        .unwrap_err();
    assert_eq!(not_there.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn tags_on_instances_flows_and_numbers() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, instance_arn) = create_instance(&client, "tags").await;
    let flows = client
        .list_contact_flows()
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    let flow_arn = flows.contact_flow_summary_list()[0]
        .arn()
        .unwrap()
        .to_string();
    let number = search(&client, &instance, "+1415").await.remove(0);
    let (_, number_arn) = claim(&client, &instance, &number).await;
    for arn in [&instance_arn, &flow_arn, &number_arn] {
        client
            .tag_resource()
            .resource_arn(arn)
            .tags("team", "it")
            .tags("drop", "me")
            .send()
            .await
            .expect("TagResource");
        client
            .untag_resource()
            .resource_arn(arn)
            .tag_keys("drop")
            .send()
            .await
            .expect("UntagResource");
        let tags = client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        let tags = tags.tags().unwrap();
        assert_eq!(tags.get("team").map(String::as_str), Some("it"), "{arn}");
        assert!(!tags.contains_key("drop"), "{arn}");
    }
    let unknown = client
        .list_tags_for_resource()
        .resource_arn(format!("{instance_arn}/contact-flow/nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn deleting_an_instance_releases_its_numbers() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, _) = create_instance(&client, "doomed-numbers").await;
    let number = search(&client, &instance, "+1206").await.remove(0);
    let (id, _) = claim(&client, &instance, &number).await;
    wait_claim(&client, &id).await;
    client
        .delete_instance()
        .instance_id(&instance)
        .send()
        .await
        .expect("DeleteInstance");
    let gone = client
        .describe_phone_number()
        .phone_number_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    let listed = client.list_phone_numbers_v2().send().await.unwrap();
    assert!(listed.list_phone_numbers_summary_list().is_empty());
    let (other, _) = create_instance(&client, "after").await;
    assert!(!search(&client, &other, "+1206").await.contains(&number));
}

#[tokio::test]
async fn throttling_has_connects_error_shape_and_the_record_names_operations() {
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, _) = create_instance(&client, "record").await;
    search(&client, &instance, "+1").await;
    client.list_phone_numbers_v2().send().await.unwrap();
    cloud
        .fault(json!({"service":"connect","operation":"ListInstances","status":429,"remaining":1}))
        .await;
    let no_retry = cloud.client_with(RetryConfig::standard().with_max_attempts(1));
    let throttled = no_retry.list_instances().send().await.unwrap_err();
    assert_eq!(throttled.code(), Some("ThrottlingException"));
    assert_eq!(throttled.raw_response().unwrap().status().as_u16(), 429);
    client
        .list_instances()
        .send()
        .await
        .expect("the rule is spent");

    let calls = cloud.calls().await;
    let ops: Vec<(&str, bool)> = calls
        .iter()
        .map(|c| {
            (
                c["operation"].as_str().unwrap(),
                c["mutating"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(ops.contains(&("CreateInstance", true)), "{ops:?}");
    assert!(ops.contains(&("DescribeInstance", false)), "{ops:?}");
    assert!(ops.contains(&("ListInstances", false)), "{ops:?}");
    assert!(
        ops.contains(&("SearchAvailablePhoneNumbers", false)),
        "{ops:?}"
    );
    assert!(ops.contains(&("ListPhoneNumbersV2", false)), "{ops:?}");
    let throttled_call = calls
        .iter()
        .find(|c| c["operation"] == "ListInstances")
        .unwrap();
    assert_eq!(throttled_call["injected"], true);
    assert!(calls.iter().all(|c| c["service"] == "connect"));
}

/// The published flows of others (`shared/real-world/connect-flows`, beside the repository;
/// in a git worktree elsewhere, `/work/shared`): `None` when the corpus is not there, which
/// fails the test under CI=true.
fn corpus_dir() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let found = [
        root.join("../shared/real-world/connect-flows"),
        std::path::PathBuf::from("/work/shared/real-world/connect-flows"),
    ]
    .into_iter()
    .find(|d| d.is_dir());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the flow corpus (../shared/real-world/connect-flows) is missing, and CI=true: it is required there"
        );
        eprintln!(
            "skipped: the flow corpus ../shared/real-world/connect-flows is not on this machine"
        );
    }
    found
}

/// What the instance of the corpus test has, to stand in for the references of the corpus.
struct Refs {
    queue: String,
    flow: String,
    lambda: String,
    alias: String,
}

fn is_placeholder(s: &str) -> bool {
    s.contains("${")
        || s.contains("{{")
        || s.contains("<<")
        || (s.starts_with('<') && s.ends_with('>'))
}

/// Replaces, mechanically, every reference of a published flow (a literal ARN, or a deployer's
/// `${...}` / `{{...}}` / `<<...>>` placeholder, or an empty alias ARN) by one that exists in
/// the test's instance: by the parameter it is the value of, else by what it names. JSONPaths
/// are left as they are (Connect resolves them when the contact runs).
fn replace_refs(value: &mut Value, key: Option<&str>, refs: &Refs) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                replace_refs(v, Some(k), refs);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_refs(v, key, refs)),
        Value::String(s) => {
            let by_key = match key {
                Some("QueueId") => Some(&refs.queue),
                Some("ContactFlowId") => Some(&refs.flow),
                Some("LambdaFunctionARN") => Some(&refs.lambda),
                Some("AliasArn") => Some(&refs.alias),
                _ => None,
            };
            let reference =
                s.starts_with("arn:") || is_placeholder(s) || (by_key.is_some() && s.is_empty());
            if !reference || s.starts_with("$.") {
                return;
            }
            let by_content = if s.contains("queue") {
                Some(&refs.queue)
            } else if s.contains("contact-flow") || s.contains("contactFlows") {
                Some(&refs.flow)
            } else if s.contains(":lambda:") || s.contains("lambdaFunctions") {
                Some(&refs.lambda)
            } else if s.contains(":lex:") {
                Some(&refs.alias)
            } else {
                None
            };
            match by_key.or(by_content) {
                Some(r) => *s = r.clone(),
                None if is_placeholder(s) => *s = "placeholder".into(),
                None => {}
            }
        }
        _ => {}
    }
}

/// Publishes `content`; the problems Connect lists when it refuses it.
async fn publish(
    client: &Client,
    instance: &str,
    name: &str,
    content: &str,
) -> Result<(), Vec<String>> {
    match client
        .create_contact_flow()
        .instance_id(instance)
        .name(name)
        .r#type(ContactFlowType::ContactFlow)
        .content(content)
        .status(ContactFlowStatus::Published)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(err) => match err.into_service_error() {
            aws_sdk_connect::operation::create_contact_flow::CreateContactFlowError::InvalidContactFlowException(e) => Err(e
                .problems()
                .iter()
                .filter_map(|p| p.message().map(str::to_string))
                .collect()),
            other => panic!("{name}: expected InvalidContactFlowException, got {other:?}"),
        },
    }
}

/// Every flow of the corpus (the 3 flow modules, which CreateContactFlowModule takes, left out)
/// is accepted once its references are replaced by the instance's; each with one fault injected
/// — a dangling NextAction, a duplicate identifier, an unknown queue, 251 actions — is refused
/// with that problem.
#[tokio::test]
async fn the_published_flows_of_others_are_accepted_and_their_faults_refused() {
    let Some(dir) = corpus_dir() else { return };
    let cloud = Cloud::start();
    let client = cloud.client();
    let (instance, _) = create_instance(&client, "corpus").await;
    let flows = client
        .list_contact_flows()
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    let refs = Refs {
        queue: basic_queue_arn(&client, &instance).await,
        flow: flows.contact_flow_summary_list()[0]
            .arn()
            .unwrap()
            .to_string(),
        lambda: "arn:aws:lambda:us-east-1:123456789012:function:corpus-function".into(),
        alias: ALIAS_ARN.into(),
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut accepted, mut refused, mut modules) = (0, Vec::new(), 0);
    for (n, path) in files.iter().enumerate() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let mut flow: Value = serde_json::from_slice(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if flow.get("Settings").is_some() {
            modules += 1;
            continue;
        }
        replace_refs(&mut flow["Actions"], None, &refs);
        match publish(&client, &instance, &name, &flow.to_string()).await {
            Ok(()) => accepted += 1,
            Err(problems) => refused.push(format!("{name}: {problems:?}")),
        }

        let faulty = |change: &dyn Fn(&mut Vec<Value>)| {
            let mut f = flow.clone();
            change(f["Actions"].as_array_mut().unwrap());
            f.to_string()
        };
        let expect = |what: &str, problems: Result<(), Vec<String>>, needle: &str| {
            let problems = problems.expect_err(&format!("{name} with {what} is refused"));
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{name} with {what}: {problems:?}"
            );
        };
        let dangling = faulty(&|actions| {
            let a = actions
                .iter_mut()
                .find(|a| a["Transitions"].get("NextAction").is_some())
                .expect("an action with a NextAction");
            a["Transitions"]["NextAction"] = json!("no-such-action");
        });
        expect(
            "a dangling NextAction",
            publish(
                &client,
                &instance,
                &format!("{name}-{n}-dangling"),
                &dangling,
            )
            .await,
            "NextAction 'no-such-action' does not name an action",
        );
        let duplicate = faulty(&|actions| {
            let first = actions[0]["Identifier"].clone();
            actions[1]["Identifier"] = first;
        });
        expect(
            "a duplicate identifier",
            publish(
                &client,
                &instance,
                &format!("{name}-{n}-duplicate"),
                &duplicate,
            )
            .await,
            "is used by more than one action",
        );
        let queue_block = flow["Actions"].as_array().unwrap().iter().position(|a| {
            a["Type"] == "UpdateContactTargetQueue"
                && a["Parameters"]["QueueId"]
                    .as_str()
                    .is_some_and(|q| !q.starts_with("$."))
        });
        if let Some(i) = queue_block {
            let unknown = faulty(&|actions| {
                actions[i]["Parameters"]["QueueId"] = json!(format!("{}-gone", refs.queue));
            });
            expect(
                "an unknown queue",
                publish(&client, &instance, &format!("{name}-{n}-queue"), &unknown).await,
                "is not a queue of this instance",
            );
        }
        let too_many = faulty(&|actions| {
            let mut i = 0;
            while actions.len() < 251 {
                actions.push(
                    json!({"Identifier": format!("extra-{i}"), "Type": "DisconnectParticipant",
                                    "Parameters": {}, "Transitions": {}}),
                );
                i += 1;
            }
        });
        expect(
            "251 actions",
            publish(&client, &instance, &format!("{name}-{n}-many"), &too_many).await,
            "at most 250 are allowed",
        );
    }
    assert_eq!(refused, Vec::<String>::new(), "published flows refused");
    assert_eq!(
        (accepted, modules),
        (21, 3),
        "the corpus's flows and modules"
    );
}
