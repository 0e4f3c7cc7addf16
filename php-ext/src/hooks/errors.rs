//! PHP errors and uncaught exceptions.
//!
//! PHP errors arrive through `zend_error_cb` (wrapped in the C shim, so a
//! fatal error's bailout never crosses Rust frames), which PHP calls only
//! for errors no user error handler took, filtered by `error_reporting` and
//! `newrelic.error_collector.ignore_errors`; notices are never recorded.
//! Uncaught exceptions reach it too, as an `E_ERROR` "Uncaught …" message,
//! but by then `EG(exception)` has been cleared; so the exception hook
//! remembers the last thrown object (pointer and handle, no reference
//! held), and the recorder reads it if that object is still alive. Only the
//! highest priority error of a transaction is kept (the model decides).

use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::zval::{zstr, zstr_lossy};
use seraph_txn::NoticedError;
use std::ffi::c_int;

/// Stack frames kept per trace.
pub const STACK_LIMIT: usize = 300;

/// Priority of an uncaught exception.
pub const PRIORITY_UNCAUGHT: i32 = 100;
/// Priority of `newrelic_notice_error` with `prioritize_api_errors`.
pub const PRIORITY_API_PRIORITIZED: i32 = 99;
/// Priority of `newrelic_notice_error` otherwise.
pub const PRIORITY_API: i32 = 50;

/// Priority New Relic gives a PHP error level.
pub fn priority_of(level: u32) -> i32 {
    match level {
        ffi::E_PARSE
        | ffi::E_COMPILE_ERROR
        | ffi::E_CORE_ERROR
        | ffi::E_ERROR
        | ffi::E_USER_ERROR
        | ffi::E_RECOVERABLE_ERROR => 50,
        ffi::E_WARNING | ffi::E_CORE_WARNING | ffi::E_COMPILE_WARNING | ffi::E_USER_WARNING => 40,
        // New Relic's agent gives notices priority 0: never recorded
        // (its test_E_NOTICE / test_E_USER_NOTICE expect no error).
        ffi::E_NOTICE | ffi::E_USER_NOTICE => 0,
        ffi::E_STRICT => 10,
        _ => 0,
    }
}

/// Whether PHP errors of this level are recorded at all: not notices.
pub fn is_recorded_level(level: u32) -> bool {
    !matches!(level, ffi::E_NOTICE | ffi::E_USER_NOTICE)
}

/// `E_USER_WARNING` etc.
pub fn level_name(level: u32) -> &'static str {
    match level {
        ffi::E_ERROR => "E_ERROR",
        ffi::E_WARNING => "E_WARNING",
        ffi::E_PARSE => "E_PARSE",
        ffi::E_NOTICE => "E_NOTICE",
        ffi::E_CORE_ERROR => "E_CORE_ERROR",
        ffi::E_CORE_WARNING => "E_CORE_WARNING",
        ffi::E_COMPILE_ERROR => "E_COMPILE_ERROR",
        ffi::E_COMPILE_WARNING => "E_COMPILE_WARNING",
        ffi::E_USER_ERROR => "E_USER_ERROR",
        ffi::E_USER_WARNING => "E_USER_WARNING",
        ffi::E_USER_NOTICE => "E_USER_NOTICE",
        ffi::E_STRICT => "E_STRICT",
        ffi::E_RECOVERABLE_ERROR => "E_RECOVERABLE_ERROR",
        ffi::E_DEPRECATED => "E_DEPRECATED",
        ffi::E_USER_DEPRECATED => "E_USER_DEPRECATED",
        _ => "Error",
    }
}

/// Installs the error recorder in `zend_error_cb` and chains the exception
/// hook (MINIT).
///
/// Not the PHP 8 error observer: it sees every error, also those a user
/// error handler (`set_error_handler`, as frameworks install) handles,
/// which New Relic's agent does not record.
pub fn register() {
    // SAFETY: MINIT-time registration (one thread, before any request);
    // the shim saves the previous callback and hook and calls them after
    // ours.
    unsafe {
        ffi::seraph_error_cb_install(Some(on_error));
        ffi::seraph_throw_hook_install(Some(on_throw));
    }
}

