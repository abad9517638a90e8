//! The `network` section: which EC2 resources each mode needs, in dependency order.

use super::{
    elastic_ip::ElasticIp, internet_gateway::InternetGateway, nat_gateway::NatGateway,
    route_table::RouteTable, security_group::SecurityGroup, subnet::Subnet, vpc::Vpc,
    vpc_endpoint::VpcEndpoint, Net, GATEWAY_ENDPOINT, INTERFACE_ENDPOINTS,
};
use crate::engine::Resource;
use crate::stack::{Egress, Network, NetworkMode, Stack};

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

#[cfg(test)]
mod tests {
    use super::super::{FULFILLMENT_ROLE, LAMBDA_SG, PRIVATE_SUBNETS};
    use super::*;
    use std::collections::BTreeSet;

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
