//! Plan-time checks of the `network` section against the account: the VPC and subnets exist,
//! the zones exist in the region, new subnets fit the VPC and overlap no existing subnet.

use super::{filter, tag_map};
use crate::aws::{Cx, STACK_TAG};
use crate::engine::ResourceError;
use crate::resources::{api, tolerate};
use crate::stack::{contains, overlaps, Cidr, Egress, Network, NetworkMode};
use aws_sdk_ec2::types::VpcAttributeName;
use std::collections::BTreeSet;

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
        let found = tolerate(
            cx.ec2.describe_vpcs().vpc_ids(vpc_id).send().await,
            &["InvalidVpcID.NotFound"],
        )
        .map_err(api("look up", "ec2-vpc", vpc_id))?;
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
            let found = tolerate(
                cx.ec2.describe_subnets().subnet_ids(id).send().await,
                &["InvalidSubnetID.NotFound"],
            )
            .map_err(api("look up", "ec2-subnet", id))?;
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
        .map_err(api("list", "availability-zone", &cx.region))?;
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
            .map_err(api("list subnets of", "ec2-vpc", &vpc_id))?;
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
}
