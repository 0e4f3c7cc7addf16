//! Collector payload bodies (protocol.md §3.6), uncompressed JSON.
//!
//! Each builder writes straight into a byte buffer. Agent-built JSON (events,
//! error traces, trace data, SQL parameters) is copied verbatim, never
//! re-parsed. The caller deflates the body for the HTTP request.

use std::collections::HashMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;

use crate::errors::ErrorTraces;
use crate::harvest::Harvest;
use crate::json::{write_go_g, write_i64, write_json_f32, write_json_f64, write_str, write_u64};
use crate::labels::LogLabels;
use crate::metrics::{MetricTable, MetricValues};
use crate::packages::PhpPackage;
use crate::reservoir::{EventKind, EventReservoir};
use crate::rules::MetricRules;
use crate::slow_sql::SlowSqls;
use crate::traces::Traces;

/// Why a payload could not be built. Such a payload is dropped, like the Go
/// daemon drops one its JSON encoder rejects.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// A metric holds NaN or ±infinity, which JSON cannot carry.
    #[error("metric {name:?} (scope {scope:?}) has a NaN or infinite value")]
    NonFiniteMetric {
        /// Metric name (after rules).
        name: String,
        /// Scope, `""` when unscoped.
        scope: String,
    },
    /// A trace's timestamp or duration is NaN or ±infinity.
    #[error("transaction trace {guid:?} has a NaN or infinite timestamp or duration")]
    NonFiniteTrace {
        /// Trace guid.
        guid: String,
    },
    /// zlib compression of a trace or SQL blob failed.
    #[error("compressing a payload blob failed: {0}")]
    Compress(#[from] std::io::Error),
}

/// How trace data and slow-SQL parameters are embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobEncoding {
    /// base64 of zlib-compressed JSON, as the collector expects.
    Compressed,
    /// The JSON itself, as the audit log and integration tests show it.
    Verbatim,
}

/// Seconds since the Unix epoch, floored (negative before 1970).
fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

/// base64(zlib(data)): the collector's encoding for traces and SQL params.
pub fn compress_encode(data: &[u8]) -> Result<String, std::io::Error> {
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 16),
        flate2::Compression::default(),
    );
    z.write_all(data)?;
    let compressed = z.finish()?;
    Ok(base64::engine::general_purpose::STANDARD.encode(compressed))
}

fn write_blob(out: &mut Vec<u8>, json: &str, enc: BlobEncoding) -> Result<(), PayloadError> {
    match enc {
        BlobEncoding::Compressed => write_str(out, &compress_encode(json.as_bytes())?),
        BlobEncoding::Verbatim if json.is_empty() => out.extend_from_slice(b"null"),
        BlobEncoding::Verbatim => out.extend_from_slice(json.as_bytes()),
    }
    Ok(())
}

/// `metric_data`: `[run_id, start_s, end_s, [[{"name":N[,"scope":S]},[6 numbers]],…]]`.
///
/// `rules` rename every name first (metrics that end up with the same name
/// and scope are merged). Entries are sorted by (scope, name), unscoped
/// first, so the body is deterministic; the collector ignores order.
/// Numbers use Go's shortest `'g'` format. A NaN or infinite value fails the
/// whole payload.
pub fn metric_data(
    run_id: &str,
    start: SystemTime,
    end: SystemTime,
    table: &MetricTable,
    rules: &MetricRules,
) -> Result<Vec<u8>, PayloadError> {
    let mut entries: Vec<(&str, std::borrow::Cow<'_, str>, MetricValues)> =
        Vec::with_capacity(table.len());
    if rules.is_empty() {
        entries.extend(
            table
                .iter()
                .map(|m| (m.scope, std::borrow::Cow::Borrowed(m.name), *m.values)),
        );
    } else {
        let mut renamed: HashMap<&str, String> = HashMap::new();
        let mut merged: HashMap<(&str, String), MetricValues> = HashMap::with_capacity(table.len());
        for m in table.iter() {
            let name = renamed
                .entry(m.name)
                .or_insert_with(|| rules.apply(m.name).1)
                .clone();
            merged
                .entry((m.scope, name))
                .and_modify(|v| v.aggregate(m.values))
                .or_insert(*m.values);
        }
        entries.extend(
            merged
                .into_iter()
                .map(|((scope, name), v)| (scope, std::borrow::Cow::Owned(name), v)),
        );
    }
    entries.sort_by(|a, b| (a.0, &*a.1).cmp(&(b.0, &*b.1)));

    let mut out = Vec::with_capacity(64 + entries.len() * 128);
    out.push(b'[');
    write_str(&mut out, run_id);
    out.push(b',');
    write_i64(&mut out, unix_secs(start));
    out.push(b',');
    write_i64(&mut out, unix_secs(end));
    out.extend_from_slice(b",[");
    for (i, (scope, name, values)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"[{\"name\":");
        write_str(&mut out, name);
        if !scope.is_empty() {
            out.extend_from_slice(b",\"scope\":");
            write_str(&mut out, scope);
        }
        out.extend_from_slice(b"},[");
        for (j, v) in values.as_array().into_iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write_go_g(&mut out, v).map_err(|_| PayloadError::NonFiniteMetric {
                name: name.to_string(),
                scope: scope.to_string(),
            })?;
        }
        out.extend_from_slice(b"]]");
    }
    out.extend_from_slice(b"]]");
    Ok(out)
}

