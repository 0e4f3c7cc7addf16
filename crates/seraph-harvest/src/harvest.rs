//! One application run's accumulated data and the per-transaction merge
//! (protocol.md §4.3–§4.7, §4.9 per-transaction metrics).

use std::collections::HashSet;
use std::time::SystemTime;

use seraph_wire::fb;

use crate::errors::ErrorTraces;
use crate::labels::LogLabels;
use crate::limits::HarvestLimits;
use crate::metrics::{MetricTable, MetricValues};
use crate::packages::{PhpPackage, PhpPackages};
use crate::reservoir::{EventKind, EventReservoir};
use crate::slow_sql::{SlowSqlObservation, SlowSqls};
use crate::traces::{TraceObservation, Traces};

/// Synthetics transaction events get this much extra priority so they
/// always win sampling.
const SYNTHETICS_PRIORITY_BOOST: f64 = 2.0;

/// Everything posted every 60 s as "default data": metrics, error traces,
/// slow SQL, transaction traces and new PHP packages.
#[derive(Debug, Clone)]
pub struct DefaultData {
    /// The period's metrics (period start inside).
    pub metrics: MetricTable,
    /// Error traces (`error_data`).
    pub errors: ErrorTraces,
    /// Slow SQL (`sql_trace_data`).
    pub slow_sqls: SlowSqls,
    /// Transaction traces (`transaction_sample_data`).
    pub traces: Traces,
    /// Packages not sent before in this run (`update_loaded_modules`);
    /// already marked as sent.
    pub php_packages: Vec<PhpPackage>,
    /// Distinct agent PIDs seen in the period (`Instance/Reporting`).
    pub distinct_pids: usize,
    /// Transactions merged in the period.
    pub transactions: u64,
}

/// The accumulated data of one connected application run.
///
/// The daemon owns one per run id: it merges every `Transaction` into it,
/// takes parts out at each harvest tick (swapping in empty ones), and merges
/// a part back when its post failed with a retryable status.
#[derive(Debug, Clone)]
pub struct Harvest {
    limits: HarvestLimits,
    metrics: MetricTable,
    errors: ErrorTraces,
    slow_sqls: SlowSqls,
    traces: Traces,
    events: [EventReservoir; 5],
    php_packages: PhpPackages,
    log_labels: LogLabels,
    pids: HashSet<i32>,
    transactions: u64,
}

impl Harvest {
    /// An empty harvest whose metric period starts at `now`.
    pub fn new(limits: HarvestLimits, now: SystemTime) -> Self {
        Harvest {
            limits,
            metrics: MetricTable::new(limits.metrics, now),
            errors: ErrorTraces::new(limits.error_traces),
            slow_sqls: SlowSqls::new(limits.slow_sqls),
            traces: Self::new_traces(&limits),
            events: EventKind::ALL.map(|k| EventReservoir::new(Self::event_limit(&limits, k))),
            php_packages: PhpPackages::new(),
            log_labels: LogLabels::new(),
            pids: HashSet::new(),
            transactions: 0,
        }
    }

    fn new_traces(limits: &HarvestLimits) -> Traces {
        Traces::new(
            limits.regular_traces,
            limits.force_persist_traces,
            limits.synthetics_traces,
        )
    }

    fn event_limit(limits: &HarvestLimits, kind: EventKind) -> usize {
        match kind {
            EventKind::Transaction => limits.analytic_events,
            EventKind::Custom => limits.custom_events,
            EventKind::Error => limits.error_events,
            EventKind::Span => limits.span_events,
            EventKind::Log => limits.log_events,
        }
    }

    /// The limits this harvest was created with.
    pub fn limits(&self) -> &HarvestLimits {
        &self.limits
    }

    /// The metric table being filled.
    pub fn metrics(&self) -> &MetricTable {
        &self.metrics
    }

    /// Mutable access to the metric table, for metrics the daemon records
    /// itself.
    pub fn metrics_mut(&mut self) -> &mut MetricTable {
        &mut self.metrics
    }

    /// The reservoir of one event kind.
    pub fn events(&self, kind: EventKind) -> &EventReservoir {
        &self.events[kind.index()]
    }

    /// Error traces being collected.
    pub fn errors(&self) -> &ErrorTraces {
        &self.errors
    }

