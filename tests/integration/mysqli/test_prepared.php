<?php
/*DESCRIPTION
Prepared statements in every form (mysqli_prepare, mysqli::prepare,
stmt_init + stmt_prepare, new mysqli_stmt, execute with a parameter array)
are datastore segments named from the prepared SQL, without an instance
(as New Relic's agent reports them); preparing alone records nothing.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 10s
newrelic.transaction_tracer.record_sql = raw
*/

/*EXPECT
one
two
three
one
*/

/*EXPECT_METRICS_EXIST
Datastore/statement/MySQL/mysqli_prep/select, 4
Datastore/MySQL/all, 4
*/

/*EXPECT_METRICS_DONT_EXIST
Datastore/instance/MySQL/__HOST__/ENV[MYSQL_PORT]
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
      "name": "Datastore/statement/MySQL/mysqli_prep/select",
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
      "peer.address": "unknown:unknown",
      "db.statement": "SELECT name FROM mysqli_prep WHERE id = ?"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/mysqli.inc');

mysql_test_table('mysqli_prep');
$link = mysqli_test_link();
$sql = "SELECT name FROM mysqli_prep WHERE id = ?";

$stmt = mysqli_prepare($link, $sql);
$id = 1;
mysqli_stmt_bind_param($stmt, "i", $id);
mysqli_stmt_execute($stmt);
mysqli_stmt_bind_result($stmt, $name);
mysqli_stmt_fetch($stmt);
echo $name, "\n";
mysqli_stmt_close($stmt);

$stmt = $link->stmt_init();
$stmt->prepare($sql);
$id = 2;
$stmt->bind_param("i", $id);
$stmt->execute();
echo $stmt->get_result()->fetch_row()[0], "\n";

$stmt = new mysqli_stmt($link, $sql);
$stmt->execute([3]);
echo $stmt->get_result()->fetch_row()[0], "\n";

$stmt = $link->prepare($sql);
$stmt->execute([1]);
echo $stmt->get_result()->fetch_row()[0], "\n";
