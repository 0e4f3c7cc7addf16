//! The collector client against the collector stand-in, over real TLS with
//! a throwaway CA: what goes on the wire, and how every answer is
//! classified.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use collector_standin::{pki, Fault, StandinConfig};
use seraph_collector::{
    connect_payload, encode_blob, http_date, ClientConfig, ClientError, CollectorClient,
    DiscardReason, LicenseKey, Method, Outcome, Timeouts,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::*;

#[tokio::test]
async fn connect_sequence_over_verified_tls() {
    let f = Fixture::new(StandinConfig::fast()).await;
    let client = f.client();
    let app = f.app();
    let attempt = connect(&client, &app).await;
    assert_eq!(attempt.calls.len(), 2);
    let Outcome::Success(c) = attempt.outcome else {
        panic!("connect failed: {:?}", attempt.outcome)
    };
    assert_eq!(c.collector_host, f.standin.host());
    assert_eq!(c.reply.agent_run_id, "1");
    assert_eq!(c.reply.data_report_period, Duration::from_secs(1));
    assert_eq!(c.reply.event_harvest.report_period, Duration::from_secs(1));
    assert_eq!(c.reply.event_harvest.analytic.limit, 10_000);
    assert_eq!(c.reply.event_harvest.span.limit, 2000);
    assert_eq!(c.security_policies, "{}");
    let raw: Value = serde_json::from_str(&c.reply.raw).unwrap();
    assert_eq!(raw["collect_traces"], true);
    assert_eq!(attempt.calls[1].status, 200);
    assert!(attempt.calls[1].response_bytes > c.reply.raw.len());

    let calls = f.standin.calls();
    assert_eq!(calls.len(), 2);
    let (pre, conn) = (&calls[0], &calls[1]);
    assert_eq!(pre.method, "preconnect");
    assert_eq!(pre.path, "/agent_listener/invoke_raw_method");
    assert_eq!(
        pre.raw_query,
        format!("license_key={LICENSE}&marshal_format=json&method=preconnect&protocol_version=17")
    );
    assert_eq!(pre.payload, json!([{"high_security": false}]));
    assert_eq!(
        conn.raw_query,
        format!("license_key={LICENSE}&marshal_format=json&method=connect&protocol_version=17")
    );
    for call in [pre, conn] {
        assert_eq!(call.header("accept-encoding"), Some("identity, deflate"));
        assert_eq!(
            call.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(call.header("content-encoding"), Some("deflate"));
        assert_eq!(
            call.header("user-agent"),
            Some("NewRelic-PHP-Agent/12.9.0.0 Seraph/test")
        );
        assert_eq!(
            call.header("x-nr-run-token"),
            None,
            "no request_headers_map before connect"
        );
        assert_eq!(call.payload_error, None);
    }
    // The body the stand-in inflated is exactly the payload we build.
    let expected = connect_payload(&app, Some(&util()), 4242, "daemon-host", None);
    assert_eq!(conn.payload, expected);
    assert_eq!(conn.payload[0]["utilization"]["hostname"], "web1");
    assert_eq!(conn.app_name.as_deref(), Some("shop"));
}

#[tokio::test]
async fn harvest_calls_carry_run_id_and_request_headers() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = f.client();
    let Outcome::Success(c) = connect(&client, &f.app()).await.outcome else {
        panic!("connect failed")
    };
    let ep = c.endpoint(&LicenseKey::new(LICENSE));
    assert_eq!(ep.run_id.as_deref(), Some("1"));
    let payload = json!(["1", 1700000000, 1700000060, [[{"name": "Instance/Reporting"}, [1, 0, 0, 0, 0, 0]]]]);
    let text = payload.to_string();
    let r = client
        .invoke(&ep, Method::MetricData, text.as_bytes())
        .await;
    let Outcome::Success(rv) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(rv.is_null());
    assert_eq!(r.stats.status, 200);
    assert!(r.stats.sent);
    assert_eq!(r.stats.request_bytes, text.len());

    let got = f.standin.wait_for("metric_data", 1, WAIT).await.unwrap();
    let call = &got[0];
    assert_eq!(call.payload, payload);
    assert_eq!(call.body_bytes, r.stats.compressed_bytes);
    assert_eq!(
        call.raw_query,
        format!("license_key={LICENSE}&marshal_format=json&method=metric_data&protocol_version=17&run_id=1")
    );
    assert_eq!(call.run_id.as_deref(), Some("1"));
    assert_eq!(call.header("x-nr-run-token"), Some("standin-run-token"));
    assert_eq!(
        call.header("user-agent"),
        Some("NewRelic-PHP-Agent/12.9.0.0 Seraph/test")
    );
    assert_eq!(call.app_name.as_deref(), Some("shop"));
}

#[tokio::test]
async fn clones_share_one_kept_alive_connection() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = f.client();
    let clone = client.clone();
    for c in [&client, &clone, &client, &clone] {
        let r = c.invoke(&f.endpoint(), Method::Preconnect, b"[{}]").await;
        assert!(r.outcome.is_success(), "{:?}", r.outcome);
    }
    assert_eq!(f.standin.calls().len(), 4);
    assert_eq!(f.standin.connections_accepted(), 1);
}

