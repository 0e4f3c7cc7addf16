//! Demotion: a function whose calls are all short stops being observed.
//!
//! Observing a call costs PHP's observer machinery plus two handler calls
//! and two clock reads, which for a tiny function (a getter, `fib`) is more
//! than the function itself. A call shorter than
//! `transaction_tracer.expensive_node_min` becomes no segment unless
//! something is attached to it, so a function that only ever makes such
//! calls shows nothing New Relic's agent would show. So, per function, the
//! plain end handler counts short calls (under a quarter of the threshold,
//! nothing attached; `Transaction::leave_frame` says which): after
//! [`AFTER_CALLS`] of them, and none that was longer or exited by an
//! exception, the function's handlers are removed (PHP 8.2+
//! `zend_observer_remove_{begin,end}_handler`), so PHP calls nothing for it
//! for the rest of the request.
//!
//! The count is process-wide, not per request: an application's typical
//! function (WordPress's `esc_attr`, `apply_filters`) is called a few dozen
//! times per request, never 128, and would otherwise stay observed
//! forever. Within a request the count lives in a slot of the function's
//! run-time cache (an op_array extension handle), which PHP zeroes for
//! every request: `init` seeds it from the process's [`TABLE`] and notes
//! where it is, and at the end of the request ([`request_ended`], in
//! RSHUTDOWN, while the functions and their caches still exist) the counts
//! go back into the table. A call that was longer, or threw, rules the
//! function out for the rest of the request and restarts its count from
//! zero: a function is demoted only after 128 short calls with no other in
//! between. (Ruling it out for longer kept more functions observed under
//! callgrind, where a function's first call in a request, which loads and
//! compiles code, is often long: WordPress cost more, not less.)
//!
//! Only plain functions are demoted: `init` gives custom tracers
//! (`transaction_tracer.custom`, `newrelic_add_custom_tracer`), naming
//! functions, library hooks and closure literals other handlers, and
//! [`demote`] also skips first-class callables and functions the API made
//! custom tracers after PHP chose their handlers. A demoted function's open
//! calls (a recursive function is demoted from inside itself) end unseen:
//! the transaction marks them as orphans and matches every end to its PHP
//! frame (`seraph_txn`'s recorder), so the others stay paired.
//!
//! PHP then keeps calling nothing, but the machinery remains: on 8.2 the
//! VM still looks the function's handlers up on every call (8.3+ marks a
//! function with none as not observed at all).
//!
//! Demotion is remembered for the process, keyed by file, class, name and
//! first line (function addresses change per request without opcache), so
//! `init` observes no demoted function in later requests (it returns no
//! handlers: PHP then never calls into the extension for it). Demotion is
//! revisited: after [`REVISIT_TRANSACTIONS`] transactions or
//! [`REVISIT_SECS`] seconds (whichever first) the function is observed
//! and counted again from zero, in a later request through `init`, and in
//! the same request (a long-running CLI worker that starts its own
//! transactions) by adding a demoted function's handlers back at the next
//! transaction start. A function that became slow is seen again then.
//! New Relic has no such setting, so these are constants; the environment
//! variable `SERAPH_DEMOTE` (`0`: never demote; `N`: revisit after N
//! transactions) exists for tests and benchmarks.
//!
//! Removing a handler while PHP runs the handlers of the same call moves
//! the next observer's handler into its place, and PHP skips it (8.2,
//! 8.3); so demotion only happens while this module's observer is PHP's
//! only function-call observer (`seraph_observer_alone`). PHP 8.1 has no
//! removal: no demotion there.

use super::is_closure;
use crate::clock;
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::rt_slot::RuntimeSlot;
use crate::zend::zval::zstr;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// Short calls (in all requests of the process) after which a function is
/// demoted.
pub const AFTER_CALLS: usize = 128;
/// Transactions of the process after which a demoted function is observed
/// again.
pub const REVISIT_TRANSACTIONS: u64 = 1000;
/// Seconds after which a demoted function is observed again.
pub const REVISIT_SECS: u64 = 60;

/// The run-time cache slot holding a function's short-call count
/// (negative: no demotion).
static SLOT: RuntimeSlot = RuntimeSlot::unreserved();
/// A slot value: a call was not short, or demotion was declined or done.
const PINNED: usize = usize::MAX;
/// Transactions started in this process.
static TRANSACTIONS: AtomicU64 = AtomicU64::new(0);
/// `REVISIT_TRANSACTIONS`, or `SERAPH_DEMOTE`'s.
static REVISIT_AFTER: AtomicU64 = AtomicU64::new(REVISIT_TRANSACTIONS);
/// Whether this is PHP's only fcall observer (0: not known yet, 1: yes,
/// 2: no).
static ALONE: AtomicU8 = AtomicU8::new(0);

