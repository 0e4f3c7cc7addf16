//! Transaction control: `newrelic_name_transaction`,
//! `newrelic_ignore_transaction`, `newrelic_ignore_apdex`,
//! `newrelic_background_job`, `newrelic_end_of_transaction`,
//! `newrelic_capture_params` / `newrelic_enable_params`,
//! `newrelic_is_sampled`.

use super::{count, parse, php_fn, recording, text, with_recording};
use seraph_txn::NameSource;

php_fn!(name_transaction, args, ret, {
    ret.bool(true);
    if !recording() {
        return;
    }
    count("name_transaction");
    ret.bool(false);
    if args.len() != 1 {
        tracing::warn!("newrelic_name_transaction failure: improper number of parameters");
        return;
    }
    let name = match parse::s(&args) {
        Some(n) if !n.is_empty() => text(&n),
        _ => {
            tracing::warn!("newrelic_name_transaction failure: unable to parse string parameter");
            return;
        }
    };
    // New Relic returns true even when a frozen name refuses the change.
    let _ = with_recording(|a| {
        if let Some(t) = a.txn.as_mut() {
            if !t.set_name(NameSource::Api, &name) {
                tracing::warn!(
                    "newrelic_name_transaction failure: unable to change name to '{name}'"
                );
            }
        }
    });
    ret.bool(true);
});

php_fn!(ignore_transaction, _args, ret, {
    ret.null();
    // No supportability metric: nothing of an ignored transaction is sent.
    let _ = with_recording(|a| {
        if let Some(t) = a.txn.as_mut() {
            t.ignore();
        }
    });
});

php_fn!(ignore_apdex, _args, ret, {
    ret.null();
    let _ = with_recording(|a| {
        if let Some(t) = a.txn.as_mut() {
            t.count_api("ignore_apdex");
            t.ignore_apdex();
        }
    });
});

php_fn!(end_of_transaction, _args, ret, {
    ret.null();
    let _ = with_recording(|a| {
        let now = a.clock.now();
        if let Some(t) = a.txn.as_mut() {
            t.count_api("end_of_transaction");
            t.end_of_transaction(now);
        }
    });
});

php_fn!(background_job, args, ret, {
    ret.null();
    if !recording() {
        return;
    }
    count("background_job");
    let on = if args.len() >= 1 {
        parse::flag(&args, true)
    } else {
        true
    };
    let _ = with_recording(|a| {
        if let Some(t) = a.txn.as_mut() {
            t.set_background(on);
        }
    });
});

/// `newrelic_capture_params` and its deprecated twin: request parameters
/// are captured (to traces and errors) for the rest of the request.
fn capture_params(api: &'static str, args: &super::args::Args, ret: &super::args::Ret) {
    ret.null();
    if !recording() {
        return;
    }
    count(api);
    let on = if args.len() >= 1 {
        parse::flag(args, true)
    } else {
        true
    };
    let _ = with_recording(|a| a.req.capture_params = on);
    tracing::debug!("capture params enabled='{on}'");
}

php_fn!(capture_params_fn, args, ret, {
    capture_params("capture_params", &args, &ret);
});

php_fn!(enable_params, args, ret, {
    capture_params("enable_params", &args, &ret);
});

php_fn!(is_sampled, args, ret, {
    ret.bool(false);
    if !recording() {
        return;
    }
    if !parse::none(&args) {
        tracing::warn!(
            "unable to parse parameters to newrelic_is_sampled; {} parameters received, expected none",
            args.len()
        );
    }
    let sampled = with_recording(|a| {
        a.txn.as_mut().is_some_and(|t| {
            t.count_api("is_sampled");
            t.is_sampled_for_api()
        })
    });
    ret.bool(sampled.unwrap_or(false));
});
