//! MediaWiki 1.39 (Debian's `mediawiki`) on SQLite; files and steps in
//! `tests/apps/mediawiki/`.

use crate::monitor::monitor;
use crate::services::process;
use crate::web::{Site, WebStack};
use std::io::Write;
use std::process::Command;
use std::sync::OnceLock;

/// The running MediaWiki.
#[derive(Debug)]
pub struct MediaWiki {
    /// nginx + php-fpm serving `/usr/share/mediawiki`.
    pub web: WebStack,
    /// The application name it reports as.
    pub app: &'static str,
}

/// The application name MediaWiki reports as.
pub const APP: &str = "seraph-mediawiki";

/// The test binary's MediaWiki, installed and started on first use.
pub fn mediawiki() -> &'static MediaWiki {
    static M: OnceLock<MediaWiki> = OnceLock::new();
    M.get_or_init(start)
}

fn start() -> MediaWiki {
    super::require("/usr/share/mediawiki/maintenance/install.php", "mediawiki");
    let dir = process::temp_dir("seraph-app-mediawiki-").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.join("data")).expect("create the wiki's data directory");
    std::fs::create_dir_all(dir.join("cache")).expect("create the wiki's cache directory");
    super::run(
        "MediaWiki install",
        Command::new("php")
            .arg("/usr/share/mediawiki/maintenance/install.php")
            .arg("--dbtype=sqlite")
            .arg(format!("--dbpath={}", dir.join("data").display()))
            .args([
                "--dbname=seraphwiki",
                "--server=http://localhost",
                "--scriptpath=",
            ])
            .arg(format!("--confpath={}", dir.display()))
            .args([
                "--pass=seraph-password-123",
                "--lang=en",
                "Seraph Wiki",
                "Admin",
            ])
            .current_dir(&dir),
    );
    let extra = std::fs::read_to_string(super::files("mediawiki").join("LocalSettings-extra.php"))
        .expect("LocalSettings-extra.php");
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("LocalSettings.php"))
        .and_then(|mut f| f.write_all(extra.as_bytes()))
        .expect("complete LocalSettings.php");
    let web = Site {
        name: "mediawiki".into(),
        root: "/usr/share/mediawiki".into(),
        front_controller: None,
        ini: monitor().ini(APP),
        env: vec![(
            "MW_CONFIG_FILE".to_owned(),
            dir.join("LocalSettings.php").display().to_string(),
        )],
    }
    .start()
    .unwrap_or_else(|e| panic!("start MediaWiki: {e}"));
    MediaWiki { web, app: APP }
}
