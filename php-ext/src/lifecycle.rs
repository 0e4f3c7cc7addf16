//! The PHP lifecycle hooks. Each phase's rule is written above its hook.
//!
//! Every hook is an `extern "C"` entry point whose body runs inside
//! [`guard`], so a panic disables the agent instead of unwinding into PHP.

use crate::config::{AgentSettings, INI_DEFS};
use crate::zend::ffi;
use crate::zend::guard::{self, guard};
use crate::zend::{globals, ini, module};
use std::ffi::{c_int, CStr, CString};
use std::sync::atomic::{AtomicI32, Ordering};

static MODULE_NUMBER: AtomicI32 = AtomicI32::new(0);

/// The module entry PHP asks for in `get_module()`.
pub fn module_entry() -> *mut ffi::zend_module_entry {
    static VERSION: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    let version = VERSION.get_or_init(|| CString::new(crate::AGENT_VERSION).unwrap_or_default());
    // SAFETY: the CString lives in a static for the rest of the process.
    let version: &'static CStr = unsafe { &*(version.as_c_str() as *const CStr) };
    module::entry(
        c"newrelic",
        version,
        crate::api::FUNCTIONS,
        &module::Hooks {
            minit,
            mshutdown,
            rinit,
            rshutdown,
            minfo,
        },
    )
}

/// MINIT: may run more than once (Apache reload) and runs before php-fpm
/// forks its workers, so it only registers things with the engine. No
/// threads, no sockets, no files are opened here.
unsafe extern "C" fn minit(_type: c_int, module_number: c_int) -> ffi::zend_result {
    MODULE_NUMBER.store(module_number, Ordering::Relaxed);
    guard("MINIT", ffi::SUCCESS, || {
        crate::log::install();
        guard::install_panic_hook();
        if !ini::register(module_number) {
            tracing::error!("could not register the newrelic.* INI entries");
        }
        // Observers can only be registered now. An observer that is
        // registered at all makes PHP take its slower observed call path
        // for every function (about 1.4x on fib(30)), even for functions it
        // then declines; so with `transaction_tracer.detail = 0`, no
        // custom functions in php.ini and no library rows for PHP code or
        // files in the instrumentation table, none is registered.
        // (Per-directory values cannot turn it on later.)
        let (settings, _) = AgentSettings::resolve(&ini::PhpIni);
        let wants_observer = settings.tt_detail >= 1
            || !settings.tt_custom.is_empty()
            || !settings.name_functions.is_empty()
            || !settings.name_files.is_empty()
            || crate::hooks::user::any_rows();
        if settings.enabled && wants_observer {
            crate::hooks::observer::register();
        }
        crate::hooks::errors::register();
        crate::api::register_classes();
        // SAFETY: MINIT; the callback is an extern "C" fn with a guard.
        unsafe { ffi::seraph_post_startup_install(Some(post_startup)) };
        ffi::SUCCESS
    })
}

/// Post-startup: every module has started, no request has. Wraps the
/// instrumented internal functions (shared by all threads of a ZTS PHP,
/// so they are changed now, on one thread, and never while requests run).
unsafe extern "C" fn post_startup() -> c_int {
    guard("post-startup", 0, || {
        crate::hooks::wrap::install();
        0
    })
}

/// MSHUTDOWN: the process is going away; unregister what MINIT registered
/// and release the process-wide tables built since (memory checkers then
/// see the extension end owning nothing it built).
unsafe extern "C" fn mshutdown(_type: c_int, module_number: c_int) -> ffi::zend_result {
    guard("MSHUTDOWN", ffi::SUCCESS, || {
        crate::hooks::errors::unregister();
        crate::hooks::wrap::forget();
        crate::hooks::user::forget();
        crate::hooks::observer::forget();
        crate::libs::wordpress::forget();
        ini::unregister(module_number);
        ffi::SUCCESS
    })
}

/// RINIT: resets per-request state and starts the transaction.
unsafe extern "C" fn rinit(_type: c_int, _module_number: c_int) -> ffi::zend_result {
    let r = guard("RINIT", ffi::SUCCESS, || {
        crate::request::rinit();
        ffi::SUCCESS
    });
    // Creating $_SERVER may have hit the memory limit.
    crate::zend::reraise_pending_bailout();
    r
}

/// RSHUTDOWN: finishes the transaction and sends it.
unsafe extern "C" fn rshutdown(_type: c_int, _module_number: c_int) -> ffi::zend_result {
    let r = guard("RSHUTDOWN", ffi::SUCCESS, || {
        crate::request::rshutdown();
        ffi::SUCCESS
    });
    crate::zend::reraise_pending_bailout();
    r
}

fn info_row(key: &str, value: &str) {
    let k = CString::new(key).unwrap_or_default();
    let v = CString::new(value).unwrap_or_default();
    // SAFETY: two NUL-terminated strings for a 2-column row.
    unsafe { ffi::php_info_print_table_row(2, k.as_ptr(), v.as_ptr()) };
}

/// MINFO: `php --ri newrelic` and phpinfo(): version, state, settings.
unsafe extern "C" fn minfo(zend_module: *mut ffi::zend_module_entry) {
    guard("MINFO", (), || {
        let (settings, _) = AgentSettings::resolve(&ini::PhpIni);
        // SAFETY: table helpers print to the output; no arguments.
        unsafe { ffi::php_info_print_table_start() };
        info_row(
            "New Relic RPM Monitoring",
            if settings.enabled && !guard::disabled() {
                "enabled"
            } else {
                "disabled"
            },
        );
        info_row("New Relic Version", crate::AGENT_VERSION);
        info_row("Seraph Version", crate::SERAPH_VERSION);
        info_row("Built for", &globals::built_for());
        info_row("Running on", &format!("PHP {}", globals::php_version()));
        info_row("SAPI", &globals::sapi_name());
        info_row("INI settings", &INI_DEFS.len().to_string());
        info_row("Hot-path clock", &crate::clock::describe());
        // SAFETY: as above.
        unsafe { ffi::php_info_print_table_end() };
        // SAFETY: PHP passed us our own module entry.
        unsafe { ffi::display_ini_entries(zend_module) };
    });
}
