//! Generates the Zend engine bindings and compiles the small C shim.
//!
//! `php-config` (override with `PHP_CONFIG`) supplies the include paths and
//! the version number; bindgen runs with an explicit allowlist so the
//! generated module stays small and reviewable; `src/zend/shim.c` holds only
//! what bindgen cannot express (macros, inline functions, `zend_try`) and
//! every read of an engine global (per-thread in ZTS PHP). Each PHP feature
//! difference becomes a declared cfg flag instead of a run-time version
//! check; `php_zts` marks a thread-safe PHP (see `src/zend/nts.rs`).

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn php_config(arg: &str) -> String {
    let tool = env::var("PHP_CONFIG").unwrap_or_else(|_| "php-config".to_owned());
    let out = Command::new(&tool).arg(arg).output().unwrap_or_else(|e| {
        panic!("cannot run {tool} {arg}: {e}; install php-dev or set PHP_CONFIG")
    });
    assert!(out.status.success(), "{tool} {arg} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Functions the extension calls. Everything else stays out of the bindings.
const FUNCTIONS: &[&str] = &[
    "zend_observer_fcall_register",
    "zend_observer_error_register",
    "zend_observer_fiber_switch_register",
    "zend_observer_fiber_destroy_register",
    "zend_register_ini_entries",
    "zend_unregister_ini_entries",
    "zend_ini_string_ex",
    "display_ini_entries",
    "php_info_print_table_start",
    "php_info_print_table_end",
    "php_info_print_table_header",
    "php_info_print_table_row",
    "zend_hash_str_find",
    "zend_hash_find",
    "zend_hash_index_find",
    "zend_hash_str_update",
    "zend_hash_next_index_insert",
    "zend_parse_parameters",
    "zend_register_internal_class",
    "zend_wrong_parameters_count_error",
    "zend_get_executed_lineno",
    "zend_get_executed_filename",
    "zend_is_auto_global_str",
    "zend_read_property",
    "instanceof_function_slow",
    "zend_lookup_class",
    "zend_string_tolower_ex",
    "_emalloc",
    "_efree",
    "zend_strpprintf",
    "_zend_new_array",
    "zend_array_destroy",
    "zval_ptr_dtor",
    "add_next_index_stringl",
    "add_assoc_stringl_ex",
    "add_assoc_long_ex",
    "add_assoc_bool_ex",
    "add_assoc_zval_ex",
    "zend_error",
    "php_log_err_with_severity",
    "zend_get_module_version",
    "zend_get_constant_str",
];

const TYPES: &[&str] = &[
    "zend_module_entry",
    "zend_function_entry",
    "zend_internal_arg_info",
    "zend_ini_entry_def",
    "zend_ini_entry",
    "zend_execute_data",
    "zend_function",
    "zend_op_array",
    "zend_internal_function",
    "zend_string",
    "zval",
    "zend_array",
    "HashTable",
    "Bucket",
    "zend_object",
    "zend_class_entry",
    "zend_observer_fcall_handlers",
    "zend_executor_globals",
    "sapi_globals_struct",
    "sapi_module_struct",
    "php_core_globals",
    "zif_handler",
    "zend_fcall_info",
    "zend_fcall_info_cache",
    "zend_result",
];

/// Constants. No engine variable is read from Rust: the shim reads them
/// (per-thread globals in ZTS PHP, weak references; see shim.c).
const VARS: &[&str] = &[
    "ZEND_MODULE_API_NO",
    "PHP_VERSION_ID",
    "PHP_VERSION",
    "ZEND_DEBUG",
    "ZEND_USER_FUNCTION",
    "ZEND_INTERNAL_FUNCTION",
    "ZEND_ACC_.*",
    "ZEND_INI_.*",
    "IS_.*",
    "E_.*",
    "SUCCESS",
    "FAILURE",
    "ZEND_CALL_.*",
    "TRACK_VARS_.*",
    "_ZEND_SEND_MODE_SHIFT",
    "_ZEND_TYPE_EXTRA_FLAGS_SHIFT",
];

fn main() {
    println!("cargo:rerun-if-changed=src/zend/wrapper.h");
    println!("cargo:rerun-if-changed=src/zend/shim.c");
    println!("cargo:rerun-if-changed=src/zend/shim_api.c");
    println!("cargo:rerun-if-changed=src/zend/shim.h");
    println!("cargo:rerun-if-changed=src/zend/objects.c");
    println!("cargo:rerun-if-changed=src/zend/objects.h");
    println!("cargo:rerun-if-env-changed=PHP_CONFIG");

    let includes = php_config("--includes");
    let vernum: u32 = php_config("--vernum")
        .parse()
        .expect("php-config --vernum is a number");
    let include_args: Vec<String> = includes.split_whitespace().map(str::to_owned).collect();

    // A thread-safe PHP: request state becomes per-thread (src/zend/nts.rs).
    let zts = include_args.iter().any(|inc| {
        let cfg = PathBuf::from(inc.trim_start_matches("-I")).join("main/php_config.h");
        std::fs::read_to_string(cfg)
            .map(|text| text.lines().any(|l| l.trim() == "#define ZTS 1"))
            .unwrap_or(false)
    });

    // Declared cfg flags, one per version-dependent feature.
    for flag in [
        "php81",
        "php82",
        "php83",
        "php84",
        "php85",
        "php_zts",
        "php_observes_internal",
    ] {
        println!("cargo::rustc-check-cfg=cfg({flag})");
    }
    assert!(
        (80100..80600).contains(&vernum),
        "PHP {vernum} is not supported: the extension builds for PHP 8.1 to 8.5"
    );
    for (flag, min) in [
        ("php81", 80100),
        ("php82", 80200),
        ("php83", 80300),
        ("php84", 80400),
        ("php85", 80500),
    ] {
        if vernum >= min {
            println!("cargo:rustc-cfg={flag}");
        }
    }
    // PHP 8.2 calls observer init for internal functions too.
    if vernum >= 80200 {
        println!("cargo:rustc-cfg=php_observes_internal");
    }
    if zts {
        println!("cargo:rustc-cfg=php_zts");
    }
    println!("cargo:rustc-env=SERAPH_PHP_VERNUM={vernum}");
    // Lazy binding (Rust links with `-z now` by default): a PHP of another
    // version may lack a function this build calls; PHP must still be able
    // to dlopen() the library and refuse it with its own message (see the
    // weak data references in shim.c).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,lazy");

    let mut builder = bindgen::Builder::default()
        .header("src/zend/wrapper.h")
        .clang_args(&include_args)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .use_core()
        .prepend_enum_name(false)
        .allowlist_file(".*(shim|objects)\\.h")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for f in FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for t in TYPES {
        builder = builder.allowlist_type(t);
    }
    for v in VARS {
        builder = builder.allowlist_var(v);
    }
    let bindings = builder
        .generate()
        .expect("bindgen failed on the PHP headers");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings
        .write_to_file(out.join("zend_bindings.rs"))
        .expect("write bindings");

    let mut cc = cc::Build::new();
    cc.file("src/zend/shim.c")
        .file("src/zend/shim_api.c")
        .file("src/zend/objects.c")
        .warnings(true)
        .flag_if_supported("-Wno-unused-parameter");
    for inc in &include_args {
        cc.flag(inc);
    }
    cc.compile("seraph_shim");
}
