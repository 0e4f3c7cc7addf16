//! The engine's floor on the WordPress front page: `php-cgi` with the
//! reference observer `php-ext/benches/floor.c` instead of an agent.
//!
//! Once any extension registers an fcall observer, PHP runs every user
//! call through its observer-aware VM handlers, whether or not a function
//! gets handlers. `floor-decline` (`FLOOR_MODE=decline`: the observer is
//! registered, no function gets handlers) is what any observer-based agent
//! costs at least; `floor-empty` (`FLOOR_MODE=empty`: begin/end handlers
//! that do nothing on every named user function) is what observing every
//! call costs before the handlers do anything.

use super::Config;
use std::path::Path;
use std::process::Command;

/// The floor's configurations, each loading `floor.so` built into `dir`
/// with `cc` and the headers of `php_config`, the measured PHP's (as
/// `php-ext/benches/run.sh` does); none, with a message, when it cannot be
/// built.
pub fn configs(root: &Path, php_config: &Path, dir: &Path) -> Vec<Config> {
    let so = dir.join("floor.so");
    let includes = Command::new(php_config).arg("--includes").output();
    let built = includes.and_then(|inc| {
        let inc = String::from_utf8_lossy(&inc.stdout).into_owned();
        Command::new("cc")
            .args(["-O2", "-shared", "-fPIC"])
            .args(inc.split_whitespace())
            .arg(root.join("php-ext/benches/floor.c"))
            .arg("-o")
            .arg(&so)
            .status()
    });
    match built {
        Ok(st) if st.success() => {}
        other => {
            eprintln!(
                "floor.c not built (cc, {} from php8.2-dev or the PHP's prefix): {other:?}",
                php_config.display()
            );
            return Vec::new();
        }
    }
    ["decline", "empty"]
        .into_iter()
        .map(|mode| Config {
            name: format!("floor-{mode}"),
            ini: vec![format!("extension={}", so.display())],
            env: vec![("FLOOR_MODE".into(), mode.into())],
            seraph: false,
        })
        .collect()
}
