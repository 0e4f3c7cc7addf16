//! PDO: datastore segments for `PDO::exec`, `PDO::query` and
//! `PDOStatement::execute`, with the product taken from the DSN driver
//! (`sqlite:` → SQLite, `mysql:` → MySQL, ...; see [`product_of_dsn`]).
//!
//! What `PDO::__construct` is given is remembered per PDO object: the
//! product, the instance (MySQL and PostgreSQL DSNs, as New Relic's agent
//! reads them: `seraph_txn::instance::{pdo_mysql, pdo_pgsql}`) and, for
//! MySQL, the DSN, credentials and options the `EXPLAIN` connection needs.
//! Statements (`prepare`, `query`) remember their PDO object; a
//! statement's SQL is its `queryString`; `bindValue` calls are remembered
//! so the `EXPLAIN` can bind the same values. A slow MySQL `SELECT` gets
//! an explain plan (`pdo_explain`). Calls the model marks as slow carry a
//! backtrace.

use super::pdo_explain::{self, Connection};
use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::call::Scalar;
use crate::zend::ini::PhpIni;
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::instance::{self, DatastoreInstance, PgEnv};
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
        // Not instrumented by New Relic's agent: read for the EXPLAIN only.
        Hook::new(Target::Method("pdostatement", "bindvalue")).after(after_bind_value),
    ],
};

/// What the agent knows about one PDO object.
#[derive(Clone, Debug)]
struct Pdo {
    product: &'static str,
    instance: Option<DatastoreInstance>,
    /// For MySQL: how to open a second connection for `EXPLAIN`.
    connection: Option<Connection>,
}

/// What the agent knows about one statement.
#[derive(Clone, Debug, Default)]
struct Stmt {
    pdo: Option<u32>,
    product: Option<&'static str>,
    /// `bindValue` calls since the statement was prepared.
    bound: Vec<(Scalar, Scalar, i64)>,
}

/// Per-request state, by object handle.
#[derive(Default)]
struct State {
    pdo: HashMap<u32, Pdo>,
    stmt: HashMap<u32, Stmt>,
}
crate::hooks::context::lib_state!(State);

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

/// libpq's environment defaults, read from the process environment.
pub fn pg_env() -> PgEnv {
    let var = |n: &str| std::env::var(n).ok();
    PgEnv {
        hostaddr: var("PGHOSTADDR"),
        host: var("PGHOST"),
        port: var("PGPORT"),
        database: var("PGDATABASE"),
        user: var("PGUSER"),
    }
}

/// The driver options array of `new PDO(..., $options)`, as scalars.
fn options(v: Val<'_>) -> Vec<(i64, Scalar)> {
    let mut out = Vec::new();
    if let Val::Array(ht) = v {
        // SAFETY: an array argument of the live call.
        unsafe {
            array_each(ht, |k, v| {
                if let (Key::Index(k), Some(s)) = (k, Scalar::from_val(v)) {
                    out.push((k as i64, s));
                }
            })
        };
    }
    out
}

/// `new PDO($dsn, $user, $password, $options)`.
fn after_construct(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if call.threw() {
        return;
    }
    let Some(h) = call.this_handle() else { return };
    let dsn = call.arg_string(1).unwrap_or_default();
    let product = product_of_dsn(&dsn);
    let body = dsn.split_once(':').map_or("", |(_, b)| b);
    let user = call.arg_string(2);
    let (instance, connection) = match product {
        "MySQL" => {
            use crate::config::RawIni as _;
            let socket = PhpIni.get("pdo_mysql.default_socket").unwrap_or_default();
            let connection = Connection {
                dsn: dsn.clone(),
                user: user.clone(),
                password: call.arg_string(3),
                options: options(call.arg(4)),
            };
            (
                Some(instance::pdo_mysql(body, &socket, ctx.system_host())),
                Some(connection),
            )
        }
        "Postgres" => (
            Some(instance::pdo_pgsql(
                body,
                user.as_deref(),
                &pg_env(),
                ctx.system_host(),
            )),
            None,
        ),
        _ => (None, None),
    };
    ctx.with(|s| {
        s.state::<State>().pdo.insert(
            h,
            Pdo {
                product,
                instance,
                connection,
            },
        )
    });
}

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

