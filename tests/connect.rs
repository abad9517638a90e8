//! The `connect` section end to end: the real binary against the local cloud (directory,
//! secret, fulfillment, bot and connect), checked with aws-sdk-connect, aws-sdk-lexmodelsv2 and
//! the call record.

mod common;

use common::*;
use serde_json::{json, Value};

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

async fn connect() -> aws_sdk_connect::Client {
    aws_sdk_connect::Client::new(&sdk().await)
}

fn bot() -> &'static str {
    "bot:\n  locale: en_US\n"
}

fn connect_section(instance: &str, greeting: &str, queue: &str) -> String {
    format!("connect:\n  {instance}\n  greeting: {greeting}\n  agent_queue: {queue}\n  phone_number:\n    country_code: US\n    type: DID\n    prefix: \"+1206\"\n")
}

/// The alias of an instance the test owns: unique like the stack.
fn alias_of(case: &Case) -> String {
    format!("i-{}", case.stack)
}

fn owned_stack(case: &Case, greeting: &str, queue: &str) -> std::path::PathBuf {
    let instance = format!("instance_alias: {}", alias_of(case));
    case.write_stack_with_function(&format!(
        "{}{}",
        bot(),
        connect_section(&instance, greeting, queue)
    ))
}

/// What the SDK sees of the stack's Connect side.
#[derive(Debug, Default)]
struct View {
    instance: Option<(String, String, String)>,
    flow: Option<(String, String, Value)>,
    numbers: Vec<(String, String, String)>,
    bots: Vec<String>,
    flow_of_number: Option<String>,
}

async fn instance_by_alias(alias: &str) -> Option<(String, String, String)> {
    let c = connect().await;
    let list = c.list_instances().send().await.unwrap();
    list.instance_summary_list()
        .iter()
        .find(|i| i.instance_alias() == Some(alias))
        .map(|i| {
            (
                i.id().unwrap().to_string(),
                i.arn().unwrap().to_string(),
                i.instance_status().unwrap().as_str().to_string(),
            )
        })
}

async fn view(stack: &str, instance_id: &str) -> View {
    let c = connect().await;
    let mut v = View::default();
    let Ok(d) = c.describe_instance().instance_id(instance_id).send().await else {
        return v;
    };
    let i = d.instance().unwrap();
    v.instance = Some((
        i.id().unwrap().into(),
        i.arn().unwrap().into(),
        i.instance_status().unwrap().as_str().into(),
    ));
    let flows = c
        .list_contact_flows()
        .instance_id(instance_id)
        .send()
        .await
        .unwrap();
    if let Some(f) = flows
        .contact_flow_summary_list()
        .iter()
        .find(|f| f.name() == Some(&format!("{stack}-password-reset")))
    {
        let d = c
            .describe_contact_flow()
            .instance_id(instance_id)
            .contact_flow_id(f.id().unwrap())
            .send()
            .await
            .unwrap();
        let f = d.contact_flow().unwrap();
        v.flow = Some((
            f.id().unwrap().into(),
            f.status().unwrap().as_str().into(),
            serde_json::from_str(f.content().unwrap()).unwrap(),
        ));
    }
    let numbers = c
        .list_phone_numbers_v2()
        .target_arn(v.instance.as_ref().unwrap().1.clone())
        .send()
        .await
        .unwrap();
    for n in numbers.list_phone_numbers_summary_list() {
        let d = c
            .describe_phone_number()
            .phone_number_id(n.phone_number_id().unwrap())
            .send()
            .await
            .unwrap();
        let s = d.claimed_phone_number_summary().unwrap();
        v.numbers.push((
            s.phone_number_id().unwrap().into(),
            s.phone_number().unwrap().into(),
            s.phone_number_status()
                .and_then(|x| x.status())
                .unwrap()
                .as_str()
                .into(),
        ));
    }
    let assoc = c
        .list_flow_associations()
        .instance_id(instance_id)
        .send()
        .await
        .unwrap();
    v.flow_of_number = assoc
        .flow_association_summary_list()
        .first()
        .and_then(|a| a.flow_id())
        .map(|f| f.rsplit('/').next().unwrap().to_string());
    let bots = c
        .list_bots()
        .instance_id(instance_id)
        .lex_version(aws_sdk_connect::types::LexVersion::V2)
        .send()
        .await
        .unwrap();
    v.bots = bots
        .lex_bots()
        .iter()
        .filter_map(|b| {
            b.lex_v2_bot()
                .and_then(|x| x.alias_arn())
                .map(str::to_string)
        })
        .collect();
    v
}

