<?php
/*DESCRIPTION
newrelic_end_of_transaction() stops the transaction's clock: the work
after it (a 200 ms sleep in a function) is not part of the transaction,
and API calls after it change nothing. The transaction is still sent.
*/

/*INI
newrelic.transaction_tracer.threshold = 0
*/

/*EXPECT
ok - returns null
ok - later naming changes nothing
*/

/*EXPECT_METRICS_EXIST
Supportability/api/end_of_transaction, 1
OtherTransaction/php__FILE__, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Custom/after_the_end
Supportability/api/name_transaction
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

function after_the_end()
{
    usleep(200000);
}

tap_identical(null, newrelic_end_of_transaction(), 'returns null');
after_the_end();
tap_identical(true, newrelic_name_transaction('late'), 'later naming changes nothing');
