//! Registering the `newrelic.*` INI entries and reading them back.
//!
//! The entry definitions are built once per process from
//! [`crate::config::INI_DEFS`] and leaked (PHP keeps pointers to them while
//! the module is loaded, and an Apache reload re-runs MINIT with the same
//! table). Every change PHP makes to one of our entries (startup, per-dir,
//! `ini_set`, the restore at request end) bumps [`generation`], so the
//! request start only re-reads and re-validates the settings when something
//! actually changed.

use super::ffi;
use crate::config::{Modifiable, RawIni, INI_DEFS};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Changes whenever PHP modified one of our INI entries.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

struct Defs(Vec<ffi::zend_ini_entry_def>);
// SAFETY: the table is built once (MINIT, one thread), immutable afterwards
// and only read; the raw pointers inside point to leaked CStrings.
unsafe impl Sync for Defs {}
// SAFETY: as above.
unsafe impl Send for Defs {}

static DEFS: OnceLock<Defs> = OnceLock::new();

unsafe extern "C" fn on_modify(
    _entry: *mut ffi::zend_ini_entry,
    _new_value: *mut ffi::zend_string,
    _a1: *mut c_void,
    _a2: *mut c_void,
    _a3: *mut c_void,
    _stage: c_int,
) -> c_int {
    GENERATION.fetch_add(1, Ordering::Relaxed);
    ffi::SUCCESS
}

/// Shows the license redacted in phpinfo() / `php --ri`.
unsafe extern "C" fn license_displayer(entry: *mut ffi::zend_ini_entry, ty: c_int) {
    super::guard::guard("license displayer", (), || {
        // SAFETY: PHP passes a valid entry; value/orig_value are
        // zend_strings or null.
        let value = unsafe {
            let e = &*entry;
            let v = if ty == ffi::ZEND_INI_DISPLAY_ORIG as c_int && e.modified != 0 {
                e.orig_value
            } else {
                e.value
            };
            super::zval::zstr_lossy(v).unwrap_or_default()
        };
        let shown = if value.is_empty() {
            "no value".to_owned()
        } else {
            crate::config::redact_license(&value)
        };
        // SAFETY: prints a buffer of known length.
        unsafe { ffi::seraph_print(shown.as_ptr().cast(), shown.len()) };
    });
}

fn defs() -> &'static Defs {
    DEFS.get_or_init(|| {
        let mut v: Vec<ffi::zend_ini_entry_def> = INI_DEFS
            .iter()
            .map(|d| {
                let name = CString::new(d.name).unwrap_or_default();
                let value = CString::new(d.default).unwrap_or_default();
                let name_length = name.as_bytes().len() as u16;
                let value_length = value.as_bytes().len() as u32;
                ffi::zend_ini_entry_def {
                    name: name.into_raw(),
                    on_modify: Some(on_modify),
                    mh_arg1: std::ptr::null_mut(),
                    mh_arg2: std::ptr::null_mut(),
                    mh_arg3: std::ptr::null_mut(),
                    value: value.into_raw(),
                    displayer: if d.name == "newrelic.license" {
                        Some(license_displayer)
                    } else {
                        None
                    },
                    value_length,
                    name_length,
                    modifiable: match d.modifiable {
                        Modifiable::All => ffi::ZEND_INI_ALL as u8,
                        Modifiable::System => ffi::ZEND_INI_SYSTEM as u8,
                    },
                }
            })
            .collect();
        // The terminator: an all-zero entry.
        // SAFETY: zend_ini_entry_def is plain data; all-zero is its
        // documented end marker.
        v.push(unsafe { std::mem::zeroed() });
        Defs(v)
    })
}

/// Registers every entry (MINIT).
pub fn register(module_number: c_int) -> bool {
    // SAFETY: the table is terminated and lives for the process.
    unsafe { ffi::zend_register_ini_entries(defs().0.as_ptr(), module_number) == ffi::SUCCESS }
}

/// Unregisters them (MSHUTDOWN).
pub fn unregister(module_number: c_int) {
    // SAFETY: plain engine call with our module number.
    unsafe { ffi::zend_unregister_ini_entries(module_number) };
}

/// Reads current values through `zend_ini_string_ex`.
pub struct PhpIni;

impl RawIni for PhpIni {
    fn get(&self, name: &str) -> Option<String> {
        let mut exists = false;
        // SAFETY: name/len describe a valid buffer; the result is a C
        // string owned by the INI entry (copied at once) or null.
        let p: *mut c_char =
            unsafe { ffi::zend_ini_string_ex(name.as_ptr().cast(), name.len(), 0, &mut exists) };
        if !exists || p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string from the engine.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    fn is_set(&self, name: &str) -> bool {
        // SAFETY: name/len describe a valid buffer; plain hash lookups.
        unsafe { ffi::seraph_ini_set_by_user(name.as_ptr().cast(), name.len()) != 0 }
    }
}
