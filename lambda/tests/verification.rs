//! The one-time code, the refused accounts, unlock and the owner's email, against the real
//! Samba DC (scripts/local-directory) and the local cloud's DynamoDB, SNS and SES. Each test
//! owns its fixture users.

mod support;

use resetpw_lambda::audit::Audit;
use resetpw_lambda::handler::{Handler, MSG_NOT_VERIFIED, MSG_UNLOCKED};
use resetpw_lambda::lex::{LexEvent, LexResponse};
use serde_json::{json, Value};
use support::*;

async fn run(handler: &Handler, event: LexEvent) -> (LexResponse, Audit) {
    let (response, audit) = handler.handle_with_audit(event).await;
    audit.emit();
    (response, audit)
}

/// An event as Lex V2 sends it for `intent` in `session`, every knowledge answer of `f`
/// right, from the number on record, with `code` in the Code slot.
fn event(source: &str, intent: &str, f: &Fixture, session: &str, code: Option<&str>) -> LexEvent {
    serde_json::from_value(json!({
        "messageVersion": "1.0",
        "invocationSource": source,
        "inputMode": "Speech",
        "sessionId": session,
        "inputTranscript": "",
        "bot": {"id": "BOT", "name": "resetpw", "localeId": "en_US", "version": "1", "aliasId": "ALIAS", "aliasName": "live"},
        "sessionState": {
            "sessionAttributes": {"ContactId": session, "CallerNumber": f.phone},
            "intent": {"name": intent, "state": "InProgress", "confirmationState": "None", "slots": {
                "UserID": slot(f.sam), "DOB": slot(f.dob), "MonthStarted": slot(f.month),
                "Code": code.map(slot).unwrap_or(Value::Null)
            }}
        }
    }))
    .unwrap()
}

fn kind(r: &LexResponse) -> (&str, &str) {
    (
        r.session_state.dialog_action.kind.as_str(),
        r.session_state.intent.state.as_str(),
    )
}

fn attribute<'a>(r: &'a LexResponse, name: &str) -> &'a str {
    r.session_state.session_attributes.as_ref().unwrap()[name].as_str()
}

/// The dialog turn after the last knowledge answer, then the code from the SMS, then the
/// fulfillment: the whole verified request.
async fn verified_request(
    handler: &Handler,
    app: &str,
    intent: &str,
    f: &Fixture,
    session: &str,
) -> (LexResponse, Audit) {
    let (r, a) = run(handler, event("DialogCodeHook", intent, f, session, None)).await;
    assert_eq!(kind(&r).0, "ElicitSlot", "{a:?}");
    let code = code_in(&sms_published(app).await.last().expect("code SMS").1);
    let (r, a) = run(
        handler,
        event("DialogCodeHook", intent, f, session, Some(&code)),
    )
    .await;
    assert_eq!(kind(&r).0, "Delegate", "{a:?}");
    run(
        handler,
        event("FulfillmentCodeHook", intent, f, session, Some(&code)),
    )
    .await
}

const CODE: Fixture = Fixture {
    sam: "rp.code",
    dob: "1987-07-17",
    month: "July",
    phone: "+15550100035",
};

