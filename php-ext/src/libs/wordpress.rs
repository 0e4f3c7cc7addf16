//! WordPress: detected by `wp-config.php`; transactions named after the
//! template `template_include` resolves to (`WebTransaction/Action/single`,
//! or `template-canvas` for block themes); hook and plugin timing; AJAX
//! requests named by their action.
//!
//! Hook timing follows `newrelic.framework.wordpress.hooks*` as New Relic
//! does. The hook tag is the first argument of `apply_filters`,
//! `apply_filters_ref_array`, `do_action` or `do_action_ref_array`
//! (tags with a transient hexadecimal part are cleaned:
//! `add_option__transient_timeout_twccr_382402301f44c883bc0137_cat` becomes
//! `add_option__transient_timeout_twccr_*_cat`). Then, by
//! `hooks.options`:
//!
//! * `plugin_callbacks` (default): `add_filter` hooks every callback that
//!   belongs to a plugin or theme; when one runs, its duration goes to
//!   `Framework/WordPress/Hook/<tag>` (the dispatch nearest below it on
//!   PHP's stack) and `Framework/WordPress/Plugin/<name>` (unscoped);
//! * `all_callbacks`: core callbacks too, as `…/Hook/<tag>` only;
//! * `threshold`: no callbacks; a dispatch lasting at least
//!   `hooks.threshold` (1 ms) is timed as `…/Hook/<tag>` (only this mode
//!   keeps a stack of the tags being dispatched).
//!
//! A callback belongs to the plugin whose directory (`WP_PLUGIN_DIR`, else
//! `WP_CONTENT_DIR/plugins`, else any `/wp-content/plugins/`) holds its
//! file: the directory name, or the file name without `.php` for a
//! single-file plugin; themes likewise under `WP_CONTENT_DIR/themes`.
//! Callbacks from a file whose path contains `hooks_skip_filename` are left
//! alone.

mod owners;

use crate::config::WordPressHooks;
use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, FrameworkLibrary, Hook, Library, Target};
use crate::zend::zval::Val;
use regex::Regex;
use rustc_hash::FxHashMap;
use seraph_txn::Framework;
use std::rc::Rc;
use std::sync::Mutex;

/// WordPress's rows.
pub static FRAMEWORK: FrameworkLibrary = FrameworkLibrary {
    framework: Framework::WordPress,
    library: Library {
        name: "WordPress",
        hooks: &[
            Hook::new(Target::File("wp-config.php")),
            Hook::new(Target::File("wp-includes/version.php"))
                .no_detect()
                .on_file(version_file),
            Hook::new(Target::Function("apply_filters"))
                .traced()
                .before(push_apply_filters)
                .after(after_apply_filters)
                .metric("Supportability/InstrumentedFunction/apply_filters"),
            // New Relic hooks these only with `wordpress.hooks` on, and
            // `add_filter` only when callbacks are timed: their metrics are
            // counted by the hooks under the same conditions.
            Hook::new(Target::Function("apply_filters_ref_array"))
                .traced()
                .before(push_apply_filters_ref_array)
                .after(pop_tag),
            Hook::new(Target::Function("do_action"))
                .traced()
                .before(push_do_action)
                .after(pop_tag),
            Hook::new(Target::Function("do_action_ref_array"))
                .traced()
                .before(push_do_action_ref_array)
                .after(pop_tag),
            Hook::new(Target::Function("add_filter"))
                .traced()
                .before(add_filter),
        ],
    },
    on_detect: Some(detected),
};

/// The row every hooked callback runs.
static CALLBACK: Hook = Hook::new(Target::Callback("WordPress hook callback"))
    .traced()
    .before(callback_start)
    .after(callback_end);

/// Per-request state: the tags being dispatched (`threshold` mode) and
/// the hook metrics. WordPress dispatches thousands of hooks per page, so
/// a tag's metric name is made once per request and shared (`Rc`), and
/// looked up by the argument's bytes without copying them.
#[derive(Default)]
struct WpState {
    /// One entry per dispatch in progress (`threshold` mode): the metric
    /// of its tag (`Framework/WordPress/Hook/<cleaned tag>`), if it has one.
    tags: Vec<Option<Rc<str>>>,
    /// Tag metrics by raw tag.
    metrics: FxHashMap<Box<[u8]>, Rc<str>>,
}
crate::hooks::context::lib_state!(WpState);

/// Dispatches tracked at once at most (runaway recursion).
const TAG_DEPTH: usize = 512;

fn detected(ctx: &Ctx<'_>) {
    ctx.add_package("wordpress", None);
}

/// `wp-includes/version.php` holds the version; it is read from the file
/// (its code has not run yet when the file is first seen).
fn version_file(path: &str, ctx: &Ctx<'_>) {
    let version = std::fs::read_to_string(path)
        .ok()
        .and_then(|src| seraph_txn::packages::wordpress_version(&src));
    ctx.add_package("wordpress", version.as_deref());
}

