<?php
/*DESCRIPTION
A failed query returns false with PostgreSQL's warning, exactly as without
the agent; executing a statement never prepared fails the same way and is
named "(prepared statement)"; a closed connection throws PHP's Error.
*/

/*EXPECT_REGEX
(?s)Warning: pg_query\(\): Query failed: ERROR:  relation "no_such_table" does not exist.*bool\(false\).*Warning: pg_execute\(\): Query failed: ERROR:  prepared statement "nope" does not exist.*bool\(false\)\nError: PostgreSQL connection has already been closed
*/

/*EXPECT_METRICS_EXIST
Datastore/statement/Postgres/no_such_table/select, 1
Datastore/operation/Postgres/other, 1
*/

/*INI
display_errors = 1
*/

require_once(__DIR__ . '/../include/config.php');
require_servers('pgsql');

$conn = pg_connect($PG_CONNECTION);
var_dump(pg_query($conn, "SELECT * FROM no_such_table"));
var_dump(pg_execute($conn, 'nope', []));
pg_close($conn);
try {
    pg_query($conn, "SELECT 1");
} catch (Throwable $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
