//! Drives a Transaction the way the extension does for each captured
//! scenario's `script.php`, encodes and decodes the result, and compares it
//! with what New Relic's PHP agent 12.9 sent (`002-Transaction.json` in
//! `tests/vectors/`): metric names, flags and counts; the key
//! order and non-time values of every event, error, span and trace;
//! slow SQL ids, metrics and queries. Times, guids and priorities differ per
//! run and are compared by type only.

use seraph_txn::*;
use seraph_wire::{decode, Body, TransactionData};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

// ---------------------------------------------------------------------------
// Fixtures

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn load(scenario: &str, frame: &str) -> TransactionData {
    let path = vectors_dir().join(scenario).join(frame);
    let v: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let d = &v["data"];
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
    let events = |k: &str| -> Vec<String> {
        d[k].as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["data"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    TransactionData {
        name: s("name"),
        uri: s("uri"),
        synthetics_resource_id: None,
        pid: d["pid"].as_i64().unwrap_or(0) as i32,
        txn_event: d["txn_event"]["data"].as_str().map(str::to_owned),
        metrics: d["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let md = &m["data"];
                let f = |k: &str| md[k].as_f64().unwrap();
                seraph_wire::MetricData {
                    name: m["name"].as_str().unwrap().to_owned(),
                    count: f("count"),
                    total: f("total"),
                    exclusive: f("exclusive"),
                    min: f("min"),
                    max: f("max"),
                    sum_squares: f("sum_squares"),
                    scoped: md["scoped"].as_bool().unwrap(),
                    forced: md["forced"].as_bool().unwrap(),
                }
            })
            .collect(),
        errors: d["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| seraph_wire::ErrorData {
                        priority: e["priority"].as_i64().unwrap() as i32,
                        data: e["data"].as_str().unwrap().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        slow_sqls: d["slow_sqls"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|q| seraph_wire::SlowSqlData {
                        id: q["id"].as_u64().unwrap() as u32,
                        count: q["count"].as_i64().unwrap() as i32,
                        total_micros: q["total_micros"].as_u64().unwrap(),
                        min_micros: q["min_micros"].as_u64().unwrap(),
                        max_micros: q["max_micros"].as_u64().unwrap(),
                        metric: q["metric"].as_str().unwrap().to_owned(),
                        query: q["query"].as_str().unwrap().to_owned(),
                        params: q["params"].as_str().unwrap().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        custom_events: events("custom_events"),
        trace: d.get("trace").map(|t| seraph_wire::TraceData {
            timestamp: t["timestamp"].as_f64().unwrap(),
            duration: t["duration"].as_f64().unwrap(),
            guid: t["guid"].as_str().unwrap().to_owned(),
            force_persist: t["force_persist"].as_bool().unwrap_or(false),
            data: t["data"].as_str().unwrap().to_owned(),
        }),
        error_events: events("error_events"),
        sampling_priority: d["sampling_priority"].as_f64().unwrap(),
        span_events: events("span_events"),
        log_events: events("log_events"),
        php_packages: None,
        log_forwarding_labels: d["log_forwarding_labels"]["data"]
            .as_str()
            .map(str::to_owned),
    }
}

const CONNECT_REPLY: &str = r#"{"agent_run_id":"RUN-1","entity_guid":"GUID-1","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_traces":true,"collect_errors":true,"collect_analytics_events":true,"collect_custom_events":true,"collect_error_events":true,"collect_span_events":true,"apdex_t":0.5,"sampling_target":10,"event_harvest_config":{"report_period_ms":60000,"harvest_limits":{"analytic_event_data":10000,"custom_event_data":30000,"error_event_data":100,"span_event_data":2000,"log_event_data":10000}}}"#;

fn config() -> TxnConfig {
    TxnConfig {
        appname: "vectors".into(),
        php_version: "8.2.36".into(),
        agent_version: "12.9.0.0".into(),
        ..TxnConfig::default()
    }
}

fn one_ms_threshold(mut c: TxnConfig) -> TxnConfig {
    c.transaction_tracer.threshold = Threshold::Duration(1_000_000);
    c
}

const MS: u64 = 1_000_000; // ticks are nanoseconds
const START_US: u64 = 1_795_424_121_000_000;

/// A fake extension: one process, a function name table, a clock.
struct Ext {
    cfg: Arc<TxnConfig>,
    connect: Arc<ConnectInfo>,
    sampler: Sampler,
    ids: SeededIds,
    names: HashMap<FuncKey, String>,
}

impl Ext {
    fn new(cfg: TxnConfig) -> Self {
        let connect = ConnectInfo::from_connect_reply(CONNECT_REPLY).unwrap();
        Ext {
            sampler: Sampler::new(connect.sampling_target, connect.sampling_target_period),
            cfg: Arc::new(cfg),
            connect: Arc::new(connect),
            ids: SeededIds::new(0x5eed),
            names: HashMap::new(),
        }
    }

    fn func(&mut self, name: &str) -> FuncKey {
        if let Some((k, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return *k;
        }
        let key = 0x1000 + self.names.len() * 64;
        self.names.insert(key, name.to_owned());
        key
    }

    fn start(&mut self, kind: TxnKind, at_ticks: u64) -> Transaction {
        let now_us = START_US + at_ticks / 1000;
        let r = self.ids.next_f64();
        let sampling = self.sampler.decide(now_us, r);
        Transaction::start(
            kind,
            now_us,
            at_ticks,
            ClockScale::NANOS,
            self.cfg.clone(),
            self.connect.clone(),
            sampling,
            &mut self.ids,
        )
    }

    fn cli(&mut self) -> Transaction {
        self.start(
            TxnKind::Cli {
                script: "script.php".into(),
            },
            0,
        )
    }

    fn finish(&self, txn: Transaction, end_ticks: u64, user_calls: u64) -> TransactionData {
        let names = |k: FuncKey| self.names.get(&k).cloned();
        let usage = ResourceUsage {
            cpu_user_s: 0.0002,
            cpu_sys_s: 0.0,
            memory_mb: 16.66,
            user_call_count: user_calls,
        };
        let data = txn
            .finish(end_ticks, START_US + end_ticks / 1000, usage, &names, 4242)
            .expect("transaction is reported");
        // Through the real encoder and decoder, as the daemon will see it.
        let body = seraph_wire::encode_transaction("RUN-1", &data);
        let mut scratch = Vec::new();
        let msg = decode(&body, &mut scratch).expect("decodes");
        assert_eq!(msg.agent_run_id, Some("RUN-1"));
        let Body::Transaction(t) = msg.body else {
            panic!("not a Transaction")
        };
        TransactionData::from_fb(&t)
    }
}

// ---------------------------------------------------------------------------
// Comparison

const VOLATILE: &[&str] = &[
    "timestamp",
    "duration",
    "totalTime",
    "guid",
    "priority",
    "traceId",
    "transactionId",
    "parentId",
    "spanId",
    "nr.transactionGuid",
    "databaseDuration",
    "externalDuration",
    "queueDuration",
];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same structure, same key order, same values except for volatile keys.
fn same(path: &str, want: &Value, got: &Value) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let wk: Vec<&String> = w.keys().collect();
            let gk: Vec<&String> = g.keys().collect();
            assert_eq!(gk, wk, "{path}: keys");
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                if VOLATILE.contains(&k.as_str()) {
                    assert_eq!(kind(&g[k]), kind(wv), "{p}: type");
                } else {
                    same(&p, wv, &g[k]);
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(g.len(), w.len(), "{path}: length");
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                same(&format!("{path}[{i}]"), wv, gv);
            }
        }
        (Value::Number(w), Value::Number(g)) => {
            let (w, g) = (w.as_f64().unwrap(), g.as_f64().unwrap());
            assert!((w - g).abs() < 1e-9, "{path}: {g} != {w}");
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON {s}: {e}"))
}

/// Every double inside the agent's JSON strings has exactly 5 decimals.
fn five_decimals(what: &str, s: &str) {
    let re = regex::Regex::new(r#"[:\[,](-?[0-9]+\.[0-9]+)"#).unwrap();
    for c in re.captures_iter(s) {
        let n = &c[1];
        let decimals = n.split('.').nth(1).unwrap().len();
        assert_eq!(decimals, 5, "{what}: {n} in {s}");
    }
    assert!(
        !s.contains("\":\"/") || s.contains("\\/"),
        "{what}: unescaped slash in {s}"
    );
}

fn metrics_of(t: &TransactionData) -> BTreeMap<(String, bool), (bool, f64)> {
    t.metrics
        .iter()
        .map(|m| ((m.name.clone(), m.scoped), (m.forced, m.count)))
        .collect()
}

fn compare_metrics(scenario: &str, want: &TransactionData, got: &TransactionData) {
    let (w, g) = (metrics_of(want), metrics_of(got));
    let wk: BTreeSet<_> = w.keys().collect();
    let gk: BTreeSet<_> = g.keys().collect();
    assert_eq!(
        gk.difference(&wk).collect::<Vec<_>>(),
        Vec::<&&(String, bool)>::new(),
        "{scenario}: unexpected metrics"
    );
    assert_eq!(
        wk.difference(&gk).collect::<Vec<_>>(),
        Vec::<&&(String, bool)>::new(),
        "{scenario}: missing metrics"
    );
    for (k, v) in &w {
        assert_eq!(g[k], *v, "{scenario}: metric {k:?} (forced, count)");
    }
    // Values that do not depend on timing.
    for m in &want.metrics {
        let exact = m.name.starts_with("Apdex")
            || m.name.starts_with("Supportability/")
            || m.name.starts_with("Errors")
            || m.name.starts_with("TransportDuration");
        if exact {
            let gm = got
                .metrics
                .iter()
                .find(|x| x.name == m.name && x.scoped == m.scoped)
                .unwrap();
            assert_eq!(gm, m, "{scenario}: values of {}", m.name);
        }
    }
}

fn compare_event_list(what: &str, want: &[String], got: &[String]) {
    assert_eq!(got.len(), want.len(), "{what}: count");
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        five_decimals(what, w);
        five_decimals(what, g);
        same(&format!("{what}[{i}]"), &parse(w), &parse(g));
    }
}

/// Span events: same names, categories and parent links; same key order
/// and non-volatile values.
fn compare_spans(what: &str, want: &[String], got: &[String]) {
    assert_eq!(got.len(), want.len(), "{what}: span count");
    let links = |spans: &[String]| -> Vec<(String, Option<usize>)> {
        let parsed: Vec<Value> = spans.iter().map(|s| parse(s)).collect();
        let index: HashMap<String, usize> = parsed
            .iter()
            .enumerate()
            .map(|(i, s)| (s[0]["guid"].as_str().unwrap().to_owned(), i))
            .collect();
        parsed
            .iter()
            .map(|s| {
                let parent = if s[0].get("nr.entryPoint").is_some() {
                    None
                } else {
                    Some(index[s[0]["parentId"].as_str().unwrap()])
                };
                (s[0]["name"].as_str().unwrap().to_owned(), parent)
            })
            .collect()
    };
    assert_eq!(links(got), links(want), "{what}: names and parent links");
    compare_event_list(what, want, got);
}

/// The trace tree with names resolved and times dropped.
fn trace_tree(data: &str) -> (Value, Value) {
    let v = parse(data);
    let table: Vec<String> = v[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    fn node(n: &Value, table: &[String]) -> Value {
        let a = n.as_array().unwrap();
        assert!(
            a[0].as_u64().unwrap() <= a[1].as_u64().unwrap(),
            "node times in order"
        );
        let name = a[2].as_str().unwrap();
        let name = match name.strip_prefix('`') {
            Some(i) => table[i.parse::<usize>().unwrap()].clone(),
            None => name.to_owned(),
        };
        let kids: Vec<Value> = a[4]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| node(c, table))
            .collect();
        serde_json::json!({"name": name, "params": a[3], "children": kids})
    }
    let root = &v[0];
    assert_eq!(root[0], 0);
    assert_eq!(root[1], serde_json::json!({}));
    assert_eq!(root[2], serde_json::json!({}));
    (node(&root[3], &table), root[4].clone())
}

fn compare(scenario: &str, want: &TransactionData, got: &TransactionData) {
    assert_eq!(got.name, want.name, "{scenario}: name");
    assert_eq!(got.uri, want.uri, "{scenario}: uri");
    compare_metrics(scenario, want, got);
    compare_event_list(
        &format!("{scenario} txn_event"),
        want.txn_event.as_slice(),
        got.txn_event.as_slice(),
    );
    compare_event_list(
        &format!("{scenario} custom_events"),
        &want.custom_events,
        &got.custom_events,
    );
    compare_event_list(
        &format!("{scenario} error_events"),
        &want.error_events,
        &got.error_events,
    );
    compare_spans(
        &format!("{scenario} span_events"),
        &want.span_events,
        &got.span_events,
    );
    assert_eq!(got.errors.len(), want.errors.len(), "{scenario}: errors");
    for (w, g) in want.errors.iter().zip(&got.errors) {
        assert_eq!(g.priority, w.priority, "{scenario}: error priority");
        five_decimals("error", &w.data);
        five_decimals("error", &g.data);
        let (w, g) = (parse(&w.data), parse(&g.data));
        assert!(
            g[0].is_u64() && g[5].is_string(),
            "{scenario}: error ts/guid"
        );
        same(
            &format!("{scenario} error"),
            &w.as_array().unwrap()[1..5].into(),
            &g.as_array().unwrap()[1..5].into(),
        );
    }
    assert_eq!(
        got.trace.is_some(),
        want.trace.is_some(),
        "{scenario}: trace presence"
    );
    if let (Some(w), Some(g)) = (&want.trace, &got.trace) {
        assert!(!g.force_persist);
        assert_eq!(g.guid.len(), 16);
        let (wt, wh) = trace_tree(&w.data);
        let (gt, gh) = trace_tree(&g.data);
        assert_eq!(gt, wt, "{scenario}: trace tree");
        same(&format!("{scenario} trace header"), &wh, &gh);
        five_decimals("trace", &g.data);
        // The string table lists each name once, in first-use order.
        let table = |d: &str| parse(d)[1].clone();
        assert_eq!(table(&g.data), table(&w.data), "{scenario}: string table");
    }
    assert_eq!(
        got.slow_sqls.len(),
        want.slow_sqls.len(),
        "{scenario}: slow sqls"
    );
    let mut ws = want.slow_sqls.clone();
    let mut gs = got.slow_sqls.clone();
    ws.sort_by_key(|s| s.id);
    gs.sort_by_key(|s| s.id);
    for (w, g) in ws.iter().zip(&gs) {
        assert_eq!(
            (g.id, g.count, &g.metric, &g.query),
            (w.id, w.count, &w.metric, &w.query),
            "{scenario}: slow sql"
        );
        assert_eq!(
            parse(&g.params),
            parse(&w.params),
            "{scenario}: slow sql params"
        );
    }
    assert_eq!(got.log_forwarding_labels, want.log_forwarding_labels);
    assert!(got.log_events.is_empty() && got.php_packages.is_none());
    assert!(got.sampling_priority >= 0.0 && got.sampling_priority < 2.0);
}

fn check(scenario: &str, frame: &str, got: &TransactionData) {
    let want = load(scenario, frame);
    if std::env::var_os("SERAPH_TXN_DUMP").is_some() {
        println!("=== {scenario}/{frame}\n{got:#?}");
    }
    compare(scenario, &want, got);
}

// ---------------------------------------------------------------------------
// Scenarios

fn counts(txn: &mut Transaction, name: &str, n: usize) {
    for _ in 0..n {
        txn.count_metric(&format!("Supportability/InstrumentedFunction/{name}"));
    }
}

#[test]
fn cli_minimal() {
    let ext = &mut Ext::new(config());
    let txn = ext.cli();
    let got = ext.finish(txn, 305_000, 0);
    check("01-cli-minimal", "002-Transaction.json", &got);
    let alloc = got
        .metrics
        .iter()
        .find(|m| m.name == "Supportability/execute/allocated_segment_count")
        .unwrap();
    assert_eq!(alloc.total, 1e-6);
}

#[test]
fn cli_custom() {
    let ext = &mut Ext::new(config());
    let slow_work = ext.func("slow_work");
    let mut txn = ext.cli();
    txn.enter(slow_work, 200_000);
    txn.leave(20_400_000);
    for (k, v) in [
        ("user_id", AttrValue::Int(42)),
        ("plan", "gold".into()),
        ("ratio", 0.25.into()),
        ("beta", true.into()),
    ] {
        txn.count_api("add_custom_parameter");
        assert!(txn.add_custom_parameter(k, v));
    }
    txn.count_api("record_custom_event");
    assert!(txn.record_custom_event(
        "VectorsEvent",
        vec![
            ("k".into(), "v".into()),
            ("n".into(), 7.into()),
            ("f".into(), 1.5.into()),
            ("b".into(), false.into()),
        ],
        START_US + 20_500,
    ));
    txn.count_api("custom_metric");
    assert!(txn.add_custom_metric("Custom/vectors/value", 123.0));
    txn.count_api("name_transaction");
    assert!(txn.set_name(NameSource::Api, "custom/name"));
    let got = ext.finish(txn, 20_941_000, 1);
    check("02-cli-custom", "002-Transaction.json", &got);
    let custom = got
        .metrics
        .iter()
        .find(|m| m.name == "Custom/vectors/value")
        .unwrap();
    assert_eq!(
        (custom.total, custom.forced, custom.scoped),
        (0.123, false, false)
    );
    assert!(got.custom_events[0].contains(r#"{"b":false,"f":1.50000,"n":7,"k":"v"}"#));
    assert!(got
        .txn_event
        .unwrap()
        .contains(r#"{"beta":true,"ratio":0.25000,"plan":"gold","user_id":42}"#));
}

fn user_warning(script: &str, line: u32, now: u64) -> NoticedError {
    NoticedError {
        priority: 40,
        message: "user warning here".into(),
        class: "E_USER_WARNING".into(),
        stack_trace: vec![format!(
            " in trigger_error called at /tmp/vec/work/03-cli-error/{script}/script.php ({line})"
        )],
        now_unix_us: now,
    }
}

fn api_error(script: &str, line: u32, now: u64) -> NoticedError {
    NoticedError {
        priority: 50,
        message: "msg".into(),
        class: "NoticedError".into(),
        stack_trace: vec![format!(
            " in newrelic_notice_error called at /tmp/vec/work/03-cli-error/{script}/script.php ({line})"
        )],
        now_unix_us: now,
    }
}

#[test]
fn cli_error_uncaught() {
    let ext = &mut Ext::new(config());
    let fail = ext.func("fail");
    let mut txn = ext.cli();
    txn.notice_error(user_warning("a-uncaught", 6, START_US + 100));
    txn.count_api("notice_error");
    txn.notice_error(api_error("a-uncaught", 7, START_US + 200));
    txn.enter(fail, 300_000);
    let msg = "Uncaught exception 'RuntimeException' with message 'uncaught boom' in /tmp/vec/work/03-cli-error/a-uncaught/script.php:3";
    txn.set_current_segment_error("RuntimeException", msg);
    txn.leave(330_000);
    txn.notice_error(NoticedError {
        priority: 100,
        message: msg.into(),
        class: "RuntimeException".into(),
        stack_trace: vec![
            " in fail called at /tmp/vec/work/03-cli-error/a-uncaught/script.php (9)".into(),
        ],
        now_unix_us: START_US + 530,
    });
    let got = ext.finish(txn, 626_000, 1);
    check("03-cli-error/a-uncaught", "002-Transaction.json", &got);
}

#[test]
fn cli_error_no_uncaught() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.notice_error(user_warning("b-no-uncaught", 3, START_US + 100));
    txn.count_api("notice_error");
    txn.notice_error(api_error("b-no-uncaught", 4, START_US + 200));
    let got = ext.finish(txn, 607_000, 0);
    check("03-cli-error/b-no-uncaught", "002-Transaction.json", &got);
}

#[test]
fn cli_error_warning_only() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.notice_error(user_warning("c-warning-only", 3, START_US + 100));
    let got = ext.finish(txn, 431_000, 0);
    check("03-cli-error/c-warning-only", "002-Transaction.json", &got);
}

#[test]
fn cli_trace() {
    let ext = &mut Ext::new(one_ms_threshold(config()));
    let (a, b, c) = (ext.func("a"), ext.func("b"), ext.func("c"));
    let mut txn = ext.cli();
    let mut t = 100_000;
    for _ in 0..2 {
        txn.enter(a, t);
        txn.enter(b, t + 2 * MS + 100_000);
        txn.enter(c, t + 5 * MS + 200_000);
        txn.leave(t + 10 * MS + 250_000);
        txn.leave(t + 10 * MS + 280_000);
        txn.leave(t + 10 * MS + 300_000);
        t += 10 * MS + 350_000;
    }
    let got = ext.finish(txn, 21_033_000, 6);
    check("04-cli-trace", "002-Transaction.json", &got);
}

#[test]
fn pdo_sqlite() {
    let mut cfg = one_ms_threshold(config());
    cfg.transaction_tracer.explain_threshold_ns = MS;
    let ext = &mut Ext::new(cfg);
    let construct = ext.func("PDO::__construct");
    let exec = ext.func("PDO::exec");
    let execute = ext.func("PDOStatement::execute");
    let query = ext.func("PDO::query");
    let mut txn = ext.cli();
    let sqlite = |sql: &str, bt: Option<&str>| DatastoreCall {
        product: "SQLite".into(),
        sql: Some(sql.into()),
        backtrace: bt.map(|b| vec![b.to_owned()]),
        ..DatastoreCall::default()
    };
    let bt16 = " in PDO::query called at /tmp/vec/work/05-pdo-sqlite/script.php (16)";
    let bt20 = " in PDO::query called at /tmp/vec/work/05-pdo-sqlite/script.php (20)";
    counts(&mut txn, "pdo::__construct", 1);
    txn.enter(construct, 50_000);
    txn.leave(60_000);
    counts(&mut txn, "pdo::exec", 1);
    txn.enter(exec, 100_000);
    txn.leave_datastore(
        363_000,
        sqlite(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)",
            Some(bt16),
        ),
    );
    counts(&mut txn, "pdo::prepare", 2);
    let insert = "INSERT INTO users (name, email) VALUES (?, ?)";
    counts(&mut txn, "pdostatement::execute", 3);
    txn.enter(execute, 400_000);
    txn.leave_datastore(412_000, sqlite(insert, Some(bt16)));
    txn.enter(execute, 420_000);
    txn.leave_datastore(424_000, sqlite(insert, None));
    txn.enter(execute, 500_000);
    txn.leave_datastore(
        503_000,
        sqlite("SELECT id, name FROM users WHERE name = :name", None),
    );
    counts(&mut txn, "pdo::query", 2);
    txn.enter(query, 600_000);
    let with = "WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM cnt WHERE x < 200000) SELECT count(*) FROM cnt WHERE x > 'abc' OR x > 0";
    assert!(txn.current_wants_backtrace(92_588_000));
    txn.leave_datastore(92_588_000, sqlite(with, Some(bt16)));
    txn.enter(query, 92_700_000);
    let select = "SELECT count(*) FROM users WHERE email LIKE '%@example.com' AND (SELECT count(*) FROM (WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM cnt WHERE x < 200000) SELECT x FROM cnt)) > 0";
    txn.leave_datastore(171_343_000, sqlite(select, Some(bt20)));
    let got = ext.finish(txn, 171_957_000, 0);
    check("05-pdo-sqlite", "002-Transaction.json", &got);
}

#[test]
fn curl_external() {
    let ext = &mut Ext::new(one_ms_threshold(config()));
    let fetch = ext.func("fetch");
    let curl_exec = ext.func("curl_exec");
    let mut txn = ext.cli();
    txn.enter(fetch, 100_000);
    counts(&mut txn, "curl_init", 1);
    counts(&mut txn, "curl_setopt", 4);
    counts(&mut txn, "curl_exec", 1);
    txn.enter(curl_exec, 200_000);
    let mut ids = SeededIds::new(9);
    let headers = txn.create_dt_headers(START_US + 210, &mut ids);
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["newrelic", "traceparent", "tracestate"]);
    // The curl_exec wrapper's own segment (see the crate report).
    txn.add_allocated_segments(1);
    txn.leave_external(
        1_099_000,
        ExternalCall {
            url: "http://127.0.0.1:18088/echo?x=1".into(),
            library: "curl".into(),
            procedure: "GET".into(),
            status: Some(200),
        },
    );
    txn.leave(1_200_000);
    let trace_id = txn.trace_id().to_owned();
    let got = ext.finish(txn, 1_268_000, 1);
    check("06-curl-external", "002-Transaction.json", &got);

    // The headers name the External span and the transaction.
    let external: Value = parse(&got.span_events[1]);
    let span_id = external[0]["guid"].as_str().unwrap();
    let h: HashMap<&str, &str> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(h["traceparent"], format!("00-{trace_id:0>32}-{span_id}-01"));
    let ts = h["tracestate"];
    assert!(
        ts.starts_with(&format!("1@nr=0-0-1-2-{span_id}-{trace_id}-1-")),
        "{ts}"
    );
    let prio = ts.split('-').nth(7).unwrap();
    assert_eq!(prio.split('.').nth(1).unwrap().len(), 6);
    use base64::Engine as _;
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(h["newrelic"])
            .unwrap(),
    )
    .unwrap();
    let keys: Vec<&String> = payload["d"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ty", "ac", "ap", "id", "tr", "tx", "pr", "sa", "ti"]);
    assert_eq!(payload["d"]["id"], span_id);
}

fn cgi_request(uri: &str) -> TxnKind {
    TxnKind::Web(WebRequest {
        method: "GET".into(),
        uri: uri.into(),
        script_name: "/index.php".into(),
        headers: vec![
            ("HTTP_HOST".into(), "shop.example.test".into()),
            ("HTTP_ACCEPT".into(), "text/html".into()),
        ],
    })
}

fn web_cgi(scenario: &str, status: u16) {
    let ext = &mut Ext::new(config());
    let mut txn = ext.start(cgi_request("/shop/item?id=3"), 0);
    txn.set_response_code(status);
    txn.add_response_header("Content-type", "text/html; charset=UTF-8");
    let got = ext.finish(txn, 10_949_000, 0);
    check(scenario, "002-Transaction.json", &got);
}

#[test]
fn web_cgi_200() {
    web_cgi("07-web-cgi/a-200", 200);
}

#[test]
fn web_cgi_500() {
    web_cgi("07-web-cgi/b-500", 500);
}

fn inbound(start_ms: u64) -> Vec<(String, String)> {
    vec![
        (
            "traceparent".into(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        ),
        (
            "tracestate".into(),
            format!(
                "1@nr=0-0-1-2-b7ad6b7169203331-e8b91a159289ff74-1-1.23456-{},other=foo",
                start_ms - 2500 + 1
            ),
        ),
    ]
}

#[test]
fn dt_accept_then_insert() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.count_api("accept_distributed_trace_headers");
    assert!(txn.accept_dt_headers(&inbound(START_US / 1000), "HTTP", START_US + 100));
    txn.count_api("insert_distributed_trace_headers");
    let mut ids = SeededIds::new(3);
    let out = txn.create_dt_headers(START_US + 200, &mut ids);
    txn.count_api("get_linking_metadata");
    let span = txn.current_span_id();
    txn.count_api("get_trace_metadata");
    assert_eq!(txn.trace_id(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(txn.priority(), 1.23456);
    let h: HashMap<&str, &str> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        h["traceparent"],
        format!("00-0af7651916cd43dd8448eb211c80319c-{span}-01")
    );
    assert!(
        h["tracestate"].contains("-1-1.234560-"),
        "{}",
        h["tracestate"]
    );
    let got = ext.finish(txn, 567_000, 0);
    check(
        "08-api-dt/a-accept-then-insert",
        "002-Transaction.json",
        &got,
    );
    let root = parse(&got.span_events[0]);
    assert_eq!(root[0]["parentId"], "b7ad6b7169203331");
    assert_eq!(root[0]["trustedParentId"], "b7ad6b7169203331");
    assert_eq!(root[0]["tracingVendors"], "other");
    assert_eq!(root[0]["guid"], span.as_str());
    let event = parse(got.txn_event.as_ref().unwrap());
    assert_eq!(event[0]["traceId"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(event[0]["parentId"], "e8b91a159289ff74");
    assert_eq!(event[0]["parentSpanId"], "b7ad6b7169203331");
}

#[test]
fn dt_insert_then_accept() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.count_api("insert_distributed_trace_headers");
    let mut ids = SeededIds::new(3);
    let own_trace = txn.trace_id().to_owned();
    txn.create_dt_headers(START_US + 100, &mut ids);
    txn.count_api("accept_distributed_trace_headers");
    assert!(!txn.accept_dt_headers(&inbound(START_US / 1000), "HTTP", START_US + 200));
    txn.count_api("get_linking_metadata");
    txn.current_span_id();
    txn.count_api("get_trace_metadata");
    assert_eq!(txn.trace_id(), own_trace);
    let got = ext.finish(txn, 356_000, 0);
    check(
        "08-api-dt/b-insert-then-accept",
        "002-Transaction.json",
        &got,
    );
}

#[test]
fn background_web() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.start(cgi_request("/jobs/run"), 0);
    txn.count_api("background_job");
    txn.set_background(true);
    // The SAPI still reports a status and content type; background jobs
    // do not record them.
    txn.set_response_code(200);
    txn.add_response_header("Content-Type", "text/html; charset=UTF-8");
    let got = ext.finish(txn, 5_490_000, 0);
    check(
        "09-ignore-background/a-background-web",
        "002-Transaction.json",
        &got,
    );
}

#[test]
fn background_cli() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.count_api("background_job");
    txn.set_background(true);
    let got = ext.finish(txn, 5_596_000, 0);
    check(
        "09-ignore-background/b-background-cli",
        "002-Transaction.json",
        &got,
    );
}

#[test]
fn ignored_transaction_sends_nothing() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.ignore();
    assert!(txn.is_ignored());
    let names = |_k: FuncKey| None;
    assert!(txn
        .finish(5 * MS, START_US + 5000, ResourceUsage::default(), &names, 1)
        .is_none());
}

#[test]
fn three_transactions_in_one_process() {
    let ext = &mut Ext::new(config());
    let work = ext.func("work");
    // 1: the automatic transaction, ended by the API.
    let mut txn = ext.cli();
    txn.enter(work, 300_000);
    txn.leave(5_450_000);
    txn.count_api("end_transaction");
    let got = ext.finish(txn, 5_578_000, 1);
    check(
        "10-long-cli/a-three-transactions",
        "002-Transaction.json",
        &got,
    );
    // 2 and 3: started by the API.
    for (frame, name, ends) in [
        ("003-Transaction.json", "second", true),
        ("004-Transaction.json", "third", false),
    ] {
        let t0 = 6 * MS;
        let mut txn = ext.start(
            TxnKind::Cli {
                script: "script.php".into(),
            },
            t0,
        );
        txn.count_api("start_transaction");
        txn.count_api("name_transaction");
        assert!(txn.set_name(NameSource::Api, name));
        txn.enter(work, t0 + 100_000);
        txn.leave(t0 + 5_250_000);
        if ends {
            txn.count_api("end_transaction");
        }
        let got = ext.finish(txn, t0 + 5_485_000, 1);
        check("10-long-cli/a-three-transactions", frame, &got);
    }
}

#[test]
fn app_refresh_transactions() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.count_api("end_transaction");
    let got = ext.finish(txn, 5_470_000, 0);
    check("10-long-cli/b-app-refresh", "002-Transaction.json", &got);
    let t0 = 21_000 * MS;
    let mut txn = ext.start(
        TxnKind::Cli {
            script: "script.php".into(),
        },
        t0,
    );
    txn.count_api("start_transaction");
    txn.count_api("name_transaction");
    txn.set_name(NameSource::Api, "after-refresh");
    let got = ext.finish(txn, t0 + 5_836_000, 0);
    check("10-long-cli/b-app-refresh", "004-Transaction.json", &got);
}

#[test]
#[should_panic(expected = "keys")]
fn the_comparison_notices_differences() {
    let ext = &mut Ext::new(config());
    let mut txn = ext.cli();
    txn.add_custom_parameter("extra", 1.into());
    let got = ext.finish(txn, 305_000, 0);
    let mut want = load("01-cli-minimal", "002-Transaction.json");
    // Metrics match; the user attribute must be caught in the event.
    want.metrics = got.metrics.clone();
    compare("01-cli-minimal", &want, &got);
}

#[test]
#[should_panic(expected = "metrics")]
fn the_comparison_notices_missing_metrics() {
    let ext = &mut Ext::new(config());
    let txn = ext.cli();
    let got = ext.finish(txn, 305_000, 0);
    let mut want = load("02-cli-custom", "002-Transaction.json");
    want.name = got.name.clone();
    compare("02-cli-custom", &want, &got);
}
