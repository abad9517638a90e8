//! The fulfillment function `<stack>-fulfillment`: provided.al2023 on x86_64, handler
//! `bootstrap`, the stack's memory, timeout and environment, the role, and the network's
//! private subnets and Lambda security group when the stack has a `network` section.

use super::code::{Code, Source};
use super::environment::{self, CA_PEM, CIPHERTEXT, FIELDS, OTHER};
use crate::aws::{ApiError, Cx};
use crate::engine::{
    diff_props, input, Change, Live, Outputs, Prop, Props, Resource, ResourceError, Shown,
};
use crate::resources::dynamodb::table;
use crate::resources::ec2::{LAMBDA_SG, PRIVATE_SUBNETS};
use crate::resources::logs::log_group;
use crate::resources::{api, apply_tag_delta, other, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime, State, VpcConfig,
};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

pub const ID: &str = "fulfillment-function";
const KIND: &str = "lambda-function";
const GONE: &[&str] = &["ResourceNotFoundException"];
const RUNTIME: &str = "provided.al2023";
const HANDLER: &str = "bootstrap";
const ARCHITECTURE: &str = "x86_64";
/// What Lambda says while IAM has not yet propagated a role created moments ago.
const ROLE_NOT_READY: &str = "cannot be assumed by Lambda";

pub fn function_name(stack: &str) -> String {
    format!("{stack}-fulfillment")
}

/// Where the function's network interfaces go.
#[derive(Debug, Clone)]
pub enum Placement {
    /// No `network` section: no VPC configuration.
    None,
    /// The private subnets the stack creates (their logical ids).
    OwnedSubnets(Vec<&'static str>),
    /// Mode `existing`: the subnets named in the stack file.
    Subnets(Vec<String>),
}

/// What the stack file asks of the function.
pub struct Config {
    /// Every variable but the ciphertext (see `environment::from_stack`).
    pub env: BTreeMap<&'static str, String>,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub placement: Placement,
    pub code: Code,
}

pub struct Function {
    stack: String,
    /// `None` when only observed and deleted (`down`).
    config: Option<Config>,
}

impl Function {
    pub fn new(stack: &str, config: Option<Config>) -> Self {
        Function {
            stack: stack.into(),
            config,
        }
    }

    fn config(&self) -> Result<&Config, ResourceError> {
        self.config.as_ref().ok_or_else(|| {
            other("the function's settings are not known (no `fulfillment` section)")
        })
    }

    fn description(&self) -> String {
        format!(
            "resetpw stack {}: verifies callers against the directory and resets their password",
            self.stack
        )
    }

    /// The desired VPC configuration: `null` for none, unknown until the subnets and the group
    /// exist.
    fn vpc(&self, inputs: &Outputs) -> Prop {
        let Some(config) = &self.config else {
            return Prop::Unknown;
        };
        let subnets: Vec<Prop> = match &config.placement {
            Placement::None => return Prop::Known(Value::Null),
            Placement::OwnedSubnets(ids) => ids
                .iter()
                .map(|id| input(inputs, &format!("{id}.subnet_id")))
                .collect(),
            Placement::Subnets(ids) => ids.iter().map(|s| Prop::Known(json!(s))).collect(),
        };
        let group = input(inputs, &format!("{LAMBDA_SG}.group_id"));
        let mut subnet_ids = Vec::new();
        for s in subnets.into_iter().chain([group.clone()]) {
            if s == Prop::Unknown {
                return Prop::Unknown;
            }
            if let Prop::Known(v) = s {
                subnet_ids.push(v.as_str().unwrap_or_default().to_string());
            }
        }
        let group = subnet_ids.pop().unwrap_or_default();
        Prop::Known(vpc_value(subnet_ids, vec![group]))
    }

    /// The whole environment to send, with the ciphertext from the directory secret.
    fn environment(&self, inputs: &Outputs) -> Result<HashMap<String, String>, ResourceError> {
        let config = self.config()?;
        let ciphertext = inputs
            .get("directory-secret.ciphertext")
            .ok_or_else(|| other("the function needs the directory secret, which does not exist yet; run `resetpw up` again"))?;
        let mut env: HashMap<String, String> = config
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        env.insert(CIPHERTEXT.into(), ciphertext.clone());
        Ok(env)
    }

