//! One test's harvest as collector payloads in audit form, by method name.
//!
//! In the default mode they come straight from a `seraph_harvest::Harvest`
//! through `payload::audit_payloads`. With `--daemon` they come from the
//! real daemon's `NR_INTEGRATION_TEST` log lines, which cover one
//! transaction each; [`Payloads::absorb`] combines the lines of a process
//! that sent several transactions (start/end_transaction) the way one
//! harvest would hold them.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::SystemTime;

use seraph_harvest::{payload, Harvest, HarvestLimits};

/// The run id written into payloads built here; expectations match it with
/// `"?? agent run id"`.
pub const AUDIT_RUN_ID: &str = "?? agent run id";

/// Reservoir sizes New Relic's runner uses (§4.3): transaction and custom
/// events 50, error events 100, spans 10 000; everything else the daemon's
/// defaults.
pub fn runner_limits() -> HarvestLimits {
    HarvestLimits {
        analytic_events: 50,
        custom_events: 50,
        error_events: 100,
        span_events: 10_000,
        ..HarvestLimits::default()
    }
}

/// Payloads by method (`metric_data`, `analytic_event_data`, …), each the
/// JSON text the daemon would post (trace data and SQL parameters as JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payloads {
    by_method: BTreeMap<String, String>,
}

/// Why a payload could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadsError {
    /// seraph-harvest refused to build a payload.
    #[error(transparent)]
    Build(#[from] seraph_harvest::PayloadError),
    /// A logged payload is not JSON.
    #[error("{method} payload is not JSON: {source}")]
    Json {
        /// The method.
        method: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl Payloads {
    /// Every non-empty payload of `harvest`.
    pub fn from_harvest(harvest: Harvest, now: SystemTime) -> Result<Payloads, PayloadsError> {
        let mut by_method = BTreeMap::new();
        for (method, body) in payload::audit_payloads(AUDIT_RUN_ID, harvest, now)? {
            by_method.insert(
                method.to_owned(),
                String::from_utf8_lossy(&body).into_owned(),
            );
        }
        Ok(Payloads { by_method })
    }

    /// The payload of `method`, if any.
    pub fn get(&self, method: &str) -> Option<&str> {
        self.by_method.get(method).map(String::as_str)
    }

    /// True when no payload at all was received.
    pub fn is_empty(&self) -> bool {
        self.by_method.is_empty()
    }

    /// Methods present.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.by_method.keys().map(String::as_str)
    }

    /// Adds one transaction's payload of `method` (from a daemon log line),
    /// combining it with what is already there as a single harvest would:
    /// metrics summed per (name, scope), events and errors appended with
    /// their counts added, SQL rows merged by id, and only the slowest
    /// regular trace kept.
    pub fn absorb(&mut self, method: &str, json: &str) -> Result<(), PayloadsError> {
        let Some(existing) = self.by_method.get(method) else {
            self.by_method.insert(method.to_owned(), json.to_owned());
            return Ok(());
        };
        let parse = |s: &str| {
            serde_json::from_str::<Value>(s).map_err(|source| PayloadsError::Json {
                method: method.to_owned(),
                source,
            })
        };
        let mut a = parse(existing)?;
        let b = parse(json)?;
        match method {
            "metric_data" => merge_metrics(&mut a, &b),
            "analytic_event_data"
            | "custom_event_data"
            | "error_event_data"
            | "span_event_data" => merge_events(&mut a, &b),
            "error_data" => append_at(&mut a, &b, 1),
            "sql_trace_data" => merge_sql(&mut a, &b),
            "transaction_sample_data" => merge_traces(&mut a, &b),
            "log_event_data" => {
                if let (Some(x), Some(y)) = (
                    a.pointer_mut("/0/logs").and_then(Value::as_array_mut),
                    b.pointer("/0/logs").and_then(Value::as_array),
                ) {
                    x.extend(y.iter().cloned());
                }
            }
            _ => append_at(&mut a, &b, 1),
        }
        self.by_method.insert(method.to_owned(), a.to_string());
        Ok(())
    }
}

fn append_at(a: &mut Value, b: &Value, index: usize) {
    if let (Some(x), Some(y)) = (
        a.get_mut(index).and_then(Value::as_array_mut),
        b.get(index).and_then(Value::as_array),
    ) {
        x.extend(y.iter().cloned());
    }
}

fn merge_metrics(a: &mut Value, b: &Value) {
    let Some(add) = b.get(3).and_then(Value::as_array) else {
        return;
    };
    if let (Some(stop), Some(slot)) = (b.get(2).cloned(), a.get_mut(2)) {
        *slot = stop;
    }
    let Some(table) = a.get_mut(3).and_then(Value::as_array_mut) else {
        return;
    };
    for entry in add {
        let key = entry.get(0);
        match table.iter_mut().find(|e| e.get(0) == key) {
            Some(existing) => {
                let name = key
                    .and_then(|k| k.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let apdex = name == "Apdex" || name.starts_with("Apdex/");
                if let (Some(x), Some(y)) = (
                    existing.get_mut(1).and_then(Value::as_array_mut),
                    entry.get(1).and_then(Value::as_array),
                ) {
                    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
                    let mut merged = [0.0f64; 6];
                    for (i, m) in merged.iter_mut().enumerate() {
                        let (p, q) = (x.get(i).map_or(0.0, n), y.get(i).map_or(0.0, n));
                        *m = match i {
                            3 if !apdex => p.min(q),
                            4 if !apdex => p.max(q),
                            3 | 4 => q,
                            _ => p + q,
                        };
                    }
                    *x = merged.iter().map(|v| number(*v)).collect();
                }
            }
            None => table.push(entry.clone()),
        }
    }
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn merge_events(a: &mut Value, b: &Value) {
    let seen_b = b
        .pointer("/1/events_seen")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    if let Some(seen) = a.pointer_mut("/1/events_seen") {
        let total = seen.as_f64().unwrap_or(0.0) + seen_b;
        *seen = number(total);
        if total.fract() == 0.0 && total >= 0.0 {
            *seen = Value::from(total as u64);
        }
    }
    let cap = a
        .pointer("/1/reservoir_size")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
    append_at(a, b, 2);
    if let Some(list) = a.get_mut(2).and_then(Value::as_array_mut) {
        list.truncate(cap);
    }
}

fn merge_sql(a: &mut Value, b: &Value) {
    let Some(add) = b.get(0).and_then(Value::as_array) else {
        return;
    };
    let Some(rows) = a.get_mut(0).and_then(Value::as_array_mut) else {
        return;
    };
    for row in add {
        match rows.iter_mut().find(|r| r.get(2) == row.get(2)) {
            Some(existing) => {
                let f = |v: &Value, i: usize| v.get(i).and_then(Value::as_f64).unwrap_or(0.0);
                let (c1, c2) = (f(existing, 5), f(row, 5));
                let (t1, t2) = (f(existing, 6), f(row, 6));
                let slower = f(row, 8) > f(existing, 8);
                let min = f(existing, 7).min(f(row, 7));
                let max = f(existing, 8).max(f(row, 8));
                if slower {
                    *existing = row.clone();
                }
                if let Some(r) = existing.as_array_mut() {
                    if r.len() >= 9 {
                        r[5] = Value::from((c1 + c2) as u64);
                        r[6] = number(t1 + t2);
                        r[7] = number(min);
                        r[8] = number(max);
                    }
                }
            }
            None => rows.push(row.clone()),
        }
    }
}

fn merge_traces(a: &mut Value, b: &Value) {
    // Only regular traces occur in tests; keep the slowest.
    let dur = |v: &Value| {
        v.pointer("/1/0/1")
            .and_then(Value::as_f64)
            .unwrap_or(f64::MIN)
    };
    if dur(b) > dur(a) {
        *a = b.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seraph_wire::{decode, encode_transaction, Body, MetricData, TransactionData};
    use serde_json::json;

    fn harvest_of(txns: &[TransactionData]) -> Harvest {
        let mut h = Harvest::new(runner_limits(), SystemTime::UNIX_EPOCH);
        for t in txns {
            let body = encode_transaction("test.php", t);
            let mut scratch = Vec::new();
            let Body::Transaction(txn) = decode(&body, &mut scratch).unwrap().body else {
                panic!("not a transaction")
            };
            h.add_transaction(txn, body.len());
        }
        h
    }

    fn txn(event: &str) -> TransactionData {
        TransactionData {
            name: "OtherTransaction/php/test.php".into(),
            uri: "<unknown>".into(),
            txn_event: Some(event.into()),
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
            ..Default::default()
        }
    }

    #[test]
    fn harvest_payloads_use_runner_reservoirs_and_audit_run_id() {
        let p = Payloads::from_harvest(harvest_of(&[txn("[{},{},{}]")]), SystemTime::UNIX_EPOCH)
            .unwrap();
        let events: Value = serde_json::from_str(p.get("analytic_event_data").unwrap()).unwrap();
        assert_eq!(events[0], AUDIT_RUN_ID);
        assert_eq!(events[1], json!({"reservoir_size": 50, "events_seen": 1}));
        assert!(p.get("metric_data").is_some());
        assert!(p.get("span_event_data").is_none());
        assert_eq!(
            p.methods().collect::<Vec<_>>(),
            vec!["analytic_event_data", "metric_data"]
        );
    }

    #[test]
    fn absorbing_per_transaction_payloads_equals_one_harvest() {
        let t1 = txn(r#"[{"n":1},{},{}]"#);
        let t2 = txn(r#"[{"n":2},{},{}]"#);
        let whole = Payloads::from_harvest(
            harvest_of(&[t1.clone(), t2.clone()]),
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        let mut combined = Payloads::default();
        for t in [t1, t2] {
            let one = Payloads::from_harvest(harvest_of(&[t]), SystemTime::UNIX_EPOCH).unwrap();
            for m in one.methods() {
                combined.absorb(m, one.get(m).unwrap()).unwrap();
            }
        }
        for m in ["analytic_event_data", "metric_data"] {
            let a: Value = serde_json::from_str(whole.get(m).unwrap()).unwrap();
            let b: Value = serde_json::from_str(combined.get(m).unwrap()).unwrap();
            if m == "metric_data" {
                // TxnData/Size differs only if bodies differ; compare names and counts.
                assert_eq!(crate::metrics::table(&a), crate::metrics::table(&b));
            } else {
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn absorb_merges_metrics_sql_and_traces() {
        let mut p = Payloads::default();
        p.absorb(
            "metric_data",
            r#"["1",1,2,[[{"name":"A"},[1,2,2,2,2,4]],[{"name":"Apdex"},[1,0,0,0.5,0.5,0]]]]"#,
        )
        .unwrap();
        p.absorb("metric_data", r#"["1",2,3,[[{"name":"A"},[1,1,1,1,1,1]],[{"name":"B","scope":"s"},[1,0,0,0,0,0]],[{"name":"Apdex"},[0,1,0,0.5,0.5,0]]]]"#).unwrap();
        let m: Value = serde_json::from_str(p.get("metric_data").unwrap()).unwrap();
        assert_eq!(
            m,
            json!(["1", 1, 3, [
                [{"name": "A"}, [2.0, 3.0, 3.0, 1.0, 2.0, 5.0]],
                [{"name": "Apdex"}, [1.0, 1.0, 0.0, 0.5, 0.5, 0.0]],
                [{"name": "B", "scope": "s"}, [1, 0, 0, 0, 0, 0]]
            ]])
        );

        p.absorb(
            "sql_trace_data",
            r#"[[["t","u",7,"q","m",1,2.0,2.0,2.0,{}]]]"#,
        )
        .unwrap();
        p.absorb("sql_trace_data", r#"[[["t","u",7,"q","m",1,5.0,5.0,5.0,{"slow":1}],["t","u",8,"q","m",1,1.0,1.0,1.0,{}]]]"#).unwrap();
        let s: Value = serde_json::from_str(p.get("sql_trace_data").unwrap()).unwrap();
        assert_eq!(s[0].as_array().unwrap().len(), 2);
        assert_eq!(
            s[0][0],
            json!(["t", "u", 7, "q", "m", 2, 7.0, 2.0, 5.0, {"slow": 1}])
        );

        p.absorb("transaction_sample_data", r#"["1",[[0,10.0,"a"]]]"#)
            .unwrap();
        p.absorb("transaction_sample_data", r#"["1",[[0,5.0,"b"]]]"#)
            .unwrap();
        p.absorb("transaction_sample_data", r#"["1",[[0,20.0,"c"]]]"#)
            .unwrap();
        let t: Value = serde_json::from_str(p.get("transaction_sample_data").unwrap()).unwrap();
        assert_eq!(t[1][0][2], "c");

        p.absorb("error_data", r#"["1",[[1]]]"#).unwrap();
        p.absorb("error_data", r#"["1",[[2]]]"#).unwrap();
        assert_eq!(p.get("error_data"), Some(r#"["1",[[1],[2]]]"#));
        assert!(p.absorb("error_data", "not json").is_err());
    }
}
