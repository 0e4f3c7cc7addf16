//! Argument parsing through PHP's own `zend_parse_parameters`, as New
//! Relic's agent parses them: the same coercions, the same `TypeError` and
//! `ArgumentCountError` messages (named after the function's arginfo).
//!
//! A conversion can run user code (`__toString`) and so bail out; every
//! call runs inside `zend_try` (a bailout is re-raised by the handler once
//! its Rust frames are done). A failed parse leaves the exception PHP
//! threw pending and returns `None`; the handler then carries on exactly
//! as New Relic's does (some still count the call or return a value).

use super::args::Args;
use crate::zend::ffi;
use std::ffi::{c_char, CStr};

/// Runs one `zend_parse_parameters` call under `zend_try`.
fn run(mut call: impl FnMut() -> ffi::zend_result) -> bool {
    let mut ok = false;
    let completed = crate::zend::try_call(|| ok = call() == ffi::SUCCESS);
    completed && ok
}

/// Copies a parsed `s` (pointer, length) out of PHP's string.
///
/// # Safety
/// `p` must point to `len` readable bytes (or be null).
unsafe fn bytes(p: *const c_char, len: usize) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: caller's contract.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec()
}

/// Calls zpp with `spec` and the given out-pointers.
macro_rules! zpp {
    ($args:expr, $spec:literal $(, $out:expr)*) => {{
        let n = $args.len();
        let spec: &CStr = $spec;
        run(|| {
            // SAFETY: called from the handler of the current internal call
            // (zpp reads EG(current_execute_data)); every out-pointer has
            // the type the spec letter requires.
            unsafe { ffi::zend_parse_parameters(n, spec.as_ptr() $(, $out)*) }
        })
    }};
}

/// No arguments (`zend_parse_parameters_none`).
pub fn none(a: &Args) -> bool {
    zpp!(a, c"")
}

/// `s`.
pub fn s(a: &Args) -> Option<Vec<u8>> {
    let (mut p, mut l): (*mut c_char, usize) = (std::ptr::null_mut(), 0);
    // SAFETY: on success `p`/`l` describe the argument's string.
    zpp!(a, c"s", &mut p, &mut l).then(|| unsafe { bytes(p, l) })
}

/// `ss`.
pub fn ss(a: &Args) -> Option<(Vec<u8>, Vec<u8>)> {
    let (mut p1, mut l1, mut p2, mut l2): (*mut c_char, usize, *mut c_char, usize) =
        (std::ptr::null_mut(), 0, std::ptr::null_mut(), 0);
    // SAFETY: as in `s`.
    zpp!(a, c"ss", &mut p1, &mut l1, &mut p2, &mut l2)
        .then(|| unsafe { (bytes(p1, l1), bytes(p2, l2)) })
}

/// `sss`.
pub fn sss(a: &Args) -> Option<[Vec<u8>; 3]> {
    let (mut p0, mut p1, mut p2) = (
        std::ptr::null_mut::<c_char>(),
        std::ptr::null_mut::<c_char>(),
        std::ptr::null_mut::<c_char>(),
    );
    let (mut l0, mut l1, mut l2) = (0usize, 0usize, 0usize);
    let ok = zpp!(a, c"sss", &mut p0, &mut l0, &mut p1, &mut l1, &mut p2, &mut l2);
    // SAFETY: as in `s`.
    ok.then(|| unsafe { [bytes(p0, l0), bytes(p1, l1), bytes(p2, l2)] })
}

/// `s|s`: a string and an optional one (`None` when not given).
pub fn s_opt_s(a: &Args) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let (mut p1, mut l1, mut p2, mut l2): (*mut c_char, usize, *mut c_char, usize) =
        (std::ptr::null_mut(), 0, std::ptr::null_mut(), 0);
    // SAFETY: as in `s`; `p2` stays null when the argument is absent.
    zpp!(a, c"s|s", &mut p1, &mut l1, &mut p2, &mut l2)
        .then(|| unsafe { (bytes(p1, l1), (!p2.is_null()).then(|| bytes(p2, l2))) })
}

/// `s|sb`.
pub fn s_opt_s_b(a: &Args) -> Option<(Vec<u8>, Option<Vec<u8>>, bool)> {
    let (mut p1, mut l1, mut p2, mut l2): (*mut c_char, usize, *mut c_char, usize) =
        (std::ptr::null_mut(), 0, std::ptr::null_mut(), 0);
    let mut b = false;
    // SAFETY: as in `s_opt_s`; `b` is a zend_bool.
    zpp!(a, c"s|sb", &mut p1, &mut l1, &mut p2, &mut l2, &mut b)
        .then(|| unsafe { (bytes(p1, l1), (!p2.is_null()).then(|| bytes(p2, l2)), b) })
}

