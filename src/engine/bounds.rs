//! The fewest latency rounds a plan or a cold `up` can take, derived from the resource graph and
//! each kind's own count of dependent calls: what the `rounds` benchmark compares against.

use super::plan::topological;
use super::Resource;
use std::collections::BTreeMap;

/// Rounds every plan starts with: the account id (STS), which the lookups and checks need.
const IDENTITY_ROUNDS: usize = 1;
/// Rounds of a plan where nothing exists yet: every lookup answers "not there" at once.
const COLD_PLAN_ROUNDS: usize = IDENTITY_ROUNDS + 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// A cold `up`: the cold plan, then the longest chain of dependent creates.
    pub cold_up: usize,
    /// A no-op `diff` or `up`: the identity, then the slowest resource's lookup and diff.
    pub noop_plan: usize,
    /// The chain that sets `cold_up`: each resource id with its create's rounds.
    pub chain: Chain,
}

/// Resource ids, each with its create's rounds.
pub type Chain = Vec<(&'static str, usize)>;

pub fn bounds(resources: &[Box<dyn Resource>]) -> Bounds {
    let mut longest: BTreeMap<&'static str, (usize, Chain)> = BTreeMap::new();
    for r in topological(resources) {
        let (rounds, mut chain) = r
            .depends_on()
            .iter()
            .filter_map(|d| longest.get(d))
            .max_by_key(|(rounds, _)| *rounds)
            .cloned()
            .unwrap_or_default();
        chain.push((r.id(), r.create_rounds()));
        longest.insert(r.id(), (rounds + r.create_rounds(), chain));
    }
    let (creates, chain) = longest
        .into_values()
        .max_by_key(|(rounds, _)| *rounds)
        .unwrap_or_default();
    Bounds {
        cold_up: COLD_PLAN_ROUNDS + creates,
        noop_plan: IDENTITY_ROUNDS + resources.iter().map(|r| r.read_rounds()).max().unwrap_or(0),
        chain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Cx;
    use crate::engine::{Change, Live, Outputs, Props, ResourceError};
    use async_trait::async_trait;

    /// A resource that only has a place in the graph and its round counts.
    struct Node(&'static str, Vec<&'static str>, usize, usize);

    #[async_trait]
    impl Resource for Node {
        fn id(&self) -> &'static str {
            self.0
        }
        fn kind(&self) -> &'static str {
            "test"
        }
        fn name(&self) -> String {
            self.0.into()
        }
        fn depends_on(&self) -> Vec<&'static str> {
            self.1.clone()
        }
        fn create_rounds(&self) -> usize {
            self.2
        }
        fn read_rounds(&self) -> usize {
            self.3
        }
        fn desired(&self, _cx: &Cx, _inputs: &Outputs) -> Props {
            Props::new()
        }
        async fn observe(&self, _cx: &Cx) -> Result<Option<Live>, ResourceError> {
            Ok(None)
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

    #[test]
    fn the_cold_bound_follows_the_heaviest_chain_not_the_longest_list() {
        // a(2) → b(2) → c(1) weighs 5; a(2) → d(4) weighs 6; e stands alone with 3.
        let resources: Vec<Box<dyn Resource>> = vec![
            Box::new(Node("c", vec!["b"], 1, 1)),
            Box::new(Node("a", vec![], 2, 2)),
            Box::new(Node("b", vec!["a", "missing"], 2, 1)),
            Box::new(Node("d", vec!["a"], 4, 1)),
            Box::new(Node("e", vec![], 3, 1)),
        ];
        let b = bounds(&resources);
        assert_eq!(b.chain, vec![("a", 2), ("d", 4)]);
        assert_eq!(b.cold_up, COLD_PLAN_ROUNDS + 6);
        assert_eq!(b.noop_plan, IDENTITY_ROUNDS + 2);
    }
}
