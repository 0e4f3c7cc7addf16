<?php
/*DESCRIPTION
pgsql: pg_query with and without a connection argument (the default
connection is the last one pg_connect made) and pg_execute carry the
connection's instance, read from its connection string; pg_query_params
carries none, as in New Relic's agent; pg_prepare records nothing itself
and pg_execute is named from the prepared SQL. (PHP 8.2 deprecates the
default connection; the deprecation notices are off here.) The asynchronous
pg_send_query and pg_send_execute are segments too.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 10s
error_reporting = E_ALL & ~E_DEPRECATED
*/

/*EXPECT
3
4
5
6
7
*/

/*EXPECT_METRICS_EXIST
Datastore/instance/Postgres/__HOST__/ENV[PG_PORT], 7
Datastore/statement/Postgres/pg_things/select, 6
Datastore/statement/Postgres/pg_things/create, 1
Datastore/statement/Postgres/pg_things/insert, 1
Datastore/Postgres/all, 8
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
      "name": "Datastore/statement/Postgres/pg_things/select",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Postgres"
    },
    {},
    {
      "peer.hostname": "__HOST__",
      "server.address": "__HOST__",
      "peer.address": "__HOST__:ENV[PG_PORT]",
      "db.instance": "ENV[PG_USER]",
      "db.statement": "SELECT id + $? FROM pg_things"
    }
  ],
  [
    {
      "category": "datastore",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Datastore/statement/Postgres/pg_things/select",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Postgres"
    },
    {},
    {
      "peer.address": "unknown:unknown",
      "db.statement": "SELECT id + $? + ? FROM pg_things"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/../include/config.php');
require_servers('pgsql');

$conn = pg_connect($PG_CONNECTION);
pg_query($conn, "CREATE TEMPORARY TABLE pg_things (id INT)");
pg_query("INSERT INTO pg_things VALUES (1)");
echo pg_fetch_row(pg_query($conn, "SELECT id + 2 FROM pg_things"))[0], "\n";
echo pg_fetch_row(pg_query("SELECT id + 3 FROM pg_things"))[0], "\n";
echo pg_fetch_row(pg_query_params($conn, 'SELECT id + $1 + 1 FROM pg_things', [3]))[0], "\n";
pg_prepare($conn, 'plus', 'SELECT id + $1 FROM pg_things');
echo pg_fetch_row(pg_execute($conn, 'plus', [5]))[0], "\n";
pg_send_prepare($conn, 'plus2', 'SELECT id + $1 FROM pg_things');
pg_get_result($conn);
pg_send_execute($conn, 'plus2', [6]);
echo pg_fetch_row(pg_get_result($conn))[0], "\n";
pg_send_query($conn, "SELECT id FROM pg_things");
pg_get_result($conn);
pg_close($conn);
