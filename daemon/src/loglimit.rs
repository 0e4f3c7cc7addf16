//! Rate limits for log lines that a fault can repeat thousands of times a
//! second (bad frames from a broken agent, failed posts during a collector
//! outage, refused connections). One line per period gets through and says
//! how many like it were held back since the last one, so the log stays
//! readable and nothing goes unaccounted for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One rate-limited kind of log line. Cheap enough for hot paths: two
/// relaxed atomics, no lock.
#[derive(Debug)]
pub struct LogLimit {
    every_ms: u64,
    /// When the last line was let through, in ms since [`epoch`] plus one
    /// (0: never).
    last: AtomicU64,
    /// Lines held back since then.
    suppressed: AtomicU64,
}

/// The usual period: one line a minute.
pub const EVERY_MINUTE: Duration = Duration::from_secs(60);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl LogLimit {
    /// A limit of one line per `every`.
    pub const fn new(every: Duration) -> Self {
        LogLimit {
            every_ms: every.as_millis() as u64,
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when a line may be written now, `n` being how many were
    /// held back since the previous one; `None` (and the line counted) when
    /// it must be held back.
    pub fn check(&self) -> Option<u64> {
        self.check_at(u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn check_at(&self, now_ms: u64) -> Option<u64> {
        let stamp = now_ms.saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || stamp.saturating_sub(last) >= self.every_ms;
        // One thread wins the slot; the others count as held back.
        if due
            && self
                .last
                .compare_exchange(last, stamp, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// Logs through a [`LogLimit`]: `limited!(LIMIT, warn, field = %v, "msg")`.
/// The line that gets through carries `suppressed=<n>` when lines were held
/// back before it.
#[macro_export]
macro_rules! limited {
    ($limit:expr, $level:ident, $($arg:tt)+) => {
        if let Some(n) = $limit.check() {
            if n > 0 {
                tracing::$level!(suppressed = n, $($arg)+);
            } else {
                tracing::$level!($($arg)+);
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_with_the_count_of_those_held_back() {
        let limit = LogLimit::new(Duration::from_secs(60));
        assert_eq!(limit.check_at(0), Some(0));
        for ms in 1..=1000 {
            assert_eq!(limit.check_at(ms), None);
        }
        assert_eq!(limit.check_at(59_999), None);
        assert_eq!(limit.check_at(60_000), Some(1001));
        assert_eq!(limit.check_at(60_001), None);
        assert_eq!(limit.check_at(200_000), Some(1));
        assert_eq!(limit.check_at(260_000), Some(0));
    }

    #[test]
    fn concurrent_callers_let_exactly_one_line_through() {
        let limit = std::sync::Arc::new(LogLimit::new(Duration::from_secs(3600)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let limit = std::sync::Arc::clone(&limit);
                std::thread::spawn(move || (0..1000).filter(|_| limit.check().is_some()).count())
            })
            .collect();
        let through: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(through, 1);
        assert_eq!(limit.suppressed.load(Ordering::Relaxed), 7999);
    }
}