/// `analytic_event_data`, `custom_event_data`, `error_event_data`,
/// `span_event_data`: `[run_id, {"reservoir_size":N,"events_seen":M}, [events…]]`.
pub fn event_data(run_id: &str, events: &EventReservoir) -> Vec<u8> {
    let size: usize = events.events().map(str::len).sum();
    let mut out = Vec::with_capacity(64 + run_id.len() + size + events.len());
    out.push(b'[');
    write_str(&mut out, run_id);
    out.extend_from_slice(b",{\"reservoir_size\":");
    write_u64(&mut out, events.capacity() as u64);
    out.extend_from_slice(b",\"events_seen\":");
    write_u64(&mut out, events.seen());
    out.extend_from_slice(b"},[");
    for (i, e) in events.events().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e.as_bytes());
    }
    out.extend_from_slice(b"]]");
    out
}

/// `log_event_data`: `[{"common":{"attributes":{"tags.T":"V",…}},"logs":[…]}]`
/// (no run id). Events shorter than 4 bytes are obviously incomplete and
/// skipped.
pub fn log_event_data(events: &EventReservoir, labels: &LogLabels) -> Vec<u8> {
    let size: usize = events.events().map(str::len).sum();
    let mut out = Vec::with_capacity(64 + size + events.len());
    out.extend_from_slice(b"[{\"common\":{\"attributes\":{");
    for (i, (ty, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut key = String::with_capacity(5 + ty.len());
        key.push_str("tags.");
        key.push_str(ty);
        write_str(&mut out, &key);
        out.push(b':');
        write_str(&mut out, value);
    }
    out.extend_from_slice(b"}},\"logs\":[");
    let mut first = true;
    for e in events.events().filter(|e| e.len() >= 4) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(e.as_bytes());
    }
    out.extend_from_slice(b"]}]");
    out
}

/// `error_data`: `[run_id, [error…]]` with the agent's JSON in heap order.
pub fn error_data(run_id: &str, errors: &ErrorTraces) -> Vec<u8> {
    let size: usize = errors.iter().map(str::len).sum();
    let mut out = Vec::with_capacity(16 + run_id.len() + size + errors.len());
    out.push(b'[');
    write_str(&mut out, run_id);
    out.extend_from_slice(b",[");
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e.as_bytes());
    }
    out.extend_from_slice(b"]]");
    out
}

