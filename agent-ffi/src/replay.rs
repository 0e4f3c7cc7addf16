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
