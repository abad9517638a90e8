//! The `network` section: which EC2 resources each mode needs, the helpers they share (ownership
//! tags, lookups by tag, the wait for Lambda's network interfaces) and the plan-time checks
//! against the account.
//!
//! Every network resource is found by its ownership tags (`resetpw:stack`, `resetpw:resource`),
//! never by what the stack file says, so `down` finds them without the section.

use super::{
    elastic_ip::ElasticIp, internet_gateway::InternetGateway, nat_gateway::NatGateway,
    route_table::RouteTable, security_group::SecurityGroup, subnet::Subnet, tags_value, vpc::Vpc,
    vpc_endpoint::VpcEndpoint,
};
use crate::aws::{ApiError, Cx, RESOURCE_TAG, STACK_TAG};
use crate::engine::{input, Live, Outputs, Prop, Resource, ResourceError};
use crate::stack::{contains, overlaps, Cidr, Egress, Network, NetworkMode, Stack};
use crate::wait::{wait_until, Backoff, Poll};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, VpcAttributeName};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Logical ids of the private subnets, in the order of `private_subnets` in the stack file.
pub const PRIVATE_SUBNETS: [&str; 6] = [
    "private-subnet-1",
    "private-subnet-2",
    "private-subnet-3",
    "private-subnet-4",
    "private-subnet-5",
    "private-subnet-6",
];

pub const VPC: &str = "vpc";
pub const INTERNET_GATEWAY: &str = "internet-gateway";
pub const PUBLIC_ROUTES: &str = "public-route-table";
pub const PUBLIC_SUBNET: &str = "public-subnet";
pub const NAT_IP: &str = "nat-ip";
pub const NAT_GATEWAY: &str = "nat-gateway";
pub const PRIVATE_ROUTES: &str = "private-route-table";
pub const LAMBDA_SG: &str = "lambda-security-group";
pub const ENDPOINT_SG: &str = "endpoint-security-group";
/// The role Lambda deletes its network interfaces with: it must outlive the wait for them.
pub const FULFILLMENT_ROLE: &str = "fulfillment-role";

/// The interface endpoints (`egress: endpoints`), by logical id and service.
pub const INTERFACE_ENDPOINTS: [(&str, &str); 3] = [
    ("endpoint-kms", "kms"),
    ("endpoint-sns", "sns"),
    ("endpoint-logs", "logs"),
];
/// The gateway endpoint for DynamoDB.
pub const GATEWAY_ENDPOINT: (&str, &str) = ("endpoint-dynamodb", "dynamodb");

/// The stack's network settings shared by its resources; `config` is `None` when the resources
/// are only observed and deleted (`down`).
#[derive(Debug, Clone)]
pub struct Net {
    pub stack: String,
    pub config: Option<Network>,
    /// The directory uses StartTLS on port 389 (besides LDAPS on 636).
    pub starttls: bool,
}

impl Net {
    pub fn mode(&self) -> Option<NetworkMode> {
        self.config.as_ref().map(|c| c.mode)
    }

    /// The VPC everything goes into: the stack's own (mode `new`) or the given one.
    pub fn vpc(&self, inputs: &Outputs) -> Prop {
        match &self.config {
            Some(c) if c.mode == NetworkMode::New => input(inputs, &format!("{VPC}.vpc_id")),
            Some(c) => Prop::Known(json!(c.vpc_id.clone().unwrap_or_default())),
            None => Prop::Unknown,
        }
    }

    /// The VPC id, for creating.
    pub fn vpc_id(&self, inputs: &Outputs) -> Result<String, ResourceError> {
        known(&self.vpc(inputs), "the VPC id")
    }

    /// Ids of the private subnets this config has (all six when unknown, for `down`).
    pub fn private_ids(&self) -> Vec<&'static str> {
        let n = match &self.config {
            Some(c) if c.mode != NetworkMode::Existing => c.private_subnets.len(),
            Some(_) => 0,
            None => PRIVATE_SUBNETS.len(),
        };
        PRIVATE_SUBNETS[..n.min(PRIVATE_SUBNETS.len())].to_vec()
    }
}

/// The string inside a known prop; an error when it is not known yet (a dependency is missing).
pub fn known(prop: &Prop, what: &str) -> Result<String, ResourceError> {
    match prop {
        Prop::Known(v) => Ok(v.as_str().map_or_else(|| v.to_string(), str::to_string)),
        Prop::Unknown => Err(ResourceError::Other(format!(
            "{what} is not known yet: a resource it comes from was not created; run `resetpw up` again"
        ))),
    }
}

