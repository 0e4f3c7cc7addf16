<?php
/*DESCRIPTION
A traced transaction with PDO queries: each query is a trace node named by
its statement metric, with the obfuscated SQL as sql_obfuscated; only
queries slower than the explain threshold carry a backtrace.
*/

/*SKIPIF
<?php
if (!extension_loaded('pdo_sqlite')) {
    die("skip: pdo_sqlite not available\n");
}
*/

/*INI
newrelic.transaction_tracer.threshold = 0
newrelic.transaction_tracer.explain_threshold = 10s
*/

/*EXPECT
ok
*/

/*EXPECT_TXN_TRACES
[
  "?? agent run id",
  [
    [
      "?? start time",
      "?? duration",
      "OtherTransaction/php__FILE__",
      "<unknown>",
      [
        [
          0, {}, {},
          [
            "?? start", "?? end", "ROOT", {},
            [
              [
                "?? start", "?? end", "`0", {},
                [
                  ["?? start", "?? end", "`1", {"sql_obfuscated": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"}, []],
                  ["?? start", "?? end", "`2", {"sql_obfuscated": "INSERT INTO users (name) VALUES (?)"}, []],
                  ["?? start", "?? end", "`3", {"sql_obfuscated": "SELECT name FROM users WHERE id = ?"}, []]
                ]
              ]
            ]
          ],
          {"intrinsics": "??"}
        ],
        [
          "OtherTransaction/php__FILE__",
          "Datastore/statement/SQLite/users/create",
          "Datastore/statement/SQLite/users/insert",
          "Datastore/statement/SQLite/users/select"
        ]
      ],
      "?? txn guid",
      null,
      false,
      null,
      null
    ]
  ]
]
*/

$db = new PDO('sqlite::memory:');
$db->exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)');
$db->exec("INSERT INTO users (name) VALUES ('alice')");
$db->query('SELECT name FROM users WHERE id = 1')->fetchAll();
echo "ok\n";
