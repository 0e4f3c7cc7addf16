//! Behaviour of the spool through its public API, including damage done to its files between
//! opens.

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use seraph_spool::{PushReport, Record, Spool, SpoolConfig, SpoolError, WhenFull};

fn config() -> SpoolConfig {
    SpoolConfig {
        max_bytes: 1 << 20,
        max_segment_bytes: 64 << 10,
        when_full: WhenFull::DropOldest,
        max_age: None,
    }
}

fn push(spool: &mut Spool, app: &str, body: &[u8]) -> u64 {
    push_at(spool, app, body, 1_700_000_000)
}

fn push_at(spool: &mut Spool, app: &str, body: &[u8], created: u64) -> u64 {
    let report = spool
        .push(Record {
            app,
            method: "metric_data",
            created_unix_s: created,
            body,
        })
        .expect("push");
    report.id.expect("stored")
}

fn bodies(spool: &mut Spool, app: &str, max: usize) -> Vec<Vec<u8>> {
    spool
        .take(app, max)
        .expect("take")
        .into_iter()
        .map(|r| r.body)
        .collect()
}

fn take_ack_all(spool: &mut Spool, app: &str) -> Vec<Vec<u8>> {
    let recs = spool.take(app, usize::MAX).expect("take");
    let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
    assert_eq!(spool.ack(app, &ids).expect("ack"), ids.len());
    recs.into_iter().map(|r| r.body).collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[test]
fn round_trip_and_reclaim() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    let id = spool
        .push(Record {
            app: "app-a",
            method: "analytic_event_data",
            created_unix_s: 1_700_000_123,
            body: b"[1,2,3]",
        })
        .unwrap()
        .id
        .unwrap();
    assert_eq!(spool.apps(), vec!["app-a".to_string()]);
    assert_eq!(spool.pending("app-a"), 1);
    assert_eq!(spool.pending("other"), 0);

    let recs = spool.take("app-a", 10).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].id, id);
    assert_eq!(recs[0].method, "analytic_event_data");
    assert_eq!(recs[0].created_unix_s, 1_700_000_123);
    assert_eq!(recs[0].body, b"[1,2,3]");
    assert_eq!(spool.pending("app-a"), 0);
    assert!(spool.apps().is_empty(), "in-flight records are not pending");
    assert_eq!(spool.stats().in_flight, 1);
    assert_eq!(segments(dir.path()).len(), 1);

    assert_eq!(spool.ack("app-a", &[id]).unwrap(), 1);
    let stats = spool.stats();
    assert_eq!(
        (stats.records, stats.in_flight, stats.segments, stats.bytes),
        (0, 0, 0, 0)
    );
    assert!(segments(dir.path()).is_empty(), "spent segment deleted");
    assert_eq!(spool.ack("app-a", &[id]).unwrap(), 0, "second ack ignored");
}

#[test]
fn take_zero_and_unknown_app() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    push(&mut spool, "a", b"x");
    assert!(spool.take("a", 0).unwrap().is_empty());
    assert!(spool.take("nope", 5).unwrap().is_empty());
    assert_eq!(spool.nack("nope", &[1]), 0);
    assert_eq!(spool.ack("nope", &[1]).unwrap(), 0);
    assert_eq!(spool.pending("a"), 1);
}

#[test]
fn order_per_app_and_nack() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    for i in 1..=3 {
        push(&mut spool, "a", format!("a{i}").as_bytes());
        push(&mut spool, "b", format!("b{i}").as_bytes());
    }
    assert_eq!(spool.apps(), vec!["a".to_string(), "b".to_string()]);
    let first = spool.take("a", 2).unwrap();
    assert_eq!(
        first.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
        vec![b("a1"), b("a2")]
    );
    assert!(first[0].id < first[1].id);
    assert_eq!(bodies(&mut spool, "a", 5), vec![b("a3")]);
    // A failed send returns its records; they come back first, in order.
    assert_eq!(spool.nack("a", &[first[1].id, first[0].id]), 2);
    assert_eq!(spool.nack("a", &[first[0].id]), 0, "not in flight any more");
    assert_eq!(bodies(&mut spool, "a", 5), vec![b("a1"), b("a2")]);
    assert_eq!(bodies(&mut spool, "b", 5), vec![b("b1"), b("b2"), b("b3")]);
    // Acks for another app's ids are ignored.
    assert_eq!(spool.ack("b", &[first[0].id]).unwrap(), 0);
}

