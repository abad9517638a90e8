//! Unit tests of the model-building API, through its routes and dispatch.

use super::{
    intents::fill_prompt_specification,
    lists::{page, ListSpec},
    new_id, route, valid_name, Answer, Ctx, LexError, Models, Phase,
};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

fn ctx(delay_ms: u64) -> Ctx {
    Ctx {
        delay: Duration::from_millis(delay_ms),
        forced_build_failure: false,
    }
}

fn call(m: &mut Models, ctx: &Ctx, method: Method, path: &str, body: Value) -> Answer {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let route = route(&method, path).expect("a known route");
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    m.apply(ctx, &route, &query, body)
}

fn bot_body(name: &str) -> Value {
    json!({
        "botName": name,
        "roleArn": "arn:aws:iam::123456789012:role/resetpw/x-bot",
        "dataPrivacy": {"childDirected": false},
        "idleSessionTTLInSeconds": 300,
    })
}

/// A bot with an en_US locale (no delay), returning its id.
fn bot_with_locale(m: &mut Models, ctx: &Ctx, name: &str) -> String {
    let (_, bot) = call(m, ctx, Method::PUT, "/bots", bot_body(name)).unwrap();
    let id = bot["botId"].as_str().unwrap().to_string();
    call(
        m,
        ctx,
        Method::PUT,
        &format!("/bots/{id}/botversions/DRAFT/botlocales/"),
        json!({"localeId": "en_US", "nluIntentConfidenceThreshold": 0.4,
               "voiceSettings": {"voiceId": "Joanna"}}),
    )
    .unwrap();
    id
}

#[test]
fn routes_name_operations_with_and_without_trailing_slashes() {
    let cases = [
        (Method::PUT, "/bots", "CreateBot"),
        (Method::POST, "/bots/", "ListBots"),
        (Method::GET, "/bots/ABCDEFGHIJ/", "DescribeBot"),
        (
            Method::POST,
            "/bots/B/botversions/DRAFT/botlocales/en_US",
            "BuildBotLocale",
        ),
        (
            Method::POST,
            "/bots/B/botversions/DRAFT/botlocales/en_US/intents/",
            "ListIntents",
        ),
        (
            Method::PUT,
            "/bots/B/botversions/DRAFT/botlocales/en_US/intents/I/slots",
            "CreateSlot",
        ),
        (Method::DELETE, "/bots/B/botversions/1", "DeleteBotVersion"),
        (Method::PUT, "/bots/B/botaliases/A/", "UpdateBotAlias"),
        (
            Method::GET,
            "/tags/arn%3Aaws%3Alex%3Aus-east-1%3A123456789012%3Abot%2FB",
            "ListTagsForResource",
        ),
        (
            Method::DELETE,
            "/policy/arn%3Aaws%3Alex%3Aus-east-1%3A1%3Abot-alias%2FB%2FA/",
            "DeleteResourcePolicy",
        ),
        (
            Method::POST,
            "/policy/arn%3Aaws%3Alex%3Ax%3A1%3Abot%2FB/statements/",
            "CreateResourcePolicyStatement",
        ),
    ];
    for (method, path, op) in cases {
        assert_eq!(
            route(&method, path).map(|r| r.operation),
            Some(op),
            "{method} {path}"
        );
    }
    let tags = route(
        &Method::GET,
        "/tags/arn%3Aaws%3Alex%3Aus-east-1%3A123456789012%3Abot-alias%2FB%2FA",
    )
    .unwrap();
    assert_eq!(
        tags.ids,
        ["arn:aws:lex:us-east-1:123456789012:bot-alias/B/A"]
    );
    assert_eq!(route(&Method::PATCH, "/bots/B"), None);
    assert_eq!(
        route(
            &Method::POST,
            "/bots/B/botAliases/A/botLocales/en_US/sessions/s/text"
        ),
        None,
        "runtime is not model building"
    );
}

#[test]
fn ids_are_ten_uppercase_alphanumerics() {
    for _ in 0..100 {
        let id = new_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
            "{id}"
        );
    }
    assert_ne!(new_id(), new_id());
}

#[test]
fn names_follow_lex_pattern() {
    for good in ["resetpw", "x-resetpw", "Reset_PW1", "a"] {
        assert!(valid_name(good), "{good}");
    }
    for bad in ["", "-a", "a--b", "a b", "ä", &"a".repeat(101)] {
        assert!(!valid_name(bad), "{bad}");
    }
}

#[test]
fn statuses_move_after_the_delay() {
    let phase = Phase::moving("Creating", "Available", Duration::from_millis(30));
    assert_eq!(phase.now(), "Creating");
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(phase.now(), "Available");
    assert_eq!(Phase::settled("Built").now(), "Built");

    let mut m = Models::default();
    let slow = ctx(60_000);
    let (status, bot) = call(&mut m, &slow, Method::PUT, "/bots/", bot_body("slow")).unwrap();
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(bot["botStatus"], "Creating");
    let id = bot["botId"].as_str().unwrap();
    let (_, described) = call(
        &mut m,
        &slow,
        Method::GET,
        &format!("/bots/{id}"),
        json!({}),
    )
    .unwrap();
    assert_eq!(described["botStatus"], "Creating", "still within the delay");
}

