//! The observer's per-function decision: which handlers PHP calls for a
//! function, asked once per function and request.

use super::closures::begin_closure;
use super::handlers::{begin, begin_file, begin_name, begin_name_and_segment, end, end_custom};
use super::{demotion, file_name, API_CUSTOM, EXTRA, NAMING, OBSERVE_ALL};
use crate::clock;
use crate::hooks::{callbacks, user};
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::zval::{function_name, zstr_lossy};

const NONE: ffi::zend_observer_fcall_handlers = ffi::zend_observer_fcall_handlers {
    begin: None,
    end: None,
};

/// PHP's observer init: the handlers for the function of `ex`.
pub(super) unsafe extern "C" fn init(
    ex: *mut ffi::zend_execute_data,
) -> ffi::zend_observer_fcall_handlers {
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
        // The lower-case name is made only when something may match it:
        // a row (checked by hash first) or a configured list (usually
        // empty). PHP asks about each of a page's ~1 000 functions.
        // SAFETY: a live user function.
        let hooked = unsafe { user::may_be_hooked(func) };
        let listed = NAMING.with(|n| !n.0.is_empty()).unwrap_or(false)
            || EXTRA.with(|v| !v.is_empty()).unwrap_or(false)
            || API_CUSTOM.with(|v| !v.is_empty()).unwrap_or(false);
        let lname = if hooked || listed {
            // SAFETY: valid function.
            unsafe { function_name(func) }
                .unwrap_or_default()
                .to_ascii_lowercase()
        } else {
            String::new()
        };
        let naming = listed && NAMING.with(|n| n.0.contains(&lname)).unwrap_or(false);
        let custom = listed
            && (EXTRA.with(|v| v.contains(&lname)).unwrap_or(false)
                || API_CUSTOM.with(|v| v.contains(&lname)).unwrap_or(false));
        let observe = custom || OBSERVE_ALL.with(|v| *v).unwrap_or(true);
        // A library hook (a framework's router, Predis, Guzzle) takes the
        // function; `name.functions` and custom tracers do not apply to it.
        if let Some((lib, hook)) = hooked.then(|| user::find(&lname)).flatten() {
            // SAFETY: the frame PHP is initialising.
            return unsafe { user::handlers(ex, lib, hook, observe) };
        }
        // A callback a library hooked in this request (a WordPress hook's).
        if let Some((lib, hook)) = callbacks::find(func) {
            // SAFETY: the frame PHP is initialising.
            return unsafe { user::handlers(ex, lib, hook, observe) };
        }
        let closure = flags & ffi::ZEND_ACC_CLOSURE != 0;
        // Only plain functions may be demoted: not custom tracers, naming
        // functions, library hooks (above) or closure literals.
        let mut demotable = !custom && !naming && !closure;
        if observe && demotable {
            // SAFETY: the frame of a plain user function PHP initialises.
            match unsafe { demotion::decide(ex) } {
                demotion::Decision::Skip => return NONE,
                demotion::Decision::Count => {}
                demotion::Decision::Observe => demotable = false,
            }
        }
        let tsc = clock::tsc_source();
        let end: ffi::zend_observer_fcall_end_handler = Some(match (custom, demotable, tsc) {
            (true, _, true) => end_custom::<true>,
            (true, _, false) => end_custom::<false>,
            (false, true, true) => end::<true, true>,
            (false, true, false) => end::<false, true>,
            (false, false, true) => end::<true, false>,
            (false, false, false) => end::<false, false>,
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
