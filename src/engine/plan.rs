//! Plans from live state (nothing is remembered between runs) and their execution.

use super::{run_dag, Change, Live, Outputs, Resource, ResourceError};
use crate::aws::Cx;
use crate::progress::Progress;
use console::style;
use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Resources reading at once while planning (a lookup, or a diff's reads): reads only, so
/// generous (the SDK's adaptive retry handles throttling); never tied to `--parallelism`, which
/// bounds only what `up` and `down` change.
const OBSERVE_CONCURRENCY: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    /// The action's name in plans and JSON: `none`, `create`, ...
    pub fn word(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
    fn sign(self) -> &'static str {
        match self {
            Action::None => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

#[derive(Debug)]
pub struct Step {
    pub id: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub action: Action,
    pub changes: Vec<Change>,
    pub live: Option<Live>,
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct Plan {
    pub stack: String,
    pub region: String,
    /// Steps in dependency order.
    pub steps: Vec<Step>,
    /// Outputs known before apply (of resources that exist and stay).
    pub outputs: Outputs,
}

impl Plan {
    pub fn pending(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::None)
    }

    fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }

    /// How many resources each action applies to.
    pub fn counts(&self) -> Value {
        json!({
            "create": self.count(Action::Create),
            "update": self.count(Action::Update),
            "replace": self.count(Action::Replace),
            "delete": self.count(Action::Delete),
            "unchanged": self.count(Action::None),
        })
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "Stack `{}` in {}:\n",
            style(&self.stack).bold(),
            self.region
        );
        let width = self.steps.iter().map(|s| s.kind.len()).max().unwrap_or(0);
        for step in &self.steps {
            let sign = step.action.sign();
            let colored = match step.action {
                Action::Create => style(sign).green(),
                Action::Update => style(sign).yellow(),
                Action::Replace | Action::Delete => style(sign).red(),
                Action::None => style(sign).dim(),
            };
            let what = if step.action == Action::None {
                "unchanged".to_string()
            } else {
                step.action.word().to_string()
            };
            out.push_str(&format!(
                "  {colored:>3} {:<width$}  {}  ({what})\n",
                step.kind, step.name
            ));
            for c in &step.changes {
                let forces = if c.replace {
                    style("  (forces replacement)").red().to_string()
                } else {
                    String::new()
                };
                if step.action == Action::Create || step.action == Action::Delete {
                    let v = if step.action == Action::Create {
                        &c.new
                    } else {
                        &c.old
                    };
                    out.push_str(&format!("        {}: {v}\n", c.field));
                } else {
                    out.push_str(&format!(
                        "        {}: {} → {}{forces}\n",
                        c.field, c.old, c.new
                    ));
                }
            }
            for note in &step.notes {
                out.push_str(&format!("        {} {note}\n", style("note:").cyan()));
            }
        }
        if self.pending() {
            out.push_str(&format!(
                "\nPlan: {} to create, {} to update, {} to replace, {} to delete.\n",
                self.count(Action::Create),
                self.count(Action::Update),
                self.count(Action::Replace),
                self.count(Action::Delete)
            ));
        } else {
            out.push_str("\nNo changes: the cloud matches the stack file.\n");
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "kind": s.kind,
                    "name": s.name,
                    "action": s.action.word(),
                    "changes": s.changes.iter().map(|c| json!({
                        "field": c.field,
                        "old": c.old.to_json(),
                        "new": c.new.to_json(),
                        "replace": c.replace,
                    })).collect::<Vec<_>>(),
                    "notes": s.notes,
                })
            })
            .collect();
        json!({
            "stack": self.stack,
            "region": self.region,
            "pending": self.pending(),
            "summary": self.counts(),
            "resources": steps,
        })
    }
}

type Resources = [Box<dyn Resource>];

fn find<'a>(resources: &'a Resources, id: &str) -> &'a dyn Resource {
    resources
        .iter()
        .find(|r| r.id() == id)
        .map(|r| r.as_ref())
        .expect("resource ids come from the same list")
}

