//! The Zend Observer API: one segment per observed user function.
//!
//! PHP asks [`init`] once per function and caches the answer, so the
//! decision is made there: with `transaction_tracer.detail = 1` every user
//! function is observed; with `0` only the functions named in
//! `transaction_tracer.custom`. Unobserved functions cost nothing after
//! their first call. The begin/end handlers are the hot path: one clock
//! read and a push/pop on the segment stack, no allocation. They come in
//! two monomorphised flavours, one per clock source, chosen at `init`, so
//! no handler branches on the source. The end handler also runs when a
//! function exits by exception.
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

use crate::clock;
use crate::hooks::{callbacks, errors, user};
use crate::naming::FileNamer;
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::zval::{function_name, zstr, zstr_lossy};
use seraph_txn::{CodeLocation, FuncKey, FuncNames, NameSource, Transaction};

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
    // SAFETY: called in MINIT, the only time PHP accepts observers.
    unsafe {
        ffi::zend_observer_fcall_register(Some(init));
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
        // Internal functions are instrumented by handler wrappers instead.
        if ty != ffi::ZEND_USER_FUNCTION {
            return NONE;
        }
        // SAFETY: user functions have an op_array whose file name lives as
        // long as the function.
        unsafe { user::saw_file((*func).op_array.filename) };
        if !named {
            // A file (main script or include): only `name.files` cares.
            // SAFETY: user functions have an op_array with a filename.
            let file = unsafe { zstr_lossy((*func).op_array.filename) }.unwrap_or_default();
            return if file_name(&file).is_some() {
                ffi::zend_observer_fcall_handlers {
                    begin: Some(begin_file),
                    end: None,
                }
            } else {
                NONE
            };
        }
        // SAFETY: valid function.
        let lname = unsafe { function_name(func) }
            .unwrap_or_default()
            .to_ascii_lowercase();
        let naming = NAMING.with(|n| n.0.contains(&lname)).unwrap_or(false);
        let custom = EXTRA.with(|v| v.contains(&lname)).unwrap_or(false)
            || API_CUSTOM.with(|v| v.contains(&lname)).unwrap_or(false);
        let observe = custom || OBSERVE_ALL.with(|v| *v).unwrap_or(true);
        // A library hook (a framework's router, Predis, Guzzle) takes the
        // function; `name.functions` and custom tracers do not apply to it.
        if let Some((lib, hook)) = user::find(&lname) {
            return user::handlers(func, lib, hook, observe);
        }
        // A callback a library hooked in this request (a WordPress hook's).
        if let Some((lib, hook)) = callbacks::find(func) {
            return user::handlers(func, lib, hook, observe);
        }
        let closure = flags & ffi::ZEND_ACC_CLOSURE != 0;
        let tsc = clock::tsc_source();
        let end: ffi::zend_observer_fcall_end_handler = Some(match (custom, tsc) {
            (true, true) => end_custom::<true>,
            (true, false) => end_custom::<false>,
            (false, true) => end::<true>,
            (false, false) => end::<false>,
        });
        match (observe, naming) {
            (false, false) => NONE,
            (false, true) => ffi::zend_observer_fcall_handlers {
                begin: Some(begin_name),
                end: None,
            },
            (true, true) => ffi::zend_observer_fcall_handlers {
                begin: Some(begin_name_and_segment),
                end,
            },
            (true, false) => ffi::zend_observer_fcall_handlers {
                begin: Some(match (closure, tsc) {
                    (true, _) => begin_closure,
                    (false, true) => begin::<true>,
                    (false, false) => begin::<false>,
                }),
                end,
            },
        }
    })
}

/// Runs `f` on the open transaction, if any. Only for the hot handlers:
/// `f` is `Transaction::enter`, `leave` or `switch_context`, which are pure
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

/// The hot begin handler: the clock, then one frame push.
unsafe extern "C" fn begin<const TSC: bool>(ex: *mut ffi::zend_execute_data) {
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    if is_closure(func) {
        // SAFETY: forwarded.
        return unsafe { begin_closure_cold(ex) };
    }
    let key = func as usize;
    guard("observer begin", (), || {
        with_txn(|t| t.enter(key, clock::ticks::<TSC>()))
    });
}

