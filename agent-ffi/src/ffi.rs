//! Crossing the C ABI safely: every entry point runs inside [`guard`], so
//! a panic becomes a logged refusal instead of unwinding into C; strings
//! are read with their NULL, UTF-8 and length checks in one place; handles
//! carry a tag that catches a pointer of the wrong kind.

use std::cell::UnsafeCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Names (transactions, segments, categories, metrics, products, event
/// types) longer than this are refused: New Relic keeps at most 255 bytes
/// of a metric or event name.
pub const NAME_LIMIT: usize = 255;

/// Runs `f`; a panic is logged and `fallback` returned.
pub fn guard<T>(api: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            // Logging itself must not panic again here.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                tracing::error!("{api}: internal error ({why}); the call did nothing");
            }));
            fallback
        }
    }
}

/// A mutex on a `pthread_mutex_t`. The library's shared state (the daemon
/// client, an application's run, a transaction, the log) is guarded by
/// these rather than by `std::sync::Mutex`, whose futex the race detectors
/// of valgrind (helgrind, DRD) cannot see: with pthread mutexes they check
/// the library's locking like any C library's. A panic while it is held
/// unlocks it on the way out (the guard's drop); the data stays usable, as
/// every update is a single assignment or push.
///
/// It must not move once locked: it lives in statics and inside `Arc`s.
pub struct PMutex<T> {
    raw: UnsafeCell<libc::pthread_mutex_t>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the pthread mutex.
unsafe impl<T: Send> Send for PMutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for PMutex<T> {}

impl<T> PMutex<T> {
    /// An unlocked mutex holding `v`.
    pub const fn new(v: T) -> Self {
        PMutex {
            raw: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
            data: UnsafeCell::new(v),
        }
    }
}

impl<T> Drop for PMutex<T> {
    fn drop(&mut self) {
        // SAFETY: nothing holds the mutex (we own it exclusively).
        unsafe { libc::pthread_mutex_destroy(self.raw.get()) };
    }
}

/// Holds a [`PMutex`] locked.
pub struct PGuard<'a, T> {
    m: &'a PMutex<T>,
}

impl<T> std::ops::Deref for PGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held for the guard's lifetime.
        unsafe { &*self.m.data.get() }
    }
}

impl<T> std::ops::DerefMut for PGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held, and the guard is borrowed mutably.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T> Drop for PGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard locked it.
        unsafe { libc::pthread_mutex_unlock(self.m.raw.get()) };
    }
}

/// Locks `m` (a default mutex: never recursive, so a guard is never taken
/// twice by one thread: no function here calls back into the API).
pub fn lock<T>(m: &PMutex<T>) -> PGuard<'_, T> {
    // SAFETY: a valid, initialised mutex that does not move while locked.
    unsafe { libc::pthread_mutex_lock(m.raw.get()) };
    PGuard { m }
}

/// Why a string argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadStr {
    /// NULL where a string is required.
    Null,
    /// Not UTF-8.
    NotUtf8,
    /// Longer than its limit.
    TooLong(usize),
}

impl std::fmt::Display for BadStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadStr::Null => f.write_str("is NULL"),
            BadStr::NotUtf8 => f.write_str("is not valid UTF-8"),
            BadStr::TooLong(n) => write!(f, "is longer than {n} bytes"),
        }
    }
}

/// A string argument: `Ok(None)` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for
/// `'a`.
pub unsafe fn opt_str<'a>(p: *const c_char, limit: usize) -> Result<Option<&'a str>, BadStr> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    if bytes.len() > limit {
        return Err(BadStr::TooLong(limit));
    }
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| BadStr::NotUtf8)
}

/// A required string argument; NULL is an error.
///
/// # Safety
/// As [`opt_str`].
pub unsafe fn req_str<'a>(p: *const c_char, limit: usize) -> Result<&'a str, BadStr> {
    // SAFETY: forwarded from the caller.
    unsafe { opt_str(p, limit) }?.ok_or(BadStr::Null)
}

/// [`opt_str`] that logs a refusal: `Err(())` after logging
/// `<api>: <what> <why>`.
///
/// # Safety
/// As [`opt_str`].
#[allow(clippy::result_unit_err)]
pub unsafe fn arg<'a>(
    api: &str,
    what: &str,
    p: *const c_char,
    limit: usize,
) -> Result<Option<&'a str>, ()> {
    // SAFETY: forwarded from the caller.
    unsafe { opt_str(p, limit) }.map_err(|e| tracing::error!("{api}: {what} {e}"))
}

