<?php
/*DESCRIPTION
newrelic_set_error_group_callback() refuses (false) a callable that does
not take exactly two parameters and a missing argument; a value that is
not callable is a TypeError. A callback returning anything but a
non-empty string adds no error.group.name.
*/

/*EXPECT_REGEX
^\s*ok - one parameter refused
ok - no argument refused
ok - not callable
ok - integer return accepted as a callback
\s*Warning: careful in .* on line \d+\s*$
*/

/*EXPECT_METRICS_EXIST
Supportability/api/set_error_group_callback, 4
*/

/*EXPECT_ERROR_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      {
        "type": "TransactionError",
        "timestamp": "??",
        "error.class": "E_USER_WARNING",
        "error.message": "careful",
        "transactionName": "OtherTransaction/php__FILE__",
        "duration": "??",
        "nr.transactionGuid": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "spanId": "??"
      },
      {},
      {}
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(false, newrelic_set_error_group_callback(function ($only) { return 'x'; }), 'one parameter refused');
tap_identical(false, @newrelic_set_error_group_callback(), 'no argument refused');
try {
    newrelic_set_error_group_callback('no_such_function');
    tap_not_ok('not callable');
} catch (TypeError $e) {
    tap_ok('not callable');
}
tap_identical(true, newrelic_set_error_group_callback(function ($t, $e) { return 42; }), 'integer return accepted as a callback');
trigger_error('careful', E_USER_WARNING);
