//! Utilization (§5, `metadata_version` 5): what the host looks like, sent
//! in every connect payload and printed by `newrelic-daemon --utilization`.
//!
//! Gathering runs once per worker. Everything that leaves the machine (the
//! cloud metadata services) has a 1 s deadline per request, and the
//! reverse-DNS style host name lookup has 500 ms, so a host without those
//! services costs at most about two seconds, never a hang.

mod cloud;
mod docker;
mod system;

use std::time::Duration;

use serde::Serialize;

pub use cloud::{Aws, Azure, Gcp, Kubernetes, Pcf};
pub use docker::{docker_id_from_cgroup, docker_id_from_mountinfo, Docker};

/// The utilization schema version we produce.
pub const METADATA_VERSION: u32 = 5;

/// Longest accepted vendor value, in bytes.
const MAX_FIELD_BYTES: usize = 255;

/// The `utilization.*` settings of newrelic.cfg, as the daemon's
/// configuration resolves them.
pub use seraph_config::UtilizationConfig;

/// Every detector on (`--utilization` mode).
pub fn all_detectors() -> UtilizationConfig {
    UtilizationConfig {
        detect_kubernetes: true,
        ..Default::default()
    }
}

/// Settings the user pinned, reported beside the measured values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UtilizationOverrides {
    /// `utilization.logical_processors`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_processors: Option<u32>,
    /// `utilization.total_ram_mib`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ram_mib: Option<u64>,
    /// `utilization.billing_hostname`
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
}

/// Cloud and container facts; each present only when detected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Vendors {
    /// Amazon EC2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<Aws>,
    /// Microsoft Azure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure: Option<Azure>,
    /// Google Cloud.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcp: Option<Gcp>,
    /// Pivotal Cloud Foundry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcf: Option<Pcf>,
    /// A Docker container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<Docker>,
    /// Kubernetes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<Kubernetes>,
}

impl Vendors {
    /// True when nothing was detected (the `vendors` key is then omitted).
    pub fn is_empty(&self) -> bool {
        *self == Vendors::default()
    }
}

/// The utilization object of the connect payload, fields in New Relic's
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Utilization {
    /// Always [`METADATA_VERSION`].
    pub metadata_version: u32,
    /// CPUs this process may run on.
    pub logical_processors: Option<u32>,
    /// Physical memory in MiB.
    pub total_ram_mib: Option<u64>,
    /// Host name (the connect payload forces it to its own `host`).
    pub hostname: String,
    /// Fully qualified host name, when one could be found.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub full_hostname: String,
    /// Addresses of the interface that carries the default route.
    #[serde(rename = "ip_address", skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// `/proc/sys/kernel/random/boot_id`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub boot_id: String,
    /// User overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<UtilizationOverrides>,
    /// Detected vendors.
    #[serde(skip_serializing_if = "Vendors::is_empty")]
    pub vendors: Vendors,
}

impl Utilization {
    /// Replaces the Docker id with the one an agent reported (the agent
    /// sees cgroup v2 containers the daemon may not).
    pub fn set_docker_id(&mut self, id: &str) {
        self.vendors.docker = Some(Docker { id: id.to_owned() });
    }
}

/// Where gathering looks; tests point it at fakes.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) proc_root: std::path::PathBuf,
    pub(crate) aws_base: String,
    pub(crate) azure_base: String,
    pub(crate) gcp_base: String,
    pub(crate) provider_timeout: Duration,
    pub(crate) resolve_full_hostname: bool,
    pub(crate) env: fn(&str) -> Option<String>,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            proc_root: "/proc".into(),
            aws_base: "http://169.254.169.254".into(),
            azure_base: "http://169.254.169.254".into(),
            gcp_base: "http://metadata.google.internal".into(),
            provider_timeout: Duration::from_secs(1),
            resolve_full_hostname: true,
            env: |k| std::env::var(k).ok(),
        }
    }
}

