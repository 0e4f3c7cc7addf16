//! User functions and files: the table's rows for PHP code (a framework's
//! router, Predis, Guzzle, Monolog) and for files (framework detection).
//!
//! The Zend observer asks `observer::init` once per function and request;
//! it asks [`find`] whether a row names the function and, if so, installs
//! [`begin`]/[`end`] for it, which run the row's hook around the call. A
//! hooked function whose row keeps the ordinary segment
//! ([`Segment::Function`]) is also traced like any other function when
//! user functions are observed at all.
//!
//! The observer gives handlers no per-call storage, so what a `before` step
//! hands to its `after` step waits in a per-request list keyed by the frame
//! address ([`OpenCalls`]).

use super::call::Call;
use super::context::Ctx;
use super::framework;
use super::observer;
use super::table::{self, Before, Hook, Library, Segment, Target};
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::rt_slot::RuntimeSlot;
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use seraph_txn::Framework;
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{OnceLock, RwLock};

/// Rows for functions and methods, by lower-case `function` or
/// `class::method`, with their library; and the [`name_hash`] of every
/// such name, so that `init` can rule a function out (nearly all of them)
/// without building its lower-case name.
struct ByName {
    rows: HashMap<String, (&'static Library, &'static Hook)>,
    hashes: FxHashSet<u64>,
}

/// [`ByName`], built on first use and released at module shutdown
/// ([`forget`]), so the process ends owning none of it (valgrind would
/// otherwise count the table as possibly lost: a hash map points into the
/// middle of its allocation).
static BY_NAME: RwLock<Option<ByName>> = RwLock::new(None);

fn build() -> ByName {
    let rows: HashMap<String, (&'static Library, &'static Hook)> = table::rows()
        .filter_map(|(lib, h)| match h.target {
            Target::Function(f) => Some((f.to_owned(), (lib, h))),
            Target::Method(c, m) => Some((format!("{c}::{m}"), (lib, h))),
            Target::Class(_) | Target::File(_) | Target::Callback(_) => None,
        })
        .collect();
    let hashes = rows.keys().map(|k| name_hash(&[k.as_bytes()])).collect();
    ByName { rows, hashes }
}

/// A hash of the ASCII-lower-cased concatenation of `parts`, fed piece by
/// piece (a method's class, `::` and name need not be joined first).
pub fn name_hash(parts: &[&[u8]]) -> u64 {
    let mut h = FxHasher::default();
    for part in parts {
        for &b in *part {
            h.write_u8(b.to_ascii_lowercase());
        }
    }
    h.finish()
}

/// Whether a row may name the user function `func` (false means surely
/// not), decided from its name's bytes without allocating.
///
/// # Safety
/// `func` must be a live user function.
pub unsafe fn may_be_hooked(func: *const ffi::zend_function) -> bool {
    // SAFETY: the caller's contract; `common` is valid for every function.
    let hash = unsafe {
        let common = &(*func).common;
        let Some(name) = crate::zend::zval::zstr(common.function_name) else {
            return false;
        };
        match common.scope.as_ref() {
            None => name_hash(&[name]),
            Some(scope) => {
                let class = crate::zend::zval::zstr(scope.name).unwrap_or_default();
                name_hash(&[class, b"::", name])
            }
        }
    };
    with_by_name(|m| m.hashes.contains(&hash))
}

/// Runs `f` on the table, building it first if needed.
fn with_by_name<R>(f: impl FnOnce(&ByName) -> R) -> R {
    {
        let map = BY_NAME.read().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = map.as_ref() {
            return f(m);
        }
    }
    let mut map = BY_NAME.write().unwrap_or_else(|e| e.into_inner());
    f(map.get_or_insert_with(build))
}

/// Releases the table (MSHUTDOWN; a restart in the same process builds it
/// again).
pub fn forget() {
    *BY_NAME.write().unwrap_or_else(|e| e.into_inner()) = None;
    // The hooked functions' list too (its map points into the middle of
    // its allocation, which valgrind counts as possibly lost at exit).
    let _ = HOOKED.with(|h| *h = None);
}

/// The row for a user function, by its lower-case name (`function` or
/// `namespace\class::method`).
pub fn find(lname: &str) -> Option<(&'static Library, &'static Hook)> {
    with_by_name(|m| m.rows.get(lname).copied())
}

/// A hooked function's row, and the framework whose requests it is limited
/// to (rows of a framework's table).
#[derive(Clone, Copy)]
struct Hooked {
    hook: &'static Hook,
    only: Option<Framework>,
}

/// The hooked functions of this request. `init` fills it before PHP can
/// call their handlers, and notes each one's position (plus one) in a
/// slot of the function's run-time cache ([`SLOT`]), so the handlers,
/// which run on every call (WordPress: tens of thousands per page), read
/// their row without a look-up. Emptied when a request starts, as PHP
/// empties run-time caches.
#[derive(Default)]
struct Hooks {
    rows: Vec<Hooked>,
    /// Positions in `rows` by `zend_function` address (for [`row_of`],
    /// which walks frames whose slots it cannot trust, and for a function
    /// without a run-time cache slot).
    by_func: FxHashMap<usize, usize>,
    /// Counts requests: a slot holds it beside the position, so a slot
    /// PHP did not empty is never read as this request's.
    generation: u32,
}