/// The network resources for a stack file's `network` section, in dependency order.
pub fn for_network(stack: &Stack) -> Vec<Box<dyn Resource>> {
    let Some(config) = &stack.network else {
        return Vec::new();
    };
    let net = Net {
        stack: stack.name.to_string(),
        config: Some(config.clone()),
        starttls: stack.directory.as_ref().is_some_and(|d| d.starttls),
    };
    build(&net, Some(config))
}

/// Every network resource a stack can own, for `down` (no config: found by tags only).
pub fn all(stack: &str) -> Vec<Box<dyn Resource>> {
    let net = Net {
        stack: stack.into(),
        config: None,
        starttls: false,
    };
    build(&net, None)
}

fn build(net: &Net, config: Option<&Network>) -> Vec<Box<dyn Resource>> {
    let mode = config.map(|c| c.mode);
    let egress = config.map(|c| c.egress);
    let any = config.is_none();
    let new_vpc = any || mode == Some(NetworkMode::New);
    let subnets = any || mode != Some(NetworkMode::Existing);
    let nat = any || (subnets && egress == Some(Egress::Nat));
    let endpoints = any || (subnets && egress == Some(Egress::Endpoints));
    let mut list: Vec<Box<dyn Resource>> = Vec::new();
    if new_vpc {
        list.push(Box::new(Vpc::new(net)));
    }
    if nat {
        list.push(Box::new(InternetGateway::new(net)));
        list.push(Box::new(RouteTable::public(net)));
        list.push(Box::new(Subnet::public(net)));
        list.push(Box::new(ElasticIp::new(net)));
        list.push(Box::new(NatGateway::new(net)));
    }
    if subnets {
        list.push(Box::new(RouteTable::private(net)));
        for (i, _) in net.private_ids().iter().enumerate() {
            list.push(Box::new(Subnet::private(net, i)));
        }
    }
    list.push(Box::new(SecurityGroup::lambda(net)));
    if endpoints {
        list.push(Box::new(SecurityGroup::endpoints(net)));
        for (id, service) in INTERFACE_ENDPOINTS {
            list.push(Box::new(VpcEndpoint::interface(net, id, service)));
        }
        list.push(Box::new(VpcEndpoint::gateway(
            net,
            GATEWAY_ENDPOINT.0,
            GATEWAY_ENDPOINT.1,
        )));
    }
    list
}

/// The tags an EC2 object gets: the stack's and ownership tags, and a `Name`.
pub fn desired_tags(cx: &Cx, id: &str, name: &str) -> BTreeMap<String, String> {
    let mut tags = cx.tags_for(id);
    tags.insert("Name".into(), name.into());
    tags
}

/// The `tags` field every EC2 object of the stack should have.
pub fn desired_tags_prop(cx: &Cx, id: &str, name: &str) -> Prop {
    Prop::Known(tags_value(&desired_tags(cx, id, name)))
}

/// Tags at creation, so an object is never untagged (and so never unowned), even for a moment.
pub fn tag_spec(cx: &Cx, id: &str, name: &str, kind: ResourceType) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(kind);
    for (k, v) in desired_tags(cx, id, name) {
        spec = spec.tags(Tag::builder().key(k).value(v).build());
    }
    spec.build()
}

/// Filters that find the object this stack created for logical id `id`.
pub fn owned_filters(cx: &Cx, id: &str) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{STACK_TAG}"), &cx.stack),
        filter(&format!("tag:{RESOURCE_TAG}"), id),
    ]
}

pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Brings an EC2 object's tags to `desired`: sets new or changed ones, removes stale ones.
pub async fn retag(
    cx: &Cx,
    kind: &'static str,
    live: &Live,
    desired: &BTreeMap<String, String>,
) -> Result<(), ResourceError> {
    let physical_id = live.physical_id.as_str();
    let (set, remove) = super::tag_delta(desired, &super::live_tags(live));
    if !set.is_empty() {
        let mut request = cx.ec2.create_tags().resources(physical_id);
        for (k, v) in set {
            request = request.tags(Tag::builder().key(k).value(v).build());
        }
        request
            .send()
            .await
            .map_err(super::api("tag", kind, physical_id))?;
    }
    if !remove.is_empty() {
        let mut request = cx.ec2.delete_tags().resources(physical_id);
        for k in remove {
            request = request.tags(Tag::builder().key(k).build());
        }
        request
            .send()
            .await
            .map_err(super::api("untag", kind, physical_id))?;
    }
    Ok(())
}

