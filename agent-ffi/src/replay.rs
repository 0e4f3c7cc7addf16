//! Replaying the C API's segment tree into the transaction when it ends.
//!
//! `seraph_txn::Transaction` records segments as a call stack (each one
//! entered, its children recorded, then left). The C API's segments form
//! an arbitrary tree with explicit times, so they are replayed depth first,
//! children in start order, each entered at its start and left at its end
//! as a custom, datastore or external segment: the transaction then makes
//! exactly the metrics, trace nodes and spans it makes for the PHP agent.
//! Segments still running are dropped; their ended children move up to
//! the nearest ended ancestor (or the root).

use crate::segment::{SegKind, SegmentTree};
use seraph_txn::Transaction;

/// Replays every ended segment of `tree` into `txn`.
pub fn replay(tree: &SegmentTree, txn: &mut Transaction) {
    let segs = &tree.segs;
    let n = segs.len();
    let root = n;
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); n + 1];
    for (i, s) in segs.iter().enumerate() {
        if s.end_us.is_none() {
            continue;
        }
        children[effective_parent(tree, s.parent).map_or(root, |p| p as usize)].push(i as u32);
    }
    for c in &mut children {
        c.sort_by_key(|&i| (segs[i as usize].start_us, i));
    }
    // Iterative depth-first walk: a deep tree cannot overflow the stack.
    let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
    while let Some(top) = stack.last_mut() {
        let (node, next) = *top;
        if let Some(&c) = children[node].get(next) {
            top.1 += 1;
            let s = &segs[c as usize];
            txn.enter_internal(s.start_us);
            if let Some(id) = &s.span_id {
                txn.use_reserved_span_id(id.clone());
            }
            stack.push((c as usize, 0));
            continue;
        }
        stack.pop();
        if node == root {
            break;
        }
        let s = &segs[node];
        let end = s.end_us.unwrap_or(s.start_us);
        match &s.kind {
            SegKind::Custom(metric) => txn.leave_named(end, metric.clone()),
            SegKind::Datastore(call) => txn.leave_datastore(end, (**call).clone()),
            SegKind::External(call) => txn.leave_external(end, (**call).clone()),
        }
    }
}

/// The nearest ended ancestor at or above `parent` (`None`: the root).
fn effective_parent(tree: &SegmentTree, mut parent: Option<u32>) -> Option<u32> {
    // Parent links never form a cycle (set_parent refuses one); the bound
    // is a second guard.
    for _ in 0..=tree.segs.len() {
        let p = parent?;
        let s = tree.segs.get(p as usize)?;
        if s.end_us.is_some() {
            return Some(p);
        }
        parent = s.parent;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use seraph_txn::*;
    use std::sync::Arc;

    fn txn() -> Transaction {
        let connect =
            ConnectInfo::from_connect_reply(r#"{"agent_run_id":"R","collect_traces":true}"#)
                .unwrap();
        let mut ids = SeededIds::new(1);
        let mut t = Transaction::start(
            TxnKind::Cli { script: "j".into() },
            1_700_000_000_000_000,
            0,
            ClockScale::MICROS,
            Arc::new(TxnConfig {
                runtime_metrics: false,
                ..TxnConfig::default()
            }),
            Arc::new(connect),
            (true, 1.0),
            &mut ids,
        );
        t.set_name(NameSource::File, "j");
        t
    }

    fn custom(name: &str) -> SegKind {
        SegKind::Custom(format!("Custom/{name}"))
    }

    /// (total, exclusive) in µs of the scoped metric `Custom/<name>`.
    fn times(t: Transaction, end: u64, name: &str) -> Option<(u64, u64)> {
        let d = t
            .finish(end, 0, ResourceUsage::default(), &|_| None, 1)
            .unwrap();
        d.metrics
            .iter()
            .find(|m| m.scoped && m.name == format!("Custom/{name}"))
            .map(|m| {
                (
                    (m.total * 1e6).round() as u64,
                    (m.exclusive * 1e6).round() as u64,
                )
            })
    }

    #[test]
    fn out_of_order_ends_and_reparenting_keep_the_tree() {
        let mut tree = SegmentTree::default();
        let a = tree.start(custom("a"), 0).unwrap();
        let b = tree.start(custom("b"), 1_000).unwrap(); // under a
        let c = tree.start(custom("c"), 2_000).unwrap(); // under b
                                                         // a ends before its children (async work); c moves under the root.
        tree.end(a, 10_000).unwrap();
        tree.set_parent(c, None).unwrap();
        assert!(tree.set_parent(b, Some(a)).is_err(), "a has ended");
        tree.end(b, 5_000).unwrap();
        tree.set_timing(c, 20_000, 3_000).unwrap();
        tree.end(c, 99_999).unwrap();
        assert!(tree.end(c, 1).is_err(), "ended twice");
        let mut t = txn();
        replay(&tree, &mut t);
        let mut t2 = txn();
        replay(&tree, &mut t2);
        let mut t3 = txn();
        replay(&tree, &mut t3);
        assert_eq!(
            times(t, 30_000, "a"),
            Some((10_000, 6_000)),
            "b's 4 ms excluded"
        );
        assert_eq!(times(t2, 30_000, "b"), Some((4_000, 4_000)));
        assert_eq!(
            times(t3, 30_000, "c"),
            Some((3_000, 3_000)),
            "timed, at the root"
        );
    }

    #[test]
    fn cycles_are_refused_and_unended_segments_dropped() {
        let mut tree = SegmentTree::default();
        let a = tree.start(custom("a"), 0).unwrap();
        let b = tree.start(custom("b"), 1_000).unwrap();
        assert!(tree.set_parent(a, Some(b)).is_err(), "b is below a");
        assert!(tree.set_parent(a, Some(a)).is_err());
        tree.end(b, 2_000).unwrap();
        // a never ends: b is kept, under the root.
        let mut t = txn();
        replay(&tree, &mut t);
        let d = t
            .finish(3_000, 0, ResourceUsage::default(), &|_| None, 1)
            .unwrap();
        let scoped: Vec<&str> = d
            .metrics
            .iter()
            .filter(|m| m.scoped)
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(scoped, ["Custom/b"]);
    }

    #[test]
    fn a_deep_chain_replays_without_recursion() {
        let mut tree = SegmentTree::default();
        let ids: Vec<u32> = (0..50_000)
            .map(|i| tree.start(custom("deep"), i).unwrap())
            .collect();
        for (k, id) in ids.iter().enumerate().rev() {
            tree.end(*id, 100_000 + k as u64).unwrap();
        }
        let mut t = txn();
        replay(&tree, &mut t);
        let d = t
            .finish(200_000, 0, ResourceUsage::default(), &|_| None, 1)
            .unwrap();
        assert!(d.metrics.iter().any(|m| m.name == "Custom/deep"));
    }
}
