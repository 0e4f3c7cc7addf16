//! Vector 10b end to end: a transaction started more than 20 s after the
//! last App query makes the agent ask again, with its run id. Runs the
//! vector's script (it sleeps 21 s) twice in parallel: against a daemon
//! that answers the re-query with the full Connected reply (as the
//! vectors' capturing daemon did) and against one that answers StillValid
//! (as New Relic's daemon does).

mod common;
use common::fake_daemon::{FakeDaemon, Mode, Received};
use common::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

const LICENSE: &str = "0123456789012345678901234567890123456789";
const SCENARIO: &str = "10-long-cli/b-app-refresh";

fn vector(file: &str) -> PathBuf {
    vectors_dir().join(SCENARIO).join(file)
}

fn vector_metric_names(file: &str) -> BTreeSet<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vector(file)).unwrap()).unwrap();
    for_this_php(
        v["data"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned()),
    )
}

/// Starts the vector's script against `d`; returns the child.
fn spawn(d: &FakeDaemon, work: &std::path::Path) -> std::process::Child {
    std::fs::copy(vector("script.php"), work.join("script.php")).unwrap();
    let addr = d.address();
    php(&[
        ("newrelic.daemon.address", &addr),
        ("newrelic.daemon.dont_launch", "3"),
        ("newrelic.license", LICENSE),
        ("newrelic.appname", "vectors"),
        ("newrelic.daemon.app_connect_timeout", "5s"),
    ])
    .arg("script.php")
    .current_dir(work)
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap()
}

fn check(frames: &[Received], daemon: &str) {
    let kinds: Vec<_> = frames.iter().map(Received::kind).collect();
    assert_eq!(
        kinds,
        ["App", "Transaction", "App", "Transaction"],
        "{daemon}"
    );
    // One connection for the whole process.
    assert!(frames.iter().all(|f| f.conn == 0), "{daemon}");
    // The first query has no run id, the refresh carries it; otherwise
    // the App bodies are the same (as in the vector).
    assert_eq!(frames[0].run_id(), None, "{daemon}");
    assert_eq!(frames[2].run_id().as_deref(), Some("RUN-1"), "{daemon}");
    assert_eq!(frames[0].app(), frames[2].app(), "{daemon}");
    // Both transactions use the run id; the second is the renamed one.
    assert_eq!(frames[1].run_id().as_deref(), Some("RUN-1"), "{daemon}");
    assert_eq!(frames[3].run_id().as_deref(), Some("RUN-1"), "{daemon}");
    let (t1, t2) = (frames[1].txn(), frames[3].txn());
    assert_eq!(t1.name, "OtherTransaction/php/script.php", "{daemon}");
    assert_eq!(t2.name, "OtherTransaction/Custom/after-refresh", "{daemon}");
    let names = |t: &seraph_wire::TransactionData| -> BTreeSet<String> {
        t.metrics.iter().map(|m| m.name.clone()).collect()
    };
    assert_eq!(
        names(&t1),
        vector_metric_names("002-Transaction.json"),
        "{daemon}"
    );
    assert_eq!(
        names(&t2),
        vector_metric_names("004-Transaction.json"),
        "{daemon}"
    );
}

#[test]
fn a_transaction_started_after_20_s_requeries_the_app_with_the_run_id() {
    // The vector's own frames say what to expect.
    let app3: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vector("003-App.json")).unwrap()).unwrap();
    assert_eq!(app3["agent_run_id"], "RUN-1");

    let full = FakeDaemon::start(Mode::Connected);
    let still_valid = FakeDaemon::start(Mode::StillValidOnRequery);
    let (w1, w2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let c1 = spawn(&full, w1.path());
    let c2 = spawn(&still_valid, w2.path());
    for c in [c1, c2] {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            stdout(&out),
            std::fs::read_to_string(vector("stdout.txt")).unwrap()
        );
    }
    check(&full.wait_frames(4), "full Connected reply");
    check(&still_valid.wait_frames(4), "StillValid reply");
}
