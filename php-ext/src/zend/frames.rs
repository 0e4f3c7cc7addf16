//! Walking the PHP call stack for error stack traces, in New Relic's
//! format: `" in <function> called at <file> (<line>)"`, innermost first.

use super::ffi;
use super::zval::{function_name, zstr_lossy};

fn is_user(func: *const ffi::zend_function) -> bool {
    // SAFETY: `type_` is the first byte of every zend_function.
    !func.is_null() && u32::from(unsafe { (*func).type_ }) == ffi::ZEND_USER_FUNCTION
}

/// The nearest user-code frame at or above `ex`: its file and current line.
///
/// # Safety
/// `ex` must be null or a live execute_data chain.
unsafe fn user_location(mut ex: *const ffi::zend_execute_data) -> Option<(String, u32)> {
    // SAFETY: walking a live chain; each field is checked before use.
    unsafe {
        while !ex.is_null() {
            let func = (*ex).func;
            if is_user(func) && !(*ex).opline.is_null() {
                let file = zstr_lossy((*func).op_array.filename).unwrap_or_default();
                return Some((file, (*(*ex).opline).lineno));
            }
            ex = (*ex).prev_execute_data;
        }
    }
    None
}

/// The current PHP stack as New Relic formats it, at most `limit` frames.
pub fn current_stack(limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: EG(current_execute_data) is the live chain during a request
    // (or null outside one).
    unsafe {
        let mut ex = (*std::ptr::addr_of!(ffi::executor_globals)).current_execute_data;
        while !ex.is_null() && out.len() < limit {
            let func = (*ex).func;
            if !func.is_null() && !(*func).common.function_name.is_null() {
                if let (Some(name), Some((file, line))) =
                    (function_name(func), user_location((*ex).prev_execute_data))
                {
                    out.push(format!(" in {name} called at {file} ({line})"));
                }
            }
            ex = (*ex).prev_execute_data;
        }
    }
    out
}
