//! Behaviour beyond the captured vectors: naming precedence, apdex, rules,
//! DT accept rules, error priorities, limits and the recorder's bounds.

use seraph_txn::*;
use serde_json::Value;
use std::sync::Arc;

const MS: u64 = 1_000_000;
const T0_US: u64 = 1_700_000_000_000_000;

fn connect(extra: &str) -> ConnectInfo {
    let base = r#""agent_run_id":"R","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_traces":true,"collect_errors":true"#;
    let sep = if extra.is_empty() { "" } else { "," };
    ConnectInfo::from_connect_reply(&format!("{{{base}{sep}{extra}}}")).unwrap()
}

fn start_with(kind: TxnKind, cfg: TxnConfig, c: ConnectInfo, sampled: bool) -> Transaction {
    let mut ids = SeededIds::new(11);
    Transaction::start(
        kind,
        T0_US,
        0,
        ClockScale::NANOS,
        Arc::new(cfg),
        Arc::new(c),
        (sampled, if sampled { 1.5 } else { 0.5 }),
        &mut ids,
    )
}

fn cli(cfg: TxnConfig) -> Transaction {
    start_with(
        TxnKind::Cli {
            script: "job.php".into(),
        },
        cfg,
        connect(""),
        true,
    )
}

fn web(cfg: TxnConfig, c: ConnectInfo) -> Transaction {
    start_with(
        TxnKind::Web(WebRequest {
            method: "POST".into(),
            uri: "/api/users/42?x=1".into(),
            script_name: "/index.php".into(),
            headers: vec![
                ("Host".into(), "h".into()),
                ("Content-Length".into(), "12".into()),
                (
                    "X-Request-Start".into(),
                    format!("t={}", (T0_US - 3000) as f64 / 1e6),
                ),
                ("User-Agent".into(), "ua".into()),
                ("Referer".into(), "http://r/x?secret=1".into()),
            ],
        }),
        cfg,
        c,
        true,
    )
}

fn names(k: FuncKey) -> Option<String> {
    Some(format!("f{k}"))
}

fn finish(t: Transaction, end: u64) -> Option<seraph_wire::TransactionData> {
    t.finish(end, T0_US + end / 1000, ResourceUsage::default(), &names, 1)
}

fn metric<'a>(
    d: &'a seraph_wire::TransactionData,
    name: &str,
) -> Option<&'a seraph_wire::MetricData> {
    d.metrics.iter().find(|m| m.name == name)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn naming_precedence() {
    let mut t = cli(TxnConfig::default());
    assert!(t.set_name(NameSource::Function, "Ctl::show"));
    assert!(
        !t.set_name(NameSource::Function, "Other::fn"),
        "function names do not overwrite"
    );
    assert!(
        !t.set_name(NameSource::File, "file.php"),
        "lower precedence"
    );
    assert!(!t.set_name(NameSource::Default, "x.php"));
    assert!(t.set_name(NameSource::Api, "first"));
    assert!(
        t.set_name(NameSource::Api, "/second"),
        "API names overwrite"
    );
    assert!(!t.set_name(NameSource::Api, ""));
    let d = finish(t, MS).unwrap();
    assert_eq!(d.name, "OtherTransaction/Custom/second");
    assert!(metric(&d, "OtherTransactionTotalTime/Custom/second").is_some());

    let mut t = web(TxnConfig::default(), connect(""));
    t.set_name(NameSource::Function, "Ctl::show");
    assert_eq!(
        finish(t, MS).unwrap().name,
        "WebTransaction/Function/Ctl::show"
    );
}

#[test]
fn web_transaction_attributes_queue_and_apdex() {
    let mut t = web(TxnConfig::default(), connect(""));
    t.set_response_code(404);
    t.add_response_header("Content-Length", "77");
    let d = finish(t, 1000 * MS).unwrap(); // 1 s: tolerating (apdex_t 0.5)
    assert_eq!(d.name, "WebTransaction/Uri/index.php");
    assert_eq!(d.uri, "/api/users/42");
    let apdex = metric(&d, "Apdex").unwrap();
    assert_eq!(
        (apdex.count, apdex.total, apdex.exclusive, apdex.min),
        (0.0, 1.0, 0.0, 0.5)
    );
    let q = metric(&d, "WebFrontend/QueueTime").unwrap();
    assert_eq!(q.total, 0.003);
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[0]["nr.apdexPerfZone"], "T");
    assert_eq!(ev[0]["queueDuration"], 0.003);
    let agent = ev[2].as_object().unwrap();
    let keys: Vec<&str> = agent.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "response.headers.contentLength",
            "http.statusCode",
            "response.statusCode",
            "httpResponseCode",
            "request.uri",
            "request.method",
            "request.headers.host",
            "request.headers.contentLength",
        ]
    );
    // Referer and user agent go to errors and traces only.
    assert!(!d.txn_event.as_ref().unwrap().contains("userAgent"));
}

#[test]
fn errors_make_apdex_failing_and_ignore_apdex_drops_it() {
    let mut t = web(TxnConfig::default(), connect(""));
    t.notice_error(NoticedError {
        priority: 50,
        message: "m".into(),
        class: "C".into(),
        stack_trace: vec![],
        now_unix_us: T0_US + 10,
    });
    let d = finish(t, MS).unwrap();
    assert_eq!(metric(&d, "Apdex").unwrap().exclusive, 1.0);
    assert!(metric(&d, "Errors/allWeb").is_some());
    assert!(metric(&d, "Errors/WebTransaction/Uri/index.php").is_some());
    let err = json(&d.errors[0].data);
    assert_eq!(err[4]["request_uri"], "/api/users/42");
    let agent = err[4]["agentAttributes"].as_object().unwrap();
    assert!(agent.contains_key("request.headers.referer"));
    assert_eq!(agent["request.headers.referer"], "http://r/x");
    assert!(agent.contains_key("request.headers.userAgent"));

    let mut t = web(TxnConfig::default(), connect(""));
    t.ignore_apdex();
    let d = finish(t, MS).unwrap();
    assert!(metric(&d, "Apdex").is_none());
    assert!(!d.txn_event.unwrap().contains("apdexPerfZone"));
}