#[tokio::test]
async fn the_reset_needs_the_code_texted_to_the_phone_on_record() {
    let known = admin_set_password(CODE.sam).await;
    let setup = Setup::new("code")
        .with("RESETPW_ONE_TIME_CODE", "on")
        .with("RESETPW_SERVICE_DESK_NUMBER", "+15555550100");
    let (handler, _) = setup.handler().await;

    // Fulfillment without a code: refused, nothing written.
    let (r, a) = run(
        &handler,
        event(
            "FulfillmentCodeHook",
            "ResetPW",
            &CODE,
            "code-1",
            Some("123456"),
        ),
    )
    .await;
    assert_eq!(kind(&r), ("Close", "Failed"));
    assert_eq!(a.reason, "code_not_verified");
    assert!(try_bind(&user_dn(CODE.sam), &known).await.is_ok());
    assert!(sms_published(&setup.app).await.is_empty());

    let (r, a) = verified_request(&handler, &setup.app, "ResetPW", &CODE, "code-1").await;
    assert_eq!(kind(&r), ("Close", "Fulfilled"), "{a:?}");
    assert_eq!(attribute(&r, "resetpw_verified"), "code");
    let sms = sms_published(&setup.app).await;
    assert_eq!(sms.len(), 2, "the code, then the password");
    assert!(sms.iter().all(|(to, _)| to == CODE.phone));
    assert!(!sms[0].1.contains(CODE.sam) && !sms[0].1.contains("rp."));
    let password = password_in(&sms[1].1);
    assert!(sms[1].1.contains("call +15555550100 now"));
    // The new password binds (773: it must be changed), the old one does not.
    match try_bind(&user_dn(CODE.sam), &password).await {
        Err((49, text)) => assert!(text.contains("data 773"), "{text}"),
        other => panic!("expected a must-change bind result, got {other:?}"),
    }
    assert!(try_bind(&user_dn(CODE.sam), &known).await.is_err());
    assert_eq!(
        read_attribute(CODE.sam, "pwdLastSet").await.as_deref(),
        Some("0")
    );
    let line = a.to_json().to_string();
    assert!(
        !line.contains(&password) && !line.contains(&code_in(&sms[0].1)),
        "{line}"
    );

    // The session's code is spent.
    let (r, _) = run(
        &handler,
        event(
            "FulfillmentCodeHook",
            "ResetPW",
            &CODE,
            "code-1",
            Some(&code_in(&sms[0].1)),
        ),
    )
    .await;
    assert_eq!(kind(&r), ("Close", "Failed"));
    assert_eq!(sms_published(&setup.app).await.len(), 2);
}

const ADMINCOUNT: Fixture = Fixture {
    sam: "rp.admincount",
    dob: "1981-01-11",
    month: "January",
    phone: "+15550100031",
};
const DOMAINADMIN: Fixture = Fixture {
    sam: "rp.domainadmin",
    dob: "1982-02-12",
    month: "February",
    phone: "+15550100032",
};
const NESTED: Fixture = Fixture {
    sam: "rp.nested",
    dob: "1983-03-13",
    month: "March",
    phone: "+15550100033",
};
const DISABLED: Fixture = Fixture {
    sam: "rp.disabled",
    dob: "1984-04-14",
    month: "April",
    phone: "+15550100034",
};

#[tokio::test]
async fn privileged_and_disabled_accounts_are_refused_like_a_wrong_answer() {
    let setup = Setup::new("refused").with("RESETPW_ONE_TIME_CODE", "on");
    let (handler, _) = setup.handler().await;
    for (f, reason) in [
        (&ADMINCOUNT, "privileged"),
        (&DOMAINADMIN, "privileged"),
        (&NESTED, "privileged"),
        (&DISABLED, "disabled"),
    ] {
        let before = read_attribute(f.sam, "pwdLastSet").await;
        let (r, a) = run(
            &handler,
            event(
                "DialogCodeHook",
                "ResetPW",
                f,
                &format!("refused-{}", f.sam),
                None,
            ),
        )
        .await;
        assert_eq!(kind(&r), ("Close", "Failed"), "{}", f.sam);
        assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED, "{}", f.sam);
        assert_eq!(
            (a.outcome.as_str(), a.reason.as_str()),
            ("refused", reason),
            "{}",
            f.sam
        );
        assert_eq!(attribute(&r, "resetpw_verified"), "none");
        assert_eq!(attribute(&r, "resetpw_outcome"), "not_verified");
        assert_eq!(
            read_attribute(f.sam, "pwdLastSet").await,
            before,
            "{}",
            f.sam
        );
    }
    // The same words as a wrong date of birth, and no SMS at all.
    let mut wrong = event("DialogCodeHook", "ResetPW", &CODE, "refused-wrong", None);
    wrong
        .session_state
        .intent
        .as_mut()
        .unwrap()
        .slots
        .insert("DOB".into(), slot("1987-07-18"));
    let (r, a) = run(&handler, wrong).await;
    assert_eq!(
        (r.messages[0].content.as_str(), a.reason.as_str()),
        (MSG_NOT_VERIFIED, "wrong_answer")
    );
    assert!(sms_published(&setup.app).await.is_empty());
}

