//! phpredis: every command method of `Redis` and `RedisCluster` is a
//! datastore segment `Datastore/operation/Redis/<method>` (the method name
//! in lower case, aliases as called: `delete`, `lget`).
//!
//! * `connect`, `pconnect`, `open`, `popen` remember the connection's
//!   instance (`seraph_txn::instance::redis`: host and port, a socket path
//!   for a host starting with `/`, database `0`) before connecting, and are
//!   segments themselves; `select($db)` changes the database (no segment)
//!   and `close()` forgets the instance (no segment), as in New Relic's
//!   agent;
//! * inside `multi()` or `pipeline()` each queued command is a (short)
//!   segment and `exec()` the one that talks to the server; `multi` and
//!   `pipeline` themselves are not segments, as in New Relic's agent;
//! * Redis Cluster calls report the instance `unknown/unknown`, as New
//!   Relic's agent does.
//!
//! New Relic's agent lists the commands it knows; the `Class` row covers
//! every method instead, less the client-side ones below, so commands it
//! does not list (`auth`, `info`, `scan`, …) are measured too.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use rustc_hash::FxHashMap;
use seraph_txn::instance::{self, DatastoreInstance};
use seraph_txn::DatastoreCall;

/// Methods that talk to no server, or that New Relic's agent leaves out.
const NOT_COMMANDS: &[&str] = &[
    "__construct",
    "__destruct",
    "multi",
    "pipeline",
    "setoption",
    "getoption",
    "getlasterror",
    "clearlasterror",
    "isconnected",
    "gethost",
    "getport",
    "getdbnum",
    "gettimeout",
    "getreadtimeout",
    "getpersistentid",
    "getauth",
    "getmode",
    "_prefix",
    "_serialize",
    "_unserialize",
    "_pack",
    "_unpack",
    "_compress",
    "_uncompress",
    "_digest",
    "_masters",
    "_redir",
];

/// phpredis's rows.
pub static LIBRARY: Library = Library {
    name: "phpredis",
    hooks: &[
        Hook::new(Target::Method("redis", "connect"))
            .before(before_connect)
            .after(after_command)
            .metric("Supportability/InstrumentedFunction/redis::connect"),
        Hook::new(Target::Method("redis", "pconnect"))
            .before(before_connect)
            .after(after_command)
            .metric("Supportability/InstrumentedFunction/redis::pconnect"),
        Hook::new(Target::Method("redis", "open"))
            .before(before_connect)
            .after(after_command)
            .metric("Supportability/InstrumentedFunction/redis::open"),
        Hook::new(Target::Method("redis", "popen"))
            .before(before_connect)
            .after(after_command)
            .metric("Supportability/InstrumentedFunction/redis::popen"),
        Hook::new(Target::Method("redis", "close"))
            .before(before_close)
            .metric("Supportability/InstrumentedFunction/redis::close"),
        Hook::new(Target::Method("redis", "select"))
            .after(after_select)
            .metric("Supportability/InstrumentedFunction/redis::select"),
        Hook::new(Target::Class("redis"))
            .except(NOT_COMMANDS)
            .before(start)
            .after(after_command),
        Hook::new(Target::Class("rediscluster"))
            .except(NOT_COMMANDS)
            .before(start)
            .after(after_cluster_command),
    ],
};

/// Instances by `Redis` object handle.
#[derive(Default)]
struct Instances(FxHashMap<u32, DatastoreInstance>);
crate::hooks::context::lib_state!(Instances);

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

/// `connect($host, $port = 6379, ...)`: the instance is known before the
/// connection is attempted (a failed connect still reports where it went).
fn before_connect(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let (Some(h), Some(host)) = (call.this_handle(), call.arg_string(1)) {
        let port = call.arg_long(2).unwrap_or(6379);
        let inst = instance::redis(&host, port, ctx.system_host());
        ctx.with(|s| s.state::<Instances>().0.insert(h, inst));
    }
    start(call, ctx)
}

fn before_close(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let Some(h) = call.this_handle() {
        ctx.with(|s| s.state::<Instances>().0.remove(&h));
    }
    Before::default()
}

/// `select($db)`: later commands report that database.
fn after_select(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let (Some(h), Some(db)) = (call.this_handle(), call.arg_long(1)) {
        let db = db.to_string();
        ctx.with(|s| {
            if let Some(i) = s.state::<Instances>().0.get_mut(&h) {
                i.set_database(Some(&db));
            }
        });
    }
}

fn end(call: &Call, ctx: &Ctx<'_>, before: Before, instance: Option<DatastoreInstance>) {
    let Some(start) = before.start else { return };
    ctx.end_datastore(
        start,
        DatastoreCall {
            product: "Redis".into(),
            operation: Some(call.method_name()),
            ..DatastoreCall::default()
        }
        .with_owned_instance(instance),
    );
}

fn after_command(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let instance = call
        .this_handle()
        .and_then(|h| ctx.with(|s| s.state::<Instances>().0.get(&h).cloned()))
        .flatten();
    end(call, ctx, before, instance);
}

fn after_cluster_command(call: &Call, ctx: &Ctx<'_>, before: Before) {
    end(call, ctx, before, Some(instance::unknown()));
}
