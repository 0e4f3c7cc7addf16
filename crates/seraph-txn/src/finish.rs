//! Ending a transaction: naming, the end-of-transaction metrics, and the
//! JSON of every event, error, trace and span, built the way the agent
//! builds them.

use crate::attrs::{dest, AttrValue};
use crate::config::{Threshold, TRACE_SEGMENT_LIMIT};
use crate::metrics::ApdexZone;
use crate::recorder::{self, flag, SegKind, ROOT};
use crate::rules::RuleOutcome;
use crate::txn::{caller_name, FuncNames, PathType, ResourceUsage, Transaction};
use crate::{ids, json, Ticks};
use seraph_wire::{ErrorData, TraceData, TransactionData};
use std::collections::HashMap;

/// Computes the frozen transaction name: prefix from the path type and
/// background flag, URL rules on the path, transaction rules and segment
/// terms on the full name. `None` when a rule says to ignore it.
pub(crate) fn compute_name(t: &Transaction) -> Option<String> {
    let bg = t.background;
    let prefix = match t.path_type {
        PathType::Uri => Some(if bg {
            "OtherTransaction/php/"
        } else {
            "WebTransaction/Uri/"
        }),
        PathType::StatusCode => Some(if bg {
            "OtherTransaction/StatusCode/"
        } else {
            "WebTransaction/StatusCode/"
        }),
        PathType::Action => Some(if bg {
            "OtherTransaction/Action/"
        } else {
            "WebTransaction/Action/"
        }),
        PathType::Function => Some(if bg {
            "OtherTransaction/Function/"
        } else {
            "WebTransaction/Function/"
        }),
        PathType::Custom => Some(if bg {
            "OtherTransaction/Custom/"
        } else {
            "WebTransaction/Custom/"
        }),
        PathType::Unknown => None,
    };
    let mut name = match (prefix, &t.path) {
        (Some(prefix), Some(path)) => {
            let mut path = path.clone();
            if !bg && matches!(t.path_type, PathType::Uri | PathType::Custom) {
                let slashed = if path.starts_with('/') {
                    path.clone()
                } else {
                    format!("/{path}")
                };
                match t.connect.url_rules.apply(&slashed) {
                    RuleOutcome::Ignore => return None,
                    RuleOutcome::Changed(p) => path = p,
                    RuleOutcome::Unchanged => {}
                }
            }
            let path = path.strip_prefix('/').unwrap_or(&path);
            format!("{prefix}{}", if path.is_empty() { "unknown" } else { path })
        }
        _ => if bg {
            "OtherTransaction/php/<unknown>"
        } else {
            "WebTransaction/Uri/<unknown>"
        }
        .to_owned(),
    };
    match t.connect.transaction_name_rules.apply(&name) {
        RuleOutcome::Ignore => return None,
        RuleOutcome::Changed(n) => name = n,
        RuleOutcome::Unchanged => {}
    }
    Some(t.connect.transaction_segment_terms.apply(&name))
}

