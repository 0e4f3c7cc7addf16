//! mysqli, procedural and object forms, as New Relic's agent instruments
//! it:
//!
//! * connecting (`mysqli_connect`, `new mysqli`, `real_connect`) remembers
//!   the link's instance (`seraph_txn::instance::mysqli`) and its
//!   connection arguments and `options()` (for the `EXPLAIN` connection);
//!   `select_db` changes its database;
//! * `query`, `real_query`, `multi_query` are datastore segments (product
//!   `MySQL`) with the link's instance; a slow `SELECT` gets an explain plan
//!   (`mysqli_explain`);
//! * prepared statements: `prepare`, `stmt_init` + `stmt_prepare`,
//!   `new mysqli_stmt($link, $sql)` remember the statement's SQL and link;
//!   `stmt_execute` is a datastore segment without instance (as in New
//!   Relic's agent), `(prepared statement)` when the SQL is unknown;
//! * `commit` is `Datastore/operation/MySQL/commit`;
//! * a query that returns `false` (mysqli's error reporting off) is
//!   recorded as a `MysqlError` when `error_collector.record_database_errors`
//!   is on. New Relic's agent 12.x applies that setting only to the removed
//!   `mysql_*` functions; Seraph applies it to mysqli the same way (the
//!   message is `mysqli_error()`), as asked for in its issue 8.

use super::mysqli_explain::{self, ConnectArgs};
use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::call::{self as php, Arg, Obj};
use crate::zend::ini::PhpIni;
use crate::zend::zval::Val;
use seraph_txn::instance::{self, DatastoreInstance, MysqliDefaults};
use seraph_txn::DatastoreCall;
use std::collections::HashMap;

const fn row(target: Target, metric: &'static str) -> Hook {
    Hook::new(target).metric(metric)
}

