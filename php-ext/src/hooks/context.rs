//! [`Ctx`]: the request context handed to every library hook.
//!
//! Hooks never name the process's agent state themselves: the wrapper
//! passes them a `Ctx`, and they borrow what they need one step at a time
//! through [`Ctx::with`]. Between steps a hook may call back into PHP (set a
//! curl option, read a property, build a backtrace); that call can run other
//! hooks, which borrow the state in turn, so no borrow may be held across
//! it. The compound steps below ([`Ctx::end_datastore`] and friends) follow
//! that rule for the common cases.

use crate::clock::Clock;
use crate::config::AgentSettings;
use crate::request::{Agent, Rng, AGENT};
use crate::zend::nts::PerThread;
use seraph_txn::{
    DatastoreCall, ExplainPlan, ExternalCall, MessageCall, NoticedError, Ticks, Transaction,
};
use std::any::{Any, TypeId};

/// What one borrow step sees.
pub struct Scope<'a> {
    /// The open transaction, if any.
    pub txn: Option<&'a mut Transaction>,
    /// The request's settings.
    pub settings: &'a AgentSettings,
    /// The hot-path clock.
    pub clock: &'a Clock,
    /// Ids for trace headers.
    pub ids: &'a mut Rng,
    libs: &'a mut LibStates,
}

impl Scope<'_> {
    /// This library's per-request state (created empty on first use).
    pub fn state<T: Default + 'static>(&mut self) -> &mut T {
        self.libs.get()
    }
}

/// The request context of one hooked call.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    cell: &'a PerThread<Option<Agent>>,
}

impl Ctx<'static> {
    /// The context of the current request (this thread's agent; the
    /// process's one, in NTS PHP). Only the wrappers call this; hooks get it passed in.
    pub(crate) fn current() -> Ctx<'static> {
        Ctx { cell: &AGENT }
    }
}

