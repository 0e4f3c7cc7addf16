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
    let (status, body) = wp
        .web
        .post("/wp-admin/admin-ajax.php", "action=seraph_ping");
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

#[test]
fn laravel_routes_commands_jobs_errors_and_logs() {
    let lv = apps::laravel::laravel();
    let m = monitor();
    let app = lv.app;
    for (path, want) in [
        ("/", 200),
        ("/hello/ada", 200),
        ("/posts", 200),
        ("/posts/7", 200),
        ("/boom", 500),
        ("/no/such/page", 404),
    ] {
        let (status, body) = lv.web.get(path);
        assert_eq!(status, want, "{path}: {body}\n{}", lv.web.logs());
    }
    let out = lv.artisan(&[], &["app:sync"]);
    assert!(out.contains("queued 2 orders"), "{out}");
    let out = lv.artisan(&[], &["queue:work", "--stop-when-empty"]);
    assert!(out.contains("Processed"), "{out}");

    m.wait_until(app, WAIT, "the Laravel transactions", |m| {
        m.count(
            app,
            "OtherTransaction/Custom/App\\Jobs\\ProcessOrder (database:default)",
        ) >= 2.0
            && m.count(app, "WebTransaction/StatusCode/404") >= 1.0
            && m.count(app, "OtherTransaction/Action/Artisan/app:sync") >= 1.0
    });
    for name in [
        "WebTransaction/Action//",
        "WebTransaction/Action/hello/{name}",
        "WebTransaction/Action/posts.index",
        "WebTransaction/Action/App\\Http\\Controllers\\PostController@show",
        "WebTransaction/Action/App\\Http\\Controllers\\PostController@fail",
        "WebTransaction/StatusCode/404",
        "OtherTransaction/Action/Artisan/app:sync",
    ] {
        assert_eq!(
            m.count(app, name),
            1.0,
            "{name}: {:?}",
            m.transaction_names(app)
        );
    }
    assert!(m.count(app, "Supportability/framework/Laravel/detected") >= 9.0);
    // queue:work's own run and its waits are not reported, each job is.
    assert_eq!(
        m.count(app, "OtherTransaction/Action/Artisan/queue:work"),
        0.0
    );
    // The 500 Laravel rendered is an error; the 404 is not.
    let errors = m.events(app, "error_event_data");
    assert!(
        errors
            .iter()
            .any(|e| e[0]["error.class"] == "RuntimeException"
                && e[0]["transactionName"]
                    == "WebTransaction/Action/App\\Http\\Controllers\\PostController@fail"),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    // Monolog records: metrics, and forwarded events with trace context.
    assert!(m.count(app, "Logging/lines") >= 5.0);
    assert!(m.count(app, "Logging/lines/ERROR") >= 3.0);
    assert!(m.count(app, "Supportability/library/Monolog/detected") >= 1.0);
    let logs = m.events(app, "log_event_data");
    let viewed = logs
        .iter()
        .find(|l| l["message"] == "post viewed")
        .unwrap_or_else(|| panic!("{logs:?}"));
    assert_eq!(viewed["level"], "WARNING");
    assert_eq!(
        viewed["attributes"],
        serde_json::Value::Null,
        "context data is off by default"
    );
    let show = m
        .events(app, "analytic_event_data")
        .into_iter()
        .find(|e| {
            e[0]["name"] == "WebTransaction/Action/App\\Http\\Controllers\\PostController@show"
        })
        .expect("the transaction event of /posts/7");
    assert_eq!(viewed["trace.id"], show[0]["traceId"], "{viewed}");
    assert!(
        !viewed["span.id"].as_str().unwrap_or_default().is_empty(),
        "{viewed}"
    );
    assert_eq!(viewed["entity.name"], app);
    assert!(
        logs.iter()
            .filter(|l| l["message"] == "order processed")
            .count()
            >= 2
    );
    assert!(
        !logs.iter().any(|l| l["message"] == "greeting"),
        "INFO is below the default forwarding level"
    );
    let packages = m
        .calls(app)
        .into_iter()
        .filter(|c| c.method == "update_loaded_modules")
        .map(|c| c.payload.to_string())
        .collect::<String>();
    assert!(
        packages.contains("[\"laravel/framework\",\"8.83"),
        "{packages}"
    );
}

#[test]
fn symfony_routes_console_commands_and_kernel_exceptions() {
    let sf = apps::symfony::symfony();
    let m = monitor();
    let app = sf.app;
    for (path, want) in [
        ("/blog", 200),
        ("/blog/hello-world", 200),
        ("/health", 200),
        ("/health/fail", 500),
        ("/nowhere", 404),
    ] {
        let (status, body) = sf.web.get(path);
        assert_eq!(status, want, "{path}: {body}\n{}", sf.web.logs());
    }
    let out = sf.console(&["app:sync"]);
    assert!(out.contains("synced"), "{out}");

    m.wait_until(app, WAIT, "the Symfony transactions", |m| {
        m.count(app, "OtherTransaction/Action/app:sync") >= 1.0
            && m.count(app, "WebTransaction/Action/health_fail") >= 1.0
    });
    for name in [
        "WebTransaction/Action/blog_index",
        "WebTransaction/Action/blog_show",
        "WebTransaction/Action/health_check",
        "WebTransaction/Action/health_fail",
        "WebTransaction/StatusCode/404",
        "OtherTransaction/Action/app:sync",
    ] {
        assert_eq!(
            m.count(app, name),
            1.0,
            "{name}: {:?}",
            m.transaction_names(app)
        );
    }
    assert_eq!(
        m.count(app, "Supportability/framework/Symfony4/detected"),
        6.0
    );
    let errors = m.events(app, "error_event_data");
    assert!(
        errors
            .iter()
            .any(|e| e[0]["error.class"] == "LogicException"
                && e[0]["transactionName"] == "WebTransaction/Action/health_fail"),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 1, "the 404 is not an error: {errors:?}");
}

#[test]
fn slim_3_requests_are_named_by_route_name_or_pattern() {
    let sl = apps::slim::slim();
    let m = monitor();
    let app = sl.app;
    for (path, want) in [
        ("/", 200),
        ("/hello/ada", 200),
        ("/items/42", 200),
        ("/broken", 500),
    ] {
        let (status, body) = sl.web.get(path);
        assert_eq!(status, want, "{path}: {body}\n{}", sl.web.logs());
    }
    m.wait_until(app, WAIT, "the Slim transactions", |m| {
        m.count(app, "WebTransaction/Action/items/{id}") >= 1.0
            && m.count(app, "WebTransaction/Action/broken") >= 1.0
    });
    for name in [
        "WebTransaction/Action//",
        "WebTransaction/Action/hello",
        "WebTransaction/Action/items/{id}",
        "WebTransaction/Action/broken",
    ] {
        assert_eq!(
            m.count(app, name),
            1.0,
            "{name}: {:?}",
            m.transaction_names(app)
        );
    }
    assert_eq!(m.count(app, "WebTransaction/Uri/index.php"), 0.0);
    assert_eq!(m.count(app, "Supportability/framework/Slim/detected"), 4.0);
    assert!(m.count(app, "Supportability/PHP/package/slim/slim/3/detected") >= 1.0);
}

#[test]
fn mediawiki_requests_are_named_by_action() {
    let mw = apps::mediawiki::mediawiki();
    let m = monitor();
    let app = mw.app;
    for path in [
        "/index.php?title=Main_Page",
        "/index.php?title=Main_Page&action=history",
        "/api.php?action=query&meta=siteinfo&format=json",
    ] {
        let (status, body) = mw.web.get(path);
        assert_eq!(status, 200, "{path}: {body}\n{}", mw.web.logs());
    }
    m.wait_until(app, WAIT, "the MediaWiki transactions", |m| {
        m.count(app, "WebTransaction/Action/api/query") >= 1.0
    });
    for name in [
        "WebTransaction/Action/action/view",
        "WebTransaction/Action/action/history",
        "WebTransaction/Action/api/query",
    ] {
        assert_eq!(
            m.count(app, name),
            1.0,
            "{name}: {:?}",
            m.transaction_names(app)
        );
    }
    assert_eq!(
        m.count(app, "Supportability/framework/MediaWiki/detected"),
        3.0
    );
}

/// `rss_early=` and `rss_end=` (kB) from `tests/apps/monolog/burst.php`.
fn rss(out: &str, key: &str) -> i64 {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

#[test]
fn a_burst_of_100_000_log_records_is_bounded_and_memory_stays_flat() {
    let m = monitor();
    let dir = apps::files("monolog");
    let app = "seraph-monolog-burst";
    let mut ini = m.ini(app);
    ini.push((
        "newrelic.application_logging.forwarding.max_samples_stored".into(),
        "500".into(),
    ));
    let (ok, out) = seraph_e2e::web::php_cli(&dir, &ini, &[], &["burst.php", "100000"]);
    assert!(ok, "{out}");
    let (early, end) = (rss(&out, "rss_early="), rss(&out, "rss_end="));
    eprintln!("burst: resident memory {early} kB after 20 000 records, {end} kB after 100 000");
    // 80 000 more records than at the first reading: the kept events are
    // bounded, so the process may not grow by more than a few MB.
    assert!(
        end - early < 8 * 1024,
        "resident memory grew from {early} kB to {end} kB"
    );
    m.wait_until(app, WAIT, "the burst's metrics", |m| {
        m.count(app, "Logging/lines") >= 100_000.0
    });
    assert_eq!(m.count(app, "Logging/lines/ERROR"), 100_000.0);
    assert_eq!(m.count(app, "Logging/Forwarding/Dropped"), 99_500.0);
    m.wait_until(app, WAIT, "the burst's log events", |m| {
        !m.events(app, "log_event_data").is_empty()
    });
    let events = m.events(app, "log_event_data");
    assert!(events.len() <= 500, "{} events", events.len());
    assert!(events.iter().all(|e| e["message"] == "burst record"));

    // Forwarding off: the same run sends metrics and no log event.
    let quiet = "seraph-monolog-no-forwarding";
    let mut ini = m.ini(quiet);
    ini.push((
        "newrelic.application_logging.forwarding.enabled".into(),
        "0".into(),
    ));
    let (ok, out) = seraph_e2e::web::php_cli(&dir, &ini, &[], &["burst.php", "1000"]);
    assert!(ok, "{out}");
    m.wait_until(quiet, WAIT, "the metrics", |m| {
        m.count(quiet, "Logging/lines") >= 1000.0
    });
    // Nothing forwarded, even later: two more metric harvests of the app
    // (the event harvest runs as often) rather than a fixed 2 s.
    let posts = |m: &seraph_e2e::monitor::Monitor| {
        m.calls(quiet)
            .iter()
            .filter(|c| c.method == "metric_data")
            .count()
    };
    let before = posts(m);
    m.wait_until(quiet, WAIT, "two more metric harvests", |m| {
        posts(m) >= before + 2
    });
    assert!(m.events(quiet, "log_event_data").is_empty());
    assert_eq!(
        m.count(quiet, "Supportability/Logging/Forwarding/PHP/disabled"),
        1.0
    );
}

/// WordPress talks to MariaDB through mysqli: its front page's queries
/// reach the collector per table and operation (scoped to the page's
/// transaction), with the instance (127.0.0.1 reported as the machine's
/// name, MariaDB's port, the `wordpress` database), datastore spans, and
/// the call count on the transaction event.
#[test]
fn wordpress_shows_its_mysql_calls_per_table_and_operation() {
    let wp = apps::wordpress::wordpress();
    let m = monitor();
    let db = seraph_e2e::services::mariadb();
    let host = nix::unistd::gethostname()
        .expect("hostname")
        .to_string_lossy()
        .into_owned();
    let (status, body) = wp.web.get("/");
    assert_eq!(status, 200, "{body}\n{}", wp.web.logs());
    let instance = format!("Datastore/instance/MySQL/{host}/{}", db.port);
    m.wait_until(wp.app, WAIT, "WordPress's MySQL metrics", |m| {
        m.count(wp.app, "Datastore/statement/MySQL/wp_options/select") >= 1.0
            && m.count(wp.app, "Datastore/statement/MySQL/wp_posts/select") >= 1.0
            && m.count(wp.app, &instance) >= 1.0
    });
    let metrics = m.metrics(wp.app);
    assert!(
        metrics.keys().any(|(name, scope)| {
            name == "Datastore/statement/MySQL/wp_posts/select"
                && scope.starts_with("WebTransaction/Action/")
        }),
        "the statement metric is scoped to the page's transaction: {metrics:?}"
    );
    assert!(m.count(wp.app, "Datastore/MySQL/allWeb") >= 10.0);
    assert!(m.count(wp.app, "Datastore/operation/MySQL/select") >= 10.0);

    let events = m.events(wp.app, "analytic_event_data");
    assert!(
        events.iter().any(|e| e[0]["databaseCallCount"]
            .as_f64()
            .is_some_and(|n| n >= 10.0)
            && e[0]["databaseDuration"].as_f64().is_some()),
        "a page's transaction event counts its queries: {events:?}"
    );
    let spans = m.events(wp.app, "span_event_data");
    let options = spans
        .iter()
        .find(|s| s[0]["name"] == "Datastore/statement/MySQL/wp_options/select")
        .unwrap_or_else(|| panic!("no wp_options span: {spans:?}"));
    assert_eq!(options[0]["category"], "datastore");
    assert_eq!(options[0]["component"], "MySQL");
    assert_eq!(options[2]["peer.hostname"], host.as_str());
    assert_eq!(
        options[2]["peer.address"],
        format!("{host}:{}", db.port).as_str()
    );
    assert_eq!(options[2]["db.instance"], "wordpress");
    assert!(options[2]["db.statement"]
        .as_str()
        .is_some_and(|s| s.contains("wp_options")));
}
