//! Errors: `newrelic_notice_error` and `newrelic_set_error_group_callback`
//! (with the call of that callback whenever an error is recorded).

use super::args::Args;
use super::{agent, count, parse, php_fn, with_recording};
use crate::hooks::errors::{self, PRIORITY_API, PRIORITY_API_PRIORITIZED};
use crate::zend::ffi;
use crate::zend::zval::{read, Val};
use seraph_txn::NoticedError;

crate::per_thread! {
    /// The error group callback of this request (a counted copy of the
    /// callable), released at the end of the request.
    static CALLBACK: Option<ffi::zval> = None;
}

/// zpp's weak `l`: an integer, or a value PHP would coerce to one.
fn weak_long(v: Val<'_>) -> Option<i64> {
    match v {
        Val::Long(l) => Some(l),
        Val::Bool(b) => Some(i64::from(b)),
        Val::Double(d) if d.is_finite() => Some(d as i64),
        Val::Str(s) => {
            let t = std::str::from_utf8(s).ok()?.trim();
            t.parse::<i64>().ok().or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite())
                    .map(|d| d as i64)
            })
        }
        _ => None,
    }
}

/// zpp's weak `s`: a string, or a scalar PHP would convert to one.
fn weak_string(v: Val<'_>) -> Option<String> {
    match v {
        Val::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
        Val::Long(l) => Some(l.to_string()),
        Val::Double(d) => Some(d.to_string()),
        Val::Bool(b) => Some(if b { "1" } else { "" }.to_owned()),
        _ => None,
    }
}

/// What `newrelic_notice_error` records, by its argument forms (quiet
/// parsing, as New Relic's agent does); `None` for anything else.
///
/// * `(exception)`, `(anything, exception)`: the exception's class and
///   `Noticed exception 'C' with message 'm' in f:l`;
/// * `(message)`: class `NoticedError`;
/// * `(errno, errstr, errfile, errline[, errcontext])`, a PHP error
///   handler's arguments (PHP 8 passes four): class `NoticedError`,
///   message `errstr`; the other values are only checked.
///
/// The second value is the exception's message and file, for the error
/// group callback.
fn noticed(args: &Args, priority: i32) -> Option<(NoticedError, Option<(String, String)>)> {
    let now = crate::clock::unix_us();
    let from_exception = |obj: *mut ffi::zend_object| {
        // SAFETY: an object argument of this call is alive.
        unsafe { errors::read_exception(obj) }.map(|e| {
            (
                NoticedError {
                    priority,
                    message: errors::exception_message(&e, "Noticed "),
                    class: e.class.clone(),
                    stack_trace: e.stack,
                    now_unix_us: now,
                },
                Some((e.message, e.file)),
            )
        })
    };
    let from_message = |message: String| {
        (
            NoticedError {
                priority,
                message,
                class: "NoticedError".to_owned(),
                stack_trace: crate::zend::frames::current_stack(errors::STACK_LIMIT),
                now_unix_us: now,
            },
            None,
        )
    };
    match args.len() {
        1 => match args.get(0) {
            Val::Object(o) => from_exception(o),
            v => weak_string(v).map(from_message),
        },
        2 => match args.get(1) {
            Val::Object(o) => from_exception(o),
            _ => None,
        },
        4 | 5 => {
            weak_long(args.get(0))?;
            let errstr = weak_string(args.get(1))?;
            weak_string(args.get(2))?;
            weak_long(args.get(3))?;
            Some(from_message(errstr))
        }
        _ => None,
    }
}

php_fn!(notice_error, args, ret, {
    // False when not recording or when the error would not be kept, null
    // for arguments New Relic cannot use, true once recorded.
    ret.bool(false);
    let Some(priority) = with_recording(|a| {
        let prioritized = a.settings.errors_prioritize_api;
        let t = a.txn.as_mut()?;
        t.count_api("notice_error");
        let p = if prioritized {
            PRIORITY_API_PRIORITIZED
        } else {
            PRIORITY_API
        };
        t.error_worthy(p).then_some(p)
    })
    .flatten() else {
        return;
    };
    // Reading the arguments calls into PHP (an exception's properties,
    // the backtrace), which may run user code or bail out: not while the
    // agent is borrowed.
    ret.null();
    let Some((error, exception)) = noticed(&args, priority) else {
        return;
    };
    if let Some((message, file)) = &exception {
        call_error_group_callback(&error.class, message, file, &error.stack_trace);
    }
    let recorded = with_recording(|a| a.txn.as_mut().map(|t| t.notice_error(error))).flatten();
    if recorded.is_some() {
        ret.bool(true);
    }
});

php_fn!(set_error_group_callback, args, ret, {
    ret.bool(false);
    count("set_error_group_callback");
    if args.len() != 1 {
        tracing::warn!("newrelic_set_error_group_callback failure: invalid number of parameters");
        return;
    }
    let Some(callable) = parse::f(&args) else {
        tracing::warn!("newrelic_set_error_group_callback failure: invalid argument passed");
        return;
    };
    // SAFETY: a callable zpp validated.
    let n = unsafe { ffi::seraph_callable_num_args(callable) };
    if n != 2 {
        tracing::warn!(
            "newrelic_set_error_group_callback failure: invalid number of callback parameters: {n}"
        );
        return;
    }
    // SAFETY: zeroed plain data, then a counted copy of the argument.
    let mut keep: ffi::zval = unsafe { std::mem::zeroed() };
    // SAFETY: `callable` is a live argument; the copy holds a reference.
    unsafe { ffi::seraph_zval_keep(&mut keep, callable) };
    let previous = CALLBACK.with(|c| c.replace(keep)).flatten();
    if let Some(mut old) = previous {
        tracing::debug!("newrelic_set_error_group_callback: overwriting previous callback");
        // SAFETY: our counted copy of the previous callable.
        unsafe { ffi::seraph_zval_dtor(&mut old) };
    }
    ret.bool(true);
});

