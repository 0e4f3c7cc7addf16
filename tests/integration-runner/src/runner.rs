//! Running a set of test files end to end: start the daemon side and the
//! external HTTP server, run every test's PHP (in parallel), collect each
//! test's harvest, compare, report (tests/integration/README.md §4).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::compare::{self, Failure, Observed};
use crate::envsub::{capture_expect_vars, EnvLookup};
use crate::external::{CatHandler, CatRequest, CatResponse, ExternalServer};
use crate::fake_daemon::{AccountIds, FakeDaemon};
use crate::payloads::{runner_limits, Payloads};
use crate::php::{self, Opcache, PhpSetup, Settings};
use crate::process::{self, Spawn};
use crate::real_daemon::RealDaemon;
use crate::report::{Outcome, Report, TestResult};
use crate::testfile::TestFile;
use crate::valgrind::{self, VgError};

/// The `newrelic.security_policies_token` of `--security-policies` runs.
pub const SECURITY_TOKEN: &str = "seraph-integration-lasp";

/// Everything the command line decides.
#[derive(Debug, Clone)]
pub struct Options {
    /// The agent (`extension=`).
    pub agent: PathBuf,
    /// php CLI.
    pub php: PathBuf,
    /// php-cgi (`None`: derived from `php`).
    pub cgi: Option<PathBuf>,
    /// The real daemon, for `--daemon` mode.
    pub daemon: Option<PathBuf>,
    /// Parallel tests.
    pub threads: usize,
    /// valgrind binary for memcheck mode.
    pub valgrind: Option<PathBuf>,
    /// Per-run time limit (`None`: 30 s, 300 s under valgrind).
    pub timeout: Option<Duration>,
    /// Re-run rounds for tests that ran cleanly but sent nothing.
    pub retry: usize,
    /// Glob for test file names inside directories.
    pub pattern: String,
    /// Where to keep the report and the agent's and daemon's logs.
    pub output_dir: Option<PathBuf>,
    /// Progress and commands on stderr.
    pub verbose: bool,
    /// `newrelic.license`.
    pub license: String,
    /// `newrelic.loglevel`.
    pub loglevel: Option<String>,
    /// OPcache off.
    pub opcache_off: bool,
    /// `warn:` from SKIPIF or output fails the run.
    pub warn_is_fail: bool,
    /// Port of the external HTTP server (0 = any).
    pub external_port: u16,
    /// The account's security policies (a preconnect reply's
    /// `security_policies` object); the agents then get a
    /// `newrelic.security_policies_token`.
    pub security_policies: Option<serde_json::Value>,
    /// Files and directories.
    pub paths: Vec<PathBuf>,
}

/// The default `php-cgi` next to `php`: its last `php` replaced.
pub fn default_cgi(php: &Path) -> PathBuf {
    let s = php.to_string_lossy();
    match s.rfind("php") {
        Some(i) => PathBuf::from(format!("{}php-cgi{}", &s[..i], &s[i + 3..])),
        None => PathBuf::from("php-cgi"),
    }
}

enum Backend {
    Fake(FakeDaemon),
    Real(RealDaemon),
}

/// What one run of one test produced.
#[derive(Debug, Clone, Default)]
struct Run {
    output: String,
    vars: Vec<(String, String)>,
    stderr: String,
    command: String,
    skipped: Option<String>,
    warned: Option<String>,
    xfail: Option<String>,
    fatal: Option<String>,
    response_headers: Option<Vec<(String, String)>>,
    valgrind: Vec<VgError>,
    elapsed: Duration,
}

impl Run {
    fn clean(&self) -> bool {
        self.fatal.is_none() && self.skipped.is_none() && self.warned.is_none()
    }
}

struct Ctx {
    php: PhpSetup,
    settings: Settings,
    base_env: Vec<(String, String)>,
    backend: Backend,
    timeout: Duration,
    valgrind: Option<PathBuf>,
    check_headers: bool,
    warn_is_fail: bool,
    verbose: bool,
    hostname: String,
    external: Arc<ExternalServer>,
    /// Serialises header recording when headers are checked (one thread).
    headers_lock: Mutex<()>,
}

