//! The Docker container id, from the cgroup of this process (cgroup v1:
//! the `cpu` controller's path; cgroup v2: the container directory that
//! Docker bind-mounts files from).

use std::path::Path;

use serde::Serialize;

/// `vendors.docker`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Docker {
    /// The 64-hex-digit container id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The last 64-hex-digit run in `path` that is not part of a longer run.
fn last_hex_id(path: &str) -> Option<&str> {
    let b = path.as_bytes();
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let mut found = None;
    let mut i = 0;
    while i < b.len() {
        if !hex(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && hex(b[i]) {
            i += 1;
        }
        if i - start == 64 {
            found = Some(&path[start..i]);
        }
    }
    found
}

/// The id in a cgroup v1 `/proc/self/cgroup`: the path of the line whose
/// controllers include `cpu` (`4:cpu,cpuacct:/docker/<id>`,
/// `…:/system.slice/docker-<id>.scope`, `…:/kubepods/…/<id>`).
pub fn docker_id_from_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut cols = line.splitn(3, ':');
        let _hierarchy = cols.next()?;
        let controllers = cols.next()?;
        let path = cols.next()?;
        if !controllers.split(',').any(|c| c == "cpu") {
            return None;
        }
        last_hex_id(path).map(str::to_owned)
    })
}

/// The id in a cgroup v2 `/proc/self/mountinfo`: Docker bind-mounts
/// `/etc/hostname` and friends from `…/docker/containers/<id>/`.
pub fn docker_id_from_mountinfo(text: &str) -> Option<String> {
    const MARK: &str = "/docker/containers/";
    text.lines().find_map(|line| {
        let at = line.find(MARK)? + MARK.len();
        let rest = &line[at..];
        let id = rest.get(..64)?;
        (is_hex_id(id) && rest[64..].starts_with('/')).then(|| id.to_owned())
    })
}

/// Looks in `<proc>/self/cgroup`, then `<proc>/self/mountinfo`.
pub(super) fn detect(proc_root: &Path) -> Option<Docker> {
    let read = |f: &str| std::fs::read_to_string(proc_root.join("self").join(f)).ok();
    let id = read("cgroup")
        .as_deref()
        .and_then(docker_id_from_cgroup)
        .or_else(|| {
            read("mountinfo")
                .as_deref()
                .and_then(docker_id_from_mountinfo)
        })?;
    Some(Docker { id })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "47cbd16b77c50cbf71401c069cd2189f0e659af17d5a2daca3bddf59d8a870b2";

    #[test]
    fn cgroup_v1_forms() {
        for path in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/kubepods/besteffort/pod1f1a2b3c/{ID}"),
            format!("/ecs/6a2b-44c1/{ID}"),
        ] {
            let text = format!("11:memory:/x\n4:cpuacct,cpu:{path}\n1:name=systemd:/\n");
            assert_eq!(docker_id_from_cgroup(&text).as_deref(), Some(ID), "{path}");
        }
        // Only the cpu controller counts.
        assert_eq!(
            docker_id_from_cgroup(&format!("3:memory:/docker/{ID}\n")),
            None
        );
        // 63 or 65 hex digits are not an id; uppercase neither.
        let short = &ID[1..];
        assert_eq!(
            docker_id_from_cgroup(&format!("4:cpu:/docker/{short}\n")),
            None
        );
        assert_eq!(
            docker_id_from_cgroup(&format!("4:cpu:/docker/{ID}a\n")),
            None
        );
        assert_eq!(
            docker_id_from_cgroup(&format!("4:cpu:/docker/{}\n", ID.to_uppercase())),
            None
        );
        assert_eq!(docker_id_from_cgroup("0::/\n"), None);
        assert_eq!(docker_id_from_cgroup(""), None);
    }

    #[test]
    fn cgroup_v2_mountinfo() {
        let text = format!(
            "612 580 0:52 / / rw,relatime master:298 - overlay overlay rw\n\
             630 612 254:1 /var/lib/docker/containers/{ID}/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda1 rw\n\
             631 612 254:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n"
        );
        assert_eq!(docker_id_from_mountinfo(&text).as_deref(), Some(ID));
        assert_eq!(
            docker_id_from_mountinfo("612 580 0:52 / / rw - overlay overlay rw\n"),
            None
        );
        assert_eq!(
            docker_id_from_mountinfo("1 2 3 /docker/containers/abc/hostname /etc/hostname\n"),
            None
        );
    }
}