#[test]
fn key_transactions_and_rules() {
    let c = connect(
        r#""web_transactions_apdex":{"WebTransaction/Uri/index.php":0.01},
        "url_rules":[{"match_expression":"^/index\\.php$","replacement":"/home","eval_order":1}],
        "transaction_segment_terms":[{"prefix":"WebTransaction/Uri","terms":["home"]}]"#,
    );
    let t = web(TxnConfig::default(), c);
    let d = finish(t, 30 * MS).unwrap();
    assert_eq!(d.name, "WebTransaction/Uri/home");

    let c = connect(r#""web_transactions_apdex":{"WebTransaction/Uri/index.php":0.01}"#);
    let d = finish(web(TxnConfig::default(), c), 30 * MS).unwrap();
    let apdex = metric(&d, "Apdex").unwrap();
    assert_eq!(
        (apdex.total, apdex.min),
        (1.0, 0.01),
        "30 ms is tolerating for apdex_t 10 ms"
    );

    let c = connect(r#""transaction_name_rules":[{"match_expression":"job","ignore":true}]"#);
    let t = start_with(
        TxnKind::Cli {
            script: "job.php".into(),
        },
        TxnConfig::default(),
        c,
        true,
    );
    assert!(
        finish(t, MS).is_none(),
        "an ignore rule drops the transaction"
    );
}

#[test]
fn error_priorities() {
    let e = |p: i32, m: &str| NoticedError {
        priority: p,
        message: m.into(),
        class: format!("C{p}"),
        stack_trace: vec!["s".into()],
        now_unix_us: T0_US,
    };
    let mut t = cli(TxnConfig::default());
    t.notice_error(e(50, "a"));
    t.notice_error(e(40, "lower"));
    t.notice_error(e(50, "tie"));
    let d = finish(t, MS).unwrap();
    let err = json(&d.errors[0].data);
    assert_eq!(err[2], "tie");
    assert_eq!(d.errors[0].priority, 50);

    // ignore_exceptions is the caller's test (New Relic applies it to
    // uncaught exceptions only, matching parents and interfaces too).
    let mut cfg = TxnConfig::default();
    cfg.error_collector.ignore_exceptions = vec!["c50".into(), "\\App\\Skip".into()];
    let mut t = cli(cfg);
    assert!(t.ignores_exception(&["Sub", "C50"]));
    assert!(t.ignores_exception(&["app\\skip"]));
    assert!(!t.ignores_exception(&["C40", "Throwable"]));
    assert!(t.notice_error(e(50, "noticed, not filtered")));
    assert_eq!(finish(t, MS).unwrap().errors.len(), 1);

    let cfg = TxnConfig {
        high_security: true,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    t.notice_error(e(50, "secret"));
    assert!(!t.add_custom_parameter("k", 1.into()));
    assert!(!t.record_custom_event("E", vec![], T0_US));
    let d = finish(t, MS).unwrap();
    assert_eq!(
        json(&d.errors[0].data)[2],
        "Message removed by New Relic high_security setting"
    );

    let mut cfg = TxnConfig::default();
    cfg.error_collector.capture_events = false;
    let mut t = cli(cfg);
    t.notice_error(e(50, "x"));
    let d = finish(t, MS).unwrap();
    assert_eq!((d.errors.len(), d.error_events.len()), (1, 0));

    let mut t = start_with(
        TxnKind::Cli { script: "a".into() },
        TxnConfig::default(),
        ConnectInfo::from_connect_reply(r#"{"agent_run_id":"R"}"#).unwrap(),
        true,
    );
    t.notice_error(e(50, "x"));
    assert!(
        finish(t, MS).unwrap().errors.is_empty(),
        "collect_errors defaults to false"
    );
    let mut cfg = TxnConfig::default();
    cfg.error_collector.ignore_errors = 2 | 8; // E_WARNING | E_NOTICE
    let t = cli(cfg);
    assert!(t.ignores_php_error(8) && !t.ignores_php_error(512));
}

#[test]
fn custom_events_and_metrics_validate() {
    let mut t = cli(TxnConfig::default());
    assert!(!t.record_custom_event("bad-type!", vec![], T0_US));
    assert!(!t.record_custom_event("", vec![], T0_US));
    assert!(t.record_custom_event("Ok Type:1_", vec![("k".into(), "v".into())], T0_US));
    assert!(!t.add_custom_metric("m", f64::NAN));
    assert!(t.add_custom_metric("m", 1e3));
    t.add_custom_metric("m", 4e3);
    t.add_custom_metric("m", 2e3);
    let d = finish(t, MS).unwrap();
    let m = metric(&d, "m").unwrap();
    assert_eq!(
        (m.count, m.total, m.exclusive, m.min, m.max, m.sum_squares),
        (3.0, 7.0, 7.0, 1.0, 4.0, 21.0)
    );
    assert_eq!(d.custom_events.len(), 1);
}

#[test]
fn dt_accept_rules() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let payload = |ac: &str, tk: Option<&str>| {
        let tk = tk.map(|t| format!(r#","tk":"{t}""#)).unwrap_or_default();
        b64(&format!(
            r#"{{"v":[0,1],"d":{{"ty":"Mobile","ac":"{ac}","ap":"9","id":"5555555555555555","tr":"trace77","tx":"6666666666666666","pr":0.75,"sa":true,"ti":{}{tk}}}}}"#,
            T0_US / 1000 - 3200
        ))
    };
    let h = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];

    // A trusted newrelic payload.
    let mut t = cli(TxnConfig::default());
    assert!(t.accept_dt_headers(&h("NewRelic", &payload("1", None)), "Kafka", T0_US));
    assert!(!t.accept_dt_headers(&h("newrelic", &payload("1", None)), "Kafka", T0_US));
    assert_eq!(t.trace_id(), "trace77");
    assert_eq!(t.priority(), 0.75);
    let d = finish(t, MS).unwrap();
    assert!(metric(
        &d,
        "Supportability/DistributedTrace/AcceptPayload/Ignored/Multiple"
    )
    .is_some());
    let td = metric(&d, "TransportDuration/Mobile/1/9/Kafka/allOther").unwrap();
    assert_eq!(td.total, 3e-6, "3.2 s truncated to 3, recorded as µs");
    assert!(metric(&d, "DurationByCaller/Mobile/1/9/Kafka/all").is_some());
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[0]["parent.transportDuration"], 3.0);
    assert_eq!(ev[0]["parentId"], "6666666666666666");
    assert_eq!(ev[0]["parentSpanId"], "5555555555555555");

    // Untrusted account, trusted key override, junk, nothing.
    for (headers, metric_name, ok) in [
        (
            h("newrelic", &payload("7", None)),
            "Ignored/UntrustedAccount",
            false,
        ),
        (
            h("newrelic", &payload("7", Some("1"))),
            "AcceptPayload/Success",
            true,
        ),
        (h("newrelic", "%%%"), "AcceptPayload/ParseException", false),
        (vec![], "AcceptPayload/Ignored/Null", false),
        (
            h("traceparent", "00-zz"),
            "TraceParent/Parse/Exception",
            false,
        ),
    ] {
        let mut t = cli(TxnConfig::default());
        assert_eq!(
            t.accept_dt_headers(&headers, "HTTP", T0_US),
            ok,
            "{metric_name}"
        );
        let d = finish(t, MS).unwrap();
        assert!(
            d.metrics.iter().any(|m| m.name.ends_with(metric_name)),
            "{metric_name}: {:?}",
            d.metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
        );
    }

    // W3C with no trusted entry: accepted, caller unknown, and (as in the
    // agent) a missing timestamp makes the transport delay the whole epoch.
    let mut t = cli(TxnConfig::default());
    let tp = "00-11111111111111111111111111111111-2222222222222222-01";
    assert!(t.accept_dt_headers(
        &[
            ("traceparent".into(), tp.into()),
            ("tracestate".into(), "x=y".into())
        ],
        "bogus",
        T0_US
    ));
    let d = finish(t, MS).unwrap();
    assert!(metric(&d, "Supportability/TraceContext/TraceState/NoNrEntry").is_some());
    assert!(metric(&d, "TransportDuration/Unknown/Unknown/Unknown/Unknown/all").is_some());
    let root = json(&d.span_events[0]);
    assert_eq!(root[0]["parentId"], "2222222222222222");
    assert_eq!(root[0]["tracingVendors"], "x");
    assert_eq!(root[0]["traceId"], "11111111111111111111111111111111");

    // DT disabled.
    let cfg = TxnConfig {
        distributed_tracing_enabled: false,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    assert!(!t.accept_dt_headers(&h("traceparent", tp), "HTTP", T0_US));
    let mut ids = SeededIds::new(1);
    assert!(t.create_dt_headers(T0_US, &mut ids).is_empty());
    let d = finish(t, MS).unwrap();
    assert!(metric(
        &d,
        "Supportability/DistributedTrace/AcceptPayload/Exception"
    )
    .is_some());
    assert!(d
        .metrics
        .iter()
        .all(|m| !m.name.starts_with("DurationByCaller")));
    assert!(d.span_events.is_empty());
    assert!(!d.txn_event.unwrap().contains("traceId"));
}

#[test]
fn unsampled_transactions_have_no_spans_and_random_header_span_ids() {
    let mut t = start_with(
        TxnKind::Cli { script: "a".into() },
        TxnConfig::default(),
        connect(""),
        false,
    );
    let mut ids = SeededIds::new(5);
    let h = t.create_dt_headers(T0_US, &mut ids);
    let tp = &h.iter().find(|(k, _)| k == "traceparent").unwrap().1;
    assert!(tp.ends_with("-00"), "{tp}");
    let ts = &h.iter().find(|(k, _)| k == "tracestate").unwrap().1;
    assert!(
        ts.starts_with("1@nr=0-0-1-2--"),
        "no span id when spans are off: {ts}"
    );
    assert_eq!(t.current_span_id(), "");
    let d = finish(t, MS).unwrap();
    assert!(d.span_events.is_empty());
}

#[test]
fn datastore_details() {
    let mut cfg = TxnConfig::default();
    cfg.transaction_tracer.record_sql = RecordSql::Raw;
    cfg.transaction_tracer.threshold = Threshold::Duration(0);
    cfg.transaction_tracer.explain_threshold_ns = 0;
    let mut t = cli(cfg);
    let tables = [
        "ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st", "uv", "wx",
    ];
    for i in 0..12u64 {
        t.enter(1, i * 10 * MS);
        let want = t.current_wants_backtrace(i * 10 * MS + MS);
        assert!(want);
        t.leave_datastore(
            i * 10 * MS + (i + 1) * 100_000,
            DatastoreCall {
                product: "MySQL".into(),
                sql: Some(format!(
                    "SELECT * FROM {} WHERE a = {i}",
                    tables[i as usize]
                )),
                host: Some("db1".into()),
                port_path_or_id: Some("3306".into()),
                database_name: Some("shop".into()),
                backtrace: Some(vec![format!("frame {i}")]),
                ..DatastoreCall::default()
            },
        );
    }
    // The same statement again merges into one slow SQL entry.
    t.enter(1, 200 * MS);
    t.leave_datastore(
        200 * MS + 5 * MS,
        DatastoreCall {
            product: "MySQL".into(),
            sql: Some("SELECT * FROM wx WHERE a = 99".into()),
            backtrace: Some(vec!["again".into()]),
            ..DatastoreCall::default()
        },
    );
    let d = finish(t, 300 * MS).unwrap();
    assert_eq!(d.slow_sqls.len(), 10, "at most 10 per transaction");
    let merged = d
        .slow_sqls
        .iter()
        .find(|s| s.metric.contains("/wx/"))
        .unwrap();
    assert_eq!(merged.count, 2);
    assert_eq!(
        merged.query, "SELECT * FROM wx WHERE a = 99",
        "slowest instance's raw query"
    );
    assert!(
        d.slow_sqls.iter().all(|s| !s.metric.contains("/ab/")),
        "the fastest ones were replaced"
    );
    assert!(metric(&d, "Datastore/instance/MySQL/db1/3306").is_some());
    let span = json(&d.span_events[1]);
    let keys: Vec<&str> = span[2]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "peer.hostname",
            "server.address",
            "peer.address",
            "db.instance",
            "db.statement"
        ]
    );
    assert_eq!(span[2]["peer.address"], "db1:3306");
    assert_eq!(span[2]["db.statement"], "SELECT * FROM ab WHERE a = 0");
    let trace = json(&d.trace.as_ref().unwrap().data);
    let first = &trace[0][3][4][0][4][0][3];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "host",
            "database_name",
            "port_path_or_id",
            "backtrace",
            "sql"
        ]
    );

    // record_sql off: no statements, no slow SQL.
    let mut cfg = TxnConfig::default();
    cfg.transaction_tracer.record_sql = RecordSql::Off;
    cfg.transaction_tracer.explain_threshold_ns = 0;
    let mut t = cli(cfg);
    t.enter(1, 0);
    t.leave_datastore(
        MS,
        DatastoreCall {
            product: "SQLite".into(),
            sql: Some("DELETE FROM x".into()),
            backtrace: Some(vec!["b".into()]),
            ..DatastoreCall::default()
        },
    );
    let d = finish(t, 2 * MS).unwrap();
    assert!(d.slow_sqls.is_empty());
    assert!(metric(&d, "Datastore/statement/SQLite/x/delete").is_some());
    assert!(!d.span_events[1].contains("db.statement"));
}