    /// Slow SQL being collected.
    pub fn slow_sqls(&self) -> &SlowSqls {
        &self.slow_sqls
    }

    /// Traces being collected.
    pub fn traces(&self) -> &Traces {
        &self.traces
    }

    /// The log-forwarding labels in force (for `log_event_data`).
    pub fn log_labels(&self) -> &LogLabels {
        &self.log_labels
    }

    /// Distinct agent PIDs seen since the last default-data take.
    pub fn distinct_pids(&self) -> usize {
        self.pids.len()
    }

    /// Transactions merged since the last default-data take.
    pub fn transactions(&self) -> u64 {
        self.transactions
    }

    /// Merges one verified Transaction. The caller has already checked that
    /// the message's run id belongs to this harvest; `body_len` is the
    /// frame body's length (without the 8-byte preamble), reported as
    /// `Supportability/TxnData/Size`.
    pub fn add_transaction(&mut self, txn: fb::Transaction<'_>, body_len: usize) {
        self.transactions += 1;
        let metrics = txn.metrics();
        let custom_events = txn.custom_events();
        let slow_sqls = txn.slow_sqls();
        let len_of = |n: Option<usize>| n.unwrap_or(0) as f64;
        let m = &mut self.metrics;
        m.add_value("Supportability/TxnData/Size", "", body_len as f64, true);
        m.add_value(
            "Supportability/TxnData/CustomEvents",
            "",
            len_of(custom_events.map(|v| v.len())),
            true,
        );
        m.add_value(
            "Supportability/TxnData/Metrics",
            "",
            len_of(metrics.map(|v| v.len())),
            true,
        );
        m.add_value(
            "Supportability/TxnData/SlowSQL",
            "",
            len_of(slow_sqls.map(|v| v.len())),
            true,
        );

        let txn_name = txn.name().unwrap_or_default();
        let uri = txn.uri().unwrap_or_default();
        let synthetics = txn.synthetics_resource_id().unwrap_or_default();
        let priority = txn.sampling_priority();
        self.pids.insert(txn.pid());

        if let Some(data) = txn.txn_event().and_then(|e| e.data()) {
            let p = if synthetics.is_empty() {
                priority
            } else {
                priority + SYNTHETICS_PRIORITY_BOOST
            };
            self.add_event(EventKind::Transaction, p, data);
        }

        if let Some(list) = metrics {
            for metric in list.iter() {
                let name = metric.name().unwrap_or_default();
                let (values, scoped, forced) = match metric.data() {
                    Some(d) => (
                        MetricValues {
                            count: d.count(),
                            total: d.total(),
                            exclusive: d.exclusive(),
                            min: d.min(),
                            max: d.max(),
                            sum_squares: d.sum_squares(),
                        },
                        d.scoped(),
                        d.forced(),
                    ),
                    None => (MetricValues::default(), false, false),
                };
                self.metrics.add(name, "", &values, forced);
                if scoped {
                    self.metrics.add(name, txn_name, &values, forced);
                }
            }
        }

        if let Some(list) = txn.errors() {
            for e in list.iter() {
                if let Some(data) = e.data().filter(|d| !d.is_empty()) {
                    self.errors.add(e.priority(), data);
                }
            }
        }

        if let Some(list) = slow_sqls {
            for s in list.iter() {
                self.slow_sqls.observe(&SlowSqlObservation {
                    id: s.id(),
                    count: s.count(),
                    total_micros: s.total_micros(),
                    min_micros: s.min_micros(),
                    max_micros: s.max_micros(),
                    metric: s.metric().unwrap_or_default(),
                    query: s.query().unwrap_or_default(),
                    params: s.params().unwrap_or_default(),
                    txn_name,
                    uri,
                });
            }
        }

        self.add_events(EventKind::Custom, priority, custom_events);
        self.add_events(EventKind::Span, priority, txn.span_events());
        self.add_events(EventKind::Log, priority, txn.log_events());

        if let Some(raw) = txn.log_forwarding_labels().and_then(|e| e.data()) {
            self.log_labels.set_from_json(raw);
        }
        if let Some(raw) = txn.php_packages().and_then(|e| e.data()) {
            self.php_packages.add_raw(raw);
        }

        if let Some(trace) = txn.trace() {
            let data = trace.data().unwrap_or_default();
            self.metrics.add_value(
                "Supportability/TxnData/TraceSize",
                "",
                data.len() as f64,
                true,
            );
            self.traces.observe(&TraceObservation {
                timestamp_ms: trace.timestamp(),
                duration_ms: trace.duration(),
                txn_name,
                uri,
                data,
                guid: trace.guid().unwrap_or_default(),
                force_persist: trace.force_persist(),
                synthetics_resource_id: synthetics,
            });
        }

        self.add_events(EventKind::Error, priority, txn.error_events());
    }

