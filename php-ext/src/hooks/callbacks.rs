//! Hooks on callbacks: a hooked function that receives a callable (WordPress's
//! `add_filter($tag, $callback)`) can have that callable hooked too, for the
//! rest of the request, with a value of its own attached (the plugin the
//! callback belongs to).
//!
//! The Zend observer decides per function when the function is first called
//! in a request (`observer::init`), so a callback registered before its
//! first call gets the hook, which is how frameworks use callbacks
//! (registered while plugins load, called when the hook fires). A callback
//! that already ran in the request before it was registered is not hooked.
//! Entries are keyed by `zend_function` address and live for the request.

use super::call::Call;
use super::context::Ctx;
use super::table::{Hook, Library};
use crate::zend::ffi;
use crate::zend::objects::{self, Func};
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// Callbacks hooked in this request.
#[derive(Default)]
pub struct Callbacks(FxHashMap<usize, Callback>);
crate::hooks::context::lib_state!(Callbacks);

struct Callback {
    lib: &'static Library,
    hook: &'static Hook,
    /// Shared, not copied, with every call of the callback.
    data: Option<Rc<str>>,
}

/// Callbacks hooked per request at most (a registry that grows with every
/// request of a long-running worker must stay bounded).
pub const LIMIT: usize = 20_000;

/// The hook of a callback function, if one was registered in this request.
pub(super) fn find(func: *const ffi::zend_function) -> Option<(&'static Library, &'static Hook)> {
    Ctx::current()
        .with(|s| {
            s.state::<Callbacks>()
                .0
                .get(&(func as usize))
                .map(|c| (c.lib, c.hook))
        })
        .flatten()
}

impl Ctx<'_> {
    /// Hooks the user function argument `arg` of `call` names with `hook` (a row that is
    /// not in the table, of library `lib`), attaching `data`. Returns
    /// whether it was hooked (false for internal functions, `__call`
    /// trampolines and values that are not callable). Resolving the callable
    /// may autoload a class, so no borrow is held across it.
    pub fn hook_callback(
        &self,
        call: &Call,
        arg: u32,
        lib: &'static Library,
        hook: &'static Hook,
        data: impl FnOnce(Func) -> Option<Option<Rc<str>>>,
    ) -> bool {
        let Some(func) = objects::callable_function(call, arg) else {
            return false;
        };
        let Some(data) = data(func) else {
            return false;
        };
        self.with(|s| {
            let map = &mut s.state::<Callbacks>().0;
            if map.len() >= LIMIT && !map.contains_key(&func.key()) {
                return false;
            }
            map.insert(func.key(), Callback { lib, hook, data });
            true
        })
        .unwrap_or(false)
    }

    /// The data attached to the callback a hook runs for.
    pub fn callback_data(&self, call: &Call) -> Option<Rc<str>> {
        // SAFETY: the live frame of the hooked call.
        let func = unsafe { (*call.frame()).func } as usize;
        self.with(|s| {
            s.state::<Callbacks>()
                .0
                .get(&func)
                .and_then(|c| c.data.clone())
        })
        .flatten()
    }
}