#[test]
fn persistence_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<u64>;
    {
        let mut spool = Spool::open(dir.path(), config()).unwrap();
        ids = (1..=5)
            .map(|i| push(&mut spool, "a", format!("r{i}").as_bytes()))
            .collect();
        let taken = spool.take("a", 3).unwrap();
        assert_eq!(spool.ack("a", &[taken[0].id, taken[1].id]).unwrap(), 2);
        // taken[2] stays in flight when the spool goes away.
    }
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.pending("a"), 3);
    let recs = spool.take("a", 10).unwrap();
    assert_eq!(
        recs.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids[2..].to_vec()
    );
    assert_eq!(
        recs.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
        vec![b("r3"), b("r4"), b("r5")]
    );
    // New ids never reuse old ones.
    let new_id = push(&mut spool, "a", b"r6");
    assert!(new_id > ids[4]);
    assert_eq!(spool.ack("a", &[recs[0].id]).unwrap(), 1);
    drop(spool);

    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(
        take_ack_all(&mut spool, "a"),
        vec![b("r4"), b("r5"), b("r6")]
    );
    drop(spool);
    let spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().records, 0);
    assert!(segments(dir.path()).is_empty());
    let ledger = std::fs::metadata(dir.path().join("acks")).unwrap();
    assert_eq!(ledger.len(), 8, "ledger compacted to its header");
}

#[test]
fn torn_tail_keeps_valid_prefix() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = Spool::open(dir.path(), config()).unwrap();
        for i in 1..=3 {
            push(&mut spool, "a", format!("record number {i}").as_bytes());
        }
    }
    let seg = segments(dir.path()).pop().unwrap();
    let full = std::fs::metadata(&seg).unwrap().len();
    // Cut the last record in half, as a crash mid-write would.
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(full - 20)
        .unwrap();

    let mut spool = Spool::open(dir.path(), config()).unwrap();
    let stats = spool.stats();
    assert_eq!(stats.records, 2);
    assert!(stats.torn_bytes > 0);
    assert_eq!(stats.corrupted_records, 0);
    push(&mut spool, "a", b"after the tear");
    drop(spool);

    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().torn_bytes, 0, "the tear was repaired");
    assert_eq!(
        bodies(&mut spool, "a", 10),
        vec![
            b("record number 1"),
            b("record number 2"),
            b("after the tear")
        ]
    );
}

#[test]
fn segment_without_header_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = Spool::open(dir.path(), config()).unwrap();
        push(&mut spool, "a", b"kept");
    }
    // A crash right after creating the next segment.
    std::fs::write(dir.path().join("00000000000000000009.seg"), b"SRS").unwrap();
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().torn_bytes, 3);
    assert_eq!(segments(dir.path()).len(), 1);
    push(&mut spool, "a", b"new");
    assert_eq!(bodies(&mut spool, "a", 10), vec![b("kept"), b("new")]);
}

fn flip_byte(path: &Path, offset: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    f.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 0x40;
    f.write_all_at(&byte, offset).unwrap();
}

/// Offset of `needle` in the file.
fn find(path: &Path, needle: &[u8]) -> u64 {
    let data = std::fs::read(path).unwrap();
    data.windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in file") as u64
}

#[test]
fn flipped_byte_skips_one_record_found_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = Spool::open(dir.path(), config()).unwrap();
        for body in ["first body", "second body", "third body"] {
            push(&mut spool, "a", body.as_bytes());
        }
    }
    let seg = segments(dir.path()).pop().unwrap();
    flip_byte(&seg, find(&seg, b"second body") + 3);
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().corrupted_records, 1);
    assert_eq!(
        bodies(&mut spool, "a", 10),
        vec![b("first body"), b("third body")]
    );
}

#[test]
fn flipped_length_field_skips_one_record() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = Spool::open(dir.path(), config()).unwrap();
        for body in ["first body", "second body", "third body"] {
            push(&mut spool, "a", body.as_bytes());
        }
    }
    let seg = segments(dir.path()).pop().unwrap();
    let data = std::fs::read(&seg).unwrap();
    // Second record's start: magic bytes, second occurrence.
    let magic = 0x5352_5243u32.to_le_bytes();
    let starts: Vec<usize> = data
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == magic)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), 3);
    flip_byte(&seg, starts[1] as u64 + 5); // inside the length field
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().corrupted_records, 1);
    assert_eq!(
        bodies(&mut spool, "a", 10),
        vec![b("first body"), b("third body")]
    );
}

#[test]
fn damage_after_open_is_caught_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    for body in ["first body", "second body", "third body"] {
        push(&mut spool, "a", body.as_bytes());
    }
    let seg = segments(dir.path()).pop().unwrap();
    flip_byte(&seg, find(&seg, b"second body"));
    assert_eq!(
        bodies(&mut spool, "a", 10),
        vec![b("first body"), b("third body")]
    );
    assert_eq!(spool.stats().corrupted_records, 1);
    assert_eq!(spool.stats().records, 2);
}

