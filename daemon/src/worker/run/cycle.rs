//! Taking due data out of the harvest: the default-data cycle (metrics
//! posted last, with their supportability metrics) and the event
//! harvests.

use super::batch::{default_batches, event_method, Batch};
use super::Run;
use seraph_collector::Method;
use seraph_harvest::{EventKind, MetricTable};
use std::time::SystemTime;

/// A default-data cycle waiting for its non-metric posts to finish.
pub(super) struct Cycle {
    pub(super) metrics: MetricTable,
    pub(super) distinct_pids: usize,
    pub(super) outstanding: usize,
}

impl Run {
    /// Takes and sends metrics, errors, slow SQL, traces and packages. A
    /// part whose previous post is still in flight, or that the collector
    /// asked to wait, stays in the harvest for the next cycle.
    pub(super) fn harvest_default(&mut self) {
        let mut others = Vec::new();
        if self.may_post(Method::ErrorData) {
            let errors = self.harvest.take_errors();
            if !errors.is_empty() {
                others.push(Batch::Errors(errors));
            }
        }
        if self.may_post(Method::SqlTraceData) {
            let sqls = self.harvest.take_slow_sqls();
            if !sqls.is_empty() {
                others.push(Batch::SlowSqls(sqls));
            }
        }
        if self.may_post(Method::TransactionSampleData) {
            let traces = self.harvest.take_traces();
            if !traces.is_empty() {
                others.push(Batch::Traces(traces));
            }
        }
        if self.may_post(Method::UpdateLoadedModules) {
            let packages = self.harvest.take_php_packages();
            if !packages.is_empty() {
                others.push(Batch::Packages(packages));
            }
        }
        // The previous metrics post has not finished (or must wait): this
        // period's metrics stay in the table (period start, pids and all)
        // for the next cycle rather than posting two at once.
        let with_metrics = self.cycle.is_none() && self.may_post(Method::MetricData);
        if with_metrics {
            let metrics = self.harvest.take_metrics(SystemTime::now());
            let (distinct_pids, _) = self.harvest.take_period_counts();
            self.cycle = Some(Cycle {
                metrics,
                distinct_pids,
                outstanding: 0,
            });
        }
        for batch in others {
            self.send(batch, with_metrics, 0);
        }
        self.maybe_send_metrics();
    }

    /// Takes and sends one event type, unless its previous post is still
    /// in flight or the collector asked to wait: the reservoir then keeps
    /// sampling until the next period.
    pub(super) fn harvest_events(&mut self, kind: EventKind) {
        if !self.may_post(event_method(kind)) {
            tracing::debug!(method = %event_method(kind), "previous post pending; harvest skipped");
            return;
        }
        for batch in self.event_batches(kind) {
            self.send(batch, false, 0);
        }
    }

    /// Takes one event type's reservoir as the posts it makes: none when
    /// the type is off or saw nothing, two halves for a large transaction
    /// reservoir with distributed tracing (§4.1), labels with log events.
    pub(super) fn event_batches(&mut self, kind: EventKind) -> Vec<Batch> {
        let reservoir = self.harvest.take_events(kind);
        if reservoir.capacity() == 0 || (reservoir.is_empty() && reservoir.seen() == 0) {
            return Vec::new();
        }
        let parts = if kind == EventKind::Transaction {
            reservoir.split_for_post(self.settings.distributed_tracing)
        } else {
            vec![reservoir]
        };
        parts
            .into_iter()
            .map(|part| {
                if kind == EventKind::Log {
                    Batch::Logs(part, self.harvest.log_labels().clone())
                } else {
                    Batch::Events(kind, part)
                }
            })
            .collect()
    }

    /// Everything the harvest holds, as the posts it makes, metrics (with
    /// the cycle's supportability metrics) last.
    pub(super) fn take_everything(&mut self) -> Vec<Batch> {
        let mut batches: Vec<Batch> = EventKind::ALL
            .into_iter()
            .flat_map(|kind| self.event_batches(kind))
            .collect();
        let data = self.harvest.take_default_data(SystemTime::now());
        let (mut metrics, distinct_pids, others) = default_batches(data);
        batches.extend(others);
        self.close_cycle(&mut metrics, distinct_pids);
        batches.push(Batch::Metrics(metrics));
        batches
    }

    /// Completes a cycle's metrics before they are posted: the
    /// supportability metrics of §4.9 and the daemon's own health.
    pub(super) fn close_cycle(&mut self, metrics: &mut MetricTable, distinct_pids: usize) {
        let s = &self.settings;
        self.tracker
            .append_cycle(metrics, distinct_pids, s.report_period, &s.limits);
        self.stats.append_metrics(metrics, &mut self.reported);
    }

    pub(super) fn maybe_send_metrics(&mut self) {
        if !self.live() {
            return;
        }
        let Some(cycle) = &self.cycle else { return };
        if cycle.outstanding > 0 || self.in_flight_by[Method::MetricData as usize] > 0 {
            return;
        }
        let Some(mut cycle) = self.cycle.take() else {
            return;
        };
        self.close_cycle(&mut cycle.metrics, cycle.distinct_pids);
        self.send(Batch::Metrics(cycle.metrics), false, 0);
    }
}
