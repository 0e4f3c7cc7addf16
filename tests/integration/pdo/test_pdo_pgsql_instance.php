<?php
/*DESCRIPTION
PDO with PostgreSQL: the DSN is read as libpq reads it (host, port,
dbname; without dbname the user name is the database), and every call
carries that instance. PostgreSQL queries are not explained.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 0
*/

/*EXPECT
6
*/

/*EXPECT_METRICS_EXIST
Datastore/instance/Postgres/__HOST__/ENV[PG_PORT], 2
Datastore/operation/Postgres/select, 2
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
      "name": "Datastore/operation/Postgres/select",
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
      "db.statement": "SELECT ? + ?"
    }
  ]
]
*/

/*EXPECT_SLOW_SQLS
[
  [
    [
      "OtherTransaction/php__FILE__",
      "<unknown>",
      "?? SQL id",
      "SELECT ? + ?",
      "Datastore/operation/Postgres/select",
      2,
      "?? total time",
      "?? min time",
      "?? max time",
      {
        "backtrace": "??",
        "host": "__HOST__",
        "port_path_or_id": "ENV[PG_PORT]",
        "database_name": "ENV[PG_USER]"
      }
    ]
  ]
]
*/

require_once(__DIR__ . '/../include/config.php');
require_servers('pgsql');

$pdo = new PDO("pgsql:host=$PG_HOST;port=$PG_PORT", $PG_USER, $PG_PW);
echo $pdo->query("SELECT 2 + 4")->fetchColumn(), "\n";
$pdo->prepare("SELECT 3 + 4")->execute();
