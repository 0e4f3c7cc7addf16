//! The begin and end handlers. Every call is entered with its PHP frame
//! (`zend_execute_data` address) and left by it, so the calls of a function
//! demoted while they ran (they end unseen) cannot mis-pair the others.

use super::closures::begin_closure;
use super::{demotion, file_name, is_closure, with_txn};
use crate::clock;
use crate::hooks::errors;
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::zval::{function_name, zstr_lossy};
use seraph_txn::NameSource;

/// The hot begin handler: the clock, then one frame push.
pub(super) unsafe extern "C" fn begin<const TSC: bool>(ex: *mut ffi::zend_execute_data) {
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    if is_closure(func) {
        // SAFETY: forwarded.
        return unsafe { begin_closure_cold(ex) };
    }
    let (key, frame) = (func as usize, ex as usize);
    guard("observer begin", (), || {
        with_txn(|t| t.enter_frame(key, frame, clock::ticks::<TSC>()))
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

pub(super) unsafe extern "C" fn begin_name(ex: *mut ffi::zend_execute_data) {
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    guard("observer begin (naming)", (), || {
        // SAFETY: as above.
        if let Some(name) = unsafe { function_name(func) } {
            name_after(NameSource::Function, name);
        }
    });
}

pub(super) unsafe extern "C" fn begin_name_and_segment(ex: *mut ffi::zend_execute_data) {
    // SAFETY: forwarded.
    unsafe { begin_name(ex) };
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    if is_closure(func) {
        // SAFETY: forwarded.
        return unsafe { begin_closure(ex) };
    }
    let (key, frame) = (func as usize, ex as usize);
    guard("observer begin", (), || {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                let now = a.clock.now();
                if let Some(t) = a.txn.as_mut() {
                    t.enter_frame(key, frame, now);
                }
            }
        });
    });
}

pub(super) unsafe extern "C" fn begin_file(ex: *mut ffi::zend_execute_data) {
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
pub(in crate::hooks) unsafe fn enter_function(ex: *mut ffi::zend_execute_data) {
    // SAFETY: forwarded.
    let (key, frame) = (unsafe { (*ex).func } as usize, ex as usize);
    guard("observer begin (hooked)", (), || {
        let now = if clock::tsc_source() {
            clock::ticks::<true>()
        } else {
            clock::ticks::<false>()
        };
        with_txn(|t| t.enter_frame(key, frame, now))
    });
}

/// Closes the segment [`enter_function`] opened.
///
/// # Safety
/// `ex` and `rv` must be what PHP passed to an observer end handler.
pub(in crate::hooks) unsafe fn leave_function(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    // SAFETY: forwarded. Hooked functions are never demoted.
    unsafe {
        if clock::tsc_source() {
            end::<true, false>(ex, rv)
        } else {
            end::<false, false>(ex, rv)
        }
    }
}

/// The hot end handler: the clock, then one frame pop (and, for the rare
/// call that is slow or has something attached, the keep decision). PHP
/// passes no return value when the function exits by an exception.
/// `DEMOTE`: the function may be demoted (`demotion.rs`): its short calls
/// are counted, and any other call or an exception rules demotion out for
/// the rest of the request.
pub(super) unsafe extern "C" fn end<const TSC: bool, const DEMOTE: bool>(
    ex: *mut ffi::zend_execute_data,
    rv: *mut ffi::zval,
) {
    if rv.is_null() {
        if DEMOTE {
            // SAFETY: the live frame of an observed user function, in this
            // handler.
            unsafe {
                if demotion::pin(ex) {
                    demotion::stop_counting(ex, end::<TSC, true>, end::<TSC, false>);
                }
            }
        }
        end_by_exception::<TSC>(ex as usize, None);
        // Reading the exception may have run a __get that bailed out.
        crate::zend::reraise_pending_bailout();
        return;
    }
    let frame = ex as usize;
    // None: no transaction, nothing learnt about the call.
    let short = guard("observer end", None, || {
        let mut short = None;
        with_txn(|t| short = Some(t.leave_frame(frame, clock::ticks::<TSC>())));
        short
    });
    if DEMOTE {
        // SAFETY: the live frame of an observed user function, whose
        // handlers `init` chose to be `begin::<TSC>` and this one.
        unsafe {
            if short == Some(false) {
                if demotion::pin(ex) {
                    demotion::stop_counting(ex, end::<TSC, true>, end::<TSC, false>);
                }
            } else if short == Some(true) && demotion::count_short(ex) {
                guard("observer demotion", (), || {
                    demotion::demote(ex, begin::<TSC>, end::<TSC, true>)
                });
            }
        }
    }
}

/// The end handler of a `transaction_tracer.custom` function: its segment
/// is kept however short it is and makes a `Custom/<function>` metric
/// (scoped and unscoped), as New Relic's custom tracers do. Only listed
/// functions come here, so resolving the name per call is affordable.
pub(super) unsafe extern "C" fn end_custom<const TSC: bool>(
    ex: *mut ffi::zend_execute_data,
    rv: *mut ffi::zval,
) {
    let now = clock::ticks::<TSC>();
    // SAFETY: PHP passes the live frame of an observed function.
    let func = unsafe { (*ex).func };
    let frame = ex as usize;
    guard("observer end (custom)", (), || {
        // SAFETY: the function of the live frame.
        let name = unsafe { function_name(func) }.unwrap_or_else(|| "<unknown>".to_owned());
        if rv.is_null() {
            return end_by_exception::<TSC>(frame, Some(name));
        }
        let _ = AGENT.with(|a| {
            if let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) {
                if t.align_frame(frame, now) {
                    t.leave_custom(now, &name);
                }
            }
        });
    });
    crate::zend::reraise_pending_bailout();
}

/// A function exits by an exception: its segment gets the exception's
/// `error.class` and `error.message` (`Uncaught exception 'C' with message
/// 'm' in file:line`, as New Relic words it for every function the
/// exception leaves) and is therefore kept. `custom` is the name of a
/// custom-traced function, `frame` the PHP frame that exits. Reading the
/// exception can bail out (a subclass's `__get`): the caller re-raises it.
#[cold]
#[inline(never)]
fn end_by_exception<const TSC: bool>(frame: usize, custom: Option<String>) {
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
            // Calls above this one ended unseen (demoted): the error is
            // this call's.
            if !t.align_frame(frame, now) {
                return;
            }
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
