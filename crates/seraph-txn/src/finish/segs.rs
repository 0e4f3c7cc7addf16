//! The kept segment tree flattened in pre-order, with names, exclusive
//! times and code-level attributes: what the trace and the spans are
//! written from.

use crate::attrs::{dest, AttrValue};
use crate::recorder::{self, SegKind, ROOT};
use crate::txn::{FuncNames, Transaction};
use crate::FuncKey;
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// One kept segment, flattened in pre-order.
pub(super) struct Seg {
    pub(super) node: u32,
    pub(super) parent: Option<usize>,
    pub(super) start_us: u64,
    pub(super) stop_us: u64,
    pub(super) exclusive_us: u64,
    /// Shared between the segments of one function: names are resolved
    /// once per function, not once per segment.
    pub(super) name: Rc<str>,
    pub(super) flags: u16,
    /// Code-level metrics attributes of the span (a user function's).
    pub(super) code: Vec<(&'static str, AttrValue)>,
}

impl Seg {
    pub(super) fn duration(&self) -> u64 {
        self.stop_us.saturating_sub(self.start_us)
    }
}

impl Transaction {
    /// The kept tree in pre-order, with names and exclusive times.
    /// Without `named`, segments other than the root get an empty name and
    /// no code attributes (nothing will write them).
    pub(super) fn flatten(
        &self,
        txn_name: &str,
        names: &dyn FuncNames,
        duration_us: u64,
        named: bool,
    ) -> Vec<Seg> {
        let unnamed: Rc<str> = Rc::from("");
        let mut segs: Vec<Seg> = Vec::with_capacity(self.rec.nodes.len().min(4096));
        let mut stack: Vec<(u32, Option<usize>)> = vec![(ROOT, None)];
        let mut kids: Vec<u32> = Vec::new();
        let mut by_func: FxHashMap<FuncKey, Rc<str>> = FxHashMap::default();
        while let Some((node, parent)) = stack.pop() {
            let n = &self.rec.nodes[node as usize];
            let (start_us, stop_us) = if node == ROOT {
                (0, duration_us)
            } else {
                (self.rel_us(n.start), self.rel_us(n.stop))
            };
            let name: Rc<str> = if node == ROOT {
                Rc::from(txn_name)
            } else if !named {
                unnamed.clone()
            } else if let Some(n) = self.rec.extra(node).and_then(|e| e.name.as_deref()) {
                Rc::from(n)
            } else {
                by_func
                    .entry(n.func)
                    .or_insert_with(|| {
                        let f = names.name(n.func);
                        let f = f.as_deref().unwrap_or("<unknown>");
                        let mut s = String::with_capacity(7 + f.len());
                        s.push_str("Custom/");
                        s.push_str(f);
                        Rc::from(s)
                    })
                    .clone()
            };
            let code = if named {
                self.code_attributes(node, n.func, names)
            } else {
                Vec::new()
            };
            segs.push(Seg {
                node,
                parent,
                start_us,
                stop_us,
                exclusive_us: 0,
                name,
                flags: n.flags,
                code,
            });
            let me = segs.len() - 1;
            kids.clear();
            kids.extend(self.rec.children(node));
            stack.extend(kids.iter().rev().map(|&c| (c, Some(me))));
        }
        // Each segment's children's intervals, all in one array (a vector
        // per parent was an allocation per kept segment with children).
        let n = segs.len();
        let mut first = vec![0usize; n + 1];
        for s in &segs[1..] {
            if let Some(p) = s.parent {
                first[p + 1] += 1;
            }
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut ivs = vec![(0u64, 0u64); first[n]];
        for s in &segs[1..] {
            if let Some(p) = s.parent {
                ivs[fill[p]] = (s.start_us, s.stop_us);
                fill[p] += 1;
            }
        }
        for (k, s) in segs.iter_mut().enumerate() {
            let children = &mut ivs[first[k]..first[k + 1]];
            s.exclusive_us = recorder::exclusive(s.start_us, s.stop_us, children);
        }
        segs
    }

    /// The `code.*` span attributes of a kept user-function segment, with
    /// `code_level_metrics.enabled`, as the attribute rules let them reach
    /// spans.
    fn code_attributes(
        &self,
        node: u32,
        func: crate::FuncKey,
        names: &dyn FuncNames,
    ) -> Vec<(&'static str, AttrValue)> {
        let generic = matches!(
            self.rec.extra(node).map(|e| &e.kind),
            None | Some(SegKind::Generic)
        );
        if !self.cfg.code_level_metrics_enabled || node == ROOT || func == 0 || !generic {
            return Vec::new();
        }
        let Some(loc) = names.code_location(func) else {
            return Vec::new();
        };
        loc.attributes()
            .into_iter()
            .filter(|(k, _)| {
                self.cfg.attributes.apply(k, crate::txn::CLM_DESTINATIONS) & dest::SPAN != 0
            })
            .collect()
    }
}

/// Marks the `limit` highest-keyed segments (the root always) when there
/// are more than that; otherwise all of them. Among equal keys the earlier
/// segment wins (what a stable sort by descending key chose), so ties break
/// the same way however the selection is done; a linear-time selection
/// replaces the full sort, which took most of `pick`'s time when the kept
/// set was full.
pub(super) fn pick(segs: &[Seg], limit: usize, key: impl Fn(&Seg) -> (u16, u64)) -> Vec<bool> {
    if segs.len() <= limit {
        return vec![true; segs.len()];
    }
    let mut chosen = vec![false; segs.len()];
    chosen[0] = true;
    let take = limit.saturating_sub(1);
    if take == 0 {
        return chosen;
    }
    // Descending key, then ascending position: a total order.
    let mut order: Vec<(u16, u64, usize)> = (1..segs.len())
        .map(|k| {
            let (a, b) = key(&segs[k]);
            (a, b, k)
        })
        .collect();
    let rank = |x: &(u16, u64, usize), y: &(u16, u64, usize)| {
        (y.0, y.1).cmp(&(x.0, x.1)).then(x.2.cmp(&y.2))
    };
    order.select_nth_unstable_by(take - 1, rank);
    for &(_, _, k) in &order[..take] {
        chosen[k] = true;
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(duration: u64, flags: u16) -> Seg {
        Seg {
            node: 0,
            parent: None,
            start_us: 0,
            stop_us: duration,
            exclusive_us: 0,
            name: Rc::from("s"),
            flags,
            code: Vec::new(),
        }
    }

    /// What `pick` chose before it used a selection: a stable sort.
    fn by_sort(segs: &[Seg], limit: usize, key: impl Fn(&Seg) -> (u16, u64)) -> Vec<bool> {
        if segs.len() <= limit {
            return vec![true; segs.len()];
        }
        let mut order: Vec<usize> = (1..segs.len()).collect();
        order.sort_by(|&a, &b| key(&segs[b]).cmp(&key(&segs[a])));
        let mut chosen = vec![false; segs.len()];
        chosen[0] = true;
        for &k in order.iter().take(limit.saturating_sub(1)) {
            chosen[k] = true;
        }
        chosen
    }

    #[test]
    fn selection_chooses_what_the_stable_sort_chose_ties_included() {
        let mut x = 88_172_645_463_325_252u64;
        for round in 0..200usize {
            let n = 1 + round % 60;
            let segs: Vec<Seg> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Few distinct values: many ties.
                    seg(x % 5, if x % 7 == 0 { 1 } else { 0 })
                })
                .collect();
            for limit in [0, 1, 2, 3, n / 2, n.saturating_sub(1), n] {
                let key = |s: &Seg| (s.flags, s.duration());
                assert_eq!(
                    pick(&segs, limit, key),
                    by_sort(&segs, limit, key),
                    "n {n} limit {limit}"
                );
            }
        }
    }
}
