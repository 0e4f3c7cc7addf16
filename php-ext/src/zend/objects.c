/* See objects.h. */
#include "php.h"
#include "Zend/zend_exceptions.h"
#include "Zend/zend_closures.h"
#include "shim.h"
#include "objects.h"

struct method_call {
	zend_function *fn;
	zend_object *obj;
	zval *retval;
	uint32_t argc;
	zval *argv;
};

static void seraph_method_call_body(void *arg)
{
	struct method_call *c = arg;
	zend_call_known_instance_method(c->fn, c->obj, c->retval, c->argc, c->argv);
}

int seraph_call_method(zend_object *obj, const char *name, size_t len, zval *retval,
	uint32_t argc, zval *argv)
{
	struct method_call c;
	zend_function *fn;
	ZVAL_UNDEF(retval);
	if (!obj || EG(exception)) {
		return -1;
	}
	fn = zend_hash_str_find_ptr_lc(&obj->ce->function_table, name, len);
	if (!fn || (fn->common.fn_flags & (ZEND_ACC_STATIC | ZEND_ACC_ABSTRACT))) {
		return -1;
	}
	c.fn = fn;
	c.obj = obj;
	c.retval = retval;
	c.argc = argc;
	c.argv = argv;
	if (seraph_try(seraph_method_call_body, &c)) {
		return 1;
	}
	if (EG(exception)) {
		zend_clear_exception();
		zval_ptr_dtor(retval);
		ZVAL_UNDEF(retval);
		return -1;
	}
	return 0;
}

int seraph_has_method(zend_object *obj, const char *name_lc, size_t len)
{
	return obj && zend_hash_str_exists(&obj->ce->function_table, name_lc, len);
}

int seraph_instanceof(zend_object *obj, const char *class_lc, size_t len)
{
	zend_class_entry *ce;
	if (!obj) {
		return 0;
	}
	ce = zend_hash_str_find_ptr(EG(class_table), class_lc, len);
	return ce && instanceof_function(obj->ce, ce);
}

zend_string *seraph_class_name(zend_object *obj)
{
	return obj ? obj->ce->name : NULL;
}

zval *seraph_class_constant(zend_object *obj, const char *name, size_t len)
{
	zend_class_constant *c;
	if (!obj) {
		return NULL;
	}
	c = zend_hash_str_find_ptr(&obj->ce->constants_table, name, len);
	if (!c || Z_TYPE(c->value) == IS_CONSTANT_AST) {
		return NULL;
	}
	return &c->value;
}

zval *seraph_constant(const char *name, size_t len)
{
	return zend_get_constant_str(name, len);
}

uint32_t seraph_constant_count(void)
{
	return EG(zend_constants) ? zend_hash_num_elements(EG(zend_constants)) : 0;
}

zval *seraph_hash_find(HashTable *ht, const char *key, size_t len)
{
	zval *zv;
	if (!ht) {
		return NULL;
	}
	zv = zend_hash_str_find(ht, key, len);
	if (zv) {
		ZVAL_DEREF(zv);
	}
	return zv;
}

struct callable_lookup {
	zval *callable;
	zend_function *out;
};

static void seraph_callable_body(void *arg)
{
	struct callable_lookup *l = arg;
	zend_fcall_info_cache fcc;
	if (!zend_is_callable_ex(l->callable, NULL, 0, NULL, &fcc, NULL)) {
		return;
	}
	if (fcc.function_handler
		&& (fcc.function_handler->common.fn_flags & ZEND_ACC_CALL_VIA_TRAMPOLINE)) {
		zend_release_fcall_info_cache(&fcc);
		return;
	}
	if (fcc.function_handler && fcc.function_handler->type == ZEND_USER_FUNCTION) {
		l->out = fcc.function_handler;
	}
}

zend_function *seraph_callable_function(zval *callable)
{
	struct callable_lookup l;
	if (!callable || EG(exception)) {
		return NULL;
	}
	l.callable = callable;
	l.out = NULL;
	if (seraph_try(seraph_callable_body, &l)) {
		return NULL;
	}
	if (EG(exception)) {
		zend_clear_exception();
		return NULL;
	}
	return l.out;
}

zend_string *seraph_function_filename(zend_function *func)
{
	if (!func || func->type != ZEND_USER_FUNCTION) {
		return NULL;
	}
	return func->op_array.filename;
}

void seraph_zval_str(zval *out, const char *s, size_t len)
{
	ZVAL_STRINGL(out, s, len);
}

struct eval_call {
	const char *code;
	const char *name;
	int rc;
};

static void seraph_eval_body(void *arg)
{
	struct eval_call *e = arg;
	e->rc = zend_eval_string((char *)e->code, NULL, (char *)e->name) == SUCCESS ? 0 : -1;
}

int seraph_eval(const char *code, const char *name)
{
	struct eval_call e;
	if (EG(exception)) {
		return -1;
	}
	e.code = code;
	e.name = name;
	e.rc = -1;
	if (seraph_try(seraph_eval_body, &e)) {
		return 1;
	}
	if (EG(exception)) {
		zend_clear_exception();
		return -1;
	}
	return e.rc;
}

int seraph_function_exists(const char *name_lc, size_t len)
{
	return zend_hash_str_exists(EG(function_table), name_lc, len);
}
