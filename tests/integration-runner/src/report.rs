//! The TAP-like report: one line per test (`pass -`, `skip -`, `warn -`,
//! `xfail -`, `FAIL -` followed by what failed), then the totals.
//!
//! Totals: `N passed, N failed, N skipped` is always the last line. An
//! expected failure (`xfail`) does not fail the run and is counted as
//! passed; the line before the totals says how many of the passed were
//! xfail. A warning counts as skipped, or as failed with `--warnisfail`.

use crate::compare::{indent, Failure};

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation met.
    Pass,
    /// At least one expectation unmet (or the test could not run).
    Fail,
    /// SKIPIF or the output said so.
    Skip(String),
    /// `warn:` from SKIPIF or the output.
    Warn(String),
    /// Failed, but declared XFAIL (reason).
    XFail(String),
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// Its outcome.
    pub outcome: Outcome,
    /// What failed (also kept for xfail, to show what still fails).
    pub failures: Vec<Failure>,
    /// The command that ran.
    pub command: String,
    /// php-cgi's stderr (web tests).
    pub stderr: String,
}

/// All results.
#[derive(Debug, Clone)]
pub struct Report {
    /// Per test, in test order.
    pub results: Vec<TestResult>,
    warn_is_fail: bool,
}

/// Counts of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Passed, xfail included.
    pub passed: usize,
    /// Failed (warnings too with `--warnisfail`).
    pub failed: usize,
    /// Skipped (warnings too without `--warnisfail`).
    pub skipped: usize,
    /// Of the passed, how many were expected failures.
    pub xfail: usize,
    /// Warnings.
    pub warned: usize,
}

impl Report {
    /// A report over `results`.
    pub fn new(results: Vec<TestResult>, warn_is_fail: bool) -> Self {
        Report {
            results,
            warn_is_fail,
        }
    }

    /// The counts.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for r in &self.results {
            match &r.outcome {
                Outcome::Pass => t.passed += 1,
                Outcome::XFail(_) => {
                    t.passed += 1;
                    t.xfail += 1;
                }
                Outcome::Fail => t.failed += 1,
                Outcome::Skip(_) => t.skipped += 1,
                Outcome::Warn(_) => {
                    t.warned += 1;
                    if self.warn_is_fail {
                        t.failed += 1;
                    } else {
                        t.skipped += 1;
                    }
                }
            }
        }
        t
    }

    /// Process exit status: 1 on any failure, 2 on warnings with
    /// `--warnisfail` and no failure, else 0.
    pub fn exit_code(&self) -> i32 {
        let t = self.totals();
        let real_failures = self
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .count();
        if real_failures > 0 {
            1
        } else if self.warn_is_fail && t.warned > 0 {
            2
        } else {
            0
        }
    }

    /// The whole report text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for r in &self.results {
            match &r.outcome {
                Outcome::Pass => s.push_str(&format!("pass - {}\n", r.name)),
                Outcome::Skip(why) => s.push_str(&format!("skip - {} - {}\n", r.name, why)),
                Outcome::Warn(why) => s.push_str(&format!("warn - {} - {}\n", r.name, why)),
                Outcome::XFail(why) => s.push_str(&format!("xfail - {} - {}\n", r.name, why)),
                Outcome::Fail => {
                    s.push_str(&format!("FAIL - {}\n", r.name));
                    for f in &r.failures {
                        s.push_str(&indent(&f.to_string(), 4));
                        s.push('\n');
                    }
                    if !r.command.is_empty() {
                        s.push_str(&format!("    command: {}\n", r.command));
                    }
                    if !r.stderr.trim().is_empty() {
                        s.push_str(&format!("    stderr:\n{}\n", indent(r.stderr.trim(), 6)));
                    }
                }
            }
        }
        let t = self.totals();
        if t.xfail > 0 {
            s.push_str(&format!("{} xfail (counted as passed)\n", t.xfail));
        }
        s.push_str(&format!(
            "{} passed, {} failed, {} skipped\n",
            t.passed, t.failed, t.skipped
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, outcome: Outcome) -> TestResult {
        TestResult {
            name: name.into(),
            outcome,
            failures: vec![Failure {
                what: "metric_data".into(),
                reason: "at $[0]: expected 1, got 2".into(),
                expected: Some("[1]".into()),
                actual: Some("[2]".into()),
            }],
            command: "php -n -f t.php".into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn renders_lines_and_totals() {
        let rep = Report::new(
            vec![
                r("a", Outcome::Pass),
                r("b", Outcome::Fail),
                r("c", Outcome::Skip("skip: no db".into())),
                r("d", Outcome::XFail("not yet".into())),
            ],
            false,
        );
        let text = rep.render();
        assert_eq!(
            text,
            "pass - a\nFAIL - b\n    metric_data: at $[0]: expected 1, got 2\n      expected:\n        [1]\n      actual:\n        [2]\n    command: php -n -f t.php\nskip - c - skip: no db\nxfail - d - not yet\n1 xfail (counted as passed)\n2 passed, 1 failed, 1 skipped\n"
        );
        assert_eq!(rep.exit_code(), 1);
    }

    #[test]
    fn exit_codes() {
        let ok = Report::new(
            vec![r("a", Outcome::Pass), r("x", Outcome::XFail("y".into()))],
            false,
        );
        assert_eq!(ok.exit_code(), 0);
        assert!(ok.render().ends_with("2 passed, 0 failed, 0 skipped\n"));
        let warn = Report::new(vec![r("w", Outcome::Warn("warn: x".into()))], true);
        assert_eq!(warn.exit_code(), 2);
        assert_eq!(warn.totals().failed, 1);
        let warn = Report::new(vec![r("w", Outcome::Warn("warn: x".into()))], false);
        assert_eq!(warn.exit_code(), 0);
        assert_eq!(warn.totals().skipped, 1);
    }
}