/// The PDO object the call was made on.
fn pdo_of(call: &Call, ctx: &Ctx<'_>) -> Option<(u32, Pdo)> {
    let h = call.this_handle()?;
    let pdo = ctx
        .with(|s| s.state::<State>().pdo.get(&h).cloned())
        .flatten()?;
    Some((h, pdo))
}

/// Remembers a statement `PDO::prepare` or `PDO::query` returned (a new
/// statement: what a freed one with its handle had is gone).
fn remember_statement(call: &Call, ctx: &Ctx<'_>, pdo: Option<u32>, product: &'static str) {
    if let Some(stmt) = call.returned_handle() {
        ctx.with(|s| {
            s.state::<State>().stmt.insert(
                stmt,
                Stmt {
                    pdo,
                    product: Some(product),
                    bound: Vec::new(),
                },
            )
        });
    }
}

fn after_prepare(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let pdo = pdo_of(call, ctx);
    let product = pdo.as_ref().map_or("PDO", |(_, p)| p.product);
    remember_statement(call, ctx, pdo.map(|(h, _)| h), product);
}

/// `PDO::exec($sql)`, `PDO::query($sql, ...)`.
fn after_query(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let pdo = pdo_of(call, ctx);
    let product = pdo.as_ref().map_or("PDO", |(_, p)| p.product);
    remember_statement(call, ctx, pdo.as_ref().map(|(h, _)| *h), product);
    let Some(start) = before.start else { return };
    let sql = call.arg_string(1);
    let ds = DatastoreCall {
        product: product.to_owned(),
        sql: sql.clone(),
        ..DatastoreCall::default()
    }
    .with_instance(pdo.as_ref().and_then(|(_, p)| p.instance.as_ref()));
    // New Relic explains statements: PDO::query's, not PDO::exec's.
    let is_query = call.returned_object().is_some();
    let connection = pdo.and_then(|(_, p)| p.connection);
    ctx.end_datastore_explained(start, ds, || {
        let (conn, sql) = (connection?, sql?);
        explainable(is_query, &sql)
            .then(|| ctx.quietly(|| pdo_explain::explain(&conn, &sql, None, &[])))?
    });
}

fn explainable(ok: bool, sql: &str) -> bool {
    ok && seraph_txn::explain::mysql_query_is_explainable(sql)
}

/// `$stmt->bindValue($param, $value[, $type])`, when it succeeded.
fn after_bind_value(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if !matches!(call.ret(), Some(Val::Bool(true))) {
        return;
    }
    let (Some(h), Some(param), Some(value)) = (
        call.this_handle(),
        Scalar::from_val(call.arg(1)),
        Scalar::from_val(call.arg(2)),
    ) else {
        return;
    };
    // PDO::PARAM_STR unless given.
    let kind = call.arg_long(3).unwrap_or(2);
    ctx.with(|s| {
        let st = s.state::<State>().stmt.entry(h).or_default();
        if st.bound.len() < 1000 {
            st.bound.push((param, value, kind));
        }
    });
}

/// `PDOStatement::execute([$params])`: the SQL is the statement's
/// `queryString`.
fn after_execute(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let Some(start) = before.start else { return };
    let known = call.this_handle().and_then(|h| {
        ctx.with(|s| {
            let st = s.state::<State>();
            let stmt = st.stmt.get(&h).cloned()?;
            let pdo = stmt.pdo.and_then(|p| st.pdo.get(&p).cloned());
            Some((stmt, pdo))
        })
        .flatten()
    });
    let product = known.as_ref().and_then(|(s, _)| s.product).unwrap_or("PDO");
    let sql = call.this_string_prop(c"queryString");
    let ds = DatastoreCall {
        product: product.to_owned(),
        sql: sql.clone(),
        ..DatastoreCall::default()
    }
    .with_instance(
        known
            .as_ref()
            .and_then(|(_, p)| p.as_ref())
            .and_then(|p| p.instance.as_ref()),
    );
    let params = match call.arg(1) {
        Val::Array(_) => Some(call.arg_ptr(1)),
        _ => None,
    };
    let ok = !call.threw() && matches!(call.ret(), Some(Val::Bool(true)));
    ctx.end_datastore_explained(start, ds, || {
        let (stmt, pdo) = known?;
        let (conn, sql) = (pdo?.connection?, sql?);
        let bound = if params.is_some() {
            &[][..]
        } else {
            &stmt.bound[..]
        };
        explainable(ok, &sql)
            .then(|| ctx.quietly(|| pdo_explain::explain(&conn, &sql, params, bound)))?
    });
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
