//! The NAT gateway in the public subnet: the private subnets' way out to AWS APIs. Created
//! `pending`, usable once `available`; deleting takes minutes, and its Elastic IP and the
//! internet gateway can go only after it is `deleted`, so both create and delete wait.

use super::{
    desired_tags, desired_tags_prop, known, owned_filters, retag, tag_map, tag_spec, Net,
    INTERNET_GATEWAY, NAT_GATEWAY, NAT_IP, PUBLIC_SUBNET,
};
use crate::aws::{ApiError, Cx, RESOURCE_TAG, STACK_TAG};
use crate::engine::{input, Change, Live, Outputs, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_ec2::types::{NatGatewayState, ResourceType};
use serde_json::json;
use std::collections::BTreeMap;

const KIND: &str = "ec2-nat-gateway";
const GONE: &[&str] = &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"];

pub struct NatGateway {
    net: Net,
}

impl NatGateway {
    pub fn new(net: &Net) -> Self {
        NatGateway { net: net.clone() }
    }

    /// The gateway's state, `None` when it no longer exists.
    async fn state(cx: &Cx, id: &str) -> Result<Option<(NatGatewayState, String)>, ApiError> {
        let out = tolerate(
            cx.ec2
                .describe_nat_gateways()
                .nat_gateway_ids(id)
                .send()
                .await,
            GONE,
        )?;
        Ok(out
            .as_ref()
            .and_then(|o| o.nat_gateways().first())
            .and_then(|g| {
                Some((
                    g.state()?.clone(),
                    g.failure_message().unwrap_or_default().to_string(),
                ))
            }))
    }

    async fn wait(&self, cx: &Cx, id: &str, deleted: bool) -> Result<(), ResourceError> {
        let (what, verb) = if deleted {
            ("the NAT gateway to be deleted", "deleted")
        } else {
            ("the NAT gateway to become available", "available")
        };
        let line = format!("{KIND} {}", self.name());
        wait_until(
            what,
            cx.timeout,
            Backoff::default(),
            "NAT gateways take a few minutes: run the same command again, with a longer --timeout if needed",
            |state| {
                cx.progress
                    .begin(NAT_GATEWAY, &format!("{line}: waiting until {verb} ({state})"))
            },
            || async move {
                let state = Self::state(cx, id).await?;
                Ok::<_, ApiError>(match (state, deleted) {
                    (None, true) | (Some((NatGatewayState::Deleted, _)), true) => Poll::Ready(()),
                    (Some((NatGatewayState::Available, _)), false) => Poll::Ready(()),
                    (None, false) => Poll::Failed("it disappeared".into()),
                    (Some((NatGatewayState::Failed, why)), false) => {
                        Poll::Failed(format!("it failed: {why}"))
                    }
                    (Some((s, _)), _) => Poll::Pending(s.as_str().to_string()),
                })
            },
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Resource for NatGateway {
    fn id(&self) -> &'static str {
        NAT_GATEWAY
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// Create; then wait until available.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        format!("{}-nat", self.net.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![PUBLIC_SUBNET, NAT_IP, INTERNET_GATEWAY]
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["subnet", "allocation"]
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            (
                "subnet",
                input(inputs, &format!("{PUBLIC_SUBNET}.subnet_id")),
            ),
            (
                "allocation",
                input(inputs, &format!("{NAT_IP}.allocation_id")),
            ),
            ("tags", desired_tags_prop(cx, NAT_GATEWAY, &self.name())),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_nat_gateways()
            .set_filter(Some(owned_filters(cx, NAT_GATEWAY)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        // A deleted gateway stays visible for a while; a failed one is of no use and is
        // replaced (deleting it is harmless).
        // The tags are checked here too: moto ignores tag filters on this call.
        let Some(gw) = out.nat_gateways().iter().find(|g| {
            let tags = tag_map(g.tags());
            tags.get(STACK_TAG) == Some(&cx.stack)
                && tags.get(RESOURCE_TAG).map(String::as_str) == Some(NAT_GATEWAY)
                && !matches!(g.state(), Some(NatGatewayState::Deleted) | None)
        }) else {
            return Ok(None);
        };
        let id = gw.nat_gateway_id().unwrap_or_default().to_string();
        let tags = tag_map(gw.tags());
        let allocation = gw
            .nat_gateway_addresses()
            .iter()
            .find_map(|a| a.allocation_id())
            .unwrap_or_default();
        let state = gw.state().map(|s| s.as_str()).unwrap_or_default();
        let mut props = BTreeMap::from([
            ("subnet", json!(gw.subnet_id().unwrap_or_default())),
            ("allocation", json!(allocation)),
            ("tags", tags_value(&tags)),
        ]);
        if matches!(
            gw.state(),
            Some(NatGatewayState::Failed | NatGatewayState::Deleting)
        ) {
            // Forces a replacement on `up`.
            props.insert("subnet", json!(format!("({state})")));
        }
        Ok(Some(Live {
            physical_id: id.clone(),
            props,
            outputs: BTreeMap::from([("nat_gateway_id".to_string(), id)]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let desired = self.desired(cx, inputs);
        let subnet = known(&desired["subnet"], "the public subnet id")?;
        let allocation = known(&desired["allocation"], "the Elastic IP")?;
        let out = cx
            .ec2
            .create_nat_gateway()
            .subnet_id(subnet)
            .allocation_id(allocation)
            .tag_specifications(tag_spec(
                cx,
                NAT_GATEWAY,
                &self.name(),
                ResourceType::Natgateway,
            ))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let id = out
            .nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .ok_or_else(|| other("EC2 created a NAT gateway but returned no id"))?
            .to_string();
        self.wait(cx, &id, false).await?;
        Ok(BTreeMap::from([("nat_gateway_id".to_string(), id)]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        retag(cx, KIND, live, &desired_tags(cx, NAT_GATEWAY, &self.name())).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        tolerate(
            cx.ec2
                .delete_nat_gateway()
                .nat_gateway_id(&live.physical_id)
                .send()
                .await,
            GONE,
        )
        .map_err(api("delete", KIND, &live.physical_id))?;
        self.wait(cx, &live.physical_id, true).await
    }
}
