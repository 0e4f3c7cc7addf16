//! Distributed tracing through the API: `newrelic_insert_distributed_trace_headers`,
//! `newrelic_accept_distributed_trace_headers`, the deprecated payload
//! functions (`newrelic_create_distributed_trace_payload`, returning a
//! `newrelic\DistributedTracePayload` object, and
//! `newrelic_accept_distributed_trace_payload[_httpsafe]`),
//! `newrelic_get_trace_metadata`, `newrelic_get_linking_metadata` and
//! `newrelic_get_request_metadata`.

use super::args::{Args, Ret};
use super::{agent, count, deprecated, parse, php_fn, recording, text, with_recording};
use crate::zend::ffi;
use crate::zend::module::FnDef;
use crate::zend::zval::{array_each, read, Key, Val};
use base64::Engine as _;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `newrelic\DistributedTracePayload`, registered in MINIT.
static PAYLOAD_CLASS: AtomicPtr<ffi::zend_class_entry> = AtomicPtr::new(std::ptr::null_mut());
const PAYLOAD_CLASS_NAME: &str = "newrelic\\DistributedTracePayload";
const TEXT_PROP: &str = "text";

fn deprecation(function: &str) -> String {
    format!(
        "Function {function}() is deprecated.  Please see \
         https://docs.newrelic.com/docs/agents/php-agent/features/distributed-tracing-php-agent#manual \
         for more details."
    )
}

static PAYLOAD_METHODS: &[FnDef] = &[
    FnDef {
        name: c"text",
        handler: payload_text,
        required: 0,
        args: &[],
        by_ref: 0,
    },
    FnDef {
        name: c"httpSafe",
        handler: payload_http_safe,
        required: 0,
        args: &[],
        by_ref: 0,
    },
];

/// Registers `newrelic\DistributedTracePayload` (MINIT).
pub fn register_classes() {
    let methods = crate::zend::module::method_table(PAYLOAD_METHODS);
    // SAFETY: MINIT; the method table is leaked and terminated.
    let ce = unsafe {
        ffi::seraph_register_class(
            PAYLOAD_CLASS_NAME.as_ptr().cast(),
            PAYLOAD_CLASS_NAME.len(),
            methods,
            TEXT_PROP.as_ptr().cast(),
            TEXT_PROP.len(),
        )
    };
    PAYLOAD_CLASS.store(ce, Ordering::Relaxed);
}

/// The payload object's text (its private property).
fn payload_text_of(args: &Args) -> Option<Vec<u8>> {
    let this = args.this();
    if this.is_null() {
        return None;
    }
    // SAFETY: `$this` of this method call; the string is copied at once.
    unsafe {
        let s = ffi::seraph_read_string_prop(this, TEXT_PROP.as_ptr().cast(), TEXT_PROP.len());
        crate::zend::zval::zstr(s).map(<[u8]>::to_vec)
    }
}

php_fn!(payload_text, args, ret, {
    ret.bool(false);
    if !parse::none(&args) {
        return;
    }
    match payload_text_of(&args) {
        Some(t) => ret.string(&text(&t)),
        None => ret.null(),
    }
});

php_fn!(payload_http_safe, args, ret, {
    ret.bool(false);
    if !parse::none(&args) {
        return;
    }
    match payload_text_of(&args) {
        Some(t) if !t.is_empty() => {
            ret.string(&base64::engine::general_purpose::STANDARD.encode(t));
        }
        Some(_) => ret.string(""),
        None => ret.null(),
    }
});

php_fn!(create_distributed_trace_payload, args, ret, {
    deprecated(&deprecation("newrelic_create_distributed_trace_payload"));
    count("create_distributed_trace_payload");
    ret.bool(false);
    if !parse::none(&args) {
        tracing::warn!(
            "Unable to parse parameters to newrelic_create_distributed_trace_payload; {} parameters received",
            args.len()
        );
        return;
    }
    let payload = with_recording(|a| {
        let now = crate::clock::unix_us();
        a.txn.as_mut().and_then(|t| t.create_newrelic_payload(now))
    })
    .flatten()
    .unwrap_or_default();
    let ce = PAYLOAD_CLASS.load(Ordering::Relaxed);
    if ce.is_null() {
        return;
    }
    // SAFETY: the class registered in MINIT; the shim copies the text.
    unsafe {
        ffi::seraph_object_with_string_prop(
            ret.slot(),
            ce,
            TEXT_PROP.as_ptr().cast(),
            TEXT_PROP.len(),
            payload.as_ptr().cast(),
            payload.len(),
        )
    };
});

/// Headers from an array as New Relic reads them: string keys lower-cased
/// (an `HTTP_` prefix dropped), string values only.
fn header_map(arr: *mut ffi::zval) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // SAFETY: an array argument of this call.
    unsafe {
        if let Val::Array(ht) = read(arr) {
            array_each(ht, |k, v| {
                let (Key::Str(k), Val::Str(v)) = (k, v) else {
                    return;
                };
                let lower = k.to_ascii_lowercase();
                let key = match lower.strip_prefix("http_") {
                    Some(rest) => rest.to_owned(),
                    None => lower,
                };
                out.push((key, String::from_utf8_lossy(v).into_owned()));
            });
        }
    }
    out
}

