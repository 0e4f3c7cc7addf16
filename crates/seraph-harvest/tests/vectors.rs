//! Feeds the real New Relic agent frames of `tests/vectors` into a
//! `Harvest` and compares every payload with `tests/expected/`, which
//! `tests/expected/gen.py` derives independently from the decoded `.json`
//! twins of those frames (its own aggregation model and Go number
//! formatting).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use seraph_harvest::payload::{self, BlobEncoding};
use seraph_harvest::{Harvest, HarvestLimits};
use seraph_wire::{decode, Body};

const RUN_ID: &str = "RUN-1";

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn end() -> SystemTime {
    start() + Duration::from_secs(60)
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected")
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Every `NNN-Transaction.bin` under `dir`, ordered by (directory, file).
fn transaction_frames(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for p in sorted_dir(dir) {
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with("-Transaction.bin") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort_by(|a, b| (a.parent(), a.file_name()).cmp(&(b.parent(), b.file_name())));
    out
}

/// Scenario name (`03-cli-error-a-uncaught`) → directory holding its frames.
fn scenarios() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for top in sorted_dir(&vectors_dir())
        .into_iter()
        .filter(|p| p.is_dir())
    {
        let top_name = top.file_name().unwrap().to_string_lossy().into_owned();
        let subs: Vec<PathBuf> = sorted_dir(&top)
            .into_iter()
            .filter(|p| p.is_dir())
            .collect();
        let candidates = if subs.is_empty() {
            vec![(top_name.clone(), top.clone())]
        } else {
            subs.into_iter()
                .map(|s| {
                    let sub = s.file_name().unwrap().to_string_lossy().into_owned();
                    (format!("{top_name}-{sub}"), s)
                })
                .collect()
        };
        for (name, dir) in candidates {
            if !transaction_frames(&dir).is_empty() {
                out.push((name, dir));
            }
        }
    }
    out
}

fn merge_frame(h: &mut Harvest, path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let format = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    assert_eq!((len, format), (bytes.len() - 8, 2), "{}", path.display());
    let body = &bytes[8..];
    let mut scratch = Vec::new();
    let msg = decode(body, &mut scratch).unwrap();
    assert_eq!(msg.agent_run_id, Some(RUN_ID));
    let Body::Transaction(txn) = msg.body else {
        panic!("{} is not a Transaction", path.display())
    };
    h.add_transaction(txn, body.len());
}

fn harvest_of(frames: &[PathBuf]) -> Harvest {
    let mut h = Harvest::new(HarvestLimits::default(), start());
    for f in frames {
        merge_frame(&mut h, f);
    }
    h
}

fn decompress(b64: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut s = String::new();
    flate2::read::ZlibDecoder::new(&raw[..])
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// Every non-empty payload the harvest yields, by method (audit form), after
/// checking that the compressed blobs of the collector form decode to the
/// same JSON.
fn payloads(h: Harvest) -> BTreeMap<String, String> {
    let data = h.clone().take_default_data(end());
    assert_eq!(data.metrics.period_start(), start());
    if !data.traces.is_empty() {
        let compressed =
            payload::transaction_sample_data(RUN_ID, &data.traces, BlobEncoding::Compressed)
                .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&compressed).unwrap();
        for (row, trace) in v[1].as_array().unwrap().iter().zip(data.traces.iter()) {
            assert_eq!(decompress(row[4].as_str().unwrap()), &*trace.data);
        }
    }
    if !data.slow_sqls.is_empty() {
        let compressed =
            payload::sql_trace_data(&data.slow_sqls, BlobEncoding::Compressed).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&compressed).unwrap();
        for (row, sql) in v[0].as_array().unwrap().iter().zip(data.slow_sqls.iter()) {
            assert_eq!(decompress(row[9].as_str().unwrap()), &*sql.params);
        }
    }
    let out: BTreeMap<String, String> = payload::audit_payloads(RUN_ID, h, end())
        .unwrap()
        .into_iter()
        .map(|(method, body)| (method.to_owned(), String::from_utf8(body).unwrap()))
        .collect();
    for body in out.values() {
        serde_json::from_str::<serde_json::Value>(body).expect("payload is valid JSON");
    }
    out
}

