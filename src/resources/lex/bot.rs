//! The bot `<stack>-resetpw`: found again by name, owned through its `resetpw:stack` tag (a
//! same-named bot without it is refused), with the bot role, the idle session TTL and data
//! privacy (not child-directed).
//!
//! The bot role is made moments before the bot, and IAM is eventually consistent: Lex can
//! refuse a role it cannot use yet. CreateBot retries that refusal alone (see
//! [`role_not_ready`]) with backoff until `--timeout`, with a progress line saying why.

use super::{bot_arn, bot_name, retag, with_bot, GONE};
use crate::aws::{ApiError, Cx};
use crate::engine::{input, Change, Live, Outputs, Prop, Props, Resource, ResourceError};
use crate::resources::iam::role;
use crate::resources::{api, live_tags, other, tags_value, tolerate};
use crate::wait::{wait_until, Backoff, Poll};
use async_trait::async_trait;
use aws_sdk_lexmodelsv2::types::DataPrivacy;
use serde_json::json;
use std::collections::BTreeMap;

pub const ID: &str = "bot";
const KIND: &str = "lex-bot";

/// Whether CreateBot's error is Lex refusing a role it cannot use yet: a
/// `ValidationException` or `AccessDeniedException` about the role. The exact wording Lex
/// gives a role created seconds ago was not found in AWS's documentation or public issues, so
/// the match is on the error code and the word "role"; a refusal of the caller's own
/// permissions ("not authorized to perform", `iam:PassRole`) is never retried, as no wait
/// fixes it.
pub fn role_not_ready(code: Option<&str>, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    matches!(code, Some("ValidationException" | "AccessDeniedException"))
        && message.contains("role")
        && !message.contains("not authorized to perform")
        && !message.contains("passrole")
}

pub struct Bot {
    stack: String,
    /// The idle session TTL; `None` when only observed and deleted (`down`).
    idle_ttl: Option<u32>,
}

impl Bot {
    pub fn new(stack: &str, idle_ttl: Option<u32>) -> Self {
        Bot {
            stack: stack.into(),
            idle_ttl,
        }
    }

    fn description(&self) -> String {
        format!(
            "resetpw stack {}: verifies callers and resets their password",
            self.stack
        )
    }

    fn outputs(cx: &Cx, id: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("id".to_string(), id.to_string()),
            ("arn".to_string(), bot_arn(cx, id)),
        ])
    }

    fn role(inputs: &Outputs) -> Result<String, ResourceError> {
        inputs
            .get(&format!("{}.arn", role::BOT_ID))
            .cloned()
            .ok_or_else(|| {
                other("the bot needs its role, which does not exist yet; run `resetpw up` again")
            })
    }

    fn ttl(&self) -> Result<i32, ResourceError> {
        self.idle_ttl
            .map(|t| t as i32)
            .ok_or_else(|| other("the bot's settings are not known (no `bot` section)"))
    }

    /// Polls until the bot is Available.
    async fn wait_available(&self, cx: &Cx, id: &str) -> Result<(), ResourceError> {
        let line = format!("{KIND} {}", self.name());
        wait_until(
            "the bot to become Available",
            cx.timeout,
            Backoff::default(),
            "Lex is still setting the bot up: run the same command again, with a longer --timeout if needed",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || async move {
                let b = cx.lex.describe_bot().bot_id(id).send().await.map_err(ApiError::from)?;
                let status = b.bot_status().map_or("unknown", |s| s.as_str()).to_string();
                Ok::<_, ApiError>(match status.as_str() {
                    "Available" => Poll::Ready(()),
                    "Failed" | "Inactive" | "Deleting" => Poll::Failed(format!(
                        "the bot is {status}{}",
                        if b.failure_reasons().is_empty() {
                            String::new()
                        } else {
                            format!(": {}", b.failure_reasons().join("; "))
                        }
                    )),
                    other => Poll::Pending(other.to_string()),
                })
            },
        )
        .await?;
        Ok(())
    }

    async fn update_bot(&self, cx: &Cx, id: &str, inputs: &Outputs) -> Result<(), ResourceError> {
        cx.lex
            .update_bot()
            .bot_id(id)
            .bot_name(self.name())
            .description(self.description())
            .role_arn(Self::role(inputs)?)
            .data_privacy(DataPrivacy::builder().child_directed(false).build())
            .idle_session_ttl_in_seconds(self.ttl()?)
            .send()
            .await
            .map_err(api("update", KIND, &self.name()))?;
        self.wait_available(cx, id).await
    }
}

