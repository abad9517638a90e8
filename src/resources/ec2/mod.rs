//! EC2: the network resources of the `network` section, one file per kind, and what they share:
//! the stack's network settings (`Net`), the logical ids, ownership tags set at creation, lookups
//! by tag and the wait for Lambda's network interfaces.
//!
//! Every network resource is found by its ownership tags (`resetpw:stack`, `resetpw:resource`),
//! never by what the stack file says, so `down` finds them without the section.

pub mod checks;
pub mod elastic_ip;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod network;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;

use crate::aws::{ApiError, Cx, RESOURCE_TAG, STACK_TAG};
use crate::engine::{input, Live, Outputs, Prop, ResourceError};
use crate::resources::tags_value;
use crate::stack::{Network, NetworkMode};
use crate::wait::{wait_until, Backoff, Poll};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde_json::json;
use std::collections::BTreeMap;

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
