//! Calls the instrumentation makes into PHP on its own account (running an
//! `EXPLAIN` on a second connection, reading a driver's error message):
//! each runs inside `zend_try`, an exception it throws is cleared before
//! the application could see it, and nothing is called while an exception
//! of the application's is in flight.
//!
//! A caller holds no borrow of the agent state across these calls: they
//! run PHP code, which can reach other hooks.

use super::ffi;
use super::zval::{read, Val};

pub use super::objects::Obj;

/// An argument for a call.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Long(i64),
    /// `true`/`false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A value of the application's (passed with a new reference).
    Zval(*mut ffi::zval),
    /// An object (passed with a new reference).
    Object(Obj),
    /// A float.
    Double(f64),
    /// An array with integer keys and scalar values (PDO's options).
    Indexed(&'a [(i64, Scalar)]),
    /// A list of strings (curl's `CURLOPT_HTTPHEADER`).
    StrList(&'a [String]),
}

impl<'a> Arg<'a> {
    /// A string, or `null` when there is none.
    pub fn opt_str(s: &'a Option<String>) -> Arg<'a> {
        s.as_deref().map_or(Arg::Null, Arg::Str)
    }
}

/// A scalar the agent copied out of PHP to pass back later (a PDO option,
/// a bound value): never a reference into PHP memory.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// An integer.
    Long(i64),
    /// A float.
    Double(f64),
    /// A string.
    Str(String),
}

impl Scalar {
    /// A copy of a scalar PHP value; `None` for arrays, objects, resources.
    pub fn from_val(v: Val<'_>) -> Option<Scalar> {
        Some(match v {
            Val::Null => Scalar::Null,
            Val::Bool(b) => Scalar::Bool(b),
            Val::Long(n) => Scalar::Long(n),
            Val::Double(d) => Scalar::Double(d),
            Val::Str(s) => Scalar::Str(String::from_utf8_lossy(s).into_owned()),
            Val::Array(_) | Val::Object(_) | Val::Other => return None,
        })
    }

    /// As a call argument.
    pub fn as_arg(&self) -> Arg<'_> {
        match self {
            Scalar::Null => Arg::Null,
            Scalar::Bool(b) => Arg::Bool(*b),
            Scalar::Long(n) => Arg::Long(*n),
            Scalar::Double(d) => Arg::Double(*d),
            Scalar::Str(s) => Arg::Str(s),
        }
    }
}

/// Initialises `z` with `arg`.
///
/// # Safety
/// `z` must be an uninitialised (or undef) zval the caller releases.
unsafe fn init_zval(z: *mut ffi::zval, arg: &Arg<'_>) {
    // SAFETY: caller's contract; strings are copied into PHP memory.
    unsafe {
        match *arg {
            Arg::Str(s) => ffi::seraph_zval_stringl(z, s.as_ptr().cast(), s.len()),
            Arg::Long(n) => ffi::seraph_zval_long(z, n),
            Arg::Bool(b) => ffi::seraph_zval_bool(z, i32::from(b)),
            Arg::Null => ffi::seraph_zval_null(z),
            Arg::Zval(p) if !p.is_null() => ffi::seraph_zval_copy(z, p),
            Arg::Zval(_) => ffi::seraph_zval_null(z),
            Arg::Object(o) => ffi::seraph_zval_obj(z, o.raw()),
            Arg::Double(d) => ffi::seraph_zval_double(z, d),
            Arg::StrList(items) => {
                let ptrs: Vec<*const libc::c_char> =
                    items.iter().map(|l| l.as_ptr().cast()).collect();
                let lens: Vec<usize> = items.iter().map(String::len).collect();
                ffi::seraph_zval_string_array(z, ptrs.as_ptr(), lens.as_ptr(), items.len());
            }
            Arg::Indexed(items) => {
                ffi::seraph_zval_empty_array(z);
                for (k, v) in items {
                    let mut item: ffi::zval = std::mem::zeroed();
                    init_zval(&mut item, &v.as_arg());
                    ffi::seraph_zval_array_set(z, *k, &mut item);
                }
            }
        }
    }
}

/// Why a call returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// It failed or threw (the exception was cleared).
    Failed,
    /// A fatal error or `exit()` unwound through it: stop calling PHP; the
    /// entry point re-raises it.
    Bailout,
    /// An exception of the application's is in flight: nothing was called.
    ExceptionPending,
}

/// A value a call returned, released when dropped.
pub struct Value(ffi::zval);

impl Value {
    /// The value, as far as the agent reads values.
    pub fn get(&self) -> Val<'_> {
        // SAFETY: a live zval we own.
        unsafe { read(&self.0) }
    }

    /// The object, when the value is one (alive as long as the value).
    pub fn object(&self) -> Option<Obj> {
        match self.get() {
            // SAFETY: an object this value holds a reference to.
            Val::Object(o) => unsafe { Obj::from_raw(o) },
            _ => None,
        }
    }

    /// A pointer to pass the value back to PHP (as an [`Arg::Zval`]).
    pub fn as_arg(&mut self) -> Arg<'_> {
        Arg::Zval(&mut self.0)
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        let zv = &mut self.0 as *mut ffi::zval;
        // Releasing may run a destructor (PHP code): under zend_try, a
        // bailout left pending for the entry point to re-raise.
        super::try_call(|| {
            // SAFETY: releases the zval we own; it is left UNDEF.
            unsafe { ffi::seraph_zval_dtor(zv) }
        });
    }
}