/// One kept segment, flattened in pre-order.
struct Seg {
    node: u32,
    parent: Option<usize>,
    start_us: u64,
    stop_us: u64,
    exclusive_us: u64,
    name: String,
    flags: u16,
    /// Code-level metrics attributes of the span (a user function's).
    code: Vec<(&'static str, AttrValue)>,
}

impl Seg {
    fn duration(&self) -> u64 {
        self.stop_us.saturating_sub(self.start_us)
    }
}

impl Transaction {
    /// Ends the transaction at `end_ticks` and builds what is sent to the
    /// daemon. `None` if the transaction is ignored (by the API or by a
    /// naming rule). `end_unix_us` is not needed for any value (durations
    /// come from ticks) and is only checked for sanity.
    pub fn finish(
        mut self,
        end_ticks: Ticks,
        end_unix_us: u64,
        usage: ResourceUsage,
        names: &dyn FuncNames,
        pid: i32,
    ) -> Option<TransactionData> {
        if self.ignored {
            return None;
        }
        let end_ticks = self.ended_at.unwrap_or(end_ticks);
        if end_unix_us < self.start_unix_us {
            tracing::debug!("transaction ends before it starts on the wall clock");
        }
        self.rec.unwind(end_ticks);
        self.rec.close_root(end_ticks);
        let name = self.freeze_name()?;
        let mut apdex_us = self.connect.apdex_us();
        if let Some(a) = self.connect.key_transactions.get(&name) {
            apdex_us = (a * 1_000_000.0) as u64;
        }
        let duration_us = self.rel_us(end_ticks);

        // Response attributes: only web transactions report them.
        if !self.background {
            if let Some(code) = self.response_code {
                let d = dest::TRACE_ERROR_EVENT;
                self.agent_attr("httpResponseCode", AttrValue::Str(code.to_string()), d);
                self.agent_attr("response.statusCode", AttrValue::Int(code.into()), d);
                self.agent_attr("http.statusCode", AttrValue::Int(code.into()), d);
            }
            if let Some(n) = self.response_content_length {
                self.agent_attr(
                    "response.headers.contentLength",
                    AttrValue::Int(n),
                    dest::TRACE_ERROR_EVENT,
                );
            }
            if let Some(ct) = self.response_content_type.clone() {
                self.agent_attr(
                    "response.headers.contentType",
                    AttrValue::Str(ct),
                    dest::TRACE_ERROR_EVENT,
                );
            }
        }

        let segs = self.flatten(&name, names, duration_us);
        let total_time_us: u64 = segs.iter().map(|s| s.exclusive_us).sum();
        let root_exclusive_us = segs[0].exclusive_us;

        self.end_metrics(
            &name,
            duration_us,
            total_time_us,
            root_exclusive_us,
            apdex_us,
            &usage,
        );
        if let Some(e) = &self.error {
            let (class, message) = (e.class.clone(), e.message.clone());
            self.agent_attr("errorMessage", AttrValue::Str(message), dest::TXN_EVENT);
            self.agent_attr("errorType", AttrValue::Str(class), dest::TXN_EVENT);
        }

        let intrinsics = self.intrinsics(total_time_us);
        let txn_event = self.txn_event(&name, duration_us, total_time_us, apdex_us);
        let (errors, error_events) = self.errors(&name, duration_us, &intrinsics);
        let trace = self.trace(&segs, duration_us, apdex_us, &intrinsics);
        let span_events = self.spans(&segs);
        let (log_events, php_packages) = self.finish_library();

        Some(TransactionData {
            uri: self
                .request_uri
                .clone()
                .unwrap_or_else(|| "<unknown>".to_owned()),
            name,
            synthetics_resource_id: self.synthetics.as_ref().map(|s| s.resource_id.clone()),
            pid,
            txn_event,
            metrics: self.metrics.to_wire(),
            errors,
            slow_sqls: std::mem::take(&mut self.slow_sqls),
            custom_events: std::mem::take(&mut self.custom_events),
            trace,
            error_events,
            sampling_priority: self.dt.priority,
            span_events,
            log_events,
            php_packages,
            log_forwarding_labels: Some(self.log_labels_json()),
        })
    }

