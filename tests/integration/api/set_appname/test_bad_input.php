<?php
/*DESCRIPTION
newrelic_set_appname() without arguments is an ArgumentCountError and an
array name a TypeError; both return false and leave the transaction
running (it is sent at the end of the request).
*/

/*EXPECT
ok - no args
ok - array
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/all, 1
Supportability/api/set_appname/before, 2
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

try {
    newrelic_set_appname();
    tap_not_ok('no args');
} catch (ArgumentCountError $e) {
    tap_ok('no args');
}
try {
    newrelic_set_appname(array());
    tap_not_ok('array');
} catch (TypeError $e) {
    tap_ok('array');
}
