<?php
/*DESCRIPTION
PDO with SQLite: every query is a datastore segment. Operation metrics are
unscoped, statement metrics (operation and table) are recorded scoped and
unscoped, and the rollups count every call. The transaction event carries
the database call count and time. No query is near the (raised) explain
threshold, so there is no slow SQL even under valgrind.
*/

/*SKIPIF
<?php
if (!extension_loaded('pdo_sqlite')) {
    die("skip: pdo_sqlite not available\n");
}
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 10s
*/

/*EXPECT
rows=2
alice
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"Datastore/all"},                                             [5, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/allOther"},                                        [5, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/SQLite/all"},                                      [5, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/SQLite/allOther"},                                 [5, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/SQLite/create"},                         [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/SQLite/insert"},                         [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/SQLite/select"},                         [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/SQLite/users/create"},                   [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/SQLite/users/create",
      "scope":"OtherTransaction/php__FILE__"},                             [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/SQLite/users/insert"},                   [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/SQLite/users/insert",
      "scope":"OtherTransaction/php__FILE__"},                             [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/SQLite/users/select"},                   [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/SQLite/users/select",
      "scope":"OtherTransaction/php__FILE__"},                             [2, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/all"},      [1, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/allOther"}, [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/all"},                                      [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/php__FILE__"},                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime"},                                 [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/php__FILE__"},                     [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/Logging/Forwarding/PHP/enabled"},             [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Metrics/PHP/enabled"},                [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/LocalDecorating/PHP/disabled"},       [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Labels/PHP/disabled"},                [1, 0, 0, 0, 0, 0]]
  ]
]
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {
        "type": "Transaction",
        "name": "OtherTransaction/php__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "databaseDuration": "??",
        "databaseCallCount": 5,
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "error": false
      },
      {},
      {}
    ]
  ]
]
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "datastore",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Datastore/statement/SQLite/users/create",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "SQLite"
    },
    {},
    {
      "peer.address": "unknown:unknown",
      "db.statement": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"
    }
  ],
  [
    {
      "category": "datastore",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Datastore/statement/SQLite/users/select",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "SQLite"
    },
    {},
    {
      "peer.address": "unknown:unknown",
      "db.statement": "SELECT name FROM users WHERE name = ?"
    }
  ]
]
*/

/*EXPECT_SLOW_SQLS null*/

$db = new PDO('sqlite::memory:');
$db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$db->exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)');
$ins = $db->prepare('INSERT INTO users (name) VALUES (?)');
$ins->execute(array('alice'));
$ins->execute(array('bob'));
echo "rows=" . $db->query('SELECT count(*) FROM users')->fetchColumn() . "\n";
$sel = $db->query("SELECT name FROM users WHERE name = 'alice'");
foreach ($sel as $row) {
    echo $row['name'] . "\n";
}