const TEST_APP_CONNECT_TIMEOUT: &str = "5s";
/// How long one app query waits for the daemon's reply: the agent's
/// default (100 ms) is missed by a daemon on a loaded two-core CI machine,
/// which then makes the request run uninstrumented after a backoff, and
/// the file fail for a reason it does not test.
const TEST_APPINFO_TIMEOUT: &str = "5s";

/// Runs everything; returns the report (already printed).
pub fn run(opts: Options) -> anyhow::Result<Report> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tests =
        crate::discover::discover(&opts.paths, &opts.pattern).map_err(anyhow::Error::msg)?;
    if tests.is_empty() {
        anyhow::bail!("no test files found");
    }
    if let Some(dir) = &opts.output_dir {
        std::fs::create_dir_all(dir)?;
    }
    let cgi = opts.cgi.clone().unwrap_or_else(|| default_cgi(&opts.php));
    let opcache = if opts.opcache_off {
        Opcache::Off
    } else {
        Opcache::On
    };
    let php = PhpSetup::discover(&opts.php, &cgi, &opts.agent, opcache)?;
    if opts.verbose {
        eprintln!(
            "PHP {} with agent {} ({}); modules: {}",
            php.php_version,
            php.agent_version,
            php.agent.display(),
            php.modules.join(" ")
        );
    }
    let ids = AccountIds::from_env();
    let socket_name = format!("seraph-integration-runner-{}", std::process::id());
    let backend = match &opts.daemon {
        None => Backend::Fake(rt.block_on(async {
            FakeDaemon::start(
                &socket_name,
                &ids,
                runner_limits(),
                opts.security_policies.clone(),
            )
        })?),
        Some(daemon) => Backend::Real(rt.block_on(RealDaemon::start(
            daemon,
            &socket_name,
            &ids,
            opts.output_dir.as_deref(),
            opts.security_policies.clone(),
        ))?),
    };

    let mut settings = Settings::default();
    settings.set("newrelic.license", &opts.license);
    let address = match &backend {
        Backend::Fake(d) => d.address().to_owned(),
        Backend::Real(d) => d.address().to_owned(),
    };
    settings.set("newrelic.daemon.address", &php::ini_quote(&address));
    settings.set("newrelic.daemon.dont_launch", "3");
    settings.set(
        "newrelic.daemon.app_connect_timeout",
        TEST_APP_CONNECT_TIMEOUT,
    );
    settings.set("newrelic.special.appinfo_timeout", TEST_APPINFO_TIMEOUT);
    settings.set("newrelic.special", "debug_cat");
    if opts.security_policies.is_some() {
        settings.set("newrelic.security_policies_token", SECURITY_TOKEN);
    }
    if let Backend::Real(d) = &backend {
        settings.set("newrelic.daemon.collector_host", &d.collector_host());
    }
    if let Some(dir) = &opts.output_dir {
        let log = std::path::absolute(dir.join("php_agent.log"))?;
        settings.set("newrelic.logfile", &php::ini_quote(&log.to_string_lossy()));
    }
    if let Some(level) = &opts.loglevel {
        settings.set("newrelic.loglevel", level);
    }

    // The /cat callee runs with the same PHP, settings and daemon.
    let cat_ctx = Arc::new(Mutex::new(
        None::<(PhpSetup, Settings, Vec<(String, String)>)>,
    ));
    let cat_handler: CatHandler = {
        let cat_ctx = cat_ctx.clone();
        Arc::new(move |req: CatRequest| {
            let guard = cat_ctx.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some((php, settings, env)) => run_cat(php, settings, env, &req),
                None => CatResponse {
                    status: 503,
                    headers: Vec::new(),
                    body: b"runner not ready".to_vec(),
                },
            }
        })
    };
    let external = Arc::new(rt.block_on(ExternalServer::start(opts.external_port, cat_handler))?);

    let mut base_env: Vec<(String, String)> = std::env::vars().collect();
    base_env.push(("EXTERNAL_HOST".into(), external.host()));
    base_env.push(("PHP_VERSION".into(), php.php_version.clone()));
    base_env.push(("AGENT_VERSION".into(), php.agent_version.clone()));
    for (k, v) in ids.env_vars() {
        base_env.push((k.into(), v));
    }
    if opts.valgrind.is_some() {
        for (k, v) in [("USE_ZEND_ALLOC", "0"), ("ZEND_DONT_UNLOAD_MODULES", "1")] {
            if std::env::var_os(k).is_none() {
                base_env.push((k.into(), v.into()));
            }
        }
    }
    let base_env = php::dedup_last_wins(base_env);
    *cat_ctx.lock().unwrap_or_else(|p| p.into_inner()) =
        Some((php.clone(), settings.clone(), base_env.clone()));

    let timeout = opts.timeout.unwrap_or(if opts.valgrind.is_some() {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(30)
    });
    let ctx = Ctx {
        php,
        settings,
        base_env,
        backend,
        timeout,
        valgrind: opts.valgrind.clone(),
        check_headers: opts.threads <= 1,
        warn_is_fail: opts.warn_is_fail,
        verbose: opts.verbose,
        hostname: crate::scrub::hostname(),
        external: external.clone(),
        headers_lock: Mutex::new(()),
    };

    let parsed: Vec<Result<TestFile, String>> = tests
        .iter()
        .map(|(name, path)| TestFile::load(name, path).map_err(|e| e.to_string()))
        .collect();
    let mut runs: Vec<Run> = vec![Run::default(); parsed.len()];
    let all: Vec<usize> = (0..parsed.len()).collect();
    execute(&ctx, &parsed, &all, &mut runs, opts.threads.max(1));

    // Harvests; tests that ran cleanly but sent nothing are re-run.
    let mut harvests = collect(&ctx, &parsed);
    for round in 0..opts.retry {
        let again: Vec<usize> = (0..parsed.len())
            .filter(|&i| {
                matches!(&parsed[i], Ok(t) if t.expect_harvest)
                    && runs[i].clean()
                    && harvests[i].is_none()
            })
            .collect();
        if again.is_empty() {
            break;
        }
        if opts.verbose {
            eprintln!(
                "retry round {}: {} test(s) without a harvest",
                round + 1,
                again.len()
            );
        }
        execute(&ctx, &parsed, &again, &mut runs, opts.threads.max(1));
        let fresh = collect(&ctx, &parsed);
        for i in again {
            harvests[i] = fresh[i].clone();
        }
    }

    let mut results = Vec::with_capacity(parsed.len());
    for (i, t) in parsed.iter().enumerate() {
        results.push(judge(&ctx, &tests[i].0, t, &runs[i], harvests[i].as_ref()));
    }
    let report = Report::new(results, ctx.warn_is_fail);
    let text = report.render();
    print!("{text}");
    if let Some(dir) = &opts.output_dir {
        std::fs::write(dir.join("integration-tests.log"), &text)?;
    }
    drop(ctx);
    drop(external);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(report)
}