/// Whether an error group callback is set in this request.
pub fn error_group_callback_set() -> bool {
    CALLBACK.with(|c| c.is_some()).unwrap_or(false)
}

/// Releases the request's error group callback (RSHUTDOWN, while the
/// engine can still destroy the closure).
pub fn release_request_state() {
    if let Some(mut cb) = CALLBACK.with(Option::take).flatten() {
        // SAFETY: our counted copy of the callable.
        unsafe { ffi::seraph_zval_dtor(&mut cb) };
    }
}

/// A string map as a PHP array value.
fn string_map(pairs: &[(&str, &str)]) -> ffi::zval {
    let keys: Vec<*const std::ffi::c_char> = pairs.iter().map(|p| p.0.as_ptr().cast()).collect();
    let klen: Vec<usize> = pairs.iter().map(|p| p.0.len()).collect();
    let vals: Vec<*const std::ffi::c_char> = pairs.iter().map(|p| p.1.as_ptr().cast()).collect();
    let vlen: Vec<usize> = pairs.iter().map(|p| p.1.len()).collect();
    // SAFETY: zeroed plain data the shim initialises as an array.
    let mut out: ffi::zval = unsafe { std::mem::zeroed() };
    // SAFETY: four arrays of `pairs.len()` entries; the shim copies.
    unsafe {
        ffi::seraph_zval_string_map(
            &mut out,
            keys.as_ptr(),
            klen.as_ptr(),
            vals.as_ptr(),
            vlen.as_ptr(),
            pairs.len(),
        )
    };
    out
}

/// Calls the error group callback, if one is set, with New Relic's two
/// arrays (`$txn`: `request_uri`, `path`, `method`, `status_code`; `$err`:
/// `klass`, `message`, `file`, `stack`), and keeps a non-empty string it
/// returns as the `error.group.name` attribute. Never with the agent state
/// borrowed (the callback is user code).
pub fn call_error_group_callback(klass: &str, message: &str, file: &str, stack: &[String]) {
    // SAFETY: zeroed plain data, filled with a counted copy below.
    let mut cb: ffi::zval = unsafe { std::mem::zeroed() };
    let has = CALLBACK
        .with(|c| {
            c.as_ref().map(|stored| {
                // SAFETY: our live counted copy; the new copy holds its own
                // reference, so the callback may replace itself.
                unsafe { ffi::seraph_zval_keep(&mut cb, stored) }
            })
        })
        .flatten()
        .is_some();
    if !has {
        return;
    }
    let path = agent(|a| a.txn.as_ref().and_then(|t| t.path().map(str::to_owned)))
        .flatten()
        .unwrap_or_default();
    let uri = crate::zend::globals::server_var("REQUEST_URI").unwrap_or_default();
    let method = crate::zend::globals::server_var("REQUEST_METHOD").unwrap_or_default();
    let status = crate::zend::globals::response_code().max(0);
    let stack_json = serde_json::to_string(stack).unwrap_or_else(|_| "[]".to_owned());
    let mut argv = [
        string_map(&[("request_uri", &uri), ("path", &path), ("method", &method)]),
        string_map(&[
            ("klass", klass),
            ("message", message),
            ("file", file),
            ("stack", &stack_json),
        ]),
    ];
    // SAFETY: the first array is ours.
    unsafe {
        if let Val::Array(ht) = read(&argv[0]) {
            ffi::seraph_array_add_long(ht, c"status_code".as_ptr(), 11, i64::from(status));
        }
    }
    // SAFETY: zeroed plain data the shim initialises.
    let mut rv: ffi::zval = unsafe { std::mem::zeroed() };
    // SAFETY: a counted callable and two arrays we own; under zend_try.
    let rc = unsafe { ffi::seraph_call_callable(&mut cb, 2, argv.as_mut_ptr(), &mut rv) };
    // SAFETY: the return value, read before it is released.
    let name = match (rc, unsafe { read(&rv) }) {
        (0, Val::Str(s)) if !s.is_empty() => Some(String::from_utf8_lossy(s).into_owned()),
        _ => {
            tracing::debug!(
                "Error Group callback: Invalid return value (Non-Empty String Required)."
            );
            None
        }
    };
    // SAFETY: releases our values.
    unsafe {
        ffi::seraph_zval_dtor(&mut rv);
        ffi::seraph_zval_dtor(&mut argv[0]);
        ffi::seraph_zval_dtor(&mut argv[1]);
        ffi::seraph_zval_dtor(&mut cb);
    }
    if let Some(name) = name {
        let _ = agent(|a| {
            if let Some(t) = a.txn.as_mut() {
                t.set_error_group_name(&name);
            }
        });
    }
}
