<?php
/*DESCRIPTION
A Predis client whose server does not answer throws Predis's own
exception, and an unknown command gets Redis's error, exactly as without
the agent. A request that was never written is not a segment; the
unknown command, written and answered, is.
*/

/*EXPECT
Predis\Connection\ConnectionException
error: ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 
done
*/

/*EXPECT_METRICS_EXIST
Datastore/operation/Redis/nosuchcommand, 1
Datastore/Redis/all, 1
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/predis.inc');

$nowhere = new Predis\Client(['host' => '127.0.0.1', 'port' => 1, 'timeout' => 1.0]);
try {
    $nowhere->get('x');
} catch (Throwable $e) {
    echo get_class($e), "\n";
}

$client = new Predis\Client(['host' => $REDIS_HOST, 'port' => $REDIS_PORT]);
$reply = $client->executeRaw(['NOSUCHCOMMAND'], $error);
echo $error ? "error: " : "reply: ", $reply, "\n";
echo "done\n";
