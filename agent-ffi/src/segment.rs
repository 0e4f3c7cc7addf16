//! Segments as the C API makes them: a tree whose nodes may be started
//! and ended in any order, re-parented, re-timed, and used from several
//! threads. The tree is kept here and replayed into the transaction when
//! it ends (`replay.rs`); only a distributed trace payload needs a
//! segment's span id while it runs, and reserves it.
//!
//! A new segment's parent is the segment most recently started and not yet
//! ended on the transaction (the root when there is none), as in the C SDK.

use crate::config::{DatastoreParams, ExternalParams};
use crate::ffi::{guard, handle, lock, tag, NAME_LIMIT};
use crate::txn::{with_txn, Txn, TxnShared, TxnState};
use seraph_txn::{DatastoreCall, DatastoreInstance, ExternalCall};
use std::ffi::c_char;
use std::sync::Arc;

/// Segments one transaction keeps; later ones are refused (NULL). Traces
/// show at most 2000 and span events as many, so this only bounds memory.
pub const SEGMENT_LIMIT: usize = 100_000;

/// SQL products whose queries may be reported (obfuscated or raw).
const SQL_PRODUCTS: [&str; 8] = [
    "Firebird", "Informix", "MSSQL", "MySQL", "Oracle", "Postgres", "SQLite", "Sybase",
];

/// What a segment is.
#[derive(Clone, Debug)]
pub enum SegKind {
    /// Its metric, `<category>/<name>`.
    Custom(String),
    /// A datastore call.
    Datastore(Box<DatastoreCall>),
    /// An external call.
    External(Box<ExternalCall>),
}

/// One segment.
#[derive(Clone, Debug)]
pub struct Seg {
    /// `None`: the transaction's root.
    pub parent: Option<u32>,
    pub kind: SegKind,
    /// Microseconds from the transaction's start.
    pub start_us: u64,
    /// When it ended; `None` while it runs.
    pub end_us: Option<u64>,
    /// The end `newrelic_set_segment_timing` gave it.
    fixed_end_us: Option<u64>,
    /// Reserved when a trace payload named it.
    pub span_id: Option<String>,
}

/// The transaction's segments.
#[derive(Debug, Default)]
pub struct SegmentTree {
    pub segs: Vec<Seg>,
    /// Started and not ended, in start order.
    open: Vec<u32>,
}

impl SegmentTree {
    /// Starts a segment at `now_us` under the innermost open one.
    pub fn start(&mut self, kind: SegKind, now_us: u64) -> Option<u32> {
        if self.segs.len() >= SEGMENT_LIMIT {
            return None;
        }
        let id = self.segs.len() as u32;
        self.segs.push(Seg {
            parent: self.open.last().copied(),
            kind,
            start_us: now_us,
            end_us: None,
            fixed_end_us: None,
            span_id: None,
        });
        self.open.push(id);
        Some(id)
    }

    fn running(&self, id: u32) -> bool {
        self.segs
            .get(id as usize)
            .is_some_and(|s| s.end_us.is_none())
    }

    /// Whether `ancestor` is `id` or above it.
    fn is_ancestor(&self, ancestor: u32, mut id: u32) -> bool {
        for _ in 0..=self.segs.len() {
            if id == ancestor {
                return true;
            }
            match self.segs.get(id as usize).and_then(|s| s.parent) {
                Some(p) => id = p,
                None => return false,
            }
        }
        true
    }

    /// Re-parents `id` under `parent` (`None`: the root).
    pub fn set_parent(&mut self, id: u32, parent: Option<u32>) -> Result<(), &'static str> {
        if !self.running(id) {
            return Err("the segment has ended");
        }
        if let Some(p) = parent {
            if !self.running(p) {
                return Err("the parent has ended");
            }
            if self.is_ancestor(id, p) {
                return Err("the parent is the segment itself or one of its descendants");
            }
        }
        self.segs[id as usize].parent = parent;
        Ok(())
    }

    /// Overrides the timing of a running segment.
    pub fn set_timing(
        &mut self,
        id: u32,
        start_us: u64,
        duration_us: u64,
    ) -> Result<(), &'static str> {
        if !self.running(id) {
            return Err("the segment has ended");
        }
        let s = &mut self.segs[id as usize];
        s.start_us = start_us;
        s.fixed_end_us = Some(start_us.saturating_add(duration_us));
        Ok(())
    }

    /// Ends a running segment at `now_us` (or at the end its timing set);
    /// returns its duration.
    pub fn end(&mut self, id: u32, now_us: u64) -> Result<u64, &'static str> {
        if !self.running(id) {
            return Err("the segment has already ended");
        }
        let s = &mut self.segs[id as usize];
        let end = s.fixed_end_us.unwrap_or(now_us).max(s.start_us);
        s.end_us = Some(end);
        let duration = end - s.start_us;
        if let Some(k) = self.open.iter().rposition(|i| *i == id) {
            self.open.remove(k);
        }
        Ok(duration)
    }

    /// The span id a trace payload for `id` names, reserved on first use.
    pub fn span_id(&mut self, id: u32, reserve: impl FnOnce() -> Option<String>) -> Option<String> {
        let s = self.segs.get_mut(id as usize)?;
        if s.span_id.is_none() {
            s.span_id = reserve();
        }
        s.span_id.clone()
    }
}

