//! php-memcached (`Memcached` class): each storage and retrieval method is
//! a datastore segment `Datastore/operation/Memcached/<op>`, the operation
//! being New Relic's name for it (`getMulti` is `get`, `append` and `cas`
//! are `replace`, …). As in New Relic's agent the segments carry no
//! instance; instead `addServer`/`addServers` count an unscoped
//! `Datastore/instance/Memcached/<host>/<port>` metric per server added.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::instance;
use seraph_txn::DatastoreCall;

/// A `Memcached` method that is a datastore operation.
const fn op(method: &'static str, metric: &'static str) -> Hook {
    Hook::new(Target::Method("memcached", method))
        .before(start)
        .after(after_op)
        .metric(metric)
}

/// php-memcached's rows.
pub static LIBRARY: Library = Library {
    name: "Memcached",
    hooks: &[
        op("add", "Supportability/InstrumentedFunction/memcached::add"),
        op(
            "addbykey",
            "Supportability/InstrumentedFunction/memcached::addbykey",
        ),
        op(
            "append",
            "Supportability/InstrumentedFunction/memcached::append",
        ),
        op(
            "appendbykey",
            "Supportability/InstrumentedFunction/memcached::appendbykey",
        ),
        op("cas", "Supportability/InstrumentedFunction/memcached::cas"),
        op(
            "casbykey",
            "Supportability/InstrumentedFunction/memcached::casbykey",
        ),
        op(
            "decrement",
            "Supportability/InstrumentedFunction/memcached::decrement",
        ),
        op(
            "delete",
            "Supportability/InstrumentedFunction/memcached::delete",
        ),
        op(
            "deletebykey",
            "Supportability/InstrumentedFunction/memcached::deletebykey",
        ),
        op("get", "Supportability/InstrumentedFunction/memcached::get"),
        op(
            "getbykey",
            "Supportability/InstrumentedFunction/memcached::getbykey",
        ),
        op(
            "getdelayed",
            "Supportability/InstrumentedFunction/memcached::getdelayed",
        ),
        op(
            "getdelayedbykey",
            "Supportability/InstrumentedFunction/memcached::getdelayedbykey",
        ),
        op(
            "getmulti",
            "Supportability/InstrumentedFunction/memcached::getmulti",
        ),
        op(
            "getmultibykey",
            "Supportability/InstrumentedFunction/memcached::getmultibykey",
        ),
        op(
            "increment",
            "Supportability/InstrumentedFunction/memcached::increment",
        ),
        op(
            "prepend",
            "Supportability/InstrumentedFunction/memcached::prepend",
        ),
        op(
            "prependbykey",
            "Supportability/InstrumentedFunction/memcached::prependbykey",
        ),
        op(
            "replace",
            "Supportability/InstrumentedFunction/memcached::replace",
        ),
        op(
            "replacebykey",
            "Supportability/InstrumentedFunction/memcached::replacebykey",
        ),
        op("set", "Supportability/InstrumentedFunction/memcached::set"),
        op(
            "setbykey",
            "Supportability/InstrumentedFunction/memcached::setbykey",
        ),
        op(
            "setmulti",
            "Supportability/InstrumentedFunction/memcached::setmulti",
        ),
        op(
            "setmultibykey",
            "Supportability/InstrumentedFunction/memcached::setmultibykey",
        ),
        Hook::new(Target::Method("memcached", "addserver"))
            .before(before_add_server)
            .metric("Supportability/InstrumentedFunction/memcached::addserver"),
        Hook::new(Target::Method("memcached", "addservers"))
            .before(before_add_servers)
            .metric("Supportability/InstrumentedFunction/memcached::addservers"),
    ],
};

/// New Relic's operation name for a method.
pub fn operation(method: &str) -> &'static str {
    match method {
        "add" | "addbykey" => "add",
        "append" | "appendbykey" | "cas" | "casbykey" | "prepend" | "prependbykey" | "replace"
        | "replacebykey" => "replace",
        "decrement" => "decr",
        "increment" => "incr",
        "delete" | "deletebykey" => "delete",
        "get" | "getbykey" | "getdelayed" | "getdelayedbykey" | "getmulti" | "getmultibykey" => {
            "get"
        }
        "set" | "setbykey" | "setmulti" | "setmultibykey" => "set",
        "connect" | "pconnect" => "connect",
        _ => "other",
    }
}

pub(crate) fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

fn after_op(call: &Call, ctx: &Ctx<'_>, before: Before) {
    end(call, ctx, before);
}

/// Ends a Memcached/Memcache operation segment.
pub(crate) fn end(call: &Call, ctx: &Ctx<'_>, before: Before) {
    if let Some(start) = before.start {
        let method = call.method_name();
        let method = method.strip_prefix("memcache_").unwrap_or(&method);
        ctx.end_datastore(
            start,
            DatastoreCall {
                product: "Memcached".into(),
                operation: Some(operation(method).to_owned()),
                ..DatastoreCall::default()
            },
        );
    }
}

fn count_instance(ctx: &Ctx<'_>, host: &str, port: i64) {
    let i = instance::memcached(host, port, ctx.system_host());
    let metric = format!(
        "Datastore/instance/Memcached/{}/{}",
        i.host, i.port_path_or_id
    );
    ctx.with_txn(|t, _| t.add_metric(&metric, 0.0, false, true));
}

/// `addServer($host, $port = 11211, $weight = 0)`.
fn before_add_server(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let Some(host) = call.arg_string(1) {
        count_instance(ctx, &host, call.arg_long(2).unwrap_or(0));
    }
    Before::default()
}

/// `addServers([[$host, $port(, $weight)], …])`.
fn before_add_servers(call: &Call, ctx: &Ctx<'_>) -> Before {
    let Val::Array(servers) = call.arg(1) else {
        return Before::default();
    };
    let mut found = Vec::new();
    // SAFETY: an array argument of the live call.
    unsafe {
        array_each(servers, |_, server| {
            let Val::Array(fields) = server else { return };
            let (mut host, mut port) = (None, None);
            array_each(fields, |k, v| match (k, v) {
                (Key::Index(0), v) => host = v.string(),
                (Key::Index(1), Val::Long(p)) => port = Some(p),
                _ => {}
            });
            if let (Some(h), Some(p)) = (host, port) {
                found.push((h, p));
            }
        })
    };
    for (h, p) in found {
        count_instance(ctx, &h, p);
    }
    Before::default()
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn operations_are_new_relics_names() {
        assert_eq!(operation("getmultibykey"), "get");
        assert_eq!(operation("cas"), "replace");
        assert_eq!(operation("increment"), "incr");
        assert_eq!(operation("pconnect"), "connect");
    }
}