    fn vpc_config(&self, inputs: &Outputs) -> Result<VpcConfig, ResourceError> {
        // An empty configuration detaches the function from a VPC it was in.
        let value = match self.vpc(inputs) {
            Prop::Known(v) => v,
            Prop::Unknown => return Err(other(
                "the function's subnets or security group do not exist yet; run `resetpw up` again",
            )),
        };
        let list = |key: &str| -> Vec<String> {
            value[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(VpcConfig::builder()
            .set_subnet_ids(Some(list("subnet_ids")))
            .set_security_group_ids(Some(list("security_group_ids")))
            .build())
    }

    fn zip(&self) -> Result<&super::code::Zip, ResourceError> {
        self.config()?
            .code
            .loaded()
            .ok_or_else(|| other("the function's code was not loaded at plan time"))
    }

    /// Polls until the function is Active and its last update Successful (a VPC function stays
    /// Pending for a minute or two on AWS).
    async fn wait_ready(&self, cx: &Cx, what: &str) -> Result<(), ResourceError> {
        let name = self.name();
        let line = format!("{KIND} {name}");
        wait_until(
            what,
            cx.timeout,
            Backoff::default(),
            "Lambda is still setting the function up: run the same command again, with a longer --timeout if needed",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || {
                let name = name.clone();
                async move {
                    let c = cx
                        .lambda
                        .get_function_configuration()
                        .function_name(&name)
                        .send()
                        .await
                        .map_err(ApiError::from)?;
                    let reason = |code: Option<String>, text: Option<&str>| {
                        format!(
                            "{}: {}",
                            code.unwrap_or_else(|| "no reason code".into()),
                            text.unwrap_or("no reason given")
                        )
                    };
                    Ok::<_, ApiError>(match (c.state(), c.last_update_status()) {
                        (Some(State::Failed), _) => Poll::Failed(reason(
                            c.state_reason_code().map(|r| r.as_str().to_string()),
                            c.state_reason(),
                        )),
                        (_, Some(LastUpdateStatus::Failed)) => Poll::Failed(reason(
                            c.last_update_status_reason_code()
                                .map(|r| r.as_str().to_string()),
                            c.last_update_status_reason(),
                        )),
                        (Some(State::Active), None | Some(LastUpdateStatus::Successful)) => {
                            Poll::Ready(())
                        }
                        (state, update) => Poll::Pending(format!(
                            "state {}, last update {}",
                            state.map_or("unknown", |s| s.as_str()),
                            update.map_or("none", |u| u.as_str())
                        )),
                    })
                }
            },
        )
        .await?;
        Ok(())
    }

    /// Runs a call that Lambda refuses with ResourceConflictException while another update of
    /// the function is in progress: waits that update out and tries again.
    async fn when_idle<T, F, Fut>(
        &self,
        cx: &Cx,
        verb: &'static str,
        call: F,
    ) -> Result<T, ResourceError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let mut conflicts = 0;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is("ResourceConflictException") && conflicts < 5 => {
                    conflicts += 1;
                    self.wait_ready(cx, "the function's update in progress to finish")
                        .await?;
                }
                Err(source) => {
                    return Err(ResourceError::Api {
                        verb,
                        kind: KIND,
                        name: self.name(),
                        source,
                    })
                }
            }
        }
    }

    async fn update_code(&self, cx: &Cx) -> Result<(), ResourceError> {
        let zip = self.zip()?;
        self.when_idle(cx, "update the code of", || async {
            cx.lambda
                .update_function_code()
                .function_name(self.name())
                .zip_file(Blob::new(zip.bytes.clone()))
                .architectures(Architecture::X8664)
                .send()
                .await
                .map_err(ApiError::from)
        })
        .await?;
        self.wait_ready(cx, "the new code to be deployed").await
    }

    async fn update_configuration(&self, cx: &Cx, inputs: &Outputs) -> Result<(), ResourceError> {
        let config = self.config()?;
        let env = self.environment(inputs)?;
        let vpc = self.vpc_config(inputs)?;
        let role = inputs
            .get("fulfillment-role.arn")
            .cloned()
            .ok_or_else(|| other("the function needs its role, which does not exist"))?;
        self.when_idle(cx, "update the configuration of", || async {
            cx.lambda
                .update_function_configuration()
                .function_name(self.name())
                .runtime(Runtime::Providedal2023)
                .handler(HANDLER)
                .role(&role)
                .description(self.description())
                .memory_size(config.memory_mb as i32)
                .timeout(config.timeout_seconds as i32)
                .environment(
                    Environment::builder()
                        .set_variables(Some(env.clone()))
                        .build(),
                )
                .vpc_config(vpc.clone())
                .send()
                .await
                .map_err(ApiError::from)
        })
        .await?;
        self.wait_ready(cx, "the new configuration to apply").await
    }