#[tokio::test]
async fn configured_roots_replace_the_system_ones() {
    let f = Fixture::new(StandinConfig::default()).await;

    // The CA in a directory of *.pem files works too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&f.ca_file, dir.path().join("standin.pem")).unwrap();
    std::fs::write(dir.path().join("README.txt"), "not a certificate").unwrap();
    let by_dir = CollectorClient::new(ClientConfig {
        ca_path: Some(dir.path().to_owned()),
        ..Default::default()
    })
    .unwrap();
    assert!(!by_dir.uses_system_certificates());
    let r = by_dir
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(r.outcome.is_success(), "{:?}", r.outcome);

    // Another CA: the server's certificate does not verify, nothing is sent.
    let other = pki::generate(&["127.0.0.1"]).unwrap();
    let other_ca = dir.path().join("other.crt");
    std::fs::write(&other_ca, other.ca_pem).unwrap();
    let wrong = CollectorClient::new(ClientConfig {
        ca_bundle: Some(other_ca),
        ..Default::default()
    })
    .unwrap();
    let r = wrong
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    match &r.outcome {
        Outcome::Discard(DiscardReason::Transport(msg)) => {
            assert!(msg.to_lowercase().contains("certificate"), "{msg}")
        }
        other => panic!("expected a verification failure, got {other:?}"),
    }
    assert_eq!(r.stats.status, 0);

    // The system roots do not know the stand-in's CA either.
    let system = CollectorClient::new(ClientConfig::default()).unwrap();
    assert!(system.uses_system_certificates());
    let r = system
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(
        matches!(r.outcome, Outcome::Discard(DiscardReason::Transport(_))),
        "{:?}",
        r.outcome
    );

    // Only the one call with the right CA reached the server.
    assert_eq!(f.standin.calls().len(), 1);
}

#[tokio::test]
async fn every_status_class_maps_to_its_outcome() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = f.client();
    let mut ep = f.endpoint();
    ep.run_id = Some("7".into());
    for status in [
        410u16, 401, 409, 408, 429, 500, 503, 400, 403, 413, 502, 202,
    ] {
        f.standin
            .inject(Fault::status(status).for_method("error_data"));
        let r = client.invoke(&ep, Method::ErrorData, b"[\"7\",[]]").await;
        assert_eq!(r.stats.status, status);
        let ok = match (status, &r.outcome) {
            (410, Outcome::Disconnect) => true,
            (401, Outcome::LicenseInvalid) => true,
            (409, Outcome::Restart) => true,
            (408 | 429 | 500 | 503, Outcome::MergeBack { retry_after: None }) => true,
            (202, Outcome::Success(rv)) => rv.is_null(),
            (400 | 403 | 413 | 502, Outcome::Discard(DiscardReason::Status(s))) => *s == status,
            _ => false,
        };
        assert!(ok, "{status} gave {:?}", r.outcome);
        let http_error = r.stats.http_error_metric();
        assert_eq!(http_error.is_none(), status == 202);
    }
    assert_eq!(f.standin.calls_for("error_data").len(), 12);
}