impl Hooks {
    /// What a slot holds for position `i`: never 0 (an empty slot).
    fn slot_value(&self, i: usize) -> usize {
        ((self.generation as usize) << 32) | (i + 1)
    }

    /// The row a slot value names, if it is this request's.
    fn row_in_slot(&self, value: usize) -> Option<Hooked> {
        if value >> 32 != self.generation as usize {
            return None;
        }
        self.rows
            .get((value & 0xffff_ffff).checked_sub(1)?)
            .copied()
    }
}

crate::per_thread! {
    static HOOKED: Option<Hooks> = None;
}

/// The run-time cache slot of [`Hooks`].
static SLOT: RuntimeSlot = RuntimeSlot::unreserved();

/// MINIT, before the observer registers: reserves the slot.
pub fn register() {
    // SAFETY: MINIT, when PHP hands out op_array extension handles.
    SLOT.reserve(unsafe { ffi::seraph_hook_slot_handle() });
}

/// A request starts: PHP asks `init` again for every function it calls
/// (run-time caches are per request), so the hooked functions of the last
/// request are forgotten; an address they leave behind may be an unhooked
/// function's now, which [`row_of`] must not mistake for theirs.
pub(super) fn request_started() {
    let _ = HOOKED.with(|h| {
        if let Some(h) = h.as_mut() {
            h.rows.clear();
            h.by_func.clear();
            h.generation = h.generation.wrapping_add(1);
        }
    });
}

/// The observer handlers for the hooked function running in `ex`;
/// `observe` says whether user functions are traced at all.
///
/// # Safety
/// `ex` must be the frame PHP passed to the observer's `init`.
pub unsafe fn handlers(
    ex: *mut ffi::zend_execute_data,
    lib: &'static Library,
    hook: &'static Hook,
    observe: bool,
) -> ffi::zend_observer_fcall_handlers {
    let only = table::framework_of(lib).map(|f| f.framework);
    // SAFETY: the caller's contract.
    let func = unsafe { (*ex).func } as usize;
    let value = HOOKED.with(|h| {
        let h = h.get_or_insert_with(Hooks::default);
        h.rows.push(Hooked { hook, only });
        let i = h.rows.len() - 1;
        h.by_func.insert(func, i);
        h.slot_value(i)
    });
    // SAFETY: the caller's contract; the slot is this module's.
    if let (Some(value), Some(slot)) = (value, unsafe { SLOT.of_frame(ex) }) {
        // SAFETY: as above.
        unsafe { *slot = value };
    }
    let traced = observe && hook.segment == Segment::Function;
    ffi::zend_observer_fcall_handlers {
        begin: Some(if traced {
            begin::<true>
        } else {
            begin::<false>
        }),
        end: Some(if traced { end::<true> } else { end::<false> }),
    }
}

/// The row of a hooked user function, by its `zend_function` (null or
/// unhooked: `None`).
pub(super) fn row_of(func: *const ffi::zend_function) -> Option<&'static Hook> {
    if func.is_null() {
        return None;
    }
    HOOKED
        .with(|h| {
            let h = h.as_ref()?;
            h.by_func.get(&(func as usize)).map(|&i| h.rows[i].hook)
        })
        .flatten()
}

