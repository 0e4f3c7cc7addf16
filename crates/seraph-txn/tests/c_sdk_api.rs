//! What the C SDK library (agent-ffi) needs of the transaction model
//! beyond the PHP extension's calls: segments named exactly
//! `<category>/<name>`, segments recorded after the fact that keep the span
//! id a trace payload named, a moved wall-clock start, and no PHP metrics.

use seraph_txn::*;
use serde_json::Value;
use std::sync::Arc;

const T0_US: u64 = 1_700_000_000_000_000;

fn c_config() -> TxnConfig {
    TxnConfig {
        runtime_metrics: false,
        ..TxnConfig::default()
    }
}

fn start(cfg: TxnConfig) -> Transaction {
    let connect = ConnectInfo::from_connect_reply(
        r#"{"agent_run_id":"R","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_traces":true,"collect_errors":true}"#,
    )
    .unwrap();
    let mut ids = SeededIds::new(9);
    let mut t = Transaction::start(
        TxnKind::Cli {
            script: "job".into(),
        },
        T0_US,
        0,
        ClockScale::MICROS,
        Arc::new(cfg),
        Arc::new(connect),
        (true, 1.5),
        &mut ids,
    );
    t.set_name(NameSource::File, "job");
    t
}

fn metric_names(d: &seraph_wire::TransactionData) -> Vec<String> {
    d.metrics.iter().map(|m| m.name.clone()).collect()
}

#[test]
fn named_segments_keep_their_category_and_reserved_span_ids() {
    let mut t = start(c_config());
    let reserved = t.reserve_span_id().expect("span events are on");
    let payload = t
        .create_newrelic_payload_for(Some(&reserved), T0_US + 10)
        .expect("a payload");
    let p: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        p["d"]["id"],
        reserved.as_str(),
        "the payload names the span"
    );

    // Replayed later: a View/render segment from 1 ms to 4 ms with a child.
    t.enter_internal(1_000);
    t.use_reserved_span_id(reserved.clone());
    t.enter_internal(2_000);
    t.leave_named(3_000, "Worker/inner".into());
    t.leave_named(4_000, "View/render".into());
    let d = t
        .finish(5_000, T0_US + 5_000, ResourceUsage::default(), &|_| None, 1)
        .unwrap();
    assert_eq!(d.name, "OtherTransaction/Action/job");
    let names = metric_names(&d);
    assert!(names.contains(&"View/render".to_owned()), "{names:?}");
    assert!(names.contains(&"Worker/inner".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("Custom/")), "{names:?}");
    let render = d
        .metrics
        .iter()
        .find(|m| m.name == "View/render" && m.scoped)
        .expect("scoped View/render");
    assert!((render.total - 0.003).abs() < 1e-9, "{render:?}");
    assert!(
        (render.exclusive - 0.002).abs() < 1e-9,
        "child time excluded: {render:?}"
    );
    let span = d
        .span_events
        .iter()
        .map(|s| serde_json::from_str::<Value>(s).unwrap())
        .find(|s| s[0]["name"] == "View/render")
        .expect("the span");
    assert_eq!(span[0]["guid"], reserved.as_str());
}

#[test]
fn the_c_library_reports_no_php_runtime_metrics_and_can_move_its_start() {
    let mut t = start(c_config());
    t.set_start_unix_us(T0_US - 60_000_000);
    let d = t
        .finish(1_000_000, T0_US, ResourceUsage::default(), &|_| None, 1)
        .unwrap();
    let names = metric_names(&d);
    for php in [
        "Supportability/PHP/",
        "Supportability/execute/",
        "Memory/Physical",
        "CPU/",
        "Supportability/Logging/",
    ] {
        assert!(
            !names.iter().any(|n| n.starts_with(php)),
            "{php} in {names:?}"
        );
    }
    let ev: Value = serde_json::from_str(d.txn_event.as_deref().unwrap()).unwrap();
    assert_eq!(
        ev[0]["timestamp"].as_f64().unwrap(),
        (T0_US - 60_000_000) as f64 / 1e6
    );
    assert_eq!(ev[0]["duration"].as_f64().unwrap(), 1.0);

    // The PHP extension's default keeps them.
    let d = start(TxnConfig::default())
        .finish(1_000, T0_US, ResourceUsage::default(), &|_| None, 1)
        .unwrap();
    assert!(metric_names(&d)
        .iter()
        .any(|n| n.starts_with("Supportability/PHP/")));
}
