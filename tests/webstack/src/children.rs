//! The server processes a test binary starts (the web stacks' nginx and
//! php-fpm, seraph-e2e's databases, brokers and daemon): started from one
//! keeper thread with a parent-death signal, stopped by their owner, and at
//! exit for those never stopped (servers kept in a `static`).
//!
//! Linux sends the parent-death signal when the *thread* that forked the
//! child ends, so no test thread forks them (a test thread ends with its
//! test, while a server in a `static` serves the tests after it): one thread
//! that lives as long as the process does. It covers a test binary killed
//! with `SIGKILL`; the `atexit` handler covers a normal exit, where statics
//! are not dropped: it sends each server its stop signal, waits at most
//! [`STOP_GRACE`], kills what is left, then removes the directories
//! registered with [`remove_at_exit`].

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a server gets to exit after its stop signal before `SIGKILL`.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The signals a server is stopped with.
#[derive(Clone, Copy, Debug)]
pub struct Signals {
    /// Sent by [`stop`] and at exit (`SIGTERM`; `SIGINT` for postgres).
    pub stop: libc::c_int,
    /// Sent by the kernel when the test binary dies. `SIGTERM` for nginx
    /// and php-fpm, which then stop their workers (workers outlive a
    /// master killed with `SIGKILL`).
    pub parent_death: libc::c_int,
}

/// A started server, as the registry keeps it.
struct Running {
    name: String,
    child: Child,
    stop_signal: libc::c_int,
}

/// Servers not yet stopped, and the directories to remove at exit.
#[derive(Default)]
struct Registry {
    running: Vec<Running>,
    dirs: Vec<PathBuf>,
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
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The senders live in a static, so this is not reached;
                // if it were, the thread must still not end.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn the server keeper thread");
        Mutex::new(tx)
    })
}

/// Starts `cmd` (arguments, environment and stdio already set) from the
/// keeper thread and registers it as `name`; returns its pid.
pub fn spawn(name: &str, mut cmd: Command, signals: Signals) -> Result<u32, String> {
    let death = signals.parent_death;
    // SAFETY: only async-signal-safe calls between fork and exec (prctl,
    // getppid, _exit). Runs after any uid/gid change the command asked for,
    // which would otherwise clear the parent-death signal.
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, death, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let gone = || "the server keeper thread is gone".to_owned();
    let (tx, rx) = mpsc::channel();
    keeper()
        .lock()
        .map_err(|_| gone())?
        .send((cmd, tx))
        .map_err(|_| gone())?;
    let child = rx
        .recv()
        .map_err(|_| gone())?
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    let pid = child.id();
    lock().running.push(Running {
        name: name.to_owned(),
        child,
        stop_signal: signals.stop,
    });
    Ok(pid)
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves the list intact.
    registry().lock().unwrap_or_else(|p| p.into_inner())
}

/// How the server `pid` exited (`php-fpm exited (…)`), or `None` while it
/// runs.
pub fn exited(pid: u32) -> Option<String> {
    let mut reg = lock();
    let r = reg.running.iter_mut().find(|r| r.child.id() == pid)?;
    match r.child.try_wait() {
        Ok(Some(status)) => Some(format!("{} exited ({status})", r.name)),
        Ok(None) => None,
        Err(e) => Some(format!("{}: cannot check its status: {e}", r.name)),
    }
}

/// The name and pid of every server started and not stopped.
pub fn running() -> Vec<(String, u32)> {
    lock()
        .running
        .iter()
        .map(|r| (r.name.clone(), r.child.id()))
        .collect()
}

/// Removes `dir` at exit (after the servers stopped) unless it was removed
/// before.
pub fn remove_at_exit(dir: PathBuf) {
    lock().dirs.push(dir);
}

/// Forgets a directory removed already.
pub fn removed(dir: &Path) {
    lock().dirs.retain(|d| d != dir);
}

/// Stops the servers `pids` (in that order): each gets its stop signal,
/// then `SIGKILL` after [`STOP_GRACE`].
pub fn stop(pids: &[u32]) {
    let mut stopping = take(pids);
    stop_all(&mut stopping);
}

/// Kills the server `pid` now, without its stop signal: for helper
/// processes a failed start-up left behind.
pub fn kill(pid: u32) {
    for mut r in take(&[pid]) {
        let _ = r.child.kill();
        let _ = r.child.wait();
    }
}

/// Takes the servers `pids` out of the registry.
fn take(pids: &[u32]) -> Vec<Running> {
    let mut reg = lock();
    let mut taken = Vec::new();
    for pid in pids {
        if let Some(i) = reg.running.iter().position(|r| r.child.id() == *pid) {
            taken.push(reg.running.remove(i));
        }
    }
    taken
}

fn stop_all(servers: &mut [Running]) {
    for r in servers.iter() {
        // SAFETY: a signal to a child we spawned and have not reaped.
        unsafe { libc::kill(r.child.id() as libc::pid_t, r.stop_signal) };
    }
    let deadline = Instant::now() + STOP_GRACE;
    for r in servers.iter_mut() {
        while matches!(r.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // For a server that hangs; SIGKILL on nginx's or php-fpm's master
        // would leave its workers behind, which is why the stop signal
        // came first.
        if matches!(r.child.try_wait(), Ok(None)) {
            let _ = r.child.kill();
        }
        let _ = r.child.wait();
    }
}

extern "C" fn stop_all_at_exit() {
    let (mut servers, dirs) = {
        let mut reg = lock();
        (
            std::mem::take(&mut reg.running),
            std::mem::take(&mut reg.dirs),
        )
    };
    stop_all(&mut servers);
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Removes the directories in `$TMPDIR` named `<prefix><pid>-…` whose
/// process no longer exists: those of test binaries that were killed, so
/// never ran their exit handler.
pub fn sweep_stale(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The last 30 lines of a log file, named, for failure messages.
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