    fn outputs(arn: &str, name: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("arn".to_string(), arn.to_string()),
            ("name".to_string(), name.to_string()),
        ])
    }
}

fn vpc_value(mut subnet_ids: Vec<String>, mut groups: Vec<String>) -> Value {
    if subnet_ids.is_empty() && groups.is_empty() {
        return Value::Null;
    }
    subnet_ids.sort();
    groups.sort();
    json!({"subnet_ids": subnet_ids, "security_group_ids": groups})
}

/// Masks what a plan must not show: the ciphertext, and the CA bundle in full.
fn masked(change: Change) -> Change {
    let Some((name, _)) = FIELDS.iter().find(|(_, f)| *f == change.field) else {
        return change;
    };
    let mask = |shown: Shown| match shown {
        Shown::Value(Value::String(v)) if *name == CIPHERTEXT => {
            let _ = v;
            Shown::Sensitive
        }
        Shown::Value(Value::String(v)) => Shown::Value(environment::shown(name, &v)),
        other => other,
    };
    Change {
        old: mask(change.old),
        new: mask(change.new),
        ..change
    }
}

#[async_trait]
impl Resource for Function {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    /// Create; then wait until active.
    fn create_rounds(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        function_name(&self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        let mut deps = vec![
            "fulfillment-role",
            "fulfillment-policy-attachment",
            "directory-secret",
            table::ID,
            log_group::ID,
        ];
        match self.config.as_ref().map(|c| &c.placement) {
            Some(Placement::None) => {}
            Some(Placement::OwnedSubnets(ids)) => {
                deps.extend([LAMBDA_SG, "vpc-access-attachment"]);
                deps.extend(ids.iter().copied());
            }
            Some(Placement::Subnets(_)) => deps.extend([LAMBDA_SG, "vpc-access-attachment"]),
            // `down`: before everything it may have used.
            None => {
                deps.extend([LAMBDA_SG, "vpc-access-attachment"]);
                deps.extend(PRIVATE_SUBNETS);
            }
        }
        deps
    }

    /// Loads (or builds) the code, so the plan can compare its hash, and checks that the
    /// environment fits Lambda's limit before anything changes.
    async fn preflight(&self, cx: &Cx) -> Result<(), ResourceError> {
        let config = self.config()?;
        config.code.load(cx, ID).await?;
        let password_len = cx.secret.as_ref().map_or(64, |s| s.expose_secret().len());
        let estimate = environment::ciphertext_estimate(password_len);
        let size = environment::size(
            config
                .env
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain([(CIPHERTEXT, estimate.as_str())]),
        );
        if size > environment::LIMIT {
            let ca = config.env.get(CA_PEM).map_or(0, String::len);
            return Err(ResourceError::Stack {
                path: vec!["directory".into(), "ca_file".into()],
                message: format!(
                    "the function's environment would be about {size} bytes, over Lambda's limit of {} bytes; the CA certificates from this file take {ca} of them: keep only the certificate(s) that issue the domain controllers' certificates",
                    environment::LIMIT
                ),
            });
        }
        Ok(())
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        let Some(config) = &self.config else {
            return Props::new();
        };
        let mut props = Props::from([
            ("runtime", Prop::Known(json!(RUNTIME))),
            ("handler", Prop::Known(json!(HANDLER))),
            ("architecture", Prop::Known(json!(ARCHITECTURE))),
            ("memory_mb", Prop::Known(json!(config.memory_mb))),
            (
                "timeout_seconds",
                Prop::Known(json!(config.timeout_seconds)),
            ),
            ("role", input(inputs, "fulfillment-role.arn")),
            ("description", Prop::Known(json!(self.description()))),
            ("vpc", self.vpc(inputs)),
            (
                "code",
                config
                    .code
                    .loaded()
                    .map_or(Prop::Unknown, |z| Prop::Known(json!(z.sha256))),
            ),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
            (OTHER, Prop::Known(json!({}))),
        ]);
        for (name, field) in FIELDS {
            let prop = if *name == CIPHERTEXT {
                input(inputs, "directory-secret.ciphertext")
            } else {
                Prop::Known(config.env.get(name).map_or(Value::Null, |v| json!(v)))
            };
            props.insert(field, prop);
        }
        props
    }

    async fn diff(
        &self,
        cx: &Cx,
        live: &Live,
        inputs: &Outputs,
    ) -> Result<Vec<Change>, ResourceError> {
        let changes = diff_props(
            &self.desired(cx, inputs),
            &live.props,
            self.replace_fields(),
        );
        Ok(changes.into_iter().map(masked).collect())
    }

    fn preview(&self, cx: &Cx, inputs: &Outputs) -> Vec<Change> {
        self.desired(cx, inputs)
            .into_iter()
            .filter(|(_, p)| *p != Prop::Known(Value::Null))
            .map(|(field, prop)| {
                masked(Change {
                    field,
                    old: Shown::Absent,
                    new: match prop {
                        Prop::Known(v) => Shown::Value(v),
                        Prop::Unknown => Shown::Unknown,
                    },
                    replace: false,
                })
            })
            .collect()
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let found = tolerate(
            cx.lambda.get_function().function_name(&name).send().await,
            GONE,
        )
        .map_err(api("read", KIND, &name))?;
        let Some(found) = found else {
            return Ok(None);
        };
        let Some(c) = found.configuration() else {
            return Ok(None);
        };
        let arn = c.function_arn().unwrap_or_default().to_string();
        let tags: BTreeMap<String, String> = match found.tags() {
            Some(t) => t.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            None => cx
                .lambda
                .list_tags()
                .resource(&arn)
                .send()
                .await
                .map_err(api("read tags of", KIND, &name))?
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        };
        let env: BTreeMap<String, String> = c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let vpc = c.vpc_config().map_or(Value::Null, |v| {
            vpc_value(v.subnet_ids().to_vec(), v.security_group_ids().to_vec())
        });
        let mut props = BTreeMap::from([
            ("runtime", json!(c.runtime().map(|r| r.as_str()))),
            ("handler", json!(c.handler())),
            (
                "architecture",
                json!(c
                    .architectures()
                    .first()
                    .map_or(ARCHITECTURE, |a| a.as_str())),
            ),
            ("memory_mb", json!(c.memory_size())),
            ("timeout_seconds", json!(c.timeout())),
            ("role", json!(c.role())),
            ("description", json!(c.description().unwrap_or_default())),
            ("vpc", vpc),
            ("code", json!(c.code_sha256())),
            ("tags", tags_value(&tags)),
        ]);
        let others: serde_json::Map<String, Value> = env
            .iter()
            .filter(|(k, _)| environment::field_of(k).is_none())
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        props.insert(OTHER, Value::Object(others));
        for (name, field) in FIELDS {
            props.insert(field, env.get(*name).map_or(Value::Null, |v| json!(v)));
        }
        Ok(Some(Live {
            physical_id: name.clone(),
            props,
            outputs: Self::outputs(&arn, &name),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let config = self.config()?;
        let name = self.name();
        let zip = match config.code.loaded() {
            Some(z) => z,
            None => config.code.load(cx, ID).await?,
        };
        let env = self.environment(inputs)?;
        let vpc = self.vpc_config(inputs)?;
        let role = inputs
            .get("fulfillment-role.arn")
            .cloned()
            .ok_or_else(|| other("the function needs its role, which does not exist"))?;
        let tags: HashMap<String, String> = cx.tags_for(ID).into_iter().collect();
        let line = format!("{KIND} {name}");
        // A role made moments ago is not yet usable by Lambda (IAM is eventually consistent):
        // that one refusal is retried until --timeout; any other error stops.
        let created = wait_until(
            "IAM to let Lambda assume the new role",
            cx.timeout,
            Backoff {
                first: std::time::Duration::from_secs(1),
                ..Backoff::default()
            },
            "IAM has not propagated the role yet: run the same command again in a minute",
            |_| {
                cx.progress.begin(
                    ID,
                    &format!("{line}: waiting for IAM to propagate the new role (Lambda cannot assume it yet)"),
                )
            },
            || {
                let (env, vpc, role, tags) = (env.clone(), vpc.clone(), role.clone(), tags.clone());
                async move {
                    let result = cx
                        .lambda
                        .create_function()
                        .function_name(self.name())
                        .runtime(Runtime::Providedal2023)
                        .handler(HANDLER)
                        .architectures(Architecture::X8664)
                        .role(role)
                        .description(self.description())
                        .memory_size(config.memory_mb as i32)
                        .timeout(config.timeout_seconds as i32)
                        .code(FunctionCode::builder().zip_file(Blob::new(zip.bytes.clone())).build())
                        .environment(Environment::builder().set_variables(Some(env)).build())
                        .vpc_config(vpc)
                        .set_tags(Some(tags))
                        .send()
                        .await;
                    match result {
                        Ok(out) => Ok(Poll::Ready(Some(out.function_arn().unwrap_or_default().to_string()))),
                        Err(e) => {
                            let e = ApiError::from(e);
                            if e.is("InvalidParameterValueException") && e.message.contains(ROLE_NOT_READY) {
                                Ok(Poll::Pending("the role is not assumable yet".into()))
                            } else if e.is("ResourceConflictException") {
                                // Made since the plan (a crashed run's call finishing).
                                Ok(Poll::Ready(None))
                            } else {
                                Err(e)
                            }
                        }
                    }
                }
            },
        )
        .await?;
        let arn = match created {
            Some(arn) => arn,
            None => {
                let live = self.observe(cx).await?.ok_or_else(|| {
                    other("Lambda said the function exists, but it cannot be read")
                })?;
                if !live.owned {
                    return Err(ResourceError::NotOwned {
                        kind: KIND,
                        name,
                        stack: cx.stack.clone(),
                    });
                }
                let changes = self.diff(cx, &live, inputs).await?;
                self.update(cx, &live, &changes, inputs).await?;
                live.outputs.get("arn").cloned().unwrap_or_default()
            }
        };
        self.wait_ready(cx, "the function to become Active").await?;
        Ok(Self::outputs(&arn, &name))
    }

    /// The code and the configuration are updated separately, each only when it differs, and
    /// each waited for before the next call.
    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let changed = |f: &str| changes.iter().any(|c| c.field == f);
        if changed("code") || changed("architecture") {
            self.update_code(cx).await?;
        }
        let configuration = changes
            .iter()
            .any(|c| !matches!(c.field, "code" | "architecture" | "tags"));
        if configuration {
            self.update_configuration(cx, inputs).await?;
        }
        if changed("tags") {
            let arn = live.outputs.get("arn").cloned().unwrap_or_default();
            apply_tag_delta(
                cx,
                ID,
                live,
                (KIND, &self.name()),
                |set| async {
                    cx.lambda
                        .tag_resource()
                        .resource(&arn)
                        .set_tags(Some(set.into_iter().collect()))
                        .send()
                        .await
                        .map(drop)
                        .map_err(ApiError::from)
                },
                |remove| async {
                    cx.lambda
                        .untag_resource()
                        .resource(&arn)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map(drop)
                        .map_err(ApiError::from)
                },
            )
            .await?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .lambda
            .delete_function()
            .function_name(&live.physical_id)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("delete", KIND, &live.physical_id))?;
        Ok(())
    }
}

impl Function {
    /// The settings for a stack file with a `fulfillment` section.
    pub fn config_for(loaded: &crate::stack::Loaded) -> Option<Config> {
        let stack = &loaded.stack;
        let f = stack.fulfillment.as_ref()?;
        let d = stack.directory.as_ref()?;
        let ca_pem =
            std::fs::read_to_string(loaded.base_dir().join(&d.ca_file)).unwrap_or_default();
        let placement = match &stack.network {
            None => Placement::None,
            Some(n) if n.mode == crate::stack::NetworkMode::Existing => {
                Placement::Subnets(n.subnet_ids.clone())
            }
            Some(n) => Placement::OwnedSubnets(
                PRIVATE_SUBNETS[..n.private_subnets.len().min(PRIVATE_SUBNETS.len())].to_vec(),
            ),
        };
        let source = match &f.package {
            Some(p) => Source::File(loaded.base_dir().join(p)),
            None => Source::bundled(),
        };
        Some(Config {
            env: environment::from_stack(stack, &ca_pem),
            memory_mb: f.memory_mb,
            timeout_seconds: f.timeout_seconds,
            placement,
            code: Code::new(source),
        })
    }
}
