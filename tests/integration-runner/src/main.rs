//! `integration-runner --agent <newrelic.so> [options] FILES_OR_DIRS...`
//!
//! Exit status: 0 when every test passed, was skipped or failed as
//! expected (XFAIL); 1 when any test failed; 2 with `--warnisfail` when
//! tests only warned; 3 when the runner itself could not start.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use integration_runner::runner::{self, Options};

/// Runs PHP test files in New Relic's integration-test format.
#[derive(Debug, Parser)]
#[command(name = "integration-runner", version)]
struct Args {
    /// The agent extension (`extension=`), e.g. target/debug/libnewrelic_php.so.
    #[arg(long)]
    agent: PathBuf,
    /// The PHP CLI binary.
    #[arg(long, default_value = "php")]
    php: PathBuf,
    /// The php-cgi binary (default: --php with its last `php` replaced by `php-cgi`).
    #[arg(long)]
    cgi: Option<PathBuf>,
    /// Run the real newrelic-daemon (with a collector stand-in) instead of
    /// acting as the daemon.
    #[arg(long)]
    daemon: Option<PathBuf>,
    /// Tests run in parallel. Response headers are checked only with 1.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Run every test under valgrind memcheck (this binary).
    #[arg(long)]
    valgrind: Option<PathBuf>,
    /// Time limit per PHP run (Go syntax: 30s, 2m). Default 30s, 300s with --valgrind.
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Re-run tests that ran cleanly but sent no transaction, up to N rounds.
    #[arg(long, default_value_t = 0)]
    retry: usize,
    /// Which files in directories are tests (glob on the file name).
    #[arg(long, default_value = "test_*.php")]
    pattern: String,
    /// Keep integration-tests.log, php_agent.log (and the daemon's log) here.
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Print commands and progress on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// newrelic.license for the agents.
    #[arg(long, default_value = "0123456789012345678901234567890123456789")]
    license: String,
    /// newrelic.loglevel for the agents (with --output-dir).
    #[arg(long)]
    loglevel: Option<String>,
    /// Run with OPcache off (default: on, as New Relic's runner).
    #[arg(long)]
    opcacheoff: bool,
    /// Treat `warn:` from SKIPIF or output as failure (exit 2).
    #[arg(long)]
    warnisfail: bool,
    /// Start the real servers datastore tests use (MariaDB, PostgreSQL,
    /// Redis, memcached, RabbitMQ; `seraph_e2e::services`) and pass their
    /// addresses to PHP (MYSQL_HOST, PG_PORT, REDIS_PORT, …). Without it
    /// those variables must already be set.
    #[arg(long)]
    services: bool,
    /// Port of the HTTP server for external calls (0 = any free port).
    #[arg(long, default_value_t = 0)]
    external_port: u16,
    /// A JSON file with the account's security policies, as a preconnect
    /// reply gives them (`{"record_sql": {"enabled": false, "required":
    /// false}, ...}`); the agents get a security policies token (LASP).
    #[arg(long)]
    security_policies: Option<PathBuf>,
    /// Test files and directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    integration_runner::duration::parse(s)
}

fn main() {
    let args = Args::parse();
    let filter = if args.verbose { "info" } else { "warn" };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    if args.services {
        // Before any runner thread exists; PHP inherits the variables.
        for (k, v) in seraph_e2e::services::php_env() {
            std::env::set_var(k, v);
        }
    }
    let security_policies = match &args.security_policies {
        None => None,
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!(
                    "integration-runner: --security-policies {}: {e}",
                    p.display()
                );
                std::process::exit(3);
            }
        },
    };
    let opts = Options {
        agent: args.agent,
        php: args.php,
        cgi: args.cgi,
        daemon: args.daemon,
        threads: args.threads.max(1),
        valgrind: args.valgrind,
        timeout: args.timeout,
        retry: args.retry,
        pattern: args.pattern,
        output_dir: args.output_dir,
        verbose: args.verbose,
        license: args.license,
        loglevel: args.loglevel,
        opcache_off: args.opcacheoff,
        warn_is_fail: args.warnisfail,
        external_port: args.external_port,
        security_policies,
        paths: args.paths,
    };
    match runner::run(opts) {
        Ok(report) => std::process::exit(report.exit_code()),
        Err(e) => {
            eprintln!("integration-runner: {e:#}");
            std::process::exit(3);
        }
    }
}