#[test]
fn builds_end_built_and_changes_make_the_locale_not_built() {
    let mut m = Models::default();
    let now = ctx(0);
    let id = bot_with_locale(&mut m, &now, "b1");
    let locale = format!("/bots/{id}/botversions/DRAFT/botlocales/en_US");
    let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
    assert_eq!(l["botLocaleStatus"], "NotBuilt");
    assert_eq!(
        l["voiceSettings"]["engine"], "standard",
        "service-filled default"
    );
    assert_eq!(l["intentsCount"], 1, "FallbackIntent comes with the locale");
    let (_, b) = call(&mut m, &now, Method::POST, &locale, json!({})).unwrap();
    assert_eq!(b["botLocaleStatus"], "Building");
    let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
    assert_eq!(l["botLocaleStatus"], "Built");
    call(
        &mut m,
        &now,
        Method::PUT,
        &format!("{locale}/intents"),
        json!({"intentName": "ResetPW", "sampleUtterances": [{"utterance": "reset my password"}]}),
    )
    .unwrap();
    let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
    assert_eq!(l["botLocaleStatus"], "NotBuilt");
}

#[test]
fn a_locale_that_cannot_be_built_fails_with_reasons() {
    let mut m = Models::default();
    let now = ctx(0);
    let id = bot_with_locale(&mut m, &now, "b2");
    let locale = format!("/bots/{id}/botversions/DRAFT/botlocales/en_US");
    let (_, intent) = call(
        &mut m,
        &now,
        Method::PUT,
        &format!("{locale}/intents"),
        json!({"intentName": "NoUtterances"}),
    )
    .unwrap();
    let intent_id = intent["intentId"].as_str().unwrap();
    call(
        &mut m,
        &now,
        Method::PUT,
        &format!("{locale}/intents/{intent_id}/slots"),
        json!({"slotName": "Orphan", "slotTypeId": "MISSINGTYP",
               "valueElicitationSetting": {"slotConstraint": "Required"}}),
    )
    .unwrap();
    call(&mut m, &now, Method::POST, &locale, json!({})).unwrap();
    let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
    assert_eq!(l["botLocaleStatus"], "Failed");
    let reasons = l["failureReasons"].to_string();
    assert!(
        reasons.contains("'NoUtterances' has no sample utterances"),
        "{reasons}"
    );
    assert!(
        reasons.contains("'MISSINGTYP', which does not exist"),
        "{reasons}"
    );
    assert!(
        reasons.contains("'Orphan' in intent 'NoUtterances' is required but has no prompt"),
        "{reasons}"
    );

    let forced = Ctx {
        delay: Duration::ZERO,
        forced_build_failure: true,
    };
    let id = bot_with_locale(&mut m, &now, "b3");
    let locale = format!("/bots/{id}/botversions/DRAFT/botlocales/en_US");
    call(&mut m, &forced, Method::POST, &locale, json!({})).unwrap();
    let (_, l) = call(&mut m, &now, Method::GET, &locale, json!({})).unwrap();
    assert_eq!(l["botLocaleStatus"], "Failed");
    assert!(l["failureReasons"].to_string().contains("fault rule"));
}

#[test]
fn prompts_get_the_service_filled_defaults() {
    let mut spec = json!({"messageGroups": [], "maxRetries": 2});
    fill_prompt_specification(&mut spec);
    assert_eq!(spec["allowInterrupt"], true);
    assert_eq!(spec["messageSelectionStrategy"], "Random");
    let attempts = spec["promptAttemptsSpecification"].as_object().unwrap();
    let keys: Vec<&String> = attempts.keys().collect();
    assert_eq!(keys, ["Initial", "Retry1", "Retry2"]);
    assert_eq!(
        attempts["Retry2"]["audioAndDTMFInputSpecification"]["dtmfSpecification"]["maxLength"],
        513
    );
    let mut given = json!({"maxRetries": 1, "allowInterrupt": false, "promptAttemptsSpecification": {"Initial": {}}});
    fill_prompt_specification(&mut given);
    assert_eq!(
        given["allowInterrupt"], false,
        "what the caller sent is kept"
    );
    assert_eq!(given["promptAttemptsSpecification"], json!({"Initial": {}}));
}

