//! Process state for a non-thread-safe PHP build.
//!
//! NTS PHP (CLI, php-fpm, Apache prefork) calls an extension from one thread
//! only, so the extension keeps its state in plain statics wrapped in
//! [`NtsCell`]. `build.rs` refuses ZTS builds, which is what makes the
//! `Sync` impl below sound. The cell hands out a `&mut` for the duration of
//! a closure and refuses re-entry (a PHP callback that re-enters the agent
//! while the state is borrowed gets `None`), so no two `&mut` ever alias.
//!
//! **Bailouts.** A PHP bailout is a `longjmp`: if one crossed a `with`
//! closure, the borrow would never be released and every later `with`
//! would return `None`, silently switching the agent off for the rest of
//! the process (one php-fpm worker, for days). Code under `with` therefore
//! never calls into PHP, and the shim catches bailouts before they reach
//! Rust frames; [`NtsCell::recover`] is the last line of defence, called
//! where no borrow can legitimately be live (request start and end).

use std::cell::{Cell, UnsafeCell};

/// A process-global value, borrowed for the duration of a closure.
pub struct NtsCell<T> {
    borrowed: Cell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: only one thread ever touches extension state in an NTS PHP (ZTS
// builds are refused at build time), and the borrow flag catches re-entry.
unsafe impl<T> Sync for NtsCell<T> {}

/// Clears the borrow flag when a `with` closure returns or unwinds.
struct Release<'a>(&'a Cell<bool>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl<T> NtsCell<T> {
    /// A cell holding `v`.
    pub const fn new(v: T) -> Self {
        NtsCell {
            borrowed: Cell::new(false),
            value: UnsafeCell::new(v),
        }
    }

    /// Runs `f` on the value without marking the cell borrowed; `None` if
    /// it is already borrowed. For the observer's per-call handlers, where
    /// setting and clearing the borrow flag (two dependent stores on every
    /// call) measured about 3 % of a call-heavy script.
    ///
    /// # Safety
    /// `f` must not re-enter this cell: nothing it calls may call
    /// [`NtsCell::with`] or [`NtsCell::with_leaf`] on it (directly, or by
    /// calling into PHP, which could run an agent hook). Otherwise two
    /// `&mut` to the value would exist at once.
    #[inline(always)]
    pub unsafe fn with_leaf<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.borrowed.get() {
            return None;
        }
        // SAFETY: no borrow is live (checked above; one thread, see the
        // module docs) and the caller promises `f` does not create one, so
        // this is the only reference to the value while `f` runs.
        Some(f(unsafe { &mut *self.value.get() }))
    }

    /// Runs `f` on the value; `None` if it is already borrowed (re-entry).
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.borrowed.replace(true) {
            return None;
        }
        let _release = Release(&self.borrowed);
        // SAFETY: the flag was clear and is now set until `_release` drops,
        // so this is the only reference to the value (one thread).
        Some(f(unsafe { &mut *self.value.get() }))
    }

    /// Releases a borrow that a `longjmp` skipped the end of; returns
    /// whether there was one.
    ///
    /// # Safety
    /// No reference handed out by [`NtsCell::with`] may be live: call it
    /// only from an entry point PHP calls at the top level (RINIT,
    /// RSHUTDOWN), never from code that runs inside a `with` closure.
    pub unsafe fn recover(&self) -> bool {
        self.borrowed.replace(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reentry_is_refused_and_the_borrow_released() {
        let c = NtsCell::new(1);
        assert_eq!(c.with(|v| c.with(|_| ()).is_none() && *v == 1), Some(true));
        // SAFETY: no borrow is live.
        assert_eq!(unsafe { c.with_leaf(|v| *v) }, Some(1));
        assert!(c.with(|v| *v = 2).is_some());
        assert_eq!(c.with(|v| *v), Some(2));
    }

    #[test]
    fn a_panic_releases_the_borrow() {
        let c = NtsCell::new(0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.with(|_| panic!("boom"));
        }));
        assert!(r.is_err());
        assert_eq!(c.with(|v| *v), Some(0));
    }

    #[test]
    fn recover_releases_a_borrow_whose_end_was_skipped() {
        let c = NtsCell::new(0);
        // What a longjmp out of a `with` closure leaves behind: the flag
        // set, the release never run.
        c.borrowed.set(true);
        assert!(c.with(|_| ()).is_none());
        // SAFETY: no borrow is live.
        assert!(unsafe { c.recover() });
        assert_eq!(c.with(|v| *v), Some(0));
        // SAFETY: as above.
        assert!(!unsafe { c.recover() });
    }
}
