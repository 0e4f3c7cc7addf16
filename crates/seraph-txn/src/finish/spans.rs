//! Span events: one per kept segment, up to the span limit, the
//! instrumented and attribute-carrying ones first.

use super::segs::{pick, Seg};
use crate::attrs::dest;
use crate::recorder::{flag, SegKind, ROOT};
use crate::txn::Transaction;
use crate::{ids, json};

impl Transaction {
    pub(super) fn spans(&mut self, segs: &[Seg]) -> Vec<String> {
        if !self.should_create_span_events() {
            return Vec::new();
        }
        let chosen = pick(segs, self.cfg.span_limit(), |s| {
            (s.flags & flag::PRIORITY, s.duration())
        });
        let mut ids: Vec<Option<String>> = vec![None; segs.len()];
        let mut emitted_parent: Vec<Option<usize>> = vec![None; segs.len()];
        let mut out = Vec::with_capacity(segs.len().min(self.cfg.span_limit()));
        let shared = self.span_shared_text();
        for (k, s) in segs.iter().enumerate() {
            let nearest = s.parent.and_then(|p| {
                if ids[p].is_some() {
                    Some(p)
                } else {
                    emitted_parent[p]
                }
            });
            emitted_parent[k] = nearest;
            // A plain function segment shorter than a microsecond makes no
            // span; an instrumented one (a custom tracer, a datastore or
            // external call) always does, however short it was.
            if !chosen[k] || (s.duration() == 0 && s.flags & flag::INSTRUMENTED == 0) {
                continue;
            }
            let id = match self.rec.extra(s.node).and_then(|e| e.span_id.clone()) {
                Some(id) => id,
                None => ids::guid(&mut self.rng),
            };
            let json = self.span_json(s, &id, nearest.and_then(|p| ids[p].as_deref()), &shared);
            out.push(json);
            ids[k] = Some(id);
        }
        out
    }

    /// The members every span of the transaction shares, as JSON text
    /// written once: `traceId` and `transactionId` (followed by the `name`
    /// key), and `priority` and `sampled`.
    fn span_shared_text(&self) -> [String; 2] {
        let mut ids = String::with_capacity(96);
        ids.push_str(",\"traceId\":");
        json::push_str(&mut ids, &self.dt.trace_id);
        ids.push_str(",\"transactionId\":");
        json::push_str(&mut ids, &self.guid);
        ids.push_str(",\"name\":");
        let mut sampling = String::with_capacity(48);
        sampling.push_str(",\"priority\":");
        json::push_f64(&mut sampling, self.dt.priority);
        sampling.push_str(",\"sampled\":");
        json::push_bool(&mut sampling, self.dt.sampled);
        [ids, sampling]
    }

    /// One span event. The members every span has come first, in the
    /// agent's order, written as text with the shared parts precomputed:
    /// this runs for up to 2 000 segments per transaction.
    fn span_json(
        &self,
        s: &Seg,
        id: &str,
        parent_id: Option<&str>,
        shared: &[String; 2],
    ) -> String {
        let is_root = s.node == ROOT;
        let extra = self.rec.extra(s.node);
        let kind = extra.map(|e| &e.kind);
        let mut out = String::with_capacity(512);
        out.push_str(match kind {
            Some(SegKind::Datastore(_)) => "[{\"category\":\"datastore\"",
            Some(SegKind::External(_)) => "[{\"category\":\"http\"",
            _ => "[{\"category\":\"generic\"",
        });
        out.push_str(",\"type\":\"Span\",\"guid\":");
        json::push_str(&mut out, id);
        out.push_str(&shared[0]);
        json::push_str(&mut out, &s.name);
        out.push_str(",\"timestamp\":");
        json::push_u64(&mut out, (self.start_unix_us + s.start_us) / 1000);
        out.push_str(",\"duration\":");
        json::push_f64(&mut out, s.duration() as f64 / 1e6);
        out.push_str(&shared[1]);
        let mut o = json::Obj::resume(&mut out);
        if is_root {
            o.bool("nr.entryPoint", true);
            if let Some(i) = &self.dt.inbound {
                if let Some(v) = &i.tracing_vendors {
                    o.str("tracingVendors", v);
                }
                if let Some(t) = &i.trusted_parent_id {
                    o.str("trustedParentId", t);
                }
                if let Some(g) = &i.guid {
                    o.str("parentId", g);
                }
            }
            o.str("transaction.name", &s.name);
        } else if let Some(p) = parent_id {
            o.str("parentId", p);
        }
        match kind {
            Some(SegKind::Datastore(d)) => {
                o.str("span.kind", "client").str("component", &d.product);
            }
            Some(SegKind::External(x)) => {
                o.str("span.kind", "client").str("component", &x.library);
            }
            Some(SegKind::Message(m)) => {
                o.str("span.kind", m.action.span_kind());
            }
            _ => {}
        }
        o.end();
        out.push(',');
        match extra {
            Some(e) => e.user_attrs.write_obj(&mut out, dest::SPAN),
            None => out.push_str("{}"),
        }
        out.push(',');
        let mut a = json::Obj::begin(&mut out);
        if is_root {
            if let Some(i) = &self.dt.inbound {
                if let Some(t) = &i.parent_type {
                    a.str("parent.type", t);
                }
                if let Some(v) = &i.app {
                    a.str("parent.app", v);
                }
                if let Some(v) = &i.account {
                    a.str("parent.account", v);
                }
                a.str("parent.transportType", &i.transport);
                if i.timestamp_us != 0 {
                    a.f64("parent.transportDuration", self.transport_delay_s() as f64);
                }
            }
            self.agent_attrs.write_members(
                &mut a,
                dest::TXN_EVENT,
                &["errorType", "errorMessage", "error.class", "error.message"],
            );
        }
        for (k, v) in &s.code {
            v.write_json(a.key(k));
        }
        if let Some((class, message)) = extra.and_then(|e| e.error.as_ref()) {
            a.str("error.message", message).str("error.class", class);
        }
        match kind {
            Some(SegKind::Datastore(d)) => {
                if let Some(h) = &d.host {
                    a.str("peer.hostname", h).str("server.address", h);
                }
                let address = format!(
                    "{}:{}",
                    d.host.as_deref().unwrap_or("unknown"),
                    d.port_path_or_id.as_deref().unwrap_or("unknown")
                );
                a.str("peer.address", &address);
                if let Some(db) = &d.database_name {
                    a.str("db.instance", db);
                }
                if let Some(q) = d.sql.as_ref().or(d.sql_obfuscated.as_ref()) {
                    a.str("db.statement", q);
                }
            }
            Some(SegKind::Message(m)) => m.write_span_attrs(&mut a),
            Some(SegKind::External(x)) => {
                if !x.procedure.is_empty() {
                    a.str("http.method", &x.procedure);
                }
                a.str("http.url", &x.uri);
                // New Relic sends 0 when the status is unknown.
                a.u64("http.statusCode", x.status.unwrap_or(0).into());
            }
            _ => {}
        }
        a.end();
        out.push(']');
        out
    }
}
