//! Guzzle 6 and 7 (PHP code), through its curl handler: each request is
//! an external segment (library `Guzzle 6`, as New Relic's agent names it
//! for both versions), synchronous or asynchronous (promises, `Pool`,
//! `requestAsync`), measured from the moment Guzzle builds the request's
//! curl handle (`CurlFactory::create`) until it finishes it
//! (`CurlFactory::finish`), which happens while a promise is waited on for
//! asynchronous requests.
//!
//! * Before `create` runs, the request gets the trace headers
//!   (`withHeader`, on a PSR-7 request: a new request object replaces the
//!   argument), naming a span id reserved for the call;
//! * after it, the curl handle Guzzle made is marked as delegated, so the
//!   curl and curl_multi instrumentation neither measures it again nor
//!   adds its own headers: a Guzzle request is counted once;
//! * at `finish`, the status is the response's (`getStatusCode`), 0 when
//!   the transfer failed, as New Relic reports it.
//!
//! Requests sent through Guzzle's stream handler (no curl extension) are
//! not measured here; they go through `fopen` (`http_streams`).

use super::curl::Delegated;
use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::call::{self as php, Arg, Obj};
use crate::zend::zval::Val;
use seraph_txn::{ExternalCall, Ticks};
use std::collections::HashMap;

/// Guzzle's rows.
pub static LIBRARY: Library = Library {
    name: "Guzzle",
    hooks: &[
        Hook::new(Target::Method("guzzlehttp\\handler\\curlfactory", "create"))
            .before(before_create)
            .after(after_create)
            .traced(),
        Hook::new(Target::Method("guzzlehttp\\handler\\curlfactory", "finish"))
            .before(before_finish)
            .traced(),
    ],
};

/// A request whose handle is being built (innermost last).
#[derive(Clone, Debug)]
struct Starting {
    start: Ticks,
    span_id: Option<String>,
    url: String,
    method: String,
}

/// A request in flight.
#[derive(Clone, Debug)]
struct Flight {
    start: Ticks,
    span_id: Option<String>,
    url: String,
    method: String,
}

#[derive(Default)]
struct State {
    starting: Vec<Starting>,
    /// By `EasyHandle` object handle.
    flights: HashMap<u32, Flight>,
}
crate::hooks::context::lib_state!(State);

fn string_of(v: Result<php::Value, php::CallError>) -> Option<String> {
    v.ok().and_then(|v| v.get().string())
}

/// `create(RequestInterface $request, array $options)`: reserve the span,
/// add the trace headers to the request.
fn before_create(call: &Call, ctx: &Ctx<'_>) -> Before {
    let Some(request) = call.arg_object(1) else {
        return Before::default();
    };
    let Some((start, span_id, headers)) = ctx
        .with(|s| {
            let now = s.clock.now();
            let (dt, exclude) = (s.settings.dt_enabled, s.settings.dt_exclude_newrelic_header);
            let t = s.txn.as_deref_mut()?;
            let span = t.reserve_span_id();
            let mut headers = if dt {
                t.create_dt_headers_for(span.as_deref(), crate::clock::unix_us(), s.ids)
            } else {
                Vec::new()
            };
            headers.retain(|(k, _)| !(exclude && k == "newrelic"));
            Some((now, span, headers))
        })
        .flatten()
    else {
        return Before::default();
    };
    let (url, method) = ctx.quietly(|| {
        let uri = php::method(request, "getUri", &[]).ok();
        let url = uri
            .as_ref()
            .and_then(|u| u.object())
            .and_then(|u| string_of(php::method(u, "__toString", &[])))
            .unwrap_or_default();
        let method = string_of(php::method(request, "getMethod", &[])).unwrap_or_default();
        if !headers.is_empty() {
            with_headers(call, request, &headers);
        }
        (url, method)
    });
    ctx.with(|s| {
        s.state::<State>().starting.push(Starting {
            start,
            span_id,
            url,
            method,
        })
    });
    Before::default()
}

/// Replaces the request argument with one carrying the trace headers.
fn with_headers(call: &Call, request: Obj, headers: &[(String, String)]) {
    let mut current: Option<php::Value> = None;
    for (k, v) in headers {
        let target = current.as_ref().and_then(|c| c.object()).unwrap_or(request);
        match php::method(target, "withHeader", &[Arg::Str(k), Arg::Str(v)]) {
            Ok(next) if next.object().is_some() => current = Some(next),
            _ => return,
        }
    }
    if let Some(mut r) = current {
        call.replace_arg(1, &mut r);
    }
}

/// After `create`: the `EasyHandle` and its curl handle.
fn after_create(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(starting) = ctx.with(|s| s.state::<State>().starting.pop()).flatten() else {
        return;
    };
    let Some(easy) = call.returned_object() else {
        return;
    };
    let curl = ctx.quietly(|| {
        // SAFETY: a property of the live EasyHandle, read at once.
        match unsafe { php::property(easy, "handle") } {
            Val::Object(o) if !o.is_null() => {
                // SAFETY: as above.
                Some(unsafe { (*o).handle })
            }
            _ => None,
        }
    });
    ctx.with(|s| {
        if let Some(h) = curl {
            s.state::<Delegated>().0.insert(h);
        }
        s.state::<State>().flights.insert(
            easy.handle(),
            Flight {
                start: starting.start,
                span_id: starting.span_id,
                url: starting.url,
                method: starting.method,
            },
        );
    });
}

/// `finish(callable $handler, EasyHandle $easy, $factory)`: the request is
/// done.
fn before_finish(call: &Call, ctx: &Ctx<'_>) -> Before {
    let Some(easy) = call.arg_object(2) else {
        return Before::default();
    };
    let Some(flight) = ctx
        .with(|s| s.state::<State>().flights.remove(&easy.handle()))
        .flatten()
    else {
        return Before::default();
    };
    let status = ctx.quietly(|| {
        // SAFETY: a property of the live EasyHandle, read at once.
        let response = match unsafe { php::property(easy, "response") } {
            // SAFETY: the response object the EasyHandle holds.
            Val::Object(o) => unsafe { Obj::from_raw(o) },
            _ => None,
        };
        response
            .and_then(|r| php::method(r, "getStatusCode", &[]).ok())
            .and_then(|v| match v.get() {
                Val::Long(c) => u16::try_from(c).ok(),
                _ => None,
            })
            .unwrap_or(0)
    });
    if let Some(now) = ctx.now() {
        ctx.with_txn(|t, _| {
            t.record_external(
                flight.start,
                now,
                ExternalCall {
                    url: flight.url,
                    library: "Guzzle 6".into(),
                    procedure: flight.method,
                    status: Some(status),
                },
                flight.span_id,
            )
        });
    }
    Before::default()
}
