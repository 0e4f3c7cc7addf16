//! PDO: datastore segments for `PDO::exec`, `PDO::query` and
//! `PDOStatement::execute`, with the product taken from the DSN driver
//! (`sqlite:` → SQLite, `mysql:` → MySQL, ...). The product is remembered
//! per PDO object (set by `__construct`) and per statement (set by
//! `prepare`/`query`); a statement's SQL is its `queryString` property.
//! Calls the model marks as slow (explain or stack-trace threshold) carry
//! a backtrace.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use seraph_txn::DatastoreCall;
use std::collections::HashMap;

/// PDO's rows.
pub static LIBRARY: Library = Library {
    name: "PDO",
    hooks: &[
        Hook::new(Target::Method("pdo", "__construct"))
            .after(after_construct)
            .metric("Supportability/InstrumentedFunction/pdo::__construct"),
        Hook::new(Target::Method("pdo", "exec"))
            .before(start)
            .after(after_query)
            .metric("Supportability/InstrumentedFunction/pdo::exec"),
        Hook::new(Target::Method("pdo", "query"))
            .before(start)
            .after(after_query)
            .metric("Supportability/InstrumentedFunction/pdo::query"),
        Hook::new(Target::Method("pdo", "prepare"))
            .after(after_prepare)
            .metric("Supportability/InstrumentedFunction/pdo::prepare"),
        Hook::new(Target::Method("pdostatement", "execute"))
            .before(start)
            .after(after_execute)
            .metric("Supportability/InstrumentedFunction/pdostatement::execute"),
    ],
};

/// The product of each PDO and PDOStatement object, by object handle.
#[derive(Default)]
struct Products {
    pdo: HashMap<u32, &'static str>,
    stmt: HashMap<u32, &'static str>,
}

/// The datastore product of a DSN.
pub fn product_of_dsn(dsn: &str) -> &'static str {
    let driver = dsn
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match driver.as_str() {
        "sqlite" | "sqlite2" => "SQLite",
        "mysql" => "MySQL",
        "pgsql" => "Postgres",
        "sqlsrv" | "mssql" | "dblib" | "sybase" => "MSSQL",
        "oci" => "Oracle",
        "firebird" => "Firebird",
        "ibm" | "informix" => "IBMDB2",
        "odbc" => "ODBC",
        _ => "PDO",
    }
}

/// `new PDO($dsn, ...)`: remembers the object's product.
fn after_construct(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let product = product_of_dsn(&call.arg_string(1).unwrap_or_default());
    if let Some(h) = call.this_handle() {
        ctx.with(|s| s.state::<Products>().pdo.insert(h, product));
    }
}

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

/// The product of the PDO object the call was made on.
fn pdo_product(call: &Call, ctx: &Ctx<'_>) -> &'static str {
    call.this_handle()
        .and_then(|h| ctx.with(|s| s.state::<Products>().pdo.get(&h).copied()))
        .flatten()
        .unwrap_or("PDO")
}

/// Remembers the product of a statement `PDO::prepare` or `PDO::query`
/// returned.
fn remember_statement(call: &Call, ctx: &Ctx<'_>, product: &'static str) {
    if let Some(stmt) = call.returned_handle() {
        ctx.with(|s| s.state::<Products>().stmt.insert(stmt, product));
    }
}

fn after_prepare(call: &Call, ctx: &Ctx<'_>, _: Before) {
    remember_statement(call, ctx, pdo_product(call, ctx));
}

/// `PDO::exec($sql)`, `PDO::query($sql, ...)`.
fn after_query(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let product = pdo_product(call, ctx);
    remember_statement(call, ctx, product);
    end(ctx, before, product, call.arg_string(1));
}

/// `PDOStatement::execute(...)`: the SQL is the statement's `queryString`.
fn after_execute(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let product = call
        .this_handle()
        .and_then(|h| ctx.with(|s| s.state::<Products>().stmt.get(&h).copied()))
        .flatten()
        .unwrap_or("PDO");
    end(ctx, before, product, call.this_string_prop(c"queryString"));
}

fn end(ctx: &Ctx<'_>, before: Before, product: &str, sql: Option<String>) {
    if let Some(start) = before.start {
        ctx.end_datastore(
            start,
            DatastoreCall {
                product: product.to_owned(),
                sql,
                ..DatastoreCall::default()
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products() {
        assert_eq!(product_of_dsn("sqlite::memory:"), "SQLite");
        assert_eq!(product_of_dsn("mysql:host=x;dbname=y"), "MySQL");
        assert_eq!(product_of_dsn("pgsql:host=x"), "Postgres");
        assert_eq!(product_of_dsn("weird:x"), "PDO");
    }
}
