//! Command line, configuration errors, version, help and the startup log.

#[path = "process_support.rs"]
mod support;

use support::{output, Sandbox, BIN};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_prints_and_exits_zero() {
    for flag in ["--version", "-v", "-version"] {
        let out = output(std::process::Command::new(BIN).arg(flag));
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            stdout,
            format!("newrelic-daemon {} (seraph)\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}

#[test]
fn help_prints_usage_and_exits_two() {
    let out = output(std::process::Command::new(BIN).arg("-h"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for flag in [
        "--wait-for-port",
        "--define",
        "--watchdog-foreground",
        "-c <FILE>",
    ] {
        assert!(err.contains(flag), "{flag} missing from:\n{err}");
    }
}

#[test]
fn bad_flag_exits_one_with_a_message_and_usage() {
    let out = output(std::process::Command::new(BIN).arg("--bogus"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("unknown flag: --bogus"), "{err}");
    assert!(err.contains("Usage"), "{err}");

    let out = output(std::process::Command::new(BIN).arg("--port"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("needs a value"), "{}", stderr(&out));
}

#[test]
fn legacy_flags_are_refused_with_their_replacement() {
    let out = output(std::process::Command::new(BIN).args(["-p", "/tmp/x.pid"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("legacy flag -p"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--pidfile"), "{}", stderr(&out));
}

#[test]
fn bad_config_file_value_exits_one_naming_file_line_key_and_value() {
    let sb = Sandbox::new();
    let cfg = sb.path("newrelic.cfg");
    std::fs::write(&cfg, "# test\nloglevel = info\nrlimit_files = lots\n").unwrap();
    let out = output(sb.daemon(None).arg("-c").arg(&cfg).arg("-f"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:3", cfg.display())), "{err}");
    assert!(
        err.contains("rlimit_files") && err.contains("\"lots\""),
        "{err}"
    );
    // Nothing ran: no log was written.
    assert_eq!(sb.log_text(), "");
}

#[test]
fn bad_define_and_bad_address_exit_one() {
    let sb = Sandbox::new();
    let out = output(sb.daemon(None).args(["-f", "--define", "app_timeout=soon"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("app_timeout"), "{}", stderr(&out));

    let out = output(sb.daemon(None).args(["-f", "--port", "70000"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("port"), "{}", stderr(&out));

    let out = output(sb.daemon(None).args(["-f", "--address", "relative/x.sock"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("absolute"), "{}", stderr(&out));
}

#[test]
fn missing_config_file_exits_one() {
    let sb = Sandbox::new();
    let out = output(
        sb.daemon(None)
            .args(["-f", "-c", "/nonexistent/newrelic.cfg"]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/newrelic.cfg"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unusable_log_file_exits_one_on_stderr() {
    let out = output(
        std::process::Command::new(BIN)
            .args(["-f", "--logfile", "/nonexistent/dir/daemon.log"])
            .env("SERAPH_TEST_WORKER", "exit:0"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unable to open log file /nonexistent/dir/daemon.log"),
        "{err}"
    );
}

#[test]
fn utilization_prints_json_and_exits_zero() {
    let out = output(std::process::Command::new(BIN).arg("--utilization"));
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["metadata_version"], 5, "{json}");
    assert!(json["hostname"].is_string(), "{json}");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "needs the debug-build worker stand-in"
)]
fn startup_log_has_banner_redacted_argv_and_warnings() {
    let sb = Sandbox::new();
    let out = output(sb.daemon(Some("exit:0")).args([
        "-f",
        "--loglevel",
        "debug",
        "--proxy",
        "http://user:secret@proxy:3128",
        "--define",
        "bogus_key=1",
        "--port",
        "9123",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = sb.log_text();
    assert!(!log.contains("secret"), "{log}");
    assert!(log.contains("**REDACTED**"), "{log}");
    assert!(
        log.contains("Info: New Relic daemon version")
            && log.contains("listen=\"127.0.0.1:9123\" startup=init role=worker"),
        "{log}"
    );
    assert!(
        log.contains("Warning: flag --define: ignoring unknown setting \"bogus_key\""),
        "{log}"
    );
    // Every line has New Relic's shape: date, time, (pid), Level:.
    let pid_tag = format!("({}) ", out_pid(&log));
    for line in log.lines() {
        assert!(line.len() > 27 && line[..27].contains('.'), "{line}");
        assert!(line.contains(&pid_tag), "{line}");
    }
}

/// The pid on the first log line.
fn out_pid(log: &str) -> String {
    let first = log.lines().next().unwrap_or_default();
    let start = first.find('(').unwrap_or(0) + 1;
    let end = first.find(')').unwrap_or(start);
    first[start..end].to_string()
}
