//! Metric-table rules: the EXPECT_METRICS scrub list and ordering (§3.4)
//! and the EXPECT_METRICS_EXIST / DONT_EXIST lookups (§3.5).

use regex::Regex;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

use crate::envsub::EnvLookup;

/// Metrics a test may or may not see: CPU, memory, versions, locale,
/// instrumented functions and the daemon's TxnData counters.
fn scrub_list() -> &'static [Regex] {
    static LIST: OnceLock<Vec<Regex>> = OnceLock::new();
    LIST.get_or_init(|| {
        [
            "CPU/User Time",
            "CPU/User/Utilization",
            "Memory/Physical",
            "Memory/RSS",
            "Supportability/execute/user/call_count",
            "Supportability/execute/allocated_segment_count",
            "^Supportability/Locale",
            "^Supportability/InstrumentedFunction",
            "^Supportability/TxnData/",
            "^Supportability/C/NewrelicVersion/",
            "^Supportability/PHP/Version/",
            "^Supportability/PHP/AgentVersion/",
        ]
        .iter()
        .map(|re| Regex::new(re).expect("static metric scrub regex"))
        .collect()
    })
}

/// True for a metric EXPECT_METRICS ignores on both sides.
pub fn is_scrubbed(name: &str) -> bool {
    scrub_list().iter().any(|re| re.is_match(name))
}

/// Why a metric payload has the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metric payload: {0}")]
pub struct ShapeError(pub String);

fn entry_name(entry: &Value) -> Option<(&str, &str)> {
    let head = entry.get(0)?;
    let name = head.get("name")?.as_str()?;
    let scope = head.get("scope").and_then(Value::as_str).unwrap_or("");
    Some((scope, name))
}

/// Reduces a `metric_data` payload (`[run_id, start, stop, [entries]]`) to
/// its entries without scrubbed metrics, sorted by (scope, name) with
/// unscoped entries first.
pub fn order_scrub(payload: &Value) -> Result<Value, ShapeError> {
    let entries = payload
        .get(3)
        .and_then(Value::as_array)
        .ok_or_else(|| ShapeError("expected [run_id, start, stop, [metrics...]]".into()))?;
    let mut keyed = Vec::with_capacity(entries.len());
    for entry in entries {
        let (scope, name) = entry_name(entry).ok_or_else(|| {
            ShapeError(format!(
                "entry {} is not [{{\"name\":..}}, [...]]",
                crate::fuzzy::brief(entry)
            ))
        })?;
        if !is_scrubbed(name) {
            keyed.push(((scope.to_owned(), name.to_owned()), entry.clone()));
        }
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Value::Array(keyed.into_iter().map(|(_, e)| e).collect()))
}

/// `(scope, name, count)` of every entry of a `metric_data` payload.
pub fn table(payload: &Value) -> Vec<(String, String, f64)> {
    payload
        .get(3)
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    let (scope, name) = entry_name(e)?;
                    let count = e.get(1)?.get(0)?.as_f64()?;
                    Some((scope.to_owned(), name.to_owned(), count))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// EXPECT_METRICS_EXIST over the (text-scrubbed) actual table: one name per
/// line, optional `, N` (exact count) or `, ??`; without a count the
/// metric must have been called at least once; `Apdex/…` names accept any
/// count. Only unscoped entries are looked up. Returns one message per
/// unmet line.
pub fn check_exist(block: &str, env: &EnvLookup, actual: &[(String, String, f64)]) -> Vec<String> {
    let block = env.substitute(block);
    let mut failures = Vec::new();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, count) = match line.rsplit_once(',') {
            Some((n, c)) => (n.trim(), Some(c.trim())),
            None => (line, None),
        };
        let found = actual.iter().find(|(s, n, _)| s.is_empty() && n == name);
        let Some((_, _, got)) = found else {
            failures.push(format!("metric {name:?} does not exist"));
            continue;
        };
        if name.starts_with("Apdex/") {
            continue;
        }
        match count {
            None | Some("??") if *got > 0.0 => {}
            None | Some("??") => {
                failures.push(format!("metric {name:?} has count {got}, want > 0"))
            }
            Some(c) => match c.parse::<f64>() {
                Ok(want) if want == *got => {}
                Ok(want) => failures.push(format!("metric {name:?} has count {got}, want {want}")),
                Err(_) => failures.push(format!("metric {name:?}: bad count {c:?}")),
            },
        }
    }
    failures
}

