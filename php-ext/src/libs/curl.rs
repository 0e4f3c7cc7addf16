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

use crate::hooks::call::{object_handle, Call};
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::ffi;
use crate::zend::zval::{array_each, read, Key, Val};
use seraph_txn::ExternalCall;
use std::collections::HashMap;

/// curl's rows.
pub static LIBRARY: Library = Library {
    name: "curl",
    hooks: &[
        Hook::new(Target::Function("curl_init"))
            .after(after_init)
            .metric("Supportability/InstrumentedFunction/curl_init"),
        Hook::new(Target::Function("curl_setopt"))
            .after(after_setopt)
            .metric("Supportability/InstrumentedFunction/curl_setopt"),
        Hook::new(Target::Function("curl_setopt_array"))
            .after(after_setopt_array)
            .metric("Supportability/InstrumentedFunction/curl_setopt_array"),
        Hook::new(Target::Function("curl_exec"))
            .before(before_exec)
            .after(after_exec)
            .metric("Supportability/InstrumentedFunction/curl_exec"),
        // The handle's options are gone, so is what we know of them.
        Hook::new(Target::Function("curl_reset")).after(after_reset),
        // The copy starts with the original's options.
        Hook::new(Target::Function("curl_copy_handle")).after(after_copy_handle),
    ],
};

const CURLOPT_URL: i64 = 10002;
const CURLOPT_HTTPHEADER: i64 = 10023;
const CURLOPT_CUSTOMREQUEST: i64 = 10036;
const CURLOPT_POST: i64 = 47;
const CURLINFO_RESPONSE_CODE: i64 = 0x200002;

/// What the agent knows about each curl handle, by object handle.
#[derive(Default)]
pub(super) struct Handles(pub(super) HashMap<u32, CurlState>);
crate::hooks::context::lib_state!(Handles);

/// curl handles another library's instrumentation measures (Guzzle's):
/// their calls are not external segments of their own and get no trace
/// headers here, so a request is never counted twice.
#[derive(Default)]
pub(super) struct Delegated(pub(super) std::collections::HashSet<u32>);
crate::hooks::context::lib_state!(Delegated);

/// Whether a curl handle belongs to another library's instrumentation.
pub(super) fn is_delegated(ctx: &Ctx<'_>, handle: u32) -> bool {
    ctx.with(|s| s.state::<Delegated>().0.contains(&handle))
        .unwrap_or(false)
}

/// The user's header lines plus the trace headers (`name: value`), the
/// `newrelic` one left out when excluded.
pub(super) fn merged_lines(
    user: &[String],
    dt: Vec<(String, String)>,
    exclude_newrelic: bool,
) -> Vec<String> {
    let mut lines = user.to_vec();
    for (k, v) in dt {
        if k == "newrelic" && exclude_newrelic {
            continue;
        }
        lines.push(format!("{k}: {v}"));
    }
    lines
}

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

pub(super) fn is_dt_header(line: &str) -> bool {
    let name = line
        .split(':')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(name.as_str(), "traceparent" | "tracestate" | "newrelic")
}

fn with_state(ctx: &Ctx<'_>, handle: u32, f: impl FnOnce(&mut CurlState)) {
    ctx.with(|s| f(s.state::<Handles>().0.entry(handle).or_default()));
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
fn after_init(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(h) = call.returned_handle() else {
        return;
    };
    let url = call.arg_string(1).unwrap_or_default();
    with_state(ctx, h, |s| {
        *s = CurlState {
            url,
            ..Default::default()
        }
    });
}

/// `curl_setopt($ch, $opt, $value)`, when it succeeded.
fn after_setopt(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if !matches!(call.ret(), Some(Val::Bool(true))) {
        return;
    }
    let (Some(h), Val::Long(opt)) = (object_handle(call.arg(1)), call.arg(2)) else {
        return;
    };
    let value = call.arg(3);
    with_state(ctx, h, |s| apply_option(s, opt, value));
}

/// `curl_setopt_array($ch, $options)`.
fn after_setopt_array(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let (Some(h), Val::Array(ht)) = (object_handle(call.arg(1)), call.arg(2)) else {
        return;
    };
    with_state(ctx, h, |s| {
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
fn after_reset(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let Some(h) = object_handle(call.arg(1)) {
        with_state(ctx, h, |s| *s = CurlState::default());
    }
}

/// `curl_copy_handle($ch)`: the new handle starts with the original's
/// options (and must not keep whatever a freed handle with its number had).
fn after_copy_handle(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(new) = call.returned_handle() else {
        return;
    };
    let old = object_handle(call.arg(1));
    ctx.with(|s| {
        let handles = &mut s.state::<Handles>().0;
        let copied = old
            .and_then(|h| handles.get(&h).cloned())
            .unwrap_or_default();
        handles.insert(new, copied);
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
fn before_exec(call: &Call, ctx: &Ctx<'_>) -> Before {
    let Some(h) = object_handle(call.arg(1)) else {
        return Before::default();
    };
    if is_delegated(ctx, h) {
        return Before::default();
    }
    // Step 1, borrowing the agent: enter the segment and build the merged
    // header list from it.
    let Some((start, merged)) = ctx
        .with(|s| {
            let now = s.clock.now();
            let t = s.txn.as_deref_mut()?;
            t.enter_internal(now);
            if !s.settings.dt_enabled {
                return Some((now, None));
            }
            let dt = t.create_dt_headers(crate::clock::unix_us(), s.ids);
            let exclude_newrelic = s.settings.dt_exclude_newrelic_header;
            let user = s
                .state::<Handles>()
                .0
                .get(&h)
                .map(|st| st.headers.clone())
                .unwrap_or_default();
            Some((now, Some(merged_lines(&user, dt, exclude_newrelic))))
        })
        .flatten()
    else {
        return Before::default();
    };
    // Step 2, no borrow held: call back into PHP.
    let mut bailed = false;
    if let Some(lines) = merged {
        bailed = !call_curl(
            "curl_setopt",
            call.arg_ptr(1),
            CURLOPT_HTTPHEADER,
            Some(&lines),
            |_| {},
        );
    }
    Before {
        start: Some(start),
        bailed,
    }
}

/// After `curl_exec($ch)`: status, then leave the segment.
fn after_exec(call: &Call, ctx: &Ctx<'_>, before: Before) {
    if before.start.is_none() {
        return;
    }
    let h = object_handle(call.arg(1));
    let mut status = 0u16;
    let _ = call_curl(
        "curl_getinfo",
        call.arg_ptr(1),
        CURLINFO_RESPONSE_CODE,
        None,
        |v| {
            if let Val::Long(code) = v {
                status = u16::try_from(code).unwrap_or(0);
            }
        },
    );
    let state = h
        .and_then(|h| ctx.with(|s| s.state::<Handles>().0.get(&h).cloned()))
        .flatten()
        .unwrap_or_default();
    ctx.end_external(ExternalCall {
        url: state.url,
        library: "curl".to_owned(),
        procedure: state.method.unwrap_or_else(|| "GET".to_owned()),
        status: (status > 0).then_some(status),
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
