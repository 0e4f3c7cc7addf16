//! The stand-in over plain HTTP, driven with hand-written requests: what
//! it answers, what it records, and its inspection endpoints.

use std::io::Write;
use std::time::Duration;

use collector_standin::{Fault, RecordedCall, Standin, StandinConfig, TlsMode};
use flate2::write::ZlibEncoder;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One request on a fresh connection; returns (status, headers+body text),
/// or `None` when the server hung up without answering.
async fn send(standin: &Standin, method: &str, target: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(standin.addr()).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Encoding: deflate\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        standin.host(),
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}

fn invoke_target(method: &str, license: &str, run_id: Option<&str>) -> String {
    let run = run_id.map(|r| format!("&run_id={r}")).unwrap_or_default();
    format!("/agent_listener/invoke_raw_method?license_key={license}&marshal_format=json&method={method}&protocol_version=17{run}")
}

fn body_json(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

async fn plain(config: StandinConfig) -> Standin {
    Standin::start(StandinConfig {
        tls: TlsMode::Plain,
        ..config
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn answers_like_a_collector_and_records_decoded_calls() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let standin = plain(StandinConfig {
        state_file: Some(state.clone()),
        connect_overrides: json!({"apdex_t": 0.25, "product_level": null})
            .as_object()
            .cloned()
            .unwrap(),
        ..StandinConfig::fast()
    })
    .await;
    assert!(!standin.is_tls());
    assert_eq!(standin.ca_pem(), None);

    let (status, resp) = send(
        &standin,
        "POST",
        &invoke_target("preconnect", "lic12345", None),
        &zlib(b"[{}]"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body_json(&resp)["return_value"],
        json!({"redirect_host": standin.host(), "security_policies": {}})
    );

    let payload = json!([{"app_name": ["demo", "rollup"], "identifier": "demo;rollup"}]);
    let (_, resp) = send(
        &standin,
        "POST",
        &invoke_target("connect", "lic12345", None),
        &zlib(payload.to_string().as_bytes()),
    )
    .await
    .unwrap();
    let reply = &body_json(&resp)["return_value"];
    assert_eq!(reply["agent_run_id"], "1");
    assert_eq!(reply["data_report_period"], 1);
    assert_eq!(reply["event_harvest_config"]["report_period_ms"], 1000);
    assert_eq!(reply["apdex_t"], 0.25);
    assert!(reply.get("product_level").is_none());
    assert_eq!(reply["collect_traces"], true);
    let connect_call = &standin.calls_for("connect")[0];
    assert_eq!(connect_call.granted_run_id.as_deref(), Some("1"));
    assert_eq!(connect_call.payload, payload);

    // A trace whose blob the stand-in expands.
    let trace = json!([0, {}, {}, [0, 5, "ROOT", {}, []]]);
    let blob = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(zlib(trace.to_string().as_bytes()))
    };
    let tsd = json!([
        "1",
        [[
            1.0,
            5.0,
            "OtherTransaction/php/a.php",
            "a.php",
            blob,
            "guid",
            null,
            false,
            null,
            null
        ]]
    ]);
    let (status, resp) = send(
        &standin,
        "POST",
        &invoke_target("transaction_sample_data", "lic12345", Some("1")),
        &zlib(tsd.to_string().as_bytes()),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body_json(&resp), json!({"return_value": null}));

    let calls = standin
        .wait_for("transaction_sample_data", 1, WAIT)
        .await
        .unwrap();
    let c = &calls[0];
    assert_eq!(c.payload, tsd);
    assert_eq!(c.expanded.as_ref().unwrap()[1][0][4], trace);
    assert_eq!(c.run_id.as_deref(), Some("1"));
    assert_eq!(c.license, "lic12345");
    assert_eq!(c.query["protocol_version"], "17");
    assert_eq!(c.app_name.as_deref(), Some("demo"));
    assert_eq!(c.seq, 3);

    // The state file holds every call.
    let saved: Vec<RecordedCall> = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved.len(), 3);
    assert_eq!(saved[2], *c);

    // Inspection endpoints.
    let (status, resp) = send(&standin, "GET", "/__standin/calls", b"")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body_json(&resp).as_array().map(Vec::len), Some(3));
    let (_, resp) = send(&standin, "GET", "/__standin/summary", b"")
        .await
        .unwrap();
    assert!(resp.contains("application \"demo\""), "{resp}");
    assert!(
        resp.contains("OtherTransaction/php/a.php 5.0 ms (a.php)"),
        "{resp}"
    );
    assert_eq!(standin.summary(), resp.split("\r\n\r\n").nth(1).unwrap());

    standin.clear();
    assert!(standin.calls().is_empty());
    standin.shutdown().await;
}

#[tokio::test]
async fn faults_and_license_statuses() {
    let standin = plain(StandinConfig {
        licenses_410: vec!["gone-license".into()],
        ..Default::default()
    })
    .await;
    let target = invoke_target("metric_data", "good-license", Some("1"));
    let body = zlib(b"[]");

    let (status, _) = send(
        &standin,
        "POST",
        &invoke_target("connect", "gone-license", None),
        &body,
    )
    .await
    .unwrap();
    assert_eq!(status, 410);
    standin.set_license_status("good-license", Some(401));
    assert_eq!(send(&standin, "POST", &target, &body).await.unwrap().0, 401);
    standin.set_license_status("good-license", None);

    standin.inject(
        Fault::status(503)
            .for_method("metric_data")
            .times(2)
            .with_retry_after("30"),
    );
    standin.inject(Fault::drop_connection().for_method("error_data"));
    // Faults for other methods do not fire.
    let (status, _) = send(
        &standin,
        "POST",
        &invoke_target("span_event_data", "good-license", Some("1")),
        &body,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, resp) = send(&standin, "POST", &target, &body).await.unwrap();
        assert_eq!(status, 503);
        assert!(
            resp.to_ascii_lowercase().contains("retry-after: 30"),
            "{resp}"
        );
    }
    assert_eq!(send(&standin, "POST", &target, &body).await.unwrap().0, 200);
    assert_eq!(
        send(
            &standin,
            "POST",
            &invoke_target("error_data", "good-license", Some("1")),
            &body
        )
        .await,
        None
    );

    standin.inject(Fault::exception("NewRelic::Agent::LicenseException", "bad"));
    let (status, resp) = send(&standin, "POST", &target, &body).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body_json(&resp)["exception"]["error_type"],
        "NewRelic::Agent::LicenseException"
    );

    // An undecodable body is recorded with the reason and refused.
    let (status, _) = send(&standin, "POST", &target, b"not zlib").await.unwrap();
    assert_eq!(status, 415);
    let last = standin.calls().pop().unwrap();
    assert!(last.payload_error.unwrap().contains("zlib"));

    let statuses: Vec<u16> = standin.calls().iter().map(|c| c.response_status).collect();
    assert_eq!(statuses, vec![410, 401, 200, 503, 503, 200, 0, 200, 415]);
}

