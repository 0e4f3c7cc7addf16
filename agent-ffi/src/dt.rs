//! Distributed tracing payloads: created for a call made from a segment
//! (or the root), accepted from the caller that made one. The payload is
//! the `newrelic` JSON New Relic's agents exchange; the "httpsafe" forms
//! are its base64 encoding.

use crate::ffi::{guard, malloc_string, NAME_LIMIT};
use crate::segment::SegmentHandle;
use crate::txn::{unix_us, with_txn, Txn};
use base64::Engine as _;
use std::ffi::c_char;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The payload JSON for a call from `segment` (NULL: the root).
fn create(api: &str, txn: *const Txn, segment: *const SegmentHandle) -> Option<String> {
    let seg = if segment.is_null() {
        None
    } else {
        // SAFETY: the C caller passes NULL or a live segment.
        Some(unsafe { SegmentHandle::from_ptr(api, segment) }?)
    };
    // SAFETY: the C caller passes NULL or a live transaction.
    let t = unsafe { crate::ffi::handle(api, txn, crate::ffi::tag::TXN) }?;
    if let Some(seg) = seg {
        if !Arc::ptr_eq(&seg.txn, &t.shared) {
            tracing::error!("{api}: the segment belongs to another transaction");
            return None;
        }
    }
    with_txn(api, txn, None, |s| {
        let now = unix_us();
        let out = match seg {
            None => s.txn().create_newrelic_payload(now),
            Some(seg) => {
                let txn = s.txn.as_mut()?;
                let span = s.segments.span_id(seg.id, || txn.reserve_span_id());
                txn.create_newrelic_payload_for(span.as_deref(), now)
            }
        };
        if out.is_none() {
            tracing::info!(
                "{api}: no payload (distributed tracing is off or the account is unknown)"
            );
        }
        out
    })
}

fn accept(api: &str, txn: *const Txn, payload_b64: &str, transport: *const c_char) -> bool {
    // SAFETY: the C caller passes NULL or a NUL-terminated string.
    let Ok(transport) = (unsafe { crate::ffi::arg(api, "transport_type", transport, NAME_LIMIT) })
    else {
        return false;
    };
    let transport = transport.unwrap_or_else(|| {
        tracing::info!("{api}: no transport type given; using Unknown");
        "Unknown"
    });
    with_txn(api, txn, false, |s| {
        let headers = [("newrelic".to_owned(), payload_b64.to_owned())];
        let ok = s.txn().accept_dt_headers(&headers, transport, unix_us());
        if !ok {
            tracing::error!(
                "{api}: payload refused (see the Supportability/DistributedTrace metrics)"
            );
        }
        ok
    })
}

/// `newrelic_create_distributed_trace_payload()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; `segment` NULL or one of its live
/// segments.
#[no_mangle]
pub unsafe extern "C" fn newrelic_create_distributed_trace_payload(
    txn: *mut Txn,
    segment: *mut SegmentHandle,
) -> *mut c_char {
    const API: &str = "newrelic_create_distributed_trace_payload";
    guard(API, std::ptr::null_mut(), || {
        create(API, txn, segment).map_or(std::ptr::null_mut(), |p| malloc_string(&p))
    })
}

/// `newrelic_create_distributed_trace_payload_httpsafe()`.
///
/// # Safety
/// As [`newrelic_create_distributed_trace_payload`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_create_distributed_trace_payload_httpsafe(
    txn: *mut Txn,
    segment: *mut SegmentHandle,
) -> *mut c_char {
    const API: &str = "newrelic_create_distributed_trace_payload_httpsafe";
    guard(API, std::ptr::null_mut(), || {
        create(API, txn, segment).map_or(std::ptr::null_mut(), |p| malloc_string(&B64.encode(p)))
    })
}

/// `newrelic_accept_distributed_trace_payload()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn newrelic_accept_distributed_trace_payload(
    txn: *mut Txn,
    payload: *const c_char,
    transport_type: *const c_char,
) -> bool {
    const API: &str = "newrelic_accept_distributed_trace_payload";
    guard(API, false, || {
        // SAFETY: forwarded from the caller.
        let Ok(p) = (unsafe { crate::ffi::req_arg(API, "payload", payload, 64 << 10) }) else {
            return false;
        };
        accept(API, txn, &B64.encode(p), transport_type)
    })
}

/// `newrelic_accept_distributed_trace_payload_httpsafe()`.
///
/// # Safety
/// As [`newrelic_accept_distributed_trace_payload`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_accept_distributed_trace_payload_httpsafe(
    txn: *mut Txn,
    payload: *const c_char,
    transport_type: *const c_char,
) -> bool {
    const API: &str = "newrelic_accept_distributed_trace_payload_httpsafe";
    guard(API, false, || {
        // SAFETY: forwarded from the caller.
        let Ok(p) = (unsafe { crate::ffi::req_arg(API, "payload", payload, 64 << 10) }) else {
            return false;
        };
        accept(API, txn, p.trim(), transport_type)
    })
}
