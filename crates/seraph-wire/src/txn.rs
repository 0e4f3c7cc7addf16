//! An owned transaction, encoded into (or copied out of) a Transaction
//! message. Agents build one of these at the end of a request; the daemon
//! reads the borrowed FlatBuffers view instead and never copies.

use crate::fb;
use flatbuffers::{FlatBufferBuilder, WIPOffset};

/// One metric as the agent sends it. Times are seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricData {
    /// Metric name.
    pub name: String,
    /// Call count (Apdex: satisfying count).
    pub count: f64,
    /// Total time (Apdex: tolerating count).
    pub total: f64,
    /// Exclusive time (Apdex: frustrating count).
    pub exclusive: f64,
    /// Minimum (Apdex: apdex_t).
    pub min: f64,
    /// Maximum (Apdex: apdex_t).
    pub max: f64,
    /// Sum of squares.
    pub sum_squares: f64,
    /// The daemon also records it scoped to the transaction name.
    pub scoped: bool,
    /// Kept even when the daemon's metric table is full.
    pub forced: bool,
}

/// An error trace: its priority (the daemon keeps the 20 highest) and the
/// agent-built JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorData {
    /// Higher wins.
    pub priority: i32,
    /// `[ts_ms, txn_name, message, class, {attrs}, txn_guid]`.
    pub data: String,
}

/// A slow SQL observation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlowSqlData {
    /// Hash of the obfuscated query: the daemon merges equal ids.
    pub id: u32,
    /// Number of calls folded into this entry.
    pub count: i32,
    /// Total time, µs.
    pub total_micros: u64,
    /// Fastest call, µs.
    pub min_micros: u64,
    /// Slowest call, µs.
    pub max_micros: u64,
    /// Datastore metric name.
    pub metric: String,
    /// Obfuscated (or raw) query.
    pub query: String,
    /// JSON object of parameters (`backtrace`, `explain_plan`, …).
    pub params: String,
}

/// A transaction trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceData {
    /// Start, ms since the epoch.
    pub timestamp: f64,
    /// Duration, ms.
    pub duration: f64,
    /// Transaction guid.
    pub guid: String,
    /// Keep even if not the slowest.
    pub force_persist: bool,
    /// The trace JSON (`[[0,{},{},root,{intrinsics}],[strings]]`).
    pub data: String,
}

/// Pre-built event JSON (`[intrinsics, user, agent]`).
pub type EventData = String;

/// Everything one transaction reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransactionData {
    /// Final transaction name.
    pub name: String,
    /// Request URI without query string, `<unknown>` for CLI.
    pub uri: String,
    /// Synthetics resource id, if the request came from Synthetics.
    pub synthetics_resource_id: Option<String>,
    /// PHP process id.
    pub pid: i32,
    /// The Transaction event, unless analytics events are off.
    pub txn_event: Option<EventData>,
    /// The transaction's metrics.
    pub metrics: Vec<MetricData>,
    /// Error traces.
    pub errors: Vec<ErrorData>,
    /// Slow SQL observations.
    pub slow_sqls: Vec<SlowSqlData>,
    /// Custom events.
    pub custom_events: Vec<EventData>,
    /// Transaction trace, when above the threshold.
    pub trace: Option<TraceData>,
    /// TransactionError events.
    pub error_events: Vec<EventData>,
    /// Sampling priority of every event of this transaction.
    pub sampling_priority: f64,
    /// Span events.
    pub span_events: Vec<EventData>,
    /// Log events.
    pub log_events: Vec<EventData>,
    /// Detected PHP packages JSON.
    pub php_packages: Option<EventData>,
    /// Log forwarding labels JSON.
    pub log_forwarding_labels: Option<EventData>,
}

fn events<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    list: &[EventData],
) -> Option<WIPOffset<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<fb::Event<'a>>>>> {
    if list.is_empty() {
        return None;
    }
    let items: Vec<_> = list.iter().map(|e| event(fbb, e)).collect();
    Some(fbb.create_vector(&items))
}

fn event<'a>(fbb: &mut FlatBufferBuilder<'a>, data: &str) -> WIPOffset<fb::Event<'a>> {
    let data = Some(fbb.create_string(data));
    fb::Event::create(fbb, &fb::EventArgs { data })
}

