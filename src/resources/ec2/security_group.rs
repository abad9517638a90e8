//! Security groups. `lambda-security-group` is the Lambda's: no ingress; egress only LDAPS (636,
//! and 389 with StartTLS) to the directory CIDRs and 443 for AWS APIs. `endpoint-security-group`
//! (with `egress: endpoints`) lets the Lambda reach the interface endpoints on 443.
//!
//! Deleting the Lambda's group first waits until no network interface uses it: Lambda keeps its
//! hyperplane interfaces for up to ~40 minutes after the function is deleted, and removes them
//! with the function's role. The group lists the role among its dependencies, so `down` deletes
//! the role only after this wait (and the subnets, which the group depends on, after the group).

use super::{
    desired_tags, desired_tags_prop, filter, known, owned_filters, retag, tag_map, tag_spec,
    wait_no_enis, Net, ENDPOINT_SG, FULFILLMENT_ROLE, LAMBDA_SG, VPC,
};
use crate::aws::{Cx, RESOURCE_TAG, STACK_TAG};
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{api, other, tags_value, tolerate};
use crate::stack::{Cidr, NetworkMode};
use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const KIND: &str = "ec2-security-group";

/// One security group rule with one peer (a CIDR block or another group).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub peer: String,
}

impl Rule {
    pub fn tcp(port: i32, peer: impl Into<String>) -> Rule {
        Rule {
            protocol: "tcp".into(),
            from: port,
            to: port,
            peer: peer.into(),
        }
    }

    /// Every protocol and port to `peer` (the rule a new group's egress starts with).
    pub fn all(peer: impl Into<String>) -> Rule {
        Rule {
            protocol: "-1".into(),
            from: -1,
            to: -1,
            peer: peer.into(),
        }
    }

    /// How the rule shows in a plan: `tcp 636 10.0.0.0/24`, `all 0.0.0.0/0`.
    pub fn label(&self) -> String {
        let ports = if self.protocol == "-1" {
            String::new()
        } else if self.from == self.to {
            format!(" {}", self.from)
        } else {
            format!(" {}-{}", self.from, self.to)
        };
        let protocol = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        format!("{protocol}{ports} {}", self.peer)
    }

    fn permission(&self) -> IpPermission {
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if self.protocol != "-1" {
            p = p.from_port(self.from).to_port(self.to);
        }
        if self.peer.starts_with("sg-") {
            p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(&self.peer).build());
        } else {
            p = p.ip_ranges(IpRange::builder().cidr_ip(&self.peer).build());
        }
        p.build()
    }

    /// The rules in EC2's permissions, one per peer.
    pub fn from_permissions(permissions: &[IpPermission]) -> BTreeSet<Rule> {
        let mut rules = BTreeSet::new();
        for p in permissions {
            let protocol = p.ip_protocol().unwrap_or("-1").to_string();
            let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
            let peers = p
                .ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip())
                .chain(p.user_id_group_pairs().iter().filter_map(|g| g.group_id()));
            for peer in peers {
                rules.insert(Rule {
                    protocol: protocol.clone(),
                    from,
                    to,
                    peer: peer.to_string(),
                });
            }
        }
        rules
    }
}

/// The Lambda's egress: LDAPS (and StartTLS's 389) to each directory CIDR, HTTPS to AWS APIs.
pub fn lambda_egress(directory_cidrs: &[Cidr], starttls: bool) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::from([Rule::tcp(443, "0.0.0.0/0")]);
    for cidr in directory_cidrs {
        rules.insert(Rule::tcp(636, cidr.to_string()));
        if starttls {
            rules.insert(Rule::tcp(389, cidr.to_string()));
        }
    }
    rules
}

fn labels(rules: &BTreeSet<Rule>) -> Value {
    json!(rules.iter().map(Rule::label).collect::<Vec<_>>())
}

pub struct SecurityGroup {
    net: Net,
    id: &'static str,
}

