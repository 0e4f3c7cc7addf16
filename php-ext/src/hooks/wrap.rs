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
use crate::zend::zval::zstr;
use std::collections::HashMap;
use std::sync::RwLock;

/// A wrapped function: its original handler and its row.
#[derive(Clone, Copy)]
struct Slot {
    orig: ffi::zif_handler,
    hook: &'static Hook,
}

/// The name and class name (empty for a plain function) of a function,
/// borrowed from it.
///
/// Wrapped functions are known by these, not by their address or their
/// string pointers: a thread-safe PHP before 8.4 gives every thread its own
/// copy of each internal function (`function_copy_ctor`, after
/// post-startup, so the copies carry our wrapper at addresses of their
/// own), and OPcache, whose post-startup step runs after ours, moves the
/// functions' name strings into its shared memory.
///
/// # Safety
/// `f` must be a live function; the slices live as long as it does.
unsafe fn names<'a>(f: *const ffi::zend_function) -> (&'a [u8], &'a [u8]) {
    // SAFETY: `common` is valid for every function; names and the class
    // entry live as long as the function (caller's contract).
    unsafe {
        let scope = (*f).common.scope;
        let class = if scope.is_null() {
            None
        } else {
            zstr((*scope).name)
        };
        (
            zstr((*f).common.function_name).unwrap_or_default(),
            class.unwrap_or_default(),
        )
    }
}

/// Wrapped functions: by name, then (class name, slot) for each class that
/// has a function of that name. Internal functions live until the module
/// shutdown, which clears the table ([`forget`]). Written only at startup
/// and shutdown (one thread); requests only read it.
type Slots = HashMap<Box<[u8]>, Vec<(Box<[u8]>, Slot)>>;
static SLOTS: RwLock<Option<Slots>> = RwLock::new(None);

fn slot((name, class): (&[u8], &[u8])) -> Option<Slot> {
    let slots = SLOTS.read().unwrap_or_else(|e| e.into_inner());
    let by_class = slots.as_ref()?.get(name)?;
    by_class
        .iter()
        .find(|(c, _)| **c == *class)
        .map(|(_, slot)| *slot)
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
                let (name, class) = names(f);
                let mut slots = SLOTS.write().unwrap_or_else(|e| e.into_inner());
                let by_class = slots
                    .get_or_insert_with(HashMap::new)
                    .entry(name.into())
                    .or_default();
                if by_class.iter().any(|(c, _)| **c == *class) {
                    false
                } else {
                    by_class.push((
                        class.into(),
                        Slot {
                            orig: current,
                            hook,
                        },
                    ));
                    true
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
    let func = unsafe { names((*ex).func) };
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