/// The row of a hooked call, unless the hook does not apply now
/// ([`Ctx::hook_applies`]: the instrumentation is calling PHP, or the row
/// is a framework's and the request is not of that framework).
fn hook_of(ex: *mut ffi::zend_execute_data, ctx: &Ctx<'_>) -> Option<&'static Hook> {
    // SAFETY: the live frame PHP passed to an observer handler, of a
    // function `init` gave these handlers (so it noted the slot).
    let noted = unsafe { SLOT.of_frame(ex) }
        .map(|s| unsafe { *s })
        .unwrap_or(0);
    let h = HOOKED
        .with(|h| {
            let h = h.as_ref()?;
            h.row_in_slot(noted).or_else(|| {
                // SAFETY: as above.
                let func = unsafe { (*ex).func } as usize;
                h.by_func.get(&func).map(|&i| h.rows[i])
            })
        })
        .flatten()?;
    ctx.hook_applies(h.only).then_some(h.hook)
}

/// `before` results of hooked calls still running, by frame address (in
/// the request state: looked at on every hooked call with a `before`).
#[derive(Debug, Default)]
pub struct OpenCalls(Vec<(usize, Before)>);

impl OpenCalls {
    /// Calls open at once; beyond this (runaway recursion through a hooked
    /// function) `before` results are dropped and `after` sees defaults.
    const LIMIT: usize = 4096;
}

unsafe extern "C" fn begin<const TRACED: bool>(ex: *mut ffi::zend_execute_data) {
    if TRACED {
        // SAFETY: forwarded from PHP.
        unsafe { observer::enter_function(ex) };
    }
    let ctx = Ctx::current();
    let Some(hook) = hook_of(ex, &ctx) else {
        return;
    };
    let Some(f) = hook.before else { return };
    // SAFETY: the live frame; no return value yet.
    let call = unsafe { Call::new(ex, std::ptr::null_mut()) };
    guard("user hook (before)", (), || {
        let before = f(&call, &ctx);
        if before == Before::default() {
            // Nothing for `after` (most WordPress dispatches): `end` finds
            // no entry and passes the default.
            return;
        }
        ctx.agent(|a| {
            let open = &mut a.req.open_calls;
            if open.0.len() < OpenCalls::LIMIT {
                open.0.push((ex as usize, before));
            }
        });
    });
    crate::zend::reraise_pending_bailout();
}

unsafe extern "C" fn end<const TRACED: bool>(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    let ctx = Ctx::current();
    if let Some(hook) = hook_of(ex, &ctx) {
        // SAFETY: the live frame and its return slot (null: it threw).
        let call = unsafe { Call::new(ex, rv) };
        guard("user hook (after)", (), || {
            let before = if hook.before.is_some() {
                ctx.agent(|a| {
                    let open = &mut a.req.open_calls.0;
                    let i = open.iter().rposition(|(e, _)| *e == ex as usize)?;
                    Some(open.remove(i).1)
                })
                .flatten()
                .unwrap_or_default()
            } else {
                Before::default()
            };
            if let Some(f) = hook.after {
                f(&call, &ctx, before);
            }
            if let Some(m) = hook.metric {
                ctx.count(m);
            }
        });
    }
    if TRACED {
        // SAFETY: forwarded from PHP.
        unsafe { observer::leave_function(ex, rv) };
    }
    crate::zend::reraise_pending_bailout();
}

/// Files already looked at in this request, by file-name string address
/// (interned: shared by every function of the file).
#[derive(Default)]
struct SeenFiles(FxHashSet<usize>);
crate::hooks::context::lib_state!(SeenFiles);

/// Runs the file rows that match `filename`, once per file and request.
///
/// Called when the observer first sees a user function or a file's own
/// code run in this request: a file that only declares classes is never
/// executed itself (PHP skips a file whose code is just `return 1`), but
/// the first call of one of its functions names it here.
///
/// # Safety
/// `filename` must be null or a live `zend_string`.
pub(super) unsafe fn saw_file(filename: *const ffi::zend_string) {
    if filename.is_null() {
        return;
    }
    let ctx = Ctx::current();
    let Some((first, first_file)) = ctx.with(|s| {
        let seen = &mut s.state::<SeenFiles>().0;
        let first_file = seen.is_empty();
        (seen.insert(filename as usize), first_file)
    }) else {
        return;
    };
    if !first {
        return;
    }
    if first_file {
        guard("framework forcing", (), || framework::first_file(&ctx));
    }
    if !has_file_rows() {
        return;
    }
    // SAFETY: the caller's contract.
    let Some(path) = (unsafe { crate::zend::zval::zstr(filename) }) else {
        return;
    };
    for (lib, hook) in table::rows() {
        let Target::File(suffix) = hook.target else {
            continue;
        };
        // New Relic compares file names case-insensitively.
        let tail = path.len().checked_sub(suffix.len()).map(|i| &path[i..]);
        if !tail.is_some_and(|t| t.eq_ignore_ascii_case(suffix.as_bytes())) {
            continue;
        }
        let path = String::from_utf8_lossy(path);
        guard("file hook", (), || {
            if let Some(fl) = table::framework_of(lib) {
                if hook.detects {
                    framework::file_of(&ctx, fl, &path);
                } else if ctx.framework() != Some(fl.framework) {
                    return;
                }
            }
            if let Some(f) = hook.on_file {
                f(&path, &ctx);
            }
            if let Some(m) = hook.metric {
                ctx.count(m);
            }
        });
    }
}

/// Whether the table has any file rows (if not, files cost nothing).
fn has_file_rows() -> bool {
    static ANY: OnceLock<bool> = OnceLock::new();
    *ANY.get_or_init(|| table::rows().any(|(_, h)| matches!(h.target, Target::File(_))))
}

/// Whether the table has rows for PHP code or files: then the observer
/// must be registered even when user functions are not traced.
pub fn any_rows() -> bool {
    has_file_rows() || with_by_name(|m| !m.rows.is_empty())
}

#[cfg(test)]
mod tests {
    use super::name_hash;

    #[test]
    fn a_name_hashes_alike_in_pieces_and_in_any_case() {
        assert_eq!(
            name_hash(&[b"Predis\\Client", b"::", b"executeCommand"]),
            name_hash(&[b"predis\\client::executecommand"])
        );
        assert_ne!(name_hash(&[b"apply_filters"]), name_hash(&[b"do_action"]));
    }
}
