/* Reference observers for the benchmark's floor; not part of the agent.
 *
 * FLOOR_MODE=decline: the fcall observer is registered but its init gives
 * no handlers to any function, so every call takes PHP's observer-aware
 * VM handlers and finds nothing to call (the least any extension that
 * registers an fcall observer costs, whatever it observes).
 * FLOOR_MODE=empty: begin/end handlers on every named user function that
 * do nothing (the cost of being observed at all).
 * FLOOR_MODE=rdtsc: the same handlers reading the TSC once each, which is
 * the least any exact per-call timing has to do.
 *
 * run.sh builds it: cc -O2 -shared -fPIC $(php-config --includes) floor.c */
#include "php.h"
#include "zend_observer.h"
#include <x86intrin.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned long long sink;
static void b_empty(zend_execute_data *ex) { (void)ex; }
static void e_empty(zend_execute_data *ex, zval *rv) { (void)ex; (void)rv; }
static void b_tsc(zend_execute_data *ex) { (void)ex; sink = __rdtsc(); }
static void e_tsc(zend_execute_data *ex, zval *rv) { (void)ex; (void)rv; sink += __rdtsc(); }
static int tsc, decline;

static zend_observer_fcall_handlers init(zend_execute_data *ex) {
	zend_observer_fcall_handlers h = {NULL, NULL};
	if (!decline && ex->func && ex->func->type == ZEND_USER_FUNCTION && ex->func->common.function_name) {
		h.begin = tsc ? b_tsc : b_empty;
		h.end = tsc ? e_tsc : e_empty;
	}
	return h;
}

static PHP_MINIT_FUNCTION(floor) {
	const char *m = getenv("FLOOR_MODE");
	tsc = m && strcmp(m, "rdtsc") == 0;
	decline = m && strcmp(m, "decline") == 0;
	zend_observer_fcall_register(init);
	return SUCCESS;
}

zend_module_entry floor_module_entry = {
	STANDARD_MODULE_HEADER, "seraph_floor", NULL, PHP_MINIT(floor), NULL, NULL, NULL, NULL,
	"0", STANDARD_MODULE_PROPERTIES
};
ZEND_GET_MODULE(floor)
