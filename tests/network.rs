//! The `network` section against the local cloud: each mode and endpoints egress goes up, stays
//! put on a second `up`, shows a changed CIDR as a replacement, and comes down leaving the
//! customer's VPC exactly as it was and nothing of the stack behind.

mod common;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use common::{stdout, Case};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

async fn ec2() -> Client {
    Client::new(&common::sdk().await)
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn named(kind: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .tags(Tag::builder().key("Name").value(name).build())
        .build()
}

/// A pseudo-random second octet so parallel tests and reruns use different blocks.
fn octet() -> u8 {
    fastrand::u8(20..250)
}

/// The "customer" VPC the test owns: two subnets, an extra route table with a route, and an
/// attached internet gateway when `with_igw`.
struct Customer {
    vpc_id: String,
    subnets: Vec<String>,
    base: String,
}

async fn customer_vpc(ec2: &Client, with_igw: bool) -> Customer {
    let base = format!("10.{}", octet());
    let vpc_id = ec2
        .create_vpc()
        .cidr_block(format!("{base}.0.0/16"))
        .tag_specifications(named(ResourceType::Vpc, "customer"))
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("{base}.{}.0/24", 200 + i))
            .availability_zone(*az)
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let table = ec2
        .create_route_table()
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap()
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_string();
    ec2.associate_route_table()
        .route_table_id(&table)
        .subnet_id(&subnets[0])
        .send()
        .await
        .unwrap();
    if with_igw {
        let igw = ec2
            .create_internet_gateway()
            .send()
            .await
            .unwrap()
            .internet_gateway()
            .unwrap()
            .internet_gateway_id()
            .unwrap()
            .to_string();
        ec2.attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&vpc_id)
            .send()
            .await
            .unwrap();
        ec2.create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
    }
    Customer {
        vpc_id,
        subnets,
        base,
    }
}

/// Everything about the customer's VPC that resetpw must leave as it was, field by field.
async fn snapshot(ec2: &Client, vpc_id: &str) -> BTreeMap<String, String> {
    let mut snap = BTreeMap::new();
    let vpcs = ec2.describe_vpcs().vpc_ids(vpc_id).send().await.unwrap();
    let vpc = &vpcs.vpcs()[0];
    snap.insert("vpc.cidr".into(), format!("{:?}", vpc.cidr_block()));
    snap.insert("vpc.state".into(), format!("{:?}", vpc.state()));
    snap.insert("vpc.tags".into(), format!("{:?}", sorted_tags(vpc.tags())));
    let igws = ec2
        .describe_internet_gateways()
        .filters(filter("attachment.vpc-id", vpc_id))
        .send()
        .await
        .unwrap();
    for g in igws.internet_gateways() {
        let id = g.internet_gateway_id().unwrap();
        snap.insert(
            format!("igw.{id}.attachments"),
            format!("{:?}", g.attachments()),
        );
        snap.insert(
            format!("igw.{id}.tags"),
            format!("{:?}", sorted_tags(g.tags())),
        );
    }
    let tables = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .unwrap();
    for t in tables.route_tables() {
        let id = t.route_table_id().unwrap();
        let mut routes: Vec<String> = t.routes().iter().map(|r| format!("{r:?}")).collect();
        routes.sort();
        snap.insert(format!("rt.{id}.routes"), routes.join("|"));
        let mut assoc: Vec<String> = t.associations().iter().map(|a| format!("{a:?}")).collect();
        assoc.sort();
        snap.insert(format!("rt.{id}.associations"), assoc.join("|"));
        snap.insert(
            format!("rt.{id}.tags"),
            format!("{:?}", sorted_tags(t.tags())),
        );
    }
    let subnets = ec2
        .describe_subnets()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .unwrap();
    for s in subnets.subnets() {
        let id = s.subnet_id().unwrap();
        snap.insert(format!("subnet.{id}.cidr"), format!("{:?}", s.cidr_block()));
        snap.insert(
            format!("subnet.{id}.az"),
            format!("{:?}", s.availability_zone()),
        );
        snap.insert(
            format!("subnet.{id}.tags"),
            format!("{:?}", sorted_tags(s.tags())),
        );
    }
    snap
}

