//! The audit log (§5): two lines per collector call, request then
//! response, with the license key obfuscated in the URL.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::time::log_timestamp;

/// An open audit log. Lines are written whole under a lock, so concurrent
/// calls never interleave inside a line.
#[derive(Debug)]
pub(crate) struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (creates) the file for appending. It holds every payload, so
    /// a new file is made 0600 (a umask can only narrow that), and a
    /// symbolic link at the path is never followed (another user could
    /// have planted it).
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;

        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// `command='<m>' url='<url>' payload={<json>}`
    pub(crate) fn request(&self, method: &str, url: &str, payload: &[u8]) {
        let mut line = format!(
            "{} command='{method}' url='{url}' payload={{",
            log_timestamp(SystemTime::now())
        )
        .into_bytes();
        line.extend_from_slice(payload);
        line.extend_from_slice(b"}\n");
        self.write(&line);
    }

    /// `command='<m>' url='<url>', status=<code>, response={<body>}`
    pub(crate) fn response(&self, method: &str, url: &str, status: u16, body: &str) {
        let line = format!(
            "{} command='{method}' url='{url}', status={status}, response={{{body}}}\n",
            log_timestamp(SystemTime::now())
        );
        self.write(line.as_bytes());
    }

    fn write(&self, line: &[u8]) {
        let mut file = match self.file.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(e) = file.write_all(line) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_line_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        log.request(
            "connect",
            "https://h/x?license_key=ab..yz",
            b"[{\"pid\":1}]",
        );
        log.response(
            "connect",
            "https://h/x?license_key=ab..yz",
            200,
            "{\"agent_run_id\":\"1\"}",
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        // "YYYY/MM/DD HH:MM:SS.micro " prefix.
        assert_eq!(&lines[0][4..5], "/");
        assert_eq!(&lines[0][26..27], " ");
        assert_eq!(
            &lines[0][27..],
            "command='connect' url='https://h/x?license_key=ab..yz' payload={[{\"pid\":1}]}"
        );
        assert_eq!(
            &lines[1][27..],
            "command='connect' url='https://h/x?license_key=ab..yz', status=200, response={{\"agent_run_id\":\"1\"}}"
        );
    }
}