/// `sd`.
pub fn sd(a: &Args) -> Option<(Vec<u8>, f64)> {
    let (mut p, mut l, mut d): (*mut c_char, usize, f64) = (std::ptr::null_mut(), 0, 0.0);
    // SAFETY: as in `s`; `d` is a double.
    zpp!(a, c"sd", &mut p, &mut l, &mut d).then(|| (unsafe { bytes(p, l) }, d))
}

/// `b`.
pub fn b(a: &Args) -> Option<bool> {
    let mut v = false;
    zpp!(a, c"b", &mut v).then_some(v)
}

/// `l`.
pub fn l(a: &Args) -> Option<i64> {
    let mut v: ffi::zend_long = 0;
    zpp!(a, c"l", &mut v).then_some(v)
}

/// `z`: the argument itself.
pub fn z(a: &Args) -> Option<*mut ffi::zval> {
    let mut zv: *mut ffi::zval = std::ptr::null_mut();
    zpp!(a, c"z", &mut zv).then_some(zv)
}

/// `zz`.
pub fn zz(a: &Args) -> Option<(*mut ffi::zval, *mut ffi::zval)> {
    let (mut z1, mut z2): (*mut ffi::zval, *mut ffi::zval) =
        (std::ptr::null_mut(), std::ptr::null_mut());
    zpp!(a, c"zz", &mut z1, &mut z2).then_some((z1, z2))
}

/// `sz`.
pub fn sz(a: &Args) -> Option<(Vec<u8>, *mut ffi::zval)> {
    let (mut p, mut l, mut zv): (*mut c_char, usize, *mut ffi::zval) =
        (std::ptr::null_mut(), 0, std::ptr::null_mut());
    // SAFETY: as in `s`.
    zpp!(a, c"sz", &mut p, &mut l, &mut zv).then(|| (unsafe { bytes(p, l) }, zv))
}

/// `sa`: a string and an array (the array's zval).
pub fn sa(a: &Args) -> Option<(Vec<u8>, *mut ffi::zval)> {
    let (mut p, mut l, mut zv): (*mut c_char, usize, *mut ffi::zval) =
        (std::ptr::null_mut(), 0, std::ptr::null_mut());
    // SAFETY: as in `s`.
    zpp!(a, c"sa", &mut p, &mut l, &mut zv).then(|| (unsafe { bytes(p, l) }, zv))
}

/// `a`.
pub fn arr(a: &Args) -> Option<*mut ffi::zval> {
    let mut zv: *mut ffi::zval = std::ptr::null_mut();
    zpp!(a, c"a", &mut zv).then_some(zv)
}

/// `a|s`.
pub fn a_opt_s(a: &Args) -> Option<(*mut ffi::zval, Option<Vec<u8>>)> {
    let (mut zv, mut p, mut l): (*mut ffi::zval, *mut c_char, usize) =
        (std::ptr::null_mut(), std::ptr::null_mut(), 0);
    // SAFETY: as in `s_opt_s`.
    zpp!(a, c"a|s", &mut zv, &mut p, &mut l)
        .then(|| (zv, (!p.is_null()).then(|| unsafe { bytes(p, l) })))
}

/// `f`: a valid callable (the argument's zval).
pub fn f(a: &Args) -> Option<*mut ffi::zval> {
    // SAFETY: zeroed plain data zpp fills in.
    let mut fci: ffi::zend_fcall_info = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut fcc: ffi::zend_fcall_info_cache = unsafe { std::mem::zeroed() };
    zpp!(a, c"f", &mut fci, &mut fcc).then(|| a.raw(0))
}

/// `fa`: a callable and an array.
pub fn fa(a: &Args) -> Option<(*mut ffi::zval, *mut ffi::zval)> {
    // SAFETY: zeroed plain data zpp fills in.
    let mut fci: ffi::zend_fcall_info = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut fcc: ffi::zend_fcall_info_cache = unsafe { std::mem::zeroed() };
    let mut arr: *mut ffi::zval = std::ptr::null_mut();
    zpp!(a, c"fa", &mut fci, &mut fcc, &mut arr).then(|| (a.raw(0), arr))
}

/// New Relic's optional flag argument (`newrelic_background_job`,
/// `newrelic_capture_params`, the browser timing functions): `b`, else
/// `l`; when neither parses, `fallback`.
pub fn flag(a: &Args, fallback: bool) -> bool {
    if let Some(v) = b(a) {
        return v;
    }
    l(a).map_or(fallback, |v| v != 0)
}