/// Waits until no network interface matches `filter_name = value` (Lambda's hyperplane ENIs on
/// the security group). Lambda releases them up to ~40 minutes after the function is gone,
/// using the function's role; nothing else may delete them while Lambda still holds them.
pub async fn wait_no_enis(
    cx: &Cx,
    progress_id: &str,
    line: &str,
    filter_name: &str,
    value: &str,
) -> Result<(), ResourceError> {
    let what = format!("the network interfaces using {value} to be released");
    let hint = format!(
        "Lambda releases a deleted function's network interfaces within ~20-40 minutes (its role `fulfillment-role` is kept until then): run `resetpw down` again later, or with a longer --timeout; an interface left `available` and not Lambda's can be deleted with `aws ec2 delete-network-interface --network-interface-id <id>` (list them with `aws ec2 describe-network-interfaces --filters Name={filter_name},Values={value}`)"
    );
    wait_until(
        &what,
        cx.timeout,
        Backoff::default(),
        &hint,
        |state| {
            cx.progress.begin(
                progress_id,
                &format!("{line}: waiting for Lambda to release network interfaces ({state})"),
            )
        },
        || async move {
            let out = cx
                .ec2
                .describe_network_interfaces()
                .filters(filter(filter_name, value))
                .send()
                .await
                .map_err(ApiError::from)?;
            let left: Vec<String> = out
                .network_interfaces()
                .iter()
                .map(|n| {
                    format!(
                        "{} {}",
                        n.network_interface_id().unwrap_or("?"),
                        n.status().map(|s| s.as_str()).unwrap_or("?")
                    )
                })
                .collect();
            Ok::<_, ApiError>(if left.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("{} left: {}", left.len(), left.join(", ")))
            })
        },
    )
    .await?;
    Ok(())
}

