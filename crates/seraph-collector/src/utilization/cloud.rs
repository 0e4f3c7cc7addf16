//! Cloud vendors: AWS, Azure and GCP from their metadata services (plain
//! HTTP, one deadline per request), PCF and Kubernetes from the
//! environment. A vendor with any invalid value is dropped whole.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::Value;

use super::normalize;

/// `vendors.aws`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Aws {
    /// Instance id.
    #[serde(rename = "instanceId", skip_serializing_if = "String::is_empty")]
    pub instance_id: String,
    /// Instance type.
    #[serde(rename = "instanceType", skip_serializing_if = "String::is_empty")]
    pub instance_type: String,
    /// Availability zone.
    #[serde(rename = "availabilityZone", skip_serializing_if = "String::is_empty")]
    pub availability_zone: String,
}

/// `vendors.azure`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Azure {
    /// Region.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// VM name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// VM id.
    #[serde(rename = "vmId", skip_serializing_if = "String::is_empty")]
    pub vm_id: String,
    /// VM size.
    #[serde(rename = "vmSize", skip_serializing_if = "String::is_empty")]
    pub vm_size: String,
}

/// `vendors.gcp`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Gcp {
    /// Numeric instance id, as a string.
    pub id: String,
    /// Machine type (last path segment).
    #[serde(rename = "machineType", skip_serializing_if = "String::is_empty")]
    pub machine_type: String,
    /// Instance name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Zone (last path segment).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub zone: String,
}

/// `vendors.pcf`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pcf {
    /// `CF_INSTANCE_GUID`
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cf_instance_guid: String,
    /// `CF_INSTANCE_IP`
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cf_instance_ip: String,
    /// `MEMORY_LIMIT`
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory_limit: String,
}

/// `vendors.kubernetes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Kubernetes {
    /// `KUBERNETES_SERVICE_HOST`
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kubernetes_service_host: String,
}

/// Largest metadata document we read.
const MAX_BODY: usize = 64 * 1024;

/// One plain-HTTP request to a metadata service, all of it (connect
/// included) within `deadline`. Returns the status and body.
async fn request(
    base: &str,
    method: http::Method,
    path: &str,
    headers: &[(&str, &str)],
    deadline: Duration,
) -> Option<(u16, Bytes)> {
    let authority = base
        .strip_prefix("http://")
        .unwrap_or(base)
        .trim_end_matches('/');
    let fut = async {
        let addr = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        let driver = tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, authority);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Empty::<Bytes>::new()).ok()?;
        let resp = sender.send_request(req).await.ok()?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .ok()?
            .to_bytes();
        driver.abort();
        Some((status, body))
    };
    tokio::time::timeout(deadline, fut).await.ok().flatten()
}

fn str_field(doc: &Value, key: &str) -> Option<String> {
    match doc.get(key) {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => normalize(s),
        Some(_) => None,
    }
}

/// AWS IMDSv2: a session token, then the instance identity document.
pub(super) async fn aws(base: &str, deadline: Duration) -> Option<Aws> {
    let (status, token) = request(
        base,
        http::Method::PUT,
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "60")],
        deadline,
    )
    .await?;
    if status != 200 {
        return None;
    }
    let token = std::str::from_utf8(&token).ok()?.trim().to_owned();
    let (status, body) = request(
        base,
        http::Method::GET,
        "/latest/dynamic/instance-identity/document",
        &[("X-aws-ec2-metadata-token", &token)],
        deadline,
    )
    .await?;
    if status != 200 {
        tracing::debug!(status, "unexpected AWS metadata status");
        return None;
    }
    parse_aws(&body)
}

fn parse_aws(body: &[u8]) -> Option<Aws> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    Some(Aws {
        instance_id: str_field(&doc, "instanceId")?,
        instance_type: str_field(&doc, "instanceType")?,
        availability_zone: str_field(&doc, "availabilityZone")?,
    })
}

/// Azure's instance metadata service.
pub(super) async fn azure(base: &str, deadline: Duration) -> Option<Azure> {
    let (status, body) = request(
        base,
        http::Method::GET,
        "/metadata/instance/compute?api-version=2017-03-01",
        &[("Metadata", "true")],
        deadline,
    )
    .await?;
    (status == 200).then(|| parse_azure(&body)).flatten()
}

fn parse_azure(body: &[u8]) -> Option<Azure> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    Some(Azure {
        location: str_field(&doc, "location")?,
        name: str_field(&doc, "name")?,
        vm_id: str_field(&doc, "vmId")?,
        vm_size: str_field(&doc, "vmSize")?,
    })
}

/// Google's metadata server.
pub(super) async fn gcp(base: &str, deadline: Duration) -> Option<Gcp> {
    let (status, body) = request(
        base,
        http::Method::GET,
        "/computeMetadata/v1/instance/?recursive=true",
        &[("Metadata-Flavor", "Google")],
        deadline,
    )
    .await?;
    (status == 200).then(|| parse_gcp(&body)).flatten()
}

fn parse_gcp(body: &[u8]) -> Option<Gcp> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    // The id is a number, or a string of digits.
    let id = match doc.get("id")? {
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.clone(),
        _ => return None,
    };
    let last_segment = |s: String| s.rsplit('/').next().unwrap_or_default().to_owned();
    Some(Gcp {
        id: normalize(&id)?,
        machine_type: last_segment(str_field(&doc, "machineType")?),
        name: str_field(&doc, "name")?,
        zone: last_segment(str_field(&doc, "zone")?),
    })
}

