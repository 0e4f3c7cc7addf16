//! pcntl: a forked child lets go of its parent's transaction at once
//! (see `Agent::check_fork`), before the child's calls are recorded into
//! it. New Relic's agent counts no metric for these functions.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::zval::Val;

/// pcntl's rows.
pub static LIBRARY: Library = Library {
    name: "pcntl",
    hooks: &[
        Hook::new(Target::Function("pcntl_fork")).after(after_fork),
        Hook::new(Target::Function("pcntl_rfork")).after(after_fork),
        Hook::new(Target::Function("pcntl_forkx")).after(after_fork),
    ],
};

/// In the child (the call returned 0), drop the parent's transaction and
/// daemon connection.
fn after_fork(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let Some(Val::Long(0)) = call.ret() {
        ctx.forked_child();
    }
}
