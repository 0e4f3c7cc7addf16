//! Whether the collector has been answering lately, shared by every task
//! that calls it.
//!
//! Connect retries back off to 30 s, so after an outage an application
//! could wait that long before trying again. Every successful call (a
//! harvest post of another application, a preconnect probe) is noted here;
//! the registry retries an application at once when the collector has
//! answered since that application's last failure.

use std::sync::atomic::{AtomicU64, Ordering};
use tokio::time::Instant;

/// The time of the collector's latest successful answer.
#[derive(Debug)]
pub struct CollectorHealth {
    epoch: Instant,
    /// ms since `epoch` plus one of the latest success; 0: none yet.
    last_ok: AtomicU64,
}

impl Default for CollectorHealth {
    fn default() -> Self {
        CollectorHealth {
            epoch: Instant::now(),
            last_ok: AtomicU64::new(0),
        }
    }
}

impl CollectorHealth {
    fn stamp(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// A call just succeeded.
    pub fn answered(&self) {
        self.last_ok
            .fetch_max(self.stamp(Instant::now()), Ordering::Relaxed);
    }

    /// Whether a call succeeded at or after `t`.
    pub fn answered_since(&self, t: Instant) -> bool {
        let last = self.last_ok.load(Ordering::Relaxed);
        last != 0 && last >= self.stamp(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn answers_after_a_failure_are_seen() {
        let h = CollectorHealth::default();
        let failed = Instant::now();
        assert!(!h.answered_since(failed));
        tokio::time::advance(Duration::from_secs(1)).await;
        h.answered();
        assert!(h.answered_since(failed));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!h.answered_since(Instant::now()));
    }
}
