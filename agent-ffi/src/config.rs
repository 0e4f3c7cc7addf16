//! The C SDK's configuration structs, laid out exactly as `libnewrelic.h`
//! declares them, `newrelic_create_app_config` with the SDK's defaults, and
//! the transaction configuration a validated copy becomes.
//!
//! C `bool` fields are read as `u8` (any non-zero is true) and enum fields
//! as `u32`: a program may store any bit pattern there, and Rust's `bool`
//! and enums must never see an invalid one.

use crate::ffi::{array_str, fill_array, guard};
use seraph_txn::{RecordSql, Threshold, TxnConfig};
use std::ffi::c_char;

/// `datastore_reporting` of `newrelic_transaction_tracer_config_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DatastoreReporting {
    pub enabled: u8,
    pub record_sql: u32,
    pub threshold_us: u64,
}

/// `newrelic_transaction_tracer_config_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TransactionTracerConfig {
    pub enabled: u8,
    pub threshold: u32,
    pub duration_us: u64,
    pub stack_trace_threshold_us: u64,
    pub datastore_reporting: DatastoreReporting,
}

/// `newrelic_datastore_segment_config_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DatastoreSegmentConfig {
    pub instance_reporting: u8,
    pub database_name_reporting: u8,
}

/// `newrelic_distributed_tracing_config_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DistributedTracingConfig {
    pub enabled: u8,
}

/// `newrelic_span_event_config_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SpanEventConfig {
    pub enabled: u8,
}

/// `newrelic_app_config_t`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AppConfig {
    pub app_name: [c_char; 255],
    pub license_key: [c_char; 255],
    pub redirect_collector: [c_char; 100],
    pub log_filename: [c_char; 512],
    pub log_level: u32,
    pub transaction_tracer: TransactionTracerConfig,
    pub datastore_tracer: DatastoreSegmentConfig,
    pub distributed_tracing: DistributedTracingConfig,
    pub span_events: SpanEventConfig,
}

/// `newrelic_datastore_segment_params_t`.
#[repr(C)]
pub struct DatastoreParams {
    pub product: *mut c_char,
    pub collection: *mut c_char,
    pub operation: *mut c_char,
    pub host: *mut c_char,
    pub port_path_or_id: *mut c_char,
    pub database_name: *mut c_char,
    pub query: *mut c_char,
}

/// `newrelic_external_segment_params_t`.
#[repr(C)]
pub struct ExternalParams {
    pub uri: *mut c_char,
    pub procedure: *mut c_char,
    pub library: *mut c_char,
}

/// `NEWRELIC_SQL_OFF`, `_RAW`, `_OBFUSCATED`.
const SQL_OFF: u32 = 0;
const SQL_RAW: u32 = 1;
/// `NEWRELIC_THRESHOLD_IS_OVER_DURATION`.
const THRESHOLD_IS_OVER_DURATION: u32 = 1;
/// License keys are exactly this long.
pub const LICENSE_LEN: usize = 40;
/// The collector the daemon is pointed at when the config names none.
pub const DEFAULT_COLLECTOR: &str = "collector.newrelic.com";

impl AppConfig {
    /// The SDK's defaults for `app_name` and `license_key`.
    pub fn new(app_name: &str, license_key: &str) -> AppConfig {
        let mut c = AppConfig {
            app_name: [0; 255],
            license_key: [0; 255],
            redirect_collector: [0; 100],
            log_filename: [0; 512],
            log_level: 2,
            transaction_tracer: TransactionTracerConfig {
                enabled: 1,
                threshold: 0,
                duration_us: 0,
                stack_trace_threshold_us: 500_000,
                datastore_reporting: DatastoreReporting {
                    enabled: 1,
                    record_sql: 2,
                    threshold_us: 500_000,
                },
            },
            datastore_tracer: DatastoreSegmentConfig {
                instance_reporting: 1,
                database_name_reporting: 1,
            },
            distributed_tracing: DistributedTracingConfig { enabled: 0 },
            span_events: SpanEventConfig { enabled: 1 },
        };
        fill_array(&mut c.app_name, app_name);
        fill_array(&mut c.license_key, license_key);
        c
    }
}

/// A configuration checked and copied out of its C struct.
#[derive(Clone, Debug)]
pub struct Settings {
    pub app_name: String,
    pub license: String,
    pub collector: String,
    pub log_filename: String,
    pub log_level: u32,
    pub txn: TxnConfig,
}

