//! The Elastic IP of the NAT gateway. Released only after the NAT gateway is deleted (the NAT
//! gateway depends on it, so `down` deletes the gateway first and waits for it).

use super::{
    desired_tags, desired_tags_prop, owned_filters, retag, tag_map, tag_spec, Net, NAT_IP,
};
use crate::aws::Cx;
use crate::engine::{Change, Live, Outputs, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use std::collections::BTreeMap;

const KIND: &str = "ec2-elastic-ip";

pub struct ElasticIp {
    net: Net,
}

impl ElasticIp {
    pub fn new(net: &Net) -> Self {
        ElasticIp { net: net.clone() }
    }
}

#[async_trait]
impl Resource for ElasticIp {
    fn id(&self) -> &'static str {
        NAT_IP
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{}-nat-ip", self.net.stack)
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([("tags", desired_tags_prop(cx, NAT_IP, &self.name()))])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_addresses()
            .set_filters(Some(owned_filters(cx, NAT_IP)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        let Some(address) = out.addresses().first() else {
            return Ok(None);
        };
        let id = address.allocation_id().unwrap_or_default().to_string();
        let tags = tag_map(address.tags());
        Ok(Some(Live {
            physical_id: id.clone(),
            props: BTreeMap::from([("tags", tags_value(&tags))]),
            outputs: BTreeMap::from([
                ("allocation_id".to_string(), id),
                (
                    "public_ip".to_string(),
                    address.public_ip().unwrap_or_default().to_string(),
                ),
            ]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let out = cx
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(cx, NAT_IP, &self.name(), ResourceType::ElasticIp))
            .send()
            .await
            .map_err(api("allocate", KIND, &self.name()))?;
        let id = out
            .allocation_id()
            .ok_or_else(|| other("EC2 allocated an Elastic IP but returned no allocation id"))?;
        Ok(BTreeMap::from([
            ("allocation_id".to_string(), id.to_string()),
            (
                "public_ip".to_string(),
                out.public_ip().unwrap_or_default().to_string(),
            ),
        ]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        retag(cx, KIND, live, &desired_tags(cx, NAT_IP, &self.name())).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        tolerate(
            cx.ec2
                .release_address()
                .allocation_id(&live.physical_id)
                .send()
                .await,
            &["InvalidAllocationID.NotFound"],
        )
        .map_err(api("release", KIND, &live.physical_id))?;
        Ok(())
    }
}
