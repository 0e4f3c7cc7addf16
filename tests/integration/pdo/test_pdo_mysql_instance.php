<?php
/*DESCRIPTION
PDO with MySQL: the DSN's host and port (127.0.0.1 reported as the
machine's name) and dbname are the instance of every call: the instance
metric, the span's peer and db.instance attributes; a DSN that names only
a unix_socket reports the socket path.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 10s
*/

/*EXPECT
ok
*/

/*EXPECT_METRICS_EXIST
Datastore/instance/MySQL/__HOST__/ENV[MYSQL_PORT], 3
Datastore/instance/MySQL/__HOST__/ENV[SERAPH_MYSQL_SOCKET], 1
Datastore/statement/MySQL/pdo_instance/create, 1
Datastore/statement/MySQL/pdo_instance/insert, 1
Datastore/statement/MySQL/pdo_instance/select, 1
Datastore/operation/MySQL/select, 2
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
      "name": "Datastore/statement/MySQL/pdo_instance/insert",
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
      "db.statement": "INSERT INTO pdo_instance VALUES (?, ?)"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/../include/config.php');
require_servers('mysql');

$dsn = "mysql:host=$MYSQL_HOST;port=$MYSQL_PORT;dbname=$MYSQL_DB";
$pdo = new PDO($dsn, $MYSQL_USER, $MYSQL_PASSWD, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$pdo->exec("CREATE TEMPORARY TABLE pdo_instance (id INT, name VARCHAR(10))");
$stmt = $pdo->prepare("INSERT INTO pdo_instance VALUES (?, ?)");
$stmt->execute([1, 'one']);
$pdo->query("SELECT name FROM pdo_instance")->fetchAll();

$sock = new PDO("mysql:unix_socket=$SERAPH_MYSQL_SOCKET;dbname=$MYSQL_DB", $MYSQL_USER, $MYSQL_PASSWD);
$sock->query("SELECT 1")->fetchAll();
echo "ok\n";
