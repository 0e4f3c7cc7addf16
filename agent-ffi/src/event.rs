//! Custom events: built attribute by attribute, then recorded on a
//! transaction and sent with it.

use crate::ffi::{guard, handle, tag, NAME_LIMIT};
use crate::txn::{unix_us, with_txn, Txn};
use seraph_txn::AttrValue;
use std::ffi::{c_char, c_int, c_long};

/// Attributes one custom event keeps (New Relic's limit).
pub const EVENT_ATTRIBUTE_LIMIT: usize = 64;

/// `newrelic_custom_event_t`.
// The tag must come first: `ffi::handle` reads it through any pointer.
#[repr(C)]
pub struct CustomEvent {
    tag: u64,
    event_type: String,
    attrs: Vec<(String, AttrValue)>,
}

/// `newrelic_create_custom_event()`.
///
/// # Safety
/// `event_type` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_create_custom_event(
    event_type: *const c_char,
) -> *mut CustomEvent {
    const API: &str = "newrelic_create_custom_event";
    guard(API, std::ptr::null_mut(), || {
        // SAFETY: forwarded from the caller.
        let Ok(t) = (unsafe { crate::ffi::req_arg(API, "event_type", event_type, NAME_LIMIT) })
        else {
            return std::ptr::null_mut();
        };
        Box::into_raw(Box::new(CustomEvent {
            tag: tag::EVENT,
            event_type: t.to_owned(),
            attrs: Vec::new(),
        }))
    })
}

/// Frees `*event` and sets it to NULL.
///
/// # Safety
/// `event` is NULL or points to NULL or to a live custom event.
unsafe fn take(api: &str, event: *mut *mut CustomEvent) -> Option<Box<CustomEvent>> {
    // SAFETY: the caller passes NULL or a valid pointer to a pointer.
    if event.is_null() || unsafe { (*event).is_null() } {
        tracing::error!("{api}: the event is NULL");
        return None;
    }
    // SAFETY: checked non-NULL.
    let p = unsafe { *event };
    // SAFETY: the tag check refuses other handles.
    unsafe { handle(api, p, tag::EVENT) }?;
    // SAFETY: made by Box::into_raw above; freed once (tag cleared).
    let mut b = unsafe { Box::from_raw(p) };
    b.tag = tag::FREED;
    // SAFETY: valid pointer to the caller's pointer.
    unsafe { *event = std::ptr::null_mut() };
    Some(b)
}

/// `newrelic_discard_custom_event()`.
///
/// # Safety
/// As [`take`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_discard_custom_event(event: *mut *mut CustomEvent) {
    const API: &str = "newrelic_discard_custom_event";
    // SAFETY: forwarded from the caller.
    guard(API, (), || drop(unsafe { take(API, event) }))
}

/// `newrelic_record_custom_event()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; `event` as [`take`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_record_custom_event(txn: *mut Txn, event: *mut *mut CustomEvent) {
    const API: &str = "newrelic_record_custom_event";
    guard(API, (), || {
        if txn.is_null() {
            tracing::error!("{API}: the transaction is NULL");
            return;
        }
        // SAFETY: forwarded from the caller.
        let Some(e) = (unsafe { take(API, event) }) else {
            return;
        };
        let CustomEvent {
            event_type, attrs, ..
        } = *e;
        with_txn(API, txn, (), |s| {
            if !s.txn().record_custom_event(&event_type, attrs, unix_us()) {
                tracing::error!(
                    "{API}: event of type \"{event_type}\" not recorded (custom events off, a bad type, or the limit reached)"
                );
            }
        });
    })
}

fn add(api: &str, event: *mut CustomEvent, key: *const c_char, value: AttrValue) -> bool {
    if event.is_null() {
        tracing::error!("{api}: the event is NULL");
        return false;
    }
    // SAFETY: the C caller passes a live custom event (tag checked).
    if unsafe { handle(api, event.cast_const(), tag::EVENT) }.is_none() {
        return false;
    }
    // SAFETY: as above; the event is only used by its owner's thread.
    let e = unsafe { &mut *event };
    // SAFETY: the C caller passes NULL or a NUL-terminated key.
    let Ok(key) = (unsafe { crate::ffi::req_arg(api, "key", key, NAME_LIMIT) }) else {
        return false;
    };
    if key.is_empty() {
        tracing::error!("{api}: the key is empty");
        return false;
    }
    if let AttrValue::Float(f) = value {
        if !f.is_finite() {
            tracing::error!("{api}: the value of \"{key}\" is not finite");
            return false;
        }
    }
    if let Some(slot) = e.attrs.iter_mut().find(|(k, _)| k == key) {
        slot.1 = value;
        return true;
    }
    if e.attrs.len() >= EVENT_ATTRIBUTE_LIMIT {
        tracing::error!("{api}: the event already has {EVENT_ATTRIBUTE_LIMIT} attributes");
        return false;
    }
    e.attrs.push((key.to_owned(), value));
    true
}

/// `newrelic_custom_event_add_attribute_int()`.
///
/// # Safety
/// `event` is NULL or a live custom event; `key` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn newrelic_custom_event_add_attribute_int(
    event: *mut CustomEvent,
    key: *const c_char,
    value: c_int,
) -> bool {
    const API: &str = "newrelic_custom_event_add_attribute_int";
    guard(API, false, || {
        add(API, event, key, AttrValue::Int(i64::from(value)))
    })
}

/// `newrelic_custom_event_add_attribute_long()`.
///
/// # Safety
/// As [`newrelic_custom_event_add_attribute_int`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_custom_event_add_attribute_long(
    event: *mut CustomEvent,
    key: *const c_char,
    value: c_long,
) -> bool {
    const API: &str = "newrelic_custom_event_add_attribute_long";
    #[allow(clippy::useless_conversion)] // c_long is i32 on some targets
    guard(API, false, || {
        add(API, event, key, AttrValue::Int(i64::from(value)))
    })
}

/// `newrelic_custom_event_add_attribute_double()`.
///
/// # Safety
/// As [`newrelic_custom_event_add_attribute_int`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_custom_event_add_attribute_double(
    event: *mut CustomEvent,
    key: *const c_char,
    value: f64,
) -> bool {
    const API: &str = "newrelic_custom_event_add_attribute_double";
    guard(API, false, || add(API, event, key, AttrValue::Float(value)))
}

/// `newrelic_custom_event_add_attribute_string()`.
///
/// # Safety
/// As [`newrelic_custom_event_add_attribute_int`]; `value` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn newrelic_custom_event_add_attribute_string(
    event: *mut CustomEvent,
    key: *const c_char,
    value: *const c_char,
) -> bool {
    const API: &str = "newrelic_custom_event_add_attribute_string";
    guard(API, false, || {
        // SAFETY: forwarded from the caller; 1 MiB bounds the scan (values
        // are cut to 255 bytes when recorded).
        let Ok(v) = (unsafe { crate::ffi::req_arg(API, "value", value, 1 << 20) }) else {
            return false;
        };
        add(API, event, key, AttrValue::Str(v.to_owned()))
    })
}
