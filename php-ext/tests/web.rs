//! Web transactions through php-cgi (vectors 07 and 09a).

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::collections::BTreeSet;
use std::process::Command;

/// php-cgi with the extension reporting to `d`, plus `ini` (`key=value`).
fn php_cgi_for(d: &FakeDaemon, ini: &[&str]) -> Command {
    let mut c = php_cgi(&daemon_ini(&d.address()));
    c.args(ini.iter().flat_map(|i| ["-d", i]));
    c
}

fn cgi(d: &FakeDaemon, script: &str, uri: &str) -> (String, Vec<common::fake_daemon::Received>) {
    cgi_with(d, script, uri, &[])
}

fn cgi_with(
    d: &FakeDaemon,
    script: &str,
    uri: &str,
    ini: &[&str],
) -> (String, Vec<common::fake_daemon::Received>) {
    cgi_env(d, script, uri, ini, &[])
}

/// `cgi_with` plus CGI variables (request headers as `HTTP_*`).
fn cgi_env(
    d: &FakeDaemon,
    script: &str,
    uri: &str,
    ini: &[&str],
    env: &[(&str, &str)],
) -> (String, Vec<common::fake_daemon::Received>) {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("index.php"), script).unwrap();
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let _ = path;
    let out = php_cgi_for(d, ini)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_NAME", "shop.example.test"),
            ("REQUEST_METHOD", "GET"),
            ("REQUEST_URI", uri),
            ("QUERY_STRING", query),
            ("SCRIPT_NAME", "/index.php"),
            ("HTTP_HOST", "shop.example.test"),
            ("HTTP_ACCEPT", "text/html"),
            ("HTTP_USER_AGENT", "vectors-test/1.0"),
            ("REDIRECT_STATUS", "200"),
        ])
        .env("SCRIPT_FILENAME", work.path().join("index.php"))
        .env("DOCUMENT_ROOT", work.path())
        .envs(env.iter().copied())
        .current_dir(work.path())
        .output()
        .unwrap();
    (stdout(&out), d.wait_frames(2))
}

fn vector_metric_names(scenario: &str) -> BTreeSet<String> {
    let p = vectors_dir().join(scenario).join("002-Transaction.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    for_this_php(
        v["data"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned()),
    )
}

#[test]
fn cgi_request_is_a_web_transaction() {
    require("php-cgi", "php-cgi (Debian: php8.2-cgi)");
    let d = FakeDaemon::start(Mode::Connected);
    let (body, frames) = cgi(
        &d,
        "<?php usleep(1000); echo 'item ', (int)$_GET['id'], \"\\n\";",
        "/shop/item?id=3",
    );
    assert!(body.ends_with("item 3\n"), "{body}");
    let kinds: Vec<_> = frames.iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["App", "Transaction"]);
    let env: serde_json::Value = serde_json::from_str(&frames[0].app().environment).unwrap();
    assert!(env[5][1].as_str().unwrap().ends_with("+cgi-fcgi"));
    let txn = frames[1].txn();
    assert_eq!(txn.name, "WebTransaction/Uri/index.php");
    assert_eq!(txn.uri, "/shop/item");
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, vector_metric_names("07-web-cgi/a-200"));
    // Agent attributes: the same keys New Relic's agent sent.
    let ours: serde_json::Value = serde_json::from_str(txn.txn_event.as_deref().unwrap()).unwrap();
    let p = vectors_dir().join("07-web-cgi/a-200/002-Transaction.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(v["data"]["txn_event"]["data"].as_str().unwrap()).unwrap();
    let keys = |e: &serde_json::Value| {
        e[2].as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&ours), keys(&theirs), "{ours}");
    assert_eq!(ours[2]["request.uri"], "/shop/item");
    assert_eq!(ours[2]["http.statusCode"], 200);
}

#[test]
fn background_job_turns_a_web_request_into_other() {
    require("php-cgi", "php-cgi (Debian: php8.2-cgi)");
    let d = FakeDaemon::start(Mode::Connected);
    let (_, frames) = cgi(
        &d,
        "<?php newrelic_background_job(true); echo 'ok';",
        "/jobs/run",
    );
    let txn = frames[1].txn();
    assert_eq!(txn.name, "OtherTransaction/php/index.php");
    assert_eq!(txn.uri, "/jobs/run");
    let names: BTreeSet<String> = txn.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(
        names,
        vector_metric_names("09-ignore-background/a-background-web")
    );
}

#[test]
fn name_functions_setting_names_web_transactions() {
    require("php-cgi", "php-cgi (Debian: php8.2-cgi)");
    let d = FakeDaemon::start(Mode::Connected);
    let script = "<?php function helper() {} function controller_show() { helper(); } controller_show(); echo 'ok';";
    let (_, frames) = cgi_with(
        &d,
        script,
        "/x",
        &[
            "newrelic.webtransaction.name.functions=controller_show",
            "newrelic.transaction_tracer.detail=0",
        ],
    );
    assert_eq!(
        frames[1].txn().name,
        "WebTransaction/Function/controller_show"
    );
}

