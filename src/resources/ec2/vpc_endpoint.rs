//! VPC endpoints for `egress: endpoints`, the alternative to a NAT gateway when no internet path
//! is allowed: interface endpoints (KMS, SNS, CloudWatch Logs) in the private subnets with
//! private DNS, and a gateway endpoint for DynamoDB on the private route table.

use super::{
    desired_tags, desired_tags_prop, known, owned_filters, retag, tag_map, tag_spec, Net,
    ENDPOINT_SG, PRIVATE_ROUTES, VPC,
};
use crate::aws::{ApiError, Cx};
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, VpcEndpointType};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const KIND: &str = "ec2-vpc-endpoint";
const GONE: &[&str] = &[
    "InvalidVpcEndpointId.NotFound",
    "InvalidVpcEndpoint.NotFound",
];

pub struct VpcEndpoint {
    net: Net,
    id: &'static str,
    service: &'static str,
    interface: bool,
    /// The service's endpoint name as the region lists it, found at plan time.
    listed: OnceLock<String>,
}

impl VpcEndpoint {
    pub fn interface(net: &Net, id: &'static str, service: &'static str) -> Self {
        VpcEndpoint {
            net: net.clone(),
            id,
            service,
            interface: true,
            listed: OnceLock::new(),
        }
    }

    pub fn gateway(net: &Net, id: &'static str, service: &'static str) -> Self {
        VpcEndpoint {
            net: net.clone(),
            id,
            service,
            interface: false,
            listed: OnceLock::new(),
        }
    }

    /// `com.amazonaws.<region>.<service>` in most regions; China names most interface endpoint
    /// services `cn.com.amazonaws.…`, so the name the region lists (found at plan time) wins.
    fn service_name(&self, cx: &Cx) -> String {
        self.listed
            .get()
            .cloned()
            .unwrap_or_else(|| format!("com.amazonaws.{}.{}", cx.region, self.service))
    }

    fn endpoint_type(&self) -> VpcEndpointType {
        if self.interface {
            VpcEndpointType::Interface
        } else {
            VpcEndpointType::Gateway
        }
    }

    /// A list of input ids as a prop, unknown while any of them is.
    fn inputs_list(inputs: &Outputs, keys: &[String]) -> Prop {
        let mut values = Vec::new();
        for key in keys {
            match input(inputs, key) {
                Prop::Known(Value::String(v)) => values.push(v),
                _ => return Prop::Unknown,
            }
        }
        values.sort();
        Prop::Known(json!(values))
    }

    fn subnets(&self, inputs: &Outputs) -> Prop {
        if !self.interface {
            return Prop::Known(json!([]));
        }
        let keys: Vec<String> = self
            .net
            .private_ids()
            .iter()
            .map(|id| format!("{id}.subnet_id"))
            .collect();
        Self::inputs_list(inputs, &keys)
    }

    fn groups(&self, inputs: &Outputs) -> Prop {
        if !self.interface {
            return Prop::Known(json!([]));
        }
        Self::inputs_list(inputs, &[format!("{ENDPOINT_SG}.group_id")])
    }

    fn route_tables(&self, inputs: &Outputs) -> Prop {
        if self.interface {
            return Prop::Known(json!([]));
        }
        Self::inputs_list(inputs, &[format!("{PRIVATE_ROUTES}.route_table_id")])
    }

    async fn wait(&self, cx: &Cx, id: &str, deleted: bool) -> Result<(), ResourceError> {
        let line = format!("{KIND} {}", self.name());
        let verb = if deleted { "deleted" } else { "available" };
        wait_until(
            &format!("VPC endpoint {id} to be {verb}"),
            cx.timeout,
            Backoff::default(),
            "run the same command again, with a longer --timeout if needed",
            |state| {
                cx.progress
                    .begin(self.id, &format!("{line}: waiting until {verb} ({state})"))
            },
            || async move {
                let out = tolerate(
                    cx.ec2
                        .describe_vpc_endpoints()
                        .vpc_endpoint_ids(id)
                        .send()
                        .await,
                    GONE,
                )?;
                let state = out
                    .as_ref()
                    .and_then(|o| o.vpc_endpoints().first())
                    .and_then(|e| e.state())
                    .map(|s| s.as_str().to_ascii_lowercase());
                Ok::<_, ApiError>(match (state.as_deref(), deleted) {
                    (None | Some("deleted"), true) => Poll::Ready(()),
                    (Some("available"), false) => Poll::Ready(()),
                    (None, false) => Poll::Failed("it disappeared".into()),
                    (Some(s @ ("failed" | "rejected" | "expired")), false) => {
                        Poll::Failed(format!("it is {s}"))
                    }
                    (Some(s), _) => Poll::Pending(s.to_string()),
                })
            },
        )
        .await?;
        Ok(())
    }
}

fn strings(list: &[String]) -> Value {
    let mut v = list.to_vec();
    v.sort();
    json!(v)
}