fn sorted_tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into()))
        .collect()
}

/// Every EC2 object still carrying the stack's ownership tag (deleted ones excluded).
async fn owned_left(ec2: &Client, stack: &str) -> Vec<String> {
    let f = || filter("tag:resetpw:stack", stack);
    let mut left = Vec::new();
    for v in ec2
        .describe_vpcs()
        .filters(f())
        .send()
        .await
        .unwrap()
        .vpcs()
    {
        left.push(format!("vpc {}", v.vpc_id().unwrap()));
    }
    for s in ec2
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .unwrap()
        .subnets()
    {
        left.push(format!("subnet {}", s.subnet_id().unwrap()));
    }
    let out = ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .unwrap();
    for g in out.internet_gateways() {
        left.push(format!("igw {}", g.internet_gateway_id().unwrap()));
    }
    for t in ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .unwrap()
        .route_tables()
    {
        left.push(format!("route table {}", t.route_table_id().unwrap()));
    }
    let out = ec2
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .unwrap();
    for g in out.security_groups() {
        left.push(format!("security group {}", g.group_id().unwrap()));
    }
    for a in ec2
        .describe_addresses()
        .filters(f())
        .send()
        .await
        .unwrap()
        .addresses()
    {
        left.push(format!("eip {}", a.allocation_id().unwrap()));
    }
    for n in stack_nats(ec2, stack).await {
        if n.state().map(|s| s.as_str()) != Some("deleted") {
            left.push(format!("nat {}", n.nat_gateway_id().unwrap()));
        }
    }
    let out = ec2
        .describe_vpc_endpoints()
        .filters(f())
        .send()
        .await
        .unwrap();
    for e in out.vpc_endpoints() {
        if e.state().map(|s| s.as_str().to_ascii_lowercase()) != Some("deleted".into()) {
            left.push(format!("endpoint {}", e.vpc_endpoint_id().unwrap()));
        }
    }
    left
}

/// The stack's NAT gateways (moto ignores tag filters on DescribeNatGateways: checked here).
async fn stack_nats(ec2: &Client, stack: &str) -> Vec<aws_sdk_ec2::types::NatGateway> {
    let out = ec2.describe_nat_gateways().send().await.unwrap();
    out.nat_gateways()
        .iter()
        .filter(|n| {
            sorted_tags(n.tags())
                .get("resetpw:stack")
                .map(String::as_str)
                == Some(stack)
        })
        .cloned()
        .collect()
}

async fn owned_subnet(ec2: &Client, stack: &str, id: &str) -> (String, String) {
    let out = ec2
        .describe_subnets()
        .filters(filter("tag:resetpw:stack", stack))
        .filters(filter("tag:resetpw:resource", id))
        .send()
        .await
        .unwrap();
    let s = &out.subnets()[0];
    (
        s.subnet_id().unwrap().to_string(),
        s.vpc_id().unwrap().to_string(),
    )
}

