//! Server processes owned by the test process: started from one keeper
//! thread with `PR_SET_PDEATHSIG`, stopped at exit.
//!
//! Two mechanisms make sure nothing outlives the test binary:
//!
//! * every server is forked by one thread that lives as long as the
//!   process, and asks the kernel for `SIGKILL` when its parent goes away
//!   (Linux sends the parent-death signal when the *thread* that forked the
//!   child ends, which is why no test thread forks them: a test thread ends
//!   with its test). This also covers a test binary killed with `SIGKILL`;
//! * a normal exit (libtest calls `exit`) runs an `atexit` handler that sends
//!   each server its stop signal, waits for all of them (at most
//!   [`STOP_GRACE`]), kills what is left, and removes their directories.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the exit handler waits for servers to stop before `SIGKILL`.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A started server process, as the registry keeps it.
struct Running {
    name: String,
    child: Child,
    stop_signal: libc::c_int,
}

/// Everything started and every directory to remove, in start order.
#[derive(Default)]
struct Registry {
    running: Vec<Running>,
    dirs: Vec<tempfile::TempDir>,
}

fn registry() -> &'static Mutex<Registry> {
    static REG: OnceLock<Mutex<Registry>> = OnceLock::new();
    REG.get_or_init(|| {
        // SAFETY: registering a plain `extern "C" fn()` with libc.
        unsafe { libc::atexit(stop_all_at_exit) };
        Mutex::new(Registry::default())
    })
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The channel to the keeper thread, started on first use.
fn keeper() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("server-keeper".into())
            .spawn(move || {
                // Lives until the process exits: its children's
                // parent-death signal is tied to this thread.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn the server keeper thread");
        Mutex::new(tx)
    })
}

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
    // SAFETY: only async-signal-safe calls between fork and exec (prctl,
    // getppid, _exit). Runs after any uid/gid change the command asked for,
    // which would otherwise clear the parent-death signal.
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The keeper may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    keeper()
        .lock()
        .map_err(|_| "server keeper lock poisoned".to_string())?
        .send((cmd, tx))
        .map_err(|_| "server keeper thread is gone".to_string())?;
    let child = rx
        .recv()
        .map_err(|_| "server keeper thread is gone".to_string())?
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    let pid = child.id();
    registry()
        .lock()
        .map_err(|_| "server registry lock poisoned".to_string())?
        .running
        .push(Running {
            name: name.to_owned(),
            child,
            stop_signal,
        });
    Ok(pid)
}

/// Whether the server with this pid has exited (and how), without waiting.
pub fn exited(pid: u32) -> Option<String> {
    let mut reg = registry().lock().ok()?;
    let r = reg.running.iter_mut().find(|r| r.child.id() == pid)?;
    match r.child.try_wait() {
        Ok(Some(status)) => Some(format!("{} exited ({status})", r.name)),
        Ok(None) => None,
        Err(e) => Some(format!("{}: cannot check its status: {e}", r.name)),
    }
}

/// The name and pid of every server this process started and has not
/// stopped.
pub fn running() -> Vec<(String, u32)> {
    registry()
        .lock()
        .map(|reg| {
            reg.running
                .iter()
                .map(|r| (r.name.clone(), r.child.id()))
                .collect()
        })
        .unwrap_or_default()
}

/// Stops one server now (the exit handler would otherwise): used for
/// helper processes a start-up left behind after a failure.
pub fn stop(pid: u32) {
    let Ok(mut reg) = registry().lock() else {
        return;
    };
    if let Some(i) = reg.running.iter().position(|r| r.child.id() == pid) {
        let mut r = reg.running.remove(i);
        let _ = r.child.kill();
        let _ = r.child.wait();
    }
}

/// A temporary directory removed at exit (after the servers stopped),
/// readable by other users so a server running as one can reach its own
/// subdirectory. All of a process's directories live under
/// `$TMPDIR/seraph-services-<pid>`; those of test processes that were
/// killed (so never ran their exit handler) are removed by the next one.
pub fn temp_dir(prefix: &str) -> Result<PathBuf, String> {
    let parent = process_dir()?;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let path = dir.path().to_path_buf();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    registry()
        .lock()
        .map_err(|_| "server registry lock poisoned".to_string())?
        .dirs
        .push(dir);
    Ok(path)
}

const PROCESS_DIR_PREFIX: &str = "seraph-services-";

/// This process's parent directory for server data (created, and stale
/// ones swept, on first use).
fn process_dir() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<tempfile::TempDir, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        sweep_stale_dirs();
        tempfile::Builder::new()
            .prefix(&format!("{PROCESS_DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))
            .and_then(|d| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| format!("chmod {}: {e}", d.path().display()))?;
                Ok(d)
            })
    });
    dir.as_ref().map(|d| d.path()).map_err(Clone::clone)
}

/// Removes the server directories of test processes that no longer exist.
fn sweep_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PROCESS_DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound and released: another process could
/// take it before the server does, which start-up reports as a failure).
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
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

/// The last lines of a log file, for failure messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(30);
    format!(
        "--- {} (tail) ---\n{}",
        path.display(),
        lines[from..].join("\n")
    )
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

extern "C" fn stop_all_at_exit() {
    let Some(reg) = registry().lock().ok() else {
        return;
    };
    let mut reg = reg;
    for r in reg.running.iter() {
        // SAFETY: signalling a child we started and have not reaped.
        unsafe { libc::kill(r.child.id() as libc::pid_t, r.stop_signal) };
    }
    let deadline = Instant::now() + STOP_GRACE;
    for r in reg.running.iter_mut() {
        loop {
            match r.child.try_wait() {
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                    break;
                }
                _ => break,
            }
        }
    }
    reg.running.clear();
    // Dropping the TempDirs removes the servers' data; the process
    // directory (a static) is removed here too.
    reg.dirs.clear();
    if let Ok(dir) = process_dir() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
