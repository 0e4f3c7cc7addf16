<?php
/*DESCRIPTION
mysqli_query (procedural form) over TCP: a datastore segment per query with
the operation and table parsed from the SQL, the instance metric (host
127.0.0.1 is reported as the machine's name, the port as given), and a
datastore span carrying the instance, database and statement.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 10s
*/

/*EXPECT
three
2
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"Datastore/all"},                                          [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/allOther"},                                     [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/MySQL/all"},                                    [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/MySQL/allOther"},                               [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/instance/MySQL/__HOST__/ENV[MYSQL_PORT]"},      [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/MySQL/select"},                       [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/MySQL/update"},                       [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/MySQL/mysqli_proc/select"},           [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/MySQL/mysqli_proc/select",
      "scope":"OtherTransaction/php__FILE__"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/MySQL/mysqli_proc/update"},           [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/statement/MySQL/mysqli_proc/update",
      "scope":"OtherTransaction/php__FILE__"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/all"},   [1, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/allOther"}, [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/all"},                                   [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/php__FILE__"},                           [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime"},                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/php__FILE__"},                  [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/Logging/Forwarding/PHP/enabled"},          [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Metrics/PHP/enabled"},             [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/LocalDecorating/PHP/disabled"},    [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Labels/PHP/disabled"},             [1, 0, 0, 0, 0, 0]]
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
      "name": "Datastore/statement/MySQL/mysqli_proc/select",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "MySQL"
    },
    {},
    {
      "peer.hostname": "__HOST__",
      "server.address": "__HOST__",
      "peer.address": "__HOST__:ENV[MYSQL_PORT]",
      "db.instance": "ENV[MYSQL_DB]",
      "db.statement": "SELECT name FROM mysqli_proc WHERE id = ?"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/mysqli.inc');

mysql_test_table('mysqli_proc');
$link = mysqli_test_link();
$result = mysqli_query($link, "SELECT name FROM mysqli_proc WHERE id = 3");
echo mysqli_fetch_row($result)[0], "\n";
mysqli_query($link, "UPDATE mysqli_proc SET name = 'x' WHERE id < 3");
echo mysqli_affected_rows($link), "\n";
mysqli_close($link);
