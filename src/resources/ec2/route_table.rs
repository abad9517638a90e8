//! The stack's route tables: `public-route-table` sends 0.0.0.0/0 to the internet gateway,
//! `private-route-table` sends it to the NAT gateway (or has no default route with
//! `egress: endpoints`). They are the stack's own tables: the VPC's existing tables are never
//! touched. Routes that others put in (the `local` route, gateway endpoint prefix lists) are not
//! compared.

use super::{
    desired_tags, desired_tags_prop, known, owned_filters, retag, tag_map, tag_spec, Net,
    INTERNET_GATEWAY, NAT_GATEWAY, PRIVATE_ROUTES, PUBLIC_ROUTES, VPC,
};
use crate::aws::Cx;
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use crate::stack::Egress;
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const KIND: &str = "ec2-route-table";
const DEFAULT_ROUTE: &str = "0.0.0.0/0";

pub struct RouteTable {
    net: Net,
    id: &'static str,
}

/// What to do to one route to go from live to desired.
#[derive(Debug, PartialEq)]
pub enum RouteOp {
    Create { cidr: String, target: String },
    Replace { cidr: String, target: String },
    Delete { cidr: String },
}

/// The route operations that turn `live` (destination → target) into `desired`.
pub fn route_ops(
    desired: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
) -> Vec<RouteOp> {
    let mut ops = Vec::new();
    for (cidr, target) in desired {
        match live.get(cidr) {
            None => ops.push(RouteOp::Create {
                cidr: cidr.clone(),
                target: target.clone(),
            }),
            Some(t) if t != target => ops.push(RouteOp::Replace {
                cidr: cidr.clone(),
                target: target.clone(),
            }),
            Some(_) => {}
        }
    }
    for cidr in live.keys().filter(|c| !desired.contains_key(*c)) {
        ops.push(RouteOp::Delete { cidr: cidr.clone() });
    }
    ops
}

impl RouteTable {
    pub fn public(net: &Net) -> Self {
        RouteTable {
            net: net.clone(),
            id: PUBLIC_ROUTES,
        }
    }

    pub fn private(net: &Net) -> Self {
        RouteTable {
            net: net.clone(),
            id: PRIVATE_ROUTES,
        }
    }

    /// The default route's target: the internet gateway or NAT gateway; none with endpoints.
    fn target(&self) -> Option<String> {
        if self.id == PUBLIC_ROUTES {
            return Some(format!("{INTERNET_GATEWAY}.igw_id"));
        }
        match &self.net.config {
            Some(c) if c.egress == Egress::Endpoints => None,
            _ => Some(format!("{NAT_GATEWAY}.nat_gateway_id")),
        }
    }

    fn routes(&self, inputs: &Outputs) -> Prop {
        match self.target() {
            None => Prop::Known(json!({})),
            Some(key) => match input(inputs, &key) {
                Prop::Known(target) => Prop::Known(json!({ DEFAULT_ROUTE: target })),
                Prop::Unknown => Prop::Unknown,
            },
        }
    }

    async fn apply_routes(
        &self,
        cx: &Cx,
        table: &str,
        live: &BTreeMap<String, String>,
        inputs: &Outputs,
    ) -> Result<(), ResourceError> {
        let desired: BTreeMap<String, String> = match self.routes(inputs) {
            Prop::Known(Value::Object(o)) => o
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect(),
            _ => {
                known(&Prop::Unknown, "the default route's gateway")?;
                BTreeMap::new()
            }
        };
        for op in route_ops(&desired, live) {
            match op {
                RouteOp::Create { cidr, target } => {
                    let request = cx
                        .ec2
                        .create_route()
                        .route_table_id(table)
                        .destination_cidr_block(&cidr);
                    let request = if target.starts_with("nat-") {
                        request.nat_gateway_id(&target)
                    } else {
                        request.gateway_id(&target)
                    };
                    request
                        .send()
                        .await
                        .map_err(api("add a route to", KIND, table))?;
                }
                RouteOp::Replace { cidr, target } => {
                    let request = cx
                        .ec2
                        .replace_route()
                        .route_table_id(table)
                        .destination_cidr_block(&cidr);
                    let request = if target.starts_with("nat-") {
                        request.nat_gateway_id(&target)
                    } else {
                        request.gateway_id(&target)
                    };
                    request
                        .send()
                        .await
                        .map_err(api("replace a route of", KIND, table))?;
                }
                RouteOp::Delete { cidr } => {
                    tolerate(
                        cx.ec2
                            .delete_route()
                            .route_table_id(table)
                            .destination_cidr_block(&cidr)
                            .send()
                            .await,
                        &["InvalidRoute.NotFound"],
                    )
                    .map_err(api("delete a route of", KIND, table))?;
                }
            }
        }
        Ok(())
    }
}

