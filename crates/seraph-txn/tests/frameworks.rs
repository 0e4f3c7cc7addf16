//! What frameworks and logging libraries add to a transaction: naming
//! priorities, the framework metric, log events and packages, as the
//! finished frame carries them.

use seraph_txn::*;
use serde_json::Value;
use std::sync::Arc;

const MS: u64 = 1_000_000;
const T0_US: u64 = 1_700_000_000_000_000;

fn start(kind: TxnKind, cfg: TxnConfig) -> Transaction {
    let c = ConnectInfo::from_connect_reply(
        r#"{"agent_run_id":"R","entity_guid":"GUID","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_span_events":true}"#,
    )
    .unwrap();
    let mut ids = SeededIds::new(7);
    Transaction::start(
        kind,
        T0_US,
        0,
        ClockScale::NANOS,
        Arc::new(cfg),
        Arc::new(c),
        (true, 1.5),
        &mut ids,
    )
}

fn web(cfg: TxnConfig) -> Transaction {
    start(
        TxnKind::Web(WebRequest {
            method: "GET".into(),
            uri: "/blog/hello".into(),
            script_name: "/index.php".into(),
            headers: vec![],
        }),
        cfg,
    )
}

fn finish(t: Transaction) -> seraph_wire::TransactionData {
    let names = |_k: FuncKey| Some("f".to_string());
    t.finish(5 * MS, T0_US + 5000, ResourceUsage::default(), &names, 1)
        .unwrap()
}

fn has(d: &seraph_wire::TransactionData, name: &str) -> bool {
    d.metrics.iter().any(|m| m.name == name)
}

fn count(d: &seraph_wire::TransactionData, name: &str) -> f64 {
    d.metrics
        .iter()
        .filter(|m| m.name == name && !m.scoped)
        .map(|m| m.count)
        .sum()
}

#[test]
fn framework_names_follow_new_relics_priorities() {
    let mut t = web(TxnConfig::default());
    // A framework's first guess does not replace itself...
    assert!(t.name_by_framework("unknown", false));
    assert!(!t.name_by_framework("guess", false));
    // ...the router's answer does.
    assert!(t.name_by_framework("App\\Http\\Controllers\\Post@show", true));
    // The API wins over the framework, and the framework cannot undo it.
    assert!(t.set_name(NameSource::Api, "mine"));
    assert!(!t.name_by_framework("late", true));
    assert_eq!(finish(t).name, "WebTransaction/Custom/mine");

    let mut t = web(TxnConfig::default());
    assert!(t.set_name(NameSource::Function, "handler"));
    assert!(!t.name_by_framework("route", true));
    assert_eq!(finish(t).name, "WebTransaction/Function/handler");
}

#[test]
fn the_root_route_keeps_a_visible_name() {
    let mut t = web(TxnConfig::default());
    t.name_by_framework("/", true);
    assert_eq!(finish(t).name, "WebTransaction/Action//");
    let mut t = web(TxnConfig::default());
    t.name_by_framework("/items/{id}", true);
    assert_eq!(finish(t).name, "WebTransaction/Action/items/{id}");
}

#[test]
fn not_found_replaces_framework_guesses_only() {
    let mut t = web(TxnConfig::default());
    t.name_by_framework("unknown", false);
    t.name_by_framework("Middleware::handle", true);
    assert!(t.name_not_found());
    assert_eq!(finish(t).name, "WebTransaction/StatusCode/404");

    let mut t = web(TxnConfig::default());
    t.set_name(NameSource::Api, "mine");
    assert!(!t.name_not_found());
    assert_eq!(finish(t).name, "WebTransaction/Custom/mine");
}

#[test]
fn jobs_are_custom_background_transactions() {
    let mut t = start(
        TxnKind::Cli {
            script: "artisan".into(),
        },
        TxnConfig::default(),
    );
    t.name_by_framework("Artisan/queue:work", true);
    assert!(t.name_job("App\\Jobs\\Sync (database:default)"));
    let d = finish(t);
    assert_eq!(
        d.name,
        "OtherTransaction/Custom/App\\Jobs\\Sync (database:default)"
    );
}

#[test]
fn the_framework_metric_says_detected_or_forced() {
    let mut t = web(TxnConfig::default());
    t.set_framework(FrameworkOutcome::Detected(Framework::WordPress));
    t.add_package("wordpress", Some("6.1.9"));
    let d = finish(t);
    assert!(has(&d, "Supportability/framework/WordPress/detected"));
    assert!(has(&d, "Supportability/PHP/package/wordpress/6/detected"));
    let p: Value = serde_json::from_str(d.php_packages.as_deref().unwrap()).unwrap();
    assert_eq!(p, serde_json::json!([["wordpress", "6.1.9", {}]]));

    let mut t = web(TxnConfig::default());
    t.set_framework(FrameworkOutcome::ForcedNone);
    let d = finish(t);
    assert!(has(&d, "Supportability/framework/None/forced"));
    assert!(d.php_packages.is_none());
}

