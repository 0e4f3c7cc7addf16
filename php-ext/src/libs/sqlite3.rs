//! SQLite3 (the `SQLite3` class): `exec`, `query` and `querySingle` are
//! datastore segments (product `SQLite`, no instance), as in New Relic's
//! agent; `SQLite3::prepare` remembers a statement's SQL and
//! `SQLite3Stmt::execute`, which New Relic's agent does not instrument, is
//! a segment with it.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use seraph_txn::DatastoreCall;
use std::collections::HashMap;

/// SQLite3's rows.
pub static LIBRARY: Library = Library {
    name: "SQLite3",
    hooks: &[
        Hook::new(Target::Method("sqlite3", "query"))
            .before(start)
            .after(after_query)
            .metric("Supportability/InstrumentedFunction/sqlite3::query"),
        Hook::new(Target::Method("sqlite3", "querysingle"))
            .before(start)
            .after(after_query)
            .metric("Supportability/InstrumentedFunction/sqlite3::querysingle"),
        Hook::new(Target::Method("sqlite3", "exec"))
            .before(start)
            .after(after_query)
            .metric("Supportability/InstrumentedFunction/sqlite3::exec"),
        Hook::new(Target::Method("sqlite3", "prepare")).after(after_prepare),
        Hook::new(Target::Method("sqlite3stmt", "execute"))
            .before(start)
            .after(after_execute),
    ],
};

/// Statements' SQL by `SQLite3Stmt` handle.
#[derive(Default)]
struct Statements(HashMap<u32, String>);
crate::hooks::context::lib_state!(Statements);

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

fn end(ctx: &Ctx<'_>, before: Before, sql: String) {
    if let Some(start) = before.start {
        ctx.end_datastore(
            start,
            DatastoreCall {
                product: "SQLite".into(),
                sql: Some(sql),
                ..DatastoreCall::default()
            },
        );
    }
}

fn after_query(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let sql = call
        .arg_string(1)
        .unwrap_or_else(|| "(unknown sql)".to_owned());
    end(ctx, before, sql);
}

fn after_prepare(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let (Some(stmt), Some(sql)) = (call.returned_handle(), call.arg_string(1)) {
        ctx.with(|s| s.state::<Statements>().0.insert(stmt, sql));
    }
}

fn after_execute(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let sql = call
        .this_handle()
        .and_then(|h| ctx.with(|s| s.state::<Statements>().0.get(&h).cloned()))
        .flatten()
        .unwrap_or_else(|| "(prepared statement)".to_owned());
    end(ctx, before, sql);
}