#[test]
fn explain_plans_and_instances_reach_slow_sql_and_the_trace() {
    let mut cfg = TxnConfig::default();
    cfg.transaction_tracer.threshold = Threshold::Duration(0);
    cfg.transaction_tracer.explain_threshold_ns = 2 * MS;
    let mut t = cli(cfg.clone());
    t.enter(1, 0);
    assert!(!t.wants_explain(0, MS), "under the threshold");
    assert!(t.wants_explain(0, 3 * MS));
    let instance = instance::mysqli(
        Some("127.0.0.1"),
        3307,
        None,
        Some("shop"),
        &instance::MysqliDefaults::default(),
        "box",
    );
    let mut plan = ExplainPlan {
        columns: vec!["id".into(), "table".into()],
        rows: Vec::new(),
    };
    plan.push_row(vec![ExplainValue::Int(1), ExplainValue::Str("t".into())]);
    t.leave_datastore(
        3 * MS,
        DatastoreCall {
            product: "MySQL".into(),
            sql: Some("SELECT * FROM t WHERE a = 1".into()),
            backtrace: Some(vec!["frame".into()]),
            explain_plan: Some(plan),
            ..DatastoreCall::default()
        }
        .with_instance(Some(&instance)),
    );
    let d = finish(t, 10 * MS).unwrap();
    assert!(metric(&d, "Datastore/instance/MySQL/box/3307").is_some());
    let params = json(&d.slow_sqls[0].params);
    assert_eq!(
        params["explain_plan"],
        json(r#"[["id","table"],[[1,"t"]]]"#)
    );
    assert_eq!(params["host"], "box");
    assert_eq!(params["port_path_or_id"], "3307");
    assert_eq!(params["database_name"], "shop");
    let trace = json(&d.trace.as_ref().unwrap().data);
    let node = &trace[0][3][4][0][4][0][3];
    assert_eq!(node["explain_plan"], params["explain_plan"]);
    let span = json(&d.span_events[1]);
    assert_eq!(span[2]["peer.address"], "box:3307");
    assert_eq!(span[2]["db.instance"], "shop");

    // explain_enabled off: no explain wanted, however slow.
    cfg.transaction_tracer.explain_enabled = false;
    let t = cli(cfg);
    assert!(!t.wants_explain(0, 100 * MS));
}

#[test]
fn calls_recorded_after_the_fact_keep_their_reserved_span_and_group() {
    let mut t = cli(TxnConfig::default());
    t.enter(1, 0);
    let a = t.reserve_span_id().expect("span events on");
    let b = t.reserve_span_id().expect("span events on");
    let mut ids = SeededIds::new(3);
    let headers = t.create_dt_headers_for(Some(&a), T0_US, &mut ids);
    let tp = &headers.iter().find(|(k, _)| k == "traceparent").unwrap().1;
    assert!(tp.contains(&a), "{tp} names the reserved span");
    let ext = |url: &str| ExternalCall {
        url: url.into(),
        library: "curl".into(),
        procedure: "GET".into(),
        status: Some(200),
    };
    // Two calls in flight together, found finished later.
    t.record_group(MS, 9 * MS, "curl_multi_exec", |t| {
        t.record_external(MS, 8 * MS, ext("http://a.example/x"), Some(a.clone()));
        t.record_external(2 * MS, 5 * MS, ext("http://b.example/y"), Some(b.clone()));
    });
    t.leave(10 * MS);
    let d = finish(t, 11 * MS).unwrap();
    let spans: Vec<Value> = d.span_events.iter().map(|s| json(s)).collect();
    let group = spans
        .iter()
        .find(|s| s[0]["name"] == "curl_multi_exec")
        .unwrap();
    assert_eq!(group[0]["category"], "generic");
    let span_a = spans
        .iter()
        .find(|s| s[0]["name"] == "External/a.example/all")
        .unwrap();
    assert_eq!(span_a[0]["guid"], a.as_str());
    assert_eq!(span_a[0]["parentId"], group[0]["guid"]);
    assert_eq!(span_a[0]["duration"], 0.007);
    let span_b = spans
        .iter()
        .find(|s| s[0]["name"] == "External/b.example/all")
        .unwrap();
    assert_eq!(span_b[0]["guid"], b.as_str());
    assert_eq!(metric(&d, "External/all").unwrap().count, 2.0);
    assert!(
        metric(&d, "curl_multi_exec").is_none(),
        "the group has no metric"
    );
}

#[test]
fn message_calls_name_their_destination() {
    let mut t = cli(TxnConfig::default());
    t.enter_internal(MS);
    t.leave_message(
        3 * MS,
        MessageCall {
            library: "RabbitMQ".into(),
            destination_type: "Exchange".into(),
            action: MessageAction::Produce,
            destination_name: "orders".into(),
            messaging_system: Some("rabbitmq".into()),
            server_address: Some("mq".into()),
            server_port: Some(5672),
            routing_key: Some("new".into()),
        },
    );
    t.enter_internal(4 * MS);
    t.leave_message(
        5 * MS,
        MessageCall {
            library: "RabbitMQ".into(),
            destination_type: "Exchange".into(),
            action: MessageAction::Consume,
            ..MessageCall::default()
        },
    );
    let d = finish(t, 10 * MS).unwrap();
    let produce = "MessageBroker/RabbitMQ/Exchange/Produce/Named/orders";
    assert!(d.metrics.iter().any(|m| m.name == produce && m.scoped));
    assert_eq!(metric(&d, "MessageBroker/all").unwrap().count, 2.0);
    assert!(metric(&d, "MessageBroker/RabbitMQ/all").is_some());
    assert!(metric(&d, "MessageBroker/allOther").is_some());
    assert!(metric(
        &d,
        "MessageBroker/RabbitMQ/Exchange/Consume/Named/<unknown>"
    )
    .is_some());
    let spans: Vec<Value> = d.span_events.iter().map(|s| json(s)).collect();
    let p = spans.iter().find(|s| s[0]["name"] == produce).unwrap();
    assert_eq!(p[0]["category"], "generic");
    assert_eq!(p[0]["span.kind"], "producer");
    assert_eq!(p[2]["messaging.destination.name"], "orders");
    assert_eq!(p[2]["messaging.system"], "rabbitmq");
    assert_eq!(p[2]["server.address"], "mq");
    assert_eq!(p[2]["server.port"], 5672);
    assert_eq!(p[2]["messaging.rabbitmq.destination.routing_key"], "new");
}

#[test]
fn custom_tracers_record_exclusive_time() {
    let mut t = cli(TxnConfig::default());
    t.enter(1, 0);
    t.enter(2, MS);
    t.leave(4 * MS); // kept child, 3 ms
    t.leave_custom(10 * MS, "Foo::bar");
    let d = finish(t, 11 * MS).unwrap();
    let m = d
        .metrics
        .iter()
        .find(|m| m.name == "Custom/Foo::bar")
        .unwrap();
    assert_eq!((m.scoped, m.total, m.exclusive), (true, 0.01, 0.007));
    assert_eq!(d.span_events.len(), 3);
}

#[test]
fn external_calls() {
    let mut t = cli(TxnConfig::default());
    t.enter(1, 0);
    t.enter(2, 10);
    t.leave(20); // discarded: externals keep no children
    t.leave_external(
        MS,
        ExternalCall {
            url: "https://user:pw@api.example.com:8443/v1/x?token=1".into(),
            library: "Guzzle 6".into(),
            procedure: "POST".into(),
            status: None,
        },
    );
    let d = finish(t, 2 * MS).unwrap();
    let m = d
        .metrics
        .iter()
        .find(|m| m.name == "External/api.example.com/all")
        .unwrap();
    assert!(m.scoped);
    assert!(metric(&d, "External/allOther").is_some());
    assert_eq!(d.span_events.len(), 2);
    let span = json(&d.span_events[1]);
    assert_eq!(span[0]["component"], "Guzzle 6");
    assert_eq!(
        span[2]["http.url"],
        "https://user:pw@api.example.com:8443/v1/x"
    );
    // New Relic's agent sends 0 for an unknown status (its Guzzle tests
    // expect "http.statusCode": 0 for failed requests).
    assert_eq!(span[2]["http.statusCode"], 0);
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[0]["externalCallCount"], 1);
}

