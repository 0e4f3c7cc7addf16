<?php
/*DESCRIPTION
The object form: new mysqli, query, real_query and multi_query are
datastore segments with the link's instance. select_db changes the
database the spans report (db.instance); a link connected through the
socket reports the socket path as its port_path_or_id.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 10s
*/

/*EXPECT
one
two
3
*/

/*EXPECT_METRICS_EXIST
Datastore/statement/MySQL/mysqli_oo/select, 4
Datastore/operation/MySQL/select, 4
Datastore/operation/MySQL/other, 1
Datastore/instance/MySQL/__HOST__/ENV[MYSQL_PORT], 4
Datastore/instance/MySQL/__HOST__/ENV[SERAPH_MYSQL_SOCKET], 1
Datastore/MySQL/all, 5
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
      "name": "Datastore/statement/MySQL/mysqli_oo/select",
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
      "db.instance": "information_schema",
      "db.statement": "SELECT count(*) FROM ENV[MYSQL_DB].mysqli_oo"
    }
  ],
  [
    {
      "category": "datastore",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Datastore/operation/MySQL/other",
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
      "peer.address": "__HOST__:ENV[SERAPH_MYSQL_SOCKET]",
      "db.instance": "ENV[MYSQL_DB]",
      "db.statement": "SHOW TABLES"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/mysqli.inc');

mysql_test_table('mysqli_oo');
mysqli_report(MYSQLI_REPORT_OFF);
$db = new mysqli($MYSQL_HOST, $MYSQL_USER, $MYSQL_PASSWD, $MYSQL_DB, $MYSQL_PORT);
echo $db->query("SELECT name FROM mysqli_oo WHERE id = 1")->fetch_row()[0], "\n";
$db->real_query("SELECT name FROM mysqli_oo WHERE id = 2");
echo $db->store_result()->fetch_row()[0], "\n";
if ($db->multi_query("SELECT id FROM mysqli_oo ORDER BY id DESC LIMIT 1")) {
    do {
        if ($r = $db->store_result()) {
            echo $r->fetch_row()[0], "\n";
            $r->free();
        }
    } while ($db->more_results() && $db->next_result());
}
$db->select_db('information_schema');
$db->query("SELECT count(*) FROM $MYSQL_DB.mysqli_oo");
$db->close();

$sock = new mysqli('localhost', $MYSQL_USER, $MYSQL_PASSWD, $MYSQL_DB, 0, $SERAPH_MYSQL_SOCKET);
$sock->query("SHOW TABLES");
$sock->close();
