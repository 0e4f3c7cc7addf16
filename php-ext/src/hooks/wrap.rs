//! Internal functions: the table's rows for functions of PHP extensions
//! (PDO, curl, mysqli, …) swap `zend_internal_function.handler` for
//! [`wrapper`], which runs the row's hook around the original handler.
//!
//! This works the same on PHP 8.1 (whose observer ignores internal
//! functions) and 8.2+, costs nothing for other functions, and gives the
//! hook the arguments and the return value. The swap happens once every
//! module has started (PHP's post-startup hook: extensions loaded after
//! this one, like `-d extension=pdo` on the command line, exist by then),
//! before any request and on one thread: internal functions are shared by
//! all threads of a ZTS PHP, so the swap and the table of original
//! handlers are process-wide and never change while requests run. It is
//! idempotent. The original handler always runs inside `zend_try`, so a
//! bailout in it lets the hook finish its bookkeeping before the bailout
//! is re-raised.

use super::call::Call;
use super::context::Ctx;
use super::table::{self, Before, Hook, Target};
use crate::zend::ffi;
use crate::zend::guard::guard;
use std::collections::HashMap;
use std::sync::RwLock;

/// A wrapped function: its original handler and its row.
#[derive(Clone, Copy)]
struct Slot {
    orig: ffi::zif_handler,
    hook: &'static Hook,
}

/// Identifies an internal function by its name string and its class (null
/// for a plain function), not by its address: a thread-safe PHP before 8.4
/// gives every thread its own copy of each internal function
/// (`function_copy_ctor`), copied after post-startup and so carrying our
/// wrapper, at an address of its own; the copy keeps the original's name
/// and class pointers (a `memcpy`). Names are interned for the process.
type Key = (usize, usize);

/// The key of a function.
///
/// # Safety
/// `f` must be a live function.
unsafe fn key(f: *const ffi::zend_function) -> Key {
    // SAFETY: `common` is valid for every function (caller's contract).
    unsafe {
        (
            (*f).common.function_name as usize,
            (*f).common.scope as usize,
        )
    }
}

/// Wrapped functions. Internal functions live until the module shutdown,
/// which clears the table ([`forget`]). Written only at startup and
/// shutdown (one thread); requests only read it.
static SLOTS: RwLock<Option<HashMap<Key, Slot>>> = RwLock::new(None);

fn slot(key: Key) -> Option<Slot> {
    let slots = SLOTS.read().unwrap_or_else(|e| e.into_inner());
    slots.as_ref().and_then(|s| s.get(&key).copied())
}

/// Forgets the wrapped functions (MSHUTDOWN: their structures are freed
/// with the modules; a restart in the same process wraps the new ones).
pub fn forget() {
    *SLOTS.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Looks up an internal function by lower-case name.
fn find(target: Target) -> *mut ffi::zend_function {
    let (cls, name) = match target {
        Target::Function(f) => (None, f),
        Target::Method(c, m) => (Some(c), m),
        Target::File(_) => return std::ptr::null_mut(),
    };
    let (cp, cl) = cls.map_or((std::ptr::null(), 0), |c| (c.as_ptr().cast(), c.len()));
    // SAFETY: lookup by name in the engine's tables; the result is checked
    // by the caller.
    unsafe { ffi::seraph_find_function(cp, cl, name.as_ptr().cast(), name.len()) }
}

/// Swaps in the wrapper for every internal target that exists and is not
/// wrapped yet. Called at post-startup only (see the module docs).
pub fn install() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        let problems = table::problems(table::rows());
        for p in &problems {
            tracing::error!("instrumentation table: {p}");
        }
        debug_assert!(problems.is_empty(), "instrumentation table: {problems:?}");
    });
    for (_, hook) in table::rows() {
        let f = find(hook.target);
        if f.is_null() {
            continue;
        }
        // SAFETY: `f` is a live function; internal functions carry a
        // handler, which PHP reads on each call (we are between calls).
        unsafe {
            if u32::from((*f).type_) != ffi::ZEND_INTERNAL_FUNCTION {
                continue;
            }
            let slot = &mut (*f).internal_function.handler;
            let current = *slot;
            if current.is_none() {
                continue;
            }
            let added = {
                let mut slots = SLOTS.write().unwrap_or_else(|e| e.into_inner());
                match slots.get_or_insert_with(HashMap::new).entry(key(f)) {
                    std::collections::hash_map::Entry::Occupied(_) => false,
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(Slot {
                            orig: current,
                            hook,
                        });
                        true
                    }
                }
            };
            if added {
                *slot = Some(wrapper);
            }
        }
    }
}

unsafe extern "C" fn wrapper(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    // SAFETY: PHP passes the live frame of the wrapped function.
    let func = unsafe { key((*ex).func) };
    let Some(Slot { orig, hook }) = slot(func) else {
        // Unreachable (only wrapped functions point here), and we could
        // not run the original: say so rather than do nothing silently.
        tracing::error!("instrumented function called without its original handler");
        return;
    };
    let ctx = Ctx::current();
    // SAFETY: the live frame; there is no return value yet.
    let before_call = unsafe { Call::new(ex, std::ptr::null_mut()) };
    let before = match hook.before {
        Some(f) => guard("instrumentation (before)", Before::default(), || {
            f(&before_call, &ctx)
        }),
        None => Before::default(),
    };
    // SAFETY: calling the original handler with PHP's own arguments. If
    // the before step's call into PHP bailed out, the shim does not run it
    // and reports the bailout.
    let ok = unsafe { crate::zend::call_handler(orig, ex, rv) };
    if let Some(m) = hook.metric {
        guard("instrumentation (count)", (), || ctx.count(m));
    }
    if let Some(f) = hook.after {
        // SAFETY: the live frame and its filled return slot.
        let call = unsafe { Call::new(ex, rv) };
        guard("instrumentation (after)", (), || f(&call, &ctx, before));
    }
    // The original handler, or a call the hook made into PHP, bailed out:
    // the shim caught it; re-raise now that the bookkeeping is done.
    crate::zend::reraise_pending_bailout();
    if !ok || before.bailed {
        crate::zend::bailout();
    }
}