/// Accepts headers on the recording transaction.
fn accept(headers: &[(String, String)], transport: Option<String>) -> bool {
    let transport = transport.unwrap_or_default();
    with_recording(|a| {
        let now = crate::clock::unix_us();
        a.txn
            .as_mut()
            .is_some_and(|t| t.accept_dt_headers(headers, &transport, now))
    })
    .unwrap_or(false)
}

php_fn!(accept_distributed_trace_headers, args, ret, {
    count("accept_distributed_trace_headers");
    ret.bool(false);
    if !recording() {
        return;
    }
    let Some((arr, transport)) = parse::a_opt_s(&args) else {
        return;
    };
    let headers = header_map(arr);
    ret.bool(accept(&headers, transport.map(|t| text(&t))));
});

/// The two deprecated payload-accepting functions: the payload is the
/// `newrelic` header, base64 already (`httpsafe`) or JSON text.
fn accept_payload(function: &str, args: &Args, ret: &Ret, http_safe: bool) {
    deprecated(&deprecation(function));
    count("accept_distributed_trace_payload");
    ret.bool(false);
    let parsed = parse::s_opt_s(args);
    if !http_safe && !recording() {
        return;
    }
    let Some((payload, transport)) = parsed else {
        return;
    };
    let header = if http_safe {
        text(&payload)
    } else {
        base64::engine::general_purpose::STANDARD.encode(&payload)
    };
    ret.bool(accept(
        &[("newrelic".to_owned(), header)],
        transport.map(|t| text(&t)),
    ));
}

php_fn!(accept_distributed_trace_payload, args, ret, {
    accept_payload(
        "newrelic_accept_distributed_trace_payload",
        &args,
        &ret,
        false,
    );
});

php_fn!(accept_distributed_trace_payload_httpsafe, args, ret, {
    accept_payload(
        "newrelic_accept_distributed_trace_payload_httpsafe",
        &args,
        &ret,
        true,
    );
});

php_fn!(insert_distributed_trace_headers, args, ret, {
    count("insert_distributed_trace_headers");
    ret.bool(false);
    if parse::arr(&args).is_none() {
        tracing::warn!(
            "Unable to parse parameters to newrelic_insert_distributed_trace_headers: expected one array argument."
        );
        return;
    }
    let headers = with_recording(|a| {
        let now = crate::clock::unix_us();
        let t = a.txn.as_mut()?;
        Some(t.create_dt_headers(now, &mut a.ids))
    })
    .flatten()
    .unwrap_or_default();
    if headers.is_empty() {
        return;
    }
    args.assign_string_map(0, &headers);
    ret.bool(true);
});

php_fn!(get_trace_metadata, args, ret, {
    count("get_trace_metadata");
    ret.string_map(&[]);
    if !parse::none(&args) {
        tracing::warn!(
            "unable to parse parameters to newrelic_get_trace_metadata; {} parameters received",
            args.len()
        );
        return;
    }
    let ids = agent(|a| {
        a.txn
            .as_mut()
            .map(|t| (t.trace_id_for_api(), t.current_span_id()))
    })
    .flatten();
    if let Some((trace, span)) = ids {
        let mut pairs = Vec::new();
        if let Some(trace) = trace {
            pairs.push(("trace_id", trace));
        }
        if !span.is_empty() {
            pairs.push(("span_id", span));
        }
        ret.string_map(&pairs);
    }
});

php_fn!(get_linking_metadata, args, ret, {
    count("get_linking_metadata");
    ret.string_map(&[]);
    if !parse::none(&args) {
        tracing::warn!(
            "unable to parse parameters to newrelic_get_linking_metadata; {} parameters received",
            args.len()
        );
        return;
    }
    let host = crate::daemon::appinfo::hostname();
    let found = agent(|a| {
        let app = a
            .has_connected_app()
            .then(|| (a.txn_appname(), a.entity_guid().unwrap_or_default()));
        let trace = a
            .txn
            .as_mut()
            .map(|t| (t.trace_id_for_api(), t.current_span_id()));
        (app, trace)
    });
    let Some((app, trace)) = found else {
        return;
    };
    let mut pairs = Vec::new();
    if let Some((name, guid)) = app {
        pairs.push(("entity.name", name));
        pairs.push(("entity.type", "SERVICE".to_owned()));
        pairs.push(("entity.guid", guid));
        pairs.push(("hostname", host));
    }
    if let Some((trace, span)) = trace {
        if let Some(trace) = trace {
            pairs.push(("trace.id", trace));
        }
        if !span.is_empty() {
            pairs.push(("span.id", span));
        }
    }
    ret.string_map(&pairs);
});

php_fn!(get_request_metadata, _args, ret, {
    // No metric, as in New Relic's agent: an internal helper its own
    // instrumentation uses for outbound requests.
    ret.string_map(&[]);
    let headers = agent(|a| {
        let now = crate::clock::unix_us();
        let t = a.txn.as_mut()?;
        let mut h = t.create_dt_headers(now, &mut a.ids);
        if let Some(s) = t.synthetics_outbound_header() {
            h.push(("X-NewRelic-Synthetics".to_owned(), s));
        }
        Some(h)
    })
    .flatten()
    .unwrap_or_default();
    let pairs: Vec<(&str, String)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    ret.string_map(&pairs);
});
