//! A Slim 3 application (Debian's `php-slim`); files in `tests/apps/slim/`.

use crate::monitor::monitor;
use crate::services::process;
use crate::web::{Site, WebStack};
use std::sync::OnceLock;

/// The running Slim application.
#[derive(Debug)]
pub struct Slim {
    /// nginx + php-fpm serving `public/`.
    pub web: WebStack,
    /// The application name it reports as.
    pub app: &'static str,
}

/// The application name Slim reports as.
pub const APP: &str = "seraph-slim";

/// The test binary's Slim application, started on first use.
pub fn slim() -> &'static Slim {
    static S: OnceLock<Slim> = OnceLock::new();
    S.get_or_init(|| {
        super::require("/usr/share/php/Slim/App.php", "php-slim");
        let dir = process::temp_dir("seraph-app-slim-").unwrap_or_else(|e| panic!("{e}"));
        let root = dir.join("slim");
        super::copy_tree(&super::files("slim"), &root);
        let web = Site {
            name: "slim".into(),
            root: root.join("public"),
            front_controller: Some("/index.php".into()),
            ini: monitor().ini(APP),
            env: Vec::new(),
        }
        .start()
        .unwrap_or_else(|e| panic!("start Slim: {e}"));
        Slim { web, app: APP }
    })
}