/// Span names and parent names, in span order.
fn span_tree(d: &seraph_wire::TransactionData) -> Vec<(String, Option<String>)> {
    let spans: Vec<Value> = d.span_events.iter().map(|s| json(s)).collect();
    let name_of = |guid: &Value| {
        spans
            .iter()
            .find(|s| &s[0]["guid"] == guid)
            .map(|s| s[0]["name"].as_str().unwrap().to_owned())
    };
    spans
        .iter()
        .map(|s| {
            let parent = s[0].get("parentId").and_then(name_of);
            (s[0]["name"].as_str().unwrap().to_owned(), parent)
        })
        .collect()
}

#[test]
fn a_short_function_around_an_external_call_is_dropped() {
    // Vector 06: fetch() (1 ms) wraps curl_exec; the trace headers are
    // created from the external segment, so only it is kept, under the root.
    let mut t = cli(TxnConfig::default());
    t.enter(1, 0);
    t.enter_internal(MS / 10);
    let headers = t.create_dt_headers(T0_US, &mut SeededIds::new(3));
    t.leave_external(
        MS,
        ExternalCall {
            url: "http://127.0.0.1:18088/echo?x=1".into(),
            library: "curl".into(),
            procedure: "GET".into(),
            status: Some(200),
        },
    );
    t.leave(MS + MS / 10);
    let d = finish(t, 2 * MS).unwrap();
    let tree = span_tree(&d);
    let root = "OtherTransaction/php/job.php".to_owned();
    assert_eq!(
        tree,
        [
            (root.clone(), None),
            ("External/127.0.0.1/all".to_owned(), Some(root))
        ]
    );
    // The traceparent names the external span.
    let external = json(&d.span_events[1]);
    let tp = &headers.iter().find(|(k, _)| k == "traceparent").unwrap().1;
    assert!(tp.contains(external[0]["guid"].as_str().unwrap()), "{tp}");
}

