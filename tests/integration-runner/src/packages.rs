//! EXPECT_PHP_PACKAGES (tests/integration/README.md §2): the packages the
//! agent reported (`update_loaded_modules`) against what a command says is
//! installed.
//!
//! Configuration lines: `command=` (run in the test's directory; its
//! output is composer-style JSON `{"installed":[{"name":…,"version":…}]}`
//! or wp-cli's `WordPress version: x`), then one of `expected_packages=a/b,
//! c/d`, `supported_packages=<json file of names>` or `expect_all`, and
//! optionally `package_name_only=` (packages whose version the agent cannot
//! know). `null` means no package payload may be sent.

use serde_json::Value;
use std::path::Path;
use std::time::Duration;

use crate::process::{self, Spawn};

/// A (name, version) pair.
pub type Package = (String, String);

/// The reported packages of an `update_loaded_modules` payload, sorted.
pub fn reported(payload: &str) -> Result<Vec<Package>, String> {
    let v: Value = serde_json::from_str(payload).map_err(|e| format!("not JSON: {e}"))?;
    if v.get(0).and_then(Value::as_str) != Some("Jars") {
        return Err("expected [\"Jars\", [...]]".into());
    }
    let mut out = Vec::new();
    for p in v.get(1).and_then(Value::as_array).into_iter().flatten() {
        match (
            p.get(0).and_then(Value::as_str),
            p.get(1).and_then(Value::as_str),
        ) {
            (Some(n), Some(ver)) if p.as_array().is_some_and(|a| a.len() == 3) => {
                out.push((n.to_owned(), ver.to_owned()))
            }
            _ => return Err(format!("bad package entry {p}")),
        }
    }
    out.sort();
    Ok(out)
}

