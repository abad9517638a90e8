//! The Connect instance the stack creates (`instance_alias`): identity management
//! CONNECT_MANAGED, inbound calls on, outbound off, the tags; waited for until ACTIVE. An
//! instance named by `instance_id` is not this resource: resetpw never creates, changes or
//! deletes it. Deleting an owned instance releases its phone numbers, so `down` refuses it
//! without `--release-phone-number` while it has any.

use super::{instances, tag_map, tags_of, FoundInstance, GONE};
use crate::aws::{ApiError, Cx};
use crate::engine::{Action, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::{adopt_when_owned, api, live_tags, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_connect::types::DirectoryType;
use serde_json::json;
use std::collections::BTreeMap;

pub const ID: &str = "connect-instance";
const KIND: &str = "connect-instance";

pub struct Instance {
    stack: String,
    /// `None` for `down`: the instance carrying the stack's tag, whatever its alias.
    alias: Option<String>,
}

impl Instance {
    pub fn new(stack: &str, alias: Option<&str>) -> Self {
        Instance {
            stack: stack.into(),
            alias: alias.map(str::to_string),
        }
    }

    fn outputs(i: &FoundInstance) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("id".to_string(), i.id.clone()),
            ("arn".to_string(), i.arn.clone()),
        ])
    }

    /// The claimed numbers in an instance (all of them are released with it).
    async fn numbers_in(cx: &Cx, arn: &str) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        let mut pages = cx
            .connect
            .list_phone_numbers_v2()
            .target_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for n in page?.list_phone_numbers_summary_list() {
                out.push(n.phone_number().unwrap_or_default().to_string());
            }
        }
        Ok(out)
    }

    /// CreateInstance with this client token; gives the instance id. "Already exists" adopts
    /// an instance of this alias only when it carries the stack's tag.
    async fn create_with_token(&self, cx: &Cx, token: &str) -> Result<String, ResourceError> {
        let alias = self.name();
        let result = cx
            .connect
            .create_instance()
            .identity_management_type(DirectoryType::ConnectManaged)
            .instance_alias(&alias)
            .inbound_calls_enabled(true)
            .outbound_calls_enabled(false)
            .client_token(&token[..token.len().min(500)])
            .set_tags(Some(tag_map(cx.tags_for(ID))))
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.id().unwrap_or_default().to_string()),
            Err(e) => {
                // Made since the plan (a crashed run's create): ours only with our tag.
                cx.instance_listing.forget();
                let owned = async {
                    let found = self.observe(cx).await?;
                    Ok(found.filter(|live| live.owned).map(|live| live.physical_id))
                };
                let exists = &["ResourceConflictException", "DuplicateResourceException"];
                adopt_when_owned(cx, e.into(), exists, (KIND, &alias), owned).await
            }
        }
    }

    /// Polls until the instance is gone (after DeleteInstance).
    async fn wait_deleted(&self, cx: &Cx, id: &str) -> Result<(), ResourceError> {
        let line = format!("{KIND} {}", self.name());
        wait_until(
            "the Connect instance to be deleted",
            cx.timeout,
            Backoff::default(),
            "Connect is still working on the instance: run the same command again, with a longer --timeout if needed",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || async move {
                let found = tolerate(cx.connect.describe_instance().instance_id(id).send().await, GONE)?;
                let status = found
                    .as_ref()
                    .and_then(|o| o.instance())
                    .and_then(|i| i.instance_status())
                    .map(|s| s.as_str().to_string());
                Ok::<_, ApiError>(match status {
                    None => Poll::Ready(()),
                    Some(s) => Poll::Pending(s),
                })
            },
        )
        .await?;
        Ok(())
    }

    /// Polls an instance until ACTIVE and gives it. Just after a create (`just_created`), `None`
    /// when the first poll finds no such instance (a client token that replayed an instance
    /// deleted since), and that first poll is the only read after the create; otherwise, and on
    /// later polls, an instance that is not there fails the wait ("it disappeared").
    async fn wait_active(
        &self,
        cx: &Cx,
        id: &str,
        just_created: bool,
    ) -> Result<Option<FoundInstance>, ResourceError> {
        let line = format!("{KIND} {}", self.name());
        let mut first = true;
        let found = wait_until(
            "the Connect instance to become ACTIVE",
            cx.timeout,
            Backoff::default(),
            "Connect is still working on the instance: run the same command again, with a longer --timeout if needed",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || {
                let first = std::mem::replace(&mut first, false);
                async move {
                    let found = tolerate(cx.connect.describe_instance().instance_id(id).send().await, GONE)?;
                    let Some(i) = found.as_ref().and_then(|o| o.instance()) else {
                        return Ok::<_, ApiError>(if first && just_created {
                            Poll::Ready(None)
                        } else {
                            Poll::Failed("it disappeared".into())
                        });
                    };
                    let status = i.instance_status().map_or("", |s| s.as_str()).to_string();
                    Ok(match status.as_str() {
                        "ACTIVE" => Poll::Ready(Some(FoundInstance {
                            id: i.id().unwrap_or_default().into(),
                            arn: i.arn().unwrap_or_default().into(),
                            alias: i.instance_alias().unwrap_or_default().into(),
                            status,
                        })),
                        "CREATION_FAILED" => Poll::Failed(format!(
                            "CREATION_FAILED: {} (Connect keeps a failed instance visible for 24 hours; `resetpw down --release-phone-number` removes it)",
                            i.status_reason()
                                .and_then(|r| r.message())
                                .unwrap_or("no reason given")
                        )),
                        _ => Poll::Pending(status),
                    })
                }
            },
        )
        .await?;
        Ok(found)
    }
}

