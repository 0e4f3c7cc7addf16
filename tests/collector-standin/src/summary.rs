//! A readable digest of what the stand-in received, per application: the
//! README demo prints it.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use crate::record::RecordedCall;

#[derive(Default)]
struct MetricAgg {
    count: f64,
    total: f64,
    max: f64,
    /// Raw field sums, for Apdex (satisfied, tolerating, frustrating).
    fields: [f64; 3],
}

#[derive(Default)]
struct AppDigest {
    runs: Vec<String>,
    license: String,
    methods: BTreeMap<String, usize>,
    /// name → (count, total duration s)
    transactions: BTreeMap<String, (usize, f64)>,
    /// (name, scope) → totals
    metrics: BTreeMap<(String, String), MetricAgg>,
    /// error description → occurrences
    errors: BTreeMap<String, usize>,
    slow_sql: Vec<String>,
    traces: Vec<String>,
    custom_events: usize,
    log_events: usize,
    span_events: usize,
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

fn events(payload: &Value) -> &[Value] {
    payload
        .get(2)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn digest(app: &mut AppDigest, call: &RecordedCall) {
    *app.methods.entry(call.method.clone()).or_default() += 1;
    let p = &call.payload;
    match call.method.as_str() {
        "connect" => app.license = obfuscate(&call.license),
        "metric_data" => {
            for m in p.get(3).and_then(Value::as_array).into_iter().flatten() {
                let name = m[0]["name"].as_str().unwrap_or("?").to_owned();
                let scope = m[0]["scope"].as_str().unwrap_or_default().to_owned();
                let agg = app.metrics.entry((name, scope)).or_default();
                agg.count += num(&m[1][0]);
                agg.total += num(&m[1][1]);
                agg.max = agg.max.max(num(&m[1][4]));
                for i in 0..3 {
                    agg.fields[i] += num(&m[1][i]);
                }
            }
        }
        "analytic_event_data" => {
            for ev in events(p) {
                let e = app
                    .transactions
                    .entry(text(&ev[0]["name"]).to_owned())
                    .or_default();
                e.0 += 1;
                e.1 += num(&ev[0]["duration"]);
            }
        }
        "custom_event_data" => app.custom_events += events(p).len(),
        "span_event_data" => app.span_events += events(p).len(),
        "log_event_data" => {
            for block in p.as_array().into_iter().flatten() {
                app.log_events += block["logs"].as_array().map_or(0, Vec::len);
            }
        }
        "error_data" => {
            for e in p.get(1).and_then(Value::as_array).into_iter().flatten() {
                *app.errors
                    .entry(format!(
                        "{}: {} ({})",
                        text(&e[1]),
                        text(&e[2]),
                        text(&e[3])
                    ))
                    .or_default() += 1;
            }
        }
        "sql_trace_data" => {
            for s in p.get(0).and_then(Value::as_array).into_iter().flatten() {
                app.slow_sql.push(format!(
                    "{} x{} max {:.1} ms: {}",
                    text(&s[4]),
                    num(&s[5]),
                    num(&s[8]),
                    text(&s[3])
                ));
            }
        }
        "transaction_sample_data" => {
            for t in p.get(1).and_then(Value::as_array).into_iter().flatten() {
                app.traces.push(format!(
                    "{} {:.1} ms ({})",
                    text(&t[2]),
                    num(&t[1]),
                    text(&t[3])
                ));
            }
        }
        _ => {}
    }
}

fn obfuscate(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 4 {
        return "..".into();
    }
    let n = chars.len();
    format!(
        "{}..{}",
        chars[..2].iter().collect::<String>(),
        chars[n - 2..].iter().collect::<String>()
    )
}

fn unscoped<'a>(app: &'a AppDigest, name: &str) -> Option<&'a MetricAgg> {
    app.metrics.get(&(name.to_owned(), String::new()))
}

/// The reporting daemon's own health, when it sends it (Seraph's daemon
/// adds `Supportability/Seraph/Daemon/*` to every application's metrics).
fn render_daemon_health(out: &mut String, app: &AppDigest) {
    const PREFIX: &str = "Supportability/Seraph/Daemon/";
    let Some(rss) = unscoped(app, &format!("{PREFIX}Memory/RSS")) else {
        return;
    };
    let count = |name: &str| unscoped(app, &format!("{PREFIX}{name}")).map_or(0.0, |m| m.count);
    let _ = writeln!(
        out,
        "  daemon health: peak RSS {:.1} MiB, {} bad frame(s), {} transaction(s) for unknown runs, \
         spool {} written / {} replayed / {} dropped",
        rss.max,
        count("Frames/Invalid"),
        count("Transactions/UnknownRun"),
        count("Spool/Written"),
        count("Spool/Replayed"),
        count("Spool/Dropped"),
    );
}

