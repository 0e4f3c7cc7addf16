/* See shim.h: macro and inline wrappers only. */
#include "php.h"
#include "SAPI.h"
#include "Zend/zend_builtin_functions.h"
#include "Zend/zend_exceptions.h"
#include "Zend/zend_extensions.h"
#include "Zend/zend_observer.h"
#include "shim.h"

const char *seraph_module_build_id(void) { return ZEND_MODULE_BUILD_ID; }

const char *seraph_sapi_name(void) { return sapi_module.name; }

void seraph_request_info_read(seraph_request_info *out)
{
	const sapi_request_info *ri = &SG(request_info);
	out->request_method = ri->request_method;
	out->request_uri = ri->request_uri;
	out->path_translated = ri->path_translated;
	out->query_string = ri->query_string;
	out->argv0 = (ri->argc >= 1 && ri->argv) ? ri->argv[0] : NULL;
}

int seraph_response_code(void) { return SG(sapi_headers).http_response_code; }

const char *seraph_sapi_mimetype(void) { return SG(sapi_headers).mimetype; }

const char *seraph_runtime_version(void)
{
	const char *v = zend_get_module_version ? zend_get_module_version("standard") : NULL;
	return v ? v : PHP_VERSION;
}

/* See shim.h: a bailout caught by SERAPH_TRY, waiting to be re-raised.
 * Per thread: a bailout belongs to the request of the thread it hit. */
#ifdef ZTS
static TSRM_TLS int seraph_pending_bailout;
#else
static int seraph_pending_bailout;
#endif

int seraph_try(void (*fn)(void *), void *arg)
{
	volatile int bailed = 0;
	if (seraph_pending_bailout) {
		return 1;
	}
	zend_try { fn(arg); }
	zend_catch { bailed = 1; seraph_pending_bailout = 1; }
	zend_end_try();
	return bailed;
}

void seraph_bailout(void) { zend_bailout(); }

int seraph_take_bailout(void)
{
	int pending = seraph_pending_bailout;
	seraph_pending_bailout = 0;
	return pending;
}

int seraph_bailout_is_pending(void) { return seraph_pending_bailout; }

/* Runs `body` inside zend_try unless a bailout is already pending; a
 * bailout sets the flag. Locals written inside must not be read after a
 * bailout (longjmp), hence results go through pointers or volatiles. */
#define SERAPH_TRY(body) \
	do { \
		if (!seraph_pending_bailout) { \
			zend_try { body; } \
			zend_catch { seraph_pending_bailout = 1; } \
			zend_end_try(); \
		} \
	} while (0)

int seraph_call_handler(zif_handler handler, zend_execute_data *execute_data, zval *return_value)
{
	volatile int bailed = 0;
	if (seraph_pending_bailout) {
		return 1; /* the request is already dying: re-raise, don't run it */
	}
	zend_try { handler(execute_data, return_value); }
	zend_catch { bailed = 1; seraph_pending_bailout = 1; }
	zend_end_try();
	return bailed;
}

int seraph_call_function(const char *name, size_t name_len, zval *retval, uint32_t argc, zval *argv)
{
	volatile int result = -1;
	zval fname;
	ZVAL_UNDEF(retval);
	if (seraph_pending_bailout) {
		return 1;
	}
	ZVAL_STRINGL(&fname, name, name_len);
	zend_try {
		result = call_user_function(NULL, NULL, &fname, retval, argc, argv) == SUCCESS ? 0 : -1;
	}
	zend_catch { result = 1; seraph_pending_bailout = 1; }
	zend_end_try();
	zval_ptr_dtor(&fname);
	return result;
}

void seraph_zval_dtor(zval *zv)
{
	zval_ptr_dtor(zv);
	ZVAL_UNDEF(zv);
}

HashTable *seraph_server_array(void)
{
	zval *server;
	zend_is_auto_global_str(ZEND_STRL("_SERVER"));
	server = &PG(http_globals)[TRACK_VARS_SERVER];
	if (Z_TYPE_P(server) != IS_ARRAY) {
		return NULL;
	}
	return Z_ARRVAL_P(server);
}

static void seraph_server_array_into(HashTable **out) { *out = seraph_server_array(); }

