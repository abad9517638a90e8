//! Which flow the stack's phone number rings: AssociatePhoneNumberContactFlow, observed with
//! ListFlowAssociations (VOICE_PHONE_NUMBER) of the number's instance. A link of its own, so the
//! number's claim (which needs only the instance) runs beside the bot and the flow, and only
//! this association waits for the flow. Like the bot association it carries no tags: it is the
//! stack's when the number is (found by the stack's tags), and `down` removes it before the
//! number and the flow go.

use super::{target_instance, FoundInstance, Placement, GONE};
use crate::aws::Cx;
use crate::engine::{input, Change, Live, Outputs, Props, Resource, ResourceError};
use crate::resources::{api, other, tolerate};
use aws_sdk_connect::types::ListFlowAssociationResourceType;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::{flow, instance, phone_number};

pub const ID: &str = "connect-number-flow";
const KIND: &str = "connect-number-flow";

pub struct NumberFlow {
    stack: String,
    placement: Placement,
}

impl NumberFlow {
    pub fn new(stack: &str, placement: Placement) -> Self {
        NumberFlow {
            stack: stack.into(),
            placement,
        }
    }

    async fn instance(&self, cx: &Cx, inputs: &Outputs) -> Result<FoundInstance, ResourceError> {
        if let Some(i) = super::instance_from(&self.placement, inputs) {
            return Ok(i);
        }
        target_instance(cx, &self.placement).await?.ok_or_else(|| {
            other(
                "the Connect instance does not exist or is not ACTIVE yet; run `resetpw up` again",
            )
        })
    }

    fn wanted(inputs: &Outputs, key: &str, what: &str) -> Result<String, ResourceError> {
        inputs.get(key).cloned().ok_or_else(|| {
            other(format!(
                "the number's flow needs the {what}, which does not exist yet; run `resetpw up` again"
            ))
        })
    }

    /// Points the number at the stack's flow; the same call moves it from another flow.
    async fn associate(
        &self,
        cx: &Cx,
        number_id: &str,
        instance_id: &str,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let flow = Self::wanted(inputs, &format!("{}.id", flow::ID), "contact flow")?;
        cx.connect
            .associate_phone_number_contact_flow()
            .phone_number_id(number_id)
            .instance_id(instance_id)
            .contact_flow_id(&flow)
            .send()
            .await
            .map_err(api("associate the contact flow with", KIND, number_id))?;
        Ok(BTreeMap::new())
    }
}

#[async_trait::async_trait]
impl Resource for NumberFlow {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{}-phone-number", self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![instance::ID, phone_number::ID, flow::ID]
    }
    /// The account's numbers; then every number described at once; then the flow associations
    /// of the number's instance.
    fn read_rounds(&self) -> usize {
        3
    }
    /// AssociatePhoneNumberContactFlow (the number, the flow and the stack's new instance are
    /// known from their outputs).
    fn create_rounds(&self) -> usize {
        1
    }

    fn desired(&self, _cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([("contact_flow", input(inputs, &format!("{}.id", flow::ID)))])
    }

    /// The stack's number (by its tags, as the number's own lookup finds it), then the flow it
    /// rings among its instance's associations; `None` when there is no number or it rings
    /// nothing.
    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let Some(n) = phone_number::find(cx).await? else {
            return Ok(None);
        };
        if n.instance_id.is_empty() {
            return Ok(None);
        }
        let listed = cx
            .connect
            .list_flow_associations()
            .instance_id(&n.instance_id)
            .resource_type(ListFlowAssociationResourceType::VoicePhoneNumber)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut flow = None;
        for f in listed {
            // The instance gone since the number was read: the association went with it.
            let Some(f) =
                tolerate(f, GONE).map_err(api("list the flow associations of", KIND, &n.number))?
            else {
                return Ok(None);
            };
            let resource = f.resource_id();
            if resource == Some(n.arn.as_str()) || resource == Some(n.id.as_str()) {
                let id = f.flow_id().unwrap_or_default();
                flow = Some(id.rsplit('/').next().unwrap_or(id).to_string());
            }
        }
        let Some(flow) = flow else {
            return Ok(None);
        };
        Ok(Some(Live {
            physical_id: n.id,
            props: BTreeMap::from([
                ("contact_flow", json!(flow)),
                ("number", json!(n.number)),
                ("instance_id", json!(n.instance_id)),
            ]),
            outputs: BTreeMap::new(),
            // The association of the stack's own number is the stack's.
            owned: true,
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let number = Self::wanted(inputs, &format!("{}.id", phone_number::ID), "phone number")?;
        let instance = self.instance(cx, inputs).await?;
        self.associate(cx, &number, &instance.id, inputs).await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let instance_id = live
            .props
            .get("instance_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.associate(cx, &live.physical_id, instance_id, inputs)
            .await
    }

    /// Points the number at no flow. A number already released, or already ringing nothing,
    /// is success.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let instance_id = live
            .props
            .get("instance_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let result = cx
            .connect
            .disassociate_phone_number_contact_flow()
            .phone_number_id(&live.physical_id)
            .instance_id(instance_id)
            .send()
            .await;
        tolerate(result, GONE).map_err(api(
            "disassociate the contact flow from",
            KIND,
            &live.physical_id,
        ))?;
        Ok(())
    }
}
