/* See shim.h, "The newrelic_* API and browser monitoring": macro and
 * inline wrappers only, each call that can run user code or bail out
 * under seraph_try. */
#include "php.h"
#include "SAPI.h"
#include "main/php_output.h"
#include "Zend/zend_interfaces.h"
#include "shim.h"

typedef struct {
	zval *callable;
	uint32_t argc;
	zval *argv;
	zval *retval;
	int result;
} seraph_call_args;

static void seraph_call_callable_body(void *p)
{
	seraph_call_args *a = p;
	zend_fcall_info fci;
	zend_fcall_info_cache fcc;
	if (zend_fcall_info_init(a->callable, 0, &fci, &fcc, NULL, NULL) != SUCCESS) {
		a->result = -1;
		return;
	}
	fci.retval = a->retval;
	fci.param_count = a->argc;
	fci.params = a->argv;
	a->result = zend_call_function(&fci, &fcc) == SUCCESS ? 0 : -1;
}

int seraph_call_callable(zval *callable, uint32_t argc, zval *argv, zval *retval)
{
	seraph_call_args a = {callable, argc, argv, retval, -1};
	ZVAL_UNDEF(retval);
	if (seraph_bailout_is_pending()) {
		return 1;
	}
	if (seraph_try(seraph_call_callable_body, &a)) {
		return 1;
	}
	return a.result;
}

int seraph_callable_num_args(zval *callable)
{
	zend_fcall_info fci;
	zend_fcall_info_cache fcc;
	if (zend_fcall_info_init(callable, 0, &fci, &fcc, NULL, NULL) != SUCCESS || !fcc.function_handler) {
		return -1;
	}
	return (int)fcc.function_handler->common.num_args;
}

typedef struct {
	const char *msg;
	size_t len;
	int level;
} seraph_error_args;

static void seraph_raise_body(void *p)
{
	seraph_error_args *a = p;
	if (a->level == E_WARNING) {
		php_error_docref(NULL, E_WARNING, "%.*s", (int)a->len, a->msg);
	} else if (a->level == E_CORE_WARNING) {
		/* E_CORE_WARNING only marks "no function prefix" here. */
		zend_error(E_WARNING, "%.*s", (int)a->len, a->msg);
	} else {
		zend_error(a->level, "%.*s", (int)a->len, a->msg);
	}
}

void seraph_warning(const char *msg, size_t len)
{
	seraph_error_args a = {msg, len, E_WARNING};
	(void)seraph_try(seraph_raise_body, &a);
}

void seraph_deprecated(const char *msg, size_t len)
{
	seraph_error_args a = {msg, len, E_DEPRECATED};
	(void)seraph_try(seraph_raise_body, &a);
}

void seraph_plain_warning(const char *msg, size_t len)
{
	seraph_error_args a = {msg, len, E_CORE_WARNING};
	(void)seraph_try(seraph_raise_body, &a);
}

typedef struct {
	zval *src;
	zval *out;
	int result;
} seraph_string_args;

static void seraph_zval_to_string_body(void *p)
{
	seraph_string_args *a = p;
	zend_string *s = zval_try_get_string(a->src);
	if (!s) {
		a->result = -1;
		return;
	}
	ZVAL_STR(a->out, s);
	a->result = 0;
}

int seraph_zval_to_string(zval *src, zval *out)
{
	seraph_string_args a = {src, out, -1};
	ZVAL_UNDEF(out);
	if (seraph_try(seraph_zval_to_string_body, &a)) {
		return 1;
	}
	return a.result;
}

typedef struct {
	const char *name;
	size_t len;
	seraph_output_fn fn;
	int result;
} seraph_output_args;

static void seraph_output_install_body(void *p)
{
	seraph_output_args *a = p;
	a->result = php_output_start_internal(a->name, a->len, (php_output_handler_func_t)a->fn, 40960,
		PHP_OUTPUT_HANDLER_STDFLAGS) == SUCCESS ? 0 : -1;
}

int seraph_output_install(const char *name, size_t len, seraph_output_fn fn)
{
	seraph_output_args a = {name, len, fn, -1};
	if (seraph_try(seraph_output_install_body, &a)) {
		return -1;
	}
	return a.result;
}

int seraph_output_has_content(int mode) { return !(mode & PHP_OUTPUT_HANDLER_CLEAN); }

char *seraph_emalloc(size_t n) { return emalloc(n); }

