//! Object access for framework hooks (`objects.c`): calling a method,
//! reading a class constant, resolving a callable, with PHP's exceptions
//! kept away from the application and bailouts caught.
//!
//! These calls run PHP code, so a hook makes them between its borrows of
//! the agent state, never inside one (see `hooks::context`).

use super::ffi;
use super::zval::{read, zstr, zstr_lossy, Val};

/// A value returned by PHP, destroyed when dropped.
pub struct Owned(ffi::zval);

impl Owned {
    /// The value.
    pub fn val(&self) -> Val<'_> {
        // SAFETY: a valid zval owned by `self`.
        unsafe { read(&self.0) }
    }

    /// The value as a string, when it is one (or a number).
    pub fn string(&self) -> Option<String> {
        self.val().string()
    }

    /// The object it holds (alive as long as `self`).
    pub fn object(&self) -> Option<Obj> {
        object(self.val())
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let zv = &mut self.0 as *mut ffi::zval;
        // Destroying may run a destructor (PHP code): under zend_try. A
        // bailout stays pending for the hook's wrapper to re-raise.
        super::try_call(|| {
            // SAFETY: a valid zval we own; the dtor leaves it UNDEF.
            unsafe { ffi::seraph_zval_dtor(zv) }
        });
    }
}

/// An argument for [`call_method`].
pub enum Arg<'a> {
    /// A new string.
    Str(&'a str),
    /// A value PHP handed the hook (passed as is).
    Zval(*mut ffi::zval),
}

/// An object PHP handed a hook (an argument, `$this`, a returned value):
/// valid while the hook runs, which is as long as hooks keep it.
#[derive(Clone, Copy, Debug)]
pub struct Obj(*mut ffi::zend_object);

/// The object a value holds.
pub fn object(v: Val<'_>) -> Option<Obj> {
    match v {
        Val::Object(o) if !o.is_null() => Some(Obj(o)),
        _ => None,
    }
}

impl Obj {
    /// Wraps a live object pointer.
    ///
    /// # Safety
    /// `p` must be null or an object that stays alive while the `Obj` is
    /// used.
    pub unsafe fn from_raw(p: *mut ffi::zend_object) -> Option<Obj> {
        (!p.is_null()).then_some(Obj(p))
    }

    /// The raw object.
    pub fn raw(self) -> *mut ffi::zend_object {
        self.0
    }

    /// The object's handle: a key for per-object state.
    pub fn handle(self) -> u32 {
        // SAFETY: live by the constructor's contract.
        unsafe { (*self.0).handle }
    }

    /// Calls `$obj->name(...args)`; `None` when there is no such method,
    /// it threw (the exception is cleared) or a bailout happened (left
    /// pending).
    pub fn call(self, name: &str, args: &[Arg<'_>]) -> Option<Owned> {
        // SAFETY: zeroed zvals are UNDEF.
        let mut argv: Vec<ffi::zval> = (0..args.len())
            .map(|_| unsafe { std::mem::zeroed() })
            .collect();
        for (slot, a) in argv.iter_mut().zip(args) {
            match a {
                // SAFETY: a valid out-zval; the string is copied.
                Arg::Str(s) => unsafe { ffi::seraph_zval_str(slot, s.as_ptr().cast(), s.len()) },
                // SAFETY: a shallow copy of a live value; the call adds its
                // own references and the copy is never destroyed.
                Arg::Zval(z) if !z.is_null() => unsafe {
                    std::ptr::copy_nonoverlapping(*z, slot, 1)
                },
                Arg::Zval(_) => {}
            }
        }
        // SAFETY: zeroed is UNDEF, filled by the call.
        let mut rv: ffi::zval = unsafe { std::mem::zeroed() };
        // SAFETY: a live object (the type's contract); argv holds
        // `args.len()` valid zvals.
        let rc = unsafe {
            ffi::seraph_call_method(
                self.0,
                name.as_ptr().cast(),
                name.len(),
                &mut rv,
                argv.len() as u32,
                argv.as_mut_ptr(),
            )
        };
        for (slot, a) in argv.iter_mut().zip(args) {
            if let Arg::Str(_) = a {
                // SAFETY: the string created above.
                unsafe { ffi::seraph_zval_dtor(slot) };
            }
        }
        (rc == 0).then_some(Owned(rv))
    }

    /// `$obj->name()` as a string.
    pub fn call_string(self, name: &str) -> Option<String> {
        self.call(name, &[])?.string()
    }

    /// Whether the object's class has the (lower-case) method.
    pub fn has_method(self, name_lc: &str) -> bool {
        // SAFETY: a live object; the name is read, not kept.
        unsafe { ffi::seraph_has_method(self.0, name_lc.as_ptr().cast(), name_lc.len()) != 0 }
    }

    /// Whether the object is an instance of the (lower-case) class or
    /// interface.
    pub fn instance_of(self, class_lc: &str) -> bool {
        // SAFETY: as above.
        unsafe { ffi::seraph_instanceof(self.0, class_lc.as_ptr().cast(), class_lc.len()) != 0 }
    }

    /// The object's class name.
    pub fn class_name(self) -> Option<String> {
        // SAFETY: a live object's class name, copied at once.
        unsafe { zstr_lossy(ffi::seraph_class_name(self.0)) }
    }

    /// A literal class constant of the object's class, as a string.
    pub fn constant(self, name: &str) -> Option<String> {
        // SAFETY: a live object; the constant's value is read at once.
        unsafe {
            read(ffi::seraph_class_constant(
                self.0,
                name.as_ptr().cast(),
                name.len(),
            ))
        }
        .string()
    }

    /// A string property, read as the object's own class would.
    pub fn string_prop(self, name: &std::ffi::CStr) -> Option<String> {
        let bytes = name.to_bytes();
        // SAFETY: a live object; the string is copied at once.
        unsafe {
            zstr_lossy(ffi::seraph_read_string_prop(
                self.0,
                name.as_ptr(),
                bytes.len(),
            ))
        }
    }
}

/// A user function a callable named (see [`callable_function`]); user
/// functions live until the end of the request.
#[derive(Clone, Copy, Debug)]
pub struct Func(*mut ffi::zend_function);

impl Func {
    /// The function's address (a key for per-request state).
    pub fn key(self) -> usize {
        self.0 as usize
    }

