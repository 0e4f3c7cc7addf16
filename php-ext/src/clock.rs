//! The hot-path clock.
//!
//! Observer begin/end handlers read the clock on every observed call, and
//! which clock is cheaper depends on the host: `rdtsc` is a few ns on bare
//! metal but microcoded and slower under some hypervisors, and the vDSO
//! `clock_gettime` is cheap with a TSC clocksource but a system call (or a
//! hypervisor page read) with others. So the process measures both once,
//! at start-up ([`select`], MINIT), and reads the cheaper valid one:
//! `rdtsc` only with an invariant TSC (it then reads raw TSC ticks and
//! converts them once, at the end of the transaction, with a scale
//! calibrated against `CLOCK_MONOTONIC`, refined at each request start),
//! otherwise `CLOCK_MONOTONIC` nanoseconds (scale 1).
//! `CLOCK_MONOTONIC_COARSE` is never used: its resolution (a scheduler tick,
//! 1-4 ms) is coarser than the 2 ms keep threshold. `SERAPH_CLOCK=tsc` or
//! `monotonic` overrides the choice (benchmarks; `tsc` still needs an
//! invariant TSC), as does the older `SERAPH_NO_TSC`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Monotonic nanoseconds.
#[inline]
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock microseconds since the epoch.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    use std::arch::x86_64::__cpuid;
    let max_ext = __cpuid(0x8000_0000).eax;
    if max_ext < 0x8000_0007 {
        return false;
    }
    let edx = __cpuid(0x8000_0007).edx;
    edx & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not chosen yet, 1: CLOCK_MONOTONIC, 2: TSC.
static SOURCE: AtomicU8 = AtomicU8::new(0);

/// Whether this process reads the TSC (see [`select`]). Decided once per
/// process, so the observer can pick handlers specialised for the source
/// (no branch per call).
pub fn tsc_source() -> bool {
    match SOURCE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => select().source == Source::Tsc,
    }
}

/// A hot-path clock source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Tsc,
    Monotonic,
}

/// What [`select`] measured and chose.
#[derive(Clone, Copy, Debug)]
pub struct Selection {
    pub source: Source,
    /// Nanoseconds per read, back to back (None: TSC not invariant).
    pub tsc_ns: Option<f64>,
    pub monotonic_ns: f64,
    /// Whether `SERAPH_CLOCK` (or `SERAPH_NO_TSC`) decided.
    pub forced: bool,
}

/// The first selection's choice and measurements.
static FIRST: std::sync::OnceLock<(Source, Option<f64>, f64, bool)> = std::sync::OnceLock::new();

/// The clock choice and what was measured for it (`php --ri newrelic`).
pub fn describe() -> String {
    let Some(&(source, tsc, mono, forced)) = FIRST.get() else {
        return "not chosen (the observer is not registered)".to_owned();
    };
    let tsc = tsc.map_or("not invariant".to_owned(), |t| format!("{t:.1} ns"));
    let by = if forced { "SERAPH_CLOCK" } else { "cheaper" };
    let name = match source {
        Source::Tsc => "rdtsc",
        Source::Monotonic => "CLOCK_MONOTONIC",
    };
    format!("{name} ({by}; per read: rdtsc {tsc}, clock_gettime {mono:.1} ns)")
}

/// Reads `f` `n` times; nanoseconds per read.
fn cost(n: u32, mut f: impl FnMut() -> u64) -> f64 {
    let mut sink = 0u64;
    let t0 = mono_ns();
    for _ in 0..n {
        sink = sink.wrapping_add(f());
    }
    let t1 = mono_ns();
    std::hint::black_box(sink);
    t1.saturating_sub(t0) as f64 / f64::from(n)
}