/// `transaction_sample_data`: `[run_id, [[start_ms, duration_ms, name, uri,
/// data, guid, null, force_persist, null, synthetics_resource_id|null], …]]`,
/// synthetics first, then force-persist, then regular.
pub fn transaction_sample_data(
    run_id: &str,
    traces: &Traces,
    enc: BlobEncoding,
) -> Result<Vec<u8>, PayloadError> {
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    write_str(&mut out, run_id);
    out.extend_from_slice(b",[");
    for (i, t) in traces.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let non_finite = || PayloadError::NonFiniteTrace {
            guid: t.guid.to_string(),
        };
        out.push(b'[');
        write_json_f64(&mut out, t.timestamp_ms).map_err(|_| non_finite())?;
        out.push(b',');
        write_json_f64(&mut out, t.duration_ms).map_err(|_| non_finite())?;
        out.push(b',');
        write_str(&mut out, &t.txn_name);
        out.push(b',');
        write_str(&mut out, &t.uri);
        out.push(b',');
        write_blob(&mut out, &t.data, enc)?;
        out.push(b',');
        write_str(&mut out, &t.guid);
        out.extend_from_slice(b",null,");
        out.extend_from_slice(if t.force_persist { b"true" } else { b"false" });
        out.extend_from_slice(b",null,");
        match &t.synthetics_resource_id {
            Some(id) => write_str(&mut out, id),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b']');
    }
    out.extend_from_slice(b"]]");
    Ok(out)
}

/// `sql_trace_data`: `[[[txn_name, uri, id, query, metric, count, total_ms,
/// min_ms, max_ms, params], …]]` (no run id). Milliseconds are computed as
/// Go does, `float32(micros) / 1000` in single precision.
pub fn sql_trace_data(slow_sqls: &SlowSqls, enc: BlobEncoding) -> Result<Vec<u8>, PayloadError> {
    let mut out = Vec::with_capacity(64 + slow_sqls.len() * 512);
    out.extend_from_slice(b"[[");
    for (i, s) in slow_sqls.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        write_str(&mut out, &s.txn_name);
        out.push(b',');
        write_str(&mut out, &s.uri);
        out.push(b',');
        write_u64(&mut out, u64::from(s.id));
        out.push(b',');
        write_str(&mut out, &s.query);
        out.push(b',');
        write_str(&mut out, &s.metric);
        out.push(b',');
        write_i64(&mut out, i64::from(s.count));
        for micros in [s.total_micros, s.min_micros, s.max_micros] {
            out.push(b',');
            // u64 → f32 is finite for every u64, so this cannot fail.
            let ms = micros as f32 / 1000.0;
            let _ = write_json_f32(&mut out, ms);
        }
        out.push(b',');
        write_blob(&mut out, &s.params, enc)?;
        out.push(b']');
    }
    out.extend_from_slice(b"]]");
    Ok(out)
}

/// `update_loaded_modules`: `["Jars", [[name, version, {}], …]]`.
pub fn update_loaded_modules(packages: &[PhpPackage]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + packages.len() * 48);
    out.extend_from_slice(b"[\"Jars\",[");
    for (i, p) in packages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        write_str(&mut out, &p.name);
        out.push(b',');
        write_str(&mut out, &p.version);
        out.extend_from_slice(b",{}]");
    }
    out.extend_from_slice(b"]]");
    out
}

