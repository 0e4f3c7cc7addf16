//! `ENV[NAME]` substitution in expectations, and the
//! `NR_EXPECT_ENV_VAR[NAME]=value` lines a test prints to publish values
//! for it (tests/integration/README.md §3.3).

use regex::Regex;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The variables an expectation may refer to: the test's environment
/// (runner environment, ENVIRONMENT, values captured from the output),
/// falling back to the process environment.
#[derive(Debug, Clone, Default)]
pub struct EnvLookup {
    vars: BTreeMap<String, String>,
}

impl EnvLookup {
    /// A lookup over `vars` (later entries win).
    pub fn new<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        EnvLookup {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Adds or replaces a variable.
    pub fn set(&mut self, key: &str, value: &str) {
        self.vars.insert(key.to_owned(), value.to_owned());
    }

    /// The value of `name`; missing → empty.
    pub fn get(&self, name: &str) -> String {
        self.vars
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .unwrap_or_default()
    }

    /// Replaces every `ENV[NAME]` (shortest match) in `text`.
    pub fn substitute(&self, text: &str) -> String {
        static RE: OnceLock<Regex> = OnceLock::new();
        let re = RE.get_or_init(|| Regex::new(r"ENV\[(.*?)\]").expect("static regex"));
        re.replace_all(text, |c: &regex::Captures<'_>| self.get(&c[1]))
            .into_owned()
    }
}

/// Splits `NR_EXPECT_ENV_VAR[NAME]=value` lines out of a test's output:
/// returns the output without them and the captured `(NAME, value)` pairs.
pub fn capture_expect_vars(output: &str) -> (String, Vec<(String, String)>) {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^\s*NR_EXPECT_ENV_VAR\[([^\]]*)\]=(.*?)\r?$").expect("static regex")
    });
    let mut kept = String::with_capacity(output.len());
    let mut vars = Vec::new();
    for line in output.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        match re.captures(body) {
            Some(c) => vars.push((c[1].to_owned(), c[2].to_owned())),
            None => kept.push_str(line),
        }
    }
    (kept, vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_from_test_env_then_process_env() {
        let mut env = EnvLookup::new([("A", "1"), ("HOST", "127.0.0.1:80")]);
        env.set("A", "2");
        assert_eq!(
            env.substitute(r#"["ENV[A]","http://ENV[HOST]/x","ENV[SERAPH_SURELY_UNSET_VAR]"]"#),
            r#"["2","http://127.0.0.1:80/x",""]"#
        );
        // Shortest match: two references on one line stay separate.
        assert_eq!(env.substitute("ENV[A]/ENV[A]"), "2/2");
        // The process environment is the fallback.
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(env.substitute("ENV[PATH]"), path);
    }

    #[test]
    fn captures_and_removes_expect_var_lines() {
        let (out, vars) = capture_expect_vars(
            "ok 1\nNR_EXPECT_ENV_VAR[GUID_ROOT]=abc123\nok 2\n  NR_EXPECT_ENV_VAR[E]=\r\nlast",
        );
        assert_eq!(out, "ok 1\nok 2\nlast");
        assert_eq!(
            vars,
            vec![
                ("GUID_ROOT".to_owned(), "abc123".to_owned()),
                ("E".to_owned(), String::new())
            ]
        );
        let (out, vars) = capture_expect_vars("x NR_EXPECT_ENV_VAR[A]=1\n");
        assert_eq!(out, "x NR_EXPECT_ENV_VAR[A]=1\n");
        assert!(vars.is_empty());
    }
}