zend_string *seraph_server_var(const char *name, size_t len)
{
	HashTable *ht = NULL;
	zval *v;
	/* Creating $_SERVER (auto_globals_jit) allocates: memory limit. */
	SERAPH_TRY(seraph_server_array_into(&ht));
	if (!ht || seraph_pending_bailout) {
		return NULL;
	}
	v = zend_hash_str_find(ht, name, len);
	if (!v) {
		return NULL;
	}
	ZVAL_DEREF(v);
	return Z_TYPE_P(v) == IS_STRING ? Z_STR_P(v) : NULL;
}

static void seraph_exception_props(zend_object *ex, zend_class_entry *base, seraph_exception_info *out);

int seraph_exception_read(zend_object *ex, seraph_exception_info *out)
{
	zend_class_entry *base;
	memset(out, 0, sizeof(*out));
	if (!ex || !ex->ce || seraph_pending_bailout) {
		return -1;
	}
	if (instanceof_function(ex->ce, zend_ce_exception)) {
		base = zend_ce_exception;
	} else if (instanceof_function(ex->ce, zend_ce_error)) {
		base = zend_ce_error;
	} else {
		return -1;
	}
	out->class_name = ex->ce->name;
	/* A subclass may have unset a property and defined __get. */
	SERAPH_TRY(seraph_exception_props(ex, base, out));
	if (seraph_pending_bailout) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

static void seraph_exception_props(zend_object *ex, zend_class_entry *base, seraph_exception_info *out)
{
	zval rv, *zv;
	zv = zend_read_property(base, ex, ZEND_STRL("message"), 1, &rv);
	ZVAL_DEREF(zv);
	if (Z_TYPE_P(zv) == IS_STRING) {
		out->message = Z_STR_P(zv);
	}
	zv = zend_read_property(base, ex, ZEND_STRL("file"), 1, &rv);
	ZVAL_DEREF(zv);
	if (Z_TYPE_P(zv) == IS_STRING) {
		out->file = Z_STR_P(zv);
	}
	zv = zend_read_property(base, ex, ZEND_STRL("line"), 1, &rv);
	ZVAL_DEREF(zv);
	if (Z_TYPE_P(zv) == IS_LONG) {
		out->line = Z_LVAL_P(zv);
	}
	zv = zend_read_property(base, ex, ZEND_STRL("trace"), 1, &rv);
	ZVAL_DEREF(zv);
	if (Z_TYPE_P(zv) == IS_ARRAY) {
		out->trace = Z_ARRVAL_P(zv);
	}
}

HashTable *seraph_backtrace(zval *out, int limit)
{
	ZVAL_UNDEF(out);
	if (!EG(current_execute_data) || seraph_pending_bailout) {
		return NULL;
	}
	/* Hundreds of small arrays: the memory limit can strike here. What was
	 * built before a bailout is request memory, freed with the request. */
	SERAPH_TRY(zend_fetch_debug_backtrace(out, 0, DEBUG_BACKTRACE_IGNORE_ARGS, limit));
	if (seraph_pending_bailout) {
		ZVAL_UNDEF(out);
		return NULL;
	}
	return Z_TYPE_P(out) == IS_ARRAY ? Z_ARRVAL_P(out) : NULL;
}

zend_object *seraph_thrown_exception(void)
{
	zend_object *ex = EG(exception);
	if (!ex || zend_is_unwind_exit(ex) || zend_is_graceful_exit(ex)) {
		return NULL;
	}
	return ex;
}

static seraph_error_fn seraph_record_error;
static void (*seraph_prev_error_cb)(int, zend_string *, const uint32_t, zend_string *);

static void seraph_error_cb(int type, zend_string *file, const uint32_t line, zend_string *message)
{
	if (seraph_record_error) {
		seraph_record_error(type, file, line, message);
	}
	if (seraph_prev_error_cb) {
		seraph_prev_error_cb(type, file, line, message);
	}
}

void seraph_error_cb_install(seraph_error_fn record)
{
	seraph_record_error = record;
	if (zend_error_cb != seraph_error_cb) {
		seraph_prev_error_cb = zend_error_cb;
		zend_error_cb = seraph_error_cb;
	}
}

void seraph_error_cb_uninstall(void)
{
	seraph_record_error = NULL;
	if (zend_error_cb == seraph_error_cb) {
		zend_error_cb = seraph_prev_error_cb;
	}
}

static seraph_throw_fn seraph_record_throw;
static void (*seraph_prev_throw_hook)(zend_object *);

static void seraph_throw_hook(zend_object *ex)
{
	if (seraph_record_throw) {
		seraph_record_throw(ex);
	}
	if (seraph_prev_throw_hook) {
		seraph_prev_throw_hook(ex);
	}
}

void seraph_throw_hook_install(seraph_throw_fn record)
{
	seraph_record_throw = record;
	if (zend_throw_exception_hook != seraph_throw_hook) {
		seraph_prev_throw_hook = zend_throw_exception_hook;
		zend_throw_exception_hook = seraph_throw_hook;
	}
}

void seraph_throw_hook_uninstall(void)
{
	seraph_record_throw = NULL;
	if (zend_throw_exception_hook == seraph_throw_hook) {
		zend_throw_exception_hook = seraph_prev_throw_hook;
	}
}

static int (*seraph_post_startup_fn)(void);
static zend_result (*seraph_prev_post_startup)(void);

static zend_result seraph_post_startup(void)
{
	if (seraph_prev_post_startup && seraph_prev_post_startup() != SUCCESS) {
		return FAILURE;
	}
	if (seraph_post_startup_fn) {
		seraph_post_startup_fn();
	}
	return SUCCESS;
}

void seraph_post_startup_install(int (*fn)(void))
{
	seraph_post_startup_fn = fn;
	if (zend_post_startup_cb != seraph_post_startup) {
		seraph_prev_post_startup = zend_post_startup_cb;
		zend_post_startup_cb = seraph_post_startup;
	}
}

size_t seraph_class_chain(zend_object *obj, zend_string **out, size_t cap)
{
	size_t n = 0;
	zend_class_entry *ce;
	if (!obj || !obj->ce) {
		return 0;
	}
	/* `parent` is a pointer only once the class is linked. */
	for (ce = obj->ce; ce && n < cap; ce = (ce->ce_flags & ZEND_ACC_LINKED) ? ce->parent : NULL) {
		out[n++] = ce->name;
	}
	ce = obj->ce;
	if (ce->ce_flags & ZEND_ACC_RESOLVED_INTERFACES) {
		uint32_t i;
		for (i = 0; i < ce->num_interfaces && n < cap; i++) {
			if (ce->interfaces[i]) {
				out[n++] = ce->interfaces[i]->name;
			}
		}
	}
	return n;
}

int seraph_object_alive(zend_object *obj, uint32_t handle)
{
	if (!obj || handle >= EG(objects_store).top || !EG(objects_store).object_buckets) {
		return 0;
	}
	return EG(objects_store).object_buckets[handle] == obj && IS_OBJ_VALID(obj);
}

uint32_t seraph_num_args(zend_execute_data *execute_data) { return ZEND_CALL_NUM_ARGS(execute_data); }

zval *seraph_arg(zend_execute_data *execute_data, uint32_t n)
{
	if (n == 0 || n > ZEND_CALL_NUM_ARGS(execute_data)) {
		return NULL;
	}
	return ZEND_CALL_ARG(execute_data, n);
}

int seraph_replace_arg(zend_execute_data *execute_data, uint32_t n, zval *val)
{
	zval *arg, old;
	if (n == 0 || n > ZEND_CALL_NUM_ARGS(execute_data)) {
		return 0;
	}
	arg = ZEND_CALL_ARG(execute_data, n);
	ZVAL_COPY_VALUE(&old, arg);
	ZVAL_COPY(arg, val);
	zval_ptr_dtor(&old);
	return 1;
}

void seraph_retval_bool(zval *rv, int b) { ZVAL_BOOL(rv, b); }
void seraph_retval_string(zval *rv, const char *s, size_t len) { ZVAL_STRINGL(rv, s, len); }
void seraph_retval_null(zval *rv) { ZVAL_NULL(rv); }
void seraph_retval_long(zval *rv, zend_long v) { ZVAL_LONG(rv, v); }

HashTable *seraph_retval_array(zval *rv)
{
	array_init(rv);
	return Z_ARRVAL_P(rv);
}

void seraph_array_add_string(HashTable *ht, const char *key, size_t key_len, const char *val, size_t val_len)
{
	zval v;
	ZVAL_STRINGL(&v, val, val_len);
	zend_hash_str_update(ht, key, key_len, &v);
}

void seraph_zval_string_array(zval *out, const char *const *items, const size_t *lens, size_t n)
{
	size_t i;
	array_init_size(out, (uint32_t)n);
	for (i = 0; i < n; i++) {
		add_next_index_stringl(out, items[i], lens[i]);
	}
}

void seraph_zval_long(zval *out, zend_long v) { ZVAL_LONG(out, v); }
void seraph_zval_copy(zval *dst, const zval *src) { ZVAL_COPY(dst, src); }

int seraph_error_reporting(void) { return EG(error_reporting); }

void seraph_array_each(HashTable *ht, seraph_array_cb cb, void *ctx)
{
	zend_string *key;
	zend_ulong idx;
	zval *val;
	if (!ht) {
		return;
	}
	ZEND_HASH_FOREACH_KEY_VAL(ht, idx, key, val) {
		ZVAL_DEREF(val);
		cb(ctx, key, idx, val);
	} ZEND_HASH_FOREACH_END();
}

void seraph_print(const char *s, size_t len) { PHPWRITE(s, len); }

int seraph_class_methods(const char *cls, size_t len, seraph_method_cb cb, void *ctx)
{
	/* CG, not EG: called at post-startup, before any request. */
	zend_class_entry *ce = zend_hash_str_find_ptr(CG(class_table), cls, len);
	zend_function *f;
	if (!ce) {
		return 0;
	}
	ZEND_HASH_FOREACH_PTR(&ce->function_table, f) {
		/* Inherited methods belong to their declaring class. */
		if (f->common.scope == ce) {
			cb(ctx, f);
		}
	} ZEND_HASH_FOREACH_END();
	return 1;
}

int seraph_call_function_quiet(const char *name, size_t len, zval *retval, uint32_t argc, zval *argv)
{
	volatile int result = -1;
	zval fname;
	ZVAL_UNDEF(retval);
	if (seraph_pending_bailout) {
		return 1;
	}
	if (EG(exception)) {
		return 2;
	}
	ZVAL_STRINGL(&fname, name, len);
	zend_try {
		int rc = call_user_function(NULL, NULL, &fname, retval, argc, argv);
		result = rc == SUCCESS ? 0 : -1;
		if (EG(exception)) {
			zend_clear_exception();
			result = -1;
		}
	}
	zend_catch { result = 1; seraph_pending_bailout = 1; }
	zend_end_try();
	if (result == -1) {
		zval_ptr_dtor(retval);
		ZVAL_UNDEF(retval);
	}
	zval_ptr_dtor(&fname);
	return result;
}

int seraph_new_object(const char *cls, size_t len, zval *out, uint32_t argc, zval *argv)
{
	volatile int result = -1;
	zend_class_entry *ce;
	ZVAL_UNDEF(out);
	if (seraph_pending_bailout) {
		return 1;
	}
	if (EG(exception)) {
		return 2;
	}
	zend_try {
		zend_string *name = zend_string_init(cls, len, 0);
		/* May autoload: user code, hence inside zend_try. */
		ce = zend_lookup_class(name);
		zend_string_release(name);
		if (ce && !EG(exception) && object_init_ex(out, ce) == SUCCESS) {
			zend_function *ctor = Z_OBJ_HT_P(out)->get_constructor(Z_OBJ_P(out));
			result = 0;
			if (ctor) {
				zend_call_known_instance_method(ctor, Z_OBJ_P(out), NULL, argc, argv);
			}
			if (EG(exception)) {
				zend_clear_exception();
				result = -1;
			}
		} else if (EG(exception)) {
			zend_clear_exception();
		}
	}
	zend_catch { result = 1; seraph_pending_bailout = 1; }
	zend_end_try();
	if (result == -1) {
		zval_ptr_dtor(out);
		ZVAL_UNDEF(out);
	}
	return result;
}

int seraph_silence_errors(void)
{
	int level = EG(error_reporting);
	EG(error_reporting) = 0;
	return level;
}

void seraph_restore_errors(int level) { EG(error_reporting) = level; }

void seraph_zval_stringl(zval *out, const char *s, size_t len) { ZVAL_STRINGL(out, s, len); }
void seraph_zval_empty_array(zval *out) { array_init(out); }
void seraph_zval_array_set(zval *arr, zend_long idx, zval *val)
{
	if (Z_TYPE_P(arr) == IS_ARRAY) {
		zend_hash_index_update(Z_ARRVAL_P(arr), idx, val);
	} else {
		zval_ptr_dtor(val);
	}
}
void seraph_zval_null(zval *out) { ZVAL_NULL(out); }
void seraph_zval_bool(zval *out, int b) { ZVAL_BOOL(out, b); }
void seraph_zval_double(zval *out, double d) { ZVAL_DOUBLE(out, d); }
void seraph_zval_obj(zval *out, zend_object *obj) { ZVAL_OBJ_COPY(out, obj); }

zval *seraph_object_prop(zend_object *obj, const char *name, size_t len)
{
	zval *zv;
	if (!obj || !obj->ce) {
		return NULL;
	}
	zv = zend_hash_str_find(obj->handlers->get_properties(obj), name, len);
	if (!zv) {
		return NULL;
	}
	if (Z_TYPE_P(zv) == IS_INDIRECT) {
		zv = Z_INDIRECT_P(zv);
	}
	ZVAL_DEREF(zv);
	return Z_TYPE_P(zv) == IS_UNDEF ? NULL : zv;
}


void seraph_modules_each(seraph_module_cb cb, void *ctx)
{
	zend_module_entry *m;
	ZEND_HASH_FOREACH_PTR(&module_registry, m) {
		cb(ctx, m->name, m->version ? m->version : "");
	} ZEND_HASH_FOREACH_END();
}

size_t seraph_memory_peak(void) { return zend_memory_peak_usage(1); }

zend_function *seraph_find_function(const char *cls, size_t cls_len, const char *fn, size_t fn_len)
{
	/* CG, not EG: also valid at post-startup, before any request. */
	HashTable *table = CG(function_table);
	if (cls) {
		zend_class_entry *ce = zend_hash_str_find_ptr(CG(class_table), cls, cls_len);
		if (!ce) {
			return NULL;
		}
		table = &ce->function_table;
	}
	return zend_hash_str_find_ptr(table, fn, fn_len);
}

static void seraph_read_string_prop_into(zend_object *obj, const char *name, size_t len, zend_string **out)
{
	zval rv, *zv;
	zv = zend_read_property(obj->ce, obj, name, len, 1, &rv);
	ZVAL_DEREF(zv);
	*out = Z_TYPE_P(zv) == IS_STRING ? Z_STR_P(zv) : NULL;
}

zend_string *seraph_read_string_prop(zend_object *obj, const char *name, size_t len)
{
	zend_string *out = NULL;
	if (!obj) {
		return NULL;
	}
	SERAPH_TRY(seraph_read_string_prop_into(obj, name, len, &out));
	return seraph_pending_bailout ? NULL : out;
}

zend_object *seraph_this(zend_execute_data *execute_data)
{
	return Z_TYPE(execute_data->This) == IS_OBJECT ? Z_OBJ(execute_data->This) : NULL;
}

static void seraph_ref_array_add_strings_body(zval *ref, const char *const *keys, const size_t *key_lens,
	const char *const *vals, const size_t *val_lens, size_t n)
{
	zval *zv = ref;
	size_t i;
	ZVAL_DEREF(zv);
	if (Z_TYPE_P(zv) != IS_ARRAY) {
		zval old;
		/* Replace first, destroy after: a destructor that runs sees a
		 * consistent variable. */
		ZVAL_COPY_VALUE(&old, zv);
		array_init(zv);
		zval_ptr_dtor(&old);
		ZVAL_DEREF(ref);
		zv = ref;
		if (Z_TYPE_P(zv) != IS_ARRAY) {
			return; /* the destructor assigned something else */
		}
	}
	SEPARATE_ARRAY(zv);
	for (i = 0; i < n; i++) {
		add_assoc_stringl_ex(zv, keys[i], key_lens[i], vals[i], val_lens[i]);
	}
}

void seraph_ref_array_add_strings(zval *ref, const char *const *keys, const size_t *key_lens,
	const char *const *vals, const size_t *val_lens, size_t n)
{
	SERAPH_TRY(seraph_ref_array_add_strings_body(ref, keys, key_lens, vals, val_lens, n));
}

/* See shim.h. */
int seraph_hook_slot_handle(void)
{
	return zend_get_op_array_extension_handle("newrelic");
}

/* See shim.h. */
int seraph_demotion_slot_handle(void)
{
#if PHP_VERSION_ID >= 80200
	return zend_get_op_array_extension_handle("newrelic");
#else
	return -1;
#endif
}

/* PHP reserves two run-time cache slots per function-call observer at
 * post-startup, after the slot this module took in MINIT; so the handles
 * from the observer's first one up to the last are twice the number of
 * observers. A handle some other extension took later makes the count
 * look larger, which only turns demotion off. Alone matters because
 * removing a handler while PHP runs the handlers of that very call moves
 * the next observer's handler into its place and PHP skips it (8.2, 8.3). */
bool seraph_observer_alone(void)
{
#if PHP_VERSION_ID >= 80200
	return &zend_op_array_extension_handles != NULL
		&& &zend_observer_fcall_op_array_extension != NULL
		&& zend_observer_fcall_op_array_extension >= 0
		&& zend_op_array_extension_handles - zend_observer_fcall_op_array_extension == 2;
#else
	return false;
#endif
}

bool seraph_observer_remove(zend_function *func, zend_observer_fcall_begin_handler begin,
	zend_observer_fcall_end_handler end)
{
#if PHP_VERSION_ID >= 80400
	zend_observer_fcall_begin_handler next_begin;
	zend_observer_fcall_end_handler next_end;
	/* The end handler first: with both gone, 8.3+ marks the function as
	 * not observed at all (the VM's cheapest path). */
	if (!zend_observer_remove_end_handler(func, end, &next_end)) {
		return false;
	}
	if (!zend_observer_remove_begin_handler(func, begin, &next_begin)) {
		zend_observer_add_end_handler(func, end);
		return false;
	}
	return true;
#elif PHP_VERSION_ID >= 80200
	if (!zend_observer_remove_end_handler(func, end)) {
		return false;
	}
	if (!zend_observer_remove_begin_handler(func, begin)) {
		zend_observer_add_end_handler(func, end);
		return false;
	}
	return true;
#else
	(void)func; (void)begin; (void)end;
	return false;
#endif
}

void seraph_observer_swap_end(zend_function *func, zend_observer_fcall_end_handler old,
	zend_observer_fcall_end_handler new_)
{
#if PHP_VERSION_ID >= 80400
	zend_observer_fcall_end_handler next;
	if (zend_observer_remove_end_handler(func, old, &next)) {
		zend_observer_add_end_handler(func, new_);
	}
#elif PHP_VERSION_ID >= 80200
	if (zend_observer_remove_end_handler(func, old)) {
		zend_observer_add_end_handler(func, new_);
	}
#else
	(void)func; (void)old; (void)new_;
#endif
}

void seraph_observer_add(zend_function *func, zend_observer_fcall_begin_handler begin,
	zend_observer_fcall_end_handler end, int slot)
{
#if PHP_VERSION_ID >= 80200
	zend_observer_add_begin_handler(func, begin);
	zend_observer_add_end_handler(func, end);
	if (slot >= 0 && RUN_TIME_CACHE(&func->common)) {
		ZEND_OP_ARRAY_EXTENSION(&func->common, slot) = NULL;
	}
#else
	(void)func; (void)begin; (void)end; (void)slot;
#endif
}

bool seraph_frame_running(const zend_execute_data *frame)
{
	for (const zend_execute_data *ex = EG(current_execute_data); ex; ex = ex->prev_execute_data) {
		if (ex == frame) {
			return true;
		}
	}
	return false;
}
