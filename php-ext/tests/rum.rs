//! Automatic browser monitoring through a real web server: nginx in front
//! of php-fpm with the extension. An HTML page gets the loader script in
//! its `<head>` and the `NREUM.info` footer before `</body>`, each exactly
//! once, even when the page is flushed in pieces; a JSON response and a
//! page that called `newrelic_disable_autorum()` reach the client exactly
//! as the script wrote them.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::web::{get, serve};
use std::time::{Duration, Instant};

const LOADER: &str = "window.NREUM||(NREUM={});NREUM.loader=1;";

/// The page: its `<head>` and `</body>` go out in different flushes.
const PAGE: &str = r#"<?php
echo "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>shop</title></head>\n";
flush();
echo "<body><p>", str_repeat("item ", 2000), "</p>\n";
flush();
echo "</body></html>\n";
"#;

/// JSON that happens to contain the markers the injection looks for.
const JSON: &str = r#"<?php
header('Content-Type: application/json');
echo json_encode(['html' => '<html><head><title>x</title></head><body></body></html>']);
"#;

/// A page whose script turned injection off; the call's result is shown.
const DISABLED: &str = r#"<?php
$r = newrelic_disable_autorum();
?>
<html><head><title>plain</title></head><body><?php var_export($r); ?></body></html>
"#;

#[test]
fn nginx_and_php_fpm_pages_get_rum_once_json_and_disabled_pages_nothing() {
    let d = FakeDaemon::start(Mode::Browser);
    let web = serve(
        &d,
        &[
            ("page.php", PAGE),
            ("api.php", JSON),
            ("disabled.php", DISABLED),
        ],
    );

    // The HTML page: loader right after the charset meta tag, footer right
    // before </body>, once each.
    let (head, page) = get(&web, "/page.php");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let loader = format!("<script type=\"text/javascript\">{LOADER}</script>");
    assert_eq!(page.matches(LOADER).count(), 1, "{page}");
    assert!(
        page.contains(&format!(
            "<meta charset=\"utf-8\">{loader}<title>shop</title>"
        )),
        "{page}"
    );
    assert_eq!(page.matches("NREUM.info=").count(), 1, "{page}");
    let footer_at = page.find("NREUM.info=").unwrap();
    let body_end = page.find("</body>").unwrap();
    assert!(footer_at < body_end, "the footer precedes </body>");
    assert!(page[footer_at..body_end].ends_with("}</script>"), "{page}");
    assert!(page.contains("\"licenseKey\":\"b1234567\""), "{page}");
    assert!(page.contains("\"applicationID\":\"2\""), "{page}");
    assert_eq!(page.matches("<script").count(), 2, "{page}");

    // JSON: byte for byte what the script wrote.
    let (head, json) = get(&web, "/api.php");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(
        json,
        r#"{"html":"<html><head><title>x<\/title><\/head><body><\/body><\/html>"}"#
    );

    // newrelic_disable_autorum() returned true and the page is untouched.
    let (_, plain) = get(&web, "/disabled.php");
    assert_eq!(
        plain,
        "<html><head><title>plain</title></head><body>true</body></html>\n"
    );

    // All three were transactions, named after their scripts.
    let until = Instant::now() + Duration::from_secs(10);
    let names = loop {
        let names: Vec<String> = d
            .frames()
            .iter()
            .filter(|f| f.kind() == "Transaction")
            .map(|f| f.txn().name)
            .collect();
        if names.len() >= 3 || Instant::now() > until {
            break names;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        [
            "WebTransaction/Uri/api.php",
            "WebTransaction/Uri/disabled.php",
            "WebTransaction/Uri/page.php"
        ]
    );
}
