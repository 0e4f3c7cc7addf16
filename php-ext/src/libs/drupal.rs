//! Drupal 8 and later: requests are named after the controller Drupal's
//! controller resolver returns for the route (`Drupal\node\Controller\NodeViewController->view`,
//! as New Relic spells callables: `Class->method` for an object's method,
//! `Class::method` for a static one, the class of an invokable object), the
//! first one to resolve (controllers that resolve page titles do not count);
//! a page served from the page cache is `…/Action/page_cache`.
//!
//! Not done: the hook and module metrics New Relic's agent adds
//! (`Framework/Drupal/Hook/…`, `…/Module/…`), Views metrics.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, FrameworkLibrary, Hook, Library, Target};
use crate::zend::objects;
use crate::zend::zval::{array_each, Val};
use seraph_txn::Framework;

/// Drupal's rows.
pub static FRAMEWORK: FrameworkLibrary = FrameworkLibrary {
    framework: Framework::Drupal8,
    library: Library {
        name: "Drupal",
        hooks: &[
            Hook::new(Target::File("core/includes/bootstrap.inc")),
            Hook::new(Target::Method(
                "drupal\\core\\controller\\controllerresolver",
                "getcontrollerfromdefinition",
            ))
            .traced()
            .after(controller_resolved),
            Hook::new(Target::Method(
                "drupal\\core\\controller\\titleresolver",
                "gettitle",
            ))
            .traced()
            .before(title_starts)
            .after(title_ends),
            Hook::new(Target::Method(
                "drupal\\page_cache\\stackmiddleware\\pagecache",
                "get",
            ))
            .traced()
            .after(page_cache_get),
        ],
    },
    on_detect: Some(detected),
};

fn detected(ctx: &Ctx<'_>) {
    ctx.add_package("drupal", None);
}

/// Title resolutions in progress (their controllers do not name requests).
#[derive(Default)]
struct Titles(u32);
crate::hooks::context::lib_state!(Titles);

fn title_starts(_call: &Call, ctx: &Ctx<'_>) -> Before {
    ctx.with(|s| s.state::<Titles>().0 += 1);
    Before::default()
}

fn title_ends(_call: &Call, ctx: &Ctx<'_>, _: Before) {
    ctx.with(|s| {
        let t = s.state::<Titles>();
        t.0 = t.0.saturating_sub(1);
    });
}

/// A callable as New Relic names it.
fn callable_name(v: Val<'_>) -> Option<String> {
    match v {
        Val::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
        Val::Object(_) => objects::object(v)?.class_name(),
        Val::Array(ht) => {
            let mut parts = Vec::new();
            // SAFETY: the returned array, alive while the hook runs.
            unsafe {
                array_each(ht, |_, v| {
                    if parts.len() < 2 {
                        parts.push(match v {
                            Val::Object(_) => objects::object(v)
                                .and_then(|o| o.class_name())
                                .map(|c| (c, true)),
                            other => other.string().map(|s| (s, false)),
                        });
                    }
                });
            }
            match (parts.first()?.clone()?, parts.get(1)?.clone()?) {
                ((class, true), (method, _)) => Some(format!("{class}->{method}")),
                ((class, false), (method, _)) => Some(format!("{class}::{method}")),
            }
        }
        _ => None,
    }
}

/// `ControllerResolver::getControllerFromDefinition()` returned the
/// controller callable.
fn controller_resolved(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let in_title = ctx.with(|s| s.state::<Titles>().0 > 0).unwrap_or(false);
    if in_title {
        return;
    }
    if let Some(name) = call.ret().and_then(callable_name).filter(|n| !n.is_empty()) {
        ctx.name_by_framework(&name, false);
    }
}

/// `PageCache::get()` returns a response on a cache hit.
fn page_cache_get(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if matches!(call.ret(), Some(Val::Object(_))) {
        ctx.name_by_framework("page_cache", true);
    }
}
