//! Many threads on one application: every transaction arrives, and the
//! library runs clean under valgrind (memcheck, and helgrind for races).

mod common;

use common::{app_name, cc, Env, Link};
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_threads_times_a_thousand_transactions_all_arrive() {
    let env = Env::start().await;
    let bin = env.path("worker_threads");
    // Statically linked: the other way programs use the library.
    cc(&["examples/worker_threads.c"], &bin, Link::Static, &[]);
    let app = app_name("threads");
    let mut c = env.command(&bin, &app);
    c.args(["8", "1000"]);
    let out = env.run_ok(&mut c, &app);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("8000 transactions, 0 failures"),
        "{}",
        common::text(&out)
    );
    let h = env
        .harvest(&app, Duration::from_secs(60), |h| {
            h.count("OtherTransaction/Action/job") >= 8000.0
        })
        .await;
    // Harvests continue: no transaction is counted twice. Two more metric
    // harvests of the app, rather than a fixed 2 s that a loaded machine
    // may fill with fewer.
    let posts = |h: &common::Harvest| h.calls.iter().filter(|c| c.method == "metric_data").count();
    let before = posts(&h);
    let h2 = env
        .harvest(&app, Duration::from_secs(60), |h2| posts(h2) >= before + 2)
        .await;
    for h in [&h, &h2] {
        assert_eq!(h.count("OtherTransaction/Action/job"), 8000.0);
        assert_eq!(h.count("OtherTransaction/all"), 8000.0);
        assert_eq!(h.count("Supportability/C/NewrelicVersion/1.3.0"), 8000.0);
        assert_eq!(
            h.scoped_count("Worker/work", "OtherTransaction/Action/job"),
            8000.0
        );
    }
}

/// Runs `program args` under valgrind `tool`, which must report no error.
fn valgrind(
    env: &Env,
    tool: &[&str],
    program: &std::path::Path,
    args: &[&str],
    app: &str,
) -> String {
    let mut c = Command::new("valgrind");
    c.args(tool)
        .arg("--error-exitcode=99")
        .arg(format!(
            "--suppressions={}",
            common::crate_dir().join("tests/valgrind.supp").display()
        ))
        .arg(program)
        .args(args);
    env.configure(&mut c, app);
    let out = c
        .output()
        .expect("valgrind is installed (tests/setup-host.sh)");
    let text = common::text(&out);
    assert!(out.status.success(), "valgrind {tool:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcheck_finds_no_error_and_no_leak() {
    let env = Env::start().await;
    let web = env.path("web_transaction");
    cc(&["examples/web_transaction.c"], &web, Link::Shared, &[]);
    let edges = env.path("api_edges");
    cc(&["tests/c/api_edges.c"], &edges, Link::Shared, &[]);
    let worker = env.path("worker_threads");
    cc(&["examples/worker_threads.c"], &worker, Link::Shared, &[]);
    let memcheck = [
        "--tool=memcheck",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect",
        "--errors-for-leak-kinds=definite,indirect",
    ];
    let app = app_name("memcheck");
    for (bin, args) in [
        (&web, &[][..]),
        (&edges, &[][..]),
        (&worker, &["4", "25"][..]),
    ] {
        let text = valgrind(&env, &memcheck, bin, args, &app);
        assert!(text.contains("ERROR SUMMARY: 0 errors"), "{text}");
    }
    let h = env
        .harvest(&app, Duration::from_secs(30), |h| {
            h.count("OtherTransaction/Action/job") >= 100.0
        })
        .await;
    assert_eq!(h.count("WebTransaction/Action/checkout"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helgrind_finds_no_race_between_threads() {
    let env = Env::start().await;
    let worker = env.path("worker_threads");
    cc(&["examples/worker_threads.c"], &worker, Link::Shared, &[]);
    let shared = env.path("shared_txn");
    cc(&["tests/c/shared_txn.c"], &shared, Link::Shared, &[]);
    let app = app_name("helgrind");
    // Threads with their own transactions, and threads sharing one.
    let text = valgrind(&env, &["--tool=helgrind"], &worker, &["8", "20"], &app);
    assert!(text.contains("ERROR SUMMARY: 0 errors"), "{text}");
    let text = valgrind(&env, &["--tool=helgrind"], &shared, &[], &app);
    assert!(text.contains("ERROR SUMMARY: 0 errors"), "{text}");
    let h = env
        .harvest(&app, Duration::from_secs(30), |h| {
            h.count("OtherTransaction/Action/job") >= 160.0
                && h.count("WebTransaction/Action/fanout") >= 1.0
        })
        .await;
    assert_eq!(h.count("OtherTransaction/Action/job"), 160.0);
    // Every thread's segments, all children of the root.
    assert_eq!(
        h.scoped_count("Fanout/part", "WebTransaction/Action/fanout"),
        200.0
    );
}
