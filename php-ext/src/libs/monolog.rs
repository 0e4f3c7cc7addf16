//! Monolog 2 and 3: every record a logger accepts for handling
//! (`Logger::addRecord`) becomes `Logging/lines` metrics and, with
//! forwarding on, a log event linked to the transaction's trace and span
//! (rules in `seraph_txn::logs`). With
//! `application_logging.local_decorating.enabled`, each handler pushed onto
//! a logger gets a processor that adds New Relic's linking metadata to the
//! record's `extra` (`NR-LINKING|<guid>|<host>|<trace id>|<span id>|<app>|`),
//! as New Relic's agent does.
//!
//! Detected by `Monolog/Logger.php`: `Supportability/library/Monolog/detected`
//! and `Supportability/Logging/PHP/Monolog/enabled` (or `disabled` when
//! application logging is off).

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::objects::{self, Arg};
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::{AttrValue, LogRecord};

/// Monolog's rows.
pub static LIBRARY: Library = Library {
    name: "Monolog",
    hooks: &[
        Hook::new(Target::File("monolog/logger.php")).on_file(detected),
        Hook::new(Target::Method("monolog\\logger", "addrecord"))
            .traced()
            .before(add_record),
        Hook::new(Target::Method("monolog\\logger", "pushhandler"))
            .traced()
            .before(push_handler),
    ],
};

fn detected(_path: &str, ctx: &Ctx<'_>) {
    ctx.with(|s| {
        let on = s.settings.logging_enabled;
        if let Some(t) = s.txn.as_deref_mut() {
            t.library_detected("Monolog");
            t.count_metric(if on {
                "Supportability/Logging/PHP/Monolog/enabled"
            } else {
                "Supportability/Logging/PHP/Monolog/disabled"
            });
        }
    });
}

/// Monolog's numeric levels (RFC 5424 names, as Monolog spells them).
fn level_name(level: i64) -> &'static str {
    match level {
        100 => "DEBUG",
        200 => "INFO",
        250 => "NOTICE",
        300 => "WARNING",
        400 => "ERROR",
        500 => "CRITICAL",
        550 => "ALERT",
        600 => "EMERGENCY",
        _ => "UNKNOWN",
    }
}

/// The level argument: an integer (Monolog 2 and 3) or a `Monolog\Level`
/// case (Monolog 3).
fn level_of(v: Val<'_>) -> String {
    match v {
        Val::Long(n) => level_name(n).to_owned(),
        Val::Object(_) => objects::object(v)
            .and_then(|o| o.string_prop(c"name"))
            .map(|n| n.to_ascii_uppercase())
            .unwrap_or_else(|| "UNKNOWN".to_owned()),
        _ => "UNKNOWN".to_owned(),
    }
}

/// Context data: string keys with scalar values (New Relic skips the rest).
fn context_of(v: Val<'_>) -> Vec<(String, AttrValue)> {
    let Val::Array(ht) = v else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // SAFETY: the argument's array, alive during the hook.
    unsafe {
        array_each(ht, |k, v| {
            let Key::Str(k) = k else { return };
            let value = match v {
                Val::Str(s) => AttrValue::Str(String::from_utf8_lossy(s).into_owned()),
                Val::Long(n) => AttrValue::Int(n),
                Val::Double(d) => AttrValue::Float(d),
                Val::Bool(b) => AttrValue::Bool(b),
                _ => return,
            };
            if out.len() < 256 {
                out.push((k, value));
            }
        });
    }
    out
}

/// `Logger::addRecord($level, $message, $context = [], $datetime = null)`.
fn add_record(call: &Call, ctx: &Ctx<'_>) -> Before {
    let wants = ctx
        .with(|s| {
            s.txn.as_deref().map(|t| {
                (
                    t.log_forwarding_enabled() || t.log_metrics_enabled(),
                    t.log_context_enabled(),
                )
            })
        })
        .flatten();
    let Some((true, context)) = wants else {
        return Before::default();
    };
    let rec = LogRecord {
        level: level_of(call.arg(1)),
        message: call.arg_string(2).unwrap_or_default(),
        timestamp_ms: crate::clock::unix_us() / 1000,
        context: if context {
            context_of(call.arg(3))
        } else {
            Vec::new()
        },
    };
    ctx.record_log(rec);
    Before::default()
}

/// The decorating processor, declared once per request in PHP (it calls
/// `newrelic_get_linking_metadata()`, so it reports the current span).
const PROCESSOR: &str = "newrelic\\monolog\\newrelic_phpagent_monolog_decorating_processor";
const PROCESSOR_CODE: &std::ffi::CStr = c"namespace Newrelic\\Monolog;
function newrelic_phpagent_monolog_decorating_processor($record) {
    $m = \\newrelic_get_linking_metadata();
    $parts = ['NR-LINKING', $m['entity.guid'] ?? '', $m['hostname'] ?? '',
              $m['trace.id'] ?? '', $m['span.id'] ?? '', urlencode($m['entity.name'] ?? '')];
    $record['extra']['NR-LINKING'] = implode('|', $parts) . '|';
    return $record;
}";

/// `Logger::pushHandler($handler)`: with local decorating on, the handler
/// gets the linking processor.
fn push_handler(call: &Call, ctx: &Ctx<'_>) -> Before {
    let decorate = ctx
        .with(|s| s.settings.logging_enabled && s.settings.logging_local_decorating)
        .unwrap_or(false);
    let Some(handler) = objects::object(call.arg(1)) else {
        return Before::default();
    };
    if !decorate {
        return Before::default();
    }
    if !handler.has_method("pushprocessor") {
        tracing::warn!("a Monolog handler without pushProcessor(): its records are not decorated");
        return Before::default();
    }
    if !objects::function_exists(PROCESSOR)
        && !objects::eval(PROCESSOR_CODE, c"newrelic/Monolog/decorating processor")
    {
        tracing::warn!("could not declare the Monolog decorating processor");
        return Before::default();
    }
    let name = "Newrelic\\Monolog\\newrelic_phpagent_monolog_decorating_processor";
    if handler.call("pushProcessor", &[Arg::Str(name)]).is_none() {
        tracing::warn!("could not add the Monolog decorating processor");
    }
    Before::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_levels_map_to_monolog_names() {
        assert_eq!(level_name(300), "WARNING");
        assert_eq!(level_name(600), "EMERGENCY");
        assert_eq!(level_name(1), "UNKNOWN");
    }
}
