//! Checking one test's output and harvest against its expectations
//! (tests/integration/README.md §2, §3).

use serde_json::Value;
use std::fmt;

use crate::envsub::EnvLookup;
use crate::fuzzy::{self, fuzzy_match};
use crate::metrics;
use crate::packages;
use crate::payloads::Payloads;
use crate::php::canonical_header;
use crate::scrub;
use crate::testfile::TestFile;

/// One unmet expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What was checked (`expect`, `metric_data`, …).
    pub what: String,
    /// Why it failed, one line.
    pub reason: String,
    /// Expected text (may be long), if useful.
    pub expected: Option<String>,
    /// Actual text (may be long), if useful.
    pub actual: Option<String>,
}

impl Failure {
    fn new(what: &str, reason: impl Into<String>) -> Self {
        Failure {
            what: what.to_owned(),
            reason: reason.into(),
            expected: None,
            actual: None,
        }
    }

    fn with(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)?;
        if let Some(e) = &self.expected {
            write!(f, "\n  expected:\n{}", indent(e, 4))?;
        }
        if let Some(a) = &self.actual {
            write!(f, "\n  actual:\n{}", indent(a, 4))?;
        }
        Ok(())
    }
}

/// Indents every line of `text` by `n` spaces.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Indented JSON where any array or object that fits in 100 columns stays
/// on one line, so metric tables read one metric per line.
pub fn pretty(v: &Value) -> String {
    let mut out = String::new();
    write_pretty(v, 0, &mut out);
    out
}

fn write_pretty(v: &Value, depth: usize, out: &mut String) {
    let compact = v.to_string();
    let children: Vec<(Option<&String>, &Value)> = match v {
        Value::Array(a) => a.iter().map(|x| (None, x)).collect(),
        Value::Object(o) => o.iter().map(|(k, x)| (Some(k), x)).collect(),
        _ => Vec::new(),
    };
    if children.is_empty() || depth * 2 + compact.len() <= 100 {
        out.push_str(&compact);
        return;
    }
    let (open, close) = if v.is_array() { ('[', ']') } else { ('{', '}') };
    out.push(open);
    for (i, (key, child)) in children.iter().enumerate() {
        out.push('\n');
        out.push_str(&"  ".repeat(depth + 1));
        if let Some(k) = key {
            out.push_str(&Value::String((*k).clone()).to_string());
            out.push_str(": ");
        }
        write_pretty(child, depth + 1, out);
        if i + 1 < children.len() {
            out.push(',');
        }
    }
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
    out.push(close);
}

/// What the run of a test produced, as comparison needs it.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    /// Output, `NR_EXPECT_ENV_VAR` lines removed.
    pub output: &'a str,
    /// The harvest, if anything was received.
    pub payloads: Option<&'a Payloads>,
    /// Response headers `/cat` callees sent during the test (`None`: not
    /// checked, as with more than one thread).
    pub response_headers: Option<&'a [(String, String)]>,
}

/// Everything comparison needs besides the test and its run.
pub struct Env<'a> {
    /// `ENV[...]` lookup for this test.
    pub vars: &'a EnvLookup,
    /// Host name to scrub.
    pub hostname: &'a str,
}

