//! curl: external segments for `curl_exec`, with the URL and method
//! gathered from `curl_init`/`curl_setopt`/`curl_setopt_array` and the
//! status from `curl_getinfo`. With distributed tracing on, the trace
//! headers are merged into the request's `CURLOPT_HTTPHEADER` just before
//! `curl_exec` runs (the user's own headers are remembered so the merge
//! never duplicates ours).
//!
//! Because the merge *replaces* the handle's header list, what is
//! remembered must be exactly the handle's own: `curl_reset` clears it,
//! `curl_copy_handle` copies it to the new handle (whose object handle
//! number may be a freed handle's, with that handle's headers), and a
//! `curl_setopt` that failed changes nothing. Otherwise a request got an
//! earlier request's headers (an `Authorization` sent to another host)
//! and lost its own.

use super::instrument::Pre;
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::zval::{array_each, read, Key, Val};
use seraph_txn::ExternalCall;

const CURLOPT_URL: i64 = 10002;
const CURLOPT_HTTPHEADER: i64 = 10023;
const CURLOPT_CUSTOMREQUEST: i64 = 10036;
const CURLOPT_POST: i64 = 47;
const CURLINFO_RESPONSE_CODE: i64 = 0x200002;

/// What the agent knows about one curl handle.
#[derive(Clone, Debug, Default)]
pub struct CurlState {
    /// CURLOPT_URL.
    pub url: String,
    /// Method (GET unless set).
    pub method: Option<String>,
    /// The user's own CURLOPT_HTTPHEADER lines.
    pub headers: Vec<String>,
}

fn is_dt_header(line: &str) -> bool {
    let name = line
        .split(':')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(name.as_str(), "traceparent" | "tracestate" | "newrelic")
}

fn handle_of(v: Val<'_>) -> Option<u32> {
    match v {
        // SAFETY: a live object argument.
        Val::Object(o) if !o.is_null() => Some(unsafe { (*o).handle }),
        _ => None,
    }
}

fn arg<'a>(ex: *mut ffi::zend_execute_data, n: u32) -> Val<'a> {
    // SAFETY: live frame; the shim bounds-checks.
    unsafe { read(ffi::seraph_arg(ex, n)) }
}

fn with_state(handle: u32, f: impl FnOnce(&mut CurlState)) {
    let _ = AGENT.with(|a| {
        if let Some(a) = a.as_mut() {
            f(a.req.curl.entry(handle).or_default());
        }
    });
}

fn apply_option(state: &mut CurlState, opt: i64, value: Val<'_>) {
    match (opt, value) {
        (CURLOPT_URL, Val::Str(s)) => state.url = String::from_utf8_lossy(s).into_owned(),
        (CURLOPT_CUSTOMREQUEST, Val::Str(s)) => {
            state.method = Some(String::from_utf8_lossy(s).to_ascii_uppercase())
        }
        (CURLOPT_POST, v) if v.truthy() => state.method = Some("POST".to_owned()),
        (CURLOPT_HTTPHEADER, Val::Array(ht)) => {
            let mut lines = Vec::new();
            // SAFETY: an array argument of the live call.
            unsafe {
                array_each(ht, |_, v| {
                    if let Some(s) = v.string() {
                        if !is_dt_header(&s) {
                            lines.push(s);
                        }
                    }
                })
            };
            state.headers = lines;
        }
        _ => {}
    }
}

/// `curl_init([$url])`.
pub(super) fn after_init(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    // SAFETY: the return slot of the finished call.
    let Some(h) = handle_of(unsafe { read(rv) }) else {
        return;
    };
    let url = arg(ex, 1).string().unwrap_or_default();
    with_state(h, |s| {
        *s = CurlState {
            url,
            ..Default::default()
        }
    });
}

/// `curl_setopt($ch, $opt, $value)`, when it succeeded.
pub(super) fn after_setopt(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    // SAFETY: the return slot of the finished call.
    if !matches!(unsafe { read(rv) }, Val::Bool(true)) {
        return;
    }
    let (Some(h), Val::Long(opt)) = (handle_of(arg(ex, 1)), arg(ex, 2)) else {
        return;
    };
    let value = arg(ex, 3);
    with_state(h, |s| apply_option(s, opt, value));
}

/// `curl_setopt_array($ch, $options)`.
pub(super) fn after_setopt_array(ex: *mut ffi::zend_execute_data) {
    let (Some(h), Val::Array(ht)) = (handle_of(arg(ex, 1)), arg(ex, 2)) else {
        return;
    };
    with_state(h, |s| {
        // SAFETY: an array argument of the live call.
        unsafe {
            array_each(ht, |k, v| {
                if let Key::Index(opt) = k {
                    apply_option(s, opt as i64, v);
                }
            })
        };
    });
}

/// `curl_reset($ch)`: every option is back to its default.
pub(super) fn after_reset(ex: *mut ffi::zend_execute_data) {
    if let Some(h) = handle_of(arg(ex, 1)) {
        with_state(h, |s| *s = CurlState::default());
    }
}

