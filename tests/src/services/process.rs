//! Server processes owned by the test process, supervised by
//! `seraph_webstack::children` (the web stacks' supervision): forked by one
//! keeper thread with `PR_SET_PDEATHSIG` = `SIGKILL`, so the kernel kills
//! them when the test binary dies, even by `SIGKILL`; on a normal exit
//! each gets its stop signal, at most [`STOP_GRACE`] to exit, then
//! `SIGKILL`, and their directories are removed.

use seraph_webstack::children::{self, Signals};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use seraph_webstack::children::{exited, running, tail, STOP_GRACE};
pub use seraph_webstack::free_port;

/// How to start one server process.
pub struct Spawn<'a> {
    /// Name for messages (`mariadbd`, `postgres`).
    pub name: &'a str,
    /// The command, with its arguments, environment and working directory
    /// set; stdio is redirected here.
    pub cmd: Command,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// The signal that stops it cleanly (`SIGTERM`, `SIGINT` for postgres).
    pub stop_signal: libc::c_int,
}

/// Starts a server process from the keeper thread and registers it for
/// stopping at exit. Returns its pid.
pub fn spawn(spec: Spawn<'_>) -> Result<u32, String> {
    let Spawn {
        name,
        mut cmd,
        log,
        stop_signal,
    } = spec;
    let out = std::fs::File::create(&log)
        .map_err(|e| format!("{name}: cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{name}: cannot duplicate the log file: {e}"))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let signals = Signals {
        stop: stop_signal,
        parent_death: libc::SIGKILL,
    };
    children::spawn(name, cmd, signals)
}

/// Stops one server now (the exit handler would otherwise): used for
/// helper processes a start-up left behind after a failure.
pub fn stop(pid: u32) {
    children::kill(pid);
}

/// A temporary directory removed at exit (after the servers stopped),
/// readable by other users so a server running as one can reach its own
/// subdirectory. All of a process's directories live under
/// `$TMPDIR/seraph-services-<pid>`; those of test processes that were
/// killed (so never ran their exit handler) are removed by the next one.
pub fn temp_dir(prefix: &str) -> Result<PathBuf, String> {
    let path = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(process_dir()?)
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?
        .keep();
    chmod_755(&path)?;
    children::remove_at_exit(path.clone());
    Ok(path)
}

const PROCESS_DIR_PREFIX: &str = "seraph-services-";

/// This process's parent directory for server data (created, and stale
/// ones swept, on first use; removed at exit).
fn process_dir() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        children::sweep_stale(PROCESS_DIR_PREFIX);
        let path = tempfile::Builder::new()
            .prefix(&format!("{PROCESS_DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        children::remove_at_exit(path.clone());
        chmod_755(&path)?;
        Ok(path)
    });
    dir.as_deref().map_err(Clone::clone)
}

fn chmod_755(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// Waits until `127.0.0.1:port` accepts connections, failing early when the
/// process `pid` exits, and at the deadline.
pub fn wait_for_port(
    name: &str,
    pid: u32,
    port: u16,
    log: &Path,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(how) = exited(pid) {
            return Err(format!("{how} before listening on {port}\n{}", tail(log)));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not listen on port {port} within {limit:?}\n{}",
                tail(log)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Checks that a server binary is installed, with the Debian package that
/// provides it in the message.
pub fn require_binary(path: &str, package: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(path);
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{path} is not installed: install the Debian package {package} \
             (tests/setup-host.sh installs every server the tests use)"
        ))
    }
}

/// Runs a short command to completion (an initdb, a client), with its
/// output in the error.
pub fn run(name: &str, cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{name}: cannot run: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{name} failed ({}):\n{text}", out.status))
    }
}

/// The uid and gid of an unprivileged user for servers that refuse to run
/// as root (PostgreSQL), when this process is root; `None` otherwise.
pub fn unprivileged_user(preferred: &str) -> Result<Option<(u32, u32)>, String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in [preferred, "nobody"] {
        if let Ok(Some(u)) = nix::unistd::User::from_name(name) {
            return Ok(Some((u.uid.as_raw(), u.gid.as_raw())));
        }
    }
    Err(format!(
        "running as root, but neither user {preferred} nor nobody exists"
    ))
}

/// Gives a directory to a user (for a server running as that user).
pub fn chown(path: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", path.display()))?;
    }
    Ok(())
}