/// Transaction count and time of a decision, for its revisit.
#[derive(Clone, Copy)]
struct Since {
    transaction: u64,
    secs: u64,
}

impl Since {
    fn now() -> Self {
        Since {
            transaction: TRANSACTIONS.load(Ordering::Relaxed),
            secs: now_secs(),
        }
    }
}

/// What the process knows about a function.
#[derive(Clone, Copy)]
enum State {
    /// Short calls since the function's last other call (below
    /// [`AFTER_CALLS`]).
    Counting(usize),
    /// Not observed until the revisit.
    Demoted(Since),
}

/// What the process knows, by [`identity`].
static TABLE: Mutex<Option<FxHashMap<u64, State>>> = Mutex::new(None);

/// `init`'s answer for a plain function.
pub enum Decision {
    /// Demoted: no handlers.
    Skip,
    /// Observed, its calls counted (the handlers that may demote).
    Count,
    /// Observed, not counted (demotion is off).
    Observe,
}

/// The handlers `init` installs for a plain function.
type Handlers = (
    unsafe extern "C" fn(*mut ffi::zend_execute_data),
    unsafe extern "C" fn(*mut ffi::zend_execute_data, *mut ffi::zval),
);

crate::per_thread! {
    /// Functions demoted in this request: (function, identity, handlers).
    static HERE: Vec<(usize, u64, Handlers)> = Vec::new();
}

crate::per_thread! {
    /// Functions counted in this request: (address of the count slot in
    /// the function's run-time cache, identity).
    static COUNTED: Vec<(usize, u64)> = Vec::new();
}

/// Releases the process's table (MSHUTDOWN): a hash map left at exit is
/// what memcheck counts as possibly lost.
pub fn forget() {
    if let Ok(mut table) = TABLE.lock() {
        *table = None;
    }
}

/// MINIT (with the observer): reserves the run-time cache slot.
pub fn register() {
    let env = std::env::var("SERAPH_DEMOTE").ok();
    match env.as_deref().map(str::trim) {
        Some("0") => return,
        Some(n) => {
            if let Ok(n) = n.parse::<u64>() {
                REVISIT_AFTER.store(n, Ordering::Relaxed);
            }
        }
        None => {}
    }
    // SAFETY: MINIT, when PHP hands out op_array extension handles.
    SLOT.reserve(unsafe { ffi::seraph_demotion_slot_handle() });
}

/// Counts a short call of the function running in `ex`; true once, when
/// the function has made enough of them to be demoted.
///
/// # Safety
/// `ex` must be the live frame of an observed user function.
#[inline(always)]
pub unsafe fn count_short(ex: *mut ffi::zend_execute_data) -> bool {
    // SAFETY: caller's contract.
    let Some(slot) = (unsafe { SLOT.of_frame(ex) }) else {
        return false;
    };
    // SAFETY: a valid slot (above), only touched by this thread's request.
    unsafe {
        let n = *slot;
        if n < AFTER_CALLS - 1 {
            *slot = n + 1;
            return false;
        }
        if n == PINNED {
            return false;
        }
        *slot = PINNED;
    }
    true
}

/// The function running in `ex` made a call that was not short (or threw):
/// it is not demoted in this request. True the first time: the caller then
/// gives the function the end handler that does not count
/// ([`stop_counting`]).
///
/// # Safety
/// `ex` must be the live frame of an observed user function.
#[inline(always)]
pub unsafe fn pin(ex: *mut ffi::zend_execute_data) -> bool {
    // SAFETY: caller's contract; as in `count_short`.
    let Some(slot) = (unsafe { SLOT.of_frame(ex) }) else {
        return false;
    };
    // SAFETY: a valid slot (above), only touched by this thread's request.
    unsafe {
        if *slot == PINNED {
            return false;
        }
        *slot = PINNED;
    }
    true
}

