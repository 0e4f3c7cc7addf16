//! Micro-benchmark of the end of a transaction: [`Transaction::finish`]
//! (segments to trace, spans, metrics, events) plus the FlatBuffers
//! encoding the extension sends, on a synthetic transaction shaped like
//! WordPress's front page: about 150 000 user calls in a deep, uneven
//! call tree (a few hundred of them slow enough to be kept), 30 MySQL
//! queries and one external call, a web request with the usual headers.
//!
//! ```sh
//! cargo bench -p seraph-txn --bench finish            # timing
//! cargo bench -p seraph-txn --bench finish -- once [trace] [unsampled]  # one round, for callgrind
//! ```
//!
//! Three variants: not sampled (no span events: most transactions, as
//! the sampler keeps 10 a minute by default), sampled (span events for
//! every kept segment), and sampled with a transaction trace (a request
//! slower than the trace threshold).
//!
//! Only `finish` and the encoding are timed; building the transaction
//! (the enter/leave calls) is done before each round. The `once` mode
//! builds and finishes one transaction, so that
//! `valgrind --tool=callgrind --toggle-collect='*Transaction*finish*' <bench binary> once`
//! counts the instructions of the end of the transaction alone.

use seraph_txn::{
    ClockScale, ConnectInfo, DatastoreCall, ExternalCall, ResourceUsage, SeededIds, Threshold,
    Transaction, TxnConfig, TxnKind, WebRequest,
};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// User calls in the synthetic request (WordPress 6.1's front page makes
/// about 153 000).
const CALLS: u64 = 150_000;
/// Datastore calls (WordPress's front page makes about 30 queries).
const QUERIES: u64 = 30;
/// Distinct user functions the calls are spread over.
const FUNCS: usize = 2_500;
/// One call in this many is slow (2.1 ms) by itself, so that a few
/// hundred segments are kept, as on WordPress's front page.
const SLOW_EVERY: u64 = 2_500;
/// Nanoseconds of work per call: 150 000 calls make a ~50 ms request.
const CALL_NS: u64 = 330;

/// What the collector answers by default (traces, events and spans on,
/// `apdex_t` 0.5 s, so a 50 ms request makes no trace unless the
/// threshold is lowered).
const CONNECT_REPLY: &str = r#"{"agent_run_id":"RUN-1","entity_guid":"GUID-1","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_traces":true,"collect_errors":true,"collect_analytics_events":true,"collect_custom_events":true,"collect_error_events":true,"collect_span_events":true,"apdex_t":0.5,"sampling_target":10}"#;

/// A small deterministic generator (xorshift), so every round builds the
/// same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Builder {
    txn: Transaction,
    now: u64,
    rng: Rng,
    calls: u64,
    queries_left: u64,
}

impl Builder {
    /// One call whose subtree makes `budget` calls in all, split unevenly
    /// among 1–8 children, like WordPress's hooks and template tags.
    fn call(&mut self, budget: u64, depth: u32) {
        let func = 0x1000 + 16 * self.rng.below(FUNCS as u64) as usize;
        self.txn.enter(func, self.now);
        self.calls += 1;
        self.now += CALL_NS / 2;
        let mut left = budget.saturating_sub(1);
        if left > 0 && depth < 60 {
            let kids = 1 + self.rng.below(8);
            for k in 0..kids {
                let share = if k + 1 == kids {
                    left
                } else {
                    // Uneven: a child takes between none and all of the rest.
                    left * self.rng.below(101) / 100
                };
                left -= share;
                if share > 0 {
                    self.call(share, depth + 1);
                }
                // A query now and then, at any depth.
                if self.queries_left > 0 && self.rng.below(CALLS / QUERIES / 4) == 0 {
                    self.query();
                }
            }
        } else {
            self.now += CALL_NS * left;
        }
        // Now and then a call is slow by itself (a file read, a remote
        // cache, a template): it and its callers are kept.
        if self.rng.below(SLOW_EVERY) == 0 {
            self.now += 2_100_000;
        }
        self.now += CALL_NS / 2;
        self.txn.leave(self.now);
    }

    fn query(&mut self) {
        self.queries_left -= 1;
        self.txn.enter_internal(self.now);
        self.now += 150_000;
        let n = self.rng.below(1000);
        let ds = DatastoreCall {
            product: "MySQL".into(),
            sql: Some(format!(
                "SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes' AND option_id > {n}"
            )),
            host: Some("localhost".into()),
            port_path_or_id: Some("/run/mysqld/mysqld.sock".into()),
            database_name: Some("wordpress".into()),
            ..DatastoreCall::default()
        };
        self.txn.leave_datastore(self.now, ds);
    }
}

