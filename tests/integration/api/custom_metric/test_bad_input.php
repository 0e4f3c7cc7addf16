<?php
/*DESCRIPTION
newrelic_custom_metric() with bad arguments records nothing: fewer than
two arguments return false, a non-numeric value or an array name is a
TypeError (PHP 8's zend_parse_parameters), and infinities and NaN return
false. Every call is counted; only the good call makes a metric.
*/

/*EXPECT
ok - zero args
ok - one arg
ok - array name is a TypeError
ok - string value is a TypeError
ok - infinity
ok - NaN
ok - good call
*/

/*EXPECT_METRICS_EXIST
Supportability/api/custom_metric, 7
Custom/Good, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Custom/Bad
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(false, @newrelic_custom_metric(), 'zero args');
tap_identical(false, @newrelic_custom_metric('Custom/Bad'), 'one arg');
try {
    newrelic_custom_metric(array(), 1.0);
    tap_not_ok('array name is a TypeError');
} catch (TypeError $e) {
    tap_ok('array name is a TypeError');
}
try {
    newrelic_custom_metric('Custom/Bad', 'lots');
    tap_not_ok('string value is a TypeError');
} catch (TypeError $e) {
    tap_ok('string value is a TypeError');
}
tap_identical(false, newrelic_custom_metric('Custom/Bad', INF), 'infinity');
tap_identical(false, newrelic_custom_metric('Custom/Bad', NAN), 'NaN');
tap_identical(true, newrelic_custom_metric('Custom/Good', 25), 'good call');