#[test]
fn expensive_node_min_sets_the_keep_threshold() {
    let run = |min_ns: u64| {
        let mut t = cli(TxnConfig {
            expensive_node_min_ns: min_ns,
            ..TxnConfig::default()
        });
        t.enter(1, 0);
        t.leave(MS / 2); // 0.5 ms
        t.enter(2, MS);
        t.leave(4 * MS); // 3 ms
        t.enter(3, 5 * MS);
        t.enter_internal(5 * MS);
        t.leave_datastore(
            5 * MS + 1000,
            DatastoreCall {
                product: "SQLite".into(),
                sql: Some("SELECT 1".into()),
                ..DatastoreCall::default()
            },
        );
        t.leave(5 * MS + 2000); // 2 µs around a datastore call
        let d = finish(t, 6 * MS).unwrap();
        let mut names: Vec<String> = span_tree(&d).into_iter().map(|(n, _)| n).collect();
        names.remove(0);
        names
    };
    // Default 2 ms: only the 3 ms call and the datastore call.
    assert_eq!(
        run(2 * MS),
        ["Custom/f2", "Datastore/operation/SQLite/select"]
    );
    // 0 keeps every call.
    assert_eq!(
        run(0),
        [
            "Custom/f1",
            "Custom/f2",
            "Custom/f3",
            "Datastore/operation/SQLite/select"
        ]
    );
    // 10 ms: instrumented segments are still kept.
    assert_eq!(run(10 * MS), ["Datastore/operation/SQLite/select"]);
}

#[test]
fn a_function_left_by_an_exception_keeps_its_segment() {
    let run = |ignore: &[&str]| {
        let mut cfg = TxnConfig::default();
        cfg.error_collector.ignore_exceptions = ignore.iter().map(|c| c.to_string()).collect();
        let mut t = cli(cfg);
        t.enter(7, MS);
        // As the extension does: class, parents, interfaces.
        if !t.ignores_exception(&["RuntimeException", "Exception", "Throwable"]) {
            t.set_current_segment_error(
                "RuntimeException",
                "Uncaught exception 'RuntimeException'",
            );
        }
        t.leave(MS + 30_000); // 30 µs
        finish(t, 2 * MS).unwrap()
    };
    let d = run(&[]);
    assert_eq!(d.span_events.len(), 2);
    let span = json(&d.span_events[1]);
    assert_eq!(span[0]["name"], "Custom/f7");
    assert_eq!(span[2]["error.class"], "RuntimeException");
    assert_eq!(
        span[2]["error.message"],
        "Uncaught exception 'RuntimeException'"
    );
    // An ignored class (here a parent) marks nothing, so the short call is
    // dropped.
    let d = run(&["exception"]);
    assert_eq!(d.span_events.len(), 1);
}

