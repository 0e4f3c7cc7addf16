//! WordPress's plugin and theme callbacks are timed in every request a
//! process serves: which files' callbacks are hooked is decided once per
//! process, and the later requests must reach the same decisions.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::path::PathBuf;

/// The mock WordPress application of the integration files.
fn mock_app() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/integration/frameworks/wordpress/test_wordpress_plugin_callbacks.php")
        .canonicalize()
        .expect("the mock WordPress application")
}

fn count(txn: &seraph_wire::TransactionData, name: &str) -> f64 {
    txn.metrics
        .iter()
        .find(|m| m.name == name)
        .map_or(0.0, |m| m.count)
}

#[test]
fn plugin_callbacks_are_timed_in_every_request_of_a_process() {
    require("php-cgi", "php8.2-cgi");
    const REQUESTS: usize = 4;
    let d = FakeDaemon::start(Mode::Connected);
    let script = mock_app();
    let address = d.address();
    let mut ini = daemon_ini(&address);
    ini.extend([
        ("newrelic.appname", "wordpress"),
        ("newrelic.special.appinfo_timeout", "5s"),
        ("cgi.force_redirect", "0"),
    ]);
    let out = get_index(&mut php_cgi(&ini), &script)
        .arg("-T")
        .arg(REQUESTS.to_string())
        .current_dir(script.parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).matches("single.php").count(),
        REQUESTS,
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let txns: Vec<_> = d
        .wait_frames(1 + REQUESTS)
        .iter()
        .filter(|f| f.kind() == "Transaction")
        .map(|f| f.txn())
        .collect();
    assert_eq!(txns.len(), REQUESTS);
    for (i, t) in txns.iter().enumerate() {
        assert_eq!(
            count(t, "Framework/WordPress/Plugin/mock-plugin"),
            3.0,
            "request {i}"
        );
        assert_eq!(
            count(t, "Framework/WordPress/Plugin/mock-theme"),
            1.0,
            "request {i}"
        );
        assert_eq!(count(t, "Framework/WordPress/Hook/the_content"), 2.0);
    }
}
