//! The `zend_module_entry` and the function table PHP reads from
//! `get_module()`.

use super::ffi;
use std::ffi::{c_char, c_int, CStr};
use std::sync::OnceLock;

/// A PHP function the module exports.
pub struct FnDef {
    /// Function name.
    pub name: &'static CStr,
    /// The handler (an `extern "C"` entry point wrapped in a guard).
    pub handler: unsafe extern "C" fn(*mut ffi::zend_execute_data, *mut ffi::zval),
    /// Number of required arguments.
    pub required: u32,
    /// Argument names (for reflection and named arguments).
    pub args: &'static [&'static CStr],
    /// Bit `i` set: argument `i` is passed by reference.
    pub by_ref: u32,
}

/// The lifecycle callbacks.
pub struct Hooks {
    /// MINIT.
    pub minit: unsafe extern "C" fn(c_int, c_int) -> ffi::zend_result,
    /// MSHUTDOWN.
    pub mshutdown: unsafe extern "C" fn(c_int, c_int) -> ffi::zend_result,
    /// RINIT.
    pub rinit: unsafe extern "C" fn(c_int, c_int) -> ffi::zend_result,
    /// RSHUTDOWN.
    pub rshutdown: unsafe extern "C" fn(c_int, c_int) -> ffi::zend_result,
    /// MINFO.
    pub minfo: unsafe extern "C" fn(*mut ffi::zend_module_entry),
}

struct Entry(*mut ffi::zend_module_entry);
// SAFETY: the entry is created once, leaked, and thereafter only read by
// PHP (and written by PHP at startup, on one thread).
unsafe impl Sync for Entry {}
// SAFETY: as above.
unsafe impl Send for Entry {}

static ENTRY: OnceLock<Entry> = OnceLock::new();

/// Method tables handed to PHP, kept reachable for the life of the
/// process (PHP copies the entries; valgrind would call the leaked table
/// lost otherwise).
static METHOD_TABLES: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// A leaked, terminated method table for an internal class: every method
/// public.
pub fn method_table(fns: &'static [FnDef]) -> *const ffi::zend_function_entry {
    let t = table_with_flags(fns, ffi::ZEND_ACC_PUBLIC);
    if let Ok(mut kept) = METHOD_TABLES.lock() {
        kept.push(t as usize);
    }
    t
}

fn function_table(fns: &'static [FnDef]) -> *const ffi::zend_function_entry {
    table_with_flags(fns, 0)
}

fn table_with_flags(fns: &'static [FnDef], flags: u32) -> *const ffi::zend_function_entry {
    let mut table: Vec<ffi::zend_function_entry> = Vec::with_capacity(fns.len() + 1);
    for f in fns {
        let mut info: Vec<ffi::zend_internal_arg_info> = Vec::with_capacity(f.args.len() + 1);
        // The first element describes the function: `name` holds the number
        // of required arguments (ZEND_BEGIN_ARG_INFO_EX), no return type.
        info.push(ffi::zend_internal_arg_info {
            name: f.required as usize as *const c_char,
            type_: ffi::zend_type {
                ptr: std::ptr::null_mut(),
                type_mask: 0,
            },
            default_value: std::ptr::null(),
        });
        for (i, a) in f.args.iter().enumerate() {
            // ZEND_ARG_SEND_MODE: by-reference is a flag above the type bits.
            let send_mode = if f.by_ref & (1 << i) != 0 {
                1u32 << ffi::_ZEND_SEND_MODE_SHIFT
            } else {
                0
            };
            info.push(ffi::zend_internal_arg_info {
                name: a.as_ptr(),
                type_: ffi::zend_type {
                    ptr: std::ptr::null_mut(),
                    type_mask: send_mode,
                },
                default_value: std::ptr::null(),
            });
        }
        // SAFETY: zend_function_entry is plain data; zeroing covers the
        // fields later PHP versions add (flags, frameless infos, doc
        // comment) before we set the ones every version has.
        let mut e: ffi::zend_function_entry = unsafe { std::mem::zeroed() };
        e.fname = f.name.as_ptr();
        e.handler = Some(f.handler);
        e.arg_info = Box::leak(info.into_boxed_slice()).as_ptr();
        e.num_args = f.args.len() as u32;
        e.flags = flags;
        table.push(e);
    }
    // SAFETY: the all-zero entry is ZEND_FE_END.
    table.push(unsafe { std::mem::zeroed() });
    Box::leak(table.into_boxed_slice()).as_ptr()
}

/// Builds (once) and returns the module entry.
pub fn entry(
    name: &'static CStr,
    version: &'static CStr,
    fns: &'static [FnDef],
    hooks: &Hooks,
) -> *mut ffi::zend_module_entry {
    ENTRY
        .get_or_init(|| {
            // SAFETY: zend_module_entry is plain data; zero is the value
            // STANDARD_MODULE_PROPERTIES gives every field we do not set.
            let mut m: ffi::zend_module_entry = unsafe { std::mem::zeroed() };
            m.size = std::mem::size_of::<ffi::zend_module_entry>() as u16;
            m.zend_api = ffi::ZEND_MODULE_API_NO;
            m.zend_debug = ffi::ZEND_DEBUG as u8;
            m.zts = u8::from(cfg!(php_zts));
            m.name = name.as_ptr();
            m.functions = function_table(fns);
            m.module_startup_func = Some(hooks.minit);
            m.module_shutdown_func = Some(hooks.mshutdown);
            m.request_startup_func = Some(hooks.rinit);
            m.request_shutdown_func = Some(hooks.rshutdown);
            m.info_func = Some(hooks.minfo);
            m.version = version.as_ptr();
            // SAFETY: returns a pointer to a static string in the shim.
            m.build_id = unsafe { ffi::seraph_module_build_id() };
            Entry(Box::into_raw(Box::new(m)))
        })
        .0
}