async fn owned_group(ec2: &Client, stack: &str) -> aws_sdk_ec2::types::SecurityGroup {
    let out = ec2
        .describe_security_groups()
        .filters(filter("tag:resetpw:stack", stack))
        .filters(filter("tag:resetpw:resource", "lambda-security-group"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.security_groups().len(), 1, "one Lambda security group");
    out.security_groups()[0].clone()
}

/// `up`, then a second `up` that changes nothing.
async fn up_twice(case: &Case, file: &Path) {
    case.run(&["up", "-f", file.to_str().unwrap()], 0);
    let mark = case.mark().await;
    let out = case.run(&["up", "-f", file.to_str().unwrap()], 0);
    assert!(stdout(&out).contains("No changes"), "{}", stdout(&out));
    assert_eq!(
        case.mutating_since(mark).await,
        Vec::<String>::new(),
        "a second up changes nothing"
    );
}

/// `diff` of a stack file with a changed subnet CIDR: exit 2 and a replacement in the JSON.
fn diff_shows_replacement(case: &Case, file: &Path, resource: &str) {
    let out = case.run(
        &[
            "diff",
            "-f",
            file.to_str().unwrap(),
            "-o",
            "json",
            "--exit-code",
        ],
        2,
    );
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let step = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == resource)
        .unwrap_or_else(|| panic!("{resource} in the plan: {plan}"));
    assert_eq!(step["action"], "replace", "{step}");
    assert!(
        step["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "cidr" && c["replace"] == true),
        "{step}"
    );
}

fn down(case: &Case, file: &Path) -> String {
    let out = case.run(&["down", "-f", file.to_str().unwrap(), "--yes"], 0);
    common::stderr(&out) + &stdout(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_mode_adds_only_the_security_group() {
    let ec2 = ec2().await;
    let case = Case::new("net-existing");
    let customer = customer_vpc(&ec2, true).await;
    let before = snapshot(&ec2, &customer.vpc_id).await;
    let yaml = |dir: &str| {
        format!(
            "network:\n  mode: existing\n  vpc_id: {}\n  subnet_ids: [{}]\n  directory_cidrs: [{dir}]\n",
            customer.vpc_id,
            customer.subnets.join(", ")
        )
    };
    let file = case.write_stack(&yaml("10.0.0.0/24"));
    up_twice(&case, &file).await;

    let group = owned_group(&ec2, &case.stack).await;
    assert_eq!(group.vpc_id(), Some(customer.vpc_id.as_str()));
    assert!(group.ip_permissions().is_empty(), "no ingress");
    let egress: Vec<String> = group
        .ip_permissions_egress()
        .iter()
        .map(|p| format!("{:?}/{:?}", p.from_port(), p.ip_ranges()[0].cidr_ip()))
        .collect();
    assert_eq!(egress.len(), 2, "{egress:?}");
    assert!(egress
        .iter()
        .any(|e| e.contains("636") && e.contains("10.0.0.0/24")));
    assert!(egress
        .iter()
        .any(|e| e.contains("443") && e.contains("0.0.0.0/0")));
    assert_eq!(
        snapshot(&ec2, &customer.vpc_id).await,
        before,
        "up changes nothing of the customer's VPC"
    );

    // A changed directory CIDR is an in-place update of the group.
    let changed = case.write_stack(&yaml("10.0.1.0/24"));
    case.run(&["diff", "-f", changed.to_str().unwrap(), "--exit-code"], 2);

    down(&case, &changed);
    assert_eq!(snapshot(&ec2, &customer.vpc_id).await, before);
    assert_eq!(owned_left(&ec2, &case.stack).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn nat_mode_reuses_the_attached_internet_gateway_and_leaves_the_vpc_as_it_was() {
    let ec2 = ec2().await;
    let case = Case::new("net-nat");
    let customer = customer_vpc(&ec2, true).await;
    let before = snapshot(&ec2, &customer.vpc_id).await;
    let b = &customer.base;
    let yaml = |first: &str| {
        format!(
            "network:\n  mode: nat\n  vpc_id: {}\n  private_subnets:\n    - {{cidr: {b}.{first}.0/24, availability_zone: us-east-1a}}\n    - {{cidr: {b}.11.0/24, availability_zone: us-east-1b}}\n  public_subnet: {{cidr: {b}.12.0/24, availability_zone: us-east-1a}}\n  directory_cidrs: [{b}.200.0/24]\n",
            customer.vpc_id
        )
    };
    let file = case.write_stack(&yaml("10"));
    up_twice(&case, &file).await;

    // The private subnets route 0.0.0.0/0 to the stack's NAT gateway, the public subnet to the
    // customer's internet gateway (reused, not a second one).
    let (private, vpc) = owned_subnet(&ec2, &case.stack, "private-subnet-1").await;
    assert_eq!(vpc, customer.vpc_id);
    let tables = ec2
        .describe_route_tables()
        .filters(filter("association.subnet-id", &private))
        .send()
        .await
        .unwrap();
    let default = tables.route_tables()[0]
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
        .expect("a default route")
        .clone();
    assert!(
        default
            .nat_gateway_id()
            .or(default.gateway_id())
            .unwrap()
            .starts_with("nat-"),
        "{default:?}"
    );
    let igws = ec2
        .describe_internet_gateways()
        .filters(filter("attachment.vpc-id", &customer.vpc_id))
        .send()
        .await
        .unwrap();
    assert_eq!(
        igws.internet_gateways().len(),
        1,
        "the attached gateway is reused"
    );

    let changed = case.write_stack(&yaml("13"));
    diff_shows_replacement(&case, &changed, "private-subnet-1");

    down(&case, &file);
    assert_eq!(
        snapshot(&ec2, &customer.vpc_id).await,
        before,
        "the customer's VPC, gateway, route tables and subnets are as before"
    );
    assert_eq!(owned_left(&ec2, &case.stack).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn nat_mode_refuses_overlapping_subnets_and_unknown_zones_before_changing_anything() {
    let ec2 = ec2().await;
    let case = Case::new("net-check");
    let customer = customer_vpc(&ec2, false).await;
    let b = &customer.base;
    let yaml = |cidr: &str, zone: &str| {
        format!(
            "network:\n  mode: nat\n  vpc_id: {}\n  private_subnets:\n    - {{cidr: {cidr}, availability_zone: {zone}}}\n    - {{cidr: {b}.11.0/24, availability_zone: us-east-1b}}\n  public_subnet: {{cidr: {b}.12.0/24, availability_zone: us-east-1a}}\n  directory_cidrs: [{b}.200.0/24]\n",
            customer.vpc_id
        )
    };
    let mark = case.mark().await;
    let overlapping = case.write_stack(&yaml(&format!("{b}.200.128/25"), "us-east-1a"));
    let out = case.run(&["up", "-f", overlapping.to_str().unwrap()], 1);
    // Each refusal points at the key in the file: line 16 is the first private subnet.
    let at = |file: &Path, key: &str| {
        let text = std::fs::read_to_string(file).unwrap();
        let (n, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(&format!("{key}:")))
            .unwrap();
        let column = line.find(&format!("{key}:")).unwrap() + 1;
        (n + 1, column)
    };
    let (line, column) = at(&overlapping, "cidr");
    assert!(
        common::stderr(&out).contains(&format!(
            ":{line}:{column}: network.private_subnets.0.cidr: subnet {b}.200.128/25 overlaps the existing subnet"
        )),
        "{}",
        common::stderr(&out)
    );
    let zone = case.write_stack(&yaml(&format!("{b}.10.0/24"), "us-east-1x"));
    let out = case.run(&["up", "-f", zone.to_str().unwrap()], 1);
    let (line, column) = at(&zone, "availability_zone");
    assert!(
        common::stderr(&out).contains(&format!(
            ":{line}:{column}: network.private_subnets.0.availability_zone: availability zone `us-east-1x` does not exist"
        )),
        "{}",
        common::stderr(&out)
    );
    let missing = case.write_raw(
        &std::fs::read_to_string(&zone)
            .unwrap()
            .replace(&customer.vpc_id, "vpc-0123456789abcdef0")
            .replace("us-east-1x", "us-east-1a"),
    );
    let out = case.run(&["up", "-f", missing.to_str().unwrap()], 1);
    assert!(
        common::stderr(&out).contains(&format!(
            ":{}:{}: network.vpc_id: VPC vpc-0123456789abcdef0 does not exist",
            at(&missing, "vpc_id").0,
            at(&missing, "vpc_id").1
        )),
        "{}",
        common::stderr(&out)
    );
    // Endpoints need the customer's VPC to resolve private DNS names; a new VPC from
    // CreateVpc has DNS hostnames off, and resetpw does not change the customer's VPC.
    let endpoints = case.write_stack(
        &(yaml(&format!("{b}.10.0/24"), "us-east-1a")
            .lines()
            .map(|l| {
                if l.starts_with("  public_subnet:") {
                    "  egress: endpoints"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"),
    );
    let out = case.run(&["up", "-f", endpoints.to_str().unwrap()], 1);
    let (line, column) = at(&endpoints, "egress");
    assert!(
        common::stderr(&out).contains(&format!(
            ":{line}:{column}: network.egress: `egress: endpoints` needs DNS resolution and DNS hostnames turned on in {} (now: resolution on, hostnames off)",
            customer.vpc_id
        )),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(case.mutating_since(mark).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn new_mode_builds_the_nat_routed_vpc_and_down_waits_for_lambda_network_interfaces() {
    let ec2 = ec2().await;
    let case = Case::new("net-new");
    let b = format!("10.{}", octet());
    let yaml = |first: &str| {
        format!(
            "network:\n  mode: new\n  vpc_cidr: {b}.0.0/16\n  private_subnets:\n    - {{cidr: {b}.{first}.0/24, availability_zone: us-east-1a}}\n    - {{cidr: {b}.2.0/24, availability_zone: us-east-1b}}\n  public_subnet: {{cidr: {b}.0.0/24, availability_zone: us-east-1a}}\n  directory_cidrs: [10.0.0.0/24]\n"
        )
    };
    let file = case.write_stack(&yaml("1"));
    up_twice(&case, &file).await;

    let (private, vpc_id) = owned_subnet(&ec2, &case.stack, "private-subnet-1").await;
    let nats = stack_nats(&ec2, &case.stack).await;
    assert_eq!(nats.len(), 1);
    assert_eq!(nats[0].vpc_id(), Some(vpc_id.as_str()));
    let vpcs = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
    let tags = sorted_tags(vpcs.vpcs()[0].tags());
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("it"),
        "user tags"
    );
    assert_eq!(
        tags.get("resetpw:resource").map(String::as_str),
        Some("vpc")
    );

    diff_shows_replacement(&case, &case.write_stack(&yaml("3")), "private-subnet-1");

    // A Lambda hyperplane interface left on the group: down waits until it is gone.
    let group = owned_group(&ec2, &case.stack).await;
    let eni = ec2
        .create_network_interface()
        .subnet_id(&private)
        .groups(group.group_id().unwrap())
        .description("AWS Lambda VPC ENI-test")
        .send()
        .await
        .unwrap()
        .network_interface()
        .unwrap()
        .network_interface_id()
        .unwrap()
        .to_string();
    let remover = {
        let ec2 = ec2.clone();
        let eni = eni.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            ec2.delete_network_interface()
                .network_interface_id(eni)
                .send()
                .await
                .unwrap();
        })
    };
    let output = tokio::task::spawn_blocking({
        let file = file.clone();
        move || {
            let out = down(&case, &file);
            (case, out)
        }
    })
    .await
    .unwrap();
    let (case, out) = output;
    remover.await.unwrap();
    assert!(
        out.contains("waiting for Lambda to release network interfaces") && out.contains(&eni),
        "down says what it waits for:\n{out}"
    );
    assert_eq!(owned_left(&ec2, &case.stack).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn down_times_out_naming_the_interfaces_left() {
    let ec2 = ec2().await;
    let case = Case::new("net-timeout");
    let b = format!("10.{}", octet());
    let file = case.write_stack(&format!(
        "network:\n  mode: new\n  vpc_cidr: {b}.0.0/16\n  egress: endpoints\n  private_subnets:\n    - {{cidr: {b}.1.0/24, availability_zone: us-east-1a}}\n    - {{cidr: {b}.2.0/24, availability_zone: us-east-1b}}\n  directory_cidrs: [10.0.0.0/24]\n"
    ));
    case.run(&["up", "-f", file.to_str().unwrap()], 0);
    let (private, _) = owned_subnet(&ec2, &case.stack, "private-subnet-2").await;
    let group = owned_group(&ec2, &case.stack).await;
    let eni = ec2
        .create_network_interface()
        .subnet_id(&private)
        .groups(group.group_id().unwrap())
        .send()
        .await
        .unwrap()
        .network_interface()
        .unwrap()
        .network_interface_id()
        .unwrap()
        .to_string();
    let out = case.run(
        &[
            "down",
            "-f",
            file.to_str().unwrap(),
            "--yes",
            "--timeout",
            "2s",
        ],
        1,
    );
    let err = common::stderr(&out);
    assert!(err.contains("timed out") && err.contains(&eni), "{err}");
    // The role-free part of the stack that does not depend on the group is gone; the group is
    // still there, so a later `down` can finish.
    assert!(owned_left(&ec2, &case.stack)
        .await
        .iter()
        .any(|o| o.starts_with("security group")));
    ec2.delete_network_interface()
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap();
    down(&case, &file);
    assert_eq!(owned_left(&ec2, &case.stack).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_egress_uses_vpc_endpoints_instead_of_a_nat_gateway() {
    let ec2 = ec2().await;
    let case = Case::new("net-endpoints");
    let b = format!("10.{}", octet());
    let yaml = |first: &str| {
        format!(
            "network:\n  mode: new\n  vpc_cidr: {b}.0.0/16\n  egress: endpoints\n  private_subnets:\n    - {{cidr: {b}.{first}.0/24, availability_zone: us-east-1a}}\n    - {{cidr: {b}.2.0/24, availability_zone: us-east-1b}}\n  directory_cidrs: [10.0.0.0/24]\n"
        )
    };
    let file = case.write_stack(&yaml("1"));
    up_twice(&case, &file).await;

    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(filter("tag:resetpw:stack", &case.stack))
        .send()
        .await
        .unwrap();
    let mut services: Vec<String> = endpoints
        .vpc_endpoints()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.service_name().unwrap(),
                e.vpc_endpoint_type().unwrap().as_str()
            )
        })
        .collect();
    services.sort();
    assert_eq!(
        services,
        vec![
            "com.amazonaws.us-east-1.dynamodb Gateway",
            "com.amazonaws.us-east-1.kms Interface",
            "com.amazonaws.us-east-1.logs Interface",
            "com.amazonaws.us-east-1.sns Interface",
        ]
    );
    assert!(endpoints
        .vpc_endpoints()
        .iter()
        .filter(|e| e.vpc_endpoint_type().unwrap().as_str() == "Interface")
        .all(|e| e.private_dns_enabled() == Some(true)));
    assert!(
        stack_nats(&ec2, &case.stack).await.is_empty(),
        "no NAT gateway"
    );

    diff_shows_replacement(&case, &case.write_stack(&yaml("3")), "private-subnet-1");

    down(&case, &file);
    assert_eq!(owned_left(&ec2, &case.stack).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_prints_the_same_on_every_run_in_resource_order() {
    let case = Case::new("net-order");
    let b = format!("10.{}", octet());
    let yaml = |first: &str, dir: &str| {
        format!(
            "network:\n  mode: new\n  vpc_cidr: {b}.0.0/16\n  private_subnets:\n    - {{cidr: {b}.{first}.0/24, availability_zone: us-east-1a}}\n    - {{cidr: {b}.2.0/24, availability_zone: us-east-1b}}\n  public_subnet: {{cidr: {b}.0.0/24, availability_zone: us-east-1a}}\n  directory_cidrs: [{dir}]\n"
        )
    };
    // Planned by lookups and diffs that finish in whatever order the cloud answers: the text
    // and the JSON must not depend on it.
    let plans = |file: &Path, expect: i32| {
        let f = file.to_str().unwrap();
        let runs: Vec<(String, String)> = (0..3)
            .map(|_| {
                let text = case.run(&["diff", "-f", f, "--exit-code"], expect);
                let json = case.run(&["diff", "-f", f, "-o", "json", "--exit-code"], expect);
                (stdout(&text), stdout(&json))
            })
            .collect();
        assert!(
            runs.iter().all(|r| *r == runs[0]),
            "plans differ between runs:\n{runs:#?}"
        );
        runs[0].clone()
    };
    let file = case.write_stack(&yaml("1", "10.0.0.0/24"));
    let (cold, cold_json) = plans(&file, 2);
    let order: Vec<String> = serde_json::from_str::<Value>(&cold_json).unwrap()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let at = |id: &str| order.iter().position(|o| o == id).unwrap();
    assert!(at("vpc") < at("public-subnet") && at("public-subnet") < at("nat-gateway"));
    assert!(
        at("private-subnet-1") < at("lambda-security-group"),
        "{order:?}"
    );
    assert!(cold.contains("to create"), "{cold}");

    case.run(&["up", "-f", file.to_str().unwrap()], 0);
    // A replacement and an update in one plan, after a run that found everything.
    let edited = case.write_stack(&yaml("3", "10.0.1.0/24"));
    let (changed, _) = plans(&edited, 2);
    assert!(
        changed.contains("to replace") && changed.contains("to update"),
        "{changed}"
    );
    case.run(&["down", "-f", file.to_str().unwrap(), "--yes"], 0);
}