fn push_apply_filters(call: &Call, ctx: &Ctx<'_>) -> Before {
    // Only `threshold` mode does anything before a filter runs (AJAX
    // actions come through `do_action`); this is WordPress's most called
    // function, so the other modes stop at the setting. Its row counts
    // its own metric.
    match hooks_mode(ctx) {
        Some(WordPressHooks::Threshold) => start_dispatch(call, ctx, WordPressHooks::Threshold),
        _ => Before::default(),
    }
}

/// How hooks are instrumented; `None` when they are not.
fn hooks_mode(ctx: &Ctx<'_>) -> Option<WordPressHooks> {
    ctx.with(|s| {
        let f = &s.settings.frameworks;
        f.wordpress_hooks.then_some(f.wordpress_hooks_options)
    })
    .flatten()
}

fn push_apply_filters_ref_array(call: &Call, ctx: &Ctx<'_>) -> Before {
    push_tag(
        call,
        ctx,
        Some("Supportability/InstrumentedFunction/apply_filters_ref_array"),
    )
}

fn push_do_action(call: &Call, ctx: &Ctx<'_>) -> Before {
    push_tag(
        call,
        ctx,
        Some("Supportability/InstrumentedFunction/do_action"),
    )
}

fn push_do_action_ref_array(call: &Call, ctx: &Ctx<'_>) -> Before {
    push_tag(
        call,
        ctx,
        Some("Supportability/InstrumentedFunction/do_action_ref_array"),
    )
}

/// The first argument as the dispatch's tag. `instrumented` is the
/// `Supportability/InstrumentedFunction/<function>` metric of a function
/// instrumented only under some settings, counted when they apply.
///
/// Only `threshold` mode times dispatches, so only it keeps the stack of
/// tags; when callbacks are timed, a callback finds its tag on PHP's own
/// stack when it returns ([`dispatch_tag`]). WordPress dispatches about
/// 20 000 hooks per page and runs a few dozen plugin callbacks, so the
/// work is done where it is rare.
fn push_tag(call: &Call, ctx: &Ctx<'_>, instrumented: Option<&'static str>) -> Before {
    let Some(mode) = hooks_mode(ctx) else {
        return Before::default();
    };
    if let Some(m) = instrumented {
        ctx.count(m);
    }
    start_dispatch(call, ctx, mode)
}

/// A dispatch starts under `mode`: an AJAX action names the transaction;
/// in `threshold` mode the dispatch's tag is stacked and its start kept.
fn start_dispatch(call: &Call, ctx: &Ctx<'_>, mode: WordPressHooks) -> Before {
    let arg = call.arg(1);
    let tag = match arg {
        Val::Str(b) if !b.is_empty() => Some(b),
        _ => None,
    };
    if let Some(t) = tag.filter(|t| t.starts_with(b"wp_ajax_")) {
        name_ajax(&String::from_utf8_lossy(t), ctx);
    }
    if mode != WordPressHooks::Threshold {
        return Before::default();
    }
    let start = ctx.with(|s| {
        let st = s.state::<WpState>();
        if st.tags.len() < TAG_DEPTH {
            let metric = tag.map(|t| hook_metric(&mut st.metrics, t));
            st.tags.push(metric);
        }
        s.clock.now()
    });
    Before {
        start,
        bailed: false,
    }
}

/// The metric of the hook whose dispatch runs the callback `call`: the
/// first argument of the nearest `apply_filters`/`do_action` (or their
/// `_ref_array` forms) below it on PHP's stack.
fn dispatch_tag(call: &Call, ctx: &Ctx<'_>) -> Option<Rc<str>> {
    let dispatch = call.enclosing(DISPATCH_DEPTH, |hook| {
        matches!(
            hook.target,
            Target::Function(
                "apply_filters" | "apply_filters_ref_array" | "do_action" | "do_action_ref_array"
            )
        )
    })?;
    let Val::Str(tag) = dispatch.arg(1) else {
        return None;
    };
    if tag.is_empty() {
        return None;
    }
    ctx.with(|s| hook_metric(&mut s.state::<WpState>().metrics, tag))
}

/// Frames searched below a callback for its dispatch: WordPress calls a
/// callback from `WP_Hook::apply_filters` (sometimes through
/// `call_user_func_array`), which `apply_filters` or `do_action` called.
const DISPATCH_DEPTH: usize = 8;

/// Ends a dispatch: in `threshold` mode a slow one is timed.
fn pop_tag(_call: &Call, ctx: &Ctx<'_>, before: Before) {
    let Some(start) = before.start else { return };
    let popped = ctx
        .with(|s| {
            let threshold = match s.settings.frameworks.wordpress_hooks_options {
                WordPressHooks::Threshold => Some(s.settings.frameworks.wordpress_hooks_threshold),
                _ => None,
            };
            (s.state::<WpState>().tags.pop().flatten(), threshold)
        })
        .unwrap_or_default();
    if let (Some(metric), Some(threshold)) = popped {
        if ctx.seconds_since(start) >= threshold.as_secs_f64() {
            ctx.add_timed_metric(&metric, start);
        }
    }
}