    fn add_event(&mut self, kind: EventKind, priority: f64, data: &str) {
        // An empty event would make the payload invalid JSON.
        if !data.is_empty() {
            self.events[kind.index()].add(priority, data);
        }
    }

    fn add_events(
        &mut self,
        kind: EventKind,
        priority: f64,
        list: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<fb::Event<'_>>>>,
    ) {
        let Some(list) = list else { return };
        for e in list.iter() {
            if let Some(data) = e.data() {
                self.add_event(kind, priority, data);
            }
        }
    }

    /// Takes the default data for posting, leaving empty stores behind (the
    /// new metric period starts at `now`) and resetting the PID set.
    pub fn take_default_data(&mut self, now: SystemTime) -> DefaultData {
        let limits = self.limits;
        DefaultData {
            metrics: std::mem::replace(&mut self.metrics, MetricTable::new(limits.metrics, now)),
            errors: std::mem::replace(&mut self.errors, ErrorTraces::new(limits.error_traces)),
            slow_sqls: std::mem::replace(&mut self.slow_sqls, SlowSqls::new(limits.slow_sqls)),
            traces: std::mem::replace(&mut self.traces, Self::new_traces(&limits)),
            php_packages: self.php_packages.take_new(),
            distinct_pids: std::mem::take(&mut self.pids).len(),
            transactions: std::mem::take(&mut self.transactions),
        }
    }

    /// Like [`Harvest::take_default_data`] but leaves the metric table, and
    /// the pids and transaction count that go with it, in place: for a
    /// cycle that must not post metrics (the previous post is still in
    /// flight). The returned `metrics` is empty.
    pub fn take_default_data_except_metrics(&mut self, now: SystemTime) -> DefaultData {
        let limits = self.limits;
        DefaultData {
            metrics: MetricTable::new(limits.metrics, now),
            errors: std::mem::replace(&mut self.errors, ErrorTraces::new(limits.error_traces)),
            slow_sqls: std::mem::replace(&mut self.slow_sqls, SlowSqls::new(limits.slow_sqls)),
            traces: std::mem::replace(&mut self.traces, Self::new_traces(&limits)),
            php_packages: self.php_packages.take_new(),
            distinct_pids: 0,
            transactions: 0,
        }
    }

    /// Takes the error traces alone.
    pub fn take_errors(&mut self) -> ErrorTraces {
        std::mem::replace(&mut self.errors, ErrorTraces::new(self.limits.error_traces))
    }

    /// Takes the slow SQL alone.
    pub fn take_slow_sqls(&mut self) -> SlowSqls {
        std::mem::replace(&mut self.slow_sqls, SlowSqls::new(self.limits.slow_sqls))
    }

    /// Takes the transaction traces alone.
    pub fn take_traces(&mut self) -> Traces {
        std::mem::replace(&mut self.traces, Self::new_traces(&self.limits))
    }

    /// Takes the PHP packages not sent before in this run (marking them
    /// sent).
    pub fn take_php_packages(&mut self) -> Vec<PhpPackage> {
        self.php_packages.take_new()
    }

    /// Takes the distinct PID count and the transaction count that go with
    /// the metric table, resetting both.
    pub fn take_period_counts(&mut self) -> (usize, u64) {
        (
            std::mem::take(&mut self.pids).len(),
            std::mem::take(&mut self.transactions),
        )
    }

    /// Takes the metric table alone, starting a new period at `now`.
    pub fn take_metrics(&mut self, now: SystemTime) -> MetricTable {
        std::mem::replace(
            &mut self.metrics,
            MetricTable::new(self.limits.metrics, now),
        )
    }