/// `newrelic_segment_t`.
// The tag must come first: `ffi::handle` reads it through any pointer.
#[repr(C)]
pub struct SegmentHandle {
    tag: u64,
    pub txn: Arc<TxnShared>,
    pub id: u32,
}

impl SegmentHandle {
    /// The handle behind a C pointer (logged refusal when unusable).
    ///
    /// # Safety
    /// `p` is NULL or a live segment handle.
    pub unsafe fn from_ptr<'a>(api: &str, p: *const SegmentHandle) -> Option<&'a SegmentHandle> {
        // SAFETY: forwarded from the caller.
        unsafe { handle(api, p, tag::SEGMENT) }
    }
}

/// Starts a segment of `kind` on `txn` and hands out its handle.
fn start(api: &str, txn: *const Txn, kind: SegKind) -> *mut SegmentHandle {
    // SAFETY: the C caller passes NULL or a live transaction.
    let Some(t) = (unsafe { handle(api, txn, tag::TXN) }) else {
        return std::ptr::null_mut();
    };
    let shared = t.shared.clone();
    let id = with_txn(api, txn, None, |s: &mut TxnState| {
        let now = s.now_ticks();
        let id = s.segments.start(kind, now);
        if id.is_none() {
            tracing::error!("{api}: the transaction already has {SEGMENT_LIMIT} segments");
        }
        id
    });
    match id {
        Some(id) => Box::into_raw(Box::new(SegmentHandle {
            tag: tag::SEGMENT,
            txn: shared,
            id,
        })),
        None => std::ptr::null_mut(),
    }
}

/// A segment name part: `fallback` (logged) when NULL, not UTF-8, too long
/// or holding a '/'.
fn name_part(api: &str, what: &str, p: *const c_char, fallback: &'static str) -> String {
    // SAFETY: the C caller passes NULL or a NUL-terminated string.
    match unsafe { crate::ffi::opt_str(p, NAME_LIMIT) } {
        Ok(Some(s)) if !s.contains('/') && !s.is_empty() => s.to_owned(),
        Ok(None) => fallback.to_owned(),
        Ok(Some(_)) => {
            tracing::error!(
                "{api}: the {what} must not be empty or contain a slash; using \"{fallback}\""
            );
            fallback.to_owned()
        }
        Err(e) => {
            tracing::error!("{api}: the {what} {e}; using \"{fallback}\"");
            fallback.to_owned()
        }
    }
}

/// An optional datastore/external parameter: no slashes allowed.
fn param(api: &str, what: &str, p: *const c_char, slash_ok: bool) -> Result<Option<String>, ()> {
    let limit = if slash_ok { 1 << 20 } else { NAME_LIMIT };
    // SAFETY: the C caller passes NULL or a NUL-terminated string.
    let v = unsafe { crate::ffi::arg(api, what, p, limit) }?;
    if !slash_ok && v.is_some_and(|v| v.contains('/')) {
        tracing::error!("{api}: {what} cannot include a slash");
        return Err(());
    }
    Ok(v.map(str::to_owned))
}

/// `newrelic_start_segment()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn newrelic_start_segment(
    txn: *mut Txn,
    name: *const c_char,
    category: *const c_char,
) -> *mut SegmentHandle {
    const API: &str = "newrelic_start_segment";
    guard(API, std::ptr::null_mut(), || {
        let name = name_part(API, "segment name", name, "Unnamed Segment");
        let category = name_part(API, "segment category", category, "Custom");
        start(API, txn, SegKind::Custom(format!("{category}/{name}")))
    })
}

