//! Browser monitoring through the API: `newrelic_get_browser_timing_header`,
//! `newrelic_get_browser_timing_footer`, `newrelic_disable_autorum`. The
//! automatic injection is `crate::browser`.

use super::args::{Args, Ret};
use super::{count, parse, php_fn, recording, with_recording};

/// The optional `with_tags` argument: `b`, else `l` (only 1 means yes),
/// else yes.
fn with_tags(args: &Args) -> bool {
    if args.len() == 0 {
        return true;
    }
    if let Some(b) = parse::b(args) {
        return b;
    }
    parse::l(args).is_none_or(|l| l == 1)
}

fn timing(api: &'static str, args: &Args, ret: &Ret, footer: bool) {
    ret.string("");
    if !recording() {
        return;
    }
    count(api);
    let tags = with_tags(args);
    let script = with_recording(|a| {
        let now = a.clock.now();
        let license = a.txn_license().to_owned();
        let t = a.txn.as_mut()?;
        if footer {
            t.browser_timing_footer(tags, false, now, &license)
        } else {
            t.browser_timing_header(tags, false)
        }
    })
    .flatten();
    if let Some(s) = script {
        ret.string(&s);
    }
}

php_fn!(get_browser_timing_header, args, ret, {
    timing("get_browser_timing_header", &args, &ret, false);
});

php_fn!(get_browser_timing_footer, args, ret, {
    timing("get_browser_timing_footer", &args, &ret, true);
});

php_fn!(disable_autorum, _args, ret, {
    ret.null();
    let done = with_recording(|a| {
        if let Some(t) = a.txn.as_mut() {
            t.count_api("disable_autorum");
            t.disable_autorum();
        }
    });
    if done.is_some() {
        ret.bool(true);
    }
});
