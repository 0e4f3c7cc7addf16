//! Transactions: starting, naming, timing, attributes, custom metrics,
//! ignoring, and ending (replaying the segments, finishing, and
//! writing the frame to the daemon).
//!
//! A transaction is a `seraph_txn::Transaction` behind a mutex, so any
//! thread may call into it; segments are kept apart (`segment.rs`) and
//! replayed into it when it ends.

use crate::app::{App, AppShared};
use crate::ffi::{guard, handle, lock, tag, PMutex, NAME_LIMIT};
use crate::segment::SegmentTree;
use seraph_txn::{
    AttrValue, ClockScale, IdSource, NameSource, ResourceUsage, SeededIds, Transaction, TxnKind,
    WebRequest,
};
use std::ffi::{c_char, c_int, c_long};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// `newrelic_txn_t`.
// The tag must come first: `ffi::handle` reads it through any pointer.
#[repr(C)]
pub struct Txn {
    tag: u64,
    pub shared: Arc<TxnShared>,
}

/// The transaction's state, shared with its segments' handles.
pub struct TxnShared {
    pub state: PMutex<TxnState>,
}

/// Everything about one running transaction.
pub struct TxnState {
    pub app: Arc<AppShared>,
    run_id: String,
    /// `None` once ended.
    pub txn: Option<Transaction>,
    /// Ticks (microseconds) count from here.
    started: Instant,
    /// `newrelic_set_transaction_timing`'s duration.
    duration_us: Option<u64>,
    pub segments: SegmentTree,
}

impl TxnState {
    /// Microseconds since the transaction started: the tick of now.
    pub fn now_ticks(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }
}

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A seed for a transaction's ids from the kernel's generator, mixed with
/// the clock in case it is unavailable.
fn seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: valid 8-byte buffer; failure leaves zeros, mixed below.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, libc::GRND_NONBLOCK) };
    u64::from_ne_bytes(b) ^ unix_us().rotate_left(23) ^ u64::from(std::process::id())
}

fn start(api: &str, app: *const App, name: *const c_char, web: bool) -> *mut Txn {
    // SAFETY: the caller passes NULL or a live application.
    let Some(app) = (unsafe { App::from_ptr(api, app) }) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the caller passes NULL or a NUL-terminated string.
    let Ok(name) = (unsafe { crate::ffi::arg(api, "name", name, NAME_LIMIT) }) else {
        return std::ptr::null_mut();
    };
    let name = match name {
        None => "NULL",
        Some("") => "unknown",
        Some(n) => n,
    };
    let shared = app.shared.clone();
    let mut ids = SeededIds::new(seed());
    let now_us = unix_us();
    let Some(run) = shared.start(now_us, ids.next_f64()) else {
        tracing::error!(
            "{api}: application '{}' is not connected; no transaction",
            shared.settings.app_name
        );
        return std::ptr::null_mut();
    };
    let kind = if web {
        TxnKind::Web(WebRequest::default())
    } else {
        TxnKind::Cli {
            script: name.to_owned(),
        }
    };
    let mut txn = Transaction::start(
        kind,
        now_us,
        0,
        ClockScale::MICROS,
        shared.cfg.clone(),
        run.connect,
        run.sampling,
        &mut ids,
    );
    txn.set_name(NameSource::File, name);
    tracing::debug!(
        "starting {} transaction \"{name}\"",
        if web { "web" } else { "non-web" }
    );
    let state = TxnState {
        app: shared,
        run_id: run.run_id,
        txn: Some(txn),
        started: Instant::now(),
        duration_us: None,
        segments: SegmentTree::default(),
    };
    Box::into_raw(Box::new(Txn {
        tag: tag::TXN,
        shared: Arc::new(TxnShared {
            state: PMutex::new(state),
        }),
    }))
}

/// Runs `f` on a running transaction; `fallback` for a NULL, foreign or
/// ended one.
pub fn with_txn<T>(api: &str, p: *const Txn, fallback: T, f: impl FnOnce(&mut TxnState) -> T) -> T {
    // SAFETY: the C caller passes NULL or a live transaction.
    let Some(t) = (unsafe { handle(api, p, tag::TXN) }) else {
        return fallback;
    };
    let mut state = lock(&t.shared.state);
    if state.txn.is_none() {
        tracing::error!("{api}: the transaction has ended");
        return fallback;
    }
    f(&mut state)
}