fn datastore_call(api: &str, p: &DatastoreParams) -> Result<DatastoreCall, ()> {
    let Some(product) = param(api, "product", p.product, false)? else {
        tracing::error!("{api}: product param cannot be NULL");
        return Err(());
    };
    let collection = param(api, "collection", p.collection, false)?;
    let operation = param(api, "operation", p.operation, false)?;
    let host = param(api, "host", p.host, false)?;
    let port = param(api, "port_path_or_id", p.port_path_or_id, true)?;
    let database = param(api, "database_name", p.database_name, true)?;
    let query = param(api, "query", p.query, true)?;
    let product = if product.is_empty() {
        "Other".to_owned()
    } else {
        product
    };
    let sql = SQL_PRODUCTS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&product));
    if !sql {
        tracing::info!("{api}: instrumenting unsupported datastore product {product}");
    }
    let instance = DatastoreInstance::new(
        host.as_deref(),
        port.as_deref(),
        database.as_deref(),
        &system_host(),
    );
    Ok(DatastoreCall {
        product,
        sql: query.filter(|_| sql),
        operation: Some(operation.unwrap_or_else(|| "other".into())),
        collection: Some(collection.unwrap_or_else(|| "other".into())),
        ..DatastoreCall::default()
    }
    .with_owned_instance(Some(instance)))
}

/// This machine's name, for datastore hosts that mean "this machine".
fn system_host() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(seraph_agent_client::host::hostname)
        .clone()
}

/// `newrelic_start_datastore_segment()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; `params` NULL or a readable
/// struct whose strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn newrelic_start_datastore_segment(
    txn: *mut Txn,
    params: *const DatastoreParams,
) -> *mut SegmentHandle {
    const API: &str = "newrelic_start_datastore_segment";
    guard(API, std::ptr::null_mut(), || {
        if params.is_null() {
            tracing::error!("{API}: params cannot be NULL");
            return std::ptr::null_mut();
        }
        // SAFETY: non-NULL and readable, as the caller guarantees.
        let Ok(call) = datastore_call(API, unsafe { &*params }) else {
            return std::ptr::null_mut();
        };
        start(API, txn, SegKind::Datastore(Box::new(call)))
    })
}

/// `newrelic_start_external_segment()`.
///
/// # Safety
/// As [`newrelic_start_datastore_segment`].
#[no_mangle]
pub unsafe extern "C" fn newrelic_start_external_segment(
    txn: *mut Txn,
    params: *const ExternalParams,
) -> *mut SegmentHandle {
    const API: &str = "newrelic_start_external_segment";
    guard(API, std::ptr::null_mut(), || {
        if params.is_null() {
            tracing::error!("{API}: params cannot be NULL");
            return std::ptr::null_mut();
        }
        // SAFETY: non-NULL and readable, as the caller guarantees.
        let p = unsafe { &*params };
        let (Ok(library), Ok(procedure)) = (
            param(API, "library", p.library, false),
            param(API, "procedure", p.procedure, false),
        ) else {
            return std::ptr::null_mut();
        };
        let Ok(Some(uri)) = param(API, "uri", p.uri, true) else {
            tracing::error!("{API}: uri cannot be NULL");
            return std::ptr::null_mut();
        };
        let call = ExternalCall {
            url: uri,
            library: library.unwrap_or_default(),
            procedure: procedure.unwrap_or_default(),
            status: None,
        };
        start(API, txn, SegKind::External(Box::new(call)))
    })
}

/// Runs `f` on the segment's running transaction.
fn with_segment<T>(
    api: &str,
    seg: *const SegmentHandle,
    fallback: T,
    f: impl FnOnce(&mut TxnState, u32) -> T,
) -> T {
    // SAFETY: the C caller passes NULL or a live segment.
    let Some(h) = (unsafe { SegmentHandle::from_ptr(api, seg) }) else {
        return fallback;
    };
    let mut s = lock(&h.txn.state);
    if s.txn.is_none() {
        tracing::error!("{api}: the segment's transaction has ended");
        return fallback;
    }
    f(&mut s, h.id)
}

