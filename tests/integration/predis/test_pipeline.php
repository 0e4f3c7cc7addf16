<?php
/*DESCRIPTION
A Predis pipeline writes every command before reading any reply: each
command is still its own segment, from its write to its reply, so the
segments overlap in time. A MULTI/EXEC transaction's commands, MULTI and
EXEC included, are segments too.
*/

/*EXPECT
ok - pipeline
ok - transaction
*/

/*EXPECT_METRICS_EXIST
Datastore/operation/Redis/incr, 5
Datastore/operation/Redis/get, 1
Datastore/operation/Redis/multi, 1
Datastore/operation/Redis/exec, 1
Datastore/operation/Redis/del, 1
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/predis.inc');
require_once(__DIR__ . '/../include/tap.php');

$client = new Predis\Client(['host' => $REDIS_HOST, 'port' => $REDIS_PORT]);
$key = predis_test_key('pipe');
$r = $client->pipeline(function ($pipe) use ($key) {
    $pipe->incr($key);
    $pipe->incr($key);
    $pipe->incr($key);
    $pipe->get($key);
});
tap_equal([1, 2, 3, '3'], $r, 'pipeline');
$r = $client->transaction(function ($tx) use ($key) {
    $tx->incr($key);
    $tx->incr($key);
});
tap_equal([4, 5], $r, 'transaction');
$client->del([$key]);
