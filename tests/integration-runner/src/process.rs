//! Running a child process with captured output and a hard time limit.
//!
//! Every child gets its own process group, so a timeout kills PHP together
//! with anything it started (valgrind's PHP, forked children). Output is
//! read on helper threads; with `merge_output` stdout and stderr share one
//! pipe so the text interleaves exactly as the script wrote it (what CLI
//! tests compare against).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Spawn {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The complete environment (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// stdout and stderr into one stream (`stdout` of [`Finished`]).
    pub merge_output: bool,
    /// Bytes written to stdin (then closed).
    pub stdin: Vec<u8>,
}

impl Spawn {
    /// The command line, for logs and failure reports.
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            let a = a.to_string_lossy();
            if a.contains(char::is_whitespace) || a.is_empty() {
                s.push_str(&format!("{a:?}"));
            } else {
                s.push_str(&a);
            }
        }
        s
    }
}

/// How a child ended.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// stdout (or both streams with `merge_output`).
    pub stdout: Vec<u8>,
    /// stderr (empty with `merge_output`).
    pub stderr: Vec<u8>,
    /// Exit status; `None` if it could not be collected.
    pub status: Option<ExitStatus>,
    /// True if the time limit killed it.
    pub timed_out: bool,
}

fn reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Runs `spawn`, killing its process group after `timeout`.
pub fn run(spawn: &Spawn, timeout: Duration) -> std::io::Result<Finished> {
    let deadline = Instant::now() + timeout;
    let mut cmd = Command::new(&spawn.program);
    cmd.args(&spawn.args)
        .env_clear()
        .envs(spawn.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spawn.cwd)
        .process_group(0)
        .stdin(if spawn.stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        });
    let mut merged_rx = None;
    if spawn.merge_output {
        let (r, w) = nix::unistd::pipe().map_err(std::io::Error::from)?;
        cmd.stdout(Stdio::from(w.try_clone()?))
            .stderr(Stdio::from(w));
        merged_rx = Some(reader(std::fs::File::from(r)));
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let spawned = cmd.spawn();
    // The Command holds our copies of the pipe's write end: close them so
    // the reader sees EOF when the child's side closes.
    drop(cmd);
    let mut child = spawned?;
    let pid = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        let data = spawn.stdin.clone();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let (out_rx, err_rx) = match merged_rx {
        Some(rx) => (rx, None),
        None => {
            let out = child.stdout.take().map(reader);
            let err = child.stderr.take().map(reader);
            match out {
                Some(o) => (o, err),
                None => {
                    let (_tx, rx) = mpsc::channel();
                    (rx, err)
                }
            }
        }
    };
    let (wait_tx, wait_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = wait_tx.send(child.wait());
    });
    let mut timed_out = false;
    let status = match wait_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(s) => s.ok(),
        Err(_) => {
            timed_out = true;
            kill_group(pid);
            wait_rx.recv().ok().and_then(Result::ok)
        }
    };
    // Output ends when every holder of the pipe is gone; a straggler in
    // the group (a forked child) gets until the deadline, then is killed.
    let collect = |rx: &mpsc::Receiver<Vec<u8>>, timed_out: &mut bool| -> Vec<u8> {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(v) => v,
            Err(_) => {
                *timed_out = true;
                kill_group(pid);
                rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default()
            }
        }
    };
    let stdout = collect(&out_rx, &mut timed_out);
    let stderr = err_rx
        .map(|rx| collect(&rx, &mut timed_out))
        .unwrap_or_default();
    Ok(Finished {
        stdout,
        stderr,
        status,
        timed_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, merge: bool) -> Spawn {
        Spawn {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("X".into(), "42".into()),
            ],
            cwd: "/".into(),
            merge_output: merge,
            stdin: Vec::new(),
        }
    }

    #[test]
    fn merged_output_interleaves_and_env_is_exact() {
        let f = run(
            &sh(
                "echo a; echo b >&2; echo $X; echo ${HOME:-nohome}; exit 3",
                true,
            ),
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&f.stdout), "a\nb\n42\nnohome\n");
        assert!(f.stderr.is_empty());
        assert_eq!(f.status.and_then(|s| s.code()), Some(3));
        assert!(!f.timed_out);
    }

    #[test]
    fn separate_streams_and_stdin() {
        let mut s = sh("cat; echo err >&2", false);
        s.stdin = b"input".to_vec();
        let f = run(&s, Duration::from_secs(20)).unwrap();
        assert_eq!(f.stdout, b"input");
        assert_eq!(f.stderr, b"err\n");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let f = run(
            &sh("sleep 30 & sleep 30; echo never", true),
            Duration::from_millis(200),
        )
        .unwrap();
        assert!(f.timed_out);
        assert!(!String::from_utf8_lossy(&f.stdout).contains("never"));
    }

    #[test]
    fn missing_program_is_an_error() {
        let mut s = sh("", false);
        s.program = "/nonexistent/seraph-runner-bin".into();
        assert!(run(&s, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn display_quotes_blank_arguments() {
        assert_eq!(sh("echo a", false).display(), "/bin/sh -c \"echo a\"");
    }
}
