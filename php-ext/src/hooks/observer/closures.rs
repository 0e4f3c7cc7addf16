//! Closures: named on first sight, keyed per request (see the module
//! docs of `observer`: a closure's function dies with the closure).

use super::location_of;
use crate::request::AGENT;
use crate::zend::ffi;
use crate::zend::guard::guard;
use crate::zend::zval::{function_name, zstr};
use seraph_txn::CodeLocation;

/// The begin handler of closures (a closure literal's, or a first-class
/// callable arriving through its function's handlers).
pub(super) unsafe extern "C" fn begin_closure(ex: *mut ffi::zend_execute_data) {
    // SAFETY: as in `begin`; the function, its name string and its scope
    // are alive during the call.
    let (func, name, scope) = unsafe {
        let func = (*ex).func;
        (func, (*func).common.function_name, (*func).common.scope)
    };
    guard("observer begin", (), || {
        let _ = AGENT.with(|a| {
            if let Some(a) = a.as_mut() {
                if let Some(t) = a.txn.as_mut() {
                    let now = a.clock.now();
                    // SAFETY: alive during this call (see above).
                    let bytes = unsafe { zstr(name) }.unwrap_or_default();
                    let idx = a
                        .req
                        .closures
                        .key(name as usize, scope as usize, bytes, || {
                            // A first-class callable keeps its function's name
                            // and class (`Class::method`), like a direct call;
                            // a closure literal is `{closure}`.
                            // SAFETY: the live frame's function (above).
                            let fake =
                                unsafe { (*func).common.fn_flags } & ffi::ZEND_ACC_FAKE_CLOSURE;
                            let name = if fake != 0 {
                                // SAFETY: as above.
                                unsafe { function_name(func) }
                            } else {
                                None
                            }
                            .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
                            // SAFETY: as above; copied now, the closure's
                            // function may be freed before the request ends.
                            (name, unsafe { location_of(func) })
                        });
                    t.enter_frame((idx << 1) | 1, ex as usize, now);
                }
            }
        });
    });
}

/// A closure's name and where it is defined.
type ClosureEntry = (usize, usize, Box<[u8]>, String, Option<CodeLocation>);

/// Names of the closures seen in this request.
#[derive(Debug, Default)]
pub struct ClosureNames {
    /// (name string address, scope address, name text, resolved name,
    /// location).
    pub(super) seen: Vec<ClosureEntry>,
}

impl ClosureNames {
    /// Distinct closures named per request; later ones share one entry.
    /// Declarations bound the table in practice; this bounds it for a
    /// CLI worker that runs one request for days.
    pub const LIMIT: usize = 1024;

    /// The index of this closure, adding it on first sight with the name
    /// `resolve` gives. The text is compared too: a freed name string's
    /// address may be reused. The scope tells apart methods of different
    /// classes that share an (interned) name.
    pub fn key(
        &mut self,
        name_ptr: usize,
        scope: usize,
        text: &[u8],
        resolve: impl FnOnce() -> (String, Option<CodeLocation>),
    ) -> usize {
        if let Some(i) = self
            .seen
            .iter()
            .position(|(p, s, t, _, _)| *p == name_ptr && *s == scope && **t == *text)
        {
            return i;
        }
        if self.seen.len() >= Self::LIMIT - 1 {
            if self.seen.len() == Self::LIMIT - 1 {
                let overflow = (
                    usize::MAX,
                    usize::MAX,
                    Box::default(),
                    "{closure}".into(),
                    None,
                );
                self.seen.push(overflow);
            }
            return Self::LIMIT - 1;
        }
        let (name, location) = resolve();
        self.seen
            .push((name_ptr, scope, text.into(), name, location));
        self.seen.len() - 1
    }
}