#[tokio::test]
async fn retry_after_in_seconds_or_as_a_date() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = f.client();
    f.standin.inject(Fault::status(503).with_retry_after("120"));
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(
        matches!(r.outcome, Outcome::MergeBack { retry_after: Some(d) } if d == Duration::from_secs(120)),
        "{:?}",
        r.outcome
    );

    let when = http_date(SystemTime::now() + Duration::from_secs(300));
    f.standin.inject(Fault::status(429).with_retry_after(&when));
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    match r.outcome {
        // HTTP dates have whole seconds, and some time passes in between.
        Outcome::MergeBack {
            retry_after: Some(d),
        } => {
            assert!(
                d <= Duration::from_secs(300) && d >= Duration::from_secs(200),
                "{d:?}"
            )
        }
        other => panic!("{other:?}"),
    }

    f.standin
        .inject(Fault::status(500).with_retry_after("soon"));
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(matches!(
        r.outcome,
        Outcome::MergeBack { retry_after: None }
    ));
}

#[tokio::test]
async fn oversized_payload_is_not_sent() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = f.client();
    let mut ep = f.endpoint();
    ep.run_id = Some("1".into());
    ep.max_payload_size = 64;
    // Random-ish text compresses badly.
    let big: String = (0..400u32)
        .map(|i| format!("{:x}", i.wrapping_mul(2654435761)))
        .collect();
    let payload = json!(["1", [big]]).to_string();
    let r = client
        .invoke(&ep, Method::ErrorData, payload.as_bytes())
        .await;
    match r.outcome {
        Outcome::Discard(DiscardReason::PayloadTooLarge { compressed, max }) => {
            assert_eq!(max, 64);
            assert!(compressed > 64);
            assert_eq!(compressed, r.stats.compressed_bytes);
        }
        other => panic!("{other:?}"),
    }
    assert!(!r.stats.sent);
    assert_eq!(r.stats.status, 0);
    assert!(f.standin.calls().is_empty());
}

#[tokio::test]
async fn exception_body_and_dropped_connection_are_discards() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = f.client();
    f.standin.inject(Fault::exception(
        "NewRelic::Agent::InternalError",
        "try later",
    ));
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert_eq!(r.stats.status, 200);
    match r.outcome {
        Outcome::Discard(DiscardReason::Exception {
            error_type,
            message,
        }) => {
            assert_eq!(error_type, "NewRelic::Agent::InternalError");
            assert_eq!(message, "try later");
        }
        other => panic!("{other:?}"),
    }

    f.standin.inject(Fault::drop_connection());
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(
        matches!(r.outcome, Outcome::Discard(DiscardReason::Transport(_))),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.stats.status, 0);
    assert!(r.stats.sent);

    // The client recovers: the next call gets a fresh connection.
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(r.outcome.is_success());
    let statuses: Vec<u16> = f
        .standin
        .calls()
        .iter()
        .map(|c| c.response_status)
        .collect();
    assert_eq!(statuses, vec![200, 0, 200]);
}

#[tokio::test]
async fn a_stalled_collector_hits_the_request_deadline() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = CollectorClient::new(ClientConfig {
        timeouts: Timeouts {
            request: Duration::from_millis(300),
            ..Default::default()
        },
        ..f.config()
    })
    .unwrap();
    f.standin.inject(Fault::delay(Duration::from_secs(20)));
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(
        matches!(r.outcome, Outcome::Discard(DiscardReason::Timeout(_))),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.stats.status, 0);
}

