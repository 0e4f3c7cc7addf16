//! `newrelic-daemon`: parse the configuration, open the log, pick a process
//! role and run it. The roles live in `process/`, the worker itself in the
//! library (`seraph_daemon::worker`).
//!
//! Exit statuses: 0 success (also: another daemon already holds the pid
//! file); 1 bad flags, bad configuration, unusable log or a fatal worker
//! error; 2 `-h`, or the progenitor gave up waiting for the worker; 3 a
//! worker asking its watcher for a restart.

mod logging;
mod process;

use std::ffi::OsString;

use seraph_config::{usage, DaemonConfig, Flags};

use process::{banner, Role};

fn main() {
    // Everything that owns a resource (the pid file) is dropped inside
    // `run`, before `exit` skips destructors.
    std::process::exit(run());
}

fn run() -> i32 {
    process::signals::ignore_ready_and_pipe_signals();
    let argv: Vec<OsString> = std::env::args_os().collect();

    let flags = match Flags::parse_from(&argv) {
        Ok(flags) => flags,
        Err(e) => {
            eprintln!("newrelic-daemon: {e}\n\n{}", usage());
            return 1;
        }
    };
    if flags.help {
        eprint!("{}", usage());
        return 2;
    }
    if flags.version {
        println!("{}", banner::version_line());
        return 0;
    }
    let resolved = match DaemonConfig::load(&flags) {
        Ok(resolved) => resolved,
        Err(e) => {
            eprintln!("newrelic-daemon: invalid configuration: {e}");
            return 1;
        }
    };
    if flags.utilization {
        return process::print_utilization();
    }

    let config = resolved.config;
    let role = Role::select(std::env::var_os(process::ROLE_ENV).as_deref(), &config);
    if let Err(e) = logging::init(&config) {
        eprintln!("newrelic-daemon: {e}");
        return 1;
    }
    tracing::info!("{}", banner::banner(&config, role));
    for (i, arg) in banner::redacted_argv(&argv).iter().enumerate() {
        tracing::debug!("ARGV[{i}]: {arg}");
    }
    // Every role parses the same argv; only the process the user started
    // (no role in the environment) reports the warnings, once.
    if std::env::var_os(process::ROLE_ENV).is_none() {
        for warning in &resolved.warnings {
            tracing::warn!("{warning}");
        }
    }
    tracing::debug!("process role is {}", role.as_str());

    process::run(role, config, &argv)
}
