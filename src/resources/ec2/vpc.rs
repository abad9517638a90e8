//! The stack's own VPC (network mode `new`), with DNS support and hostnames on so interface
//! endpoints can use private DNS.

use super::{desired_tags, desired_tags_prop, owned_filters, retag, tag_map, tag_spec, Net, VPC};
use crate::aws::Cx;
use crate::engine::{Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use serde_json::json;
use std::collections::BTreeMap;

const KIND: &str = "ec2-vpc";

pub struct Vpc {
    net: Net,
}

impl Vpc {
    pub fn new(net: &Net) -> Self {
        Vpc { net: net.clone() }
    }

    fn cidr(&self) -> Prop {
        match self.net.config.as_ref().and_then(|c| c.vpc_cidr) {
            Some(c) => Prop::Known(json!(c.to_string())),
            None => Prop::Unknown,
        }
    }

    async fn enable_dns(&self, cx: &Cx, vpc_id: &str) -> Result<(), ResourceError> {
        let on = || AttributeBooleanValue::builder().value(true).build();
        // One attribute per call (that is what ModifyVpcAttribute accepts), both at once.
        let support = async {
            cx.ec2
                .modify_vpc_attribute()
                .vpc_id(vpc_id)
                .enable_dns_support(on())
                .send()
                .await
                .map_err(api("turn on DNS support of", KIND, vpc_id))
        };
        let hostnames = async {
            cx.ec2
                .modify_vpc_attribute()
                .vpc_id(vpc_id)
                .enable_dns_hostnames(on())
                .send()
                .await
                .map_err(api("turn on DNS hostnames of", KIND, vpc_id))
        };
        tokio::try_join!(support, hostnames)?;
        Ok(())
    }
}

/// One DNS attribute of a VPC (ModifyVpcAttribute and DescribeVpcAttribute take one at a time).
pub async fn dns_attribute(
    cx: &Cx,
    vpc_id: &str,
    name: VpcAttributeName,
) -> Result<bool, ResourceError> {
    let out = cx
        .ec2
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(name.clone())
        .send()
        .await
        .map_err(api("read attributes of", KIND, vpc_id))?;
    let value = match name {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    Ok(value.and_then(|v| v.value()).unwrap_or(false))
}

#[async_trait]
impl Resource for Vpc {
    fn id(&self) -> &'static str {
        VPC
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The VPC; then both DNS attributes at once.
    fn read_rounds(&self) -> usize {
        2
    }
    /// Create; then both DNS attributes at once.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        format!("{}-vpc", self.net.stack)
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["cidr"]
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([
            ("cidr", self.cidr()),
            (
                "dns",
                Prop::Known(json!({"support": true, "hostnames": true})),
            ),
            ("tags", desired_tags_prop(cx, VPC, &self.name())),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_vpcs()
            .set_filters(Some(owned_filters(cx, VPC)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        let Some(vpc) = out.vpcs().first() else {
            return Ok(None);
        };
        let vpc_id = vpc.vpc_id().unwrap_or_default().to_string();
        let tags = tag_map(vpc.tags());
        let (support, hostnames) = tokio::try_join!(
            dns_attribute(cx, &vpc_id, VpcAttributeName::EnableDnsSupport),
            dns_attribute(cx, &vpc_id, VpcAttributeName::EnableDnsHostnames)
        )?;
        Ok(Some(Live {
            physical_id: vpc_id.clone(),
            props: BTreeMap::from([
                ("cidr", json!(vpc.cidr_block().unwrap_or_default())),
                ("dns", json!({"support": support, "hostnames": hostnames})),
                ("tags", tags_value(&tags)),
            ]),
            outputs: BTreeMap::from([("vpc_id".to_string(), vpc_id)]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let cidr = super::known(&self.cidr(), "network.vpc_cidr")?;
        let out = cx
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(tag_spec(cx, VPC, &self.name(), ResourceType::Vpc))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let vpc_id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .ok_or_else(|| other("EC2 created a VPC but returned no id"))?
            .to_string();
        self.enable_dns(cx, &vpc_id).await?;
        Ok(BTreeMap::from([("vpc_id".to_string(), vpc_id)]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        for change in changes {
            match change.field {
                "dns" => self.enable_dns(cx, &live.physical_id).await?,
                "tags" => retag(cx, KIND, live, &desired_tags(cx, VPC, &self.name())).await?,
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        tolerate(
            cx.ec2.delete_vpc().vpc_id(&live.physical_id).send().await,
            &["InvalidVpcID.NotFound"],
        )
        .map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}