#[tokio::test]
async fn payload_limit_and_concurrency() {
    let standin = plain(StandinConfig::default()).await;
    let target = invoke_target("analytic_event_data", "k", Some("1"));
    let small = zlib(b"[]");
    let large = vec![b'x'; 2000];
    standin.set_max_body(Some(1000));
    assert_eq!(
        send(&standin, "POST", &target, &small).await.unwrap().0,
        200
    );
    assert_eq!(
        send(&standin, "POST", &target, &large).await.unwrap().0,
        413
    );
    standin.set_max_body(None);
    assert_ne!(
        send(&standin, "POST", &target, &large).await.unwrap().0,
        413
    );

    // Two calls stalled at once: the second is sent once the first is
    // seen in flight (not after a guessed 100 ms), and the delay is long
    // enough for it to arrive while the first still waits.
    standin.inject(Fault::delay(Duration::from_secs(3)).times(2));
    let (a, b) = tokio::join!(send(&standin, "POST", &target, &small), async {
        let deadline = tokio::time::Instant::now() + WAIT;
        while standin.active_calls("analytic_event_data") == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "first call never seen"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(standin.active_calls("analytic_event_data"), 1);
        send(&standin, "POST", &target, &small).await
    });
    assert_eq!((a.unwrap().0, b.unwrap().0), (200, 200));
    assert_eq!(standin.peak_concurrency("analytic_event_data"), 2);
    assert_eq!(standin.active_calls("analytic_event_data"), 0);
    assert_eq!(standin.peak_concurrency("metric_data"), 0);
}

#[tokio::test]
async fn wait_for_gives_up_and_reports_what_it_saw() {
    let standin = plain(StandinConfig::default()).await;
    let err = standin
        .wait_for("metric_data", 1, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!((err.wanted, err.got), (1, 0));
    assert!(err.to_string().contains("metric_data"));
}

#[tokio::test]
async fn https_mode_hands_out_its_ca() {
    let standin = Standin::start(StandinConfig::default()).await.unwrap();
    assert!(standin.is_tls());
    assert!(standin.base_url().starts_with("https://127.0.0.1:"));
    let pem = standin.ca_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    standin.write_ca(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
}

#[tokio::test]
async fn down_refuses_connections_and_up_listens_on_the_same_port_again() {
    let standin = plain(StandinConfig::default()).await;
    let target = invoke_target("preconnect", "L", None);
    assert_eq!(
        send(&standin, "POST", &target, &zlib(b"[]"))
            .await
            .unwrap()
            .0,
        200
    );
    standin.set_down(true);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match TcpStream::connect(standin.addr()).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => {}
        }
        assert!(tokio::time::Instant::now() < deadline, "still listening");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    standin.set_down(false);
    let deadline = tokio::time::Instant::now() + WAIT;
    while TcpStream::connect(standin.addr()).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "not back up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        send(&standin, "POST", &target, &zlib(b"[]"))
            .await
            .unwrap()
            .0,
        200
    );
    assert_eq!(standin.calls_for("preconnect").len(), 2, "calls are kept");
}

#[tokio::test]
async fn a_run_can_be_answered_one_status() {
    let standin = plain(StandinConfig::default()).await;
    standin.set_run_status("7", Some(409));
    let target = invoke_target("metric_data", "L", Some("7"));
    assert_eq!(
        send(&standin, "POST", &target, &zlib(b"[]"))
            .await
            .unwrap()
            .0,
        409
    );
    let other = invoke_target("metric_data", "L", Some("8"));
    assert_eq!(
        send(&standin, "POST", &other, &zlib(b"[]"))
            .await
            .unwrap()
            .0,
        200
    );
    standin.set_run_status("7", None);
    assert_eq!(
        send(&standin, "POST", &target, &zlib(b"[]"))
            .await
            .unwrap()
            .0,
        200
    );
}