#[tokio::test]
async fn refused_and_disconnected_licenses() {
    let f = Fixture::new(StandinConfig::default()).await;
    let client = f.client();
    f.standin.set_license_status(LICENSE, Some(401));
    let a = connect(&client, &f.app()).await;
    assert!(
        matches!(a.outcome, Outcome::LicenseInvalid),
        "{:?}",
        a.outcome
    );
    assert_eq!(
        a.calls.len(),
        1,
        "connect is not tried after a failed preconnect"
    );
    f.standin.set_license_status(LICENSE, Some(410));
    let a = connect(&client, &f.app()).await;
    assert!(matches!(a.outcome, Outcome::Disconnect), "{:?}", a.outcome);
    f.standin.set_license_status(LICENSE, None);
    f.standin.inject(Fault::status(409).for_method("connect"));
    let a = connect(&client, &f.app()).await;
    assert!(matches!(a.outcome, Outcome::Restart), "{:?}", a.outcome);
    assert_eq!(a.calls.len(), 2);
}

#[tokio::test]
async fn security_policies_are_negotiated() {
    let f = Fixture::new(StandinConfig {
        security_policies: json!({
            "record_sql": {"enabled": false, "required": true},
            "custom_events": {"enabled": true, "required": false}
        }),
        ..Default::default()
    })
    .await;
    let client = f.client();
    let mut app = f.app();
    app.security_policy_token = "ffff-0000".into();
    app.supported_security_policies = r#"{"record_sql":{"enabled":true,"supported":true},
        "custom_events":{"enabled":true,"supported":true}}"#
        .into();
    let a = connect(&client, &app).await;
    let Outcome::Success(c) = a.outcome else {
        panic!("{:?}", a.outcome)
    };
    assert_eq!(
        c.security_policies,
        r#"{"custom_events":true,"record_sql":false}"#
    );
    let calls = f.standin.calls();
    assert_eq!(
        calls[0].payload,
        json!([{"security_policies_token": "ffff-0000", "high_security": false}])
    );
    assert_eq!(
        calls[1].payload[0]["security_policies"],
        json!({"custom_events": {"enabled": true}, "record_sql": {"enabled": false}})
    );

    // The account requires a policy this agent does not support: no connect.
    app.supported_security_policies =
        r#"{"custom_events":{"enabled":true,"supported":true}}"#.into();
    let a = connect(&client, &app).await;
    assert!(
        matches!(&a.outcome, Outcome::Discard(DiscardReason::SecurityPolicies(m)) if m.contains("record_sql")),
        "{:?}",
        a.outcome
    );
    assert_eq!(a.calls.len(), 1);
}

/// A minimal CONNECT proxy on loopback that records the request heads it
/// receives and answers `status` (tunnelling on 200). With `tls` the client
/// must speak TLS to the proxy first (an `https://` proxy).
async fn start_proxy(
    status: &'static str,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = seen2.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(cfg) => {
                        if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                            proxy_session(s, status, seen).await
                        }
                    }
                    None => proxy_session(tcp, status, seen).await,
                }
            });
        }
    });
    (addr, seen)
}

