//! [`Call`]: a hook's view of the call it wraps (arguments, `$this`, the
//! return value), read without copying and without calling into PHP.

use super::table::Hook;
use crate::zend::call::{Arg, Obj};
use crate::zend::ffi;
use crate::zend::zval::{function_name, read, zstr_lossy, Val};
use std::ffi::CStr;

/// The frame of a hooked call. Valid only while the hook runs: the values
/// it hands out borrow from the frame.
pub struct Call {
    ex: *mut ffi::zend_execute_data,
    rv: *mut ffi::zval,
}

impl Call {
    /// # Safety
    /// `ex` must be the live frame PHP passed to the wrapper or observer
    /// handler, and `rv` its return-value slot, or null when there is none
    /// yet (before the call) or none at all (the call threw).
    pub(crate) unsafe fn new(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) -> Call {
        Call { ex, rv }
    }

    /// The raw frame, for the few hooks that must pass it back to PHP.
    pub fn frame(&self) -> *mut ffi::zend_execute_data {
        self.ex
    }

    /// The nearest call below this one on PHP's stack (at most `depth`
    /// frames down) to a hooked user function whose row `is` accepts: a
    /// hook that needs its caller's arguments (a WordPress callback, its
    /// hook tag) reads them there instead of every caller saving them.
    pub fn enclosing(&self, depth: usize, is: impl Fn(&'static Hook) -> bool) -> Option<Call> {
        // SAFETY: the live frame (constructor contract).
        let mut ex = unsafe { (*self.ex).prev_execute_data };
        for _ in 0..depth {
            if ex.is_null() {
                return None;
            }
            // SAFETY: a frame below a live one is live until it returns,
            // which is after this call returns.
            let func = unsafe { (*ex).func };
            if super::user::row_of(func).is_some_and(&is) {
                // SAFETY: as above; the returned view is used while the
                // hook of `self` runs, within that frame's lifetime.
                return Some(unsafe { Call::new(ex, std::ptr::null_mut()) });
            }
            // SAFETY: as above.
            ex = unsafe { (*ex).prev_execute_data };
        }
        None
    }

    /// How many arguments the caller passed.
    pub fn num_args(&self) -> u32 {
        // SAFETY: live frame (constructor contract).
        unsafe { ffi::seraph_num_args(self.ex) }
    }

    /// Argument `n` (1-based) as a raw zval pointer (null when absent),
    /// for passing it back into PHP.
    pub fn arg_ptr(&self, n: u32) -> *mut ffi::zval {
        // SAFETY: live frame; the shim bounds-checks `n`.
        unsafe { ffi::seraph_arg(self.ex, n) }
    }

    /// Argument `n` (1-based); `Null` when absent.
    pub fn arg(&self, n: u32) -> Val<'_> {
        // SAFETY: null or an argument slot of the live frame, which
        // outlives `&self`.
        unsafe { read(self.arg_ptr(n)) }
    }

    /// Argument `n` as a string, when it is one (or a number).
    pub fn arg_string(&self, n: u32) -> Option<String> {
        self.arg(n).string()
    }

    /// Replaces argument `n` (1-based) with `value` before a user function
    /// runs (its begin hook): how a hook hands the function a different
    /// value, such as a request carrying trace headers. `false` when there
    /// is no such argument.
    pub fn replace_arg(&self, n: u32, value: &mut crate::zend::call::Value) -> bool {
        let Arg::Zval(p) = value.as_arg() else {
            return false;
        };
        // SAFETY: the live frame; the shim bounds-checks `n` and takes a
        // new reference to the value.
        unsafe { ffi::seraph_replace_arg(self.ex, n, p) != 0 }
    }

    /// The object of a method call.
    pub fn this(&self) -> Option<*mut ffi::zend_object> {
        // SAFETY: live frame.
        let obj = unsafe { ffi::seraph_this(self.ex) };
        (!obj.is_null()).then_some(obj)
    }

    /// `$this` of a method call, for calling its methods.
    pub fn this_obj(&self) -> Option<crate::zend::objects::Obj> {
        // SAFETY: the frame's object lives at least as long as the call.
        self.this()
            .and_then(|o| unsafe { crate::zend::objects::Obj::from_raw(o) })
    }

    /// The handle of the object of a method call: a key for per-object
    /// state that lives as long as the object does.
    pub fn this_handle(&self) -> Option<u32> {
        // SAFETY: a live object of the frame.
        self.this().map(|o| unsafe { (*o).handle })
    }

    /// A string property of `$this`, read as the object's own class would
    /// (it may run a `__get`, under `zend_try`).
    pub fn this_string_prop(&self, name: &CStr) -> Option<String> {
        let obj = self.this()?;
        let bytes = name.to_bytes();
        // SAFETY: a live object; the property string is copied at once.
        unsafe {
            zstr_lossy(ffi::seraph_read_string_prop(
                obj,
                name.as_ptr(),
                bytes.len(),
            ))
        }
    }

    /// The return value: `None` before the call has run, or when it threw.
    pub fn ret(&self) -> Option<Val<'_>> {
        // SAFETY: null or the return slot of the finished call.
        (!self.rv.is_null()).then(|| unsafe { read(self.rv) })
    }

    /// Whether the call threw (only meaningful after it ran).
    pub fn threw(&self) -> bool {
        self.rv.is_null()
    }

    /// The handle of an object the call returned.
    pub fn returned_handle(&self) -> Option<u32> {
        match self.ret()? {
            // SAFETY: a live object just returned.
            Val::Object(o) if !o.is_null() => Some(unsafe { (*o).handle }),
            _ => None,
        }
    }

    /// The called function's or method's own name in lower case (`get`
    /// for `Redis::get`), for rows that cover many methods.
    pub fn method_name(&self) -> String {
        // SAFETY: the live frame's function; its name is a zend_string.
        unsafe { crate::zend::zval::zstr((*(*self.ex).func).common.function_name) }
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// Argument `n` as an integer, when it is one.
    pub fn arg_long(&self, n: u32) -> Option<i64> {
        match self.arg(n) {
            Val::Long(l) => Some(l),
            _ => None,
        }
    }

    /// Argument `n` as an object, when it is one.
    pub fn arg_object(&self, n: u32) -> Option<Obj> {
        match self.arg(n) {
            // SAFETY: an argument of the live frame, alive while it runs.
            Val::Object(o) => unsafe { Obj::from_raw(o) },
            _ => None,
        }
    }

    /// The object the call returned.
    pub fn returned_object(&self) -> Option<Obj> {
        match self.ret()? {
            // SAFETY: held by the frame's return slot.
            Val::Object(o) => unsafe { Obj::from_raw(o) },
            _ => None,
        }
    }

    /// `function` or `Class::method`, as PHP spells it.
    pub fn function_name(&self) -> Option<String> {
        // SAFETY: the live frame's function.
        unsafe { function_name((*self.ex).func) }
    }
}

/// The handle of an object value (a curl handle, a statement).
pub fn object_handle(v: Val<'_>) -> Option<u32> {
    match v {
        // SAFETY: a live object value.
        Val::Object(o) if !o.is_null() => Some(unsafe { (*o).handle }),
        _ => None,
    }
}
