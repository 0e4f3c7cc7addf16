//! The handlers. Each is an `extern "C"` entry point guarded against
//! panics; none calls back into PHP, so no bailout can cross them.

use super::args::{Args, Ret};
use crate::hooks::errors::{self, PRIORITY_API, PRIORITY_API_PRIORITIZED};
use crate::request::{Agent, RequestFacts, AGENT};
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::module::FnDef;
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::{AttrValue, NameSource, NoticedError};

/// Runs `f` on the agent with the open transaction, counting the call.
fn with_txn<R>(api: &str, f: impl FnOnce(&mut Agent) -> R) -> Option<R> {
    AGENT
        .with(|a| {
            let a = a.as_mut()?;
            a.check_fork();
            a.txn.as_mut()?.count_api(api);
            Some(f(a))
        })
        .flatten()
}

fn scalar_attr(v: Val<'_>) -> Option<AttrValue> {
    match v {
        Val::Bool(b) => Some(AttrValue::Bool(b)),
        Val::Long(l) => Some(AttrValue::Int(l)),
        Val::Double(d) => Some(AttrValue::Float(d)),
        Val::Str(s) => Some(AttrValue::Str(String::from_utf8_lossy(s).into_owned())),
        _ => None,
    }
}

macro_rules! php_fn {
    ($name:ident, $args:ident, $ret:ident, $body:block) => {
        unsafe extern "C" fn $name(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
            {
                // SAFETY: PHP passes this call's frame and return slot.
                let $args = unsafe { Args::new(ex) };
                let $ret = Ret(rv);
                guard(stringify!($name), (), || $body);
            }
            // After everything above is dropped: a bailout the shim caught
            // (an exception's __get, a backtrace at the memory limit).
            crate::zend::reraise_pending_bailout();
        }
    };
}

php_fn!(name_transaction, args, ret, {
    let name = args.get(0).string();
    let ok = with_txn("name_transaction", |a| match name {
        Some(n) if !n.is_empty() => {
            if let Some(t) = a.txn.as_mut() {
                t.set_name(NameSource::Api, &n);
            }
            true
        }
        _ => false,
    });
    ret.bool(ok.unwrap_or(false));
});

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

/// The error `newrelic_notice_error` records, by its argument forms (as
/// New Relic's agent accepts them); `None` for anything else.
///
/// * `(exception)`, `(anything, exception)`: class and message of the
///   exception (`Noticed exception 'C' with message 'm' in f:l`);
/// * `(message)`: class `NoticedError`;
/// * `(errno, errstr, errfile, errline[, errcontext])`, the signature of a
///   PHP error handler (PHP 8 passes four): class `NoticedError`, message
///   `errstr`; the other values are only checked.
fn noticed(args: &Args, prioritized: bool) -> Option<NoticedError> {
    let priority = if prioritized {
        PRIORITY_API_PRIORITIZED
    } else {
        PRIORITY_API
    };
    let now = crate::clock::unix_us();
    let from_exception = |obj: *mut ffi::zend_object| {
        // SAFETY: an object argument of this call is alive.
        unsafe { errors::read_exception(obj) }.map(|e| NoticedError {
            priority,
            message: errors::exception_message(&e, "Noticed "),
            class: e.class.clone(),
            stack_trace: e.stack,
            now_unix_us: now,
        })
    };
    let from_message = |message: String| NoticedError {
        priority,
        message,
        class: "NoticedError".to_owned(),
        stack_trace: crate::zend::frames::current_stack(errors::STACK_LIMIT),
        now_unix_us: now,
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
    // New Relic returns null for arguments it cannot use, false when the
    // error is not recorded (collection off, a higher-priority error
    // already kept), true otherwise.
    ret.null();
    let Some(prioritized) = with_txn("notice_error", |a| a.settings.errors_prioritize_api) else {
        return;
    };
    // Reading the arguments calls into PHP (an exception's properties, the
    // backtrace), which may run user code or bail out: not while the agent
    // is borrowed.
    let error = noticed(&args, prioritized);
    let recorded = AGENT
        .with(|a| {
            let a = a.as_mut()?;
            let mut e = error?;
            if !a.settings.errors_enabled {
                return Some(false);
            }
            if !a.settings.allow_raw_exception_messages {
                e.message = "Message removed by New Relic security settings".to_owned();
            }
            Some(a.txn.as_mut().is_some_and(|t| t.notice_error(e)))
        })
        .flatten();
    if let Some(b) = recorded {
        ret.bool(b);
    }
});

