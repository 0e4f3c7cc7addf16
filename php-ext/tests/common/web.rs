//! nginx in front of php-fpm with the extension (the shared harness,
//! `seraph_webstack`), serving a few scripts, reporting to a fake daemon.

use super::extension_path;
use super::fake_daemon::FakeDaemon;
use std::time::Duration;

pub use seraph_webstack::WebStack;

/// Serves `scripts` (file name, PHP code) through php-fpm (one worker, no
/// php.ini, app name `shop`) reporting to `daemon`; 10 s to start and for
/// each request.
pub fn serve(daemon: &FakeDaemon, scripts: &[(&str, &str)]) -> WebStack {
    options(daemon, scripts)
        .start()
        .unwrap_or_else(|e| panic!("start nginx and php-fpm: {e}"))
}

/// What [`serve`] starts, for a caller that changes something first
/// (more workers).
pub fn options(daemon: &FakeDaemon, scripts: &[(&str, &str)]) -> seraph_webstack::Options {
    let address = daemon.address();
    let mut o = seraph_webstack::Options::new("shop", extension_path())
        .workers(1)
        .ini("newrelic.daemon.address", &address)
        .ini("newrelic.daemon.dont_launch", "3")
        .ini(
            "newrelic.license",
            "0123456789012345678901234567890123456789",
        )
        .ini("newrelic.appname", "shop")
        .ini("newrelic.daemon.app_connect_timeout", "5s")
        .ini("newrelic.special.appinfo_timeout", super::APPINFO_TIMEOUT)
        .start_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(10));
    for (name, code) in scripts {
        o = o.script(name, code);
    }
    o
}

/// One GET with `Host: shop.test`; returns (head, body).
pub fn get(web: &WebStack, path: &str) -> (String, String) {
    let r = web.request("GET", path, &[("Host", "shop.test")], "");
    (r.head, r.body)
}