/// A transaction's own metric (not a rollup such as `WebTransaction` or a
/// `*TotalTime`).
fn is_transaction_metric(name: &str) -> bool {
    (name.starts_with("WebTransaction/") || name.starts_with("OtherTransaction/"))
        && name != "OtherTransaction/all"
}

fn render_app(out: &mut String, app: &AppDigest) {
    let count = |name: &str| unscoped(app, name).map_or(0.0, |m| m.count);
    let web = count("WebTransaction");
    let other = count("OtherTransaction/all");
    let _ = writeln!(
        out,
        "  transactions: {} ({web} web, {other} background)",
        web + other
    );
    let _ = writeln!(
        out,
        "    {:<56} {:>7} {:>9} {:>9}",
        "name", "count", "avg ms", "max ms"
    );
    for ((name, scope), m) in &app.metrics {
        if scope.is_empty() && is_transaction_metric(name) && m.count > 0.0 {
            let _ = writeln!(
                out,
                "    {name:<56} {:>7} {:>9.1} {:>9.1}",
                m.count,
                m.total / m.count * 1000.0,
                m.max * 1000.0
            );
        }
    }
    if let Some(m) = unscoped(app, "WebTransaction").filter(|m| m.count > 0.0) {
        let _ = write!(
            out,
            "  web response time: avg {:.1} ms, max {:.1} ms",
            m.total / m.count * 1000.0,
            m.max * 1000.0
        );
        if let Some(a) = unscoped(app, "Apdex") {
            let [s, t, f] = a.fields;
            let score = if s + t + f > 0.0 {
                (s + t / 2.0) / (s + t + f)
            } else {
                1.0
            };
            let _ = write!(
                out,
                "; apdex {score:.2} (satisfied {s}, tolerating {t}, frustrated {f})"
            );
        }
        let _ = writeln!(out);
    }
    for (label, prefix) in [
        ("databases", "Datastore/"),
        ("external services", "External/"),
    ] {
        let rows: Vec<_> = app
            .metrics
            .iter()
            .filter(|((n, scope), _)| {
                scope.is_empty()
                    && n.starts_with(prefix)
                    && !n.ends_with("/allWeb")
                    && !n.ends_with("/allOther")
                    && n.as_str() != format!("{prefix}all")
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {label}:");
        for ((name, _), m) in rows {
            let avg = if m.count > 0.0 {
                m.total / m.count * 1000.0
            } else {
                0.0
            };
            let _ = writeln!(out, "    {name:<56} {:>7} {avg:>9.2}", m.count);
        }
    }
    let total_errors: usize = app.errors.values().sum();
    let _ = writeln!(out, "  errors: {total_errors} traced");
    for (e, n) in &app.errors {
        let _ = writeln!(out, "    {n} x {e}");
    }
}

/// Renders the digest of `calls`.
pub fn render(calls: &[RecordedCall]) -> String {
    let mut apps: BTreeMap<String, AppDigest> = BTreeMap::new();
    let mut unattributed: BTreeMap<String, usize> = BTreeMap::new();
    for call in calls {
        let Some(name) = &call.app_name else {
            *unattributed.entry(call.method.clone()).or_default() += 1;
            continue;
        };
        let app = apps.entry(name.clone()).or_default();
        if let Some(run) = call.granted_run_id.as_ref().or(call.run_id.as_ref()) {
            if !app.runs.contains(run) {
                app.runs.push(run.clone());
            }
        }
        digest(app, call);
    }

    let mut out = String::new();
    let _ = writeln!(out, "collector stand-in: {} call(s)", calls.len());
    for (name, app) in &apps {
        let _ = writeln!(
            out,
            "\napplication {name:?} (license {}, runs {})",
            app.license,
            app.runs.join(", ")
        );
        let methods: Vec<String> = app
            .methods
            .iter()
            .map(|(m, n)| format!("{m} x{n}"))
            .collect();
        let _ = writeln!(out, "  calls: {}", methods.join(", "));
        render_app(&mut out, app);
        let _ = writeln!(out, "  slow SQL: {}", app.slow_sql.len());
        for s in &app.slow_sql {
            let _ = writeln!(out, "    {s}");
        }
        let _ = writeln!(out, "  traces: {}", app.traces.len());
        for t in &app.traces {
            let _ = writeln!(out, "    {t}");
        }
        let _ = writeln!(
            out,
            "  events: {} transaction, {} custom, {} span, {} log",
            app.transactions.values().map(|t| t.0).sum::<usize>(),
            app.custom_events,
            app.span_events,
            app.log_events
        );
        render_daemon_health(&mut out, app);
    }
    if !unattributed.is_empty() {
        let methods: Vec<String> = unattributed
            .iter()
            .map(|(m, n)| format!("{m} x{n}"))
            .collect();
        let _ = writeln!(out, "\nnot tied to an application: {}", methods.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(method: &str, run: Option<&str>, app: &str, payload: Value) -> RecordedCall {
        RecordedCall {
            seq: 0,
            method: method.into(),
            query: Default::default(),
            path: "/agent_listener/invoke_raw_method".into(),
            raw_query: String::new(),
            license: "0123456789abcdef".into(),
            run_id: run.map(str::to_owned),
            headers: vec![],
            body_bytes: 0,
            payload,
            payload_error: None,
            expanded: None,
            app_name: Some(app.into()),
            granted_run_id: (method == "connect").then(|| "1".to_owned()),
            response_status: 200,
            received_at_ms: 0,
        }
    }

    #[test]
    fn renders_per_app_digest() {
        let calls = vec![
            call("connect", None, "shop", json!([{"app_name": ["shop"]}])),
            call(
                "metric_data",
                Some("1"),
                "shop",
                json!(["1", 0, 60, [
                    [{"name": "WebTransaction"}, [2, 0.5, 0.5, 0.2, 0.3, 0.13]],
                    [{"name": "WebTransaction/Action/home"}, [2, 0.5, 0.5, 0.2, 0.3, 0.13]],
                    [{"name": "Apdex"}, [1, 1, 0, 0.5, 0.5, 0]],
                    [{"name": "Datastore/MySQL/all"}, [4, 0.04, 0.04, 0.01, 0.01, 0.0]],
                    [{"name": "Datastore/all", "scope": "WebTransaction/Action/home"}, [4, 0.04, 0.04, 0.01, 0.01, 0.0]],
                    [{"name": "Supportability/PHP/x"}, [1, 0, 0, 0, 0, 0]],
                    [{"name": "Supportability/Seraph/Daemon/Memory/RSS"}, [1, 41.5, 41.5, 41.5, 41.5, 1722.25]],
                    [{"name": "Supportability/Seraph/Daemon/Frames/Invalid"}, [2, 0, 0, 0, 0, 0]]
                ]]),
            ),
            call(
                "analytic_event_data",
                Some("1"),
                "shop",
                json!(["1", {"reservoir_size": 10, "events_seen": 1}, [[{"name": "WebTransaction/Action/home", "duration": 0.25}, {}, {}]]]),
            ),
            call(
                "error_data",
                Some("1"),
                "shop",
                json!([
                    "1",
                    [[0, "WebTransaction/Action/home", "boom", "Exception", {}]]
                ]),
            ),
            call(
                "sql_trace_data",
                Some("1"),
                "shop",
                json!([[[
                    "t",
                    "/",
                    1,
                    "SELECT 1",
                    "Datastore/statement/MySQL/x/select",
                    3,
                    9.0,
                    1.0,
                    5.5,
                    ""
                ]]]),
            ),
            call(
                "transaction_sample_data",
                Some("1"),
                "shop",
                json!([
                    "1",
                    [[
                        0,
                        1234.5,
                        "WebTransaction/Action/home",
                        "/home",
                        "",
                        "g",
                        null,
                        false,
                        null,
                        null
                    ]]
                ]),
            ),
        ];
        let text = render(&calls);
        assert!(text.contains("collector stand-in: 6 call(s)"), "{text}");
        assert!(
            text.contains("application \"shop\" (license 01..ef, runs 1)"),
            "{text}"
        );
        assert!(
            text.contains("transactions: 2 (2 web, 0 background)"),
            "{text}"
        );
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with("WebTransaction/Action/home"))
            .unwrap_or_else(|| panic!("{text}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1..], ["2", "250.0", "300.0"], "{text}");
        assert!(
            text.contains("web response time: avg 250.0 ms, max 300.0 ms; apdex 0.75 (satisfied 1, tolerating 1, frustrated 0)"),
            "{text}"
        );
        assert!(
            text.contains("  databases:\n    Datastore/MySQL/all"),
            "{text}"
        );
        assert!(text.contains("errors: 1 traced"), "{text}");
        assert!(
            text.contains("1 x WebTransaction/Action/home: boom (Exception)"),
            "{text}"
        );
        assert!(
            text.contains("Datastore/statement/MySQL/x/select x3 max 5.5 ms: SELECT 1"),
            "{text}"
        );
        assert!(
            text.contains("WebTransaction/Action/home 1234.5 ms (/home)"),
            "{text}"
        );
        assert!(
            text.contains(
                "daemon health: peak RSS 41.5 MiB, 2 bad frame(s), 0 transaction(s) for unknown runs, \
                 spool 0 written / 0 replayed / 0 dropped"
            ),
            "{text}"
        );
    }
}
