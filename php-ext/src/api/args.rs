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

    /// Adds `key => value` strings to the array behind by-reference
    /// argument `i` (made an array if it is not one).
    pub fn assign_string_map(&self, i: u32, pairs: &[(String, String)]) {
        // SAFETY: live frame; the shim bounds-checks `i`.
        let zv = unsafe { ffi::seraph_arg(self.ex, i + 1) };
        if zv.is_null() {
            return;
        }
        let keys: Vec<*const std::ffi::c_char> =
            pairs.iter().map(|p| p.0.as_ptr().cast()).collect();
        let klen: Vec<usize> = pairs.iter().map(|p| p.0.len()).collect();
        let vals: Vec<*const std::ffi::c_char> =
            pairs.iter().map(|p| p.1.as_ptr().cast()).collect();
        let vlen: Vec<usize> = pairs.iter().map(|p| p.1.len()).collect();
        // SAFETY: four arrays of `pairs.len()` entries; the shim copies.
        unsafe {
            ffi::seraph_ref_array_add_strings(
                zv,
                keys.as_ptr(),
                klen.as_ptr(),
                vals.as_ptr(),
                vlen.as_ptr(),
                pairs.len(),
            )
        };
    }

    /// Argument `i` (0-based) as PHP holds it; null when absent.
    pub fn raw(&self, i: u32) -> *mut ffi::zval {
        // SAFETY: live frame; the shim bounds-checks `i`.
        unsafe { ffi::seraph_arg(self.ex, i + 1) }
    }

    /// The object a method was called on.
    pub fn this(&self) -> *mut ffi::zend_object {
        // SAFETY: live frame.
        unsafe { ffi::seraph_this(self.ex) }
    }

    /// Argument `i` (0-based); `Val::Null` when absent.
    pub fn get(&self, i: u32) -> Val<'_> {
        // SAFETY: live frame; the shim bounds-checks `i`.
        unsafe { read(ffi::seraph_arg(self.ex, i + 1)) }
    }
}

/// Sets the return value. Every setter first releases what the slot held
/// (a handler may set a default and then the real value).
pub struct Ret(pub *mut ffi::zval);

impl Ret {
    fn clear(&self) {
        // SAFETY: PHP's return-value slot holds a valid (initially null)
        // value; the shim releases it and leaves it undefined.
        unsafe { ffi::seraph_zval_dtor(self.0) };
    }

    /// `return true/false`.
    pub fn bool(&self, b: bool) {
        self.clear();
        // SAFETY: PHP's return-value slot for this call.
        unsafe { ffi::seraph_retval_bool(self.0, i32::from(b)) };
    }

    /// `return null`.
    pub fn null(&self) {
        self.clear();
        // SAFETY: as above.
        unsafe { ffi::seraph_retval_null(self.0) };
    }

    /// `return "..."`.
    pub fn string(&self, s: &str) {
        self.clear();
        // SAFETY: as above; PHP copies the bytes.
        unsafe { ffi::seraph_retval_string(self.0, s.as_ptr().cast(), s.len()) };
    }

    /// `return $v` (the value moves into the return slot).
    ///
    /// # Safety
    /// `v` must be a valid zval this code owns.
    pub unsafe fn take(&self, v: &mut ffi::zval) {
        self.clear();
        // SAFETY: caller's contract; the slot is PHP's.
        unsafe { ffi::seraph_retval_move(self.0, v) };
    }

    /// The return slot, emptied for the caller to fill.
    pub fn slot(&self) -> *mut ffi::zval {
        self.clear();
        self.0
    }

    /// `return [k => v, ...]` of strings.
    pub fn string_map(&self, pairs: &[(&str, String)]) {
        self.clear();
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