/// [`req_str`] that logs a refusal.
///
/// # Safety
/// As [`opt_str`].
#[allow(clippy::result_unit_err)]
pub unsafe fn req_arg<'a>(
    api: &str,
    what: &str,
    p: *const c_char,
    limit: usize,
) -> Result<&'a str, ()> {
    // SAFETY: forwarded from the caller.
    unsafe { req_str(p, limit) }.map_err(|e| tracing::error!("{api}: {what} {e}"))
}

/// The text of a fixed-size `char` array of a C struct: up to its first
/// NUL, which must be inside the array.
pub fn array_str(a: &[c_char]) -> Result<&str, BadStr> {
    // SAFETY: c_char and u8 have the same size and alignment; the slice
    // covers the same memory.
    let bytes = unsafe { std::slice::from_raw_parts(a.as_ptr().cast::<u8>(), a.len()) };
    let end = bytes
        .iter()
        .position(|b| *b == 0)
        .ok_or(BadStr::TooLong(a.len() - 1))?;
    std::str::from_utf8(&bytes[..end]).map_err(|_| BadStr::NotUtf8)
}

/// Copies `s` into a fixed-size `char` array, cut to fit with its NUL.
pub fn fill_array(a: &mut [c_char], s: &str) {
    let n = s.len().min(a.len().saturating_sub(1));
    for (d, b) in a.iter_mut().zip(s.as_bytes()[..n].iter()) {
        *d = *b as c_char;
    }
    for d in a.iter_mut().skip(n) {
        *d = 0;
    }
}

/// A string the caller frees with `free()`: allocated with `malloc`.
pub fn malloc_string(s: &str) -> *mut c_char {
    // SAFETY: malloc of len+1 bytes; NULL is checked.
    let p = unsafe { libc::malloc(s.len() + 1) }.cast::<u8>();
    if p.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `p` has room for the bytes and the NUL; the regions differ.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        *p.add(s.len()) = 0;
    }
    p.cast()
}

/// Tags that open every handle struct, so a pointer to the wrong kind of
/// handle (or to one already freed and reused) is refused, not trusted.
pub mod tag {
    /// `newrelic_app_t`.
    pub const APP: u64 = 0x5345_5241_5048_4150;
    /// `newrelic_txn_t`.
    pub const TXN: u64 = 0x5345_5241_5048_5458;
    /// `newrelic_segment_t`.
    pub const SEGMENT: u64 = 0x5345_5241_5048_5347;
    /// `newrelic_custom_event_t`.
    pub const EVENT: u64 = 0x5345_5241_5048_4556;
    /// Written over a tag when the handle is freed.
    pub const FREED: u64 = 0;
}

/// A handle behind a C pointer: `None` for NULL or a pointer whose tag is
/// not `tag` (logged).
///
/// # Safety
/// `p` is NULL or points to a live `T` made by this library whose first
/// field is its `u64` tag.
pub unsafe fn handle<'a, T>(api: &str, p: *const T, want: u64) -> Option<&'a T> {
    if p.is_null() {
        tracing::error!("{api}: the handle is NULL");
        return None;
    }
    // SAFETY: the caller guarantees a live handle whose first field is a u64.
    let got = unsafe { p.cast::<u64>().read() };
    if got != want {
        tracing::error!("{api}: the handle is not one this call takes (or was already freed)");
        return None;
    }
    // SAFETY: tag checked; the caller guarantees it is live.
    Some(unsafe { &*p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_checked() {
        // SAFETY: literals are NUL-terminated and static.
        unsafe {
            assert_eq!(opt_str(std::ptr::null(), 10), Ok(None));
            assert_eq!(opt_str(c"abc".as_ptr(), 10), Ok(Some("abc")));
            assert_eq!(opt_str(c"abcdef".as_ptr(), 3), Err(BadStr::TooLong(3)));
            assert_eq!(opt_str(c"a\xffb".as_ptr(), 10), Err(BadStr::NotUtf8));
            assert_eq!(req_str(std::ptr::null(), 10), Err(BadStr::Null));
        }
    }

    #[test]
    fn arrays_need_their_nul() {
        let mut a = [0 as c_char; 4];
        fill_array(&mut a, "abcdef");
        assert_eq!(array_str(&a), Ok("abc"));
        let full = [b'x' as c_char; 4];
        assert!(array_str(&full).is_err());
    }

    #[test]
    fn the_mutex_serialises_and_survives_a_panic() {
        let m = std::sync::Arc::new(PMutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        *lock(&m) += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock(&m), 4000);
        guard("t", (), || {
            let _g = lock(&m);
            panic!("while locked");
        });
        assert_eq!(*lock(&m), 4000, "unlocked by the unwind");
    }

    #[test]
    fn a_panic_becomes_the_fallback() {
        assert_eq!(guard("t", 7, || panic!("boom")), 7);
        assert_eq!(guard("t", 7, || 1), 1);
    }
}
