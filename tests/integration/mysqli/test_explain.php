<?php
/*DESCRIPTION
A SELECT slower than explain_threshold (0 here) gets an explain plan in its
slow SQL entry, run on a second connection made like the application's:
for mysqli_query and for a prepared statement executed with a parameter
array. An UPDATE is never explained. MariaDB returns `rows` as text. The application's own result sets are
undisturbed (an unbuffered result is read after the EXPLAIN ran). The
prepared statement's entry has no instance, as in New Relic's agent.
*/

/*INI
newrelic.transaction_tracer.explain_enabled = true
newrelic.transaction_tracer.explain_threshold = 0
newrelic.transaction_tracer.record_sql = obfuscated
*/

/*EXPECT
two
3
*/

/*EXPECT_SLOW_SQLS
[
  [
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "SELECT name FROM mysqli_explain WHERE id = ?",
      "Datastore/statement/MySQL/mysqli_explain/select",
      1,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "explain_plan": [
          ["id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows", "Extra"],
          [[1, "SIMPLE", "mysqli_explain", "const", "PRIMARY", "PRIMARY", "4", "const", "1", ""]]
        ],
        "backtrace": "??",
        "host": "__HOST__",
        "port_path_or_id": "ENV[MYSQL_PORT]",
        "database_name": "ENV[MYSQL_DB]"
      }
    ],
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "SELECT id FROM mysqli_explain WHERE name = ?",
      "Datastore/statement/MySQL/mysqli_explain/select",
      1,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "explain_plan": [
          ["id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows", "Extra"],
          [[1, "SIMPLE", "mysqli_explain", "ref", "name", "name", "23", "const", "1", "Using where; Using index"]]
        ],
        "backtrace": [" in mysqli_stmt::execute called at __FILE__ (??)"]
      }
    ],
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "UPDATE mysqli_explain SET name = ? WHERE id = ?",
      "Datastore/statement/MySQL/mysqli_explain/update",
      1,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "backtrace": "??",
        "host": "__HOST__",
        "port_path_or_id": "ENV[MYSQL_PORT]",
        "database_name": "ENV[MYSQL_DB]"
      }
    ]
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/mysqli.inc');

mysql_test_table('mysqli_explain');
$link = mysqli_test_link();
$result = mysqli_query($link, "SELECT name FROM mysqli_explain WHERE id = 2", MYSQLI_USE_RESULT);
echo mysqli_fetch_row($result)[0], "\n";
mysqli_free_result($result);
$stmt = $link->prepare("SELECT id FROM mysqli_explain WHERE name = ?");
$stmt->execute(['three']);
echo $stmt->get_result()->fetch_row()[0], "\n";
mysqli_query($link, "UPDATE mysqli_explain SET name = 'x' WHERE id = 1");
