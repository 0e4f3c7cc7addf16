<?php
/*DESCRIPTION
Bad input behaves exactly as without the agent: a query on a closed link
throws PHP's own Error, a query on a failed connection and a statement
executed before it was prepared fail as mysqli makes them fail, strict
error reporting throws mysqli_sql_exception, and wrong argument types
throw TypeError. The agent records the calls that ran and never turns a
failure into another.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 0
newrelic.error_collector.record_database_errors = 0
*/

/*EXPECT
Error: mysqli object is already closed
connect failed
Error: mysqli_stmt object is not fully initialized
mysqli_sql_exception: Table 'ENV_DB.nope' doesn't exist
TypeError: mysqli_query(): Argument #1 ($mysql) must be of type mysqli, string given
ArgumentCountError: mysqli_query() expects at least 2 arguments, 0 given
done
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/mysqli.inc');

function show(Throwable $e)
{
    global $MYSQL_DB;
    echo get_class($e), ": ", str_replace($MYSQL_DB, 'ENV_DB', $e->getMessage()), "\n";
}

$link = mysqli_test_link();
mysqli_close($link);
try {
    mysqli_query($link, "SELECT 1");
} catch (Throwable $e) {
    show($e);
}

$bad = @mysqli_connect($MYSQL_HOST, $MYSQL_USER, 'wrong password', $MYSQL_DB, $MYSQL_PORT);
echo $bad === false ? "connect failed\n" : "connected?\n";

$link = mysqli_test_link();
$stmt = mysqli_stmt_init($link);
try {
    mysqli_stmt_execute($stmt);
} catch (Throwable $e) {
    show($e);
}

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
try {
    $link->query("SELECT * FROM nope");
} catch (Throwable $e) {
    show($e);
}
try {
    mysqli_query("not a link", "SELECT 1");
} catch (Throwable $e) {
    show($e);
}
try {
    mysqli_query();
} catch (Throwable $e) {
    show($e);
}
echo "done\n";