/// Checks every expectation of `test`; an empty result is a pass.
pub fn compare(test: &TestFile, seen: &Observed<'_>, env: &Env<'_>) -> Vec<Failure> {
    let mut fails = Vec::new();
    let output = seen.output;
    if let Some(expect) = &test.expect {
        let (e, a) = (expect.trim(), output.trim());
        if e != a {
            fails.push(Failure::new("expect", "output differs").with(e, a));
        }
    }
    if let Some(pattern) = &test.expect_regex {
        match regex::Regex::new(pattern) {
            Ok(re) if re.is_match(output) => {}
            Ok(_) => fails.push(
                Failure::new("expect_regex", "output does not match")
                    .with(pattern.as_str(), output),
            ),
            Err(e) => fails.push(Failure::new("expect_regex", format!("invalid regex: {e}"))),
        }
    }
    if let Some(expect) = &test.expect_scrubbed {
        let actual = scrub::file_name(&scrub::line_numbers(output), &test.path);
        let (e, a) = (expect.trim(), actual.trim());
        if e != a {
            fails.push(Failure::new("expect_scrubbed", "scrubbed output differs").with(e, a));
        }
    }

    match (seen.payloads.filter(|p| !p.is_empty()), test.expect_harvest) {
        (None, false) => return with_output_note(fails, test, output),
        (Some(_), false) => {
            fails.push(Failure::new(
                "harvest",
                "received a harvest, but EXPECT_HARVEST set to no",
            ));
            return with_output_note(fails, test, output);
        }
        (None, true) => {
            fails.push(Failure::new("harvest", "no harvest received"));
            return with_output_note(fails, test, output);
        }
        (Some(p), true) => {
            if let (Some(expected), Some(actual)) = (&test.response_headers, seen.response_headers)
            {
                if let Some(f) = compare_response_headers(expected, actual) {
                    fails.push(f);
                }
            }
            let ctx = PayloadCtx {
                test,
                payloads: p,
                env,
            };
            let checks: [(&Option<String>, &str); 5] = [
                (&test.analytic_events, "analytic_event_data"),
                (&test.custom_events, "custom_event_data"),
                (&test.error_events, "error_event_data"),
                (&test.span_events, "span_event_data"),
                (&test.log_events, "log_event_data"),
            ];
            for (expected, method) in checks {
                fails.extend(ctx.payload(expected.as_deref(), method, false));
            }
            if let Some(like) = &test.span_events_like {
                fails.extend(ctx.spans_like(like));
            }
            fails.extend(ctx.payload(test.metrics.as_deref(), "metric_data", true));
            fails.extend(ctx.metrics_exist());
            for (expected, method) in [
                (&test.slow_sqls, "sql_trace_data"),
                (&test.traced_errors, "error_data"),
                (&test.txn_traces, "transaction_sample_data"),
            ] {
                fails.extend(ctx.payload(expected.as_deref(), method, false));
            }
            if let Some(cfg) = &test.php_packages {
                fails.extend(
                    packages::check(cfg, &test.path, p.get("update_loaded_modules"))
                        .into_iter()
                        .map(|r| Failure::new("php_packages", r)),
                );
            }
        }
    }
    with_output_note(fails, test, output)
}

/// A failed test with no output expectation shows its output: it is often
/// the explanation (a PHP fatal error, a missing function).
fn with_output_note(mut fails: Vec<Failure>, test: &TestFile, output: &str) -> Vec<Failure> {
    let no_output_check =
        test.expect.is_none() && test.expect_regex.is_none() && test.expect_scrubbed.is_none();
    if !fails.is_empty() && no_output_check && !output.trim().is_empty() {
        fails.push(Failure::new(
            "output",
            format!(
                "test output (this might be important):\n{}",
                indent(output.trim(), 4)
            ),
        ));
    }
    fails
}

fn compare_response_headers(
    expected: &[(String, String)],
    actual: &[(String, String)],
) -> Option<Failure> {
    let group = |list: &[(String, String)]| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (k, v) in list {
            m.entry(canonical_header(k)).or_default().push(v.clone());
        }
        m
    };
    let (e, a) = (group(expected), group(actual));
    let ok = e.len() == a.len()
        && a.iter().all(|(k, vals)| {
            e.get(k).is_some_and(|ev| {
                ev.len() == vals.len() && ev.iter().zip(vals).all(|(x, y)| x == "??" || x == y)
            })
        });
    (!ok).then(|| {
        Failure::new("response headers", "callee response headers differ")
            .with(format!("{e:?}"), format!("{a:?}"))
    })
}

struct PayloadCtx<'a> {
    test: &'a TestFile,
    payloads: &'a Payloads,
    env: &'a Env<'a>,
}

