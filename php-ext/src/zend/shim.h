/*
 * The C half of the engine boundary: only what bindgen cannot express.
 * Every function here wraps a macro, an inline function or a zend_try
 * block; everything else is called from Rust through the generated bindings.
 */
#ifndef SERAPH_SHIM_H
#define SERAPH_SHIM_H

#include "php.h"
#include "SAPI.h"
#include "Zend/zend_observer.h"

/*
 * Every engine data symbol this library refers to is a weak reference (this
 * header is included by every C file of the shim; a test in
 * tests/module.rs fails on any strong one). A PHP extension is loaded with
 * dlopen() and data references are bound at load time: a build for NTS PHP names `executor_globals`, which a ZTS PHP
 * does not have (it has `executor_globals_offset`), and vice versa. With
 * strong references dlopen() would fail with "undefined symbol"; weak ones
 * let the library load, so that PHP calls get_module() and refuses the
 * module with its own message ("Module compiled with module API=...,
 * PHP compiled with module API=..." or the build ID "API...,NTS" against
 * "API...,TS") before anything here runs. (build.rs also links with lazy
 * binding, for functions that differ between versions.)
 */
#ifdef ZTS
#pragma weak executor_globals_offset
#pragma weak compiler_globals_offset
#pragma weak core_globals_offset
#pragma weak sapi_globals_offset
#else
#pragma weak executor_globals
#pragma weak compiler_globals
#pragma weak core_globals
#pragma weak sapi_globals
#endif
#pragma weak sapi_module
#pragma weak module_registry
#pragma weak zend_ce_exception
#pragma weak zend_ce_error
#pragma weak zend_error_cb
#pragma weak zend_throw_exception_hook
#pragma weak zend_post_startup_cb
#pragma weak zend_string_init_interned
#pragma weak zend_ce_throwable
#pragma weak zend_ce_closure
#pragma weak std_object_handlers
#pragma weak zend_op_array_extension_handles
#pragma weak zend_observer_fcall_op_array_extension
/* A function, weak so that the unit tests (an executable without PHP)
 * link: it is checked before use. */
#pragma weak zend_get_module_version


/* ZEND_MODULE_BUILD_ID is a string-pasting macro ("API20220829,NTS"). */
const char *seraph_module_build_id(void);

/* The engine's globals, read here rather than from Rust: in a ZTS build
 * SG(), EG() and PG() are per-thread (TSRM), and the C side also makes
 * every data symbol it uses a weak reference, so that this library loads
 * into a PHP of another version or thread safety far enough for PHP to
 * refuse it with its own message (see shim.c). */
const char *seraph_sapi_name(void);
/* SG(request_info) fields; argv0 is argv[0] (NULL when argc < 1). */
typedef struct {
	const char *request_method;
	const char *request_uri;
	const char *path_translated;
	const char *query_string;
	const char *argv0;
} seraph_request_info;
void seraph_request_info_read(seraph_request_info *out);
int seraph_response_code(void);
const char *seraph_sapi_mimetype(void);
/* PHP_VERSION of the running engine (the "standard" module's version). */
const char *seraph_runtime_version(void);

/* Runs fn(arg) inside zend_try. Returns 1 when a bailout (fatal error,
 * exit()) unwound through it, 0 otherwise. Rust never holds a value with a
 * meaningful destructor on the stack across this call. This and the two
 * call helpers below also set the pending-bailout flag (see
 * seraph_take_bailout), and do nothing but return 1 while it is set. */
int seraph_try(void (*fn)(void *), void *arg);

/* zend_bailout() is a macro around _zend_bailout(__FILE__, __LINE__). */
void seraph_bailout(void) ZEND_NORETURN;

/* The calls below that can run user code (a __get, a destructor) or make
 * large allocations (a backtrace, the $_SERVER array) run it inside
 * zend_try. A bailout they catch (fatal error, memory limit, timeout) is
 * remembered instead of crossing the Rust frames above them, and every
 * later shim call that could enter PHP does nothing until the extern "C"
 * entry point re-raises it, once its Rust frames have finished: take the
 * flag with seraph_take_bailout() and call seraph_bailout() if it was set.
 * The flag is per thread (per process in NTS PHP). */
int seraph_take_bailout(void);
int seraph_bailout_is_pending(void);

/* Calls an internal function's original handler inside zend_try; returns 1
 * after a bailout, so the caller can finish its bookkeeping and re-raise. */
int seraph_call_handler(zif_handler handler, zend_execute_data *execute_data, zval *return_value);