/// Every non-empty payload of a throwaway harvest, in audit form (trace
/// data and SQL parameters embedded as JSON), as `(method, body)` in the
/// order New Relic's daemon logs them in integration mode. Metric rules are
/// not applied and no harvest-time supportability metric is added; an event
/// type with no stored event is left out even if events were seen. The
/// metric period ends at `now`.
pub fn audit_payloads(
    run_id: &str,
    mut harvest: Harvest,
    now: SystemTime,
) -> Result<Vec<(&'static str, Vec<u8>)>, PayloadError> {
    let labels = harvest.log_labels().clone();
    let data = harvest.take_default_data(now);
    let mut events = EventKind::ALL.map(|k| harvest.take_events(k));
    let mut take = |k: EventKind| std::mem::replace(&mut events[k.index()], EventReservoir::new(0));
    let mut out = Vec::new();
    if !data.metrics.is_empty() {
        let start = data.metrics.period_start();
        let body = metric_data(run_id, start, now, &data.metrics, &MetricRules::empty())?;
        out.push(("metric_data", body));
    }
    for kind in [EventKind::Custom, EventKind::Error] {
        let r = take(kind);
        if !r.is_empty() {
            out.push((kind.method(), event_data(run_id, &r)));
        }
    }
    if !data.errors.is_empty() {
        out.push(("error_data", error_data(run_id, &data.errors)));
    }
    if !data.slow_sqls.is_empty() {
        out.push((
            "sql_trace_data",
            sql_trace_data(&data.slow_sqls, BlobEncoding::Verbatim)?,
        ));
    }
    let spans = take(EventKind::Span);
    if !spans.is_empty() {
        out.push((EventKind::Span.method(), event_data(run_id, &spans)));
    }
    if !data.traces.is_empty() {
        let body = transaction_sample_data(run_id, &data.traces, BlobEncoding::Verbatim)?;
        out.push(("transaction_sample_data", body));
    }
    let txn = take(EventKind::Transaction);
    if !txn.is_empty() {
        out.push((EventKind::Transaction.method(), event_data(run_id, &txn)));
    }
    let logs = take(EventKind::Log);
    if !logs.is_empty() {
        out.push((EventKind::Log.method(), log_event_data(&logs, &labels)));
    }
    if !data.php_packages.is_empty() {
        out.push((
            "update_loaded_modules",
            update_loaded_modules(&data.php_packages),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slow_sql::SlowSqlObservation;
    use crate::traces::TraceObservation;
    use std::io::Read;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn text(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    fn decompress(b64: &str) -> String {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let mut s = String::new();
        flate2::read::ZlibDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn metric_data_exact_json() {
        let mut t = MetricTable::new(2000, at(1_417_136_460));
        t.add_count("Instance/Reporting", "", 1.0, true);
        t.add_value("Custom/x", "WebTransaction/a", 60_000_000_000.0, false);
        t.add(
            "Apdex",
            "",
            &MetricValues {
                count: 1.0,
                total: 0.0,
                exclusive: 0.0,
                min: 0.5,
                max: 0.5,
                sum_squares: 0.0,
            },
            true,
        );
        let body = metric_data(
            "12345",
            t.period_start(),
            at(1_417_136_520),
            &t,
            &MetricRules::empty(),
        )
        .unwrap();
        assert_eq!(
            text(body),
            concat!(
                r#"["12345",1417136460,1417136520,["#,
                r#"[{"name":"Apdex"},[1,0,0,0.5,0.5,0]],"#,
                r#"[{"name":"Instance/Reporting"},[1,0,0,0,0,0]],"#,
                r#"[{"name":"Custom/x","scope":"WebTransaction/a"},[1,6e+10,0,6e+10,6e+10,3.6e+21]]"#,
                "]]"
            )
        );
    }

    #[test]
    fn metric_data_empty_table() {
        let t = MetricTable::new(10, at(10));
        let body = metric_data("r", at(10), at(70), &t, &MetricRules::empty()).unwrap();
        assert_eq!(text(body), r#"["r",10,70,[]]"#);
    }

    #[test]
    fn metric_data_applies_rules_and_merges_collisions() {
        let rules = MetricRules::from_json(&serde_json::json!([
            {"match_expression": "^Custom/[0-9]+$", "replacement": "Custom/*", "replace_all": true},
            {"match_expression": "^Secret/", "ignore": true, "eval_order": 1},
        ]))
        .unwrap();
        let mut t = MetricTable::new(10, at(0));
        t.add_value("Custom/1", "", 1.0, false);
        t.add_value("Custom/2", "", 3.0, false);
        t.add_value("Custom/2", "Web/x", 3.0, false);
        t.add_count("Secret/a", "", 1.0, false);
        let body = text(metric_data("r", at(0), at(60), &t, &rules).unwrap());
        assert_eq!(
            body,
            concat!(
                r#"["r",0,60,["#,
                r#"[{"name":""},[1,0,0,0,0,0]],"#,
                r#"[{"name":"Custom/*"},[2,4,0,1,3,10]],"#,
                r#"[{"name":"Custom/*","scope":"Web/x"},[1,3,0,3,3,9]]"#,
                "]]"
            )
        );
    }

    #[test]
    fn metric_data_rejects_non_finite_values() {
        let mut t = MetricTable::new(10, at(0));
        t.add_value("Bad", "", f64::NAN, false);
        let err = metric_data("r", at(0), at(60), &t, &MetricRules::empty()).unwrap_err();
        assert!(matches!(err, PayloadError::NonFiniteMetric { ref name, .. } if name == "Bad"));
    }

    #[test]
    fn event_payload_embeds_events_verbatim() {
        let mut r = EventReservoir::new(50);
        r.add(0.5, r#"[{"a":1},{},{}]"#);
        r.add(0.7, r#"[{"b":"\/x"},{},{}]"#);
        assert_eq!(
            text(event_data("RUN-1", &r)),
            r#"["RUN-1",{"reservoir_size":50,"events_seen":2},[[{"a":1},{},{}],[{"b":"\/x"},{},{}]]]"#
        );
        assert_eq!(
            text(event_data("RUN-1", &EventReservoir::new(0))),
            r#"["RUN-1",{"reservoir_size":0,"events_seen":0},[]]"#
        );
    }

    #[test]
    fn log_payload_has_labels_and_skips_stubs() {
        let mut r = EventReservoir::new(10);
        r.add(0.5, r#"{"message":"a"}"#);
        r.add(0.5, "{}");
        r.add(0.5, r#"{"message":"b"}"#);
        let mut labels = LogLabels::new();
        labels.set_from_json(
            r#"[{"label_type":"env","label_value":"prod"},{"label_type":"q\"t","label_value":"v"}]"#,
        );
        assert_eq!(
            text(log_event_data(&r, &labels)),
            concat!(
                r#"[{"common":{"attributes":{"tags.env":"prod","tags.q\"t":"v"}},"#,
                r#""logs":[{"message":"a"},{"message":"b"}]}]"#
            )
        );
        assert_eq!(
            text(log_event_data(&EventReservoir::new(1), &LogLabels::new())),
            r#"[{"common":{"attributes":{}},"logs":[]}]"#
        );
    }

    #[test]
    fn error_payload() {
        let mut e = ErrorTraces::new(20);
        e.add(50, r#"[1,"t","m","C",{},"g"]"#);
        e.add(40, r#"[2,"t","n","D",{},"h"]"#);
        assert_eq!(
            text(error_data("RUN", &e)),
            r#"["RUN",[[2,"t","n","D",{},"h"],[1,"t","m","C",{},"g"]]]"#
        );
    }

    fn trace_obs(guid: &'static str, syn: &'static str, fp: bool) -> TraceObservation<'static> {
        TraceObservation {
            timestamp_ms: 1_795_424_127_907.174,
            duration_ms: 171.957,
            txn_name: "OtherTransaction/php/script.php",
            uri: "<unknown>",
            data: r#"[[0,{},{},[0,171,"ROOT",{},[]],{}],[]]"#,
            guid,
            force_persist: fp,
            synthetics_resource_id: syn,
        }
    }

    #[test]
    fn transaction_sample_data_verbatim_and_compressed() {
        let mut t = Traces::new(1, 10, 20);
        t.observe(&trace_obs("reg", "", false));
        t.observe(&trace_obs("syn", "r-1", false));
        t.observe(&trace_obs("fp", "", true));
        let audit = text(transaction_sample_data("RUN", &t, BlobEncoding::Verbatim).unwrap());
        let row = |guid: &str, fp: bool, syn: &str| {
            format!(
                r#"[1795424127907.174,171.957,"OtherTransaction/php/script.php","<unknown>",[[0,{{}},{{}},[0,171,"ROOT",{{}},[]],{{}}],[]],"{guid}",null,{fp},null,{syn}]"#
            )
        };
        assert_eq!(
            audit,
            format!(
                r#"["RUN",[{},{},{}]]"#,
                row("syn", false, r#""r-1""#),
                row("fp", true, "null"),
                row("reg", false, "null")
            )
        );

        let body = transaction_sample_data("RUN", &t, BlobEncoding::Compressed).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let blob = v[1][2][4].as_str().unwrap();
        assert_eq!(
            decompress(blob),
            r#"[[0,{},{},[0,171,"ROOT",{},[]],{}],[]]"#
        );
        assert_eq!(v[1][2][5], "reg");
    }

    #[test]
    fn transaction_sample_data_rejects_nan() {
        let mut t = Traces::new(1, 0, 0);
        let mut o = trace_obs("g", "", false);
        o.timestamp_ms = f64::INFINITY;
        t.observe(&o);
        assert!(matches!(
            transaction_sample_data("RUN", &t, BlobEncoding::Verbatim),
            Err(PayloadError::NonFiniteTrace { .. })
        ));
    }

    #[test]
    fn sql_trace_data_exact_json() {
        let mut s = SlowSqls::new(10);
        s.observe(&SlowSqlObservation {
            id: 3_657_342_214,
            count: 2,
            total_micros: 78_646,
            min_micros: 3,
            max_micros: 78_643,
            metric: "Datastore/statement/SQLite/users/select",
            query: "SELECT ?",
            params: r#"{"backtrace":[" in PDO::query called at \/tmp\/x.php (20)"]}"#,
            txn_name: "OtherTransaction/php/script.php",
            uri: "<unknown>",
        });
        let audit = text(sql_trace_data(&s, BlobEncoding::Verbatim).unwrap());
        assert_eq!(
            audit,
            concat!(
                r#"[[["OtherTransaction/php/script.php","<unknown>",3657342214,"SELECT ?","#,
                r#""Datastore/statement/SQLite/users/select",2,78.646,0.003,78.643,"#,
                r#"{"backtrace":[" in PDO::query called at \/tmp\/x.php (20)"]}]]]"#
            )
        );
        let body = sql_trace_data(&s, BlobEncoding::Compressed).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            decompress(v[0][0][9].as_str().unwrap()),
            r#"{"backtrace":[" in PDO::query called at \/tmp\/x.php (20)"]}"#
        );
        assert_eq!(
            text(sql_trace_data(&SlowSqls::new(10), BlobEncoding::Verbatim).unwrap()),
            "[[]]"
        );
    }

    #[test]
    fn update_loaded_modules_json() {
        let p = vec![
            PhpPackage {
                name: "laravel/framework".into(),
                version: "11.0.0".into(),
            },
            PhpPackage {
                name: "a\"b".into(),
                version: "1".into(),
            },
        ];
        assert_eq!(
            text(update_loaded_modules(&p)),
            r#"["Jars",[["laravel/framework","11.0.0",{}],["a\"b","1",{}]]]"#
        );
        assert_eq!(text(update_loaded_modules(&[])), r#"["Jars",[]]"#);
    }

    #[test]
    fn audit_payloads_order_and_skip_empty_parts() {
        use crate::limits::HarvestLimits;
        use seraph_wire::{
            decode, encode_transaction, Body, ErrorData, TraceData, TransactionData,
        };
        let txn = TransactionData {
            name: "OtherTransaction/php/x.php".into(),
            uri: "<unknown>".into(),
            txn_event: Some("[{},{},{}]".into()),
            errors: vec![ErrorData {
                priority: 1,
                data: "[]".into(),
            }],
            trace: Some(TraceData {
                timestamp: 1.0,
                duration: 2.0,
                guid: "g".into(),
                force_persist: false,
                data: "[]".into(),
            }),
            span_events: vec!["[{},{},{}]".into()],
            custom_events: vec!["[{},{},{}]".into()],
            ..Default::default()
        };
        let body = encode_transaction("R", &txn);
        let mut scratch = Vec::new();
        let Body::Transaction(t) = decode(&body, &mut scratch).unwrap().body else {
            panic!("not a transaction")
        };
        let mut h = Harvest::new(HarvestLimits::default(), at(100));
        h.add_transaction(t, body.len());
        let out = audit_payloads("R", h, at(160)).unwrap();
        let methods: Vec<&str> = out.iter().map(|(m, _)| *m).collect();
        assert_eq!(
            methods,
            vec![
                "metric_data",
                "custom_event_data",
                "error_data",
                "span_event_data",
                "transaction_sample_data",
                "analytic_event_data",
            ]
        );
        assert!(text(out[0].1.clone()).starts_with(r#"["R",100,160,["#));
        assert_eq!(
            text(out[4].1.clone()),
            r#"["R",[[1,2,"OtherTransaction/php/x.php","<unknown>",[],"g",null,false,null,null]]]"#
        );
    }

    #[test]
    fn unix_seconds_floor() {
        assert_eq!(unix_secs(at(5) + Duration::from_millis(999)), 5);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_millis(1)), -1);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(2)), -2);
    }
}