#[test]
fn damaged_ledger_entry_resends_not_loses() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = Spool::open(dir.path(), config()).unwrap();
        for i in 1..=4 {
            push(&mut spool, "a", format!("r{i}").as_bytes());
        }
        let recs = spool.take("a", 2).unwrap();
        spool.ack("a", &[recs[0].id, recs[1].id]).unwrap();
    }
    // Header (8) + first entry (12): damage the second entry's id.
    flip_byte(&dir.path().join("acks"), 8 + 12 + 1);
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(spool.stats().corrupted_records, 1);
    assert_eq!(bodies(&mut spool, "a", 10), vec![b("r2"), b("r3"), b("r4")]);
}

#[test]
fn torn_ledger_tail_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = Spool::open(dir.path(), config()).unwrap();
        for i in 1..=3 {
            push(&mut spool, "a", format!("r{i}").as_bytes());
        }
        let recs = spool.take("a", 2).unwrap();
        spool.ack("a", &[recs[0].id]).unwrap();
        spool.ack("a", &[recs[1].id]).unwrap();
    }
    let acks = dir.path().join("acks");
    let len = std::fs::metadata(&acks).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&acks)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    assert_eq!(bodies(&mut spool, "a", 10), vec![b("r2"), b("r3")]);
}

fn small(when_full: WhenFull) -> SpoolConfig {
    // Each record below encodes to 32 + 1 + 11 + 100 = 144 bytes; a segment holds 2 of them
    // (8 + 288 = 296 <= 300) and the spool 3 segments.
    SpoolConfig {
        max_bytes: 900,
        max_segment_bytes: 300,
        when_full,
        max_age: None,
    }
}

fn body(i: u8) -> Vec<u8> {
    vec![i; 100]
}

fn push_report(spool: &mut Spool, i: u8) -> PushReport {
    spool
        .push(Record {
            app: "a",
            method: "metric_data",
            created_unix_s: 1,
            body: &body(i),
        })
        .unwrap()
}

#[test]
fn full_spool_drops_oldest_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), small(WhenFull::DropOldest)).unwrap();
    for i in 0..6 {
        let r = push_report(&mut spool, i);
        assert_eq!((r.dropped_records, r.dropped_bytes), (0, 0), "push {i}");
    }
    assert_eq!(spool.stats().bytes, 3 * 296);
    let r = push_report(&mut spool, 6);
    assert!(r.id.is_some());
    assert_eq!((r.dropped_records, r.dropped_bytes), (2, 200));
    let stats = spool.stats();
    assert!(stats.bytes <= 900);
    assert_eq!((stats.dropped_records, stats.dropped_bytes), (2, 200));
    let got = bodies(&mut spool, "a", 10);
    assert_eq!(got, (2..=6).map(body).collect::<Vec<_>>());
}

#[test]
fn drop_oldest_can_take_records_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), small(WhenFull::DropOldest)).unwrap();
    for i in 0..6 {
        push_report(&mut spool, i);
    }
    let taken = spool.take("a", 1).unwrap();
    let r = push_report(&mut spool, 6);
    assert_eq!(r.dropped_records, 2);
    assert_eq!(
        spool.ack("a", &[taken[0].id]).unwrap(),
        0,
        "already dropped"
    );
    assert_eq!(spool.stats().in_flight, 0);
}

#[test]
fn full_spool_drops_newest() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), small(WhenFull::DropNewest)).unwrap();
    for i in 0..6 {
        assert!(push_report(&mut spool, i).id.is_some());
    }
    let r = push_report(&mut spool, 6);
    assert_eq!(
        r,
        PushReport {
            id: None,
            dropped_records: 1,
            dropped_bytes: 100
        }
    );
    assert_eq!(spool.stats().dropped_records, 1);
    // Room comes back once a whole segment is acknowledged.
    let recs = spool.take("a", 2).unwrap();
    spool
        .ack("a", &recs.iter().map(|r| r.id).collect::<Vec<_>>())
        .unwrap();
    assert!(push_report(&mut spool, 7).id.is_some());
    let mut want: Vec<Vec<u8>> = (2..6).map(body).collect();
    want.push(body(7));
    assert_eq!(bodies(&mut spool, "a", 10), want);
}

#[test]
fn shrunk_limit_applied_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = Spool::open(dir.path(), small(WhenFull::DropOldest)).unwrap();
        for i in 0..6 {
            push_report(&mut spool, i);
        }
    }
    let cfg = SpoolConfig {
        max_bytes: 600,
        ..small(WhenFull::DropOldest)
    };
    let mut spool = Spool::open(dir.path(), cfg).unwrap();
    assert_eq!(spool.stats().dropped_records, 2);
    assert_eq!(
        bodies(&mut spool, "a", 10),
        (2..6).map(body).collect::<Vec<_>>()
    );
}

