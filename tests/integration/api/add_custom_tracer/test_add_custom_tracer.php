<?php
/*DESCRIPTION
newrelic_add_custom_tracer() makes functions custom traced, matched
without regard to case: a function first called after the call, a
function already called before it (its later calls), and a static method.
Each call makes a Custom/<name> metric (scoped and unscoped) named as the
code spells it, and the segments are kept however short. Names that match
nothing are accepted. Bad arguments return false.
*/

/*INI
newrelic.code_level_metrics.enabled = 1
*/

/*EXPECT
ok - added
ok - no args
ok - two args
*/

/*EXPECT_METRICS_EXIST
Supportability/api/add_custom_tracer, 7
Custom/Fresh_Function, 2
Custom/early_function, 1
Custom/My_Class::Do_It, 1
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Custom/My_Class::Do_It",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {
      "code.lineno": "??",
      "code.namespace": "My_Class",
      "code.filepath": "__FILE__",
      "code.function": "Do_It"
    }
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

// Bodies that do something: OPcache's optimizer replaces a call to a
// function that only returns a constant by the constant, and no agent can
// trace a call that never happens.
function Fresh_Function($x) { return strlen($x); }
function early_function($x) { return strtoupper($x); }
class My_Class { public static function Do_It($x) { return str_repeat($x, 2); } }

early_function('a');
$ok = newrelic_add_custom_tracer('fresh_FUNCTION')
    && newrelic_add_custom_tracer('EARLY_function')
    && newrelic_add_custom_tracer('my_class::do_it')
    && newrelic_add_custom_tracer('$)O#()@::@)@)@@')
    && newrelic_add_custom_tracer('a::b::c');
tap_assert($ok, 'added');
Fresh_Function('a');
Fresh_Function('b');
early_function('c');
My_Class::Do_It('d');
tap_identical(false, @newrelic_add_custom_tracer(), 'no args');
tap_identical(false, @newrelic_add_custom_tracer('a', 'b'), 'two args');
