//! Real applications built from Debian 12's packages, each set up once per
//! test binary (on first use) from the files in `tests/apps/<app>/` and
//! served by nginx + php-fpm with the extension, reporting to the
//! binary's collector stand-in through the real daemon (`crate::monitor`).
//! A package that is not installed or a set-up step that fails panics
//! with the reason.

pub mod laravel;
pub mod mediawiki;
pub mod slim;
pub mod symfony;
pub mod wordpress;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/apps/<name>`: the application's set-up files.
pub fn files(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("apps")
        .join(name)
}

/// Runs a set-up command, panicking with its output when it fails.
pub fn run(what: &str, cmd: &mut Command) -> String {
    match crate::services::process::run(what, cmd) {
        Ok(out) => out,
        Err(e) => panic!("setting up the test application: {e}"),
    }
}

/// Copies a tree (`cp -a`), for applications whose code is changed or
/// completed in place.
pub fn copy_tree(from: &Path, to: &Path) {
    run("cp", Command::new("cp").arg("-a").arg(from).arg(to));
}

/// Fails unless a Debian package's file is there.
pub fn require(path: &str, package: &str) {
    if let Err(e) = crate::services::process::require_binary(path, package) {
        panic!("{e}");
    }
}
