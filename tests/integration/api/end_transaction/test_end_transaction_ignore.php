<?php
/*DESCRIPTION
newrelic_end_transaction(true) ends the transaction and discards it;
nothing is sent, and the rest of the script runs without a transaction.
*/

/*EXPECT_HARVEST no*/

/*EXPECT
ok - ended and ignored
after
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_assert(newrelic_end_transaction(true), 'ended and ignored');
echo "after\n";
