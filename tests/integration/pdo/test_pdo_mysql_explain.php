<?php
/*DESCRIPTION
PDO MySQL explain plans: a slow SELECT (explain_threshold 0) through
PDO::query, through a prepared statement executed with an array, and
through one whose values were given with bindValue, each gets the plan of
EXPLAIN run on a second PDO with the same DSN and options; the plan's
columns are the keys of the rows PDO returns. The application's PDO, with
exceptions on, never sees the second connection.
*/

/*INI
newrelic.transaction_tracer.explain_enabled = true
newrelic.transaction_tracer.explain_threshold = 0
newrelic.transaction_tracer.record_sql = obfuscated
*/

/*EXPECT
one
two
three
*/

/*EXPECT_SLOW_SQLS
[
  [
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "SELECT name FROM pdo_explain WHERE id = ?",
      "Datastore/statement/MySQL/pdo_explain/select",
      1,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "explain_plan": [
          ["id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows", "Extra"],
          [[1, "SIMPLE", "pdo_explain", "const", "PRIMARY", "PRIMARY", "4", "const", "1", ""]]
        ],
        "backtrace": [" in PDO::query called at __FILE__ (??)"],
        "host": "__HOST__",
        "port_path_or_id": "ENV[MYSQL_PORT]",
        "database_name": "ENV[MYSQL_DB]"
      }
    ],
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "SELECT name FROM pdo_explain WHERE id = ? AND name <> ?",
      "Datastore/statement/MySQL/pdo_explain/select",
      1,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "explain_plan": [
          ["id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows", "Extra"],
          [[1, "SIMPLE", "pdo_explain", "const", "PRIMARY,name", "PRIMARY", "4", "const", "1", ""]]
        ],
        "backtrace": [" in PDOStatement::execute called at __FILE__ (??)"],
        "host": "__HOST__",
        "port_path_or_id": "ENV[MYSQL_PORT]",
        "database_name": "ENV[MYSQL_DB]"
      }
    ],
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "SELECT name FROM pdo_explain WHERE name = :name",
      "Datastore/statement/MySQL/pdo_explain/select",
      1,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "explain_plan": [
          ["id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows", "Extra"],
          [[1, "SIMPLE", "pdo_explain", "ref", "name", "name", "23", "const", "1", "Using where; Using index"]]
        ],
        "backtrace": [" in PDOStatement::execute called at __FILE__ (??)"],
        "host": "__HOST__",
        "port_path_or_id": "ENV[MYSQL_PORT]",
        "database_name": "ENV[MYSQL_DB]"
      }
    ]
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/../include/config.php');
require_servers('mysql');
require_once(__DIR__ . '/../include/mysql.php');

mysql_test_table('pdo_explain');
$dsn = "mysql:host=$MYSQL_HOST;port=$MYSQL_PORT;dbname=$MYSQL_DB";
$pdo = new PDO($dsn, $MYSQL_USER, $MYSQL_PASSWD, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);

echo $pdo->query("SELECT name FROM pdo_explain WHERE id = 1")->fetchColumn(), "\n";
$stmt = $pdo->prepare("SELECT name FROM pdo_explain WHERE id = ? AND name <> ?");
$stmt->execute([2, 'x']);
echo $stmt->fetchColumn(), "\n";
$stmt = $pdo->prepare("SELECT name FROM pdo_explain WHERE name = :name");
$stmt->bindValue(':name', 'three');
$stmt->execute();
echo $stmt->fetchColumn(), "\n";
