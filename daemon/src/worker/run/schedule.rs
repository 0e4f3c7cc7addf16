//! When each harvest is due.

use seraph_harvest::EventKind;
use std::time::Duration;
use tokio::time::Instant;

/// When each harvest is due: default data and the five event types, on
/// one timer so the run loop polls a single sleep.
pub(super) struct Schedule {
    /// `[default, events in EventKind::ALL order]`.
    periods: [Duration; 6],
    due: [Instant; 6],
}

/// A harvest that came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    Default,
    Events(EventKind),
}

impl Schedule {
    pub(super) fn new(default: Duration, events: [Duration; 5], now: Instant) -> Self {
        let mut periods = [default; 6];
        periods[1..].copy_from_slice(&events);
        let periods = periods.map(|p| p.max(Duration::from_millis(100)));
        Schedule {
            periods,
            due: periods.map(|p| now + p),
        }
    }

    pub(super) fn next(&self) -> Instant {
        self.due.iter().copied().min().unwrap_or_else(Instant::now)
    }

    /// Everything due at `now`, each rescheduled one period on.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<Due> {
        let mut out = Vec::new();
        for i in 0..6 {
            if self.due[i] <= now {
                out.push(if i == 0 {
                    Due::Default
                } else {
                    Due::Events(EventKind::ALL[i - 1])
                });
                self.due[i] = (self.due[i] + self.periods[i]).max(now);
            }
        }
        out
    }
}