/// mysqli's rows.
pub static LIBRARY: Library = Library {
    name: "mysqli",
    hooks: &[
        row(
            Target::Function("mysqli_connect"),
            "Supportability/InstrumentedFunction/mysqli_connect",
        )
        .after(after_connect),
        row(
            Target::Method("mysqli", "__construct"),
            "Supportability/InstrumentedFunction/mysqli::__construct",
        )
        .after(after_connect),
        row(
            Target::Function("mysqli_real_connect"),
            "Supportability/InstrumentedFunction/mysqli_real_connect",
        )
        .after(after_real_connect),
        row(
            Target::Method("mysqli", "real_connect"),
            "Supportability/InstrumentedFunction/mysqli::real_connect",
        )
        .after(after_real_connect),
        row(
            Target::Function("mysqli_options"),
            "Supportability/InstrumentedFunction/mysqli_options",
        )
        .after(after_options),
        row(
            Target::Method("mysqli", "options"),
            "Supportability/InstrumentedFunction/mysqli::options",
        )
        .after(after_options),
        row(
            Target::Function("mysqli_select_db"),
            "Supportability/InstrumentedFunction/mysqli_select_db",
        )
        .after(after_select_db),
        row(
            Target::Method("mysqli", "select_db"),
            "Supportability/InstrumentedFunction/mysqli::select_db",
        )
        .after(after_select_db),
        row(
            Target::Function("mysqli_query"),
            "Supportability/InstrumentedFunction/mysqli_query",
        )
        .before(start)
        .after(after_query),
        row(
            Target::Method("mysqli", "query"),
            "Supportability/InstrumentedFunction/mysqli::query",
        )
        .before(start)
        .after(after_query),
        row(
            Target::Function("mysqli_real_query"),
            "Supportability/InstrumentedFunction/mysqli_real_query",
        )
        .before(start)
        .after(after_query),
        row(
            Target::Method("mysqli", "real_query"),
            "Supportability/InstrumentedFunction/mysqli::real_query",
        )
        .before(start)
        .after(after_query),
        row(
            Target::Function("mysqli_multi_query"),
            "Supportability/InstrumentedFunction/mysqli_multi_query",
        )
        .before(start)
        .after(after_query),
        row(
            Target::Method("mysqli", "multi_query"),
            "Supportability/InstrumentedFunction/mysqli::multi_query",
        )
        .before(start)
        .after(after_query),
        row(
            Target::Function("mysqli_commit"),
            "Supportability/InstrumentedFunction/mysqli_commit",
        )
        .before(start)
        .after(after_commit),
        row(
            Target::Method("mysqli", "commit"),
            "Supportability/InstrumentedFunction/mysqli::commit",
        )
        .before(start)
        .after(after_commit),
        row(
            Target::Function("mysqli_prepare"),
            "Supportability/InstrumentedFunction/mysqli_prepare",
        )
        .after(after_prepare),
        row(
            Target::Method("mysqli", "prepare"),
            "Supportability/InstrumentedFunction/mysqli::prepare",
        )
        .after(after_prepare),
        row(
            Target::Function("mysqli_stmt_init"),
            "Supportability/InstrumentedFunction/mysqli_stmt_init",
        )
        .after(after_stmt_init),
        row(
            Target::Method("mysqli", "stmt_init"),
            "Supportability/InstrumentedFunction/mysqli::stmt_init",
        )
        .after(after_stmt_init),
        row(
            Target::Method("mysqli_stmt", "__construct"),
            "Supportability/InstrumentedFunction/mysqli_stmt::__construct",
        )
        .after(after_stmt_construct),
        row(
            Target::Function("mysqli_stmt_prepare"),
            "Supportability/InstrumentedFunction/mysqli_stmt_prepare",
        )
        .after(after_stmt_prepare),
        row(
            Target::Method("mysqli_stmt", "prepare"),
            "Supportability/InstrumentedFunction/mysqli_stmt::prepare",
        )
        .after(after_stmt_prepare),
        row(
            Target::Function("mysqli_stmt_execute"),
            "Supportability/InstrumentedFunction/mysqli_stmt_execute",
        )
        .before(start)
        .after(after_stmt_execute),
        row(
            Target::Method("mysqli_stmt", "execute"),
            "Supportability/InstrumentedFunction/mysqli_stmt::execute",
        )
        .before(start)
        .after(after_stmt_execute),
    ],
};

/// What the agent knows about one link.
#[derive(Clone, Debug, Default)]
struct Link {
    instance: Option<DatastoreInstance>,
    connect: ConnectArgs,
}

/// What the agent knows about one statement.
#[derive(Clone, Debug, Default)]
struct Stmt {
    sql: Option<String>,
    link: Option<u32>,
}

/// Per-request state: links and statements by object handle.
#[derive(Default)]
struct State {
    links: HashMap<u32, Link>,
    stmts: HashMap<u32, Stmt>,
}
crate::hooks::context::lib_state!(State);

/// The link object of a link call and the position of its first real
/// argument: `$link->query($sql)` (this, 1) or `mysqli_query($link, $sql)`
/// (argument 1, 2).
fn link_and_first(call: &Call) -> (Option<Obj>, u32) {
    match call.this_obj() {
        Some(o) => (Some(o), 1),
        None => (call.arg_object(1), 2),
    }
}

fn handle(o: Obj) -> u32 {
    o.handle()
}

fn defaults() -> MysqliDefaults {
    use crate::config::RawIni as _;
    let get = |n: &str| PhpIni.get(n).unwrap_or_default();
    MysqliDefaults {
        host: get("mysqli.default_host"),
        port: get("mysqli.default_port"),
        socket: get("mysqli.default_socket"),
    }
}

/// Connection arguments from position `first` on: host, user, password,
/// database, port, socket (and flags for `real_connect`).
fn connect_args(call: &Call, first: u32, with_flags: bool) -> ConnectArgs {
    let s = |n: u32| call.arg_string(first + n);
    ConnectArgs {
        host: s(0),
        user: s(1),
        password: s(2),
        database: s(3),
        port: call.arg_long(first + 4),
        socket: s(5),
        flags: if with_flags {
            call.arg_long(first + 6)
        } else {
            None
        },
        options: Vec::new(),
    }
}

