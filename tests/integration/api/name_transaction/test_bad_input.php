<?php
/*DESCRIPTION
newrelic_name_transaction() with bad arguments returns false and keeps
the current name: no argument, two arguments, an empty name; an array is
a TypeError. A later valid call still names the transaction.
*/

/*EXPECT
ok - no args
ok - two args
ok - empty name
ok - array is a TypeError
ok - valid name
*/

/*EXPECT_METRICS_EXIST
Supportability/api/name_transaction, 5
OtherTransaction/Custom/good, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(false, @newrelic_name_transaction(), 'no args');
tap_identical(false, @newrelic_name_transaction('a', 'b'), 'two args');
tap_identical(false, newrelic_name_transaction(''), 'empty name');
try {
    newrelic_name_transaction(array());
    tap_not_ok('array is a TypeError');
} catch (TypeError $e) {
    tap_ok('array is a TypeError');
}
tap_identical(true, newrelic_name_transaction('good'), 'valid name');
