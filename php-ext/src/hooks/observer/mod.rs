//! The Zend Observer API: one segment per observed user function.
//!
//! PHP asks `init` (`init.rs`) once per function and request and caches
//! the answer, so the decision is made there: with
//! `transaction_tracer.detail = 1` every user function is observed; with
//! `0` only the functions named in `transaction_tracer.custom`. Unobserved
//! functions cost nothing after their first call. The begin/end handlers
//! (`handlers.rs`) are the hot path: one clock read and a push/pop on the
//! segment stack, no allocation. They come in two monomorphised flavours,
//! one per clock source, chosen at `init`, so no handler branches on the
//! source. The end handler also runs when a function exits by exception.
//! A function whose calls are all short stops being observed at run time
//! (`demotion.rs`).
//!
//! Function keys are the `zend_function` pointer, resolved to a name only
//! when the transaction ends (functions live until after RSHUTDOWN).
//! Closures are the exception: their `zend_function` and even their name
//! string belong to the closure object and are freed with it (valgrind
//! caught this), so a closure's name is copied on first sight into a small
//! per-request table and its key is `(index << 1) | 1`.
//!
//! A closure can also arrive through a plain function's handlers: a
//! first-class callable (`f(...)`, `$obj->m(...)`,
//! `Closure::fromCallable`) copies the function into the closure object
//! and, when the function already has a run-time cache, shares it, and with
//! it the handlers `init` chose for the function. So the plain begin
//! handlers check `ZEND_ACC_CLOSURE` on every call and hand closures to the
//! closure path; keying them by their `zend_function` would read the freed
//! closure at the end of the request (valgrind: invalid read in
//! `function_name`; without valgrind the segment took the name of whatever
//! closure reused the memory).

mod closures;
mod demotion;
mod handlers;
mod init;

pub use closures::ClosureNames;
pub(super) use handlers::{enter_function, leave_function};

use crate::naming::FileNamer;
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::zval::{function_name, zstr_lossy};
use seraph_txn::{CodeLocation, FuncKey, FuncNames, Transaction};

crate::per_thread! {
    /// Whether every user function is observed (`transaction_tracer.detail`
    /// of this thread's request).
    static OBSERVE_ALL: bool = true;
}

crate::per_thread! {
    /// Functions observed even with detail 0 (lower-case names).
    static EXTRA: Vec<String> = Vec::new();
}

crate::per_thread! {
    /// Functions `newrelic_add_custom_tracer` named in this request
    /// (lower-case, `class::method` for methods).
    static API_CUSTOM: Vec<String> = Vec::new();
}

/// A request starts: functions of the last one are gone.
pub fn request_started() {
    demotion::request_started();
    super::user::request_started();
}

/// The request ends (RSHUTDOWN, functions still alive): what demotion
/// learnt in it is kept for the process.
pub fn request_ended() {
    demotion::request_ended();
}

/// Module shutdown: releases what demotion learnt for the process.
pub fn forget() {
    demotion::forget();
}

/// A transaction starts (a request's, or `newrelic_start_transaction`):
/// functions due for a revisit are observed again.
pub fn transaction_started() {
    demotion::transaction_started();
}

/// Forgets the API's custom tracers (request start: New Relic's agent
/// keeps them for one request).
pub fn reset_api_custom_tracers() {
    let _ = API_CUSTOM.with(Vec::clear);
}

/// `newrelic_add_custom_tracer(name)`: functions of that name first called
/// from now on get the custom-tracer handlers; a function PHP already chose
/// plain segment handlers for is marked on the open transaction instead.
/// A function already called while unobserved (`detail = 0`) cannot be
/// traced in this request: PHP caches the observer's decision.
pub fn add_api_custom_tracer(name: &str) {
    let lname = name.trim().to_ascii_lowercase();
    if lname.is_empty() {
        return;
    }
    let _ = API_CUSTOM.with(|v| {
        if !v.contains(&lname) {
            v.push(lname.clone());
        }
    });
    let (cls, func) = match lname.split_once("::") {
        Some((c, f)) => (Some(c), f),
        None => (None, lname.as_str()),
    };
    // SAFETY: plain hash lookups with buffers of known length.
    let found = unsafe {
        match cls {
            Some(c) => ffi::seraph_find_function(
                c.as_ptr().cast(),
                c.len(),
                func.as_ptr().cast(),
                func.len(),
            ),
            None => {
                ffi::seraph_find_function(std::ptr::null(), 0, func.as_ptr().cast(), func.len())
            }
        }
    };
    // SAFETY: a function from the engine's tables, or null.
    if found.is_null() || unsafe { u32::from((*found).type_) } != ffi::ZEND_USER_FUNCTION {
        return;
    }
    // SAFETY: as above.
    let Some(name) = (unsafe { function_name(found) }) else {
        return;
    };
    let key = found as usize;
    // A function demoted in this request is observed again.
    demotion::undemote(found);
    let _ = AGENT.with(|a| {
        if let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) {
            t.add_custom_key(key, &name);
        }
    });
}

crate::per_thread! {
    /// `webtransaction.name.functions` (lower-case) and `.files`.
    static NAMING: (Vec<String>, FileNamer) = (Vec::new(), FileNamer::EMPTY);
}

