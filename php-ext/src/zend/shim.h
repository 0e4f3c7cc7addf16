/*
 * The C half of the engine boundary: only what bindgen cannot express.
 * Every function here wraps a macro, an inline function or a zend_try
 * block; everything else is called from Rust through the generated bindings.
 */
#ifndef SERAPH_SHIM_H
#define SERAPH_SHIM_H

#include "php.h"

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
const char *seraph_response_mimetype(void);
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

/* php_printf("%s", s) for INI displayers. */
void seraph_print(const char *s, size_t len);

#endif
