//! Composer: when an application's `vendor/autoload.php` runs and Composer's
//! runtime files sit beside it (`composer/autoload_real.php`,
//! `composer/InstalledVersions.php`, `composer/installed.php`), every
//! installed package (but the application itself) is reported with its
//! version, and `Supportability/library/Composer/detected` counted.
//!
//! New Relic's agent loads `InstalledVersions.php` and asks Composer's API
//! from PHP; Seraph reads `installed.php` (the array Composer writes) with
//! `seraph_txn::packages::parse_installed_php`, running no application code.
//! The result is cached per process and file modification time.
//! `vulnerability_management.package_detection.enabled` and
//! `.composer_api.enabled` switch it off.

use crate::hooks::context::Ctx;
use crate::hooks::table::{Hook, Library, Target};
use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

/// Composer's rows.
pub static LIBRARY: Library = Library {
    name: "Composer",
    hooks: &[Hook::new(Target::File("vendor/autoload.php")).on_file(autoload)],
};

/// `installed.php` files larger than this are not read.
const MAX_INSTALLED_BYTES: u64 = 8 << 20;

type Cached = (SystemTime, std::rc::Rc<Vec<(String, String)>>);

crate::per_thread! {
    /// Parsed `installed.php` files of this process (of this thread, in
    /// ZTS PHP), by path.
    static CACHE: Option<HashMap<String, Cached>> = None;
}

fn packages(installed: &Path) -> Option<std::rc::Rc<Vec<(String, String)>>> {
    let meta = std::fs::metadata(installed).ok()?;
    let mtime = meta.modified().ok()?;
    let key = installed.to_string_lossy().into_owned();
    let hit = CACHE
        .with(|c| {
            c.as_ref()
                .and_then(|m| m.get(&key))
                .filter(|(t, _)| *t == mtime)
                .map(|(_, p)| p.clone())
        })
        .flatten();
    if hit.is_some() {
        return hit;
    }
    if meta.len() > MAX_INSTALLED_BYTES {
        tracing::debug!("{key}: larger than {MAX_INSTALLED_BYTES} bytes, not read");
        return None;
    }
    let text = std::fs::read_to_string(installed).ok()?;
    let list = match seraph_txn::packages::parse_installed_php(&text) {
        Ok(l) => std::rc::Rc::new(l),
        Err(e) => {
            tracing::debug!("{key}: {e}");
            return None;
        }
    };
    let _ = CACHE.with(|c| {
        let m = c.get_or_insert_with(HashMap::new);
        if m.len() >= 64 {
            m.clear();
        }
        m.insert(key, (mtime, list.clone()));
    });
    Some(list)
}

fn autoload(path: &str, ctx: &Ctx<'_>) {
    let wanted = ctx
        .with(|s| s.settings.frameworks.package_detection && s.settings.frameworks.composer_api)
        .unwrap_or(false);
    let Some(vendor) = Path::new(path).parent() else {
        return;
    };
    let composer = vendor.join("composer");
    let present = [
        "autoload_real.php",
        "InstalledVersions.php",
        "installed.php",
    ]
    .iter()
    .all(|f| composer.join(f).is_file());
    if !present {
        return;
    }
    ctx.with(|s| {
        if let Some(t) = s.txn.as_deref_mut() {
            t.library_detected("Composer");
        }
    });
    if !wanted {
        return;
    }
    let Some(list) = packages(&composer.join("installed.php")) else {
        return;
    };
    ctx.with(|s| {
        if let Some(t) = s.txn.as_deref_mut() {
            t.add_composer_packages(list.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        }
    });
}
