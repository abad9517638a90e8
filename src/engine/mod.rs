//! The reconcile engine: one resource abstraction (identity, dependencies, observe, diff, create,
//! update, delete), plans computed from live state only, and dependency-ordered execution.

mod bounds;
mod dag;
mod plan;

pub use bounds::{bounds, Bounds};
pub use dag::run_dag;
pub use plan::{
    apply_down, apply_up, blocked, blockers, live_outputs, plan_down, plan_up, Action, Plan, Step,
};

use crate::aws::{ApiError, Cx};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Outputs of all resources, keyed `<resource id>.<output>`, e.g. `directory-key.arn`.
pub type Outputs = BTreeMap<String, String>;

/// Outputs that flow to dependents but are never printed (the directory secret's ciphertext).
pub const SENSITIVE_OUTPUTS: &[&str] = &["directory-secret.ciphertext"];

/// The outputs fit to print: all but the sensitive ones.
pub fn printable(outputs: &Outputs) -> impl Iterator<Item = (&String, &String)> {
    outputs
        .iter()
        .filter(|(k, _)| !SENSITIVE_OUTPUTS.contains(&k.as_str()))
}

/// A desired property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Known(Value),
    /// Depends on an output that exists only after apply.
    Unknown,
}

/// Desired properties of a resource, by field name.
pub type Props = BTreeMap<&'static str, Prop>;

/// What was found in the cloud.
#[derive(Debug, Clone)]
pub struct Live {
    /// The id AWS knows it by (key id, role name, ...).
    pub physical_id: String,
    /// The diffable fields, in the same shape as `desired` produces them.
    pub props: BTreeMap<&'static str, Value>,
    /// Outputs for dependents, keyed by output name (without the resource id).
    pub outputs: BTreeMap<String, String>,
    /// Whether this stack owns it (ownership tags, or belonging to an owned resource).
    pub owned: bool,
}

/// How a field value is shown in a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Value(Value),
    Absent,
    Unknown,
    Sensitive,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Value(Value::String(s)) => write!(f, "{s:?}"),
            Shown::Value(v) => write!(f, "{v}"),
            Shown::Absent => f.write_str("(none)"),
            Shown::Unknown => f.write_str("(known after apply)"),
            Shown::Sensitive => f.write_str("(sensitive)"),
        }
    }
}

impl Shown {
    pub fn to_json(&self) -> Value {
        match self {
            Shown::Value(v) => v.clone(),
            Shown::Absent => Value::Null,
            Shown::Unknown => Value::String("(known after apply)".into()),
            Shown::Sensitive => Value::String("(sensitive)".into()),
        }
    }
}

/// One field that differs between desired and live.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field: &'static str,
    pub old: Shown,
    pub new: Shown,
    /// The change can't be made in place: the resource is deleted and created again.
    pub replace: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error("{verb} {kind} `{name}` failed: {source}")]
    Api {
        verb: &'static str,
        kind: &'static str,
        name: String,
        source: ApiError,
    },
    #[error("{kind} `{name}` exists but is not owned by stack `{stack}` (no matching `resetpw:stack` tag): resetpw will not adopt or change it; delete or rename it, or choose another stack name")]
    NotOwned {
        kind: &'static str,
        name: String,
        stack: String,
    },
    /// A value of the stack file that the account shows to be wrong (a VPC that does not
    /// exist, a zone not in the region): reported at that key's line and column.
    #[error("{}: {message}", path.join("."))]
    Stack { path: Vec<String>, message: String },
    #[error("{0}")]
    Wait(#[from] crate::wait::WaitError),
    #[error("{0}")]
    Other(String),
}