    /// The file the function was declared in.
    pub fn filename(self) -> Option<String> {
        // SAFETY: a live user function; the name is copied at once.
        unsafe { zstr_lossy(ffi::seraph_function_filename(self.0)) }
    }

    /// Runs `f` on the bytes of the file name the function was declared
    /// in (not copied).
    pub fn with_filename<R>(self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        // SAFETY: a live user function; its file name outlives this call.
        unsafe { zstr(ffi::seraph_function_filename(self.0)) }.map(f)
    }

    /// The address of its file name string: the same for every function
    /// of a file, and for the whole request (compiled file names are
    /// interned and live as long as the file's functions), so a key for
    /// what is known about the file.
    pub fn file_key(self) -> usize {
        // SAFETY: a live user function.
        unsafe { ffi::seraph_function_filename(self.0) as usize }
    }
}

/// The user function argument `n` of a hooked call names as a callable (a
/// function name, `C::m`, `[obj, "m"]`, a Closure, an invokable object);
/// `None` for internal functions, `__call` trampolines and values that are
/// not callable. Resolving may autoload a class.
pub fn callable_function(call: &crate::hooks::call::Call, n: u32) -> Option<Func> {
    let zv = call.arg_ptr(n);
    if zv.is_null() {
        return None;
    }
    // SAFETY: a live argument zval of the hooked call.
    let f = unsafe { ffi::seraph_callable_function(zv) };
    (!f.is_null()).then_some(Func(f))
}

/// How many global constants are defined; while it stays the same, no
/// constant has appeared.
pub fn constant_count() -> u32 {
    // SAFETY: reads the size of the engine's constant table.
    unsafe { ffi::seraph_constant_count() }
}

/// A global constant's value, as a string.
pub fn constant_string(name: &str) -> Option<String> {
    // SAFETY: the constant table's value, read at once.
    unsafe { read(ffi::seraph_constant(name.as_ptr().cast(), name.len())) }.string()
}

/// An array's element by string key.
///
/// # Safety
/// `ht` must be a live array; the value borrows from it.
pub unsafe fn array_get<'a>(ht: *mut ffi::HashTable, key: &str) -> Val<'a> {
    // SAFETY: the caller's contract.
    unsafe { read(ffi::seraph_hash_find(ht, key.as_ptr().cast(), key.len())) }
}

/// Runs PHP code the agent provides (declaring a helper function).
pub fn eval(code: &std::ffi::CStr, name: &std::ffi::CStr) -> bool {
    // SAFETY: NUL-terminated strings, read during the call.
    unsafe { ffi::seraph_eval(code.as_ptr(), name.as_ptr()) == 0 }
}

/// Whether a global function exists (lower-case name).
pub fn function_exists(name_lc: &str) -> bool {
    // SAFETY: the name is read, not kept.
    unsafe { ffi::seraph_function_exists(name_lc.as_ptr().cast(), name_lc.len()) != 0 }
}
