<?php
/*DESCRIPTION
newrelic_get_trace_metadata() returns the trace id and the current span
id (a 16-hex-digit span guid inside a function); an argument is an
ArgumentCountError and the result an empty array.
*/

/*EXPECT
ok - keys
ok - trace id
ok - span id
ok - argument count error
*/

/*EXPECT_METRICS_EXIST
Supportability/api/get_trace_metadata, 2
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

function inner()
{
    return newrelic_get_trace_metadata();
}

$m = inner();
tap_identical(array('trace_id', 'span_id'), array_keys($m), 'keys');
tap_assert(preg_match('/^[0-9a-f]{16,32}$/', $m['trace_id']) === 1, 'trace id');
tap_assert(preg_match('/^[0-9a-f]{16}$/', $m['span_id']) === 1, 'span id');
try {
    newrelic_get_trace_metadata(1);
    tap_not_ok('argument count error');
} catch (ArgumentCountError $e) {
    tap_ok('argument count error');
}
