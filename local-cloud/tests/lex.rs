//! Lex V2 model building in the local cloud, checked with the official SDK
//! (aws-sdk-lexmodelsv2): the emulator's router runs in-process on a random loopback port (no
//! moto needed for services answered here), and every operation resetpw uses is driven through
//! the SDK's own client, paginators and waiters.

mod common;

use aws_sdk_lexmodelsv2::client::Waiters;
use aws_sdk_lexmodelsv2::types::{
    BotAliasLocaleSettings, BotFilter, BotFilterName, BotFilterOperator, BotLocaleStatus,
    BotSortAttribute, BotSortBy, BotStatus, BotVersionLocaleDetails, CodeHookSpecification,
    DataPrivacy, DialogCodeHookSettings, FulfillmentCodeHookSettings, IntentFilter,
    IntentFilterName, IntentFilterOperator, LambdaCodeHook, MessageSelectionStrategy,
    PromptAttempt, SampleUtterance, SampleValue, SlotConstraint, SlotPriority, SlotTypeValue,
    SlotValueElicitationSetting, SlotValueResolutionStrategy, SlotValueSelectionSetting, SortOrder,
    VoiceEngine, VoiceSettings,
};
use resetpw_local_cloud::faults::FaultRule;
use resetpw_local_cloud::server::{router, State};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use common::{
    alias_arn, create_bot, create_locale, lex_client, required_slot, run, LAMBDA, R, ROLE, WAIT,
};

struct Cloud {
    url: String,
    state: Arc<State>,
}

async fn start() -> Cloud {
    // Nothing listens on port 9: nothing in these tests may reach moto.
    let state = State::new("http://127.0.0.1:9".into()).unwrap();
    state.own.lex.set_delay(Duration::from_millis(150));
    // The server runs as the binary runs it: on its own multi-threaded runtime, whose worker
    // threads have the default stack size.
    let (tx, rx) = std::sync::mpsc::channel();
    let app = router(state.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await
        })
    });
    let url = rx.recv().unwrap();
    Cloud { url, state }
}

/// The whole bot resetpw builds: locale, Month slot type, ResetPW intent with three slots,
/// priorities and hooks; built, versioned, aliased with the Lambda code hook; described back.
#[test]
fn a_full_bot_is_built_versioned_and_aliased() -> R {
    run(a_full_bot_is_built_versioned_and_aliased_steps)
}

