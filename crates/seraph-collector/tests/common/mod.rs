//! What every collector-client test needs: a stand-in over TLS with its own
//! CA, a client that trusts it, an application to connect.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;
use std::time::Duration;

use collector_standin::{Standin, StandinConfig};
use seraph_collector::{ClientConfig, CollectorClient, ConnectRequest, Endpoint, Utilization};
use seraph_wire::AppInfo;

pub const LICENSE: &str = "eu01xx0123456789abcdef0123456789abcdefgh";
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Fixture {
    pub standin: Standin,
    _dir: tempfile::TempDir,
    pub ca_file: PathBuf,
}

impl Fixture {
    pub async fn new(config: StandinConfig) -> Self {
        let standin = Standin::start(config).await.expect("stand-in starts");
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        standin.write_ca(&ca_file).unwrap();
        Fixture {
            standin,
            _dir: dir,
            ca_file,
        }
    }

    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            ca_bundle: Some(self.ca_file.clone()),
            user_agent: "NewRelic-PHP-Agent/test Seraph/test".into(),
            ..Default::default()
        }
    }

    pub fn client(&self) -> CollectorClient {
        CollectorClient::new(self.config()).expect("client builds")
    }

    /// Preconnects through `proxy` (otherwise as [`Fixture::config`]) and
    /// returns the outcome.
    pub async fn preconnect_through(&self, proxy: String) -> seraph_collector::Outcome {
        let client = CollectorClient::new(ClientConfig {
            proxy: Some(proxy),
            ..self.config()
        })
        .expect("client builds");
        client
            .invoke(
                &self.endpoint(),
                seraph_collector::Method::Preconnect,
                b"[{}]",
            )
            .await
            .outcome
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.standin.host(), LICENSE)
    }

    pub fn app(&self) -> AppInfo {
        AppInfo {
            license: LICENSE.into(),
            app_name: "shop;all".into(),
            agent_language: "php".into(),
            agent_version: "12.9.0.0".into(),
            redirect_collector: self.standin.host(),
            settings: r#"{"newrelic.appname":"shop"}"#.into(),
            environment: r#"[["Dispatcher","cli"]]"#.into(),
            host: "web1".into(),
            metadata: "{}".into(),
            supported_security_policies: r#"{"record_sql":{"enabled":true,"supported":true}}"#
                .into(),
            span_events_max_samples_stored: 2000,
            log_events_max_samples_stored: 10_000,
            custom_events_max_samples_stored: 30_000,
            ..Default::default()
        }
    }
}

pub fn util() -> Utilization {
    Utilization {
        metadata_version: 5,
        logical_processors: Some(2),
        total_ram_mib: Some(512),
        hostname: "ignored".into(),
        ..Default::default()
    }
}

pub async fn connect(client: &CollectorClient, app: &AppInfo) -> seraph_collector::ConnectAttempt {
    let u = util();
    client
        .connect_application(ConnectRequest {
            app,
            utilization: Some(&u),
            daemon_pid: 4242,
            daemon_hostname: "daemon-host",
            user_agent: Some("NewRelic-PHP-Agent/12.9.0.0 Seraph/test"),
        })
        .await
}