#[async_trait]
impl Resource for Bot {
    fn id(&self) -> &'static str {
        ID
    }
    fn kind(&self) -> &'static str {
        KIND
    }
    fn name(&self) -> String {
        bot_name(&self.stack)
    }
    fn depends_on(&self) -> Vec<&'static str> {
        vec![role::BOT_ID]
    }
    /// ListBots; then its tags and DescribeBot at once.
    fn read_rounds(&self) -> usize {
        2
    }
    /// CreateBot; then wait until Available.
    fn create_rounds(&self) -> usize {
        2
    }

    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props {
        let Some(ttl) = self.idle_ttl else {
            return Props::new();
        };
        Props::from([
            ("role", input(inputs, &format!("{}.arn", role::BOT_ID))),
            ("idle_session_ttl_seconds", Prop::Known(json!(ttl))),
            ("child_directed", Prop::Known(json!(false))),
            ("description", Prop::Known(json!(self.description()))),
            ("tags", Prop::Known(tags_value(&cx.tags_for(ID)))),
        ])
    }

    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError> {
        let described = with_bot(cx, |id| async move {
            tolerate(cx.lex.describe_bot().bot_id(id).send().await, GONE).map_err(api(
                "read",
                KIND,
                &self.name(),
            ))
        });
        let Some((found, Some(b))) = described.await? else {
            return Ok(None);
        };
        Ok(Some(Live {
            physical_id: found.id.clone(),
            props: BTreeMap::from([
                ("role", json!(b.role_arn())),
                (
                    "idle_session_ttl_seconds",
                    json!(b.idle_session_ttl_in_seconds()),
                ),
                (
                    "child_directed",
                    json!(b.data_privacy().map(|d| d.child_directed())),
                ),
                ("description", json!(b.description().unwrap_or_default())),
                ("tags", tags_value(&found.tags)),
            ]),
            outputs: Self::outputs(cx, &found.id),
            owned: found.owned,
        }))
    }

    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let role = Self::role(inputs)?;
        let ttl = self.ttl()?;
        // What the plan learned (no bot) is out of date from here on.
        cx.bot_lookup.forget();
        let line = format!("{KIND} {}", self.name());
        // `Ok(Some(id))` when made now; `Ok(None)` when Lex says it exists (a crashed run's
        // call); `Err` for any refusal but the role's, which ends the wait at once.
        let created = wait_until(
            "IAM to let Lex use the new bot role",
            cx.timeout,
            Backoff {
                first: std::time::Duration::from_secs(1),
                ..Backoff::default()
            },
            "IAM has not propagated the bot role yet: run the same command again in a minute",
            |_| {
                cx.progress.begin(
                    ID,
                    &format!("{line}: waiting for IAM to propagate the new bot role (Lex cannot use it yet)"),
                )
            },
            || {
                let role = role.clone();
                async move {
                    let result = cx
                        .lex
                        .create_bot()
                        .bot_name(self.name())
                        .description(self.description())
                        .role_arn(role)
                        .data_privacy(DataPrivacy::builder().child_directed(false).build())
                        .idle_session_ttl_in_seconds(ttl)
                        .set_bot_tags(Some(cx.tags_for(ID).into_iter().collect()))
                        .send()
                        .await;
                    Ok::<_, ApiError>(match result {
                        Ok(out) => Poll::Ready(Ok(Some(out.bot_id().unwrap_or_default().to_string()))),
                        Err(e) => {
                            let e = ApiError::from(e);
                            if role_not_ready(e.code.as_deref(), &e.message) {
                                Poll::Pending("Lex cannot use the role yet".into())
                            } else if e.is("ConflictException") {
                                Poll::Ready(Ok(None))
                            } else {
                                Poll::Ready(Err(e))
                            }
                        }
                    })
                }
            },
        )
        .await?;
        let id = match created {
            Ok(Some(id)) => id,
            Err(source) => {
                return Err(ResourceError::Api {
                    verb: "create",
                    kind: KIND,
                    name: self.name(),
                    source,
                })
            }
            Ok(None) => {
                // Made since the plan (a crashed run's call finishing): adopt it when ours.
                let live = self
                    .observe(cx)
                    .await?
                    .ok_or_else(|| other("Lex said the bot exists, but it cannot be found"))?;
                if !live.owned {
                    return Err(ResourceError::NotOwned {
                        kind: KIND,
                        name: self.name(),
                        stack: cx.stack.clone(),
                    });
                }
                let changes = self.diff(cx, &live, inputs).await?;
                if !changes.is_empty() {
                    self.update(cx, &live, &changes, inputs).await?;
                }
                live.physical_id
            }
        };
        self.wait_available(cx, &id).await?;
        Ok(Self::outputs(cx, &id))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let id = &live.physical_id;
        cx.bot_lookup.forget();
        if changes.iter().any(|c| c.field != "tags") {
            self.update_bot(cx, id, inputs).await?;
        }
        if changes.iter().any(|c| c.field == "tags") {
            retag(cx, &bot_arn(cx, id), &cx.tags_for(ID), &live_tags(live))
                .await
                .map_err(api("tag", KIND, &self.name()))?;
        }
        Ok(live.outputs.clone())
    }

    /// Deletes the bot with everything in it (locales, slot types, intents, slots, versions,
    /// aliases) and waits until it is gone, so its role can go next.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError> {
        let id = live.physical_id.clone();
        cx.bot_lookup.forget();
        let result = cx
            .lex
            .delete_bot()
            .bot_id(&id)
            .skip_resource_in_use_check(true)
            .send()
            .await;
        tolerate(result, GONE).map_err(api("delete", KIND, &self.name()))?;
        let line = format!("{KIND} {}", self.name());
        wait_until(
            "the bot to be deleted",
            cx.timeout,
            Backoff::default(),
            "Lex is still deleting the bot: run `resetpw down` again",
            |state| cx.progress.begin(ID, &format!("{line}: waiting ({state})")),
            || {
                let id = id.clone();
                async move {
                    let b = tolerate(cx.lex.describe_bot().bot_id(&id).send().await, GONE)?;
                    Ok::<_, ApiError>(match b {
                        None => Poll::Ready(()),
                        Some(b) => Poll::Pending(
                            b.bot_status().map_or("unknown", |s| s.as_str()).to_string(),
                        ),
                    })
                }
            },
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_role_is_waited_out() {
        assert!(role_not_ready(
            Some("ValidationException"),
            "Lex could not assume the role arn:aws:iam::1:role/s-bot"
        ));
        assert!(role_not_ready(
            Some("AccessDeniedException"),
            "Access denied for the Role arn:aws:iam::1:role/s-bot"
        ));
        // The caller's own permissions: no wait fixes them.
        assert!(!role_not_ready(
            Some("AccessDeniedException"),
            "User: arn:aws:sts::1:assumed-role/admin/me is not authorized to perform: lex:CreateBot"
        ));
        assert!(!role_not_ready(
            Some("AccessDeniedException"),
            "User is not allowed to perform iam:PassRole on the role"
        ));
        // Other refusals, or other codes, stop at once.
        assert!(!role_not_ready(
            Some("ValidationException"),
            "idleSessionTTLInSeconds must be at least 60"
        ));
        assert!(!role_not_ready(Some("ConflictException"), "role in use"));
        assert!(!role_not_ready(None, "role"));
    }
}
