//! Agent connection slots. The worker serves at most a fixed number of
//! agent connections (what the file limit leaves after the daemon's own
//! needs). Each PHP process keeps its connection open between requests,
//! so a full table is mostly idle connections; without a way out, a burst
//! of them (or another local user opening connections and sitting on
//! them) would shut every new PHP process out. When the table is full, a
//! new connection therefore takes the slot of the connection idle longest,
//! if that one has been idle for at least `agent_idle_timeout`; the
//! evicted agent reconnects with its next request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What a connection task shares with the table.
#[derive(Debug, Default)]
pub struct Activity {
    /// Last read, in ms since the table's epoch.
    last_ms: AtomicU64,
    evicted: AtomicBool,
    wake: Notify,
}

impl Activity {
    /// Resolves once the connection was chosen to make room.
    pub async fn evicted(&self) {
        loop {
            let notified = self.wake.notified();
            if self.evicted.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// The table of open agent connections.
#[derive(Debug)]
pub struct ConnectionSlots {
    max: usize,
    idle_ms: u64,
    epoch: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    open: HashMap<u64, Arc<Activity>>,
}

/// A connection's place in the table; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    table: Arc<ConnectionSlots>,
    activity: Arc<Activity>,
}

/// What [`ConnectionSlots::admit`] did.
#[derive(Debug)]
pub enum Admission {
    /// A free slot.
    Free(Slot),
    /// The slot of an idle connection, which is being closed.
    Evicted(Slot),
    /// No slot: every connection was active within the idle timeout.
    Refused,
}

impl ConnectionSlots {
    /// A table of `max` slots (at least one).
    pub fn new(max: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(ConnectionSlots {
            max: max.max(1),
            idle_ms: u64::try_from(idle_timeout.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A slot for a new connection, taken from the connection idle longest
    /// when the table is full and that one has been idle long enough.
    pub fn admit(self: &Arc<Self>) -> Admission {
        let now = self.now_ms();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut evicted = false;
        if inner.open.len() >= self.max {
            let victim = inner
                .open
                .iter()
                .min_by_key(|(_, a)| a.last_ms.load(Ordering::Relaxed))
                .map(|(id, a)| (*id, a.last_ms.load(Ordering::Relaxed)));
            match victim {
                Some((id, last)) if now.saturating_sub(last) >= self.idle_ms => {
                    if let Some(a) = inner.open.remove(&id) {
                        a.evicted.store(true, Ordering::Release);
                        a.wake.notify_one();
                    }
                    evicted = true;
                }
                _ => return Admission::Refused,
            }
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let activity = Arc::new(Activity::default());
        activity.last_ms.store(now, Ordering::Relaxed);
        inner.open.insert(id, Arc::clone(&activity));
        let slot = Slot {
            id,
            table: Arc::clone(self),
            activity,
        };
        if evicted {
            Admission::Evicted(slot)
        } else {
            Admission::Free(slot)
        }
    }
}

impl Slot {
    /// The connection read something.
    pub fn touch(&self) {
        self.activity
            .last_ms
            .store(self.table.now_ms(), Ordering::Relaxed);
    }

    /// Shared with the connection task, to learn of an eviction.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.table.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_table_makes_room_only_by_closing_a_connection_idle_long_enough() {
        let slots = ConnectionSlots::new(2, Duration::from_secs(30));
        let Admission::Free(a) = slots.admit() else {
            panic!("free slot")
        };
        tokio::time::advance(Duration::from_secs(10)).await;
        let Admission::Free(b) = slots.admit() else {
            panic!("free slot")
        };
        // Full, nobody idle 30 s yet.
        assert!(matches!(slots.admit(), Admission::Refused));
        tokio::time::advance(Duration::from_secs(25)).await;
        b.touch();
        // a has been idle 35 s: it makes room; b was just active.
        let Admission::Evicted(c) = slots.admit() else {
            panic!("a is evicted")
        };
        tokio::time::timeout(Duration::from_secs(1), a.activity().evicted())
            .await
            .expect("a learns of it");
        assert!(matches!(slots.admit(), Admission::Refused));
        // a's task ends: its slot was already given to c.
        drop(a);
        assert!(matches!(slots.admit(), Admission::Refused));
        drop(c);
        assert!(matches!(slots.admit(), Admission::Free(_)));
    }
}
