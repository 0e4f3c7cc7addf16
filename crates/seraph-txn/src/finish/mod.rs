//! Ending a transaction: naming, the end-of-transaction metrics, and the
//! JSON of every event, error, trace and span, built the way the agent
//! builds them. One concern per file: the name ([`name`]), the kept
//! segments flattened ([`segs`]), the metrics ([`metrics`]), the
//! transaction and error events ([`events`]), the transaction trace
//! ([`trace`]) and the span events ([`spans`]).

mod events;
mod metrics;
mod name;
mod segs;
mod spans;
mod trace;

pub(crate) use name::compute_name;

use crate::attrs::{dest, AttrValue};
use crate::txn::{FuncNames, ResourceUsage, Transaction};
use crate::Ticks;
use seraph_wire::TransactionData;

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

        // Names (and code attributes) are only written into span events
        // and the trace; most transactions have neither (not sampled, not
        // slow), so they are not resolved for nothing.
        let named = self.should_create_span_events() || self.wants_trace(duration_us, apdex_us);
        let segs = self.flatten(&name, names, duration_us, named);
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
}
