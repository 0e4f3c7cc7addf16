//! Opening the files the daemon writes (pid file, log) so that neither the
//! umask nor a link another user planted can weaken or redirect them: a
//! file the daemon creates gets exactly the mode asked for (`fchmod` after
//! creation, whatever the umask), and the last path component is never
//! followed as a symbolic link (`O_NOFOLLOW`) unless root or the daemon's
//! own user made that link (a log at `/dev/stdout` or `/proc/self/fd/1`,
//! as container setups use).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

fn base_flags() -> i32 {
    libc::O_NOFOLLOW | libc::O_CLOEXEC
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Opens `path` for appending, creating it with exactly `mode`. An
/// existing symbolic link is followed only when root or this process's
/// user owns it.
pub fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    for _ in 0..3 {
        match OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(base_flags())
            .open(path)
        {
            Ok(file) => {
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        match OpenOptions::new()
            .append(true)
            .custom_flags(base_flags() | libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => return Ok(file),
            // Removed in between: create it again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return open_trusted_link(path),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "the file kept disappearing while it was opened",
    ))
}

/// Follows the symbolic link at `path` if root or this user owns it.
fn open_trusted_link(path: &Path) -> io::Result<File> {
    let link = std::fs::symlink_metadata(path)?;
    let owner = link.uid();
    if owner != 0 && owner != euid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "it is a symbolic link owned by uid {owner}; only links of root or of the daemon's user are followed"
            ),
        ));
    }
    OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Opens (creating with exactly `mode`) the regular file `path` for
/// writing without truncating it; never through a symbolic link, never a
/// FIFO or device.
pub fn open_regular(path: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(base_flags() | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "it is a symbolic link, which is never followed",
                )
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    if meta.uid() == euid() && meta.mode() & 0o7777 != mode {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn created_files_get_exactly_the_mode_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        let pid = dir.path().join("a.pid");
        // A restrictive umask cannot narrow them (a permissive one cannot
        // widen them: the mode itself is narrow).
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let a = open_append(&log, 0o640);
        let b = open_regular(&pid, 0o644);
        nix::sys::stat::umask(old);
        a.unwrap().write_all(b"x").unwrap();
        b.unwrap();
        assert_eq!(mode_of(&log), 0o640);
        assert_eq!(mode_of(&pid), 0o644);
        // Appending keeps what is there.
        open_append(&log, 0o640).unwrap().write_all(b"y").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "xy");
    }

    #[test]
    fn links_are_not_followed_unless_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        // A pid file is never opened through a link.
        let e = open_regular(&link, 0o644).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A log may be, when this user made the link (here: we did).
        open_append(&link, 0o640).unwrap().write_all(b"!").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "secret!");
        // A FIFO is not a pid file.
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(open_regular(&fifo, 0o644).is_err());
    }
}