impl SecurityGroup {
    pub fn lambda(net: &Net) -> Self {
        SecurityGroup {
            net: net.clone(),
            id: LAMBDA_SG,
        }
    }

    pub fn endpoints(net: &Net) -> Self {
        SecurityGroup {
            net: net.clone(),
            id: ENDPOINT_SG,
        }
    }

    fn description(&self) -> &'static str {
        if self.id == LAMBDA_SG {
            "resetpw fulfillment Lambda: LDAPS to the directory, HTTPS to AWS APIs"
        } else {
            "resetpw VPC endpoints: HTTPS from the fulfillment Lambda"
        }
    }

    /// Desired (ingress, egress); `None` while an input is unknown.
    fn rules(&self, inputs: &Outputs) -> Option<(BTreeSet<Rule>, BTreeSet<Rule>)> {
        if self.id == LAMBDA_SG {
            let c = self.net.config.as_ref()?;
            Some((
                BTreeSet::new(),
                lambda_egress(&c.directory_cidrs, self.net.starttls),
            ))
        } else {
            match input(inputs, &format!("{LAMBDA_SG}.group_id")) {
                Prop::Known(Value::String(sg)) => {
                    Some((BTreeSet::from([Rule::tcp(443, sg)]), BTreeSet::new()))
                }
                _ => None,
            }
        }
    }

    /// Authorizes missing rules and revokes extra ones (the default allow-all egress too).
    /// `live` is the group's (ingress, egress) when known without asking (a group just
    /// created has no ingress and allows all egress); otherwise the group is described first.
    /// Each direction's revocations and authorizations are one call each, all made at once
    /// (they touch different rules).
    async fn sync_rules(
        &self,
        cx: &Cx,
        group_id: &str,
        inputs: &Outputs,
        live: Option<(BTreeSet<Rule>, BTreeSet<Rule>)>,
    ) -> Result<(), ResourceError> {
        let (ingress, egress) = self
            .rules(inputs)
            .ok_or_else(|| other(format!("the rules of {} are not known yet", self.id)))?;
        let (live_in, live_out) = match live {
            Some(rules) => rules,
            None => {
                let out = cx
                    .ec2
                    .describe_security_groups()
                    .group_ids(group_id)
                    .send()
                    .await
                    .map_err(api("describe", KIND, group_id))?;
                let group = out
                    .security_groups()
                    .first()
                    .ok_or_else(|| other(format!("security group {group_id} disappeared")))?;
                (
                    Rule::from_permissions(group.ip_permissions()),
                    Rule::from_permissions(group.ip_permissions_egress()),
                )
            }
        };
        let permissions = |rules: Vec<&Rule>| -> Option<Vec<IpPermission>> {
            (!rules.is_empty()).then(|| rules.into_iter().map(Rule::permission).collect())
        };
        let revoke_in = permissions(live_in.difference(&ingress).collect());
        let revoke_out = permissions(live_out.difference(&egress).collect());
        let allow_in = permissions(ingress.difference(&live_in).collect());
        let allow_out = permissions(egress.difference(&live_out).collect());
        let revoke_in = async {
            let Some(p) = revoke_in else { return Ok(()) };
            cx.ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(p))
                .send()
                .await
                .map(|_| ())
                .map_err(api("revoke ingress rules of", KIND, group_id))
        };
        let revoke_out = async {
            let Some(p) = revoke_out else { return Ok(()) };
            cx.ec2
                .revoke_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(Some(p))
                .send()
                .await
                .map(|_| ())
                .map_err(api("revoke egress rules of", KIND, group_id))
        };
        let allow_in = async {
            let Some(p) = allow_in else { return Ok(()) };
            cx.ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(p))
                .send()
                .await
                .map(|_| ())
                .map_err(api("allow ingress to", KIND, group_id))
        };
        let allow_out = async {
            let Some(p) = allow_out else { return Ok(()) };
            cx.ec2
                .authorize_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(Some(p))
                .send()
                .await
                .map(|_| ())
                .map_err(api("allow egress from", KIND, group_id))
        };
        tokio::try_join!(revoke_in, revoke_out, allow_in, allow_out)?;
        Ok(())
    }

    /// The Lambda's subnets, comma-separated: the given ones, or the stack's private subnets.
    async fn subnet_ids(&self, cx: &Cx, inputs: Option<&Outputs>) -> Result<String, ResourceError> {
        let Some(config) = &self.net.config else {
            return Ok(String::new());
        };
        if config.mode == NetworkMode::Existing {
            return Ok(config.subnet_ids.join(","));
        }
        let ids = self.net.private_ids();
        if let Some(inputs) = inputs {
            let found: Vec<String> = ids
                .iter()
                .map(|id| known(&input(inputs, &format!("{id}.subnet_id")), "a subnet id"))
                .collect::<Result<_, _>>()?;
            return Ok(found.join(","));
        }
        let out = cx
            .ec2
            .describe_subnets()
            .filters(filter(&format!("tag:{STACK_TAG}"), &cx.stack))
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name(format!("tag:{RESOURCE_TAG}"))
                    .set_values(Some(ids.iter().map(|s| s.to_string()).collect()))
                    .build(),
            )
            .send()
            .await
            .map_err(api("look up the private subnets of", KIND, &self.name()))?;
        let by_id: BTreeMap<String, String> = out
            .subnets()
            .iter()
            .filter_map(|s| {
                let tags = tag_map(s.tags());
                Some((tags.get(RESOURCE_TAG)?.clone(), s.subnet_id()?.to_string()))
            })
            .collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.get(*id).cloned())
            .collect::<Vec<_>>()
            .join(","))
    }
}

