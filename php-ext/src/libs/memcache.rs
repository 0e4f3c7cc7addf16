//! php-memcache (`Memcache` class and `memcache_*` functions): connect,
//! add, set, replace, get, delete, increment and decrement are datastore
//! segments `Datastore/operation/Memcached/<op>` (New Relic's product name
//! for both memcache extensions), without instance, as in New Relic's
//! agent.

use super::memcached::{end, start};
use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};

const fn method(name: &'static str, metric: &'static str) -> Hook {
    Hook::new(Target::Method("memcache", name))
        .before(start)
        .after(after_op)
        .metric(metric)
}

const fn function(name: &'static str, metric: &'static str) -> Hook {
    Hook::new(Target::Function(name))
        .before(start)
        .after(after_op)
        .metric(metric)
}

/// php-memcache's rows.
pub static LIBRARY: Library = Library {
    name: "Memcache",
    hooks: &[
        method(
            "connect",
            "Supportability/InstrumentedFunction/memcache::connect",
        ),
        method(
            "pconnect",
            "Supportability/InstrumentedFunction/memcache::pconnect",
        ),
        method("add", "Supportability/InstrumentedFunction/memcache::add"),
        method("set", "Supportability/InstrumentedFunction/memcache::set"),
        method(
            "replace",
            "Supportability/InstrumentedFunction/memcache::replace",
        ),
        method("get", "Supportability/InstrumentedFunction/memcache::get"),
        method(
            "delete",
            "Supportability/InstrumentedFunction/memcache::delete",
        ),
        method(
            "increment",
            "Supportability/InstrumentedFunction/memcache::increment",
        ),
        method(
            "decrement",
            "Supportability/InstrumentedFunction/memcache::decrement",
        ),
        function(
            "memcache_connect",
            "Supportability/InstrumentedFunction/memcache_connect",
        ),
        function(
            "memcache_pconnect",
            "Supportability/InstrumentedFunction/memcache_pconnect",
        ),
        function(
            "memcache_add",
            "Supportability/InstrumentedFunction/memcache_add",
        ),
        function(
            "memcache_set",
            "Supportability/InstrumentedFunction/memcache_set",
        ),
        function(
            "memcache_replace",
            "Supportability/InstrumentedFunction/memcache_replace",
        ),
        function(
            "memcache_get",
            "Supportability/InstrumentedFunction/memcache_get",
        ),
        function(
            "memcache_delete",
            "Supportability/InstrumentedFunction/memcache_delete",
        ),
        function(
            "memcache_increment",
            "Supportability/InstrumentedFunction/memcache_increment",
        ),
        function(
            "memcache_decrement",
            "Supportability/InstrumentedFunction/memcache_decrement",
        ),
    ],
};

fn after_op(call: &Call, ctx: &Ctx<'_>, before: Before) {
    end(call, ctx, before);
}
