//! Wrapping internal functions by swapping `zend_internal_function.handler`.
//!
//! Used for the few internal functions the agent instruments (PDO, curl)
//! or must know about (`pcntl_fork` and friends).
//! It works the same on PHP 8.1 (whose observer ignores internal
//! functions) and 8.2+, costs nothing for other functions, and gives the
//! wrapper the arguments and the return value. The swap happens on the
//! first request of each process (extensions loaded after this one, like
//! `-d extension=pdo` on the command line, exist by then) and is
//! idempotent. The original handler always runs inside `zend_try`, so a
//! bailout in it lets the wrapper finish its bookkeeping before the bailout
//! is re-raised.

use super::{curl, pdo};
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::nts::NtsCell;

/// Which function a wrapper slot stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hooked {
    /// `PDO::__construct`.
    PdoConstruct,
    /// `PDO::exec`.
    PdoExec,
    /// `PDO::query`.
    PdoQuery,
    /// `PDO::prepare`.
    PdoPrepare,
    /// `PDOStatement::execute`.
    StmtExecute,
    /// `curl_init`.
    CurlInit,
    /// `curl_setopt`.
    CurlSetopt,
    /// `curl_setopt_array`.
    CurlSetoptArray,
    /// `curl_exec`.
    CurlExec,
    /// `curl_reset`: the handle's options are gone, so is what we know.
    CurlReset,
    /// `curl_copy_handle`: the copy has the original's options.
    CurlCopyHandle,
    /// `pcntl_fork`, `pcntl_rfork`, `pcntl_forkx`: the child lets go of
    /// the parent's transaction at once (see `Agent::check_fork`).
    Fork,
}

impl Hooked {
    /// `Supportability/InstrumentedFunction/<name>`, counted per call (not
    /// for the fork functions, which New Relic's agent does not count).
    pub fn metric(self) -> Option<&'static str> {
        Some(match self {
            Hooked::PdoConstruct => "Supportability/InstrumentedFunction/pdo::__construct",
            Hooked::PdoExec => "Supportability/InstrumentedFunction/pdo::exec",
            Hooked::PdoQuery => "Supportability/InstrumentedFunction/pdo::query",
            Hooked::PdoPrepare => "Supportability/InstrumentedFunction/pdo::prepare",
            Hooked::StmtExecute => "Supportability/InstrumentedFunction/pdostatement::execute",
            Hooked::CurlInit => "Supportability/InstrumentedFunction/curl_init",
            Hooked::CurlSetopt => "Supportability/InstrumentedFunction/curl_setopt",
            Hooked::CurlSetoptArray => "Supportability/InstrumentedFunction/curl_setopt_array",
            Hooked::CurlExec => "Supportability/InstrumentedFunction/curl_exec",
            Hooked::CurlReset | Hooked::CurlCopyHandle | Hooked::Fork => return None,
        })
    }
}

const TARGETS: &[(Option<&str>, &str, Hooked)] = &[
    (Some("pdo"), "__construct", Hooked::PdoConstruct),
    (Some("pdo"), "exec", Hooked::PdoExec),
    (Some("pdo"), "query", Hooked::PdoQuery),
    (Some("pdo"), "prepare", Hooked::PdoPrepare),
    (Some("pdostatement"), "execute", Hooked::StmtExecute),
    (None, "curl_init", Hooked::CurlInit),
    (None, "curl_setopt", Hooked::CurlSetopt),
    (None, "curl_setopt_array", Hooked::CurlSetoptArray),
    (None, "curl_exec", Hooked::CurlExec),
    (None, "curl_reset", Hooked::CurlReset),
    (None, "curl_copy_handle", Hooked::CurlCopyHandle),
    (None, "pcntl_fork", Hooked::Fork),
    (None, "pcntl_rfork", Hooked::Fork),
    (None, "pcntl_forkx", Hooked::Fork),
];

struct Slot {
    func: usize,
    orig: ffi::zif_handler,
    kind: Hooked,
}

static SLOTS: NtsCell<Vec<Slot>> = NtsCell::new(Vec::new());