fn remember_link(ctx: &Ctx<'_>, link: Obj, args: ConnectArgs) {
    let inst = instance::mysqli(
        args.host.as_deref(),
        args.port.unwrap_or(0),
        args.socket.as_deref(),
        args.database.as_deref(),
        &defaults(),
        ctx.system_host(),
    );
    let h = handle(link);
    ctx.with(|s| {
        let links = &mut s.state::<State>().links;
        // Options set before real_connect (mysqli_init, options,
        // real_connect) belong to the connection.
        let options = links
            .remove(&h)
            .map(|l| l.connect.options)
            .unwrap_or_default();
        links.insert(
            h,
            Link {
                instance: Some(inst),
                connect: ConnectArgs { options, ..args },
            },
        );
    });
}

/// `mysqli_connect(...)` returns the link; `new mysqli(...)` builds `$this`.
fn after_connect(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let link = call
        .returned_object()
        .filter(|o| php::instance_of(*o, "mysqli"))
        .or_else(|| call.this_obj());
    if let Some(link) = link {
        remember_link(ctx, link, connect_args(call, 1, false));
    }
}

fn after_real_connect(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let (link, first) = link_and_first(call);
    if let Some(link) = link {
        remember_link(ctx, link, connect_args(call, first, true));
    }
}

/// `options($option, $value)`: kept for the `EXPLAIN` connection.
fn after_options(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if !matches!(call.ret(), Some(Val::Bool(true))) {
        return;
    }
    let (Some(link), first) = link_and_first(call) else {
        return;
    };
    let (Some(option), Some(value)) = (call.arg_long(first), value_string(call.arg(first + 1)))
    else {
        return;
    };
    let h = handle(link);
    ctx.with(|s| {
        let l = s.state::<State>().links.entry(h).or_default();
        l.connect.options.push((option, value));
    });
}

fn value_string(v: Val<'_>) -> Option<String> {
    match v {
        Val::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
        Val::Long(n) => Some(n.to_string()),
        Val::Bool(b) => Some(if b { "1".into() } else { String::new() }),
        _ => None,
    }
}

fn after_select_db(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let (Some(link), first) = link_and_first(call) else {
        return;
    };
    let db = call.arg_string(first);
    let ok = matches!(call.ret(), Some(Val::Bool(true)));
    let h = handle(link);
    ctx.with(|s| {
        if let Some(l) = s.state::<State>().links.get_mut(&h) {
            if let Some(i) = l.instance.as_mut() {
                i.set_database(db.as_deref());
            }
            if ok {
                l.connect.database = db;
            }
        }
    });
}

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

/// `query`, `real_query`, `multi_query`.
fn after_query(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let Some(start) = before.start else { return };
    let (link, first) = link_and_first(call);
    let sql = call
        .arg_string(first)
        .unwrap_or_else(|| "(unknown sql)".to_owned());
    let known = link.and_then(|l| {
        let h = handle(l);
        ctx.with(|s| s.state::<State>().links.get(&h).cloned())
            .flatten()
    });
    let ds = DatastoreCall {
        product: "MySQL".into(),
        sql: Some(sql.clone()),
        ..DatastoreCall::default()
    }
    .with_instance(known.as_ref().and_then(|l| l.instance.as_ref()));
    let explainable = !call.threw() && seraph_txn::explain::mysql_query_is_explainable(&sql);
    ctx.end_datastore_explained(start, ds, || {
        let link = known.filter(|_| explainable)?;
        ctx.quietly(|| mysqli_explain::explain(&link.connect, &sql, None))
    });
    if let Some(l) = link {
        notice_failure(call, ctx, l);
    }
}