/// Builds the synthetic transaction, ready to finish; returns it with the
/// end tick and the number of calls made.
fn build(with_trace: bool, sampled: bool) -> (Transaction, u64, u64) {
    let mut cfg = TxnConfig::default();
    if with_trace {
        cfg.transaction_tracer.threshold = Threshold::Duration(0);
    }
    let cfg = Arc::new(cfg);
    let connect = Arc::new(ConnectInfo::from_connect_reply(CONNECT_REPLY).expect("connect reply"));
    let mut ids = SeededIds::new(7);
    let headers = [
        ("Host", "wordpress.local"),
        ("Accept", "text/html,application/xhtml+xml"),
        ("User-Agent", "wrk/4.2"),
    ];
    let mut txn = Transaction::start(
        TxnKind::Web(WebRequest {
            method: "GET".into(),
            uri: "/".into(),
            script_name: "/index.php".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }),
        1_700_000_000_000_000,
        0,
        ClockScale::NANOS,
        cfg,
        connect,
        if sampled { (true, 1.5) } else { (false, 0.4) },
        &mut ids,
    );
    let mut b = Builder {
        txn: {
            txn.enter(0x10, 1_000);
            txn
        },
        now: 2_000,
        rng: Rng(0x9e37_79b9_7f4a_7c15),
        calls: 1,
        queries_left: QUERIES,
    };
    while b.calls < CALLS {
        let budget = (CALLS - b.calls).min(50_000);
        b.call(budget, 1);
    }
    while b.queries_left > 0 {
        b.query();
    }
    b.txn.enter_internal(b.now);
    b.now += 40_000;
    b.txn.leave_external(
        b.now,
        ExternalCall {
            url: "https://api.wordpress.org/core/version-check/1.7/".into(),
            library: "curl".into(),
            procedure: "GET".into(),
            status: Some(200),
        },
    );
    b.now += 1_000;
    b.txn.leave(b.now);
    b.txn.set_response_code(200);
    b.txn
        .add_response_header("Content-Type", "text/html; charset=UTF-8");
    (b.txn, b.now + 1_000, b.calls)
}

/// Names like the extension's: `Class::method` or a function, allocated
/// per lookup as `EngineNames` does.
fn name_of(k: usize) -> Option<String> {
    let i = k / 16;
    Some(if i % 3 == 0 {
        format!("wp_function_{i}")
    } else {
        format!("WP_Class_{}::method_{i}", i % 97)
    })
}

/// Finishes and encodes; returns the body length, the span count, the
/// trace's length and a hash of the body (FNV-1a, so runs before and after
/// a change can be compared for identical output).
fn finish(txn: Transaction, end: u64) -> (usize, usize, usize, u64) {
    let names = |k: usize| name_of(k);
    let data = txn
        .finish(
            end,
            1_700_000_000_000_000 + end / 1000,
            ResourceUsage {
                user_call_count: CALLS,
                ..ResourceUsage::default()
            },
            &names,
            4242,
        )
        .expect("not ignored");
    let body = seraph_wire::encode_transaction("RUN-1", &data);
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (
        body.len(),
        data.span_events.len(),
        data.trace.as_ref().map_or(0, |t| t.data.len()),
        hash,
    )
}

fn main() {
    if std::env::args().any(|a| a == "once") {
        let with_trace = std::env::args().any(|a| a == "trace");
        let sampled = !std::env::args().any(|a| a == "unsampled");
        let (txn, end, _) = build(with_trace, sampled);
        let r = finish(black_box(txn), end);
        println!(
            "body {} bytes (FNV-1a {:016x}), {} span events, trace {} bytes",
            r.0, r.3, r.1, r.2
        );
        return;
    }
    for (with_trace, sampled) in [(false, false), (false, true), (true, true)] {
        run(with_trace, sampled);
    }
}

fn run(with_trace: bool, sampled: bool) {
    const ROUNDS: u32 = 30;
    let mut times = Vec::with_capacity(ROUNDS as usize);
    let mut last = (0, 0, 0, 0);
    let mut calls = 0;
    let mut build_time = 0.0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let (txn, end, c) = build(with_trace, sampled);
        build_time += t.elapsed().as_secs_f64();
        calls = c;
        let t = Instant::now();
        last = black_box(finish(black_box(txn), end));
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{} ({calls} calls, {QUERIES} queries): finish+encode median {:.1} µs \
         (min {:.1} µs) over {ROUNDS} rounds; recording it took {:.1} ms; body {} bytes, \
         {} span events, trace {} bytes",
        match (with_trace, sampled) {
            (false, false) => "not sampled, no trace",
            (false, true) => "sampled, no trace    ",
            _ => "sampled, with a trace",
        },
        median * 1e6,
        times[0] * 1e6,
        build_time * 1e3 / f64::from(ROUNDS),
        last.0,
        last.1,
        last.2
    );
}
