//! Argument access for the API functions.

use crate::zend::ffi;
use crate::zend::zval::{read, Val};

/// The arguments of one internal-function call.
pub struct Args {
    ex: *mut ffi::zend_execute_data,
}

impl Args {
    /// Wraps a call frame.
    ///
    /// # Safety
    /// `ex` must be the frame PHP passed to the handler, alive for the call.
    pub unsafe fn new(ex: *mut ffi::zend_execute_data) -> Args {
        Args { ex }
    }

    /// Number of arguments passed.
    pub fn len(&self) -> u32 {
        // SAFETY: live frame.
        unsafe { ffi::seraph_num_args(self.ex) }
    }

    /// Argument `i` (0-based); `Val::Null` when absent.
    pub fn get(&self, i: u32) -> Val<'_> {
        // SAFETY: live frame; the shim bounds-checks `i`.
        unsafe { read(ffi::seraph_arg(self.ex, i + 1)) }
    }
}

/// Sets the return value.
pub struct Ret(pub *mut ffi::zval);

impl Ret {
    /// `return true/false`.
    pub fn bool(&self, b: bool) {
        // SAFETY: PHP's return-value slot for this call.
        unsafe { ffi::seraph_retval_bool(self.0, i32::from(b)) };
    }

    /// `return null`.
    pub fn null(&self) {
        // SAFETY: as above.
        unsafe { ffi::seraph_retval_null(self.0) };
    }

    /// `return [k => v, ...]` of strings.
    pub fn string_map(&self, pairs: &[(&str, String)]) {
        // SAFETY: as above; the shim copies keys and values.
        unsafe {
            let ht = ffi::seraph_retval_array(self.0);
            for (k, v) in pairs {
                ffi::seraph_array_add_string(
                    ht,
                    k.as_ptr().cast(),
                    k.len(),
                    v.as_ptr().cast(),
                    v.len(),
                );
            }
        }
    }
}