#[test]
fn record_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), small(WhenFull::DropOldest)).unwrap();
    let big = vec![0u8; 300];
    let err = spool
        .push(Record {
            app: "a",
            method: "m",
            created_unix_s: 0,
            body: &big,
        })
        .unwrap_err();
    assert!(
        matches!(err, SpoolError::RecordTooLarge { limit: 292, .. }),
        "{err}"
    );
    let err = spool
        .push(Record {
            app: "",
            method: "m",
            created_unix_s: 0,
            body: b"",
        })
        .unwrap_err();
    assert!(matches!(err, SpoolError::InvalidRecord(_)), "{err}");
    // The largest record that fits.
    let fits = vec![0u8; 292 - 32 - 2];
    assert!(spool
        .push(Record {
            app: "a",
            method: "m",
            created_unix_s: 0,
            body: &fits,
        })
        .unwrap()
        .id
        .is_some());
    assert_eq!(spool.stats().records, 1);
}

#[test]
fn bad_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 100,
        max_segment_bytes: 200,
        ..config()
    };
    assert!(matches!(
        Spool::open(dir.path(), cfg),
        Err(SpoolError::Config(_))
    ));
}

#[test]
fn max_age_discards_on_take() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_age: Some(Duration::from_secs(100)),
        ..config()
    };
    {
        let mut spool = Spool::open(dir.path(), cfg.clone()).unwrap();
        push_at(&mut spool, "a", b"old", 1000);
        push_at(&mut spool, "a", b"edge", 1100);
        push_at(&mut spool, "a", b"new", 1150);
        push_at(&mut spool, "b", b"old b", 1000);
        let recs = spool.take_at("a", 10, 1200).unwrap();
        assert_eq!(
            recs.into_iter().map(|r| r.body).collect::<Vec<_>>(),
            vec![b("edge"), b("new")],
            "exactly max_age old is kept"
        );
        assert_eq!(spool.stats().expired_records, 1);
        assert_eq!(spool.pending("b"), 1, "other apps untouched by take");
    }
    let mut spool = Spool::open(dir.path(), cfg).unwrap();
    assert_eq!(spool.pending("a"), 2, "expired record did not come back");
    assert_eq!(spool.expire_at(1200).unwrap(), 1);
    assert_eq!(spool.pending("b"), 0);
    assert_eq!(spool.stats().expired_records, 1);
}

#[test]
fn second_opener_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), config()).unwrap();
    match Spool::open(dir.path(), config()) {
        Err(SpoolError::Locked { dir: d, holder }) => {
            assert_eq!(d, dir.path());
            assert_eq!(holder, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(spool);
    Spool::open(dir.path(), config()).unwrap();
}

#[test]
fn permissions_are_private() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("nested").join("spool");
    let mut spool = Spool::open(&dir, config()).unwrap();
    push(&mut spool, "a", b"x");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

#[test]
fn foreign_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    std::fs::write(dir.path().join("12.seg"), b"not ours").unwrap();
    let mut spool = Spool::open(dir.path(), config()).unwrap();
    push(&mut spool, "a", b"x");
    take_ack_all(&mut spool, "a");
    drop(spool);
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"hello"
    );
    assert!(dir.path().join("12.seg").exists());
}

#[test]
fn many_apps_interleaved() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 4 << 20,
        max_segment_bytes: 8 << 10,
        ..config()
    };
    let apps: Vec<String> = (0..20).map(|i| format!("app-{i:02}")).collect();
    {
        let mut spool = Spool::open(dir.path(), cfg.clone()).unwrap();
        for n in 0..30 {
            for app in &apps {
                push(&mut spool, app, format!("{app}/{n}").as_bytes());
            }
        }
        assert!(spool.stats().segments > 1);
        // Drain half of every app before a restart.
        for app in &apps {
            let recs = spool.take(app, 15).unwrap();
            let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
            spool.ack(app, &ids).unwrap();
        }
    }
    let mut spool = Spool::open(dir.path(), cfg).unwrap();
    assert_eq!(spool.apps(), apps);
    for app in &apps {
        let mut got = Vec::new();
        loop {
            let recs = spool.take(app, 4).unwrap();
            if recs.is_empty() {
                break;
            }
            let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
            spool.ack(app, &ids).unwrap();
            got.extend(recs.into_iter().map(|r| String::from_utf8(r.body).unwrap()));
        }
        let want: Vec<String> = (15..30).map(|n| format!("{app}/{n}")).collect();
        assert_eq!(got, want);
    }
    let stats = spool.stats();
    assert_eq!((stats.records, stats.segments, stats.bytes), (0, 0, 0));
    assert!(segments(dir.path()).is_empty());
}

/// The daemon moves the spool into blocking tasks.
#[test]
fn spool_is_send() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Spool>();
    assert_send::<SpoolError>();
}
