//! Reading what reached the collector stand-in: metric tables summed over
//! `metric_data` posts, and transaction counts.

use collector_standin::RecordedCall;
use std::collections::BTreeMap;

/// (name, scope) → `[count, total, exclusive, min, max, sum of squares]`.
pub type Table = BTreeMap<(String, String), [f64; 6]>;

/// Sums every `metric_data` post the collector took into one table.
pub fn metrics(calls: &[RecordedCall]) -> Table {
    let mut table = Table::new();
    for call in calls
        .iter()
        .filter(|c| c.method == "metric_data" && c.response_status == 200)
    {
        let Some(entries) = call.payload[3].as_array() else {
            continue;
        };
        for entry in entries {
            let name = entry[0]["name"].as_str().unwrap_or_default().to_owned();
            let scope = entry[0]["scope"].as_str().unwrap_or("").to_owned();
            let v: Vec<f64> = entry[1]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default();
            if v.len() < 6 {
                continue;
            }
            let slot =
                table
                    .entry((name, scope))
                    .or_insert([0.0, 0.0, 0.0, f64::MAX, f64::MIN, 0.0]);
            slot[0] += v[0];
            slot[1] += v[1];
            slot[2] += v[2];
            slot[3] = slot[3].min(v[3]);
            slot[4] = slot[4].max(v[4]);
            slot[5] += v[5];
        }
    }
    table
}

/// How many transactions the metrics the collector took account for
/// (`WebTransaction` plus `OtherTransaction/all` call counts).
pub fn transactions(calls: &[RecordedCall]) -> f64 {
    let table = metrics(calls);
    ["OtherTransaction/all", "WebTransaction"]
        .iter()
        .filter_map(|m| table.get(&(m.to_string(), String::new())))
        .map(|v| v[0])
        .sum()
}

/// The calls of one application (by name, as the stand-in learned it).
pub fn of_app(calls: &[RecordedCall], app: &str) -> Vec<RecordedCall> {
    calls
        .iter()
        .filter(|c| c.app_name.as_deref() == Some(app))
        .cloned()
        .collect()
}