/// [`begin_closure`] out of the hot handler's line.
#[cold]
#[inline(never)]
unsafe fn begin_closure_cold(ex: *mut ffi::zend_execute_data) {
    // SAFETY: forwarded.
    unsafe { begin_closure(ex) }
}

/// Names the transaction after a `webtransaction.name.*` match. Despite
/// the settings' names, New Relic applies them to CLI (background)
/// transactions too (`OtherTransaction/Function/…`).
fn name_after(source: NameSource, name: String) {
    let _ = AGENT.with(|a| {
        if let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) {
            t.set_name(source, &name);
        }
    });
}

unsafe extern "C" fn begin_name(ex: *mut ffi::zend_execute_data) {
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    guard("observer begin (naming)", (), || {
        // SAFETY: as above.
        if let Some(name) = unsafe { function_name(func) } {
            name_after(NameSource::Function, name);
        }
    });
}

unsafe extern "C" fn begin_name_and_segment(ex: *mut ffi::zend_execute_data) {
    // SAFETY: forwarded.
    unsafe { begin_name(ex) };
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    if is_closure(func) {
        // SAFETY: forwarded.
        return unsafe { begin_closure(ex) };
    }
    let key = func as usize;
    guard("observer begin", (), || {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                let now = a.clock.now();
                if let Some(t) = a.txn.as_mut() {
                    t.enter(key, now);
                }
            }
        });
    });
}

unsafe extern "C" fn begin_file(ex: *mut ffi::zend_execute_data) {
    // SAFETY: the live frame of a file's op_array.
    let file = unsafe { zstr_lossy((*(*ex).func).op_array.filename) };
    guard("observer begin (file naming)", (), || {
        if let Some(name) = file.as_deref().and_then(file_name) {
            name_after(NameSource::File, name);
        }
    });
}

/// Opens the ordinary segment of a hooked user function (see
/// `hooks::user`).
///
/// # Safety
/// `ex` must be the live frame PHP passed to an observer begin handler.
pub(super) unsafe fn enter_function(ex: *mut ffi::zend_execute_data) {
    // SAFETY: forwarded.
    let key = unsafe { (*ex).func } as usize;
    guard("observer begin (hooked)", (), || {
        let now = if clock::tsc_source() {
            clock::ticks::<true>()
        } else {
            clock::ticks::<false>()
        };
        with_txn(|t| t.enter(key, now))
    });
}

/// Closes the segment [`enter_function`] opened.
///
/// # Safety
/// `ex` and `rv` must be what PHP passed to an observer end handler.
pub(super) unsafe fn leave_function(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    // SAFETY: forwarded.
    unsafe {
        if clock::tsc_source() {
            end::<true>(ex, rv)
        } else {
            end::<false>(ex, rv)
        }
    }
}

unsafe extern "C" fn begin_closure(ex: *mut ffi::zend_execute_data) {
    // SAFETY: as in `begin`; the function, its name string and its scope
    // are alive during the call.
    let (func, name, scope) = unsafe {
        let func = (*ex).func;
        (func, (*func).common.function_name, (*func).common.scope)
    };
    guard("observer begin", (), || {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                if let Some(t) = a.txn.as_mut() {
                    let now = a.clock.now();
                    // SAFETY: alive during this call (see above).
                    let bytes = unsafe { zstr(name) }.unwrap_or_default();
                    let idx = a
                        .req
                        .closures
                        .key(name as usize, scope as usize, bytes, || {
                            // A first-class callable keeps its function's name
                            // and class (`Class::method`), like a direct call;
                            // a closure literal is `{closure}`.
                            // SAFETY: the live frame's function (above).
                            let fake =
                                unsafe { (*func).common.fn_flags } & ffi::ZEND_ACC_FAKE_CLOSURE;
                            let name = if fake != 0 {
                                // SAFETY: as above.
                                unsafe { function_name(func) }
                            } else {
                                None
                            }
                            .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
                            // SAFETY: as above; copied now, the closure's
                            // function may be freed before the request ends.
                            (name, unsafe { location_of(func) })
                        });
                    t.enter((idx << 1) | 1, now);
                }
            }
        });
    });
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

/// A closure's name and where it is defined.
type ClosureEntry = (usize, usize, Box<[u8]>, String, Option<CodeLocation>);

