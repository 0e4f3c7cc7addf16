<?php
/*DESCRIPTION
php-memcached: storage and retrieval methods are datastore segments named
with New Relic's operation names (getMulti is get, append and cas are
replace, increment is incr); the segments carry no instance, but
addServer and addServers count Datastore/instance/Memcached/<host>/<port>
once per server added (127.0.0.1 reported as the machine's name).
*/

/*EXPECT
ok - set
ok - get
ok - getMulti
ok - append
ok - increment
ok - delete
*/

/*EXPECT_METRICS_EXIST
Datastore/instance/Memcached/__HOST__/ENV[MEMCACHE_PORT], 1
Datastore/instance/Memcached/other.invalid/11211, 1
Datastore/operation/Memcached/set, 2
Datastore/operation/Memcached/get, 2
Datastore/operation/Memcached/replace, 1
Datastore/operation/Memcached/incr, 1
Datastore/operation/Memcached/delete, 1
Datastore/Memcached/all, 7
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
      "name": "Datastore/operation/Memcached/get",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Memcached"
    },
    {},
    {
      "peer.address": "unknown:unknown"
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/../include/config.php');
require_once(__DIR__ . '/../include/tap.php');
require_servers('memcache');

$key = "seraph-test-" . getmypid() . '-' . bin2hex(random_bytes(4));
$m = new Memcached();
$m->addServer($MEMCACHE_HOST, $MEMCACHE_PORT);
tap_assert($m->set($key, 'a'), 'set');
tap_equal('a', $m->get($key), 'get');
tap_equal([$key => 'a'], $m->getMulti([$key]), 'getMulti');
$m->setOption(Memcached::OPT_COMPRESSION, false);
tap_assert($m->append($key, 'b'), 'append');
$m->set("$key-n", 1);
tap_equal(2, $m->increment("$key-n"), 'increment');
tap_assert($m->delete($key), 'delete');

$other = new Memcached();
$other->addServers([['other.invalid', 11211]]);