/// Runs the tests at `which` on `threads` worker threads.
fn execute(
    ctx: &Ctx,
    parsed: &[Result<TestFile, String>],
    which: &[usize],
    runs: &mut [Run],
    threads: usize,
) {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Run)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.min(which.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = which.get(k) else {
                    break;
                };
                let run = match &parsed[i] {
                    Ok(t) => run_test(ctx, t),
                    Err(e) => Run {
                        fatal: Some(e.clone()),
                        ..Default::default()
                    },
                };
                if ctx.verbose {
                    let name = parsed[i].as_ref().map_or("?", |t| t.name.as_str());
                    eprintln!("ran {name} in {:.2?}", run.elapsed);
                }
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, run));
            });
        }
    });
    for (i, run) in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        runs[i] = run;
    }
}

/// Every test's payloads, by index.
fn collect(ctx: &Ctx, parsed: &[Result<TestFile, String>]) -> Vec<Option<Payloads>> {
    let now = SystemTime::now();
    match &ctx.backend {
        Backend::Fake(d) => parsed
            .iter()
            .map(|t| {
                let t = t.as_ref().ok()?;
                let h = d.take(&t.name)?;
                match Payloads::from_harvest(h, now) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::warn!(error = %e, test = t.name, "cannot build payloads");
                        None
                    }
                }
            })
            .collect(),
        Backend::Real(d) => {
            d.wait_quiet(Duration::from_millis(500), Duration::from_secs(30));
            let mut all = d.collect();
            parsed
                .iter()
                .map(|t| all.remove(&t.as_ref().ok()?.name))
                .collect()
        }
    }
}