impl PayloadCtx<'_> {
    fn scrubbed(&self, method: &str) -> Option<String> {
        self.payloads
            .get(method)
            .map(|raw| scrub::payload(raw, &self.test.path, self.env.hostname))
    }

    fn payload(&self, expected: Option<&str>, method: &str, is_metrics: bool) -> Option<Failure> {
        let expected = expected?;
        let actual_raw = self.payloads.get(method);
        if expected.trim() == "null" {
            return actual_raw.map(|a| {
                Failure::new(method, "expected null (no payload), got one")
                    .with("null", pretty_text(a))
            });
        }
        let Some(actual) = self.scrubbed(method) else {
            return Some(
                Failure::new(method, "expected a payload, got none").with(expected.trim(), "<nil>"),
            );
        };
        let actual: Value = match serde_json::from_str(&actual) {
            Ok(v) => v,
            Err(e) => {
                return Some(Failure::new(
                    method,
                    format!("actual payload is not JSON: {e}"),
                ))
            }
        };
        let (expected_text, actual) = if is_metrics {
            let parsed: Value = match serde_json::from_str(expected) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Failure::new(
                        method,
                        format!("unable to order expected metrics: {e}"),
                    ))
                }
            };
            let ordered = match metrics::order_scrub(&parsed) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Failure::new(
                        method,
                        format!("unable to order expected metrics: {e}"),
                    ))
                }
            };
            let actual = match metrics::order_scrub(&actual) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Failure::new(
                        method,
                        format!("unable to order actual metrics: {e}"),
                    ))
                }
            };
            // ENV[...] is substituted after ordering (New Relic's quirk).
            (ordered.to_string(), actual)
        } else {
            (expected.to_owned(), actual)
        };
        let expected_text = self.env.vars.substitute(&expected_text);
        let expected: Value = match serde_json::from_str(&expected_text) {
            Ok(v) => v,
            Err(e) => {
                return Some(Failure::new(
                    method,
                    format!("expected payload is not valid JSON: {e}"),
                ))
            }
        };
        let mismatch = fuzzy_match(&expected, &actual).err()?;
        let mut reason = mismatch.to_string();
        if is_metrics {
            reason.push_str(&metric_set_diff(&expected, &actual));
        }
        Some(Failure::new(method, reason).with(pretty(&expected), pretty(&actual)))
    }

    fn spans_like(&self, like: &str) -> Vec<Failure> {
        let what = "span_event_data (like)";
        let expected: Value = match serde_json::from_str(&self.env.vars.substitute(like)) {
            Ok(Value::Array(a)) => Value::Array(a),
            Ok(_) => {
                return vec![Failure::new(
                    what,
                    "EXPECT_SPAN_EVENTS_LIKE must be a JSON array",
                )]
            }
            Err(e) => {
                return vec![Failure::new(
                    what,
                    format!("expected spans are not valid JSON: {e}"),
                )]
            }
        };
        let Some(actual) = self.scrubbed("span_event_data") else {
            return vec![Failure::new(what, "no span events received")];
        };
        let actual: Value = match serde_json::from_str(&actual) {
            Ok(v) => v,
            Err(e) => {
                return vec![Failure::new(
                    what,
                    format!("actual payload is not JSON: {e}"),
                )]
            }
        };
        let spans = actual
            .get(2)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let wanted = expected.as_array().cloned().unwrap_or_default();
        let unmatched = unmatched_like(&wanted, &spans);
        unmatched
            .into_iter()
            .map(|i| {
                Failure::new(
                    what,
                    format!("expected span #{i} matches no distinct actual span"),
                )
                .with(pretty(&wanted[i]), pretty(&Value::Array(spans.clone())))
            })
            .collect()
    }

    fn metrics_exist(&self) -> Vec<Failure> {
        let mut out = Vec::new();
        if self.test.metrics_exist.is_none() && self.test.metrics_dont_exist.is_none() {
            return out;
        }
        let parse = |s: Option<String>| {
            s.and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .map(|v| metrics::table(&v))
                .unwrap_or_default()
        };
        if let Some(block) = &self.test.metrics_exist {
            let scrubbed = parse(self.scrubbed("metric_data"));
            out.extend(
                metrics::check_exist(block, self.env.vars, &scrubbed)
                    .into_iter()
                    .map(|r| Failure::new("metrics exist", r)),
            );
        }
        if let Some(block) = &self.test.metrics_dont_exist {
            let raw = parse(self.payloads.get("metric_data").map(str::to_owned));
            out.extend(
                metrics::check_dont_exist(block, self.env.vars, &self.test.path, &raw)
                    .into_iter()
                    .map(|r| Failure::new("metrics don't exist", r)),
            );
        }
        out
    }
}