/* Calls a global PHP function by name inside zend_try. Returns 0 on
 * success, -1 on failure, 1 after a bailout. retval must be released with
 * seraph_zval_dtor. */
int seraph_call_function(const char *name, size_t name_len, zval *retval, uint32_t argc, zval *argv);

/* zval_ptr_dtor on a temporary, plus ZVAL_UNDEF. */
void seraph_zval_dtor(zval *zv);

/* $_SERVER[name] as a string (arming the auto-global first, under
 * zend_try); NULL when absent or not a string. Borrowed: valid until the
 * request ends. */
zend_string *seraph_server_var(const char *name, size_t len);

/* The $_SERVER array itself (armed), or NULL. */
HashTable *seraph_server_array(void);

/* Exception properties (Exception or Error). Strings are borrowed from
 * the object. A property a subclass unset is read through its __get, which
 * is user code: run under zend_try (see seraph_take_bailout); -1 after a
 * bailout. */
typedef struct {
	zend_string *class_name;
	zend_string *message;
	zend_string *file;
	zend_long line;
	HashTable *trace;
} seraph_exception_info;
int seraph_exception_read(zend_object *ex, seraph_exception_info *out);

/* The current PHP backtrace as debug_backtrace() sees it (no arguments, at
 * most `limit` frames): what New Relic's agent formats its stack traces
 * from. Returns the array (owned by `out`, release with seraph_zval_dtor)
 * or NULL outside a request or after a bailout (memory limit; under
 * zend_try). */
HashTable *seraph_backtrace(zval *out, int limit);

/* EG(exception): the exception a function is exiting by. NULL when there
 * is none, or when it is the engine's unwinding of exit() or a graceful
 * generator/fiber exit (not errors). */
zend_object *seraph_thrown_exception(void);

/* Installs the agent's error recorder in zend_error_cb (MINIT): it runs,
 * then the previous callback does. PHP calls zend_error_cb only for errors
 * no user error handler took (none set, not for this level, or it returned
 * false), which are the errors New Relic's agent records. The previous
 * callback may bail out (fatal errors); only C frames are on the stack then.
 * Installing twice only replaces the recorder. */
typedef void (*seraph_error_fn)(int type, zend_string *file, uint32_t line, zend_string *message);
void seraph_error_cb_install(seraph_error_fn record);
/* Stops recording; restores the previous callback if ours is still the
 * installed one (an extension that chained after us keeps calling ours,
 * which then only forwards). */
void seraph_error_cb_uninstall(void);

/* The same for zend_throw_exception_hook: `record` runs for every thrown
 * exception, then the hook installed before ours (MINIT / MSHUTDOWN). */
typedef void (*seraph_throw_fn)(zend_object *ex);
void seraph_throw_hook_install(seraph_throw_fn record);
void seraph_throw_hook_uninstall(void);

/* Runs `fn` once every module has started (zend_post_startup_cb, chained:
 * the previous callback runs first): one thread, before any request, the
 * place to change engine structures that all threads share. Installed in
 * MINIT; `fn` returns 0 on success. */
void seraph_post_startup_install(int (*fn)(void));

/* The names of an object's class, its parents and (once resolved) all the
 * interfaces it implements: what `instanceof` tests against. Writes at
 * most `cap` borrowed names into `out`; returns how many it wrote. */
size_t seraph_class_chain(zend_object *obj, zend_string **out, size_t cap);

/* Whether object handle `handle` still refers to `obj` (the object is
 * alive). */
int seraph_object_alive(zend_object *obj, uint32_t handle);

/* ZEND_ARG_USES_STRICT_TYPES / ZEND_NUM_ARGS / ZEND_CALL_ARG(ex, n). */
uint32_t seraph_num_args(zend_execute_data *execute_data);
zval *seraph_arg(zend_execute_data *execute_data, uint32_t n);

/* Replaces argument n (1-based) of a frame with a copy of val, releasing
 * the old value: a user function's begin hook can hand it a different
 * argument (a request with trace headers). Returns 0 when n is out of
 * range. */
int seraph_replace_arg(zend_execute_data *execute_data, uint32_t n, zval *val);

/* RETVAL_* helpers. */
void seraph_retval_bool(zval *rv, int b);
void seraph_retval_string(zval *rv, const char *s, size_t len);
void seraph_retval_null(zval *rv);
void seraph_retval_long(zval *rv, zend_long v);
/* Initialises rv as an empty array and returns it. */
HashTable *seraph_retval_array(zval *rv);
void seraph_array_add_string(HashTable *ht, const char *key, size_t key_len, const char *val, size_t val_len);

