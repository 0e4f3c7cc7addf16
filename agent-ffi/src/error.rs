//! Errors: `newrelic_notice_error` with the caller's stack (glibc's
//! `backtrace_symbols`), and `newrelic_notice_error_with_stacktrace` with a
//! stack given as JSON. One error per transaction, the highest priority.

use crate::ffi::{guard, NAME_LIMIT};
use crate::txn::{unix_us, with_txn, Txn};
use seraph_txn::NoticedError;
use std::ffi::{c_char, c_int};

fn notice(
    api: &str,
    txn: *const Txn,
    priority: c_int,
    errmsg: *const c_char,
    errclass: *const c_char,
    stack: impl FnOnce() -> Option<Vec<String>>,
) {
    // SAFETY: the C caller passes NULL or NUL-terminated strings. Messages
    // are cut to 4095 bytes by the transaction; 1 MiB bounds the scan.
    let Ok(message) = (unsafe { crate::ffi::req_arg(api, "errmsg", errmsg, 1 << 20) }) else {
        return;
    };
    // SAFETY: as above.
    let Ok(class) = (unsafe { crate::ffi::req_arg(api, "errclass", errclass, NAME_LIMIT) }) else {
        return;
    };
    if message.is_empty() || class.is_empty() {
        tracing::error!("{api}: the error message and class must not be empty");
        return;
    }
    with_txn(api, txn, (), |s| {
        if !s.txn().is_recording() {
            tracing::error!("{api}: the transaction is not recording");
            return;
        }
        if !s.txn().would_record_error(priority) {
            tracing::error!(
                "{api}: errors are off, or an error with a higher priority was recorded"
            );
            return;
        }
        let Some(stack_trace) = stack() else {
            return;
        };
        s.txn().notice_error(NoticedError {
            priority,
            message: message.to_owned(),
            class: class.to_owned(),
            stack_trace,
            now_unix_us: unix_us(),
        });
    });
}

/// The calling thread's stack, one frame a line (`binary(function+0x1f)
/// [0x...]`), from glibc's `backtrace`.
pub fn backtrace_lines() -> Vec<String> {
    extern "C" {
        fn backtrace(buffer: *mut *mut libc::c_void, size: c_int) -> c_int;
        fn backtrace_symbols(buffer: *const *mut libc::c_void, size: c_int) -> *mut *mut c_char;
    }
    let mut frames = [std::ptr::null_mut::<libc::c_void>(); 64];
    // SAFETY: the buffer holds 64 entries.
    let n = unsafe { backtrace(frames.as_mut_ptr(), frames.len() as c_int) };
    if n <= 0 {
        return Vec::new();
    }
    // SAFETY: `n` entries were filled; the result is one malloc'ed block.
    let syms = unsafe { backtrace_symbols(frames.as_ptr(), n) };
    if syms.is_null() {
        return Vec::new();
    }
    let out = (0..n as usize)
        .filter_map(|i| {
            // SAFETY: `syms` has `n` entries, each a NUL-terminated string.
            let p = unsafe { *syms.add(i) };
            (!p.is_null()).then(|| {
                // SAFETY: a non-NULL entry is a NUL-terminated string.
                unsafe { std::ffi::CStr::from_ptr(p) }
                    .to_string_lossy()
                    .into_owned()
            })
        })
        // This library's own frames say nothing about the program.
        .filter(|l| !l.contains("libnewrelic") && !l.contains("newrelic::"))
        .collect();
    // SAFETY: one free of the block backtrace_symbols allocated.
    unsafe { libc::free(syms.cast()) };
    out
}

/// `newrelic_notice_error()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn newrelic_notice_error(
    txn: *mut Txn,
    priority: c_int,
    errmsg: *const c_char,
    errclass: *const c_char,
) {
    const API: &str = "newrelic_notice_error";
    guard(API, (), || {
        notice(API, txn, priority, errmsg, errclass, || {
            Some(backtrace_lines())
        })
    })
}

/// `newrelic_notice_error_with_stacktrace()`.
///
/// # Safety
/// As [`newrelic_notice_error`]; `errstacktrace` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn newrelic_notice_error_with_stacktrace(
    txn: *mut Txn,
    priority: c_int,
    errmsg: *const c_char,
    errclass: *const c_char,
    errstacktrace: *const c_char,
) {
    const API: &str = "newrelic_notice_error_with_stacktrace";
    guard(API, (), || {
        // SAFETY: forwarded from the caller.
        let Ok(json) =
            (unsafe { crate::ffi::req_arg(API, "errstacktrace", errstacktrace, 1 << 20) })
        else {
            return;
        };
        notice(
            API,
            txn,
            priority,
            errmsg,
            errclass,
            || match serde_json::from_str::<Vec<String>>(json) {
                Ok(lines) => Some(lines),
                Err(e) => {
                    tracing::error!("{API}: the stack trace is not a JSON array of strings: {e}");
                    None
                }
            },
        )
    })
}
