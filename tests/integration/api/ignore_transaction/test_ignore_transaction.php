<?php
/*DESCRIPTION
newrelic_ignore_transaction() drops the transaction: nothing at all is
sent for it.
*/

/*EXPECT_HARVEST no*/

/*EXPECT
ignored
*/

newrelic_ignore_transaction();
echo "ignored\n";
