<?php
/*DESCRIPTION
SQLite3: exec, query and querySingle are datastore segments (product
SQLite, no instance); a statement from SQLite3::prepare is a segment named
from its SQL when executed.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 10s
*/

/*EXPECT
2
b
*/

/*EXPECT_METRICS_EXIST
Datastore/statement/SQLite/letters/create, 1
Datastore/statement/SQLite/letters/insert, 2
Datastore/statement/SQLite/letters/select, 2
Datastore/SQLite/all, 5
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
      "name": "Datastore/statement/SQLite/letters/insert",
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
      "db.statement": "INSERT INTO letters VALUES (:c)"
    }
  ]
]
*/

$db = new SQLite3(':memory:');
$db->exec("CREATE TABLE letters (c TEXT)");
$db->exec("INSERT INTO letters VALUES ('a')");
$stmt = $db->prepare("INSERT INTO letters VALUES (:c)");
$stmt->bindValue(':c', 'b');
$stmt->execute();
echo $db->querySingle("SELECT count(*) FROM letters"), "\n";
echo $db->query("SELECT c FROM letters ORDER BY c DESC")->fetchArray()[0], "\n";