impl TxnState {
    /// The live transaction (present while the state is reachable through
    /// [`with_txn`]).
    pub fn txn(&mut self) -> &mut Transaction {
        self.txn
            .as_mut()
            .unwrap_or_else(|| unreachable!("with_txn checks the transaction is running"))
    }
}

/// `newrelic_start_web_transaction()`.
///
/// # Safety
/// `app` is NULL or a live application; `name` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_start_web_transaction(
    app: *mut App,
    name: *const c_char,
) -> *mut Txn {
    const API: &str = "newrelic_start_web_transaction";
    guard(API, std::ptr::null_mut(), || start(API, app, name, true))
}

/// `newrelic_start_non_web_transaction()`.
///
/// # Safety
/// As [`newrelic_start_web_transaction`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_start_non_web_transaction(
    app: *mut App,
    name: *const c_char,
) -> *mut Txn {
    const API: &str = "newrelic_start_non_web_transaction";
    guard(API, std::ptr::null_mut(), || start(API, app, name, false))
}

/// `newrelic_set_transaction_name()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; `name` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_set_transaction_name(txn: *mut Txn, name: *const c_char) -> bool {
    const API: &str = "newrelic_set_transaction_name";
    guard(API, false, || {
        // SAFETY: forwarded from the caller.
        let Ok(name) = (unsafe { crate::ffi::req_arg(API, "name", name, NAME_LIMIT) }) else {
            return false;
        };
        with_txn(API, txn, false, |s| {
            let ok = s.txn().set_name(NameSource::Api, name);
            if !ok {
                tracing::error!("{API}: unable to name the transaction \"{name}\"");
            }
            ok
        })
    })
}

/// `newrelic_set_transaction_timing()`.
///
/// # Safety
/// `txn` is NULL or a live transaction.
#[no_mangle]
pub unsafe extern "C" fn newrelic_set_transaction_timing(
    txn: *mut Txn,
    start_time: u64,
    duration: u64,
) -> bool {
    const API: &str = "newrelic_set_transaction_timing";
    guard(API, false, || {
        with_txn(API, txn, false, |s| {
            s.txn()
                .count_metric("Supportability/C/api/set_transaction_timing");
            if start_time == 0 {
                tracing::error!("{API}: the start time is 0");
                return false;
            }
            s.txn().set_start_unix_us(start_time);
            s.duration_us = Some(duration);
            true
        })
    })
}

/// `newrelic_ignore_transaction()`.
///
/// # Safety
/// `txn` is NULL or a live transaction.
#[no_mangle]
pub unsafe extern "C" fn newrelic_ignore_transaction(txn: *mut Txn) -> bool {
    const API: &str = "newrelic_ignore_transaction";
    guard(API, false, || {
        with_txn(API, txn, false, |s| {
            s.txn().ignore();
            true
        })
    })
}

fn add_attribute(api: &str, txn: *const Txn, key: *const c_char, value: AttrValue) -> bool {
    // SAFETY: the C caller passes NULL or a NUL-terminated key.
    let Ok(key) = (unsafe { crate::ffi::req_arg(api, "key", key, NAME_LIMIT) }) else {
        return false;
    };
    with_txn(api, txn, false, |s| {
        let ok = s.txn().add_custom_parameter(key, value);
        if !ok {
            tracing::error!("{api}: unable to add attribute for key=\"{key}\"");
        }
        ok
    })
}

/// `newrelic_add_attribute_int()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; `key` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_add_attribute_int(
    txn: *mut Txn,
    key: *const c_char,
    value: c_int,
) -> bool {
    const API: &str = "newrelic_add_attribute_int";
    guard(API, false, || {
        add_attribute(API, txn, key, AttrValue::Int(i64::from(value)))
    })
}

/// `newrelic_add_attribute_long()`.
///
/// # Safety
/// As [`newrelic_add_attribute_int`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_add_attribute_long(
    txn: *mut Txn,
    key: *const c_char,
    value: c_long,
) -> bool {
    const API: &str = "newrelic_add_attribute_long";
    #[allow(clippy::useless_conversion)] // c_long is i32 on some targets
    guard(API, false, || {
        add_attribute(API, txn, key, AttrValue::Int(i64::from(value)))
    })
}