    /// The kept tree in pre-order, with names and exclusive times.
    fn flatten(&self, txn_name: &str, names: &dyn FuncNames, duration_us: u64) -> Vec<Seg> {
        let mut segs: Vec<Seg> = Vec::with_capacity(64);
        let mut stack: Vec<(u32, Option<usize>)> = vec![(ROOT, None)];
        let mut kids: Vec<u32> = Vec::new();
        while let Some((node, parent)) = stack.pop() {
            let n = &self.rec.nodes[node as usize];
            let (start_us, stop_us) = if node == ROOT {
                (0, duration_us)
            } else {
                (self.rel_us(n.start), self.rel_us(n.stop))
            };
            let name = if node == ROOT {
                txn_name.to_owned()
            } else if let Some(n) = self.rec.extra(node).and_then(|e| e.name.clone()) {
                n
            } else {
                format!(
                    "Custom/{}",
                    names.name(n.func).unwrap_or_else(|| "<unknown>".to_owned())
                )
            };
            let code = self.code_attributes(node, n.func, names);
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
        let mut child_ivs: Vec<Vec<(u64, u64)>> = vec![Vec::new(); segs.len()];
        for s in &segs[1..] {
            if let Some(p) = s.parent {
                child_ivs[p].push((s.start_us, s.stop_us));
            }
        }
        for (s, ivs) in segs.iter_mut().zip(child_ivs.iter_mut()) {
            s.exclusive_us = recorder::exclusive(s.start_us, s.stop_us, ivs);
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

    fn end_metrics(
        &mut self,
        name: &str,
        duration_us: u64,
        total_time_us: u64,
        root_exclusive_us: u64,
        apdex_us: u64,
        usage: &ResourceUsage,
    ) {
        let bg = self.background;
        let suffix = if bg { "allOther" } else { "allWeb" };
        let m = &mut self.metrics;
        // Rollups, made now because the background flag may have changed.
        m.duplicate("Datastore/all", &format!("Datastore/{suffix}"));
        m.duplicate("External/all", &format!("External/{suffix}"));
        m.duplicate("MessageBroker/all", &format!("MessageBroker/{suffix}"));
        for p in &self.datastore_products {
            m.duplicate(
                &format!("Datastore/{p}/all"),
                &format!("Datastore/{p}/{suffix}"),
            );
        }
        // Duration metrics.
        let (rollup, rollup_total) = if bg {
            ("OtherTransaction/all", "OtherTransactionTotalTime")
        } else {
            m.add_ex("HttpDispatcher", false, true, duration_us, 0);
            ("WebTransaction", "WebTransactionTotalTime")
        };
        m.add_ex(name, false, true, duration_us, root_exclusive_us);
        m.add_ex(rollup, false, true, duration_us, root_exclusive_us);
        let total_name = match name.split_once('/') {
            Some((first, rest)) => format!("{first}TotalTime/{rest}"),
            None => format!("{name}TotalTime"),
        };
        m.add(&total_name, false, true, total_time_us);
        m.add(rollup_total, false, true, total_time_us);
        if self.cfg.distributed_tracing_enabled {
            let caller = caller_name(self.dt.inbound.as_ref());
            m.add(
                &format!("DurationByCaller/{caller}/all"),
                false,
                true,
                duration_us,
            );
            m.add(
                &format!("DurationByCaller/{caller}/{suffix}"),
                false,
                true,
                duration_us,
            );
        }
        if !bg {
            if let Some(q) = self.queue_start_us {
                m.add(
                    "WebFrontend/QueueTime",
                    false,
                    true,
                    self.start_unix_us.saturating_sub(q),
                );
            }
        }
        if !bg && !self.ignore_apdex {
            let zone = if self.error.is_some() {
                ApdexZone::Failing
            } else {
                ApdexZone::of(duration_us, apdex_us)
            };
            m.add_apdex("Apdex", true, zone, apdex_us);
            if let Some((_, rest)) = name.split_once('/') {
                m.add_apdex(&format!("Apdex/{rest}"), false, zone, apdex_us);
            }
        }
        if self.error.is_some() {
            m.count("Errors/all");
            m.count(&format!("Errors/{suffix}"));
            if self.cfg.distributed_tracing_enabled {
                let caller = caller_name(self.dt.inbound.as_ref());
                m.count(&format!("ErrorsByCaller/{caller}/all"));
                m.count(&format!("ErrorsByCaller/{caller}/{suffix}"));
            }
            m.count(&format!("Errors/{name}"));
        }
        if !self.cfg.runtime_metrics {
            return;
        }
        // What the extension reports at request shutdown.
        m.add(
            "Supportability/execute/user/call_count",
            false,
            true,
            usage.user_call_count,
        );
        let allocated = 1 + self.rec.kept_total + self.extra_allocated;
        m.add(
            "Supportability/execute/allocated_segment_count",
            false,
            true,
            allocated,
        );
        if usage.memory_mb.is_finite() && usage.memory_mb >= 0.0 {
            m.add_ex(
                "Memory/Physical",
                false,
                true,
                (usage.memory_mb * 1_000_000.0) as u64,
                0,
            );
        }
        let cpu = usage.cpu_user_s.max(0.0) + usage.cpu_sys_s.max(0.0);
        if cpu.is_finite() {
            let cpu_us = (cpu * 1_000_000.0) as u64;
            m.add_ex("CPU/User Time", false, true, cpu_us, 0);
            let (elapsed_us, cpus) = match self.cpu_sample {
                Some((s, n)) => ((s * 1_000_000.0) as u64, u64::from(n)),
                None => (duration_us, 1),
            };
            if elapsed_us > 0 {
                let frac = (1_000_000u128 * u128::from(cpu_us))
                    / (u128::from(elapsed_us) * u128::from(cpus));
                m.add_ex("CPU/User/Utilization", false, true, frac as u64, 0);
            }
        }
        m.count(&format!(
            "Supportability/PHP/Version/{}",
            self.cfg.php_version
        ));
        m.count(&format!(
            "Supportability/PHP/AgentVersion/{}",
            self.cfg.agent_version
        ));
        let lg = &self.cfg.application_logging;
        let on = |b: bool| if b { "enabled" } else { "disabled" };
        let forwarding = lg.enabled
            && lg.forwarding_enabled
            && lg.forwarding_max_samples_stored > 0
            && !self.cfg.high_security;
        m.count(&format!(
            "Supportability/Logging/Labels/PHP/{}",
            on(forwarding && lg.labels_enabled)
        ));
        m.count(&format!(
            "Supportability/Logging/Metrics/PHP/{}",
            on(lg.enabled && lg.metrics_enabled)
        ));
        m.count(&format!(
            "Supportability/Logging/Forwarding/PHP/{}",
            on(forwarding)
        ));
        m.count(&format!(
            "Supportability/Logging/LocalDecorating/PHP/{}",
            on(lg.enabled && lg.local_decorating_enabled)
        ));
    }

    /// Appends the distributed tracing intrinsics.
    fn dt_intrinsics(&self, o: &mut json::Obj<'_>) {
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
    fn transport_delay_s(&self) -> u64 {
        let ts = self.dt.inbound.as_ref().map_or(0, |i| i.timestamp_us);
        self.start_unix_us.saturating_sub(ts) / 1_000_000
    }

    /// The intrinsics object shared by the trace and the error trace.
    fn intrinsics(&self, total_time_us: u64) -> String {
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
    fn synthetics_event_fields(&self, o: &mut json::Obj<'_>) {
        if let Some(s) = &self.synthetics {
            o.str("nr.syntheticsResourceId", &s.resource_id)
                .str("nr.syntheticsJobId", &s.job_id)
                .str("nr.syntheticsMonitorId", &s.monitor_id);
        }
    }

    fn metric_total_s(&self, name: &str) -> Option<f64> {
        self.metrics.get(name, false).map(|a| a.total as f64 / 1e6)
    }

    fn metric_count(&self, name: &str) -> Option<i64> {
        self.metrics.get(name, false).map(|a| a.count as i64)
    }

    fn txn_event(
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

    fn errors(
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

    fn trace(
        &self,
        segs: &[Seg],
        duration_us: u64,
        apdex_us: u64,
        intrinsics: &str,
    ) -> Option<TraceData> {
        if !self.cfg.transaction_tracer.enabled || !self.connect.collect_traces || duration_us == 0
        {
            return None;
        }
        let threshold_us = match self.cfg.transaction_tracer.threshold {
            Threshold::ApdexF => apdex_us.saturating_mul(4),
            Threshold::Duration(ns) => ns / 1000,
        };
        // A synthetics transaction's trace is always kept.
        if duration_us < threshold_us && self.synthetics.is_none() {
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
        let mut string_ix: HashMap<&str, usize> = HashMap::new();
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
        ix: &mut HashMap<&'a str, usize>,
    ) {
        let n = *ix.entry(s.name.as_str()).or_insert_with(|| {
            strings.push(s.name.as_str());
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

    fn spans(&mut self, segs: &[Seg]) -> Vec<String> {
        if !self.should_create_span_events() {
            return Vec::new();
        }
        let chosen = pick(segs, self.cfg.span_limit(), |s| {
            (s.flags & flag::PRIORITY, s.duration())
        });
        let mut ids: Vec<Option<String>> = vec![None; segs.len()];
        let mut emitted_parent: Vec<Option<usize>> = vec![None; segs.len()];
        let mut out = Vec::with_capacity(segs.len().min(self.cfg.span_limit()));
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
            ids[k] = Some(id);
            let parent_id = nearest.and_then(|p| ids[p].clone());
            out.push(self.span_json(
                s,
                ids[k].as_deref().unwrap_or_default(),
                parent_id.as_deref(),
            ));
        }
        out
    }

    fn span_json(&self, s: &Seg, id: &str, parent_id: Option<&str>) -> String {
        let is_root = s.node == ROOT;
        let extra = self.rec.extra(s.node);
        let kind = extra.map(|e| &e.kind);
        let mut out = String::with_capacity(512);
        out.push('[');
        let mut o = json::Obj::begin(&mut out);
        o.str(
            "category",
            match kind {
                Some(SegKind::Datastore(_)) => "datastore",
                Some(SegKind::External(_)) => "http",
                _ => "generic",
            },
        );
        o.str("type", "Span")
            .str("guid", id)
            .str("traceId", &self.dt.trace_id)
            .str("transactionId", &self.guid)
            .str("name", &s.name)
            .u64("timestamp", (self.start_unix_us + s.start_us) / 1000)
            .f64("duration", s.duration() as f64 / 1e6)
            .f64("priority", self.dt.priority)
            .bool("sampled", self.dt.sampled);
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

/// Marks the `limit` highest-keyed segments (the root always) when there
/// are more than that; otherwise all of them.
fn pick(segs: &[Seg], limit: usize, key: impl Fn(&Seg) -> (u16, u64)) -> Vec<bool> {
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
