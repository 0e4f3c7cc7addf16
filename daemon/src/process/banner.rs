//! The startup banner and argv dump every role logs first, as New Relic's
//! daemon does (support reads these to see who started what, and how).

use std::ffi::OsString;

use nix::unistd::{getegid, geteuid, getgid, getpid, getppid, getuid};
use seraph_config::DaemonConfig;

use super::Role;

/// The daemon's version as printed by `--version` and in the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `--version` output.
pub fn version_line() -> String {
    format!("newrelic-daemon {VERSION} (seraph)")
}

/// `New Relic daemon version … [listen="…" startup=agent|init pid=… …]`.
pub fn banner(config: &DaemonConfig, role: Role) -> String {
    format!(
        "New Relic daemon version {VERSION} (seraph) [listen={:?} startup={} role={} pid={} \
         ppid={} uid={} euid={} gid={} egid={} os={} arch={}]",
        config.listen.to_string(),
        if config.agent { "agent" } else { "init" },
        role.as_str(),
        getpid(),
        getppid(),
        getuid(),
        geteuid(),
        getgid(),
        getegid(),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

/// argv for the debug log with every proxy value (which may carry
/// credentials) replaced: `--proxy X`, `-proxy=X` and `--define proxy=X`.
pub fn redacted_argv(argv: &[OsString]) -> Vec<String> {
    const REDACTED: &str = "**REDACTED**";
    let mut out = Vec::with_capacity(argv.len());
    let mut redact_next = false;
    let mut define_next = false;
    for arg in argv {
        let arg = arg.to_string_lossy();
        if redact_next {
            out.push(REDACTED.to_string());
            redact_next = false;
            continue;
        }
        if define_next {
            out.push(redact_define(&arg));
            define_next = false;
            continue;
        }
        let name = arg.trim_start_matches('-');
        let dashes = &arg[..arg.len() - name.len()];
        let is_flag = dashes == "-" || dashes == "--";
        if is_flag && name == "proxy" {
            redact_next = true;
            out.push(arg.into_owned());
        } else if is_flag && name.starts_with("proxy=") {
            out.push(format!("{dashes}proxy={REDACTED}"));
        } else if is_flag && name == "define" {
            define_next = true;
            out.push(arg.into_owned());
        } else if let Some(value) = name.strip_prefix("define=").filter(|_| is_flag) {
            out.push(format!("{dashes}define={}", redact_define(value)));
        } else {
            out.push(arg.into_owned());
        }
    }
    out
}

/// A `--define` value naming the proxy key loses its value.
fn redact_define(value: &str) -> String {
    if value.trim_start().starts_with("proxy") {
        "proxy=**REDACTED**".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn proxy_values_are_redacted_in_every_spelling() {
        let out = redacted_argv(&argv(&[
            "/usr/bin/newrelic-daemon",
            "--proxy",
            "http://u:secret@p:3128",
            "-proxy=http://u:secret@p",
            "--proxy=x:secret",
            "-proxy",
            "secret",
            "--define",
            "proxy = 'u:secret@p'",
            "--define=proxy=secret",
            "--define",
            "app_timeout=5m",
            "--port",
            "9000",
        ]));
        assert!(!out.iter().any(|a| a.contains("secret")), "{out:?}");
        assert_eq!(out[1], "--proxy");
        assert_eq!(out[2], "**REDACTED**");
        assert_eq!(out[3], "-proxy=**REDACTED**");
        assert_eq!(out[4], "--proxy=**REDACTED**");
        assert_eq!(out[8], "proxy=**REDACTED**");
        assert_eq!(out[9], "--define=proxy=**REDACTED**");
        assert_eq!(&out[10..], ["--define", "app_timeout=5m", "--port", "9000"]);
    }

    #[test]
    fn other_arguments_are_untouched() {
        let input = [
            "newrelic-daemon",
            "-f",
            "-c",
            "/etc/newrelic/newrelic.cfg",
            "proxy",
        ];
        assert_eq!(redacted_argv(&argv(&input)), input);
    }

    #[test]
    fn banner_names_listen_startup_and_ids() {
        let config = DaemonConfig {
            agent: true,
            ..DaemonConfig::default()
        };
        let b = banner(&config, Role::Watcher);
        assert!(
            b.starts_with(&format!("New Relic daemon version {VERSION} (seraph) [")),
            "{b}"
        );
        assert!(
            b.contains("listen=\"@newrelic\" startup=agent role=watcher"),
            "{b}"
        );
        assert!(b.contains(&format!(" pid={} ", std::process::id())), "{b}");
        for key in ["ppid=", "uid=", "euid=", "gid=", "egid="] {
            assert!(b.contains(key), "{key} missing: {b}");
        }
        let b = banner(&DaemonConfig::default(), Role::Progenitor);
        assert!(b.contains("startup=init"), "{b}");
        assert_eq!(
            version_line(),
            format!("newrelic-daemon {VERSION} (seraph)")
        );
    }
}
