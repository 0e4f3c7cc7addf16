//! The library as C programs use it: the examples and test programs are
//! compiled with `cc` against the installed header and library, run against
//! the real daemon and the collector stand-in, and judged by what reached
//! the stand-in.

mod common;

use common::{app_name, cc, trace_has, Env, Link};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_header_compiles_strictly_as_c_and_cpp_and_matches_the_library_layout() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("layout");
    cc(&["tests/c/layout.c"], &bin, Link::Shared, &["-pedantic"]);
    let out = Command::new(&bin).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let got = |key: &str| -> usize {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{key} not printed:\n{text}"))
            .parse()
            .unwrap()
    };
    use newrelic::config::*;
    use std::mem::{offset_of, size_of};
    let cfg = "newrelic_app_config_t";
    assert_eq!(got(&format!("sizeof({cfg})")), size_of::<AppConfig>());
    for (f, off) in [
        ("app_name", offset_of!(AppConfig, app_name)),
        ("license_key", offset_of!(AppConfig, license_key)),
        (
            "redirect_collector",
            offset_of!(AppConfig, redirect_collector),
        ),
        ("log_filename", offset_of!(AppConfig, log_filename)),
        ("log_level", offset_of!(AppConfig, log_level)),
        (
            "transaction_tracer",
            offset_of!(AppConfig, transaction_tracer),
        ),
        ("datastore_tracer", offset_of!(AppConfig, datastore_tracer)),
        (
            "distributed_tracing",
            offset_of!(AppConfig, distributed_tracing),
        ),
        ("span_events", offset_of!(AppConfig, span_events)),
    ] {
        assert_eq!(got(&format!("{cfg}.{f}")), off, "{f}");
    }
    let tt = "newrelic_transaction_tracer_config_t";
    assert_eq!(
        got(&format!("sizeof({tt})")),
        size_of::<TransactionTracerConfig>()
    );
    for (f, off) in [
        ("enabled", offset_of!(TransactionTracerConfig, enabled)),
        ("threshold", offset_of!(TransactionTracerConfig, threshold)),
        (
            "duration_us",
            offset_of!(TransactionTracerConfig, duration_us),
        ),
        (
            "stack_trace_threshold_us",
            offset_of!(TransactionTracerConfig, stack_trace_threshold_us),
        ),
        (
            "datastore_reporting",
            offset_of!(TransactionTracerConfig, datastore_reporting),
        ),
        (
            "datastore_reporting.enabled",
            offset_of!(TransactionTracerConfig, datastore_reporting)
                + offset_of!(DatastoreReporting, enabled),
        ),
        (
            "datastore_reporting.record_sql",
            offset_of!(TransactionTracerConfig, datastore_reporting)
                + offset_of!(DatastoreReporting, record_sql),
        ),
        (
            "datastore_reporting.threshold_us",
            offset_of!(TransactionTracerConfig, datastore_reporting)
                + offset_of!(DatastoreReporting, threshold_us),
        ),
    ] {
        assert_eq!(got(&format!("{tt}.{f}")), off, "{f}");
    }
    assert_eq!(
        got("sizeof(newrelic_datastore_segment_config_t)"),
        size_of::<DatastoreSegmentConfig>()
    );
    assert_eq!(
        got("newrelic_datastore_segment_config_t.database_name_reporting"),
        offset_of!(DatastoreSegmentConfig, database_name_reporting)
    );
    assert_eq!(got("sizeof(newrelic_distributed_tracing_config_t)"), 1);
    assert_eq!(got("sizeof(newrelic_span_event_config_t)"), 1);
    let dp = "newrelic_datastore_segment_params_t";
    assert_eq!(got(&format!("sizeof({dp})")), size_of::<DatastoreParams>());
    for (f, off) in [
        ("product", offset_of!(DatastoreParams, product)),
        ("collection", offset_of!(DatastoreParams, collection)),
        ("operation", offset_of!(DatastoreParams, operation)),
        ("host", offset_of!(DatastoreParams, host)),
        (
            "port_path_or_id",
            offset_of!(DatastoreParams, port_path_or_id),
        ),
        ("database_name", offset_of!(DatastoreParams, database_name)),
        ("query", offset_of!(DatastoreParams, query)),
    ] {
        assert_eq!(got(&format!("{dp}.{f}")), off, "{f}");
    }
    let ep = "newrelic_external_segment_params_t";
    assert_eq!(got(&format!("sizeof({ep})")), size_of::<ExternalParams>());
    for (f, off) in [
        ("uri", offset_of!(ExternalParams, uri)),
        ("procedure", offset_of!(ExternalParams, procedure)),
        ("library", offset_of!(ExternalParams, library)),
    ] {
        assert_eq!(got(&format!("{ep}.{f}")), off, "{f}");
    }
    for e in [
        "newrelic_loglevel_t",
        "newrelic_tt_recordsql_t",
        "newrelic_transaction_tracer_threshold_t",
    ] {
        assert_eq!(got(&format!("sizeof({e})")), 4, "{e} is an int-sized enum");
    }
    assert_eq!(got("sizeof(newrelic_time_us_t)"), 8);

    // The same header as C++ (extern "C", no C-only constructs).
    let cpp = dir.path().join("header.cpp");
    std::fs::write(
        &cpp,
        "#include \"libnewrelic.h\"\nint main() { return newrelic_version() ? 0 : 1; }\n",
    )
    .unwrap();
    let o = Command::new("c++")
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{}", common::prefix().join("include").display()))
        .arg(&cpp)
        .arg("-o")
        .arg(dir.path().join("header-cpp"))
        .arg(format!("-L{}", common::prefix().join("lib").display()))
        .arg("-lnewrelic")
        .output()
        .unwrap();
    assert!(o.status.success(), "c++: {}", common::text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_transaction_reports_metrics_events_traces_spans_errors_and_custom_events() {
    let env = Env::start().await;
    let bin = env.path("web_transaction");
    cc(&["examples/web_transaction.c"], &bin, Link::Shared, &[]);
    let app = app_name("web");
    env.run_ok(&mut env.command(&bin, &app), &app);

    let h = env
        .harvest(&app, WAIT, |h| {
            h.count("WebTransaction/Action/checkout") >= 1.0
                && !h.events("analytic_event_data").is_empty()
                && !h.events("custom_event_data").is_empty()
                && !h.events("span_event_data").is_empty()
                && !h.errors().is_empty()
                && !h.traces().is_empty()
                && !h.slow_sqls().is_empty()
        })
        .await;
    let scope = "WebTransaction/Action/checkout";
    for (name, scoped) in [
        ("WebTransaction", false),
        ("WebTransactionTotalTime", false),
        ("HttpDispatcher", false),
        ("Datastore/all", false),
        ("Datastore/allWeb", false),
        ("Datastore/MySQL/all", false),
        ("Datastore/operation/MySQL/select", false),
        ("Datastore/instance/MySQL/db.example/3306", false),
        ("Datastore/statement/MySQL/orders/select", true),
        ("External/all", false),
        ("External/allWeb", false),
        ("External/api.example.com/all", true),
        ("View/render", true),
        ("Custom/Checkout/Items", false),
        ("Errors/all", false),
        ("Errors/WebTransaction/Action/checkout", false),
        ("Supportability/C/NewrelicVersion/1.3.0", false),
    ] {
        let n = if scoped {
            h.scoped_count(name, scope)
        } else {
            h.count(name)
        };
        assert_eq!(
            n,
            1.0,
            "{name} (scoped: {scoped}) in {:#?}",
            h.metrics().keys()
        );
    }
    // An error makes the apdex frustrating: [satisfied, tolerating, frustrating, ...].
    let apdex = h.metrics()[&("Apdex".to_owned(), String::new())];
    assert_eq!(apdex[2], 1.0, "{apdex:?}");
    let custom = h.metrics()[&("Custom/Checkout/Items".to_owned(), String::new())];
    assert!(
        (custom[1] - 0.003).abs() < 1e-9,
        "3 ms recorded as seconds: {custom:?}"
    );
    // The C SDK reports none of the PHP agent's own metrics.
    assert!(
        !h.metrics()
            .keys()
            .any(|(n, _)| n.contains("PHP") || n.starts_with("Supportability/execute")),
        "{:?}",
        h.metrics().keys()
    );

    // Transaction event with the user attributes.
    let ev = h.events("analytic_event_data");
    let ev = &ev[0];
    assert_eq!(ev[0]["name"], "WebTransaction/Action/checkout");
    assert_eq!(ev[0]["type"], "Transaction");
    assert_eq!(ev[0]["error"], true);
    assert_eq!(ev[1]["customer"], "acme");
    assert_eq!(ev[1]["items"], 3);
    assert_eq!(ev[1]["order_id"], 9_000_000_001i64);
    assert_eq!(ev[1]["total"], 99.5);
    assert_eq!(ev[2]["errorType"], "PaymentError");

    // The custom event.
    let ce = h.events("custom_event_data");
    let ce = ce
        .iter()
        .find(|e| e[0]["type"] == "Checkout")
        .expect("Checkout event");
    assert_eq!(ce[1]["plan"], "gold");
    assert_eq!(ce[1]["items"], 3);
    assert_eq!(ce[1]["cents"], 9950);
    assert_eq!(ce[1]["rate"], 0.25);

    // The error trace, with the program's own stack.
    let err = &h.errors()[0];
    assert_eq!(err[1], "WebTransaction/Action/checkout");
    assert_eq!(err[2], "card declined");
    assert_eq!(err[3], "PaymentError");
    let stack = err[4]["stack_trace"].as_array().expect("stack trace");
    assert!(
        stack
            .iter()
            .any(|l| l.as_str().unwrap_or("").contains("web_transaction")),
        "the stack names the program: {stack:?}"
    );

    // The trace names every segment; the slow query is obfuscated.
    let trace = &h.traces()[0];
    for seg in [
        "Datastore/statement/MySQL/orders/select",
        "External/api.example.com/all",
        "View/render",
    ] {
        assert!(trace_has(trace, seg), "{seg} in {trace}");
    }
    let sql = &h.slow_sqls()[0];
    assert_eq!(sql[0], "WebTransaction/Action/checkout");
    assert_eq!(sql[3], "SELECT * FROM orders WHERE id = ?");

    // Span events: the root and one per segment, in one trace.
    let spans = h.events("span_event_data");
    let names: Vec<&str> = spans.iter().filter_map(|s| s[0]["name"].as_str()).collect();
    for n in [
        "WebTransaction/Action/checkout",
        "Datastore/statement/MySQL/orders/select",
        "External/api.example.com/all",
        "View/render",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let trace_ids: std::collections::BTreeSet<String> =
        spans.iter().map(|s| s[0]["traceId"].to_string()).collect();
    assert_eq!(trace_ids.len(), 1);
    let ds = spans
        .iter()
        .find(|s| s[0]["name"] == "Datastore/statement/MySQL/orders/select")
        .unwrap();
    assert_eq!(ds[0]["category"], "datastore");
    assert_eq!(ds[2]["db.statement"], "SELECT * FROM orders WHERE id = ?");
    assert_eq!(ds[2]["peer.hostname"], "db.example");
    let ext = spans
        .iter()
        .find(|s| s[0]["name"] == "External/api.example.com/all")
        .unwrap();
    assert_eq!(ext[0]["category"], "http");
    assert_eq!(ext[2]["http.url"], "https://api.example.com/prices");
    assert_eq!(ext[0]["component"], "curl");

    // The App query said "c", and the connect payload carries it.
    let connect = h.connect().expect("connect call");
    assert_eq!(connect["language"], "c");
    assert_eq!(connect["agent_version"], "1.3.0");
}
