//! Real applications, built from Debian 12's packages, on nginx + php-fpm
//! with the extension, reporting through the real daemon to the collector
//! stand-in: each shows its page, route, controller and job names and its
//! framework metrics there. Set-up: `tests/src/apps/`, `tests/apps/`.

use seraph_e2e::apps;
use seraph_e2e::monitor::monitor;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn wordpress_pages_are_named_after_their_template_with_hook_and_plugin_metrics() {
    let wp = apps::wordpress::wordpress();
    let m = monitor();
    let (status, body) = wp.web.get("/");
    assert_eq!(status, 200, "{body}\n{}", wp.web.logs());
    let (status, body) = wp.web.get("/hello-world/");
    assert_eq!(status, 200, "{body}\n{}", wp.web.logs());
    assert!(body.contains("seraph-test-plugin was here"), "{body}");
    let (status, _) = wp.web.get("/no-such-page/");
    assert_eq!(status, 404);
    let (status, body) = wp.web.post("/wp-admin/admin-ajax.php", "action=seraph_ping");
    assert_eq!((status, body.as_str()), (200, "pong"));

    m.wait_until(wp.app, WAIT, "four named transactions", |m| {
        m.count(wp.app, "WebTransaction/Action/template-canvas") >= 3.0
            && m.count(wp.app, "WebTransaction/Action/admin-ajax/seraph_ping") >= 1.0
    });
    assert!(m.count(wp.app, "Supportability/framework/WordPress/detected") >= 4.0);
    assert!(m.count(wp.app, "Framework/WordPress/Hook/init") >= 4.0);
    assert!(m.count(wp.app, "Framework/WordPress/Hook/the_content") >= 1.0);
    assert!(m.count(wp.app, "Framework/WordPress/Plugin/seraph-test-plugin") >= 5.0);
    assert!(m.count(wp.app, "Supportability/PHP/package/wordpress/6/detected") >= 1.0);
    // WordPress's own database calls through mysqli.
    assert_eq!(
        m.count(wp.app, "WebTransaction/Uri/index.php"),
        0.0,
        "no request is left named after the front controller"
    );
    let packages: Vec<_> = m
        .calls(wp.app)
        .into_iter()
        .filter(|c| c.method == "update_loaded_modules")
        .collect();
    assert!(
        packages
            .iter()
            .any(|c| c.payload.to_string().contains("[\"wordpress\",\"6.1")),
        "{packages:?}"
    );
}