/// `newrelic_set_segment_parent()`.
///
/// # Safety
/// Both are NULL or live segments.
#[no_mangle]
pub unsafe extern "C" fn newrelic_set_segment_parent(
    segment: *mut SegmentHandle,
    parent: *mut SegmentHandle,
) -> bool {
    const API: &str = "newrelic_set_segment_parent";
    guard(API, false, || {
        // SAFETY: the caller passes NULL or live segments.
        let (Some(h), Some(p)) = (unsafe { SegmentHandle::from_ptr(API, segment) }, unsafe {
            SegmentHandle::from_ptr(API, parent)
        }) else {
            return false;
        };
        if std::ptr::eq(h, p) {
            tracing::error!("{API}: unable to set the parent of a segment to be itself");
            return false;
        }
        if !Arc::ptr_eq(&h.txn, &p.txn) {
            tracing::error!("{API}: the segments belong to different transactions");
            return false;
        }
        with_segment(API, segment, false, |s, id| {
            s.txn()
                .count_metric("Supportability/C/api/set_segment_parent");
            match s.segments.set_parent(id, Some(p.id)) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!("{API}: {e}");
                    false
                }
            }
        })
    })
}

/// `newrelic_set_segment_parent_root()`.
///
/// # Safety
/// `segment` is NULL or a live segment.
#[no_mangle]
pub unsafe extern "C" fn newrelic_set_segment_parent_root(segment: *mut SegmentHandle) -> bool {
    const API: &str = "newrelic_set_segment_parent_root";
    guard(API, false, || {
        with_segment(API, segment, false, |s, id| {
            s.txn()
                .count_metric("Supportability/C/api/set_segment_parent_root");
            match s.segments.set_parent(id, None) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!("{API}: {e}");
                    false
                }
            }
        })
    })
}

/// `newrelic_set_segment_timing()`.
///
/// # Safety
/// `segment` is NULL or a live segment.
#[no_mangle]
pub unsafe extern "C" fn newrelic_set_segment_timing(
    segment: *mut SegmentHandle,
    start_time: u64,
    duration: u64,
) -> bool {
    const API: &str = "newrelic_set_segment_timing";
    guard(API, false, || {
        with_segment(API, segment, false, |s, id| {
            match s.segments.set_timing(id, start_time, duration) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!("{API}: {e}");
                    false
                }
            }
        })
    })
}

/// `newrelic_end_segment()`.
///
/// # Safety
/// `txn` is NULL or a live transaction; `segment_ptr` NULL or pointing to
/// NULL or a live segment, which is freed.
#[no_mangle]
pub unsafe extern "C" fn newrelic_end_segment(
    txn: *mut Txn,
    segment_ptr: *mut *mut SegmentHandle,
) -> bool {
    const API: &str = "newrelic_end_segment";
    guard(API, false, || {
        // SAFETY: the caller passes NULL or a valid pointer to a pointer.
        if segment_ptr.is_null() || unsafe { (*segment_ptr).is_null() } {
            tracing::error!("{API}: unable to end a NULL segment");
            return false;
        }
        // SAFETY: checked non-NULL.
        let p = unsafe { *segment_ptr };
        // SAFETY: the tag check refuses other handles.
        if unsafe { SegmentHandle::from_ptr(API, p) }.is_none() {
            return false;
        }
        // SAFETY: made by Box::into_raw in start; freed once (tag cleared).
        let mut h = unsafe { Box::from_raw(p) };
        h.tag = tag::FREED;
        // SAFETY: valid pointer to the caller's pointer.
        unsafe { *segment_ptr = std::ptr::null_mut() };
        // SAFETY: the caller passes NULL or a live transaction.
        let Some(t) = (unsafe { handle(API, txn.cast_const(), tag::TXN) }) else {
            return false;
        };
        if !Arc::ptr_eq(&t.shared, &h.txn) {
            tracing::error!("{API}: cannot end a segment on a different transaction to the one it was created on");
            return false;
        }
        with_txn(API, txn, false, |s| {
            let now = s.now_ticks();
            let id = h.id;
            match s.segments.end(id, now) {
                Ok(duration_us) => {
                    attach_backtrace(s, id, duration_us);
                    true
                }
                Err(e) => {
                    tracing::error!("{API}: {e}");
                    false
                }
            }
        })
    })
}

/// A datastore segment slow enough for a stack trace or a slow query gets
/// the program's stack where it ended.
fn attach_backtrace(s: &mut TxnState, id: u32, duration_us: u64) {
    let tt = &s.app.cfg.transaction_tracer;
    let stack_us = tt.stack_trace_threshold_ns / 1000;
    let slow_us = tt.explain_threshold_ns / 1000;
    let wanted =
        (stack_us > 0 && duration_us >= stack_us) || (tt.slow_sql && duration_us >= slow_us);
    if let Some(SegKind::Datastore(call)) =
        s.segments.segs.get_mut(id as usize).map(|g| &mut g.kind)
    {
        if wanted {
            call.backtrace = Some(crate::error::backtrace_lines());
        }
    }
}
