//! A word of a user function's run-time cache that belongs to the
//! extension: PHP hands out such op_array extension handles in MINIT, and
//! the cache (per request, per function) has room for each of them. A
//! value kept there is found from a frame without any hash look-up.

use std::sync::atomic::{AtomicI32, Ordering};

use super::ffi;

/// One reserved run-time cache word (a negative handle: none reserved).
pub struct RuntimeSlot(AtomicI32);

impl RuntimeSlot {
    pub const fn unreserved() -> Self {
        Self(AtomicI32::new(-1))
    }

    /// Keeps the handle PHP handed out in MINIT (negative: none).
    pub fn reserve(&self, handle: i32) {
        self.0.store(handle, Ordering::Relaxed);
    }

    /// The handle, for the shim's calls that take it (negative: none).
    pub fn handle(&self) -> i32 {
        self.0.load(Ordering::Relaxed)
    }

    /// The word of the function running in `ex`, if a handle was reserved
    /// and the function has its run-time cache.
    ///
    /// # Safety
    /// `ex` must be the live frame of a user function PHP is initialising
    /// or observing; its cache, when present, has room for every handle
    /// handed out in MINIT.
    #[inline(always)]
    pub unsafe fn of_frame(&self, ex: *mut ffi::zend_execute_data) -> Option<*mut usize> {
        let h = self.handle();
        // SAFETY: the caller's contract: `ex` is a live frame.
        let cache = unsafe { (*ex).run_time_cache };
        if h < 0 || cache.is_null() {
            return None;
        }
        // SAFETY: the cache has room for every handle (caller's contract).
        Some(unsafe { cache.add(h as usize) }.cast::<usize>())
    }
}
