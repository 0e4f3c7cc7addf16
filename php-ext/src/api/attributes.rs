//! Attributes and custom data: `newrelic_add_custom_parameter`,
//! `newrelic_add_custom_span_parameter`, `newrelic_set_user_attributes`,
//! `newrelic_set_user_id`, `newrelic_record_custom_event`,
//! `newrelic_custom_metric`.

use super::{agent, count, parse, php_fn, recording, text, warn, with_recording};
use crate::zend::zval::{array_each, read, Key, Val};
use seraph_txn::AttrValue;

/// New Relic's text for a double key: `%.5f`, `nan`, `inf`.
fn double_text(d: f64) -> String {
    if d.is_nan() {
        "nan".to_owned()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{d:.5}")
    }
}

/// The key `newrelic_add_custom_parameter` makes of any value.
fn key_of(v: Val<'_>) -> String {
    match v {
        Val::Null => "(null)".to_owned(),
        Val::Long(l) => l.to_string(),
        Val::Double(d) => double_text(d),
        Val::Bool(true) => "True".to_owned(),
        Val::Bool(false) => "False".to_owned(),
        Val::Array(_) => "(Array)".to_owned(),
        Val::Object(_) => "(Object)".to_owned(),
        Val::Str(s) => text(s),
        Val::Other => "(Resource)".to_owned(),
    }
}

