//! The Debian package (`packaging/build-deb.sh`): New Relic's paths, a
//! daemon that runs and an extension PHP loads, straight from the package.

use std::path::Path;
use std::process::Command;

#[test]
fn the_deb_installs_new_relics_paths_and_working_binaries() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let built = Command::new("bash")
        .arg(repo.join("packaging/build-deb.sh"))
        .args(["--profile", "debug", "--compression", "none", "--out"])
        .arg(out.path())
        .current_dir(&repo)
        .output()
        .expect("run build-deb.sh");
    assert!(
        built.status.success(),
        "build-deb.sh failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = String::from_utf8(built.stdout).unwrap().trim().to_owned();
    assert!(
        deb.ends_with("_amd64.deb") || deb.ends_with(".deb"),
        "{deb}"
    );

    let list = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let ext_dir = String::from_utf8(
        Command::new("php-config")
            .arg("--extension-dir")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for path in [
        "./usr/bin/newrelic-daemon",
        &format!(".{}/newrelic.so", ext_dir.trim()),
        "./usr/lib/systemd/system/newrelic-daemon.service",
        "./etc/newrelic/newrelic.cfg.template",
        "/mods-available/newrelic.ini",
        "./usr/share/doc/seraph/daemon.md",
    ] {
        assert!(
            list.contains(path),
            "{path} missing from the package:\n{list}"
        );
    }
    // The configuration itself is never shipped: its presence switches the
    // agent to daemonic mode.
    assert!(!list.contains("./etc/newrelic/newrelic.cfg\n"));

    let info = Command::new("dpkg-deb")
        .args(["-I", &deb])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Package: seraph"), "{info}");
    assert!(info.contains("Provides: newrelic-daemon"), "{info}");
    assert!(info.contains("phpapi-"), "{info}");

    let root = out.path().join("root");
    assert!(Command::new("dpkg-deb")
        .args(["-x", &deb])
        .arg(&root)
        .status()
        .unwrap()
        .success());
    let version = Command::new(root.join("usr/bin/newrelic-daemon"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains("seraph"));
    let so = root.join(format!(
        "{}/newrelic.so",
        ext_dir.trim().trim_start_matches('/')
    ));
    let modules = Command::new("php")
        .arg("-n")
        .arg("-d")
        .arg(format!("extension={}", so.display()))
        .args(["-d", "newrelic.daemon.dont_launch=3", "-m"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&modules.stdout)
            .lines()
            .any(|l| l == "newrelic"),
        "PHP does not load the packaged extension: {}",
        String::from_utf8_lossy(&modules.stderr)
    );
}
