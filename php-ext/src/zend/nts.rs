//! Request-side state: one value per PHP thread.
//!
//! **The rule.** State the extension touches while serving requests (the
//! agent, its transaction, the daemon connection, per-request tables) is
//! declared with [`per_thread!`]:
//!
//! ```ignore
//! per_thread! {
//!     /// Why it exists.
//!     pub static AGENT: Option<Agent> = None;
//! }
//! ```
//!
//! and used through `AGENT.with(|v| ...)` (or `with_leaf` / `recover`,
//! below). State set once at startup and only read afterwards (MINIT,
//! the post-startup hook, MSHUTDOWN: the instrumentation table, saved
//! engine hooks) is process-wide and uses a `std::sync` type (`OnceLock`,
//! an atomic, `RwLock`), never `per_thread!`: other threads would see the
//! initial value.
//!
//! * **NTS PHP** (CLI, php-fpm, Apache prefork) calls an extension from one
//!   thread only: `per_thread!` declares a plain static [`NtsCell`], and
//!   the process has one value.
//! * **ZTS PHP** (Apache mpm_event/worker, FrankenPHP) serves requests on
//!   several threads of one process: `per_thread!` declares a
//!   [`ThreadCell`], a `thread_local!` [`NtsCell`] per thread, so every
//!   thread has its own agent, transaction and daemon connection and no
//!   two threads share a value. `NtsCell` is not `Sync` in a ZTS build, so
//!   a `static X: NtsCell<T>` declared directly fails to compile there:
//!   converting it is the one-line change to `per_thread!`.
//!
//! The cell hands out a `&mut` for the duration of a closure and refuses
//! re-entry (a PHP callback that re-enters the agent while the state is
//! borrowed gets `None`), so no two `&mut` ever alias.
//!
//! **Bailouts.** A PHP bailout is a `longjmp`: if one crossed a `with`
//! closure, the borrow would never be released and every later `with`
//! would return `None`, silently switching the agent off for the rest of
//! the process (one php-fpm worker, for days). Code under `with` therefore
//! never calls into PHP, and the shim catches bailouts before they reach
//! Rust frames; [`NtsCell::recover`] is the last line of defence, called
//! where no borrow can legitimately be live (request start and end).

use std::cell::{Cell, UnsafeCell};

/// One thread's value, borrowed for the duration of a closure. Declare it
/// with [`per_thread!`].
pub struct NtsCell<T> {
    borrowed: Cell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: an NTS PHP calls the extension from one thread only (the build
// detects ZTS and then declares per-thread cells instead, see the module
// docs), and the borrow flag catches re-entry on that thread.
#[cfg(not(php_zts))]
unsafe impl<T> Sync for NtsCell<T> {}

/// Clears the borrow flag when a `with` closure returns or unwinds.
struct Release<'a>(&'a Cell<bool>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl<T> NtsCell<T> {
    /// A cell holding `v`. Used by [`per_thread!`].
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
        // SAFETY: no borrow is live (checked above; the cell belongs to
        // one thread, see the module docs) and the caller promises `f` does not create one, so
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
        // so this is the only reference to the value (the cell belongs to
        // one thread).
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

/// A ZTS build's per-thread cell: the `thread_local!` [`NtsCell`] of the
/// calling thread. Same API as [`NtsCell`]; during a thread's exit (its
/// values being dropped) every call returns `None`.
pub struct ThreadCell<T: 'static> {
    key: &'static std::thread::LocalKey<NtsCell<T>>,
}

impl<T: 'static> ThreadCell<T> {
    /// The cell behind `key`. Used by [`per_thread!`].
    pub const fn new(key: &'static std::thread::LocalKey<NtsCell<T>>) -> Self {
        ThreadCell { key }
    }

    /// [`NtsCell::with_leaf`] on this thread's value.
    ///
    /// # Safety
    /// As [`NtsCell::with_leaf`].
    #[inline(always)]
    pub unsafe fn with_leaf<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.key
            // SAFETY: forwarded caller's contract.
            .try_with(|c| unsafe { c.with_leaf(f) })
            .ok()
            .flatten()
    }

    /// [`NtsCell::with`] on this thread's value.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.key.try_with(|c| c.with(f)).ok().flatten()
    }

    /// [`NtsCell::recover`] on this thread's value.
    ///
    /// # Safety
    /// As [`NtsCell::recover`].
    pub unsafe fn recover(&self) -> bool {
        self.key
            // SAFETY: forwarded caller's contract.
            .try_with(|c| unsafe { c.recover() })
            .unwrap_or(false)
    }
}

/// The type [`per_thread!`] declares: an [`NtsCell`] in NTS builds, a
/// [`ThreadCell`] in ZTS builds. For code that holds a reference to one.
#[cfg(not(php_zts))]
pub type PerThread<T> = NtsCell<T>;
/// The type [`per_thread!`] declares: an [`NtsCell`] in NTS builds, a
/// [`ThreadCell`] in ZTS builds. For code that holds a reference to one.
#[cfg(php_zts)]
pub type PerThread<T> = ThreadCell<T>;

/// Declares request-side state, one value per PHP thread (see the module
/// docs): `per_thread! { pub static NAME: Type = const_initial_value; }`.
#[macro_export]
macro_rules! per_thread {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(php_zts))]
        $(#[$attr])*
        $vis static $name: $crate::zend::nts::NtsCell<$ty> = $crate::zend::nts::NtsCell::new($init);
        #[cfg(php_zts)]
        $(#[$attr])*
        $vis static $name: $crate::zend::nts::ThreadCell<$ty> = {
            ::std::thread_local! {
                static CELL: $crate::zend::nts::NtsCell<$ty> =
                    const { $crate::zend::nts::NtsCell::new($init) };
            }
            $crate::zend::nts::ThreadCell::new(&CELL)
        };
    };
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
    fn each_thread_has_its_own_value() {
        std::thread_local! {
            static CELL: NtsCell<Vec<u32>> = const { NtsCell::new(Vec::new()) };
        }
        static STATE: ThreadCell<Vec<u32>> = ThreadCell::new(&CELL);
        let run = |n: u32| {
            move || {
                for i in 0..1000 {
                    assert!(STATE.with(|v| v.push(n * 10_000 + i)).is_some());
                    std::thread::yield_now();
                }
                // Re-entry is refused on a thread's own value.
                assert_eq!(STATE.with(|_| STATE.with(|_| ())), Some(None));
                STATE.with(|v| v.clone()).unwrap()
            }
        };
        let a = std::thread::spawn(run(1));
        let b = std::thread::spawn(run(2));
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        assert_eq!(a, (0..1000).map(|i| 10_000 + i).collect::<Vec<_>>());
        assert_eq!(b, (0..1000).map(|i| 20_000 + i).collect::<Vec<_>>());
        assert_eq!(STATE.with(|v| v.len()), Some(0), "the test thread's own");
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
