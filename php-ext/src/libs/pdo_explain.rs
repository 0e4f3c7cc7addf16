//! Explain plans for PDO MySQL, as New Relic's agent gets them: a second
//! PDO made with the application's DSN, credentials and driver options,
//! errors silent, `EXPLAIN <query>` prepared on it and executed with the
//! statement's parameters (the array given to `execute`, else the values
//! given to `bindValue`), rows fetched as associative arrays: their keys
//! are the plan's columns. The application's PDO is never touched.
//!
//! Runs inside [`crate::hooks::context::Ctx::quietly`].

use super::mysqli_explain::explain_value;
use crate::zend::call::{self as php, Arg, Scalar};
use crate::zend::ffi;
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::ExplainPlan;

/// How to open a second connection like the application's.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// The DSN.
    pub dsn: String,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Driver options (`new PDO`'s fourth argument).
    pub options: Vec<(i64, Scalar)>,
}

const ATTR_ERRMODE: i64 = 3;
const ERRMODE_SILENT: i64 = 0;
const FETCH_ASSOC: i64 = 2;

/// Runs `EXPLAIN sql`; `None` when anything fails.
pub fn explain(
    conn: &Connection,
    sql: &str,
    params: Option<*mut ffi::zval>,
    bound: &[(Scalar, Scalar, i64)],
) -> Option<ExplainPlan> {
    let dup = php::new_object(
        "pdo",
        &[
            Arg::Str(&conn.dsn),
            Arg::opt_str(&conn.user),
            Arg::opt_str(&conn.password),
            Arg::Indexed(&conn.options),
        ],
    )
    .ok()?;
    let pdo = dup.object()?;
    php::method(
        pdo,
        "setAttribute",
        &[Arg::Long(ATTR_ERRMODE), Arg::Long(ERRMODE_SILENT)],
    )
    .ok()?;
    let query = format!("EXPLAIN {sql}");
    let stmt = php::method(pdo, "prepare", &[Arg::Str(&query)]).ok()?;
    let stmt = stmt.object()?;
    for (param, value, kind) in bound {
        php::method(
            stmt,
            "bindValue",
            &[param.as_arg(), value.as_arg(), Arg::Long(*kind)],
        )
        .ok()?;
    }
    let executed = match params {
        Some(p) => php::method(stmt, "execute", &[Arg::Zval(p)]),
        None => php::method(stmt, "execute", &[]),
    }
    .ok()?;
    if !matches!(executed.get(), Val::Bool(true)) {
        return None;
    }
    let rows = php::method(stmt, "fetchAll", &[Arg::Long(FETCH_ASSOC)]).ok()?;
    let Val::Array(rows) = rows.get() else {
        return None;
    };
    let mut plan = ExplainPlan::default();
    // SAFETY: an array we own, not modified while iterated.
    unsafe {
        array_each(rows, |_, row| {
            let Val::Array(cells) = row else { return };
            let first = plan.columns.is_empty();
            let mut values = Vec::new();
            array_each(cells, |k, v| {
                if let Key::Str(name) = k {
                    if first {
                        plan.columns.push(name);
                    }
                    values.push(explain_value(v));
                }
            });
            plan.push_row(values);
        });
    }
    (!plan.columns.is_empty()).then_some(plan)
}