/// Replaces the counting end handler of the function running in `ex` by
/// `plain`, so that a function ruled out for this request no longer pays
/// for the count (about 30 instructions a call).
///
/// # Safety
/// `ex` must be the live frame of an observed user function whose end
/// handler is `counting`, and PHP must be running that very handler.
#[cold]
#[inline(never)]
pub unsafe fn stop_counting(
    ex: *mut ffi::zend_execute_data,
    counting: unsafe extern "C" fn(*mut ffi::zend_execute_data, *mut ffi::zval),
    plain: unsafe extern "C" fn(*mut ffi::zend_execute_data, *mut ffi::zval),
) {
    if !alone() {
        return;
    }
    // SAFETY: caller's contract; alone, so replacing the handler PHP is
    // running skips no other observer's.
    unsafe { ffi::seraph_observer_swap_end((*ex).func, Some(counting), Some(plain)) };
}

/// Whether this module's observer is PHP's only fcall observer.
fn alone() -> bool {
    match ALONE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: reads two engine integers fixed at startup.
            let a = unsafe { ffi::seraph_observer_alone() };
            ALONE.store(if a { 1 } else { 2 }, Ordering::Relaxed);
            if !a {
                tracing::debug!("another function-call observer is loaded: no demotion");
            }
            a
        }
    }
}

/// A key for the function that is the same in every request: its file,
/// class, name and first line.
///
/// # Safety
/// `func` must be a live user function.
unsafe fn identity(func: *const ffi::zend_function) -> u64 {
    let mut h = FxHasher::default();
    // SAFETY: caller's contract: a user function's names and op_array.
    unsafe {
        let common = &(*func).common;
        zstr((*func).op_array.filename).hash(&mut h);
        if !common.scope.is_null() {
            zstr((*common.scope).name).hash(&mut h);
        }
        zstr(common.function_name).hash(&mut h);
        (*func).op_array.line_start.hash(&mut h);
    }
    h.finish()
}

fn now_secs() -> u64 {
    clock::mono_ns() / 1_000_000_000
}

fn due(d: &Since, transaction: u64, secs: u64) -> bool {
    transaction.saturating_sub(d.transaction) >= REVISIT_AFTER.load(Ordering::Relaxed)
        || secs.saturating_sub(d.secs) >= REVISIT_SECS
}

/// Whether to observe the function PHP is initialising in `ex`, and to
/// count its calls; a counted function's slot gets the process's count so
/// far, and is read back at the end of the request.
///
/// # Safety
/// `ex` must be the live frame of a plain (not closure) user function,
/// whose run-time cache PHP has just set up for this request.
pub unsafe fn decide(ex: *mut ffi::zend_execute_data) -> Decision {
    // SAFETY: caller's contract.
    let Some(slot) = (unsafe { SLOT.of_frame(ex) }) else {
        return Decision::Observe;
    };
    // SAFETY: caller's contract.
    let id = unsafe { identity((*ex).func) };
    let Ok(mut table) = TABLE.lock() else {
        return Decision::Observe;
    };
    let map = table.get_or_insert_with(FxHashMap::default);
    let mut seed = 0;
    match map.get(&id).copied() {
        None => {}
        Some(State::Counting(n)) => seed = n,
        Some(State::Demoted(since)) => {
            if !due(&since, TRANSACTIONS.load(Ordering::Relaxed), now_secs()) {
                return Decision::Skip;
            }
            map.remove(&id);
        }
    }
    drop(table);
    // SAFETY: the slot of this request's run-time cache (caller's
    // contract), untouched so far: `init` runs before the first call.
    unsafe { *slot = seed };
    let _ = COUNTED.with(|v| v.push((slot as usize, id)));
    Decision::Count
}

