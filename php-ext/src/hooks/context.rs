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
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// The request's framework.
    pub(crate) framework: &'a mut super::framework::FrameworkState,
}

impl Scope<'_> {
    /// This library's per-request state (created empty on first use).
    pub fn state<T: LibState>(&mut self) -> &mut T {
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
                    framework: &mut a.req.framework,
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

    /// Opens a segment for an outbound call (an HTTP request, a published
    /// message) and makes the trace headers that name it as the caller:
    /// none with distributed tracing off, no `newrelic` one when
    /// `distributed_tracing_exclude_newrelic_header` is set. `None` when no
    /// transaction is open.
    pub fn start_outbound(&self) -> Option<(Ticks, Vec<(String, String)>)> {
        self.with(|s| {
            let now = s.clock.now();
            let t = s.txn.as_deref_mut()?;
            t.enter_internal(now);
            if !s.settings.dt_enabled {
                return Some((now, Vec::new()));
            }
            let exclude = s.settings.dt_exclude_newrelic_header;
            let mut headers = t.create_dt_headers(crate::clock::unix_us(), s.ids);
            headers.retain(|(k, _)| !(exclude && k == "newrelic"));
            Some((now, headers))
        })
        .flatten()
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

    /// Whether a hooked call's hook runs: not while the instrumentation
    /// calls PHP ([`Ctx::quietly`]), nor for a framework's row in a
    /// request of another framework. One borrow: it runs on every hooked
    /// call.
    pub(crate) fn hook_applies(&self, only: Option<seraph_txn::Framework>) -> bool {
        self.cell
            .with(|a| {
                a.as_ref().is_some_and(|a| {
                    !a.req.quiet
                        && only.is_none_or(|fw| {
                            a.req
                                .framework
                                .outcome
                                .and_then(seraph_txn::FrameworkOutcome::framework)
                                == Some(fw)
                        })
                })
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
    pub fn count(&self, metric: &'static str) {
        // No clock read: a count has no time (hooked functions count on
        // every call).
        self.with(|s| {
            if let Some(t) = s.txn.as_deref_mut() {
                t.count_static_metric(metric);
            }
        });
    }
}

/// A type a library keeps per request in [`LibStates`]; implemented by
/// `lib_state!(Type)` next to the type, so adding a library touches no
/// shared list.
pub trait LibState: Default + 'static {
    /// The type's position in every [`LibStates`]: assigned on first use,
    /// the same for the whole process (and every thread).
    fn index() -> usize;
}

/// Hands out [`LibState::index`] values.
#[doc(hidden)]
pub fn next_lib_state_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Makes a type a per-request library state ([`LibState`]).
macro_rules! lib_state {
    ($t:ty) => {
        impl $crate::hooks::context::LibState for $t {
            fn index() -> usize {
                static INDEX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
                *INDEX.get_or_init($crate::hooks::context::next_lib_state_index)
            }
        }
    };
}
pub(crate) use lib_state;

/// Per-request state of the instrumented libraries, one value per type:
/// a library keeps what it learns about its objects (a PDO's driver, a
/// curl handle's URL) in a type of its own, so adding a library touches
/// no shared struct.
///
/// A hooked call looks states up several times (tens of thousands of
/// WordPress hook calls per page), so a look-up is an index: each type's
/// position is fixed for the process ([`LibState::index`]), and only
/// `downcast_mut`'s type check remains.
#[derive(Default)]
pub struct LibStates {
    entries: Vec<Option<Box<dyn Any>>>,
}

impl LibStates {
    /// The value of type `T`, created with `T::default()` on first use.
    pub fn get<T: LibState>(&mut self) -> &mut T {
        let i = T::index();
        if i >= self.entries.len() {
            self.entries.resize_with(i + 1, || None);
        }
        self.entries[i]
            .get_or_insert_with(|| Box::new(T::default()))
            .downcast_mut()
            .expect("a LibStates entry holds the type whose index it is at")
    }
}

impl std::fmt::Debug for LibStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.entries.iter().filter(|e| e.is_some()).count();
        write!(f, "LibStates({used} libraries)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct A(u32);
    lib_state!(A);
    #[derive(Default)]
    struct B(String);
    lib_state!(B);
    #[derive(Default)]
    struct C(Vec<u32>);
    lib_state!(C);

    #[test]
    fn each_type_gets_its_own_state() {
        let mut s = LibStates::default();
        s.get::<A>().0 += 2;
        s.get::<B>().0.push('x');
        s.get::<A>().0 += 1;
        assert_eq!(s.get::<A>().0, 3);
        assert_eq!(s.get::<B>().0, "x");
    }

    #[test]
    fn switching_types_keeps_each_value() {
        let mut s = LibStates::default();
        for i in 0..3u32 {
            s.get::<A>().0 += 1;
            s.get::<C>().0.push(i);
            s.get::<B>().0.push('y');
        }
        assert_eq!(s.get::<A>().0, 3);
        assert_eq!(s.get::<C>().0, vec![0, 1, 2]);
        assert_eq!(s.get::<B>().0, "yyy");
        assert_ne!(A::index(), B::index());
        assert_ne!(B::index(), C::index());
    }

    #[test]
    fn a_new_request_starts_empty() {
        let mut s = LibStates::default();
        s.get::<A>().0 = 7;
        let mut next = LibStates::default();
        assert_eq!(next.get::<A>().0, 0);
    }
}
