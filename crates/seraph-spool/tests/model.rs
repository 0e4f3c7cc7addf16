//! Seeded random sequences of push / take / ack / nack / expire / reopen checked against an
//! in-memory model of what the spool must hold.
//!
//! The PRNG is a local splitmix64, so a failing seed replays exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use seraph_spool::{Record, Spool, SpoolConfig, WhenFull};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const APPS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const METHODS: [&str; 3] = ["metric_data", "analytic_event_data", "span_event_data"];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    method: String,
    created: u64,
    body: Vec<u8>,
}

/// What the spool should hold, per app.
#[derive(Default)]
struct Model {
    pending: BTreeMap<String, BTreeMap<u64, Stored>>,
    in_flight: BTreeMap<String, BTreeMap<u64, Stored>>,
}

impl Model {
    fn reopen(&mut self) {
        for (app, recs) in std::mem::take(&mut self.in_flight) {
            self.pending.entry(app).or_default().extend(recs);
        }
    }
    fn apps(&self) -> Vec<String> {
        self.pending
            .iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(a, _)| a.clone())
            .collect()
    }
    fn live(&self) -> u64 {
        self.pending
            .values()
            .chain(self.in_flight.values())
            .map(|m| m.len() as u64)
            .sum()
    }
}

fn body_for(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => 0,
        1 => 3000 + rng.below(3000) as usize,
        _ => rng.below(400) as usize,
    };
    let seed = rng.next();
    (0..len)
        .map(|i| (seed >> ((i % 8) * 8)) as u8 ^ i as u8)
        .collect()
}

/// Segment files on disk must be exactly what the spool accounts for (reclaim invariant).
fn check_files(spool: &Spool, dir: &Path) {
    let (mut n, mut bytes) = (0u64, 0u64);
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().ends_with(".seg") {
            n += 1;
            bytes += e.metadata().unwrap().len();
        }
    }
    let stats = spool.stats();
    assert_eq!((stats.segments, stats.bytes), (n, bytes), "files vs stats");
}

fn run_exact(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 16 << 20,
        max_segment_bytes: 16 << 10,
        when_full: WhenFull::DropOldest,
        max_age: Some(Duration::from_secs(1000)),
    };
    let mut rng = Rng(seed);
    let mut spool = Spool::open(dir.path(), cfg.clone()).unwrap();
    let mut model = Model::default();
    let mut now = 10_000u64;
    let mut last_id = 0;
    let (mut max_segments, mut expired_total, mut reopens) = (0, 0, 0);
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step}");
        let app = APPS[rng.below(APPS.len() as u64) as usize];
        match rng.below(100) {
            0..=39 => {
                let method = METHODS[rng.below(3) as usize];
                let body = body_for(&mut rng);
                // Mostly fresh, sometimes already old enough to expire soon.
                let spread = if rng.chance(10) { 1500 } else { 10 };
                let created = now - rng.below(spread);
                let r = spool
                    .push(Record {
                        app,
                        method,
                        created_unix_s: created,
                        body: &body,
                    })
                    .unwrap();
                assert_eq!(r.dropped_records, 0, "{ctx}");
                let id = r.id.unwrap();
                assert!(id > last_id, "{ctx}: ids increase");
                last_id = id;
                model.pending.entry(app.to_string()).or_default().insert(
                    id,
                    Stored {
                        method: method.to_string(),
                        created,
                        body,
                    },
                );
            }
            40..=59 => {
                let max = 1 + rng.below(5) as usize;
                let got = spool.take_at(app, max, now).unwrap();
                let pend = model.pending.entry(app.to_string()).or_default();
                let cutoff = now - 1000;
                pend.retain(|_, s| s.created >= cutoff);
                let mut want = Vec::new();
                while want.len() < max {
                    let Some((id, s)) = pend.pop_first() else {
                        break;
                    };
                    model
                        .in_flight
                        .entry(app.to_string())
                        .or_default()
                        .insert(id, s.clone());
                    want.push((id, s));
                }
                let got: Vec<(u64, Stored)> = got
                    .into_iter()
                    .map(|r| {
                        (
                            r.id,
                            Stored {
                                method: r.method,
                                created: r.created_unix_s,
                                body: r.body,
                            },
                        )
                    })
                    .collect();
                assert_eq!(got, want, "{ctx}: take");
            }
            60..=74 => {
                let fl = model.in_flight.entry(app.to_string()).or_default();
                let mut ids: Vec<u64> = fl.keys().copied().filter(|_| rng.chance(70)).collect();
                if rng.chance(20) {
                    ids.push(last_id + 1000); // unknown ids are ignored
                }
                let n = spool.ack(app, &ids).unwrap();
                let mut acked = 0;
                for id in &ids {
                    acked += usize::from(fl.remove(id).is_some());
                }
                assert_eq!(n, acked, "{ctx}: ack");
            }
            75..=84 => {
                let fl = model.in_flight.entry(app.to_string()).or_default();
                let ids: Vec<u64> = fl.keys().copied().filter(|_| rng.chance(60)).collect();
                let n = spool.nack(app, &ids);
                assert_eq!(n, ids.len(), "{ctx}: nack");
                let pend = model.pending.entry(app.to_string()).or_default();
                for id in ids {
                    let s = fl.remove(&id).unwrap();
                    pend.insert(id, s);
                }
            }
            85..=89 => {
                now += rng.below(200);
            }
            90..=92 => {
                let n = spool.expire_at(now).unwrap();
                let cutoff = now - 1000;
                let mut expired = 0;
                for pend in model.pending.values_mut() {
                    let before = pend.len();
                    pend.retain(|_, s| s.created >= cutoff);
                    expired += (before - pend.len()) as u64;
                }
                assert_eq!(n, expired, "{ctx}: expire");
                expired_total += n;
            }
            _ => {
                drop(spool);
                spool = Spool::open(dir.path(), cfg.clone()).unwrap();
                model.reopen();
                reopens += 1;
                let s = spool.stats();
                assert_eq!((s.corrupted_records, s.torn_bytes), (0, 0), "{ctx}");
            }
        }
        assert_eq!(spool.apps(), model.apps(), "{ctx}: apps");
        for app in APPS {
            assert_eq!(
                spool.pending(app),
                model.pending.get(app).map_or(0, |m| m.len()),
                "{ctx}: pending({app})"
            );
        }
        let stats = spool.stats();
        assert_eq!(stats.records, model.live(), "{ctx}: live records");
        assert_eq!(
            stats.in_flight,
            model
                .in_flight
                .values()
                .map(|m| m.len() as u64)
                .sum::<u64>(),
            "{ctx}: in flight"
        );
        check_files(&spool, dir.path());
        max_segments = max_segments.max(stats.segments);
    }
    // The sequence must have exercised rotation, expiry and recovery, or it proves little.
    assert!(max_segments > 2, "segments: {max_segments}");
    assert!(expired_total > 0);
    assert!(reopens > 10, "reopens: {reopens}");
}

