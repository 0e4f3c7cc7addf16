//! Facts about the host that the App query carries, gathered as New
//! Relic's agents gather them (`vectors/00-app/App.json`).

use crate::to_string_slashes;
use serde_json::{json, Value};

/// Facts about the host and the monitored runtime, gathered once per
/// process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `uname` fields joined: sysname nodename release version machine.
    pub os_version: String,
    /// `/etc/os-release` ID.
    pub distro_name: String,
    /// `/etc/os-release` VERSION_ID.
    pub distro_version: String,
    /// `GLIBC 2.36`.
    pub libc_version: String,
    /// Loaded modules as `name(version)` (PHP extensions).
    pub plugins: Vec<String>,
    /// What runs the program (`<php version>+<sapi>` for PHP).
    pub dispatcher: String,
    /// System host name.
    pub hostname: String,
    /// Docker container id, if running in one.
    pub docker_id: String,
    /// JSON object of `NEW_RELIC_METADATA_*` variables.
    pub metadata: String,
}

fn uname() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let f = |a: &[libc::c_char]| {
        let bytes: Vec<u8> = a
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    [
        f(&u.sysname),
        f(&u.nodename),
        f(&u.release),
        f(&u.version),
        f(&u.machine),
    ]
    .join(" ")
}

fn libc_version() -> String {
    let mut buf = [0u8; 64];
    // SAFETY: buffer and length match.
    let n = unsafe {
        libc::confstr(
            libc::_CS_GNU_LIBC_VERSION,
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n == 0 || n > buf.len() {
        return String::new();
    }
    String::from_utf8_lossy(&buf[..n - 1]).to_ascii_uppercase()
}

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    (get("ID"), get("VERSION_ID"))
}

/// The 64-hex container id from `/proc/self/cgroup` or mountinfo, if any.
pub fn docker_id_from(text: &str) -> Option<String> {
    for line in text.lines() {
        for part in line.split(['/', '-', '.', ':']) {
            if part.len() == 64
                && part.bytes().all(|b| b.is_ascii_hexdigit())
                && line.contains("docker")
            {
                return Some(part.to_owned());
            }
        }
    }
    None
}

fn metadata_json() -> String {
    let mut map = serde_json::Map::new();
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("NEW_RELIC_METADATA_"))
        .collect();
    vars.sort();
    for (k, v) in vars {
        map.insert(k, Value::String(v));
    }
    to_string_slashes(&Value::Object(map))
}

impl HostFacts {
    /// Gathers everything but the plugin list and dispatcher, which come
    /// from the runtime.
    pub fn gather(plugins: Vec<String>, dispatcher: String) -> HostFacts {
        let (distro_name, distro_version) = os_release();
        let docker_id = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|t| docker_id_from(&t))
            .or_else(|| {
                std::fs::read_to_string("/proc/self/mountinfo")
                    .ok()
                    .and_then(|t| docker_id_from(&t))
            })
            .unwrap_or_default();
        HostFacts {
            os_version: uname(),
            distro_name,
            distro_version,
            libc_version: libc_version(),
            plugins,
            dispatcher,
            hostname: hostname(),
            docker_id,
            metadata: metadata_json(),
        }
    }

    /// The `environment` JSON array of `[key, value]` pairs.
    pub fn environment_json(&self) -> String {
        let v = json!([
            ["OS version", self.os_version],
            ["OS Distro Name", self.distro_name],
            ["OS Distro Version", self.distro_version],
            ["OS LIBC Version", self.libc_version],
            ["Plugin List", self.plugins],
            ["Dispatcher", self.dispatcher],
        ]);
        to_string_slashes(&v)
    }
}

/// The system host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buffer and length match.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `newrelic.labels` (`type:value;type2:value2`) as the App's JSON array;
/// empty when there are none (the field is then left out).
pub fn labels_json(raw: &str) -> String {
    let labels: Vec<Value> = raw
        .split(';')
        .filter_map(|pair| {
            let (t, v) = pair.split_once(':')?;
            let (t, v) = (t.trim(), v.trim());
            (!t.is_empty() && !v.is_empty()).then(|| json!({"label_type": t, "label_value": v}))
        })
        .collect();
    if labels.is_empty() {
        String::new()
    } else {
        to_string_slashes(&Value::Array(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(labels_json(""), "");
        assert_eq!(
            labels_json("env:prod; team : web;bad"),
            r#"[{"label_type":"env","label_value":"prod"},{"label_type":"team","label_value":"web"}]"#
        );
    }

    #[test]
    fn environment_shape() {
        let f = HostFacts {
            os_version: "Linux vm 6 #1 x86_64".into(),
            distro_name: "debian".into(),
            distro_version: "12".into(),
            libc_version: "GLIBC 2.36".into(),
            plugins: vec!["Core(8.2.36)".into(), "newrelic(12.9.0.0)".into()],
            dispatcher: "8.2.36+cli".into(),
            ..Default::default()
        };
        assert_eq!(
            f.environment_json(),
            r#"[["OS version","Linux vm 6 #1 x86_64"],["OS Distro Name","debian"],["OS Distro Version","12"],["OS LIBC Version","GLIBC 2.36"],["Plugin List",["Core(8.2.36)","newrelic(12.9.0.0)"]],["Dispatcher","8.2.36+cli"]]"#
        );
    }

    #[test]
    fn docker_ids() {
        let id = "a".repeat(64);
        assert_eq!(
            docker_id_from(&format!("12:cpu:/docker/{id}\n")),
            Some(id.clone())
        );
        assert_eq!(docker_id_from("0::/user.slice\n"), None);
    }

    #[test]
    fn gathered_facts_are_plausible() {
        let f = HostFacts::gather(vec![], "x".into());
        assert!(f.os_version.starts_with("Linux "));
        assert!(f.libc_version.starts_with("GLIBC "), "{}", f.libc_version);
        assert!(!f.hostname.is_empty());
        assert!(f.metadata.starts_with('{'));
    }
}