const UNLOCK: Fixture = Fixture {
    sam: "rp.unlock",
    dob: "1989-09-19",
    month: "September",
    phone: "+15550100037",
};

#[tokio::test]
async fn unlock_clears_the_lockout_and_keeps_the_password() {
    let known = admin_set_password(UNLOCK.sam).await;
    // Five failed binds lock the account (the local directory's lockout policy).
    for _ in 0..5 {
        assert!(try_bind(&user_dn(UNLOCK.sam), "Not#The1Password")
            .await
            .is_err());
    }
    let locked = read_attribute(UNLOCK.sam, "lockoutTime").await;
    assert!(
        locked.as_deref().is_some_and(|t| t != "0"),
        "failed binds set lockoutTime: {locked:?}"
    );
    assert!(
        try_bind(&user_dn(UNLOCK.sam), &known).await.is_err(),
        "locked"
    );

    let setup = Setup::new("unlock").with("RESETPW_ONE_TIME_CODE", "on");
    let (handler, _) = setup.handler().await;
    let (r, a) = verified_request(&handler, &setup.app, "UnlockAccount", &UNLOCK, "unlock-1").await;
    assert_eq!(kind(&r), ("Close", "Fulfilled"), "{a:?}");
    assert_eq!(r.messages[0].content, MSG_UNLOCKED);
    assert_eq!(a.reason, "unlock");
    assert_eq!(
        read_attribute(UNLOCK.sam, "lockoutTime").await.as_deref(),
        Some("0")
    );
    // The password is the one it had.
    assert!(try_bind(&user_dn(UNLOCK.sam), &known).await.is_ok());
    let sms = sms_published(&setup.app).await;
    assert_eq!(sms.len(), 2, "the code, then the confirmation");
    assert!(sms[0].1.contains("unlock code"));
    assert!(sms[1].1.contains("unlocked") && !sms[1].1.contains("password is"));
}

const MAIL: Fixture = Fixture {
    sam: "rp.mail",
    dob: "1988-08-18",
    month: "August",
    phone: "+15550100036",
};

#[tokio::test]
async fn the_owner_is_emailed_once_without_the_password() {
    let sdk = sdk(&app_id("ses-identity")).await;
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity("helpdesk@resetpw.test")
        .send()
        .await
        .expect("SES identity in the local cloud");
    admin_set_password(MAIL.sam).await;
    let setup = Setup::new("mail")
        .with("RESETPW_ONE_TIME_CODE", "on")
        .with("RESETPW_EMAIL_FROM", "helpdesk@resetpw.test");
    let (handler, _) = setup.handler().await;
    let (r, a) = verified_request(&handler, &setup.app, "ResetPW", &MAIL, "mail-1").await;
    assert_eq!(kind(&r), ("Close", "Fulfilled"), "{a:?}");
    let password = password_in(&sms_published(&setup.app).await[1].1);
    let emails = emails_sent(&setup.app).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let (to, subject, body) = &emails[0];
    assert_eq!(to, "rp.mail@resetpw.test");
    assert_eq!(subject, "Your password was reset");
    assert!(body.contains("If you did not ask for this"), "{body}");
    assert!(!body.contains(&password) && !subject.contains(&password));
}

const WRONGCODE: Fixture = Fixture {
    sam: "rp.wrongcode",
    dob: "1991-11-21",
    month: "November",
    phone: "+15550100040",
};

/// Not the code `code` (six digits all the same, differing from its first).
fn not(code: &str) -> String {
    let first = code.as_bytes()[0];
    let digit = if first == b'0' { '1' } else { '0' };
    std::iter::repeat_n(digit, 6).collect()
}