/* Builds a PHP array of strings (for curl_setopt CURLOPT_HTTPHEADER). */
void seraph_zval_string_array(zval *out, const char *const *items, const size_t *lens, size_t n);
void seraph_zval_long(zval *out, zend_long v);
void seraph_zval_copy(zval *dst, const zval *src);

/* The PHP error_reporting level in force. */
int seraph_error_reporting(void);

/* ZEND_HASH_FOREACH_KEY_VAL over ht (references dereferenced). The callback
 * must not unwind. */
typedef void (*seraph_array_cb)(void *ctx, zend_string *key, zend_ulong index, zval *val);
void seraph_array_each(HashTable *ht, seraph_array_cb cb, void *ctx);

/* Calls cb(name, version) for every loaded module, in load order. */
typedef void (*seraph_module_cb)(void *ctx, const char *name, const char *version);
void seraph_modules_each(seraph_module_cb cb, void *ctx);

/* getrusage-free memory figure: zend_memory_peak_usage(real). */
size_t seraph_memory_peak(void);

/* A function by lower-case name: a global function when cls is NULL, else
 * a method of the (lower-case) class. NULL when absent. */
zend_function *seraph_find_function(const char *cls, size_t cls_len, const char *fn, size_t fn_len);

/* A string property of an object (read with the object's own class as
 * scope, no notices, under zend_try: it may call __get); borrowed, NULL
 * when absent, not a string or after a bailout. */
zend_string *seraph_read_string_prop(zend_object *obj, const char *name, size_t len);

/* The object in ZEND_THIS of a method call, or NULL. */
zend_object *seraph_this(zend_execute_data *execute_data);

/* Adds key => value string pairs to the array behind a by-reference
 * argument (turning a non-array into an empty array first, which destroys
 * the old value: a destructor may run, so under zend_try). */
void seraph_ref_array_add_strings(zval *ref, const char *const *keys, const size_t *key_lens,
	const char *const *vals, const size_t *val_lens, size_t n);

/* Calls cb(ctx, func) for every method of the (lower-case) class, in
 * declaration order. Returns 0 when there is no such class. */
typedef void (*seraph_method_cb)(void *ctx, zend_function *func);
int seraph_class_methods(const char *cls, size_t len, seraph_method_cb cb, void *ctx);

/* Calls made by instrumentation (an EXPLAIN, reading an error message),
 * each inside zend_try. They return 0 on success; -1 when the call failed
 * or threw (the exception is cleared: the application never sees it); 1
 * after a bailout (see seraph_take_bailout); 2, calling nothing, while an
 * exception is already in flight. retval/out must be released with
 * seraph_zval_dtor. Methods are called with seraph_call_method
 * (objects.h). */
int seraph_call_function_quiet(const char *name, size_t len, zval *retval, uint32_t argc, zval *argv);
/* new cls(...argv); the class is autoloaded if needed. */
int seraph_new_object(const char *cls, size_t len, zval *out, uint32_t argc, zval *argv);

/* EG(error_reporting) = 0 (what "@" does), returning the previous level;
 * and back. */
int seraph_silence_errors(void);
void seraph_restore_errors(int level);

/* An empty array, and setting out[idx] = *val (the value is moved in). */
void seraph_zval_empty_array(zval *out);
void seraph_zval_array_set(zval *arr, zend_long idx, zval *val);

/* ZVAL_STRINGL / ZVAL_NULL / ZVAL_BOOL / ZVAL_DOUBLE / ZVAL_OBJ_COPY. */
void seraph_zval_stringl(zval *out, const char *s, size_t len);
void seraph_zval_null(zval *out);
void seraph_zval_bool(zval *out, int b);
void seraph_zval_double(zval *out, double d);
void seraph_zval_obj(zval *out, zend_object *obj);

/* A public property of an object as a zval (no __get, no notices);
 * borrowed, NULL when absent. */
zval *seraph_object_prop(zend_object *obj, const char *name, size_t len);


/* php_printf("%s", s) for INI displayers. */
void seraph_print(const char *s, size_t len);

/* ---- The newrelic_* API and browser monitoring (shim_api.c) ---- */

/* Calls any PHP callable with argc arguments inside zend_try. Returns 0 on
 * success, -1 when it is not callable or the call failed, 1 after a
 * bailout. retval must be released with seraph_zval_dtor. */
int seraph_call_callable(zval *callable, uint32_t argc, zval *argv, zval *retval);

