//! The fuzzy JSON match of expected against actual payloads
//! (tests/integration/README.md §3.1).
//!
//! * a string starting with `??` on either side matches anything;
//! * a string starting and ending with `/` is a regular expression matched,
//!   unanchored, against the other side's string (from either side);
//! * otherwise types must agree: numbers compare as `f64`, arrays by length
//!   then element by element, objects by exact key set then value.
//!
//! A mismatch reports the first differing path so a failure is readable.

use serde_json::Value;
use std::fmt;

/// Where and why expected and actual differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// JSON path of the first difference, e.g. `$[3][0].name`.
    pub path: String,
    /// What was wrong there.
    pub reason: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.reason)
    }
}

/// True for the wildcard `??` (with an optional comment after it).
fn is_wildcard(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.starts_with("??"))
}

/// The pattern of a `/regex/` string.
fn as_pattern(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if s.len() >= 2 && s.starts_with('/') && s.ends_with('/') => {
            Some(&s[1..s.len() - 1])
        }
        _ => None,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Short rendering of a value for a mismatch reason.
pub fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Matches `expected` against `actual`.
pub fn fuzzy_match(expected: &Value, actual: &Value) -> Result<(), Mismatch> {
    let mut path = String::from("$");
    walk(expected, actual, &mut path)
}

fn regex_match(pattern: &str, other: &Value, path: &str) -> Result<(), Mismatch> {
    let fail = |reason: String| {
        Err(Mismatch {
            path: path.to_owned(),
            reason,
        })
    };
    let Value::String(text) = other else {
        return fail(format!(
            "pattern /{pattern}/ cannot match a {}: {}",
            type_name(other),
            brief(other)
        ));
    };
    match regex::Regex::new(pattern) {
        Ok(re) if re.is_match(text) => Ok(()),
        Ok(_) => fail(format!("{text:?} does not match /{pattern}/")),
        Err(e) => fail(format!("invalid pattern /{pattern}/: {e}")),
    }
}

fn walk(expected: &Value, actual: &Value, path: &mut String) -> Result<(), Mismatch> {
    if is_wildcard(expected) || is_wildcard(actual) {
        return Ok(());
    }
    if let Some(p) = as_pattern(expected) {
        return regex_match(p, actual, path);
    }
    if let Some(p) = as_pattern(actual) {
        return regex_match(p, expected, path);
    }
    let differ = |path: &str, reason: String| {
        Err(Mismatch {
            path: path.to_owned(),
            reason,
        })
    };
    match (expected, actual) {
        (Value::Null, Value::Null) => Ok(()),
        (Value::Bool(a), Value::Bool(b)) if a == b => Ok(()),
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (Value::String(a), Value::String(b)) if a == b => Ok(()),
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return differ(
                    path,
                    format!("expected an array of {} elements, got {}", a.len(), b.len()),
                );
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(x, y, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::Object(a), Value::Object(b)) => {
            let missing: Vec<&str> = a
                .keys()
                .filter(|k| !b.contains_key(*k))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = b
                .keys()
                .filter(|k| !a.contains_key(*k))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() || !extra.is_empty() {
                let mut reason = String::from("key sets differ:");
                if !missing.is_empty() {
                    reason.push_str(&format!(" missing {missing:?}"));
                }
                if !extra.is_empty() {
                    reason.push_str(&format!(" unexpected {extra:?}"));
                }
                return differ(path, reason);
            }
            for (k, x) in a {
                let len = path.len();
                if k.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) && !k.is_empty() {
                    path.push('.');
                    path.push_str(k);
                } else {
                    path.push_str(&format!("[{k:?}]"));
                }
                walk(x, &b[k], path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => differ(
            path,
            format!("expected {}, got {}", brief(expected), brief(actual)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(e: Value, a: Value) -> Result<(), Mismatch> {
        fuzzy_match(&e, &a)
    }

    #[test]
    fn wildcards_match_anything_from_either_side() {
        assert!(m(json!("??"), json!({"a": [1, 2]})).is_ok());
        assert!(m(json!("?? agent run id"), json!(null)).is_ok());
        assert!(m(json!([1, {"x": 2}]), json!("?? anything")).is_ok());
        assert!(m(json!(["??", 2]), json!([[1, 2, 3], 2])).is_ok());
        assert!(m(json!("?"), json!("x")).is_err());
    }

    #[test]
    fn numbers_compare_as_f64() {
        assert!(m(json!(1), json!(1.0)).is_ok());
        assert!(m(
            json!([3, 7.0, 7.0, 1.0, 4.0, 21.0]),
            json!([3.0, 7, 7, 1, 4, 21])
        )
        .is_ok());
        assert!(m(json!(1), json!(1.5)).is_err());
        assert!(m(json!(1), json!("1")).is_err());
        assert!(m(json!(true), json!(1)).is_err());
    }

    #[test]
    fn regex_from_either_side() {
        assert!(m(
            json!("/^Uncaught exception 'E'/"),
            json!("Uncaught exception 'E' in x")
        )
        .is_ok());
        assert!(m(json!("hello world"), json!("/wor/")).is_ok());
        assert!(m(json!("/wor/"), json!("planet")).is_err());
        let err = m(json!("/x/"), json!(3)).unwrap_err();
        assert!(err.reason.contains("cannot match a number"));
        // A lone slash is not a pattern.
        assert!(m(json!("/"), json!("/")).is_ok());
        assert!(m(json!("/"), json!("x")).is_err());
        assert!(m(json!("/(/"), json!("("))
            .unwrap_err()
            .reason
            .contains("invalid pattern"));
    }

    #[test]
    fn objects_need_exact_key_sets() {
        assert!(m(json!({"a": 1, "b": "??"}), json!({"b": [], "a": 1.0})).is_ok());
        let err = m(json!({"a": 1}), json!({"a": 1, "b": 2})).unwrap_err();
        assert_eq!(err.path, "$");
        assert!(err.reason.contains("unexpected [\"b\"]"));
        let err = m(json!({"a": 1, "c": 1}), json!({"a": 1})).unwrap_err();
        assert!(err.reason.contains("missing [\"c\"]"));
    }

    #[test]
    fn arrays_are_ordered_and_sized() {
        assert!(m(json!([1, 2]), json!([2, 1])).is_err());
        let err = m(json!([1, 2]), json!([1, 2, 3])).unwrap_err();
        assert!(err.reason.contains("2 elements, got 3"));
    }

    #[test]
    fn reports_the_first_differing_path() {
        let e = json!(["??", {"events_seen": 1}, [[{"name": "a", "x.y": 1}, {}, {}]]]);
        let a = json!(["r", {"events_seen": 1}, [[{"name": "a", "x.y": 2}, {}, {}]]]);
        let err = m(e, a).unwrap_err();
        assert_eq!(err.path, "$[2][0][0][\"x.y\"]");
        assert_eq!(err.reason, "expected 1, got 2");
        assert_eq!(err.to_string(), "at $[2][0][0][\"x.y\"]: expected 1, got 2");
        let err = m(json!({"name": "a"}), json!({"name": "b"})).unwrap_err();
        assert_eq!(err.path, "$.name");
    }

    #[test]
    fn null_and_types() {
        assert!(m(json!(null), json!(null)).is_ok());
        assert!(m(json!(null), json!({})).is_err());
        assert!(m(json!({}), json!([])).is_err());
    }
}
