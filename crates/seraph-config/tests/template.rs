//! The shipped `packaging/newrelic.cfg.template` documents every key, parses,
//! and states the same defaults as the code.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use seraph_config::{DaemonConfig, Flags, ListenAddr, LogLevel, UtilizationConfig, KNOWN_KEYS};

const TEMPLATE: &str = include_str!("../../../packaging/newrelic.cfg.template");

/// The template with every `#key = value` example line uncommented.
fn uncommented() -> (String, BTreeSet<String>) {
    let mut text = String::new();
    let mut keys = BTreeSet::new();
    for line in TEMPLATE.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((key, _)) = rest.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let is_key = key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if is_key && !rest.starts_with(' ') {
            keys.insert(key.to_string());
            text.push_str(rest);
            text.push('\n');
        }
    }
    (text, keys)
}

#[test]
fn template_as_shipped_sets_nothing() {
    let r = DaemonConfig::resolve(&Flags::default(), Some((Path::new("t.cfg"), TEMPLATE))).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.config, DaemonConfig::default());
}

#[test]
fn template_documents_every_key() {
    let (_, keys) = uncommented();
    let known: BTreeSet<String> = KNOWN_KEYS.iter().map(|k| k.to_string()).collect();
    assert_eq!(keys, known);
}

#[test]
fn template_examples_parse_and_show_the_defaults() {
    let (text, _) = uncommented();
    let r = DaemonConfig::resolve(&Flags::default(), Some((Path::new("t.cfg"), &text)))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let c = r.config;
    let d = DaemonConfig::default();
    assert_eq!(c.listen, ListenAddr::default());
    assert_eq!(c.loglevel, LogLevel::Info);
    assert_eq!(c.app_timeout, Some(Duration::from_secs(600)));
    assert_eq!(c.wait_for_port, Duration::from_secs(3));
    assert_eq!(c.rlimit_files, d.rlimit_files);
    assert_eq!(c.utilization, UtilizationConfig::default());
    assert_eq!(c.harvest_cycle, None);
    assert_eq!(c.max_frame_size, d.max_frame_size);
    assert_eq!(c.app_limit, d.app_limit);
    assert_eq!(c.spool_dir, None);
    assert_eq!(c.spool_max_size, d.spool_max_size);
    assert_eq!(c.spool_max_age, d.spool_max_age);
    assert_eq!(c.socket_mode, d.socket_mode);
    assert_eq!(c.socket_group, None);
    assert_eq!(c.agent_idle_timeout, d.agent_idle_timeout);
    assert_eq!(c.proxy, None);
    assert_eq!(c.ca_bundle, None);
    assert_eq!(c.ca_path, None);
}