/// EXPECT_METRICS_DONT_EXIST over the raw (unscrubbed) table: each line is
/// an exact name (after `__FILE__` → the test's absolute path) that must not
/// appear with any scope. There is no count syntax: `Name, 1` is looked up
/// literally and so never found (New Relic's behaviour).
pub fn check_dont_exist(
    block: &str,
    env: &EnvLookup,
    test_path: &Path,
    actual: &[(String, String, f64)],
) -> Vec<String> {
    let block = env.substitute(block);
    let abs = test_path.to_string_lossy();
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            let name = line.replace("__FILE__", &abs);
            actual.iter().find(|(_, n, _)| *n == name).map(|(s, _, c)| {
                if s.is_empty() {
                    format!("metric {name:?} exists (count {c}) but should not")
                } else {
                    format!("metric {name:?} exists with scope {s:?} (count {c}) but should not")
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env() -> EnvLookup {
        EnvLookup::new([("P", "SQLite")])
    }

    #[test]
    fn order_scrub_sorts_unscoped_first_and_drops_noise() {
        let payload = json!(["run", 1, 2, [
            [{"name": "b", "scope": "OtherTransaction/x"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "CPU/User Time"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "z"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "Supportability/TxnData/Size"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "Supportability/PHP/Version/8.2.36"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "a", "scope": "OtherTransaction/x"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "Memory/RSS"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "a"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "X/Supportability/Locale"}, [1, 0, 0, 0, 0, 0]]
        ]]);
        let names: Vec<String> = order_scrub(&payload)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}@{}",
                    e[0]["name"].as_str().unwrap(),
                    e[0]["scope"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "X/Supportability/Locale@",
                "a@",
                "z@",
                "a@OtherTransaction/x",
                "b@OtherTransaction/x"
            ]
        );
        assert!(order_scrub(&json!([1, 2])).is_err());
        assert!(order_scrub(&json!([1, 2, 3, [[{"nom": 1}, []]]])).is_err());
    }

    fn actual() -> Vec<(String, String, f64)> {
        let payload = json!(["r", 0, 0, [
            [{"name": "Datastore/SQLite/all"}, [3, 0, 0, 0, 0, 0]],
            [{"name": "Errors/all"}, [0, 0, 0, 0, 0, 0]],
            [{"name": "Apdex/Uri__FILE__"}, [0, 1, 0, 0.5, 0.5, 0]],
            [{"name": "Custom/x", "scope": "OtherTransaction/php__FILE__"}, [1, 0, 0, 0, 0, 0]],
            [{"name": "OtherTransaction/php/t/test.php"}, [1, 0, 0, 0, 0, 0]]
        ]]);
        table(&payload)
    }

    #[test]
    fn exist_rules() {
        let a = actual();
        assert!(check_exist("Datastore/ENV[P]/all\nDatastore/SQLite/all, 3\n\nApdex/Uri__FILE__\nDatastore/SQLite/all, ??", &env(), &a).is_empty());
        let f = check_exist(
            "Datastore/SQLite/all, 2\nErrors/all\nCustom/x\nNope",
            &env(),
            &a,
        );
        assert_eq!(f.len(), 4, "{f:?}");
        assert!(f[0].contains("want 2"));
        assert!(f[1].contains("want > 0"));
        assert!(
            f[2].contains("does not exist"),
            "scoped lookups are not supported"
        );
    }

    #[test]
    fn dont_exist_rules() {
        let a = actual();
        let p = Path::new("/t/test.php");
        assert!(
            check_dont_exist("Errors/allWeb\nDatastore/SQLite/all, 1", &env(), p, &a).is_empty()
        );
        let f = check_dont_exist(
            "Custom/x\nOtherTransaction/php__FILE__\nDatastore/ENV[P]/all",
            &env(),
            p,
            &a,
        );
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f[0].contains("scope"));
    }
}
