//! The hot-path clock.
//!
//! Observer begin/end handlers read the clock on every observed call, and
//! on this machine `rdtsc` is about five times cheaper than the vDSO
//! `clock_gettime` (an observer reading one or the other at both ends of
//! every call made `fib(30)` about 2.3× or 4.3–4.5× slower;
//! `docs/benchmarks.md`). So when the CPU
//! advertises an invariant TSC the extension reads raw TSC ticks and
//! converts them once, at the end of the transaction, with a scale
//! calibrated against `CLOCK_MONOTONIC`; otherwise it reads
//! `CLOCK_MONOTONIC` nanoseconds (scale 1). The calibration refines itself
//! over the life of the process: each request start measures TSC against
//! the monotonic clock since the first calibration point.

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

/// Whether this process reads the TSC: an invariant TSC and no
/// `SERAPH_NO_TSC`. Decided once per process, so the observer can pick
/// handlers specialised for the source (no branch per call).
pub fn tsc_source() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static SOURCE: AtomicU8 = AtomicU8::new(0);
    match SOURCE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let tsc = invariant_tsc() && std::env::var_os("SERAPH_NO_TSC").is_none();
            SOURCE.store(if tsc { 2 } else { 1 }, Ordering::Relaxed);
            tsc
        }
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
