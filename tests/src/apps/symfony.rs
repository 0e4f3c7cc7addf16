//! A Symfony 5.4 application (Debian's `php-symfony-*` packages); files in
//! `tests/apps/symfony/`.

use crate::monitor::monitor;
use crate::services::process;
use crate::web::{php_cli, Site, WebStack};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The running Symfony application.
#[derive(Debug)]
pub struct Symfony {
    /// nginx + php-fpm serving `public/`.
    pub web: WebStack,
    /// The application name it reports as.
    pub app: &'static str,
    /// The project directory (where `bin/console` is).
    pub root: PathBuf,
}

/// The application name Symfony reports as.
pub const APP: &str = "seraph-symfony";

/// The test binary's Symfony application, set up and started on first use.
pub fn symfony() -> &'static Symfony {
    static S: OnceLock<Symfony> = OnceLock::new();
    S.get_or_init(start)
}

fn start() -> Symfony {
    super::require(
        "/usr/share/php/Symfony/Bundle/FrameworkBundle/FrameworkBundle.php",
        "php-symfony-framework-bundle",
    );
    super::require(
        "/usr/share/php/Symfony/Component/Console/Application.php",
        "php-symfony-console",
    );
    let dir = process::temp_dir("seraph-app-symfony-").unwrap_or_else(|e| panic!("{e}"));
    let root = dir.join("symfony");
    super::copy_tree(&super::files("symfony"), &root);
    let web = Site {
        name: "symfony".into(),
        root: root.join("public"),
        front_controller: Some("/index.php".into()),
        ini: monitor().ini(APP),
        env: Vec::new(),
    }
    .start()
    .unwrap_or_else(|e| panic!("start Symfony: {e}"));
    Symfony {
        web,
        app: APP,
        root,
    }
}

impl Symfony {
    /// Runs `php bin/console <args>` with the extension, reporting as the
    /// application; returns its output, panicking when it fails.
    pub fn console(&self, args: &[&str]) -> String {
        let mut argv = vec!["bin/console"];
        argv.extend_from_slice(args);
        let (ok, out) = php_cli(&self.root, &monitor().ini(APP), &[], &argv);
        assert!(ok, "php bin/console {args:?} failed:\n{out}");
        out
    }
}