fn test_env(ctx: &Ctx, test: &TestFile) -> Vec<(String, String)> {
    let mut env = ctx.base_env.clone();
    env.extend(test.env.iter().cloned());
    php::dedup_last_wins(env)
}

fn settings_for(ctx: &Ctx, test: &TestFile, appname: &str) -> Settings {
    let mut s = ctx.settings.merged(&test.ini);
    s.set("newrelic.appname", &php::ini_quote(appname));
    s
}

fn first_line(s: &str) -> &str {
    s.trim_start().lines().next().unwrap_or("")
}

/// SKIPIF: `Ok(Some(reason))` to skip, `Ok(None)` to run.
fn run_skipif(
    ctx: &Ctx,
    test: &TestFile,
    code: &str,
) -> Result<(Option<String>, Option<String>), String> {
    let dir = test.path.parent().unwrap_or(Path::new("."));
    // `<stem>.<pid>.skipif` next to the test (New Relic writes
    // `<stem>.skipif`): the pid keeps two runners over the same tree from
    // deleting each other's file.
    let file = test
        .path
        .with_extension(format!("{}.skipif", std::process::id()));
    std::fs::write(&file, code).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let settings = settings_for(ctx, test, "skipif");
    let mut args: Vec<std::ffi::OsString> = ctx
        .php
        .args(&settings, &test.php_modules)
        .into_iter()
        .map(Into::into)
        .collect();
    args.push("-f".into());
    args.push(file.file_name().unwrap_or_default().to_owned());
    let spawn = Spawn {
        program: ctx.php.php.clone(),
        args,
        env: test_env(ctx, test),
        cwd: dir.to_path_buf(),
        merge_output: true,
        stdin: Vec::new(),
    };
    let result = process::run(&spawn, ctx.timeout);
    let _ = std::fs::remove_file(&file);
    let f = result.map_err(|e| format!("cannot run SKIPIF: {e}"))?;
    let out = String::from_utf8_lossy(&f.stdout);
    if f.timed_out {
        return Err(format!("SKIPIF timed out after {:?}", ctx.timeout));
    }
    if !f.status.is_some_and(|s| s.success()) {
        return Err(format!(
            "SKIPIF failed ({}):\n{}",
            f.status.map_or("no status".into(), |s| s.to_string()),
            compare::indent(out.trim(), 4)
        ));
    }
    let line = first_line(&out);
    if line.to_ascii_lowercase().starts_with("skip") {
        return Ok((Some(line.to_owned()), None));
    }
    if line.to_ascii_lowercase().starts_with("warn:") {
        return Ok((None, Some(line.to_owned())));
    }
    Ok((None, None))
}