/// Gathers utilization per `config`.
pub async fn gather(config: &UtilizationConfig) -> Utilization {
    gather_with(config, &Probe::default()).await
}

pub(crate) async fn gather_with(config: &UtilizationConfig, probe: &Probe) -> Utilization {
    let hostname = system::hostname();
    let ip_addresses = system::default_route_addresses(&probe.proc_root);
    let full_hostname = async {
        if probe.resolve_full_hostname {
            system::full_hostname(&hostname, Duration::from_millis(500)).await
        } else {
            String::new()
        }
    };
    let aws = async {
        if config.detect_aws {
            cloud::aws(&probe.aws_base, probe.provider_timeout).await
        } else {
            None
        }
    };
    let azure = async {
        if config.detect_azure {
            cloud::azure(&probe.azure_base, probe.provider_timeout).await
        } else {
            None
        }
    };
    let gcp = async {
        if config.detect_gcp {
            cloud::gcp(&probe.gcp_base, probe.provider_timeout).await
        } else {
            None
        }
    };
    let (full_hostname, aws, azure, gcp) = tokio::join!(full_hostname, aws, azure, gcp);

    let vendors = Vendors {
        aws,
        azure,
        gcp,
        pcf: config.detect_pcf.then(|| cloud::pcf(probe.env)).flatten(),
        docker: config
            .detect_docker
            .then(|| docker::detect(&probe.proc_root))
            .flatten(),
        kubernetes: config
            .detect_kubernetes
            .then(|| cloud::kubernetes(probe.env))
            .flatten(),
    };
    let overrides = UtilizationOverrides {
        logical_processors: (config.logical_processors != 0)
            .then(|| u32::try_from(config.logical_processors).unwrap_or(u32::MAX)),
        total_ram_mib: (config.total_ram_mib != 0).then_some(config.total_ram_mib),
        hostname: config.billing_hostname.clone(),
    };
    Utilization {
        metadata_version: METADATA_VERSION,
        logical_processors: system::logical_processors(),
        total_ram_mib: system::total_ram_mib(&probe.proc_root),
        hostname,
        full_hostname,
        ip_addresses,
        boot_id: system::boot_id(&probe.proc_root),
        config: (overrides != UtilizationOverrides::default()).then_some(overrides),
        vendors,
    }
}

