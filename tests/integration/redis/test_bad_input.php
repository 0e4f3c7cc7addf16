<?php
/*DESCRIPTION
Bad input behaves as without the agent: an unknown command sent with
rawCommand fails with Redis's own error, a command on a client that never
connected throws RedisException, a connection to a port with no server
fails as phpredis makes it fail. The calls that ran are still segments;
the failed connect reports where it tried to go.
*/

/*EXPECT
bool(false)
ERR unknown command 'NO_SUCH_COMMAND', with args beginning with: 
RedisException: Redis server went away
RedisException: Connection refused
done
*/

/*EXPECT_METRICS_EXIST
Datastore/operation/Redis/rawcommand, 1
Datastore/operation/Redis/connect, 2
Datastore/instance/Redis/__HOST__/1, 1
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/redis.inc');

$redis = redis_test_client();
var_dump($redis->rawCommand('NO_SUCH_COMMAND'));
echo $redis->getLastError(), "\n";

$never = new Redis();
try {
    $never->get('x');
} catch (Throwable $e) {
    // phpredis 6 names the default address in this message, 5.3 does not.
    echo get_class($e), ": ", preg_replace('/^Redis server .* went away$/', 'Redis server went away', $e->getMessage()), "\n";
}

$nowhere = new Redis();
try {
    @$nowhere->connect('127.0.0.1', 1, 1.0);
} catch (Throwable $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
echo "done\n";
