//! Transaction lifecycle: `newrelic_start_transaction`,
//! `newrelic_end_transaction`, `newrelic_set_appname`.

use super::{agent, count, parse, php_fn, text, warn};
use crate::request::RequestFacts;

/// Length of a license key.
const LICENSE_LEN: usize = 40;

php_fn!(start_transaction, args, ret, {
    ret.bool(false);
    if agent(|a| a.txn.is_some()).unwrap_or(true) {
        return;
    }
    let (app, license) = match args.len() {
        1 => match parse::s(&args) {
            Some(app) => (app, None),
            None => return,
        },
        2 => match parse::ss(&args) {
            Some((app, lic)) => (app, Some(lic)),
            None => return,
        },
        _ => return,
    };
    // Reading $_SERVER may bail out: before the agent is borrowed.
    let facts = RequestFacts::gather();
    let (app, license) = (text(&app), license.map(|l| text(&l)));
    let started = agent(|a| {
        if !a.settings.enabled {
            return false;
        }
        let started = a.start_transaction(Some((app, license)), &facts);
        if let Some(t) = a.txn.as_mut() {
            t.count_api("start_transaction");
        }
        started
    });
    crate::request::after_start();
    ret.bool(started.unwrap_or(false));
});

php_fn!(end_transaction, args, ret, {
    ret.bool(false);
    if !agent(|a| a.txn.is_some()).unwrap_or(false) {
        return;
    }
    count("end_transaction");
    let ignore = if args.len() == 1 {
        match parse::b(&args) {
            Some(b) => b,
            None => match parse::l(&args) {
                Some(l) => l != 0,
                None => return,
            },
        }
    } else {
        false
    };
    crate::request::end_current_transaction(ignore);
    ret.bool(true);
});

php_fn!(set_appname, args, ret, {
    ret.bool(false);
    count("set_appname/before");
    let current = agent(|a| {
        a.txn
            .as_ref()
            .map(|_| a.txn_license().to_owned())
            .filter(|l| l.len() == LICENSE_LEN)
    })
    .flatten();
    let Some((app, license, xmit)) = parse::s_opt_s_b(&args) else {
        return;
    };
    let app = text(&app);
    let license = license.map(|l| text(&l)).filter(|l| !l.is_empty());
    let changed = match (&license, &current) {
        (Some(new), Some(cur)) => new.as_bytes()[..new.len().min(LICENSE_LEN)] != *cur.as_bytes(),
        _ => false,
    };
    let lasp = agent(|a| !a.settings.security_policies_token.is_empty()).unwrap_or(false);
    let lasp_denied = lasp && changed;
    if lasp_denied {
        count("set_appname/lasp_denied");
    }
    // The current transaction ends here; it is sent only with `xmit`.
    crate::request::end_current_transaction(!xmit);
    if lasp_denied {
        warn(
            "newrelic_set_appname: when a security_policies_token is present in the newrelic.ini file, \
             it is not permitted to call newrelic_set_appname() with a non-empty license key. LASP does \
             not permit changing accounts during runtime. Consider using \"\" for the second parameter",
        );
        return;
    }
    let facts = RequestFacts::gather();
    let started = agent(|a| {
        if !a.settings.enabled || !a.start_transaction(Some((app.clone(), license.clone())), &facts)
        {
            tracing::debug!("newrelic_set_appname: unable to start a transaction for '{app}'");
            return false;
        }
        if let Some(t) = a.txn.as_mut() {
            if license.is_some() {
                t.count_api("set_appname/with_license");
                if changed {
                    t.count_api("set_appname/switched_license");
                }
            }
            t.count_api("set_appname/after");
        }
        true
    });
    crate::request::after_start();
    ret.bool(started.unwrap_or(false));
});
