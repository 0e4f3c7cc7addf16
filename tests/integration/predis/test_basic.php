<?php
/*DESCRIPTION
Predis (PHP code, hooked through the observer): each command is a datastore
segment Datastore/operation/Redis/<command>, timed from writing the
request to reading the reply, with the connection's instance from its
parameters (127.0.0.1 reported as the machine's name, database 0, or the
one the parameters name, which Predis selects when it connects: a
segment too). The library is detected from its Client.php.
*/

/*EXPECT
ok - set
ok - get
ok - del
ok - exists
ok - other database
*/

/*EXPECT_METRICS_EXIST
Datastore/operation/Redis/set, 1
Datastore/operation/Redis/get, 1
Datastore/operation/Redis/del, 1
Datastore/operation/Redis/exists, 2
Datastore/operation/Redis/select, 1
Datastore/instance/Redis/__HOST__/ENV[REDIS_PORT], 6
Datastore/Redis/all, 6
Supportability/library/Predis/detected, 1
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
      "name": "Datastore/operation/Redis/get",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Redis"
    },
    {},
    {
      "peer.hostname": "__HOST__",
      "server.address": "__HOST__",
      "peer.address": "__HOST__:ENV[REDIS_PORT]",
      "db.instance": "0"
    }
  ],
  [
    {
      "category": "datastore",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Datastore/operation/Redis/exists",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Redis"
    },
    {},
    {
      "peer.hostname": "__HOST__",
      "server.address": "__HOST__",
      "peer.address": "__HOST__:ENV[REDIS_PORT]",
      "db.instance": "2"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/predis.inc');
require_once(__DIR__ . '/../include/tap.php');

$client = new Predis\Client(['host' => $REDIS_HOST, 'port' => $REDIS_PORT]);
$key = predis_test_key('basic');
tap_equal('OK', (string)$client->set($key, 'bar'), 'set');
tap_equal('bar', $client->get($key), 'get');
tap_equal(1, $client->del([$key]), 'del');
tap_equal(0, $client->exists($key), 'exists');
$client->disconnect();

$other = new Predis\Client("tcp://$REDIS_HOST:$REDIS_PORT?database=2");
tap_equal(0, $other->exists($key), 'other database');
