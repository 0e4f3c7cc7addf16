<?php
/*DESCRIPTION
newrelic_start_transaction() and newrelic_end_transaction() with bad
arguments: starting while a transaction is open, with no or three
arguments returns false; ending with an array is a TypeError and leaves
the transaction open. A valid end and start follow.
*/

/*EXPECT
ok - start while open
ok - end with an array is a TypeError
ok - end
ok - start with no args
ok - start with three args
ok - start
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/all, 2
Supportability/api/end_transaction, 2
Supportability/api/start_transaction, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(false, newrelic_start_transaction(ini_get('newrelic.appname')), 'start while open');
try {
    newrelic_end_transaction(array());
    tap_not_ok('end with an array is a TypeError');
} catch (TypeError $e) {
    tap_ok('end with an array is a TypeError');
}
tap_identical(true, newrelic_end_transaction(), 'end');
tap_identical(false, newrelic_start_transaction(), 'start with no args');
tap_identical(false, newrelic_start_transaction('a', 'b', 'c'), 'start with three args');
tap_identical(true, newrelic_start_transaction(ini_get('newrelic.appname')), 'start');
