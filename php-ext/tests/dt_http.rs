//! Distributed tracing between two real PHP processes over HTTP: a CLI
//! script (the caller) uses the DT API to send its trace context to
//! scripts served by nginx + php-fpm (the callees), which accept it
//! automatically (W3C and `newrelic` headers) or through the API. Each
//! callee's transaction joins the caller's trace, names the caller's
//! transaction and span as its parents, and says how the context came.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::web::serve;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Accepted automatically at the start of the web transaction.
const AUTO: &str = r#"<?php
echo json_encode(newrelic_get_trace_metadata());
"#;

/// The caller sent its inserted headers as `X-Fwd-<name>`; they are
/// accepted through the API.
const HEADERS: &str = r#"<?php
$h = [];
foreach ($_SERVER as $k => $v) {
    if (strncmp($k, 'HTTP_X_FWD_', 11) === 0) {
        $h[str_replace('_', '-', strtolower(substr($k, 11)))] = $v;
    }
}
$ok = newrelic_accept_distributed_trace_headers($h, 'Queue');
echo json_encode(['accepted' => $ok] + newrelic_get_trace_metadata());
"#;

/// The caller sent an HTTP-safe payload as `X-Payload`.
const PAYLOAD: &str = r#"<?php
$ok = @newrelic_accept_distributed_trace_payload_httpsafe($_SERVER['HTTP_X_PAYLOAD'], 'Other');
echo json_encode(['accepted' => $ok] + newrelic_get_trace_metadata());
"#;

/// The caller: three calls, each with its trace context sent one way. The
/// first goes through the http stream wrapper, which the agent
/// instruments (it adds the trace headers itself); the other two are
/// written on a plain socket, which it does not, so only the context the
/// script forwards reaches the callee (as through a queue or a proxy).
const CALLER: &str = r#"
function call($port, $script, $headers) {
    $lines = [];
    foreach ($headers as $k => $v) { $lines[] = "$k: $v"; }
    $ctx = stream_context_create(['http' => ['header' => implode("\r\n", $lines)]]);
    $body = file_get_contents("http://127.0.0.1:$port/$script", false, $ctx);
    return json_decode($body, true) ?? $body;
}
function call_raw($port, $script, $headers) {
    $s = fsockopen('127.0.0.1', $port);
    $req = "GET /$script HTTP/1.0\r\nHost: 127.0.0.1\r\n";
    foreach ($headers as $k => $v) { $req .= "$k: $v\r\n"; }
    fwrite($s, $req . "\r\n");
    $resp = stream_get_contents($s);
    fclose($s);
    $body = substr($resp, strpos($resp, "\r\n\r\n") + 4);
    return json_decode($body, true) ?? $body;
}
$port = (int)$argv[1];
$out = ['caller' => newrelic_get_trace_metadata()];

$h = [];
$out['inserted'] = newrelic_insert_distributed_trace_headers($h);
$out['header_names'] = array_keys($h);
$out['auto'] = call($port, 'auto.php', $h);

$fwd = [];
foreach ($h as $k => $v) { $fwd["X-Fwd-$k"] = $v; }
$out['headers'] = call_raw($port, 'headers.php', $fwd);

// Deprecated (E_DEPRECATED), as in New Relic's agent.
$p = @newrelic_create_distributed_trace_payload();
$out['payload'] = call_raw($port, 'payload.php', ['X-Payload' => $p->httpSafe()]);
echo json_encode($out);
"#;

/// The transaction event of the transaction named `name`.
fn event_of(d: &FakeDaemon, name: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let found = d
            .frames()
            .iter()
            .filter(|f| f.kind() == "Transaction")
            .map(|f| f.txn())
            .find(|t| t.name == name);
        if let Some(t) = found {
            let ev: Value =
                serde_json::from_str(t.txn_event.as_deref().expect("a transaction event"))
                    .expect("event JSON");
            return ev[0].clone();
        }
        assert!(Instant::now() < until, "no transaction {name}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Span ids of the transaction named `name`.
fn span_ids_of(d: &FakeDaemon, name: &str) -> HashSet<String> {
    d.frames()
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| f.txn())
        .filter(|t| t.name == name)
        .flat_map(|t| t.span_events)
        .map(|e| {
            let v: Value = serde_json::from_str(&e).expect("span JSON");
            v[0]["guid"].as_str().expect("span guid").to_owned()
        })
        .collect()
}

#[test]
fn callees_over_http_join_the_callers_trace() {
    let d = FakeDaemon::start(Mode::Connected);
    let web = serve(
        &d,
        &[
            ("auto.php", AUTO),
            ("headers.php", HEADERS),
            ("payload.php", PAYLOAD),
        ],
    );
    let addr = d.address();
    let out = php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        (
            "newrelic.license",
            "0123456789012345678901234567890123456789",
        ),
        ("newrelic.appname", "caller"),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .arg("-r")
    .arg(CALLER)
    .arg(web.port.to_string())
    .output()
    .expect("run the caller");
    let text = stdout(&out);
    let got: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "caller output is not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });

    // A trace id of New Relic's own is 16 characters; the W3C
    // traceparent carries it padded to 32 with zeros, and a callee that
    // accepted the traceparent keeps that form, as with New Relic's agent.
    let trace = got["caller"]["trace_id"].as_str().expect("caller trace id");
    assert_eq!(trace.len(), 16, "{got}");
    let padded = format!("{trace:0>32}");
    assert_eq!(got["inserted"], true, "{got}");
    let mut names: Vec<&str> = got["header_names"]
        .as_array()
        .expect("header names")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["newrelic", "traceparent", "tracestate"]);
    assert_eq!(got["auto"]["trace_id"], padded, "{got}");
    assert_eq!(got["headers"]["trace_id"], padded, "{got}");
    assert_eq!(got["payload"]["trace_id"], trace, "{got}");
    assert_eq!(got["headers"]["accepted"], true, "{got}");
    assert_eq!(got["payload"]["accepted"], true, "{got}");

    let caller = event_of(&d, "OtherTransaction/php/Standard input code");
    let caller_guid = caller["guid"].as_str().expect("caller guid");
    assert_eq!(caller["traceId"], trace);
    let caller_spans = span_ids_of(&d, "OtherTransaction/php/Standard input code");
    for (script, transport, trace) in [
        ("auto.php", "HTTP", padded.as_str()),
        ("headers.php", "Queue", padded.as_str()),
        ("payload.php", "Other", trace),
    ] {
        let ev = event_of(&d, &format!("WebTransaction/Uri/{script}"));
        assert_eq!(ev["traceId"], trace, "{script}: {ev}");
        assert_eq!(ev["parentId"], caller_guid, "{script}: {ev}");
        let parent_span = ev["parentSpanId"].as_str().expect("parentSpanId");
        assert!(
            caller_spans.contains(parent_span),
            "{script}: parent span {parent_span} is none of the caller's {caller_spans:?}"
        );
        assert_eq!(ev["parent.type"], "App", "{script}: {ev}");
        assert_eq!(ev["parent.app"], "2", "{script}: {ev}");
        assert_eq!(ev["parent.account"], "1", "{script}: {ev}");
        assert_eq!(ev["parent.transportType"], transport, "{script}: {ev}");
        assert!(
            ev["parent.transportDuration"].as_f64().is_some(),
            "{script}: {ev}"
        );
    }
}
