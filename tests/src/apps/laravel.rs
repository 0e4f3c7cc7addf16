//! A Laravel 8 application (Debian's `php-laravel-framework`) on MariaDB
//! with the database queue; files and steps in `tests/apps/laravel/`.

use crate::monitor::monitor;
use crate::services::{mariadb, process};
use crate::web::{php_cli, Site, WebStack};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The running Laravel application.
#[derive(Debug)]
pub struct Laravel {
    /// nginx + php-fpm serving `public/`.
    pub web: WebStack,
    /// The application name it reports as.
    pub app: &'static str,
    /// The application's directory (where `artisan` is).
    pub root: PathBuf,
    /// The environment PHP needs (database settings).
    pub env: Vec<(String, String)>,
}

/// The application name Laravel reports as.
pub const APP: &str = "seraph-laravel";

/// The test binary's Laravel application, set up and started on first use.
pub fn laravel() -> &'static Laravel {
    static L: OnceLock<Laravel> = OnceLock::new();
    L.get_or_init(start)
}

fn start() -> Laravel {
    super::require(
        "/usr/share/php/Illuminate/Foundation/Application.php",
        "php-laravel-framework",
    );
    let db = mariadb();
    let schema =
        std::fs::read_to_string(super::files("laravel").join("schema.sql")).expect("schema.sql");
    db.sql(&format!(
        "CREATE DATABASE IF NOT EXISTS laravel; USE laravel; {schema}"
    ))
    .unwrap_or_else(|e| panic!("create the Laravel database: {e}"));
    let dir = process::temp_dir("seraph-app-laravel-").unwrap_or_else(|e| panic!("{e}"));
    let root = dir.join("laravel");
    super::copy_tree(&super::files("laravel"), &root);
    for d in [
        "storage/logs",
        "storage/app",
        "storage/framework/views",
        "storage/framework/cache",
        "bootstrap/cache",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("create storage directories");
    }
    let env: Vec<(String, String)> = [
        ("DB_HOST", db.host.clone()),
        ("DB_PORT", db.port.to_string()),
        ("DB_DATABASE", "laravel".to_owned()),
        ("DB_USERNAME", db.user.clone()),
        ("DB_PASSWORD", db.password.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let web = Site {
        name: "laravel".into(),
        root: root.join("public"),
        front_controller: Some("/index.php".into()),
        ini: monitor().ini(APP),
        env: env.clone(),
    }
    .start()
    .unwrap_or_else(|e| panic!("start Laravel: {e}"));
    Laravel {
        web,
        app: APP,
        root,
        env,
    }
}

impl Laravel {
    /// Runs `php artisan <args>` with the extension, reporting as the
    /// application (plus `ini`); returns its output, panicking when it
    /// fails.
    pub fn artisan(&self, ini: &[(&str, &str)], args: &[&str]) -> String {
        let mut all = monitor().ini(APP);
        all.extend(ini.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut argv = vec!["artisan"];
        argv.extend_from_slice(args);
        let (ok, out) = php_cli(&self.root, &all, &self.env, &argv);
        assert!(ok, "php artisan {args:?} failed:\n{out}");
        out
    }
}