/// Packages in a command's output (composer JSON or wp-cli text); a
/// leading `v` of a version is dropped.
pub fn detected(output: &str) -> Vec<Package> {
    if let Ok(v) = serde_json::from_str::<Value>(output) {
        let list = v
            .get("installed")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        return list
            .iter()
            .filter_map(|p| {
                let name = p.get("name")?.as_str()?;
                let version = p.get("version")?.as_str()?;
                Some((
                    name.to_owned(),
                    version.strip_prefix('v').unwrap_or(version).to_owned(),
                ))
            })
            .collect();
    }
    output
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("wordpress version"))
        .map(|(_, v)| vec![("wordpress".to_owned(), v.trim().to_owned())])
        .unwrap_or_default()
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Compares expected and reported packages by name, then version (names in
/// `name_only` are compared by name only).
pub fn diff(expected: &[Package], reported: &[Package], name_only: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (n, v) in expected {
        match reported.iter().find(|(rn, _)| rn == n) {
            None => out.push(format!("package {n} {v} was not reported")),
            Some((_, rv)) if !name_only.contains(n) && rv != v => out.push(format!(
                "package {n}: expected version {v:?}, reported {rv:?}"
            )),
            Some(_) => {}
        }
    }
    for (n, v) in reported {
        if !expected.iter().any(|(en, _)| en == n) {
            out.push(format!("package {n} {v} reported but not expected"));
        }
    }
    out
}

/// Checks the configuration `cfg` for the test at `test_path` against the
/// `update_loaded_modules` payload; returns failure reasons.
pub fn check(cfg: &str, test_path: &Path, payload: Option<&str>) -> Vec<String> {
    if cfg.trim() == "null" {
        return match payload {
            Some(p) => vec![format!("expected no package payload, got {p}")],
            None => Vec::new(),
        };
    }
    let mut command = None;
    let mut wanted: Option<Vec<String>> = None;
    let mut expect_all = false;
    let mut name_only = Vec::new();
    let dir = test_path.parent().unwrap_or(Path::new("."));
    for line in cfg.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        match k.trim() {
            "command" => command = Some(v.trim().to_owned()),
            "expected_packages" => wanted = Some(list(v)),
            "supported_packages" => {
                let file = dir.join(v.trim());
                let parsed = std::fs::read_to_string(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|t| {
                        serde_json::from_str::<Vec<String>>(&t).map_err(|e| e.to_string())
                    });
                match parsed {
                    Ok(names) => wanted = Some(names),
                    Err(e) => return vec![format!("supported_packages {}: {e}", file.display())],
                }
            }
            "expect_all" => expect_all = true,
            "package_name_only" => name_only = list(v),
            "override_versions_file" => {}
            other => return vec![format!("unknown EXPECT_PHP_PACKAGES key {other:?}")],
        }
    }
    let Some(payload) = payload else {
        return vec!["no update_loaded_modules payload received".into()];
    };
    let reported = match reported(payload) {
        Ok(r) => r,
        Err(e) => return vec![format!("update_loaded_modules: {e}")],
    };
    let mut expected: Vec<Package> = match &command {
        Some(cmd) => {
            let mut parts = cmd.split_whitespace();
            let Some(program) = parts.next() else {
                return vec!["empty command".into()];
            };
            let spawn = Spawn {
                program: program.into(),
                args: parts.map(Into::into).collect(),
                env: std::env::vars().collect(),
                cwd: dir.to_path_buf(),
                merge_output: false,
                stdin: Vec::new(),
            };
            match process::run(&spawn, Duration::from_secs(120)) {
                Ok(f) => detected(&String::from_utf8_lossy(&f.stdout)),
                Err(e) => return vec![format!("cannot run {cmd}: {e}")],
            }
        }
        None => wanted
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|n| (n, String::new()))
            .collect(),
    };
    if command.is_none() {
        // Without a command only names can be checked.
        name_only.extend(expected.iter().map(|(n, _)| n.clone()));
    } else if !expect_all {
        let Some(wanted) = &wanted else {
            return vec![
                "EXPECT_PHP_PACKAGES needs expected_packages, supported_packages or expect_all"
                    .into(),
            ];
        };
        expected.retain(|(n, _)| wanted.contains(n));
    }
    expected.sort();
    diff(&expected, &reported, &name_only)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_payload_and_composer_output() {
        assert_eq!(
            reported(r#"["Jars",[["b/b","2.0",{}],["a/a","1.0",{}]]]"#).unwrap(),
            vec![("a/a".into(), "1.0".into()), ("b/b".into(), "2.0".into())]
        );
        assert!(reported(r#"["Nope",[]]"#).is_err());
        assert!(reported(r#"["Jars",[["a"]]]"#).is_err());
        assert_eq!(
            detected(
                r#"{"installed":[{"name":"monolog/monolog","version":"v3.1.0","description":"x"}]}"#
            ),
            vec![("monolog/monolog".into(), "3.1.0".into())]
        );
        assert_eq!(
            detected("WordPress version: 6.4\n"),
            vec![("wordpress".into(), "6.4".into())]
        );
        assert!(detected("nothing").is_empty());
    }

    #[test]
    fn diff_by_name_then_version() {
        let e = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ];
        let r = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), " ".to_owned()),
            ("c".to_owned(), "3".to_owned()),
        ];
        let d = diff(&e, &r, &[]);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(diff(&e, &r[..2], &["b".to_owned()]).is_empty());
    }

    #[test]
    fn null_and_expected_list() {
        let p = Path::new("/t/test.php");
        assert!(check("null", p, None).is_empty());
        assert_eq!(check("null", p, Some("[\"Jars\",[]]")).len(), 1);
        let payload = r#"["Jars",[["a/a","1.0",{}]]]"#;
        assert!(check("expected_packages=a/a", p, Some(payload)).is_empty());
        assert_eq!(
            check("expected_packages=a/a, b/b", p, Some(payload)).len(),
            1
        );
        assert_eq!(check("expected_packages=a/a", p, None).len(), 1);
    }

    #[test]
    fn command_output_filtered_by_the_expected_list() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("show.sh");
        std::fs::write(
            &script,
            "echo '{\"installed\":[{\"name\":\"a/a\",\"version\":\"v1.0\"},{\"name\":\"z/z\",\"version\":\"9\"}]}'\n",
        )
        .unwrap();
        let test = dir.path().join("test_p.php");
        let cfg = "command=sh show.sh\nexpected_packages=a/a\n";
        assert!(check(cfg, &test, Some(r#"["Jars",[["a/a","1.0",{}]]]"#)).is_empty());
        let f = check(cfg, &test, Some(r#"["Jars",[["a/a","1.1",{}]]]"#));
        assert_eq!(f.len(), 1, "{f:?}");
        let all = check(
            "command=sh show.sh\nexpect_all\n",
            &test,
            Some(r#"["Jars",[["a/a","1.0",{}]]]"#),
        );
        assert_eq!(all.len(), 1, "z/z is missing: {all:?}");
    }
}
