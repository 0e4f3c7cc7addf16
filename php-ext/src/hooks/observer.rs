//! The Zend Observer API: one segment per observed user function.
//!
//! PHP asks [`init`] once per function and caches the answer, so the
//! decision is made there: with `transaction_tracer.detail = 1` every user
//! function is observed; with `0` only the functions named in
//! `transaction_tracer.custom`. Unobserved functions cost nothing after
//! their first call. The begin/end handlers are the hot path: one clock
//! read and a push/pop on the segment stack, no allocation. The end
//! handler also runs when a function exits by exception.
//!
//! Function keys are the `zend_function` pointer, resolved to a name only
//! when the transaction ends (functions live until after RSHUTDOWN).
//! Closures are the exception: their `zend_function` and even their name
//! string belong to the closure object and are freed with it (valgrind
//! caught this), so a closure's name is copied on first sight into a small
//! per-request table and its key is `(index << 1) | 1`.

use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::zval::{function_name, zstr};
use seraph_txn::{FuncKey, FuncNames};
use std::sync::atomic::{AtomicBool, Ordering};

static OBSERVE_ALL: AtomicBool = AtomicBool::new(true);

/// Functions observed even with detail 0 (lower-case names).
static EXTRA: crate::zend::nts::NtsCell<Vec<String>> = crate::zend::nts::NtsCell::new(Vec::new());

/// Updates the observation policy from the request's settings. PHP caches
/// per-function decisions, so this affects functions first called later.
pub fn configure(detail: u8, custom: &[String]) {
    OBSERVE_ALL.store(detail >= 1, Ordering::Relaxed);
    let _ = EXTRA.with(|v| {
        if v.as_slice() != custom {
            *v = custom.to_vec();
        }
    });
}

/// Registers the observer (MINIT).
pub fn register() {
    // SAFETY: called in MINIT, the only time PHP accepts observers.
    unsafe { ffi::zend_observer_fcall_register(Some(init)) };
}

const NONE: ffi::zend_observer_fcall_handlers = ffi::zend_observer_fcall_handlers {
    begin: None,
    end: None,
};

unsafe extern "C" fn init(ex: *mut ffi::zend_execute_data) -> ffi::zend_observer_fcall_handlers {
    guard("observer init", NONE, || {
        // SAFETY: PHP passes the frame of the function being initialised.
        let func = unsafe { (*ex).func };
        if func.is_null() {
            return NONE;
        }
        // SAFETY: `type_` and `common` are valid for every function.
        let (ty, flags, named) = unsafe {
            (
                u32::from((*func).type_),
                (*func).common.fn_flags,
                !(*func).common.function_name.is_null(),
            )
        };
        // Internal functions are instrumented by handler wrappers instead;
        // the main script (no name) is the transaction itself.
        if ty != ffi::ZEND_USER_FUNCTION || !named {
            return NONE;
        }
        let observe = OBSERVE_ALL.load(Ordering::Relaxed) || {
            // SAFETY: valid function.
            let name = unsafe { function_name(func) }
                .unwrap_or_default()
                .to_ascii_lowercase();
            EXTRA.with(|v| v.contains(&name)).unwrap_or(false)
        };
        if !observe {
            return NONE;
        }
        let closure = flags & ffi::ZEND_ACC_CLOSURE != 0;
        ffi::zend_observer_fcall_handlers {
            begin: Some(if closure { begin_closure } else { begin }),
            end: Some(end),
        }
    })
}

#[inline(always)]
fn enter(key: FuncKey) {
    let _ = AGENT.with(|a| {
        if let Some(a) = a.as_mut() {
            if let Some(t) = a.txn.as_mut() {
                let now = a.clock.now();
                t.enter(key, now);
                a.req.user_calls += 1;
            }
        }
    });
}

unsafe extern "C" fn begin(ex: *mut ffi::zend_execute_data) {
    // SAFETY: PHP passes the live frame of an observed function.
    let key = unsafe { (*ex).func } as usize;
    guard("observer begin", (), || enter(key));
}

unsafe extern "C" fn begin_closure(ex: *mut ffi::zend_execute_data) {
    // SAFETY: as in `begin`; the name string is alive during the call.
    let name = unsafe { (*(*ex).func).common.function_name };
    guard("observer begin", (), || {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                if let Some(t) = a.txn.as_mut() {
                    let now = a.clock.now();
                    // SAFETY: alive during this call (see above).
                    let bytes = unsafe { zstr(name) }.unwrap_or_default();
                    let idx = a.req.closures.key(name as usize, bytes);
                    t.enter((idx << 1) | 1, now);
                    a.req.user_calls += 1;
                }
            }
        });
    });
}

/// Names of the closures seen in this request.
#[derive(Debug, Default)]
pub struct ClosureNames {
    seen: Vec<(usize, String)>,
}

impl ClosureNames {
    /// The index of this closure name, adding it on first sight. The text
    /// is compared too: a freed name string's address may be reused.
    pub fn key(&mut self, ptr: usize, name: &[u8]) -> usize {
        if let Some(i) = self
            .seen
            .iter()
            .position(|(p, n)| *p == ptr && n.as_bytes() == name)
        {
            return i;
        }
        self.seen
            .push((ptr, String::from_utf8_lossy(name).into_owned()));
        self.seen.len() - 1
    }
}

unsafe extern "C" fn end(_ex: *mut ffi::zend_execute_data, _rv: *mut ffi::zval) {
    guard("observer end", (), || {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                if let Some(t) = a.txn.as_mut() {
                    let now = a.clock.now();
                    t.leave(now);
                }
            }
        });
    });
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
            return self.0.seen.get(f >> 1).map(|(_, n)| n.clone());
        }
        // SAFETY: a user function observed during this request; user
        // functions are freed only after RSHUTDOWN.
        unsafe { function_name(f as *const ffi::zend_function) }
    }
}