fn logging(f: impl FnOnce(&mut ApplicationLoggingConfig)) -> TxnConfig {
    let mut cfg = TxnConfig::default();
    f(&mut cfg.application_logging);
    cfg
}

fn rec(level: &str, message: &str) -> LogRecord {
    LogRecord {
        level: level.into(),
        message: message.into(),
        timestamp_ms: T0_US / 1000 + 1,
        context: vec![],
    }
}

fn link() -> LogLinking {
    LogLinking {
        entity_guid: "GUID".into(),
        entity_name: "shop".into(),
        hostname: "host1".into(),
    }
}

#[test]
fn log_records_become_metrics_and_linked_events() {
    let mut t = web(logging(|l| {
        l.context_data_enabled = true;
        l.context_data_exclude = vec!["password".into()];
    }));
    let trace = t.trace_id().to_owned();
    let mut r = rec("error", "payment failed");
    r.context = vec![
        ("order".into(), AttrValue::Int(42)),
        ("password".into(), AttrValue::Str("x".into())),
    ];
    t.record_log(r, &link());
    t.record_log(rec("DEBUG", "noise"), &link());
    t.record_log(rec("WARNING", ""), &link());
    let d = finish(t);
    assert_eq!(count(&d, "Logging/lines"), 3.0);
    assert_eq!(count(&d, "Logging/lines/error"), 1.0);
    assert_eq!(count(&d, "Logging/lines/DEBUG"), 1.0);
    // DEBUG is below the default WARNING level; empty messages are not
    // forwarded and not counted as dropped.
    assert_eq!(count(&d, "Logging/Forwarding/Dropped"), 1.0);
    assert_eq!(d.log_events.len(), 1);
    let e: Value = serde_json::from_str(&d.log_events[0]).unwrap();
    assert_eq!(e["message"], "payment failed");
    assert_eq!(e["level"], "error");
    assert_eq!(e["trace.id"], trace.as_str());
    assert_eq!(e["span.id"].as_str().unwrap().len(), 16);
    assert_eq!(e["entity.guid"], "GUID");
    assert_eq!(e["entity.name"], "shop");
    assert_eq!(e["hostname"], "host1");
    assert_eq!(e["timestamp"], T0_US / 1000 + 1);
    assert_eq!(e["attributes"], serde_json::json!({"context.order": 42}));
}

#[test]
fn forwarding_off_or_high_security_sends_no_events_but_keeps_metrics() {
    for cfg in [
        logging(|l| l.forwarding_enabled = false),
        TxnConfig {
            high_security: true,
            ..TxnConfig::default()
        },
    ] {
        let mut t = web(cfg);
        t.record_log(rec("ERROR", "boom"), &link());
        let d = finish(t);
        assert!(d.log_events.is_empty());
        assert_eq!(count(&d, "Logging/lines/ERROR"), 1.0);
    }
    let mut t = web(logging(|l| l.metrics_enabled = false));
    t.record_log(rec("ERROR", "boom"), &link());
    let d = finish(t);
    assert_eq!(d.log_events.len(), 1);
    assert!(!has(&d, "Logging/lines"));
}

#[test]
fn a_burst_is_bounded_by_max_samples_stored_keeping_the_newest() {
    let mut t = start(
        TxnKind::Cli {
            script: "burst.php".into(),
        },
        logging(|l| l.forwarding_max_samples_stored = 100),
    );
    for i in 0..100_000u64 {
        let mut r = rec("ERROR", &format!("line {i}"));
        r.timestamp_ms += i / 1000;
        t.record_log(r, &link());
        assert!(t.log_events_kept() <= 100);
    }
    let d = finish(t);
    assert_eq!(d.log_events.len(), 100);
    assert_eq!(count(&d, "Logging/lines"), 100_000.0);
    assert_eq!(count(&d, "Logging/Forwarding/Dropped"), 99_900.0);
    let last: Value = serde_json::from_str(d.log_events.last().unwrap()).unwrap();
    assert_eq!(last["message"], "line 99999");
    let first: Value = serde_json::from_str(&d.log_events[0]).unwrap();
    assert_eq!(first["message"], "line 99900");
}
