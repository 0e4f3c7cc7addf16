//! The transaction event, the error trace and error event, and the
//! intrinsics they share with the trace.

use crate::attrs::dest;
use crate::json;
use crate::metrics::ApdexZone;
use crate::txn::Transaction;
use seraph_wire::ErrorData;

impl Transaction {
    /// Appends the distributed tracing intrinsics.
    pub(super) fn dt_intrinsics(&self, o: &mut json::Obj<'_>) {
        o.str("guid", &self.guid)
            .bool("sampled", self.dt.sampled)
            .f64("priority", self.dt.priority)
            .str("traceId", &self.dt.trace_id);
        if let Some(i) = &self.dt.inbound {
            if let Some(t) = &i.parent_type {
                o.str("parent.type", t);
            }
            if let Some(a) = &i.app {
                o.str("parent.app", a);
            }
            if let Some(a) = &i.account {
                o.str("parent.account", a);
            }
            o.str("parent.transportType", &i.transport);
            if i.timestamp_us != 0 {
                o.f64("parent.transportDuration", self.transport_delay_s() as f64);
            }
            if let Some(g) = i.guid.as_deref().filter(|g| !g.is_empty()) {
                o.str("parentSpanId", g);
            }
            if let Some(x) = i.txn_id.as_deref().filter(|x| !x.is_empty()) {
                o.str("parentId", x);
            }
        }
    }

    /// Whole seconds between the inbound payload and the transaction start.
    pub(super) fn transport_delay_s(&self) -> u64 {
        let ts = self.dt.inbound.as_ref().map_or(0, |i| i.timestamp_us);
        self.start_unix_us.saturating_sub(ts) / 1_000_000
    }

    /// The intrinsics object shared by the trace and the error trace.
    pub(super) fn intrinsics(&self, total_time_us: u64) -> String {
        let mut out = String::with_capacity(256);
        let mut o = json::Obj::begin(&mut out);
        o.f64("totalTime", total_time_us as f64 / 1e6);
        // The agent never fills these in.
        o.f64("cpu_time", 0.0)
            .f64("cpu_user_time", 0.0)
            .f64("cpu_sys_time", 0.0);
        if self.cfg.distributed_tracing_enabled {
            self.dt_intrinsics(&mut o);
        }
        if let Some(s) = &self.synthetics {
            o.str("synthetics_resource_id", &s.resource_id)
                .str("synthetics_job_id", &s.job_id)
                .str("synthetics_monitor_id", &s.monitor_id);
        }
        o.end();
        out
    }

    /// `nr.synthetics*` of a synthetics transaction's events.
    pub(super) fn synthetics_event_fields(&self, o: &mut json::Obj<'_>) {
        if let Some(s) = &self.synthetics {
            o.str("nr.syntheticsResourceId", &s.resource_id)
                .str("nr.syntheticsJobId", &s.job_id)
                .str("nr.syntheticsMonitorId", &s.monitor_id);
        }
    }

    pub(super) fn metric_total_s(&self, name: &str) -> Option<f64> {
        self.metrics.get(name, false).map(|a| a.total as f64 / 1e6)
    }

    pub(super) fn metric_count(&self, name: &str) -> Option<i64> {
        self.metrics.get(name, false).map(|a| a.count as i64)
    }

    pub(super) fn txn_event(
        &self,
        name: &str,
        duration_us: u64,
        total_time_us: u64,
        apdex_us: u64,
    ) -> Option<String> {
        if !self.cfg.analytics_events_enabled
            || !self.connect.collect_analytics_events
            || self.connect.event_limits.analytic_events == 0
        {
            return None;
        }
        let mut out = String::with_capacity(512);
        out.push('[');
        let mut o = json::Obj::begin(&mut out);
        o.str("type", "Transaction")
            .str("name", name)
            .f64("timestamp", self.start_unix_us as f64 / 1e6)
            .f64("duration", duration_us as f64 / 1e6)
            .f64("totalTime", total_time_us as f64 / 1e6);
        let is_dt = self.dt.inbound.is_some() || self.dt.created;
        if self.synthetics.is_some() && !is_dt {
            o.str("nr.guid", &self.guid);
        }
        if !self.background && !self.ignore_apdex {
            let zone = if self.error.is_some() {
                ApdexZone::Failing
            } else {
                ApdexZone::of(duration_us, apdex_us)
            };
            o.str("nr.apdexPerfZone", zone.label());
        }
        self.synthetics_event_fields(&mut o);
        if let Some(v) = self.metric_total_s("WebFrontend/QueueTime") {
            o.f64("queueDuration", v);
        }
        if let Some(v) = self.metric_total_s("External/all") {
            o.f64("externalDuration", v);
        }
        if let Some(v) = self.metric_count("External/all") {
            o.i64("externalCallCount", v);
        }
        if let Some(v) = self.metric_total_s("Datastore/all") {
            o.f64("databaseDuration", v);
        }
        if let Some(v) = self.metric_count("Datastore/all") {
            o.i64("databaseCallCount", v);
        }
        if self.cfg.distributed_tracing_enabled {
            self.dt_intrinsics(&mut o);
        }
        o.bool("error", self.error.is_some());
        o.end();
        out.push(',');
        self.user_or_empty(&mut out, dest::TXN_EVENT);
        out.push(',');
        self.agent_or_empty(&mut out, dest::TXN_EVENT);
        out.push(']');
        Some(out)
    }

