//! PDO: datastore segments for `PDO::exec`, `PDO::query` and
//! `PDOStatement::execute`, with the product taken from the DSN driver
//! (`sqlite:` → SQLite, `mysql:` → MySQL, ...). The product is remembered
//! per PDO object (set by `__construct`) and per statement (set by
//! `prepare`/`query`); a statement's SQL is its `queryString` property.
//! Calls the model marks as slow (explain or stack-trace threshold) carry
//! a backtrace.

use super::instrument::{Hooked, Pre};
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::zval::{read, zstr_lossy, Val};
use seraph_txn::DatastoreCall;

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

fn this_handle(ex: *mut ffi::zend_execute_data) -> Option<u32> {
    // SAFETY: live frame of a method call.
    let obj = unsafe { ffi::seraph_this(ex) };
    // SAFETY: checked for null.
    (!obj.is_null()).then(|| unsafe { (*obj).handle })
}

fn arg(ex: *mut ffi::zend_execute_data, n: u32) -> *mut ffi::zval {
    // SAFETY: live frame; the shim bounds-checks.
    unsafe { ffi::seraph_arg(ex, n) }
}

/// Remembers the product of a new PDO object.
pub(super) fn after_construct(ex: *mut ffi::zend_execute_data) {
    // SAFETY: argument of the live call.
    let dsn = unsafe { read(arg(ex, 1)) }.string().unwrap_or_default();
    let product = product_of_dsn(&dsn);
    if let Some(h) = this_handle(ex) {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                a.req.pdo_products.insert(h, product);
            }
        });
    }
}

/// Enters a datastore segment.
pub(super) fn before(_ex: *mut ffi::zend_execute_data) -> Pre {
    AGENT
        .with(|a| {
            let a = a.as_mut()?;
            let t = a.txn.as_mut()?;
            let now = a.clock.now();
            t.enter_internal(now);
            Some(Pre {
                entered: true,
                start: now,
                bailed: false,
            })
        })
        .flatten()
        .unwrap_or_default()
}

/// Leaves the segment, or records a statement's product.
pub(super) fn after(kind: Hooked, ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval, pre: Pre) {
    let this = this_handle(ex);
    // SAFETY: the return value slot of the finished call.
    let returned = match unsafe { read(rv) } {
        // SAFETY: a live object just returned.
        Val::Object(o) if !o.is_null() => Some(unsafe { (*o).handle }),
        _ => None,
    };
    let sql = match kind {
        // SAFETY: argument of the live call.
        Hooked::PdoExec | Hooked::PdoQuery => unsafe { read(arg(ex, 1)) }.string(),
        Hooked::StmtExecute => {
            // SAFETY: `This` of the live call; the property string is
            // copied at once.
            unsafe {
                let obj = ffi::seraph_this(ex);
                zstr_lossy(ffi::seraph_read_string_prop(
                    obj,
                    c"queryString".as_ptr(),
                    11,
                ))
            }
        }
        _ => None,
    };
    // First borrow: the product, and whether the call wants a backtrace.
    let decided = AGENT
        .with(|a| {
            let a = a.as_mut()?;
            let product = match kind {
                Hooked::StmtExecute => this.and_then(|h| a.req.stmt_products.get(&h).copied()),
                _ => this.and_then(|h| a.req.pdo_products.get(&h).copied()),
            }
            .unwrap_or("PDO");
            if matches!(kind, Hooked::PdoQuery | Hooked::PdoPrepare) {
                if let Some(h) = returned {
                    a.req.stmt_products.insert(h, product);
                }
            }
            if !pre.entered {
                return None;
            }
            let now = a.clock.now();
            let wants = a.txn.as_ref()?.wants_backtrace(pre.start, now);
            Some((product, now, wants))
        })
        .flatten();
    let Some((product, now, wants)) = decided else {
        return;
    };
    // The backtrace is built by PHP (and can hit the memory limit): not
    // under the borrow.
    let backtrace = wants.then(|| crate::zend::frames::current_stack(300));
    let _ = AGENT.with(|a| {
        if let Some(t) = a.as_mut().and_then(|a| a.txn.as_mut()) {
            t.leave_datastore(
                now,
                DatastoreCall {
                    product: product.to_owned(),
                    sql,
                    backtrace,
                    ..DatastoreCall::default()
                },
            );
        }
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