async fn a_full_bot_is_built_versioned_and_aliased_steps() -> R {
    let cloud = start().await;
    let lex = lex_client(&cloud.url, "lex-full");

    let created = lex
        .create_bot()
        .bot_name("demo-resetpw")
        .description("password reset")
        .role_arn(ROLE)
        .data_privacy(DataPrivacy::builder().child_directed(false).build())
        .idle_session_ttl_in_seconds(300)
        .bot_tags("resetpw:stack", "demo")
        .send()
        .await?;
    let bot_id = created.bot_id().unwrap().to_string();
    assert_eq!(bot_id.len(), 10);
    assert!(bot_id
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(created.bot_status(), Some(&BotStatus::Creating));
    assert!(created.creation_date_time().is_some(), "epoch timestamp");
    let available = lex
        .wait_until_bot_available()
        .bot_id(&bot_id)
        .wait(WAIT)
        .await?;
    let bot = available.into_result()?;
    assert_eq!(bot.bot_status(), Some(&BotStatus::Available));
    assert_eq!(bot.bot_name(), Some("demo-resetpw"));
    assert_eq!(bot.role_arn(), Some(ROLE));
    assert_eq!(bot.idle_session_ttl_in_seconds(), Some(300));
    assert_eq!(bot.data_privacy().map(|d| d.child_directed()), Some(false));
    assert!(bot.last_updated_date_time().is_some());

    // Lex makes the test alias with the bot; it serves DRAFT.
    let test_alias = lex
        .describe_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_id("TSTALIASID")
        .send()
        .await?;
    assert_eq!(test_alias.bot_alias_name(), Some("TestBotAlias"));
    assert_eq!(test_alias.bot_version(), Some("DRAFT"));

    create_locale(&lex, &bot_id).await?;
    let locale = lex
        .describe_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(locale.bot_locale_status(), Some(&BotLocaleStatus::NotBuilt));
    assert_eq!(locale.locale_name(), Some("English (US)"));
    assert_eq!(
        locale.voice_settings().and_then(|v| v.engine()),
        Some(&VoiceEngine::Standard),
        "service-filled voice engine"
    );
    assert_eq!(locale.nlu_intent_confidence_threshold(), Some(0.4));

    // Month slot type with synonyms.
    let months = [
        ("January", "Jan", "1"),
        ("February", "Feb", "2"),
        ("March", "Mar", "3"),
    ];
    let mut values = Vec::new();
    for (name, abbr, number) in months {
        values.push(
            SlotTypeValue::builder()
                .sample_value(SampleValue::builder().value(name).build()?)
                .synonyms(SampleValue::builder().value(abbr).build()?)
                .synonyms(SampleValue::builder().value(number).build()?)
                .build(),
        );
    }
    let month = lex
        .create_slot_type()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .slot_type_name("Month")
        .set_slot_type_values(Some(values))
        .value_selection_setting(
            SlotValueSelectionSetting::builder()
                .resolution_strategy(SlotValueResolutionStrategy::TopResolution)
                .build()?,
        )
        .send()
        .await?;
    let month_id = month.slot_type_id().unwrap().to_string();
    let month_back = lex
        .describe_slot_type()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .slot_type_id(&month_id)
        .send()
        .await?;
    assert_eq!(month_back.slot_type_values().len(), 3);
    assert_eq!(
        month_back.slot_type_values()[1]
            .synonyms()
            .iter()
            .map(|s| s.value())
            .collect::<Vec<_>>(),
        ["Feb", "2"]
    );

    // Intent with utterances and hooks.
    let intent = lex
        .create_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_name("ResetPW")
        .sample_utterances(
            SampleUtterance::builder()
                .utterance("reset my password")
                .build()?,
        )
        .sample_utterances(
            SampleUtterance::builder()
                .utterance("I forgot my password")
                .build()?,
        )
        .dialog_code_hook(DialogCodeHookSettings::builder().enabled(true).build())
        .fulfillment_code_hook(FulfillmentCodeHookSettings::builder().enabled(true).build())
        .send()
        .await?;
    let intent_id = intent.intent_id().unwrap().to_string();
    assert_eq!(
        intent.fulfillment_code_hook().and_then(|h| h.active()),
        Some(true),
        "service-filled active flag"
    );

    let mut slot_ids = Vec::new();
    for (name, slot_type, text) in [
        ("UserID", "AMAZON.AlphaNumeric", "What is your user ID?"),
        ("DOB", "AMAZON.Date", "What is your date of birth?"),
        (
            "MonthStarted",
            month_id.as_str(),
            "In which month did you start?",
        ),
    ] {
        let slot = lex
            .create_slot()
            .bot_id(&bot_id)
            .bot_version("DRAFT")
            .locale_id("en_US")
            .intent_id(&intent_id)
            .slot_name(name)
            .slot_type_id(slot_type)
            .value_elicitation_setting(required_slot(text)?)
            .send()
            .await?;
        slot_ids.push(slot.slot_id().unwrap().to_string());
    }
    let user_id = lex
        .describe_slot()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .slot_id(&slot_ids[0])
        .send()
        .await?;
    let spec = user_id
        .value_elicitation_setting()
        .and_then(|v| v.prompt_specification())
        .expect("the prompt comes back");
    assert_eq!(spec.allow_interrupt(), Some(true));
    assert_eq!(
        spec.message_selection_strategy(),
        Some(&MessageSelectionStrategy::Random)
    );
    let attempts = spec.prompt_attempts_specification().expect("filled by Lex");
    let mut keys: Vec<&str> = attempts.keys().map(PromptAttempt::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["Initial", "Retry1", "Retry2"]);
    let initial = &attempts[&PromptAttempt::Initial];
    assert_eq!(initial.allow_interrupt(), Some(true));
    assert_eq!(
        initial
            .audio_and_dtmf_input_specification()
            .map(|a| a.start_timeout_ms()),
        Some(4000)
    );
    assert_eq!(
        initial
            .text_input_specification()
            .map(|t| t.start_timeout_ms()),
        Some(30000)
    );

    // Slot priorities live on the intent: UpdateIntent replaces the whole intent.
    let mut update = lex
        .update_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .intent_name("ResetPW")
        .sample_utterances(
            SampleUtterance::builder()
                .utterance("reset my password")
                .build()?,
        )
        .sample_utterances(
            SampleUtterance::builder()
                .utterance("I forgot my password")
                .build()?,
        )
        .dialog_code_hook(DialogCodeHookSettings::builder().enabled(true).build())
        .fulfillment_code_hook(FulfillmentCodeHookSettings::builder().enabled(true).build());
    for (i, id) in slot_ids.iter().enumerate() {
        update = update.slot_priorities(
            SlotPriority::builder()
                .priority(i as i32 + 1)
                .slot_id(id)
                .build()?,
        );
    }
    update.send().await?;
    let described = lex
        .describe_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .send()
        .await?;
    let order: Vec<&str> = described
        .slot_priorities()
        .iter()
        .map(|p| p.slot_id())
        .collect();
    assert_eq!(
        order,
        slot_ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(described.sample_utterances().len(), 2);
    assert_eq!(
        described.dialog_code_hook().map(|h| h.enabled()),
        Some(true)
    );

    let intents = lex
        .list_intents()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    let names: Vec<&str> = intents
        .intent_summaries()
        .iter()
        .filter_map(|i| i.intent_name())
        .collect();
    assert_eq!(names, ["FallbackIntent", "ResetPW"], "sorted by name");
    let slots = lex
        .list_slots()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .send()
        .await?;
    assert_eq!(slots.slot_summaries().len(), 3);

    // Build, and wait with the SDK's waiter.
    let build = lex
        .build_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(build.bot_locale_status(), Some(&BotLocaleStatus::Building));
    let built = lex
        .wait_until_bot_locale_built()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await?
        .into_result()?;
    assert_eq!(built.bot_locale_status(), Some(&BotLocaleStatus::Built));
    assert_eq!(built.intents_count(), Some(2));
    assert_eq!(built.slot_types_count(), Some(1));

    // Version 1 snapshots the DRAFT.
    let version = lex
        .create_bot_version()
        .bot_id(&bot_id)
        .bot_version_locale_specification(
            "en_US",
            BotVersionLocaleDetails::builder()
                .source_bot_version("DRAFT")
                .build()?,
        )
        .send()
        .await?;
    assert_eq!(version.bot_version(), Some("1"));
    assert_eq!(version.bot_status(), Some(&BotStatus::Creating));
    lex.wait_until_bot_version_available()
        .bot_id(&bot_id)
        .bot_version("1")
        .wait(WAIT)
        .await?;
    let v1 = lex
        .describe_bot_version()
        .bot_id(&bot_id)
        .bot_version("1")
        .send()
        .await?;
    assert_eq!(v1.bot_name(), Some("demo-resetpw"));
    assert_eq!(v1.bot_status(), Some(&BotStatus::Available));
    let v1_locale = lex
        .describe_bot_locale()
        .bot_id(&bot_id)
        .bot_version("1")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(v1_locale.bot_locale_status(), Some(&BotLocaleStatus::Built));

    // A DRAFT change: the locale needs building again, version 1 keeps its snapshot.
    lex.update_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .intent_name("ResetPW")
        .sample_utterances(
            SampleUtterance::builder()
                .utterance("new password please")
                .build()?,
        )
        .send()
        .await?;
    let draft_locale = lex
        .describe_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(
        draft_locale.bot_locale_status(),
        Some(&BotLocaleStatus::NotBuilt)
    );
    let v1_intent = lex
        .describe_intent()
        .bot_id(&bot_id)
        .bot_version("1")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .send()
        .await?;
    assert_eq!(v1_intent.sample_utterances().len(), 2, "the snapshot");
    assert_eq!(v1_intent.slot_priorities().len(), 3);
    let v1_intents = lex
        .list_intents()
        .bot_id(&bot_id)
        .bot_version("1")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(v1_intents.intent_summaries().len(), 2);

    // Alias `live` on version 1 with the Lambda code hook.
    let hook = BotAliasLocaleSettings::builder()
        .enabled(true)
        .code_hook_specification(
            CodeHookSpecification::builder()
                .lambda_code_hook(
                    LambdaCodeHook::builder()
                        .lambda_arn(LAMBDA)
                        .code_hook_interface_version("1.0")
                        .build()?,
                )
                .build(),
        )
        .build();
    let alias = lex
        .create_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_name("live")
        .bot_version("1")
        .bot_alias_locale_settings("en_US", hook.clone())
        .tags("resetpw:stack", "demo")
        .send()
        .await?;
    let alias_id = alias.bot_alias_id().unwrap().to_string();
    assert_eq!(alias_id.len(), 10);
    let alias_back = lex
        .wait_until_bot_alias_available()
        .bot_id(&bot_id)
        .bot_alias_id(&alias_id)
        .wait(WAIT)
        .await?
        .into_result()?;
    assert_eq!(alias_back.bot_version(), Some("1"));
    let settings = &alias_back.bot_alias_locale_settings().unwrap()["en_US"];
    assert!(settings.enabled());
    let lambda = settings
        .code_hook_specification()
        .and_then(|c| c.lambda_code_hook())
        .unwrap();
    assert_eq!(lambda.lambda_arn(), LAMBDA);
    assert_eq!(lambda.code_hook_interface_version(), "1.0");

    // Build again, version 2, move the alias: its history records version 1.
    lex.build_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    lex.wait_until_bot_locale_built()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await?;
    let v2 = lex
        .create_bot_version()
        .bot_id(&bot_id)
        .bot_version_locale_specification(
            "en_US",
            BotVersionLocaleDetails::builder()
                .source_bot_version("DRAFT")
                .build()?,
        )
        .send()
        .await?;
    assert_eq!(v2.bot_version(), Some("2"));
    lex.update_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_id(&alias_id)
        .bot_alias_name("live")
        .bot_version("2")
        .bot_alias_locale_settings("en_US", hook)
        .send()
        .await?;
    let moved = lex
        .describe_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_id(&alias_id)
        .send()
        .await?;
    assert_eq!(moved.bot_version(), Some("2"));
    assert_eq!(moved.bot_alias_history_events()[0].bot_version(), Some("1"));
    let versions = lex.list_bot_versions().bot_id(&bot_id).send().await?;
    let listed: Vec<&str> = versions
        .bot_version_summaries()
        .iter()
        .filter_map(|v| v.bot_version())
        .collect();
    assert_eq!(listed, ["DRAFT", "1", "2"]);
    let aliases = lex.list_bot_aliases().bot_id(&bot_id).send().await?;
    assert_eq!(
        aliases.bot_alias_summaries().len(),
        2,
        "TSTALIASID and live"
    );

    // Tags on the bot and alias ARNs.
    let bot_arn = format!("arn:aws:lex:us-east-1:123456789012:bot/{bot_id}");
    let tags = lex
        .list_tags_for_resource()
        .resource_arn(&bot_arn)
        .send()
        .await?;
    assert_eq!(tags.tags().unwrap()["resetpw:stack"], "demo");
    lex.tag_resource()
        .resource_arn(alias_arn(&bot_id, &alias_id))
        .tags("owner", "it")
        .send()
        .await?;
    lex.untag_resource()
        .resource_arn(alias_arn(&bot_id, &alias_id))
        .tag_keys("resetpw:stack")
        .send()
        .await?;
    let alias_tags = lex
        .list_tags_for_resource()
        .resource_arn(alias_arn(&bot_id, &alias_id))
        .send()
        .await?;
    let alias_tags = alias_tags.tags().unwrap();
    assert_eq!(alias_tags.len(), 1);
    assert_eq!(alias_tags["owner"], "it");

    // UpdateBot, UpdateBotLocale, UpdateSlot, UpdateSlotType answer the new definition.
    let updated = lex
        .update_bot()
        .bot_id(&bot_id)
        .bot_name("demo-resetpw")
        .role_arn(ROLE)
        .data_privacy(DataPrivacy::builder().child_directed(false).build())
        .idle_session_ttl_in_seconds(600)
        .send()
        .await?;
    assert_eq!(updated.idle_session_ttl_in_seconds(), Some(600));
    let voice = lex
        .update_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .nlu_intent_confidence_threshold(0.5)
        .voice_settings(
            VoiceSettings::builder()
                .voice_id("Matthew")
                .engine(VoiceEngine::Neural)
                .build()?,
        )
        .send()
        .await?;
    assert_eq!(
        voice.voice_settings().map(|v| v.voice_id()),
        Some("Matthew")
    );
    assert_eq!(voice.bot_locale_status(), Some(&BotLocaleStatus::NotBuilt));
    let slot = lex
        .update_slot()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(&intent_id)
        .slot_id(&slot_ids[1])
        .slot_name("DOB")
        .slot_type_id("AMAZON.Date")
        .value_elicitation_setting(required_slot("Your birth date?")?)
        .send()
        .await?;
    assert!(slot.last_updated_date_time().is_some());
    Ok(())
}

#[test]
fn lists_filter_sort_and_paginate() -> R {
    run(lists_filter_sort_and_paginate_steps)
}

async fn lists_filter_sort_and_paginate_steps() -> R {
    let cloud = start().await;
    let lex = lex_client(&cloud.url, "lex-lists");
    for name in ["echo", "alpha", "delta", "bravo", "charlie"] {
        create_bot(&lex, &format!("list-{name}")).await?;
    }
    let first = lex.list_bots().max_results(2).send().await?;
    assert_eq!(first.bot_summaries().len(), 2);
    assert_eq!(first.bot_summaries()[0].bot_name(), Some("list-alpha"));
    assert!(first.next_token().is_some());
    let all: Vec<String> = lex
        .list_bots()
        .max_results(2)
        .into_paginator()
        .send()
        .try_collect()
        .await?
        .iter()
        .flat_map(|page| page.bot_summaries())
        .filter_map(|b| b.bot_name().map(str::to_string))
        .collect();
    assert_eq!(
        all,
        [
            "list-alpha",
            "list-bravo",
            "list-charlie",
            "list-delta",
            "list-echo"
        ]
    );
    let descending = lex
        .list_bots()
        .sort_by(
            BotSortBy::builder()
                .attribute(BotSortAttribute::BotName)
                .order(SortOrder::Descending)
                .build()?,
        )
        .send()
        .await?;
    assert_eq!(descending.bot_summaries()[0].bot_name(), Some("list-echo"));
    let eq = lex
        .list_bots()
        .filters(
            BotFilter::builder()
                .name(BotFilterName::BotName)
                .operator(BotFilterOperator::Equals)
                .values("list-delta")
                .build()?,
        )
        .send()
        .await?;
    assert_eq!(eq.bot_summaries().len(), 1);
    assert_eq!(eq.bot_summaries()[0].bot_name(), Some("list-delta"));
    let co = lex
        .list_bots()
        .filters(
            BotFilter::builder()
                .name(BotFilterName::BotName)
                .operator(BotFilterOperator::Contains)
                .values("lph")
                .build()?,
        )
        .send()
        .await?;
    let names: Vec<&str> = co
        .bot_summaries()
        .iter()
        .filter_map(|b| b.bot_name())
        .collect();
    assert_eq!(names, ["list-alpha"]);

    let bot_id = create_bot(&lex, "list-intents").await?;
    create_locale(&lex, &bot_id).await?;
    for name in ["Zeta", "Alpha", "Mid"] {
        lex.create_intent()
            .bot_id(&bot_id)
            .bot_version("DRAFT")
            .locale_id("en_US")
            .intent_name(name)
            .sample_utterances(SampleUtterance::builder().utterance("hello").build()?)
            .send()
            .await?;
    }
    let filtered = lex
        .list_intents()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .filters(
            IntentFilter::builder()
                .name(IntentFilterName::IntentName)
                .operator(IntentFilterOperator::Equals)
                .values("Mid")
                .build()?,
        )
        .send()
        .await?;
    assert_eq!(filtered.intent_summaries().len(), 1);
    let paged: Vec<String> = lex
        .list_intents()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .max_results(1)
        .into_paginator()
        .send()
        .try_collect()
        .await?
        .iter()
        .flat_map(|page| page.intent_summaries())
        .filter_map(|i| i.intent_name().map(str::to_string))
        .collect();
    assert_eq!(paged, ["Alpha", "FallbackIntent", "Mid", "Zeta"]);
    let locales = lex
        .list_bot_locales()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .send()
        .await?;
    assert_eq!(locales.bot_locale_summaries()[0].locale_id(), Some("en_US"));
    Ok(())
}

#[test]
fn errors_have_lex_types_and_codes() -> R {
    run(errors_have_lex_types_and_codes_steps)
}

async fn errors_have_lex_types_and_codes_steps() -> R {
    let cloud = start().await;
    let lex = lex_client(&cloud.url, "lex-errors");

    let missing = lex.describe_bot().bot_id("NOSUCHBOT0").send().await;
    let err = missing.unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);

    let bot_id = create_bot(&lex, "errors-bot").await?;
    let duplicate = lex
        .create_bot()
        .bot_name("errors-bot")
        .role_arn(ROLE)
        .data_privacy(DataPrivacy::builder().child_directed(false).build())
        .idle_session_ttl_in_seconds(300)
        .send()
        .await
        .unwrap_err();
    assert!(duplicate
        .as_service_error()
        .unwrap()
        .is_conflict_exception());

    let ttl = lex
        .create_bot()
        .bot_name("errors-ttl")
        .role_arn(ROLE)
        .data_privacy(DataPrivacy::builder().child_directed(false).build())
        .idle_session_ttl_in_seconds(10)
        .send()
        .await
        .unwrap_err();
    let ttl = ttl.into_service_error();
    assert!(ttl.is_validation_exception());
    assert!(ttl.to_string().contains("idleSessionTTLInSeconds"), "{ttl}");

    let update_missing = lex
        .update_bot()
        .bot_id("NOSUCHBOT0")
        .bot_name("x")
        .role_arn(ROLE)
        .data_privacy(DataPrivacy::builder().child_directed(false).build())
        .idle_session_ttl_in_seconds(300)
        .send()
        .await
        .unwrap_err();
    assert!(update_missing
        .as_service_error()
        .unwrap()
        .is_precondition_failed_exception());

    create_locale(&lex, &bot_id).await?;
    // A version needs every locale built.
    let not_built = lex
        .create_bot_version()
        .bot_id(&bot_id)
        .bot_version_locale_specification(
            "en_US",
            BotVersionLocaleDetails::builder()
                .source_bot_version("DRAFT")
                .build()?,
        )
        .send()
        .await
        .unwrap_err();
    assert!(not_built
        .as_service_error()
        .unwrap()
        .is_precondition_failed_exception());

    // An alias cannot serve DRAFT.
    let draft_alias = lex
        .create_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_name("draft")
        .bot_version("DRAFT")
        .send()
        .await
        .unwrap_err();
    assert!(draft_alias
        .as_service_error()
        .unwrap()
        .is_validation_exception());

    lex.create_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_name("Hello")
        .sample_utterances(SampleUtterance::builder().utterance("hello").build()?)
        .send()
        .await?;
    lex.build_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    let again = lex
        .build_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await
        .unwrap_err();
    assert!(
        again.as_service_error().unwrap().is_conflict_exception(),
        "a build is running"
    );
    lex.wait_until_bot_locale_built()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await?;
    lex.create_bot_version()
        .bot_id(&bot_id)
        .bot_version_locale_specification(
            "en_US",
            BotVersionLocaleDetails::builder()
                .source_bot_version("DRAFT")
                .build()?,
        )
        .send()
        .await?;
    let alias = lex
        .create_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_name("live")
        .bot_version("1")
        .send()
        .await?;
    let alias_id = alias.bot_alias_id().unwrap().to_string();

    // A version an alias serves cannot be deleted (unless the in-use check is skipped).
    let in_use = lex
        .delete_bot_version()
        .bot_id(&bot_id)
        .bot_version("1")
        .send()
        .await
        .unwrap_err();
    assert!(in_use.as_service_error().unwrap().is_conflict_exception());
    assert_eq!(in_use.raw_response().unwrap().status().as_u16(), 409);

    // A bot with aliases is deleted only with skipResourceInUseCheck, and then entirely.
    let bot_in_use = lex.delete_bot().bot_id(&bot_id).send().await.unwrap_err();
    assert!(bot_in_use
        .as_service_error()
        .unwrap()
        .is_conflict_exception());
    lex.delete_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_id(&alias_id)
        .send()
        .await?;
    let gone = lex
        .describe_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_id(&alias_id)
        .send()
        .await
        .unwrap_err();
    assert!(gone
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    lex.delete_bot_version()
        .bot_id(&bot_id)
        .bot_version("1")
        .send()
        .await?;
    lex.create_bot_alias()
        .bot_id(&bot_id)
        .bot_alias_name("other")
        .send()
        .await?;
    let deleted = lex
        .delete_bot()
        .bot_id(&bot_id)
        .skip_resource_in_use_check(true)
        .send()
        .await?;
    assert_eq!(deleted.bot_status(), Some(&BotStatus::Deleting));
    let after = lex
        .describe_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await
        .unwrap_err();
    assert!(after
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    let aliases = lex.list_bot_aliases().bot_id(&bot_id).send().await;
    assert!(aliases.is_err(), "the aliases went with the bot");
    Ok(())
}

#[test]
fn failed_builds_say_why() -> R {
    run(failed_builds_say_why_steps)
}

async fn failed_builds_say_why_steps() -> R {
    let cloud = start().await;
    let lex = lex_client(&cloud.url, "lex-failed");
    let bot_id = create_bot(&lex, "failing").await?;
    create_locale(&lex, &bot_id).await?;
    let intent = lex
        .create_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_name("Silent")
        .send()
        .await?;
    let intent_id = intent.intent_id().unwrap();
    let temp_type = lex
        .create_slot_type()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .slot_type_name("Temp")
        .slot_type_values(
            SlotTypeValue::builder()
                .sample_value(SampleValue::builder().value("x").build()?)
                .build(),
        )
        .value_selection_setting(
            SlotValueSelectionSetting::builder()
                .resolution_strategy(SlotValueResolutionStrategy::OriginalValue)
                .build()?,
        )
        .send()
        .await?;
    let temp_id = temp_type.slot_type_id().unwrap();
    lex.create_slot()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .slot_name("Orphan")
        .slot_type_id(temp_id)
        .value_elicitation_setting(required_slot("?")?)
        .send()
        .await?;
    lex.create_slot()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .slot_name("Mute")
        .slot_type_id("AMAZON.Date")
        .value_elicitation_setting(
            SlotValueElicitationSetting::builder()
                .slot_constraint(SlotConstraint::Required)
                .build()?,
        )
        .send()
        .await?;
    // The slot type is in use; only skipResourceInUseCheck deletes it.
    let in_use = lex
        .delete_slot_type()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .slot_type_id(temp_id)
        .send()
        .await
        .unwrap_err();
    assert!(in_use.as_service_error().unwrap().is_conflict_exception());
    lex.delete_slot_type()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .slot_type_id(temp_id)
        .skip_resource_in_use_check(true)
        .send()
        .await?;

    lex.build_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    let waited = lex
        .wait_until_bot_locale_built()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await;
    assert!(waited.is_err(), "the waiter stops on Failed");
    let locale = lex
        .describe_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(locale.bot_locale_status(), Some(&BotLocaleStatus::Failed));
    let reasons = locale.failure_reasons().join("\n");
    assert_eq!(locale.failure_reasons().len(), 3, "{reasons}");
    assert!(
        reasons.contains("'Silent' has no sample utterances"),
        "{reasons}"
    );
    assert!(reasons.contains("which does not exist"), "{reasons}");
    assert!(
        reasons.contains("'Mute' in intent 'Silent' is required but has no prompt"),
        "{reasons}"
    );

    // A fault rule forces a buildable locale's build to fail.
    let good = create_bot(&lex, "forced").await?;
    create_locale(&lex, &good).await?;
    let rule = reqwest::Client::new()
        .post(format!("{}/_localcloud/faults", cloud.url))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({
                "service": "lex", "operation": "BuildBotLocale", "app": "lex-failed",
                "status": 400, "code": "BuildFailed", "remaining": 1
            })
            .to_string(),
        )
        .send()
        .await?
        .bytes()
        .await?;
    let rule: Value = serde_json::from_slice(&rule)?;
    assert!(rule["id"].as_u64().is_some());
    let accepted = lex
        .build_bot_locale()
        .bot_id(&good)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(
        accepted.bot_locale_status(),
        Some(&BotLocaleStatus::Building)
    );
    let waited = lex
        .wait_until_bot_locale_built()
        .bot_id(&good)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await;
    assert!(waited.is_err());
    let forced = lex
        .describe_bot_locale()
        .bot_id(&good)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(forced.bot_locale_status(), Some(&BotLocaleStatus::Failed));
    assert!(forced.failure_reasons()[0].contains("fault rule"));
    // The rule is used up: the next build succeeds.
    lex.build_bot_locale()
        .bot_id(&good)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    lex.wait_until_bot_locale_built()
        .bot_id(&good)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .wait(WAIT)
        .await?;
    let calls = cloud.state.recorder.list(Some("lex-failed"), 0);
    let builds: Vec<bool> = calls
        .iter()
        .filter(|c| c.operation == "BuildBotLocale")
        .map(|c| c.injected)
        .collect();
    assert_eq!(
        builds,
        [false, true, false],
        "the forced one is marked injected"
    );
    // An ordinary fault rule still answers an error.
    cloud.state.faults.add(FaultRule {
        id: 0,
        service: Some("lex".into()),
        operation: Some("DescribeBot".into()),
        app: Some("lex-failed".into()),
        rate: 1.0,
        status: Some(400),
        code: None,
        message: None,
        latency_ms: 0,
        transition_ms: None,
        remaining: Some(20),
    });
    let throttled = lex.describe_bot().bot_id(&good).send().await.unwrap_err();
    assert_eq!(
        throttled.as_service_error().and_then(|e| e.meta().code()),
        Some("ThrottlingException")
    );
    Ok(())
}

#[test]
fn resource_policies_have_numeric_revisions() -> R {
    run(resource_policies_have_numeric_revisions_steps)
}

async fn resource_policies_have_numeric_revisions_steps() -> R {
    let cloud = start().await;
    let lex = lex_client(&cloud.url, "lex-policy");
    let bot_id = create_bot(&lex, "policy-bot").await?;
    let arn = alias_arn(&bot_id, "TSTALIASID");
    let none = lex
        .describe_resource_policy()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(none
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "a", "Effect": "Allow", "Principal": {"Service": "lexv2.amazonaws.com"},
        "Action": "lex:RecognizeText", "Resource": arn}]})
    .to_string();
    let created = lex
        .create_resource_policy()
        .resource_arn(&arn)
        .policy(&policy)
        .send()
        .await?;
    let revision = created.revision_id().unwrap().to_string();
    assert!(revision.chars().all(|c| c.is_ascii_digit()), "{revision}");
    let again = lex
        .create_resource_policy()
        .resource_arn(&arn)
        .policy(&policy)
        .send()
        .await
        .unwrap_err();
    assert!(again
        .as_service_error()
        .unwrap()
        .is_precondition_failed_exception());
    let stale = lex
        .update_resource_policy()
        .resource_arn(&arn)
        .policy(&policy)
        .expected_revision_id("99999")
        .send()
        .await
        .unwrap_err();
    assert!(stale
        .as_service_error()
        .unwrap()
        .is_precondition_failed_exception());
    assert_eq!(stale.raw_response().unwrap().status().as_u16(), 412);
    let updated = lex
        .update_resource_policy()
        .resource_arn(&arn)
        .policy(&policy)
        .expected_revision_id(&revision)
        .send()
        .await?;
    assert_ne!(updated.revision_id(), Some(revision.as_str()));
    let described = lex
        .describe_resource_policy()
        .resource_arn(&arn)
        .send()
        .await?;
    assert_eq!(described.revision_id(), updated.revision_id());
    let doc: Value = serde_json::from_str(described.policy().unwrap())?;
    assert_eq!(doc["Statement"][0]["Sid"], "a");
    lex.delete_resource_policy()
        .resource_arn(&arn)
        .expected_revision_id(updated.revision_id().unwrap())
        .send()
        .await?;

    // What Connect's AssociateBot / DisassociateBot do to the alias policy.
    let instance =
        "arn:aws:connect:us-east-1:123456789012:instance/4f5e6d7c-0000-1111-2222-333344445555";
    cloud
        .state
        .own
        .lex
        .connect_association(&arn, instance, "123456789012", true)?;
    let associated = lex
        .describe_resource_policy()
        .resource_arn(&arn)
        .send()
        .await?;
    let doc: Value = serde_json::from_str(associated.policy().unwrap())?;
    let statement = &doc["Statement"][0];
    assert_eq!(
        statement["Principal"]["Service"][0],
        "connect.amazonaws.com"
    );
    assert_eq!(
        statement["Action"],
        serde_json::json!(["lex:RecognizeText", "lex:StartConversation"])
    );
    assert_eq!(statement["Resource"][0], arn.as_str());
    assert_eq!(
        statement["Condition"]["StringEquals"]["AWS:SourceAccount"],
        "123456789012"
    );
    assert_eq!(
        statement["Condition"]["ArnEquals"]["AWS:SourceArn"],
        instance
    );
    cloud
        .state
        .own
        .lex
        .connect_association(&arn, instance, "123456789012", false)?;
    let removed = lex
        .describe_resource_policy()
        .resource_arn(&arn)
        .send()
        .await;
    assert!(
        removed.is_err(),
        "the last statement removed takes the policy with it"
    );
    assert!(cloud
        .state
        .own
        .lex
        .connect_association(
            &alias_arn(&bot_id, "NOSUCHALIA"),
            instance,
            "123456789012",
            true
        )
        .is_err());
    Ok(())
}

