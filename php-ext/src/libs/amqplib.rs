//! php-amqplib (PHP code) for RabbitMQ:
//!
//! * `AMQPChannel::basic_publish($msg, $exchange, $routing_key, …)` is a
//!   message segment `MessageBroker/RabbitMQ/Exchange/Produce/Named/
//!   <exchange>` (`Default` for the default exchange, as New Relic names
//!   it), with the broker's host and port (the connection's constructor
//!   arguments) and the routing key; with distributed tracing on, the
//!   message's `application_headers` get the trace headers (naming the
//!   segment's span), added to the user's table or in a new one;
//! * `AMQPChannel::basic_get($queue)` that returns a message is a segment
//!   `…/Exchange/Consume/Named/<the message's exchange>`; a message
//!   carrying trace headers makes the transaction join that trace
//!   (transport `AMQP`), as a request's headers do.
//!
//! Messages delivered to `basic_consume` callbacks are not segments.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::call::{self as php, Arg, Obj};
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::{MessageAction, MessageCall};

/// php-amqplib's rows.
pub static LIBRARY: Library = Library {
    name: "php-amqplib",
    hooks: &[
        Hook::new(Target::Method(
            "phpamqplib\\channel\\amqpchannel",
            "basic_publish",
        ))
        .before(before_publish)
        .after(after_publish),
        Hook::new(Target::Method(
            "phpamqplib\\channel\\amqpchannel",
            "basic_get",
        ))
        .before(start)
        .after(after_get),
    ],
};

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

/// The broker's host and port: the channel's connection's constructor
/// arguments.
fn server(channel: Obj) -> (Option<String>, Option<u64>) {
    // SAFETY: properties of live objects, read at once.
    unsafe {
        let Val::Object(conn) = php::property_any(channel, "connection") else {
            return (None, None);
        };
        let Some(conn) = Obj::from_raw(conn) else {
            return (None, None);
        };
        let Val::Array(params) = php::property_any(conn, "construct_params") else {
            return (None, None);
        };
        let (mut host, mut port) = (None, None);
        array_each(params, |k, v| match (k, v) {
            (Key::Index(0), v) => host = v.string(),
            (Key::Index(1), Val::Long(p)) => port = u64::try_from(p).ok(),
            (Key::Index(1), v) => port = v.string().and_then(|p| p.parse().ok()),
            _ => {}
        });
        (host, port)
    }
}

/// Before `basic_publish`: open the segment, then put the trace headers
/// (created from it) into the message.
fn before_publish(call: &Call, ctx: &Ctx<'_>) -> Before {
    let Some((start, dt)) = ctx.start_outbound() else {
        return Before::default();
    };
    if let (Some(msg), false) = (call.arg_object(1), dt.is_empty()) {
        ctx.quietly(|| add_headers(msg, &dt));
    }
    Before {
        start: Some(start),
        bailed: false,
    }
}

/// Adds the headers to the message's `application_headers` table.
fn add_headers(msg: Obj, dt: &[(String, String)]) {
    let has = php::method(msg, "has", &[Arg::Str("application_headers")])
        .is_ok_and(|v| matches!(v.get(), Val::Bool(true)));
    let table = if has {
        php::method(msg, "get", &[Arg::Str("application_headers")]).ok()
    } else {
        php::new_object("phpamqplib\\wire\\amqptable", &[]).ok()
    };
    let Some(table) = table else { return };
    let Some(t) = table.object() else { return };
    for (k, v) in dt {
        if php::method(t, "set", &[Arg::Str(k), Arg::Str(v)]).is_err() {
            return;
        }
    }
    if !has {
        let mut table = table;
        let _ = php::method(
            msg,
            "set",
            &[Arg::Str("application_headers"), table.as_arg()],
        );
    }
}

fn after_publish(call: &Call, ctx: &Ctx<'_>, before: Before) {
    if before.start.is_none() {
        return;
    }
    let exchange = call.arg_string(2).filter(|e| !e.is_empty());
    let routing_key = call.arg_string(3).filter(|k| !k.is_empty());
    let (host, port) = call
        .this_obj()
        .map(|c| ctx.quietly(|| server(c)))
        .unwrap_or_default();
    ctx.end_message(MessageCall {
        library: "RabbitMQ".into(),
        destination_type: "Exchange".into(),
        action: MessageAction::Produce,
        destination_name: exchange.unwrap_or_else(|| "Default".into()),
        messaging_system: Some("rabbitmq".into()),
        server_address: host,
        server_port: port,
        routing_key,
    });
}

/// The trace headers a received message carries.
fn received_headers(msg: Obj) -> Vec<(String, String)> {
    let has = php::method(msg, "has", &[Arg::Str("application_headers")])
        .is_ok_and(|v| matches!(v.get(), Val::Bool(true)));
    if !has {
        return Vec::new();
    }
    let Some(table) = php::method(msg, "get", &[Arg::Str("application_headers")]).ok() else {
        return Vec::new();
    };
    let Some(t) = table.object() else {
        return Vec::new();
    };
    let Ok(data) = php::method(t, "getNativeData", &[]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Val::Array(ht) = data.get() {
        // SAFETY: an array we own, not modified while iterated.
        unsafe {
            array_each(ht, |k, v| {
                if let (Key::Str(k), Some(v)) = (k, v.string()) {
                    let lk = k.to_ascii_lowercase();
                    if matches!(lk.as_str(), "newrelic" | "traceparent" | "tracestate") {
                        out.push((lk, v));
                    }
                }
            })
        };
    }
    out
}

/// After `basic_get`: a message received is a consume segment.
fn after_get(call: &Call, ctx: &Ctx<'_>, before: Before) {
    if before.start.is_none() {
        return;
    }
    let msg = call.returned_object();
    let (exchange, routing_key, headers) = match msg {
        Some(m) => ctx.quietly(|| {
            let s = |name: &str| {
                php::method(m, name, &[])
                    .ok()
                    .and_then(|v| v.get().string())
                    .filter(|s| !s.is_empty())
            };
            (s("getExchange"), s("getRoutingKey"), received_headers(m))
        }),
        None => (None, None, Vec::new()),
    };
    let (host, port) = call
        .this_obj()
        .map(|c| ctx.quietly(|| server(c)))
        .unwrap_or_default();
    ctx.end_message(MessageCall {
        library: "RabbitMQ".into(),
        destination_type: "Exchange".into(),
        action: MessageAction::Consume,
        destination_name: exchange.unwrap_or_else(|| "Default".into()),
        messaging_system: Some("rabbitmq".into()),
        server_address: host,
        server_port: port,
        routing_key,
    });
    if !headers.is_empty() {
        let now_us = crate::clock::unix_us();
        ctx.with_txn(|t, _| t.accept_dt_headers(&headers, "AMQP", now_us));
    }
}
