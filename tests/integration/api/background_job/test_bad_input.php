<?php
/*DESCRIPTION
newrelic_background_job() with an argument PHP cannot read as a boolean
or an integer (an array) throws a TypeError and, as in New Relic's agent,
marks the transaction a background job anyway; 0 marks it a web
transaction again.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT
ok - array is a TypeError
ok - zero is web
*/

/*EXPECT_METRICS_EXIST
Supportability/api/background_job, 2
WebTransaction, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

try {
    newrelic_background_job(array());
    tap_not_ok('array is a TypeError');
} catch (TypeError $e) {
    tap_ok('array is a TypeError');
}
newrelic_background_job(0);
tap_ok('zero is web');
