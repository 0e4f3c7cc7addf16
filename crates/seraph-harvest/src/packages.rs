//! Detected PHP packages, reported through `update_loaded_modules`
//! (protocol.md §3.6).
//!
//! The agent sends `[["name","version",{}],…]` with transactions. Each
//! distinct text is stored raw (no parsing on the transaction path) and only
//! parsed when the default data is taken; packages already handed out during
//! this application run are filtered out then, and marked as sent before the
//! post so a failed post does not resend them (Go daemon behaviour).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// One package: name and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhpPackage {
    /// Package name, e.g. `laravel/framework`.
    pub name: String,
    /// Version string.
    pub version: String,
}

/// Package reports received and packages already sent during this run.
#[derive(Debug, Clone, Default)]
pub struct PhpPackages {
    pending: Vec<Box<str>>,
    pending_set: HashSet<Box<str>>,
    /// name → versions already handed out for sending.
    sent: HashMap<Box<str>, HashSet<Box<str>>>,
}

impl PhpPackages {
    /// No packages seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one report's raw JSON; identical reports are stored once.
    pub fn add_raw(&mut self, json: &str) {
        if json.is_empty() || self.pending_set.contains(json) {
            return;
        }
        self.pending.push(json.into());
        self.pending_set.insert(json.into());
    }

    /// True when a report arrived since the last [`PhpPackages::take_new`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Parses the pending reports and returns the packages not handed out
    /// before in this run, marking them sent. Within a report, parsing stops
    /// at the first malformed entry (entries before it count), as in Go.
    pub fn take_new(&mut self) -> Vec<PhpPackage> {
        self.pending_set.clear();
        let mut out = Vec::new();
        for raw in std::mem::take(&mut self.pending) {
            let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&raw) else {
                tracing::debug!("ignoring malformed php packages JSON");
                continue;
            };
            for item in &items {
                let Some((name, version)) = parse_package(item) else {
                    tracing::debug!("malformed php package entry");
                    break;
                };
                let versions = match self.sent.get_mut(name) {
                    Some(v) => v,
                    None => self.sent.entry(name.into()).or_default(),
                };
                if versions.insert(version.into()) {
                    out.push(PhpPackage {
                        name: name.to_owned(),
                        version: version.to_owned(),
                    });
                }
            }
        }
        out
    }
}

fn parse_package(item: &Value) -> Option<(&str, &str)> {
    let Value::Array(fields) = item else {
        return None;
    };
    if fields.len() != 3 {
        return None;
    }
    let name = fields[0].as_str().filter(|s| !s.is_empty())?;
    let version = fields[1].as_str().filter(|s| !s.is_empty())?;
    Some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &[PhpPackage]) -> Vec<(&str, &str)> {
        p.iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect()
    }

    #[test]
    fn only_new_packages_are_returned() {
        let mut p = PhpPackages::new();
        p.add_raw(r#"[["a","1.0",{}],["b","2.0",{}]]"#);
        p.add_raw(r#"[["a","1.0",{}],["b","2.0",{}]]"#);
        p.add_raw(r#"[["a","1.0",{}],["c","3.0",{}]]"#);
        assert_eq!(
            names(&p.take_new()),
            vec![("a", "1.0"), ("b", "2.0"), ("c", "3.0")]
        );
        assert!(!p.has_pending());
        p.add_raw(r#"[["a","1.0",{}],["a","1.1",{}]]"#);
        assert_eq!(names(&p.take_new()), vec![("a", "1.1")]);
        p.add_raw(r#"[["a","1.0",{}]]"#);
        assert!(p.take_new().is_empty());
    }

    #[test]
    fn malformed_entries_stop_that_report() {
        let mut p = PhpPackages::new();
        p.add_raw(r#"[["a","1",{}],["b",""],["c","3",{}]]"#);
        p.add_raw("not json");
        p.add_raw(r#"{"x":1}"#);
        p.add_raw(r#"[["d","4",{}]]"#);
        assert_eq!(names(&p.take_new()), vec![("a", "1"), ("d", "4")]);
    }
}
