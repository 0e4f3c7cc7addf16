//! Panic containment at the `extern "C"` boundary.
//!
//! The release profile unwinds on panic on purpose: every entry point runs
//! its body through [`guard`], which catches the unwind, disables the agent
//! for the rest of the process (logged once) and returns a neutral value,
//! so a bug in the agent never unwinds into PHP or kills a php-fpm worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

static DISABLED: AtomicBool = AtomicBool::new(false);

/// True once a panic disabled the agent in this process.
#[inline]
pub fn disabled() -> bool {
    DISABLED.load(Ordering::Relaxed)
}

/// Disables the agent for the rest of the process, logging why once.
pub fn disable(why: &str) {
    if !DISABLED.swap(true, Ordering::Relaxed) {
        tracing::error!("agent disabled for this process: {why}");
    }
}

/// Runs `f`, turning a panic into `fallback` and a disabled agent. Once
/// disabled, `f` is not run at all.
///
/// On the happy path this costs one flag test: `catch_unwind` only adds
/// unwind tables, and the panic handling lives in a cold function so the
/// observer handlers that inline this stay small.
#[inline(always)]
pub fn guard<R>(what: &'static str, fallback: R, f: impl FnOnce() -> R) -> R {
    if disabled() {
        return fallback;
    }
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            panicked(what, payload);
            fallback
        }
    }
}

/// Logs a caught panic and disables the agent.
#[cold]
#[inline(never)]
fn panicked(what: &str, payload: Box<dyn std::any::Any + Send>) {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    disable(&format!("panic in {what}: {msg}"));
}

/// Replaces the default panic hook (which prints to stderr and would change
/// the script's output) with one that writes to the agent log.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("agent panic: {info}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_disables_and_returns_the_fallback() {
        std::panic::set_hook(Box::new(|_| {}));
        assert_eq!(guard("ok", 0, || 1), 1);
        assert_eq!(guard("boom", 7, || panic!("boom")), 7);
        assert!(disabled());
        assert_eq!(guard("skipped", 3, || 1), 3, "nothing runs once disabled");
        let _ = std::panic::take_hook();
    }
}
