//! Chat contacts: StartChatContact (`PUT /contact/chat`) starts the flow for a chat customer
//! and gives their participant token; DescribeContact (`GET /contacts/{InstanceId}/{ContactId}`)
//! says where any contact is (its queue, whether it has ended). What the customer says arrives
//! through the Participant Service ([`crate::own::participant`]).

use super::contacts::{Contact, Disposition, Participant, Speaker};
use super::instances::find_active;
use super::run::start;
use super::{epoch_seconds, uuid, ApiError, ApiResult, Call, Ctx, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::sync::mpsc;

/// The participant token of a new chat: opaque, long, random.
pub fn token() -> String {
    use base64::Engine;
    let bytes: Vec<u8> = (0..96).map(|_| fastrand::u8(..)).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn start_chat(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance_label = call.required_str("InstanceId")?;
    let flow_label = call.required_str("ContactFlowId")?;
    let display = call
        .body
        .pointer("/ParticipantDetails/DisplayName")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            ApiError::InvalidParameter("ParticipantDetails.DisplayName is required".into())
        })?
        .to_string();
    let instance = find_active(store, ctx, instance_label)?;
    let flow_id = flow_label
        .rsplit_once("/contact-flow/")
        .map_or(flow_label, |(_, id)| id);
    if !instance.flows.iter().any(|f| f.id == flow_id) {
        return Err(ApiError::NotFound(format!(
            "Contact flow {flow_label} not found in instance {}",
            instance.id
        )));
    }
    let attributes: BTreeMap<String, String> = match call.body.get("Attributes") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) => Ok((k.clone(), v.to_string())),
                None => Err(ApiError::InvalidParameter(format!(
                    "Attributes.{k} must be a string"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::InvalidParameter(
                "Attributes must be a map of strings".into(),
            ))
        }
    };
    let initial = call
        .body
        .pointer("/InitialMessage/Content")
        .and_then(Value::as_str)
        .map(str::to_string);
    let contact_id = uuid();
    let participant_id = uuid();
    let participant_token = token();
    let mut contact = Contact::new(
        contact_id.clone(),
        instance,
        "CHAT",
        "API",
        flow_id.to_string(),
    );
    contact.attributes = attributes;
    contact.app = ctx.app.clone();
    contact.customer_name = Some(display.clone());
    contact.customer_participant = Some(participant_id.clone());
    contact.event(
        Speaker::Customer,
        "application/vnd.amazonaws.connect.event.participant.joined",
    );
    let (tx, rx) = mpsc::unbounded_channel();
    if let Some(text) = &initial {
        contact.say(Speaker::Customer, text, None);
        let _ = tx.send(text.clone());
    }
    ctx.env.own.connect.contacts.add_participant(
        participant_token.clone(),
        Participant {
            contact_id: contact_id.clone(),
            participant_id: participant_id.clone(),
            connection_token: None,
        },
    );
    start(ctx.env.clone(), contact, rx, Some(tx));
    Ok(json!({
        "ContactId": contact_id,
        "ParticipantId": participant_id,
        "ParticipantToken": participant_token,
    }))
}

/// DescribeContact: the contact's channel, times, queue and attributes.
pub fn describe(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let instance = find_active(store, ctx, call.label(0))?;
    let instance_id = instance.id.clone();
    let running = ctx
        .env
        .own
        .connect
        .contacts
        .get(call.label(1))
        .filter(|r| r.snapshot().instance_id == instance_id)
        .ok_or_else(|| ApiError::NotFound(format!("Contact {} not found", call.label(1))))?;
    let c = running.snapshot();
    let mut contact = json!({
        "Arn": format!("{}/contact/{}", c.instance_arn, c.id),
        "Id": c.id,
        "InitialContactId": c.id,
        "InitiationMethod": c.initiation,
        "Channel": c.channel,
        "InitiationTimestamp": c.started,
        "LastUpdateTimestamp": c.ended.unwrap_or_else(epoch_seconds),
        "Attributes": c.attributes,
    });
    if let Some(Disposition::Queued { queue_arn, .. }) = &c.disposition {
        let queue_id = queue_arn.rsplit('/').next().unwrap_or_default();
        contact["QueueInfo"] = json!({"Id": queue_id, "EnqueueTimestamp": c.ended});
    } else if let Some(ended) = c.ended {
        contact["DisconnectTimestamp"] = json!(ended);
    }
    if let Some(a) = &c.customer_address {
        contact["CustomerEndpoint"] = json!({"Type": "TELEPHONE_NUMBER", "Address": a});
    }
    if let Some(a) = &c.system_address {
        contact["SystemEndpoint"] = json!({"Type": "TELEPHONE_NUMBER", "Address": a});
    }
    Ok(json!({ "Contact": contact }))
}
