<?php
/*DESCRIPTION
Inside multi() and pipeline() phpredis queues commands and exec() sends
them: every queued command is a segment of its own (returning at once) and
exec() is the segment that waits for the server; multi() and pipeline()
are not segments. Commands New Relic's agent does not list are measured
too (rawCommand, info).
*/

/*EXPECT
ok - multi results
ok - pipeline results
ok - rawcommand
ok - info
*/

/*EXPECT_METRICS_EXIST
Datastore/operation/Redis/exec, 2
Datastore/operation/Redis/incr, 4
Datastore/operation/Redis/get, 1
Datastore/operation/Redis/del, 1
Datastore/operation/Redis/rawcommand, 1
Datastore/operation/Redis/info, 1
Datastore/Redis/all, 11
*/

/*EXPECT_METRICS_DONT_EXIST
Datastore/operation/Redis/multi
Datastore/operation/Redis/pipeline
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/redis.inc');
require_once(__DIR__ . '/../include/tap.php');

$redis = redis_test_client();
$key = redis_test_key('multi');
$r = $redis->multi()->incr($key)->incr($key)->exec();
tap_equal([1, 2], $r, 'multi results');
$r = $redis->pipeline()->incr($key)->incr($key)->get($key)->exec();
tap_equal([3, 4, '4'], $r, 'pipeline results');
tap_equal('PONG', $redis->rawCommand('PING'), 'rawcommand');
tap_assert(isset($redis->info()['redis_version']), 'info');
$redis->del($key);
