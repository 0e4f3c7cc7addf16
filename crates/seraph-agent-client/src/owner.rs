//! Who may own the daemon's socket. The first message on a connection is
//! the App query, which carries the license key: before it goes out, the
//! user that created the listening socket (`SO_PEERCRED`) must be root,
//! this process's own user (a daemon this agent started), or the user
//! `newrelic.daemon.user` names. Any other local user could have bound the
//! address first (an abstract socket has no permissions at all) to collect
//! license keys.

use std::ffi::CString;

/// The users the daemon may run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    uids: Vec<u32>,
    /// The setting could not be resolved (kept for the refusal message).
    unresolved: Option<String>,
}

impl Trusted {
    /// Root, this process's effective user, and `configured` (a user name
    /// or a numeric uid; empty for none).
    pub fn new(configured: &str) -> Trusted {
        // SAFETY: geteuid cannot fail and has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let mut uids = vec![0, euid];
        let mut unresolved = None;
        let configured = configured.trim();
        if !configured.is_empty() {
            match resolve_user(configured) {
                Some(uid) => uids.push(uid),
                None => unresolved = Some(configured.to_owned()),
            }
        }
        Trusted { uids, unresolved }
    }

    /// Whether a socket created by `uid` may be trusted with the license.
    pub fn allows(&self, uid: u32) -> bool {
        self.uids.contains(&uid)
    }

    /// A setting that named no user, if any.
    pub fn unresolved(&self) -> Option<&str> {
        self.unresolved.as_deref()
    }
}

/// A uid from a number or a user name (`getpwnam_r`).
pub fn resolve_user(name: &str) -> Option<u32> {
    if let Ok(uid) = name.parse::<u32>() {
        return Some(uid);
    }
    let c_name = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 << 10];
    // SAFETY: passwd is plain data; zero is a valid value.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: a NUL-terminated name,
    // an output struct, a buffer of `buf.len()` bytes and a result slot.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(pwd.pw_uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_self_and_the_configured_user_are_trusted() {
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        let t = Trusted::new("");
        assert!(t.allows(0));
        assert!(t.allows(me));
        assert!(!t.allows(65534) || me == 65534);
        let t = Trusted::new("65534");
        assert!(t.allows(65534));
        assert_eq!(resolve_user("root"), Some(0));
        let t = Trusted::new("no-such-user-seraph");
        assert_eq!(t.unresolved(), Some("no-such-user-seraph"));
    }
}