fn web_with(headers: &[(&str, &str)], cfg: TxnConfig) -> Transaction {
    start_with(
        TxnKind::Web(WebRequest {
            method: "GET".into(),
            uri: "/x".into(),
            script_name: "/x.php".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
        cfg,
        connect(""),
        false,
    )
}

#[test]
fn a_web_request_joins_its_inbound_trace() {
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let ts = format!(
        "1@nr=0-0-1-2-b7ad6b7169203331-e8b91a159289ff74-1-1.23456-{}",
        T0_US / 1000 - 2000
    );
    // CGI style names, as the extension passes $_SERVER.
    let t = web_with(
        &[("HTTP_TRACEPARENT", tp), ("HTTP_TRACESTATE", &ts)],
        TxnConfig::default(),
    );
    assert_eq!(t.trace_id(), "0af7651916cd43dd8448eb211c80319c");
    assert!(t.is_sampled());
    assert_eq!(t.priority(), 1.23456);
    let d = finish(t, MS).unwrap();
    for m in [
        "Supportability/TraceContext/Accept/Success",
        "DurationByCaller/App/1/2/HTTP/all",
        "DurationByCaller/App/1/2/HTTP/allWeb",
        "TransportDuration/App/1/2/HTTP/allWeb",
    ] {
        assert!(metric(&d, m).is_some(), "{m}");
    }
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[0]["parent.transportType"], "HTTP");
    assert_eq!(ev[0]["parentSpanId"], "b7ad6b7169203331");
    assert_eq!(ev[0]["parentId"], "e8b91a159289ff74");

    // No trace headers: nothing is attempted (no Accept/* metric at all).
    let d = finish(web_with(&[("Host", "h")], TxnConfig::default()), MS).unwrap();
    assert!(
        d.metrics.iter().all(|m| !m.name.contains("Accept")),
        "{:?}",
        d.metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
    );
    assert!(metric(&d, "DurationByCaller/Unknown/Unknown/Unknown/Unknown/all").is_some());

    // Distributed tracing off: the headers are ignored.
    let off = TxnConfig {
        distributed_tracing_enabled: false,
        ..TxnConfig::default()
    };
    let t = web_with(&[("traceparent", tp)], off);
    assert_ne!(t.trace_id(), "0af7651916cd43dd8448eb211c80319c");
    let d = finish(t, MS).unwrap();
    assert!(d.metrics.iter().all(|m| !m.name.contains("Accept")));

    // A CLI transaction accepts them through the same rule.
    let mut t = cli(TxnConfig::default());
    assert!(t.accept_inbound_headers(&[("traceparent".into(), tp.into())]));
    assert_eq!(t.trace_id(), "0af7651916cd43dd8448eb211c80319c");
    assert!(!cli(TxnConfig::default()).accept_inbound_headers(&[]));
}

#[test]
fn queue_time_comes_from_x_request_start_only() {
    let queued_us = T0_US - 250_000;
    let d = finish(
        web_with(
            &[("HTTP_X_REQUEST_START", &format!("t={queued_us}"))],
            TxnConfig::default(),
        ),
        MS,
    )
    .unwrap();
    let q = metric(&d, "WebFrontend/QueueTime").unwrap();
    assert_eq!((q.count, q.total), (1.0, 0.25));
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[0]["queueDuration"], 0.25);

    // New Relic's PHP agent does not read X-Queue-Start.
    let d = finish(
        web_with(
            &[("X-Queue-Start", &format!("t={queued_us}"))],
            TxnConfig::default(),
        ),
        MS,
    )
    .unwrap();
    assert!(metric(&d, "WebFrontend/QueueTime").is_none());
}

#[test]
fn span_and_trace_limits_keep_the_tree_consistent() {
    let mut cfg = TxnConfig {
        span_events_max_samples_stored: 5,
        ..TxnConfig::default()
    };
    cfg.transaction_tracer.threshold = Threshold::Duration(0);
    let mut t = cli(cfg);
    // 50 slow calls, each with a slow child.
    for i in 0..50u64 {
        let s = i * 20 * MS;
        t.enter(1, s);
        t.enter(2, s + MS);
        t.leave(s + MS + (3 + i % 7) * MS);
        t.leave(s + 19 * MS);
    }
    let d = finish(t, 1001 * MS).unwrap();
    assert_eq!(d.span_events.len(), 5);
    let spans: Vec<Value> = d.span_events.iter().map(|s| json(s)).collect();
    let ids: Vec<&str> = spans
        .iter()
        .map(|s| s[0]["guid"].as_str().unwrap())
        .collect();
    for s in &spans[1..] {
        assert!(
            ids.contains(&s[0]["parentId"].as_str().unwrap()),
            "parent exists"
        );
    }
    // The trace keeps all 100 (under the 2000 limit) in a consistent tree.
    let trace = json(&d.trace.as_ref().unwrap().data);
    let top = trace[0][3][4][0][4].as_array().unwrap();
    assert!(top.len() <= 50);
}