#[test]
fn lists_filter_sort_and_page() {
    let items: Vec<Value> = ["delta", "alpha", "charlie", "bravo", "echo"]
        .iter()
        .map(|n| json!({"botName": n}))
        .collect();
    let spec = ListSpec {
        filters: &[("BotName", "botName")],
        sorts: &[("BotName", "botName")],
        default_sort: "botName",
        not_equals: false,
    };
    let first = page(items.clone(), &json!({"maxResults": 2}), &spec).unwrap();
    assert_eq!(
        first["items"],
        json!([{"botName": "alpha"}, {"botName": "bravo"}])
    );
    let token = first["nextToken"].as_str().unwrap();
    let second = page(
        items.clone(),
        &json!({"maxResults": 2, "nextToken": token}),
        &spec,
    )
    .unwrap();
    assert_eq!(second["items"][0]["botName"], "charlie");
    let last = page(
        items.clone(),
        &json!({"maxResults": 2, "nextToken": second["nextToken"]}),
        &spec,
    )
    .unwrap();
    assert_eq!(last["items"], json!([{"botName": "echo"}]));
    assert!(last["nextToken"].is_null());
    let desc = page(
        items.clone(),
        &json!({"sortBy": {"attribute": "BotName", "order": "Descending"}}),
        &spec,
    )
    .unwrap();
    assert_eq!(desc["items"][0]["botName"], "echo");
    let co = page(
        items.clone(),
        &json!({"filters": [{"name": "BotName", "values": ["ar"], "operator": "CO"}]}),
        &spec,
    )
    .unwrap();
    assert_eq!(co["items"], json!([{"botName": "charlie"}]));
    let eq = page(
        items.clone(),
        &json!({"filters": [{"name": "BotName", "values": ["echo"], "operator": "EQ"}]}),
        &spec,
    )
    .unwrap();
    assert_eq!(eq["items"].as_array().unwrap().len(), 1);
    let bad = page(items, &json!({"nextToken": "nonsense"}), &spec);
    assert!(matches!(bad, Err(LexError::Validation(_))));
}

#[test]
fn validation_errors_name_the_field() {
    let mut m = Models::default();
    let now = ctx(0);
    let mut body = bot_body("ok");
    body["idleSessionTTLInSeconds"] = json!(5);
    let err = call(&mut m, &now, Method::PUT, "/bots", body).unwrap_err();
    assert!(
        err.to_string().contains("at 'idleSessionTTLInSeconds'"),
        "{err}"
    );
    let err = call(&mut m, &now, Method::PUT, "/bots", bot_body("bad name")).unwrap_err();
    assert_eq!(err.code(), "ValidationException");
    assert!(err.to_string().contains("at 'botName'"), "{err}");
    call(&mut m, &now, Method::PUT, "/bots", bot_body("dup")).unwrap();
    let err = call(&mut m, &now, Method::PUT, "/bots", bot_body("dup")).unwrap_err();
    assert_eq!(err.status(), StatusCode::CONFLICT);
    let err = call(&mut m, &now, Method::GET, "/bots/NOSUCHBOT0", json!({})).unwrap_err();
    assert_eq!(err.status(), StatusCode::NOT_FOUND);
    let err = call(&mut m, &now, Method::DELETE, "/bots/NOSUCHBOT0", json!({})).unwrap_err();
    assert_eq!(err.status(), StatusCode::PRECONDITION_FAILED);
}

#[test]
fn connect_association_adds_and_removes_its_statement() {
    let mut m = Models::default();
    let now = ctx(0);
    let id = bot_with_locale(&mut m, &now, "assoc");
    let alias = format!("arn:aws:lex:us-east-1:123456789012:bot-alias/{id}/TSTALIASID");
    let instance = "arn:aws:connect:us-east-1:123456789012:instance/1111-2222";
    m.connect_association(&alias, instance, "123456789012", true)
        .unwrap();
    let (_, p) = m.describe_policy(&alias).unwrap();
    let doc: Value = serde_json::from_str(p["policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["Statement"][0]["Principal"]["Service"][0],
        "connect.amazonaws.com"
    );
    assert_eq!(
        doc["Statement"][0]["Condition"]["ArnEquals"]["AWS:SourceArn"],
        instance
    );
    let first = p["revisionId"].as_str().unwrap().to_string();
    m.connect_association(&alias, instance, "123456789012", true)
        .unwrap();
    let (_, p) = m.describe_policy(&alias).unwrap();
    assert_ne!(
        p["revisionId"],
        first.as_str(),
        "a new revision each change"
    );
    let doc: Value = serde_json::from_str(p["policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["Statement"].as_array().unwrap().len(),
        1,
        "not duplicated"
    );
    m.connect_association(&alias, instance, "123456789012", false)
        .unwrap();
    assert!(matches!(
        m.describe_policy(&alias),
        Err(LexError::NotFound(_))
    ));
    let missing = format!("arn:aws:lex:us-east-1:123456789012:bot-alias/{id}/NOSUCHALIA");
    assert!(m
        .connect_association(&missing, instance, "123456789012", true)
        .is_err());
}
