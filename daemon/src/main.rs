//! `newrelic-daemon`: placeholder until the process model lands. The worker
//! lives in the library crate (`seraph_daemon::worker`, see `src/lib.rs`);
//! process roles, logging and the pidfile belong in `src/process/` and
//! `src/logging.rs`, declared here with `mod`.
fn main() {
    let config = seraph_config::DaemonConfig::default();
    let exit = seraph_daemon::worker::run(config, true, Box::new(|| {}));
    std::process::exit(exit.code());
}