impl Ctx<'_> {
    /// Runs `f` with the agent state borrowed; `None` when the agent is not
    /// set up, or when the state is already borrowed further up the stack
    /// (a hook re-entered through PHP), in which case the call goes
    /// unrecorded rather than aliasing the state.
    pub fn with<R>(&self, f: impl FnOnce(&mut Scope<'_>) -> R) -> Option<R> {
        self.cell
            .with(|a| {
                let a = a.as_mut()?;
                let mut scope = Scope {
                    txn: a.txn.as_mut(),
                    settings: &a.settings,
                    clock: &a.clock,
                    ids: &mut a.ids,
                    libs: &mut a.req.libs,
                };
                Some(f(&mut scope))
            })
            .flatten()
    }

    /// Runs `f` with the whole agent state borrowed (for the few steps that
    /// need more than a [`Scope`]: ending and starting transactions, the
    /// connected application's identity). `None` as for [`Ctx::with`].
    pub(crate) fn agent<R>(&self, f: impl FnOnce(&mut Agent) -> R) -> Option<R> {
        self.cell.with(|a| a.as_mut().map(f)).flatten()
    }

    /// Runs `f` on the open transaction with the current time.
    pub fn with_txn<R>(&self, f: impl FnOnce(&mut Transaction, Ticks) -> R) -> Option<R> {
        self.with(|s| {
            let now = s.clock.now();
            s.txn.as_deref_mut().map(|t| f(t, now))
        })
        .flatten()
    }

    /// Opens a segment for an instrumented call; its start time, or `None`
    /// when no transaction is open.
    pub fn start_segment(&self) -> Option<Ticks> {
        self.with_txn(|t, now| {
            t.enter_internal(now);
            now
        })
    }

    /// Closes the segment opened at `start` as a datastore call. A call
    /// slow enough to be a slow-SQL or trace candidate gets the PHP
    /// backtrace, built with no borrow held (it runs PHP code and can hit
    /// the memory limit).
    pub fn end_datastore(&self, start: Ticks, mut call: DatastoreCall) {
        let Some((now, wants)) = self.with_txn(|t, now| (now, t.wants_backtrace(start, now)))
        else {
            return;
        };
        if wants && call.backtrace.is_none() {
            call.backtrace = Some(crate::zend::frames::current_stack(300));
        }
        self.with_txn(|t, _| t.leave_datastore(now, call));
    }

    /// Records a datastore call that began at `start` and ends now, measured
    /// between two hooks rather than around one call (a Predis command is
    /// written by one method and its reply read by another, and a pipeline
    /// writes several before reading any): the segment opens at `start` as
    /// a child of the current one and closes at once, so calls in flight
    /// together overlap in the trace as they did in time.
    pub fn record_datastore(&self, start: Ticks, call: DatastoreCall) {
        let opened = self.with_txn(|t, _| t.enter_internal(start)).is_some();
        if opened {
            self.end_datastore(start, call);
        }
    }

    /// Like [`Ctx::end_datastore`], for a query that may be explained: when
    /// the call is slow enough for an explain plan
    /// ([`Transaction::wants_explain`]), `explain` runs with no borrow held
    /// (it calls back into PHP, usually on a second connection) and its
    /// plan joins the call. The segment ends when the query ended, before
    /// the `EXPLAIN` ran.
    pub fn end_datastore_explained(
        &self,
        start: Ticks,
        mut call: DatastoreCall,
        explain: impl FnOnce() -> Option<ExplainPlan>,
    ) {
        let Some((now, wants_bt, wants_explain)) = self.with_txn(|t, now| {
            (
                now,
                t.wants_backtrace(start, now),
                t.wants_explain(start, now),
            )
        }) else {
            return;
        };
        if wants_bt && call.backtrace.is_none() {
            call.backtrace = Some(crate::zend::frames::current_stack(300));
        }
        if wants_explain {
            call.explain_plan = explain();
        }
        self.with_txn(|t, _| t.leave_datastore(now, call));
    }

    /// Records an error found by instrumentation (a failed query) with the
    /// current PHP stack, built with no borrow held.
    pub fn notice_error(&self, class: &str, message: &str, priority: i32) {
        let wanted = self
            .with_txn(|t, _| t.would_record_error(priority))
            .unwrap_or(false);
        if !wanted {
            return;
        }
        let stack = crate::zend::frames::current_stack(300);
        let now_unix_us = crate::clock::unix_us();
        self.with_txn(|t, _| {
            t.notice_error(NoticedError {
                priority,
                message: message.to_owned(),
                class: class.to_owned(),
                stack_trace: stack,
                now_unix_us,
            })
        });
    }

    /// Closes the segment opened by [`Ctx::start_segment`] as a message
    /// broker call.
    pub fn end_message(&self, call: MessageCall) {
        self.with_txn(|t, now| t.leave_message(now, call));
    }

    /// Closes the segment opened by [`Ctx::start_segment`] as an external
    /// call.
    pub fn end_external(&self, call: ExternalCall) {
        self.with_txn(|t, now| t.leave_external(now, call));
    }

    /// A fork returned in the child: let go of the parent's transaction and
    /// daemon connection now, before the child's calls are recorded.
    pub fn forked_child(&self) {
        let _ = self.cell.with(|a| {
            if let Some(a) = a.as_mut() {
                a.check_fork();
            }
        });
    }

    /// This machine's host name, which datastore instances on a local
    /// address are reported as (read once per process).
    pub fn system_host(&self) -> &'static str {
        static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        HOST.get_or_init(crate::daemon::appinfo::hostname)
    }

    /// Runs `f`, which calls into PHP on the instrumentation's own account,
    /// with every hook off and PHP errors silenced: its queries are not the
    /// application's, and its warnings or exceptions never reach it.
    pub fn quietly<R>(&self, f: impl FnOnce() -> R) -> R {
        let was = self.set_quiet(true);
        let r = {
            let _silenced = crate::zend::call::Silenced::new();
            f()
        };
        self.set_quiet(was);
        r
    }

    fn set_quiet(&self, on: bool) -> bool {
        self.cell
            .with(|a| {
                a.as_mut()
                    .map(|a| std::mem::replace(&mut a.req.quiet, on))
                    .unwrap_or(false)
            })
            .unwrap_or(false)
    }

    /// Whether hooks are off because the instrumentation is calling PHP
    /// (see [`Ctx::quietly`]). A borrow already held further up the stack
    /// also means "leave this call alone".
    pub fn is_quiet(&self) -> bool {
        self.cell
            .with(|a| a.as_ref().is_some_and(|a| a.req.quiet))
            .unwrap_or(true)
    }

    /// Counts one call in an unscoped, forced metric.
    pub fn count(&self, metric: &str) {
        self.with_txn(|t, _| t.count_metric(metric));
    }
}