    /// Takes one event kind's reservoir for posting, leaving an empty one.
    pub fn take_events(&mut self, kind: EventKind) -> EventReservoir {
        let fresh = EventReservoir::new(Self::event_limit(&self.limits, kind));
        std::mem::replace(&mut self.events[kind.index()], fresh)
    }

    /// Merges back a metric table whose post failed with a retryable
    /// status; false when it was discarded after too many failures.
    pub fn merge_back_metrics(&mut self, failed: MetricTable) -> bool {
        self.metrics.merge_failed(failed)
    }

    /// Merges back an event reservoir whose post failed with a retryable
    /// status; false when it was discarded after too many failures.
    pub fn merge_back_events(&mut self, kind: EventKind, failed: EventReservoir) -> bool {
        self.events[kind.index()].merge_back(failed)
    }

    /// Merges back a metric table whose post failed retryably, however
    /// often it failed before (see [`MetricTable::merge_retained`]).
    pub fn retain_failed_metrics(&mut self, failed: MetricTable) {
        self.metrics.merge_retained(failed);
    }

    /// Re-samples the events of a failed post into the current reservoir,
    /// however often they failed before.
    pub fn retain_failed_events(&mut self, kind: EventKind, failed: EventReservoir) {
        self.events[kind.index()].merge_retained(failed);
    }

    /// New limits from a (re)connect. Event reservoirs take their new size
    /// at once, the events held so far sampled into them (their seen
    /// counts kept); everything else uses limits no connect reply changes.
    pub fn set_limits(&mut self, limits: HarvestLimits) {
        self.limits = limits;
        for kind in EventKind::ALL {
            let capacity = Self::event_limit(&limits, kind);
            let slot = &mut self.events[kind.index()];
            if slot.capacity() != capacity {
                let held = std::mem::replace(slot, EventReservoir::new(capacity));
                slot.merge(held);
            }
        }
    }

    /// True when nothing at all has been collected.
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
            && self.metrics.is_empty()
            && self.errors.is_empty()
            && self.slow_sqls.is_empty()
            && self.traces.is_empty()
            && self.events.iter().all(EventReservoir::is_empty)
            && !self.php_packages.has_pending()
    }
}

#[cfg(test)]
mod except_metrics_tests {
    use super::*;

    #[test]
    fn new_limits_resize_the_event_reservoirs_at_once() {
        let mut h = Harvest::new(HarvestLimits::default(), SystemTime::UNIX_EPOCH);
        for p in 0..50 {
            h.events[EventKind::Transaction.index()].add(f64::from(p), "{}");
        }
        let limits = HarvestLimits {
            analytic_events: 10,
            ..HarvestLimits::default()
        };
        h.set_limits(limits);
        let r = h.take_events(EventKind::Transaction);
        assert_eq!(r.capacity(), 10);
        assert_eq!(r.len(), 10);
        assert_eq!(r.seen(), 50);
        assert_eq!(h.take_events(EventKind::Transaction).capacity(), 10);
    }

