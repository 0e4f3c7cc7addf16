<?php
/*DESCRIPTION
A query slower than the explain threshold (with slow_sql on; the recursive
subquery takes tens of milliseconds) becomes a slow SQL trace: obfuscated
query, statement metric, the transaction's name, call count 1 and a
backtrace of the PDO call. The table is prepared by a separate PHP
process without the agent so that the slow query is the only datastore
call, whatever the machine's speed (valgrind makes every statement slow).
*/

/*SKIPIF
<?php
if (!extension_loaded('pdo_sqlite') || !extension_loaded('sqlite3')) {
    die("skip: pdo_sqlite or sqlite3 not available\n");
}
*/

/*INI
newrelic.transaction_tracer.slow_sql = 1
newrelic.transaction_tracer.explain_threshold = 1ms
newrelic.transaction_tracer.threshold = 1ms
*/

/*EXPECT
count=1
*/

/*EXPECT_SLOW_SQLS
[
  [
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "SELECT count(*) FROM users WHERE name = ? OR (SELECT count(*) FROM (WITH RECURSIVE cnt(x) AS (SELECT ? UNION ALL SELECT x + ? FROM cnt WHERE x < ?) SELECT x FROM cnt)) > ?",
      "Datastore/statement/SQLite/users/select",
      1,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "backtrace": [
          " in PDO::query called at __FILE__ (??)"
        ]
      }
    ]
  ]
]
*/

/*EXPECT_METRICS_EXIST
Datastore/statement/SQLite/users/select, 1
Datastore/operation/SQLite/select, 1
Datastore/all, 1
*/

$path = tempnam(sys_get_temp_dir(), 'seraph-slow-sql');
/* The table is made by a PHP without the agent (SQLite3 is instrumented). */
$setup = sprintf('$db = new SQLite3(%s); $db->exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"); $db->exec("INSERT INTO users (name) VALUES (\'alice\')");', var_export($path, true));
exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=sqlite3 -r ' . escapeshellarg($setup), $out, $rc);
if (0 != $rc) {
    echo "setup failed: ", implode("\n", $out), "\n";
}

$db = new PDO('sqlite:' . $path);
$db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$n = $db->query("SELECT count(*) FROM users WHERE name = 'x' OR (SELECT count(*) FROM (WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM cnt WHERE x < 200000) SELECT x FROM cnt)) > 0")->fetchColumn();
echo "count=$n\n";
$db = null;
unlink($path);