/// One kind of AWS resource, managed with the same verbs everywhere.
#[async_trait]
pub trait Resource: Send + Sync {
    /// Logical id, unique in a stack: `directory-key`.
    fn id(&self) -> &'static str;
    /// Resource kind for people: `kms-key`.
    fn kind(&self) -> &'static str;
    /// Physical name, deterministic from the stack name.
    fn name(&self) -> String;
    /// Logical ids this resource needs outputs from.
    fn depends_on(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// Whether the stack file wants this resource. One it no longer wants (an AWS-managed
    /// policy the stack stopped attaching, say) is still observed by `up`, and deleted when it
    /// exists and is owned; when absent it does not appear in the plan.
    fn wanted(&self) -> bool {
        true
    }
    /// The resource this one is a part of, whose deletion removes it too (a Lex bot's DRAFT
    /// definition and build go with the bot): `down` deletes nothing of its own for it and
    /// reports it as deleted with that resource, after that one is gone.
    fn deleted_with(&self) -> Option<&'static str> {
        None
    }
    /// Outputs an update with these changes gives new values (a re-encrypted secret's
    /// ciphertext): dependents see them as unknown in the plan, and the new values after it.
    fn outputs_changed_by(&self, _changes: &[Change]) -> Vec<&'static str> {
        Vec::new()
    }
    /// Fields whose change needs a replacement.
    fn replace_fields(&self) -> &'static [&'static str] {
        &[]
    }
    /// Checks against the live account that must pass before anything changes (the VPC
    /// exists, the zones exist, ...). Runs at the start of every `up` and `diff` plan.
    async fn preflight(&self, _cx: &Cx) -> Result<(), ResourceError> {
        Ok(())
    }
    /// Reads the diff needs beyond the lookup that need no inputs (the secret's decrypt): run by
    /// the `up` and `diff` plans right after the lookup finds it, without waiting for the
    /// resources it depends on. Whatever they find goes into `live.props` for `diff`.
    async fn read_for_diff(&self, _cx: &Cx, live: Live) -> Result<Live, ResourceError> {
        Ok(live)
    }
    /// The fewest dependent calls (rounds) its lookup, `read_for_diff` and diff make when it
    /// exists: its weight in the no-op plan's bound (see `engine::bounds`).
    fn read_rounds(&self) -> usize {
        1
    }
    /// The fewest dependent calls (rounds) its create makes, a wait counting its first poll: its
    /// weight in the cold `up`'s bound (see `engine::bounds`).
    fn create_rounds(&self) -> usize {
        1
    }
    /// Desired fields; `Prop::Unknown` where an input is not known yet.
    fn desired(&self, cx: &Cx, inputs: &Outputs) -> Props;
    /// The live resource, or `None` when it does not exist.
    async fn observe(&self, cx: &Cx) -> Result<Option<Live>, ResourceError>;
    /// Differences between desired and live.
    async fn diff(
        &self,
        cx: &Cx,
        live: &Live,
        inputs: &Outputs,
    ) -> Result<Vec<Change>, ResourceError> {
        Ok(diff_props(
            &self.desired(cx, inputs),
            &live.props,
            self.replace_fields(),
        ))
    }
    /// Creates it; returns its outputs.
    async fn create(
        &self,
        cx: &Cx,
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError>;
    /// Brings it to the desired state in place; returns its outputs.
    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        changes: &[Change],
        inputs: &Outputs,
    ) -> Result<BTreeMap<String, String>, ResourceError>;
    /// Deletes it; "already gone" is success.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), ResourceError>;
    /// Why this run cannot apply the planned action (e.g. a value it was not given, or a
    /// deletion that needs the operator's explicit flag), checked for every step of `up` and
    /// `down` before anything changes; `None` when it can.
    fn apply_blocker(
        &self,
        _cx: &Cx,
        _action: Action,
        _changes: &[Change],
        _live: Option<&Live>,
    ) -> Option<String> {
        None
    }
    /// Remarks for the plan (e.g. a value that could not be compared).
    fn notes(&self, _cx: &Cx) -> Vec<String> {
        Vec::new()
    }
    /// Fields to show when it is created.
    fn preview(&self, cx: &Cx, inputs: &Outputs) -> Vec<Change> {
        self.desired(cx, inputs)
            .into_iter()
            .map(|(field, prop)| Change {
                field,
                old: Shown::Absent,
                new: match prop {
                    Prop::Known(v) => Shown::Value(v),
                    Prop::Unknown => Shown::Unknown,
                },
                replace: false,
            })
            .collect()
    }
}

/// Field-by-field comparison of desired and live properties.
pub fn diff_props(
    desired: &Props,
    live: &BTreeMap<&'static str, Value>,
    replace_fields: &[&str],
) -> Vec<Change> {
    desired
        .iter()
        .filter_map(|(field, prop)| {
            let old = live.get(field);
            let new = match prop {
                Prop::Known(v) if old == Some(v) => return None,
                Prop::Known(v) => Shown::Value(v.clone()),
                Prop::Unknown => Shown::Unknown,
            };
            Some(Change {
                field,
                old: old.map_or(Shown::Absent, |v| Shown::Value(v.clone())),
                new,
                replace: replace_fields.contains(field),
            })
        })
        .collect()
}

/// The value of input `key` as a `Prop`: unknown until its resource exists.
pub fn input(inputs: &Outputs, key: &str) -> Prop {
    inputs
        .get(key)
        .map_or(Prop::Unknown, |v| Prop::Known(Value::String(v.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_reports_only_differences_and_marks_replacements() {
        let mut desired = Props::new();
        desired.insert("a", Prop::Known(json!("x")));
        desired.insert("b", Prop::Known(json!({"k": 1})));
        desired.insert("c", Prop::Unknown);
        let mut live = BTreeMap::new();
        live.insert("a", json!("x"));
        live.insert("b", json!({"k": 2}));
        let changes = diff_props(&desired, &live, &["b"]);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].field, "b");
        assert!(changes[0].replace);
        assert_eq!(changes[1].new, Shown::Unknown);
        assert_eq!(changes[1].old, Shown::Absent);
    }
}
