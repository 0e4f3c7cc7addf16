//! WordPress 6.1 (Debian's `wordpress` and `wordpress-theme-twentytwentythree`)
//! on MariaDB; set-up files and steps in `tests/apps/wordpress/`.
//!
//! ```no_run
//! let wp = seraph_e2e::apps::wordpress::wordpress();
//! let (status, _body) = wp.web.get("/hello-world/");
//! assert_eq!(status, 200);
//! seraph_e2e::monitor::monitor().wait_for_transaction(wp.app, "WebTransaction/Action/template-canvas");
//! ```

use crate::monitor::monitor;
use crate::services::{mariadb, process};
use crate::web::{Site, WebStack};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The running WordPress.
#[derive(Debug)]
pub struct WordPress {
    /// nginx + php-fpm serving it.
    pub web: WebStack,
    /// The application name it reports as.
    pub app: &'static str,
    /// Its document root (a copy of `/usr/share/wordpress`).
    pub root: PathBuf,
}

/// The application name WordPress reports as.
pub const APP: &str = "seraph-wordpress";

/// The test binary's WordPress, set up and started on first use.
pub fn wordpress() -> &'static WordPress {
    static WP: OnceLock<WordPress> = OnceLock::new();
    WP.get_or_init(|| start(APP, &[]))
}

/// Sets up and starts a WordPress reporting as `app`, with extra INI
/// settings (another site on the same database, for tests of settings).
pub fn start(app: &'static str, extra_ini: &[(&str, &str)]) -> WordPress {
    super::require("/usr/share/wordpress/wp-settings.php", "wordpress");
    super::require(
        "/usr/share/wordpress/wp-content/themes/twentytwentythree/theme.json",
        "wordpress-theme-twentytwentythree",
    );
    let db = mariadb();
    db.sql("CREATE DATABASE IF NOT EXISTS wordpress")
        .unwrap_or_else(|e| panic!("create the WordPress database: {e}"));
    let dir = process::temp_dir("seraph-app-wordpress-").unwrap_or_else(|e| panic!("{e}"));
    let root = dir.join("wordpress");
    super::copy_tree("/usr/share/wordpress".as_ref(), &root);
    let files = super::files("wordpress");
    std::fs::copy(files.join("wp-config.php"), root.join("wp-config.php"))
        .expect("install wp-config.php");
    std::fs::copy(files.join("install.php"), root.join("install.php")).expect("copy install.php");
    super::copy_tree(
        &files.join("seraph-test-plugin"),
        &root.join("wp-content/plugins/seraph-test-plugin"),
    );
    let env: Vec<(String, String)> = [
        ("WORDPRESS_DB_NAME", "wordpress".to_owned()),
        ("WORDPRESS_DB_USER", db.user.clone()),
        ("WORDPRESS_DB_PASSWORD", db.password.clone()),
        ("WORDPRESS_DB_HOST", format!("{}:{}", db.host, db.port)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let out = super::run(
        "WordPress install",
        Command::new("php")
            .arg("install.php")
            .current_dir(&root)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    assert!(out.contains("installed"), "WordPress install: {out}");
    let mut ini = monitor().ini(app);
    ini.extend(
        extra_ini
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let web = Site {
        name: "wordpress".into(),
        root: root.clone(),
        front_controller: Some("/index.php".into()),
        ini,
        env,
    }
    .start()
    .unwrap_or_else(|e| panic!("start WordPress: {e}"));
    WordPress { web, app, root }
}
