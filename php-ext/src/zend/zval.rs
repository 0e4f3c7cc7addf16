//! Typed, null-checked reads of zvals and zend_strings.

use super::ffi;
use std::ffi::c_void;

/// A zval's value, as far as the agent cares.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    /// `null` or undefined.
    Null,
    /// `false` / `true`.
    Bool(bool),
    /// An integer.
    Long(i64),
    /// A float.
    Double(f64),
    /// A string's bytes.
    Str(&'a [u8]),
    /// An array.
    Array(*mut ffi::HashTable),
    /// An object.
    Object(*mut ffi::zend_object),
    /// A resource or anything else.
    Other,
}

/// The bytes of a zend_string.
///
/// # Safety
/// `s` must be null or a valid zend_string that outlives `'a`.
pub unsafe fn zstr<'a>(s: *const ffi::zend_string) -> Option<&'a [u8]> {
    if s.is_null() {
        return None;
    }
    // SAFETY: a valid zend_string stores `len` bytes starting at `val`.
    unsafe {
        let len = (*s).len;
        let ptr = std::ptr::addr_of!((*s).val).cast::<u8>();
        Some(std::slice::from_raw_parts(ptr, len))
    }
}

/// A zend_string as (lossy) UTF-8.
///
/// # Safety
/// As [`zstr`].
pub unsafe fn zstr_lossy(s: *const ffi::zend_string) -> Option<String> {
    // SAFETY: forwarded.
    unsafe { zstr(s) }.map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Reads a zval, following one level of reference.
///
/// # Safety
/// `zv` must be null or a valid zval that outlives `'a`.
pub unsafe fn read<'a>(zv: *const ffi::zval) -> Val<'a> {
    if zv.is_null() {
        return Val::Null;
    }
    // SAFETY: `zv` is valid; the type byte selects the live union member.
    unsafe {
        let mut zv = zv;
        let mut ty = (*zv).u1.v.type_ as u32;
        if ty == ffi::IS_REFERENCE {
            let r = (*zv).value.ref_;
            if r.is_null() {
                return Val::Null;
            }
            zv = std::ptr::addr_of!((*r).val);
            ty = (*zv).u1.v.type_ as u32;
        }
        match ty {
            ffi::IS_FALSE => Val::Bool(false),
            ffi::IS_TRUE => Val::Bool(true),
            ffi::IS_LONG => Val::Long((*zv).value.lval),
            ffi::IS_DOUBLE => Val::Double((*zv).value.dval),
            ffi::IS_STRING => zstr((*zv).value.str_).map_or(Val::Null, Val::Str),
            ffi::IS_ARRAY => Val::Array((*zv).value.arr),
            ffi::IS_OBJECT => Val::Object((*zv).value.obj),
            ffi::IS_UNDEF | ffi::IS_NULL => Val::Null,
            _ => Val::Other,
        }
    }
}

impl Val<'_> {
    /// String value (lossy UTF-8), if a string.
    pub fn string(&self) -> Option<String> {
        match self {
            Val::Str(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// PHP truthiness for the scalar cases the API functions take.
    pub fn truthy(&self) -> bool {
        match *self {
            Val::Null | Val::Other => false,
            Val::Bool(b) => b,
            Val::Long(l) => l != 0,
            Val::Double(d) => d != 0.0,
            Val::Str(s) => !(s.is_empty() || s == b"0"),
            Val::Array(a) => {
                // SAFETY: a live array from a zval.
                !a.is_null() && unsafe { (*a).nNumOfElements } > 0
            }
            Val::Object(_) => true,
        }
    }
}

/// A key of a PHP array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// String key (lossy UTF-8).
    Str(String),
    /// Integer key.
    Index(u64),
}

/// Calls `f` for every element of `ht`.
///
/// # Safety
/// `ht` must be null or a valid HashTable not modified during the call.
pub unsafe fn array_each(ht: *mut ffi::HashTable, mut f: impl FnMut(Key, Val<'_>)) {
    extern "C" fn cb(
        ctx: *mut c_void,
        key: *mut ffi::zend_string,
        index: ffi::zend_ulong,
        val: *mut ffi::zval,
    ) {
        // SAFETY: `ctx` is the `&mut dyn FnMut` below; key and val come
        // from the array being iterated.
        unsafe {
            let f = &mut *ctx.cast::<&mut dyn FnMut(Key, Val<'_>)>();
            let key = match zstr(key) {
                Some(k) => Key::Str(String::from_utf8_lossy(k).into_owned()),
                None => Key::Index(index),
            };
            // Nothing here may unwind through the C iterator.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(key, read(val))));
        }
    }
    if ht.is_null() {
        return;
    }
    let mut dynf: &mut dyn FnMut(Key, Val<'_>) = &mut f;
    let ctx = (&mut dynf as *mut &mut dyn FnMut(Key, Val<'_>)).cast::<c_void>();
    // SAFETY: `cb` matches the shim's callback type; ctx outlives the call.
    unsafe { ffi::seraph_array_each(ht, Some(cb), ctx) };
}

/// Calls `f` with every element's key and zval pointer (references
/// followed), for values that must be read again later (converted) rather
/// than looked at during the walk.
///
/// # Safety
/// `ht` must be null or a valid HashTable not modified during the call.
pub unsafe fn array_each_raw(ht: *mut ffi::HashTable, mut f: impl FnMut(Key, *mut ffi::zval)) {
    extern "C" fn cb(
        ctx: *mut c_void,
        key: *mut ffi::zend_string,
        index: ffi::zend_ulong,
        val: *mut ffi::zval,
    ) {
        // SAFETY: `ctx` is the `&mut dyn FnMut` below; key and val come
        // from the array being iterated.
        unsafe {
            let f = &mut *ctx.cast::<&mut dyn FnMut(Key, *mut ffi::zval)>();
            let key = match zstr(key) {
                Some(k) => Key::Str(String::from_utf8_lossy(k).into_owned()),
                None => Key::Index(index),
            };
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(key, val)));
        }
    }
    if ht.is_null() {
        return;
    }
    let mut dynf: &mut dyn FnMut(Key, *mut ffi::zval) = &mut f;
    let ctx = (&mut dynf as *mut &mut dyn FnMut(Key, *mut ffi::zval)).cast::<c_void>();
    // SAFETY: `cb` matches the shim's callback type; ctx outlives the call.
    unsafe { ffi::seraph_array_each(ht, Some(cb), ctx) };
}

/// A value converted to a string by PHP's own rules (`(string)$v`:
/// `__toString`, "Array" with its warning, an `Error` for objects that
/// cannot be converted). `None` when the conversion threw or bailed out.
///
/// # Safety
/// `zv` must be null or a live zval.
pub unsafe fn to_php_string(zv: *mut ffi::zval) -> Option<Vec<u8>> {
    if zv.is_null() {
        return None;
    }
    // SAFETY: zeroed plain data the shim initialises.
    let mut out: ffi::zval = unsafe { std::mem::zeroed() };
    // SAFETY: `zv` is a live value of the caller's; the shim converts a
    // copy under zend_try and leaves `out` a string or undefined.
    let rc = unsafe { ffi::seraph_zval_to_string(zv, &mut out) };
    let bytes = if rc == 0 {
        // SAFETY: `out` is a string on success.
        match unsafe { read(&out) } {
            Val::Str(s) => Some(s.to_vec()),
            _ => None,
        }
    } else {
        None
    };
    // SAFETY: releases our copy.
    unsafe { ffi::seraph_zval_dtor(&mut out) };
    bytes
}

/// A PHP function or method name (`Class::method` or `function`) of a
/// zend_function, lower-case not applied.
///
/// # Safety
/// `func` must be null or a valid zend_function.
pub unsafe fn function_name(func: *const ffi::zend_function) -> Option<String> {
    if func.is_null() {
        return None;
    }
    // SAFETY: `common` is valid for every function type.
    unsafe {
        let common = &(*func).common;
        let name = zstr(common.function_name)?;
        let name = String::from_utf8_lossy(name);
        let scope = common.scope;
        if scope.is_null() {
            Some(name.into_owned())
        } else {
            let class = zstr((*scope).name).unwrap_or_default();
            Some(format!("{}::{}", String::from_utf8_lossy(class), name))
        }
    }
}