static size_t seraph_copy_out(char *buf, size_t cap, const char *s, size_t len)
{
	memcpy(buf, s, len < cap ? len : cap);
	return len;
}

size_t seraph_response_mimetype(char *buf, size_t cap)
{
	zend_llist_position pos;
	sapi_header_struct *h;
	char *dflt;
	size_t n;
	for (h = zend_llist_get_first_ex(&SG(sapi_headers).headers, &pos); h;
			h = zend_llist_get_next_ex(&SG(sapi_headers).headers, &pos)) {
		if (h->header_len > 13 && strncasecmp(h->header, "content-type:", 13) == 0) {
			const char *v = h->header + 13;
			while (*v == ' ' || *v == '\t') {
				v++;
			}
			return seraph_copy_out(buf, cap, v, strlen(v));
		}
	}
	if (SG(sapi_headers).mimetype) {
		return seraph_copy_out(buf, cap, SG(sapi_headers).mimetype, strlen(SG(sapi_headers).mimetype));
	}
	dflt = sapi_get_default_content_type();
	if (dflt) {
		n = seraph_copy_out(buf, cap, dflt, strlen(dflt));
		efree(dflt);
		return n;
	}
	return seraph_copy_out(buf, cap, SAPI_DEFAULT_MIMETYPE, strlen(SAPI_DEFAULT_MIMETYPE));
}

int seraph_response_has_header(const char *prefix, size_t len)
{
	zend_llist_position pos;
	sapi_header_struct *h;
	for (h = zend_llist_get_first_ex(&SG(sapi_headers).headers, &pos); h;
			h = zend_llist_get_next_ex(&SG(sapi_headers).headers, &pos)) {
		if (h->header_len > len && strncasecmp(h->header, prefix, len) == 0) {
			return 1;
		}
	}
	return 0;
}

int seraph_headers_sent(void) { return SG(headers_sent) ? 1 : 0; }

zend_class_entry *seraph_register_class(const char *name, size_t len,
	const zend_function_entry *methods, const char *prop, size_t prop_len)
{
	zend_class_entry tmp, *ce;
	INIT_CLASS_ENTRY_EX(tmp, name, len, methods);
	ce = zend_register_internal_class(&tmp);
	zend_declare_property_string(ce, prop, prop_len, "", ZEND_ACC_PRIVATE);
	return ce;
}

void seraph_object_with_string_prop(zval *rv, zend_class_entry *ce, const char *prop, size_t prop_len,
	const char *val, size_t val_len)
{
	object_init_ex(rv, ce);
	zend_update_property_stringl(ce, Z_OBJ_P(rv), prop, prop_len, val, val_len);
}

int seraph_ini_set_by_user(const char *name, size_t len)
{
	zend_ini_entry *e = zend_hash_str_find_ptr(EG(ini_directives), name, len);
	if (!e) {
		return 0;
	}
	return e->modified || zend_get_configuration_directive(e->name) != NULL;
}

static void seraph_request_arm(void *p)
{
	(void)p;
	zend_is_auto_global_str(ZEND_STRL("_REQUEST"));
}

HashTable *seraph_request_array(void)
{
	zval *req;
	if (seraph_try(seraph_request_arm, NULL)) {
		return NULL;
	}
	req = zend_hash_str_find(&EG(symbol_table), ZEND_STRL("_REQUEST"));
	if (!req) {
		return NULL;
	}
	ZVAL_DEREF(req);
	return Z_TYPE_P(req) == IS_ARRAY ? Z_ARRVAL_P(req) : NULL;
}

void seraph_retval_move(zval *rv, zval *v)
{
	ZVAL_COPY_VALUE(rv, v);
	ZVAL_UNDEF(v);
}

void seraph_array_add_long(HashTable *ht, const char *key, size_t key_len, zend_long v)
{
	zval z;
	ZVAL_LONG(&z, v);
	zend_hash_str_update(ht, key, key_len, &z);
}

void seraph_zval_keep(zval *dst, const zval *src) { ZVAL_COPY(dst, src); }

void seraph_zval_string_map(zval *out, const char *const *keys, const size_t *key_lens,
	const char *const *vals, const size_t *val_lens, size_t n)
{
	size_t i;
	array_init_size(out, (uint32_t)n);
	for (i = 0; i < n; i++) {
		add_assoc_stringl_ex(out, keys[i], key_lens[i], vals[i], val_lens[i]);
	}
}
