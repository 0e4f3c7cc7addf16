//! MediaWiki 1.18 and later: page requests are named after their action
//! (`WebTransaction/Action/action/view`), API requests after the API module
//! (`WebTransaction/Action/api/query`).

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, FrameworkLibrary, Hook, Library, Target};
use seraph_txn::Framework;

/// MediaWiki's rows.
pub static FRAMEWORK: FrameworkLibrary = FrameworkLibrary {
    framework: Framework::MediaWiki,
    library: Library {
        name: "MediaWiki",
        hooks: &[
            Hook::new(Target::File("includes/webstart.php")),
            Hook::new(Target::Method("mediawiki", "getaction"))
                .traced()
                .after(get_action),
            Hook::new(Target::Method("apimain", "setupexecuteaction"))
                .traced()
                .after(api_action),
        ],
    },
    on_detect: None,
};

/// `MediaWiki::getAction()` returns the action being performed; the last
/// one named wins (a normal request has one).
fn get_action(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let Some(a) = call
        .ret()
        .and_then(|v| v.string())
        .filter(|a| !a.is_empty())
    {
        ctx.name_by_framework(&format!("action/{a}"), true);
    }
}

/// `ApiMain::setupExecuteAction()` has set `$this->mAction`.
fn api_action(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let Some(a) = call.this_string_prop(c"mAction").filter(|a| !a.is_empty()) {
        ctx.name_by_framework(&format!("api/{a}"), false);
    }
}