#[async_trait]
impl Resource for Instance {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        self.alias
            .clone()
            .unwrap_or_else(|| format!("(tagged resetpw:stack={})", self.stack))
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        &["identity_management"]
    }
    /// ListInstances; then its tags, settings and phone numbers at once.
    fn read_rounds(&self) -> usize {
        2
    }
    /// CreateInstance; then wait until ACTIVE (its first poll also tells a replayed token).
    fn create_rounds(&self) -> usize {
        2
    }

    fn desired(&self, cx: &Cx, _inputs: &Outputs) -> Props {
        Props::from([
            ("identity_management", Prop::Known(json!("CONNECT_MANAGED"))),
            ("inbound_calls", Prop::Known(json!(true))),
            ("outbound_calls", Prop::Known(json!(false))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let all = instances(cx)
            .await
            .map_err(api("list", KIND, &self.name()))?;
        // With an alias, the first instance of that alias is the one, whatever its tags; for
        // `down`, the first (in listing order) carrying the stack's tag, all tags read at once.
        let (i, tags) = match &self.alias {
            Some(alias) => {
                let Some(i) = all.into_iter().find(|i| &i.alias == alias) else {
                    return Ok(None);
                };
                (i, None)
            }
            None => {
                let tags = futures::future::join_all(all.iter().map(|i| tags_of(cx, &i.arn))).await;
                let mut found = None;
                for (i, tags) in all.into_iter().zip(tags) {
                    let tags = tags.map_err(api("read tags of", KIND, &i.alias))?;
                    if cx.owns(&tags) {
                        found = Some((i, Some(tags)));
                        break;
                    }
                }
                let Some(found) = found else {
                    return Ok(None);
                };
                found
            }
        };
        // Its tags (unless read above), settings and numbers at once. Only an ACTIVE instance
        // holds numbers (Connect refuses to list them while one is still being created, as
        // after a run killed during the wait); `diff` then waits for it.
        let tags = async {
            match tags {
                Some(t) => Ok(t),
                None => tags_of(cx, &i.arn)
                    .await
                    .map_err(api("read tags of", KIND, &i.alias)),
            }
        };
        let described = async {
            cx.connect
                .describe_instance()
                .instance_id(&i.id)
                .send()
                .await
                .map_err(api("read", KIND, &i.alias))
        };
        let numbers = async {
            if i.status == "ACTIVE" {
                Self::numbers_in(cx, &i.arn).await.map_err(api(
                    "list the phone numbers of",
                    KIND,
                    &i.alias,
                ))
            } else {
                Ok(Vec::new())
            }
        };
        let (tags, described, numbers) = tokio::join!(tags, described, numbers);
        let (tags, described, numbers) = (tags?, described?, numbers?);
        let d = described.instance();
        Ok(Some(Live {
            physical_id: i.id.clone(),
            props: BTreeMap::from([
                (
                    "identity_management",
                    json!(d
                        .and_then(|d| d.identity_management_type())
                        .map(|t| t.as_str())),
                ),
                (
                    "inbound_calls",
                    json!(d.and_then(|d| d.inbound_calls_enabled())),
                ),
                (
                    "outbound_calls",
                    json!(d.and_then(|d| d.outbound_calls_enabled())),
                ),
                ("tags", tags_value(&tags)),
                ("status", json!(i.status)),
                ("phone_numbers", json!(numbers)),
            ]),
            outputs: Self::outputs(&i),
            owned: cx.owns(&tags),
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let alias = self.name();
        // The alias makes the client token: a retried create after a crash is the same request.
        let token = format!("resetpw-{}-{alias}", self.stack);
        let id = self.create_with_token(cx, &token).await?;
        // The flow, number and association look for it next.
        cx.instance_listing.forget();
        if let Some(found) = self.wait_active(cx, &id, true).await? {
            return Ok(Self::outputs(&found));
        }
        // The token answered with an instance an earlier `down` deleted (Connect remembers
        // tokens for a while): this is a new request, so it gets a token of its own.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let id = self
            .create_with_token(cx, &format!("{token}-{now}"))
            .await?;
        let found = self.wait_active(cx, &id, true).await?.ok_or_else(|| {
            crate::resources::other(format!(
                "Connect answered CreateInstance with instance `{id}`, which does not exist: run the same command again"
            ))
        })?;
        Ok(Self::outputs(&found))
    }

    /// An owned instance still creating (a crashed run) is waited for; tags are retagged. The
    /// other settings can't change in place and are marked for replacement.
    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        _inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        if changes.iter().any(|c| c.field == "tags") {
            let arn = live.outputs.get("arn").cloned().unwrap_or_default();
            super::retag(cx, &arn, &cx.tags_for(ID), &live_tags(live))
                .await
                .map_err(api("tag", KIND, &self.name()))?;
        }
        Ok(live.outputs.clone())
    }

    async fn diff(
        &self,
        cx: &Cx,
        live: &Live,
        inputs: &Outputs,
    ) -> Result<Vec<Change>, ResourceError> {
        if live.props.get("status") == Some(&json!("CREATION_IN_PROGRESS")) {
            self.wait_active(cx, &live.physical_id, false).await?;
            // The listing saw it creating; the flow, number and association need it ACTIVE.
            cx.instance_listing.forget();
        }
        let mut changes = crate::engine::diff_props(&self.desired(cx, inputs), &live.props, &[]);
        for c in &mut changes {
            // Inbound/outbound and identity management are fixed at creation here.
            c.replace = c.field != "tags";
        }
        Ok(changes)
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let result = cx
            .connect
            .delete_instance()
            .instance_id(&live.physical_id)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("delete", KIND, &self.name()))?;
        let waited = self.wait_deleted(cx, &live.physical_id).await;
        cx.instance_listing.forget();
        waited
    }

    fn apply_blocker(
        &self,
        cx: &Cx,
        action: Action,
        _changes: &[Change],
        live: Option<&Live>,
    ) -> Option<String> {
        if cx.release_phone_number || !matches!(action, Action::Delete | Action::Replace) {
            return None;
        }
        let numbers: Vec<String> = live?
            .props
            .get("phone_numbers")?
            .as_array()?
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        (!numbers.is_empty()).then(|| {
            format!(
                "{} it would release its phone number(s) {}, which can never be claimed again: pass --release-phone-number to do it anyway",
                if action == Action::Replace { "replacing" } else { "deleting" },
                numbers.join(", ")
            )
        })
    }
}
