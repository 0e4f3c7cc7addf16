//! Explain plans for mysqli, as New Relic's agent gets them: a second
//! connection made with the link's own connection arguments and options,
//! `EXPLAIN <query>` prepared and executed on it (with the parameters the
//! query was executed with, if it got them as an array), the plan read,
//! the connection closed. The application's connection is never touched,
//! so a pending result set or an open transaction cannot be disturbed, and
//! a failure anywhere just means no plan.
//!
//! Runs inside [`crate::hooks::context::Ctx::quietly`]: the hooks are off
//! and errors silenced, so these calls are invisible to the application.

use crate::zend::call::{self as php, Arg, Obj, Value};
use crate::zend::ffi;
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::{ExplainPlan, ExplainValue};

/// How a link was connected, to open a second connection like it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectArgs {
    /// Host (a `p:` prefix means persistent; kept: the second connection
    /// may then come from the same pool).
    pub host: Option<String>,
    /// User.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Database (updated by a successful `select_db`).
    pub database: Option<String>,
    /// Port.
    pub port: Option<i64>,
    /// Socket.
    pub socket: Option<String>,
    /// `real_connect` flags.
    pub flags: Option<i64>,
    /// `options()` calls, in order.
    pub options: Vec<(i64, String)>,
}

const MYSQLI_NUM: i64 = 2;

/// Runs `EXPLAIN sql` on a second connection; `None` when anything fails.
pub fn explain(
    connect: &ConnectArgs,
    sql: &str,
    params: Option<*mut ffi::zval>,
) -> Option<ExplainPlan> {
    let dup = php::function("mysqli_init", &[]).ok()?;
    let link = dup.object()?;
    for (option, value) in &connect.options {
        php::method(link, "options", &[Arg::Long(*option), Arg::Str(value)]).ok()?;
    }
    let s = Arg::opt_str;
    let args = [
        s(&connect.host),
        s(&connect.user),
        s(&connect.password),
        s(&connect.database),
        connect.port.map_or(Arg::Null, Arg::Long),
        s(&connect.socket),
        Arg::Long(connect.flags.unwrap_or(0)),
    ];
    let connected = php::method(link, "real_connect", &args).ok()?;
    if !matches!(connected.get(), Val::Bool(true)) {
        return None;
    }
    let plan = run(link, sql, params);
    let _ = php::method(link, "close", &[]);
    plan
}

fn run(link: Obj, sql: &str, params: Option<*mut ffi::zval>) -> Option<ExplainPlan> {
    let query = format!("EXPLAIN {sql}");
    let stmt: Value = php::method(link, "prepare", &[Arg::Str(&query)]).ok()?;
    let stmt_obj = stmt.object()?;
    let executed = match params {
        Some(p) => php::method(stmt_obj, "execute", &[Arg::Zval(p)]),
        None => php::method(stmt_obj, "execute", &[]),
    }
    .ok()?;
    if !matches!(executed.get(), Val::Bool(true)) {
        return None;
    }
    let result = php::method(stmt_obj, "get_result", &[]).ok()?;
    let result_obj = result.object()?;
    let fields = php::method(result_obj, "fetch_fields", &[]).ok()?;
    let rows = php::method(result_obj, "fetch_all", &[Arg::Long(MYSQLI_NUM)]).ok()?;
    let mut plan = ExplainPlan::default();
    let Val::Array(fields) = fields.get() else {
        return None;
    };
    // SAFETY: arrays we own, not modified while iterated.
    unsafe {
        array_each(fields, |_, f| {
            // An element of the array we hold: alive while we read it.
            if let Some(o) = matches_object(f).and_then(|o| Obj::from_raw(o)) {
                if let Some(name) = php::property_string(o, "name") {
                    plan.columns.push(name);
                }
            }
        });
        let Val::Array(rows) = rows.get() else {
            return None;
        };
        array_each(rows, |_, row| {
            if let Val::Array(cells) = row {
                let mut values = Vec::new();
                array_each(cells, |k, v| {
                    if matches!(k, Key::Index(_)) {
                        values.push(explain_value(v));
                    }
                });
                plan.push_row(values);
            }
        });
    }
    let _ = php::method(stmt_obj, "close", &[]);
    (!plan.columns.is_empty()).then_some(plan)
}

fn matches_object(v: Val<'_>) -> Option<*mut ffi::zend_object> {
    match v {
        Val::Object(o) => Some(o),
        _ => None,
    }
}

/// A driver value as the plan records it.
pub fn explain_value(v: Val<'_>) -> ExplainValue {
    match v {
        Val::Null => ExplainValue::Null,
        Val::Long(n) => ExplainValue::Int(n),
        Val::Double(d) => ExplainValue::Float(d),
        Val::Bool(b) => ExplainValue::Bool(b),
        Val::Str(s) => ExplainValue::Str(String::from_utf8_lossy(s).into_owned()),
        Val::Array(_) | Val::Object(_) | Val::Other => ExplainValue::Str("Unknown value".into()),
    }
}