/// Encodes a Transaction message body (no preamble). Empty lists are left
/// out rather than sent empty, as New Relic's agent does.
pub fn encode_transaction(agent_run_id: &str, txn: &TransactionData) -> Vec<u8> {
    // An upper bound of the encoded size (strings plus the tables and
    // vectors around them), so the builder never grows: growing copies
    // the whole buffer, and span events make it hundreds of kilobytes.
    let events_len = |list: &[EventData]| list.iter().map(|e| e.len() + 32).sum::<usize>();
    let opt_len = |e: &Option<EventData>| e.as_ref().map_or(0, |e| e.len() + 32);
    let estimate = 1024
        + agent_run_id.len()
        + txn.name.len()
        + txn.uri.len()
        + txn
            .metrics
            .iter()
            .map(|m| m.name.len() + 112)
            .sum::<usize>()
        + txn.errors.iter().map(|e| e.data.len() + 32).sum::<usize>()
        + txn
            .slow_sqls
            .iter()
            .map(|s| s.metric.len() + s.query.len() + s.params.len() + 96)
            .sum::<usize>()
        + txn
            .trace
            .as_ref()
            .map_or(0, |t| t.data.len() + t.guid.len() + 64)
        + events_len(&txn.custom_events)
        + events_len(&txn.error_events)
        + events_len(&txn.span_events)
        + events_len(&txn.log_events)
        + opt_len(&txn.txn_event)
        + opt_len(&txn.php_packages)
        + opt_len(&txn.log_forwarding_labels)
        + txn
            .synthetics_resource_id
            .as_ref()
            .map_or(0, |s| s.len() + 8);
    let mut fbb = FlatBufferBuilder::with_capacity(estimate);

    let metrics = if txn.metrics.is_empty() {
        None
    } else {
        let items: Vec<_> = txn
            .metrics
            .iter()
            .map(|m| {
                let name = Some(fbb.create_string(&m.name));
                let data = fb::MetricData::new(
                    m.count,
                    m.total,
                    m.exclusive,
                    m.min,
                    m.max,
                    m.sum_squares,
                    m.scoped,
                    m.forced,
                );
                fb::Metric::create(
                    &mut fbb,
                    &fb::MetricArgs {
                        name,
                        data: Some(&data),
                    },
                )
            })
            .collect();
        Some(fbb.create_vector(&items))
    };
    let errors = if txn.errors.is_empty() {
        None
    } else {
        let items: Vec<_> = txn
            .errors
            .iter()
            .map(|e| {
                let data = Some(fbb.create_string(&e.data));
                fb::Error::create(
                    &mut fbb,
                    &fb::ErrorArgs {
                        priority: e.priority,
                        data,
                    },
                )
            })
            .collect();
        Some(fbb.create_vector(&items))
    };
    let slow_sqls = if txn.slow_sqls.is_empty() {
        None
    } else {
        let items: Vec<_> = txn
            .slow_sqls
            .iter()
            .map(|s| {
                let metric = Some(fbb.create_string(&s.metric));
                let query = Some(fbb.create_string(&s.query));
                let params = Some(fbb.create_string(&s.params));
                fb::SlowSQL::create(
                    &mut fbb,
                    &fb::SlowSQLArgs {
                        id: s.id,
                        count: s.count,
                        total_micros: s.total_micros,
                        min_micros: s.min_micros,
                        max_micros: s.max_micros,
                        metric,
                        query,
                        params,
                    },
                )
            })
            .collect();
        Some(fbb.create_vector(&items))
    };
    let trace = txn.trace.as_ref().map(|t| {
        let guid = Some(fbb.create_string(&t.guid));
        let data = Some(fbb.create_string(&t.data));
        fb::Trace::create(
            &mut fbb,
            &fb::TraceArgs {
                timestamp: t.timestamp,
                duration: t.duration,
                guid,
                force_persist: t.force_persist,
                data,
            },
        )
    });
    let custom_events = events(&mut fbb, &txn.custom_events);
    let error_events = events(&mut fbb, &txn.error_events);
    let span_events = events(&mut fbb, &txn.span_events);
    let log_events = events(&mut fbb, &txn.log_events);
    let txn_event = txn.txn_event.as_deref().map(|e| event(&mut fbb, e));
    let php_packages = txn.php_packages.as_deref().map(|e| event(&mut fbb, e));
    let log_forwarding_labels = txn
        .log_forwarding_labels
        .as_deref()
        .map(|e| event(&mut fbb, e));
    let name = Some(fbb.create_string(&txn.name));
    let uri = Some(fbb.create_string(&txn.uri));
    let synthetics_resource_id = txn
        .synthetics_resource_id
        .as_deref()
        .map(|s| fbb.create_string(s));
    let body = fb::Transaction::create(
        &mut fbb,
        &fb::TransactionArgs {
            name,
            uri,
            synthetics_resource_id,
            pid: txn.pid,
            txn_event,
            metrics,
            errors,
            slow_sqls,
            custom_events,
            trace,
            error_events,
            sampling_priority: txn.sampling_priority,
            span_events,
            log_events,
            php_packages,
            log_forwarding_labels,
        },
    );
    let run_id = Some(fbb.create_string(agent_run_id));
    let msg = fb::Message::create(
        &mut fbb,
        &fb::MessageArgs {
            agent_run_id: run_id,
            data_type: fb::MessageBody::Transaction,
            data: Some(body.as_union_value()),
        },
    );
    fbb.finish(msg, None);
    fbb.finished_data().to_vec()
}