/// Restores the previous error callback and exception hook (MSHUTDOWN).
pub fn unregister() {
    // SAFETY: MSHUTDOWN, one thread; restores what we replaced.
    unsafe {
        ffi::seraph_error_cb_uninstall();
        ffi::seraph_throw_hook_uninstall();
    }
}

unsafe extern "C" fn on_throw(ex: *mut ffi::zend_object) {
    guard("exception hook", (), || {
        if !ex.is_null() {
            // SAFETY: PHP passes the live exception object.
            let handle = unsafe { (*ex).handle };
            let _ = AGENT.with(|a| {
                if let Some(a) = a.as_mut() {
                    a.req.last_exception = Some((ex as usize, handle));
                }
            });
        }
    });
}

/// Class, message, file, line and stack of a live exception object.
pub struct ExceptionInfo {
    /// Class name.
    pub class: String,
    /// getMessage().
    pub message: String,
    /// getFile().
    pub file: String,
    /// getLine().
    pub line: i64,
    /// Stack frames in New Relic's format.
    pub stack: Vec<String>,
    /// What it is an instance of: its class, parents and interfaces (for
    /// `error_collector.ignore_exceptions`).
    pub classes: Vec<String>,
}

/// Reads an exception (or Error) object.
///
/// # Safety
/// `obj` must be a live object.
pub unsafe fn read_exception(obj: *mut ffi::zend_object) -> Option<ExceptionInfo> {
    // SAFETY: forwarded caller's contract.
    unsafe { read(obj, true) }
}

/// Class, message, file and line of an exception, without its stack (for
/// the segment a function exits by exception, where no stack is kept).
///
/// # Safety
/// `obj` must be a live object.
pub unsafe fn read_exception_brief(obj: *mut ffi::zend_object) -> Option<ExceptionInfo> {
    // SAFETY: forwarded caller's contract.
    unsafe { read(obj, false) }
}

/// # Safety
/// `obj` must be a live object.
unsafe fn read(obj: *mut ffi::zend_object, with_stack: bool) -> Option<ExceptionInfo> {
    // SAFETY: zeroed plain data, filled by the shim.
    let mut info: ffi::seraph_exception_info = unsafe { std::mem::zeroed() };
    // SAFETY: `obj` is live (caller's contract).
    if unsafe { ffi::seraph_exception_read(obj, &mut info) } != 0 {
        return None;
    }
    let stack = if with_stack {
        // SAFETY: the trace array belongs to the live exception.
        unsafe { crate::zend::frames::format_trace(info.trace, STACK_LIMIT) }
    } else {
        Vec::new()
    };
    let mut names = [std::ptr::null_mut::<ffi::zend_string>(); 32];
    // SAFETY: `obj` is live; the shim writes at most `names.len()` borrowed
    // names.
    let n = unsafe { ffi::seraph_class_chain(obj, names.as_mut_ptr(), names.len()) };
    // SAFETY: strings borrowed from the live object and its classes, copied
    // at once (the message no further than the model keeps of it: it is
    // formatted again for every frame the exception leaves).
    unsafe {
        Some(ExceptionInfo {
            class: zstr_lossy(info.class_name).unwrap_or_default(),
            message: zstr(info.message)
                .map(|m| {
                    let cut = &m[..m.len().min(seraph_txn::ERROR_MESSAGE_LIMIT)];
                    String::from_utf8_lossy(cut).into_owned()
                })
                .unwrap_or_default(),
            file: zstr_lossy(info.file).unwrap_or_default(),
            line: info.line,
            stack,
            classes: names[..n.min(names.len())]
                .iter()
                .filter_map(|&c| zstr_lossy(c))
                .collect(),
        })
    }
}

/// New Relic's message for an uncaught or noticed exception.
pub fn exception_message(e: &ExceptionInfo, prefix: &str) -> String {
    format!(
        "{prefix}exception '{}' with message '{}' in {}:{}",
        e.class, e.message, e.file, e.line
    )
}

