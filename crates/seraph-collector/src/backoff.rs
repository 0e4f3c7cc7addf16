//! Retry delays as plain state machines, so callers (and tests) decide how
//! time passes.
//!
//! * [`Backoff`]: connect retries: 1 s doubling to a cap, reset on success
//!   or after a stable minute.
//! * [`HarvestBackoff`]: failed harvests: H×1, H×1, H×2, H×4, H×8, then
//!   H×16 until a success.
//!
//! `docs/daemon.md` §13 describes the retry rules the daemon applies and
//! which of these it uses.

use std::time::Duration;

/// How long a connection must have held before a later failure starts the
/// backoff from the beginning again.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Exponential backoff for connect attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    next: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 512 s.
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(512))
    }
}

impl Backoff {
    /// Starts at `initial`, doubles per failure, never exceeds `cap`.
    pub fn new(initial: Duration, cap: Duration) -> Self {
        let initial = initial.min(cap);
        Backoff {
            initial,
            cap,
            next: initial,
        }
    }

    /// The delay before the next attempt, advancing the sequence.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.cap);
        d
    }

    /// The delay [`Backoff::next_delay`] would return, without advancing.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// Back to the initial delay (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// Resets if the connection that just failed had been up for at least
    /// [`STABLE_AFTER`].
    pub fn connection_lost_after(&mut self, uptime: Duration) {
        if uptime >= STABLE_AFTER {
            self.reset();
        }
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

/// Multipliers of the harvest period after consecutive failures.
const HARVEST_STEPS: [u32; 6] = [1, 1, 2, 4, 8, 16];

/// Backoff for failed harvest sends, in multiples of the harvest period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarvestBackoff {
    period: Duration,
    failures: usize,
}

impl HarvestBackoff {
    /// For a harvest every `period`.
    pub fn new(period: Duration) -> Self {
        HarvestBackoff {
            period,
            failures: 0,
        }
    }

    /// The delay after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let step = HARVEST_STEPS[self.failures.min(HARVEST_STEPS.len() - 1)];
        self.failures = self.failures.saturating_add(1);
        self.period.saturating_mul(step)
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// A send succeeded: back to the plain period.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

impl Iterator for HarvestBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

/// A `Retry-After` from the collector is a floor, never a ceiling.
pub fn honour_retry_after(delay: Duration, retry_after: Option<Duration>) -> Duration {
    retry_after.map_or(delay, |r| delay.max(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().copied().map(Duration::from_secs).collect()
    }

    #[test]
    fn connect_backoff_doubles_to_cap_and_resets() {
        let mut b = Backoff::default();
        let first: Vec<Duration> = b.by_ref().take(12).collect();
        assert_eq!(
            first,
            secs(&[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512])
        );
        b.reset();
        assert_eq!(b.peek(), Duration::from_secs(1));
        b.next_delay();
        b.next_delay();
        b.connection_lost_after(Duration::from_secs(59));
        assert_eq!(b.peek(), Duration::from_secs(4));
        b.connection_lost_after(STABLE_AFTER);
        assert_eq!(b.peek(), Duration::from_secs(1));

        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(
            b.by_ref().take(7).collect::<Vec<_>>(),
            secs(&[1, 2, 4, 8, 16, 30, 30])
        );
        let mut tiny = Backoff::new(Duration::from_secs(10), Duration::from_secs(5));
        assert_eq!(tiny.next_delay(), Duration::from_secs(5));
    }

    #[test]
    fn harvest_backoff_sequence() {
        let mut h = HarvestBackoff::new(Duration::from_secs(5));
        let seq: Vec<Duration> = h.by_ref().take(8).collect();
        assert_eq!(seq, secs(&[5, 5, 10, 20, 40, 80, 80, 80]));
        assert_eq!(h.failures(), 8);
        h.reset();
        assert_eq!(h.next_delay(), Duration::from_secs(5));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let d = Duration::from_secs(10);
        assert_eq!(honour_retry_after(d, None), d);
        assert_eq!(honour_retry_after(d, Some(Duration::from_secs(3))), d);
        assert_eq!(
            honour_retry_after(d, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }
}
