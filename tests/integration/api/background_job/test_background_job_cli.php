<?php
/*DESCRIPTION
A CLI transaction is already a background one; newrelic_background_job()
changes nothing but counts the API call.
*/

/*EXPECT
done
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/all, 1
OtherTransaction/php__FILE__, 1
Supportability/api/background_job, 1
*/

/*EXPECT_METRICS_DONT_EXIST
WebTransaction
HttpDispatcher
Apdex
*/

newrelic_background_job();
echo "done\n";
