<?php
/*DESCRIPTION
phpredis commands are datastore segments named after the method
(Datastore/operation/Redis/<command>, scoped and unscoped), with the
connection's instance: host (127.0.0.1 reported as the machine's name),
port, and database 0 until select() changes it. select() and close() are
not segments.
*/

/*EXPECT
ok - set
ok - get
ok - del
ok - setnx
ok - exists
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"Datastore/all"},                                          [7, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/allOther"},                                     [7, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/Redis/all"},                                    [7, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/Redis/allOther"},                               [7, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/instance/Redis/__HOST__/ENV[REDIS_PORT]"},      [7, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/connect"},                      [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/connect",
      "scope":"OtherTransaction/php__FILE__"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/del"},                          [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/del",
      "scope":"OtherTransaction/php__FILE__"},                          [2, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/exists"},                       [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/exists",
      "scope":"OtherTransaction/php__FILE__"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/get"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/get",
      "scope":"OtherTransaction/php__FILE__"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/set"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/set",
      "scope":"OtherTransaction/php__FILE__"},                          [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/setnx"},                        [1, "??", "??", "??", "??", "??"]],
    [{"name":"Datastore/operation/Redis/setnx",
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
      "db.instance": "3"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/redis.inc');
require_once(__DIR__ . '/../include/tap.php');

$redis = redis_test_client();
$key = redis_test_key('basic');
tap_assert($redis->set($key, 'bar'), 'set');
tap_equal('bar', $redis->get($key), 'get');
tap_equal(1, $redis->del($key), 'del');
$redis->select(3);
tap_assert($redis->setNx($key, 'x'), 'setnx');
tap_equal(1, $redis->exists($key), 'exists');
$redis->del($key);
$redis->close();
