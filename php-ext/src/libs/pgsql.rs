//! pgsql (`pg_*` functions), as New Relic's agent instruments them:
//!
//! * `pg_connect`/`pg_pconnect` remember the connection's instance, read
//!   from its libpq connection string (`seraph_txn::instance::postgres`),
//!   and make it the default connection; `pg_close` forgets it;
//! * `pg_query` is a datastore segment (product `Postgres`) with the
//!   connection's instance (the default connection's when none is given);
//!   `pg_query_params` one without instance, as in New Relic's agent;
//! * `pg_prepare` remembers a statement's SQL by connection and name;
//!   `pg_execute` is a segment with that SQL (`(prepared statement)` when
//!   unknown) and the connection's instance.
//!
//! The asynchronous `pg_send_query`, `pg_send_query_params` and
//! `pg_send_execute`, which New Relic's agent does not instrument, are
//! segments too (timing the sending; the wait is `pg_get_result`'s), and
//! `pg_send_prepare` remembers its statement like `pg_prepare`.

use super::pdo::pg_env;
use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use seraph_txn::instance::{self, DatastoreInstance};
use seraph_txn::DatastoreCall;
use std::collections::HashMap;

/// pgsql's rows.
pub static LIBRARY: Library = Library {
    name: "pgsql",
    hooks: &[
        Hook::new(Target::Function("pg_connect"))
            .after(after_connect)
            .metric("Supportability/InstrumentedFunction/pg_connect"),
        Hook::new(Target::Function("pg_pconnect"))
            .after(after_connect)
            .metric("Supportability/InstrumentedFunction/pg_pconnect"),
        Hook::new(Target::Function("pg_close"))
            .before(before_close)
            .metric("Supportability/InstrumentedFunction/pg_close"),
        Hook::new(Target::Function("pg_query"))
            .before(start)
            .after(after_query)
            .metric("Supportability/InstrumentedFunction/pg_query"),
        Hook::new(Target::Function("pg_query_params"))
            .before(start)
            .after(after_query_params)
            .metric("Supportability/InstrumentedFunction/pg_query_params"),
        Hook::new(Target::Function("pg_prepare"))
            .after(after_prepare)
            .metric("Supportability/InstrumentedFunction/pg_prepare"),
        Hook::new(Target::Function("pg_execute"))
            .before(start)
            .after(after_execute)
            .metric("Supportability/InstrumentedFunction/pg_execute"),
        Hook::new(Target::Function("pg_send_query"))
            .before(start)
            .after(after_query),
        Hook::new(Target::Function("pg_send_query_params"))
            .before(start)
            .after(after_query_params),
        Hook::new(Target::Function("pg_send_prepare")).after(after_prepare),
        Hook::new(Target::Function("pg_send_execute"))
            .before(start)
            .after(after_execute),
    ],
};

/// Which connection: a `PgSql\Connection` handle, or the default one
/// (no connection argument).
type ConnKey = Option<u32>;

/// Per-request state.
#[derive(Default)]
struct State {
    instances: HashMap<ConnKey, DatastoreInstance>,
    /// The connection the last `pg_connect` made: the default.
    last: Option<ConnKey>,
    /// Prepared statements' SQL by connection and name.
    prepared: HashMap<(ConnKey, String), String>,
}
crate::hooks::context::lib_state!(State);

/// The connection a call names (its first argument when that is a
/// connection object), and the position of the next argument.
fn conn_of(call: &Call, args_with_conn: u32) -> (Option<ConnKey>, u32) {
    if call.num_args() >= args_with_conn {
        match call.arg_object(1) {
            Some(o) => (Some(Some(o.handle())), 2),
            None => (None, 2),
        }
    } else {
        (Some(None), 1)
    }
}

fn after_connect(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(conn) = call.returned_object() else {
        return;
    };
    let key = Some(conn.handle());
    let conn_info = call.arg_string(1);
    let host = ctx.system_host();
    ctx.with(|s| {
        let st = s.state::<State>();
        // A persistent connection seen again keeps what it had.
        st.instances
            .entry(key)
            .or_insert_with(|| instance::postgres(conn_info.as_deref(), &pg_env(), host));
        st.last = Some(key);
    });
}

fn before_close(call: &Call, ctx: &Ctx<'_>) -> Before {
    let key = call.arg_object(1).map(|o| Some(o.handle()));
    ctx.with(|s| {
        let st = s.state::<State>();
        let key = key.or(st.last);
        if let Some(k) = key {
            st.instances.remove(&k);
            if st.last == Some(k) {
                st.last = None;
            }
        }
    });
    Before::default()
}

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

/// The instance of a connection; without one, the default connection's
/// (or, when there is none yet, libpq's defaults, as New Relic reports).
fn instance_of(ctx: &Ctx<'_>, key: ConnKey) -> Option<DatastoreInstance> {
    let host = ctx.system_host();
    ctx.with(|s| {
        let st = s.state::<State>();
        let key = match key {
            Some(h) => Some(h),
            None => match st.last {
                Some(k) => k,
                None => {
                    let i = instance::postgres(None, &pg_env(), host);
                    st.instances.insert(None, i.clone());
                    return Some(i);
                }
            },
        };
        st.instances.get(&key).cloned()
    })
    .flatten()
}

fn end(ctx: &Ctx<'_>, before: Before, sql: String, instance: Option<DatastoreInstance>) {
    if let Some(start) = before.start {
        ctx.end_datastore(
            start,
            DatastoreCall {
                product: "Postgres".into(),
                sql: Some(sql),
                ..DatastoreCall::default()
            }
            .with_instance(instance.as_ref()),
        );
    }
}

/// `pg_query([$conn,] $sql)`.
fn after_query(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let (conn, at) = conn_of(call, 2);
    let sql = conn
        .and_then(|_| call.arg_string(at))
        .unwrap_or_else(|| "(unknown sql)".to_owned());
    let instance = conn.and_then(|k| instance_of(ctx, k));
    end(ctx, before, sql, instance);
}

/// `pg_query_params([$conn,] $sql, $params)`: no instance.
fn after_query_params(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let (conn, at) = conn_of(call, 3);
    let sql = conn
        .and_then(|_| call.arg_string(at))
        .unwrap_or_else(|| "(unknown sql)".to_owned());
    end(ctx, before, sql, None);
}

/// `pg_prepare([$conn,] $name, $sql)`.
fn after_prepare(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let (Some(conn), at) = conn_of(call, 3) else {
        return;
    };
    let (Some(name), Some(sql)) = (call.arg_string(at), call.arg_string(at + 1)) else {
        return;
    };
    if !sql.is_empty() {
        ctx.with(|s| s.state::<State>().prepared.insert((conn, name), sql));
    }
}

/// `pg_execute([$conn,] $name, $params)`.
fn after_execute(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let (conn, at) = conn_of(call, 3);
    let name = call.arg_string(at);
    let sql = conn
        .zip(name)
        .and_then(|key| {
            ctx.with(|s| s.state::<State>().prepared.get(&key).cloned())
                .flatten()
        })
        .unwrap_or_else(|| "(prepared statement)".to_owned());
    let instance = conn.and_then(|k| instance_of(ctx, k));
    end(ctx, before, sql, instance);
}