/// Removes the handlers of the function running in `ex`, which has made
/// only short calls. Declined (the function stays observed, and is not
/// asked again in this request) for first-class callables, for API custom
/// tracers, and when another fcall observer is loaded.
///
/// # Safety
/// `ex` must be the live frame of an observed user function whose handlers
/// are `handlers`.
#[cold]
#[inline(never)]
pub unsafe fn demote(
    ex: *mut ffi::zend_execute_data,
    begin: unsafe extern "C" fn(*mut ffi::zend_execute_data),
    end: unsafe extern "C" fn(*mut ffi::zend_execute_data, *mut ffi::zval),
) {
    // SAFETY: caller's contract.
    let func = unsafe { (*ex).func };
    if is_closure(func) || !alone() {
        tracing::debug!("demotion declined: closure or another observer");
        return;
    }
    let key = func as usize;
    let custom = AGENT
        .with(|a| {
            a.as_ref()
                .and_then(|a| a.txn.as_ref())
                .is_some_and(|t| t.is_custom_key(key))
        })
        .unwrap_or(true);
    if custom {
        return;
    }
    // SAFETY: a live user function with these handlers (caller's
    // contract); PHP is running this very handler, which is the last one
    // (`alone`), so nothing is skipped.
    if !unsafe { ffi::seraph_observer_remove(func, Some(begin), Some(end)) } {
        return;
    }
    if tracing::enabled!(tracing::Level::DEBUG) {
        // SAFETY: as above.
        let name = unsafe { crate::zend::zval::function_name(func) }.unwrap_or_default();
        tracing::debug!("demoted {name}: {AFTER_CALLS} short calls");
    }
    let _ = AGENT.with(|a| {
        if let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) {
            t.set_frame_liveness(frame_running);
            t.demoted(key);
        }
    });
    // SAFETY: as above.
    let id = unsafe { identity(func) };
    if let Ok(mut table) = TABLE.lock() {
        let map = table.get_or_insert_with(FxHashMap::default);
        map.insert(id, State::Demoted(Since::now()));
    }
    let _ = HERE.with(|v| v.push((key, id, (begin, end))));
}

/// Whether the PHP frame at address `frame` still runs.
fn frame_running(frame: usize) -> bool {
    // SAFETY: compares addresses along the running call chain.
    unsafe { ffi::seraph_frame_running(frame as *const ffi::zend_execute_data) }
}

/// A request starts: the functions demoted in the last one are gone.
pub fn request_started() {
    let _ = HERE.with(Vec::clear);
    let _ = COUNTED.with(Vec::clear);
}

/// The request ends (RSHUTDOWN: functions and their run-time caches still
/// exist): the counts of the functions counted in it go into the process's
/// table, so that short calls add up over requests.
pub fn request_ended() {
    let Some(counted) = COUNTED.with(std::mem::take) else {
        return;
    };
    if counted.is_empty() {
        return;
    }
    let Ok(mut table) = TABLE.lock() else {
        return;
    };
    let map = table.get_or_insert_with(FxHashMap::default);
    for (slot, id) in counted {
        // SAFETY: a count slot `decide` noted in this request, in a
        // run-time cache PHP frees only after RSHUTDOWN.
        let n = unsafe { *(slot as *const usize) };
        let state = map.entry(id).or_insert(State::Counting(0));
        *state = match *state {
            // Demoted in this request, or revisited and demoted again.
            State::Demoted(d) if n == PINNED => State::Demoted(d),
            // A call that was not short (or a declined demotion).
            _ if n == PINNED => State::Counting(0),
            _ => State::Counting(n),
        };
    }
}

/// A transaction starts: functions demoted in this request that are due
/// for a revisit get their handlers back.
pub fn transaction_started() {
    let transaction = TRANSACTIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let secs = now_secs();
    let Ok(mut table) = TABLE.lock() else {
        return;
    };
    let Some(map) = table.as_mut() else {
        return;
    };
    let _ = HERE.with(|v| {
        v.retain(|&(func, id, handlers)| {
            let due = match map.get(&id) {
                Some(State::Demoted(d)) => due(d, transaction, secs),
                _ => true,
            };
            if due {
                map.remove(&id);
                // SAFETY: a function demoted in this request (alive until
                // its end), whose handlers were removed.
                unsafe { readd(func, handlers) };
            }
            !due
        });
    });
}

/// `newrelic_add_custom_tracer` named a function: if it was demoted in
/// this request, it is observed again (and never demoted: it is custom).
pub fn undemote(func: *const ffi::zend_function) {
    let key = func as usize;
    let Some(entry) = HERE
        .with(|v| {
            let i = v.iter().position(|e| e.0 == key)?;
            Some(v.remove(i))
        })
        .flatten()
    else {
        return;
    };
    if let Ok(mut table) = TABLE.lock() {
        if let Some(map) = table.as_mut() {
            map.remove(&entry.1);
        }
    }
    // SAFETY: as in `transaction_started`.
    unsafe { readd(entry.0, entry.2) };
}

/// Adds a demoted function's handlers back, with a fresh count.
///
/// # Safety
/// `func` must be a live user function whose handlers were removed.
unsafe fn readd(func: usize, (begin, end): Handlers) {
    // SAFETY: caller's contract.
    unsafe {
        ffi::seraph_observer_add(
            func as *mut ffi::zend_function,
            Some(begin),
            Some(end),
            SLOT.handle(),
        )
    };
}
