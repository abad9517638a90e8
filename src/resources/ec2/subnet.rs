//! The stack's subnets: `public-subnet` (holds the NAT gateway, routes through the internet
//! gateway) and `private-subnet-N` (the Lambda's, in two or more zones). Each is associated with
//! the stack's own route table; deleting the subnet removes its association.

use super::{
    desired_tags, desired_tags_prop, filter, known, owned_filters, retag, tag_map, tag_spec, Net,
    PRIVATE_ROUTES, PRIVATE_SUBNETS, PUBLIC_ROUTES, PUBLIC_SUBNET, VPC,
};
use crate::aws::Cx;
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use crate::stack::SubnetSpec;
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde_json::json;
use std::collections::BTreeMap;

const KIND: &str = "ec2-subnet";

pub struct Subnet {
    net: Net,
    id: &'static str,
    spec: Option<SubnetSpec>,
    route_table: &'static str,
}

impl Subnet {
    pub fn public(net: &Net) -> Self {
        Subnet {
            spec: net.config.as_ref().and_then(|c| c.public_subnet.clone()),
            net: net.clone(),
            id: PUBLIC_SUBNET,
            route_table: PUBLIC_ROUTES,
        }
    }

    /// The `index`th entry of `private_subnets`.
    pub fn private(net: &Net, index: usize) -> Self {
        Subnet {
            spec: net
                .config
                .as_ref()
                .and_then(|c| c.private_subnets.get(index).cloned()),
            net: net.clone(),
            id: PRIVATE_SUBNETS[index],
            route_table: PRIVATE_ROUTES,
        }
    }

    fn spec_prop(&self, f: impl Fn(&SubnetSpec) -> String) -> Prop {
        self.spec
            .as_ref()
            .map_or(Prop::Unknown, |s| Prop::Known(json!(f(s))))
    }

    async fn associate(
        &self,
        cx: &Cx,
        subnet_id: &str,
        association: Option<&String>,
        inputs: &Outputs,
    ) -> Result<String, ResourceError> {
        let table = known(
            &input(inputs, &format!("{}.route_table_id", self.route_table)),
            "the route table id",
        )?;
        let new_id = match association.filter(|a| !a.is_empty()) {
            Some(a) => cx
                .ec2
                .replace_route_table_association()
                .association_id(a)
                .route_table_id(&table)
                .send()
                .await
                .map_err(api("change the route table of", KIND, subnet_id))?
                .new_association_id()
                .map(str::to_string),
            None => cx
                .ec2
                .associate_route_table()
                .route_table_id(&table)
                .subnet_id(subnet_id)
                .send()
                .await
                .map_err(api("associate a route table with", KIND, subnet_id))?
                .association_id()
                .map(str::to_string),
        };
        Ok(new_id.unwrap_or_default())
    }
}

#[async_trait]
impl Resource for Subnet {
    fn id(&self) -> &'static str {
        self.id
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The subnet; then its route table association.
    fn read_rounds(&self) -> usize {
        2
    }
    /// Create; then associate its route table.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        format!("{}-{}", self.net.stack, self.id.trim_end_matches("-subnet"))
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![VPC, self.route_table]
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["vpc", "cidr", "availability_zone"]
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            ("vpc", self.net.vpc(inputs)),
            ("cidr", self.spec_prop(|s| s.cidr.to_string())),
            (
                "availability_zone",
                self.spec_prop(|s| s.availability_zone.clone()),
            ),
            (
                "route_table",
                input(inputs, &format!("{}.route_table_id", self.route_table)),
            ),
            ("tags", desired_tags_prop(cx, self.id, &self.name())),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_subnets()
            .set_filters(Some(owned_filters(cx, self.id)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        let Some(subnet) = out.subnets().first() else {
            return Ok(None);
        };
        let id = subnet.subnet_id().unwrap_or_default().to_string();
        let tags = tag_map(subnet.tags());
        let tables = cx
            .ec2
            .describe_route_tables()
            .filters(filter("association.subnet-id", &id))
            .send()
            .await
            .map_err(api("read the route table of", KIND, &id))?;
        let (table, association) = tables
            .route_tables()
            .iter()
            .find_map(|t| {
                let a = t
                    .associations()
                    .iter()
                    .find(|a| a.subnet_id() == Some(id.as_str()))?;
                Some((
                    t.route_table_id().unwrap_or_default().to_string(),
                    a.route_table_association_id()
                        .unwrap_or_default()
                        .to_string(),
                ))
            })
            .unwrap_or_default();
        Ok(Some(Live {
            physical_id: id.clone(),
            props: BTreeMap::from([
                ("vpc", json!(subnet.vpc_id().unwrap_or_default())),
                ("cidr", json!(subnet.cidr_block().unwrap_or_default())),
                (
                    "availability_zone",
                    json!(subnet.availability_zone().unwrap_or_default()),
                ),
                ("route_table", json!(table)),
                ("tags", tags_value(&tags)),
            ]),
            outputs: BTreeMap::from([
                ("subnet_id".to_string(), id),
                ("association_id".to_string(), association),
            ]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let spec = self
            .spec
            .as_ref()
            .ok_or_else(|| other(format!("no settings for {} in the stack file", self.id)))?;
        let out = cx
            .ec2
            .create_subnet()
            .vpc_id(self.net.vpc_id(inputs)?)
            .cidr_block(spec.cidr.to_string())
            .availability_zone(&spec.availability_zone)
            .tag_specifications(tag_spec(cx, self.id, &self.name(), ResourceType::Subnet))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .ok_or_else(|| other("EC2 created a subnet but returned no id"))?
            .to_string();
        let association = self.associate(cx, &id, None, inputs).await?;
        Ok(BTreeMap::from([
            ("subnet_id".to_string(), id),
            ("association_id".to_string(), association),
        ]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let mut outputs = live.outputs.clone();
        for change in changes {
            match change.field {
                "route_table" => {
                    let association = self
                        .associate(
                            cx,
                            &live.physical_id,
                            live.outputs.get("association_id"),
                            inputs,
                        )
                        .await?;
                    outputs.insert("association_id".into(), association);
                }
                "tags" => retag(cx, KIND, live, &desired_tags(cx, self.id, &self.name())).await?,
                _ => {}
            }
        }
        Ok(outputs)
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        // Lambda's interfaces are waited for by the security group, which is deleted first;
        // endpoints wait for their own deletion.
        // Deleting a subnet drops its association on AWS; moto keeps it, which would block
        // deleting the route table, so it is removed explicitly first.
        if let Some(association) = live.outputs.get("association_id").filter(|a| !a.is_empty()) {
            tolerate(
                cx.ec2
                    .disassociate_route_table()
                    .association_id(association)
                    .send()
                    .await,
                &["InvalidAssociationID.NotFound"],
            )
            .map_err(api(
                "disassociate the route table of",
                KIND,
                &live.physical_id,
            ))?;
        }
        tolerate(
            cx.ec2
                .delete_subnet()
                .subnet_id(&live.physical_id)
                .send()
                .await,
            &["InvalidSubnetID.NotFound"],
        )
        .map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}