/// Trims a vendor value and checks it (≤ 255 bytes; letters, digits,
/// ` _./-` or non-ASCII). `None` means the vendor must be dropped.
pub(crate) fn normalize(value: &str) -> Option<String> {
    let v = value.trim();
    if v.len() > MAX_FIELD_BYTES {
        tracing::debug!(len = v.len(), "utilization value too long");
        return None;
    }
    let ok = v.chars().all(|c| {
        c != '\u{FFFD}'
            && (c.is_ascii_alphanumeric()
                || matches!(c, '_' | ' ' | '/' | '.' | '-')
                || !c.is_ascii())
    });
    if !ok {
        tracing::debug!(value = v, "utilization value has a bad character");
        return None;
    }
    Some(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalization_rules() {
        assert_eq!(normalize("  i-1234 /a_b.c "), Some("i-1234 /a_b.c".into()));
        assert_eq!(normalize("région"), Some("région".into()));
        assert_eq!(normalize(""), Some(String::new()));
        assert_eq!(normalize("bad;char"), None);
        assert_eq!(normalize(&"x".repeat(256)), None);
        assert_eq!(normalize(&"x".repeat(255)).map(|s| s.len()), Some(255));
        assert_eq!(normalize("a\u{FFFD}"), None);
    }

    #[test]
    fn serializes_in_new_relic_order_and_omits_empties() {
        let mut u = Utilization {
            metadata_version: 5,
            logical_processors: Some(4),
            total_ram_mib: Some(1024),
            hostname: "vm".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            r#"{"metadata_version":5,"logical_processors":4,"total_ram_mib":1024,"hostname":"vm"}"#
        );
        u.full_hostname = "vm.example.com".into();
        u.ip_addresses = vec!["10.0.0.2".into()];
        u.boot_id = "b".into();
        u.config = Some(UtilizationOverrides {
            logical_processors: Some(8),
            total_ram_mib: None,
            hostname: "bill".into(),
        });
        u.set_docker_id("abc");
        u.vendors.kubernetes = Some(Kubernetes {
            kubernetes_service_host: "10.96.0.1".into(),
        });
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"metadata_version":5,"logical_processors":4,"total_ram_mib":1024,"hostname":"vm",
                "full_hostname":"vm.example.com","ip_address":["10.0.0.2"],"boot_id":"b",
                "config":{"logical_processors":8,"hostname":"bill"},
                "vendors":{"docker":{"id":"abc"},"kubernetes":{"kubernetes_service_host":"10.96.0.1"}}})
        );
        let unknown = Utilization::default();
        assert_eq!(
            serde_json::to_string(&unknown).unwrap(),
            r#"{"metadata_version":0,"logical_processors":null,"total_ram_mib":null,"hostname":""}"#
        );
    }

    #[tokio::test]
    async fn gathers_local_facts_without_network() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("self")).unwrap();
        std::fs::create_dir_all(root.join("sys/kernel/random")).unwrap();
        std::fs::create_dir_all(root.join("net")).unwrap();
        std::fs::write(
            root.join("meminfo"),
            "MemTotal:       16303832 kB\nMemFree: 1 kB\n",
        )
        .unwrap();
        std::fs::write(
            root.join("sys/kernel/random/boot_id"),
            "0b4ab5e0-2c0f-4d2b-9c59-7a3f3f3e3b1a\n",
        )
        .unwrap();
        let id = "3f4a".repeat(16);
        std::fs::write(
            root.join("self/cgroup"),
            format!("4:cpu,cpuacct:/docker/{id}\n1:name=systemd:/\n"),
        )
        .unwrap();
        std::fs::write(root.join("net/route"), "Iface\tDestination\tGateway\n").unwrap();
        let probe = Probe {
            proc_root: root.to_owned(),
            // Nothing listens on port 1 of loopback: refused at once.
            aws_base: "http://127.0.0.1:1".into(),
            azure_base: "http://127.0.0.1:1".into(),
            gcp_base: "http://127.0.0.1:1".into(),
            provider_timeout: Duration::from_secs(1),
            resolve_full_hostname: false,
            env: |k| match k {
                "KUBERNETES_SERVICE_HOST" => Some(" 10.96.0.1 ".into()),
                "CF_INSTANCE_GUID" => Some("guid".into()),
                "CF_INSTANCE_IP" => Some("10.1.1.1".into()),
                _ => None,
            },
        };
        let cfg = UtilizationConfig {
            logical_processors: 16,
            billing_hostname: "billing".into(),
            ..all_detectors()
        };
        let u = gather_with(&cfg, &probe).await;
        assert_eq!(u.metadata_version, 5);
        assert_eq!(u.total_ram_mib, Some(15921));
        assert_eq!(u.boot_id, "0b4ab5e0-2c0f-4d2b-9c59-7a3f3f3e3b1a");
        assert!(u.logical_processors.unwrap() >= 1);
        assert!(!u.hostname.is_empty());
        assert_eq!(u.vendors.docker, Some(Docker { id }));
        assert_eq!(
            u.vendors.kubernetes,
            Some(Kubernetes {
                kubernetes_service_host: "10.96.0.1".into()
            })
        );
        // MEMORY_LIMIT missing: PCF needs all three.
        assert_eq!(u.vendors.pcf, None);
        assert_eq!(
            (
                u.vendors.aws.clone(),
                u.vendors.azure.clone(),
                u.vendors.gcp.clone()
            ),
            (None, None, None)
        );
        assert_eq!(
            u.config,
            Some(UtilizationOverrides {
                logical_processors: Some(16),
                total_ram_mib: None,
                hostname: "billing".into()
            })
        );
    }
}
