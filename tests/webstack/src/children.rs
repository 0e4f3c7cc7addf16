//! The server processes of every running stack: started from one keeper
//! thread with a parent-death signal, stopped when their stack is dropped,
//! and at exit for stacks that never are (those kept in a `static`).
//!
//! Linux sends the parent-death signal when the *thread* that forked the
//! child ends, so no test thread forks them (a test thread ends with its
//! test, while a stack in a `static` serves the tests after it): one thread
//! that lives as long as the process does. The signal is `SIGTERM`, on
//! which nginx and php-fpm stop their workers before they exit (workers
//! outlive a master killed with `SIGKILL`). It covers a test binary killed
//! with `SIGKILL`; the `atexit` handler covers a normal exit, where statics
//! are not dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a server gets to exit after `SIGTERM` before `SIGKILL`.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Servers not yet stopped, and the directories to remove at exit.
#[derive(Default)]
struct Registry {
    running: Vec<Child>,
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
            .name("webstack-keeper".into())
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
            .expect("spawn the webstack keeper thread");
        Mutex::new(tx)
    })
}

/// Starts `cmd` (stdio already set) from the keeper thread; returns its pid.
pub fn spawn(what: &str, mut cmd: Command) -> Result<u32, String> {
    // SAFETY: only async-signal-safe calls between fork and exec (prctl,
    // getppid, _exit).
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let gone = || "the webstack keeper thread is gone".to_owned();
    let (tx, rx) = mpsc::channel();
    keeper()
        .lock()
        .map_err(|_| gone())?
        .send((cmd, tx))
        .map_err(|_| gone())?;
    let child = rx
        .recv()
        .map_err(|_| gone())?
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let pid = child.id();
    lock().running.push(child);
    Ok(pid)
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves the list intact.
    registry().lock().unwrap_or_else(|p| p.into_inner())
}

/// How the server `pid` exited, or `None` while it runs.
pub fn exited(pid: u32) -> Option<String> {
    let mut reg = lock();
    let child = reg.running.iter_mut().find(|c| c.id() == pid)?;
    match child.try_wait() {
        Ok(Some(status)) => Some(format!("it exited ({status})")),
        Ok(None) => None,
        Err(e) => Some(format!("cannot check its status: {e}")),
    }
}

/// Removes `dir` at exit unless it was removed before.
pub fn remove_at_exit(dir: PathBuf) {
    lock().dirs.push(dir);
}

/// Forgets a directory removed already.
pub fn removed(dir: &std::path::Path) {
    lock().dirs.retain(|d| d != dir);
}

/// Stops the servers `pids` (in that order): `SIGTERM` (nginx and php-fpm
/// then stop their workers and exit), `SIGKILL` after [`STOP_GRACE`].
pub fn stop(pids: &[u32]) {
    let mut children = Vec::new();
    {
        let mut reg = lock();
        for pid in pids {
            if let Some(i) = reg.running.iter().position(|c| c.id() == *pid) {
                children.push(reg.running.remove(i));
            }
        }
    }
    stop_children(&mut children);
}

fn stop_children(children: &mut [Child]) {
    for c in children.iter() {
        // SAFETY: a signal to a child we spawned and have not reaped.
        unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
    }
    let deadline = Instant::now() + STOP_GRACE;
    for c in children.iter_mut() {
        while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SIGKILL on the master would leave its workers behind, which is
        // why SIGTERM came first; this is for a master that hangs.
        if matches!(c.try_wait(), Ok(None)) {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
}

extern "C" fn stop_all_at_exit() {
    let (mut children, dirs) = {
        let mut reg = lock();
        (
            std::mem::take(&mut reg.running),
            std::mem::take(&mut reg.dirs),
        )
    };
    stop_children(&mut children);
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The prefix of a stack's directory: `seraph-web-<pid>-`, so that the
/// directories of test binaries that were killed (which never ran their
/// exit handler) can be told apart and removed by [`sweep_stale`].
pub fn dir_prefix() -> String {
    format!("{STACK_DIR}{}-", std::process::id())
}

const STACK_DIR: &str = "seraph-web-";

/// Removes the stack directories of processes that no longer exist.
pub fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(STACK_DIR)
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
