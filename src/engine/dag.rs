//! Running work over a dependency graph: each node starts once all nodes it waits for have
//! finished, with at most `limit` running at once. After a failure nothing new starts; what is
//! running finishes, and every error is returned.

use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

pub async fn run_dag<F, Fut, E>(
    waits_for: &BTreeMap<&'static str, Vec<&'static str>>,
    limit: usize,
    mut work: F,
) -> Vec<E>
where
    F: FnMut(&'static str) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut pending: BTreeSet<&'static str> = waits_for.keys().copied().collect();
    let mut done: BTreeSet<&'static str> = BTreeSet::new();
    let mut running = FuturesUnordered::new();
    let mut errors = Vec::new();
    loop {
        if errors.is_empty() {
            let ready: Vec<&'static str> = pending
                .iter()
                .copied()
                .filter(|id| {
                    waits_for[id]
                        .iter()
                        .all(|d| done.contains(d) || !waits_for.contains_key(d))
                })
                .take(limit.saturating_sub(running.len()))
                .collect();
            for id in ready {
                pending.remove(id);
                let fut = work(id);
                running.push(async move { (id, fut.await) });
            }
        }
        match running.next().await {
            Some((id, Ok(()))) => {
                done.insert(id);
            }
            Some((_, Err(e))) => errors.push(e),
            None => break,
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn runs_in_dependency_order_and_stops_after_failure() {
        let mut graph = BTreeMap::new();
        graph.insert("a", vec![]);
        graph.insert("b", vec!["a"]);
        graph.insert("c", vec!["b"]);
        graph.insert("d", vec![]);
        let order = Arc::new(Mutex::new(Vec::new()));
        let o = order.clone();
        let errors = run_dag(&graph, 2, move |id| {
            let o = o.clone();
            async move {
                o.lock().unwrap().push(id);
                if id == "b" {
                    Err("b failed")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(errors, vec!["b failed"]);
        let order = order.lock().unwrap();
        assert!(!order.contains(&"c"), "c depends on the failed b");
        let pos = |x| order.iter().position(|i| *i == x).unwrap();
        assert!(pos("a") < pos("b"));
    }
}
