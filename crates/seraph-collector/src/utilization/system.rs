//! Facts about this host: CPUs, memory, names, addresses, boot id.

use std::ffi::{CStr, CString};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// The system host name (empty if it cannot be read).
pub(super) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// CPUs this process may run on (Go's `runtime.NumCPU`: the affinity mask).
pub(super) fn logical_processors() -> Option<u32> {
    use nix::sched::{sched_getaffinity, CpuSet};
    use nix::unistd::Pid;
    if let Ok(set) = sched_getaffinity(Pid::from_raw(0)) {
        let n = (0..CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count();
        if n > 0 {
            return u32::try_from(n).ok();
        }
    }
    std::thread::available_parallelism()
        .ok()
        .and_then(|n| u32::try_from(n.get()).ok())
}

/// `MemTotal` of `<proc>/meminfo`, in MiB.
pub(super) fn total_ram_mib(proc_root: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(proc_root.join("meminfo")).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    let bytes = match parts.next() {
        Some("kB") | Some("KB") | Some("kb") => value.checked_mul(1024)?,
        None => value,
        Some(_) => return None,
    };
    Some(bytes / (1024 * 1024))
}

/// `<proc>/sys/kernel/random/boot_id`: trimmed, ASCII only, at most 128
/// bytes (longer values are cut, non-ASCII ones dropped).
pub(super) fn boot_id(proc_root: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(proc_root.join("sys/kernel/random/boot_id")) else {
        return String::new();
    };
    let id = text.trim();
    if !id.is_ascii() {
        tracing::debug!("boot id is not ASCII; omitted");
        return String::new();
    }
    id[..id.len().min(128)].to_owned()
}

/// The interface that carries the IPv4 default route, from
/// `<proc>/net/route`.
fn default_route_interface(proc_root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(proc_root.join("net/route")).ok()?;
    text.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace();
        let iface = cols.next()?;
        (cols.next()? == "00000000").then(|| iface.to_owned())
    })
}

/// Addresses of the interface New Relic would pick: the one owning the
/// outbound address. New Relic's daemon finds it by "dialling" a UDP
/// socket to its collector; reading the routing table gives the same answer
/// without a DNS query. Without a default route, every non-loopback
/// address of every interface that is up.
pub(super) fn default_route_addresses(proc_root: &Path) -> Vec<String> {
    use nix::net::if_::InterfaceFlags;
    let wanted = default_route_interface(proc_root);
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ifa in addrs {
        if !ifa.flags.contains(InterfaceFlags::IFF_UP)
            || ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        {
            continue;
        }
        if wanted.as_deref().is_some_and(|w| w != ifa.interface_name) {
            continue;
        }
        let Some(addr) = ifa.address else { continue };
        let ip = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        if !ip.is_loopback() {
            out.push(ip.to_string());
        }
    }
    out
}

/// The host's canonical (fully qualified) name, as `hostname -f` finds it,
/// or empty. The resolver call runs on a blocking thread and is abandoned
/// after `deadline`.
pub(super) async fn full_hostname(hostname: &str, deadline: Duration) -> String {
    if hostname.is_empty() {
        return String::new();
    }
    let host = hostname.to_owned();
    let lookup = tokio::task::spawn_blocking(move || canonical_name(&host));
    match tokio::time::timeout(deadline, lookup).await {
        Ok(Ok(Some(name))) if name.contains('.') && name != "localhost" => name,
        _ => String::new(),
    }
}

/// `getaddrinfo(host, AI_CANONNAME)`'s canonical name.
fn canonical_name(host: &str) -> Option<String> {
    let c_host = CString::new(host).ok()?;
    let hints = libc::addrinfo {
        ai_flags: libc::AI_CANONNAME,
        ai_family: libc::AF_UNSPEC,
        ai_socktype: libc::SOCK_STREAM,
        ai_protocol: 0,
        ai_addrlen: 0,
        ai_addr: std::ptr::null_mut(),
        ai_canonname: std::ptr::null_mut(),
        ai_next: std::ptr::null_mut(),
    };
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `c_host` is a NUL-terminated string that outlives the call,
    // `hints` is a fully initialised addrinfo, and `res` is a valid out
    // pointer; the service argument may be NULL when the node is not.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 || res.is_null() {
        return None;
    }
    // SAFETY: getaddrinfo succeeded, so `res` points to a list it allocated;
    // with AI_CANONNAME the first entry's ai_canonname is NULL or a
    // NUL-terminated string owned by that list, copied before it is freed.
    let name = unsafe {
        let cn = (*res).ai_canonname;
        (!cn.is_null()).then(|| CStr::from_ptr(cn).to_string_lossy().into_owned())
    };
    // SAFETY: `res` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_boot_id_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(total_ram_mib(root), None);
        assert_eq!(boot_id(root), "");
        std::fs::write(
            root.join("meminfo"),
            "MemFree: 5 kB\nMemTotal: 2097152 kB\n",
        )
        .unwrap();
        assert_eq!(total_ram_mib(root), Some(2048));
        std::fs::write(root.join("meminfo"), "MemTotal: lots kB\n").unwrap();
        assert_eq!(total_ram_mib(root), None);
        std::fs::create_dir_all(root.join("sys/kernel/random")).unwrap();
        std::fs::write(root.join("sys/kernel/random/boot_id"), "x".repeat(200)).unwrap();
        assert_eq!(boot_id(root).len(), 128);
        std::fs::write(root.join("sys/kernel/random/boot_id"), "héllo").unwrap();
        assert_eq!(boot_id(root), "");
    }

    #[test]
    fn default_route_is_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net")).unwrap();
        std::fs::write(
            dir.path().join("net/route"),
            "Iface\tDestination\tGateway\tFlags\n\
             docker0\t000011AC\t00000000\t0001\n\
             eth0\t00000000\t0100000A\t0003\n",
        )
        .unwrap();
        assert_eq!(default_route_interface(dir.path()).as_deref(), Some("eth0"));
        // An interface that does not exist yields no addresses at all.
        std::fs::write(
            dir.path().join("net/route"),
            "Iface\tDestination\nnope0\t00000000\n",
        )
        .unwrap();
        assert!(default_route_addresses(dir.path()).is_empty());
    }

    #[test]
    fn host_facts() {
        assert!(logical_processors().unwrap() >= 1);
        assert!(!hostname().is_empty());
    }
}