/// Builds the argument zvals, runs `f` on them, releases them.
fn with_args<R>(args: &[Arg<'_>], f: impl FnOnce(u32, *mut ffi::zval) -> R) -> R {
    // SAFETY: zvals are initialised by the shim helpers before use and
    // released below; strings are copied into PHP memory.
    unsafe {
        let mut argv: Vec<ffi::zval> = vec![std::mem::zeroed(); args.len()];
        for (z, a) in argv.iter_mut().zip(args) {
            init_zval(z, a);
        }
        let r = f(argv.len() as u32, argv.as_mut_ptr());
        for z in argv.iter_mut() {
            ffi::seraph_zval_dtor(z);
        }
        r
    }
}

fn outcome(rc: i32, v: ffi::zval) -> Result<Value, CallError> {
    let value = Value(v);
    match rc {
        0 => Ok(value),
        1 => Err(CallError::Bailout),
        2 => Err(CallError::ExceptionPending),
        _ => Err(CallError::Failed),
    }
}

/// `$obj->name(...args)`.
pub fn method(obj: Obj, name: &str, args: &[Arg<'_>]) -> Result<Value, CallError> {
    with_args(args, |argc, argv| {
        // SAFETY: zeroed is a valid UNDEF zval; the shim initialises it.
        let mut ret: ffi::zval = unsafe { std::mem::zeroed() };
        // SAFETY: `obj` is a live object; argv holds argc initialised
        // zvals.
        let rc = unsafe {
            ffi::seraph_call_method(
                obj.raw(),
                name.as_ptr().cast(),
                name.len(),
                &mut ret,
                argc,
                argv,
            )
        };
        outcome(rc, ret)
    })
}

/// `name(...args)`.
pub fn function(name: &str, args: &[Arg<'_>]) -> Result<Value, CallError> {
    with_args(args, |argc, argv| {
        // SAFETY: as in `method`.
        let mut ret: ffi::zval = unsafe { std::mem::zeroed() };
        // SAFETY: argv holds argc initialised zvals.
        let rc = unsafe {
            ffi::seraph_call_function_quiet(name.as_ptr().cast(), name.len(), &mut ret, argc, argv)
        };
        outcome(rc, ret)
    })
}

/// `new Class(...args)` (autoloading the class if needed).
pub fn new_object(class_lc: &str, args: &[Arg<'_>]) -> Result<Value, CallError> {
    with_args(args, |argc, argv| {
        // SAFETY: as in `method`.
        let mut out: ffi::zval = unsafe { std::mem::zeroed() };
        // SAFETY: argv holds argc initialised zvals.
        let rc = unsafe {
            ffi::seraph_new_object(
                class_lc.as_ptr().cast(),
                class_lc.len(),
                &mut out,
                argc,
                argv,
            )
        };
        outcome(rc, out)
    })
}

/// Silences PHP errors (as `@` does) while it lives: an instrumentation
/// call's warnings are not the application's.
pub struct Silenced(i32);

impl Silenced {
    /// `error_reporting` becomes 0 until the guard is dropped.
    pub fn new() -> Silenced {
        // SAFETY: reads and sets an executor global.
        Silenced(unsafe { ffi::seraph_silence_errors() })
    }
}

impl Default for Silenced {
    fn default() -> Self {
        Silenced::new()
    }
}

impl Drop for Silenced {
    fn drop(&mut self) {
        // SAFETY: restores the executor global.
        unsafe { ffi::seraph_restore_errors(self.0) };
    }
}

/// Whether `obj` is an instance of the (lower-case) class.
pub fn instance_of(obj: Obj, class_lc: &str) -> bool {
    // SAFETY: a live object.
    unsafe { ffi::seraph_instanceof(obj.raw(), class_lc.as_ptr().cast(), class_lc.len()) != 0 }
}

/// A public property of an object, read without `__get` or notices.
///
/// # Safety
/// The value borrows from the object: use it before anything can change
/// or free the property.
pub unsafe fn property<'a>(obj: Obj, name: &str) -> Val<'a> {
    // SAFETY: a live object; the caller's contract covers the borrow.
    unsafe {
        read(ffi::seraph_object_prop(
            obj.raw(),
            name.as_ptr().cast(),
            name.len(),
        ))
    }
}

/// A property of an object whatever its visibility (public, then
/// protected), read without `__get` or notices.
///
/// # Safety
/// As [`property`].
pub unsafe fn property_any<'a>(obj: Obj, name: &str) -> Val<'a> {
    // SAFETY: forwarded.
    match unsafe { property(obj, name) } {
        Val::Null => {
            let mangled = format!("\0*\0{name}");
            // SAFETY: forwarded; protected names are mangled this way.
            unsafe { property(obj, &mangled) }
        }
        v => v,
    }
}

/// A public string property of an object, read without `__get` or notices.
pub fn property_string(obj: Obj, name: &str) -> Option<String> {
    // SAFETY: a live object; the property is copied at once.
    unsafe {
        read(ffi::seraph_object_prop(
            obj.raw(),
            name.as_ptr().cast(),
            name.len(),
        ))
    }
    .string()
}