/// The note on a plan step of a resource deleted with another (`Resource::deleted_with`).
fn goes_with(resources: &Resources, r: &dyn Resource) -> Option<String> {
    let whole = find(resources, r.deleted_with()?);
    Some(format!(
        "deleted with {} {}: nothing to delete on its own",
        whole.kind(),
        whole.name()
    ))
}

fn forward_graph(resources: &Resources) -> BTreeMap<&'static str, Vec<&'static str>> {
    resources.iter().map(|r| (r.id(), r.depends_on())).collect()
}

fn reverse_graph(resources: &Resources) -> BTreeMap<&'static str, Vec<&'static str>> {
    resources
        .iter()
        .map(|r| {
            let dependents = resources
                .iter()
                .filter(|o| o.depends_on().contains(&r.id()))
                .map(|o| o.id())
                .collect();
            (r.id(), dependents)
        })
        .collect()
}

fn namespaced<'a>(
    id: &str,
    outputs: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = (String, String)> + 'a {
    let id = id.to_string();
    outputs
        .iter()
        .map(move |(k, v)| (format!("{id}.{k}"), v.clone()))
}

/// Observes every resource, concurrently.
async fn observe_all(
    cx: &Cx,
    resources: &Resources,
) -> Result<BTreeMap<&'static str, Option<Live>>, ResourceError> {
    let found = Mutex::new(BTreeMap::new());
    let flat: BTreeMap<&'static str, Vec<&'static str>> =
        resources.iter().map(|r| (r.id(), Vec::new())).collect();
    let errors = run_dag(&flat, OBSERVE_CONCURRENCY, |id| {
        let found = &found;
        async move {
            let live = find(resources, id).observe(cx).await?;
            found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, live);
            Ok::<(), ResourceError>(())
        }
    })
    .await;
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(found.into_inner().unwrap_or_else(|p| p.into_inner())),
    }
}

/// What planning one resource gives the resources that depend on it: the outputs known before
/// apply of it and of everything it depends on (`None` when it or one of those failed).
type Known = Option<Arc<Outputs>>;

