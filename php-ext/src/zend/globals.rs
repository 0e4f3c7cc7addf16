//! Read-only access to engine globals (SG, sapi_module, the version).
//!
//! Each accessor copies out what it needs; no reference to a global
//! outlives the call, so nothing here can alias a write PHP makes later.
//! The reads themselves happen in the shim: SG() is per-thread in a ZTS
//! PHP, which only the C macros know how to reach.

use super::ffi;
use super::zval::zstr_lossy;
use std::ffi::CStr;
use std::sync::OnceLock;

fn cstr_opt(p: *const std::ffi::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: SAPI strings are NUL-terminated C strings or null.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The SAPI's name (`cli`, `cgi-fcgi`, `fpm-fcgi`, `apache2handler`…).
pub fn sapi_name() -> String {
    // SAFETY: sapi_module is initialised before any module is loaded.
    cstr_opt(unsafe { ffi::seraph_sapi_name() }).unwrap_or_default()
}

/// True for the command-line SAPIs.
pub fn is_cli() -> bool {
    matches!(sapi_name().as_str(), "cli" | "phpdbg" | "embed")
}

/// What the SAPI knows about the current request.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    /// `REQUEST_METHOD`.
    pub method: Option<String>,
    /// `REQUEST_URI` (with query string).
    pub request_uri: Option<String>,
    /// The script path as given (CLI) or translated (web).
    pub path_translated: Option<String>,
    /// Query string.
    pub query_string: Option<String>,
}

fn raw_request_info() -> ffi::seraph_request_info {
    // SAFETY: plain data, filled by the shim from SG(request_info) (valid
    // during a request; fields are C strings or null).
    unsafe {
        let mut ri: ffi::seraph_request_info = std::mem::zeroed();
        ffi::seraph_request_info_read(&mut ri);
        ri
    }
}

/// Reads SG(request_info).
pub fn request_info() -> RequestInfo {
    let ri = raw_request_info();
    RequestInfo {
        method: cstr_opt(ri.request_method),
        request_uri: cstr_opt(ri.request_uri),
        path_translated: cstr_opt(ri.path_translated),
        query_string: cstr_opt(ri.query_string),
    }
}

/// The CLI script as given on the command line (`argv[0]` of the script).
pub fn cli_script() -> Option<String> {
    cstr_opt(raw_request_info().argv0)
}

/// The HTTP response code set so far (0 when none).
pub fn response_code() -> i32 {
    // SAFETY: plain int field of SG(sapi_headers).
    unsafe { ffi::seraph_response_code() }
}

/// The response Content-Type, if the script or SAPI set one.
pub fn response_mimetype() -> Option<String> {
    // SAFETY: a C string or null.
    cstr_opt(unsafe { ffi::seraph_sapi_mimetype() })
}

/// `$_SERVER[name]` as a string.
pub fn server_var(name: &str) -> Option<String> {
    // SAFETY: the shim arms the auto-global and returns a borrowed string
    // (or null) that we copy at once.
    unsafe { zstr_lossy(ffi::seraph_server_var(name.as_ptr().cast(), name.len())) }
}

/// The error_reporting level in force.
pub fn error_reporting() -> i64 {
    // SAFETY: plain int read of EG(error_reporting).
    i64::from(unsafe { ffi::seraph_error_reporting() })
}

/// The running engine's version (`8.2.36`), which is what the agent
/// reports: it may differ from the headers the extension was built
/// against (a PHP patch release installed without rebuilding it).
pub fn php_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        // SAFETY: a static C string of the engine (or of the shim).
        cstr_opt(unsafe { ffi::seraph_runtime_version() }).unwrap_or_default()
    })
}

/// The PHP version, module API and thread safety the extension was built
/// for (`PHP 8.5.4, API 20250925, ZTS`), for `php --ri newrelic`.
pub fn built_for() -> String {
    let version = std::str::from_utf8(ffi::PHP_VERSION)
        .unwrap_or("")
        .trim_end_matches('\0');
    let ts = if cfg!(php_zts) { "ZTS" } else { "NTS" };
    format!("PHP {version}, API {}, {ts}", ffi::ZEND_MODULE_API_NO)
}