unsafe extern "C" fn on_error(
    ty: c_int,
    file: *mut ffi::zend_string,
    _line: u32,
    message: *mut ffi::zend_string,
) {
    guard("error callback", (), || {
        let level = (ty as u32) & ffi::E_ALL;
        // SAFETY: PHP passes the message string for this call.
        let msg = unsafe { zstr(message) }.unwrap_or_default();
        let uncaught = level == ffi::E_ERROR && msg.starts_with(b"Uncaught ");
        let now = crate::clock::unix_us();
        // The classes an uncaught exception is an instance of: New Relic
        // applies ignore_exceptions to those (and to nothing else).
        let mut instance_of: Vec<String> = Vec::new();
        // An uncaught exception's class, message and file, as the error
        // group callback sees them.
        let mut exception_parts: Option<(String, String, String)> = None;
        let error = if uncaught {
            let last = AGENT
                .with(|a| a.as_ref().and_then(|a| a.req.last_exception))
                .flatten();
            let exc = last.and_then(|(ptr, handle)| {
                let obj = ptr as *mut ffi::zend_object;
                // SAFETY: only read if the handle still maps to this object.
                if unsafe { ffi::seraph_object_alive(obj, handle) } != 0 {
                    // SAFETY: alive, checked above.
                    unsafe { read_exception(obj) }
                } else {
                    None
                }
            });
            match exc {
                Some(e) => {
                    instance_of = e.classes.clone();
                    exception_parts = Some((e.class.clone(), e.message.clone(), e.file.clone()));
                    NoticedError {
                        priority: PRIORITY_UNCAUGHT,
                        message: exception_message(&e, "Uncaught "),
                        class: e.class.clone(),
                        stack_trace: e.stack,
                        now_unix_us: now,
                    }
                }
                None => NoticedError {
                    priority: PRIORITY_UNCAUGHT,
                    message: String::from_utf8_lossy(msg).into_owned(),
                    class: "Exception".to_owned(),
                    stack_trace: crate::zend::frames::current_stack(STACK_LIMIT),
                    now_unix_us: now,
                },
            }
        } else {
            if i64::from(level) & crate::zend::globals::error_reporting() == 0
                || !is_recorded_level(level)
            {
                return;
            }
            NoticedError {
                priority: priority_of(level),
                message: String::from_utf8_lossy(msg).into_owned(),
                class: level_name(level).to_owned(),
                stack_trace: crate::zend::frames::current_stack(STACK_LIMIT),
                now_unix_us: now,
            }
        };
        if uncaught && instance_of.is_empty() {
            instance_of.push(error.class.clone());
        }
        // What the error group callback is given, if one is set.
        let for_callback = crate::api::error_group_callback_set().then(|| {
            let (class, message) = match &exception_parts {
                Some((class, message, file)) => (class.clone(), (message.clone(), file.clone())),
                None => (
                    error.class.clone(),
                    (
                        error.message.clone(),
                        // SAFETY: PHP passes the file string for this call.
                        unsafe { zstr_lossy(file) }.unwrap_or_default(),
                    ),
                ),
            };
            (class, message.0, message.1, error.stack_trace.clone())
        });
        let worthy = AGENT
            .with(|a| {
                let a = a.as_mut()?;
                if !a.settings.errors_enabled
                    || (!uncaught && i64::from(level) & a.settings.errors_ignore_errors != 0)
                {
                    return None;
                }
                let mut error = error;
                if !a.settings.allow_raw_exception_messages {
                    error.message = "Message removed by New Relic security settings".to_owned();
                }
                let t = a.txn.as_mut()?;
                if t.ignores_exception(&instance_of) || !t.error_worthy(error.priority) {
                    return None;
                }
                t.notice_error(error);
                Some(())
            })
            .flatten()
            .is_some();
        if let (true, Some((class, message, file, stack))) = (worthy, for_callback) {
            crate::api::call_error_group_callback(&class, &message, &file, &stack);
        }
    });
    // Reading the exception or the stack may have bailed out (a __get, the
    // memory limit): the error is recorded, now let PHP unwind.
    crate::zend::reraise_pending_bailout();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_and_names() {
        assert_eq!(priority_of(ffi::E_USER_WARNING), 40);
        assert_eq!(priority_of(ffi::E_ERROR), 50);
        assert!(!is_recorded_level(ffi::E_USER_NOTICE) && !is_recorded_level(ffi::E_NOTICE));
        assert!(is_recorded_level(ffi::E_DEPRECATED) && is_recorded_level(ffi::E_WARNING));
        const { assert!(PRIORITY_UNCAUGHT > PRIORITY_API_PRIORITIZED) };
        assert_eq!(level_name(ffi::E_USER_WARNING), "E_USER_WARNING");
    }
}