/// `apply_filters('template_include', $template)` returns the template that
/// renders the page: the transaction is named after it (first one wins).
fn after_apply_filters(call: &Call, ctx: &Ctx<'_>, before: Before) {
    if matches!(call.arg(1), Val::Str(b"template_include")) {
        if let Some(name) = call
            .ret()
            .and_then(|v| v.string())
            .as_deref()
            .and_then(template_name)
        {
            ctx.name_by_framework(&name, false);
        }
    }
    pop_tag(call, ctx, before);
}

/// `wp-content/themes/x/single.php` → `single`.
fn template_name(path: &str) -> Option<String> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let name = match base.rfind('.') {
        Some(i) => &base[..i],
        None => base,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// `admin-ajax.php` fires `wp_ajax_<action>` (or `wp_ajax_nopriv_<action>`):
/// the request is named `admin-ajax/<action>` (Seraph's; New Relic names
/// every AJAX request `Uri/wp-admin/admin-ajax.php`).
fn name_ajax(tag: &str, ctx: &Ctx<'_>) {
    let action = tag
        .strip_prefix("wp_ajax_nopriv_")
        .or_else(|| tag.strip_prefix("wp_ajax_"));
    if let Some(a) = action.filter(|a| !a.is_empty()) {
        ctx.name_by_framework(&format!("admin-ajax/{a}"), true);
    }
}

/// `add_filter($tag, $callback)`: hooks the callback when its file belongs
/// to a plugin or theme (or to core, with `all_callbacks`).
fn add_filter(call: &Call, ctx: &Ctx<'_>) -> Before {
    let Some((options, skip)) = ctx
        .with(|s| {
            let f = &s.settings.frameworks;
            f.wordpress_hooks.then(|| {
                (
                    f.wordpress_hooks_options,
                    f.wordpress_hooks_skip_filename.clone(),
                )
            })
        })
        .flatten()
    else {
        return Before::default();
    };
    if options == WordPressHooks::Threshold {
        return Before::default();
    }
    ctx.count("Supportability/InstrumentedFunction/add_filter");
    let prefixes = owners::plugin_prefixes(ctx);
    ctx.hook_callback(call, 2, &FRAMEWORK.library, &CALLBACK, |func| {
        owners::decide(ctx, func, &skip, options, &prefixes)
    });
    Before::default()
}

fn callback_start(_call: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.now(),
        bailed: false,
    }
}

/// A hooked callback returns: its time goes to the tag being dispatched
/// and to its plugin.
fn callback_end(call: &Call, ctx: &Ctx<'_>, before: Before) {
    let Some(start) = before.start else { return };
    let Some(hook) = dispatch_tag(call, ctx) else {
        return;
    };
    ctx.add_timed_metric(&hook, start);
    if let Some(plugin) = ctx.callback_data(call) {
        ctx.add_timed_metric(&plugin, start);
    }
}

/// `Framework/WordPress/Hook/<cleaned tag>` for the raw tag (lossy UTF-8),
/// from the request's cache when it has been seen.
fn hook_metric(cache: &mut FxHashMap<Box<[u8]>, Rc<str>>, tag: &[u8]) -> Rc<str> {
    if let Some(m) = cache.get(tag) {
        return Rc::clone(m);
    }
    let m: Rc<str> = format!(
        "Framework/WordPress/Hook/{}",
        clean_tag(&String::from_utf8_lossy(tag))
    )
    .into();
    if cache.len() < 4096 {
        cache.insert(tag.into(), Rc::clone(&m));
    }
    m
}

/// The pattern of [`clean_tag`], compiled on first use and released at
/// module shutdown ([`forget`]): its match cache holds hash tables that
/// memcheck would count as possibly lost at exit.
static TAG_PATTERN: Mutex<Option<Regex>> = Mutex::new(None);

/// Releases what this module keeps for the process (MSHUTDOWN).
pub fn forget() {
    owners::forget();
    *TAG_PATTERN.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Replaces the transient hexadecimal part some plugins put in tag names
/// with `*`, as New Relic does.
fn clean_tag(tag: &str) -> String {
    let mut re = TAG_PATTERN.lock().unwrap_or_else(|e| e.into_inner());
    let re = re.get_or_insert_with(|| {
        Regex::new(r"(?i)^([a-z_-]+[_-])([0-9a-f_.]+[0-9][0-9a-f.]+)(_?.*)$")
            .expect("a valid pattern")
    });
    match re.captures(tag) {
        Some(c) => format!("{}*{}", &c[1], &c[3]),
        None => tag.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_tags_are_cleaned() {
        assert_eq!(
            clean_tag("add_option__transient_timeout_twccr_382402301f44c883bc0137_cat"),
            "add_option__transient_timeout_twccr_*_cat"
        );
        assert_eq!(clean_tag("the_content"), "the_content");
        assert_eq!(clean_tag("wp_loaded"), "wp_loaded");
    }

    #[test]
    fn templates_name_by_their_file_without_extension() {
        assert_eq!(
            template_name("/srv/wp/wp-includes/template-canvas.php").as_deref(),
            Some("template-canvas")
        );
        assert_eq!(template_name("page").as_deref(), Some("page"));
        assert_eq!(template_name("/x/.php"), None);
    }
}
