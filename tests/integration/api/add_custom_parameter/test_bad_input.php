<?php
/*DESCRIPTION
newrelic_add_custom_parameter() with missing, extra or unusable
arguments: fewer than two arguments return false, a third is an
ArgumentCountError (PHP 8's zend_parse_parameters), non-finite floats are
refused, and a non-scalar value raises New Relic's warning (which the
error collector records) but still returns true. Keys of any type are
turned into text as New Relic does. Every call is counted.
*/

/*EXPECT_REGEX
^\s*ok - no args
ok - one arg
ok - three args throw ArgumentCountError
ok - infinity refused
ok - NaN refused
\s*Warning: newrelic_add_custom_parameter\(\): newrelic_add_custom_parameter: expects parameter to be scalar, array given in .* on line \d+
ok - array value warns but returns true
\s*Warning: newrelic_add_custom_parameter\(\): newrelic_add_custom_parameter: expects parameter to be scalar, object given in .* on line \d+
ok - object value warns but returns true
ok - odd keys\s*$
*/

/*EXPECT_METRICS_EXIST
Supportability/api/add_custom_parameter, 12
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      {
        "type": "Transaction",
        "name": "OtherTransaction/php__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "error": true
      },
      {
        "(null)": "IS_NULL",
        "42.00000": "IS_DOUBLE",
        "True": "IS_BOOL",
        "(Array)": "IS_ARRAY",
        "nothing": null
      },
      {
        "errorType": "E_WARNING",
        "errorMessage": "/newrelic_add_custom_parameter.*expects parameter to be scalar, object given/"
      }
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(false, @newrelic_add_custom_parameter(), 'no args');
tap_identical(false, @newrelic_add_custom_parameter('key1'), 'one arg');
try {
    newrelic_add_custom_parameter('key2', 'value', 'extra');
    tap_not_ok('three args throw ArgumentCountError');
} catch (ArgumentCountError $e) {
    tap_ok('three args throw ArgumentCountError');
}
tap_identical(false, newrelic_add_custom_parameter('key3', INF), 'infinity refused');
tap_identical(false, newrelic_add_custom_parameter('key4', NAN), 'NaN refused');
tap_identical(true, newrelic_add_custom_parameter('key5', array(1, 2)), 'array value warns but returns true');
tap_identical(true, newrelic_add_custom_parameter('key6', new stdClass()), 'object value warns but returns true');

$ok = newrelic_add_custom_parameter(null, 'IS_NULL')
    && newrelic_add_custom_parameter(42.0, 'IS_DOUBLE')
    && newrelic_add_custom_parameter(true, 'IS_BOOL')
    && newrelic_add_custom_parameter(array(), 'IS_ARRAY')
    && newrelic_add_custom_parameter('nothing', null);
tap_assert($ok, 'odd keys');
