//! Process state for a non-thread-safe PHP build.
//!
//! NTS PHP (CLI, php-fpm, Apache prefork) calls an extension from one thread
//! only, so the extension keeps its state in plain statics wrapped in
//! [`NtsCell`]. `build.rs` refuses ZTS builds, which is what makes the
//! `Sync` impl below sound. The cell hands out a `&mut` for the duration of
//! a closure and refuses re-entry (a PHP callback that re-enters the agent
//! while the state is borrowed gets `None`), so no two `&mut` ever alias.

use std::cell::RefCell;

/// A process-global value, borrowed for the duration of a closure.
pub struct NtsCell<T>(RefCell<T>);

// SAFETY: only one thread ever touches extension state in an NTS PHP (ZTS
// builds are refused at build time), and RefCell catches re-entry.
unsafe impl<T> Sync for NtsCell<T> {}

impl<T> NtsCell<T> {
    /// A cell holding `v`.
    pub const fn new(v: T) -> Self {
        NtsCell(RefCell::new(v))
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
        // SAFETY: the returned reference is dropped at once; this only
        // checks that no `with` borrow is live.
        unsafe { self.0.try_borrow_unguarded() }.ok()?;
        // SAFETY: no borrow is live (checked above; one thread, see the
        // module docs) and the caller promises `f` does not create one, so
        // this is the only reference to the value while `f` runs.
        Some(f(unsafe { &mut *self.0.as_ptr() }))
    }

    /// Runs `f` on the value; `None` if it is already borrowed (re-entry).
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut guard = self.0.try_borrow_mut().ok()?;
        Some(f(&mut guard))
    }
}