#[test]
fn the_call_record_names_lex_operations() -> R {
    run(the_call_record_names_lex_operations_steps)
}

async fn the_call_record_names_lex_operations_steps() -> R {
    let cloud = start().await;
    let lex = lex_client(&cloud.url, "lex-record");
    lex.list_bots().send().await?;
    let bot_id = create_bot(&lex, "recorded").await?;
    lex.describe_bot().bot_id(&bot_id).send().await?;
    lex.list_bot_aliases().bot_id(&bot_id).send().await?;
    let calls = reqwest::Client::new()
        .get(format!("{}/_localcloud/calls?app=lex-record", cloud.url))
        .send()
        .await?
        .bytes()
        .await?;
    let calls: Vec<Value> = serde_json::from_slice(&calls)?;
    let seen: Vec<(String, bool)> = calls
        .iter()
        .map(|c| {
            (
                c["operation"].as_str().unwrap_or("").to_string(),
                c["mutating"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    let expected = [
        ("ListBots", false),
        ("CreateBot", true),
        ("DescribeBot", false),
        ("ListBotAliases", false),
    ];
    assert_eq!(
        seen,
        expected
            .iter()
            .map(|(o, m)| (o.to_string(), *m))
            .collect::<Vec<_>>()
    );
    assert!(calls
        .iter()
        .all(|c| c["service"] == "lex" && c["status"] != 501));
    Ok(())
}

#[test]
fn the_rest_of_the_model_api_answers() -> R {
    run(the_rest_of_the_model_api_answers_steps)
}

async fn the_rest_of_the_model_api_answers_steps() -> R {
    let cloud = start().await;
    let lex = lex_client(&cloud.url, "lex-rest");
    let bot_id = create_bot(&lex, "rest-bot").await?;
    create_locale(&lex, &bot_id).await?;
    let selection = SlotValueSelectionSetting::builder()
        .resolution_strategy(SlotValueResolutionStrategy::TopResolution)
        .build()?;
    let color = lex
        .create_slot_type()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .slot_type_name("Color")
        .slot_type_values(
            SlotTypeValue::builder()
                .sample_value(SampleValue::builder().value("red").build()?)
                .build(),
        )
        .value_selection_setting(selection.clone())
        .send()
        .await?;
    let color_id = color.slot_type_id().unwrap();
    let renamed = lex
        .update_slot_type()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .slot_type_id(color_id)
        .slot_type_name("Colour")
        .value_selection_setting(selection)
        .send()
        .await?;
    assert_eq!(renamed.slot_type_name(), Some("Colour"));
    assert!(renamed.slot_type_values().is_empty(), "an update replaces");
    let types = lex
        .list_slot_types()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(
        types.slot_type_summaries()[0].slot_type_name(),
        Some("Colour")
    );

    let intent = lex
        .create_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_name("Paint")
        .sample_utterances(SampleUtterance::builder().utterance("paint it").build()?)
        .send()
        .await?;
    let intent_id = intent.intent_id().unwrap();
    let slot = lex
        .create_slot()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .slot_name("Shade")
        .slot_type_id(color_id)
        .value_elicitation_setting(required_slot("Which colour?")?)
        .send()
        .await?;
    lex.update_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .intent_name("Paint")
        .slot_priorities(
            SlotPriority::builder()
                .priority(1)
                .slot_id(slot.slot_id().unwrap())
                .build()?,
        )
        .send()
        .await?;
    lex.delete_slot()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .slot_id(slot.slot_id().unwrap())
        .send()
        .await?;
    let intent_back = lex
        .describe_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .send()
        .await?;
    assert!(
        intent_back.slot_priorities().is_empty(),
        "a deleted slot leaves the priorities"
    );
    lex.delete_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .send()
        .await?;
    let gone = lex
        .describe_intent()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .intent_id(intent_id)
        .send()
        .await
        .unwrap_err();
    assert!(gone
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());

    // Policy statements.
    let arn = format!("arn:aws:lex:us-east-1:123456789012:bot/{bot_id}");
    let statement = lex
        .create_resource_policy_statement()
        .resource_arn(&arn)
        .statement_id("AllowAccount")
        .effect(aws_sdk_lexmodelsv2::types::Effect::Allow)
        .principal(
            aws_sdk_lexmodelsv2::types::Principal::builder()
                .arn("arn:aws:iam::123456789012:root")
                .build(),
        )
        .action("lex:DescribeBot")
        .send()
        .await?;
    assert!(statement.revision_id().is_some());
    let duplicate = lex
        .create_resource_policy_statement()
        .resource_arn(&arn)
        .statement_id("AllowAccount")
        .effect(aws_sdk_lexmodelsv2::types::Effect::Allow)
        .principal(
            aws_sdk_lexmodelsv2::types::Principal::builder()
                .arn("arn:aws:iam::123456789012:root")
                .build(),
        )
        .action("lex:DescribeBot")
        .send()
        .await
        .unwrap_err();
    assert!(duplicate
        .as_service_error()
        .unwrap()
        .is_conflict_exception());
    let policy = lex
        .describe_resource_policy()
        .resource_arn(&arn)
        .send()
        .await?;
    let doc: Value = serde_json::from_str(policy.policy().unwrap())?;
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"][0],
        "arn:aws:iam::123456789012:root"
    );
    lex.delete_resource_policy_statement()
        .resource_arn(&arn)
        .statement_id("AllowAccount")
        .send()
        .await?;
    assert!(lex
        .describe_resource_policy()
        .resource_arn(&arn)
        .send()
        .await
        .is_err());

    let deleted = lex
        .delete_bot_locale()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .locale_id("en_US")
        .send()
        .await?;
    assert_eq!(
        deleted.bot_locale_status(),
        Some(&BotLocaleStatus::Deleting)
    );
    let locales = lex
        .list_bot_locales()
        .bot_id(&bot_id)
        .bot_version("DRAFT")
        .send()
        .await?;
    assert!(locales.bot_locale_summaries().is_empty());
    Ok(())
}