/* The number of declared parameters of a callable (its function's
 * num_args); -1 when it is not callable. */
int seraph_callable_num_args(zval *callable);

/* An E_WARNING as an internal function raises it ("func(): msg"), and an
 * E_DEPRECATED. A user error handler may run: under zend_try. */
void seraph_warning(const char *msg, size_t len);
void seraph_deprecated(const char *msg, size_t len);
/* An E_WARNING without the function prefix (zend_error). */
void seraph_plain_warning(const char *msg, size_t len);

/* out = (string)src by PHP's rules, under zend_try. Returns 0 with out a
 * string, -1 when the conversion threw (out undefined), 1 after a
 * bailout. Release out with seraph_zval_dtor. */
int seraph_zval_to_string(zval *src, zval *out);

/* The output handler type PHP's php_output_start_internal takes. */
typedef void (*seraph_output_fn)(char *output, size_t output_len, char **handled_output,
	size_t *handled_output_len, int mode);
/* Starts an internal output handler (40960-byte chunks, standard flags);
 * PHP refuses a second handler of the same name. Returns 0 on success. */
int seraph_output_install(const char *name, size_t len, seraph_output_fn fn);
/* Whether an output handler call carries content (not a clean). */
int seraph_output_has_content(int mode);
/* Request memory for an output handler's result (PHP frees it). */
char *seraph_emalloc(size_t n);

/* The response's MIME type as PHP will send it: a Content-Type header set
 * by the script, else the SAPI's mimetype, else default_mimetype, else
 * text/html (parameters included). Copies at most cap bytes; returns the
 * full length. */
size_t seraph_response_mimetype(char *buf, size_t cap);
/* Whether a response header starting with prefix (case-insensitive, e.g.
 * "content-length:") was set. */
int seraph_response_has_header(const char *prefix, size_t len);
/* SG(headers_sent). */
int seraph_headers_sent(void);

/* Registers an internal class with one private string property (MINIT). */
zend_class_entry *seraph_register_class(const char *name, size_t len,
	const zend_function_entry *methods, const char *prop, size_t prop_len);
/* rv = new ce with the string property set. */
void seraph_object_with_string_prop(zval *rv, zend_class_entry *ce, const char *prop, size_t prop_len,
	const char *val, size_t val_len);

/* Whether php.ini, -d, a per-directory setting or ini_set gave the INI
 * entry a value (New Relic's "set by user"). */
int seraph_ini_set_by_user(const char *name, size_t len);

/* $_REQUEST (armed under zend_try), or NULL. */
HashTable *seraph_request_array(void);

/* rv = v (the value moves; v is left undefined). */
void seraph_retval_move(zval *rv, zval *v);
/* Adds key => integer to an array. */
void seraph_array_add_long(HashTable *ht, const char *key, size_t key_len, zend_long v);
/* A copy of a zval holding a reference (ZVAL_COPY). */
void seraph_zval_keep(zval *dst, const zval *src);
/* zv = [k => v, ...] of strings, then k => integer entries. */
void seraph_zval_string_map(zval *out, const char *const *keys, const size_t *key_lens,
	const char *const *vals, const size_t *val_lens, size_t n);

/* MINIT: a pointer-sized slot in every function's run-time cache, where
 * hooks/user.rs notes a hooked function's row for the request. */
int seraph_hook_slot_handle(void);

/* Demotion (hooks/observer/demotion.rs). PHP 8.2+ can remove observer
 * handlers from one function at run time; 8.1 cannot (these then do
 * nothing and return -1 or false). */
/* MINIT: a pointer-sized slot in every user function's run-time cache. */
int seraph_demotion_slot_handle(void);
/* Whether this module's observer is PHP's only function-call observer. */
bool seraph_observer_alone(void);
/* Removes the begin and end handler from the function (both or none). */
bool seraph_observer_remove(zend_function *func, zend_observer_fcall_begin_handler begin,
	zend_observer_fcall_end_handler end);
/* Replaces the end handler old by new_ (nothing if old is not there). */
void seraph_observer_swap_end(zend_function *func, zend_observer_fcall_end_handler old,
	zend_observer_fcall_end_handler new_);
/* Adds them back, and zeroes the function's demotion slot. */
void seraph_observer_add(zend_function *func, zend_observer_fcall_begin_handler begin,
	zend_observer_fcall_end_handler end, int slot);
/* Whether the frame is on the running call chain (EG(current_execute_data)). */
bool seraph_frame_running(const zend_execute_data *frame);

#endif
