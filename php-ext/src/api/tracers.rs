//! Custom instrumentation: `newrelic_add_custom_tracer`,
//! `newrelic_record_datastore_segment`.

use super::{agent, count, parse, php_fn, recording, text, warn_plain, with_recording};
use crate::zend::ffi;
use crate::zend::zval::{array_each_raw, read, to_php_string, Key, Val};
use seraph_txn::DatastoreCall;

php_fn!(add_custom_tracer, args, ret, {
    ret.bool(true);
    if !recording() {
        return;
    }
    count("add_custom_tracer");
    ret.bool(false);
    if args.len() != 1 {
        return;
    }
    let Some(name) = parse::s(&args) else {
        return;
    };
    crate::hooks::observer::add_api_custom_tracer(&text(&name));
    ret.bool(true);
});

/// The datastore parameters New Relic reads, with their defaults.
const KEYS: [(&str, Option<&str>); 9] = [
    ("product", None),
    ("collection", Some("other")),
    ("operation", Some("other")),
    ("host", None),
    ("portPathOrId", None),
    ("databaseName", None),
    ("query", None),
    ("inputQueryLabel", None),
    ("inputQuery", None),
];

/// Validates the parameters array as New Relic does: `product` is required
/// (else an `E_WARNING` "Missing datastore parameter: product" and no
/// segment), the rest optional, every given value converted to a string by
/// PHP's own rules (which may warn or throw).
fn validate(params: *mut ffi::zval) -> Option<Vec<(&'static str, String)>> {
    let mut found: Vec<(String, *mut ffi::zval)> = Vec::new();
    // SAFETY: the array argument of this call; only keys and pointers
    // are collected here, conversions run after the walk.
    unsafe {
        if let Val::Array(ht) = read(params) {
            array_each_raw(ht, |k, zv| {
                if let Key::Str(k) = k {
                    found.push((k, zv));
                }
            });
        }
    }
    let mut out = Vec::new();
    for (key, default) in KEYS {
        match found.iter().find(|(k, _)| k == key) {
            Some((_, zv)) => {
                // SAFETY: a value of the parameters array, alive for the
                // call.
                let s = unsafe { to_php_string(*zv) }?;
                out.push((key, text(&s)));
            }
            None if key == "product" => {
                warn_plain("Missing datastore parameter: product");
                return None;
            }
            None => {
                if let Some(d) = default {
                    out.push((key, d.to_owned()));
                }
            }
        }
    }
    Some(out)
}

php_fn!(record_datastore_segment, args, ret, {
    ret.bool(false);
    let mut instrument = recording();
    if instrument {
        count("record_datastore_segment");
    }
    let Some((callback, params)) = parse::fa(&args) else {
        tracing::warn!(
            "unable to parse parameters to newrelic_record_datastore_segment; {} parameters received",
            args.len()
        );
        return;
    };
    let validated = if instrument { validate(params) } else { None };
    instrument &= validated.is_some();
    let guid = if instrument {
        with_recording(|a| {
            let now = a.clock.now();
            let t = a.txn.as_mut()?;
            t.enter_internal(now);
            Some(t.guid().to_owned())
        })
        .flatten()
    } else {
        None
    };
    // SAFETY: zeroed plain data the shim initialises.
    let mut rv: ffi::zval = unsafe { std::mem::zeroed() };
    // SAFETY: a callable zpp validated; the shim calls it under zend_try.
    unsafe { ffi::seraph_call_callable(callback, 0, std::ptr::null_mut(), &mut rv) };
    // SAFETY: `rv` holds the callback's result (or undef), now returned.
    unsafe { ret.take(&mut rv) };
    let (Some(guid), Some(v)) = (guid, validated) else {
        return;
    };
    let get = |k: &str| v.iter().find(|(key, _)| *key == k).map(|(_, s)| s.clone());
    let mut call = DatastoreCall {
        product: get("product").unwrap_or_default(),
        sql: get("query"),
        operation: get("operation"),
        collection: get("collection"),
        host: Some(get("host").unwrap_or_else(|| "unknown".to_owned())),
        port_path_or_id: Some(get("portPathOrId").unwrap_or_else(|| "unknown".to_owned())),
        database_name: Some(get("databaseName").unwrap_or_else(|| "unknown".to_owned())),
        backtrace: None,
        explain_plan: None,
    };
    // The transaction may have ended (or another begun) in the callback.
    let Some((now, wants_backtrace)) = agent(|a| {
        let now = a.clock.now();
        let t = a.txn.as_ref().filter(|t| t.guid() == guid)?;
        Some((now, t.current_wants_backtrace(now)))
    })
    .flatten() else {
        return;
    };
    if wants_backtrace {
        call.backtrace = Some(crate::zend::frames::current_stack(
            crate::hooks::errors::STACK_LIMIT,
        ));
    }
    let _ = agent(|a| {
        if let Some(t) = a.txn.as_mut().filter(|t| t.guid() == guid) {
            t.leave_datastore(now, call);
        }
    });
});