impl Settings {
    /// Validates `c`: a non-empty application name, a 40-character
    /// license key, terminated strings.
    pub fn from_c(c: &AppConfig) -> Result<Settings, String> {
        let field = |name: &str, a: &[c_char]| {
            array_str(a)
                .map(str::to_owned)
                .map_err(|e| format!("config field {name} {e}"))
        };
        let app_name = field("app_name", &c.app_name)?;
        let license = field("license_key", &c.license_key)?;
        let collector = field("redirect_collector", &c.redirect_collector)?;
        let log_filename = field("log_filename", &c.log_filename)?;
        if app_name.trim().is_empty() {
            return Err("app_name is required".into());
        }
        if license.len() != LICENSE_LEN {
            return Err("invalid license key format (it must be 40 characters)".into());
        }
        let tt = &c.transaction_tracer;
        let ds = &tt.datastore_reporting;
        let mut txn = TxnConfig {
            appname: app_name.split(';').next().unwrap_or_default().to_owned(),
            distributed_tracing_enabled: c.distributed_tracing.enabled != 0,
            span_events_enabled: c.span_events.enabled != 0,
            instance_reporting_enabled: c.datastore_tracer.instance_reporting != 0,
            database_name_reporting_enabled: c.datastore_tracer.database_name_reporting != 0,
            // What the C SDK has no notion of stays off.
            autorum_enabled: false,
            synthetics_enabled: false,
            capture_params: false,
            code_level_metrics_enabled: false,
            runtime_metrics: false,
            php_version: String::new(),
            agent_version: crate::SDK_VERSION.to_owned(),
            ..TxnConfig::default()
        };
        txn.application_logging.enabled = false;
        txn.application_logging.forwarding_enabled = false;
        txn.application_logging.metrics_enabled = false;
        let t = &mut txn.transaction_tracer;
        t.enabled = tt.enabled != 0;
        t.threshold = if tt.threshold == THRESHOLD_IS_OVER_DURATION {
            Threshold::Duration(tt.duration_us.saturating_mul(1000))
        } else {
            Threshold::ApdexF
        };
        t.stack_trace_threshold_ns = tt.stack_trace_threshold_us.saturating_mul(1000);
        t.slow_sql = ds.enabled != 0;
        // Unknown values mean obfuscated, as in the C SDK.
        t.record_sql = match ds.record_sql {
            SQL_OFF => RecordSql::Off,
            SQL_RAW => RecordSql::Raw,
            _ => RecordSql::Obfuscated,
        };
        t.explain_threshold_ns = ds.threshold_us.saturating_mul(1000);
        // The C SDK runs no explain plans.
        t.explain_enabled = false;
        Ok(Settings {
            app_name,
            license,
            collector: if collector.is_empty() {
                DEFAULT_COLLECTOR.to_owned()
            } else {
                collector
            },
            log_filename,
            log_level: c.log_level,
            txn,
        })
    }
}

/// `newrelic_create_app_config()`.
///
/// # Safety
/// Both arguments are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn newrelic_create_app_config(
    app_name: *const c_char,
    license_key: *const c_char,
) -> *mut AppConfig {
    const API: &str = "newrelic_create_app_config";
    guard(API, std::ptr::null_mut(), || {
        // SAFETY: forwarded from the caller.
        let Ok(name) = (unsafe { crate::ffi::req_arg(API, "app_name", app_name, 254) }) else {
            return std::ptr::null_mut();
        };
        // SAFETY: forwarded from the caller.
        let Ok(license) = (unsafe { crate::ffi::req_arg(API, "license_key", license_key, 254) })
        else {
            return std::ptr::null_mut();
        };
        if license.len() != LICENSE_LEN {
            tracing::error!("{API}: invalid license key format (it must be 40 characters)");
            return std::ptr::null_mut();
        }
        Box::into_raw(Box::new(AppConfig::new(name, license)))
    })
}

/// `newrelic_destroy_app_config()`.
///
/// # Safety
/// `config` is NULL or points to NULL or to a pointer returned by
/// `newrelic_create_app_config` and not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn newrelic_destroy_app_config(config: *mut *mut AppConfig) -> bool {
    guard("newrelic_destroy_app_config", false, || {
        // SAFETY: the caller passes NULL or a valid pointer to a pointer.
        if config.is_null() || unsafe { (*config).is_null() } {
            return false;
        }
        // SAFETY: the pointer came from Box::into_raw in
        // newrelic_create_app_config and is freed once.
        drop(unsafe { Box::from_raw(*config) });
        // SAFETY: valid pointer to the caller's pointer.
        unsafe { *config = std::ptr::null_mut() };
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LICENSE: &str = "0123456789012345678901234567890123456789";

    #[test]
    fn defaults_are_the_sdks() {
        let s = Settings::from_c(&AppConfig::new("a;b", LICENSE)).unwrap();
        assert_eq!(s.app_name, "a;b");
        assert_eq!(s.txn.appname, "a");
        assert_eq!(s.collector, DEFAULT_COLLECTOR);
        assert!(!s.txn.distributed_tracing_enabled);
        assert!(s.txn.span_events_enabled);
        assert_eq!(s.txn.transaction_tracer.threshold, Threshold::ApdexF);
        assert_eq!(s.txn.transaction_tracer.record_sql, RecordSql::Obfuscated);
        assert_eq!(s.txn.transaction_tracer.explain_threshold_ns, 500_000_000);
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(Settings::from_c(&AppConfig::new("", LICENSE)).is_err());
        assert!(Settings::from_c(&AppConfig::new("a", "short")).is_err());
        let mut c = AppConfig::new("a", LICENSE);
        c.app_name = [b'x' as c_char; 255];
        assert!(Settings::from_c(&c).is_err());
        let mut c = AppConfig::new("a", LICENSE);
        c.transaction_tracer.threshold = THRESHOLD_IS_OVER_DURATION;
        c.transaction_tracer.duration_us = 7;
        c.transaction_tracer.datastore_reporting.record_sql = 99;
        let s = Settings::from_c(&c).unwrap();
        assert_eq!(
            s.txn.transaction_tracer.threshold,
            Threshold::Duration(7000)
        );
        assert_eq!(s.txn.transaction_tracer.record_sql, RecordSql::Obfuscated);
    }
}
