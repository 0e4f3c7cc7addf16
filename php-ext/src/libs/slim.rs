//! Slim 2, 3 and 4: requests are named after the matched route's name, else
//! its pattern (`WebTransaction/Action/hello/{name}`), when the route runs
//! (the first route to run names the request).
//!
//! New Relic detects Slim only by Composer's layout
//! (`vendor/slim/slim/Slim/App.php`); Seraph also recognises the layout of
//! distribution packages (Debian's `php-slim`: `/usr/share/php/Slim/App.php`),
//! which New Relic 12.9 leaves as `WebTransaction/Uri/index.php`.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, FrameworkLibrary, Hook, Library, Target};
use seraph_txn::Framework;

/// Slim's rows.
pub static FRAMEWORK: FrameworkLibrary = FrameworkLibrary {
    framework: Framework::Slim,
    library: Library {
        name: "Slim",
        hooks: &[
            Hook::new(Target::File("slim/slim/app.php")),
            Hook::new(Target::File("slim/slim/slim.php")),
            Hook::new(Target::File("/slim/app.php")),
            Hook::new(Target::Method("slim\\route", "dispatch"))
                .traced()
                .after(slim2_dispatch),
            Hook::new(Target::Method("slim\\route", "run"))
                .traced()
                .after(route_run),
            Hook::new(Target::Method("slim\\routing\\route", "run"))
                .traced()
                .after(route_run),
            Hook::new(Target::Method("slim\\app", "__construct"))
                .traced()
                .after(app_construct),
            Hook::new(Target::Method("slim\\slim", "__construct"))
                .traced()
                .after(app_construct),
        ],
    },
    on_detect: None,
};

/// The route's name, else its pattern.
fn route_name(call: &Call) -> Option<String> {
    [c"name", c"pattern"]
        .into_iter()
        .find_map(|p| call.this_string_prop(p).filter(|s| !s.is_empty()))
}

/// Slim 3 and 4: `Route::run` ran the matched route.
fn route_run(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let Some(name) = route_name(call) {
        ctx.name_by_framework(&name, false);
    }
}

/// Slim 2: `Route::dispatch` returns true when it handled the request.
fn slim2_dispatch(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if call.ret().is_some_and(|v| v.truthy()) {
        if let Some(name) = route_name(call) {
            ctx.name_by_framework(&name, true);
        }
    }
}

/// The application's `VERSION` constant names the package version.
fn app_construct(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let version = call.this_obj().and_then(|o| o.constant("VERSION"));
    ctx.add_package("slim/slim", version.as_deref());
}
