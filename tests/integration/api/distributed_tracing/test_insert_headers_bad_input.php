<?php
/*DESCRIPTION
newrelic_insert_distributed_trace_headers() needs one array passed by
reference: no argument is an ArgumentCountError and a string a TypeError
(both false); headers already in the array are kept.
*/

/*EXPECT
ok - no args
ok - not an array
ok - inserted
ok - existing header kept
*/

/*EXPECT_METRICS_EXIST
Supportability/api/insert_distributed_trace_headers, 3
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

try {
    newrelic_insert_distributed_trace_headers();
    tap_not_ok('no args');
} catch (ArgumentCountError $e) {
    tap_ok('no args');
}
try {
    $s = 'x';
    newrelic_insert_distributed_trace_headers($s);
    tap_not_ok('not an array');
} catch (TypeError $e) {
    tap_ok('not an array');
}
$h = array('Accept' => 'text/plain');
tap_identical(true, newrelic_insert_distributed_trace_headers($h), 'inserted');
tap_identical('text/plain', $h['Accept'], 'existing header kept');