#[tokio::test]
async fn three_wrong_codes_end_the_session_and_lock_the_user_id_out() {
    let before = read_attribute(WRONGCODE.sam, "pwdLastSet").await;
    let setup = Setup::new("wrongcode")
        .with("RESETPW_ONE_TIME_CODE", "on")
        .with("RESETPW_MAX_FAILURES", "3");
    let (handler, _) = setup.handler().await;
    let session = "wrongcode-1";
    let (r, _) = run(
        &handler,
        event("DialogCodeHook", "ResetPW", &WRONGCODE, session, None),
    )
    .await;
    assert_eq!(kind(&r).0, "ElicitSlot");
    let code = code_in(&sms_published(&setup.app).await[0].1);
    let wrong = not(&code);
    // Two wrong codes: asked again; the third ends the session with the generic answer.
    for _ in 0..2 {
        let (r, a) = run(
            &handler,
            event(
                "DialogCodeHook",
                "ResetPW",
                &WRONGCODE,
                session,
                Some(&wrong),
            ),
        )
        .await;
        assert_eq!(kind(&r).0, "ElicitSlot", "{a:?}");
    }
    let (r, a) = run(
        &handler,
        event(
            "DialogCodeHook",
            "ResetPW",
            &WRONGCODE,
            session,
            Some(&wrong),
        ),
    )
    .await;
    assert_eq!(kind(&r), ("Close", "Failed"), "{a:?}");
    assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED);
    // The right code after that: the session is over.
    let (r, _) = run(
        &handler,
        event(
            "FulfillmentCodeHook",
            "ResetPW",
            &WRONGCODE,
            session,
            Some(&code),
        ),
    )
    .await;
    assert_eq!(kind(&r), ("Close", "Failed"));
    // The three wrong codes were three failures of the user ID: a new call with the right
    // answers is locked out before any code is sent.
    let (r, a) = run(
        &handler,
        event("DialogCodeHook", "ResetPW", &WRONGCODE, "wrongcode-2", None),
    )
    .await;
    assert_eq!(kind(&r), ("Close", "Failed"), "{a:?}");
    assert_eq!(a.reason, "locked_out");
    assert_eq!(
        sms_published(&setup.app).await.len(),
        1,
        "only the first code"
    );
    assert_eq!(read_attribute(WRONGCODE.sam, "pwdLastSet").await, before);
}

#[tokio::test]
async fn one_calling_number_cannot_try_a_sixth_user_id_within_the_hour() {
    let before = read_attribute(WRONGCODE.sam, "pwdLastSet").await;
    // The caller-ID check off, so that the one number may claim any user.
    let setup = Setup::new("spray")
        .with("RESETPW_ONE_TIME_CODE", "on")
        .with("RESETPW_CALLER_ID_CHECK", "off");
    let (handler, _) = setup.handler().await;
    let from = |mut e: LexEvent| {
        e.session_state
            .session_attributes
            .get_or_insert_with(Default::default)
            .insert("CallerNumber".into(), "+15550109876".into());
        e
    };
    for i in 0..5 {
        let nobody = Fixture {
            sam: [
                "rp.nobody1",
                "rp.nobody2",
                "rp.nobody3",
                "rp.nobody4",
                "rp.nobody5",
            ][i],
            ..WRONGCODE
        };
        let (_, a) = run(
            &handler,
            from(event(
                "DialogCodeHook",
                "ResetPW",
                &nobody,
                &format!("spray-{i}"),
                None,
            )),
        )
        .await;
        assert_eq!(a.reason, "unknown_user", "{a:?}");
    }
    // The sixth, a real user with every answer right: refused like the others, before the
    // directory is asked, with nothing texted.
    let (r, a) = run(
        &handler,
        from(event(
            "DialogCodeHook",
            "ResetPW",
            &WRONGCODE,
            "spray-6",
            None,
        )),
    )
    .await;
    assert_eq!(kind(&r), ("Close", "Failed"), "{a:?}");
    assert_eq!(r.messages[0].content, MSG_NOT_VERIFIED);
    assert_eq!(a.reason, "caller_throttled");
    assert!(sms_published(&setup.app).await.is_empty());
    assert_eq!(read_attribute(WRONGCODE.sam, "pwdLastSet").await, before);
}