/// A query that returned `false` without throwing: a `MysqlError`.
fn notice_failure(call: &Call, ctx: &Ctx<'_>, link: Obj) {
    if call.threw() || !matches!(call.ret(), Some(Val::Bool(false))) {
        return;
    }
    let on = ctx
        .with(|s| s.settings.errors_record_database)
        .unwrap_or(false);
    if !on {
        return;
    }
    let message = ctx.quietly(|| {
        php::function("mysqli_error", &[Arg::Object(link)])
            .ok()
            .and_then(|v| v.get().string())
    });
    let message = message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "<mysql error>".to_owned());
    // New Relic gives database errors E_ERROR's priority.
    ctx.notice_error("MysqlError", &message, 50);
}

fn after_commit(_: &Call, ctx: &Ctx<'_>, before: Before) {
    if let Some(start) = before.start {
        ctx.end_datastore(
            start,
            DatastoreCall {
                product: "MySQL".into(),
                operation: Some("commit".into()),
                ..DatastoreCall::default()
            },
        );
    }
}

fn remember_stmt(ctx: &Ctx<'_>, stmt: u32, sql: Option<String>, link: Option<u32>) {
    ctx.with(|s| {
        let e = s.state::<State>().stmts.entry(stmt).or_default();
        if sql.is_some() {
            e.sql = sql;
        }
        if link.is_some() {
            e.link = link;
        }
    });
}

/// `prepare($sql)` returns a statement.
fn after_prepare(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let (link, first) = link_and_first(call);
    let Some(stmt) = call.returned_object() else {
        return;
    };
    remember_stmt(ctx, handle(stmt), call.arg_string(first), link.map(handle));
}

fn after_stmt_init(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let (link, _) = link_and_first(call);
    if let Some(stmt) = call.returned_object() {
        // A new statement: whatever a freed one with this handle had is gone.
        let h = handle(stmt);
        ctx.with(|s| s.state::<State>().stmts.remove(&h));
        remember_stmt(ctx, h, None, link.map(handle));
    }
}

/// `new mysqli_stmt($link[, $sql])`.
fn after_stmt_construct(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let Some(stmt) = call.this_obj() {
        let h = handle(stmt);
        ctx.with(|s| s.state::<State>().stmts.remove(&h));
        remember_stmt(ctx, h, call.arg_string(2), call.arg_object(1).map(handle));
    }
}

/// `stmt_prepare($sql)` / `$stmt->prepare($sql)`.
fn after_stmt_prepare(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let (stmt, first) = link_and_first(call);
    if let Some(stmt) = stmt {
        remember_stmt(ctx, handle(stmt), call.arg_string(first), None);
    }
}

/// `stmt_execute([$params])`: the statement's SQL, no instance.
fn after_stmt_execute(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let Some(start) = before.start else { return };
    let (stmt, first) = link_and_first(call);
    let known = stmt.and_then(|o| {
        let h = handle(o);
        ctx.with(|s| {
            let st = s.state::<State>();
            let stmt = st.stmts.get(&h).cloned()?;
            let link = stmt.link.and_then(|l| st.links.get(&l).cloned());
            Some((stmt, link))
        })
        .flatten()
    });
    let sql = known
        .as_ref()
        .and_then(|(s, _)| s.sql.clone())
        .unwrap_or_else(|| "(prepared statement)".to_owned());
    let params = match call.arg(first) {
        Val::Array(_) => Some(call.arg_ptr(first)),
        _ => None,
    };
    let explainable = !call.threw()
        && !matches!(call.ret(), Some(Val::Null))
        && seraph_txn::explain::mysql_query_is_explainable(&sql);
    let ds = DatastoreCall {
        product: "MySQL".into(),
        sql: Some(sql.clone()),
        ..DatastoreCall::default()
    };
    ctx.end_datastore_explained(start, ds, || {
        let (_, link) = known.filter(|_| explainable)?;
        let link = link?;
        ctx.quietly(|| mysqli_explain::explain(&link.connect, &sql, params))
    });
}
