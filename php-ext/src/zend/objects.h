/* Object access for library hooks: calling methods, reading class
 * constants, resolving callables. Every call into PHP code runs under
 * zend_try (through seraph_try) and never lets an exception escape into the
 * application: one thrown inside is cleared and reported as a failure. */
#ifndef SERAPH_OBJECTS_H
#define SERAPH_OBJECTS_H

#include "php.h"

/* Calls a public or protected method by name (case-insensitive), as the
 * object's own class would. 0: called, `retval` holds the result (the
 * caller destroys it); -1: no such method, an exception was pending
 * before, or the method threw (the exception is cleared); 1: a bailout
 * (pending, to be re-raised). */
int seraph_call_method(zend_object *obj, const char *name, size_t len, zval *retval,
	uint32_t argc, zval *argv);

/* Whether the object's class has a method of that (lower-case) name. */
int seraph_has_method(zend_object *obj, const char *name_lc, size_t len);

/* Whether the object is an instance of the (lower-case) class or
 * interface; 0 when that class is not loaded. */
int seraph_instanceof(zend_object *obj, const char *class_lc, size_t len);

/* The object's class name (borrowed). */
zend_string *seraph_class_name(zend_object *obj);

/* A class constant of the object's class (or a parent), when it is a
 * literal value; borrowed, NULL otherwise. */
zval *seraph_class_constant(zend_object *obj, const char *name, size_t len);

/* A global constant's value (borrowed), or NULL. */
zval *seraph_constant(const char *name, size_t len);

/* How many global constants are defined: unchanged, no constant appeared
 * (user constants are never removed while a request runs). */
uint32_t seraph_constant_count(void);

/* A string key's element of an array (references followed), or NULL. */
zval *seraph_hash_find(HashTable *ht, const char *key, size_t len);

/* The user function a callable value names (a function name, "C::m",
 * [obj, "m"], [class, "m"], a Closure or an invokable object); NULL for
 * internal functions, __call trampolines and anything not callable.
 * Resolving may autoload a class: under zend_try, exceptions cleared. */
zend_function *seraph_callable_function(zval *callable);

/* The file a user function was declared in (borrowed), or NULL. */
zend_string *seraph_function_filename(zend_function *func);

/* Sets a zval to a new string (the caller destroys it). */
void seraph_zval_str(zval *out, const char *s, size_t len);

/* Compiles and runs PHP code the agent itself provides (declaring a helper
 * function), under zend_try, exceptions cleared. 0 on success. */
int seraph_eval(const char *code, const char *name);

/* Whether a global function (lower-case name) exists. */
int seraph_function_exists(const char *name_lc, size_t len);

#endif
