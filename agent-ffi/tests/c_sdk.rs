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
        ("Errors/allWeb", false),
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
    assert_eq!(ev[0]["databaseCallCount"], 1);
    assert_eq!(ev[0]["externalCallCount"], 1);
    let err_events = h.events("error_event_data");
    assert_eq!(err_events.len(), 1);
    assert_eq!(err_events[0][0]["type"], "TransactionError");
    assert_eq!(err_events[0][0]["error.class"], "PaymentError");

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
    assert_eq!(ds[2]["peer.address"], "db.example:3306");
    assert_eq!(ds[2]["db.instance"], "shop");
    let ext = spans
        .iter()
        .find(|s| s[0]["name"] == "External/api.example.com/all")
        .unwrap();
    assert_eq!(ext[0]["category"], "http");
    assert_eq!(ext[2]["http.url"], "https://api.example.com/prices");
    assert_eq!(ext[0]["component"], "curl");
    assert_eq!(ext[2]["http.method"], "GET");
    // User attributes go on the root span too.
    let root = spans
        .iter()
        .find(|s| s[0]["nr.entryPoint"] == true)
        .unwrap();
    assert_eq!(root[1]["customer"], "acme", "{root}");

    // The App query said "c", and the connect payload carries it.
    let connect = h.connect().expect("connect call");
    assert_eq!(connect["language"], "c");
    assert_eq!(connect["agent_version"], "1.3.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_the_less_common_calls_report_what_they_should() {
    let env = Env::start().await;
    let bin = env.path("api_edges");
    cc(&["tests/c/api_edges.c"], &bin, Link::Shared, &[]);
    let app = app_name("edges");
    let out = env.run_ok(&mut env.command(&bin, &app), &app);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("api_edges: 0 failures"),
        "{}",
        common::text(&out)
    );
    let log = std::fs::read_to_string(env.path(&format!("{app}.log"))).unwrap();
    for refusal in [
        "the handle is NULL",
        "is not valid UTF-8",
        "is longer than 255 bytes",
        "the handle is not one this call takes",
        "the parent is the segment itself or one of its descendants",
        "cannot end a segment on a different transaction",
        "the stack trace is not a JSON array of strings",
        "newrelic_init() cannot be invoked more than once",
        "config field app_name",
    ] {
        assert!(log.contains(refusal), "'{refusal}' logged:\n{log}");
    }
    assert!(
        !log.contains("internal error"),
        "no panic was caught:\n{log}"
    );

    let h = env
        .harvest(&app, WAIT, |h| {
            h.count("WebTransaction/Custom/renamed") >= 1.0
                && h.count("OtherTransaction/Action/other") >= 1.0
                && !h.errors().is_empty()
                && h.events("analytic_event_data").len() >= 2
        })
        .await;
    let scope = "WebTransaction/Custom/renamed";
    // Bad segment names fall back to the C SDK's defaults; re-parenting and
    // re-timing are counted.
    for (name, scoped) in [
        ("Custom/Unnamed Segment", true),
        ("Edge/third", true),
        ("Datastore/statement/Redis/other/get", true),
        ("Custom/Edges/Value", false),
        ("Supportability/C/api/set_segment_parent", false),
        ("Supportability/C/api/set_segment_parent_root", false),
        ("Supportability/C/api/set_transaction_timing", false),
        (
            "Supportability/DistributedTrace/AcceptPayload/Success",
            false,
        ),
        (
            "Supportability/DistributedTrace/CreatePayload/Success",
            false,
        ),
    ] {
        let n = if scoped {
            h.scoped_count(name, scope)
        } else {
            h.count(name)
        };
        assert!(
            n >= 1.0,
            "{name} (scoped: {scoped}) in {:#?}",
            h.metrics().keys()
        );
    }
    assert_eq!(
        h.scoped_count("Custom/Unnamed Segment", scope),
        2.0,
        "a NULL and a bad name both fall back"
    );
    assert_eq!(
        h.count("OtherTransaction/Action/ignored"),
        0.0,
        "ignored: nothing sent"
    );
    assert_eq!(
        h.count("Custom/never ended"),
        0.0,
        "a segment never ended is dropped"
    );
    // set_transaction_timing: one second, at the given start.
    let ev = h.events("analytic_event_data");
    let renamed = ev
        .iter()
        .find(|e| e[0]["name"] == "WebTransaction/Custom/renamed")
        .unwrap();
    assert_eq!(renamed[0]["duration"], 1.0);
    assert_eq!(
        renamed[0]["timestamp"].as_f64().unwrap() as u64,
        1_700_000_000,
        "seconds"
    );
    assert_eq!(renamed[1]["good"], "yes");
    assert_eq!(
        renamed[1].as_object().unwrap().len(),
        1,
        "only the good attribute: {renamed}"
    );
    // The second transaction accepted the first's JSON payload.
    let other = ev
        .iter()
        .find(|e| e[0]["name"] == "OtherTransaction/Action/other")
        .unwrap();
    assert_eq!(other[0]["traceId"], renamed[0]["traceId"]);
    assert_eq!(other[0]["parent.transportType"], "Kafka");
    // The given stack trace; the lower-priority error did not replace it.
    let err = &h.errors()[0];
    assert_eq!(err[3], "EdgeError");
    assert_eq!(
        err[4]["stack_trace"],
        serde_json::json!(["frame one", "frame two"])
    );
    // The Redis query is never reported (not an SQL product).
    assert!(!h
        .calls
        .iter()
        .any(|c| c.payload.to_string().contains("GET secret")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_tracing_links_two_processes() {
    let env = Env::start().await;
    let caller = env.path("dt_caller");
    let callee = env.path("dt_callee");
    cc(&["examples/dt_caller.c"], &caller, Link::Shared, &[]);
    cc(&["examples/dt_callee.c"], &callee, Link::Static, &[]);
    let front = app_name("dt-front");
    let back = app_name("dt-back");
    let mut c = env.command(&caller, &front);
    c.arg(&callee).env("NEW_RELIC_CALLEE_APP_NAME", &back);
    env.run_ok(&mut c, &front);

    let wait_spans = |h: &common::Harvest| h.events("span_event_data").len() >= 2;
    let fh = env.harvest(&front, WAIT, wait_spans).await;
    let bh = env.harvest(&back, WAIT, wait_spans).await;
    let fspans = fh.events("span_event_data");
    let bspans = bh.events("span_event_data");
    let ext = fspans
        .iter()
        .find(|s| s[0]["name"] == "External/backend.example/all")
        .expect("the caller's external span");
    let broot = bspans
        .iter()
        .find(|s| s[0]["nr.entryPoint"] == true)
        .expect("the callee's root span");
    assert_eq!(broot[0]["traceId"], ext[0]["traceId"], "one trace");
    assert_eq!(
        broot[0]["parentId"], ext[0]["guid"],
        "the callee's parent is the call"
    );
    let bev = &bh.events("analytic_event_data")[0];
    assert_eq!(bev[0]["name"], "OtherTransaction/Action/backend");
    assert_eq!(bev[0]["parent.type"], "App");
    assert_eq!(bev[0]["parent.transportType"], "HTTP");
    assert_eq!(bev[0]["parent.account"], "1");
    assert!(bev[0]["parent.app"].is_string(), "{bev}");
    assert!(bev[0]["parent.transportDuration"].is_number(), "{bev}");
    assert_eq!(bev[0]["traceId"], ext[0]["traceId"]);
    assert_eq!(
        bh.count("Supportability/DistributedTrace/AcceptPayload/Success"),
        1.0
    );
    assert!(
        bh.metrics()
            .keys()
            .any(|(n, _)| n.starts_with("DurationByCaller/App/")),
        "{:?}",
        bh.metrics().keys()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reaches_the_abi_through_ctypes() {
    let env = Env::start().await;
    let app = app_name("python");
    let mut c = Command::new("python3");
    c.arg(common::crate_dir().join("examples/python/ctypes_example.py"))
        .env("LIBNEWRELIC", common::prefix().join("lib/libnewrelic.so"));
    env.configure(&mut c, &app);
    let out = env.run_ok(&mut c, &app);
    assert!(String::from_utf8_lossy(&out.stdout).contains("libnewrelic 1.3.0"));
    let h = env
        .harvest(&app, WAIT, |h| {
            h.count("OtherTransaction/Action/python-job") >= 1.0
        })
        .await;
    assert_eq!(
        h.scoped_count("Python/sleep", "OtherTransaction/Action/python-job"),
        1.0
    );
    let ev = h.events("analytic_event_data");
    assert_eq!(ev[0][1]["language"], "python");
}

#[test]
fn without_a_daemon_every_call_fails_fast_and_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("web_transaction");
    cc(&["examples/web_transaction.c"], &bin, Link::Shared, &[]);
    let start = std::time::Instant::now();
    let out = Command::new(&bin)
        .env("NEW_RELIC_LICENSE_KEY", common::LICENSE)
        .env("NEW_RELIC_DAEMON_SOCKET", dir.path().join("nobody.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("newrelic_init: failed to connect to the daemon"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_license_goes_only_to_a_daemon_of_a_trusted_user() {
    // A daemon run by another user (nobody) at the address: an abstract
    // socket has no permissions, so anyone could have bound it first.
    let env = Env::start_as(collector_standin::StandinConfig::fast(), Some("nobody")).await;
    let bin = env.path("web_transaction");
    cc(&["examples/web_transaction.c"], &bin, Link::Shared, &[]);
    let app = app_name("owner");
    let out = env.command(&bin, &app).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let log = std::fs::read_to_string(env.path(&format!("{app}.log"))).unwrap();
    assert!(log.contains("refusing to talk to the daemon"), "{log}");
    assert!(log.contains("uid 65534"), "{log}");
    assert!(
        env.standin.calls_for("connect").is_empty(),
        "no license left the process"
    );
    // Named as the daemon's user, it is trusted.
    let mut c = env.command(&bin, &app);
    c.env("NEW_RELIC_DAEMON_USER", "nobody");
    env.run_ok(&mut c, &app);
    env.harvest(&app, WAIT, |h| {
        h.count("WebTransaction/Action/checkout") >= 1.0
    })
    .await;
}
