<?php
/*DESCRIPTION
newrelic_name_transaction() in a web request names it
WebTransaction/Custom/<name>, for the transaction, HttpDispatcher stays and
Apdex follows the new name.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT
named
*/

/*EXPECT_METRICS_EXIST
WebTransaction, 1
WebTransaction/Custom/web-name, 1
WebTransactionTotalTime/Custom/web-name, 1
Apdex/Custom/web-name
HttpDispatcher, 1
Supportability/api/name_transaction, 1
*/

/*EXPECT_METRICS_DONT_EXIST
WebTransaction/Uri__FILE__
*/

newrelic_name_transaction('web-name');
echo "named\n";