php_fn!(add_custom_parameter, args, ret, {
    let key = args.get(0).string();
    let value = scalar_attr(args.get(1));
    let ok = with_txn("add_custom_parameter", |a| match (key, value) {
        (Some(k), Some(v)) => a
            .txn
            .as_mut()
            .is_some_and(|t| t.add_custom_parameter(&k, v)),
        _ => false,
    });
    ret.bool(ok.unwrap_or(false));
});

php_fn!(record_custom_event, args, ret, {
    ret.null();
    let ty = args.get(0).string();
    let mut attrs = Vec::new();
    if let Val::Array(ht) = args.get(1) {
        // SAFETY: an array argument of this call.
        unsafe {
            array_each(ht, |k, v| {
                if let (Key::Str(k), Some(v)) = (k, scalar_attr(v)) {
                    attrs.push((k, v));
                }
            });
        }
    }
    let _ = with_txn("record_custom_event", |a| {
        if let (Some(ty), Some(t)) = (ty, a.txn.as_mut()) {
            if !ty.is_empty() {
                t.record_custom_event(&ty, attrs, crate::clock::unix_us());
            }
        }
    });
});

php_fn!(custom_metric, args, ret, {
    let name = args.get(0).string();
    let value = match args.get(1) {
        Val::Double(d) => Some(d),
        Val::Long(l) => Some(l as f64),
        _ => None,
    };
    let ok = with_txn("custom_metric", |a| match (name, value, a.txn.as_mut()) {
        (Some(n), Some(v), Some(t)) if v.is_finite() => {
            t.add_custom_metric(&n, v);
            true
        }
        _ => false,
    });
    ret.bool(ok.unwrap_or(false));
});

php_fn!(ignore_transaction, _args, ret, {
    ret.null();
    let _ = with_txn("ignore_transaction", |a| {
        if let Some(t) = a.txn.as_mut() {
            t.ignore();
        }
    });
});

php_fn!(background_job, args, ret, {
    ret.null();
    let flag = if args.len() == 0 {
        true
    } else {
        args.get(0).truthy()
    };
    let _ = with_txn("background_job", |a| {
        if let Some(t) = a.txn.as_mut() {
            t.set_background(flag);
        }
    });
});

php_fn!(start_transaction, args, ret, {
    let app = args.get(0).string();
    let license = args.get(1).string().filter(|l| !l.is_empty());
    // Read from PHP before borrowing the agent (it may bail out).
    let facts = RequestFacts::gather();
    let ok = AGENT
        .with(|a| {
            let a = a.as_mut()?;
            a.check_fork();
            if a.txn.is_some() || !a.settings.enabled {
                return Some(false);
            }
            let app = app.filter(|s| !s.is_empty())?;
            let started = a.start_transaction(Some((app, license)), &facts);
            if let Some(t) = a.txn.as_mut() {
                t.count_api("start_transaction");
            }
            Some(started)
        })
        .flatten();
    ret.bool(ok.unwrap_or(false));
});

php_fn!(end_transaction, args, ret, {
    let ignore = args.get(0).truthy();
    let ok = AGENT
        .with(|a| {
            let a = a.as_mut()?;
            a.check_fork();
            let t = a.txn.as_mut()?;
            t.count_api("end_transaction");
            if ignore {
                t.ignore();
            }
            a.end_transaction();
            Some(true)
        })
        .flatten();
    ret.bool(ok.unwrap_or(false));
});

