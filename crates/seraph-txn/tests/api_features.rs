//! The transaction-model side of the `newrelic_*` API additions: attribute
//! rules, span parameters, request parameters, `enduser.id`, ending early,
//! browser monitoring, synthetics, code-level metrics and security
//! policies.

use seraph_txn::*;
use serde_json::Value;
use std::sync::Arc;

const MS: u64 = 1_000_000;
const T0_US: u64 = 1_700_000_000_000_000;
const LICENSE: &str = "0123456789012345678901234567890123456789";

fn connect(extra: &str) -> ConnectInfo {
    let base = r#""agent_run_id":"R","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_traces":true,"collect_errors":true"#;
    let sep = if extra.is_empty() { "" } else { "," };
    ConnectInfo::from_connect_reply(&format!("{{{base}{sep}{extra}}}")).unwrap()
}

fn start(kind: TxnKind, cfg: TxnConfig, c: ConnectInfo) -> Transaction {
    let mut ids = SeededIds::new(3);
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

fn cli_with(cfg: TxnConfig, c: ConnectInfo) -> Transaction {
    start(
        TxnKind::Cli {
            script: "job.php".into(),
        },
        cfg,
        c,
    )
}

fn cli(cfg: TxnConfig) -> Transaction {
    cli_with(cfg, connect(""))
}

fn web(cfg: TxnConfig, c: ConnectInfo) -> Transaction {
    start(
        TxnKind::Web(WebRequest {
            method: "GET".into(),
            uri: "/page?x=1".into(),
            script_name: "/page.php".into(),
            headers: vec![
                ("Host".into(), "h".into()),
                (
                    "X-Request-Start".into(),
                    format!("t={}", (T0_US - 3000) as f64 / 1e6),
                ),
            ],
        }),
        cfg,
        c,
    )
}

struct Names;

impl FuncNames for Names {
    fn name(&self, k: FuncKey) -> Option<String> {
        Some(format!("f{k}"))
    }

    fn code_location(&self, k: FuncKey) -> Option<CodeLocation> {
        Some(CodeLocation {
            function: format!("f{k}"),
            namespace: (k == 2).then(|| "Klass".to_owned()),
            filepath: Some("/app/code.php".into()),
            lineno: k as i64 * 10,
        })
    }
}

fn finish(t: Transaction, end: u64) -> seraph_wire::TransactionData {
    t.finish(end, T0_US + end / 1000, ResourceUsage::default(), &Names, 1)
        .unwrap()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// A user function with key `k` lasting `ms` milliseconds.
fn call(t: &mut Transaction, k: usize, from_ms: u64, ms: u64) {
    t.enter(k, from_ms * MS);
    t.leave((from_ms + ms) * MS);
}

#[test]
fn attribute_rules_apply_per_destination() {
    let mut cfg = TxnConfig::default();
    cfg.attributes.add_rules("secret*", 0, dest::ALL);
    cfg.attributes.add_rules("secret.shown", dest::TXN_EVENT, 0);
    cfg.attributes.add_rules("plan", 0, dest::ERROR);
    let mut t = cli(cfg);
    assert!(
        !t.add_custom_parameter("secret.token", "x".into()),
        "an attribute no destination takes is not stored"
    );
    assert!(t.add_custom_parameter("secret.shown", "y".into()));
    assert!(t.add_custom_parameter("plan", "gold".into()));
    t.notice_error(NoticedError {
        priority: 50,
        message: "m".into(),
        class: "C".into(),
        stack_trace: vec![],
        now_unix_us: T0_US,
    });
    let d = finish(t, 5 * MS);
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[1], json(r#"{"plan":"gold","secret.shown":"y"}"#));
    let err = json(&d.errors[0].data);
    let user = &err[4]["userAttributes"];
    assert!(user.get("plan").is_none(), "plan is excluded from errors");
    assert!(user.get("secret.token").is_none());
    assert!(
        user.get("secret.shown").is_none(),
        "only included in events"
    );
}

#[test]
fn a_disabled_destination_drops_everything_for_it() {
    let mut cfg = TxnConfig::default();
    cfg.attributes.disable(dest::TXN_EVENT);
    let mut t = web(cfg, connect(""));
    t.add_custom_parameter("k", 1.into());
    let d = finish(t, 5 * MS);
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[1], json("{}"));
    assert_eq!(ev[2], json("{}"));
}

#[test]
fn span_parameters_go_to_the_current_span_only() {
    let mut t = cli(TxnConfig::default());
    t.enter(7, MS);
    assert!(t.add_custom_span_parameter("on_span", "v".into()));
    assert!(t.add_custom_span_parameter("nothing", AttrValue::Null));
    t.leave(MS + MS / 2);
    let d = finish(t, 5 * MS);
    let spans: Vec<Value> = d.span_events.iter().map(|s| json(s)).collect();
    let child = spans
        .iter()
        .find(|s| s[0]["name"] == "Custom/f7")
        .expect("the short call is kept for its attribute");
    assert_eq!(child[1], json(r#"{"nothing":null,"on_span":"v"}"#));
    assert_eq!(json(d.txn_event.as_ref().unwrap())[1], json("{}"));

    let mut cfg = TxnConfig::default();
    cfg.attributes.disable(dest::SPAN);
    let mut t = cli(cfg);
    assert!(!t.add_custom_span_parameter("k", 1.into()));
    let cfg = TxnConfig {
        span_events_enabled: false,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    assert!(!t.add_custom_span_parameter("k", 1.into()));
}

#[test]
fn request_parameters_follow_capture_params_rules_and_security() {
    let mut t = web(TxnConfig::default(), connect(""));
    t.add_request_parameter("q", "shoes", false);
    let d = finish(t, 5 * MS);
    assert!(json(d.txn_event.as_ref().unwrap())[2]
        .get("request.parameters.q")
        .is_none());

    let mut t = web(TxnConfig::default(), connect(""));
    t.add_request_parameter("q", "shoes", true);
    t.notice_error(NoticedError {
        priority: 50,
        message: "m".into(),
        class: "C".into(),
        stack_trace: vec![],
        now_unix_us: T0_US,
    });
    let d = finish(t, 5 * MS);
    assert!(json(d.txn_event.as_ref().unwrap())[2]
        .get("request.parameters.q")
        .is_none());
    assert_eq!(
        json(&d.errors[0].data)[4]["agentAttributes"]["request.parameters.q"],
        "shoes"
    );

    let mut cfg = TxnConfig::default();
    cfg.attributes
        .add_rules("request.parameters.*", dest::TXN_EVENT, 0);
    let mut t = web(cfg.clone(), connect(""));
    t.add_request_parameter("q", "shoes", false);
    let d = finish(t, 5 * MS);
    assert_eq!(
        json(d.txn_event.as_ref().unwrap())[2]["request.parameters.q"],
        "shoes"
    );
    for (hs, lasp) in [(true, false), (false, true)] {
        let mut c = cfg.clone();
        c.high_security = hs;
        c.lasp = lasp;
        let mut t = web(c, connect(""));
        t.add_request_parameter("q", "shoes", true);
        let d = finish(t, 5 * MS);
        assert!(json(d.txn_event.as_ref().unwrap())[2]
            .get("request.parameters.q")
            .is_none());
    }
}

#[test]
fn user_id_reaches_events_and_the_root_span() {
    let mut t = cli(TxnConfig::default());
    t.set_user_id("user-1");
    let d = finish(t, 5 * MS);
    assert_eq!(
        json(d.txn_event.as_ref().unwrap())[2]["enduser.id"],
        "user-1"
    );
    assert_eq!(json(&d.span_events[0])[2]["enduser.id"], "user-1");
}

#[test]
fn end_of_transaction_stops_the_clock_and_recording() {
    let mut t = cli(TxnConfig::default());
    call(&mut t, 1, 1, 10);
    t.end_of_transaction(20 * MS);
    assert!(!t.is_recording());
    call(&mut t, 2, 30, 50);
    let d = finish(t, 200 * MS);
    let m = d
        .metrics
        .iter()
        .find(|m| m.name == "OtherTransaction/all")
        .unwrap();
    assert!((m.total - 0.020).abs() < 1e-9, "{}", m.total);
    let names: Vec<String> = d
        .span_events
        .iter()
        .map(|s| json(s)[0]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"Custom/f1".to_owned()));
    assert!(!names.contains(&"Custom/f2".to_owned()), "{names:?}");

    let mut t = cli(TxnConfig::default());
    t.ignore();
    assert!(!t.is_recording());
}

const BROWSER: &str = r#""js_agent_loader":"window.NREUM||(NREUM={});/*loader*/","browser_key":"bk","application_id":"77","beacon":"bam.nr-data.net","error_beacon":"bam.nr-data.net","js_agent_file":"js-agent.newrelic.com/nr-1.min.js""#;

#[test]
fn browser_header_and_footer_follow_new_relic() {
    let mut t = web(TxnConfig::default(), connect(BROWSER));
    assert!(
        t.browser_timing_footer(true, false, MS, LICENSE).is_none(),
        "no footer before the header"
    );
    let h = t.browser_timing_header(true, false).unwrap();
    assert_eq!(
        h,
        "<script type=\"text/javascript\">window.NREUM||(NREUM={});/*loader*/</script>"
    );
    assert!(t.browser_timing_header(true, false).is_none(), "once only");
    t.add_custom_parameter("u1", 1.into());
    let f = t
        .browser_timing_footer(false, false, 25 * MS, LICENSE)
        .unwrap();
    let info = f
        .strip_prefix("window.NREUM||(NREUM={});NREUM.info=")
        .unwrap();
    let v = json(info);
    assert_eq!(v["beacon"], "bam.nr-data.net");
    assert_eq!(v["licenseKey"], "bk");
    assert_eq!(v["applicationID"], "77");
    assert_eq!(v["applicationTime"], 25);
    assert_eq!(v["queueTime"], 3);
    assert_eq!(v["agent"], "js-agent.newrelic.com/nr-1.min.js");
    assert!(info.contains(r#""agent":"js-agent.newrelic.com\/nr-1.min.js""#));
    let name = rum::deobfuscate(v["transactionName"].as_str().unwrap(), LICENSE).unwrap();
    assert_eq!(name, "WebTransaction/Uri/page.php");
    // Browser attributes are off by default: only the empty objects.
    let atts = rum::deobfuscate(v["atts"].as_str().unwrap(), LICENSE).unwrap();
    assert_eq!(atts, r#"{"u":{},"a":{}}"#);
    assert!(t
        .browser_timing_footer(true, false, 30 * MS, LICENSE)
        .is_none());
    // The footer froze the name.
    assert!(!t.set_name(NameSource::Api, "late"));
}

#[test]
fn browser_attributes_and_autorum_switches() {
    // browser_monitoring.attributes.enabled = 1 (off by default).
    let mut cfg = TxnConfig {
        attributes: AttributeFilter::new(),
        ..TxnConfig::default()
    };
    cfg.attributes.add_rules("hidden", 0, dest::BROWSER);
    let mut t = web(cfg, connect(BROWSER));
    t.add_custom_parameter("shown", "yes".into());
    t.add_custom_parameter("hidden", "no".into());
    t.browser_timing_header(false, true).unwrap();
    let f = t.browser_timing_footer(false, true, MS, LICENSE).unwrap();
    let v = json(f.split_once("NREUM.info=").unwrap().1);
    let atts = rum::deobfuscate(v["atts"].as_str().unwrap(), LICENSE).unwrap();
    assert_eq!(json(&atts)["u"], json(r#"{"shown":"yes"}"#));

    let mut t = web(TxnConfig::default(), connect(BROWSER));
    assert!(t.autorum_enabled());
    t.disable_autorum();
    assert!(!t.autorum_enabled());
    assert!(t.browser_timing_header(true, true).is_none());
    assert!(
        t.browser_timing_header(true, false).is_some(),
        "the API still works"
    );

    let cfg = TxnConfig {
        autorum_enabled: false,
        ..TxnConfig::default()
    };
    let t = web(cfg, connect(BROWSER));
    assert!(!t.autorum_enabled());
    let mut t = cli(TxnConfig::default());
    assert!(!t.autorum_enabled(), "background transactions get no RUM");
    assert!(
        t.browser_timing_header(true, false).is_none(),
        "no loader in the reply"
    );
}

#[test]
fn synthetics_headers_mark_the_transaction() {
    let key = "the-encoding-key";
    let c = connect(&format!(
        r#""encoding_key":"{key}","trusted_account_ids":[99,100]"#
    ));
    let plain = r#"[1,100,"res","job","mon"]"#;
    let header = synthetics::encode_header(plain, key).unwrap();
    let mut t = web(TxnConfig::default(), c.clone());
    assert!(t.accept_synthetics_header(&header));
    assert!(!t.accept_synthetics_header(&header), "only one");
    assert!(t.is_synthetics());
    assert!(t.synthetics_outbound_header().is_some());
    let d = finish(t, MS);
    assert_eq!(d.synthetics_resource_id.as_deref(), Some("res"));
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[0]["nr.syntheticsResourceId"], "res");
    assert_eq!(ev[0]["nr.syntheticsJobId"], "job");
    assert_eq!(ev[0]["nr.syntheticsMonitorId"], "mon");
    assert!(ev[0]["nr.guid"].is_string());
    let trace = d.trace.expect("a synthetics trace is kept even when fast");
    assert!(trace.data.contains(r#""synthetics_resource_id":"res""#));

    let untrusted = synthetics::encode_header(r#"[1,5,"r","j","m"]"#, key).unwrap();
    let mut t = web(TxnConfig::default(), c.clone());
    assert!(!t.accept_synthetics_header(&untrusted));
    let off = TxnConfig {
        synthetics_enabled: false,
        ..TxnConfig::default()
    };
    let mut t = web(off, c);
    assert!(!t.accept_synthetics_header(&header));
}

#[test]
fn code_level_metrics_on_spans_and_the_transaction() {
    let cfg = TxnConfig {
        code_level_metrics_enabled: true,
        ..TxnConfig::default()
    };
    let mut t = cli(cfg);
    t.set_code_location(&CodeLocation {
        function: "/app/job.php".into(),
        namespace: None,
        filepath: Some("/app/job.php".into()),
        lineno: 1,
    });
    call(&mut t, 2, 1, 10);
    let d = finish(t, 20 * MS);
    let ev = json(d.txn_event.as_ref().unwrap());
    assert_eq!(ev[2]["code.function"], "/app/job.php");
    assert_eq!(ev[2]["code.lineno"], 1);
    let spans: Vec<Value> = d.span_events.iter().map(|s| json(s)).collect();
    let f2 = spans.iter().find(|s| s[0]["name"] == "Custom/f2").unwrap();
    assert_eq!(
        f2[2],
        json(
            r#"{"code.lineno":20,"code.namespace":"Klass","code.filepath":"/app/code.php","code.function":"f2"}"#
        )
    );
    // Off by default.
    let mut t = cli(TxnConfig::default());
    call(&mut t, 2, 1, 10);
    let d = finish(t, 20 * MS);
    assert!(d.span_events.iter().all(|s| !s.contains("code.")));
}

#[test]
fn security_policies_switch_recorded_data() {
    let mut cfg = TxnConfig::default();
    SecurityPolicies::from_json(
        r#"{"custom_parameters":false,"custom_events":false,"allow_raw_exception_messages":false,"record_sql":false}"#,
    )
    .apply(&mut cfg);
    let mut t = cli(cfg);
    assert!(!t.add_custom_parameter("k", 1.into()));
    assert!(!t.record_custom_event("E", vec![], T0_US));
    t.notice_error(NoticedError {
        priority: 50,
        message: "secret".into(),
        class: "C".into(),
        stack_trace: vec![],
        now_unix_us: T0_US,
    });
    t.enter_internal(MS);
    t.leave_datastore(
        600 * MS,
        DatastoreCall {
            product: "MySQL".into(),
            sql: Some("SELECT * FROM users WHERE id = 1".into()),
            ..DatastoreCall::default()
        },
    );
    let d = finish(t, 700 * MS);
    assert!(d.custom_events.is_empty());
    assert_eq!(
        json(&d.errors[0].data)[2],
        "Message removed by New Relic security settings"
    );
    assert!(d.slow_sqls.is_empty(), "no SQL is recorded");
    assert!(!d.span_events.iter().any(|s| s.contains("db.statement")));
}

#[test]
fn error_group_names_reach_errors_only() {
    let mut t = cli(TxnConfig::default());
    t.notice_error(NoticedError {
        priority: 50,
        message: "m".into(),
        class: "C".into(),
        stack_trace: vec![],
        now_unix_us: T0_US,
    });
    t.set_error_group_name(&"g".repeat(300));
    let d = finish(t, MS);
    let e = json(&d.errors[0].data);
    assert_eq!(
        e[4]["agentAttributes"]["error.group.name"]
            .as_str()
            .unwrap()
            .len(),
        255
    );
    assert!(json(&d.error_events[0])[2]["error.group.name"].is_string());
    assert!(json(d.txn_event.as_ref().unwrap())[2]
        .get("error.group.name")
        .is_none());
}
