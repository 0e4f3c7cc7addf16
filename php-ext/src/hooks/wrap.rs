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
use rustc_hash::FxHashMap;
use std::sync::{Mutex, RwLock};

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
/// has a method of that name. Internal functions live until the module
/// shutdown, which clears the table ([`forget`]). Written only at startup
/// and shutdown (one thread); requests only read it. (Fast hash: looked up
/// on every wrapped call.)
type Slots = FxHashMap<Box<[u8]>, Vec<(Box<[u8]>, Slot)>>;
static SLOTS: RwLock<Option<Slots>> = RwLock::new(None);

/// `Class` targets already expanded into their methods.
static EXPANDED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

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
    EXPANDED.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Looks up an internal function by lower-case name.
fn find(target: Target) -> *mut ffi::zend_function {
    let (cls, name) = match target {
        Target::Function(f) => (None, f),
        Target::Method(c, m) => (Some(c), m),
        Target::Class(_) | Target::File(_) | Target::Callback(_) => return std::ptr::null_mut(),
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
        match hook.target {
            Target::Class(class) => {
                // Once per process: an internal class's methods never change.
                let first = !EXPANDED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&class);
                if !first {
                    continue;
                }
                let methods = class_methods(class, hook);
                if methods.is_empty() {
                    continue; // the extension is not loaded
                }
                for f in methods {
                    wrap(f, hook);
                }
                EXPANDED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(class);
            }
            target => wrap(find(target), hook),
        }
    }
}

/// The methods a `Class` row hooks: those the class declares, less the
/// ones another row names and the row's exceptions.
fn class_methods(class: &'static str, hook: &'static Hook) -> Vec<*mut ffi::zend_function> {
    extern "C" fn cb(ctx: *mut std::ffi::c_void, f: *mut ffi::zend_function) {
        // SAFETY: ctx is the Vec below, alive for the call.
        let v = unsafe { &mut *ctx.cast::<Vec<*mut ffi::zend_function>>() };
        v.push(f);
    }
    let mut all: Vec<*mut ffi::zend_function> = Vec::new();
    // SAFETY: the callback matches; ctx outlives the call.
    unsafe {
        ffi::seraph_class_methods(
            class.as_ptr().cast(),
            class.len(),
            Some(cb),
            (&mut all as *mut Vec<*mut ffi::zend_function>).cast(),
        )
    };
    let named = |m: &str| {
        table::rows().any(|(_, h)| matches!(h.target, Target::Method(c, n) if c == class && n == m))
    };
    all.into_iter()
        .filter(|&f| {
            // SAFETY: a live method of a loaded class.
            let name = unsafe { zstr((*f).common.function_name) }
                .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
                .unwrap_or_default();
            !name.is_empty() && !hook.except.contains(&name.as_str()) && !named(&name)
        })
        .collect()
}

/// Swaps the wrapper into one internal function, once.
fn wrap(f: *mut ffi::zend_function, hook: &'static Hook) {
    if f.is_null() {
        return;
    }
    {
        // SAFETY: `f` is a live function; internal functions carry a
        // handler, which PHP reads on each call (we are between calls).
        unsafe {
            if u32::from((*f).type_) != ffi::ZEND_INTERNAL_FUNCTION {
                return;
            }
            let slot = &mut (*f).internal_function.handler;
            let current = *slot;
            if current.is_none() {
                return;
            }
            let added = {
                let (name, class) = names(f);
                let mut slots = SLOTS.write().unwrap_or_else(|e| e.into_inner());
                let by_class = slots
                    .get_or_insert_with(FxHashMap::default)
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
    if ctx.is_quiet() {
        // The instrumentation's own call (an EXPLAIN): run it unobserved.
        // SAFETY: PHP's own arguments, passed through.
        let ok = unsafe { crate::zend::call_handler(orig, ex, rv) };
        if !ok {
            crate::zend::reraise_pending_bailout();
            crate::zend::bailout();
        }
        return;
    }
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