    #[test]
    fn taking_everything_but_metrics_keeps_the_period_and_pids() {
        let start = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100);
        let mut h = Harvest::new(HarvestLimits::default(), start);
        h.metrics_mut().add_count("A", "", 1.0, false);
        h.errors.add(10, "[]");
        h.pids.insert(7);
        let later = start + std::time::Duration::from_secs(60);
        let data = h.take_default_data_except_metrics(later);
        assert!(data.metrics.is_empty());
        assert_eq!(data.errors.len(), 1);
        assert_eq!(h.metrics().len(), 1);
        assert_eq!(h.metrics().period_start(), start);
        assert_eq!(h.distinct_pids(), 1);
        assert!(h.errors().is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seraph_wire::{
        decode, encode_transaction, Body, ErrorData, MetricData, SlowSqlData, TraceData,
        TransactionData,
    };
    use std::time::Duration;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn metric(name: &str, v: f64, scoped: bool, forced: bool) -> MetricData {
        MetricData {
            name: name.into(),
            count: 1.0,
            total: v,
            exclusive: v,
            min: v,
            max: v,
            sum_squares: v * v,
            scoped,
            forced,
        }
    }

    fn merge(h: &mut Harvest, txn: &TransactionData) {
        let body = encode_transaction("RUN", txn);
        let mut scratch = Vec::new();
        let msg = decode(&body, &mut scratch).unwrap();
        let Body::Transaction(t) = msg.body else {
            panic!("not a transaction")
        };
        h.add_transaction(t, body.len());
    }

    fn sample() -> TransactionData {
        TransactionData {
            name: "WebTransaction/Uri/a".into(),
            uri: "/a".into(),
            pid: 7,
            txn_event: Some(r#"[{"type":"Transaction"},{},{}]"#.into()),
            metrics: vec![
                metric("WebTransaction", 0.5, false, true),
                metric("Custom/f", 0.25, true, false),
            ],
            errors: vec![ErrorData {
                priority: 50,
                data: r#"[1,"x","m","E",{},"g"]"#.into(),
            }],
            slow_sqls: vec![SlowSqlData {
                id: 9,
                count: 1,
                total_micros: 1500,
                min_micros: 1500,
                max_micros: 1500,
                metric: "Datastore/statement/MySQL/t/select".into(),
                query: "SELECT ?".into(),
                params: "{}".into(),
            }],
            custom_events: vec![r#"[{"type":"C"},{},{}]"#.into()],
            trace: Some(TraceData {
                timestamp: 1.0e12,
                duration: 500.0,
                guid: "g1".into(),
                force_persist: false,
                data: "[[0,{},{}],[]]".into(),
            }),
            error_events: vec![r#"[{"type":"TransactionError"},{},{}]"#.into()],
            sampling_priority: 0.75,
            span_events: vec!["[{\"s\":1},{},{}]".into(), "[{\"s\":2},{},{}]".into()],
            log_events: vec![r#"{"message":"hi"}"#.into()],
            php_packages: Some(r#"[["monolog/monolog","3.0.0",{}]]"#.into()),
            log_forwarding_labels: Some(r#"[{"label_type":"env","label_value":"prod"}]"#.into()),
            ..Default::default()
        }
    }

    #[test]
    fn transaction_reaches_every_store() {
        let mut h = Harvest::new(HarvestLimits::default(), t0());
        let txn = sample();
        merge(&mut h, &txn);
        let m = h.metrics();
        assert_eq!(m.get("WebTransaction", "").unwrap().values.total, 0.5);
        assert!(m.get("WebTransaction", "WebTransaction/Uri/a").is_none());
        assert_eq!(m.get("Custom/f", "").unwrap().values.total, 0.25);
        let scoped = m.get("Custom/f", "WebTransaction/Uri/a").unwrap();
        assert!(!scoped.forced);
        assert_eq!(scoped.values.total, 0.25);
        assert_eq!(
            m.get("Supportability/TxnData/Metrics", "")
                .unwrap()
                .values
                .total,
            2.0
        );
        assert_eq!(
            m.get("Supportability/TxnData/CustomEvents", "")
                .unwrap()
                .values
                .total,
            1.0
        );
        assert_eq!(
            m.get("Supportability/TxnData/SlowSQL", "")
                .unwrap()
                .values
                .total,
            1.0
        );
        assert_eq!(
            m.get("Supportability/TxnData/TraceSize", "")
                .unwrap()
                .values
                .total,
            14.0
        );
        assert!(m.get("Supportability/TxnData/Size", "").unwrap().forced);
        assert_eq!(m.len(), 8);

        assert_eq!(h.events(EventKind::Transaction).len(), 1);
        assert_eq!(h.events(EventKind::Custom).len(), 1);
        assert_eq!(h.events(EventKind::Error).len(), 1);
        assert_eq!(
            h.events(EventKind::Span).events().collect::<Vec<_>>(),
            txn.span_events
        );
        assert_eq!(h.events(EventKind::Log).len(), 1);
        assert_eq!(h.errors().len(), 1);
        let sql = h.slow_sqls().iter().next().unwrap();
        assert_eq!((&*sql.txn_name, &*sql.uri), ("WebTransaction/Uri/a", "/a"));
        assert_eq!(h.traces().iter().next().unwrap().guid.as_ref(), "g1");
        assert_eq!(
            h.log_labels().iter().collect::<Vec<_>>(),
            vec![("env", "prod")]
        );
        assert_eq!(h.distinct_pids(), 1);
    }

    #[test]
    fn synthetics_events_get_a_priority_boost() {
        let mut h = Harvest::new(
            HarvestLimits {
                analytic_events: 1,
                ..Default::default()
            },
            t0(),
        );
        let mut syn = sample();
        syn.synthetics_resource_id = Some("res".into());
        syn.sampling_priority = 0.1;
        syn.txn_event = Some("[\"synthetic\"]".into());
        merge(&mut h, &syn);
        let mut normal = sample();
        normal.sampling_priority = 1.9; // < 0.1 + 2.0
        normal.txn_event = Some("[\"normal\"]".into());
        merge(&mut h, &normal);
        let r = h.events(EventKind::Transaction);
        assert_eq!(
            r.events_with_priority().collect::<Vec<_>>(),
            vec![(2.1, "[\"synthetic\"]")]
        );
        assert_eq!(r.seen(), 2);
        let trace = h.traces().iter().next().unwrap();
        assert_eq!(trace.synthetics_resource_id.as_deref(), Some("res"));
    }

    #[test]
    fn take_default_data_resets_period_pids_and_packages() {
        let mut h = Harvest::new(HarvestLimits::default(), t0());
        merge(&mut h, &sample());
        let mut other = sample();
        other.pid = 8;
        merge(&mut h, &other);
        let later = t0() + Duration::from_secs(60);
        let d = h.take_default_data(later);
        assert_eq!(d.distinct_pids, 2);
        assert_eq!(d.transactions, 2);
        assert_eq!(d.metrics.period_start(), t0());
        assert_eq!(d.php_packages.len(), 1);
        assert_eq!(d.errors.len(), 2);
        assert_eq!(h.metrics().period_start(), later);
        assert!(h.metrics().is_empty());
        assert_eq!(h.distinct_pids(), 0);
        // Events are taken separately.
        assert_eq!(h.events(EventKind::Span).len(), 4);
        let spans = h.take_events(EventKind::Span);
        assert_eq!((spans.len(), spans.seen()), (4, 4));
        assert!(h.events(EventKind::Span).is_empty());
        assert_eq!(h.events(EventKind::Span).capacity(), 10_000);

        // The same package is not handed out again in this run.
        merge(&mut h, &sample());
        assert!(h.take_default_data(later).php_packages.is_empty());
    }

    #[test]
    fn failed_posts_merge_back() {
        let mut h = Harvest::new(HarvestLimits::default(), t0());
        merge(&mut h, &sample());
        let d = h.take_default_data(t0() + Duration::from_secs(60));
        let spans = h.take_events(EventKind::Span);
        merge(&mut h, &sample());
        assert!(h.merge_back_metrics(d.metrics));
        assert!(h.merge_back_events(EventKind::Span, spans));
        assert_eq!(h.metrics().period_start(), t0());
        assert_eq!(
            h.metrics().get("WebTransaction", "").unwrap().values.count,
            2.0
        );
        assert_eq!(h.metrics().failed_harvests(), 1);
        let spans = h.events(EventKind::Span);
        assert_eq!(
            (spans.len(), spans.seen(), spans.failed_harvests()),
            (4, 4, 1)
        );
    }

    #[test]
    fn metric_cap_applies_to_transactions() {
        let mut h = Harvest::new(
            HarvestLimits {
                metrics: 6,
                ..Default::default()
            },
            t0(),
        );
        let mut txn = sample();
        txn.trace = None;
        txn.metrics = (0..5)
            .map(|i| metric(&format!("Custom/{i}"), 1.0, false, false))
            .collect();
        txn.metrics.push(metric("Forced", 1.0, true, true));
        merge(&mut h, &txn);
        // 4 TxnData metrics fill 4 of 6 slots; two unforced fit, three drop;
        // the forced metric and its scoped copy are inserted anyway.
        let m = h.metrics();
        assert_eq!(m.dropped(), 3);
        assert_eq!(m.len(), 8);
        assert!(m.get("Forced", "WebTransaction/Uri/a").is_some());
    }

    #[test]
    fn disabled_event_kinds_count_but_keep_nothing() {
        let mut h = Harvest::new(
            HarvestLimits {
                span_events: 0,
                ..Default::default()
            },
            t0(),
        );
        merge(&mut h, &sample());
        assert!(h.events(EventKind::Span).is_empty());
        assert_eq!(h.events(EventKind::Span).seen(), 2);
    }
}