fn expected(name: &str) -> BTreeMap<String, String> {
    let dir = expected_dir().join(name);
    sorted_dir(&dir)
        .into_iter()
        .map(|p| {
            let method = p.file_stem().unwrap().to_string_lossy().into_owned();
            let body = std::fs::read_to_string(&p).unwrap();
            (method, body.trim_end_matches('\n').to_owned())
        })
        .collect()
}

fn assert_payloads(name: &str, actual: &BTreeMap<String, String>) {
    let want = expected(name);
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{name}: set of payloads"
    );
    for (method, body) in actual {
        assert_eq!(body, &want[method], "{name}: {method}");
    }
}

#[test]
fn every_scenario_matches_its_expected_payloads() {
    let list = scenarios();
    assert_eq!(list.len(), 16, "scenarios found: {list:?}");
    for (name, dir) in list {
        let frames = transaction_frames(&dir);
        assert_payloads(&name, &payloads(harvest_of(&frames)));
    }
}

#[test]
fn all_frames_in_one_harvest_match() {
    let frames = transaction_frames(&vectors_dir());
    assert_eq!(frames.len(), 19);
    let h = harvest_of(&frames);
    assert_eq!(h.transactions(), 19);
    assert_eq!(h.errors().len(), 3);
    assert_eq!(h.traces().len(), 1, "one regular trace: the slowest");
    assert_payloads("all", &payloads(h));
}

/// Spot checks of what the expected files hold, so a regenerated file that
/// lost these properties is noticed.
#[test]
fn notable_shapes() {
    let pdo = payloads(harvest_of(&transaction_frames(
        &vectors_dir().join("05-pdo-sqlite"),
    )));
    let metrics: serde_json::Value = serde_json::from_str(&pdo["metric_data"]).unwrap();
    let rows = metrics[3].as_array().unwrap();
    let scoped: Vec<&str> = rows
        .iter()
        .filter(|r| r[0]["scope"] == "OtherTransaction/php/script.php")
        .map(|r| r[0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        scoped,
        vec![
            "Datastore/operation/SQLite/other",
            "Datastore/statement/SQLite/users/create",
            "Datastore/statement/SQLite/users/insert",
            "Datastore/statement/SQLite/users/select",
        ]
    );
    // 33 agent metrics + 4 scoped copies + Size/CustomEvents/Metrics/SlowSQL/TraceSize.
    assert_eq!(rows.len(), 33 + 4 + 5);
    let sql: serde_json::Value = serde_json::from_str(&pdo["sql_trace_data"]).unwrap();
    assert_eq!(sql[0].as_array().unwrap().len(), 2);
    assert_eq!(sql[0][0][4], "Datastore/statement/SQLite/users/select");
    assert_eq!(sql[0][0][6], 78.643);

    let minimal = payloads(harvest_of(&transaction_frames(
        &vectors_dir().join("01-cli-minimal"),
    )));
    let metrics: serde_json::Value = serde_json::from_str(&minimal["metric_data"]).unwrap();
    assert_eq!(metrics[3].as_array().unwrap().len(), 17 + 4);
    assert!(minimal["analytic_event_data"].starts_with(
        r#"["RUN-1",{"reservoir_size":10000,"events_seen":1},[[{"type":"Transaction""#
    ));

    let error = payloads(harvest_of(&transaction_frames(
        &vectors_dir().join("03-cli-error/a-uncaught"),
    )));
    let errors: serde_json::Value = serde_json::from_str(&error["error_data"]).unwrap();
    assert_eq!(errors[1].as_array().unwrap().len(), 1);
    assert_eq!(errors[1][0][3], "RuntimeException");
}
