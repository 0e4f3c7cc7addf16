//! The per-process adaptive sampler that decides which transactions are
//! `sampled` (and so carry span events and get priority + 1).
//!
//! It follows New Relic's adaptive sampling spec as the PHP agent implements
//! it: during the first period after connect the first `target`
//! transactions are sampled; afterwards, until `target` are sampled in the
//! period, a transaction is sampled when `rand(prev_period_seen) < target`;
//! once `target` is reached it becomes exponentially harder:
//! `rand(seen) < target^(target/sampled) - target^0.5`.

/// Adaptive sampler state, kept by the extension across requests.
#[derive(Clone, Debug)]
pub struct Sampler {
    target: u64,
    period_us: u64,
    connect_us: Option<u64>,
    next_harvest_us: u64,
    seen: u64,
    sampled: u64,
    prev_seen: u64,
}

impl Sampler {
    /// `target` transactions per `period_s` seconds (the connect reply's
    /// `sampling_target` and `sampling_target_period_in_seconds`). The first
    /// period starts at the first decision unless
    /// [`Sampler::with_connect_timestamp`] says otherwise.
    pub fn new(target: u64, period_s: u64) -> Self {
        Sampler {
            target,
            period_us: period_s.max(1).saturating_mul(1_000_000),
            connect_us: None,
            next_harvest_us: 0,
            seen: 0,
            sampled: 0,
            prev_seen: 0,
        }
    }

    /// Anchors the periods at the application's connect time.
    pub fn with_connect_timestamp(mut self, connect_unix_us: u64) -> Self {
        self.anchor(connect_unix_us, connect_unix_us);
        self
    }

    fn anchor(&mut self, connect_us: u64, now_us: u64) {
        self.connect_us = Some(connect_us);
        self.next_harvest_us = self.next_harvest_after(now_us);
    }

    fn next_harvest_after(&self, now_us: u64) -> u64 {
        let connect = self.connect_us.unwrap_or(now_us);
        if now_us < connect {
            return connect;
        }
        let cycles = (now_us - connect) / self.period_us;
        connect.saturating_add(self.period_us.saturating_mul(cycles + 1))
    }

    fn threshold(target: u64, sampled: u64) -> u64 {
        if sampled == 0 || target == 0 || sampled < target {
            return 0;
        }
        let t = target as f64;
        (t.powf(t / sampled as f64) - t.sqrt()).max(0.0) as u64
    }

    /// Decides one transaction. `random` (in `[0, 1)`) is both the base of
    /// the priority and, through its low-order bits, the sampling draw; use
    /// [`Sampler::decide_with`] to pass two independent values instead.
    /// Returns `(sampled, priority)`; a sampled transaction's priority is in
    /// `[1, 2)`.
    pub fn decide(&mut self, now_unix_us: u64, random: f64) -> (bool, f64) {
        let random = sanitize(random);
        let draw = (random * 4_294_967_296.0).fract();
        self.decide_with(now_unix_us, random, draw)
    }

    /// As [`Sampler::decide`] with separate priority and draw randoms.
    pub fn decide_with(
        &mut self,
        now_unix_us: u64,
        priority_random: f64,
        draw: f64,
    ) -> (bool, f64) {
        let sampled = self.should_sample(now_unix_us, sanitize(draw));
        let base = sanitize(priority_random);
        (sampled, if sampled { base + 1.0 } else { base })
    }

    fn should_sample(&mut self, now: u64, draw: f64) -> bool {
        if self.connect_us.is_none() {
            self.anchor(now, now);
        }
        if now >= self.next_harvest_us {
            self.prev_seen = if now >= self.next_harvest_us.saturating_add(self.period_us) {
                0
            } else {
                self.seen
            };
            self.seen = 0;
            self.sampled = 0;
            self.next_harvest_us = self.next_harvest_after(now);
        }
        self.seen += 1;
        let first_period = self
            .connect_us
            .is_some_and(|c| now < c.saturating_add(self.period_us));
        if first_period {
            if self.sampled < self.target {
                self.sampled += 1;
                return true;
            }
            return false;
        }
        let range = |n: u64| (draw * n as f64) as u64;
        let hit = if self.sampled < self.target {
            range(self.prev_seen) < self.target
        } else {
            range(self.seen) < Self::threshold(self.target, self.sampled)
        };
        if hit {
            self.sampled += 1;
        }
        hit
    }
}

fn sanitize(r: f64) -> f64 {
    if r.is_finite() {
        r.clamp(0.0, 0.999_999_999_999)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn first_period_samples_the_first_target_transactions() {
        let mut s = Sampler::new(10, 60);
        let t0 = 1_000 * S;
        let decisions: Vec<bool> = (0..15).map(|i| s.decide(t0 + i * S, 0.5).0).collect();
        assert!(decisions[..10].iter().all(|d| *d));
        assert!(decisions[10..].iter().all(|d| !*d));
        let (sampled, prio) = Sampler::new(1, 60).decide(t0, 0.25);
        assert!(sampled);
        assert_eq!(prio, 1.25);
    }

    #[test]
    fn later_periods_use_the_previous_count() {
        let mut s = Sampler::new(10, 60).with_connect_timestamp(0);
        // 100 transactions in the first period.
        for i in 0..100 {
            s.decide(i * 100_000, 0.9);
        }
        // Second period: rand(100) < 10 only for small draws.
        let t = 61 * S;
        assert!(!s.decide_with(t, 0.3, 0.5).0);
        assert!(s.decide_with(t + 1, 0.3, 0.05).0);
        // After a gap of more than a period, prev_seen is 0 and rand(0)=0.
        let mut s = Sampler::new(10, 60).with_connect_timestamp(0);
        s.decide(1, 0.9);
        assert!(s.decide_with(500 * S, 0.1, 0.99).0);
    }

    #[test]
    fn backoff_after_target_is_reached() {
        assert_eq!(Sampler::threshold(10, 5), 0);
        assert_eq!(Sampler::threshold(10, 10), 6); // 10^1 - 10^0.5
        assert!(Sampler::threshold(10, 20) < 1);
        let mut s = Sampler::new(2, 60).with_connect_timestamp(0);
        s.decide(1, 0.1);
        s.decide(2, 0.1);
        s.decide(3, 0.1);
        let t = 60 * S;
        assert!(s.decide_with(t, 0.1, 0.0).0);
        assert!(s.decide_with(t + 1, 0.1, 0.0).0);
        // sampled == target: threshold 2^1 - 2^0.5 = 0.58 -> 0: never.
        assert!(!s.decide_with(t + 2, 0.1, 0.0).0);
    }

    #[test]
    fn non_finite_randoms_are_safe() {
        let mut s = Sampler::new(0, 60);
        let (sampled, prio) = s.decide(5, f64::NAN);
        assert!(!sampled);
        assert_eq!(prio, 0.0);
    }
}