fn run_test(ctx: &Ctx, test: &TestFile) -> Run {
    let start = Instant::now();
    let mut run = Run::default();
    if let Some(code) = &test.skipif {
        match run_skipif(ctx, test, code) {
            Ok((Some(skip), _)) => {
                run.skipped = Some(skip);
                return run;
            }
            Ok((None, Some(warn))) if ctx.warn_is_fail => {
                run.warned = Some(warn);
                return run;
            }
            Ok(_) => {}
            Err(e) => {
                run.fatal = Some(e);
                return run;
            }
        }
    }
    if let Backend::Fake(d) = &ctx.backend {
        d.clear(&test.name);
    }
    let dir = test.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let settings = settings_for(ctx, test, &test.name);
    let mut args: Vec<std::ffi::OsString> = ctx
        .php
        .args(&settings, &test.php_modules)
        .into_iter()
        .map(Into::into)
        .collect();
    let env = test_env(ctx, test);
    let web = test.is_web();
    let (program, env) = if web {
        let lookup = EnvLookup::new(env.iter().cloned());
        let headers: Vec<(String, String)> = test
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), lookup.substitute(v)))
            .collect();
        let method = test.env_var("REQUEST_METHOD").unwrap_or("GET").to_owned();
        let query = test.env_var("QUERY_STRING").unwrap_or("").to_owned();
        let mut full = env.clone();
        full.extend(php::cgi_env(
            &test.path, &method, &query, &headers, &test.env,
        ));
        (ctx.php.cgi.clone(), php::dedup_last_wins(full))
    } else {
        args.push("-f".into());
        args.push(test.path.file_name().unwrap_or_default().to_owned());
        (ctx.php.php.clone(), env)
    };
    let vg_dir = match &ctx.valgrind {
        Some(_) => match tempfile::tempdir() {
            Ok(d) => Some(d),
            Err(e) => {
                run.fatal = Some(format!("cannot create a valgrind report directory: {e}"));
                return run;
            }
        },
        None => None,
    };
    let (program, args) = match (&ctx.valgrind, &vg_dir) {
        (Some(vg), Some(d)) => match valgrind::wrap(vg, d.path(), &program, args) {
            Ok(wrapped) => wrapped,
            Err(e) => {
                run.fatal = Some(format!("cannot write the valgrind suppressions: {e}"));
                return run;
            }
        },
        _ => (program, args),
    };
    let spawn = Spawn {
        program,
        args,
        env,
        cwd: dir,
        merge_output: !web,
        stdin: Vec::new(),
    };
    run.command = spawn.display();
    if ctx.verbose {
        eprintln!("{}: {}", test.name, run.command);
    }
    let header_guard = ctx
        .check_headers
        .then(|| ctx.headers_lock.lock().unwrap_or_else(|p| p.into_inner()));
    if header_guard.is_some() {
        ctx.external.take_recorded_headers();
    }
    let finished = process::run(&spawn, ctx.timeout);
    if header_guard.is_some() {
        run.response_headers = Some(ctx.external.take_recorded_headers());
    }
    drop(header_guard);
    if let Backend::Fake(d) = &ctx.backend {
        if !d.settle(&test.name, Duration::from_secs(10)) {
            tracing::warn!(
                test = test.name,
                "agent connections still open 10 s after the test ended"
            );
        }
    }
    run.elapsed = start.elapsed();
    let f = match finished {
        Ok(f) => f,
        Err(e) => {
            run.fatal = Some(format!("cannot run {}: {e}", spawn.program.display()));
            return run;
        }
    };
    let raw = if web {
        php::parse_cgi_response(&f.stdout).body
    } else {
        f.stdout.clone()
    };
    let (output, vars) = capture_expect_vars(&String::from_utf8_lossy(&raw));
    run.output = output;
    run.vars = vars;
    run.stderr = String::from_utf8_lossy(&f.stderr).into_owned();
    if let Some(d) = &vg_dir {
        run.valgrind = valgrind::collect(d.path());
    }
    if f.timed_out {
        run.fatal = Some(format!("timed out after {:?}", ctx.timeout));
        return run;
    }
    let line = first_line(&run.output).to_owned();
    let lower = line.to_ascii_lowercase();
    if lower.starts_with("skip") {
        run.skipped = Some(line);
    } else if lower.starts_with("warn:") {
        run.warned = Some(line);
    } else if lower.starts_with("xfail") {
        run.xfail = Some(line);
    }
    run
}