/// Updates the observation policy from the request's settings. PHP caches
/// per-function decisions, so this affects functions first called later.
pub fn configure(detail: u8, custom: &[String], name_functions: &[String], name_files: &str) {
    let _ = OBSERVE_ALL.with(|v| *v = detail >= 1);
    let _ = EXTRA.with(|v| {
        if v.as_slice() != custom {
            *v = custom.to_vec();
        }
    });
    let _ = NAMING.with(|n| {
        if n.0.as_slice() != name_functions {
            n.0 = name_functions.to_vec();
        }
        if n.1.source() != name_files {
            let (namer, bad) = FileNamer::new(name_files);
            for p in bad {
                tracing::warn!(
                    "newrelic.webtransaction.name.files: '{p}' is not a valid regular expression; ignored"
                );
            }
            n.1 = namer;
        }
    });
}

/// The name a file gives the transaction under `webtransaction.name.files`.
fn file_name(path: &str) -> Option<String> {
    NAMING.with(|n| n.1.name_for(path)).flatten()
}

/// Registers the observer (MINIT), and the fiber observers that keep each
/// fiber's open calls apart (see `seraph_txn`'s recorder).
pub fn register() {
    // Measured now, before any request (`php --ri newrelic` shows it).
    let _ = crate::clock::select();
    super::user::register();
    demotion::register();
    // SAFETY: called in MINIT, the only time PHP accepts observers.
    unsafe {
        ffi::zend_observer_fcall_register(Some(init::init));
        ffi::zend_observer_fiber_switch_register(Some(fiber_switch));
        ffi::zend_observer_fiber_destroy_register(Some(fiber_destroy));
    }
}

/// A fiber starts, suspends, resumes or ends: the transaction moves the
/// open calls of the context left off the stack. Without this, the calls
/// of one context popped the frames of another (a function that started a
/// fiber took the fiber's end time, the fiber's function the starter's).
unsafe extern "C" fn fiber_switch(
    from: *mut ffi::zend_fiber_context,
    to: *mut ffi::zend_fiber_context,
) {
    let (from, to) = (from as usize, to as usize);
    guard("fiber switch", (), || {
        with_txn(|t| t.switch_context(from, to))
    });
}

/// A fiber context is freed; its address may be reused by the next one.
unsafe extern "C" fn fiber_destroy(ctx: *mut ffi::zend_fiber_context) {
    let ctx = ctx as usize;
    guard("fiber destroy", (), || {
        with_txn(|t| t.context_destroyed(ctx))
    });
}

/// Runs `f` on the open transaction, if any. Only for the hot handlers:
/// `f` is `Transaction::enter_frame`, `leave_frame` or `switch_context`, which are pure
/// bookkeeping in `seraph_txn` and never reach PHP or the agent state.
#[inline(always)]
fn with_txn(f: impl FnOnce(&mut Transaction)) {
    // SAFETY: see above: `f` cannot re-enter AGENT.
    let _ = unsafe {
        AGENT.with_leaf(|a| {
            if let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) {
                f(t);
            }
        })
    };
}

/// Whether the frame runs a closure (see the module docs: a first-class
/// callable shares the handlers of the function it was made from).
#[inline(always)]
fn is_closure(func: *const ffi::zend_function) -> bool {
    // SAFETY: PHP passes observer handlers the live frame's function;
    // `common.fn_flags` is valid for every function type.
    unsafe { (*func).common.fn_flags & ffi::ZEND_ACC_CLOSURE != 0 }
}

/// Where a user function is defined (code-level metrics): its file, first
/// line, class and bare name.
///
/// # Safety
/// `func` must be null or a live zend_function.
pub unsafe fn location_of(func: *const ffi::zend_function) -> Option<CodeLocation> {
    if func.is_null() {
        return None;
    }
    // SAFETY: caller's contract; the type byte selects the op_array.
    unsafe {
        if u32::from((*func).type_) != ffi::ZEND_USER_FUNCTION {
            return None;
        }
        let common = &(*func).common;
        let function = zstr_lossy(common.function_name)?;
        let namespace = if common.scope.is_null() {
            None
        } else {
            zstr_lossy((*common.scope).name)
        };
        Some(CodeLocation {
            function,
            namespace,
            filepath: zstr_lossy((*func).op_array.filename),
            lineno: i64::from((*func).op_array.line_start),
        })
    }
}

/// Resolves observer keys to names at the end of a request (before PHP
/// frees user functions).
pub struct EngineNames<'a>(pub &'a ClosureNames);

impl FuncNames for EngineNames<'_> {
    fn name(&self, f: FuncKey) -> Option<String> {
        if f == 0 {
            return None;
        }
        if f & 1 == 1 {
            return self.0.seen.get(f >> 1).map(|(_, _, _, n, _)| n.clone());
        }
        // SAFETY: a user function observed during this request; user
        // functions are freed only after RSHUTDOWN.
        unsafe { function_name(f as *const ffi::zend_function) }
    }

    fn code_location(&self, f: FuncKey) -> Option<CodeLocation> {
        if f == 0 {
            return None;
        }
        if f & 1 == 1 {
            return self.0.seen.get(f >> 1).and_then(|e| e.4.clone());
        }
        // SAFETY: as in `name`.
        unsafe { location_of(f as *const ffi::zend_function) }
    }
}