#[test]
fn many_segments_are_bounded_and_deep_recursion_is_safe() {
    let cfg = TxnConfig {
        max_stack_depth: 20_000,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    // 10 000 nested slow calls: the kept tree is 10 000 deep.
    let depth = 10_000u64;
    for d in 0..depth {
        t.enter(d as usize, d * 3 * MS);
    }
    for d in 0..depth {
        t.leave(depth * 3 * MS + d * 3 * MS);
    }
    let d = finish(t, 2 * depth * 3 * MS).unwrap();
    assert_eq!(d.span_events.len(), 2000, "span limit");
    let trace = d.trace.as_ref().unwrap();
    // Too deep for serde_json's recursion limit: count the nodes instead.
    let nodes = trace.data.matches(",\"`").count();
    assert_eq!(nodes, 2000, "trace limit (root node included)");
    let alloc = metric(&d, "Supportability/execute/allocated_segment_count").unwrap();
    assert_eq!(alloc.total, (depth + 1) as f64 / 1e6);

    // Beyond the stack capacity calls are only counted.
    let cfg = TxnConfig {
        max_stack_depth: 8,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    for d in 0..100u64 {
        t.enter(d as usize, d * 3 * MS);
    }
    for d in 0..100u64 {
        t.leave(1000 * MS + d);
    }
    let d = finish(t, 2000 * MS).unwrap();
    assert_eq!(d.span_events.len(), 9);
}

#[test]
fn open_frames_are_closed_at_the_end_and_zero_length_segments_skipped() {
    let cfg = TxnConfig {
        expensive_node_min_ns: 0,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    t.enter(1, 0);
    t.enter(2, 500); // zero-length in µs
    t.leave(900);
    t.enter(3, MS);
    // exit() inside 3: never left.
    let d = finish(t, 5 * MS).unwrap();
    let names: Vec<String> = d
        .span_events
        .iter()
        .map(|s| json(s)[0]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["OtherTransaction/php/job.php", "Custom/f1", "Custom/f3"]
    );
}

#[test]
fn custom_parameters_land_on_the_current_span() {
    let mut t = cli(TxnConfig::default());
    t.enter(7, 0);
    assert!(t.add_custom_parameter("inner", "x".into()));
    t.leave(50_000); // fast, but kept for its attribute
    assert!(!t.add_custom_parameter(&"k".repeat(300), 1.into()));
    let d = finish(t, MS).unwrap();
    assert_eq!(d.span_events.len(), 2);
    let span = json(&d.span_events[1]);
    assert_eq!(span[1]["inner"], "x");
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[1]["inner"], "x");
    assert!(json(&d.span_events[0])[1].as_object().unwrap().is_empty());
}

#[test]
fn disabled_event_types_are_absent() {
    let cfg = TxnConfig {
        analytics_events_enabled: false,
        custom_events_enabled: false,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    assert!(!t.record_custom_event("E", vec![], T0_US));
    let mut ids = SeededIds::new(2);
    let h = t.create_dt_headers(T0_US, &mut ids);
    let ts = &h.iter().find(|(k, _)| k == "tracestate").unwrap().1;
    let fields: Vec<&str> = ts.split('-').collect();
    assert_eq!(
        fields[5], "",
        "no transaction id without transaction events"
    );
    let d = finish(t, MS).unwrap();
    assert!(d.txn_event.is_none());
    assert!(d.custom_events.is_empty());

    let mut cfg = TxnConfig::default();
    cfg.transaction_tracer.enabled = false;
    cfg.transaction_tracer.threshold = Threshold::Duration(0);
    assert!(finish(cli(cfg), MS).unwrap().trace.is_none());
}

#[test]
fn background_changes_after_freezing_are_refused() {
    let mut t = web(TxnConfig::default(), connect(""));
    assert_eq!(
        t.freeze_name().as_deref(),
        Some("WebTransaction/Uri/index.php")
    );
    t.set_background(true);
    assert!(t.is_web());
    assert!(!t.set_name(NameSource::Api, "late"));
    let d = finish(t, MS).unwrap();
    assert_eq!(d.name, "WebTransaction/Uri/index.php");
    assert!(metric(&d, "Supportability/background_status_change_prevented").is_some());
}

#[test]
fn cpu_and_memory_metrics() {
    let mut t = cli(TxnConfig::default());
    t.set_cpu_sampling(0.004, 2);
    let usage = ResourceUsage {
        cpu_user_s: 0.001,
        cpu_sys_s: 0.001,
        memory_mb: 16.660_156_25,
        user_call_count: 3,
    };
    let d = t.finish(MS, T0_US + 1000, usage, &names, 1).unwrap();
    assert_eq!(metric(&d, "CPU/User Time").unwrap().total, 0.002);
    assert_eq!(metric(&d, "CPU/User/Utilization").unwrap().total, 0.25);
    let mem = metric(&d, "Memory/Physical").unwrap();
    assert_eq!((mem.total, mem.exclusive), (16.660156, 0.0));
    assert_eq!(
        metric(&d, "Supportability/execute/user/call_count")
            .unwrap()
            .total,
        3e-6
    );
}

/// Random API call sequences (with tiny limits so evictions happen all the
/// time) never panic and always produce well-formed JSON with consistent
/// span links.
#[test]
fn random_call_sequences_are_safe() {
    for seed in 0..200u64 {
        let mut rng = SeededIds::new(seed);
        let mut cfg = TxnConfig {
            span_events_max_samples_stored: 1 + (seed % 4) as usize,
            max_stack_depth: 1 + (seed % 6) as usize,
            expensive_node_min_ns: (seed % 3) * 1000,
            ..TxnConfig::default()
        };
        cfg.transaction_tracer.max_segments_cli = (seed % 5) as usize;
        cfg.transaction_tracer.threshold = Threshold::Duration(0);
        cfg.transaction_tracer.explain_threshold_ns = 0;
        let mut t = cli(cfg);
        let mut now = 0u64;
        for _ in 0..300 {
            now += rng.next_u64() % 5000;
            match rng.next_u64() % 12 {
                0..=3 => t.enter((rng.next_u64() % 7) as usize, now),
                4..=6 => t.leave(now),
                7 => t.leave_datastore(
                    now,
                    DatastoreCall {
                        product: "MySQL".into(),
                        sql: Some(format!("select * from t where x = {}", rng.next_u64() % 3)),
                        backtrace: Some(vec!["bt".into()]),
                        ..DatastoreCall::default()
                    },
                ),
                8 => t.leave_external(
                    now,
                    ExternalCall {
                        url: "http://h/p".into(),
                        library: "curl".into(),
                        procedure: "GET".into(),
                        status: Some(200),
                    },
                ),
                9 => t.leave_custom(now, "c"),
                10 => {
                    t.current_span_id();
                    t.add_custom_parameter("k", (rng.next_u64() as i64).into());
                    t.set_current_segment_error("E", "m");
                }
                _ => {
                    let mut ids = SeededIds::new(rng.next_u64());
                    t.create_dt_headers(T0_US + now / 1000, &mut ids);
                    t.notice_error(NoticedError {
                        priority: (rng.next_u64() % 3) as i32,
                        message: "m".into(),
                        class: "C".into(),
                        stack_trace: vec![],
                        now_unix_us: T0_US,
                    });
                }
            }
        }
        let d = finish(t, now + 1).unwrap();
        let spans: Vec<Value> = d.span_events.iter().map(|s| json(s)).collect();
        assert!(spans.len() <= 1 + (seed % 4) as usize, "seed {seed}");
        let ids: Vec<&str> = spans
            .iter()
            .map(|s| s[0]["guid"].as_str().unwrap())
            .collect();
        for s in spans.iter().skip(1) {
            assert!(
                ids.contains(&s[0]["parentId"].as_str().unwrap()),
                "seed {seed}: dangling parent"
            );
        }
        if let Some(tr) = &d.trace {
            json(&tr.data);
        }
        for e in d
            .errors
            .iter()
            .map(|e| &e.data)
            .chain(&d.error_events)
            .chain(&d.txn_event)
        {
            json(e);
        }
    }
}

#[test]
fn a_long_transaction_keeps_its_metric_tables_bounded() {
    // A CLI worker in one transaction for days, naming metrics after its
    // data: 10 000 custom metrics and 3 000 tables. New Relic's agent keeps
    // 2 000 per table and counts the rest in Supportability/MetricsDropped.
    let mut t = cli(TxnConfig::default());
    for i in 0..10_000 {
        assert!(t.add_custom_metric(&format!("Custom/job/{i}"), 1.0));
    }
    let mut now = MS;
    for i in 0..3_000u64 {
        t.enter_internal(now);
        now += 1000;
        t.leave_datastore(
            now,
            DatastoreCall {
                product: "SQLite".into(),
                sql: Some(format!("SELECT * FROM shard_{i}")),
                ..DatastoreCall::default()
            },
        );
    }
    let d = finish(t, now + MS).unwrap();
    let unscoped = d.metrics.iter().filter(|m| !m.scoped).count();
    let scoped = d.metrics.iter().filter(|m| m.scoped).count();
    assert!(unscoped <= 2_001 + 40, "unscoped metrics: {unscoped}");
    assert!(scoped <= 2_001, "scoped metrics: {scoped}");
    let dropped = metric(&d, "Supportability/MetricsDropped").unwrap();
    assert!(dropped.forced && dropped.count >= 8_000.0, "{dropped:?}");
    // The transaction's own (forced) metrics are all there.
    for name in [
        "OtherTransaction/all",
        "OtherTransaction/php/job.php",
        "Datastore/all",
        "Datastore/SQLite/all",
    ] {
        assert!(metric(&d, name).is_some(), "{name} missing");
    }
    assert_eq!(metric(&d, "Custom/job/0").unwrap().count, 1.0);
}

#[test]
fn huge_queries_are_kept_bounded_and_never_leak_a_literal() {
    // Bulk statements of hundreds of KB used to be kept whole in every
    // datastore segment (up to 2 000 of them), in agent memory that PHP's
    // memory_limit does not cover, and sent in traces and spans.
    let statement = |d: &seraph_wire::TransactionData| -> Vec<String> {
        d.span_events
            .iter()
            .filter_map(|e| json(e)[2]["db.statement"].as_str().map(str::to_owned))
            .collect()
    };
    let big_literal = "x".repeat(200_000);
    let mut cfg = TxnConfig::default();
    cfg.transaction_tracer.threshold = Threshold::Duration(0);
    let mut t = cli(cfg.clone());
    for i in 0..50u64 {
        t.enter_internal(i * MS);
        t.leave_datastore(
            i * MS + 500_000,
            DatastoreCall {
                product: "MySQL".into(),
                // The scan limit cuts inside the big literal: it is masked
                // whole, and the secret after it is never looked at.
                sql: Some(format!(
                    "INSERT INTO imports VALUES ('{big_literal}', 'secret')"
                )),
                ..DatastoreCall::default()
            },
        );
    }
    let d = finish(t, 60 * MS).unwrap();
    let stmts = statement(&d);
    assert_eq!(stmts.len(), 50);
    assert!(
        stmts.iter().all(|s| s == "INSERT INTO imports VALUES (?"),
        "{:?}",
        &stmts[0]
    );
    assert!(metric(&d, "Datastore/statement/MySQL/imports/insert").is_some());

    // Raw SQL is cut at SQL_KEPT_LIMIT bytes, on a character boundary.
    cfg.transaction_tracer.record_sql = RecordSql::Raw;
    let mut t = cli(cfg);
    t.enter_internal(0);
    t.leave_datastore(
        500_000,
        DatastoreCall {
            product: "MySQL".into(),
            sql: Some(format!("SELECT '{}' FROM t", "é".repeat(10_000))),
            ..DatastoreCall::default()
        },
    );
    let d = finish(t, MS).unwrap();
    let stmts = statement(&d);
    assert_eq!(stmts.len(), 1);
    assert!(stmts[0].len() <= SQL_KEPT_LIMIT && stmts[0].len() >= SQL_KEPT_LIMIT - 1);
    assert!(stmts[0].starts_with("SELECT 'éé"));
    let trace = d.trace.as_ref().unwrap().data.clone();
    // (JSON escapes é as \u00e9: 6 bytes for 2.) The whole query would be 60 KB.
    assert!(
        trace.len() < 4 * SQL_KEPT_LIMIT,
        "trace: {} bytes",
        trace.len()
    );
}

#[test]
fn error_messages_are_bounded_on_every_segment_and_the_error() {
    let huge = "m".repeat(100_000);
    let mut cfg = TxnConfig::default();
    cfg.transaction_tracer.threshold = Threshold::Duration(0);
    let mut t = cli(cfg);
    for i in 0..50u64 {
        t.enter(1, i * MS);
        t.set_current_segment_error("RuntimeException", &huge);
        t.leave(i * MS + 1000);
    }
    assert!(t.notice_error(NoticedError {
        priority: 50,
        message: huge.clone(),
        class: "RuntimeException".into(),
        stack_trace: vec![],
        now_unix_us: T0_US,
    }));
    let d = finish(t, 60 * MS).unwrap();
    let messages: Vec<usize> = d
        .span_events
        .iter()
        .filter_map(|e| json(e)[2]["error.message"].as_str().map(str::len))
        .collect();
    // The 50 segments and the root (the noticed error's segment).
    assert_eq!(messages.len(), 51);
    assert!(
        messages.iter().all(|&l| l == ERROR_MESSAGE_LIMIT),
        "{messages:?}"
    );
    assert!(d.errors[0].data.len() < 2 * ERROR_MESSAGE_LIMIT + 2_000);
}

/// `transaction_tracer.max_segments_cli` / `_web` bound the segments a
/// transaction keeps (the root included); the longest ones are kept.
#[test]
fn max_segments_keeps_the_longest_segments() {
    let run = |web_txn: bool, max_cli: usize, max_web: usize| {
        let mut cfg = TxnConfig::default();
        cfg.transaction_tracer.threshold = Threshold::Duration(0);
        cfg.transaction_tracer.max_segments_cli = max_cli;
        cfg.transaction_tracer.max_segments_web = max_web;
        let mut t = if web_txn {
            web(cfg, connect(""))
        } else {
            cli(cfg)
        };
        // 30 sequential calls of function i lasting 3 + i ms.
        let mut now = 0;
        for i in 0..30u64 {
            t.enter(i as usize, now);
            now += (3 + i) * MS;
            t.leave(now);
            now += MS;
        }
        let d = finish(t, now + MS).unwrap();
        let mut kept: Vec<String> = span_tree(&d)
            .into_iter()
            .map(|(name, _)| name)
            .filter(|n| n.starts_with("Custom/"))
            .collect();
        kept.sort();
        let trace = json(&d.trace.as_ref().unwrap().data);
        let nodes = trace[0][3][4][0][4].as_array().unwrap().len();
        (kept, nodes)
    };
    let longest = |n: u64| -> Vec<String> {
        let mut v: Vec<String> = (30 - n..30).map(|i| format!("Custom/f{i}")).collect();
        v.sort();
        v
    };

    // CLI: 10 segments in all, so the root and the 9 longest calls.
    let (kept, nodes) = run(false, 10, 0);
    assert_eq!(kept, longest(9));
    assert_eq!(nodes, 9);
    // Web transactions use their own setting; 0 means no limit.
    let (kept, nodes) = run(true, 10, 0);
    assert_eq!(kept.len(), 30);
    assert_eq!(nodes, 30);
    let (kept, nodes) = run(true, 0, 5);
    assert_eq!(kept, longest(4));
    assert_eq!(nodes, 4);
}