/// Runs a `/cat` callee through php-cgi (appname `ignore`).
fn run_cat(
    php: &PhpSetup,
    settings: &Settings,
    env: &[(String, String)],
    req: &CatRequest,
) -> CatResponse {
    let script = crate::discover::clean_absolute(Path::new(&req.file));
    let mut s = settings.clone();
    s.set("newrelic.appname", "ignore");
    s.set(
        "newrelic.distributed_tracing_enabled",
        if req.dt_enabled { "1" } else { "0" },
    );
    s.set(
        "newrelic.cross_application_tracer.enabled",
        if req.cat_enabled { "1" } else { "0" },
    );
    let args = php.args(&s, &[]).into_iter().map(Into::into).collect();
    let mut full = env.to_vec();
    full.extend(php::cgi_env(&script, "GET", "", &req.headers, &[]));
    let spawn = Spawn {
        program: php.cgi.clone(),
        args,
        env: php::dedup_last_wins(full),
        cwd: script.parent().unwrap_or(Path::new("/")).to_path_buf(),
        merge_output: false,
        stdin: Vec::new(),
    };
    match process::run(&spawn, Duration::from_secs(60)) {
        Ok(f) => {
            let r = php::parse_cgi_response(&f.stdout);
            let mut status = 200;
            let mut headers = Vec::new();
            for (k, v) in r.headers {
                let k = php::canonical_header(&k);
                match k.as_str() {
                    "Status" => {
                        status = v
                            .split_whitespace()
                            .next()
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(200)
                    }
                    "Content-Type" | "X-Powered-By" => {}
                    _ => headers.push((k, v)),
                }
            }
            CatResponse {
                status,
                headers,
                body: r.body,
            }
        }
        Err(e) => CatResponse {
            status: 500,
            headers: Vec::new(),
            body: format!("cannot run php-cgi: {e}").into_bytes(),
        },
    }
}

fn judge(
    ctx: &Ctx,
    name: &str,
    test: &Result<TestFile, String>,
    run: &Run,
    payloads: Option<&Payloads>,
) -> TestResult {
    let base = |outcome: Outcome, failures: Vec<Failure>| TestResult {
        name: name.to_owned(),
        outcome,
        failures,
        command: run.command.clone(),
        stderr: run.stderr.clone(),
    };
    let test = match test {
        Ok(t) => t,
        Err(e) => return base(Outcome::Fail, vec![fatal(e)]),
    };
    if let Some(reason) = &run.skipped {
        return base(Outcome::Skip(reason.clone()), Vec::new());
    }
    if let Some(reason) = &run.warned {
        return base(Outcome::Warn(reason.clone()), Vec::new());
    }
    let mut failures = Vec::new();
    if let Some(e) = &run.fatal {
        failures.push(fatal(e));
        if !run.output.trim().is_empty() {
            failures.push(Failure {
                what: "output".into(),
                reason: format!("test output:\n{}", compare::indent(run.output.trim(), 4)),
                expected: None,
                actual: None,
            });
        }
    } else {
        let mut vars = EnvLookup::new(test_env(ctx, test));
        for (k, v) in &run.vars {
            vars.set(k, v);
        }
        let env = compare::Env {
            vars: &vars,
            hostname: &ctx.hostname,
        };
        let seen = Observed {
            output: &run.output,
            payloads,
            response_headers: run.response_headers.as_deref(),
        };
        failures = compare::compare(test, &seen, &env);
    }
    if !run.valgrind.is_empty() {
        failures.push(Failure {
            what: "valgrind".into(),
            reason: valgrind::render(&run.valgrind),
            expected: None,
            actual: None,
        });
    }
    let outcome = if failures.is_empty() {
        Outcome::Pass
    } else if let Some(reason) = test.xfail.clone().or_else(|| run.xfail.clone()) {
        Outcome::XFail(reason)
    } else {
        Outcome::Fail
    };
    base(outcome, failures)
}

fn fatal(e: &str) -> Failure {
    Failure {
        what: "fatal".into(),
        reason: e.to_owned(),
        expected: None,
        actual: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_binary_next_to_php() {
        assert_eq!(default_cgi(Path::new("php")), PathBuf::from("php-cgi"));
        assert_eq!(
            default_cgi(Path::new("/opt/php8/bin/php")),
            PathBuf::from("/opt/php8/bin/php-cgi")
        );
        assert_eq!(
            default_cgi(Path::new("/usr/bin/php8.2")),
            PathBuf::from("/usr/bin/php-cgi8.2")
        );
    }

    #[test]
    fn skip_prefix_is_read_from_the_first_line() {
        assert_eq!(first_line("\n  skip: no pdo\nmore"), "skip: no pdo");
        assert_eq!(first_line(""), "");
    }
}