fn pretty_text(raw: &str) -> String {
    serde_json::from_str::<Value>(raw).map_or_else(|_| raw.to_owned(), |v| pretty(&v))
}

/// For a metric mismatch: which names are missing or unexpected, which is
/// easier to act on than the first differing index.
fn metric_set_diff(expected: &Value, actual: &Value) -> String {
    let key = |e: &Value| {
        let name = e.pointer("/0/name").and_then(Value::as_str).unwrap_or("?");
        match e.pointer("/0/scope").and_then(Value::as_str) {
            Some(s) => format!("{name} (scope {s})"),
            None => name.to_owned(),
        }
    };
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(key).collect())
            .unwrap_or_default()
    };
    let (e, a) = (names(expected), names(actual));
    let missing: Vec<&String> = e.iter().filter(|n| !a.contains(n)).collect();
    let extra: Vec<&String> = a.iter().filter(|n| !e.contains(n)).collect();
    let mut s = String::new();
    if !missing.is_empty() {
        s.push_str(&format!("\n  missing metrics: {missing:?}"));
    }
    if !extra.is_empty() {
        s.push_str(&format!("\n  unexpected metrics: {extra:?}"));
    }
    if missing.is_empty() && extra.is_empty() {
        if let (Some(x), Some(y)) = (expected.as_array(), actual.as_array()) {
            for (p, q) in x.iter().zip(y) {
                if let Err(m) = fuzzy_match(p, q) {
                    s.push_str(&format!(
                        "\n  metric {}: expected {}, got {} ({})",
                        key(p),
                        fuzzy::brief(&p[1]),
                        fuzzy::brief(&q[1]),
                        m.reason
                    ));
                    break;
                }
            }
        }
    }
    s
}

