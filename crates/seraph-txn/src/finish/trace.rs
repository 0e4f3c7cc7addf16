//! The transaction trace: the slowest segments as a tree of nodes with a
//! string table, the way the agent writes it.

use super::segs::{pick, Seg};
use crate::attrs::dest;
use crate::config::{Threshold, TRACE_SEGMENT_LIMIT};
use crate::json;
use crate::recorder::SegKind;
use crate::txn::Transaction;
use rustc_hash::FxHashMap;
use seraph_wire::TraceData;

impl Transaction {
    /// Whether the transaction gets a trace: the tracer is on and the
    /// collector wants traces, and it is slower than the threshold (or a
    /// synthetics transaction, whose trace is always kept).
    pub(super) fn wants_trace(&self, duration_us: u64, apdex_us: u64) -> bool {
        if !self.cfg.transaction_tracer.enabled || !self.connect.collect_traces || duration_us == 0
        {
            return false;
        }
        let threshold_us = match self.cfg.transaction_tracer.threshold {
            Threshold::ApdexF => apdex_us.saturating_mul(4),
            Threshold::Duration(ns) => ns / 1000,
        };
        duration_us >= threshold_us || self.synthetics.is_some()
    }

    pub(super) fn trace(
        &self,
        segs: &[Seg],
        duration_us: u64,
        apdex_us: u64,
        intrinsics: &str,
    ) -> Option<TraceData> {
        if !self.wants_trace(duration_us, apdex_us) {
            return None;
        }
        // The slowest segments only, when there are too many.
        let chosen = pick(segs, TRACE_SEGMENT_LIMIT, |s| (0, s.duration()));
        // Emitted (non-zero duration) segments and their trace children.
        let mut emitted_parent: Vec<Option<usize>> = vec![None; segs.len()];
        let mut emitted = vec![false; segs.len()];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); segs.len()];
        for (k, s) in segs.iter().enumerate() {
            let nearest = s.parent.and_then(|p| {
                if emitted[p] {
                    Some(p)
                } else {
                    emitted_parent[p]
                }
            });
            emitted_parent[k] = nearest;
            if chosen[k] && s.duration() > 0 {
                emitted[k] = true;
                if let Some(p) = nearest {
                    children[p].push(k);
                }
            }
        }
        let mut strings: Vec<&str> = Vec::new();
        let mut string_ix: FxHashMap<&str, usize> = FxHashMap::default();
        let mut out = String::with_capacity(256 + segs.len() * 64);
        out.push_str("[[0,{},{},[0,");
        json::push_u64(&mut out, duration_us / 1000);
        out.push_str(",\"ROOT\",{},[");
        if emitted[0] {
            // Iterative pre-order writer: (segment, next child position).
            let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
            self.open_node(&mut out, &segs[0], &mut strings, &mut string_ix);
            while let Some(top) = stack.last_mut() {
                let (k, pos) = *top;
                if pos < children[k].len() {
                    top.1 += 1;
                    if pos > 0 {
                        out.push(',');
                    }
                    let c = children[k][pos];
                    self.open_node(&mut out, &segs[c], &mut strings, &mut string_ix);
                    stack.push((c, 0));
                } else {
                    out.push_str("]]");
                    stack.pop();
                }
            }
        }
        out.push_str("]],{");
        let mut hdr = String::new();
        let mut h = json::Obj::begin(&mut hdr);
        if let Some(a) = self.agent_attrs.to_json(dest::TXN_TRACE) {
            h.raw("agentAttributes", &a);
        }
        if let Some(u) = self.user_attrs.to_json(dest::TXN_TRACE) {
            h.raw("userAttributes", &u);
        }
        h.raw("intrinsics", intrinsics);
        h.end();
        out.push_str(&hdr[1..hdr.len() - 1]);
        out.push_str("}],[");
        for (i, s) in strings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::push_str(&mut out, s);
        }
        out.push_str("]]");
        Some(TraceData {
            timestamp: self.start_unix_us as f64 / 1000.0,
            duration: duration_us as f64 / 1000.0,
            guid: self.guid.clone(),
            force_persist: false,
            data: out,
        })
    }

    /// Writes `[start_ms,end_ms,"`N",{params},[` for a trace node.
    fn open_node<'a>(
        &self,
        out: &mut String,
        s: &'a Seg,
        strings: &mut Vec<&'a str>,
        ix: &mut FxHashMap<&'a str, usize>,
    ) {
        let n = *ix.entry(&*s.name).or_insert_with(|| {
            strings.push(&*s.name);
            strings.len() - 1
        });
        let start_ms = s.start_us / 1000;
        let stop_ms = (s.stop_us / 1000).max(start_ms);
        out.push('[');
        json::push_u64(out, start_ms);
        out.push(',');
        json::push_u64(out, stop_ms);
        out.push_str(",\"`");
        json::push_u64(out, n as u64);
        out.push_str("\",");
        let mut p = json::Obj::begin(out);
        match self.rec.extra(s.node).map(|e| &e.kind) {
            Some(SegKind::Datastore(d)) => {
                if let Some(h) = &d.host {
                    p.str("host", h);
                }
                if let Some(db) = &d.database_name {
                    p.str("database_name", db);
                }
                if let Some(port) = &d.port_path_or_id {
                    p.str("port_path_or_id", port);
                }
                if let Some(bt) = &d.backtrace {
                    p.raw("backtrace", bt);
                }
                if let Some(plan) = &d.explain_plan {
                    p.raw("explain_plan", plan);
                }
                if let Some(q) = &d.sql {
                    p.str("sql", q);
                }
                if let Some(q) = &d.sql_obfuscated {
                    p.str("sql_obfuscated", q);
                }
            }
            Some(SegKind::External(x)) => {
                p.str("uri", &x.uri).str("library", &x.library);
                if !x.procedure.is_empty() {
                    p.str("procedure", &x.procedure);
                }
                if let Some(st) = x.status {
                    p.u64("status", st.into());
                }
            }
            _ => {}
        }
        p.end();
        out.push_str(",[");
    }
}