async fn proxy_session<S>(mut client: S, status: &str, seen: Arc<Mutex<Vec<String>>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    seen.lock().unwrap().push(head.clone());
    if status != "200" {
        let _ = client
            .write_all(format!("HTTP/1.1 {status} No\r\nContent-Length: 0\r\n\r\n").as_bytes())
            .await;
        return;
    }
    let target = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await;
    let _ = client.flush().await;
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[tokio::test]
async fn calls_tunnel_through_a_connect_proxy() {
    let f = Fixture::new(StandinConfig::default()).await;
    let (proxy, seen) = start_proxy("200", None).await;
    // No scheme: http:// is assumed. The password is percent-encoded.
    let outcome = f
        .preconnect_through(format!("proxyuser:p%40ss@{proxy}"))
        .await;
    assert!(outcome.is_success(), "{:?}", outcome);
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    let host = f.standin.host();
    assert!(
        heads[0].starts_with(&format!("CONNECT {host} HTTP/1.1\r\n")),
        "{}",
        heads[0]
    );
    assert!(heads[0].contains(&format!("Host: {host}\r\n")));
    // base64("proxyuser:p@ss")
    assert!(
        heads[0].contains("Proxy-Authorization: Basic cHJveHl1c2VyOnBAc3M=\r\n"),
        "{}",
        heads[0]
    );
    assert_eq!(f.standin.calls().len(), 1);

    let (refusing, _) = start_proxy("407", None).await;
    let outcome = f.preconnect_through(format!("http://{refusing}")).await;
    match &outcome {
        Outcome::Discard(DiscardReason::Transport(m)) => assert!(m.contains("407"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        CollectorClient::new(ClientConfig {
            proxy: Some("socks4://127.0.0.1:1080".into()),
            ..f.config()
        }),
        Err(ClientError::UnsupportedProxyScheme(_))
    ));
}

/// A SOCKS5 proxy that asks for a user name and password, records them and
/// the requested target, and relays to it.
async fn start_socks5_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut greeting = [0u8; 2];
                client.read_exact(&mut greeting).await?;
                let mut methods = vec![0u8; usize::from(greeting[1])];
                client.read_exact(&mut methods).await?;
                if !methods.contains(&2) {
                    client.write_all(&[5, 0xff]).await?;
                    return Ok(());
                }
                client.write_all(&[5, 2]).await?;
                let mut b = [0u8; 2];
                client.read_exact(&mut b).await?;
                let mut user = vec![0u8; usize::from(b[1])];
                client.read_exact(&mut user).await?;
                client.read_exact(&mut b[..1]).await?;
                let mut pass = vec![0u8; usize::from(b[0])];
                client.read_exact(&mut pass).await?;
                client.write_all(&[1, 0]).await?;
                let mut head = [0u8; 4];
                client.read_exact(&mut head).await?;
                let host = match head[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        client.read_exact(&mut ip).await?;
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        client.read_exact(&mut b[..1]).await?;
                        let mut name = vec![0u8; usize::from(b[0])];
                        client.read_exact(&mut name).await?;
                        String::from_utf8_lossy(&name).into_owned()
                    }
                    _ => return Ok(()),
                };
                client.read_exact(&mut b).await?;
                let port = u16::from_be_bytes(b);
                log.lock().unwrap().push(format!(
                    "{}:{} -> {host}:{port}",
                    String::from_utf8_lossy(&user),
                    String::from_utf8_lossy(&pass)
                ));
                let mut upstream = TcpStream::connect((host.as_str(), port)).await?;
                client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
                std::io::Result::Ok(())
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn calls_go_through_a_socks5_proxy() {
    let f = Fixture::new(StandinConfig::default()).await;
    let (proxy, seen) = start_socks5_proxy().await;
    let outcome = f
        .preconnect_through(format!("socks5://proxyuser:p%40ss@{proxy}"))
        .await;
    assert!(outcome.is_success(), "{:?}", outcome);
    // TLS to the collector runs inside the SOCKS5 connection and is
    // verified as usual.
    assert_eq!(
        seen.lock().unwrap().clone(),
        [format!("proxyuser:p@ss -> {}", f.standin.host())]
    );
    assert_eq!(f.standin.calls().len(), 1);

    // Without credentials this proxy refuses: a transport failure that
    // says why.
    let outcome = f.preconnect_through(format!("socks5h://{proxy}")).await;
    match &outcome {
        Outcome::Discard(DiscardReason::Transport(m)) => {
            assert!(m.contains("requires a user name and password"), "{m}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn audit_log_has_two_obfuscated_lines_per_call() {
    let f = Fixture::new(StandinConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let client = CollectorClient::new(ClientConfig {
        audit_log: Some(audit.clone()),
        ..f.config()
    })
    .unwrap();
    let Outcome::Success(c) = connect(&client, &f.app()).await.outcome else {
        panic!("connect failed")
    };
    let ep = c.endpoint(&LicenseKey::new(LICENSE));
    let params = json!({"backtrace": ["a.php:1"]});
    let sql = json!([[[
        "txn",
        "/uri",
        1,
        "SELECT 1",
        "Datastore/x",
        1,
        1.0,
        1.0,
        1.0,
        encode_blob(&params)
    ]]]);
    let r = client
        .invoke(&ep, Method::SqlTraceData, sql.to_string().as_bytes())
        .await;
    assert!(r.outcome.is_success());
    f.standin.inject(Fault::status(503));
    let r = client.invoke(&ep, Method::MetricData, b"[]").await;
    assert!(matches!(r.outcome, Outcome::MergeBack { .. }));

    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "{text}");
    assert!(!text.contains(LICENSE), "full license key in the audit log");
    let host = f.standin.host();
    let url = |m: &str, run: &str| {
        format!("https://{host}/agent_listener/invoke_raw_method?license_key=eu..gh&marshal_format=json&method={m}&protocol_version=17{run}")
    };
    // Lines start with "YYYY/MM/DD HH:MM:SS.micro ".
    let body = |l: &str| l[27..].to_owned();
    assert_eq!(
        body(lines[0]),
        format!(
            "command='preconnect' url='{}' payload={{[{{\"high_security\":false}}]}}",
            url("preconnect", "")
        )
    );
    assert!(body(lines[1]).starts_with(&format!(
        "command='preconnect' url='{}', status=200, response={{{{\"redirect_host\":\"{host}\"",
        url("preconnect", "")
    )));
    assert!(body(lines[3]).contains(&format!(
        "'{}', status=200, response={{{{",
        url("connect", "")
    )));
    assert!(body(lines[3]).contains("\"agent_run_id\":\"1\""));
    // The SQL params blob is shown expanded.
    assert!(body(lines[4]).starts_with(&format!(
        "command='sql_trace_data' url='{}' payload={{",
        url("sql_trace_data", "&run_id=1")
    )));
    assert!(
        body(lines[4]).contains(r#"{"backtrace":["a.php:1"]}"#),
        "{}",
        lines[4]
    );
    assert_eq!(
        body(lines[5]),
        format!(
            "command='sql_trace_data' url='{}', status=200, response={{null}}",
            url("sql_trace_data", "&run_id=1")
        )
    );
    assert_eq!(
        body(lines[7]),
        format!(
            "command='metric_data' url='{}', status=503, response={{}}",
            url("metric_data", "&run_id=1")
        )
    );
}

#[tokio::test]
async fn calls_tunnel_through_an_https_proxy() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let f = Fixture::new(StandinConfig::default()).await;
    // The proxy has its own CA; the client trusts both through a directory.
    let proxy_pki = pki::generate(&["127.0.0.1"]).unwrap();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(proxy_pki.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(proxy_pki.key_pem.as_bytes()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let (proxy, seen) = start_proxy("200", Some(Arc::new(server))).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&f.ca_file, dir.path().join("collector.pem")).unwrap();
    std::fs::write(dir.path().join("proxy.pem"), &proxy_pki.ca_pem).unwrap();
    let client = CollectorClient::new(ClientConfig {
        ca_bundle: None,
        ca_path: Some(dir.path().to_owned()),
        proxy: Some(format!("https://{proxy}")),
        ..f.config()
    })
    .unwrap();
    let r = client
        .invoke(&f.endpoint(), Method::Preconnect, b"[{}]")
        .await;
    assert!(r.outcome.is_success(), "{:?}", r.outcome);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(f.standin.calls().len(), 1);

    // Trusting only the collector's CA, the proxy's certificate fails.
    let outcome = f.preconnect_through(format!("https://{proxy}")).await;
    assert!(
        matches!(&outcome, Outcome::Discard(DiscardReason::Transport(m)) if m.contains("certificate")),
        "{:?}",
        outcome
    );
    assert_eq!(f.standin.calls().len(), 1);
}
