//! What a run hands to a send task and gets back: the data taken out of
//! the harvest (a [`Batch`]), the post around it, and the payload built
//! from it.

use super::RunSettings;
use seraph_collector::{CallStats, DiscardReason, Method, Outcome, Response};
use seraph_harvest::{
    payload, BlobEncoding, DefaultData, ErrorTraces, EventKind, EventReservoir, LogLabels,
    MetricTable, PhpPackage, SlowSqls, Traces,
};
use std::sync::Arc;
use std::time::SystemTime;

/// Data taken out of the harvest and on its way to the collector; it comes
/// back with the result so it can be merged back.
pub(super) enum Batch {
    Metrics(MetricTable),
    Events(EventKind, EventReservoir),
    Logs(EventReservoir, LogLabels),
    Errors(ErrorTraces),
    SlowSqls(SlowSqls),
    Traces(Traces),
    Packages(Vec<PhpPackage>),
}

impl Batch {
    pub(super) fn method(&self) -> Method {
        match self {
            Batch::Metrics(_) => Method::MetricData,
            Batch::Events(kind, _) => event_method(*kind),
            Batch::Logs(..) => Method::LogEventData,
            Batch::Errors(_) => Method::ErrorData,
            Batch::SlowSqls(_) => Method::SqlTraceData,
            Batch::Traces(_) => Method::TransactionSampleData,
            Batch::Packages(_) => Method::UpdateLoadedModules,
        }
    }

    /// Moves about half of the data into a new batch, for a payload the
    /// collector refused as too large. `None` when it cannot be split
    /// (fewer than two items; traces and packages are never split).
    pub(super) fn split_off_half(&mut self) -> Option<Batch> {
        Some(match self {
            Batch::Metrics(t) => Batch::Metrics(t.split_off_half()?),
            Batch::Events(kind, r) => Batch::Events(*kind, r.split_off_half()?),
            Batch::Logs(r, labels) => Batch::Logs(r.split_off_half()?, labels.clone()),
            Batch::Errors(e) => Batch::Errors(e.split_off_half()?),
            Batch::SlowSqls(s) => Batch::SlowSqls(s.split_off_half()?),
            Batch::Traces(_) | Batch::Packages(_) => return None,
        })
    }
}

pub(super) fn event_method(kind: EventKind) -> Method {
    match kind {
        EventKind::Transaction => Method::AnalyticEventData,
        EventKind::Custom => Method::CustomEventData,
        EventKind::Error => Method::ErrorEventData,
        EventKind::Span => Method::SpanEventData,
        EventKind::Log => Method::LogEventData,
    }
}

/// Number of collector methods, for per-method state.
pub(super) const METHODS: usize = Method::ALL.len();

/// A batch on its way, with what the run needs to know when it comes back.
pub(super) struct Post {
    pub(super) batch: Batch,
    /// Part of the current default-data cycle (metrics wait for these).
    pub(super) in_cycle: bool,
    /// How many times this data was already halved after a 413.
    pub(super) splits: u8,
    /// The run it was posted under.
    pub(super) run_id: std::sync::Arc<str>,
}

/// A finished send.
pub(super) struct Sent {
    pub(super) post: Post,
    pub(super) response: Response,
}

/// A response for a post that never reached the collector.
pub(super) fn not_sent(method: Method, reason: DiscardReason) -> Response {
    Response {
        outcome: Outcome::Discard(reason),
        stats: CallStats {
            method,
            status: 0,
            request_bytes: 0,
            compressed_bytes: 0,
            response_bytes: 0,
            sent: false,
        },
    }
}

/// The non-metric parts of default data as the posts they make (empty
/// ones left out); also returns the metrics and the distinct pid count.
pub(super) fn default_batches(data: DefaultData) -> (MetricTable, usize, Vec<Batch>) {
    let DefaultData {
        metrics,
        errors,
        slow_sqls,
        traces,
        php_packages,
        distinct_pids,
        ..
    } = data;
    let mut batches = Vec::new();
    if !errors.is_empty() {
        batches.push(Batch::Errors(errors));
    }
    if !slow_sqls.is_empty() {
        batches.push(Batch::SlowSqls(slow_sqls));
    }
    if !traces.is_empty() {
        batches.push(Batch::Traces(traces));
    }
    if !php_packages.is_empty() {
        batches.push(Batch::Packages(php_packages));
    }
    (metrics, distinct_pids, batches)
}

/// The payload's JSON, and the batch back (a failed post merges it back).
/// Serializing a full reservoir is CPU-bound work: it runs on the blocking
/// pool ([`seraph_collector::cpu_bound`]), so agents' App queries are
/// answered meanwhile.
pub(super) async fn build_payload(
    settings: &Arc<RunSettings>,
    batch: Batch,
) -> (Batch, Result<Vec<u8>, seraph_harvest::PayloadError>) {
    let settings = Arc::clone(settings);
    seraph_collector::cpu_bound(move || {
        let built = build(&settings, &batch);
        (batch, built)
    })
    .await
}

fn build(settings: &RunSettings, batch: &Batch) -> Result<Vec<u8>, seraph_harvest::PayloadError> {
    let run_id = &*settings.run_id;
    Ok(match batch {
        Batch::Metrics(table) => {
            let start = table.period_start();
            payload::metric_data(run_id, start, SystemTime::now(), table, &settings.rules)?
        }
        Batch::Events(_, reservoir) => payload::event_data(run_id, reservoir),
        Batch::Logs(reservoir, labels) => payload::log_event_data(reservoir, labels),
        Batch::Errors(errors) => payload::error_data(run_id, errors),
        Batch::SlowSqls(sqls) => payload::sql_trace_data(sqls, BlobEncoding::Compressed)?,
        Batch::Traces(traces) => {
            payload::transaction_sample_data(run_id, traces, BlobEncoding::Compressed)?
        }
        Batch::Packages(pkgs) => payload::update_loaded_modules(pkgs),
    })
}
