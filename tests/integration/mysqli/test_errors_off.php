<?php
/*DESCRIPTION
error_collector.record_database_errors off: a failed query is a datastore
segment and nothing more.
*/

/*INI
newrelic.error_collector.record_database_errors = 0
*/

/*EXPECT
bool(false)
*/

/*EXPECT_METRICS_EXIST
Datastore/statement/MySQL/no_such_table/select, 1
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/mysqli.inc');

$link = mysqli_test_link();
var_dump(mysqli_query($link, "SELECT * FROM no_such_table"));