/// Checks against the account before anything changes: the VPC and subnets exist, the zones
/// exist in the region, new subnets fit the VPC and overlap no subnet already there.
pub async fn preflight(cx: &Cx, net: &Network) -> Result<(), ResourceError> {
    let fail = |path: &[&str], message: String| ResourceError::Stack {
        path: std::iter::once("network")
            .chain(path.iter().copied())
            .map(str::to_string)
            .collect(),
        message,
    };
    let mut vpc_cidrs = Vec::new();
    if let Some(vpc_id) = &net.vpc_id {
        let found = super::tolerate(
            cx.ec2.describe_vpcs().vpc_ids(vpc_id).send().await,
            &["InvalidVpcID.NotFound"],
        )
        .map_err(super::api("look up", "ec2-vpc", vpc_id))?;
        let Some(vpc) = found.as_ref().and_then(|o| o.vpcs().first()) else {
            return Err(fail(
                &["vpc_id"],
                format!(
                    "VPC {vpc_id} does not exist in {}: check the id and the region",
                    cx.region
                ),
            ));
        };
        vpc_cidrs = vpc
            .cidr_block_association_set()
            .iter()
            .filter_map(|a| a.cidr_block())
            .chain(vpc.cidr_block())
            .filter_map(|c| Cidr::try_from(c.to_string()).ok())
            .collect();
    }
    if net.mode == NetworkMode::Existing {
        let vpc_id = net.vpc_id.clone().unwrap_or_default();
        for (i, id) in net.subnet_ids.iter().enumerate() {
            let at = i.to_string();
            let found = super::tolerate(
                cx.ec2.describe_subnets().subnet_ids(id).send().await,
                &["InvalidSubnetID.NotFound"],
            )
            .map_err(super::api("look up", "ec2-subnet", id))?;
            match found.as_ref().and_then(|o| o.subnets().first()) {
                None => {
                    return Err(fail(
                        &["subnet_ids", &at],
                        format!("subnet {id} does not exist in {}", cx.region),
                    ))
                }
                Some(s) if s.vpc_id() != Some(vpc_id.as_str()) => {
                    return Err(fail(
                        &["subnet_ids", &at],
                        format!(
                            "subnet {id} is in {}, not in `vpc_id: {vpc_id}`",
                            s.vpc_id().unwrap_or("another VPC")
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        return Ok(());
    }
    let zones = cx
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(super::api("list", "availability-zone", &cx.region))?;
    let zones: BTreeSet<String> = zones
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    // Each subnet to create (the check on load refused a public subnet without NAT).
    let wanted = net.subnets_to_create();
    for (at, s) in &wanted {
        if !zones.contains(&s.availability_zone) {
            return Err(fail(
                &key(at, "availability_zone"),
                format!(
                    "availability zone `{}` does not exist in {} (zones there: {})",
                    s.availability_zone,
                    cx.region,
                    zones.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    if net.mode == NetworkMode::Nat && net.egress == Egress::Endpoints {
        // Private DNS names of interface endpoints resolve only with both attributes on; the
        // customer's VPC is theirs to change, so say so rather than change it.
        let vpc_id = net.vpc_id.clone().unwrap_or_default();
        let support = super::vpc::dns_attribute(cx, &vpc_id, VpcAttributeName::EnableDnsSupport);
        let hostnames =
            super::vpc::dns_attribute(cx, &vpc_id, VpcAttributeName::EnableDnsHostnames);
        let (support, hostnames) = futures::try_join!(support, hostnames)?;
        if !(support && hostnames) {
            return Err(fail(
                &["egress"],
                format!(
                    "`egress: endpoints` needs DNS resolution and DNS hostnames turned on in {vpc_id} (now: resolution {}, hostnames {}) so the endpoints' private DNS names answer: turn them on (`aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-hostnames '{{\"Value\":true}}'`, and the same with --enable-dns-support) or use `egress: nat`",
                    on_off(support),
                    on_off(hostnames)
                ),
            ));
        }
    }
    if net.mode == NetworkMode::Nat {
        let vpc_id = net.vpc_id.clone().unwrap_or_default();
        let existing = cx
            .ec2
            .describe_subnets()
            .filters(filter("vpc-id", &vpc_id))
            .send()
            .await
            .map_err(super::api("list subnets of", "ec2-vpc", &vpc_id))?;
        // Subnets this stack created are its own earlier run, not a conflict.
        let others: Vec<(String, Cidr)> = existing
            .subnets()
            .iter()
            .filter(|s| tag_map(s.tags()).get(STACK_TAG) != Some(&cx.stack))
            .filter_map(|s| {
                let cidr = Cidr::try_from(s.cidr_block()?.to_string()).ok()?;
                Some((s.subnet_id()?.to_string(), cidr))
            })
            .collect();
        for (at, s) in &wanted {
            check_new_subnet(&vpc_id, &vpc_cidrs, &others, &s.cidr)
                .map_err(|m| fail(&key(at, "cidr"), m))?;
        }
    }
    Ok(())
}

/// The key path of `field` in the subnet written at `at`.
fn key<'a>(at: &'a [String], field: &'static str) -> Vec<&'a str> {
    at.iter().map(String::as_str).chain([field]).collect()
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// A new subnet must lie inside one of the VPC's CIDR blocks and overlap no existing subnet.
pub fn check_new_subnet(
    vpc_id: &str,
    vpc_cidrs: &[Cidr],
    existing: &[(String, Cidr)],
    wanted: &Cidr,
) -> Result<(), String> {
    if !vpc_cidrs.iter().any(|v| contains(v, wanted)) {
        let blocks: Vec<String> = vpc_cidrs.iter().map(Cidr::to_string).collect();
        return Err(format!(
            "subnet {wanted} is not inside {vpc_id} ({}): pick a block inside it",
            blocks.join(", ")
        ));
    }
    if let Some((id, c)) = existing.iter().find(|(_, c)| overlaps(c, wanted)) {
        return Err(format!(
            "subnet {wanted} overlaps the existing subnet {id} ({c}) of {vpc_id}: pick a free block"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        Cidr::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn new_subnets_must_fit_the_vpc_and_avoid_existing_ones() {
        let vpc = [cidr("10.0.0.0/16")];
        let existing = [("subnet-a".to_string(), cidr("10.0.0.0/24"))];
        assert!(check_new_subnet("vpc-1", &vpc, &existing, &cidr("10.0.1.0/24")).is_ok());
        let e = check_new_subnet("vpc-1", &vpc, &existing, &cidr("10.1.0.0/24")).unwrap_err();
        assert!(e.contains("not inside vpc-1 (10.0.0.0/16)"), "{e}");
        let e = check_new_subnet("vpc-1", &vpc, &existing, &cidr("10.0.0.128/25")).unwrap_err();
        assert!(e.contains("overlaps the existing subnet subnet-a"), "{e}");
    }

    #[test]
    fn every_dependency_comes_earlier_in_the_list() {
        let list = all("s");
        for (i, r) in list.iter().enumerate() {
            for d in r.depends_on() {
                if d == FULFILLMENT_ROLE {
                    continue;
                }
                let pos = list.iter().position(|o| o.id() == d);
                assert!(pos.is_some_and(|p| p < i), "{} depends on {d}", r.id());
            }
        }
        let ids: BTreeSet<_> = list.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), list.len(), "ids are unique");
    }

    #[test]
    fn the_security_group_outlives_subnets_and_the_role_outlives_it() {
        let list = all("s");
        let sg = list.iter().find(|r| r.id() == LAMBDA_SG).unwrap();
        let deps = sg.depends_on();
        assert!(deps.contains(&FULFILLMENT_ROLE));
        for id in PRIVATE_SUBNETS {
            assert!(deps.contains(&id), "{id}");
        }
    }
}