/// The plan for `up` (and `diff`): what must change for the cloud to match the stack.
///
/// Planning is a graph too: every check and every lookup starts at once (at most
/// `OBSERVE_CONCURRENCY` resources reading at a time), and each resource's diff starts as soon
/// as its own lookup, its own check and the plans of the resources it depends on are done,
/// whatever else is still running. The steps are put back in resource order at the end, and of several failures
/// the first in resource order is reported (checks before lookups), so the output is the same on
/// every run.
pub async fn plan_up(cx: &Cx, resources: &Resources) -> Result<Plan, ResourceError> {
    let reads = Semaphore::new(OBSERVE_CONCURRENCY);
    let results: Mutex<BTreeMap<&'static str, Result<Option<Step>, ResourceError>>> =
        Mutex::new(BTreeMap::new());
    // Each check once, shared: the top level drives them all from the start, and a resource's
    // own diff waits for its check (which may prepare what the diff compares: the function's
    // code is built there).
    let check_errors: Mutex<BTreeMap<&'static str, ResourceError>> = Mutex::new(BTreeMap::new());
    let mut checks: BTreeMap<&'static str, Shared<BoxFuture<'_, bool>>> = BTreeMap::new();
    for r in resources {
        let check_errors = &check_errors;
        let check = async move {
            let result = r.preflight(cx).await;
            result
                .map_err(|e| {
                    check_errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(r.id(), e)
                })
                .is_ok()
        };
        checks.insert(r.id(), check.boxed().shared());
    }
    let mut nodes: BTreeMap<&'static str, Shared<BoxFuture<'_, Known>>> = BTreeMap::new();
    for r in topological(resources) {
        let deps: Vec<Shared<BoxFuture<'_, Known>>> = r
            .depends_on()
            .iter()
            .filter_map(|d| nodes.get(d).cloned())
            .collect();
        let (reads, results) = (&reads, &results);
        let part_of = goes_with(resources, r);
        let checked = checks[r.id()].clone();
        let node = async move {
            let outcome = plan_one(cx, r, reads, deps, checked, part_of).await;
            let known = match &outcome {
                Ok(Some((_, known))) => Some(known.clone()),
                _ => None,
            };
            if let Some(outcome) = outcome.transpose() {
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(r.id(), outcome.map(|(step, _)| step));
            }
            known
        };
        nodes.insert(r.id(), node.boxed().shared());
    }
    tokio::join!(
        futures::future::join_all(checks.into_values()),
        futures::future::join_all(nodes.into_values())
    );
    let mut check_errors = check_errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = resources.iter().find_map(|r| check_errors.remove(r.id())) {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut outputs = Outputs::new();
    let mut steps = Vec::new();
    for r in resources {
        // A resource without a result waited for one that failed, which comes first.
        match results.remove(r.id()) {
            Some(Ok(Some(step))) => {
                if let (Some(l), Action::None | Action::Update) = (&step.live, step.action) {
                    outputs.extend(namespaced(
                        r.id(),
                        &stable_outputs(r.as_ref(), l, &step.changes),
                    ));
                }
                steps.push(step);
            }
            Some(Ok(None)) | None => {}
            Some(Err(e)) => return Err(e),
        }
    }
    Ok(Plan {
        stack: cx.stack.clone(),
        region: cx.region.clone(),
        steps,
        outputs,
    })
}

/// The resources, each after those it depends on (a dependency not in the list is ignored).
pub(super) fn topological(resources: &Resources) -> Vec<&dyn Resource> {
    let ids: BTreeSet<&str> = resources.iter().map(|r| r.id()).collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut order: Vec<&dyn Resource> = Vec::new();
    while order.len() < resources.len() {
        let before = order.len();
        for r in resources {
            let ready = !placed.contains(r.id())
                && r.depends_on()
                    .iter()
                    .all(|d| placed.contains(d) || !ids.contains(d));
            if ready {
                placed.insert(r.id());
                order.push(r.as_ref());
            }
        }
        assert!(order.len() > before, "the resource graph has a cycle");
    }
    order
}

/// The outputs of a live resource that stay as they are after this plan's changes.
fn stable_outputs(r: &dyn Resource, live: &Live, changes: &[Change]) -> BTreeMap<String, String> {
    let changing = r.outputs_changed_by(changes);
    live.outputs
        .iter()
        .filter(|(k, _)| !changing.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Plans one resource: looks it up at once, then, once its own check has passed and with what
/// its dependencies are known to output, compares it. Returns its step (`None` when it is neither wanted nor there) and what
/// its dependents know; `Ok(None)` when a dependency failed (that failure is reported).
async fn plan_one(
    cx: &Cx,
    r: &dyn Resource,
    reads: &Semaphore,
    deps: Vec<Shared<BoxFuture<'_, Known>>>,
    checked: Shared<BoxFuture<'_, bool>>,
    part_of: Option<String>,
) -> Result<Option<(Option<Step>, Arc<Outputs>)>, ResourceError> {
    let live = {
        let _permit = reads
            .acquire()
            .await
            .expect("the semaphore is never closed");
        match r.observe(cx).await? {
            Some(l) if l.owned && r.wanted() => Some(r.read_for_diff(cx, l).await?),
            found => found,
        }
    };
    let mut inputs = Outputs::new();
    for known in futures::future::join_all(deps).await {
        match known {
            Some(k) => inputs.extend(k.iter().map(|(k, v)| (k.clone(), v.clone()))),
            None => return Ok(None),
        }
    }
    if !checked.await {
        return Ok(None); // its check failed, which is reported first
    }
    let step = |action, changes, live, notes| Step {
        id: r.id(),
        kind: r.kind(),
        name: r.name(),
        action,
        changes,
        live,
        notes,
    };
    if !r.wanted() {
        // Removed by `up` when it is there and ours; otherwise not part of the plan.
        let planned = match live {
            Some(l) if l.owned => Some(step(
                Action::Delete,
                Vec::new(),
                Some(l),
                std::iter::once("no longer wanted by the stack file".to_string())
                    .chain(part_of)
                    .collect(),
            )),
            _ => None,
        };
        return Ok(Some((planned, Arc::new(inputs))));
    }
    let mut notes = r.notes(cx);
    let (action, changes) = match &live {
        None => (Action::Create, r.preview(cx, &inputs)),
        Some(l) if !l.owned => {
            return Err(ResourceError::NotOwned {
                kind: r.kind(),
                name: r.name(),
                stack: cx.stack.clone(),
            })
        }
        Some(l) => {
            let changes = {
                let _permit = reads
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                r.diff(cx, l, &inputs).await?
            };
            let action = if changes.is_empty() {
                Action::None
            } else if changes.iter().any(|c| c.replace) {
                Action::Replace
            } else {
                Action::Update
            };
            (action, changes)
        }
    };
    let mut known = inputs;
    if let (Some(l), Action::None | Action::Update) = (&live, action) {
        known.extend(namespaced(r.id(), &stable_outputs(r, l, &changes)));
    }
    if action == Action::Replace {
        notes.push("replaced: deleted, then created again".into());
    }
    Ok(Some((
        Some(step(action, changes, live, notes)),
        Arc::new(known),
    )))
}

/// The plan for `down`: every owned resource that exists, deleted.
pub async fn plan_down(cx: &Cx, resources: &Resources) -> Result<Plan, ResourceError> {
    let mut observed = observe_all(cx, resources).await?;
    let mut steps = Vec::new();
    for r in resources {
        let live = observed.remove(r.id()).flatten();
        let (action, notes) = match &live {
            Some(l) if l.owned => (
                Action::Delete,
                goes_with(resources, r.as_ref()).into_iter().collect(),
            ),
            Some(_) => (
                Action::None,
                vec![format!("left alone: not owned by stack `{}`", cx.stack)],
            ),
            None => (Action::None, Vec::new()),
        };
        if live.is_none() {
            continue;
        }
        steps.push(Step {
            id: r.id(),
            kind: r.kind(),
            name: r.name(),
            action,
            changes: Vec::new(),
            live,
            notes,
        });
    }
    Ok(Plan {
        stack: cx.stack.clone(),
        region: cx.region.clone(),
        steps,
        outputs: Outputs::new(),
    })
}

/// The outputs of every owned resource that exists, read from the live account (nothing is
/// changed, no preflight runs): what `resetpw outputs` prints.
pub async fn live_outputs(cx: &Cx, resources: &Resources) -> Result<Outputs, ResourceError> {
    let observed = observe_all(cx, resources).await?;
    let mut outputs = Outputs::new();
    for (id, live) in observed {
        if let Some(l) = live.filter(|l| l.owned) {
            outputs.extend(namespaced(id, &l.outputs));
        }
    }
    Ok(outputs)
}

/// What stops this run from applying the plan, from every resource with a pending action,
/// each as `kind name: reason`.
pub fn blockers(cx: &Cx, resources: &Resources, plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .filter(|s| s.action != Action::None)
        .filter_map(|s| {
            let r = find(resources, s.id);
            r.apply_blocker(cx, s.action, &s.changes, s.live.as_ref())
                .map(|why| format!("{} {}: {why}", r.kind(), r.name()))
        })
        .collect()
}

/// The blockers as one error text: `what` (e.g. "nothing was deleted"), then one line each.
pub fn blocked(what: &str, blockers: &[String]) -> String {
    format!("{what}:\n  - {}", blockers.join("\n  - "))
}

/// Applies an `up` plan in dependency order, at most `parallelism` resources at once; returns
/// all outputs.
pub async fn apply_up(
    cx: &Cx,
    resources: &Resources,
    plan: &Plan,
    progress: &dyn Progress,
    parallelism: usize,
) -> Result<Outputs, Vec<ResourceError>> {
    let outputs = Mutex::new(plan.outputs.clone());
    let touched = Mutex::new(BTreeSet::new());
    let steps: BTreeMap<&str, &Step> = plan.steps.iter().map(|s| (s.id, s)).collect();
    let errors = run_dag(&forward_graph(resources), parallelism.max(1), |id| {
        let (outputs, touched, steps) = (&outputs, &touched, &steps);
        async move {
            let r = find(resources, id);
            let Some(step) = steps.get(id).copied() else {
                // An unwanted resource that is not there: nothing to do.
                return Ok(());
            };
            let deps_touched = {
                let t = touched.lock().unwrap_or_else(|p| p.into_inner());
                r.depends_on().iter().any(|d| t.contains(d))
            };
            if step.action == Action::None && !deps_touched {
                progress.unchanged(id);
                return Ok(());
            }
            let inputs = outputs.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let line = format!("{} {}", r.kind(), r.name());
            let work = converge(cx, r, step, &inputs, progress, &line);
            let (verb, new_outputs) = reported(progress, id, &line, work).await?;
            if verb.is_some() {
                touched.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
            } else {
                progress.unchanged(id);
            }
            outputs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(namespaced(id, &new_outputs));
            Ok(())
        }
    })
    .await;
    if errors.is_empty() {
        Ok(outputs.into_inner().unwrap_or_else(|p| p.into_inner()))
    } else {
        Err(errors)
    }
}

/// Runs one resource's work and reports its outcome and elapsed time on the resource's line
/// (nothing when the work says nothing was needed).
async fn reported<T>(
    progress: &dyn Progress,
    id: &str,
    line: &str,
    work: impl std::future::Future<Output = Result<(Option<&'static str>, T), ResourceError>>,
) -> Result<(Option<&'static str>, T), ResourceError> {
    let started = Instant::now();
    let result = work.await;
    match &result {
        Ok((Some(verb), _)) => progress.end(id, &format!("{line}: {verb}"), started.elapsed()),
        Ok((None, _)) => {}
        Err(e) => progress.fail(id, &format!("{line}: {e}"), started.elapsed()),
    }
    result
}

/// Brings one resource to its desired state with the outputs known now. Returns what was done
/// (`None` when nothing was needed) and the resource's outputs.
async fn converge(
    cx: &Cx,
    r: &dyn Resource,
    step: &Step,
    inputs: &Outputs,
    progress: &dyn Progress,
    line: &str,
) -> Result<(Option<&'static str>, BTreeMap<String, String>), ResourceError> {
    if step.action == Action::Delete {
        if let Some(live) = &step.live {
            progress.begin(step.id, &format!("{line}: deleting"));
            r.delete(cx, live).await?;
        }
        return Ok((Some("deleted"), BTreeMap::new()));
    }
    let Some(live) = &step.live else {
        progress.begin(step.id, &format!("{line}: creating"));
        return Ok((Some("created"), r.create(cx, inputs).await?));
    };
    let changes = r.diff(cx, live, inputs).await?;
    if changes.is_empty() {
        return Ok((None, live.outputs.clone()));
    }
    if changes.iter().any(|c| c.replace) {
        progress.begin(
            step.id,
            &format!("{line}: replacing (deleting the old one)"),
        );
        r.delete(cx, live).await?;
        progress.begin(
            step.id,
            &format!("{line}: replacing (creating the new one)"),
        );
        return Ok((Some("replaced"), r.create(cx, inputs).await?));
    }
    progress.begin(step.id, &format!("{line}: updating"));
    let mut outputs = live.outputs.clone();
    outputs.extend(r.update(cx, live, &changes, inputs).await?);
    Ok((Some("updated"), outputs))
}

/// Applies a `down` plan: dependents first, at most `parallelism` at once. Returns the
/// `kind name` of what was deleted. A part of another resource (`Resource::deleted_with`) is
/// not deleted on its own: it is reported as deleted with that resource once that one is.
pub async fn apply_down(
    cx: &Cx,
    resources: &Resources,
    plan: &Plan,
    progress: &dyn Progress,
    parallelism: usize,
) -> Result<Vec<String>, Vec<ResourceError>> {
    let deleted = Mutex::new(Vec::new());
    let steps: BTreeMap<&str, &Step> = plan.steps.iter().map(|s| (s.id, s)).collect();
    let deleting = |id: &str| steps.get(id).is_some_and(|s| s.action == Action::Delete);
    let errors = run_dag(&reverse_graph(resources), parallelism.max(1), |id| {
        let (deleted, steps) = (&deleted, &steps);
        async move {
            let Some(step) = steps.get(id).copied() else {
                return Ok(());
            };
            if step.action != Action::Delete {
                progress.unchanged(id);
                return Ok(());
            }
            let Some(live) = &step.live else {
                return Ok(());
            };
            let r = find(resources, id);
            if r.deleted_with().is_some_and(deleting) {
                return Ok(()); // reported with the resource it is part of
            }
            let line = format!("{} {}", r.kind(), r.name());
            progress.begin(id, &format!("{line}: deleting"));
            let work = async { r.delete(cx, live).await.map(|()| (Some("deleted"), ())) };
            reported(progress, id, &line, work).await?;
            let mut done = deleted.lock().unwrap_or_else(|p| p.into_inner());
            done.push(line.clone());
            for part in resources.iter().filter(|p| p.deleted_with() == Some(id)) {
                if deleting(part.id()) {
                    let part_line = format!("{} {}", part.kind(), part.name());
                    progress.end(
                        part.id(),
                        &format!("{part_line}: deleted with {line}"),
                        std::time::Duration::ZERO,
                    );
                    done.push(format!("{part_line} (with {line})"));
                }
            }
            Ok(())
        }
    })
    .await;
    if errors.is_empty() {
        Ok(deleted.into_inner().unwrap_or_else(|p| p.into_inner()))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Prop, Props};
    use async_trait::async_trait;
    use std::sync::OnceLock;
    use std::time::Duration;

    /// A resource whose check prepares what its diff compares (as the function's check builds
    /// its code), slowly; it exists with exactly that value.
    struct PreparedByCheck(OnceLock<()>);

    #[async_trait]
    impl Resource for PreparedByCheck {
        fn id(&self) -> &'static str {
            "prepared"
        }
        fn kind(&self) -> &'static str {
            "test"
        }
        fn name(&self) -> String {
            "prepared".into()
        }
        async fn preflight(&self, _cx: &Cx) -> Result<(), ResourceError> {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = self.0.set(());
            Ok(())
        }
        fn desired(&self, _cx: &Cx, _inputs: &Outputs) -> Props {
            let code = match self.0.get() {
                Some(()) => Prop::Known(json!("sha")),
                None => Prop::Unknown,
            };
            Props::from([("code", code)])
        }
        async fn observe(&self, _cx: &Cx) -> Result<Option<Live>, ResourceError> {
            Ok(Some(Live {
                physical_id: "prepared".into(),
                props: BTreeMap::from([("code", json!("sha"))]),
                outputs: Outputs::new(),
                owned: true,
            }))
        }
        async fn create(&self, _cx: &Cx, _inputs: &Outputs) -> Result<Outputs, ResourceError> {
            Ok(Outputs::new())
        }
        async fn update(
            &self,
            _cx: &Cx,
            _live: &Live,
            _changes: &[Change],
            _inputs: &Outputs,
        ) -> Result<Outputs, ResourceError> {
            Ok(Outputs::new())
        }
        async fn delete(&self, _cx: &Cx, _live: &Live) -> Result<(), ResourceError> {
            Ok(())
        }
    }

    /// A context that makes no call (the test resource never uses its clients).
    fn offline_cx() -> Cx {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        Cx::new(
            &sdk,
            "s",
            "us-east-1",
            "123456789012",
            Duration::from_secs(5),
            Arc::new(crate::progress::Plain),
        )
    }

    #[tokio::test]
    async fn a_diff_waits_for_its_own_check_even_when_the_lookup_is_faster() {
        let resources: Vec<Box<dyn Resource>> = vec![Box::new(PreparedByCheck(OnceLock::new()))];
        let plan = plan_up(&offline_cx(), &resources).await.unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].action, Action::None, "{:?}", plan.steps[0]);
    }
}