/// Cloud Foundry: all three variables must be set and valid.
pub(super) fn pcf(env: fn(&str) -> Option<String>) -> Option<Pcf> {
    let get = |k: &str| normalize(&env(k)?).filter(|v| !v.is_empty());
    Some(Pcf {
        cf_instance_guid: get("CF_INSTANCE_GUID")?,
        cf_instance_ip: get("CF_INSTANCE_IP")?,
        memory_limit: get("MEMORY_LIMIT")?,
    })
}

/// Kubernetes: `KUBERNETES_SERVICE_HOST`.
pub(super) fn kubernetes(env: fn(&str) -> Option<String>) -> Option<Kubernetes> {
    let host = normalize(&env("KUBERNETES_SERVICE_HOST")?).filter(|v| !v.is_empty())?;
    Some(Kubernetes {
        kubernetes_service_host: host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback metadata service answering each request with the
    /// response for its path, and recording the request heads.
    async fn fake_metadata(
        routes: Vec<(&'static str, u16, &'static str)>,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                seen2.lock().unwrap().push(head);
                let (status, body) = routes
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .map(|(_, s, b)| (*s, *b))
                    .unwrap_or((404, ""));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        (base, seen)
    }

    #[tokio::test]
    async fn aws_uses_imdsv2_token() {
        let (base, seen) = fake_metadata(vec![
            ("/latest/api/token", 200, "TOKEN123"),
            (
                "/latest/dynamic/instance-identity/document",
                200,
                r#"{"instanceId":"i-0123","instanceType":"m5.large","availabilityZone":"us-east-1a","region":"x"}"#,
            ),
        ])
        .await;
        let got = aws(&base, Duration::from_secs(5)).await;
        assert_eq!(
            got,
            Some(Aws {
                instance_id: "i-0123".into(),
                instance_type: "m5.large".into(),
                availability_zone: "us-east-1a".into()
            })
        );
        let seen = seen.lock().unwrap();
        assert!(seen[0].starts_with("PUT /latest/api/token "));
        assert!(seen[0]
            .to_ascii_lowercase()
            .contains("x-aws-ec2-metadata-token-ttl-seconds: 60"));
        assert!(seen[1]
            .to_ascii_lowercase()
            .contains("x-aws-ec2-metadata-token: token123"));
    }

    #[tokio::test]
    async fn azure_and_gcp() {
        let (base, seen) = fake_metadata(vec![
            (
                "/metadata/instance/compute?api-version=2017-03-01",
                200,
                r#"{"location":"eastus","name":"vm1","vmId":"abc-123","vmSize":"Standard_D2"}"#,
            ),
            (
                "/computeMetadata/v1/instance/?recursive=true",
                200,
                r#"{"id":3161347020215157000,"machineType":"projects/1/machineTypes/n1-standard-1","name":"inst","zone":"projects/1/zones/us-central1-b"}"#,
            ),
        ])
        .await;
        let az = azure(&base, Duration::from_secs(5)).await.unwrap();
        assert_eq!(az.vm_size, "Standard_D2");
        let g = gcp(&base, Duration::from_secs(5)).await.unwrap();
        assert_eq!(g.id, "3161347020215157000");
        assert_eq!(g.machine_type, "n1-standard-1");
        assert_eq!(g.zone, "us-central1-b");
        let seen = seen.lock().unwrap();
        assert!(seen[0].to_ascii_lowercase().contains("metadata: true"));
        assert!(seen[1]
            .to_ascii_lowercase()
            .contains("metadata-flavor: google"));
    }

    #[tokio::test]
    async fn failures_drop_the_vendor() {
        let (base, _) = fake_metadata(vec![("/latest/api/token", 200, "t")]).await;
        // Document 404s.
        assert_eq!(aws(&base, Duration::from_secs(5)).await, None);
        // Nothing listening.
        assert_eq!(
            azure("http://127.0.0.1:1", Duration::from_secs(5)).await,
            None
        );
        // Invalid values.
        assert_eq!(parse_aws(br#"{"instanceId":"i-1;drop"}"#), None);
        assert_eq!(parse_azure(br#"{"location":5}"#), None);
        assert_eq!(parse_gcp(br#"{"id":"12a"}"#), None);
        assert_eq!(parse_gcp(br#"{"name":"x"}"#), None);
        assert_eq!(parse_gcp(br#"{"id":"42"}"#).unwrap().id, "42");
    }

    #[tokio::test]
    async fn a_silent_service_costs_only_the_deadline() {
        // Accepts but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        assert_eq!(gcp(&base, Duration::from_millis(50)).await, None);
    }

    #[test]
    fn env_vendors() {
        assert_eq!(
            pcf(|k| Some(format!("v-{}", k.len()))),
            Some(Pcf {
                cf_instance_guid: "v-16".into(),
                cf_instance_ip: "v-14".into(),
                memory_limit: "v-12".into()
            })
        );
        assert_eq!(pcf(|k| (k != "MEMORY_LIMIT").then(|| "x".into())), None);
        assert_eq!(pcf(|_| Some("bad!".into())), None);
        assert_eq!(kubernetes(|_| None), None);
        assert_eq!(kubernetes(|_| Some("  ".into())), None);
    }
}
