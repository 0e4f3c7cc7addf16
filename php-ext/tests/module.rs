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
    // What it was built for and runs on (the `php` here is the one it was
    // built against: CI's, or the version matrix's).
    let probe = |code: &str| {
        let out = std::process::Command::new("php")
            .args(["-n", "-r", code])
            .output()
            .unwrap();
        stdout(&out)
    };
    let version = probe("echo PHP_VERSION;");
    let ts = if probe("echo PHP_ZTS;") == "1" {
        "ZTS"
    } else {
        "NTS"
    };
    let built = text
        .lines()
        .find_map(|l| l.strip_prefix("Built for => "))
        .unwrap_or_else(|| panic!("no Built for row: {text}"));
    assert!(
        built.starts_with(&format!("PHP {version}, API 20")) && built.ends_with(&format!(", {ts}")),
        "{built}"
    );
    assert!(
        text.contains(&format!("Running on => PHP {version}\n")),
        "{text}"
    );
}

/// Every engine variable the library refers to is a weak reference, and it
/// binds lazily: so it loads into a PHP of another version or thread safety
/// far enough for PHP to refuse it with its own message (src/zend/shim.h).
/// A data object of PHP's named strongly (a new `EG()` in a C file that
/// does not include shim.h, a bindgen variable read from Rust) fails here.
#[test]
fn engine_variables_are_weak_references() {
    require("readelf", "binutils");
    let dynsyms = |path: &std::path::Path| {
        let out = std::process::Command::new("readelf")
            .args(["-W", "--dyn-syms"])
            .arg(path)
            .output()
            .expect("run readelf");
        assert!(out.status.success(), "readelf {}", path.display());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let which = std::process::Command::new("sh")
        .args(["-c", "command -v php"])
        .output()
        .unwrap();
    let php_bin = std::fs::canonicalize(stdout(&which).trim()).expect("php on PATH");
    let php_objects: std::collections::BTreeSet<String> = dynsyms(&php_bin)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 8 && f[3] == "OBJECT" && f[6] != "UND")
        .map(|f| f[7].split('@').next().unwrap_or("").to_owned())
        .collect();
    assert!(
        !php_objects.is_empty(),
        "no data objects in {}",
        php_bin.display()
    );
    let strong: Vec<String> = dynsyms(&extension_path())
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 8 && f[6] == "UND" && f[4] == "GLOBAL")
        .map(|f| f[7].to_owned())
        .filter(|name| php_objects.contains(name))
        .collect();
    assert!(
        strong.is_empty(),
        "engine variables referenced strongly (add them to the weak list in shim.h): {strong:?}"
    );
    let dynamic = std::process::Command::new("readelf")
        .args(["-W", "-d"])
        .arg(extension_path())
        .output()
        .unwrap();
    let dynamic = stdout(&dynamic);
    assert!(
        !dynamic.contains("BIND_NOW") && !dynamic.contains("Flags: NOW"),
        "linked with immediate binding:\n{dynamic}"
    );
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