/// Per-request state of the instrumented libraries, one value per type:
/// a library keeps what it learns about its objects (a PDO's driver, a
/// curl handle's URL) in a type of its own, so adding a library touches
/// no shared struct.
///
/// A hooked call looks states up several times (a WordPress hook: the
/// framework's, the open calls', WordPress's own, in turn; tens of
/// thousands of calls per page), so a look-up must not scan: `slots` maps
/// a few bits of the type's `TypeId` (a hash already) to its entry, one
/// `TypeId` comparison when they match. Two types sharing a slot only take
/// turns in it (each miss scans the entries, a handful, and takes the slot).
pub struct LibStates {
    entries: Vec<(TypeId, Box<dyn Any>)>,
    /// Index in `entries` of the type last looked up through each slot.
    slots: [u8; SLOTS],
}

/// Slots of [`LibStates`]: enough that the dozen or so state types rarely share one.
const SLOTS: usize = 64;

impl Default for LibStates {
    fn default() -> LibStates {
        LibStates {
            entries: Vec::new(),
            slots: [0; SLOTS],
        }
    }
}

impl LibStates {
    /// The value of type `T`, created with `T::default()` on first use.
    pub fn get<T: Default + 'static>(&mut self) -> &mut T {
        let id = TypeId::of::<T>();
        let slot = {
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            id.hash(&mut h);
            (h.finish() >> 58) as usize % SLOTS
        };
        let mut i = usize::from(self.slots[slot]);
        if self.entries.get(i).is_none_or(|(t, _)| *t != id) {
            i = match self.entries.iter().position(|(t, _)| *t == id) {
                Some(i) => i,
                None => {
                    self.entries.push((id, Box::new(T::default())));
                    self.entries.len() - 1
                }
            };
            // More than 256 state types cannot happen (there are a dozen);
            // past that, look-ups would scan, still correct.
            self.slots[slot] = u8::try_from(i).unwrap_or(u8::MAX);
        }
        self.entries[i]
            .1
            .downcast_mut()
            .expect("LibStates entries are keyed by their own type")
    }
}

impl std::fmt::Debug for LibStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LibStates({} libraries)", self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_gets_its_own_state() {
        let mut s = LibStates::default();
        *s.get::<u32>() += 2;
        s.get::<String>().push('x');
        *s.get::<u32>() += 1;
        assert_eq!(*s.get::<u32>(), 3);
        assert_eq!(s.get::<String>(), "x");
    }

    #[test]
    fn switching_types_keeps_each_value() {
        let mut s = LibStates::default();
        for i in 0..3u32 {
            *s.get::<u32>() += 1;
            s.get::<Vec<u32>>().push(i);
            *s.get::<u64>() += 10;
            *s.get::<u64>() += 10;
        }
        assert_eq!(*s.get::<u32>(), 3);
        assert_eq!(*s.get::<Vec<u32>>(), vec![0, 1, 2]);
        assert_eq!(*s.get::<u64>(), 60);
        assert_eq!(s.entries.len(), 3);
    }
}