/// Names of the closures seen in this request.
#[derive(Debug, Default)]
pub struct ClosureNames {
    /// (name string address, scope address, name text, resolved name,
    /// location).
    seen: Vec<ClosureEntry>,
}

impl ClosureNames {
    /// Distinct closures named per request; later ones share one entry.
    /// Declarations bound the table in practice; this bounds it for a
    /// CLI worker that runs one request for days.
    pub const LIMIT: usize = 1024;

    /// The index of this closure, adding it on first sight with the name
    /// `resolve` gives. The text is compared too: a freed name string's
    /// address may be reused. The scope tells apart methods of different
    /// classes that share an (interned) name.
    pub fn key(
        &mut self,
        name_ptr: usize,
        scope: usize,
        text: &[u8],
        resolve: impl FnOnce() -> (String, Option<CodeLocation>),
    ) -> usize {
        if let Some(i) = self
            .seen
            .iter()
            .position(|(p, s, t, _, _)| *p == name_ptr && *s == scope && **t == *text)
        {
            return i;
        }
        if self.seen.len() >= Self::LIMIT - 1 {
            if self.seen.len() == Self::LIMIT - 1 {
                let overflow = (
                    usize::MAX,
                    usize::MAX,
                    Box::default(),
                    "{closure}".into(),
                    None,
                );
                self.seen.push(overflow);
            }
            return Self::LIMIT - 1;
        }
        let (name, location) = resolve();
        self.seen
            .push((name_ptr, scope, text.into(), name, location));
        self.seen.len() - 1
    }
}

/// The hot end handler: the clock, then one frame pop (and, for the rare
/// call that is slow or has something attached, the keep decision). PHP
/// passes no return value when the function exits by an exception.
unsafe extern "C" fn end<const TSC: bool>(_ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    if rv.is_null() {
        end_by_exception::<TSC>(None);
        // Reading the exception may have run a __get that bailed out.
        crate::zend::reraise_pending_bailout();
        return;
    }
    guard("observer end", (), || {
        with_txn(|t| t.leave(clock::ticks::<TSC>()))
    });
}

/// The end handler of a `transaction_tracer.custom` function: its segment
/// is kept however short it is and makes a `Custom/<function>` metric
/// (scoped and unscoped), as New Relic's custom tracers do. Only listed
/// functions come here, so resolving the name per call is affordable.
unsafe extern "C" fn end_custom<const TSC: bool>(
    ex: *mut ffi::zend_execute_data,
    rv: *mut ffi::zval,
) {
    let now = clock::ticks::<TSC>();
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    guard("observer end (custom)", (), || {
        // SAFETY: the function of the live frame.
        let name = unsafe { function_name(func) }.unwrap_or_else(|| "<unknown>".to_owned());
        if rv.is_null() {
            return end_by_exception::<TSC>(Some(name));
        }
        let _ = AGENT.with(|a| {
            if let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) {
                t.leave_custom(now, &name);
            }
        });
    });
    crate::zend::reraise_pending_bailout();
}

/// A function exits by an exception: its segment gets the exception's
/// `error.class` and `error.message` (`Uncaught exception 'C' with message
/// 'm' in file:line`, as New Relic words it for every function the
/// exception leaves) and is therefore kept. `custom` is the name of a
/// custom-traced function. Reading the exception can bail out (a
/// subclass's `__get`): the caller re-raises it.
#[cold]
#[inline(never)]
fn end_by_exception<const TSC: bool>(custom: Option<String>) {
    let now = clock::ticks::<TSC>();
    guard("observer end (exception)", (), || {
        // SAFETY: reads EG(exception); the object is alive while it
        // propagates.
        let obj = unsafe { ffi::seraph_thrown_exception() };
        let exc = if obj.is_null() {
            None
        } else {
            // SAFETY: a live exception object (above).
            unsafe { errors::read_exception_brief(obj) }
        };
        let _ = AGENT.with(|a| {
            let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) else {
                return;
            };
            if let Some(e) = exc.as_ref().filter(|e| !t.ignores_exception(&e.classes)) {
                t.set_current_segment_error(&e.class, &errors::exception_message(e, "Uncaught "));
            }
            match &custom {
                Some(name) => t.leave_custom(now, name),
                None => t.leave(now),
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