/// Runs `files[0]` (with the other files beside it) through php-cgi with
/// exactly the CGI variables given (no SCRIPT_FILENAME unless listed).
fn cgi_raw(
    d: &FakeDaemon,
    files: &[(&str, &str)],
    env: &[(&str, &str)],
    ini: &[&str],
) -> (String, Vec<common::fake_daemon::Received>) {
    let work = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let p = work.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let root = work.path().to_str().unwrap().to_owned();
    let fill = |v: &str| v.replace("$ROOT", &root);
    let out = php_cgi_for(d, ini)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("REQUEST_METHOD", "GET"),
            ("REDIRECT_STATUS", "200"),
        ])
        .envs(env.iter().map(|(k, v)| (*k, fill(v))))
        .current_dir(work.path())
        .output()
        .unwrap();
    (stdout(&out), d.wait_frames(2))
}

#[test]
fn remove_trailing_path_cuts_the_path_info_from_the_name() {
    require("php-cgi", "php-cgi (Debian: php8.2-cgi)");
    // No SCRIPT_FILENAME (the script is found through PATH_TRANSLATED), so
    // the name comes from SCRIPT_NAME, path info included.
    let env = [
        ("PATH_TRANSLATED", "$ROOT/index.php"),
        ("SCRIPT_NAME", "/shop/index.php/item/3"),
        ("REQUEST_URI", "/shop/index.php/item/3?x=1"),
        ("DOCUMENT_ROOT", "$ROOT"),
    ];
    let files = [("index.php", "<?php echo 'ok';")];
    let name = |setting: &str| {
        let d = FakeDaemon::start(Mode::Connected);
        let (body, frames) = cgi_raw(
            &d,
            &files,
            &env,
            &[
                "cgi.fix_pathinfo=0",
                &format!("newrelic.webtransaction.name.remove_trailing_path={setting}"),
            ],
        );
        assert!(body.ends_with("ok"), "{body}");
        frames[1].txn().name
    };
    assert_eq!(name("0"), "WebTransaction/Uri/shop/index.php/item/3");
    assert_eq!(name("1"), "WebTransaction/Uri/shop/index.php");
}

#[test]
fn name_files_are_regular_expressions_and_the_first_matching_file_wins() {
    require("php-cgi", "php-cgi (Debian: php8.2-cgi)");
    let d = FakeDaemon::start(Mode::Connected);
    let files = [
        (
            "index.php",
            "<?php include 'lib/Controller_42.php'; include 'views/home.php'; echo 'ok';",
        ),
        ("lib/Controller_42.php", "<?php $a = 1;"),
        ("views/home.php", "<?php $b = 2;"),
    ];
    let env = [
        ("SCRIPT_FILENAME", "$ROOT/index.php"),
        ("SCRIPT_NAME", "/index.php"),
        ("REQUEST_URI", "/"),
        ("DOCUMENT_ROOT", "$ROOT"),
    ];
    // `views/` would match the second include; `controller_\d+` (matched
    // case-insensitively, named by the matched text) the first. A
    // substring search for the literal pattern would match neither.
    let (body, frames) = cgi_raw(
        &d,
        &files,
        &env,
        &[r"newrelic.webtransaction.name.files=views/,controller_\d+,[unclosed"],
    );
    assert!(body.ends_with("ok"), "{body}");
    assert_eq!(frames[1].txn().name, "WebTransaction/Action/Controller_42");
}

#[test]
fn request_headers_give_queue_time_attributes_and_the_inbound_trace() {
    require("php-cgi", "php-cgi (Debian: php8.2-cgi)");
    let d = FakeDaemon::start(Mode::Connected);
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let queued = format!("t={}", now_us - 250_000);
    // The vectors' connect reply trusts account 1 (app 2).
    let tracestate = format!(
        "1@nr=0-0-1-2-b7ad6b7169203331-e8b91a159289ff74-1-1.23456-{}",
        now_us / 1000 - 1000
    );
    let (body, frames) = cgi_env(
        &d,
        "<?php echo \"ok\\n\";",
        "/index.php",
        &[],
        &[
            ("HTTP_X_REQUEST_START", &queued),
            ("CONTENT_LENGTH", "5"),
            (
                "HTTP_TRACEPARENT",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("HTTP_TRACESTATE", &tracestate),
        ],
    );
    assert!(body.ends_with("ok\n"), "{body}");
    let txn = frames[1].txn();
    let q = txn
        .metrics
        .iter()
        .find(|m| m.name == "WebFrontend/QueueTime")
        .expect("WebFrontend/QueueTime");
    assert!(q.total >= 0.25, "{}", q.total);
    for m in [
        "Supportability/TraceContext/Accept/Success",
        "DurationByCaller/App/1/2/HTTP/allWeb",
        "TransportDuration/App/1/2/HTTP/allWeb",
    ] {
        assert!(txn.metrics.iter().any(|x| x.name == m), "{m}");
    }
    let ev: serde_json::Value = serde_json::from_str(txn.txn_event.as_deref().unwrap()).unwrap();
    assert_eq!(ev[0]["traceId"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(ev[0]["priority"], 1.23456);
    assert_eq!(ev[0]["parent.transportType"], "HTTP");
    assert!(ev[0]["queueDuration"].as_f64().unwrap() >= 0.25);
    assert_eq!(ev[2]["request.headers.contentLength"], 5);
}
