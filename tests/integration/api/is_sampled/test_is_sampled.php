<?php
/*DESCRIPTION
newrelic_is_sampled() says whether the transaction is sampled (the first
transactions of an application always are); an argument is an
ArgumentCountError, but the answer is still given.
*/

/*EXPECT
ok - sampled
ok - argument count error
*/

/*EXPECT_METRICS_EXIST
Supportability/api/is_sampled, 2
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(true, newrelic_is_sampled(), 'sampled');
try {
    newrelic_is_sampled(1);
    tap_not_ok('argument count error');
} catch (ArgumentCountError $e) {
    tap_ok('argument count error');
}
