//! The module loads, registers its INI entries and reports itself.

mod common;
use common::*;

#[test]
fn php_ri_shows_version_and_settings() {
    let out = php(&[(
        "newrelic.license",
        "0123456789012345678901234567890123456789",
    )])
    .args(["--ri", "newrelic"])
    .output()
    .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("New Relic Version => 12.9.0.0"), "{text}");
    assert!(
        text.contains("newrelic.appname => PHP Application"),
        "{text}"
    );
    assert!(
        text.contains("newrelic.daemon.location => /usr/bin/newrelic-daemon"),
        "{text}"
    );
    // The license is never shown whole.
    assert!(
        text.contains("newrelic.license => 01...89 => 01...89"),
        "{text}"
    );
    assert!(!text.contains("0123456789012345678901234567890123456789"));
}

#[test]
fn ini_defaults_and_overrides() {
    let out = php(&[("newrelic.transaction_tracer.detail", "0")])
        .args([
            "-r",
            r#"echo ini_get("newrelic.enabled"), "|", ini_get("newrelic.transaction_tracer.detail"), "|", ini_get("newrelic.transaction_tracer.threshold"), "|", ini_get("newrelic.daemon.port"), "\n";"#,
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "1|0|apdex_f|@newrelic\n");
}

#[test]
fn system_settings_cannot_be_changed_at_run_time() {
    let out = php(&[])
        .args([
            "-r",
            r#"var_dump(ini_set("newrelic.daemon.address", "/tmp/x"), ini_set("newrelic.appname", "x"));"#,
        ])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "bool(false)\nstring(15) \"PHP Application\"\n"
    );
}