fn live_routes(live: &Live) -> BTreeMap<String, String> {
    live.props
        .get("routes")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl Resource for RouteTable {
    fn id(&self) -> &'static str {
        self.id
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// Create; then its route.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        let which = if self.id == PUBLIC_ROUTES {
            "public"
        } else {
            "private"
        };
        format!("{}-{which}", self.net.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        match self.target() {
            Some(key) if key.starts_with(INTERNET_GATEWAY) => vec![VPC, INTERNET_GATEWAY],
            Some(_) => vec![VPC, NAT_GATEWAY],
            None => vec![VPC],
        }
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            ("vpc", self.net.vpc(inputs)),
            ("routes", self.routes(inputs)),
            ("tags", desired_tags_prop(cx, self.id, &self.name())),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_route_tables()
            .set_filters(Some(owned_filters(cx, self.id)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        let Some(table) = out.route_tables().first() else {
            return Ok(None);
        };
        let id = table.route_table_id().unwrap_or_default().to_string();
        let tags = tag_map(table.tags());
        let routes: serde_json::Map<String, Value> = table
            .routes()
            .iter()
            .filter_map(|r| {
                let cidr = r.destination_cidr_block()?;
                let target = r.nat_gateway_id().or(r.gateway_id())?;
                (target != "local").then(|| (cidr.to_string(), json!(target)))
            })
            .collect();
        Ok(Some(Live {
            physical_id: id.clone(),
            props: BTreeMap::from([
                ("vpc", json!(table.vpc_id().unwrap_or_default())),
                ("routes", Value::Object(routes)),
                ("tags", tags_value(&tags)),
            ]),
            outputs: BTreeMap::from([("route_table_id".to_string(), id)]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let vpc_id = self.net.vpc_id(inputs)?;
        let out = cx
            .ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .tag_specifications(tag_spec(
                cx,
                self.id,
                &self.name(),
                ResourceType::RouteTable,
            ))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let id = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .ok_or_else(|| other("EC2 created a route table but returned no id"))?
            .to_string();
        self.apply_routes(cx, &id, &BTreeMap::new(), inputs).await?;
        Ok(BTreeMap::from([("route_table_id".to_string(), id)]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        for change in changes {
            match change.field {
                "routes" => {
                    self.apply_routes(cx, &live.physical_id, &live_routes(live), inputs)
                        .await?
                }
                "tags" => retag(cx, KIND, live, &desired_tags(cx, self.id, &self.name())).await?,
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        tolerate(
            cx.ec2
                .delete_route_table()
                .route_table_id(&live.physical_id)
                .send()
                .await,
            &["InvalidRouteTableID.NotFound"],
        )
        .map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn route_ops_create_replace_and_delete() {
        let desired = map(&[("0.0.0.0/0", "nat-2")]);
        assert_eq!(
            route_ops(&desired, &map(&[])),
            vec![RouteOp::Create {
                cidr: "0.0.0.0/0".into(),
                target: "nat-2".into()
            }]
        );
        assert_eq!(
            route_ops(
                &desired,
                &map(&[("0.0.0.0/0", "nat-1"), ("10.9.0.0/16", "igw-1")])
            ),
            vec![
                RouteOp::Replace {
                    cidr: "0.0.0.0/0".into(),
                    target: "nat-2".into()
                },
                RouteOp::Delete {
                    cidr: "10.9.0.0/16".into()
                }
            ]
        );
        assert!(route_ops(&desired, &desired).is_empty());
    }
}