#[async_trait]
impl Resource for SecurityGroup {
    fn id(&self) -> &'static str {
        self.id
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// The group; then (the Lambda's) its subnets.
    fn read_rounds(&self) -> usize {
        if self.id == LAMBDA_SG {
            2
        } else {
            1
        }
    }
    /// Create; then revoke the default egress and authorize the rules, all at once.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        let which = if self.id == LAMBDA_SG {
            "lambda"
        } else {
            "endpoints"
        };
        format!("{}-{which}", self.net.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        if self.id == LAMBDA_SG {
            // After the subnets (so `down` deletes this group, waiting for Lambda's interfaces,
            // before them) and after the role (which must outlive that wait).
            let mut deps = vec![VPC, FULFILLMENT_ROLE];
            deps.extend(self.net.private_ids());
            deps
        } else {
            vec![VPC, LAMBDA_SG]
        }
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    async fn preflight(&self, cx: &Cx) -> Result<(), ResourceError> {
        match &self.net.config {
            Some(c) if self.id == LAMBDA_SG => super::checks::preflight(cx, c).await,
            _ => Ok(()),
        }
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        let (ingress, egress) = match self.rules(inputs) {
            Some((i, e)) => (Prop::Known(labels(&i)), Prop::Known(labels(&e))),
            None => (Prop::Unknown, Prop::Unknown),
        };
        Props::from([
            ("vpc", self.net.vpc(inputs)),
            ("ingress", ingress),
            ("egress", egress),
            ("tags", desired_tags_prop(cx, self.id, &self.name())),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let out = cx
            .ec2
            .describe_security_groups()
            .set_filters(Some(owned_filters(cx, self.id)))
            .send()
            .await
            .map_err(api("look up", KIND, &self.name()))?;
        let Some(group) = out.security_groups().first() else {
            return Ok(None);
        };
        let id = group.group_id().unwrap_or_default().to_string();
        let tags = tag_map(group.tags());
        let mut outputs = BTreeMap::from([("group_id".to_string(), id.clone())]);
        if self.id == LAMBDA_SG && self.net.config.is_some() {
            outputs.insert("subnet_ids".into(), self.subnet_ids(cx, None).await?);
        }
        Ok(Some(Live {
            physical_id: id,
            props: BTreeMap::from([
                ("vpc", json!(group.vpc_id().unwrap_or_default())),
                (
                    "ingress",
                    labels(&Rule::from_permissions(group.ip_permissions())),
                ),
                (
                    "egress",
                    labels(&Rule::from_permissions(group.ip_permissions_egress())),
                ),
                ("tags", tags_value(&tags)),
            ]),
            outputs,
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let out = cx
            .ec2
            .create_security_group()
            .group_name(self.name())
            .description(self.description())
            .vpc_id(self.net.vpc_id(inputs)?)
            .tag_specifications(tag_spec(
                cx,
                self.id,
                &self.name(),
                ResourceType::SecurityGroup,
            ))
            .send()
            .await
            .map_err(api("create", KIND, &self.name()))?;
        let id = out
            .group_id()
            .ok_or_else(|| other("EC2 created a security group but returned no id"))?
            .to_string();
        // A new group in a VPC has no ingress and allows all egress.
        let fresh = (BTreeSet::new(), BTreeSet::from([Rule::all("0.0.0.0/0")]));
        self.sync_rules(cx, &id, inputs, Some(fresh)).await?;
        let mut outputs = BTreeMap::from([("group_id".to_string(), id)]);
        if self.id == LAMBDA_SG {
            outputs.insert(
                "subnet_ids".into(),
                self.subnet_ids(cx, Some(inputs)).await?,
            );
        }
        Ok(outputs)
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        if changes
            .iter()
            .any(|c| c.field == "ingress" || c.field == "egress")
        {
            self.sync_rules(cx, &live.physical_id, inputs, None).await?;
        }
        if changes.iter().any(|c| c.field == "tags") {
            retag(cx, KIND, live, &desired_tags(cx, self.id, &self.name())).await?;
        }
        let mut outputs = live.outputs.clone();
        if self.id == LAMBDA_SG {
            outputs.insert(
                "subnet_ids".into(),
                self.subnet_ids(cx, Some(inputs)).await?,
            );
        }
        Ok(outputs)
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let line = format!("{KIND} {}", self.name());
        wait_no_enis(cx, self.id, &line, "group-id", &live.physical_id).await?;
        cx.progress.begin(self.id, &format!("{line}: deleting"));
        tolerate(
            cx.ec2
                .delete_security_group()
                .group_id(&live.physical_id)
                .send()
                .await,
            &["InvalidGroup.NotFound"],
        )
        .map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        Cidr::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn lambda_egress_is_ldaps_to_the_directory_and_https() {
        let labels: Vec<String> = lambda_egress(&[cidr("10.0.0.0/24")], false)
            .iter()
            .map(Rule::label)
            .collect();
        assert_eq!(labels, vec!["tcp 443 0.0.0.0/0", "tcp 636 10.0.0.0/24"]);
        let with_starttls = lambda_egress(&[cidr("10.0.0.0/24"), cidr("10.1.0.0/24")], true);
        assert!(with_starttls.contains(&Rule::tcp(389, "10.1.0.0/24")));
        assert_eq!(with_starttls.len(), 5);
    }

    #[test]
    fn permissions_split_into_one_rule_per_peer() {
        let p = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(636)
            .to_port(636)
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/24").build())
            .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/24").build())
            .build();
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let rules = Rule::from_permissions(&[p, all]);
        let labels: Vec<String> = rules.iter().map(Rule::label).collect();
        assert_eq!(
            labels,
            vec![
                "all 0.0.0.0/0",
                "tcp 636 10.0.0.0/24",
                "tcp 636 10.1.0.0/24"
            ]
        );
        // Rebuilt permissions carry the same rule back.
        let back = Rule::from_permissions(&[Rule::tcp(443, "sg-1").permission()]);
        assert_eq!(back.into_iter().next(), Some(Rule::tcp(443, "sg-1")));
    }
}
