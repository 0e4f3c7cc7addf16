<?php
/*DESCRIPTION
php-memcache, object and procedural forms: connect, set, get, increment
and delete are datastore segments Datastore/operation/Memcached/<op>
(New Relic's product name for both memcache extensions). Debian's
php-memcache creates a dynamic property on PHP 8.2, which PHP reports as
deprecated: not the agent's business, so deprecations are off here.
*/

/*INI
error_reporting = E_ALL & ~E_DEPRECATED
*/

/*EXPECT
ok - set
ok - get
ok - increment
ok - delete
*/

/*EXPECT_METRICS_EXIST
Datastore/operation/Memcached/connect, 1
Datastore/operation/Memcached/set, 2
Datastore/operation/Memcached/get, 1
Datastore/operation/Memcached/incr, 1
Datastore/operation/Memcached/delete, 1
Datastore/Memcached/all, 6
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/../include/config.php');
require_once(__DIR__ . '/../include/tap.php');
require_servers('memcache');

$key = "seraph-test-" . getmypid() . '-' . bin2hex(random_bytes(4));
$m = new Memcache();
$m->connect($MEMCACHE_HOST, $MEMCACHE_PORT);
tap_assert($m->set($key, 'a'), 'set');
tap_equal('a', memcache_get($m, $key), 'get');
memcache_set($m, "$key-n", 1);
tap_equal(2, $m->increment("$key-n"), 'increment');
tap_assert($m->delete($key), 'delete');