php_fn!(get_linking_metadata, _args, ret, {
    let host = crate::daemon::appinfo::hostname();
    let (name, guid, trace) = AGENT
        .with(|a| {
            let a = a.as_mut()?;
            let guid = a.entity_guid().unwrap_or_default();
            let name = a.settings.appname.clone();
            let trace = a.txn.as_mut().map(|t| {
                t.count_api("get_linking_metadata");
                (t.trace_id().to_owned(), t.current_span_id())
            });
            Some((name, guid, trace))
        })
        .flatten()
        .unwrap_or_default();
    let mut pairs = vec![
        ("entity.name", name),
        ("entity.type", "SERVICE".to_owned()),
        ("entity.guid", guid),
        ("hostname", host),
    ];
    if let Some((trace_id, span_id)) = trace {
        pairs.push(("trace.id", trace_id));
        pairs.push(("span.id", span_id));
    }
    ret.string_map(&pairs);
});

php_fn!(get_trace_metadata, _args, ret, {
    let ids = with_txn("get_trace_metadata", |a| {
        a.txn
            .as_mut()
            .map(|t| (t.trace_id().to_owned(), t.current_span_id()))
    })
    .flatten();
    match ids {
        Some((trace_id, span_id)) => {
            ret.string_map(&[("trace_id", trace_id), ("span_id", span_id)])
        }
        None => ret.string_map(&[]),
    }
});

php_fn!(insert_distributed_trace_headers, args, ret, {
    let headers = with_txn("insert_distributed_trace_headers", |a| {
        let now = crate::clock::unix_us();
        let t = a.txn.as_mut()?;
        Some(t.create_dt_headers(now, &mut a.ids))
    })
    .flatten()
    .unwrap_or_default();
    if headers.is_empty() {
        ret.bool(false);
        return;
    }
    args.assign_string_map(0, &headers);
    ret.bool(true);
});

php_fn!(accept_distributed_trace_headers, args, ret, {
    let mut headers = Vec::new();
    if let Val::Array(ht) = args.get(0) {
        // SAFETY: an array argument of this call.
        unsafe {
            array_each(ht, |k, v| {
                if let (Key::Str(k), Some(v)) = (k, v.string()) {
                    headers.push((k.to_ascii_lowercase(), v));
                }
            });
        }
    }
    let transport = args.get(1).string().unwrap_or_else(|| "HTTP".to_owned());
    let ok = with_txn("accept_distributed_trace_headers", |a| {
        a.txn
            .as_mut()
            .is_some_and(|t| t.accept_dt_headers(&headers, &transport, crate::clock::unix_us()))
    });
    ret.bool(ok.unwrap_or(false));
});

/// Every function the module exports.
pub static FUNCTIONS: &[FnDef] = &[
    FnDef {
        name: c"newrelic_name_transaction",
        handler: name_transaction,
        required: 1,
        args: &[c"name"],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_notice_error",
        handler: notice_error,
        required: 1,
        args: &[
            c"message",
            c"exception",
            c"errfile",
            c"errline",
            c"errcontext",
        ],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_add_custom_parameter",
        handler: add_custom_parameter,
        required: 2,
        args: &[c"key", c"value"],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_record_custom_event",
        handler: record_custom_event,
        required: 2,
        args: &[c"event_type", c"attributes"],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_custom_metric",
        handler: custom_metric,
        required: 2,
        args: &[c"metric_name", c"value"],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_ignore_transaction",
        handler: ignore_transaction,
        required: 0,
        args: &[],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_background_job",
        handler: background_job,
        required: 0,
        args: &[c"flag"],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_start_transaction",
        handler: start_transaction,
        required: 1,
        args: &[c"appname", c"license"],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_end_transaction",
        handler: end_transaction,
        required: 0,
        args: &[c"ignore"],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_get_linking_metadata",
        handler: get_linking_metadata,
        required: 0,
        args: &[],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_get_trace_metadata",
        handler: get_trace_metadata,
        required: 0,
        args: &[],
        by_ref: 0,
    },
    FnDef {
        name: c"newrelic_insert_distributed_trace_headers",
        handler: insert_distributed_trace_headers,
        required: 1,
        args: &[c"headers"],
        by_ref: 1,
    },
    FnDef {
        name: c"newrelic_accept_distributed_trace_headers",
        handler: accept_distributed_trace_headers,
        required: 1,
        args: &[c"headers", c"transport_type"],
        by_ref: 0,
    },
];