/// Indices of expected spans that cannot each be given a distinct actual
/// span they fully match (maximum bipartite matching, so the order of the
/// expectations does not matter).
fn unmatched_like(expected: &[Value], actual: &[Value]) -> Vec<usize> {
    let adj: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| {
            actual
                .iter()
                .enumerate()
                .filter(|(_, a)| fuzzy_match(e, a).is_ok())
                .map(|(j, _)| j)
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    fn augment(
        i: usize,
        adj: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &j in &adj[i] {
            if seen[j] {
                continue;
            }
            seen[j] = true;
            if owner[j].is_none_or(|k| augment(k, adj, owner, seen)) {
                owner[j] = Some(i);
                return true;
            }
        }
        false
    }
    (0..expected.len())
        .filter(|&i| {
            let mut seen = vec![false; actual.len()];
            !augment(i, &adj, &mut owner, &mut seen)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testfile::parse;
    use serde_json::json;
    use std::path::Path;

    fn payloads(pairs: &[(&str, Value)]) -> Payloads {
        let mut p = Payloads::default();
        for (m, v) in pairs {
            p.absorb(m, &v.to_string()).unwrap();
        }
        p
    }

    fn run(src: &str, output: &str, p: Option<&Payloads>) -> Vec<Failure> {
        let t = parse("t/test_x.php", Path::new("/abs/t/test_x.php"), src).unwrap();
        let vars = EnvLookup::new([("ACCOUNT", "33"), ("TABLE", "users")]);
        let env = Env {
            vars: &vars,
            hostname: "buildhost",
        };
        compare(
            &t,
            &Observed {
                output,
                payloads: p,
                response_headers: None,
            },
            &env,
        )
    }

    fn metric_payload() -> Payloads {
        payloads(&[(
            "metric_data",
            json!(["?? agent run id", 1, 2, [
                [{"name": "OtherTransaction/php/test_x.php"}, [1, 0.1, 0.1, 0.1, 0.1, 0.01]],
                [{"name": "OtherTransaction/all"}, [1, 0.1, 0.1, 0.1, 0.1, 0.01]],
                [{"name": "Datastore/statement/SQLite/users/select", "scope": "OtherTransaction/php/test_x.php"}, [2, 0, 0, 0, 0, 0]],
                [{"name": "Supportability/TxnData/Size"}, [1, 900, 0, 900, 900, 810000]],
                [{"name": "CPU/User Time"}, [1, 0, 0, 0, 0, 0]]
            ]]),
        )])
    }

    #[test]
    fn output_expectations() {
        let src = "/*EXPECT\n  ok 1\nok 2  \n*/";
        assert!(run(src, "ok 1\nok 2\n", Some(&metric_payload())).is_empty());
        let f = run(src, "ok 1\nnot ok 2\n", Some(&metric_payload()));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].what, "expect");
        let f = run(
            "/*EXPECT_REGEX\n^ok \\d+\n*/",
            "ok 12 in /abs/t/test_x.php",
            Some(&metric_payload()),
        );
        assert!(f.is_empty(), "{f:?}");
        let f = run(
            "/*EXPECT_SCRUBBED\nin __FILE__ on line ??\n*/",
            "in /abs/t/test_x.php on line 3\n",
            Some(&metric_payload()),
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn harvest_presence_rules() {
        let f = run("/*EXPECT\nx\n*/", "x", None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].reason, "no harvest received");
        assert!(run("/*EXPECT_HARVEST no*/", "", None).is_empty());
        let f = run("/*EXPECT_HARVEST no*/", "oops", Some(&metric_payload()));
        assert_eq!(
            f[0].reason,
            "received a harvest, but EXPECT_HARVEST set to no"
        );
        assert!(
            f[1].reason.contains("oops"),
            "output is shown when not checked"
        );
    }

    #[test]
    fn metrics_are_scrubbed_sorted_and_fuzzy_matched() {
        let src = r#"/*EXPECT_METRICS
["?? agent run id", "?? start", "?? stop", [
  [{"name":"Datastore/statement/SQLite/ENV[TABLE]/select","scope":"OtherTransaction/php__FILE__"}, [2, "??", "??", "??", "??", "??"]],
  [{"name":"OtherTransaction/all"}, [1, "??", "??", "??", "??", "??"]],
  [{"name":"OtherTransaction/php__FILE__"}, [1, "??", "??", "??", "??", "??"]],
  [{"name":"Memory/Physical"}, [1, 0, 0, 0, 0, 0]]
]]
*/"#;
        let f = run(src, "", Some(&metric_payload()));
        assert!(
            f.is_empty(),
            "{}",
            f.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );

        let missing = src.replace(
            r#"  [{"name":"OtherTransaction/all"}, [1, "??", "??", "??", "??", "??"]],"#,
            r#"  [{"name":"OtherTransaction/none"}, [1, "??", "??", "??", "??", "??"]],"#,
        );
        let f = run(&missing, "", Some(&metric_payload()));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].reason
                .contains("missing metrics: [\"OtherTransaction/none\"]"),
            "{}",
            f[0].reason
        );
        assert!(f[0]
            .reason
            .contains("unexpected metrics: [\"OtherTransaction/all\"]"));

        let count = src.replace(r#"[2, "??""#, r#"[3, "??""#);
        let f = run(&count, "", Some(&metric_payload()));
        assert!(f[0].reason.contains("expected 3, got 2"), "{}", f[0].reason);
    }

    #[test]
    fn null_and_absent_payloads() {
        let p = metric_payload();
        assert!(run("/*EXPECT_TRACED_ERRORS null*/", "", Some(&p)).is_empty());
        let f = run("/*EXPECT_METRICS null*/", "", Some(&p));
        assert!(f[0].reason.contains("expected null"));
        let f = run(
            "/*EXPECT_ERROR_EVENTS\n[\"??\", \"??\", []]\n*/",
            "",
            Some(&p),
        );
        assert_eq!(f[0].reason, "expected a payload, got none");
        let f = run(
            "/*EXPECT_ERROR_EVENTS\n[broken\n*/",
            "",
            Some(&payloads(&[("error_event_data", json!([1]))])),
        );
        assert!(f[0].reason.contains("not valid JSON"));
    }

    #[test]
    fn events_are_scrubbed_before_matching() {
        let p = payloads(&[(
            "error_data",
            json!(["?? agent run id", [[1, "OtherTransaction/php/test_x.php", "boom", "E", {
                "stack_trace": [" in f called at /abs/t/test_x.php (12)"], "host": "buildhost"
            }, "guid"]]]),
        )]);
        let src = r#"/*EXPECT_TRACED_ERRORS
["?? agent run id", [["??", "OtherTransaction/php__FILE__", "/^bo+m$/", "E",
  {"stack_trace": [" in f called at __FILE__ (??)"], "host": "__HOST__"}, "?? guid"]]]
*/"#;
        let f = run(src, "", Some(&p));
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn spans_like_needs_distinct_matches() {
        let spans = json!(["?? agent run id", {"reservoir_size": 10000, "events_seen": 3}, [
            [{"name": "root", "guid": "a"}, {}, {}],
            [{"name": "Custom/f", "guid": "b"}, {}, {}],
            [{"name": "Custom/f", "guid": "c"}, {}, {"code.function": "f"}]
        ]]);
        let p = payloads(&[("span_event_data", spans)]);
        let ok = r#"/*EXPECT_SPAN_EVENTS_LIKE
[ [{"name": "Custom/f", "guid": "??"}, {}, "??"],
  [{"name": "Custom/f", "guid": "??"}, {}, {}] ]
*/"#;
        assert!(run(ok, "", Some(&p)).is_empty());
        let too_many = r#"/*EXPECT_SPAN_EVENTS_LIKE
[ [{"name": "Custom/f", "guid": "??"}, {}, "??"],
  [{"name": "Custom/f", "guid": "??"}, {}, "??"],
  [{"name": "Custom/f", "guid": "??"}, {}, "??"] ]
*/"#;
        let f = run(too_many, "", Some(&p));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].reason.contains("#2"));
    }

    #[test]
    fn pretty_keeps_short_containers_inline() {
        let v =
            json!(["r", [[{"name": "a"}, [1, 2, 3, 4, 5, 6]], [{"name": "b".repeat(90)}, [1]]]]);
        let b = "b".repeat(90);
        assert_eq!(
            pretty(&v),
            format!("[\n  \"r\",\n  [\n    [{{\"name\":\"a\"}},[1,2,3,4,5,6]],\n    [\n      {{\n        \"name\": \"{b}\"\n      }},\n      [1]\n    ]\n  ]\n]")
        );
        assert_eq!(pretty(&json!({"k": 1})), "{\"k\":1}");
    }

    #[test]
    fn bipartite_matching_is_order_independent() {
        let actual = vec![json!({"a": 1}), json!({"a": 2})];
        // The first expectation could take either; the second only {"a":1}.
        let expected = vec![json!("??"), json!({"a": 1})];
        assert!(unmatched_like(&expected, &actual).is_empty());
        assert_eq!(unmatched_like(&[json!({"a": 3})], &actual), vec![0]);
    }

    #[test]
    fn response_header_rules() {
        let e = vec![("X-A".to_owned(), "??".to_owned())];
        assert!(compare_response_headers(&e, &[("x-a".into(), "v".into())]).is_none());
        assert!(compare_response_headers(&e, &[]).is_some());
        assert!(compare_response_headers(&[], &[]).is_none());
        assert!(compare_response_headers(
            &[("X-A".into(), "v".into())],
            &[("X-A".into(), "w".into())]
        )
        .is_some());
    }

    #[test]
    fn metrics_exist_and_dont_exist_through_compare() {
        let p = metric_payload();
        assert!(run("/*EXPECT_METRICS_EXIST\nOtherTransaction/php__FILE__, 1\nSupportability/TxnData/Size\n*/", "", Some(&p)).is_empty());
        // __FILE__ becomes the absolute path, which a CLI name never holds.
        let f = run(
            "/*EXPECT_METRICS_DONT_EXIST\nOtherTransaction/php__FILE__\n*/",
            "",
            Some(&p),
        );
        assert!(f.is_empty(), "{f:?}");
        let f = run(
            "/*EXPECT_METRICS_DONT_EXIST\nOtherTransaction/php/test_x.php\n*/",
            "",
            Some(&p),
        );
        assert_eq!(f.len(), 1, "{f:?}");
    }
}