/// Swaps in the wrapper for every target function that exists and is not
/// wrapped yet.
pub fn install() {
    for (cls, name, kind) in TARGETS {
        let (cp, cl) = cls.map_or((std::ptr::null(), 0), |c| (c.as_ptr().cast(), c.len()));
        // SAFETY: lookup by name in the engine's tables; result checked.
        let f = unsafe { ffi::seraph_find_function(cp, cl, name.as_ptr().cast(), name.len()) };
        if f.is_null() {
            continue;
        }
        // SAFETY: `f` is a live function; internal functions carry a handler.
        unsafe {
            if u32::from((*f).type_) != ffi::ZEND_INTERNAL_FUNCTION {
                continue;
            }
            let slot = &mut (*f).internal_function.handler;
            let current = *slot;
            let wrapped = SLOTS
                .with(|s| s.iter().any(|x| x.func == f as usize))
                .unwrap_or(true);
            if current.is_none() || wrapped {
                continue;
            }
            let _ = SLOTS.with(|s| {
                s.push(Slot {
                    func: f as usize,
                    orig: current,
                    kind: *kind,
                })
            });
            *slot = Some(wrapper);
        }
    }
}

/// What a `before` step hands to its `after` step.
#[derive(Debug, Default)]
pub struct Pre {
    /// A segment was entered.
    pub entered: bool,
    /// Ticks at entry.
    pub start: u64,
    /// A call the wrapper made into PHP bailed out; re-raise at the end.
    pub bailed: bool,
}

/// After a fork function: in the child (it returned 0), let go of the
/// parent's transaction now, before the child's calls are recorded into it.
fn after_fork(rv: *mut ffi::zval) {
    // SAFETY: the return value slot of the finished call.
    if let crate::zend::zval::Val::Long(0) = unsafe { crate::zend::zval::read(rv) } {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                a.check_fork();
            }
        });
    }
}

unsafe extern "C" fn wrapper(ex: *mut ffi::zend_execute_data, rv: *mut ffi::zval) {
    // SAFETY: PHP passes the live frame of the wrapped function.
    let func = unsafe { (*ex).func } as usize;
    let found = SLOTS
        .with(|s| s.iter().find(|x| x.func == func).map(|x| (x.orig, x.kind)))
        .flatten();
    let Some((orig, kind)) = found else {
        return;
    };
    let pre = guard("instrumentation (before)", Pre::default(), || match kind {
        Hooked::CurlExec => curl::before_exec(ex),
        Hooked::PdoExec | Hooked::PdoQuery | Hooked::StmtExecute => pdo::before(ex),
        _ => Pre::default(),
    });
    // SAFETY: calling the original handler with PHP's own arguments. If
    // the before step's call into PHP bailed out, the shim does not run it
    // and reports the bailout.
    let ok = unsafe { crate::zend::call_handler(orig, ex, rv) };
    let bailed = pre.bailed;
    guard("instrumentation (count)", (), || {
        let _ = AGENT.with(|a| {
            if let (Some(t), Some(m)) = (a.as_mut().and_then(|a| a.txn.as_mut()), kind.metric()) {
                t.count_metric(m);
            }
        });
    });
    guard("instrumentation (after)", (), || match kind {
        Hooked::PdoConstruct => pdo::after_construct(ex),
        Hooked::PdoExec | Hooked::PdoQuery | Hooked::StmtExecute | Hooked::PdoPrepare => {
            pdo::after(kind, ex, rv, pre)
        }
        Hooked::CurlInit => curl::after_init(ex, rv),
        Hooked::CurlSetopt => curl::after_setopt(ex, rv),
        Hooked::CurlSetoptArray => curl::after_setopt_array(ex),
        Hooked::CurlExec => curl::after_exec(ex, pre),
        Hooked::CurlReset => curl::after_reset(ex),
        Hooked::CurlCopyHandle => curl::after_copy_handle(ex, rv),
        Hooked::Fork => after_fork(rv),
    });
    // The original handler, or a call the before/after steps made into PHP,
    // bailed out: the shim caught it; re-raise now that the bookkeeping
    // is done.
    crate::zend::reraise_pending_bailout();
    if !ok || bailed {
        crate::zend::bailout();
    }
}