/// Measures both clocks (best of a few rounds of 2 000 reads, ~0.1 ms in
/// all) and picks the source: the cheaper valid one, unless the
/// environment says otherwise. Called in MINIT, before any request; later
/// calls return the first choice's source with fresh measurements.
pub fn select() -> Selection {
    let tsc_ok = invariant_tsc();
    let best = |f: &dyn Fn() -> u64| (0..5).map(|_| cost(2000, f)).fold(f64::INFINITY, f64::min);
    let monotonic_ns = best(&mono_ns);
    let tsc_ns = tsc_ok.then(|| best(&rdtsc));
    let env = std::env::var("SERAPH_CLOCK").ok();
    let (source, forced) = match env.as_deref().map(str::trim) {
        Some("monotonic") => (Source::Monotonic, true),
        Some("tsc") if tsc_ok => (Source::Tsc, true),
        _ if std::env::var_os("SERAPH_NO_TSC").is_some() => (Source::Monotonic, true),
        _ => match tsc_ns {
            Some(t) if t <= monotonic_ns => (Source::Tsc, false),
            _ => (Source::Monotonic, false),
        },
    };
    let want = if source == Source::Tsc { 2 } else { 1 };
    let _ = FIRST.set((source, tsc_ns, monotonic_ns, forced));
    let chosen = match SOURCE.compare_exchange(0, want, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => source,
        Err(2) => Source::Tsc,
        Err(_) => Source::Monotonic,
    };
    Selection {
        source: chosen,
        tsc_ns,
        monotonic_ns,
        forced,
    }
}

/// Current ticks of the source `TSC` selects (what [`Clock::now`] reads
/// for a clock on that source).
#[inline(always)]
pub fn ticks<const TSC: bool>() -> u64 {
    if TSC {
        rdtsc()
    } else {
        mono_ns()
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    // SAFETY: rdtsc is available on every x86_64 CPU and has no side
    // effects.
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rdtsc() -> u64 {
    mono_ns()
}

/// The process's tick source.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    tsc: bool,
    base_ticks: u64,
    base_ns: u64,
    ns_per_tick: f64,
}

impl Clock {
    /// Chooses the source and calibrates it (about 1 ms on first use).
    pub fn new() -> Clock {
        Self::with_source(tsc_source())
    }

    /// A clock on the given source (`false`: CLOCK_MONOTONIC).
    pub fn with_source(tsc: bool) -> Clock {
        if !tsc {
            return Clock {
                tsc: false,
                base_ticks: 0,
                base_ns: 0,
                ns_per_tick: 1.0,
            };
        }
        let (t0, n0) = (rdtsc(), mono_ns());
        // A short busy calibration; refined later by `refine`.
        let mut n1 = mono_ns();
        while n1 - n0 < 1_000_000 {
            std::hint::spin_loop();
            n1 = mono_ns();
        }
        let t1 = rdtsc();
        let ns_per_tick = (n1 - n0) as f64 / (t1.wrapping_sub(t0)).max(1) as f64;
        Clock {
            tsc: true,
            base_ticks: t0,
            base_ns: n0,
            ns_per_tick,
        }
    }

    /// Whether this clock reads the TSC.
    pub fn is_tsc(&self) -> bool {
        self.tsc
    }

    /// Current ticks.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        if self.tsc {
            rdtsc()
        } else {
            mono_ns()
        }
    }

    /// Nanoseconds per tick.
    pub fn ns_per_tick(&self) -> f64 {
        self.ns_per_tick
    }

    /// Seconds from `start` to `end` (0 if `end` is earlier).
    pub fn seconds_between(&self, start: u64, end: u64) -> f64 {
        end.saturating_sub(start) as f64 * self.ns_per_tick / 1e9
    }

    /// Re-derives the scale from the whole span since calibration, once
    /// it is long enough to be more precise than the initial 1 ms.
    pub fn refine(&mut self) {
        if !self.tsc {
            return;
        }
        let (t, n) = (rdtsc(), mono_ns());
        let dn = n.saturating_sub(self.base_ns);
        let dt = t.wrapping_sub(self.base_ticks);
        if dn >= 50_000_000 && dt > 0 {
            self.ns_per_tick = dn as f64 / dt as f64;
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chosen_source_is_valid_and_kept() {
        let s = select();
        assert!(s.monotonic_ns > 0.0);
        if s.source == Source::Tsc {
            assert!(invariant_tsc());
        }
        assert_eq!(tsc_source(), s.source == Source::Tsc);
        assert_eq!(select().source, s.source);
    }

    #[test]
    fn both_sources_measure_a_sleep() {
        for tsc in [false, invariant_tsc()] {
            let c = Clock::with_source(tsc);
            let a = c.now();
            std::thread::sleep(std::time::Duration::from_millis(20));
            let b = c.now();
            let ns = (b - a) as f64 * c.ns_per_tick();
            // Lower bound only: a sleep never ends early, but a busy
            // machine may end it late.
            assert!(ns >= 19e6, "tsc={tsc}: {ns} ns");
        }
    }
}
