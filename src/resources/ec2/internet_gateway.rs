//! The internet gateway the NAT gateway sends traffic out through. In mode `nat` the VPC's
//! attached gateway is reused when there is one: it is not the stack's, so it is never
//! changed, detached or deleted (and `down`, which finds objects by tags only, never sees it).

use super::{
    desired_tags, desired_tags_prop, filter, known, owned_filters, retag, tag_map, tag_spec, Net,
    INTERNET_GATEWAY, VPC,
};
use crate::aws::Cx;
use crate::engine::{Change, Live, Outputs, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use crate::stack::NetworkMode;
use async_trait::async_trait;
use aws_sdk_ec2::types::{InternetGateway as Igw, ResourceType};
use serde_json::json;
use std::collections::BTreeMap;

const KIND: &str = "ec2-internet-gateway";

pub struct InternetGateway {
    net: Net,
}

impl InternetGateway {
    pub fn new(net: &Net) -> Self {
        InternetGateway { net: net.clone() }
    }

    fn reuses(&self) -> bool {
        self.net.mode() == Some(NetworkMode::Nat)
    }

    fn live(cx: &Cx, igw: &Igw, reused: bool) -> Live {
        let id = igw.internet_gateway_id().unwrap_or_default().to_string();
        let tags = tag_map(igw.tags());
        let attached = igw
            .attachments()
            .iter()
            .find_map(|a| a.vpc_id())
            .unwrap_or_default();
        let mut outputs = BTreeMap::from([("igw_id".to_string(), id.clone())]);
        if reused {
            outputs.insert("reused".into(), "true".into());
        }
        Live {
            physical_id: id,
            props: BTreeMap::from([
                ("attached_to", json!(attached)),
                ("tags", tags_value(&tags)),
            ]),
            outputs,
            // A reused gateway is "ours" only in the sense that the plan may use it: `delete`
            // leaves it alone, and `down` never observes it.
            owned: reused || cx.owns(&tags),
        }
    }

    async fn attach(&self, cx: &Cx, igw_id: &str, vpc_id: &str) -> Result<(), ResourceError> {
        cx.ec2
            .attach_internet_gateway()
            .internet_gateway_id(igw_id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(api("attach", KIND, igw_id))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for InternetGateway {
    fn id(&self) -> &'static str {
        INTERNET_GATEWAY
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// Create; then attach.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        format!("{}-igw", self.net.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![VPC]
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        let mut props = Props::from([("attached_to", self.net.vpc(inputs))]);
        if !self.reuses() {
            props.insert(
                "tags",
                desired_tags_prop(cx, INTERNET_GATEWAY, &self.name()),
            );
        }
        props
    }

    fn notes(&self, _cx: &Cx) -> Vec<String> {
        if self.reuses() {
            vec!["the VPC's attached internet gateway is reused when it has one: resetpw never changes, detaches or deletes it".into()]
        } else {
            Vec::new()
        }
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(owned_filters(cx, INTERNET_GATEWAY)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        if let Some(igw) = out.internet_gateways().first() {
            return Ok(Some(Self::live(cx, igw, false)));
        }
        if !self.reuses() {
            return Ok(None);
        }
        let vpc_id = self
            .net
            .config
            .as_ref()
            .and_then(|c| c.vpc_id.clone())
            .unwrap_or_default();
        let out = cx
            .ec2
            .describe_internet_gateways()
            .filters(filter("attachment.vpc-id", &vpc_id))
            .send()
            .await
            .map_err(api("look up the internet gateway of", "ec2-vpc", &vpc_id))?;
        Ok(out
            .internet_gateways()
            .first()
            .map(|igw| Self::live(cx, igw, true)))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let vpc_id = self.net.vpc_id(inputs)?;
        let out = cx
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(
                cx,
                INTERNET_GATEWAY,
                &self.name(),
                ResourceType::InternetGateway,
            ))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let igw_id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .ok_or_else(|| other("EC2 created an internet gateway but returned no id"))?
            .to_string();
        self.attach(cx, &igw_id, &vpc_id).await?;
        Ok(BTreeMap::from([("igw_id".to_string(), igw_id)]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        if live.outputs.contains_key("reused") {
            return Ok(live.outputs.clone());
        }
        for change in changes {
            match change.field {
                "attached_to" => {
                    let vpc_id = known(&self.net.vpc(inputs), "the VPC id")?;
                    self.detach(cx, live).await?;
                    self.attach(cx, &live.physical_id, &vpc_id).await?;
                }
                "tags" => {
                    retag(
                        cx,
                        KIND,
                        live,
                        &desired_tags(cx, INTERNET_GATEWAY, &self.name()),
                    )
                    .await?
                }
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        if live.outputs.contains_key("reused") {
            return Ok(());
        }
        self.detach(cx, live).await?;
        tolerate(
            cx.ec2
                .delete_internet_gateway()
                .internet_gateway_id(&live.physical_id)
                .send()
                .await,
            &["InvalidInternetGatewayID.NotFound"],
        )
        .map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}

impl InternetGateway {
    /// Detaches an owned gateway from the VPC it is attached to, if any.
    async fn detach(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let attached = live
            .props
            .get("attached_to")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if attached.is_empty() {
            return Ok(());
        }
        tolerate(
            cx.ec2
                .detach_internet_gateway()
                .internet_gateway_id(&live.physical_id)
                .vpc_id(attached)
                .send()
                .await,
            &["Gateway.NotAttached", "InvalidInternetGatewayID.NotFound"],
        )
        .map_err(api("detach", KIND, &live.physical_id))?;
        Ok(())
    }
}