#[async_trait]
impl Resource for VpcEndpoint {
    fn id(&self) -> &'static str {
        self.id
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        format!("{}-{}", self.net.stack, self.service)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        if self.interface {
            let mut deps = vec![VPC, ENDPOINT_SG];
            deps.extend(self.net.private_ids());
            deps
        } else {
            vec![VPC, PRIVATE_ROUTES]
        }
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &[
            "vpc",
            "service",
            "type",
            "subnets",
            "security_groups",
            "route_tables",
            "private_dns",
        ]
    }

    /// Finds the name the region lists for this endpoint service and keeps it for the plan.
    /// When it is not listed (moto lists few services), the standard name is used and
    /// CreateVpcEndpoint says if the region lacks it.
    async fn preflight(&self, cx: &Cx) -> Result<(), ResourceError> {
        let candidates = ["com.amazonaws", "cn.com.amazonaws"]
            .map(|prefix| format!("{prefix}.{}.{}", cx.region, self.service));
        // All services of the type, page by page: a name filter would do, but moto's server
        // mishandles it, and naming a service the region lacks is an error.
        let mut listed = None;
        let mut token = None;
        loop {
            let page = cx
                .ec2
                .describe_vpc_endpoint_services()
                .filters(
                    Filter::builder()
                        .name("service-type")
                        .values(self.endpoint_type().as_str())
                        .build(),
                )
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(api("look up the endpoint service of", KIND, &self.name()))?;
            listed = listed.or_else(|| {
                page.service_names()
                    .iter()
                    .find(|n| candidates.contains(n))
                    .cloned()
            });
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if listed.is_some() || token.is_none() {
                break;
            }
        }
        if let Some(name) = listed {
            let _ = self.listed.set(name.to_string());
        }
        Ok(())
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        Props::from([
            ("vpc", self.net.vpc(inputs)),
            ("service", Prop::Known(json!(self.service_name(cx)))),
            (
                "type",
                Prop::Known(json!(if self.interface {
                    "Interface"
                } else {
                    "Gateway"
                })),
            ),
            ("subnets", self.subnets(inputs)),
            ("security_groups", self.groups(inputs)),
            ("route_tables", self.route_tables(inputs)),
            ("private_dns", Prop::Known(json!(self.interface))),
            ("tags", desired_tags_prop(cx, self.id, &self.name())),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_vpc_endpoints()
            .set_filters(Some(owned_filters(cx, self.id)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        let Some(e) = out.vpc_endpoints().iter().find(|e| {
            e.state()
                .is_some_and(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
        }) else {
            return Ok(None);
        };
        let id = e.vpc_endpoint_id().unwrap_or_default().to_string();
        let tags = tag_map(e.tags());
        let groups: Vec<String> = e
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        let kind = e
            .vpc_endpoint_type()
            .map(|t| t.as_str())
            .unwrap_or_default();
        Ok(Some(Live {
            physical_id: id.clone(),
            props: BTreeMap::from([
                ("vpc", json!(e.vpc_id().unwrap_or_default())),
                ("service", json!(e.service_name().unwrap_or_default())),
                ("type", json!(kind)),
                ("subnets", strings(e.subnet_ids())),
                ("security_groups", strings(&groups)),
                ("route_tables", strings(e.route_table_ids())),
                // Private DNS applies to interface endpoints only (moto reports it on gateways).
                (
                    "private_dns",
                    json!(self.interface && e.private_dns_enabled().unwrap_or(false)),
                ),
                ("tags", tags_value(&tags)),
            ]),
            outputs: BTreeMap::from([("endpoint_id".to_string(), id)]),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let list = |p: Prop, what: &str| -> Result<Vec<String>, ResourceError> {
            match p {
                Prop::Known(Value::Array(a)) => Ok(a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()),
                _ => known(&Prop::Unknown, what).map(|_| Vec::new()),
            }
        };
        let mut request = cx
            .ec2
            .create_vpc_endpoint()
            .vpc_id(self.net.vpc_id(inputs)?)
            .service_name(self.service_name(cx))
            .tag_specifications(tag_spec(
                cx,
                self.id,
                &self.name(),
                ResourceType::VpcEndpoint,
            ));
        request = if self.interface {
            request
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .set_subnet_ids(Some(list(self.subnets(inputs), "the private subnets")?))
                .set_security_group_ids(Some(list(
                    self.groups(inputs),
                    "the endpoint security group",
                )?))
                .private_dns_enabled(true)
        } else {
            request
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .set_route_table_ids(Some(list(
                    self.route_tables(inputs),
                    "the private route table",
                )?))
        };
        let out = request
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let id = out
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .ok_or_else(|| other("EC2 created a VPC endpoint but returned no id"))?
            .to_string();
        self.wait(cx, &id, false).await?;
        Ok(BTreeMap::from([("endpoint_id".to_string(), id)]))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        _changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        retag(cx, KIND, live, &desired_tags(cx, self.id, &self.name())).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let out = tolerate(
            cx.ec2
                .delete_vpc_endpoints()
                .vpc_endpoint_ids(&live.physical_id)
                .send()
                .await,
            GONE,
        )
        .map_err(api("delete", KIND, &live.physical_id))?;
        if let Some(failed) = out.as_ref().and_then(|o| o.unsuccessful().first()) {
            let why = failed
                .error()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.code().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            if !why.contains("NotFound") {
                return Err(other(format!(
                    "delete {KIND} `{}` failed: {why}; fix the cause and run `resetpw down` again",
                    live.physical_id
                )));
            }
        }
        self.wait(cx, &live.physical_id, true).await
    }
}