#[test]
fn model_exact_seed_1() {
    run_exact(1, 1500);
}

#[test]
fn model_exact_seed_2() {
    run_exact(0xdead_beef, 1500);
}

/// With tiny limits the exact drops depend on segment boundaries, so check what must hold
/// regardless: bodies match their ids, each app's records come out in id order between
/// nacks, the byte bound holds, and records are conserved (pushed = live + acked + dropped).
fn run_bounded(seed: u64, steps: usize, when_full: WhenFull) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 12 << 10,
        max_segment_bytes: 3 << 10,
        when_full,
        max_age: None,
    };
    let mut rng = Rng(seed);
    let mut spool = Spool::open(dir.path(), cfg.clone()).unwrap();
    let mut bodies: BTreeMap<u64, (String, Vec<u8>)> = BTreeMap::new();
    let mut in_flight: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut last_taken: BTreeMap<String, u64> = BTreeMap::new();
    let (mut pushed, mut acked, mut dropped) = (0u64, 0u64, 0u64);
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step}");
        let app = APPS[rng.below(2) as usize];
        match rng.below(100) {
            0..=49 => {
                let body: Vec<u8> = vec![rng.next() as u8; rng.below(1500) as usize];
                let r = spool
                    .push(Record {
                        app,
                        method: "m",
                        created_unix_s: 1,
                        body: &body,
                    })
                    .unwrap();
                pushed += 1;
                dropped += r.dropped_records;
                match r.id {
                    Some(id) => {
                        bodies.insert(id, (app.to_string(), body));
                    }
                    None => assert_eq!(r.dropped_records, 1, "{ctx}"),
                }
            }
            50..=74 => {
                for r in spool.take_at(app, 3, 1).unwrap() {
                    let (owner, body) = &bodies[&r.id];
                    assert_eq!((owner.as_str(), body), (app, &r.body), "{ctx}");
                    let last = last_taken.entry(app.to_string()).or_default();
                    assert!(r.id > *last, "{ctx}: order");
                    *last = r.id;
                    in_flight.entry(app.to_string()).or_default().insert(r.id);
                }
            }
            75..=89 => {
                let ids: Vec<u64> = in_flight
                    .entry(app.to_string())
                    .or_default()
                    .iter()
                    .copied()
                    .collect();
                // Some may have been dropped while in flight; the spool says how many counted.
                acked += spool.ack(app, &ids).unwrap() as u64;
                in_flight.remove(app);
            }
            90..=95 => {
                let ids: Vec<u64> = in_flight
                    .remove(app)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                spool.nack(app, &ids);
                last_taken.remove(app);
            }
            _ => {
                drop(spool);
                spool = Spool::open(dir.path(), cfg.clone()).unwrap();
                in_flight.clear();
                last_taken.clear();
            }
        }
        let stats = spool.stats();
        assert!(stats.bytes <= cfg.max_bytes, "{ctx}: bound");
        assert_eq!(
            pushed,
            stats.records + acked + dropped,
            "{ctx}: conservation"
        );
        check_files(&spool, dir.path());
    }
    assert!(dropped > 0, "the test should exercise the full policy");
}

#[test]
fn model_bounded_drop_oldest() {
    run_bounded(7, 1500, WhenFull::DropOldest);
}

#[test]
fn model_bounded_drop_newest() {
    run_bounded(8, 1500, WhenFull::DropNewest);
}