/// An attribute value from a PHP value: scalars and `null`; anything else
/// is refused with New Relic's warning (`<function>: expects parameter to
/// be scalar, <type> given`), raised by the caller.
fn value_of(v: Val<'_>) -> Result<AttrValue, &'static str> {
    match v {
        Val::Null => Ok(AttrValue::Null),
        Val::Bool(b) => Ok(AttrValue::Bool(b)),
        Val::Long(l) => Ok(AttrValue::Int(l)),
        Val::Double(d) => Ok(AttrValue::Float(d)),
        Val::Str(s) => Ok(AttrValue::Str(text(s))),
        Val::Array(_) => Err("array"),
        Val::Object(_) => Err("object"),
        Val::Other => Err("resource"),
    }
}

/// [`value_of`], raising the warning for a refused value.
fn value_or_warn(function: &str, v: Val<'_>) -> Option<AttrValue> {
    match value_of(v) {
        Ok(a) => Some(a),
        Err(ty) => {
            warn(&format!(
                "{function}: expects parameter to be scalar, {ty} given"
            ));
            None
        }
    }
}

php_fn!(add_custom_parameter, args, ret, {
    ret.bool(true);
    if !recording() {
        return;
    }
    count("add_custom_parameter");
    ret.bool(false);
    if args.len() < 2 {
        return;
    }
    let Some((k, v)) = parse::zz(&args) else {
        return;
    };
    // SAFETY: zvals of this call's arguments.
    let (key, value) = unsafe { (key_of(read(k)), read(v)) };
    // New Relic reports success when the value is refused (after its
    // warning): only a failure to store counts as failure.
    let stored = match value_or_warn("newrelic_add_custom_parameter", value) {
        Some(value) => with_recording(|a| {
            a.txn
                .as_mut()
                .is_some_and(|t| t.add_custom_parameter(&key, value))
        })
        .unwrap_or(false),
        None => true,
    };
    ret.bool(stored);
});

php_fn!(add_custom_span_parameter, args, ret, {
    ret.bool(true);
    if !recording() {
        return;
    }
    count("add_custom_span_parameter");
    ret.bool(false);
    if args.len() != 2 {
        return;
    }
    let Some((key, v)) = parse::sz(&args) else {
        return;
    };
    // SAFETY: a zval of this call's arguments.
    let Some(value) = value_or_warn("newrelic_add_custom_span_parameter", unsafe { read(v) })
    else {
        return;
    };
    let key = text(&key);
    let ok = with_recording(|a| {
        a.txn
            .as_mut()
            .is_some_and(|t| t.add_custom_span_parameter(&key, value))
    });
    ret.bool(ok.unwrap_or(false));
});

php_fn!(set_user_attributes, args, ret, {
    ret.bool(true);
    if !recording() {
        return;
    }
    count("set_user_attributes");
    ret.bool(false);
    if args.len() != 3 {
        return;
    }
    let Some([user, account, product]) = parse::sss(&args) else {
        return;
    };
    let ok = with_recording(|a| {
        let Some(t) = a.txn.as_mut() else {
            return false;
        };
        // Empty values are skipped, not failures.
        [("user", user), ("account", account), ("product", product)]
            .into_iter()
            .all(|(k, v)| v.is_empty() || t.add_custom_parameter(k, AttrValue::Str(text(&v))))
    });
    ret.bool(ok.unwrap_or(false));
});

php_fn!(set_user_id, args, ret, {
    ret.bool(false);
    count("set_user_id");
    if !agent(|a| a.txn.is_some()).unwrap_or(false) {
        return;
    }
    if args.len() != 1 {
        tracing::warn!("newrelic_set_user_id failure: invalid number of parameters.");
        return;
    }
    let Some(zv) = parse::z(&args) else {
        return;
    };
    // SAFETY: a zval of this call's arguments.
    let id = match unsafe { read(zv) } {
        Val::Str(s) if !s.is_empty() => s.to_vec(),
        _ => {
            tracing::warn!("newrelic_set_user_id failure: User ID must be a non-empty string.");
            return;
        }
    };
    if id.len() > 255 {
        tracing::warn!("newrelic_set_user_id failure: invalid string length.");
        return;
    }
    let id = text(&id);
    let ok = agent(|a| a.txn.as_mut().map(|t| t.set_user_id(&id)).is_some());
    ret.bool(ok.unwrap_or(false));
});

php_fn!(record_custom_event, args, ret, {
    ret.null();
    let allowed = with_recording(|a| a.txn.as_ref().is_some_and(|t| t.custom_events_allowed()));
    if allowed != Some(true) {
        return;
    }
    count("record_custom_event");
    let Some((ty, params)) = parse::sa(&args) else {
        tracing::warn!(
            "unable to parse parameters to newrelic_record_custom_event. {} parameters received",
            args.len()
        );
        return;
    };
    if ty.is_empty() {
        warn("improper parameter to newrelic_record_custom_event: event_type must be a nonempty string");
        return;
    }
    // Collected first, warned after: warnings run user code, which must
    // not see the array while it is being walked.
    let mut attrs = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    // SAFETY: the array argument of this call (zpp checked its type).
    unsafe {
        if let Val::Array(ht) = read(params) {
            array_each(ht, |k, v| match k {
                Key::Str(k) => match value_of(v) {
                    Ok(v) => attrs.push((k, v)),
                    Err(t) => problems.push(format!(
                        "newrelic_record_custom_event: expects parameter to be scalar, {t} given"
                    )),
                },
                Key::Index(_) => problems
                    .push("newrelic_record_custom_event: ignoring non-string array key".to_owned()),
            });
        }
    }
    for p in &problems {
        warn(p);
    }
    let ty = text(&ty);
    let now = crate::clock::unix_us();
    let _ = with_recording(|a| {
        if let Some(t) = a.txn.as_mut() {
            t.record_custom_event(&ty, attrs, now);
        }
    });
});

php_fn!(custom_metric, args, ret, {
    ret.bool(true);
    if !recording() {
        return;
    }
    count("custom_metric");
    ret.bool(false);
    if args.len() < 2 {
        return;
    }
    let Some((name, value)) = parse::sd(&args) else {
        return;
    };
    let name = text(&name);
    if !value.is_finite() {
        tracing::warn!("unable to add custom metric '{name}': invalid custom metric value {value}");
        return;
    }
    let ok = with_recording(|a| {
        a.txn
            .as_mut()
            .is_some_and(|t| t.add_custom_metric(&name, value))
    });
    ret.bool(ok.unwrap_or(false));
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_follow_new_relic() {
        assert_eq!(key_of(Val::Null), "(null)");
        assert_eq!(key_of(Val::Double(42.0)), "42.00000");
        assert_eq!(key_of(Val::Bool(true)), "True");
        assert_eq!(key_of(Val::Bool(false)), "False");
        assert_eq!(key_of(Val::Long(-3)), "-3");
        assert_eq!(key_of(Val::Other), "(Resource)");
        assert_eq!(double_text(f64::NAN), "nan");
        assert_eq!(value_of(Val::Null), Ok(AttrValue::Null));
        assert_eq!(value_of(Val::Array(std::ptr::null_mut())), Err("array"));
        assert_eq!(value_of(Val::Other), Err("resource"));
    }
}