async fn alias_policy(alias_arn: &str) -> Value {
    let lex = aws_sdk_lexmodelsv2::Client::new(&sdk().await);
    let p = lex
        .describe_resource_policy()
        .resource_arn(alias_arn)
        .send()
        .await
        .unwrap();
    serde_json::from_str(p.policy().unwrap()).unwrap()
}

fn connect_mutations(calls: &[String]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.starts_with("connect "))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_stack_comes_up_converges_updates_the_greeting_and_down_needs_the_flag() {
    let case = Case::new("conn");
    let file = owned_stack(&case, "Welcome to the help desk.", "BasicQueue");
    let f = path_str(&file);
    let out = case.run(&["up", "-f", f], 0);
    let text = stdout(&out);

    // The instance, the flow, the number, the association, the policy.
    let (instance_id, instance_arn, status) = instance_by_alias(&alias_of(&case)).await.unwrap();
    assert_eq!(status, "ACTIVE");
    let v = view(&case.stack, &instance_id).await;
    let (flow_id, flow_status, content) = v.flow.clone().expect("the flow exists");
    assert_eq!(flow_status, "PUBLISHED");
    assert_eq!(v.bots.len(), 1, "{v:?}");
    let alias_arn = v.bots[0].clone();
    let text_content = content.to_string();
    assert!(text_content.contains(&alias_arn), "{text_content}");
    assert!(
        text_content.contains(&format!("{instance_arn}/queue/")),
        "{text_content}"
    );
    assert!(text_content.contains("Welcome to the help desk."));
    // The flow as Connect holds it: a fulfilled unlock has its own goodbye, and the hand-off to
    // the queue first copies what the line checked into contact attributes.
    let action = |id: &str| -> Value {
        content["Actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Identifier"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no action {id} in {content}"))
    };
    let to_unlock = action("reset-bot")["Transitions"]["Conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Condition"]["Operands"] == json!(["UnlockAccount"]))
        .map(|c| c["NextAction"].clone());
    assert_eq!(to_unlock, Some(json!("check-unlock-outcome")), "{content}");
    let unlock = action("check-unlock-outcome");
    assert_eq!(
        unlock["Parameters"]["ComparisonValue"],
        "$.Lex.SessionAttributes.ResetOutcome"
    );
    let goodbye = unlock["Transitions"]["Conditions"][0]["NextAction"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        action(&goodbye)["Parameters"]["Text"],
        "Your account is unlocked. Goodbye."
    );
    let handoff = action("set-handoff-attributes");
    assert_eq!(handoff["Type"], "UpdateContactAttributes");
    assert_eq!(
        handoff["Parameters"]["Attributes"],
        json!({"resetpw_verified": "$.Lex.SessionAttributes.resetpw_verified",
               "resetpw_outcome": "$.Lex.SessionAttributes.resetpw_outcome"})
    );
    assert_eq!(handoff["Transitions"]["NextAction"], "set-queue");
    assert_eq!(
        action("reset-bot")["Transitions"]["NextAction"],
        "set-handoff-attributes"
    );
    assert_eq!(v.numbers.len(), 1, "{v:?}");
    let (number_id, number, number_status) = v.numbers[0].clone();
    assert_eq!(number_status, "CLAIMED");
    assert!(number.starts_with("+1206"), "{number}");
    assert_eq!(v.flow_of_number.as_deref(), Some(flow_id.as_str()));
    let policy = alias_policy(&alias_arn).await;
    let allows = policy["Statement"].as_array().unwrap().iter().any(|s| {
        s.to_string().contains("connect.amazonaws.com") && s.to_string().contains(&instance_arn)
    });
    assert!(allows, "{policy}");
    assert!(text.contains(&format!("Call {number}")), "{text}");

    // `outputs -o json` matches the SDK's view.
    let out = case.run(&["outputs", "-f", f, "-o", "json"], 0);
    let outputs: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(outputs["connect-phone-number.number"], json!(number));
    assert_eq!(outputs["connect-phone-number.id"], json!(number_id));
    assert_eq!(outputs["connect-instance.id"], json!(instance_id));
    assert_eq!(outputs["connect-instance.arn"], json!(instance_arn));
    assert_eq!(outputs["connect-flow.id"], json!(flow_id));
    assert_eq!(outputs["bot-alias.arn"], json!(alias_arn));
    assert!(outputs["fulfillment-function.arn"]
        .as_str()
        .unwrap()
        .contains(":function:"));

    // Second up: nothing to do, and the Connect kinds share one listing of the instances.
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
    assert_eq!(
        case.count_since(mark, "connect", "ListInstances").await,
        1,
        "one instance listing per plan"
    );

    // A greeting change: UpdateContactFlowContent only, and the plan names the action.
    owned_stack(&case, "Hello from the service desk.", "BasicQueue");
    let out = case.run(&["diff", "-f", f, "--exit-code"], 2);
    assert!(stdout(&out).contains("greeting"), "{}", stdout(&out));
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(
        case.mutating_since(mark).await,
        vec!["connect UpdateContactFlowContent".to_string()]
    );
    let v = view(&case.stack, &instance_id).await;
    assert!(v
        .flow
        .unwrap()
        .2
        .to_string()
        .contains("Hello from the service desk."));

    // A wrong queue name: an error at the key, with a suggestion; nothing changed.
    owned_stack(&case, "Hello from the service desk.", "BasicQeue");
    let mark = case.mark().await;
    let out = case.run(&["up", "-f", f], 1);
    let e = stderr(&out);
    assert!(e.contains(&format!("{}.yaml:", case.stack)), "{e}");
    assert!(e.contains("connect.agent_queue"), "{e}");
    assert!(e.contains("did you mean `BasicQueue`?"), "{e}");
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
    owned_stack(&case, "Hello from the service desk.", "BasicQueue");

    // down without the flag: refused, naming the number; nothing changed.
    let mark = case.mark().await;
    let out = case.run(&["down", "-f", f, "--yes"], 1);
    let e = stderr(&out);
    assert!(
        e.contains(&number) && e.contains("--release-phone-number"),
        "{e}"
    );
    // One line per refusal, each naming its resource.
    assert!(
        e.contains("nothing was deleted:\n  - ") && e.contains("\n  - connect-phone-number "),
        "{e}"
    );
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
    assert_eq!(view(&case.stack, &instance_id).await.numbers.len(), 1);

    // With it: nothing owned left.
    case.run(&["down", "-f", f, "--yes", "--release-phone-number"], 0);
    assert!(instance_by_alias(&alias_of(&case)).await.is_none());
    let c = connect().await;
    assert!(c
        .describe_phone_number()
        .phone_number_id(&number_id)
        .send()
        .await
        .is_err());
    let out = case.run(&["outputs", "-f", f, "-o", "json"], 0);
    assert_eq!(stdout(&out).trim(), "{}");

    // Up again right after down: the instance's client token was used by the deleted one, and
    // the new up still gets a new, ACTIVE instance.
    case.run(&["up", "-f", f], 0);
    let (again, _, status) = instance_by_alias(&alias_of(&case))
        .await
        .expect("a new instance after down and up");
    assert_ne!(again, instance_id);
    assert_eq!(status, "ACTIVE");
    case.run(&["down", "-f", f, "--yes", "--release-phone-number"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_number_taken_between_search_and_claim_makes_up_claim_the_next_one() {
    let case = Case::new("race");
    let file = owned_stack(&case, "Welcome.", "BasicQueue");
    let f = path_str(&file);
    case.inject(
        json!({"service": "connect", "operation": "ClaimPhoneNumber",
                       "code": "PhoneNumberTaken", "status": 400, "remaining": 1}),
    )
    .await;
    case.run(&["up", "-f", f], 0);
    let claims: Vec<Value> = case
        .calls()
        .await
        .into_iter()
        .filter(|c| c["operation"] == "ClaimPhoneNumber")
        .collect();
    assert_eq!(claims.len(), 2, "{claims:?}");
    let (instance_id, _, _) = instance_by_alias(&alias_of(&case)).await.unwrap();
    let v = view(&case.stack, &instance_id).await;
    assert_eq!(v.numbers.len(), 1);
    assert_eq!(v.numbers[0].2, "CLAIMED");
    let first = claims[0]["params"].to_string();
    assert!(
        !first.contains(&v.numbers[0].1),
        "the taken number was not the one claimed: {first}"
    );
    case.run(&["down", "-f", f, "--yes", "--release-phone-number"], 0);
}

/// Queues, flows and numbers of an instance, as comparable text.
async fn instance_state(instance_id: &str) -> Vec<String> {
    let c = connect().await;
    let mut out = Vec::new();
    for q in c
        .list_queues()
        .instance_id(instance_id)
        .send()
        .await
        .unwrap()
        .queue_summary_list()
    {
        out.push(format!("queue {:?} {:?}", q.name(), q.id()));
    }
    for f in c
        .list_contact_flows()
        .instance_id(instance_id)
        .send()
        .await
        .unwrap()
        .contact_flow_summary_list()
    {
        out.push(format!(
            "flow {:?} {:?} {:?}",
            f.name(),
            f.id(),
            f.contact_flow_status()
        ));
    }
    let d = c
        .describe_instance()
        .instance_id(instance_id)
        .send()
        .await
        .unwrap();
    let arn = d.instance().unwrap().arn().unwrap().to_string();
    for n in c
        .list_phone_numbers_v2()
        .target_arn(arn)
        .send()
        .await
        .unwrap()
        .list_phone_numbers_summary_list()
    {
        out.push(format!("number {:?}", n.phone_number()));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_instance_is_used_and_left_exactly_as_it_was() {
    let case = Case::new("exist");
    let c = connect().await;
    let created = c
        .create_instance()
        .identity_management_type(aws_sdk_connect::types::DirectoryType::ConnectManaged)
        .instance_alias(format!("x-{}", case.stack))
        .inbound_calls_enabled(true)
        .outbound_calls_enabled(false)
        .send()
        .await
        .unwrap();
    let id = created.id().unwrap().to_string();
    loop {
        let d = c.describe_instance().instance_id(&id).send().await.unwrap();
        if d.instance().unwrap().instance_status().unwrap().as_str() == "ACTIVE" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let before = instance_state(&id).await;
    let file = case.write_stack_with_function(&format!(
        "{}{}",
        bot(),
        connect_section(&format!("instance_id: {id}"), "Welcome.", "BasicQueue")
    ));
    let f = path_str(&file);
    case.run(&["up", "-f", f], 0);
    let v = view(&case.stack, &id).await;
    assert_eq!(v.flow.unwrap().1, "PUBLISHED");
    assert_eq!(v.numbers.len(), 1);
    assert_eq!(v.bots.len(), 1);
    let mark = case.mark().await;
    case.run(&["up", "-f", f], 0);
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
    case.run(&["down", "-f", f, "--yes", "--release-phone-number"], 0);
    assert_eq!(instance_state(&id).await, before);
    assert!(view(&case.stack, &id).await.bots.is_empty());
    let mutated = connect_mutations(&case.mutating_since(0).await);
    assert!(
        !mutated.iter().any(|m| m.contains("Instance")),
        "resetpw changed the instance itself: {mutated:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_during_the_instance_wait_or_the_claim_up_converges_with_one_of_each() {
    for (prefix, after) in [("killi", "CreateInstance"), ("killc", "ClaimPhoneNumber")] {
        let case = Case::new(prefix);
        let file = owned_stack(&case, "Welcome.", "BasicQueue");
        let f = path_str(&file);
        let reached = case
            .kill_up_when(f, std::time::Duration::from_secs(300), |calls| {
                calls.iter().any(|c| c.ends_with(&format!(" {after}")))
            })
            .await;
        assert!(reached, "up never reached {after}");
        case.run(&["up", "-f", f], 0);
        let c = connect().await;
        let list = c.list_instances().send().await.unwrap();
        let mine: Vec<_> = list
            .instance_summary_list()
            .iter()
            .filter(|i| i.instance_alias() == Some(alias_of(&case).as_str()))
            .collect();
        assert_eq!(mine.len(), 1);
        let v = view(&case.stack, mine[0].id().unwrap()).await;
        assert_eq!(v.numbers.len(), 1, "{prefix}: {v:?}");
        assert_eq!(v.numbers[0].2, "CLAIMED");
        case.run(&["down", "-f", f, "--yes", "--release-phone-number"], 0);
    }
}