fn event_list(
    v: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<fb::Event<'_>>>>,
) -> Vec<EventData> {
    v.map(|v| {
        v.iter()
            .map(|e| e.data().unwrap_or_default().to_owned())
            .collect()
    })
    .unwrap_or_default()
}

impl TransactionData {
    /// Copies a verified Transaction table into an owned value.
    pub fn from_fb(t: &fb::Transaction<'_>) -> Self {
        let s = |v: Option<&str>| v.unwrap_or_default().to_owned();
        TransactionData {
            name: s(t.name()),
            uri: s(t.uri()),
            synthetics_resource_id: t.synthetics_resource_id().map(str::to_owned),
            pid: t.pid(),
            txn_event: t.txn_event().map(|e| s(e.data())),
            metrics: t
                .metrics()
                .map(|v| {
                    v.iter()
                        .map(|m| {
                            let d = m.data().copied().unwrap_or_default();
                            MetricData {
                                name: s(m.name()),
                                count: d.count(),
                                total: d.total(),
                                exclusive: d.exclusive(),
                                min: d.min(),
                                max: d.max(),
                                sum_squares: d.sum_squares(),
                                scoped: d.scoped(),
                                forced: d.forced(),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
            errors: t
                .errors()
                .map(|v| {
                    v.iter()
                        .map(|e| ErrorData {
                            priority: e.priority(),
                            data: s(e.data()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            slow_sqls: t
                .slow_sqls()
                .map(|v| {
                    v.iter()
                        .map(|q| SlowSqlData {
                            id: q.id(),
                            count: q.count(),
                            total_micros: q.total_micros(),
                            min_micros: q.min_micros(),
                            max_micros: q.max_micros(),
                            metric: s(q.metric()),
                            query: s(q.query()),
                            params: s(q.params()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            custom_events: event_list(t.custom_events()),
            trace: t.trace().map(|tr| TraceData {
                timestamp: tr.timestamp(),
                duration: tr.duration(),
                guid: s(tr.guid()),
                force_persist: tr.force_persist(),
                data: s(tr.data()),
            }),
            error_events: event_list(t.error_events()),
            sampling_priority: t.sampling_priority(),
            span_events: event_list(t.span_events()),
            log_events: event_list(t.log_events()),
            php_packages: t.php_packages().map(|e| s(e.data())),
            log_forwarding_labels: t.log_forwarding_labels().map(|e| s(e.data())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{decode, Body};

    #[test]
    fn transaction_round_trip() {
        let txn = TransactionData {
            name: "OtherTransaction/php/x.php".into(),
            uri: "<unknown>".into(),
            pid: 42,
            txn_event: Some("[{},{},{}]".into()),
            metrics: vec![MetricData {
                name: "OtherTransaction/all".into(),
                count: 1.0,
                total: 0.5,
                exclusive: 0.5,
                min: 0.5,
                max: 0.5,
                sum_squares: 0.25,
                scoped: false,
                forced: true,
            }],
            errors: vec![ErrorData {
                priority: 100,
                data: "[]".into(),
            }],
            slow_sqls: vec![SlowSqlData {
                id: 7,
                count: 1,
                total_micros: 10,
                min_micros: 10,
                max_micros: 10,
                metric: "Datastore/x".into(),
                query: "SELECT ?".into(),
                params: "{}".into(),
            }],
            trace: Some(TraceData {
                timestamp: 1.5,
                duration: 2.5,
                guid: "g".into(),
                force_persist: true,
                data: "[]".into(),
            }),
            sampling_priority: 1.25,
            span_events: vec!["[{},{},{}]".into()],
            log_forwarding_labels: Some("[]".into()),
            ..Default::default()
        };
        let body = encode_transaction("RUN", &txn);
        let mut scratch = Vec::new();
        let msg = decode(&body, &mut scratch).unwrap();
        assert_eq!(msg.agent_run_id, Some("RUN"));
        let Body::Transaction(t) = msg.body else {
            panic!("not a Transaction")
        };
        assert!(t.custom_events().is_none(), "empty lists stay absent");
        assert_eq!(TransactionData::from_fb(&t), txn);
    }
}
