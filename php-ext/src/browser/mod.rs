//! Automatic browser monitoring: an output handler that puts the RUM
//! header and footer scripts into `text/html` responses, as New Relic's
//! agent does. The scripts themselves come from the transaction model
//! (`seraph_txn::rum`); `inject` finds where they go.
//!
//! The handler leaves a response alone when it is not HTML, when the
//! script set a `Content-Length` (the length would be wrong), when the
//! transaction is not recording, ignored, a background job, or had
//! automatic injection switched off (`newrelic_disable_autorum`,
//! `browser_monitoring.auto_instrument = 0`), and for every chunk after
//! both scripts went out (by the handler or the API).

pub mod inject;

use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;

const HANDLER_NAME: &str = "New Relic auto-RUM";

/// Starts the output handler (at most once per request; PHP refuses a
/// second handler of the same name).
pub fn install_output_handler() {
    // SAFETY: a static name of known length and a handler of PHP's
    // output-handler type; the shim starts it under zend_try.
    let rc = unsafe {
        ffi::seraph_output_install(
            HANDLER_NAME.as_ptr().cast(),
            HANDLER_NAME.len(),
            Some(output_handler),
        )
    };
    if rc != 0 {
        tracing::debug!("autorum: output handler not installed");
    }
}

/// The response's MIME type as PHP will send it.
fn response_mimetype() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: a buffer of known size; the shim copies at most that much.
    let n = unsafe { ffi::seraph_response_mimetype(buf.as_mut_ptr().cast(), buf.len()) };
    String::from_utf8_lossy(&buf[..n.min(buf.len())]).into_owned()
}

fn is_html(mimetype: &str) -> bool {
    mimetype
        .as_bytes()
        .get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"text/html"))
}

/// The text with the scripts in it, or `None` to pass it through.
fn rewrite(output: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: reads SG(sapi_headers); no user code.
    let has_length = unsafe {
        ffi::seraph_response_has_header(c"content-length:".as_ptr(), "content-length:".len())
    } != 0;
    if output.is_empty() || has_length || !is_html(&response_mimetype()) {
        return None;
    }
    AGENT
        .with(|a| {
            let a = a.as_mut()?;
            let now = a.clock.now();
            let license = a.txn_license().to_owned();
            let t = a.txn.as_mut()?;
            if !t.is_recording() || !t.autorum_enabled() || t.rum_done() {
                return None;
            }
            let mut inserts: Vec<(usize, String)> = Vec::new();
            let head = if t.rum_header_done() {
                Some(0)
            } else {
                inject::header_position(output).and_then(|pos| {
                    let h = t.browser_timing_header(true, true)?;
                    inserts.push((pos, h));
                    Some(pos)
                })
            };
            if let Some(head) = head {
                if let Some(pos) = inject::footer_position(output).filter(|p| *p >= head) {
                    if let Some(f) = t.browser_timing_footer(true, true, now, &license) {
                        inserts.push((pos, f));
                    }
                }
            }
            if inserts.is_empty() {
                return None;
            }
            let refs: Vec<(usize, &str)> = inserts.iter().map(|(p, s)| (*p, s.as_str())).collect();
            Some(inject::splice(output, &refs))
        })
        .flatten()
}

/// PHP's output handler: rewrites a chunk, or leaves `handled_output` null
/// to pass it through unchanged.
unsafe extern "C" fn output_handler(
    output: *mut std::ffi::c_char,
    output_len: usize,
    handled_output: *mut *mut std::ffi::c_char,
    handled_output_len: *mut usize,
    mode: std::ffi::c_int,
) {
    if !handled_output.is_null() {
        // SAFETY: PHP passes valid out-pointers.
        unsafe { *handled_output = std::ptr::null_mut() };
    }
    if !handled_output_len.is_null() {
        // SAFETY: as above.
        unsafe { *handled_output_len = 0 };
    }
    // SAFETY: plain flag test.
    let has_content = unsafe { ffi::seraph_output_has_content(mode) } != 0;
    if handled_output.is_null() || handled_output_len.is_null() || output.is_null() || !has_content
    {
        return;
    }
    // SAFETY: PHP passes the chunk's bytes.
    let chunk = unsafe { std::slice::from_raw_parts(output.cast::<u8>(), output_len) };
    guard("autorum output handler", (), || {
        let Some(new) = rewrite(chunk) else {
            return;
        };
        // SAFETY: request memory PHP frees after using it.
        let buf = unsafe { ffi::seraph_emalloc(new.len() + 1) };
        if buf.is_null() {
            return;
        }
        // SAFETY: `buf` has room for the text and a NUL.
        unsafe {
            std::ptr::copy_nonoverlapping(new.as_ptr(), buf.cast::<u8>(), new.len());
            *buf.add(new.len()) = 0;
            *handled_output = buf;
            *handled_output_len = new.len();
        }
    });
}