/// `newrelic_add_attribute_double()`.
///
/// # Safety
/// As [`newrelic_add_attribute_int`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_add_attribute_double(
    txn: *mut Txn,
    key: *const c_char,
    value: f64,
) -> bool {
    const API: &str = "newrelic_add_attribute_double";
    guard(API, false, || {
        add_attribute(API, txn, key, AttrValue::Float(value))
    })
}

/// `newrelic_add_attribute_string()`.
///
/// # Safety
/// As [`newrelic_add_attribute_int`]; `value` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_add_attribute_string(
    txn: *mut Txn,
    key: *const c_char,
    value: *const c_char,
) -> bool {
    const API: &str = "newrelic_add_attribute_string";
    guard(API, false, || {
        // SAFETY: forwarded from the caller. Values longer than 255 bytes
        // are cut by the transaction; 1 MiB bounds the scan.
        let Ok(value) = (unsafe { crate::ffi::req_arg(API, "value", value, 1 << 20) }) else {
            return false;
        };
        add_attribute(API, txn, key, AttrValue::Str(value.to_owned()))
    })
}

/// `newrelic_record_custom_metric()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; `name` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn newrelic_record_custom_metric(
    txn: *mut Txn,
    metric_name: *const c_char,
    milliseconds: f64,
) -> bool {
    const API: &str = "newrelic_record_custom_metric";
    guard(API, false, || {
        // SAFETY: forwarded from the caller.
        let Ok(name) =
            (unsafe { crate::ffi::req_arg(API, "metric_name", metric_name, NAME_LIMIT) })
        else {
            return false;
        };
        with_txn(API, txn, false, |s| {
            let ok = s.txn().add_custom_metric(name, milliseconds);
            if !ok {
                tracing::error!("{API}: unable to record metric \"{name}\" ({milliseconds} ms)");
            }
            ok
        })
    })
}

/// `newrelic_end_transaction()`.
///
/// # Safety
/// `txn_ptr` is NULL or points to NULL or to a live transaction, which is
/// freed.
#[no_mangle]
pub unsafe extern "C" fn newrelic_end_transaction(txn_ptr: *mut *mut Txn) -> bool {
    const API: &str = "newrelic_end_transaction";
    guard(API, false, || {
        // SAFETY: the caller passes NULL or a valid pointer to a pointer.
        if txn_ptr.is_null() || unsafe { (*txn_ptr).is_null() } {
            tracing::error!("{API}: unable to end a NULL transaction");
            return false;
        }
        // SAFETY: checked non-NULL.
        let p = unsafe { *txn_ptr };
        // SAFETY: the tag check refuses other handles.
        if unsafe { handle(API, p, tag::TXN) }.is_none() {
            return false;
        }
        // SAFETY: made by Box::into_raw in start; freed once (tag cleared).
        let mut b = unsafe { Box::from_raw(p) };
        b.tag = tag::FREED;
        // SAFETY: valid pointer to the caller's pointer.
        unsafe { *txn_ptr = std::ptr::null_mut() };
        end(&b.shared)
    })
}

/// Replays the segments, finishes the transaction and sends it. The
/// transaction's lock is released before the (deadline-bound) write.
fn end(shared: &TxnShared) -> bool {
    let (app, run_id, data) = {
        let mut s = lock(&shared.state);
        let end_ticks = s.duration_us.unwrap_or_else(|| s.now_ticks());
        let Some(mut txn) = s.txn.take() else {
            return false;
        };
        crate::replay::replay(&s.segments, &mut txn);
        s.segments = SegmentTree::default();
        txn.count_metric(&format!(
            "Supportability/C/NewrelicVersion/{}",
            crate::SDK_VERSION
        ));
        let data = txn.finish(
            end_ticks,
            unix_us(),
            ResourceUsage::default(),
            &|_| None,
            std::process::id() as i32,
        );
        (s.app.clone(), std::mem::take(&mut s.run_id), data)
    };
    let Some(data) = data else {
        tracing::debug!("transaction ignored: nothing sent");
        return true;
    };
    let body = seraph_wire::encode_transaction(&run_id, &data);
    let sent = app.send(&data.name, &body);
    if sent {
        tracing::debug!("sent transaction '{}' ({} bytes)", data.name, body.len());
    }
    sent
}