    fn user_or_empty(&self, out: &mut String, d: u8) {
        self.user_attrs.write_obj(out, d);
    }

    fn agent_or_empty(&self, out: &mut String, d: u8) {
        self.agent_attrs.write_obj(out, d);
    }

    pub(super) fn errors(
        &self,
        name: &str,
        duration_us: u64,
        intrinsics: &str,
    ) -> (Vec<ErrorData>, Vec<String>) {
        let Some(e) = &self.error else {
            return (Vec::new(), Vec::new());
        };
        let mut trace = String::with_capacity(512 + e.stack_json.len() + intrinsics.len());
        trace.push('[');
        json::push_u64(&mut trace, e.when_us / 1000);
        trace.push(',');
        json::push_str(&mut trace, name);
        trace.push(',');
        json::push_str(&mut trace, &e.message);
        trace.push(',');
        json::push_str(&mut trace, &e.class);
        trace.push(',');
        let mut p = json::Obj::begin(&mut trace);
        p.raw("stack_trace", &e.stack_json);
        if let Some(a) = self.agent_attrs.to_json(dest::ERROR) {
            p.raw("agentAttributes", &a);
        }
        if let Some(u) = self.user_attrs.to_json(dest::ERROR) {
            p.raw("userAttributes", &u);
        }
        p.raw("intrinsics", intrinsics);
        if let Some(uri) = &self.request_uri {
            p.str("request_uri", uri);
        }
        p.end();
        trace.push(',');
        json::push_str(&mut trace, &self.guid);
        trace.push(']');
        let errors = vec![ErrorData {
            priority: e.priority,
            data: trace,
        }];

        let mut events = Vec::new();
        if self.cfg.error_collector.capture_events
            && self.connect.collect_error_events
            && self.connect.event_limits.error_events > 0
        {
            let mut out = String::with_capacity(512);
            out.push('[');
            let mut o = json::Obj::begin(&mut out);
            o.str("type", "TransactionError")
                .f64("timestamp", e.when_us as f64 / 1e6)
                .str("error.class", &e.class)
                .str("error.message", &e.message)
                .str("transactionName", name)
                .f64("duration", duration_us as f64 / 1e6);
            if let Some(v) = self.metric_total_s("WebFrontend/QueueTime") {
                o.f64("queueDuration", v);
            }
            if let Some(v) = self.metric_total_s("External/all") {
                o.f64("externalDuration", v);
            }
            if let Some(v) = self.metric_total_s("Datastore/all") {
                o.f64("databaseDuration", v);
            }
            if let Some(v) = self.metric_count("Datastore/all") {
                o.i64("databaseCallCount", v);
            }
            if let Some(v) = self.metric_count("External/all") {
                o.i64("externalCallCount", v);
            }
            o.str("nr.transactionGuid", &self.guid);
            self.synthetics_event_fields(&mut o);
            if self.cfg.distributed_tracing_enabled {
                self.dt_intrinsics(&mut o);
                if let Some(s) = &e.span_id {
                    o.str("spanId", s);
                }
            }
            o.end();
            out.push(',');
            self.user_or_empty(&mut out, dest::ERROR);
            out.push(',');
            self.agent_or_empty(&mut out, dest::ERROR);
            out.push(']');
            events.push(out);
        }
        (errors, events)
    }
}