/// `curl_copy_handle($ch)`: the new handle starts with the original's
/// options (and must not keep whatever a freed handle with its number had).
pub(super) fn after_copy_handle(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    // SAFETY: the return slot of the finished call.
    let Some(new) = handle_of(unsafe { read(rv) }) else {
        return;
    };
    let old = handle_of(arg(ex, 1));
    let _ = AGENT.with(|a| {
        if let Some(a) = a.as_mut() {
            let copied = old
                .and_then(|h| a.req.curl.get(&h).cloned())
                .unwrap_or_default();
            a.req.curl.insert(new, copied);
        }
    });
}

/// Calls a PHP function with `(handle, long[, string array])`; the result
/// zval is passed to `f` and released. Returns `false` after a bailout.
fn call_curl(
    name: &str,
    ch: *mut ffi::zval,
    opt: i64,
    lines: Option<&[String]>,
    f: impl FnOnce(Val<'_>),
) -> bool {
    // SAFETY: zvals built and released here; ch is the live argument
    // (copied with a reference, released below).
    unsafe {
        let mut argv: [ffi::zval; 3] = std::mem::zeroed();
        ffi::seraph_zval_copy(&mut argv[0], ch);
        ffi::seraph_zval_long(&mut argv[1], opt);
        let mut argc = 2;
        if let Some(lines) = lines {
            let ptrs: Vec<*const libc::c_char> = lines.iter().map(|l| l.as_ptr().cast()).collect();
            let lens: Vec<usize> = lines.iter().map(String::len).collect();
            ffi::seraph_zval_string_array(&mut argv[2], ptrs.as_ptr(), lens.as_ptr(), lines.len());
            argc = 3;
        }
        let mut ret: ffi::zval = std::mem::zeroed();
        let rc = ffi::seraph_call_function(
            name.as_ptr().cast(),
            name.len(),
            &mut ret,
            argc,
            argv.as_mut_ptr(),
        );
        if rc == 0 {
            f(read(&ret));
        }
        ffi::seraph_zval_dtor(&mut ret);
        for z in argv.iter_mut().take(argc as usize) {
            ffi::seraph_zval_dtor(z);
        }
        rc != 1
    }
}

/// Before `curl_exec($ch)`: enter the segment, then inject trace headers.
///
/// The segment is entered first so the headers' span id is the external
/// call's own (as in New Relic's agent): creating them from the caller's
/// segment would keep that function's segment however short it is.
pub(super) fn before_exec(ex: *mut ffi::zend_execute_data) -> Pre {
    // SAFETY: live frame; the shim bounds-checks.
    let ch = unsafe { ffi::seraph_arg(ex, 1) };
    let Some(h) = handle_of(arg(ex, 1)) else {
        return Pre::default();
    };
    // Step 1, borrowing the agent: enter the segment and build the merged
    // header list from it.
    let Some((start, merged)) = AGENT
        .with(|a| {
            let a = a.as_mut()?;
            let now = a.clock.now();
            let t = a.txn.as_mut()?;
            t.enter_internal(now);
            if !a.settings.dt_enabled {
                return Some((now, None));
            }
            let dt = t.create_dt_headers(crate::clock::unix_us(), &mut a.ids);
            let mut lines = a
                .req
                .curl
                .get(&h)
                .map(|s| s.headers.clone())
                .unwrap_or_default();
            for (k, v) in dt {
                if k == "newrelic" && a.settings.dt_exclude_newrelic_header {
                    continue;
                }
                lines.push(format!("{k}: {v}"));
            }
            Some((now, Some(lines)))
        })
        .flatten()
    else {
        return Pre::default();
    };
    // Step 2, no borrow held: call back into PHP.
    let mut bailed = false;
    if let Some(lines) = merged {
        bailed = !call_curl("curl_setopt", ch, CURLOPT_HTTPHEADER, Some(&lines), |_| {});
    }
    Pre {
        entered: true,
        start,
        bailed,
    }
}

/// After `curl_exec($ch)`: status, then leave the segment.
pub(super) fn after_exec(ex: *mut ffi::zend_execute_data, pre: Pre) {
    if !pre.entered {
        return;
    }
    // SAFETY: live frame.
    let ch = unsafe { ffi::seraph_arg(ex, 1) };
    let h = handle_of(arg(ex, 1));
    let mut status = 0u16;
    let _ = call_curl("curl_getinfo", ch, CURLINFO_RESPONSE_CODE, None, |v| {
        if let Val::Long(code) = v {
            status = u16::try_from(code).unwrap_or(0);
        }
    });
    let _ = AGENT.with(|a| {
        let Some(a) = a.as_mut() else { return };
        let state = h
            .and_then(|h| a.req.curl.get(&h).cloned())
            .unwrap_or_default();
        let now = a.clock.now();
        if let Some(t) = a.txn.as_mut() {
            t.leave_external(
                now,
                ExternalCall {
                    url: state.url,
                    library: "curl".to_owned(),
                    procedure: state.method.unwrap_or_else(|| "GET".to_owned()),
                    status: (status > 0).then_some(status),
                },
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dt_headers_are_recognised() {
        assert!(is_dt_header("traceparent: 00-x"));
        assert!(is_dt_header("NewRelic:abc"));
        assert!(!is_dt_header("Accept: */*"));
    }
}
