//! The frames New Relic's PHP agent 12.9 sent, from `tests/vectors`.

use crate::vectors_dir;
use seraph_wire::frame::PREAMBLE_LEN;
use std::path::PathBuf;

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Scenario path relative to the vectors directory, e.g. `03-cli-error/a-uncaught`.
    pub scenario: String,
    /// File name, e.g. `002-Transaction.bin`.
    pub file: String,
    /// The whole frame, preamble included.
    pub frame: Vec<u8>,
}

impl Captured {
    /// The body without the preamble.
    pub fn body(&self) -> &[u8] {
        &self.frame[PREAMBLE_LEN..]
    }

    /// True for Transaction frames.
    pub fn is_transaction(&self) -> bool {
        self.file.ends_with("-Transaction.bin")
    }
}

/// The vectors directory.
pub fn dir() -> PathBuf {
    vectors_dir()
}

/// Every captured frame, sorted by scenario and file name.
pub fn all() -> Vec<Captured> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<Captured>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(base, &path, out);
            } else if path.extension().is_some_and(|e| e == "bin") {
                let scenario = path
                    .parent()
                    .unwrap()
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push(Captured {
                    scenario,
                    file: path.file_name().unwrap().to_string_lossy().into_owned(),
                    frame: std::fs::read(&path).unwrap(),
                });
            }
        }
    }
    let base = dir();
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out
}

/// The captured Transaction frames only.
pub fn transactions() -> Vec<Captured> {
    all().into_iter().filter(Captured::is_transaction).collect()
}
